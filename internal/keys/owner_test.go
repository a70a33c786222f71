package keys

import (
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// A key file owned by another user than the one the process runs as is
// refused, naming the file, its owner and the fix, whatever its mode: its
// owner can read the master key, or put another in its place, and with
// it every child's and reporter's data. It was accepted when its mode was
// 0600 (root, whom the tests run as, reads any file).
func TestLoadMasterRefusesAKeyFileOfAnotherUser(t *testing.T) {
	const other = 4711
	path := filepath.Join(t.TempDir(), "cc.key")
	m := mustMaster(t)
	if err := WriteMaster(path, m); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadMaster(path); err != nil {
		t.Fatalf("the process's own key file: %v", err)
	}
	if err := os.Chown(path, other, -1); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("chown the key file to uid %d (CI runs the tests as root): %v", other, err)
		}
		t.Skipf("the key file cannot be given to another user here (not root): %v", err)
	}
	_, err := LoadMaster(path)
	if !errors.Is(err, errForeignOwner) {
		t.Fatalf("LoadMaster of a key file owned by uid %d: %v; want it refused", other, err)
	}
	for _, want := range []string{path, "uid " + strconv.Itoa(other), "chown ", path + "), or run"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("the refusal %q does not say %q", err, want)
		}
	}
	// LoadOrCreateMaster must not take it for a missing file and replace
	// it either.
	if _, _, err := LoadOrCreateMaster(path); !errors.Is(err, errForeignOwner) {
		t.Errorf("LoadOrCreateMaster of a key file owned by uid %d: %v; want it refused", other, err)
	}
}
