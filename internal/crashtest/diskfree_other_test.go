//go:build !unix

package crashtest

import (
	"errors"
	"runtime"
)

// freeBytes cannot tell the free space here (syscall has no Statfs): the
// test of a full disk mounts a tmpfs, which only Linux has, so it never
// gets this far on such a system.
func freeBytes(string) (int64, error) {
	return 0, errors.New("cannot tell a file system's free space on " + runtime.GOOS)
}
