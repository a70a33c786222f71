package intake

import (
	"context"
	"slices"
	"strconv"
	"time"

	"github.com/childcase/childcase/internal/domain/access"
	"github.com/childcase/childcase/internal/domain/model"
	"github.com/childcase/childcase/internal/storage"
)

// Queue names a work queue of the caller's unit.
type Queue int

// Queues, numbered as the API's CaseQueue.
const (
	QueueNone             Queue = 0
	QueueMyUnitOpen       Queue = 1 // open cases the unit is responsible for (police: its open referrals)
	QueueOverdue          Queue = 2 // cases with an overdue deadline of the unit, or escalated to it
	QueueAwaitingMyAccept Queue = 3 // transfers to the unit awaiting its decision
)

// QueueQuery selects a work queue; results are sorted by the nearest open
// deadline and paged by position.
type QueueQuery struct {
	Queue     Queue
	DueBefore time.Time // only cases with an open deadline due before it
	Offset    int
	Limit     int
}

// ListQueue lists a work queue of p's unit, cases in p's scope only, sorted
// by their nearest open deadline (cases without one last, newest first
// among equals). It returns the offset of the next page, or 0 at the end.
func (s *Service) ListQueue(ctx context.Context, p access.Principal, q QueueQuery) (cases []model.Case, next int, err error) {
	if !p.Has(access.CaseReaders) {
		return nil, 0, model.ErrPermissionDenied
	}
	var all []model.Case
	err = s.store.View(ctx, func(tx storage.ReadTx) error {
		after := ""
		for {
			page, cursor, err := tx.ListCases(storage.CaseQuery{
				Match: func(c model.Case) bool {
					return s.policy.CaseView(p, c) != access.ViewNone && inQueue(p, c, q)
				},
				After: after, Limit: 500,
			})
			if err != nil {
				return err
			}
			for _, c := range page {
				shaped, err := s.shape(tx, p, c)
				if err != nil {
					return err
				}
				all = append(all, shaped)
			}
			if cursor == "" {
				return nil
			}
			after = cursor
		}
	})
	if err != nil {
		return nil, 0, err
	}
	slices.SortStableFunc(all, func(a, b model.Case) int {
		da, db := nearestDue(p, a, q), nearestDue(p, b, q)
		switch {
		case da.IsZero() && db.IsZero():
			return 0
		case da.IsZero():
			return 1
		case db.IsZero():
			return -1
		}
		return da.Compare(db)
	})
	if q.Offset < len(all) {
		end := min(len(all), q.Offset+q.Limit)
		cases = all[q.Offset:end]
		if end < len(all) {
			next = end
		}
	}
	if err := s.recordCaseList(ctx, p, cases); err != nil {
		return nil, 0, err
	}
	return cases, next, nil
}

// inQueue reports whether c is in p's queue.
func inQueue(p access.Principal, c model.Case, q QueueQuery) bool {
	if !q.DueBefore.IsZero() && nearestDue(p, c, QueueQuery{}).IsZero() {
		return false
	}
	if !q.DueBefore.IsZero() && !nearestDue(p, c, QueueQuery{}).Before(q.DueBefore) {
		return false
	}
	switch q.Queue {
	case QueueMyUnitOpen:
		if p.Role == model.RolePoliceLiaison {
			for _, r := range c.PoliceReferrals {
				if r.PoliceUnit == p.Unit && r.State != model.PoliceDecided {
					return true
				}
			}
			return false
		}
		return c.Status != model.StatusClosed && access.UnitName(c.ResponsibleUnit) == p.Unit
	case QueueOverdue:
		for _, d := range c.Deadlines {
			if d.Open() && d.Breached && concerns(d, p.Unit) {
				return true
			}
		}
		return false
	case QueueAwaitingMyAccept:
		t := c.PendingTransfer()
		return t != nil && t.To == p.Unit
	}
	return true
}

// concerns reports whether a deadline is the unit's: it must meet it, or
// it was escalated to it.
func concerns(d model.Deadline, unit string) bool {
	if d.Unit == unit {
		return true
	}
	for _, e := range d.Escalations {
		if e.To == unit {
			return true
		}
	}
	return false
}

// nearestDue is the earliest due time among c's open deadlines (the
// unit's own, for a queue of the unit).
func nearestDue(p access.Principal, c model.Case, q QueueQuery) time.Time {
	var best time.Time
	for _, d := range c.Deadlines {
		if !d.Open() || (q.Queue != QueueNone && !concerns(d, p.Unit) && q.Queue != QueueAwaitingMyAccept) {
			continue
		}
		if best.IsZero() || d.Due.Before(best) {
			best = d.Due
		}
	}
	return best
}

// FormatOffset and ParseOffset turn a queue position into a page cursor.
func FormatOffset(n int) string { return strconv.Itoa(n) }

// ParseOffset reads a cursor made by FormatOffset.
func ParseOffset(s string) (int, bool) {
	n, err := strconv.Atoi(s)
	return n, err == nil && n >= 0
}
