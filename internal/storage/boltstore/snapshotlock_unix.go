//go:build unix

package boltstore

import (
	"os"
	"syscall"
)

// unlocked reports whether no process holds bbolt's lock on the file at
// path, shared (a check of a copy) or exclusive (its writer), by taking an
// exclusive one at once and letting it go. It never reads the file: a
// copy a power cut left may name pages past its end, and bbolt, opening
// it to lock it, reads its freelist and panics.
func unlocked(path string) bool {
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NOFOLLOW, 0)
	if err != nil {
		return false
	}
	defer f.Close()
	return syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB) == nil
}
