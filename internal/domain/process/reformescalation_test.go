package process_test

import (
	"testing"
	"time"

	"github.com/childcase/childcase/internal/domain/model"
	"github.com/childcase/childcase/internal/domain/vntime"
)

// A breach escalated to a district just before the districts end goes on
// to the city when the district's escalation step runs out after them. A
// case received on Thu 26 June 2025 in Phường Trúc Bạch (00004 of the
// 2025-01-01 set) is not acknowledged: at 09:00 on Fri 27 it breaches and
// goes to Quận Ba Đình; the district's working day, Mon 30 June, ends as
// 1 July begins, when the district no longer exists and Ba Đình
// (00004@2025-07-01) succeeds Trúc Bạch: the second escalation goes to
// the city, once, and nothing goes further.
func TestEscalationAcrossThe2025Reform(t *testing.T) {
	w := newWorldAt(t, loadEnv(t), in2025(6, 26, 9, 0))
	defer w.close()
	c := w.openCaseAt(t, in2025(6, 26, 9, 0), false, model.AbuseNeglect)
	ack := openDeadline(t, c, model.DeadlineAcknowledge)
	if ack.Unit != "units/00004@2025-01-01" || !ack.Due.Equal(in2025(6, 27, 9, 0)) {
		t.Fatalf("ACKNOWLEDGE of %s due %s, want Trúc Bạch's, due 27 June 09:00", ack.Unit, ack.Due.In(vntime.Location()))
	}
	fire := func(now time.Time) model.Deadline {
		t.Helper()
		c = w.firedAt(t, now, c.Number)
		return *c.Deadline(ack.ID)
	}
	d := fire(in2025(6, 27, 10, 0))
	if len(d.Escalations) != 1 || d.Escalations[0].To != unitDistrict || d.Escalations[0].MinutesLate != 60 {
		t.Fatalf("escalations after the breach: %+v, want one to %s, 60 minutes late", d.Escalations, unitDistrict)
	}
	if d = fire(in2025(6, 30, 23, 59)); len(d.Escalations) != 1 {
		t.Fatalf("escalations within the district's working day: %+v, want still one", d.Escalations)
	}
	d = fire(in2025(7, 1, 0, 5))
	if len(d.Escalations) != 2 || d.Escalations[1].To != unitCity {
		t.Fatalf("escalations after the district's working day, past the reform: %+v, want a second to %s", d.Escalations, unitCity)
	}
	if got := "units/" + c.ResponsibleUnit.String(); got != unitBaDinh || d.Unit != unitBaDinh {
		t.Errorf("after the reform the case is %s's and its ACKNOWLEDGE %s's, want %s's", got, d.Unit, unitBaDinh)
	}
	if d = fire(in2025(7, 20, 0, 0)); len(d.Escalations) != 2 || !d.NextFire.IsZero() || !d.Breached || !d.Open() {
		t.Errorf("much later: escalations %+v, next fire %v, breached %v, state %s; want two, none, overdue and open", d.Escalations, d.NextFire, d.Breached, d.State)
	}
}

// in2025 is a time of 2025 in Vietnam time, the year of the reform.
func in2025(m time.Month, d, h, min int) time.Time {
	return time.Date(2025, m, d, h, min, 0, 0, vntime.Location())
}

// firedAt sets the clock to now, fires every deadline then due, and
// returns the case of number as stored after.
func (w *world) firedAt(t *testing.T, now time.Time, number string) model.Case {
	t.Helper()
	w.clk.Set(now)
	if _, err := w.eng.FireDue(w.ctx); err != nil {
		t.Fatal(err)
	}
	c, err := stored(t, w.store, number)
	if err != nil {
		t.Fatal(err)
	}
	return c
}
