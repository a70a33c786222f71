package boltstore_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/childcase/childcase/internal/storage/boltstore"
)

// TestARefusedStartKeepsADatabaseAnotherMade: a start refused after it
// opened a database removes that database when its own Open made it
// (CloseRefused). Open took a file for its own when the path was free
// before it waited for the file's lock: a second start (or users add
// --create) that made the database and used it meanwhile lost it to the
// first one's refusal. The file is this Open's only when it made the file
// and found it empty once it held the lock.
func TestARefusedStartKeepsADatabaseAnotherMade(t *testing.T) {
	path := filepath.Join(t.TempDir(), "childcase.db")
	other := false
	boltstore.SetLockHooks(t, func(string) {
		if other {
			return
		}
		other = true
		// Another start makes the database, uses it and stops while this
		// one waits for the lock.
		s, err := boltstore.Open(path, boltstore.Options{})
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
	}, nil)
	s, err := boltstore.Open(path, boltstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.CloseRefused(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("a refused start removed the database another start made and used: %v", err)
	}
}

// TestOpenRefusesAFileRemovedWhileItWaited: a start refused on its new
// database removes it while it holds its lock; a second start waiting for
// that lock then held a file no name leads to, served on it, and lost all
// it wrote at its stop. Open refuses when the path no longer names the
// file it locked.
func TestOpenRefusesAFileRemovedWhileItWaited(t *testing.T) {
	path := filepath.Join(t.TempDir(), "childcase.db")
	removed := false
	boltstore.SetLockHooks(t, nil, func(string) {
		if !removed {
			removed = true
			if err := os.Remove(path); err != nil {
				t.Fatal(err)
			}
		}
	})
	s, err := boltstore.Open(path, boltstore.Options{})
	if err == nil {
		s.Close()
		t.Fatal("Open served a database whose file was removed while it waited for the lock")
	}
	if !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), "start again") {
		t.Errorf("Open = %v, want it to name %s and say to start again", err, path)
	}
}
