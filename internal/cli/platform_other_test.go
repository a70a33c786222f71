//go:build !unix

package cli

import (
	"errors"
	"os"
	"os/exec"
	"syscall"
)

// onUnix is false where syscall cannot send a signal nor make a named pipe
// or a device (Windows): the tests of them skip there, or leave them out.
const onUnix = false

var errNotUnix = errors.New("not on this system")

func signalSelf(syscall.Signal) error { return errNotUnix }
func mkfifo(string) error             { return errNotUnix }
func mknodNull(string) error          { return errNotUnix }

// fileOwner and runAs are for the tests run as root, which skip here
// (os.Geteuid is -1).
func fileOwner(os.FileInfo) (uid, gid int) { return -1, -1 }
func runAs(*exec.Cmd, uint32, uint32)      {}
