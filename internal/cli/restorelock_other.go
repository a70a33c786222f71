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
