//go:build unix

package cli

import (
	"os"
	"syscall"
)

// lockTemporary takes an exclusive lock on a temporary file of copyAtomic
// for as long as it is open, which removeLeftoverRestores asks for before
// it removes one: only a file whose process is gone can be locked.
func lockTemporary(f *os.File) error {
	return syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
}
