package app

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/childcase/childcase/internal/keys"
	"github.com/childcase/childcase/internal/storage/boltstore"
)

// The operations on a database file that the CLI runs while no server
// holds it: check, offline backup, and holding the file during a restore.
// They live here, with the rest of the wiring, because only the wiring
// names the concrete store (internal/archtest checks this).

// ErrDatabaseInUse is returned when another process (a running server)
// holds the database file.
var ErrDatabaseInUse = boltstore.ErrInUse

// SyncDir makes the names of the files created or renamed in dir
// durable (a restored database, a backup).
func SyncDir(dir string) error { return boltstore.SyncDir(dir) }

// SchemaVersion is the schema version of the database files this code
// writes; a file of an older one is migrated at its first start.
const SchemaVersion = boltstore.SchemaVersion

// EngineTakesUp reports whether the first start on an etcd store of
// schema version version, older than this code's, brings it up to date by
// its version alone; one of an older version than that is refused at
// start (see boltstore.EngineTakesUp).
func EngineTakesUp(version uint32) bool { return boltstore.EngineTakesUp(version) }

// CheckResult is what a check of a database file found: its counts and
// its problems.
type CheckResult = boltstore.CheckResult

// CheckProgress is how far a check has come.
type CheckProgress = boltstore.Progress

// CheckDatabase verifies every record and index of the database file at
// path, calling progress (when not nil) as it goes.
func CheckDatabase(ctx context.Context, path string, progress func(CheckProgress)) (CheckResult, error) {
	return boltstore.CheckWith(ctx, path, CheckOptions{Progress: progress})
}

// CheckOptions tune a check: its progress, and a head of the audit log
// noted earlier that the log must still hold.
type CheckOptions = boltstore.CheckOptions

// BackupStopped writes a consistent copy of the database file at path,
// which no server may hold, to w. It waits up to wait for the file's lock
// before it fails with ErrDatabaseInUse.
func BackupStopped(ctx context.Context, path string, wait time.Duration, w io.Writer) error {
	store, err := boltstore.OpenReadOnly(path, boltstore.Options{Timeout: wait})
	if err != nil {
		return err
	}
	defer store.Close()
	_, err = store.WriteBackup(ctx, w)
	return err
}

// HoldDatabase takes a shared lock on the database file at path, which a
// server's exclusive lock refuses, until the returned Closer is closed. It
// waits up to wait for the lock before it fails with ErrDatabaseInUse.
func HoldDatabase(path string, wait time.Duration) (io.Closer, error) {
	store, err := boltstore.OpenReadOnly(path, boltstore.Options{Timeout: wait})
	if err != nil {
		return nil, err // not a typed nil in a non-nil Closer
	}
	return store, nil
}

// KeyFolderMasters returns the ids of the master keys of the key file at
// path and of the next and retired key files a rotation keeps beside it
// (path.next, path.retired-<id>): those a start on that key folder opens
// data under, for a check (CheckOptions.Masters) to name the data keys
// none of them opens. Each is read as a start reads it (keys.LoadMaster),
// so that a file a start would refuse is refused here too; and a retired
// master counts only from the file of its own id, the one a start looks
// for (loadRetired): a copy under another name (.bak), a key under
// another master's name, or a file of the prefix that names no master
// (a note) is no key a start finds.
func KeyFolderMasters(path string) ([]string, error) {
	if _, err := os.Lstat(path); errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("--key-file: %s does not exist", path)
	}
	entries, err := os.ReadDir(filepath.Dir(path))
	if err != nil {
		return nil, fmt.Errorf("--key-file: %w", err)
	}
	files := map[string]string{path: "", nextKeyPath(path): ""} // file -> the id its name says
	retired := filepath.Base(retiredKeyPath(path, ""))
	for _, e := range entries {
		if id, ok := strings.CutPrefix(e.Name(), retired); ok && keys.ValidMasterID(id) {
			files[filepath.Join(filepath.Dir(path), e.Name())] = id
		}
	}
	var ids []string
	for _, p := range slices.Sorted(maps.Keys(files)) {
		m, err := keys.LoadMaster(p)
		if p != path && errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, err
		}
		if named := files[p]; named != "" && m.ID() != named {
			continue // it holds another master than its name says: no start reads it for either
		}
		ids = append(ids, m.ID())
	}
	return ids, nil
}
