package process_test

import (
	"sync"
	"testing"
	"time"

	"github.com/childcase/childcase/internal/domain/datastore"
	"github.com/childcase/childcase/internal/domain/model"
)

// Many cases received at the same instant have their acknowledgement due
// at the same instant; the machine sleeps past it (the clock jumps three
// days on). The scheduler's pass after it fires each case's timer once:
// each deadline is breached and escalated once (not once per warning or
// per day slept), to the city (the commune's level above since the
// districts went), where it stays with no timer left, and a second pass
// finds nothing. Intake goes on meanwhile: the
// reports recorded during the pass open their cases, whose clocks run.
func TestManyDeadlinesDueAtOnceFireOnceAfterASleep(t *testing.T) {
	const (
		n      = 1000
		during = 20
	)
	received := hn(2026, 12, 7, 9, 0)
	w := newWorldAt(t, loadEnv(t), received)
	defer w.close()
	numbers := make([]string, n)
	var ack model.Deadline
	for i := range numbers {
		c := w.openCaseAt(t, received, false, model.AbuseNeglect)
		numbers[i] = c.Number
		ack = openDeadline(t, c, model.DeadlineAcknowledge)
	}
	woke := ack.Due.Add(72 * time.Hour)
	w.clk.Set(woke)

	var fired int
	var fireErr error
	var wg sync.WaitGroup
	wg.Go(func() { fired, fireErr = w.eng.FireDue(w.ctx) })
	var opened []model.Case
	for range during {
		opened = append(opened, w.openCaseAt(t, woke, false, model.AbuseNeglect))
	}
	wg.Wait()
	if fireErr != nil {
		t.Fatal(fireErr)
	}
	if fired != n {
		t.Errorf("the pass after the sleep fired %d timers, want %d: one per case", fired, n)
	}
	again, err := w.eng.FireDue(w.ctx)
	if err != nil || again != 0 {
		t.Errorf("a second pass fired %d timers (%v), want none", again, err)
	}

	err = w.store.View(w.ctx, func(tx datastore.ReadTx) error {
		for _, number := range numbers {
			c, err := tx.CaseByNumber(number)
			if err != nil {
				return err
			}
			d := c.Deadline(ack.ID)
			if d.State != model.DeadlineOpen || !d.Breached || len(d.Escalations) != 1 || !d.NextFire.IsZero() && !d.NextFire.After(woke) {
				t.Errorf("case %s's %s after the sleep: state %s, breached %v, escalations %+v, next fire %v; want open, breached, escalated once, next (if any: at the top, the city, none) after %v",
					number, d.Kind, d.State, d.Breached, d.Escalations, d.NextFire, woke)
				continue
			}
			ev, err := tx.CaseEvents(c.ID, 0, 1<<10)
			if err != nil {
				return err
			}
			if got := countKind(ev, "DEADLINE_BREACHED"); got != 1 || countKind(ev, "ESCALATED") != 1 || countKind(ev, "DEADLINE_WARNING") != 0 {
				t.Errorf("case %s's timeline after the sleep: %v; want one breach and one escalation, no warning found only once overdue", number, kindsOf(ev))
			}
		}
		for _, c := range opened {
			if d := c.Deadline(ack.ID); d == nil || !d.Open() || d.Breached || !d.Due.After(woke) {
				t.Errorf("case %s, opened during the pass: acknowledgement %+v, want open, due after %v", c.Number, d, woke)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
