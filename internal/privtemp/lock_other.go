//go:build !unix

package privtemp

import (
	"errors"
	"io/fs"
	"os"
)

// lockDir opens dir where there is no flock: a new folder is used
// unlocked, and a leftover is never taken for unheld (RemoveUnheld
// removes nothing), since a live process's could not be told from it.
func lockDir(dir string, made bool) (*os.File, error) {
	if !made {
		return nil, errors.ErrUnsupported
	}
	return os.Open(dir)
}

// OwnedByUs is true where files have no Unix owner: the mode alone then
// tells a private folder.
func OwnedByUs(fs.FileInfo) bool { return true }
