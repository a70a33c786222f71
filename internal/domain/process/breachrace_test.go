package process_test

import (
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/childcase/childcase/internal/domain/access"
	"github.com/childcase/childcase/internal/domain/clock"
	"github.com/childcase/childcase/internal/domain/intake"
	"github.com/childcase/childcase/internal/domain/model"
	"github.com/childcase/childcase/internal/domain/process"
)

// raceClock is the clock of a step that reads the time and then waits
// for the write lock while another writer commits: armed, its next Now
// answers the time as it was and runs between first (once, unarmed), the
// writer that commits before the step's transaction.
type raceClock struct {
	*clock.Fake
	mu      sync.Mutex
	between func()
}

func (c *raceClock) arm(between func()) {
	c.mu.Lock()
	c.between = between
	c.mu.Unlock()
}

func (c *raceClock) Now() time.Time {
	now := c.Fake.Now()
	c.mu.Lock()
	between := c.between
	c.between = nil
	c.mu.Unlock()
	if between != nil {
		between()
	}
	return now
}

// A step that read the clock at the due instant of the limit it meets,
// or before, while the scheduler's pass at the instant after breached the
// limit and committed first: the step was taken in time, as its clock
// says, but the breach and its escalation were already told to the level
// above. The deadline is met or missed, never both: the step is ABORTED
// (the breach moved the case's etag, and the view's for the police) and
// changes nothing, and the step taken again, now, misses the limit, once.
func TestStepRacingTheBreachOfItsLimitIsMetOrMissedNeverBoth(t *testing.T) {
	received := hn(2026, 12, 7, 9, 0)
	for _, tc := range []struct {
		name string
		kind model.DeadlineKind
		// prepare brings the case to the deadline and returns it.
		prepare func(w *world, c model.Case) model.Case
		// step takes the step meeting the deadline with the view's etag.
		step func(w *world, eng *process.Engine, c model.Case) (model.Case, error)
	}{{
		name:    "commune acknowledgement",
		kind:    model.DeadlineAcknowledge,
		prepare: func(w *world, c model.Case) model.Case { return c },
		step: func(w *world, eng *process.Engine, c model.Case) (model.Case, error) {
			return eng.Acknowledge(w.ctx, principal("worker.badinh"), process.Request{Case: "cases/" + c.Number, Etag: c.Etag()})
		},
	}, {
		name: "police acknowledgement",
		kind: model.DeadlinePoliceAcknowledge,
		prepare: func(w *world, c model.Case) model.Case {
			c, err := w.eng.ReferToPolice(w.ctx, principal("worker.badinh"), process.Request{Case: "cases/" + c.Number, Etag: c.Etag()}, policeLocal, "Điều 140")
			if err != nil {
				t.Fatal(err)
			}
			return c
		},
		step: func(w *world, eng *process.Engine, c model.Case) (model.Case, error) {
			return eng.AcknowledgePoliceReferral(w.ctx, principal("police.badinh"), process.Request{Case: "cases/" + c.Number, Etag: access.PoliceView(c, policeLocal).Etag()}, "CA-BD-9")
		},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			w := newWorldAt(t, loadEnv(t), received)
			defer w.close()
			c := tc.prepare(w, w.openCaseAt(t, received, false, model.AbuseNeglect))
			d := openDeadline(t, c, tc.kind)
			// The warnings before the due time, fired in their time.
			_, c = w.fireAt(t, c.Number, d.Due)

			// The step's engine: the same store and reference data, its
			// clock the racing one.
			rc := &raceClock{Fake: w.clk}
			eng := process.New(process.Deps{Store: w.store, Units: w.reg, Policy: w.pol, Calendar: w.cal, Vault: w.vault, Clock: rc, Log: w.log})
			rc.arm(func() {
				w.fireAt(t, c.Number, d.Due.Add(time.Nanosecond))
			})
			_, err := tc.step(w, eng, c)
			if !errors.Is(err, model.ErrConflict) {
				t.Errorf("the step read the clock at the due time, the breach committed first: %v, want the etag refused (ErrConflict)", err)
			}
			c, err = stored(t, w.store, c.Number)
			if err != nil {
				t.Fatal(err)
			}
			// Taken again, with the etag read now: missed, once.
			c, err = tc.step(w, w.eng, c)
			if err != nil {
				t.Fatalf("the step taken again: %v", err)
			}
			got := *c.Deadline(d.ID)
			if got.State != model.DeadlineMissed || !got.Breached || len(got.Escalations) != 1 {
				t.Errorf("%s after the race: state %s, breached %v, escalations %+v; want MISSED, breached, escalated once", tc.kind, got.State, got.Breached, got.Escalations)
			}
			ev := w.timeline(t, c, d.ID)
			if countKind(ev, "DEADLINE_MET") != 0 || countKind(ev, "DEADLINE_MISSED") != 1 || countKind(ev, "DEADLINE_BREACHED") != 1 || countKind(ev, "ESCALATED") != 1 {
				t.Errorf("%s's timeline after the race: %v; want one breach, one escalation, one MISSED and no MET", tc.kind, kindsOf(ev))
			}
		})
	}
}

// A scheduler pass reads the clock, then fires what is due, one timer
// after another; a step may commit on a case in between (a note, which
// meets no deadline). The firing must not date its breach and escalation
// before that step: the timeline reads in the order it happened, the
// escalation's time is no earlier than the case's last write, and the
// case's update time never goes back.
func TestFiringAfterAStepIsNotDatedBeforeIt(t *testing.T) {
	received := hn(2026, 12, 7, 9, 0)
	w := newWorldAt(t, loadEnv(t), received)
	defer w.close()
	c := w.openCaseAt(t, received, false, model.AbuseNeglect)
	d := openDeadline(t, c, model.DeadlineAcknowledge)
	_, c = w.fireAt(t, c.Number, d.Due) // the warnings, in their time

	rc := &raceClock{Fake: w.clk}
	sched := process.New(process.Deps{Store: w.store, Units: w.reg, Policy: w.pol, Calendar: w.cal, Vault: w.vault, Clock: rc, Log: w.log})
	passAt := d.Due.Add(time.Minute)
	noteAt := passAt.Add(time.Second)
	w.clk.Set(passAt)
	rc.arm(func() {
		w.clk.Set(noteAt)
		if _, err := w.eng.AddNote(w.ctx, principal("worker.badinh"), process.Request{Case: "cases/" + c.Number, Etag: c.Etag()}, "gọi cho gia đình"); err != nil {
			t.Fatal(err)
		}
	})
	if _, err := sched.FireDue(w.ctx); err != nil {
		t.Fatal(err)
	}
	c, err := stored(t, w.store, c.Number)
	if err != nil {
		t.Fatal(err)
	}
	got := *c.Deadline(d.ID)
	if !got.Breached || len(got.Escalations) != 1 {
		t.Fatalf("the pass breached %v, escalated %+v; want breached and escalated once", got.Breached, got.Escalations)
	}
	if at := got.Escalations[0].Time; at.Before(noteAt) {
		t.Errorf("the escalation is dated %v, before the note written at %v that it came after", at, noteAt)
	}
	if c.UpdateTime.Before(noteAt) {
		t.Errorf("the case's update time went back to %v after the note at %v", c.UpdateTime, noteAt)
	}
	ev := w.timeline(t, c, 0)
	for i := 1; i < len(ev); i++ {
		if ev[i].Time.Before(ev[i-1].Time) {
			t.Errorf("timeline out of order: %s at %v after %s at %v", ev[i].Kind, ev[i].Time, ev[i-1].Kind, ev[i-1].Time)
		}
	}
}

// writesInOrder fails t unless c's timeline reads in the order its
// events happened and c's update time is no earlier than after, the time
// of a write that committed before the last one.
func writesInOrder(t *testing.T, w *world, c model.Case, after time.Time) {
	t.Helper()
	if c.UpdateTime.Before(after) {
		t.Errorf("the case's update time went back to %v after a write at %v", c.UpdateTime, after)
	}
	ev := w.timeline(t, c, 0)
	for i := 1; i < len(ev); i++ {
		if ev[i].Time.Before(ev[i-1].Time) {
			t.Errorf("timeline out of order: %s at %v after %s at %v", ev[i].Kind, ev[i].Time, ev[i-1].Kind, ev[i-1].Time)
		}
	}
}

// Writes that need no etag of the case, or an etag the commune's work
// does not move, go through whatever committed on the case between their
// reading the clock and their transaction: a police step with its view's
// etag, a report joining the case. They are dated no earlier than that
// write, as a firing is.
func TestWritesPastAnotherAreNotDatedBeforeIt(t *testing.T) {
	w := newWorld(t, loadEnv(t))
	defer w.close()
	name, c := w.referredCase(t)
	worker, police := principal("worker.badinh"), principal("police.badinh")
	rc := &raceClock{Fake: w.clk}
	eng := process.New(process.Deps{Store: w.store, Units: w.reg, Policy: w.pol, Calendar: w.cal, Vault: w.vault, Clock: rc, Log: w.log})
	in := intake.New(intake.Deps{Store: w.store, Units: w.reg, Vault: w.vault, Clock: rc, Log: w.log, Cases: eng})
	noteAt := func() time.Time {
		t.Helper()
		at := w.clk.Now().Add(time.Second)
		w.clk.Set(at)
		full, err := stored(t, w.store, c.Number)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.eng.AddNote(w.ctx, worker, process.Request{Case: name, Etag: full.Etag()}, "gọi cho gia đình"); err != nil {
			t.Fatal(err)
		}
		return at
	}

	w.clk.Set(w.clk.Now().Add(time.Minute))
	var at time.Time
	rc.arm(func() { at = noteAt() })
	if _, err := eng.AcknowledgePoliceReferral(w.ctx, police, process.Request{Case: name, Etag: access.PoliceView(c, policeLocal).Etag()}, "CA-BD-7"); err != nil {
		t.Fatalf("the police step with its view's etag: %v", err)
	}
	c, err := stored(t, w.store, c.Number)
	if err != nil {
		t.Fatal(err)
	}
	writesInOrder(t, w, c, at)

	w.clk.Set(w.clk.Now().Add(time.Minute))
	rc.arm(func() { at = noteAt() })
	age := int32(9)
	_, err = in.CreateReport(w.ctx, principal("operator"), intake.CreateReportInput{
		Report: model.Report{
			Channel: 1, ReceiveTime: w.clk.Now().Add(-time.Hour), CallType: model.CallIntervention,
			Children:  []model.Child{{FullName: "Nguyễn Văn An", EstimatedAge: &age, Sex: 1}},
			Narrative: "trẻ lại bị đánh", SuspectedAbuse: []model.AbuseForm{model.AbuseSexual}, Reporter: model.Reporter{Anonymous: true},
		},
		IncidentCommuneCode: "00004", CaseName: name,
	})
	if err != nil {
		t.Fatalf("the report joining the case: %v", err)
	}
	if c, err = stored(t, w.store, c.Number); err != nil {
		t.Fatal(err)
	}
	writesInOrder(t, w, c, at)
}
