//go:build !linux

package boltstore

import "os"

// createSnapshotFile makes the file a snapshot is written into, in dir,
// named after pattern (named true: Snapshot removes its name where the
// system lets an open file lose it, and Close does elsewhere).
func createSnapshotFile(dir, pattern string) (f *os.File, named bool, err error) {
	f, err = os.CreateTemp(dir, pattern)
	return f, true, err
}
