package cli

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/childcase/childcase/internal/keys"
)

// TestKeyFilesThatAreLinksAreRefused: a next key file (KEYFILE.next)
// that is a symbolic link, planted beside the key file, steered the
// rotation a start (or keys rotate) finishes: the key read was the
// link's target, wherever it was, and the rename put the link in the key
// file's place, so that the data keys ended under a key kept elsewhere
// (on another disk, in a folder others write) and the key file became a
// link to it. Key files are the files themselves, as the snapshot's and
// the reserve's are: a link is refused, naming --key-file and the link,
// and nothing is rotated or renamed.
func TestKeyFilesThatAreLinksAreRefused(t *testing.T) {
	dir, db, keyFile := loadedWithKeyFile(t)
	before, err := os.ReadFile(keyFile)
	if err != nil {
		t.Fatal(err)
	}
	elsewhere := filepath.Join(t.TempDir(), "planted.key")
	if err := keys.WriteMaster(elsewhere, mustMasterKey(t)); err != nil {
		t.Fatal(err)
	}

	for _, c := range []struct{ name, link string }{
		{"next key file", keyFile + ".next"},
		{"key file", keyFile},
	} {
		t.Run(c.name, func(t *testing.T) {
			if c.link == keyFile {
				if err := os.Rename(keyFile, keyFile+".moved"); err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { os.Remove(keyFile); os.Rename(keyFile+".moved", keyFile) })
			} else {
				t.Cleanup(func() { os.Remove(c.link) })
			}
			if err := os.Symlink(elsewhere, c.link); err != nil {
				t.Fatal(err)
			}
			code, stdout, stderr := mgRun(t, "keys", "rotate", "--db", db, "--key-file", keyFile)
			if code == 0 || !strings.Contains(stderr, "--key-file") || !strings.Contains(stderr, c.link+" is a symbolic link") {
				t.Errorf("keys rotate with the %s a link: exit %d, want it refused naming --key-file and %s\nstdout:\n%s\nstderr:\n%s",
					c.name, code, c.link, stdout, stderr)
			}
			entries, err := os.ReadDir(dir)
			if err != nil {
				t.Fatal(err)
			}
			for _, e := range entries {
				if p := filepath.Join(dir, e.Name()); e.Type()&os.ModeSymlink != 0 && p != c.link {
					t.Errorf("%s is a link after the rotation was refused", p)
				}
				if strings.Contains(e.Name(), ".retired-") {
					t.Errorf("%s: a rotation took place", e.Name())
				}
			}
			if fi, err := os.Lstat(c.link); err != nil || fi.Mode()&os.ModeSymlink == 0 {
				t.Errorf("the planted link %s is gone or replaced (%v)", c.link, err)
			}
		})
	}
	if after, err := os.ReadFile(keyFile); err != nil || !bytes.Equal(after, before) {
		t.Errorf("the key file changed (%v)", err)
	}
	if out := mgMustRun(t, "keys", "rotate", "--db", db, "--key-file", keyFile); !strings.Contains(out, "Rotated to master key") {
		t.Errorf("keys rotate once the links are gone: %s", out)
	}
}

func mustMasterKey(t *testing.T) keys.MasterKey {
	t.Helper()
	m, err := keys.GenerateMaster()
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// TestCheckWithTheKeyFileFindsDataKeysNoKeyFileOpens: check given
// --key-file reports the data keys wrapped under a master that neither
// that key file nor the next and retired key files beside it hold, once
// per master, naming it: a backup the key folder at hand cannot open,
// found before a restore drill needs a server. A backup older than a
// rotation checks OK with the key folder the rotation left; without
// --key-file check reads no key, and says nothing of masters.
func TestCheckWithTheKeyFileFindsDataKeysNoKeyFileOpens(t *testing.T) {
	dir, db, keyFile := loadedWithKeyFile(t)
	backup := filepath.Join(dir, "backup.db")
	mgMustRun(t, "backup", "--db", db, "--to", backup)
	if out := mgMustRun(t, "check", "--db", backup, "--key-file", keyFile); !strings.HasPrefix(out, "OK: ") {
		t.Errorf("check of the backup with its key file:\n%s", out)
	}
	master, err := keys.LoadMaster(keyFile)
	if err != nil {
		t.Fatal(err)
	}
	otherDir := t.TempDir()
	other := filepath.Join(otherDir, "cc.key")
	if err := keys.WriteMaster(other, mustMasterKey(t)); err != nil {
		t.Fatal(err)
	}
	code, stdout, stderr := mgRun(t, "check", "--db", backup, "--key-file", other)
	want := "PROBLEM data_keys master \"" + master.ID() + "\": "
	if code != 1 || strings.Count(stdout, want) != 1 || !strings.Contains(stdout, "which no key file at hand holds") {
		t.Errorf("check of the backup with another key file: exit %d, want 1 and one problem starting %q\nstdout:\n%s\nstderr:\n%s", code, want, stdout, stderr)
	}
	if out := mgMustRun(t, "check", "--db", backup); !strings.HasPrefix(out, "OK: ") {
		t.Errorf("check of the backup without a key file:\n%s", out)
	}

	// Rotated: the backup is under the retired master, kept beside the
	// key file; the database under the key file's.
	mgMustRun(t, "keys", "rotate", "--db", db, "--key-file", keyFile)
	for _, path := range []string{backup, db} {
		if out := mgMustRun(t, "check", "--db", path, "--key-file", keyFile); !strings.HasPrefix(out, "OK: ") {
			t.Errorf("check of %s after a rotation with the key folder it left:\n%s", path, out)
		}
	}
	if err := os.Remove(keyFile + ".retired-" + master.ID()); err != nil {
		t.Fatal(err)
	}
	if code, stdout, _ := mgRun(t, "check", "--db", backup, "--key-file", keyFile); code != 1 || !strings.Contains(stdout, want) {
		t.Errorf("check of the backup once the retired key file is gone: exit %d, want 1 naming its master\n%s", code, stdout)
	}
	missing := filepath.Join(dir, "none.key")
	if code, _, stderr := mgRun(t, "check", "--db", backup, "--key-file", missing); code != 1 || !strings.Contains(stderr, "--key-file: "+missing+" does not exist") {
		t.Errorf("check with a key file that does not exist: exit %d\n%s", code, stderr)
	}
}

// TestRotationKeepsTheOldKeyWhenItsRetiredNameIsTaken: a rotation keeps
// the old master as KEYFILE.retired-<old id>, for the backups taken
// under it. A file already at that name (planted, or left by hand)
// holding another key made the rotation go on without keeping the old
// master anywhere: the key file then held the new one, and every older
// backup was lost. Such a rotation is refused, naming the file, before
// any data key is re-wrapped, and the key file keeps the old master.
func TestRotationKeepsTheOldKeyWhenItsRetiredNameIsTaken(t *testing.T) {
	_, db, keyFile := loadedWithKeyFile(t)
	old, err := keys.LoadMaster(keyFile)
	if err != nil {
		t.Fatal(err)
	}
	retired := keyFile + ".retired-" + old.ID()
	if err := keys.WriteMaster(retired, mustMasterKey(t)); err != nil {
		t.Fatal(err)
	}
	code, stdout, stderr := mgRun(t, "keys", "rotate", "--db", db, "--key-file", keyFile)
	if code == 0 || !strings.Contains(stderr, retired) {
		t.Errorf("keys rotate with another key at the retired name: exit %d, want it refused naming %s\nstdout:\n%s\nstderr:\n%s", code, retired, stdout, stderr)
	}
	var kept bool
	for _, p := range []string{keyFile, retired, keyFile + ".next"} {
		if m, err := keys.LoadMaster(p); err == nil && m.ID() == old.ID() {
			kept = true
		}
	}
	if !kept {
		t.Errorf("no key file holds the old master %s after the rotation", old.ID())
	}
	if out := mgMustRun(t, "check", "--db", db, "--key-file", keyFile); !strings.HasPrefix(out, "OK: ") {
		t.Errorf("check of the database with the key folder as it is:\n%s", out)
	}
}

// TestCheckWithTheKeyFileCountsRetiredFilesAsAStartReadsThem: a start
// opens data under a retired master only from KEYFILE.retired-<id> of
// that master's id, holding that master (it refuses a file that holds
// another). A copy an operator keeps beside it under another name (.bak)
// or a file of another master's name is no key a start finds, so check
// --key-file must not count it as at hand, or it passes a backup no
// start opens; and a file of that prefix that is no retired key file (a
// note) is none of check's business, as it is none of the start's.
func TestCheckWithTheKeyFileCountsRetiredFilesAsAStartReadsThem(t *testing.T) {
	dir, db, keyFile := loadedWithKeyFile(t)
	backup := filepath.Join(dir, "backup.db")
	mgMustRun(t, "backup", "--db", db, "--to", backup)
	master, err := keys.LoadMaster(keyFile)
	if err != nil {
		t.Fatal(err)
	}
	mgMustRun(t, "keys", "rotate", "--db", db, "--key-file", keyFile)
	retired := keyFile + ".retired-" + master.ID()
	note := keyFile + ".retired-README.txt"
	if err := os.WriteFile(note, []byte("retired keys: keep for the backups\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if out := mgMustRun(t, "check", "--db", backup, "--key-file", keyFile); !strings.HasPrefix(out, "OK: ") {
		t.Errorf("check of the backup with its retired key file in place and a note beside it:\n%s", out)
	}
	want := "PROBLEM data_keys master \"" + master.ID() + "\": "
	for _, name := range []string{retired + ".bak", keyFile + ".retired-" + mustMasterKey(t).ID()} {
		if err := os.Rename(retired, name); err != nil {
			t.Fatal(err)
		}
		code, stdout, stderr := mgRun(t, "check", "--db", backup, "--key-file", keyFile)
		if code != 1 || !strings.Contains(stdout, want) {
			t.Errorf("check of the backup with its retired master kept as %s, where no start finds it: exit %d, want 1 naming its master\nstdout:\n%s\nstderr:\n%s",
				filepath.Base(name), code, stdout, stderr)
		}
		if err := os.Rename(name, retired); err != nil {
			t.Fatal(err)
		}
	}
}

// loadedWithKeyFile loads two cases into cc.db under a new key file,
// cc.key, in a folder of the test's, with no CHILDCASE_ variable set.
func loadedWithKeyFile(t *testing.T) (dir, db, keyFile string) {
	t.Helper()
	mgClearEnv(t)
	dir = t.TempDir()
	db, keyFile = filepath.Join(dir, "cc.db"), filepath.Join(dir, "cc.key")
	mgMustRun(t, "load", "--db", db, "--cases", "2", "--seed", "1", "--key-file", keyFile)
	return dir, db, keyFile
}
