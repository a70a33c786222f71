//go:build unix

package cli

import (
	"errors"
	"os"
	"path/filepath"
	"syscall"
)

// lockTemporary takes an exclusive lock on a temporary file of copyAtomic
// for as long as it is open, which removeLeftoverRestores asks for before
// it removes one: only a file whose process is gone can be locked.
func lockTemporary(f *os.File) error {
	return syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
}

// restoredOwner is the owner and group a restored db must have: those of
// the file it replaces, so that the service's own user (the README's
// unit runs as childcase) can still open it when root restores; for a
// new file restored by root, those of its folder (the service's state
// directory). -1: this process's own, as for any file it makes.
func restoredOwner(db string) (uid, gid int, err error) {
	fi, err := os.Stat(db)
	if errors.Is(err, os.ErrNotExist) {
		if os.Geteuid() != 0 {
			return -1, -1, nil
		}
		fi, err = os.Stat(filepath.Dir(db))
	}
	if err != nil {
		return 0, 0, err
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok || (st.Uid == 0 && os.Geteuid() != 0) {
		// Root opens a file of any owner: a copy this user keeps will do.
		return -1, -1, nil
	}
	return int(st.Uid), int(st.Gid), nil
}

// ownAs gives f to uid and gid (-1 each: keep its own), unless it has them.
func ownAs(f *os.File, uid, gid int) error {
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok && (uid < 0 || int(st.Uid) == uid) && (gid < 0 || int(st.Gid) == gid) {
		return nil
	}
	return f.Chown(uid, gid)
}
