package process_test

import (
	"testing"
	"time"

	"github.com/childcase/childcase/internal/domain/access"
	"github.com/childcase/childcase/internal/domain/model"
	"github.com/childcase/childcase/internal/domain/process"
	"github.com/childcase/childcase/internal/domain/vntime"
)

// D16 is a count of 20 calendar days (Civil Code Arts. 147-148, domain
// reference section 5): it ends at 24:00 of its last day, or of the next
// working day when that is a day off, and a suspension (Criminal
// Procedure Code Art. 147(4)) does not make it anything else: resumed,
// the days it had left after the day of the suspension count again from
// the day after the resumption, as a working-day count's do. Moved by the
// wall-clock length of the suspension instead, a D16 suspended at 09:00
// and resumed at 15:00 ended at 06:00 of some day, which no day count
// does, and on a Sunday if that is where six hours past midnight fell.
//
// Referred Mon 2 Mar 2026 (referredCase), forwarded Tue 3 Mar 10:00: D16
// counts from Wed 4 Mar and ends with Mon 23 Mar. Suspended on Fri 6
// Mar, it has 17 days left (7-23 Mar).
func TestResumedProsecutionDeadlineEndsAtMidnightOfAWorkingDay(t *testing.T) {
	hn := func(m time.Month, d, h int) time.Time { return time.Date(2026, m, d, h, 0, 0, 0, vntime.Location()) }
	tests := []struct {
		name             string
		resumed, wantDue time.Time
	}{
		// Resumed Wed 11 Mar: the 17 days are 12-28 Mar, and Sat 28 is
		// a day off, so it ends with Mon 30 (by the wall clock: Sun 29
		// at 06:00).
		{"last day a Saturday", hn(3, 11, 15), hn(3, 31, 0)},
		// Resumed the day it was suspended: nothing changes (by the wall
		// clock: 06:00 on Tue 24).
		{"within the day", hn(3, 6, 15), hn(3, 24, 0)},
		// Resumed Tue 10 Mar: 11-27 Mar, a Friday.
		{"last day a Friday", hn(3, 10, 15), hn(3, 28, 0)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := newWorld(t, loadEnv(t))
			defer w.close()
			police := principal("police.badinh")
			name, c := w.referredCase(t)
			step := stepOK(t)
			req := func() process.Request { return process.Request{Case: name, Etag: w.caseAs(t, police, name).Etag()} }
			w.clk.Set(hn(3, 2, 17))
			step(w.eng.AcknowledgePoliceReferral(w.ctx, police, process.Request{Case: name, Etag: access.PoliceView(c, policeLocal).Etag()}, "CA-BD-1"))
			w.clk.Set(hn(3, 3, 10))
			c = step(w.eng.RecordPoliceForwarding(w.ctx, police, req(), "Cơ quan CSĐT", time.Time{}))
			d16 := openDeadline(t, c, model.DeadlineProsecutionDecision)
			checkDue(t, d16, hn(3, 24, 0))

			w.clk.Set(hn(3, 6, 9))
			step(w.eng.SuspendPoliceDeadline(w.ctx, police, req(), process.PoliceDecision{Number: "3/QĐ-TĐC", Reason: "chờ kết luận giám định"}))
			w.clk.Set(tt.resumed)
			c = step(w.eng.ResumePoliceDeadline(w.ctx, police, req(), process.PoliceDecision{Number: "4/QĐ-PHGQ", Reason: "đã có kết luận giám định"}))
			checkDue(t, *c.Deadline(d16.ID), tt.wantDue)
		})
	}
}

// D8, a service's time to its expected end, ends on the date the plan
// set whatever day it is, and so it does when paused and resumed: it
// keeps its calendar days left and ends at 24:00 of the last of them,
// even a Sunday, not at the hour a wall-clock shift reaches, nor on the
// next working day. A service ending on Sat 28 Mar 2026, paused on Mon
// 23 Mar at 09:00 (5 days left, 24-28 Mar) and resumed on Tue 24 at
// 15:00, ends with Sun 29 Mar (by the wall clock: Mon 30 at 06:00).
func TestResumedServiceEndStaysOnItsDay(t *testing.T) {
	hn := func(m time.Month, d, h int) time.Time { return time.Date(2026, m, d, h, 0, 0, 0, vntime.Location()) }
	w := newWorldAt(t, loadEnv(t), hn(3, 2, 9))
	defer w.close()
	worker, chair := principal("worker.badinh"), principal("chair.badinh")
	step := stepOK(t)
	c := w.openCaseAt(t, hn(3, 2, 8), false, model.AbuseNeglect)
	req := func() process.Request { return process.Request{Case: "cases/" + c.Number, Etag: c.Etag()} }
	c = step(w.eng.Acknowledge(w.ctx, worker, req()))
	c = step(w.eng.RecordInitialAssessment(w.ctx, worker, req(), process.InitialAssessment{
		HarmSeverity: model.LevelMedium, AbuserAccess: model.LevelLow, SafetyObstacles: model.LevelLow,
	}))
	c = step(w.eng.RecordSpecificAssessment(w.ctx, worker, req(), process.SpecificAssessment{
		Needs: "hỗ trợ", ChildViews: "ý kiến", MeetingRecord: "biên bản",
		MeetingTime: hn(3, 2, 9), MeetingChair: model.Attendee{FullName: "Chủ tịch UBND phường"},
	}))
	w.clk.Set(hn(3, 3, 10))
	c = step(w.eng.SubmitPlan(w.ctx, worker, req(), []process.Service{{
		Name: "tư vấn", Owner: "trung tâm", CommuneAssignee: "cán bộ", StartDate: "2026-03-09", ExpectedEndDate: "2026-03-28",
	}}))
	w.clk.Set(hn(3, 4, 10))
	c = step(w.eng.ApprovePlan(w.ctx, chair, req(), process.Approval{DecisionNumber: "12/QĐ-UBND", DecisionDate: "2026-03-04"}))
	d8 := openDeadline(t, c, model.DeadlineServiceEnd)
	checkDue(t, d8, hn(3, 29, 0))
	version := d8.CalendarVersion

	w.clk.Set(hn(3, 23, 9))
	c = step(w.eng.PauseDeadline(w.ctx, worker, req(), d8.ID, "trung tâm tạm ngừng dịch vụ"))
	w.clk.Set(hn(3, 24, 15))
	c = step(w.eng.ResumeDeadline(w.ctx, worker, req(), d8.ID))
	got := *c.Deadline(d8.ID)
	checkDue(t, got, hn(3, 30, 0))
	if got.CalendarVersion != version {
		t.Errorf("D8's calendar version after the resumption: %s, want %s, as counted without days off", got.CalendarVersion, version)
	}
}
