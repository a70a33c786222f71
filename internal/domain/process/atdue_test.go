package process_test

import (
	"testing"
	"time"

	"github.com/childcase/childcase/internal/domain/model"
	"github.com/childcase/childcase/internal/domain/process"
)

// A limit is met by a step taken at its due time: "within 12 hours" holds
// at the 12th hour itself, and a day count ends at 24:00 of its last day.
// So a scheduler pass at that very instant must not breach the deadline
// and escalate it, which would tell the level above that a step taken in
// time was late; the breach comes the instant after.
//
// An emergency received at 23:59 on Sat 5 Dec 2026 has D3 due at 11:59 on
// Sun 6 Dec. A plan meeting at 23:59 on Wed 30 Dec 2026 has D6 across New
// Year: Thu 31 Dec, then (Fri 1 Jan off) Mon 4 to Thu 7 Jan 2027, so due
// at 24:00 of Thu 7 Jan; the plan submitted at that instant meets it, and
// D7 counts from Fri 8 Jan: Mon 11 and Tue 12.
func TestStepAtTheDueTimeMeetsItWithoutABreach(t *testing.T) {
	received := hn(2026, 12, 5, 23, 59)
	w := newWorldAt(t, loadEnv(t), received)
	defer w.close()
	chair, worker := principal("chair.badinh"), principal("worker.badinh")
	step := stepOK(t)

	c := w.openCaseAt(t, received, true, model.AbuseNeglect)
	late := w.openCaseAt(t, received, true, model.AbuseNeglect)
	d3 := openDeadline(t, c, model.DeadlineEmergencyMeasures)
	checkDue(t, d3, hn(2026, 12, 6, 11, 59))

	w.fireAt(t, c.Number, d3.Due)
	_, c = w.fireAt(t, c.Number, d3.Due)
	if got := *c.Deadline(d3.ID); got.Breached || len(got.Escalations) != 0 {
		t.Errorf("D3 at its due time: breached %v, escalations %+v; want neither", got.Breached, got.Escalations)
	}
	c = step(w.eng.RecordEmergencyMeasures(w.ctx, chair, process.Request{Case: "cases/" + c.Number, Etag: c.Etag()},
		process.EmergencyMeasures{Measures: "đưa trẻ đến nhà bà ngoại", AppliedBy: "Chủ tịch UBND phường", AppliedTime: d3.Due}))
	if got := *c.Deadline(d3.ID); got.State != model.DeadlineMet || got.Breached || len(got.Escalations) != 0 {
		t.Errorf("D3 met at its due time: state %s, breached %v, escalations %+v; want MET, no breach", got.State, got.Breached, got.Escalations)
	}
	if ev := w.timeline(t, c, d3.ID); countKind(ev, "DEADLINE_BREACHED")+countKind(ev, "ESCALATED") != 0 {
		t.Errorf("D3 met at its due time has timeline %v", kindsOf(ev))
	}

	// The instant after, the other case's D3 is overdue: breached and
	// escalated once, to the city.
	_, late = w.fireAt(t, late.Number, d3.Due.Add(time.Nanosecond))
	lateD3 := *late.Deadline(openDeadline(t, late, model.DeadlineEmergencyMeasures).ID)
	if !lateD3.Breached || len(lateD3.Escalations) != 1 || lateD3.Escalations[0].To != unitCity {
		t.Errorf("D3 after its due time: breached %v, escalations %+v; want one to %s", lateD3.Breached, lateD3.Escalations, unitCity)
	}

	// D6 across New Year 2027, met at 24:00 of its last day.
	opened := hn(2026, 12, 30, 23, 0)
	w.clk.Set(opened)
	p := w.openCaseAt(t, opened, false, model.AbuseNeglect)
	name := "cases/" + p.Number
	req := func() process.Request { return process.Request{Case: name, Etag: p.Etag()} }
	p = step(w.eng.Acknowledge(w.ctx, worker, req()))
	p = step(w.eng.RecordInitialAssessment(w.ctx, worker, req(), process.InitialAssessment{
		HarmSeverity: model.LevelMedium, AbuserAccess: model.LevelLow, SafetyObstacles: model.LevelLow,
	}))
	w.clk.Set(hn(2026, 12, 30, 23, 59))
	p = step(w.eng.RecordSpecificAssessment(w.ctx, worker, req(), process.SpecificAssessment{
		Needs: "hỗ trợ tâm lý", ChildViews: "muốn đi học", MeetingRecord: "biên bản họp",
		MeetingTime: hn(2026, 12, 30, 23, 59), MeetingChair: model.Attendee{FullName: "Chủ tịch UBND phường"},
	}))
	d6 := openDeadline(t, p, model.DeadlinePlanDraft)
	checkDue(t, d6, hn(2027, 1, 8, 0, 0))
	w.fireAt(t, p.Number, d6.Due)
	_, p = w.fireAt(t, p.Number, d6.Due)
	if got := *p.Deadline(d6.ID); got.Breached || !process.Pausable(p, got, d6.Due) {
		t.Errorf("D6 at 24:00 of its last day: breached %v, pausable %v; want it running still", got.Breached, process.Pausable(p, got, d6.Due))
	}
	p = step(w.eng.SubmitPlan(w.ctx, worker, req(), []process.Service{{
		Name: "tư vấn", Owner: "trung tâm công tác xã hội", CommuneAssignee: "cán bộ phường",
		StartDate: "2027-01-11", ExpectedEndDate: "2027-03-31",
	}}))
	if got := *p.Deadline(d6.ID); got.State != model.DeadlineMet || got.Breached || len(got.Escalations) != 0 {
		t.Errorf("D6 met at 24:00 of its last day: state %s, breached %v, escalations %+v; want MET, no breach", got.State, got.Breached, got.Escalations)
	}
	checkDue(t, openDeadline(t, p, model.DeadlinePlanApproval), hn(2027, 1, 13, 0, 0))
	w.cases = append(w.cases, c.Number, late.Number, p.Number)
	w.checkInvariants(t, w.refresh(t), false)
}
