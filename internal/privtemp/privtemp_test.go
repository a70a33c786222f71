package privtemp_test

import (
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"testing"
	"time"

	"github.com/childcase/childcase/internal/privtemp"
)

// TestHeldFolderIsNoLeftover: a folder held by a live process (Hold) is
// never removed as a leftover, however old, and goes with Release; one
// made and no longer held (its process killed) is removed at once, and
// Leftovers lists only this user's private folders, not a link.
func TestHeldFolderIsNoLeftover(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("no flock: a leftover is never removed")
	}
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	held, err := privtemp.Hold("childcase-test-")
	if err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Lstat(held.Dir); err != nil || fi.Mode().Perm() != 0o700 || filepath.Dir(held.Dir) != tmp {
		t.Fatalf("held folder %s: %v, %v; want mode 0700 in $TMPDIR", held.Dir, fi.Mode(), err)
	}
	then := time.Now().Add(-time.Hour)
	if err := os.Chtimes(held.Dir, then, then); err != nil {
		t.Fatal(err)
	}
	killed := filepath.Join(tmp, "childcase-test-killed")
	if err := os.Mkdir(killed, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(t.TempDir(), filepath.Join(tmp, "childcase-test-link")); err != nil {
		t.Fatal(err)
	}

	got := privtemp.Leftovers(tmp, "childcase-test-", 0)
	if want := []string{held.Dir, killed}; !slices.Equal(slices.Sorted(slices.Values(got)), slices.Sorted(slices.Values(want))) {
		t.Errorf("Leftovers: %v, want %v", got, want)
	}
	if privtemp.RemoveUnheld(held.Dir) {
		t.Errorf("the folder of a live process was removed")
	}
	if !privtemp.RemoveUnheld(killed) {
		t.Errorf("the folder of a killed process was not removed")
	}
	if err := held.Release(); err != nil {
		t.Fatal(err)
	}
	for _, dir := range []string{held.Dir, killed} {
		if _, err := os.Lstat(dir); !os.IsNotExist(err) {
			t.Errorf("%s is still there (%v)", dir, err)
		}
	}
}
