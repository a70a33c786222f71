package boltstore_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/childcase/childcase/internal/storage/boltstore"
)

// TestSnapshotRemovesWhatAKilledOneLeft: a backup of a store on an engine
// (etcd) is written into $TMPDIR before it is sent. A process killed
// while it wrote one (kill -9, a power cut) left that copy of every
// child's record there, for good (and so did check --store, which
// checks such a copy). The next snapshot removes such a leftover (no
// process holds its lock, and it is older than a minute), and leaves
// alone the one another process is writing or checking (it holds the
// file's lock) and one just begun.
func TestSnapshotRemovesWhatAKilledOneLeft(t *testing.T) {
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	leftover := func(name string, age time.Duration) string {
		dir := filepath.Join(tmp, "childcase-snapshot-"+name)
		if err := os.Mkdir(dir, 0o700); err != nil {
			t.Fatal(err)
		}
		db, err := bolt.Open(filepath.Join(dir, "childcase.db"), 0o600, nil)
		if err != nil {
			t.Fatal(err)
		}
		if err := db.Close(); err != nil {
			t.Fatal(err)
		}
		then := time.Now().Add(-age)
		for _, p := range []string{filepath.Join(dir, "childcase.db"), dir} {
			if err := os.Chtimes(p, then, then); err != nil {
				t.Fatal(err)
			}
		}
		return dir
	}
	killed := leftover("killed", time.Hour)
	recent := leftover("recent", 0)
	writing := leftover("writing", time.Hour)
	checking := leftover("checking", time.Hour) // check --store reads its copy read-only
	for dir, readOnly := range map[string]bool{writing: false, checking: true} {
		held, err := bolt.Open(filepath.Join(dir, "childcase.db"), 0o600, &bolt.Options{ReadOnly: readOnly})
		if err != nil {
			t.Fatal(err)
		}
		defer held.Close()
		then := time.Now().Add(-time.Hour)
		if err := os.Chtimes(dir, then, then); err != nil {
			t.Fatal(err)
		}
	}

	takeSnapshot(t)
	if _, err := os.Stat(killed); !os.IsNotExist(err) {
		t.Errorf("the snapshot a killed process left is still there (%v)", err)
	}
	for _, dir := range []string{recent, writing, checking} {
		if _, err := os.Stat(dir); err != nil {
			t.Errorf("a snapshot under way was removed: %v", err)
		}
	}
}

// TestSnapshotLeavesAloneWhatAnotherUserPlanted: $TMPDIR is often /tmp,
// shared by every local user. One of them can make a directory named as a
// leftover snapshot, dated an hour back, holding a childcase.db that is a
// symbolic link to a file of the service's user. The next snapshot opened
// that link for writing as a bbolt file: it made the file the link named,
// or wrote a database's pages into an empty one, with the service's
// rights. Only a directory this user made as a snapshot's (its own, mode
// 0700) is a leftover, and its file is opened only when it is a regular
// file: a link is never followed.
func TestSnapshotLeavesAloneWhatAnotherUserPlanted(t *testing.T) {
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	victims := t.TempDir()
	empty := filepath.Join(victims, "empty.log")
	if err := os.WriteFile(empty, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	absent := filepath.Join(victims, "absent")
	then := time.Now().Add(-time.Hour)
	plant := func(name string, mode os.FileMode, target string) string {
		dir := filepath.Join(tmp, "childcase-snapshot-"+name)
		if err := os.Mkdir(dir, 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(target, filepath.Join(dir, "childcase.db")); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(dir, mode); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(dir, then, then); err != nil {
			t.Fatal(err)
		}
		return dir
	}
	open := plant("open", 0o777, absent) // anyone may write it: another user's
	plant("own", 0o700, empty)           // as this user's, its file a link

	takeSnapshot(t)
	if _, err := os.Lstat(absent); !os.IsNotExist(err) {
		t.Errorf("the snapshot made the file a planted link named (%v)", err)
	}
	if fi, err := os.Stat(empty); err != nil || fi.Size() != 0 {
		t.Errorf("the snapshot wrote into the empty file a link named: %v, %v bytes", err, fi.Size())
	}
	if _, err := os.Lstat(open); err != nil {
		t.Errorf("the snapshot removed a directory anyone may write, which is not its own: %v", err)
	}
}

// TestSnapshotLeavesAloneACopyJustWritten: a copy's writer lets go of its
// lock when the copy is written, and opens it again at once to send it
// (a backup) or check it (check --store). A copy that took more than a
// minute to write was then, in that moment, in a folder older than a
// minute with no lock held: another snapshot beginning then removed it,
// and the backup or check failed for a file gone. A file written within
// the minute is no leftover, whatever its folder's age.
func TestSnapshotLeavesAloneACopyJustWritten(t *testing.T) {
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	dir := filepath.Join(tmp, "childcase-snapshot-long")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	db, err := bolt.Open(filepath.Join(dir, "childcase.db"), 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil { // written just now, its lock let go
		t.Fatal(err)
	}
	then := time.Now().Add(-time.Hour) // begun long ago
	if err := os.Chtimes(dir, then, then); err != nil {
		t.Fatal(err)
	}

	takeSnapshot(t)
	if _, err := os.Stat(filepath.Join(dir, "childcase.db")); err != nil {
		t.Errorf("a copy written within the minute was removed: %v", err)
	}
}

// TestSnapshotRemovesALeftoverCutShort: a snapshot's copy is written
// without syncing until its end, so a power cut leaves one whose pages
// the disk never got: its meta pages name pages past its end. The next
// snapshot opened it with bbolt to test its lock, which maps the file and
// reads those pages: a SIGBUS that killed the server (every backup after
// it too), where the copy was only to be removed. Its lock is tested
// without reading it.
func TestSnapshotRemovesALeftoverCutShort(t *testing.T) {
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	dir := filepath.Join(tmp, "childcase-snapshot-cut")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "childcase.db")
	db, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Update(func(tx *bolt.Tx) error {
		b, err := tx.CreateBucket([]byte("cases"))
		if err != nil {
			return err
		}
		for i := range 5000 {
			if err := b.Put(fmt.Appendf(nil, "%08d", i), make([]byte, 100)); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(path, 2*int64(os.Getpagesize())); err != nil { // its meta pages alone
		t.Fatal(err)
	}
	then := time.Now().Add(-time.Hour)
	for _, p := range []string{path, dir} {
		if err := os.Chtimes(p, then, then); err != nil {
			t.Fatal(err)
		}
	}

	takeSnapshot(t)
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("the copy a power cut left is still there (%v)", err)
	}
}

// takeSnapshot takes a snapshot of a new store and closes it, as a backup
// does once it has sent the copy: the leftovers of earlier ones it
// removes are gone when it returns.
func takeSnapshot(t *testing.T) {
	t.Helper()
	e := openBoltEngine(t, filepath.Join(t.TempDir(), "childcase.db"))
	openEngineStore(t, e)
	snap, _, err := boltstore.SnapshotEngine(context.Background(), e)
	if err != nil {
		t.Fatal(err)
	}
	if err := snap.Close(); err != nil {
		t.Fatal(err)
	}
}
