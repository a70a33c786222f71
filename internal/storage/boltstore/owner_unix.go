//go:build unix

package boltstore

import (
	"io/fs"
	"os"
	"syscall"
)

// ownedByUs reports whether this process's user owns the file info
// describes.
func ownedByUs(info fs.FileInfo) bool {
	st, ok := info.Sys().(*syscall.Stat_t)
	return ok && int(st.Uid) == os.Geteuid()
}
