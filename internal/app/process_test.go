package app_test

// End-to-end scenarios of the case process of Decree 56 (Arts. 25-32):
// whole cases walked through the law over gRPC against the real service,
// with a fake clock that the deadline scheduler reads.

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	pb "github.com/childcase/childcase/api/childcase/v1"
	"github.com/childcase/childcase/internal/app"
	"github.com/childcase/childcase/internal/domain/clock"
)

// Units of the scenarios.
const (
	pBaDinh     = "units/00004@2025-07-01" // Phường Ba Đình, from 2025-07-01
	pHoanKiem   = "units/00070@2025-07-01" // Phường Hoàn Kiếm, from 2025-07-01
	pTrucBach   = "units/00004@2020-01-01" // Phường Trúc Bạch, until 2025
	pDistrictBD = "units/001@2020-01-01"   // Quận Ba Đình, until 2025-06-30
	pCity       = "units/01@2020-01-01"    // Thành phố Hà Nội
)

// hanoi is Vietnam time, UTC+7 without daylight saving.
var hanoi = time.FixedZone("ICT", 7*3600)

func hn(y int, m time.Month, d, h, min int) time.Time { return time.Date(y, m, d, h, min, 0, 0, hanoi) }

// startServerAt starts the service like startServer, with the fake clock at
// now, the policy file policyJSON ("" for the shipped default) and a
// scheduler that looks at the clock every few milliseconds.
func startServerAt(t *testing.T, now time.Time, policyJSON string) *testServer {
	t.Helper()
	cfg := testConfig(t, "")
	if policyJSON != "" {
		path := filepath.Join(t.TempDir(), "policy.json")
		if err := os.WriteFile(path, []byte(policyJSON), 0o600); err != nil {
			t.Fatal(err)
		}
		cfg.PolicyFile = path
	}
	return startWithClock(t, cfg, clock.NewFake(now))
}

// startWithClock starts the service on cfg with the given fake clock, so a
// restarted server shares the clock of the one before. The scheduler looks
// at the clock every few milliseconds; a watcher never wakes without being
// told (so a lost wake-up shows as a test that waits in vain).
func startWithClock(t *testing.T, cfg app.Config, clk *clock.Fake) *testServer {
	t.Helper()
	return launch(t, cfg, app.Options{Clock: clk, NoSync: true, SchedulerPoll: 5 * time.Millisecond, WatchPoll: time.Hour})
}

// openCase records an intervention report received at receive in the
// commune with the given code and returns the name of the case it opened.
// It suspects no caregiver, so the case is not an emergency from intake
// (reportEmergency opens one that is).
func openCase(t *testing.T, ts *testServer, receive time.Time, commune string, abuse ...pb.AbuseForm) string {
	t.Helper()
	r := validReport()
	r.Caregivers[0].SuspectedAbuser = false
	r.ReceiveTime = timestamppb.New(receive)
	r.IncidentCommuneCode = commune
	if len(abuse) > 0 {
		r.SuspectedAbuse = abuse
	}
	created, err := ts.reports().CreateReport(ts.as(t, operatorID), &pb.CreateReportRequest{Report: r})
	if err != nil {
		t.Fatalf("create report: %v", err)
	}
	if created.GetCase() == "" {
		t.Fatal("the intervention report opened no case")
	}
	return created.GetCase()
}

func getCase(t *testing.T, ts *testServer, user, name string) *pb.Case {
	t.Helper()
	c, err := ts.cases().GetCase(ts.as(t, user), &pb.GetCaseRequest{Name: name})
	if err != nil {
		t.Fatalf("GetCase %s as %s: %v", name, user, err)
	}
	return c
}

func etagOf(t *testing.T, ts *testServer, user, name string) string {
	t.Helper()
	return getCase(t, ts, user, name).GetEtag()
}

// caseEvents returns the whole timeline of a case, page by page.
func caseEvents(t *testing.T, ts *testServer, user, name string) []*pb.CaseEvent {
	t.Helper()
	var all []*pb.CaseEvent
	token := ""
	for {
		resp, err := ts.process().ListCaseEvents(ts.as(t, user), &pb.ListCaseEventsRequest{Parent: name, PageSize: 100, PageToken: token})
		if err != nil {
			t.Fatalf("ListCaseEvents %s: %v", name, err)
		}
		all = append(all, resp.GetEvents()...)
		if token = resp.GetNextPageToken(); token == "" {
			return all
		}
	}
}

func kinds(events []*pb.CaseEvent) []string {
	var out []string
	for _, e := range events {
		out = append(out, e.GetKind())
	}
	return out
}

// countEvents counts the events of kind, about deadline id when id > 0.
func countEvents(events []*pb.CaseEvent, kind string, id int32) int {
	n := 0
	for _, e := range events {
		if e.GetKind() == kind && (id == 0 || e.GetDeadlineId() == id) {
			n++
		}
	}
	return n
}

// waitEvents waits (up to 10 s) until the case's timeline has at least n
// events of kind (about deadline id when id > 0) and returns the timeline.
func waitEvents(t *testing.T, ts *testServer, user, name, kind string, id int32, n int) []*pb.CaseEvent {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second) // a bound for a loaded CI machine, not a measure
	for {
		events := caseEvents(t, ts, user, name)
		if countEvents(events, kind, id) >= n {
			return events
		}
		if time.Now().After(deadline) {
			t.Fatalf("case %s: waited for %d %s event(s) (deadline %d); timeline: %v", name, n, kind, id, kinds(events))
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// inOrder fails unless want is a subsequence of the timeline's kinds.
func inOrder(t *testing.T, events []*pb.CaseEvent, want ...string) {
	t.Helper()
	got := kinds(events)
	i := 0
	for _, k := range got {
		if i < len(want) && k == want[i] {
			i++
		}
	}
	if i < len(want) {
		t.Errorf("timeline %v lacks %v in order (missing from %q)", got, want, want[i])
	}
}

func findDeadline(t *testing.T, c *pb.Case, kind, ref string) *pb.Deadline {
	t.Helper()
	var found *pb.Deadline
	for _, d := range c.GetDeadlines() {
		if d.GetKind() == kind && (ref == "" || d.GetRef() == ref) {
			found = d // the latest of that kind
		}
	}
	if found == nil {
		t.Fatalf("case %s has no %s deadline (ref %q): %v", c.GetName(), kind, ref, c.GetDeadlines())
	}
	return found
}

func countDeadlines(c *pb.Case, kind string) int {
	n := 0
	for _, d := range c.GetDeadlines() {
		if d.GetKind() == kind {
			n++
		}
	}
	return n
}

// checkDeadline checks a deadline's state and due time (compared as an
// instant, shown in Hanoi time).
func checkDeadline(t *testing.T, d *pb.Deadline, state string, due time.Time) {
	t.Helper()
	if d.GetState() != state {
		t.Errorf("%s %s: state %s, want %s", d.GetKind(), d.GetRef(), d.GetState(), state)
	}
	if got := d.GetDueTime().AsTime(); !got.Equal(due) {
		t.Errorf("%s %s: due %s, want %s", d.GetKind(), d.GetRef(), got.In(hanoi).Format(time.RFC3339), due.In(hanoi).Format(time.RFC3339))
	}
	if d.GetCalendarVersion() == "" {
		t.Errorf("%s %s: no calendar_version", d.GetKind(), d.GetRef())
	}
}

// wantReason fails unless err is FAILED_PRECONDITION (or the given code)
// with the ErrorInfo reason.
func wantReason(t *testing.T, err error, code codes.Code, reason string) {
	t.Helper()
	st := wantCode(t, err, code)
	if got := errorReason(st); got != reason {
		t.Errorf("error %v: reason %q, want %q", err, got, reason)
	}
}

func queue(t *testing.T, ts *testServer, user string, q pb.CaseQueue) []string {
	t.Helper()
	resp, err := ts.cases().ListCases(ts.as(t, user), &pb.ListCasesRequest{Queue: q})
	if err != nil {
		t.Fatalf("ListCases %v as %s: %v", q, user, err)
	}
	var names []string
	for _, c := range resp.GetCases() {
		names = append(names, c.GetName())
	}
	return names
}

func low() pb.RiskLevel { return pb.RiskLevel_RISK_LEVEL_LOW }

// chairAttendee is the chair of a specific-assessment meeting.
func chairAttendee() *pb.MeetingAttendee {
	return &pb.MeetingAttendee{FullName: "Lê Văn Chủ", Role: "Chủ tịch UBND phường"}
}

// walkToReview takes an acknowledged or new ordinary case to a closure
// proposal: initial and specific assessment, a one-service plan submitted
// and approved, the review proposing closure.
func walkToReview(t *testing.T, ts *testServer, worker, chair, name string) {
	t.Helper()
	walkToReviewStart(t, ts, worker, chair, name)
	_, err := ts.process().RecordReview(ts.as(t, worker), &pb.RecordReviewRequest{Name: name, Etag: etagOf(t, ts, worker, name),
		HarmSeverity: low(), AbuserAccess: low(), SafetyObstacles: low(), Outcome: "PROPOSE_CLOSURE",
		SelfProtection: "biết gọi 111", Recovery: "đi học lại"})
	if err != nil {
		t.Fatalf("walk to review, the review: %v", err)
	}
}

// walkToReviewStart takes an acknowledged or new ordinary case to a review
// started: initial and specific assessment, a one-service plan submitted
// and approved.
func walkToReviewStart(t *testing.T, ts *testServer, worker, chair, name string) {
	t.Helper()
	p := ts.process()
	w, ch := ts.as(t, worker), ts.as(t, chair)
	c := getCase(t, ts, worker, name)
	var err error
	if c.GetStatus() == pb.CaseStatus_CASE_STATUS_AWAITING_ACKNOWLEDGEMENT {
		if c, err = p.AcknowledgeCase(w, &pb.AcknowledgeCaseRequest{Name: name, Etag: c.GetEtag()}); err != nil {
			t.Fatalf("acknowledge: %v", err)
		}
	}
	steps := []func(etag string) (*pb.Case, error){
		func(e string) (*pb.Case, error) {
			return p.RecordInitialAssessment(w, &pb.RecordInitialAssessmentRequest{Name: name, Etag: e,
				HarmSeverity: low(), AbuserAccess: low(), SafetyObstacles: low()})
		},
		func(e string) (*pb.Case, error) {
			return p.RecordSpecificAssessment(w, &pb.RecordSpecificAssessmentRequest{Name: name, Etag: e,
				Needs: "tư vấn tâm lý", ChildViews: "muốn ở với mẹ", MeetingRecord: "biên bản họp", MeetingTime: timestamppb.New(ts.clock.Now()),
				MeetingChair: chairAttendee()})
		},
		func(e string) (*pb.Case, error) {
			day := ts.clock.Now().In(hanoi).Format(time.DateOnly)
			return p.SubmitPlan(w, &pb.SubmitPlanRequest{Name: name, Etag: e, Services: []*pb.PlanServiceInput{{
				Name: "tư vấn", Owner: "trạm y tế", CommuneAssignee: "cán bộ BVTE", StartDate: day, ExpectedEndDate: day}}})
		},
		func(e string) (*pb.Case, error) {
			return p.ApprovePlan(ch, &pb.ApprovePlanRequest{Name: name, Etag: e, DecisionNumber: "12/QĐ-UBND", DecisionDate: ts.clock.Now().In(hanoi).Format(time.DateOnly)})
		},
		func(e string) (*pb.Case, error) {
			return p.StartReview(w, &pb.StartReviewRequest{Name: name, Etag: e})
		},
	}
	for i, step := range steps {
		if c, err = step(c.GetEtag()); err != nil {
			t.Fatalf("walk to review, step %d: %v", i, err)
		}
	}
}

// Scenario 1: an ordinary case from intake to closure, with the plan's
// 5 + 2 working days counted across Tết 2026 and a weekend.
func TestProcessOrdinaryCaseToClosure(t *testing.T) {
	start := hn(2026, 2, 12, 9, 0) // Thursday before Tết Bính Ngọ
	ts := startServerAt(t, start, "")
	ts.addUser(t, "bd.worker", pb.Role_ROLE_COMMUNE_WORKER, pBaDinh)
	ts.addUser(t, "bd.chair", pb.Role_ROLE_COMMUNE_CHAIR, pBaDinh)
	p := ts.process()
	worker, chair := ts.as(t, "bd.worker"), ts.as(t, "bd.chair")

	name := openCase(t, ts, start.Add(-time.Hour), "00004")
	c := getCase(t, ts, "bd.worker", name)
	if c.GetStatus() != pb.CaseStatus_CASE_STATUS_AWAITING_ACKNOWLEDGEMENT || c.GetResponsibleUnit() != pBaDinh {
		t.Fatalf("new case: status %v, responsible %s", c.GetStatus(), c.GetResponsibleUnit())
	}
	ack := findDeadline(t, c, "ACKNOWLEDGE", "")
	checkDeadline(t, ack, "OPEN", start.Add(24*time.Hour))
	if ack.GetUnit() != pBaDinh || ack.GetClock() != "HOURS" {
		t.Errorf("ACKNOWLEDGE: unit %s clock %s", ack.GetUnit(), ack.GetClock())
	}

	// A step out of turn is refused, saying what must happen first.
	_, err := p.ApprovePlan(chair, &pb.ApprovePlanRequest{Name: name, Etag: c.GetEtag(), DecisionNumber: "125/QĐ-UBND", DecisionDate: "2026-02-12"})
	wantReason(t, err, codes.FailedPrecondition, "PLAN_NOT_SUBMITTED")
	_, err = p.RecordInitialAssessment(worker, &pb.RecordInitialAssessmentRequest{Name: name, Etag: c.GetEtag(),
		HarmSeverity: low(), AbuserAccess: low(), SafetyObstacles: low()})
	wantReason(t, err, codes.FailedPrecondition, "WRONG_STEP")

	// Acknowledge, and retry the same request: the same answer, one event.
	ackReq := &pb.AcknowledgeCaseRequest{Name: name, Etag: c.GetEtag(), RequestId: "ack-1"}
	first, err := p.AcknowledgeCase(worker, ackReq)
	if err != nil {
		t.Fatalf("acknowledge: %v", err)
	}
	if first.GetStatus() != pb.CaseStatus_CASE_STATUS_INITIAL_ASSESSMENT || first.GetResponsibleOfficer().GetUser() != "users/bd.worker" {
		t.Errorf("acknowledged: status %v, officer %v", first.GetStatus(), first.GetResponsibleOfficer())
	}
	if first.GetEtag() == c.GetEtag() {
		t.Error("the etag did not change on a transition")
	}
	checkDeadline(t, findDeadline(t, first, "ACKNOWLEDGE", ""), "MET", start.Add(24*time.Hour))
	retry, err := p.AcknowledgeCase(worker, ackReq)
	if err != nil {
		t.Fatalf("retry of acknowledge: %v", err)
	}
	if !proto.Equal(first, retry) {
		t.Errorf("a retry with the same request_id answered differently:\nfirst %v\nretry %v", first, retry)
	}
	if n := countEvents(caseEvents(t, ts, "bd.worker", name), "ACKNOWLEDGED", 0); n != 1 {
		t.Errorf("%d ACKNOWLEDGED events after a retry, want 1", n)
	}

	// A stale etag is ABORTED and changes nothing.
	before := caseEvents(t, ts, "bd.worker", name)
	_, err = p.RecordInitialAssessment(worker, &pb.RecordInitialAssessmentRequest{Name: name, Etag: c.GetEtag(), RequestId: "ia-stale",
		HarmSeverity: low(), AbuserAccess: low(), SafetyObstacles: low()})
	wantCode(t, err, codes.Aborted)
	if now := getCase(t, ts, "bd.worker", name); now.GetEtag() != first.GetEtag() || now.GetStatus() != pb.CaseStatus_CASE_STATUS_INITIAL_ASSESSMENT {
		t.Errorf("after a stale etag: etag %s status %v, want %s and the initial assessment", now.GetEtag(), now.GetStatus(), first.GetEtag())
	}
	if after := caseEvents(t, ts, "bd.worker", name); len(after) != len(before) {
		t.Errorf("a refused transition added events: %v", kinds(after)[len(before):])
	}

	// Initial assessment, no emergency: no 12-hour clock.
	ts.advance(t, time.Hour) // Thu 12 Feb 10:00
	c, err = p.RecordInitialAssessment(worker, &pb.RecordInitialAssessmentRequest{Name: name, Etag: first.GetEtag(),
		HarmSeverity: pb.RiskLevel_RISK_LEVEL_MEDIUM, AbuserAccess: low(), SafetyObstacles: low(), Notes: "không khẩn cấp"})
	if err != nil {
		t.Fatalf("initial assessment: %v", err)
	}
	if c.GetStatus() != pb.CaseStatus_CASE_STATUS_SPECIFIC_ASSESSMENT || c.GetEmergency() || countDeadlines(c, "D3_EMERGENCY") != 0 {
		t.Errorf("after the initial assessment: status %v emergency %v deadlines %v", c.GetStatus(), c.GetEmergency(), c.GetDeadlines())
	}

	// Specific assessment on Thu 12 Feb: the plan is due 5 working days
	// later: Fri 13, then Tết (Mon 16 - Fri 20) and the weekends do not
	// count: Mon 23, Tue 24, Wed 25, Thu 26, so by 24:00 of Thu 26.
	c, err = p.RecordSpecificAssessment(worker, &pb.RecordSpecificAssessmentRequest{Name: name, Etag: c.GetEtag(),
		Needs: "hỗ trợ tâm lý", ChildViews: "muốn đi học", ParentViews: "đồng ý", MeetingRecord: "biên bản họp ngày 12/2",
		MeetingTime: timestamppb.New(ts.clock.Now()), MeetingChair: chairAttendee()})
	if err != nil {
		t.Fatalf("specific assessment: %v", err)
	}
	if c.GetStatus() != pb.CaseStatus_CASE_STATUS_PLANNING || c.GetPlanState() != "DRAFT" || c.GetPlanCycle() != 1 {
		t.Errorf("after the specific assessment: status %v plan %s cycle %d", c.GetStatus(), c.GetPlanState(), c.GetPlanCycle())
	}
	d6 := findDeadline(t, c, "D6_PLAN_DRAFT", "plan-1")
	checkDeadline(t, d6, "OPEN", hn(2026, 2, 27, 0, 0))
	if d6.GetClock() != "WORKING_DAYS" || !d6.GetPausable() {
		t.Errorf("D6: clock %s pausable %v", d6.GetClock(), d6.GetPausable())
	}

	// The worker submits the plan on Thu 26 Feb; the warnings of D6 went
	// out on the way. The chair has 2 working days: Fri 27 and, after the
	// weekend, Mon 2 March, so until 24:00 of Mon 2 March.
	ts.setClock(t, hn(2026, 2, 26, 10, 0))
	waitEvents(t, ts, "bd.worker", name, "DEADLINE_WARNING", d6.GetId(), 2)
	c, err = p.SubmitPlan(worker, &pb.SubmitPlanRequest{Name: name, Etag: etagOf(t, ts, "bd.worker", name), Services: []*pb.PlanServiceInput{
		{Name: "tư vấn tâm lý", Owner: "Trung tâm CTXH", CommuneAssignee: "cán bộ BVTE", StartDate: "2026-03-02", ExpectedEndDate: "2026-03-20", CostEstimateVnd: 2_000_000},
		{Name: "hỗ trợ học tập", Owner: "trường tiểu học", CommuneAssignee: "cán bộ BVTE", StartDate: "2026-03-02", ExpectedEndDate: "2026-04-30"},
	}})
	if err != nil {
		t.Fatalf("submit plan: %v", err)
	}
	checkDeadline(t, findDeadline(t, c, "D6_PLAN_DRAFT", "plan-1"), "MET", hn(2026, 2, 27, 0, 0))
	d7 := findDeadline(t, c, "D7_PLAN_APPROVAL", "plan-1")
	checkDeadline(t, d7, "OPEN", hn(2026, 3, 3, 0, 0))
	if d7.GetClock() != "WORKING_DAYS" || c.GetPlanState() != "SUBMITTED" {
		t.Errorf("D7 clock %s, plan %s", d7.GetClock(), c.GetPlanState())
	}
	if len(c.GetServices()) != 2 {
		t.Fatalf("services: %v", c.GetServices())
	}

	// The chair approves on Fri 27 Feb: D7 met; each service's expected
	// end is watched until 24:00 of its end date.
	ts.setClock(t, hn(2026, 2, 27, 9, 0))
	c, err = p.ApprovePlan(chair, &pb.ApprovePlanRequest{Name: name, Etag: etagOf(t, ts, "bd.chair", name), RequestId: "approve-1",
		DecisionNumber: "125/QĐ-UBND", DecisionDate: "2026-02-27"})
	if err != nil {
		t.Fatalf("approve plan: %v", err)
	}
	if c.GetStatus() != pb.CaseStatus_CASE_STATUS_IMPLEMENTATION || c.GetPlanState() != "APPROVED" {
		t.Errorf("after approval: status %v plan %s", c.GetStatus(), c.GetPlanState())
	}
	checkDeadline(t, findDeadline(t, c, "D7_PLAN_APPROVAL", "plan-1"), "MET", hn(2026, 3, 3, 0, 0))
	checkDeadline(t, findDeadline(t, c, "D8_SERVICE", "service-1"), "OPEN", hn(2026, 3, 21, 0, 0))
	checkDeadline(t, findDeadline(t, c, "D8_SERVICE", "service-2"), "OPEN", hn(2026, 5, 1, 0, 0))

	// Service 1 is completed in time.
	ts.setClock(t, hn(2026, 3, 3, 9, 0)) // before the first D8 warning of service 1
	c, err = p.RecordServiceProgress(worker, &pb.RecordServiceProgressRequest{Name: name, Etag: etagOf(t, ts, "bd.worker", name),
		ServiceId: 1, State: "COMPLETED", Note: "đã hoàn thành 4 buổi"})
	if err != nil {
		t.Fatalf("service progress: %v", err)
	}
	checkDeadline(t, findDeadline(t, c, "D8_SERVICE", "service-1"), "MET", hn(2026, 3, 21, 0, 0))
	if c.GetServices()[0].GetState() != "COMPLETED" {
		t.Errorf("service 1: %s", c.GetServices()[0].GetState())
	}

	// Review, closure proposal, closure.
	c, err = p.StartReview(worker, &pb.StartReviewRequest{Name: name, Etag: c.GetEtag()})
	if err != nil {
		t.Fatalf("start review: %v", err)
	}
	if c.GetStatus() != pb.CaseStatus_CASE_STATUS_REVIEW {
		t.Errorf("status %v, want review", c.GetStatus())
	}
	_, err = p.ApproveClosure(chair, &pb.ApproveClosureRequest{Name: name, Etag: c.GetEtag(), Reason: "an toàn"})
	wantReason(t, err, codes.FailedPrecondition, "NO_CLOSURE_PROPOSAL")
	c, err = p.RecordReview(worker, &pb.RecordReviewRequest{Name: name, Etag: c.GetEtag(),
		HarmSeverity: low(), AbuserAccess: low(), SafetyObstacles: low(), Notes: "ổn định", Outcome: "PROPOSE_CLOSURE",
		SelfProtection: "biết gọi 111", Recovery: "ổn định"})
	if err != nil {
		t.Fatalf("review: %v", err)
	}
	if !c.GetClosureProposed() {
		t.Error("closure not proposed")
	}
	c, err = p.ApproveClosure(chair, &pb.ApproveClosureRequest{Name: name, Etag: c.GetEtag(), Reason: "trẻ an toàn, ổn định"})
	if err != nil {
		t.Fatalf("approve closure: %v", err)
	}
	if c.GetStatus() != pb.CaseStatus_CASE_STATUS_CLOSED || c.GetCloseTime() == nil || c.GetClosureProposed() {
		t.Errorf("after closure: status %v close_time %v proposed %v", c.GetStatus(), c.GetCloseTime(), c.GetClosureProposed())
	}
	if d := findDeadline(t, c, "D8_SERVICE", "service-2"); d.GetState() != "CANCELLED" {
		t.Errorf("the open D8 of service 2 is %s after closure, want CANCELLED", d.GetState())
	}
	for _, d := range c.GetDeadlines() {
		if d.GetCalendarVersion() == "" || d.GetState() == "OPEN" || d.GetOverdue() {
			t.Errorf("closed case: deadline %d %s: state %s overdue %v calendar_version %q", d.GetId(), d.GetKind(), d.GetState(), d.GetOverdue(), d.GetCalendarVersion())
		}
	}
	// A step on the closed case is refused.
	_, err = p.StartReview(worker, &pb.StartReviewRequest{Name: name, Etag: c.GetEtag()})
	wantReason(t, err, codes.FailedPrecondition, "CASE_CLOSED")

	events := caseEvents(t, ts, "bd.worker", name)
	inOrder(t, events, "FORWARDED", "DEADLINE_STARTED", "DEADLINE_MET", "ACKNOWLEDGED", "INITIAL_ASSESSMENT_RECORDED",
		"DEADLINE_STARTED", "SPECIFIC_ASSESSMENT_RECORDED", "DEADLINE_WARNING", "DEADLINE_WARNING", "DEADLINE_MET", "DEADLINE_STARTED",
		"PLAN_SUBMITTED", "DEADLINE_MET", "DEADLINE_STARTED", "DEADLINE_STARTED", "PLAN_APPROVED", "DEADLINE_MET", "SERVICE_PROGRESS",
		"REVIEW_STARTED", "REVIEW_RECORDED", "DEADLINE_CANCELLED", "CLOSED")
	for _, k := range []string{"DEADLINE_BREACHED", "ESCALATED", "DEADLINE_MISSED"} {
		if n := countEvents(events, k, 0); n != 0 {
			t.Errorf("%d %s events in a case done in time", n, k)
		}
	}
	for i := 1; i < len(events); i++ {
		if events[i].GetSeq() <= events[i-1].GetSeq() || events[i].GetTime().AsTime().Before(events[i-1].GetTime().AsTime()) {
			t.Errorf("timeline out of order at %d: %v", i, events[i])
		}
	}
	for _, e := range events {
		if e.GetActor() == "" {
			t.Errorf("event without actor: %v", e)
		}
	}
}

// Scenario 2: an emergency (the caregiver is the abuser), emergency
// measures within 12 hours, a temporary separation re-assessed by day 15.
func TestProcessEmergencySeparation(t *testing.T) {
	ts := startServerAt(t, testNow, "") // Sat 28 Nov 2026, 10:00 in Hanoi
	ts.addUser(t, "bd.worker", pb.Role_ROLE_COMMUNE_WORKER, pBaDinh)
	ts.addUser(t, "bd.chair", pb.Role_ROLE_COMMUNE_CHAIR, pBaDinh)
	p := ts.process()
	worker, chair := ts.as(t, "bd.worker"), ts.as(t, "bd.chair")

	receive := testNow.Add(-time.Hour)
	name := openCase(t, ts, receive, "00004")
	c, err := p.AcknowledgeCase(worker, &pb.AcknowledgeCaseRequest{Name: name, Etag: etagOf(t, ts, "bd.worker", name)})
	if err != nil {
		t.Fatalf("acknowledge: %v", err)
	}
	// An emergency without its reason is refused.
	_, err = p.RecordInitialAssessment(worker, &pb.RecordInitialAssessmentRequest{Name: name, Etag: c.GetEtag(), Emergency: true,
		HarmSeverity: pb.RiskLevel_RISK_LEVEL_HIGH, AbuserAccess: pb.RiskLevel_RISK_LEVEL_HIGH, SafetyObstacles: pb.RiskLevel_RISK_LEVEL_HIGH})
	wantCode(t, err, codes.InvalidArgument)
	c, err = p.RecordInitialAssessment(worker, &pb.RecordInitialAssessmentRequest{Name: name, Etag: c.GetEtag(),
		Emergency: true, EmergencyReason: pb.EmergencyReason_EMERGENCY_REASON_CAREGIVER_IS_ABUSER,
		HarmSeverity: pb.RiskLevel_RISK_LEVEL_HIGH, AbuserAccess: pb.RiskLevel_RISK_LEVEL_HIGH, SafetyObstacles: pb.RiskLevel_RISK_LEVEL_MEDIUM})
	if err != nil {
		t.Fatalf("initial assessment: %v", err)
	}
	if !c.GetEmergency() || c.GetEmergencyReason() != pb.EmergencyReason_EMERGENCY_REASON_CAREGIVER_IS_ABUSER {
		t.Errorf("emergency %v reason %v", c.GetEmergency(), c.GetEmergencyReason())
	}
	// D3: 12 wall-clock hours from when the information was received.
	d3 := findDeadline(t, c, "D3_EMERGENCY", "")
	checkDeadline(t, d3, "OPEN", receive.Add(12*time.Hour))
	if d3.GetClock() != "HOURS" || d3.GetPausable() || !d3.GetStartTime().AsTime().Equal(receive) {
		t.Errorf("D3: clock %s pausable %v start %v", d3.GetClock(), d3.GetPausable(), d3.GetStartTime().AsTime())
	}
	// The emergency clock cannot be paused.
	_, err = p.PauseDeadline(worker, &pb.PauseDeadlineRequest{Name: name, Etag: c.GetEtag(), DeadlineId: d3.GetId(), Reason: "không liên lạc được"})
	wantReason(t, err, codes.FailedPrecondition, "NOT_PAUSABLE")

	// The chair's emergency measures, applied 3 hours after the report
	// came in (2 hours after the assessment): D3 met.
	ts.advance(t, 2*time.Hour)
	applied := ts.clock.Now()
	c, err = p.RecordEmergencyMeasures(chair, &pb.RecordEmergencyMeasuresRequest{Name: name, Etag: etagOf(t, ts, "bd.chair", name),
		Measures: "đưa trẻ đến nơi an toàn", AppliedBy: "Chủ tịch UBND phường", AppliedTime: timestamppb.New(applied)})
	if err != nil {
		t.Fatalf("emergency measures: %v", err)
	}
	d3 = findDeadline(t, c, "D3_EMERGENCY", "")
	checkDeadline(t, d3, "MET", receive.Add(12*time.Hour))
	if !c.GetEmergencyMeasuresTime().AsTime().Equal(applied) || !d3.GetDoneTime().AsTime().Equal(applied) {
		t.Errorf("measures time %v, D3 done %v, want %v", c.GetEmergencyMeasuresTime().AsTime(), d3.GetDoneTime().AsTime(), applied)
	}

	// Temporary separation from Sat 28 Nov 12:00: re-assessment by 24:00 of
	// the 15th day, Sun 13 Dec, i.e. 00:00 of Mon 14 Dec.
	sepStart := ts.clock.Now()
	c, err = p.StartSeparation(chair, &pb.StartSeparationRequest{Name: name, Etag: c.GetEtag(), StartTime: timestamppb.New(sepStart), Place: "nhà tạm lánh",
		Carer: "bà ngoại", Ground: "cha dượng là người xâm hại (Điều 32(1))", DecisionNumber: "15/QĐ-UBND"})
	if err != nil {
		t.Fatalf("start separation: %v", err)
	}
	d4 := findDeadline(t, c, "D4_SEPARATION", "")
	checkDeadline(t, d4, "OPEN", hn(2026, 12, 14, 0, 0))
	if d4.GetClock() != "CALENDAR_DAYS" || d4.GetPausable() || !c.GetSeparationStartTime().AsTime().Equal(sepStart) {
		t.Errorf("D4: clock %s pausable %v, separation start %v", d4.GetClock(), d4.GetPausable(), c.GetSeparationStartTime().AsTime())
	}
	_, err = p.PauseDeadline(worker, &pb.PauseDeadlineRequest{Name: name, Etag: c.GetEtag(), DeadlineId: d4.GetId(), Reason: "x"})
	wantReason(t, err, codes.FailedPrecondition, "NOT_PAUSABLE")
	_, err = p.StartSeparation(chair, &pb.StartSeparationRequest{Name: name, Etag: c.GetEtag(), StartTime: timestamppb.New(sepStart), Place: "khác",
		Carer: "bà ngoại", Ground: "Điều 32(1)", DecisionNumber: "16/QĐ-UBND"})
	wantReason(t, err, codes.FailedPrecondition, "ALREADY_SEPARATED")

	// In an emergency the plan's clocks are waived.
	c, err = p.RecordSpecificAssessment(worker, &pb.RecordSpecificAssessmentRequest{Name: name, Etag: c.GetEtag(),
		Needs: "an toàn", ChildViews: "sợ bố dượng", MeetingRecord: "biên bản", MeetingTime: timestamppb.New(ts.clock.Now()),
		MeetingChair: chairAttendee()})
	if err != nil {
		t.Fatalf("specific assessment: %v", err)
	}
	c, err = p.SubmitPlan(worker, &pb.SubmitPlanRequest{Name: name, Etag: c.GetEtag(), Services: []*pb.PlanServiceInput{
		{Name: "nơi ở an toàn", Owner: "UBND phường", CommuneAssignee: "cán bộ BVTE", StartDate: "2026-11-28", ExpectedEndDate: "2026-12-31"}}})
	if err != nil {
		t.Fatalf("submit plan: %v", err)
	}
	if n, m := countDeadlines(c, "D6_PLAN_DRAFT"), countDeadlines(c, "D7_PLAN_APPROVAL"); n != 0 || m != 0 {
		t.Errorf("emergency case has %d D6 and %d D7 deadlines, want none", n, m)
	}

	// Past half and three quarters of the 15 days: two warnings on D4.
	ts.advance(t, 8*24*time.Hour) // Sun 6 Dec
	waitEvents(t, ts, "bd.worker", name, "DEADLINE_WARNING", d4.GetId(), 1)
	ts.advance(t, 4*24*time.Hour) // Thu 10 Dec
	events := waitEvents(t, ts, "bd.worker", name, "DEADLINE_WARNING", d4.GetId(), 2)
	if n := countEvents(events, "DEADLINE_WARNING", d4.GetId()); n != 2 {
		t.Errorf("%d warnings on D4, want 2", n)
	}
	c = getCase(t, ts, "bd.worker", name)
	if d := findDeadline(t, c, "D4_SEPARATION", ""); d.GetOverdue() || d.GetState() != "OPEN" {
		t.Errorf("D4 before its due time: state %s overdue %v", d.GetState(), d.GetOverdue())
	}

	// The day-15 re-assessment: the child returns home; D4 met.
	c, err = p.EndSeparation(chair, &pb.EndSeparationRequest{Name: name, Etag: c.GetEtag(), Outcome: "RETURNED_HOME", Notes: "bố dượng đã rời nhà"})
	if err != nil {
		t.Fatalf("end separation: %v", err)
	}
	checkDeadline(t, findDeadline(t, c, "D4_SEPARATION", ""), "MET", hn(2026, 12, 14, 0, 0))
	if c.GetSeparationEndTime() == nil {
		t.Error("no separation end time")
	}
	full := getCase(t, ts, "bd.worker", name)
	if s := full.GetDossier().GetSeparation(); s.GetOutcome() != "RETURNED_HOME" || s.GetPlace() != "nhà tạm lánh" {
		t.Errorf("dossier separation: %v", s)
	}
	if len(full.GetDossier().GetEmergencyMeasures()) != 1 {
		t.Errorf("dossier emergency measures: %v", full.GetDossier().GetEmergencyMeasures())
	}
	events = caseEvents(t, ts, "bd.worker", name)
	inOrder(t, events, "ACKNOWLEDGED", "DEADLINE_STARTED", "INITIAL_ASSESSMENT_RECORDED", "DEADLINE_MET", "EMERGENCY_MEASURES_RECORDED",
		"DEADLINE_STARTED", "SEPARATION_STARTED", "DEADLINE_WARNING", "DEADLINE_WARNING", "DEADLINE_MET", "SEPARATION_ENDED")
	for _, k := range []string{"DEADLINE_BREACHED", "ESCALATED"} {
		if n := countEvents(events, k, 0); n != 0 {
			t.Errorf("%d %s events", n, k)
		}
	}
}

// Scenario 3: a sexual-abuse case referred to the police, forwarded to the
// investigators within 24 hours; and a second such case that cannot be
// closed without a referral or a reason for none.
func TestProcessSexualAbusePoliceTrack(t *testing.T) {
	ts := startServerAt(t, testNow, "")
	ts.addPoliceUnit(t, "ca-ba-dinh", pBaDinh)
	ts.addUser(t, "bd.worker", pb.Role_ROLE_COMMUNE_WORKER, pBaDinh)
	ts.addUser(t, "bd.chair", pb.Role_ROLE_COMMUNE_CHAIR, pBaDinh)
	ts.addUser(t, "police.bd", pb.Role_ROLE_POLICE_LIAISON, "policeUnits/ca-ba-dinh")
	p := ts.process()
	worker, police := ts.as(t, "bd.worker"), ts.as(t, "police.bd")
	sexual := pb.AbuseForm_ABUSE_FORM_SEXUAL_ABUSE

	name := openCase(t, ts, testNow.Add(-time.Hour), "00004", sexual)
	c, err := p.AcknowledgeCase(worker, &pb.AcknowledgeCaseRequest{Name: name, Etag: etagOf(t, ts, "bd.worker", name)})
	if err != nil {
		t.Fatalf("acknowledge: %v", err)
	}
	// Before the referral the police do not see the case at all.
	_, err = ts.cases().GetCase(police, &pb.GetCaseRequest{Name: name})
	wantCode(t, err, codes.NotFound)

	referTime := ts.clock.Now()
	c, err = p.ReferCaseToPolice(worker, &pb.ReferCaseToPoliceRequest{Name: name, Etag: c.GetEtag(),
		PoliceUnit: "policeUnits/ca-ba-dinh", SuspectedOffence: "Điều 146 BLHS"})
	if err != nil {
		t.Fatalf("refer: %v", err)
	}
	pa := findDeadline(t, c, "POLICE_ACKNOWLEDGE", "policeUnits/ca-ba-dinh")
	checkDeadline(t, pa, "OPEN", referTime.Add(24*time.Hour))
	if pa.GetUnit() != "policeUnits/ca-ba-dinh" || pa.GetPausable() {
		t.Errorf("POLICE_ACKNOWLEDGE: unit %s pausable %v", pa.GetUnit(), pa.GetPausable())
	}
	if len(c.GetPoliceReferrals()) != 1 || c.GetPoliceReferrals()[0].GetState() != "REFERRED" || c.GetPoliceReferrals()[0].GetReferredBy() != "users/bd.worker" {
		t.Errorf("referrals: %v", c.GetPoliceReferrals())
	}

	// The police view: no reports, no dossier, no services, only the police
	// unit's own deadlines.
	ts.advance(t, 2*time.Hour)
	pv := getCase(t, ts, "police.bd", name)
	if len(pv.GetReports()) != 0 || pv.GetDossier() != nil || len(pv.GetServices()) != 0 || len(pv.GetTransfers()) != 0 {
		t.Errorf("police view shows reports %v dossier %v services %v transfers %v", pv.GetReports(), pv.GetDossier(), pv.GetServices(), pv.GetTransfers())
	}
	for _, d := range pv.GetDeadlines() {
		if !strings.HasPrefix(d.GetUnit(), "policeUnits/") {
			t.Errorf("police view shows the deadline %s of %s", d.GetKind(), d.GetUnit())
		}
	}
	if len(pv.GetPoliceReferrals()) != 1 || len(pv.GetChildren()) == 0 {
		t.Errorf("police view: referrals %v children %v", pv.GetPoliceReferrals(), pv.GetChildren())
	}
	// It gives the responsible officer's contact (issue 3), in a Get and a
	// list alike, so that the police reach the commune's officer.
	listed, err := ts.cases().ListCases(police, &pb.ListCasesRequest{})
	if err != nil || len(listed.GetCases()) != 1 {
		t.Fatalf("the police list %v, %v; want the referred case", listed.GetCases(), err)
	}
	for _, o := range []*pb.Officer{pv.GetResponsibleOfficer(), listed.GetCases()[0].GetResponsibleOfficer()} {
		if o.GetUser() != "users/bd.worker" || o.GetDisplayName() != "Test bd.worker" || o.GetPhone() == "" {
			t.Errorf("police view: responsible officer %v, want bd.worker's name and phone", o)
		}
	}
	// The police neither read the timeline nor take the social steps.
	_, err = ts.process().ListCaseEvents(police, &pb.ListCaseEventsRequest{Parent: name})
	if err == nil {
		t.Error("the police read the case's timeline")
	}

	// The commune's note, which the police view hides, moves neither the
	// view's etag nor its update time (still the referral's, two hours
	// ago): the acknowledgement below, sent with the etag read before the
	// note, goes through.
	if _, err := p.AddCaseNote(worker, &pb.AddCaseNoteRequest{Name: name, Etag: etagOf(t, ts, "bd.worker", name), Text: "đã gặp gia đình"}); err != nil {
		t.Fatalf("commune note: %v", err)
	}
	if again := getCase(t, ts, "police.bd", name); again.GetEtag() != pv.GetEtag() || !proto.Equal(again.GetUpdateTime(), pv.GetUpdateTime()) {
		t.Errorf("after the commune's note the police view has etag %s, update time %v; want %s, %v as before",
			again.GetEtag(), again.GetUpdateTime().AsTime(), pv.GetEtag(), pv.GetUpdateTime().AsTime())
	}

	// The liaison acknowledges with the police reference number; D13 runs
	// 24 hours from the referral, when the police received it.
	pc, err := p.AcknowledgePoliceReferral(police, &pb.AcknowledgePoliceReferralRequest{Name: name, Etag: pv.GetEtag(), ReferenceNumber: "CA-BD-2026/117"})
	if err != nil {
		t.Fatalf("police acknowledge: %v", err)
	}
	if pc.GetDossier() != nil || len(pc.GetReports()) != 0 {
		t.Error("the police acknowledgement answered with more than the police view")
	}
	checkDeadline(t, findDeadline(t, pc, "POLICE_ACKNOWLEDGE", ""), "MET", referTime.Add(24*time.Hour))
	d13 := findDeadline(t, pc, "D13_POLICE_FORWARD", "policeUnits/ca-ba-dinh")
	checkDeadline(t, d13, "OPEN", referTime.Add(24*time.Hour))
	if d13.GetClock() != "HOURS" || d13.GetPausable() {
		t.Errorf("D13: clock %s pausable %v", d13.GetClock(), d13.GetPausable())
	}
	if r := pc.GetPoliceReferrals()[0]; r.GetState() != "ACKNOWLEDGED" || r.GetReferenceNumber() != "CA-BD-2026/117" {
		t.Errorf("referral after acknowledgement: %v", r)
	}
	// The etag read before it is stale now: the acknowledgement changed
	// the police view.
	_, err = p.RecordPoliceForwarding(police, &pb.RecordPoliceForwardingRequest{Name: name, Etag: pv.GetEtag(), InvestigationAgency: "CQĐT Công an TP Hà Nội"})
	if st := wantCode(t, err, codes.Aborted); errorReason(st) != "ETAG_MISMATCH" {
		t.Errorf("a police step with the stale etag %s: reason %q, want ETAG_MISMATCH", pv.GetEtag(), errorReason(st))
	}
	// The commune may not pause a police clock; the police may not either.
	_, err = p.PauseDeadline(worker, &pb.PauseDeadlineRequest{Name: name, Etag: etagOf(t, ts, "bd.worker", name), DeadlineId: d13.GetId(), Reason: "x"})
	if err == nil {
		t.Error("the commune paused the police's D13")
	}

	// Forwarded to the investigators 22 hours after the referral (the
	// warnings at 12 and 18 hours went out): D13 met, D16 runs 20 days.
	ts.advance(t, 20*time.Hour)
	waitEvents(t, ts, "bd.worker", name, "DEADLINE_WARNING", d13.GetId(), 2)
	fwd := ts.clock.Now()
	pc, err = p.RecordPoliceForwarding(police, &pb.RecordPoliceForwardingRequest{Name: name, Etag: etagOf(t, ts, "police.bd", name),
		InvestigationAgency: "Cơ quan CSĐT Công an TP Hà Nội"})
	if err != nil {
		t.Fatalf("police forwarding: %v", err)
	}
	checkDeadline(t, findDeadline(t, pc, "D13_POLICE_FORWARD", ""), "MET", referTime.Add(24*time.Hour))
	d16 := findDeadline(t, pc, "D16_PROSECUTION", "policeUnits/ca-ba-dinh")
	// 20 calendar days from Sun 29 Nov 08:00 (Hanoi): the 20th is Sat 19
	// Dec, a day off, so until 24:00 of Mon 21 Dec (Civil Code Art. 148).
	checkDeadline(t, d16, "OPEN", hn(2026, 12, 22, 0, 0))
	if !d16.GetStartTime().AsTime().Equal(fwd) || d16.GetClock() != "CALENDAR_DAYS" {
		t.Errorf("D16: start %v clock %s", d16.GetStartTime().AsTime(), d16.GetClock())
	}

	ts.advance(t, 5*24*time.Hour)
	pc, err = p.RecordPoliceOutcome(police, &pb.RecordPoliceOutcomeRequest{Name: name, Etag: etagOf(t, ts, "police.bd", name), Outcome: "PROSECUTED"})
	if err != nil {
		t.Fatalf("police outcome: %v", err)
	}
	checkDeadline(t, findDeadline(t, pc, "D16_PROSECUTION", ""), "MET", hn(2026, 12, 22, 0, 0))
	if r := pc.GetPoliceReferrals()[0]; r.GetState() != "DECIDED" || r.GetOutcome() != "PROSECUTED" || r.GetInvestigationAgency() == "" {
		t.Errorf("referral after the outcome: %v", r)
	}
	// The commune sees the police track beside the social case.
	c = getCase(t, ts, "bd.worker", name)
	if r := c.GetPoliceReferrals(); len(r) != 1 || r[0].GetOutcome() != "PROSECUTED" || r[0].GetForwardTime() == nil {
		t.Errorf("the commune's view of the police track: %v", r)
	}
	inOrder(t, caseEvents(t, ts, "bd.worker", name), "POLICE_REFERRAL", "DEADLINE_MET", "POLICE_ACKNOWLEDGED",
		"DEADLINE_WARNING", "DEADLINE_WARNING", "DEADLINE_MET", "DEADLINE_STARTED", "POLICE_FORWARDED", "DEADLINE_MET", "POLICE_OUTCOME")

	// The referred case closes without a reason for no referral.
	walkToReview(t, ts, "bd.worker", "bd.chair", name)
	c, err = p.ApproveClosure(ts.as(t, "bd.chair"), &pb.ApproveClosureRequest{Name: name, Etag: etagOf(t, ts, "bd.chair", name), Reason: "đã chuyển công an, trẻ an toàn"})
	if err != nil {
		t.Fatalf("closure of the referred case: %v", err)
	}
	if c.GetStatus() != pb.CaseStatus_CASE_STATUS_CLOSED {
		t.Errorf("status %v", c.GetStatus())
	}

	// A second sexual-abuse case, never referred: closure needs a reason.
	second := openCase(t, ts, ts.clock.Now().Add(-time.Hour), "00004", sexual)
	walkToReview(t, ts, "bd.worker", "bd.chair", second)
	etag := etagOf(t, ts, "bd.chair", second)
	_, err = p.ApproveClosure(ts.as(t, "bd.chair"), &pb.ApproveClosureRequest{Name: second, Etag: etag, Reason: "trẻ an toàn"})
	wantReason(t, err, codes.FailedPrecondition, "POLICE_REFERRAL_REQUIRED")
	c, err = p.ApproveClosure(ts.as(t, "bd.chair"), &pb.ApproveClosureRequest{Name: second, Etag: etag, Reason: "trẻ an toàn",
		NoPoliceReferralReason: "gia đình đã tự trình báo công an xã, có biên bản"})
	if err != nil {
		t.Fatalf("closure with a reason for no referral: %v", err)
	}
	if c.GetStatus() != pb.CaseStatus_CASE_STATUS_CLOSED {
		t.Errorf("status %v", c.GetStatus())
	}
	notes := getCase(t, ts, "bd.worker", second).GetDossier().GetNotes()
	if !slices.ContainsFunc(notes, func(n *pb.CaseNote) bool { return n.GetKind() == "NO_POLICE_REFERRAL" }) {
		t.Errorf("no NO_POLICE_REFERRAL note: %v", notes)
	}
}

// Scenario 4: a transfer declined, proposed again and accepted.
func TestProcessTransferDeclinedThenAccepted(t *testing.T) {
	ts := startServerAt(t, testNow, "")
	ts.addUser(t, "bd.worker", pb.Role_ROLE_COMMUNE_WORKER, pBaDinh)
	ts.addUser(t, "hk.worker", pb.Role_ROLE_COMMUNE_WORKER, pHoanKiem)
	ts.addUser(t, "hk.chair", pb.Role_ROLE_COMMUNE_CHAIR, pHoanKiem)
	p := ts.process()
	bd, hk := ts.as(t, "bd.worker"), ts.as(t, "hk.worker")

	name := openCase(t, ts, testNow.Add(-time.Hour), "00004")
	c, err := p.AcknowledgeCase(bd, &pb.AcknowledgeCaseRequest{Name: name, Etag: etagOf(t, ts, "bd.worker", name)})
	if err != nil {
		t.Fatalf("acknowledge: %v", err)
	}
	// Hoàn Kiếm sees nothing of the case before it is offered.
	_, err = ts.cases().GetCase(hk, &pb.GetCaseRequest{Name: name})
	wantCode(t, err, codes.NotFound)

	c, err = p.ProposeTransfer(bd, &pb.ProposeTransferRequest{Name: name, Etag: c.GetEtag(), ToUnit: pHoanKiem, Reason: "trẻ sống ở Hoàn Kiếm"})
	if err != nil {
		t.Fatalf("propose: %v", err)
	}
	if c.GetResponsibleUnit() != pBaDinh || len(c.GetTransfers()) != 1 || c.GetTransfers()[0].GetState() != "PROPOSED" {
		t.Errorf("after the proposal: responsible %s transfers %v", c.GetResponsibleUnit(), c.GetTransfers())
	}
	ta1 := findDeadline(t, c, "TRANSFER_ACCEPT", "transfer-1")
	// 2 working days from Sat 28 Nov: Mon 30 Nov and Tue 1 Dec.
	checkDeadline(t, ta1, "OPEN", hn(2026, 12, 2, 0, 0))
	if ta1.GetUnit() != pHoanKiem {
		t.Errorf("TRANSFER_ACCEPT unit %s", ta1.GetUnit())
	}
	// A second proposal while one is pending is refused.
	_, err = p.ProposeTransfer(bd, &pb.ProposeTransferRequest{Name: name, Etag: c.GetEtag(), ToUnit: pHoanKiem, Reason: "lại"})
	wantReason(t, err, codes.FailedPrecondition, "TRANSFER_PENDING")

	if q := queue(t, ts, "hk.worker", pb.CaseQueue_CASE_QUEUE_AWAITING_MY_ACCEPTANCE); !slices.Equal(q, []string{name}) {
		t.Errorf("Hoàn Kiếm's acceptance queue: %v, want [%s]", q, name)
	}
	if q := queue(t, ts, "bd.worker", pb.CaseQueue_CASE_QUEUE_AWAITING_MY_ACCEPTANCE); len(q) != 0 {
		t.Errorf("Ba Đình's acceptance queue: %v", q)
	}
	// Only the receiving unit decides; the receiving unit takes no step yet.
	_, err = p.AcceptTransfer(bd, &pb.AcceptTransferRequest{Name: name, Etag: c.GetEtag()})
	wantReason(t, err, codes.FailedPrecondition, "NOT_RECEIVING_UNIT")
	_, err = p.RecordInitialAssessment(hk, &pb.RecordInitialAssessmentRequest{Name: name, Etag: c.GetEtag(),
		HarmSeverity: low(), AbuserAccess: low(), SafetyObstacles: low()})
	wantReason(t, err, codes.FailedPrecondition, "NOT_RESPONSIBLE_UNIT")

	ts.advance(t, time.Hour)
	decline := &pb.DeclineTransferRequest{Name: name, Etag: etagOf(t, ts, "hk.worker", name), Reason: "địa chỉ chưa xác minh", RequestId: "decline-1"}
	c, err = p.DeclineTransfer(hk, decline)
	if err != nil {
		t.Fatalf("decline: %v", err)
	}
	// The decline took the case out of Hoàn Kiếm's scope: it is not found
	// there, but the decline's retry, with its request_id, still gets the
	// first answer, which shows nothing Hoàn Kiếm was not shown (README
	// "The case process").
	_, err = ts.cases().GetCase(hk, &pb.GetCaseRequest{Name: name})
	wantCode(t, err, codes.NotFound)
	if again, err := p.DeclineTransfer(hk, decline); err != nil || !proto.Equal(again, c) {
		t.Errorf("the decline's retry once out of scope = %v, %v; want the first answer", again, err)
	}
	if c.GetResponsibleUnit() != pBaDinh || c.GetResponsibleOfficer().GetUser() != "users/bd.worker" {
		t.Errorf("after the decline: responsible %s officer %v", c.GetResponsibleUnit(), c.GetResponsibleOfficer())
	}
	if tr := c.GetTransfers()[0]; tr.GetState() != "DECLINED" || tr.GetDeclineReason() != "địa chỉ chưa xác minh" || tr.GetDecidedBy() != "users/hk.worker" {
		t.Errorf("declined transfer: %v", tr)
	}
	checkDeadline(t, findDeadline(t, c, "TRANSFER_ACCEPT", "transfer-1"), "MET", hn(2026, 12, 2, 0, 0))
	if q := queue(t, ts, "hk.worker", pb.CaseQueue_CASE_QUEUE_AWAITING_MY_ACCEPTANCE); len(q) != 0 {
		t.Errorf("Hoàn Kiếm's acceptance queue after the decline: %v", q)
	}
	if q := queue(t, ts, "bd.worker", pb.CaseQueue_CASE_QUEUE_MY_UNIT_OPEN); !slices.Contains(q, name) {
		t.Errorf("Ba Đình's open queue after the decline: %v", q)
	}

	// A new proposal, accepted.
	_, err = p.ProposeTransfer(bd, &pb.ProposeTransferRequest{Name: name, Etag: etagOf(t, ts, "bd.worker", name), ToUnit: pHoanKiem, Reason: "đã xác minh địa chỉ"})
	if err != nil {
		t.Fatalf("second proposal: %v", err)
	}
	if q := queue(t, ts, "hk.worker", pb.CaseQueue_CASE_QUEUE_AWAITING_MY_ACCEPTANCE); !slices.Equal(q, []string{name}) {
		t.Errorf("Hoàn Kiếm's acceptance queue: %v, want [%s]", q, name)
	}
	ts.advance(t, time.Hour)
	c, err = p.AcceptTransfer(hk, &pb.AcceptTransferRequest{Name: name, Etag: etagOf(t, ts, "hk.worker", name)})
	if err != nil {
		t.Fatalf("accept: %v", err)
	}
	if c.GetResponsibleUnit() != pHoanKiem || c.GetResponsibleOfficer().GetUser() != "users/hk.worker" {
		t.Errorf("after the acceptance: responsible %s officer %v", c.GetResponsibleUnit(), c.GetResponsibleOfficer())
	}
	if c.GetIncidentUnit() != pBaDinh {
		t.Errorf("incident unit changed to %s", c.GetIncidentUnit())
	}
	if tr := c.GetTransfers(); len(tr) != 2 || tr[1].GetState() != "ACCEPTED" || tr[1].GetDecidedBy() != "users/hk.worker" {
		t.Errorf("transfers: %v", tr)
	}
	for _, d := range c.GetDeadlines() {
		if d.GetKind() == "TRANSFER_ACCEPT" && d.GetState() != "MET" {
			t.Errorf("TRANSFER_ACCEPT %s is %s, want MET", d.GetRef(), d.GetState())
		}
	}
	if countDeadlines(c, "TRANSFER_ACCEPT") != 2 {
		t.Errorf("deadlines: %v", c.GetDeadlines())
	}

	// Ba Đình, which handled the case, still sees it but no longer acts.
	bv := getCase(t, ts, "bd.worker", name)
	if bv.GetResponsibleUnit() != pHoanKiem {
		t.Errorf("Ba Đình sees responsible %s", bv.GetResponsibleUnit())
	}
	caseEvents(t, ts, "bd.worker", name)
	_, err = p.RecordInitialAssessment(bd, &pb.RecordInitialAssessmentRequest{Name: name, Etag: bv.GetEtag(),
		HarmSeverity: low(), AbuserAccess: low(), SafetyObstacles: low()})
	wantReason(t, err, codes.FailedPrecondition, "NOT_RESPONSIBLE_UNIT")
	if q := queue(t, ts, "bd.worker", pb.CaseQueue_CASE_QUEUE_MY_UNIT_OPEN); slices.Contains(q, name) {
		t.Errorf("Ba Đình's open queue still holds the case: %v", q)
	}
	if q := queue(t, ts, "hk.worker", pb.CaseQueue_CASE_QUEUE_MY_UNIT_OPEN); !slices.Contains(q, name) {
		t.Errorf("Hoàn Kiếm's open queue: %v", q)
	}
	// Hoàn Kiếm carries on.
	_, err = p.RecordInitialAssessment(hk, &pb.RecordInitialAssessmentRequest{Name: name, Etag: bv.GetEtag(),
		HarmSeverity: low(), AbuserAccess: low(), SafetyObstacles: low()})
	if err != nil {
		t.Fatalf("Hoàn Kiếm's initial assessment: %v", err)
	}
	inOrder(t, caseEvents(t, ts, "hk.worker", name), "ACKNOWLEDGED", "DEADLINE_STARTED", "TRANSFER_PROPOSED", "DEADLINE_MET",
		"TRANSFER_DECLINED", "DEADLINE_STARTED", "TRANSFER_PROPOSED", "DEADLINE_MET", "TRANSFER_ACCEPTED", "INITIAL_ASSESSMENT_RECORDED")
}

// Scenario 5a: in 2024 a missed acknowledgement goes to the district, then
// to the city; each breach escalates once.
func TestProcessEscalation2024DistrictThenCity(t *testing.T) {
	start := hn(2024, 6, 3, 9, 0) // Monday
	ts := startServerAt(t, start, "")
	ts.addUser(t, "tb.worker", pb.Role_ROLE_COMMUNE_WORKER, pTrucBach)
	ts.addUser(t, "district.bd", pb.Role_ROLE_DISTRICT_OFFICER, pDistrictBD)
	ts.addUser(t, "city", pb.Role_ROLE_CITY_OFFICER, pCity)

	name := openCase(t, ts, start.Add(-30*time.Minute), "00004")
	c := getCase(t, ts, "tb.worker", name)
	if c.GetResponsibleUnit() != pTrucBach || c.GetIncidentUnit() != pTrucBach {
		t.Fatalf("case in %s / %s, want Trúc Bạch %s", c.GetResponsibleUnit(), c.GetIncidentUnit(), pTrucBach)
	}
	ack := findDeadline(t, c, "ACKNOWLEDGE", "")
	checkDeadline(t, ack, "OPEN", start.Add(24*time.Hour))
	if q := queue(t, ts, "district.bd", pb.CaseQueue_CASE_QUEUE_OVERDUE); len(q) != 0 {
		t.Errorf("the district's overdue queue before the breach: %v", q)
	}

	// Tue 4 June 10:00: an hour late, escalated to Quận Ba Đình.
	ts.advance(t, 25*time.Hour)
	events := waitEvents(t, ts, "tb.worker", name, "ESCALATED", ack.GetId(), 1)
	c = getCase(t, ts, "tb.worker", name)
	ack = findDeadline(t, c, "ACKNOWLEDGE", "")
	if ack.GetState() != "OPEN" || !ack.GetOverdue() {
		t.Errorf("ACKNOWLEDGE after its due time: state %s overdue %v", ack.GetState(), ack.GetOverdue())
	}
	if e := ack.GetEscalations(); len(e) != 1 || e[0].GetToUnit() != pDistrictBD || e[0].GetMinutesLate() != 60 {
		t.Fatalf("escalations: %v, want one to %s, 60 minutes late", e, pDistrictBD)
	}
	if countEvents(events, "DEADLINE_BREACHED", ack.GetId()) != 1 {
		t.Errorf("timeline: %v", kinds(events))
	}
	if q := queue(t, ts, "district.bd", pb.CaseQueue_CASE_QUEUE_OVERDUE); !slices.Equal(q, []string{name}) {
		t.Errorf("the district's overdue queue: %v, want [%s]", q, name)
	}
	if q := queue(t, ts, "tb.worker", pb.CaseQueue_CASE_QUEUE_OVERDUE); !slices.Equal(q, []string{name}) {
		t.Errorf("the commune's overdue queue: %v, want [%s]", q, name)
	}
	if q := queue(t, ts, "city", pb.CaseQueue_CASE_QUEUE_OVERDUE); len(q) != 0 {
		t.Errorf("the city's overdue queue before the second escalation: %v", q)
	}
	if dv := getCase(t, ts, "district.bd", name); dv.GetName() != name {
		t.Error("the district does not see the escalated case")
	}

	// The district has one working day, Wed 5 June, to get it done: at
	// 23:59 it is still only the district's. A sentinel case whose
	// acknowledgement falls due at 23:00 shows the scheduler ran that far.
	ts.setClock(t, hn(2024, 6, 4, 23, 0))
	sentinel := openCase(t, ts, ts.clock.Now(), "00004")
	ts.setClock(t, hn(2024, 6, 5, 23, 59))
	waitEvents(t, ts, "tb.worker", sentinel, "ESCALATED", 0, 1)
	if n := countEvents(caseEvents(t, ts, "tb.worker", name), "ESCALATED", ack.GetId()); n != 1 {
		t.Errorf("%d escalations before the district's working day ended, want 1", n)
	}
	// On Thu 6 June it goes to the city.
	ts.setClock(t, hn(2024, 6, 6, 0, 1))
	waitEvents(t, ts, "tb.worker", name, "ESCALATED", ack.GetId(), 2)
	c = getCase(t, ts, "tb.worker", name)
	ack = findDeadline(t, c, "ACKNOWLEDGE", "")
	if e := ack.GetEscalations(); len(e) != 2 || e[1].GetToUnit() != pCity {
		t.Fatalf("escalations: %v, want the second to %s", e, pCity)
	}
	if got := ack.GetEscalations()[1].GetTime().AsTime(); got.Before(hn(2024, 6, 6, 0, 0)) {
		t.Errorf("second escalation at %v, before the district's working day ended", got.In(hanoi))
	}
	if q := queue(t, ts, "city", pb.CaseQueue_CASE_QUEUE_OVERDUE); !slices.Contains(q, name) {
		t.Errorf("the city's overdue queue: %v, want %s in it", q, name)
	}

	// Much later, another sentinel breach: still two escalations.
	ts.setClock(t, hn(2024, 6, 20, 9, 0))
	sentinel2 := openCase(t, ts, ts.clock.Now(), "00004")
	ts.setClock(t, hn(2024, 6, 28, 9, 0))
	waitEvents(t, ts, "tb.worker", sentinel2, "ESCALATED", 0, 1)
	events = caseEvents(t, ts, "tb.worker", name)
	if n := countEvents(events, "ESCALATED", ack.GetId()); n != 2 {
		t.Errorf("%d ESCALATED events, want 2: %v", n, kinds(events))
	}
	if n := countEvents(events, "DEADLINE_BREACHED", ack.GetId()); n != 2 {
		t.Errorf("%d DEADLINE_BREACHED events, want 2 (at the commune, at the district): %v", n, kinds(events))
	}
	if e := findDeadline(t, getCase(t, ts, "tb.worker", name), "ACKNOWLEDGE", "").GetEscalations(); len(e) != 2 {
		t.Errorf("escalations: %v", e)
	}

	// Acknowledged at last: missed, with how late.
	c, err := ts.process().AcknowledgeCase(ts.as(t, "tb.worker"), &pb.AcknowledgeCaseRequest{Name: name, Etag: etagOf(t, ts, "tb.worker", name)})
	if err != nil {
		t.Fatalf("late acknowledgement: %v", err)
	}
	ack = findDeadline(t, c, "ACKNOWLEDGE", "")
	if ack.GetState() != "MISSED" || ack.GetOverdue() || ack.GetMinutesLate() <= 0 {
		t.Errorf("late ACKNOWLEDGE: state %s overdue %v minutes_late %d", ack.GetState(), ack.GetOverdue(), ack.GetMinutesLate())
	}
	if q := queue(t, ts, "district.bd", pb.CaseQueue_CASE_QUEUE_OVERDUE); slices.Contains(q, name) {
		t.Errorf("the district's overdue queue still holds the acknowledged case: %v", q)
	}
}

// Scenario 5b: from 2025-07-01 there are no districts; the first
// escalation goes straight to the city, once.
func TestProcessEscalation2026StraightToCity(t *testing.T) {
	ts := startServerAt(t, testNow, "")
	ts.addUser(t, "bd.worker", pb.Role_ROLE_COMMUNE_WORKER, pBaDinh)
	ts.addUser(t, "city", pb.Role_ROLE_CITY_OFFICER, pCity)

	name := openCase(t, ts, testNow.Add(-time.Hour), "00004")
	ack := findDeadline(t, getCase(t, ts, "bd.worker", name), "ACKNOWLEDGE", "")
	ts.advance(t, 25*time.Hour)
	waitEvents(t, ts, "bd.worker", name, "ESCALATED", ack.GetId(), 1)
	c := getCase(t, ts, "bd.worker", name)
	ack = findDeadline(t, c, "ACKNOWLEDGE", "")
	if e := ack.GetEscalations(); len(e) != 1 || e[0].GetToUnit() != pCity || e[0].GetMinutesLate() != 60 {
		t.Fatalf("escalations: %v, want one to the city, 60 minutes late", e)
	}
	if !ack.GetOverdue() {
		t.Error("not overdue")
	}
	if q := queue(t, ts, "city", pb.CaseQueue_CASE_QUEUE_OVERDUE); !slices.Equal(q, []string{name}) {
		t.Errorf("the city's overdue queue: %v", q)
	}

	// Well past any escalation step, and after a sentinel's breach has
	// fired: the city is the top, nothing more.
	ts.advance(t, 10*24*time.Hour)
	sentinel := openCase(t, ts, ts.clock.Now(), "00004")
	ts.advance(t, 25*time.Hour)
	waitEvents(t, ts, "bd.worker", sentinel, "ESCALATED", 0, 1)
	events := caseEvents(t, ts, "bd.worker", name)
	if n := countEvents(events, "ESCALATED", 0); n != 1 {
		t.Errorf("%d ESCALATED events, want 1: %v", n, kinds(events))
	}
	if n := countEvents(events, "DEADLINE_BREACHED", 0); n != 1 {
		t.Errorf("%d DEADLINE_BREACHED events, want 1: %v", n, kinds(events))
	}
}

// Scenario 6: a deadline that fell due while the server was stopped fires
// once right after start, and never again on later starts.
func TestProcessRestartFiresOnce(t *testing.T) {
	ts := startServerAt(t, testNow, `{"acknowledge":{"seconds":30}}`)
	ts.addUser(t, "bd.worker", pb.Role_ROLE_COMMUNE_WORKER, pBaDinh)
	cfg, clk := ts.cfg, ts.clock

	name := openCase(t, ts, testNow.Add(-time.Minute), "00004")
	ack := findDeadline(t, getCase(t, ts, "bd.worker", name), "ACKNOWLEDGE", "")
	checkDeadline(t, ack, "OPEN", testNow.Add(30*time.Second))
	ts.stop()

	clk.Advance(2 * time.Minute)
	ts = startWithClock(t, cfg, clk)
	events := waitEvents(t, ts, "bd.worker", name, "ESCALATED", ack.GetId(), 1)
	if n := countEvents(events, "DEADLINE_BREACHED", ack.GetId()); n != 1 {
		t.Errorf("%d breaches after restart: %v", n, kinds(events))
	}
	// The warnings' time passed while the server was down: no warning is
	// sent for a deadline already past due.
	if n := countEvents(events, "DEADLINE_WARNING", ack.GetId()); n != 0 {
		t.Errorf("%d warnings sent after the due time", n)
	}
	ack = findDeadline(t, getCase(t, ts, "bd.worker", name), "ACKNOWLEDGE", "")
	if e := ack.GetEscalations(); len(e) != 1 || e[0].GetToUnit() != pCity || e[0].GetMinutesLate() != 1 {
		t.Errorf("escalations: %v, want one to the city, 1 minute late", e)
	}
	// A sentinel case opened now, to prove the scheduler ran after the next
	// start.
	sentinel := openCase(t, ts, clk.Now(), "00004")
	ts.stop()

	// Start again without moving the clock: nothing fires again.
	ts = startWithClock(t, cfg, clk)
	clk.Advance(16 * time.Second) // the sentinel's first warning
	waitEvents(t, ts, "bd.worker", sentinel, "DEADLINE_WARNING", 0, 1)
	events = caseEvents(t, ts, "bd.worker", name)
	for _, k := range []string{"DEADLINE_BREACHED", "ESCALATED"} {
		if n := countEvents(events, k, 0); n != 1 {
			t.Errorf("%d %s events after two restarts, want 1: %v", n, k, kinds(events))
		}
	}
	if e := findDeadline(t, getCase(t, ts, "bd.worker", name), "ACKNOWLEDGE", "").GetEscalations(); len(e) != 1 {
		t.Errorf("escalations after two restarts: %v", e)
	}
}

// watcher collects the notifications of one WatchEvents stream.
type watcher struct {
	mu   sync.Mutex
	got  []*pb.Notification
	err  error
	done chan struct{}
}

func watch(t *testing.T, ts *testServer, user string, after uint64) *watcher {
	t.Helper()
	ctx, cancel := context.WithTimeout(ts.as(t, user), 10*time.Second)
	stream, err := ts.process().WatchEvents(ctx, &pb.WatchEventsRequest{AfterSeq: after})
	if err != nil {
		cancel()
		t.Fatalf("watch as %s: %v", user, err)
	}
	// The headers come once the watch is live: a watch from now (after
	// 0) then misses nothing the test writes next.
	if _, err := stream.Header(); err != nil {
		cancel()
		t.Fatalf("watch as %s: no headers: %v", user, err)
	}
	w := &watcher{done: make(chan struct{})}
	go func() {
		defer close(w.done)
		for {
			n, err := stream.Recv()
			w.mu.Lock()
			if err != nil {
				w.err = err
				w.mu.Unlock()
				return
			}
			w.got = append(w.got, n)
			w.mu.Unlock()
		}
	}()
	t.Cleanup(func() { cancel(); <-w.done })
	return w
}

func (w *watcher) snapshot() []*pb.Notification {
	w.mu.Lock()
	defer w.mu.Unlock()
	return slices.Clone(w.got)
}

// waitFor waits (up to 2 s) for a notification of kind about the case.
func (w *watcher) waitFor(t *testing.T, kind, caseName string) *pb.Notification {
	t.Helper()
	return w.waitForN(t, kind, caseName, 1)
}

// waitForN waits (up to 2 s) for the nth notification of kind about the
// case and returns it.
func (w *watcher) waitForN(t *testing.T, kind, caseName string, nth int) *pb.Notification {
	t.Helper()
	deadline := time.Now().Add(2 * time.Second)
	for {
		seen := 0
		for _, n := range w.snapshot() {
			if n.GetKind() == kind && n.GetCase() == caseName {
				if seen++; seen == nth {
					return n
				}
			}
		}
		w.mu.Lock()
		err := w.err
		w.mu.Unlock()
		if err != nil || time.Now().After(deadline) {
			t.Fatalf("no %s notification of %s (stream error %v); got %v", kind, caseName, err, w.snapshot())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// Scenario 7: a commune worker watching sees the notifications of their
// unit's case as they happen; a worker of another commune sees none.
func TestProcessWatchEvents(t *testing.T) {
	ts := startServerAt(t, testNow, "")
	ts.addUser(t, "bd.worker", pb.Role_ROLE_COMMUNE_WORKER, pBaDinh)
	ts.addUser(t, "hk.worker", pb.Role_ROLE_COMMUNE_WORKER, pHoanKiem)

	// A case in a third commune (Ngọc Hà) gives the outbox its first entry;
	// the watchers resume after it, so nothing after it can be missed.
	primer := openCase(t, ts, testNow.Add(-time.Hour), "00008")
	bdw := watch(t, ts, "bd.worker", 1)
	hkw := watch(t, ts, "hk.worker", 1)

	name := openCase(t, ts, testNow.Add(-time.Hour), "00004")
	n := bdw.waitFor(t, "CASE_FORWARDED", name)
	if !slices.Equal(n.GetUnits(), []string{pBaDinh}) || n.GetSeq() <= 1 {
		t.Errorf("CASE_FORWARDED: %v", n)
	}
	ack := findDeadline(t, getCase(t, ts, "bd.worker", name), "ACKNOWLEDGE", "")

	ts.advance(t, 13*time.Hour) // half of the 24 hours
	n = bdw.waitFor(t, "DEADLINE_WARNING", name)
	if n.GetDeadlineId() != ack.GetId() {
		t.Errorf("warning about deadline %d, want %d", n.GetDeadlineId(), ack.GetId())
	}
	ts.advance(t, 6*time.Hour) // three quarters
	bdw.waitForN(t, "DEADLINE_WARNING", name, 2)
	ts.advance(t, 6*time.Hour) // past the due time
	n = bdw.waitFor(t, "DEADLINE_BREACHED", name)
	if !slices.Equal(n.GetUnits(), []string{pBaDinh}) {
		t.Errorf("DEADLINE_BREACHED units %v", n.GetUnits())
	}
	n = bdw.waitFor(t, "ESCALATED", name)
	if !slices.Contains(n.GetUnits(), pBaDinh) || !slices.Contains(n.GetUnits(), pCity) {
		t.Errorf("ESCALATED units %v", n.GetUnits())
	}

	// A case in Hoàn Kiếm: only its worker hears of it. Once it has, every
	// earlier notification has passed its stream too.
	hkCase := openCase(t, ts, ts.clock.Now(), "00070")
	hkw.waitFor(t, "CASE_FORWARDED", hkCase)
	// And a last Ba Đình case, for the same reason on the other stream.
	last := openCase(t, ts, ts.clock.Now(), "00004")
	bdw.waitFor(t, "CASE_FORWARDED", last)

	for _, n := range hkw.snapshot() {
		if n.GetCase() != hkCase {
			t.Errorf("the Hoàn Kiếm worker was told of %s: %v", n.GetCase(), n)
		}
	}
	var bdKinds []string
	for _, n := range bdw.snapshot() {
		if n.GetCase() != name && n.GetCase() != last {
			t.Errorf("the Ba Đình worker was told of %s: %v", n.GetCase(), n)
		}
		if n.GetCase() == name {
			bdKinds = append(bdKinds, n.GetKind())
		}
		if n.GetCase() == primer {
			t.Errorf("the Ba Đình worker was told of the Ngọc Hà case")
		}
	}
	want := []string{"CASE_FORWARDED", "DEADLINE_WARNING", "DEADLINE_WARNING", "DEADLINE_BREACHED", "ESCALATED"}
	if !slices.Equal(bdKinds, want) {
		t.Errorf("the Ba Đình worker heard %v of its case, want %v", bdKinds, want)
	}
	seqs := bdw.snapshot()
	for i := 1; i < len(seqs); i++ {
		if seqs[i].GetSeq() <= seqs[i-1].GetSeq() {
			t.Errorf("notifications out of order: %d after %d", seqs[i].GetSeq(), seqs[i-1].GetSeq())
		}
	}
}

// referWatched opens a sexual-abuse case in Phường Ba Đình at testNow,
// starts a watch as watcher, and has the commune worker bd.worker refer
// the case to the ward police, policeUnits/ca-ba-dinh. It returns the
// case's name, the case as the referral answered it, and the watch.
func referWatched(t *testing.T, ts *testServer, watcher string) (string, *pb.Case, *watcher) {
	t.Helper()
	name := openCase(t, ts, testNow, "00004", pb.AbuseForm_ABUSE_FORM_SEXUAL_ABUSE)
	w := watch(t, ts, watcher, 0)
	c, err := ts.process().ReferCaseToPolice(ts.as(t, "bd.worker"), &pb.ReferCaseToPoliceRequest{Name: name,
		Etag: etagOf(t, ts, "bd.worker", name), PoliceUnit: "policeUnits/ca-ba-dinh", SuspectedOffence: "Điều 146 BLHS"})
	if err != nil {
		t.Fatalf("refer: %v", err)
	}
	return name, c, w
}

// The README: "Warnings go to the unit that must meet the deadline (the
// responsible unit, or the referred police unit for the police clocks)".
// The police clocks of a referral warn and breach to the police unit,
// whose liaison watching hears of them.
func TestProcessPoliceClockWarningsGoToThePoliceUnit(t *testing.T) {
	ts := startServerAt(t, testNow, "")
	ts.addPoliceUnit(t, "ca-ba-dinh", pBaDinh)
	ts.addUser(t, "bd.worker", pb.Role_ROLE_COMMUNE_WORKER, pBaDinh)
	ts.addUser(t, "police.bd", pb.Role_ROLE_POLICE_LIAISON, "policeUnits/ca-ba-dinh")
	const police = "policeUnits/ca-ba-dinh"

	name, c, pw := referWatched(t, ts, "police.bd")
	ack := findDeadline(t, c, "POLICE_ACKNOWLEDGE", police)
	d13 := findDeadline(t, c, "D13_POLICE_FORWARD", police)

	ts.advance(t, 13*time.Hour) // past half of both 24-hour clocks
	pw.waitForN(t, "DEADLINE_WARNING", name, 2)
	ts.advance(t, 12*time.Hour) // past both due times
	pw.waitForN(t, "DEADLINE_BREACHED", name, 2)
	warned := map[int32]bool{}
	for _, n := range pw.snapshot() {
		if n.GetCase() != name || (n.GetKind() != "DEADLINE_WARNING" && n.GetKind() != "DEADLINE_BREACHED") {
			continue
		}
		if !slices.Equal(n.GetUnits(), []string{police}) {
			t.Errorf("%s of deadline %d went to %v, want the police unit %s only", n.GetKind(), n.GetDeadlineId(), n.GetUnits(), police)
		}
		if n.GetKind() == "DEADLINE_WARNING" {
			warned[n.GetDeadlineId()] = true
		}
	}
	if !warned[ack.GetId()] || !warned[d13.GetId()] {
		t.Errorf("warnings of deadlines %v, want POLICE_ACKNOWLEDGE (%d) and D13 (%d)", warned, ack.GetId(), d13.GetId())
	}
}

// A retry of a transition with the same request_id answers with the first
// result (process_service.proto: "the same request_id returns the first
// result"), even when the case moved on in between, e.g. when the first
// answer was lost and another step was taken before the retry.
func TestProcessRetryAfterLaterStepReturnsFirstResult(t *testing.T) {
	ts := startServerAt(t, testNow, "")
	ts.addUser(t, "bd.worker", pb.Role_ROLE_COMMUNE_WORKER, pBaDinh)
	p := ts.process()
	worker := ts.as(t, "bd.worker")

	name := openCase(t, ts, testNow.Add(-time.Hour), "00004")
	req := &pb.AcknowledgeCaseRequest{Name: name, Etag: etagOf(t, ts, "bd.worker", name), RequestId: "ack-lost-answer"}
	first, err := p.AcknowledgeCase(worker, req)
	if err != nil {
		t.Fatalf("acknowledge: %v", err)
	}
	if _, err := p.RecordInitialAssessment(worker, &pb.RecordInitialAssessmentRequest{Name: name, Etag: first.GetEtag(),
		HarmSeverity: low(), AbuserAccess: low(), SafetyObstacles: low()}); err != nil {
		t.Fatalf("initial assessment: %v", err)
	}
	retry, err := p.AcknowledgeCase(worker, req)
	if err != nil {
		t.Fatalf("retry: %v", err)
	}
	if n := countEvents(caseEvents(t, ts, "bd.worker", name), "ACKNOWLEDGED", 0); n != 1 {
		t.Errorf("%d ACKNOWLEDGED events after the retry, want 1", n)
	}
	if !proto.Equal(first, retry) {
		t.Errorf("the retry answered with the case as it is now, not the first result: first etag %s status %v, retry etag %s status %v",
			first.GetEtag(), first.GetStatus(), retry.GetEtag(), retry.GetStatus())
	}
}

// A watcher hears of a new case without waiting for its fallback poll (one
// second): the wake-up of CASE_FORWARDED must come after the commit. Every
// other notification arrives within milliseconds; the bound here is half
// the fallback poll.
func TestProcessWatchEventsWakesAfterCommit(t *testing.T) {
	ts := startServerAt(t, testNow, "")
	ts.addUser(t, "bd.worker", pb.Role_ROLE_COMMUNE_WORKER, pBaDinh)
	openCase(t, ts, testNow.Add(-time.Hour), "00008") // the outbox's first entry
	w := watch(t, ts, "bd.worker", 1)
	first := openCase(t, ts, testNow.Add(-time.Hour), "00004")
	w.waitFor(t, "CASE_FORWARDED", first) // the watcher is running

	// The watcher's fallback poll is an hour: each notification arrives
	// only if the commit that wrote it woke the watcher afterwards.
	for range 3 {
		name := openCase(t, ts, testNow.Add(-time.Hour), "00004")
		w.waitFor(t, "CASE_FORWARDED", name)
	}
}

// A watch resumed after a seq the service never sent (one past the last
// notification: a cursor kept across a restore from an older backup, or
// from another deployment) is refused naming after_seq. Taken as it
// was, the watch waited for that seq and sent nothing, not even what
// happened next, since the outbox numbers its notifications from its own
// last one.
func TestProcessWatchEventsPastTheLastNotificationIsRefused(t *testing.T) {
	ts := startServerAt(t, testNow, "")
	ts.addUser(t, "bd.worker", pb.Role_ROLE_COMMUNE_WORKER, pBaDinh)
	openCase(t, ts, testNow.Add(-time.Hour), "00004")
	ctx, cancel := context.WithTimeout(ts.as(t, "bd.worker"), 5*time.Second)
	defer cancel()
	stream, err := ts.process().WatchEvents(ctx, &pb.WatchEventsRequest{AfterSeq: 1000})
	if err == nil {
		_, err = stream.Recv()
	}
	st := wantCode(t, err, codes.InvalidArgument)
	if fields := badFields(st); !slices.Equal(fields, []string{"after_seq"}) {
		t.Errorf("fields %v, want after_seq (%s)", fields, st.Message())
	}
	// Resumed after one it sent, it sends what happens next.
	w := watch(t, ts, "bd.worker", 1)
	w.waitFor(t, "CASE_FORWARDED", openCase(t, ts, testNow.Add(-time.Hour), "00004"))
}

// A police step out of turn is refused, saying what must happen first
// (issue 4): the ward police of Ba Đình, referred a sexual-abuse case on
// Sat 28 Nov 2026, cannot record the forwarding to the investigators
// before they acknowledge the referral, nor the outcome before that
// forwarding, nor acknowledge twice.
func TestProcessPoliceStepOutOfTurnSaysWhatComesFirst(t *testing.T) {
	ts := startServerAt(t, testNow, "")
	ts.addPoliceUnit(t, "ca-ba-dinh", pBaDinh)
	ts.addUser(t, "bd.worker", pb.Role_ROLE_COMMUNE_WORKER, pBaDinh)
	ts.addUser(t, "police.bd", pb.Role_ROLE_POLICE_LIAISON, "policeUnits/ca-ba-dinh")
	p, police := ts.process(), ts.as(t, "police.bd")
	name := openCase(t, ts, testNow.Add(-time.Hour), "00004", pb.AbuseForm_ABUSE_FORM_SEXUAL_ABUSE)
	if _, err := p.ReferCaseToPolice(ts.as(t, "bd.worker"), &pb.ReferCaseToPoliceRequest{Name: name, Etag: etagOf(t, ts, "bd.worker", name),
		PoliceUnit: "policeUnits/ca-ba-dinh", SuspectedOffence: "Điều 146 BLHS"}); err != nil {
		t.Fatalf("refer: %v", err)
	}
	refused := func(err error, first string) {
		t.Helper()
		st := wantCode(t, err, codes.FailedPrecondition)
		if errorReason(st) != "WRONG_POLICE_STEP" || !strings.HasSuffix(st.Message(), first) {
			t.Errorf("refusal %q (reason %s), want WRONG_POLICE_STEP ending %q", st.Message(), errorReason(st), first)
		}
	}
	forward := func() error {
		_, err := p.RecordPoliceForwarding(police, &pb.RecordPoliceForwardingRequest{Name: name, Etag: etagOf(t, ts, "police.bd", name),
			InvestigationAgency: "Cơ quan CSĐT Công an TP Hà Nội"})
		return err
	}
	outcome := func() error {
		_, err := p.RecordPoliceOutcome(police, &pb.RecordPoliceOutcomeRequest{Name: name, Etag: etagOf(t, ts, "police.bd", name), Outcome: "PROSECUTED"})
		return err
	}
	acknowledge := func() error {
		_, err := p.AcknowledgePoliceReferral(police, &pb.AcknowledgePoliceReferralRequest{Name: name, Etag: etagOf(t, ts, "police.bd", name), ReferenceNumber: "CA-BD-2026/201"})
		return err
	}
	refused(forward(), "acknowledge it with the police reference number first")
	refused(outcome(), "acknowledge it with the police reference number, then record its forwarding to the investigators first")
	if err := acknowledge(); err != nil {
		t.Fatalf("acknowledge: %v", err)
	}
	refused(acknowledge(), "it was acknowledged already")
	refused(outcome(), "record its forwarding to the investigators first")
	if err := forward(); err != nil {
		t.Fatalf("forward: %v", err)
	}
	if err := outcome(); err != nil {
		t.Fatalf("outcome: %v", err)
	}
	refused(forward(), "its outcome is recorded already")
}

// A plan change goes back through approval (issue 4, step 5); a change the
// chair returns leaves the approved plan in force. Phường Ba Đình's plan,
// approved on Mon 2 Mar 2026, has one service to end on Fri 20 Mar; on
// Tue 10 Mar the worker proposes to replace it, and on Wed 11 Mar the
// chair returns the change: the case is back in implementation with the
// approved service and its clock, which the worker then meets, and no
// clock asks for the change to be submitted again.
func TestProcessReturnedPlanChangeKeepsThePlanInForce(t *testing.T) {
	ts := startServerAt(t, hn(2026, 3, 2, 9, 0), "")
	ts.addUser(t, "bd.worker", pb.Role_ROLE_COMMUNE_WORKER, pBaDinh)
	ts.addUser(t, "bd.chair", pb.Role_ROLE_COMMUNE_CHAIR, pBaDinh)
	p := ts.process()
	worker, chair := ts.as(t, "bd.worker"), ts.as(t, "bd.chair")
	name := openCase(t, ts, hn(2026, 3, 2, 8, 0), "00004")
	must := func(c *pb.Case, err error) *pb.Case {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	// assess records the initial and the specific assessment, the meeting
	// held now.
	assess := func(c *pb.Case) *pb.Case {
		t.Helper()
		c = must(p.RecordInitialAssessment(worker, &pb.RecordInitialAssessmentRequest{Name: name, Etag: c.GetEtag(),
			HarmSeverity: low(), AbuserAccess: low(), SafetyObstacles: low()}))
		return must(p.RecordSpecificAssessment(worker, &pb.RecordSpecificAssessmentRequest{Name: name, Etag: c.GetEtag(),
			Needs: "hỗ trợ tâm lý", ChildViews: "muốn đi học", MeetingRecord: "biên bản", MeetingTime: timestamppb.New(ts.clock.Now()), MeetingChair: chairAttendee()}))
	}
	c := assess(must(p.AcknowledgeCase(worker, &pb.AcknowledgeCaseRequest{Name: name, Etag: etagOf(t, ts, "bd.worker", name)})))
	c = must(p.SubmitPlan(worker, &pb.SubmitPlanRequest{Name: name, Etag: c.GetEtag(), Services: []*pb.PlanServiceInput{{
		Name: "tư vấn tâm lý", Owner: "Trung tâm CTXH", CommuneAssignee: "cán bộ BVTE", StartDate: "2026-03-03", ExpectedEndDate: "2026-03-20"}}}))
	c = must(p.ApprovePlan(chair, &pb.ApprovePlanRequest{Name: name, Etag: c.GetEtag(), DecisionNumber: "30/QĐ-UBND", DecisionDate: "2026-03-02"}))
	approved := c.GetServices()

	ts.setClock(t, hn(2026, 3, 10, 9, 0))
	c = must(p.SubmitPlan(worker, &pb.SubmitPlanRequest{Name: name, Etag: c.GetEtag(), Services: []*pb.PlanServiceInput{{
		Name: "hỗ trợ học tập", Owner: "trường tiểu học", CommuneAssignee: "cán bộ BVTE", StartDate: "2026-04-01", ExpectedEndDate: "2026-05-29"}}}))
	if c.GetStatus() != pb.CaseStatus_CASE_STATUS_PLANNING || c.GetPlanState() != "SUBMITTED" {
		t.Fatalf("after the change: status %v plan %s", c.GetStatus(), c.GetPlanState())
	}
	checkDeadline(t, findDeadline(t, c, "D7_PLAN_APPROVAL", "plan-1"), "OPEN", hn(2026, 3, 13, 0, 0))

	ts.setClock(t, hn(2026, 3, 11, 9, 0))
	c = must(p.ReturnPlan(chair, &pb.ReturnPlanRequest{Name: name, Etag: c.GetEtag(), Reason: "chưa cần thay đổi"}))
	if c.GetStatus() != pb.CaseStatus_CASE_STATUS_IMPLEMENTATION || c.GetPlanState() != "APPROVED" {
		t.Errorf("after the change was returned: status %v plan %s, want the approved plan in implementation", c.GetStatus(), c.GetPlanState())
	}
	if len(c.GetServices()) != 1 || !proto.Equal(c.GetServices()[0], approved[0]) {
		t.Errorf("services after the change was returned: %v, want the approved %v", c.GetServices(), approved)
	}
	if full := getCase(t, ts, "bd.worker", name).GetServices(); len(full) != 1 || full[0].GetName() != "tư vấn tâm lý" || full[0].GetOwner() != "Trung tâm CTXH" {
		t.Errorf("the full view's services after the change was returned: %v", full)
	}
	if n := countDeadlines(c, "PLAN_RESUBMIT"); n != 0 {
		t.Errorf("%d PLAN_RESUBMIT deadlines after a returned change, want none", n)
	}
	checkDeadline(t, findDeadline(t, c, "D8_SERVICE", "service-1"), "OPEN", hn(2026, 3, 21, 0, 0))

	c = must(p.RecordServiceProgress(worker, &pb.RecordServiceProgressRequest{Name: name, Etag: c.GetEtag(), ServiceId: 1, State: "COMPLETED", Note: "đủ 6 buổi"}))
	checkDeadline(t, findDeadline(t, c, "D8_SERVICE", "service-1"), "MET", hn(2026, 3, 21, 0, 0))
	inOrder(t, caseEvents(t, ts, "bd.worker", name), "PLAN_APPROVED", "PLAN_CHANGE_PROPOSED", "PLAN_SUBMITTED", "PLAN_RETURNED", "SERVICE_PROGRESS")

	// On Thu 12 Mar another change is proposed, and the family moves away
	// before the chair decides: the chair closes the case. Reopened on
	// Mon 16 Mar, the case's new plan has no plan in force behind it: a
	// return sends it back to its draft, with PLAN_RESUBMIT.
	ts.setClock(t, hn(2026, 3, 12, 9, 0))
	c = must(p.SubmitPlan(worker, &pb.SubmitPlanRequest{Name: name, Etag: c.GetEtag(), Services: []*pb.PlanServiceInput{{
		Name: "hỗ trợ học tập", Owner: "trường tiểu học", CommuneAssignee: "cán bộ BVTE", StartDate: "2026-04-01", ExpectedEndDate: "2026-05-29"}}}))
	c = must(p.ApproveClosure(chair, &pb.ApproveClosureRequest{Name: name, Etag: c.GetEtag(), Ground: pb.ClosureGround_CLOSURE_GROUND_MOVED_AWAY, Reason: "gia đình chuyển đi"}))
	ts.setClock(t, hn(2026, 3, 16, 9, 0))
	c = assess(must(p.ReopenCase(chair, &pb.ReopenCaseRequest{Name: name, Etag: c.GetEtag(), Reason: "gia đình quay lại"})))
	c = must(p.SubmitPlan(worker, &pb.SubmitPlanRequest{Name: name, Etag: c.GetEtag(), Services: []*pb.PlanServiceInput{{
		Name: "tư vấn gia đình", Owner: "Trung tâm CTXH", CommuneAssignee: "cán bộ BVTE", StartDate: "2026-03-17", ExpectedEndDate: "2026-04-17"}}}))
	c = must(p.ReturnPlan(chair, &pb.ReturnPlanRequest{Name: name, Etag: c.GetEtag(), Reason: "thiếu chi phí"}))
	if c.GetStatus() != pb.CaseStatus_CASE_STATUS_PLANNING || c.GetPlanState() != "DRAFT" || countDeadlines(c, "PLAN_RESUBMIT") != 1 {
		t.Errorf("a returned plan after reopening: status %v plan %s deadlines %v, want a draft with PLAN_RESUBMIT", c.GetStatus(), c.GetPlanState(), c.GetDeadlines())
	}
}

// Police referrals escalate within the police chain (issue 4): the ward
// police of Ba Đình, referred a sexual-abuse case at 10:00 on Sat 28 Nov
// 2026, neither acknowledge it nor forward the crime report within 24
// hours; both breaches go up to the city police, not to the commune's
// chain, and each escalation says how late it was.
func TestProcessPoliceBreachEscalatesToTheCityPolice(t *testing.T) {
	ts := startServerAt(t, testNow, "")
	ts.addPoliceUnit(t, "ca-ba-dinh", pBaDinh)
	ts.addPoliceUnit(t, "ca-ha-noi") // covers no commune: the top of the police chain
	ts.addUser(t, "bd.worker", pb.Role_ROLE_COMMUNE_WORKER, pBaDinh)
	ts.addUser(t, "police.city", pb.Role_ROLE_POLICE_LIAISON, "policeUnits/ca-ha-noi")
	const police, cityPolice = "policeUnits/ca-ba-dinh", "policeUnits/ca-ha-noi"
	name, c, cw := referWatched(t, ts, "police.city")
	ack, d13 := findDeadline(t, c, "POLICE_ACKNOWLEDGE", police), findDeadline(t, c, "D13_POLICE_FORWARD", police)
	checkDeadline(t, d13, "OPEN", hn(2026, 11, 29, 10, 0))

	ts.setClock(t, hn(2026, 11, 29, 10, 30))
	// Each police clock escalates once (the commune's clocks may escalate
	// too, in their own time: wait for each of these two by its id).
	for _, id := range []int32{ack.GetId(), d13.GetId()} {
		waitEvents(t, ts, "bd.worker", name, "ESCALATED", id, 1)
	}
	events := caseEvents(t, ts, "bd.worker", name)
	for _, id := range []int32{ack.GetId(), d13.GetId()} {
		if n := countEvents(events, "ESCALATED", id); n != 1 {
			t.Errorf("%d escalations of deadline %d, want 1", n, id)
		}
	}
	c = getCase(t, ts, "bd.worker", name)
	for _, d := range []*pb.Deadline{findDeadline(t, c, "POLICE_ACKNOWLEDGE", police), findDeadline(t, c, "D13_POLICE_FORWARD", police)} {
		e := d.GetEscalations()
		if !d.GetOverdue() || len(e) != 1 || e[0].GetToUnit() != cityPolice || e[0].GetMinutesLate() < 0 || e[0].GetMinutesLate() > 30 {
			t.Errorf("%s after its due time: overdue %v escalations %v, want one to %s", d.GetKind(), d.GetOverdue(), e, cityPolice)
		}
	}
	if n := cw.waitFor(t, "ESCALATED", name); !slices.Contains(n.GetUnits(), cityPolice) || slices.Contains(n.GetUnits(), pCity) {
		t.Errorf("the escalation went to %v, want the city police and not the city", n.GetUnits())
	}

	// The city police see what they were alerted to, in the police view:
	// the ward police's referral and its two overdue clocks, in their
	// overdue queue; the ward police's steps stay the ward police's.
	pv := getCase(t, ts, "police.city", name)
	if len(pv.GetReports()) != 0 || pv.GetDossier() != nil || len(pv.GetPoliceReferrals()) != 1 || pv.GetPoliceReferrals()[0].GetPoliceUnit() != police {
		t.Errorf("the city police's view: reports %v dossier %v referrals %v", pv.GetReports(), pv.GetDossier(), pv.GetPoliceReferrals())
	}
	if n := len(pv.GetDeadlines()); n != 2 {
		t.Errorf("the city police's view shows %d deadlines, want the 2 escalated to it: %v", n, pv.GetDeadlines())
	}
	for _, q := range []pb.CaseQueue{pb.CaseQueue_CASE_QUEUE_OVERDUE, pb.CaseQueue_CASE_QUEUE_UNSPECIFIED} {
		if got := queue(t, ts, "police.city", q); !slices.Equal(got, []string{name}) {
			t.Errorf("the city police's list %v: %v, want [%s]", q, got, name)
		}
	}
	_, err := ts.process().AcknowledgePoliceReferral(ts.as(t, "police.city"), &pb.AcknowledgePoliceReferralRequest{Name: name, Etag: pv.GetEtag(), ReferenceNumber: "CA-HN-1"})
	wantCode(t, err, codes.NotFound)

	// The statistics count escalations "by the level escalated to": these
	// two went to the city police, a level of their own, not "other".
	ts.addUser(t, "city", pb.Role_ROLE_CITY_OFFICER, pCity)
	st, err := pb.NewStatisticsServiceClient(ts.conn).GetStatistics(ts.as(t, "city"),
		&pb.GetStatisticsRequest{StartDate: "2026-11-01", EndDate: "2026-11-30"})
	if err != nil {
		t.Fatal(err)
	}
	if esc := st.GetGroups()[0].GetEscalations(); esc["police"] != 2 || esc["other"] != 0 {
		t.Errorf("escalations counted %v, want the 2 to the city police under \"police\"", esc)
	}
}
