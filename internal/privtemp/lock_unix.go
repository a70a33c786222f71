//go:build unix

package privtemp

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"syscall"
)

// lockDir takes an exclusive lock on the folder dir without waiting for
// it, never through a link, and returns the open folder that holds it.
// For a new folder (made), one removed before the lock was taken (its
// links down to none) is errGone: the lock then guards nothing.
func lockDir(dir string, made bool) (*os.File, error) {
	f, err := os.OpenFile(dir, os.O_RDONLY|syscall.O_DIRECTORY|syscall.O_NOFOLLOW, 0)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if made && errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, errGone // another's RemoveUnheld holds it to remove it
		}
		return nil, fmt.Errorf("lock: %w", err)
	}
	var st syscall.Stat_t
	if err := syscall.Fstat(int(f.Fd()), &st); err != nil || st.Nlink == 0 {
		f.Close()
		return nil, errGone
	}
	return f, nil
}

// OwnedByUs reports whether this process's user owns the file info
// describes.
func OwnedByUs(info fs.FileInfo) bool {
	st, ok := info.Sys().(*syscall.Stat_t)
	return ok && int(st.Uid) == os.Geteuid()
}
