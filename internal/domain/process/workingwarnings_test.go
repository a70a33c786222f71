package process_test

import (
	"testing"
	"time"

	"github.com/childcase/childcase/internal/domain/datastore"
	"github.com/childcase/childcase/internal/domain/model"
	"github.com/childcase/childcase/internal/domain/process"
	"github.com/childcase/childcase/internal/domain/vntime"
)

// warningsFired runs the scheduler at each instant the case's deadline id
// is next looked at, while a warning of it is still to come, and returns
// those instants: when its unit is warned. Each pass must send one
// warning, no more, and put it on the timeline.
func (w *world) warningsFired(t *testing.T, c model.Case, id int) []time.Time {
	t.Helper()
	var at []time.Time
	for d := *c.Deadline(id); d.Open() && !d.Breached && d.WarningsSent < len(d.WarnAt); d = *c.Deadline(id) {
		if d.NextFire.IsZero() || !d.NextFire.Before(d.Due) {
			t.Fatalf("%s has %d of %d warnings sent and next looked at %v, due %v", d.Kind, d.WarningsSent, len(d.WarnAt), d.NextFire, d.Due)
		}
		at = append(at, d.NextFire.In(vntime.Location()))
		before := countKind(w.timeline(t, c, id), "DEADLINE_WARNING")
		_, c = w.fireAt(t, c.Number, d.NextFire)
		if got := c.Deadline(id).WarningsSent; got != d.WarningsSent+1 {
			t.Fatalf("%s at %v: %d warnings sent, want %d", d.Kind, d.NextFire, got, d.WarningsSent+1)
		}
		if got := countKind(w.timeline(t, c, id), "DEADLINE_WARNING"); got != before+1 {
			t.Fatalf("%s at %v: %d warnings on the timeline, want %d", d.Kind, d.NextFire, got, before+1)
		}
	}
	return at
}

// checkWarnings fails t unless the warnings fell at want, each on a
// working day.
func (w *world) checkWarnings(t *testing.T, what string, got, want []time.Time) {
	t.Helper()
	for _, g := range got {
		if !w.cal.IsWorkingDay(vntime.DateOf(g)) {
			t.Errorf("%s: a warning at %s, a day off", what, g.Format("Mon 2 Jan 2006 15:04"))
		}
	}
	if len(got) != len(want) {
		t.Fatalf("%s: warnings at %v, want %v", what, got, want)
	}
	for i := range want {
		if !got[i].Equal(want[i]) {
			t.Errorf("%s: warning %d at %s, want %s", what, i+1, got[i].Format("Mon 2 Jan 2006 15:04"), want[i].Format("Mon 2 Jan 2006 15:04"))
		}
	}
}

// toPlan takes a new case through to its plan meeting at meeting and
// returns it with D6 running.
func (w *world) toPlan(t *testing.T, received, meeting time.Time) model.Case {
	t.Helper()
	worker := principal("worker.badinh")
	step := stepOK(t)
	w.clk.Set(received)
	c := w.openCaseAt(t, received, false, model.AbuseNeglect)
	req := func() process.Request { return process.Request{Case: "cases/" + c.Number, Etag: c.Etag()} }
	c = step(w.eng.Acknowledge(w.ctx, worker, req()))
	c = step(w.eng.RecordInitialAssessment(w.ctx, worker, req(), process.InitialAssessment{
		HarmSeverity: model.LevelMedium, AbuserAccess: model.LevelLow, SafetyObstacles: model.LevelLow,
	}))
	w.clk.Set(meeting)
	return step(w.eng.RecordSpecificAssessment(w.ctx, worker, req(), process.SpecificAssessment{
		Needs: "hỗ trợ tâm lý", ChildViews: "muốn ở với bà", MeetingRecord: "biên bản họp",
		MeetingTime: meeting, MeetingChair: model.Attendee{FullName: "Chủ tịch UBND phường"},
	}))
}

// A plan submitted at 15:00 on Fri 4 Dec 2026 has D7's two working days
// on Mon 7 and Tue 8: due at 24:00 of Tue 8. Its warnings at 50% and 75%
// fall after 1 and 1.5 of those days: at 00:00 and 12:00 of Tue 8. On the
// wall clock (105 hours) the first fell at 19:30 on Sunday, when nobody is
// at work, and the second at 21:45 on Monday.
func TestPlanApprovalStartedOnAFridayWarnsOnWorkingDays(t *testing.T) {
	w := newWorldAt(t, loadEnv(t), hn(2026, 12, 3, 9, 0))
	defer w.close()
	c := w.toPlan(t, hn(2026, 12, 3, 9, 0), hn(2026, 12, 3, 10, 0))
	w.clk.Set(hn(2026, 12, 4, 15, 0))
	c = stepOK(t)(w.eng.SubmitPlan(w.ctx, principal("worker.badinh"), process.Request{Case: "cases/" + c.Number, Etag: c.Etag()}, []process.Service{{
		Name: "tư vấn", Owner: "trung tâm công tác xã hội", CommuneAssignee: "cán bộ phường",
		StartDate: "2026-12-07", ExpectedEndDate: "2027-03-31",
	}}))
	d7 := openDeadline(t, c, model.DeadlinePlanApproval)
	checkDue(t, d7, hn(2026, 12, 9, 0, 0))
	w.checkWarnings(t, "D7 from Friday", w.warningsFired(t, c, d7.ID), []time.Time{hn(2026, 12, 8, 0, 0), hn(2026, 12, 8, 12, 0)})
}

// D6 from a meeting at 16:00 on Wed 3 Feb 2027 counts across Tết 2027
// (Thu 4 to Mon 8 Feb the holidays, Tue 9 and Wed 10 compensatory days
// off): Thu 11, Fri 12, Mon 15, Tue 16 and Wed 17, due at 24:00 of Wed
// 17. Its warnings fall after 2.5 and 3.75 of those days: at 12:00 on
// Mon 15 and 18:00 on Tue 16. On the wall clock they fell at 20:00 on Wed
// 10, in Tết, and 10:00 on Sun 14.
func TestPlanDraftAcrossTet2027WarnsOnWorkingDays(t *testing.T) {
	w := newWorldAt(t, loadEnv(t), hn27(2, 3, 9, 0))
	defer w.close()
	c := w.toPlan(t, hn27(2, 3, 9, 0), hn27(2, 3, 16, 0))
	d6 := openDeadline(t, c, model.DeadlinePlanDraft)
	checkDue(t, d6, hn27(2, 18, 0, 0))
	w.checkWarnings(t, "D6 across Tết", w.warningsFired(t, c, d6.ID), []time.Time{hn27(2, 15, 12, 0), hn27(2, 16, 18, 0)})
}

// D6 from a meeting on Tue 2 Feb 2027 (Wed 3, Thu 11, Fri 12, Mon 15, Tue
// 16), paused on Wed 3 and resumed on Thu 11, has four working days left,
// Fri 12, Mon 15, Tue 16 and Wed 17 (TestPlanDraftPausedOverTet2027); the
// day of the pause counts as used. Its warnings still fall after 2.5 and
// 3.75 of its five days, so after 1.5 and 2.75 of the four: at 12:00 on
// Mon 15 and 18:00 on Tue 16. The wall clock moved by the pause put the
// first at 19:00 on Wed 10, in Tết and before the resumption, so it came
// at once, and the second at 09:30 on Sun 14.
func TestResumedPlanDraftWarnsOnWorkingDays(t *testing.T) {
	w := newWorldAt(t, loadEnv(t), hn27(2, 2, 8, 0))
	defer w.close()
	c := w.toPlan(t, hn27(2, 2, 8, 0), hn27(2, 2, 14, 0))
	d6 := openDeadline(t, c, model.DeadlinePlanDraft)
	c = w.pausedOverTet2027(t, c, d6.ID)
	w.checkWarnings(t, "D6 resumed", w.warningsFired(t, c, d6.ID), []time.Time{hn27(2, 15, 12, 0), hn27(2, 16, 18, 0)})
}

// A D6 stored before schema version 13 has no warning instants: until it
// is resumed it warns at the wall-clock fractions it was given, which its
// unit was told; once resumed, its warnings left fall on the working days
// left, as any working-day clock's. The D6 of
// TestResumedPlanDraftWarnsOnWorkingDays, its instants taken away as an
// older release stored it, would warn at 00:00 on Sat 6 Feb 2027 (50% of
// the wall clock from Tue 2 14:00 to 24:00 of Tue 9); paused on Wed 3 and
// resumed on Thu 11, it warns at the instants that D6 warns at.
func TestPlanDraftStoredWithoutWarningInstantsKeepsThemUntilResumed(t *testing.T) {
	w := newWorldAt(t, loadEnv(t), hn27(2, 2, 8, 0))
	defer w.close()
	c := w.toPlan(t, hn27(2, 2, 8, 0), hn27(2, 2, 14, 0))
	d6 := openDeadline(t, c, model.DeadlinePlanDraft)
	// As a release before schema version 13 stored it.
	err := w.store.Update(w.ctx, func(tx datastore.Tx) error {
		stored, err := tx.CaseByNumber(c.Number)
		if err != nil {
			return err
		}
		stored.Deadline(d6.ID).WarnTimes = nil
		stored.Revision++
		c = stored
		return tx.UpdateCase(stored)
	})
	if err != nil {
		t.Fatal(err)
	}
	old := *c.Deadline(d6.ID)
	span := old.Due.Sub(old.Start)
	for i, f := range old.WarnAt {
		want := old.Start.Add(time.Duration(float64(span) * f))
		if got := old.WarningTime(i); !got.Equal(want) {
			t.Errorf("stored without instants: warning %d at %v, want the wall-clock fraction %v", i+1, got, want)
		}
	}
	if first := old.WarningTime(0).In(vntime.Location()); w.cal.IsWorkingDay(vntime.DateOf(first)) {
		t.Fatalf("the wall-clock 50%% of this D6 falls at %v, a working day: the test shows nothing", first)
	}
	c = w.pausedOverTet2027(t, c, d6.ID)
	w.checkWarnings(t, "D6 stored without instants, resumed", w.warningsFired(t, c, d6.ID), []time.Time{hn27(2, 15, 12, 0), hn27(2, 16, 18, 0)})
}

// pausedOverTet2027 pauses the D6 id of c, from a meeting on Tue 2 Feb
// 2027, on Wed 3 and resumes it on Thu 11, after Tết: it is due at 24:00
// of Wed 17, its four working days left Fri 12, Mon 15, Tue 16 and Wed 17.
func (w *world) pausedOverTet2027(t *testing.T, c model.Case, id int) model.Case {
	t.Helper()
	worker := principal("worker.badinh")
	step := stepOK(t)
	req := func() process.Request { return process.Request{Case: "cases/" + c.Number, Etag: c.Etag()} }
	w.clk.Set(hn27(2, 3, 15, 0))
	c = step(w.eng.PauseDeadline(w.ctx, worker, req(), id, "không liên lạc được với gia đình"))
	w.clk.Set(hn27(2, 11, 9, 0))
	c = step(w.eng.ResumeDeadline(w.ctx, worker, req(), id))
	checkDue(t, *c.Deadline(id), hn27(2, 18, 0, 0))
	return c
}
