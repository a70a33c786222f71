package boltstore

import (
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// createSnapshotFile makes the file a snapshot is written into, in dir:
// on Linux with no name at all (O_TMPFILE), so that no instant exists at
// which a crash leaves it behind; where the file system does not take
// O_TMPFILE, a named one, as elsewhere (named true: Snapshot removes its
// name at once).
func createSnapshotFile(dir, pattern string) (f *os.File, named bool, err error) {
	fd, err := unix.Open(dir, unix.O_RDWR|unix.O_TMPFILE|unix.O_CLOEXEC, 0o600)
	if err == nil {
		return os.NewFile(uintptr(fd), filepath.Join(dir, pattern)), false, nil
	}
	f, err = os.CreateTemp(dir, pattern)
	return f, true, err
}
