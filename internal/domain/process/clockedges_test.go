package process_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/childcase/childcase/internal/domain/datastore"
	"github.com/childcase/childcase/internal/domain/model"
	"github.com/childcase/childcase/internal/domain/process"
	"github.com/childcase/childcase/internal/domain/vntime"
)

// hn is a wall-clock time in Hanoi.
func hn(y int, m time.Month, d, h, min int) time.Time {
	return time.Date(y, m, d, h, min, 0, 0, vntime.Location())
}

// fireAt sets the clock to now, runs one scheduler pass and returns how
// many timers it handled and the case as stored.
func (w *world) fireAt(t *testing.T, number string, now time.Time) (int, model.Case) {
	t.Helper()
	w.clk.Set(now)
	n, err := w.eng.FireDue(w.ctx)
	if err != nil {
		t.Fatal(err)
	}
	c, err := stored(t, w.store, number)
	if err != nil {
		t.Fatal(err)
	}
	return n, c
}

// timeline returns the case's events about deadline id (0: all).
func (w *world) timeline(t *testing.T, c model.Case, id int) []model.CaseEvent {
	t.Helper()
	var out []model.CaseEvent
	err := w.store.View(w.ctx, func(tx datastore.ReadTx) error {
		ev, err := tx.CaseEvents(c.ID, 0, 1<<20)
		for _, e := range ev {
			if id == 0 || e.DeadlineID == id {
				out = append(out, e)
			}
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// notices returns the outbox entries about deadline id of case c.
func (w *world) notices(t *testing.T, c model.Case, id int) []model.Notification {
	t.Helper()
	var out []model.Notification
	err := w.store.View(w.ctx, func(tx datastore.ReadTx) error {
		ns, err := tx.Notifications(0, 1<<20)
		for _, n := range ns {
			if n.Case == "cases/"+c.Number && n.DeadlineID == id {
				out = append(out, n)
			}
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func kindsOf(ev []model.CaseEvent) []string {
	out := make([]string, len(ev))
	for i, e := range ev {
		out[i] = e.Kind
	}
	return out
}

func countKind(ev []model.CaseEvent, kind string) int {
	n := 0
	for _, e := range ev {
		if e.Kind == kind {
			n++
		}
	}
	return n
}

// An emergency reported at 23:59 on Fri 13 Feb 2026, the last working day
// before Tết, while the server is down until 08:00 on Mon 23 Feb, the
// first working day after it. D3 (12 hours, by the wall clock: Sat 14 at
// 11:59) and the emergency's ACKNOWLEDGE (2 hours: Sat 14 at 01:59) fire
// once at the restart, late, each saying when it was due and how late it
// is; no warning is sent for a time already past; each escalates once, to
// the city (no districts in 2026), which is the top: nothing fires again.
func TestCatchUpAfterTetFiresOnceLateAndSaysSo(t *testing.T) {
	received := hn(2026, 2, 13, 23, 59)
	w := newWorldAt(t, loadEnv(t), received)
	defer w.close()
	c := w.openCaseAt(t, received, true, model.AbuseNeglect)
	d3 := openDeadline(t, c, model.DeadlineEmergencyMeasures)
	ack := openDeadline(t, c, model.DeadlineAcknowledge)
	checkDue(t, d3, hn(2026, 2, 14, 11, 59))
	checkDue(t, ack, hn(2026, 2, 14, 1, 59))
	for _, d := range []model.Deadline{d3, ack} {
		if d.Start.Location() != time.UTC || d.Due.Location() != time.UTC {
			t.Errorf("%s stored in %s/%s, want UTC", d.Kind, d.Start.Location(), d.Due.Location())
		}
	}

	restart := hn(2026, 2, 23, 8, 0)
	if n, _ := w.fireAt(t, c.Number, restart); n != 2 {
		// Each deadline's first timer is its first warning: one timer each.
		t.Errorf("the restart's pass handled %d timers, want 2", n)
	}
	n, c := w.fireAt(t, c.Number, restart)
	if n != 0 {
		t.Errorf("a second pass at the same time handled %d timers, want 0", n)
	}
	for _, want := range []struct {
		d    model.Deadline
		late int64
	}{
		{d3, int64(restart.Sub(d3.Due) / time.Minute)},
		{ack, int64(restart.Sub(ack.Due) / time.Minute)},
	} {
		d := c.Deadline(want.d.ID)
		ev := w.timeline(t, c, d.ID)
		if countKind(ev, "DEADLINE_WARNING") != 0 || countKind(ev, "DEADLINE_BREACHED") != 1 || countKind(ev, "ESCALATED") != 1 {
			t.Errorf("%s timeline %v, want one breach and one escalation, no warning", d.Kind, kindsOf(ev))
			continue
		}
		if len(d.Escalations) != 1 || d.Escalations[0].To != unitCity || d.Escalations[0].MinutesLate != want.late ||
			!d.Escalations[0].Time.Equal(restart) {
			t.Errorf("%s escalations %+v, want one to %s at the restart, %d minutes late", d.Kind, d.Escalations, unitCity, want.late)
		}
		if !d.Breached || !d.Open() || !d.NextFire.IsZero() {
			t.Errorf("%s breached %v, state %s, next fire %v; want overdue, open, nothing more to fire", d.Kind, d.Breached, d.State, d.NextFire)
		}
		dueText := want.d.Due.In(vntime.Location()).Format(time.RFC3339)
		for _, e := range ev {
			switch e.Kind {
			case "DEADLINE_BREACHED":
				if !strings.Contains(e.Detail, dueText) || !e.Time.Equal(restart) {
					t.Errorf("%s breach at %s says %q, want it at the restart naming the due time %s", d.Kind, e.Time, e.Detail, dueText)
				}
			case "ESCALATED":
				if !strings.Contains(e.Detail, fmt.Sprintf("overdue by %d minutes", want.late)) {
					t.Errorf("%s escalation says %q, want %d minutes late", d.Kind, e.Detail, want.late)
				}
			}
		}
		// The outbox: the breach to the commune, the escalation to the
		// commune and the city.
		var got []string
		for _, n := range w.notices(t, c, d.ID) {
			got = append(got, n.Kind+" "+strings.Join(n.Units, ","))
		}
		wantN := []string{"DEADLINE_BREACHED " + unitBaDinh, "ESCALATED " + unitBaDinh + "," + unitCity}
		if !slices.Equal(got, wantN) {
			t.Errorf("%s notifications %q, want %q", d.Kind, got, wantN)
		}
	}
	if n, _ := w.fireAt(t, c.Number, hn(2026, 3, 31, 0, 0)); n != 0 {
		t.Errorf("a month later a pass handled %d timers, want 0", n)
	}
}

// In 2024 a breach goes to the district, and if the district does not act
// within the escalation step (one working day) once more, to the city. A
// case received at 10:00 on Tue 6 Feb 2024 is not acknowledged by 10:00 on
// Wed 7 Feb, the last working day before Tết (Thu 8 - Wed 14 Feb off): the
// district's working day is Thu 15 Feb, so the second escalation fires
// just after 00:00 on Fri 16 Feb (24:00 of Thu 15 is still the district's),
// once, to the city, and nothing after it.
func TestSecondEscalationWaitsOutTet2024(t *testing.T) {
	received := hn(2024, 2, 6, 10, 0)
	w := newWorldAt(t, loadEnv(t), received)
	defer w.close()
	c := w.openCaseAt(t, received, false, model.AbuseNeglect)
	ack := openDeadline(t, c, model.DeadlineAcknowledge)
	checkDue(t, ack, hn(2024, 2, 7, 10, 0))
	commune := ack.Unit

	// The warnings at 50% and 75%: 22:00 on Tue 6, 04:00 on Wed 7.
	for _, at := range []time.Time{hn(2024, 2, 6, 22, 0), hn(2024, 2, 7, 4, 0)} {
		if n, _ := w.fireAt(t, c.Number, at.Add(-time.Nanosecond)); n != 0 {
			t.Errorf("%d timers fired before %s", n, at)
		}
		if n, _ := w.fireAt(t, c.Number, at); n != 1 {
			t.Errorf("%d timers fired at %s, want the warning", n, at)
		}
	}
	_, c = w.fireAt(t, c.Number, hn(2024, 2, 7, 10, 0).Add(time.Nanosecond))
	d := c.Deadline(ack.ID)
	if len(d.Escalations) != 1 || d.Escalations[0].To != unitDistrict || d.Escalations[0].MinutesLate != 0 {
		t.Fatalf("escalations just after the due time: %+v, want one to %s, 0 minutes late", d.Escalations, unitDistrict)
	}
	if !d.NextFire.Equal(hn(2024, 2, 16, 0, 0).Add(time.Nanosecond)) {
		t.Errorf("next fire %s, want just after the end of the district's working day, 2024-02-16 00:00", d.NextFire.In(vntime.Location()))
	}
	if _, c = w.fireAt(t, c.Number, hn(2024, 2, 16, 0, 0)); len(c.Deadline(ack.ID).Escalations) != 1 {
		t.Fatalf("escalated again within the district's working day: %+v", c.Deadline(ack.ID).Escalations)
	}
	_, c = w.fireAt(t, c.Number, hn(2024, 2, 16, 0, 0).Add(time.Nanosecond))
	d = c.Deadline(ack.ID)
	late := int64(hn(2024, 2, 16, 0, 0).Sub(hn(2024, 2, 7, 10, 0)) / time.Minute)
	if len(d.Escalations) != 2 || d.Escalations[1].To != unitCity || d.Escalations[1].MinutesLate != late {
		t.Fatalf("escalations after the district's working day: %+v, want a second to %s, %d minutes late", d.Escalations, unitCity, late)
	}
	var got []string
	for _, n := range w.notices(t, c, ack.ID) {
		got = append(got, n.Kind+" "+strings.Join(n.Units, ","))
	}
	want := []string{
		"DEADLINE_WARNING " + commune, "DEADLINE_WARNING " + commune,
		"DEADLINE_BREACHED " + commune, "ESCALATED " + commune + "," + unitDistrict,
		"DEADLINE_BREACHED " + unitDistrict, "ESCALATED " + unitDistrict + "," + unitCity,
	}
	if !slices.Equal(got, want) {
		t.Errorf("notifications\n%q\nwant\n%q", got, want)
	}
	if n, _ := w.fireAt(t, c.Number, hn(2024, 6, 1, 0, 0)); n != 0 {
		t.Errorf("months later a pass handled %d timers, want 0", n)
	}
}

// A paused clock neither warns nor breaches, however long the pause: the
// ordinary ACKNOWLEDGE of a case received at 09:00 on Mon 2 Mar 2026
// (due Tue 3 at 09:00), paused at 10:00 and resumed at 12:00 on Wed 4,
// moves by the 50 hours of the pause to Thu 5 at 11:00. It breaches just
// after then, not at 11:00 itself (a step then meets it), once, each
// warning having fired once.
func TestPausedPastItsDueTimeBreachesOnceAfterResuming(t *testing.T) {
	received := hn(2026, 3, 2, 9, 0)
	w := newWorldAt(t, loadEnv(t), received)
	defer w.close()
	worker := principal("worker.badinh")
	step := stepOK(t)
	c := w.openCaseAt(t, received, false, model.AbuseNeglect)
	ack := openDeadline(t, c, model.DeadlineAcknowledge)
	req := func() process.Request { return process.Request{Case: "cases/" + c.Number, Etag: c.Etag()} }
	w.clk.Set(hn(2026, 3, 2, 10, 0))
	c = step(w.eng.PauseDeadline(w.ctx, worker, req(), ack.ID, "chưa liên lạc được"))

	_, c = w.fireAt(t, c.Number, hn(2026, 3, 4, 12, 0))
	if ev := w.timeline(t, c, ack.ID); countKind(ev, "DEADLINE_WARNING")+countKind(ev, "DEADLINE_BREACHED") != 0 {
		t.Fatalf("a paused clock fired: %v", kindsOf(ev))
	}
	c = step(w.eng.ResumeDeadline(w.ctx, worker, req(), ack.ID))
	d := c.Deadline(ack.ID)
	checkDue(t, *d, hn(2026, 3, 5, 11, 0))
	if d.Start.Location() != time.UTC || d.Due.Location() != time.UTC {
		t.Errorf("resumed deadline stored in %s/%s, want UTC", d.Start.Location(), d.Due.Location())
	}
	// The clock's start moved with it (Wed 4 at 11:00): its warnings fall
	// at 23:00 on Wed 4 and 05:00 on Thu 5, each once.
	for _, at := range []time.Time{hn(2026, 3, 4, 23, 0), hn(2026, 3, 5, 5, 0)} {
		if n, _ := w.fireAt(t, c.Number, at.Add(-time.Nanosecond)); n != 0 {
			t.Errorf("%d timers fired before %s", n, at)
		}
		if n, _ := w.fireAt(t, c.Number, at); n != 1 {
			t.Errorf("%d timers fired at %s, want the warning", n, at)
		}
	}
	_, c = w.fireAt(t, c.Number, hn(2026, 3, 5, 11, 0))
	if d = c.Deadline(ack.ID); d.Breached {
		t.Fatal("breached at its moved due time")
	}
	_, c = w.fireAt(t, c.Number, hn(2026, 3, 5, 11, 0).Add(time.Nanosecond))
	_, c = w.fireAt(t, c.Number, hn(2026, 3, 9, 11, 0))
	ev := w.timeline(t, c, ack.ID)
	if countKind(ev, "DEADLINE_WARNING") != 2 || countKind(ev, "DEADLINE_BREACHED") != 1 || countKind(ev, "ESCALATED") != 1 {
		t.Errorf("timeline %v, want two warnings, one breach, one escalation", kindsOf(ev))
	}
	if d = c.Deadline(ack.ID); len(d.Escalations) != 1 || d.Escalations[0].To != unitCity || d.Escalations[0].MinutesLate != 0 {
		t.Errorf("escalations %+v, want one to the city, on time", d.Escalations)
	}
}

// D7 for a plan submitted on Wed 4 Mar 2026 ends at 24:00 on Fri 6, which
// is 00:00 of Saturday: an approval in the last second of Friday is on
// time; the scheduler breaches the clock the instant after 00:00 and not
// at it, and an approval a minute later is missed by one minute, with its
// one escalation, to the city, kept.
func TestDeadlineEndingAtMidnightBeforeASaturday(t *testing.T) {
	midnight := hn(2026, 3, 7, 0, 0)
	for _, tt := range []struct {
		name     string
		approved time.Time
		state    model.DeadlineState
		late     int64
		breached bool
	}{
		{"approved in the last second of Friday", midnight.Add(-time.Second), model.DeadlineMet, 0, false},
		{"approved a minute into Saturday", midnight.Add(time.Minute), model.DeadlineMissed, 1, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			w := newWorldAt(t, loadEnv(t), hn(2026, 3, 2, 9, 0))
			defer w.close()
			worker, chair := principal("worker.badinh"), principal("chair.badinh")
			step := stepOK(t)
			c := w.openCaseAt(t, hn(2026, 3, 2, 8, 0), false, model.AbuseNeglect)
			req := func() process.Request { return process.Request{Case: "cases/" + c.Number, Etag: c.Etag()} }
			c = step(w.eng.Acknowledge(w.ctx, worker, req()))
			c = step(w.eng.RecordInitialAssessment(w.ctx, worker, req(), process.InitialAssessment{
				HarmSeverity: model.LevelMedium, AbuserAccess: model.LevelLow, SafetyObstacles: model.LevelLow,
			}))
			c = step(w.eng.RecordSpecificAssessment(w.ctx, worker, req(), process.SpecificAssessment{
				Needs: "hỗ trợ", ChildViews: "ý kiến", MeetingRecord: "biên bản",
				MeetingTime: hn(2026, 3, 2, 9, 0), MeetingChair: model.Attendee{FullName: "Chủ tịch UBND phường"},
			}))
			w.clk.Set(hn(2026, 3, 4, 15, 0))
			c = step(w.eng.SubmitPlan(w.ctx, worker, req(), []process.Service{{
				Name: "tư vấn", Owner: "trung tâm", CommuneAssignee: "cán bộ", StartDate: "2026-03-09", ExpectedEndDate: "2026-04-30",
			}}))
			d7 := openDeadline(t, c, model.DeadlinePlanApproval)
			checkDue(t, d7, midnight)
			if _, c = w.fireAt(t, c.Number, midnight); c.Deadline(d7.ID).Breached {
				t.Fatal("breached at 24:00 of Friday")
			}
			if tt.breached {
				if _, c = w.fireAt(t, c.Number, midnight.Add(time.Nanosecond)); !c.Deadline(d7.ID).Breached {
					t.Fatal("not breached after 24:00 of Friday")
				}
			}
			w.clk.Set(tt.approved)
			c = step(w.eng.ApprovePlan(w.ctx, chair, req(), process.Approval{DecisionNumber: "12/QĐ-UBND", DecisionDate: "2026-03-06"}))
			d := c.Deadline(d7.ID)
			if d.State != tt.state || d.MinutesLate != tt.late || d.Breached != tt.breached {
				t.Errorf("D7 %s, %d minutes late, breached %v; want %s, %d, %v", d.State, d.MinutesLate, d.Breached, tt.state, tt.late, tt.breached)
			}
			if n := len(d.Escalations); (n == 1) != tt.breached || (n == 1 && d.Escalations[0].To != unitCity) || n > 1 {
				t.Errorf("D7 escalations %+v", d.Escalations)
			}
			if !d.NextFire.IsZero() {
				t.Errorf("D7 done, next fire %s", d.NextFire)
			}
		})
	}
}
