package app

import (
	"log/slog"
	"os"
	"strings"
	"testing"
)

// A start on a key file another user owns is refused, naming the file
// and its owner (keys.LoadMaster's rule), rather than started on a master
// key that user can read or replace.
func TestStartRefusesAKeyFileOfAnotherUser(t *testing.T) {
	path, store, clk, _ := openTestMasterKeys(t)
	if err := os.Chown(path, 4711, -1); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("chown the key file (CI runs the tests as root): %v", err)
		}
		t.Skipf("the key file cannot be given to another user here (not root): %v", err)
	}
	_, err := openMasterKeys(t.Context(), path, store, false, clk, slog.New(slog.DiscardHandler), func(string) {})
	if err == nil || !strings.Contains(err.Error(), path+": owned by uid 4711") {
		t.Errorf("a start on a key file owned by uid 4711: %v; want it refused naming the file and its owner", err)
	}
}
