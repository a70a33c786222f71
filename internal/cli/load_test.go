package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// load makes a database that check passes, holding the cases asked for,
// and never touches an existing file.
func TestLoadMakesACheckedDatabase(t *testing.T) {
	mgClearEnv(t)
	dir := t.TempDir()
	db := filepath.Join(dir, "scale.db")
	// The manifest holds live admin tokens. A name planted beside the
	// database (a symlink to a file others read) is replaced, not
	// written through, and the manifest is 0600 whatever was there.
	victim := filepath.Join(dir, "readable-by-all")
	if err := os.WriteFile(victim, []byte("someone else's\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(victim, db+".load.json"); err != nil {
		t.Fatal(err)
	}
	out := mgMustRun(t, "load", "--db", db, "--cases", "30", "--seed", "3")
	if b, err := os.ReadFile(victim); err != nil || string(b) != "someone else's\n" {
		t.Errorf("load wrote its manifest through a symlink into %s: %q, %v", victim, b, err)
	}
	if fi, err := os.Lstat(db + ".load.json"); err != nil || !fi.Mode().IsRegular() || fi.Mode().Perm() != 0o600 {
		t.Errorf("the manifest is %v (%v), want a regular file of mode 0600", fi.Mode(), err)
	}
	if !strings.Contains(out, "30 cases") || !strings.Contains(out, db+".load.json") {
		t.Errorf("load said:\n%s", out)
	}
	check := mgMustRun(t, "check", "--db", db)
	if !strings.HasPrefix(check, "OK:") || !strings.Contains(check, " 30 cases") {
		t.Errorf("check of the loaded database:\n%s", check)
	}

	code, stdout, stderr := mgRun(t, "load", "--db", db, "--cases", "30")
	if code != 1 || !strings.Contains(stderr, "--db: "+db+" exists") {
		t.Errorf("load over an existing database: exit %d\n%s%s", code, stdout, stderr)
	}
	if again := mgMustRun(t, "check", "--db", db); again != check {
		t.Errorf("a refused load changed the database:\nbefore %s\nafter  %s", check, again)
	}
	for _, args := range [][]string{{"load", "--db", db}, {"load", "--cases", "5"}, {"load", "--db", db, "--cases", "0"}} {
		if code, _, stderr := mgRun(t, args...); code != 2 || !strings.Contains(stderr, "--db and --cases") {
			t.Errorf("%s: exit %d, want 2 and the usage\n%s", strings.Join(args, " "), code, stderr)
		}
	}
}
