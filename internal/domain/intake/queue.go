package intake

import (
	"context"
	"time"

	"github.com/childcase/childcase/internal/domain/access"
	"github.com/childcase/childcase/internal/domain/datastore"
	"github.com/childcase/childcase/internal/domain/model"
)

// Queue names a work queue of the caller's unit (see access.Queue).
type Queue = access.Queue

// Queues, numbered as the API's CaseQueue.
const (
	QueueNone             = access.QueueNone
	QueueMyUnitOpen       = access.QueueMyUnitOpen
	QueueOverdue          = access.QueueOverdue
	QueueAwaitingMyAccept = access.QueueAwaitingMyAccept
	// QueueAwaitingSuccessor is the city's queue of cases whose unit went
	// out of force with no whole successor.
	QueueAwaitingSuccessor = access.QueueAwaitingSuccessor
)

// QueueQuery selects a work queue; results are sorted by the nearest open
// deadline and paged by a cursor.
type QueueQuery struct {
	Queue     Queue
	DueBefore time.Time // only cases with an open deadline due before it
	After     string    // cursor from a previous page
	Limit     int
}

// ListQueue lists a work queue of p's unit, cases in p's scope only, sorted
// by their nearest open deadline (cases without one last, newest first
// among equals), and returns a cursor for the next page ("" at the end).
// It reads the queue index: the unit's entries of that queue, or for
// QueueNone the entries of p's scope keys.
func (s *Service) ListQueue(ctx context.Context, p access.Principal, q QueueQuery) ([]model.Case, string, error) {
	if !p.May(listCasesMethod) {
		return nil, "", model.ErrPermissionDenied
	}
	view := p.Grant(listCasesMethod).View()
	sq := datastore.QueueQuery{
		Queue: q.Queue,
		Keys:  []string{p.Unit},
		// What p may not see is passed over as absent (Match); what the
		// queue and due_before leave out ends a page after
		// storekey.MaxSkipped of it, with a cursor (Filter).
		Match: func(c model.Case) bool { return s.policy.View(p, listCasesMethod, c) != access.ViewNone },
		// A merged case keeps its police referrals (the survivor's
		// police view shows their track), and with them the police
		// unit's open queue entry: the survivor is the case in the queue.
		Filter: func(c model.Case) bool {
			return notMerged(c) && inQueue(p, s.policy.View(p, listCasesMethod, c), c, q)
		},
		After: q.After,
		Limit: q.Limit,
	}
	if q.Queue == QueueAwaitingSuccessor {
		sq.Keys = []string{access.SuccessorQueueKey}
	}
	if q.Queue == QueueNone && q.DueBefore.IsZero() {
		// Only cases with an open deadline are in the index of
		// QueueNone, so without a bound it would not be every case.
		return nil, "", model.InvalidField("due_before", "queue.due_before", "a list without a queue needs due_before")
	}
	switch {
	case view == access.ViewPolice && (q.Queue == QueueNone || q.Queue == QueueMyUnitOpen || q.Queue == QueueOverdue):
		// The police view shows only the unit's own clocks and those
		// escalated to it, and the unit's open and overdue queues hold
		// every case with one, each due there at the nearest of them
		// (access.ViewDue): the police list by due time reads those, so
		// that neither which cases it lists nor their order follows the
		// commune's clocks (QueueNone's entries are due at the nearest of
		// all). Entries are due at what DueBefore compares: the list ends
		// there.
		if q.Queue == QueueNone {
			sq.Queue, sq.Also = QueueMyUnitOpen, []Queue{QueueOverdue}
		}
		sq.Until = q.DueBefore
	case q.Queue == QueueNone:
		// The list's scope (ListScope): the cases the units held hold
		// are read by their holder's entries, not by every case those
		// units ever handled (a social work centre's supervisor, a
		// successor commune).
		keys, held, all := s.policy.ListScope(p)
		if all {
			keys = []string{access.ScopeAll}
		}
		for _, u := range held {
			keys = append(keys, access.HolderQueueKey(u))
		}
		// Entries of QueueNone are due at the case's nearest open
		// deadline, which is what DueBefore compares: the list ends there.
		sq.Keys, sq.Until = keys, q.DueBefore
	}
	return s.listCases(ctx, p, listCasesMethod, "case.list", func(tx datastore.ReadTx) ([]model.Case, string, error) { return tx.ListQueue(sq) })
}

// inQueue reports whether c, which p sees in view, is in p's queue and due
// before q.DueBefore: by any open deadline the view shows, not only the
// unit's (access.ViewDue).
func inQueue(p access.Principal, view access.CaseView, c model.Case, q QueueQuery) bool {
	if !q.DueBefore.IsZero() {
		due := access.ViewDue(p, view, c)
		if due.IsZero() || !due.Before(q.DueBefore) {
			return false
		}
	}
	return access.InQueue(p, c, q.Queue)
}
