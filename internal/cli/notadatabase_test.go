package cli

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestOfflineCommandsRefuseAFileThatIsNoDatabase gives the commands that
// open a database file an empty file, a folder and a device where the
// database is expected, as an operator who mistypes --db might. Each is
// refused naming its flag, and nothing is written: an empty file opened
// by bbolt becomes a new database, so audit verify said "chain intact",
// users list listed nobody and backup "Backed up" a database that never
// was, each writing a fresh database into the file it was only to read.
func TestOfflineCommandsRefuseAFileThatIsNoDatabase(t *testing.T) {
	mgClearEnv(t)
	dir := t.TempDir()
	empty := filepath.Join(dir, "empty.db")
	if err := os.WriteFile(empty, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	folder := filepath.Join(dir, "folder.db")
	if err := os.Mkdir(folder, 0o700); err != nil {
		t.Fatal(err)
	}
	out := t.TempDir()
	for _, db := range []string{empty, folder, "/dev/zero"} {
		for _, c := range []struct {
			flag string
			args []string
		}{
			{"db", []string{"audit", "verify", "--db", db}},
			{"db", []string{"stats", "rebuild", "--db", db}},
			{"db", []string{"users", "list", "--db", db}},
			{"db", []string{"users", "revoke", "--db", db, "--id", "someone"}},
			{"db", []string{"users", "add", "--db", db, "--id", "hoa.tran", "--name", "Trần Thị Hoa", "--role", "HOTLINE_OPERATOR", "--unit", "orgs/hotline-111"}},
			{"db", []string{"keys", "rotate", "--db", db, "--key-file", filepath.Join(out, "cc.key")}},
			{"db", []string{"backup", "--db", db, "--to", filepath.Join(out, "backup.db")}},
			{"from", []string{"migrate-store", "--from", db, "--to", "etcd://127.0.0.1:1"}},
		} {
			code, stdout, stderr := mgRun(t, c.args...)
			if code != 1 || !strings.Contains(stderr, "--"+c.flag+": "+db+" ") || strings.Contains(stdout, "OK") || strings.Contains(stdout, "Backed up") {
				t.Errorf("%s: exit %d, want 1 naming --%s\nstdout:\n%s\nstderr:\n%s", strings.Join(c.args, " "), code, c.flag, stdout, stderr)
			}
		}
	}
	if fi, err := os.Stat(empty); err != nil || fi.Size() != 0 {
		t.Errorf("the empty file given as --db was written to: %v, %v", fi.Size(), err)
	}
	if names := dirNames(t, dir); !slices.Equal(names, []string{"empty.db", "folder.db"}) {
		t.Errorf("the refusals left %v beside the file", names)
	}
	if names := dirNames(t, out); len(names) != 0 {
		t.Errorf("the refusals made %v", names)
	}
}
