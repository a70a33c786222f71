package process

import (
	"testing"
	"time"

	"github.com/childcase/childcase/internal/domain/model"
)

// TestWakeAfter: the scheduler waits for its next timer, at most a poll,
// but after a pass that failed a whole poll, even though a timer is due:
// the one it failed on stays due (its case on a damaged page), and Run
// tried it again at once, tens of thousands of times a second, each
// failure logged.
func TestWakeAfter(t *testing.T) {
	now := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	poll := time.Hour
	for _, tt := range []struct {
		name          string
		next          time.Time
		found, failed bool
		want          time.Duration
	}{
		{"no timer", time.Time{}, false, false, poll},
		{"a timer before the poll", now.Add(5 * time.Minute), true, false, 5 * time.Minute},
		{"a timer after the poll", now.Add(2 * time.Hour), true, false, poll},
		{"a timer due already, after a pass that fired all it could", now.Add(-time.Minute), true, false, 0},
		{"a timer due already, after a pass that failed on it", now.Add(-time.Minute), true, true, poll},
		{"a timer before the poll, after a pass that failed", now.Add(5 * time.Minute), true, true, poll},
	} {
		if got := wakeAfter(poll, now, model.Timer{At: tt.next}, tt.found, tt.failed); got != tt.want {
			t.Errorf("%s: wakeAfter = %v, want %v", tt.name, got, tt.want)
		}
	}
}
