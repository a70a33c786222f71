package grpcapi

import (
	"fmt"
	"testing"
	"time"

	"github.com/childcase/childcase/internal/domain/clock"
)

// A throttled key stays throttled however many other keys fail: an
// attacker who makes a full table's worth of made-up token ids (or
// addresses) fail once each must not lift the throttle on the token id
// (or address) they were stopped at, and the table stays bounded.
func TestThrottleSurvivesAFloodOfOtherKeys(t *testing.T) {
	clk := clock.NewFake(time.Date(2026, 12, 6, 9, 0, 0, 0, time.UTC))
	l := newFailureLimiter(clk, failureBurst, failureRefill)
	for range failureBurst {
		l.fail("target")
	}
	if l.wait("target") == 0 {
		t.Fatal("the target is not throttled after its burst")
	}
	for i := range 3 * maxTrackedClients {
		l.fail(fmt.Sprintf("other-%d", i))
	}
	if w := l.wait("target"); w == 0 {
		t.Errorf("after %d other keys failed once each, the target may try again at once", 3*maxTrackedClients)
	}
	if n := len(l.clients); n > maxTrackedClients {
		t.Errorf("%d keys tracked, more than %d", n, maxTrackedClients)
	}
	// A key forgotten to make room had refilled, or was the least
	// throttled: every key throttled now is still known.
	clk.Advance(failureRefill)
	l.fail("late")
	if _, ok := l.clients["late"]; !ok {
		t.Error("a new failing key was not tracked in a full table")
	}
	if w := l.wait("target"); w != 0 {
		t.Errorf("the target still waits %v after a refill period", w)
	}
}
