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
	dead := 0 // threads that ended (Z, X, gone): they write nothing more
	for _, p := range tasks {
		raw, err := os.ReadFile(p)
		if err != nil {
			if errors.Is(err, os.ErrNotExist) {
				dead++ // a thread that ended meanwhile
				continue
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
			dead++
		default:
			return false, nil
		}
	}
	if dead == len(tasks) {
		return false, errExited // every thread ended, or none is left
	}
	return true, nil
}

// pause stops p (SIGSTOP); resume lets it run on (SIGCONT).
func pause(p *os.Process) error  { return p.Signal(syscall.SIGSTOP) }
func resume(p *os.Process) error { return p.Signal(syscall.SIGCONT) }

// holdsSnapshot reports whether process pid has a backup's snapshot open
// (boltstore's Snapshot: a file with no name, which /proc names
// "#<inode> (deleted)", or, on a file system without O_TMPFILE, one named
// DB.snapshot-* and removed right after it is made, then named with
// " (deleted)"): a hot backup is under way in it, from its copy until its
// last chunk is sent.
func holdsSnapshot(pid int) (bool, error) {
	fds, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	if err != nil {
		return false, err
	}
	for _, fd := range fds {
		target, err := os.Readlink(fmt.Sprintf("/proc/%d/fd/%s", pid, fd.Name()))
		if err != nil {
			continue // closed meanwhile
		}
		// A snapshot's file has no name from its start where the file
		// system takes O_TMPFILE (shown as "#<inode>"), or else loses
		// its name just after it is made.
		base := filepath.Base(target)
		if (strings.Contains(base, ".snapshot-") || strings.HasPrefix(base, "#")) && strings.HasSuffix(target, " (deleted)") {
			return true, nil
		}
	}
	return false, nil
}
