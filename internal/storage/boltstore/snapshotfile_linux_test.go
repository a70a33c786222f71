package boltstore

import (
	"os"
	"syscall"
	"testing"
)

// TestSnapshotFileHasNoNameAtAnyInstant: the file a snapshot is written
// into has no name from its creation, so a kill at any instant of a
// backup, even between making the file and removing its name, leaves
// nothing beside the database. With a named temporary file, removed just
// after, the crash test's aimed kill once left an empty
// childcase.db.snapshot-NNN there for good.
func TestSnapshotFileHasNoNameAtAnyInstant(t *testing.T) {
	dir := t.TempDir()
	f, named, err := createSnapshotFile(dir, "childcase.db.snapshot-*")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if named {
		if os.Getenv("CI") == "true" {
			t.Fatalf("the file system of %s does not take O_TMPFILE: the snapshot's file had a name", dir)
		}
		t.Skip("the file system of the test's temporary folder does not take O_TMPFILE")
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 0 {
		t.Errorf("just made, the snapshot's file stands in its folder as %q", entries[0].Name())
	}
	var st syscall.Stat_t
	if err := syscall.Fstat(int(f.Fd()), &st); err != nil {
		t.Fatal(err)
	}
	if st.Nlink != 0 {
		t.Errorf("the snapshot's file has %d links, want none", st.Nlink)
	}
	if _, err := f.Write([]byte("a copy")); err != nil {
		t.Errorf("the nameless file takes no write: %v", err)
	}
}
