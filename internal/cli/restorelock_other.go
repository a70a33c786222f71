//go:build !unix

package cli

import (
	"errors"
	"os"
)

// lockTemporary is flock's elsewhere: there is none, so a restore writes
// without the lock, and removeLeftoverRestores, which cannot tell a
// running restore's file from a dead one's, removes none.
func lockTemporary(*os.File) error { return errors.ErrUnsupported }

// restoredOwner is -1, -1 elsewhere: a restored file is this process's, as
// any file it makes.
func restoredOwner(string) (uid, gid int, err error) { return -1, -1, nil }

// ownAs keeps f as it is elsewhere.
func ownAs(*os.File, int, int) error { return nil }
