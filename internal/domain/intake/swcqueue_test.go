package intake

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/childcase/childcase/internal/domain/access"
	"github.com/childcase/childcase/internal/domain/model"
	"github.com/childcase/childcase/internal/domain/units"
)

// newSWCQueueWorld is newSWCWorld's store whose n cases each have the
// commune's ACKNOWLEDGE open, past due and escalated to the city (the
// city is among their handlers and in their overdue queue, without
// holding them), due a minute apart: the cases of a social work centre
// supervisor's list by due time (QueueNone), and of the city's queues.
func newSWCQueueWorld(tb testing.TB, n, swcCases, heldCases int) *swcWorld {
	tb.Helper()
	return buildSWCWorld(tb, n, swcCases, heldCases, func(c *model.Case, i int, commune, city units.Key) {
		due := indexT0.Add(-time.Duration(n-i) * time.Minute)
		c.Status = model.StatusAwaitingAcknowledgement
		c.Deadlines = []model.Deadline{{
			ID: 1, Kind: model.DeadlineAcknowledge, Clock: model.ClockHours, Length: time.Hour,
			Unit: access.UnitName(commune), Start: due.Add(-time.Hour), Due: due, State: model.DeadlineOpen, Breached: true,
			Escalations: []model.Escalation{{Time: due, To: access.UnitName(city)}},
		}}
	})
}

// dueListed lists the pages of a social work centre supervisor's work
// queue q, and returns the case numbers listed.
func (w *swcWorld) dueListed(tb testing.TB, q QueueQuery) []string {
	tb.Helper()
	var got []string
	for {
		cs, next, err := w.svc.ListQueue(context.Background(), swcSupervisor, q)
		if err != nil {
			tb.Fatalf("ListQueue(%v): %v", q.Queue, err)
		}
		for _, c := range cs {
			got = append(got, c.Number)
		}
		if next == "" {
			return got
		}
		q.After = next
	}
}

// A supervisor of the social work centre works no unit queues
// (access.HasQueue): asked for one, the queue of its organisation, it
// lists none of the 1,000 cases escalated to the city and looks at none,
// since the city's entries are under the city's name, not the centre's.
// A guard: these lists never read the city's escalations.
func TestSocialWorkCentreUnitQueuesLookAtNoneOfTheCitys(t *testing.T) {
	w := newSWCQueueWorld(t, 1000, 3, 2)
	for _, queue := range []Queue{QueueMyUnitOpen, QueueOverdue, QueueAwaitingMyAccept} {
		w.read = 0
		if got := w.dueListed(t, QueueQuery{Queue: queue, Limit: 50}); len(got) != 0 || w.read != 0 {
			t.Errorf("queue %v: listed %v, looked at %d cases; want none", queue, got, w.read)
		}
	}
}

// The supervisor's list by due time (QueueNone, due_before) lists the
// cases the centre took and those the city holds with an open deadline,
// nearest first, the same paged or not.
func TestSocialWorkCentreDueListListsItsOwnCases(t *testing.T) {
	w := newSWCQueueWorld(t, 1000, 3, 2)
	want := slices.Concat(w.swc, w.held)
	slices.Sort(want) // due a minute apart, oldest case first
	for _, limit := range []int{50, 2} {
		got := w.dueListed(t, QueueQuery{DueBefore: indexT0, Limit: limit})
		if !slices.Equal(got, want) {
			t.Errorf("pages of %d: listed %v, want %v", limit, got, want)
		}
	}
}

// The supervisor's list by due time looks at the cases it lists, not at
// the city's escalations: among 1,000 cases escalated to the city, 5 of
// them its own (3 the centre took, 2 the city holds), a page of 50 looks
// at those 5 alone, and each of the 3 pages of 2 at no more than its 2
// and the one after (9; it looked at 1,000 and 1,497). It reads the
// centre's scope keys and the entries of the cases the city holds
// (access.HolderQueueKey), never the city's handler entries.
func TestSocialWorkCentreDueListReadsItsOwnCases(t *testing.T) {
	w := newSWCQueueWorld(t, 1000, 3, 2)
	for _, c := range []struct{ limit, most int }{{50, 5}, {2, 3 * (2 + 1)}} {
		w.read = 0
		if got := w.dueListed(t, QueueQuery{DueBefore: indexT0, Limit: c.limit}); len(got) != 5 {
			t.Fatalf("pages of %d: listed %v, want 5 cases", c.limit, got)
		}
		if w.read > c.most {
			t.Errorf("pages of %d: looked at %d cases to list 5, want at most %d", c.limit, w.read, c.most)
		}
	}
}

// BenchmarkSocialWorkCentreDueList lists the pages (50) of a social work
// centre supervisor's list by due time (QueueNone) in a store of 1,000
// cases with an open deadline escalated to the city, 5 of them the
// supervisor's, and reports the cases it looked at: the 5, since the list
// reads the entries of the centre's scope keys and of the cases the city
// holds (access.HolderQueueKey, schema version 14). Before it read the
// city's handler entries, where every case escalated to the city is,
// and looked at all 1,000.
func BenchmarkSocialWorkCentreDueList(b *testing.B) {
	w := newSWCQueueWorld(b, 1000, 3, 2)
	lists := 0
	w.read = 0
	for b.Loop() {
		if got := w.dueListed(b, QueueQuery{DueBefore: indexT0, Limit: 50}); len(got) != 5 {
			b.Fatalf("listed %v, want 5 cases", got)
		}
		lists++
	}
	b.ReportMetric(float64(w.read)/float64(lists), "looked/list")
}
