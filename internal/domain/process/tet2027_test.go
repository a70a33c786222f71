package process_test

import (
	"testing"
	"time"

	"github.com/childcase/childcase/internal/domain/model"
	"github.com/childcase/childcase/internal/domain/process"
	"github.com/childcase/childcase/internal/domain/vntime"
)

// hn27 is a wall-clock time of 2027 in Hanoi.
func hn27(m time.Month, d, h, min int) time.Time {
	return time.Date(2027, m, d, h, min, 0, 0, vntime.Location())
}

// openDeadline returns the case's open deadline of kind.
func openDeadline(t *testing.T, c model.Case, kind model.DeadlineKind) model.Deadline {
	t.Helper()
	for _, d := range c.Deadlines {
		if d.Kind == kind && d.Open() {
			return d
		}
	}
	t.Fatalf("no open %s in %+v", kind, c.Deadlines)
	return model.Deadline{}
}

// checkDue fails t unless d is due at want.
func checkDue(t *testing.T, d model.Deadline, want time.Time) {
	t.Helper()
	if !d.Due.Equal(want) {
		t.Errorf("%s due %s, want %s", d.Kind, d.Due.In(vntime.Location()), want)
	}
}

// The plan's clocks across Tết 2027 (provisional data: Thu 4 - Mon 8 Feb
// the holidays, mùng 1 and 2 on the weekend, so Tue 9 and Wed 10 are
// compensatory days off). A case received, acknowledged and met about at
// 23:59 on Wed 3 Feb: the 24-hour acknowledgement ends at 23:59 on Thu 4
// (a holiday: hours count); D6 counts from Thu 4, and its five working
// days are Thu 11, Fri 12, Mon 15, Tue 16 and Wed 17. A plan submitted in
// Tết has D7 on Thu 11 and Fri 12; returned on Fri 12, PLAN_RESUBMIT's
// two working days are Mon 15 and Tue 16.
func TestPlanClocksAcrossTet2027(t *testing.T) {
	received := hn27(2, 3, 23, 59)
	w := newWorldAt(t, loadEnv(t), received)
	defer w.close()
	worker, chair := principal("worker.badinh"), principal("chair.badinh")
	step := stepOK(t)
	c := w.openCaseAt(t, received, false, model.AbuseNeglect)
	checkDue(t, openDeadline(t, c, model.DeadlineAcknowledge), hn27(2, 4, 23, 59))
	name := "cases/" + c.Number
	req := func() process.Request { return process.Request{Case: name, Etag: c.Etag()} }
	c = step(w.eng.Acknowledge(w.ctx, worker, req()))
	c = step(w.eng.RecordInitialAssessment(w.ctx, worker, req(), process.InitialAssessment{
		HarmSeverity: model.LevelMedium, AbuserAccess: model.LevelLow, SafetyObstacles: model.LevelLow,
	}))
	w.clk.Set(received.Add(50 * time.Second))
	c = step(w.eng.RecordSpecificAssessment(w.ctx, worker, req(), process.SpecificAssessment{
		Needs: "hỗ trợ tâm lý", ChildViews: "muốn ở với bà", MeetingRecord: "biên bản họp",
		MeetingTime: received.Add(30 * time.Second), MeetingChair: model.Attendee{FullName: "Chủ tịch UBND phường"},
	}))
	checkDue(t, openDeadline(t, c, model.DeadlinePlanDraft), hn27(2, 18, 0, 0))

	w.clk.Set(hn27(2, 5, 10, 0)) // Fri, Tết
	c = step(w.eng.SubmitPlan(w.ctx, worker, req(), []process.Service{{
		Name: "tư vấn", Owner: "trung tâm công tác xã hội", CommuneAssignee: "cán bộ phường",
		StartDate: "2027-02-11", ExpectedEndDate: "2027-03-31",
	}}))
	checkDue(t, openDeadline(t, c, model.DeadlinePlanApproval), hn27(2, 13, 0, 0))

	w.clk.Set(hn27(2, 12, 16, 0))
	c = step(w.eng.ReturnPlan(w.ctx, chair, req(), "thiếu chi phí"))
	checkDue(t, openDeadline(t, c, model.DeadlinePlanResubmit), hn27(2, 17, 0, 0))
}

// D6 paused before Tết 2027 and resumed after it keeps the working days
// it had left: from a meeting on Tue 2 Feb it is due at the end of Tue 16
// (Wed 3, Thu 11, Fri 12, Mon 15, Tue 16). Paused on Wed 3, four are left
// (11, 12, 15, 16 Feb); resumed on Thu 11, they are Fri 12, Mon 15, Tue
// 16 and Wed 17, not the Sunday a wall-clock shift would reach.
func TestPlanDraftPausedOverTet2027(t *testing.T) {
	w := newWorldAt(t, loadEnv(t), hn27(2, 2, 9, 0))
	defer w.close()
	worker := principal("worker.badinh")
	step := stepOK(t)
	c := w.openCaseAt(t, hn27(2, 2, 8, 0), false, model.AbuseNeglect)
	name := "cases/" + c.Number
	req := func() process.Request { return process.Request{Case: name, Etag: c.Etag()} }
	c = step(w.eng.Acknowledge(w.ctx, worker, req()))
	c = step(w.eng.RecordInitialAssessment(w.ctx, worker, req(), process.InitialAssessment{
		HarmSeverity: model.LevelMedium, AbuserAccess: model.LevelLow, SafetyObstacles: model.LevelLow,
	}))
	w.clk.Set(hn27(2, 2, 15, 0))
	c = step(w.eng.RecordSpecificAssessment(w.ctx, worker, req(), process.SpecificAssessment{
		Needs: "hỗ trợ", ChildViews: "ý kiến", MeetingRecord: "biên bản",
		MeetingTime: hn27(2, 2, 14, 0), MeetingChair: model.Attendee{FullName: "Chủ tịch UBND phường"},
	}))
	d6 := openDeadline(t, c, model.DeadlinePlanDraft)
	checkDue(t, d6, hn27(2, 17, 0, 0))

	w.clk.Set(hn27(2, 3, 15, 0))
	c = step(w.eng.PauseDeadline(w.ctx, worker, req(), d6.ID, "không liên lạc được với gia đình"))
	w.clk.Set(hn27(2, 11, 9, 0))
	c = step(w.eng.ResumeDeadline(w.ctx, worker, req(), d6.ID))
	checkDue(t, *c.Deadline(d6.ID), hn27(2, 18, 0, 0))
}

// The plan's clocks across New Year 2027 (Fri 1 Jan, a holiday; no
// compensatory day: it falls on a weekday), with the meeting's day read in
// Hanoi, not in UTC. A meeting at 16:59 UTC on Tue 29 Dec 2026 is at 23:59
// in Hanoi: D6 counts Wed 30, Thu 31, Mon 4, Tue 5 and Wed 6 Jan and ends
// with Wed 6. One at 17:01 UTC is already Wed 30 in Hanoi: D6 counts from
// Thu 31 and ends with Thu 7. A plan submitted at 16:00 on Thu 31 Dec has
// D7 on Mon 4 and Tue 5.
func TestPlanClocksAcrossNewYear2027(t *testing.T) {
	tests := []struct {
		name    string
		meeting time.Time
		d6      time.Time
	}{
		{"meeting at 23:59 in Hanoi (16:59 UTC)", time.Date(2026, 12, 29, 16, 59, 0, 0, time.UTC), hn27(1, 7, 0, 0)},
		{"meeting at 00:01 the next day in Hanoi (17:01 UTC)", time.Date(2026, 12, 29, 17, 1, 0, 0, time.UTC), hn27(1, 8, 0, 0)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			received := time.Date(2026, 12, 29, 16, 0, 0, 0, time.UTC)
			w := newWorldAt(t, loadEnv(t), received)
			defer w.close()
			worker := principal("worker.badinh")
			step := stepOK(t)
			c := w.openCaseAt(t, received, false, model.AbuseNeglect)
			name := "cases/" + c.Number
			req := func() process.Request { return process.Request{Case: name, Etag: c.Etag()} }
			c = step(w.eng.Acknowledge(w.ctx, worker, req()))
			c = step(w.eng.RecordInitialAssessment(w.ctx, worker, req(), process.InitialAssessment{
				HarmSeverity: model.LevelMedium, AbuserAccess: model.LevelLow, SafetyObstacles: model.LevelLow,
			}))
			w.clk.Set(tt.meeting.Add(time.Minute))
			c = step(w.eng.RecordSpecificAssessment(w.ctx, worker, req(), process.SpecificAssessment{
				Needs: "hỗ trợ tâm lý", ChildViews: "muốn ở với bà", MeetingRecord: "biên bản họp",
				MeetingTime: tt.meeting, MeetingChair: model.Attendee{FullName: "Chủ tịch UBND phường"},
			}))
			checkDue(t, openDeadline(t, c, model.DeadlinePlanDraft), tt.d6)

			w.clk.Set(time.Date(2026, 12, 31, 16, 0, 0, 0, vntime.Location()))
			c = step(w.eng.SubmitPlan(w.ctx, worker, req(), []process.Service{{
				Name: "tư vấn", Owner: "trung tâm công tác xã hội", CommuneAssignee: "cán bộ phường",
				StartDate: "2027-01-04", ExpectedEndDate: "2027-03-31",
			}}))
			checkDue(t, openDeadline(t, c, model.DeadlinePlanApproval), hn27(1, 6, 0, 0))
		})
	}
}
