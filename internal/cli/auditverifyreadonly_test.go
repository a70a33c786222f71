package cli

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestOfflineAuditVerifyChangesNothing: the README says that check, audit
// verify and restore "only read or copy a file". audit verify opened its
// --db as a server does, read-write: every verification committed a
// transaction to the file (a backup's checksum no longer matched after
// an auditor verified it), and one of a file of an older schema, a
// backup taken before an upgrade, migrated it and added the migration's
// event, so that the backup verified was no longer the backup taken: it
// answered a head one event past the one its backup had printed. It now
// opens the file read-only, as check does: the file is left byte for
// byte, and the head it answers is the file's own.
func TestOfflineAuditVerifyChangesNothing(t *testing.T) {
	mgClearEnv(t)
	dir := t.TempDir()
	current := filepath.Join(dir, "current.db")
	mgMustRun(t, "users", "add", "--create", "--db", current, "--id", "lan.nguyen", "--name", "Nguyễn Thị Lan", "--role", "AUDITOR", "--unit", "orgs/system")
	golden, err := os.ReadFile(filepath.Join("..", "storage", "boltstore", "testdata", "schema9.bolt.golden"))
	if err != nil {
		t.Fatal(err)
	}
	older := filepath.Join(dir, "schema9.db")
	if err := os.WriteFile(older, golden, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, db := range []string{current, older} {
		t.Run(filepath.Base(db), func(t *testing.T) {
			before, err := os.ReadFile(db)
			if err != nil {
				t.Fatal(err)
			}
			// The head the file holds, as check prints it without
			// changing the file (check's own test holds that).
			checked := mgMustRun(t, "check", "--db", db)
			head := ""
			if i := strings.Index(checked, "(head seq "); i >= 0 {
				head = checked[i+len("(head seq "):]
				head = head[:strings.Index(head, ")")]
			}
			if head == "" {
				t.Fatalf("check printed no head seq:\n%s", checked)
			}
			out := mgMustRun(t, "audit", "verify", "--db", db)
			if want := "OK: " + head + " events, chain intact up to the recorded head (seq " + head + ","; !strings.HasPrefix(out, want) {
				t.Errorf("audit verify of %s: %q, want it to begin %q, the file's own head", filepath.Base(db), out, want)
			}
			after, err := os.ReadFile(db)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(before, after) {
				t.Errorf("audit verify changed %s (%d bytes before, %d after): it is to read the file only", filepath.Base(db), len(before), len(after))
			}
			if again := mgMustRun(t, "check", "--db", db); again != checked {
				t.Errorf("check after audit verify:\n%s\nwant as before it:\n%s", again, checked)
			}
		})
	}
}
