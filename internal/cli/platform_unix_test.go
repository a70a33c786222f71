//go:build unix

package cli

import (
	"os"
	"os/exec"
	"syscall"
)

// What the tests do with the system that only Unix lets them: send this
// process a signal, make a named pipe or a device.

// onUnix is whether the tests of signals and special files run.
const onUnix = true

// signalSelf sends this process sig, as a service manager sends serve
// SIGTERM.
func signalSelf(sig syscall.Signal) error { return syscall.Kill(syscall.Getpid(), sig) }

// mkfifo makes a named pipe at path.
func mkfifo(path string) error { return syscall.Mkfifo(path, 0o600) }

// mknodNull makes a null device of its own at path (root only).
func mknodNull(path string) error { return syscall.Mknod(path, syscall.S_IFCHR|0o666, 1<<8|3) }

// fileOwner is the user and group that own the file fi describes.
func fileOwner(fi os.FileInfo) (uid, gid int) {
	st := fi.Sys().(*syscall.Stat_t)
	return int(st.Uid), int(st.Gid)
}

// runAs has cmd run as the user uid and group gid (root only).
func runAs(cmd *exec.Cmd, uid, gid uint32) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uid, Gid: gid}}
}
