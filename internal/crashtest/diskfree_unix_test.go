//go:build unix

package crashtest

import "syscall"

// freeBytes is how many bytes of the file system holding dir an
// unprivileged writer may still fill.
func freeBytes(dir string) (int64, error) {
	var fs syscall.Statfs_t
	if err := syscall.Statfs(dir, &fs); err != nil {
		return 0, err
	}
	return int64(fs.Bavail) * int64(fs.Bsize), nil
}
