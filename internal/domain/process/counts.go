package process

import (
	"context"
	"fmt"
	"time"

	"github.com/childcase/childcase/internal/domain/access"
	"github.com/childcase/childcase/internal/domain/datastore"
	"github.com/childcase/childcase/internal/domain/model"
)

// OpenDeadlineState is where an open deadline stands now, for the counts
// the operators watch: a closed set, so that it can label a metric.
type OpenDeadlineState string

// The states of an open deadline.
const (
	OpenDeadlineRunning OpenDeadlineState = "running" // before its due time
	OpenDeadlinePaused  OpenDeadlineState = "paused"  // its clock stopped (a pausable deadline)
	OpenDeadlineOverdue OpenDeadlineState = "overdue" // its due time has passed while it is open
)

// DeadlineCount is one group of open deadlines.
type DeadlineCount struct {
	Kind  model.DeadlineKind
	State OpenDeadlineState
}

// countPage bounds how many cases one read of the queue index returns
// while counting.
const countPage = 500

// OpenDeadlineCounts counts the open deadlines of every case by kind and
// state as of now. It walks the index of cases with an open deadline
// (QueueNone under access.ScopeAll), so its cost grows with the open
// cases, not with every case stored; callers that ask often (a metrics
// scrape) keep the result for a while. It needs no principal: it returns
// numbers only, never a case.
func (e *Engine) OpenDeadlineCounts(ctx context.Context) (map[DeadlineCount]int, error) {
	now := e.clock.Now()
	counts := map[DeadlineCount]int{}
	err := e.store.View(ctx, func(tx datastore.ReadTx) error {
		after := ""
		for {
			page, next, err := tx.ListQueue(datastore.QueueQuery{
				Queue: access.QueueNone, Keys: []string{access.ScopeAll}, After: after, Limit: countPage,
			})
			if err != nil {
				return err
			}
			for _, c := range page {
				for _, d := range c.Deadlines {
					if d.Open() {
						counts[DeadlineCount{Kind: d.Kind, State: openState(d, now)}]++
					}
				}
			}
			if after = next; after == "" {
				return nil
			}
		}
	})
	if err != nil {
		return nil, fmt.Errorf("count the open deadlines: %w", err)
	}
	return counts, nil
}

// openState is where the open deadline d stands at now. A paused
// deadline's due time moves on resumption, so it is paused, not overdue.
func openState(d model.Deadline, now time.Time) OpenDeadlineState {
	switch {
	case !d.PausedAt.IsZero():
		return OpenDeadlinePaused
	case d.Breached || overdueAt(d.Due, now):
		return OpenDeadlineOverdue
	default:
		return OpenDeadlineRunning
	}
}
