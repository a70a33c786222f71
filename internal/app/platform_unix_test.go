//go:build unix

package app_test

import (
	"syscall"
	"testing"
	"time"
)

// What the tests ask of the system that Unix answers alone: the disk a
// file takes and a file system's free space.

// allocated is how many bytes of the disk the file at path takes.
func allocated(t *testing.T, path string) int64 {
	t.Helper()
	var st syscall.Stat_t
	if err := syscall.Stat(path, &st); err != nil {
		t.Fatal(err)
	}
	return int64(st.Blocks) * 512
}

// freeBytes is how many bytes of the file system holding dir an
// unprivileged writer may still fill.
func freeBytes(t *testing.T, dir string) int64 {
	t.Helper()
	var fs syscall.Statfs_t
	if err := syscall.Statfs(dir, &fs); err != nil {
		t.Fatal(err)
	}
	return int64(fs.Bavail) * int64(fs.Bsize)
}

// setRecvBuffer sets the receive buffer of the socket fd to n bytes.
func setRecvBuffer(fd uintptr, n int) error {
	return syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, n)
}

// processCPU is the CPU time, user and system, this process has used so
// far: unlike a wall-clock time it does not grow when other processes
// take the machine's cores, so a benchmark compares builds by it on a
// shared machine.
func processCPU() (time.Duration, bool) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0, false
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()), true
}
