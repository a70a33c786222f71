package crashtest

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// canAwaitStopped is true where awaitStopped can tell that a process has
// stopped.
const canAwaitStopped = true

// errExited is awaitStopped's answer for a process that ended (or is a
// zombie) rather than stopping.
var errExited = errors.New("the process exited")

// awaitStopped waits until every thread of process pid is stopped (state
// T in /proc/PID/task/*/stat), within a deadline: a SIGSTOP returns before
// the threads stop, and a thread in a write stops only once the write is
// done, so a file copied before they all stopped might still change.
func awaitStopped(pid int, within time.Duration) error {
	deadline := time.Now().Add(within)
	for {
		stopped, err := allThreadsStopped(pid)
		if stopped || err != nil {
			return err
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("process %d: not every thread stopped %s after SIGSTOP", pid, within)
		}
		time.Sleep(50 * time.Microsecond)
	}
}

// allThreadsStopped reads the state of each thread of pid.
func allThreadsStopped(pid int) (bool, error) {
	tasks, err := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/stat", pid))
	if err != nil {
		return false, err
	}
	if len(tasks) == 0 {
		return false, errExited
	}
	for _, p := range tasks {
		raw, err := os.ReadFile(p)
		if err != nil {
			if errors.Is(err, os.ErrNotExist) {
				continue // a thread that ended meanwhile
			}
			return false, err
		}
		// pid (comm) state ...: comm may hold spaces and parentheses.
		i := strings.LastIndexByte(string(raw), ')')
		if i < 0 || i+2 >= len(raw) {
			return false, fmt.Errorf("%s: cannot read %q", p, raw)
		}
		switch raw[i+2] {
		case 'T', 't':
		case 'Z', 'X':
			return false, errExited
		default:
			return false, nil
		}
	}
	return true, nil
}

// pause stops p (SIGSTOP); resume lets it run on (SIGCONT).
func pause(p *os.Process) error  { return p.Signal(syscall.SIGSTOP) }
func resume(p *os.Process) error { return p.Signal(syscall.SIGCONT) }
