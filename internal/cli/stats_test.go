package cli

import (
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"go.etcd.io/bbolt"
)

// stats rebuild recomputes the counters of a stopped database from its
// records: a counter lost (its cell deleted by hand) is a problem of
// check naming the cell, and after the rebuild check is OK again; the
// rebuild is audited.
func TestStatsRebuild(t *testing.T) {
	mgClearEnv(t)
	db := filepath.Join(t.TempDir(), "scale.db")
	mgMustRun(t, "load", "--db", db, "--cases", "30", "--seed", "3")
	before := mgMustRun(t, "check", "--db", db)
	deleteFirstStatsCell(t, db)
	code, broken, _ := mgRun(t, "check", "--db", db)
	if code != 1 || !regexp.MustCompile(`(?m)^PROBLEM stats total \d{4}-\d{2} unit \S+: missing: the records give reports \d+`).MatchString(broken) {
		t.Fatalf("check of a database that lost a counter: exit %d\n%s", code, broken)
	}
	out := mgMustRun(t, "stats", "rebuild", "--db", db)
	if !regexp.MustCompile(`^Rebuilt the statistics counters of .+: [1-9][0-9]* cells\.\n$`).MatchString(out) {
		t.Errorf("stats rebuild said %q", out)
	}
	after := mgMustRun(t, "check", "--db", db)
	if !strings.HasPrefix(after, "OK:") {
		t.Fatalf("check after the rebuild:\n%s", after)
	}
	// The rebuild's audit event is the one thing added.
	audits := regexp.MustCompile(`(\d+) audit events`)
	b, a := audits.FindStringSubmatch(before), audits.FindStringSubmatch(after)
	if b == nil || a == nil || b[1] == a[1] {
		t.Errorf("audit events before %v, after %v: want one more", b, a)
	}
	for _, args := range [][]string{{"stats"}, {"stats", "recount"}} {
		if code, _, stderr := mgRun(t, args...); code != 2 || !strings.Contains(stderr, "stats rebuild") {
			t.Errorf("%s: exit %d, want 2 and the usage\n%s", strings.Join(args, " "), code, stderr)
		}
	}
}

// deleteFirstStatsCell deletes the first statistics cell of the file, as
// damage would.
func deleteFirstStatsCell(t *testing.T, path string) {
	t.Helper()
	db, err := bbolt.Open(path, 0o600, &bbolt.Options{Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	err = db.Update(func(tx *bbolt.Tx) error {
		k, _ := tx.Bucket([]byte("stats")).Cursor().First()
		if k == nil {
			t.Fatal("no statistics cell")
		}
		return tx.Bucket([]byte("stats")).Delete(k)
	})
	if err != nil {
		t.Fatal(err)
	}
}
