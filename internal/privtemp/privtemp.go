// Package privtemp makes the private temporary folders in which childcase
// writes copies of case records that no process should outlive (a
// backup's snapshot of a store on etcd, the rows of an XLSX export past
// what it holds in memory), and finds what a process killed before it
// could remove one (kill -9, a power cut) left behind: such a copy sits
// outside the database's protections, and nothing else would ever delete
// it. It never reads what the folders hold.
package privtemp

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"
)

// Leftovers returns the folders in tmp whose names begin with prefix that
// this user made as private folders and that have not changed for minAge:
// what a killed process may have left, for its kind's own check (a lock
// its live owner holds) before removal.
//
// tmp is often /tmp, where any local user may make a folder of that name,
// dated as they like, holding links to files of ours: only a folder of
// this user's, mode 0700 (whose entries no one else can change, nor,
// under /tmp's sticky bit, rename), and not a link to one, is returned.
func Leftovers(tmp, prefix string, minAge time.Duration) []string {
	dirs, _ := filepath.Glob(filepath.Join(tmp, prefix+"*"))
	var out []string
	for _, dir := range dirs {
		fi, err := os.Lstat(dir)
		if err != nil || !fi.IsDir() || fi.Mode().Perm() != 0o700 || !OwnedByUs(fi) || time.Since(fi.ModTime()) < minAge {
			continue
		}
		out = append(out, dir)
	}
	return out
}

// Held is a private folder (mode 0700, in $TMPDIR) that its process
// holds a lock on for as long as it uses it: RemoveUnheld, in this or
// another process, removes it only once that lock is let go, so a
// killed process's folder goes at once and a live one's never.
type Held struct {
	Dir  string
	lock *os.File
}

// Hold makes a new private folder named prefix and a random tail in
// $TMPDIR and holds it. The caller releases it (Release), which removes
// it.
func Hold(prefix string) (*Held, error) {
	// A folder another process's RemoveUnheld found unheld and removed in
	// the moment between its making and its lock is made again.
	for range 3 {
		dir, err := os.MkdirTemp("", prefix)
		if err != nil {
			return nil, fmt.Errorf("private temporary folder: %w", err)
		}
		f, err := lockDir(dir, true)
		if err == nil {
			return &Held{Dir: dir, lock: f}, nil
		}
		if !errors.Is(err, errGone) && !errors.Is(err, os.ErrNotExist) {
			os.RemoveAll(dir)
			return nil, fmt.Errorf("private temporary folder %s: %w", dir, err)
		}
	}
	return nil, fmt.Errorf("private temporary folder: removed as soon as made, three times")
}

// Release removes the folder and what it holds, then lets its lock go.
func (h *Held) Release() error {
	err := os.RemoveAll(h.Dir)
	if cerr := h.lock.Close(); err == nil {
		err = cerr
	}
	return err
}

// RemoveUnheld removes dir, a folder of Leftovers made by Hold, when no
// process holds it, and reports whether it did. It holds the folder's
// lock while it removes it, so that no process takes it up meanwhile.
func RemoveUnheld(dir string) bool {
	f, err := lockDir(dir, false)
	if err != nil {
		return false
	}
	defer f.Close()
	return os.RemoveAll(dir) == nil
}

// errGone is a folder removed before its lock was taken.
var errGone = errors.New("removed before it was locked")
