package process_test

import (
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
