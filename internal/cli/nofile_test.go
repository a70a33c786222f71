package cli

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestServeNamesAFileFlagThatIsNoFile: a --db or --key-file where a device,
// a pipe or a folder stands (a mistyped /dev/null, the database's folder
// given for its file) is refused at start naming the flag and what stands
// there, before anything is made. The start said only "open /dev/null:
// invalid argument", naming no flag.
func TestServeNamesAFileFlagThatIsNoFile(t *testing.T) {
	opsClearEnv(t)
	dir := t.TempDir()
	db, key := filepath.Join(dir, "cc.db"), filepath.Join(dir, "cc.key")
	folder := filepath.Join(dir, "folder")
	if err := os.Mkdir(folder, 0o700); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ flag, path, want string }{
		{"--db", os.DevNull, "config: db: " + os.DevNull + " is a device, not a file"},
		{"--db", folder, "config: db: " + folder + " is a folder, not a file"},
		{"--key-file", os.DevNull, "config: key-file: " + os.DevNull + " is a device, not a file"},
		{"--key-file", folder, "config: key-file: " + folder + " is a folder, not a file"},
	} {
		var stderr bytes.Buffer
		args := []string{"serve", "--db", db, "--key-file", key, "--grpc-addr", "127.0.0.1:0", "--http-addr", "127.0.0.1:0", c.flag, c.path}
		if code := Main(context.Background(), args, &stderr, &stderr); code != 1 || !strings.Contains(stderr.String(), c.want) {
			t.Errorf("%s %s: exit %d, want 1 and %q:\n%s", c.flag, c.path, code, c.want, stderr.String())
		}
		if made, _ := filepath.Glob(filepath.Join(dir, "cc.*")); len(made) > 0 {
			t.Fatalf("%s %s: the refused start made %v", c.flag, c.path, made)
		}
		if entries, _ := os.ReadDir(folder); len(entries) > 0 {
			t.Fatalf("%s %s: the refused start wrote into %s", c.flag, c.path, folder)
		}
	}
}

// TestRestoreNamesAFromThatIsNoFile: restore --from the backups' folder
// (the file's name forgotten) said "backups is not a file", naming no
// flag; it names --from and what stands there, and restores nothing.
func TestRestoreNamesAFromThatIsNoFile(t *testing.T) {
	opsClearEnv(t)
	dir := t.TempDir()
	db := filepath.Join(dir, "cc.db")
	code, _, stderr := mgRun(t, "restore", "--from", dir, "--db", db)
	if want := "--from: " + dir + " is a folder, not a backup file"; code != 1 || !strings.Contains(stderr, want) {
		t.Errorf("restore --from a folder: exit %d, want 1 and %q:\n%s", code, want, stderr)
	}
	if _, err := os.Stat(db); err == nil {
		t.Errorf("a refused restore made %s", db)
	}
}

// TestCheckNamesADBThatIsNoFile: the backups' folder given to check for
// a backup in it was refused "open backups: not a regular file", naming
// no flag.
func TestCheckNamesADBThatIsNoFile(t *testing.T) {
	opsClearEnv(t)
	dir := t.TempDir()
	for path, want := range map[string]string{
		dir:        "--db: " + dir + " is a folder, not a database file",
		os.DevNull: "--db: " + os.DevNull + " is a device, not a database file",
	} {
		code, _, stderr := mgRun(t, "check", "--db", path)
		if code != 1 || !strings.Contains(stderr, want) {
			t.Errorf("check --db %s: exit %d, want 1 and %q:\n%s", path, code, want, stderr)
		}
	}
}

// TestBackupToStandardOutputIsRefused: "backup --to -" wrote a file named
// "-" and printed "Backed up ... to -" on stdout, which a pipe took for
// the backup; it is refused naming --to, as a device at --to is refused
// saying what it is rather than that a file exists.
func TestBackupToStandardOutputIsRefused(t *testing.T) {
	opsClearEnv(t)
	dir := t.TempDir()
	db := opsDatabase(t, dir)
	t.Chdir(dir)
	for _, c := range []struct{ to, want string }{
		{"-", "--to: - is not a file"},
		{os.DevNull, "--to: " + os.DevNull + " is a device"},
	} {
		code, stdout, stderr := mgRun(t, "backup", "--to", c.to, "--db", db)
		if code != 1 || !strings.Contains(stderr, c.want) || stdout != "" {
			t.Errorf("backup --to %s: exit %d, want 1, %q and nothing on stdout:\nstdout:\n%s\nstderr:\n%s", c.to, code, c.want, stdout, stderr)
		}
	}
	if _, err := os.Lstat(filepath.Join(dir, "-")); err == nil {
		t.Errorf("backup --to - wrote a file named -")
	}
}
