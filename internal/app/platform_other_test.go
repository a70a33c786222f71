//go:build !unix

package app_test

import (
	"runtime"
	"testing"
	"time"
)

// allocated and freeBytes cannot tell here (syscall has neither Stat_t's
// blocks nor Statfs): the tests that need them skip. Those of a full disk
// mount a tmpfs, which only Linux has, and skip before.

func allocated(t *testing.T, _ string) int64 {
	t.Helper()
	t.Skip("cannot tell the disk a file takes on " + runtime.GOOS)
	return 0
}

func freeBytes(t *testing.T, _ string) int64 {
	t.Helper()
	t.Skip("cannot tell a file system's free space on " + runtime.GOOS)
	return 0
}

// processCPU cannot tell here: syscall has no Getrusage.
func processCPU() (time.Duration, bool) { return 0, false }
