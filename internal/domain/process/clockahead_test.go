package process_test

import (
	"github.com/childcase/childcase/internal/domain/access"
	"github.com/childcase/childcase/internal/domain/clock"
	"github.com/childcase/childcase/internal/domain/vntime"
	"sync"
	"testing"
	"time"

	"github.com/childcase/childcase/internal/domain/model"
	"github.com/childcase/childcase/internal/domain/process"
)

// A case last written by a clock that ran ahead (stepped back since, a
// backup restored from a machine with a fast clock, an instance with a
// skewed clock) must not carry later writes into its future: a step
// taken in time is met and dated by the clock, and a timer's warning
// fires as a warning, not as a breach told early to the level above.
// Only a write a moment ahead (one that committed between another's
// reading the clock and its transaction) dates what follows it.
func TestACaseWrittenByAClockAheadDoesNotDateLaterWritesInItsFuture(t *testing.T) {
	received := hn(2026, 12, 7, 9, 0)
	w := newWorldAt(t, loadEnv(t), received)
	defer w.close()
	worker := principal("worker.badinh")
	stepped := w.openCaseAt(t, received, false, model.AbuseNeglect)
	fired := w.openCaseAt(t, received, false, model.AbuseNeglect)
	d := openDeadline(t, stepped, model.DeadlineAcknowledge)
	if !d.NextFire.Before(d.Due) {
		t.Fatalf("ACKNOWLEDGE fires first at %v, due %v: want a warning before the due time", d.NextFire, d.Due)
	}
	// A note on each case by a clock a day ahead, then the clock set right.
	ahead := d.Due.Add(24 * time.Hour)
	w.clk.Set(ahead)
	for _, c := range []*model.Case{&stepped, &fired} {
		out, err := w.eng.AddNote(w.ctx, worker, process.Request{Case: "cases/" + c.Number, Etag: c.Etag()}, "ghi bởi đồng hồ chạy nhanh")
		if err != nil {
			t.Fatal(err)
		}
		if *c, err = stored(t, w.store, out.Number); err != nil {
			t.Fatal(err)
		}
	}

	// The commune acknowledges in time, by the clock set right.
	at := received.Add(10 * time.Minute)
	w.clk.Set(at)
	if _, err := w.eng.Acknowledge(w.ctx, worker, process.Request{Case: "cases/" + stepped.Number, Etag: stepped.Etag()}); err != nil {
		t.Fatal(err)
	}
	c, err := stored(t, w.store, stepped.Number)
	if err != nil {
		t.Fatal(err)
	}
	if got := *c.Deadline(d.ID); got.State != model.DeadlineMet || !got.DoneTime.Equal(at) {
		t.Errorf("acknowledged at %v, due %v: %s done %v; want MET, done at %v", at, d.Due, got.State, got.DoneTime, at)
	}
	for _, e := range w.timeline(t, c, d.ID) {
		if e.Time.After(at) {
			t.Errorf("%s dated %v, after the clock's %v: the case's time ahead carried it", e.Kind, e.Time, at)
		}
	}

	// The scheduler's warning at its time, by the clock set right.
	fd := *fired.Deadline(d.ID)
	_, c = w.fireAt(t, fired.Number, fd.NextFire)
	got := *c.Deadline(fd.ID)
	if got.Breached || len(got.Escalations) != 0 || got.WarningsSent != 1 {
		t.Errorf("the warning's timer at %v, due %v: breached %v, escalations %+v, warnings %d; want one warning, no breach",
			fd.NextFire, fd.Due, got.Breached, got.Escalations, got.WarningsSent)
	}
	for _, e := range w.timeline(t, c, fd.ID) {
		if e.Time.After(fd.NextFire) {
			t.Errorf("%s dated %v, after the clock's %v: the case's time ahead carried it", e.Kind, e.Time, fd.NextFire)
		}
	}
}

// A police step records when the crime report went to the investigators
// (forward_time), which may be before what the commune wrote on the case
// since: D13 is met by that time (its done time), but what the step
// writes on the timeline is dated when it is recorded, after that write,
// so that the timeline reads in the order it was written, as the README
// says of a police step sent with its view's etag.
func TestAForwardingRecordedAfterANoteIsNotDatedBeforeIt(t *testing.T) {
	w := newWorld(t, loadEnv(t))
	defer w.close()
	name, c := w.referredCase(t)
	worker, police := principal("worker.badinh"), principal("police.badinh")
	referred := w.clk.Now()
	w.clk.Set(referred.Add(10 * time.Minute))
	c, err := w.eng.AcknowledgePoliceReferral(w.ctx, police, process.Request{Case: name, Etag: access.PoliceView(c, policeLocal).Etag()}, "CA-BD-8")
	if err != nil {
		t.Fatal(err)
	}
	forwarded := referred.Add(30 * time.Minute)
	noteAt := referred.Add(time.Hour)
	w.clk.Set(noteAt)
	full, err := stored(t, w.store, c.Number)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.eng.AddNote(w.ctx, worker, process.Request{Case: name, Etag: full.Etag()}, "gọi cho gia đình"); err != nil {
		t.Fatal(err)
	}
	recorded := noteAt.Add(5 * time.Minute)
	w.clk.Set(recorded)
	if full, err = stored(t, w.store, c.Number); err != nil {
		t.Fatal(err)
	}
	if _, err := w.eng.RecordPoliceForwarding(w.ctx, police, process.Request{Case: name, Etag: access.PoliceView(full, policeLocal).Etag()}, "Cơ quan CSĐT", forwarded); err != nil {
		t.Fatal(err)
	}
	if c, err = stored(t, w.store, c.Number); err != nil {
		t.Fatal(err)
	}
	d := c.OpenDeadline(model.DeadlineProsecutionDecision, policeLocal)
	if d == nil {
		t.Fatal("no D16 after the forwarding")
	}
	for _, dl := range c.Deadlines {
		if dl.Kind == model.DeadlinePoliceForward && (dl.State != model.DeadlineMet || !dl.DoneTime.Equal(forwarded)) {
			t.Errorf("D13 %s done %v; want MET, done at the forward time %v", dl.State, dl.DoneTime, forwarded)
		}
	}
	writesInOrder(t, w, c, noteAt)
}

// A police step sent with its view's etag just before the limit it meets,
// whose transaction waits while the commune writes on the case just after
// that limit (a note, which the police view does not show, and no breach
// yet): the step was taken in time by its clock, when the server had it,
// and is met by that time, its done time; only its events are dated after
// the note, which committed before it.
func TestAPoliceStepInTimeIsMetThoughANoteCommittedAfterTheLimitFirst(t *testing.T) {
	w := newWorld(t, loadEnv(t))
	defer w.close()
	name, c := w.referredCase(t)
	worker, police := principal("worker.badinh"), principal("police.badinh")
	d := openDeadline(t, c, model.DeadlinePoliceAcknowledge)
	asked, noteAt := d.Due.Add(-time.Second), d.Due.Add(time.Second)
	rc := &raceClock{Fake: w.clk}
	eng := process.New(process.Deps{Store: w.store, Units: w.reg, Policy: w.pol, Calendar: w.cal, Vault: w.vault, Clock: rc, Log: w.log})
	w.clk.Set(asked)
	rc.arm(func() {
		w.clk.Set(noteAt)
		full, err := stored(t, w.store, c.Number)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.eng.AddNote(w.ctx, worker, process.Request{Case: name, Etag: full.Etag()}, "gọi cho gia đình"); err != nil {
			t.Fatal(err)
		}
	})
	if _, err := eng.AcknowledgePoliceReferral(w.ctx, police, process.Request{Case: name, Etag: access.PoliceView(c, policeLocal).Etag()}, "CA-BD-9"); err != nil {
		t.Fatal(err)
	}
	c, err := stored(t, w.store, c.Number)
	if err != nil {
		t.Fatal(err)
	}
	if got := *c.Deadline(d.ID); got.State != model.DeadlineMet || !got.DoneTime.Equal(asked) {
		t.Errorf("acknowledged at %v, due %v, past a note at %v: %s done %v; want MET, done at %v", asked, d.Due, noteAt, got.State, got.DoneTime, asked)
	}
	writesInOrder(t, w, c, noteAt)
}

// secondReadClock is raceClock for a pass that reads the clock once to
// find its work and once more for each case: its second Now answers the
// time as it was and runs between first, a writer that commits before
// the case's transaction.
type secondReadClock struct {
	*clock.Fake
	mu      sync.Mutex
	reads   int
	between func()
}

func (c *secondReadClock) Now() time.Time {
	now := c.Fake.Now()
	c.mu.Lock()
	c.reads++
	var between func()
	if c.reads == 2 {
		between = c.between
	}
	c.mu.Unlock()
	if between != nil {
		between()
	}
	return now
}

// The reform pass moves a case out of a unit no longer in force with no
// etag, as the scheduler fires a deadline: a step that committed on the
// case between the pass's reading the clock and its transaction (a
// report joining it) is before the move, whose events must not be dated before it.
func TestAReformMoveAfterAStepIsNotDatedBeforeIt(t *testing.T) {
	w := newWorldAt(t, loadEnv(t), time.Date(2025, 6, 27, 9, 0, 0, 0, vntime.Location()))
	defer w.close()
	c := w.openCaseAt(t, w.clk.Now(), false, model.AbuseNeglect)
	passAt := time.Date(2025, 7, 1, 8, 0, 0, 0, vntime.Location())
	noteAt := passAt.Add(time.Second)
	w.clk.Set(passAt)
	rc := &secondReadClock{Fake: w.clk, between: func() {
		w.clk.Set(noteAt)
		w.reportIn(t, "00004", passAt.Add(-12*time.Hour), false, model.AbuseNeglect, "cases/"+c.Number)
	}}
	eng := process.New(process.Deps{Store: w.store, Units: w.reg, Policy: w.pol, Calendar: w.cal, Vault: w.vault, Clock: rc, Log: w.log})
	if n, err := eng.FollowReforms(w.ctx); err != nil || n != 1 {
		t.Fatalf("the reform pass: %d changed, %v; want the case moved", n, err)
	}
	c, err := stored(t, w.store, c.Number)
	if err != nil {
		t.Fatal(err)
	}
	if got := access.UnitName(c.ResponsibleUnit); got != unitBaDinh {
		t.Fatalf("after the reform the case is %s's, want %s's", got, unitBaDinh)
	}
	writesInOrder(t, w, c, noteAt)
}

// A forwarding sent without forward_time went when the step was asked:
// D13 is met by that time, as any step's limit is, though a commune's
// note written just past it committed before the step's transaction.
func TestAForwardingWithoutItsTimeIsMetByWhenItWasAsked(t *testing.T) {
	w := newWorld(t, loadEnv(t))
	defer w.close()
	name, c := w.referredCase(t)
	worker, police := principal("worker.badinh"), principal("police.badinh")
	w.clk.Set(w.clk.Now().Add(10 * time.Minute))
	c, err := w.eng.AcknowledgePoliceReferral(w.ctx, police, process.Request{Case: name, Etag: access.PoliceView(c, policeLocal).Etag()}, "CA-BD-8")
	if err != nil {
		t.Fatal(err)
	}
	d := openDeadline(t, c, model.DeadlinePoliceForward)
	asked, noteAt := d.Due.Add(-time.Second), d.Due.Add(time.Second)
	rc := &raceClock{Fake: w.clk}
	eng := process.New(process.Deps{Store: w.store, Units: w.reg, Policy: w.pol, Calendar: w.cal, Vault: w.vault, Clock: rc, Log: w.log})
	w.clk.Set(asked)
	rc.arm(func() {
		w.clk.Set(noteAt)
		full, err := stored(t, w.store, c.Number)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.eng.AddNote(w.ctx, worker, process.Request{Case: name, Etag: full.Etag()}, "gọi cho gia đình"); err != nil {
			t.Fatal(err)
		}
	})
	if _, err := eng.RecordPoliceForwarding(w.ctx, police, process.Request{Case: name, Etag: access.PoliceView(c, policeLocal).Etag()}, "Cơ quan CSĐT", time.Time{}); err != nil {
		t.Fatal(err)
	}
	if c, err = stored(t, w.store, c.Number); err != nil {
		t.Fatal(err)
	}
	if got := *c.Deadline(d.ID); got.State != model.DeadlineMet || !got.DoneTime.Equal(asked) {
		t.Errorf("forwarded at %v, due %v, past a note at %v: %s done %v; want MET, done at %v", asked, d.Due, noteAt, got.State, got.DoneTime, asked)
	}
	for _, r := range c.PoliceReferrals {
		if r.PoliceUnit == policeLocal && !r.ForwardTime.Equal(asked) {
			t.Errorf("forward_time %v, want when the step was asked, %v", r.ForwardTime, asked)
		}
	}
	writesInOrder(t, w, c, noteAt)
}
