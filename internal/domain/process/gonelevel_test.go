package process_test

import (
	"strings"
	"testing"
	"time"

	"github.com/childcase/childcase/internal/domain/datastore"
	"github.com/childcase/childcase/internal/domain/model"
	"github.com/childcase/childcase/internal/domain/vntime"
)

// A level that goes out of force while it holds an overdue deadline
// passes it on at once to the level above in force, not when its
// escalation step would have ended: nobody is left there to act. A case
// received on Sun 29 June 2025 in Phường Trúc Bạch is not acknowledged:
// at 10:00 on Mon 30 June it breaches and goes to Quận Ba Đình, whose
// escalation step (one working day) would end at 24:00 of Tue 1 July;
// but the district ends as 1 July begins, so the city gets it then, and
// its timer is set for that instant.
func TestEscalationHeldByALevelThatEndsGoesUpAtItsEnd(t *testing.T) {
	w := newWorldAt(t, loadEnv(t), in2025(6, 29, 10, 0))
	defer w.close()
	c := w.openCaseAt(t, in2025(6, 29, 10, 0), false, model.AbuseNeglect)
	ack := openDeadline(t, c, model.DeadlineAcknowledge)
	fire := func(now time.Time) model.Deadline {
		t.Helper()
		c = w.firedAt(t, now, c.Number)
		return *c.Deadline(ack.ID)
	}
	d := fire(in2025(6, 30, 10, 1))
	if len(d.Escalations) != 1 || d.Escalations[0].To != unitDistrict {
		t.Fatalf("escalations after the breach: %+v, want one to %s", d.Escalations, unitDistrict)
	}
	if end := in2025(7, 1, 0, 0); !d.NextFire.Equal(end) {
		t.Errorf("next fire after the escalation to the district: %s, want %s, when the district ends", d.NextFire.In(vntime.Location()), end)
	}
	d = fire(in2025(7, 1, 0, 0))
	if len(d.Escalations) != 2 || d.Escalations[1].To != unitCity || !d.Escalations[1].Time.Equal(in2025(7, 1, 0, 0)) {
		t.Fatalf("escalations as the district ends: %+v, want a second to %s at 1 July 00:00", d.Escalations, unitCity)
	}
	var events []model.CaseEvent
	err := w.store.View(w.ctx, func(tx datastore.ReadTx) error {
		var err error
		events, err = tx.CaseEvents(c.ID, 0, 1000)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	last := events[len(events)-1]
	for _, e := range events {
		if e.Kind == "DEADLINE_BREACHED" && strings.Contains(e.Detail, unitDistrict) {
			t.Errorf("timeline says %q: the district, gone, was never given its step", e.Detail)
		}
	}
	if last.Kind != "ESCALATED" || !strings.Contains(last.Detail, "no longer in force") {
		t.Errorf("last line %s %q, want ESCALATED saying the district is no longer in force", last.Kind, last.Detail)
	}
	if d = fire(in2025(7, 20, 0, 0)); len(d.Escalations) != 2 || !d.NextFire.IsZero() {
		t.Errorf("much later: escalations %+v, next fire %v; want two, none", d.Escalations, d.NextFire)
	}
}
