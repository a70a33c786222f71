package process

import (
	"testing"
	"time"

	"github.com/childcase/childcase/internal/domain/model"
)

// TestOpenState: where an open deadline stands for the metrics. A paused
// deadline is paused even past its old due time (resuming moves it); one
// past its due time, or marked breached, is overdue, and one at its due
// time runs still (a step then meets it).
func TestOpenState(t *testing.T) {
	due := time.Date(2026, 3, 17, 9, 0, 0, 0, time.UTC)
	for _, tt := range []struct {
		name string
		d    model.Deadline
		now  time.Time
		want OpenDeadlineState
	}{
		{"before its due time", model.Deadline{Due: due}, due.Add(-time.Minute), OpenDeadlineRunning},
		{"at its due time", model.Deadline{Due: due}, due, OpenDeadlineRunning},
		{"a nanosecond past it", model.Deadline{Due: due}, due.Add(time.Nanosecond), OpenDeadlineOverdue},
		{"past it", model.Deadline{Due: due}, due.Add(time.Hour), OpenDeadlineOverdue},
		{"breached, due moved on by an extension", model.Deadline{Due: due, Breached: true}, due.Add(-time.Hour), OpenDeadlineOverdue},
		{"paused past its old due time", model.Deadline{Due: due, PausedAt: due.Add(-time.Hour)}, due.Add(time.Hour), OpenDeadlinePaused},
	} {
		if got := openState(tt.d, tt.now); got != tt.want {
			t.Errorf("%s: %s, want %s", tt.name, got, tt.want)
		}
	}
}
