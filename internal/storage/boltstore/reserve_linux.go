package boltstore

import (
	"fmt"
	"os"
	"syscall"
)

// fallocate allocates bytes [off, off+n) of f, growing it as needed.
func fallocate(f *os.File, off, n int64) error {
	if n <= 0 {
		return nil
	}
	err := syscall.Fallocate(int(f.Fd()), 0, off, n)
	if err != nil && isNoFallocate(err) {
		return fmt.Errorf("%w: %w", errNoFallocate, err)
	}
	return err
}
