//go:build unix

package boltstore_test

import (
	"context"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/childcase/childcase/internal/storage/boltstore"
)

// TestCheckRefusesAFIFO: `childcase check --db` (and backup --db, audit
// verify, restore's read-back) given a named pipe, a mistake of the
// operator's, must say it is not a database file. Before, opening it for
// reading waited for a writer that never came: check hung with no word.
func TestCheckRefusesAFIFO(t *testing.T) {
	path := filepath.Join(t.TempDir(), "pipe.db")
	if err := syscall.Mkfifo(path, 0o600); err != nil {
		t.Skipf("mkfifo: %v", err)
	}
	done := make(chan error, 1)
	go func() {
		_, err := boltstore.Check(context.Background(), path)
		done <- err
	}()
	select {
	case err := <-done:
		if err == nil || !strings.Contains(err.Error(), "not a regular file") {
			t.Errorf("check of a named pipe: %v, want it refused as not a regular file", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("check of a named pipe still waits after 5 s")
	}
}
