package boltstore

import (
	"errors"
	"os"
	"os/exec"
	"strings"
	"testing"
)

// commitThatPanics is a commit that fails outside the calls' bodies (in
// the engine's commit, or in what the layout writes at its end), where
// runCall does not take the panic.
func commitThatPanics([]func(*tx) error, func(*tx) error) error {
	panic("a commit failed outside its bodies")
}

// leadPanicChild names the environment variable that makes
// TestALeadersCommitPanicEndsTheProcessSayingWhere the process that
// panics.
const leadPanicChild = "CHILDCASE_TEST_LEAD_PANIC_CHILD"

// TestALeadersCommitPanicEndsTheProcessSayingWhere: a panic in a commit
// outside the calls' bodies ends the process, as it did on the group's
// goroutine, and the crash says where it was raised. The caller that
// commits a lone write itself (lead) recovers it to end the process
// rather than wedge every later write, and raised it again on a new
// goroutine, whose trace starts there: the crash named lead's deferred
// function and not the commit that panicked, so the one trace a crash
// leaves did not show the fault.
func TestALeadersCommitPanicEndsTheProcessSayingWhere(t *testing.T) {
	if os.Getenv(leadPanicChild) != "" {
		var g group[*tx]
		_ = g.do(commitThatPanics, func(*tx) error { return nil })
		t.Fatal("the panic did not end the process")
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestALeadersCommitPanicEndsTheProcessSayingWhere$", "-test.count=1")
	cmd.Env = append(os.Environ(), leadPanicChild+"=1")
	out, err := cmd.CombinedOutput()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.Success() {
		t.Fatalf("the child process: %v, want it ended by the panic\n%s", err, out)
	}
	for _, want := range []string{
		"panic: a commit failed outside its bodies",
		"boltstore.commitThatPanics(",
	} {
		if !strings.Contains(string(out), want) {
			t.Errorf("the crash does not say %q:\n%s", want, out)
		}
	}
}
