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
	mgClearEnv(t)
	dir := t.TempDir()
	db, keyFile := filepath.Join(dir, "cc.db"), filepath.Join(dir, "cc.key")
	mgMustRun(t, "load", "--db", db, "--cases", "2", "--seed", "1", "--key-file", keyFile)
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
