//go:build !linux

package crashtest

import (
	"errors"
	"os"
	"time"
)

// canAwaitStopped is false where there is no /proc to tell that every
// thread of a stopped process has stopped: the tests that aim a kill by
// stopping the process skip (outside CI).
const canAwaitStopped = false

var errExited = errors.New("the process exited")

func awaitStopped(int, time.Duration) error {
	return errors.New("cannot tell that a process stopped on this platform")
}

func pause(*os.Process) error  { return errors.New("no SIGSTOP here") }
func resume(*os.Process) error { return errors.New("no SIGCONT here") }

func holdsSnapshot(int) (bool, error) {
	return false, errors.New("cannot list a process's open files on this platform")
}
