package process_test

import (
	"slices"
	"testing"
	"time"

	"github.com/childcase/childcase/internal/domain/datastore"
	"github.com/childcase/childcase/internal/domain/model"
	"github.com/childcase/childcase/internal/domain/vntime"
)

// An emergency case opened by a report received at 10:00 has D3 due at
// 22:00. A report recorded later that joins it, received at 08:00 and also
// saying the child is in danger, shows the danger was known from 08:00:
// D3 counts from then, due at 20:00 (12 hours from when the information
// came in, Decree 56 Art. 26(3)); the case's receive time is 08:00 too.
// Measures applied at 21:00 miss it by an hour. A later-received joining
// report changes nothing.
func TestEmergencyKnownEarlierByAJoiningReport(t *testing.T) {
	at := func(h int) time.Time { return time.Date(2026, 3, 2, h, 0, 0, 0, vntime.Location()) }
	w := newWorldAt(t, loadEnv(t), at(10))
	defer w.close()
	c := w.openCaseAt(t, at(10), true, model.AbuseNeglect)
	d3 := openDeadline(t, c, model.DeadlineEmergencyMeasures)
	checkDue(t, d3, at(22))

	join := func(receive time.Time) model.Case {
		t.Helper()
		return w.reportIn(t, "00004", receive, true, model.AbuseNeglect, "cases/"+c.Number)
	}
	w.clk.Set(at(12))
	c = join(at(11))
	checkDue(t, *c.Deadline(d3.ID), at(22))
	c = join(at(8))
	got := *c.Deadline(d3.ID)
	checkDue(t, got, at(20))
	if !got.Start.Equal(at(8)) || !c.ReceiveTime.Equal(at(8)) {
		t.Errorf("D3 starts %s, the case was received %s; want both 08:00", got.Start.In(vntime.Location()), c.ReceiveTime.In(vntime.Location()))
	}
	if n := len(d3s(c)); n != 1 {
		t.Errorf("%d D3 deadlines, want the one moved", n)
	}
	// The unit that must meet D3 is told its time grew shorter.
	var moved []model.Notification
	if err := w.store.View(w.ctx, func(tx datastore.ReadTx) error {
		ns, err := tx.Notifications(0, 1000)
		for _, n := range ns {
			if n.Kind == "DEADLINE_MOVED" {
				moved = append(moved, n)
			}
		}
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if len(moved) != 1 || moved[0].DeadlineID != d3.ID || !slices.Equal(moved[0].Units, []string{got.Unit}) {
		t.Errorf("DEADLINE_MOVED notifications %+v, want one of D3 to %s", moved, got.Unit)
	}
	w.cases = append(w.cases, c.Number)
	w.checkInvariants(t, w.refresh(t), false)

	// Nobody acts: it breaches at 20:00, not 22:00.
	w.clk.Set(at(20).Add(time.Minute))
	if _, err := w.eng.FireDue(w.ctx); err != nil {
		t.Fatal(err)
	}
	c, _ = stored(t, w.store, c.Number)
	if d := c.Deadline(d3.ID); !d.Breached {
		t.Errorf("D3 at 20:01: breached %v, want breached", d.Breached)
	}
}
