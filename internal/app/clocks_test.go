package app_test

// Scenarios of issue 11's clocks on real dates: when D6, D13 and D16 start
// and what may move them, and on what grounds a case closes.

import (
	"slices"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/types/known/timestamppb"

	pb "github.com/childcase/childcase/api/childcase/v1"
)

// Phường Trúc Bạch between the reforms of 2025-01-01 and 2025-07-01.
const pTrucBach2025 = "units/00004@2025-01-01"

// wantField fails unless err is INVALID_ARGUMENT naming field.
func wantField(t *testing.T, err error, field string) {
	t.Helper()
	if got := badFields(wantCode(t, err, codes.InvalidArgument)); !slices.Contains(got, field) {
		t.Errorf("error %v names %v, want %s", err, got, field)
	}
}

// D6 runs from the specific-assessment meeting (Art. 27(2)), not from when
// the record was typed in, across the make-up Saturday of 26 April 2025
// and the 30/4 - 1/5 holidays; a returned plan has the policy's
// plan_resubmit limit, not a fresh five working days.
func TestClocksPlanDraftFromMeetingAndResubmit(t *testing.T) {
	received := hn(2025, 4, 17, 9, 0) // Thursday
	ts := startServerAt(t, received, "")
	ts.addUser(t, "tb.worker", pb.Role_ROLE_COMMUNE_WORKER, pTrucBach2025)
	ts.addUser(t, "tb.chair", pb.Role_ROLE_COMMUNE_CHAIR, pTrucBach2025)
	p := ts.process()
	worker, chair := ts.as(t, "tb.worker"), ts.as(t, "tb.chair")

	name := openCase(t, ts, received, "00004")
	ts.clock.Set(hn(2025, 4, 17, 10, 0))
	c, err := p.AcknowledgeCase(worker, &pb.AcknowledgeCaseRequest{Name: name, Etag: etagOf(t, ts, "tb.worker", name)})
	if err != nil {
		t.Fatalf("acknowledge: %v", err)
	}
	c, err = p.RecordInitialAssessment(worker, &pb.RecordInitialAssessmentRequest{Name: name, Etag: c.GetEtag(),
		HarmSeverity: pb.RiskLevel_RISK_LEVEL_MEDIUM, AbuserAccess: low(), SafetyObstacles: low()})
	if err != nil {
		t.Fatalf("initial assessment: %v", err)
	}

	// The meeting was on Mon 21 April; the worker types it in on Fri 25.
	ts.clock.Set(hn(2025, 4, 25, 14, 0))
	specific := func(meeting time.Time) (*pb.Case, error) {
		return p.RecordSpecificAssessment(worker, &pb.RecordSpecificAssessmentRequest{Name: name, Etag: c.GetEtag(),
			Needs: "hỗ trợ tâm lý", ChildViews: "muốn đi học", MeetingRecord: "biên bản họp", MeetingTime: timestamppb.New(meeting)})
	}
	// A meeting in the future, or before the case was acknowledged, is
	// refused naming the field, and changes nothing.
	_, err = specific(hn(2025, 4, 26, 9, 0))
	wantField(t, err, "meeting_time")
	_, err = specific(hn(2025, 4, 17, 9, 30))
	wantField(t, err, "meeting_time")
	if got := getCase(t, ts, "tb.worker", name); got.GetEtag() != c.GetEtag() {
		t.Fatal("a refused specific assessment changed the case")
	}
	meeting := hn(2025, 4, 21, 9, 0)
	c, err = specific(meeting)
	if err != nil {
		t.Fatalf("specific assessment: %v", err)
	}
	// Five working days after Mon 21: Tue 22, Wed 23, Thu 24, Fri 25 and
	// the make-up Saturday 26, so by 24:00 of Sat 26 April. (From Fri 25
	// it would have run past the holidays to Tue 6 May.)
	d6 := findDeadline(t, c, "D6_PLAN_DRAFT", "plan-1")
	checkDeadline(t, d6, "OPEN", hn(2025, 4, 27, 0, 0))
	if !d6.GetStartTime().AsTime().Equal(meeting) {
		t.Errorf("D6 starts %v, want the meeting %v", d6.GetStartTime().AsTime().In(hanoi), meeting)
	}

	// Submitted on Fri 25, returned on Mon 28 April: the worker has the
	// policy's 2 working days: Tue 29, then the 30/4 - 1/5 holidays, the
	// swapped Fri 2 May and the weekend, then Mon 5 May; by 24:00 of Mon 5.
	ts.clock.Set(hn(2025, 4, 25, 15, 0))
	services := []*pb.PlanServiceInput{{Name: "tư vấn", Owner: "trạm y tế", StartDate: "2025-05-05", ExpectedEndDate: "2025-05-30"}}
	c, err = p.SubmitPlan(worker, &pb.SubmitPlanRequest{Name: name, Etag: etagOf(t, ts, "tb.worker", name), Services: services})
	if err != nil {
		t.Fatalf("submit: %v", err)
	}
	checkDeadline(t, findDeadline(t, c, "D6_PLAN_DRAFT", "plan-1"), "MET", hn(2025, 4, 27, 0, 0))
	ts.clock.Set(hn(2025, 4, 28, 9, 0))
	c, err = p.ReturnPlan(chair, &pb.ReturnPlanRequest{Name: name, Etag: etagOf(t, ts, "tb.chair", name), Reason: "thiếu dịch vụ giáo dục"})
	if err != nil {
		t.Fatalf("return: %v", err)
	}
	if n := countDeadlines(c, "D6_PLAN_DRAFT"); n != 1 {
		t.Errorf("%d D6 deadlines after the return, want the first only (no fresh five working days)", n)
	}
	re := findDeadline(t, c, "PLAN_RESUBMIT", "plan-1")
	checkDeadline(t, re, "OPEN", hn(2025, 5, 6, 0, 0))
	if re.GetClock() != "WORKING_DAYS" || re.GetUnit() != pTrucBach2025 {
		t.Errorf("PLAN_RESUBMIT: clock %s unit %s", re.GetClock(), re.GetUnit())
	}

	// Submitted again on Tue 29: met, and the chair's D7 runs again.
	ts.clock.Set(hn(2025, 4, 29, 10, 0))
	c, err = p.SubmitPlan(worker, &pb.SubmitPlanRequest{Name: name, Etag: etagOf(t, ts, "tb.worker", name), Services: services})
	if err != nil {
		t.Fatalf("submit again: %v", err)
	}
	checkDeadline(t, findDeadline(t, c, "PLAN_RESUBMIT", "plan-1"), "MET", hn(2025, 5, 6, 0, 0))
	if d7 := findDeadline(t, c, "D7_PLAN_APPROVAL", "plan-1"); d7.GetState() != "OPEN" {
		t.Errorf("D7 after the second submission: %s", d7.GetState())
	}
}
