package app_test

// Scenarios of "nobody stranded" (issue 11): every case has someone who can
// act on it, above the commune, across the 2025 unit reforms, with a named
// officer, and from a report the police received themselves.

import (
	"slices"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/types/known/timestamppb"

	pb "github.com/childcase/childcase/api/childcase/v1"
)

const (
	swcOrg        = "orgs/social-work-centre"
	pQuanThanh20  = "units/00013@2020-01-01" // Phường Quán Thánh, Quận Ba Đình, until 2024
	pTrucBach2501 = "units/00004@2025-01-01" // Phường Trúc Bạch, 2025-01-01 to 2025-06-30
)

// Scenario: a case handed up to the city is run by the city (a city
// officer, and the social work centre acting for it), then reassigned
// down to a commune, which accepts it like a transfer.
func TestStrandedCityRunsStepsAndReassigns(t *testing.T) {
	ts := startServerAt(t, testNow, "") // Sat 28 Nov 2026
	ts.addUser(t, "bd.worker", pb.Role_ROLE_COMMUNE_WORKER, pBaDinh)
	ts.addUser(t, "hk.worker", pb.Role_ROLE_COMMUNE_WORKER, pHoanKiem)
	ts.addUser(t, "city", pb.Role_ROLE_CITY_OFFICER, pCity)
	ts.addUser(t, "swc.sup", pb.Role_ROLE_HOTLINE_SUPERVISOR, swcOrg)
	ts.addUser(t, "hotline.sup", pb.Role_ROLE_HOTLINE_SUPERVISOR, "orgs/hotline-111")
	p := ts.process()
	bd, city, swc := ts.as(t, "bd.worker"), ts.as(t, "city"), ts.as(t, "swc.sup")

	name := openCase(t, ts, testNow.Add(-time.Hour), "00004")
	c, err := p.AcknowledgeCase(bd, &pb.AcknowledgeCaseRequest{Name: name, Etag: etagOf(t, ts, "bd.worker", name)})
	if err != nil {
		t.Fatalf("acknowledge: %v", err)
	}
	c, err = p.ProposeTransfer(bd, &pb.ProposeTransferRequest{Name: name, Etag: c.GetEtag(), ToUnit: pCity, Reason: "cần dịch vụ cấp thành phố"})
	if err != nil {
		t.Fatalf("propose to the city: %v", err)
	}
	// The centre sees nothing of a case the city does not hold.
	_, err = ts.cases().GetCase(swc, &pb.GetCaseRequest{Name: name})
	wantCode(t, err, codes.NotFound)
	ts.advance(t, time.Hour)
	if c, err = p.AcceptTransfer(city, &pb.AcceptTransferRequest{Name: name, Etag: c.GetEtag()}); err != nil {
		t.Fatalf("the city accepts: %v", err)
	}

	// The city runs the steps of the case it holds: a city officer the
	// initial assessment, the centre's supervisor the specific one.
	c, err = p.RecordInitialAssessment(city, &pb.RecordInitialAssessmentRequest{Name: name, Etag: c.GetEtag(),
		HarmSeverity: low(), AbuserAccess: low(), SafetyObstacles: low()})
	if err != nil {
		t.Fatalf("the city's initial assessment: %v", err)
	}
	if _, err := ts.cases().GetCase(swc, &pb.GetCaseRequest{Name: name}); err != nil {
		t.Fatalf("the social work centre does not see the city's case: %v", err)
	}
	c, err = p.RecordSpecificAssessment(swc, &pb.RecordSpecificAssessmentRequest{Name: name, Etag: c.GetEtag(),
		Needs: "tư vấn tâm lý", ChildViews: "muốn ở với mẹ", MeetingRecord: "biên bản họp", MeetingTime: timestamppb.New(ts.clock.Now()), MeetingChair: chairAttendee()})
	if err != nil {
		t.Fatalf("the centre's specific assessment: %v", err)
	}
	if c.GetStatus() != pb.CaseStatus_CASE_STATUS_PLANNING || findDeadline(t, c, "D6_PLAN_DRAFT", "").GetUnit() != pCity {
		t.Errorf("after the specific assessment: status %v, deadlines %v", c.GetStatus(), c.GetDeadlines())
	}
	// A 111 supervisor does not act for the city, and the centre does not
	// take the chair's decisions.
	_, err = p.AddCaseNote(ts.as(t, "hotline.sup"), &pb.AddCaseNoteRequest{Name: name, Etag: c.GetEtag(), Text: "x"})
	wantCode(t, err, codes.PermissionDenied)
	_, err = p.ApprovePlan(swc, &pb.ApprovePlanRequest{Name: name, Etag: c.GetEtag(), DecisionNumber: "1/QĐ-UBND", DecisionDate: ts.clock.Now().In(hanoi).Format(time.DateOnly)})
	wantCode(t, err, codes.PermissionDenied)

	// Sent back down: only to a commune in force, by a level above.
	_, err = p.ReassignCase(city, &pb.ReassignCaseRequest{Name: name, Etag: c.GetEtag(), ToUnit: pTrucBach, Reason: "về phường"})
	if st := wantCode(t, err, codes.InvalidArgument); !slices.Contains(badFields(st), "to_unit") {
		t.Errorf("reassign to a unit out of force: fields %v", badFields(st))
	}
	_, err = p.ReassignCase(city, &pb.ReassignCaseRequest{Name: name, Etag: c.GetEtag(), ToUnit: pCity, Reason: "x"})
	if st := wantCode(t, err, codes.InvalidArgument); !slices.Contains(badFields(st), "to_unit") {
		t.Errorf("reassign to the city: fields %v", badFields(st))
	}
	_, err = p.ReassignCase(bd, &pb.ReassignCaseRequest{Name: name, Etag: c.GetEtag(), ToUnit: pHoanKiem, Reason: "x"})
	wantCode(t, err, codes.PermissionDenied)

	ts.advance(t, time.Hour)
	c, err = p.ReassignCase(city, &pb.ReassignCaseRequest{Name: name, Etag: c.GetEtag(), ToUnit: pHoanKiem, Reason: "trẻ sống ở Hoàn Kiếm"})
	if err != nil {
		t.Fatalf("reassign: %v", err)
	}
	if tr := c.GetTransfers(); c.GetResponsibleUnit() != pCity || len(tr) != 2 || tr[1].GetFromUnit() != pCity || tr[1].GetToUnit() != pHoanKiem || tr[1].GetState() != "PROPOSED" {
		t.Errorf("after the reassignment: responsible %s transfers %v", c.GetResponsibleUnit(), tr)
	}
	if q := queue(t, ts, "hk.worker", pb.CaseQueue_CASE_QUEUE_AWAITING_MY_ACCEPTANCE); !slices.Equal(q, []string{name}) {
		t.Errorf("Hoàn Kiếm's acceptance queue: %v, want [%s]", q, name)
	}
	c, err = p.AcceptTransfer(ts.as(t, "hk.worker"), &pb.AcceptTransferRequest{Name: name, Etag: c.GetEtag()})
	if err != nil {
		t.Fatalf("Hoàn Kiếm accepts: %v", err)
	}
	if c.GetResponsibleUnit() != pHoanKiem || findDeadline(t, c, "D6_PLAN_DRAFT", "").GetUnit() != pHoanKiem {
		t.Errorf("after the acceptance: responsible %s, deadlines %v", c.GetResponsibleUnit(), c.GetDeadlines())
	}
	// The city no longer acts; the commune does.
	_, err = p.RecordReview(city, &pb.RecordReviewRequest{Name: name, Etag: c.GetEtag(), HarmSeverity: low(), AbuserAccess: low(), SafetyObstacles: low(), Outcome: "PROPOSE_CLOSURE",
		SelfProtection: "biết gọi 111", Recovery: "đi học lại"})
	wantCode(t, err, codes.FailedPrecondition)
	inOrder(t, caseEvents(t, ts, "hk.worker", name), "TRANSFER_ACCEPTED", "INITIAL_ASSESSMENT_RECORDED",
		"SPECIFIC_ASSESSMENT_RECORDED", "REASSIGNMENT_PROPOSED", "TRANSFER_ACCEPTED")
}

// Scenario: in 2024 the district reassigns a case of one of its communes
// to another of its communes; not to a commune of another district.
func TestStrandedDistrictReassigns2024(t *testing.T) {
	start := hn(2024, 6, 3, 9, 0) // Monday
	ts := startServerAt(t, start, "")
	ts.addUser(t, "district.bd", pb.Role_ROLE_DISTRICT_OFFICER, pDistrictBD)
	ts.addUser(t, "qt.worker", pb.Role_ROLE_COMMUNE_WORKER, pQuanThanh20)
	p := ts.process()
	district := ts.as(t, "district.bd")

	name := openCase(t, ts, start.Add(-30*time.Minute), "00004") // Trúc Bạch, 2020 set
	etag := etagOf(t, ts, "district.bd", name)
	_, err := p.ReassignCase(district, &pb.ReassignCaseRequest{Name: name, Etag: etag, ToUnit: "units/00070@2020-01-01", Reason: "x"})
	if st := wantCode(t, err, codes.InvalidArgument); !slices.Contains(badFields(st), "to_unit") {
		t.Errorf("reassign to another district's commune: fields %v", badFields(st))
	}
	c, err := p.ReassignCase(district, &pb.ReassignCaseRequest{Name: name, Etag: etag, ToUnit: pQuanThanh20, Reason: "trẻ ở Quán Thánh"})
	if err != nil {
		t.Fatalf("the district reassigns: %v", err)
	}
	c, err = p.AcceptTransfer(ts.as(t, "qt.worker"), &pb.AcceptTransferRequest{Name: name, Etag: c.GetEtag()})
	if err != nil {
		t.Fatalf("Quán Thánh accepts: %v", err)
	}
	if c.GetResponsibleUnit() != pQuanThanh20 || findDeadline(t, c, "ACKNOWLEDGE", "").GetUnit() != pQuanThanh20 {
		t.Errorf("after the acceptance: responsible %s, deadlines %v", c.GetResponsibleUnit(), c.GetDeadlines())
	}
}

// Scenario: a case opened on 2025-06-20 in code 00004 (then Phường Trúc
// Bạch) follows it to the new Phường Ba Đình on 2025-07-01 with its plan
// clock, which breaches there on 2025-07-03; a case of Ngọc Hà, which
// split, waits in the city's queue until the city reassigns it.
func TestStrandedAcrossThe2025Reform(t *testing.T) {
	start := hn(2025, 6, 20, 9, 0) // Friday
	ts := startServerAt(t, start, "")
	ts.addUser(t, "tb.worker", pb.Role_ROLE_COMMUNE_WORKER, pTrucBach2501)
	ts.addUser(t, "bd.worker", pb.Role_ROLE_COMMUNE_WORKER, pBaDinh)
	ts.addUser(t, "city", pb.Role_ROLE_CITY_OFFICER, pCity)
	ts.addUser(t, "auditor", pb.Role_ROLE_AUDITOR, "orgs/system")
	p := ts.process()
	tb := ts.as(t, "tb.worker")

	name := openCase(t, ts, start.Add(-30*time.Minute), "00004")
	split := openCase(t, ts, start.Add(-20*time.Minute), "00016") // Ngọc Hà
	c, err := p.AcknowledgeCase(tb, &pb.AcknowledgeCaseRequest{Name: name, Etag: etagOf(t, ts, "tb.worker", name)})
	if err != nil {
		t.Fatalf("acknowledge: %v", err)
	}
	if c.GetResponsibleUnit() != pTrucBach2501 {
		t.Fatalf("case in %s, want Trúc Bạch %s", c.GetResponsibleUnit(), pTrucBach2501)
	}
	if c, err = p.RecordInitialAssessment(tb, &pb.RecordInitialAssessmentRequest{Name: name, Etag: c.GetEtag(),
		HarmSeverity: low(), AbuserAccess: low(), SafetyObstacles: low()}); err != nil {
		t.Fatalf("initial assessment: %v", err)
	}
	// Wed 25 June: 5 working days, Thu 26 to Wed 2 July, so the plan is
	// due at 24:00 on 2 July, and breaches as 3 July begins.
	ts.setClock(t, hn(2025, 6, 25, 10, 0))
	c, err = p.RecordSpecificAssessment(tb, &pb.RecordSpecificAssessmentRequest{Name: name, Etag: c.GetEtag(),
		Needs: "tư vấn", ChildViews: "muốn ở nhà", MeetingRecord: "biên bản", MeetingTime: timestamppb.New(ts.clock.Now()), MeetingChair: chairAttendee()})
	if err != nil {
		t.Fatalf("specific assessment: %v", err)
	}
	draft := findDeadline(t, c, "D6_PLAN_DRAFT", "")
	checkDeadline(t, draft, "OPEN", hn(2025, 7, 3, 0, 0))
	if q := queue(t, ts, "city", pb.CaseQueue_CASE_QUEUE_AWAITING_SUCCESSOR); len(q) != 0 {
		t.Errorf("the city's successor queue before the reform: %v", q)
	}

	// 1 July: Trúc Bạch is gone; Ba Đình (00004@2025-07-01) succeeds it.
	ts.setClock(t, hn(2025, 7, 1, 0, 5))
	waitEvents(t, ts, "city", name, "UNIT_SUCCEEDED", 0, 1)
	// The service's event of the move names whom it lets in, for the
	// auditor, who reads no case.
	if trail := caseTrail(t, ts, "auditor", name); !slices.ContainsFunc(trail, func(e *pb.AuditEvent) bool {
		return e.GetActor() == "users/system" && strings.Contains(e.GetReason(), "to "+pBaDinh)
	}) {
		t.Errorf("%s's trail has no event of the service saying %q:%s", name, "to "+pBaDinh, describeEventsWithReasons(trail))
	}
	c = getCase(t, ts, "bd.worker", name)
	if c.GetResponsibleUnit() != pBaDinh || c.GetIncidentUnit() != pTrucBach2501 {
		t.Errorf("after the reform: responsible %s incident %s, want %s and %s", c.GetResponsibleUnit(), c.GetIncidentUnit(), pBaDinh, pTrucBach2501)
	}
	if d := findDeadline(t, c, "D6_PLAN_DRAFT", ""); d.GetUnit() != pBaDinh {
		t.Errorf("PLAN_DRAFT of %s, want %s", d.GetUnit(), pBaDinh)
	}
	if q := queue(t, ts, "bd.worker", pb.CaseQueue_CASE_QUEUE_MY_UNIT_OPEN); !slices.Equal(q, []string{name}) {
		t.Errorf("Ba Đình's open queue: %v, want [%s]", q, name)
	}
	if q := queue(t, ts, "tb.worker", pb.CaseQueue_CASE_QUEUE_MY_UNIT_OPEN); len(q) != 0 {
		t.Errorf("Trúc Bạch's open queue after the reform: %v", q)
	}
	if q := queue(t, ts, "city", pb.CaseQueue_CASE_QUEUE_AWAITING_SUCCESSOR); !slices.Equal(q, []string{split}) {
		t.Errorf("the city's successor queue: %v, want the split commune's case [%s]", q, split)
	}
	// Its timeline says why it waits there, as the README says.
	waitEvents(t, ts, "city", split, "SUCCESSOR_NEEDED", 0, 1)

	// 3 July: the breach is Ba Đình's, and goes up to the city.
	ts.setClock(t, hn(2025, 7, 3, 0, 1))
	waitEvents(t, ts, "bd.worker", name, "DEADLINE_BREACHED", draft.GetId(), 1)
	if q := queue(t, ts, "bd.worker", pb.CaseQueue_CASE_QUEUE_OVERDUE); !slices.Equal(q, []string{name}) {
		t.Errorf("Ba Đình's overdue queue: %v, want [%s]", q, name)
	}
	c = getCase(t, ts, "bd.worker", name)
	if e := findDeadline(t, c, "D6_PLAN_DRAFT", "").GetEscalations(); len(e) != 1 || e[0].GetToUnit() != pCity {
		t.Errorf("escalations: %v, want one to the city", e)
	}
	day := ts.clock.Now().In(hanoi).Format(time.DateOnly)
	c, err = p.SubmitPlan(ts.as(t, "bd.worker"), &pb.SubmitPlanRequest{Name: name, Etag: c.GetEtag(), Services: []*pb.PlanServiceInput{{
		Name: "tư vấn", Owner: "trạm y tế", CommuneAssignee: "cán bộ BVTE", StartDate: day, ExpectedEndDate: day}}})
	if err != nil {
		t.Fatalf("Ba Đình submits the plan: %v", err)
	}
	if d := findDeadline(t, c, "D6_PLAN_DRAFT", ""); d.GetState() != "MISSED" {
		t.Errorf("PLAN_DRAFT: %s, want MISSED", d.GetState())
	}

	// The split commune's case: the city sends it to one of the new communes.
	city := ts.as(t, "city")
	if _, err := p.ReassignCase(city, &pb.ReassignCaseRequest{Name: split, Etag: etagOf(t, ts, "city", split), ToUnit: pBaDinh, Reason: "trẻ sống ở phần thuộc Ba Đình"}); err != nil {
		t.Fatalf("the city reassigns the split commune's case: %v", err)
	}
	if _, err := p.AcceptTransfer(ts.as(t, "bd.worker"), &pb.AcceptTransferRequest{Name: split, Etag: etagOf(t, ts, "bd.worker", split)}); err != nil {
		t.Fatalf("Ba Đình accepts: %v", err)
	}
	if q := queue(t, ts, "city", pb.CaseQueue_CASE_QUEUE_AWAITING_SUCCESSOR); len(q) != 0 {
		t.Errorf("the city's successor queue after the reassignment: %v", q)
	}
}

// Scenario: the chair names the responsible officer, who shows in the
// case and in the queue's entries.
func TestStrandedAssignOfficer(t *testing.T) {
	ts := startServerAt(t, testNow, "")
	ts.addUser(t, "bd.worker", pb.Role_ROLE_COMMUNE_WORKER, pBaDinh)
	ts.addUser(t, "bd.worker2", pb.Role_ROLE_COMMUNE_WORKER, pBaDinh)
	ts.addUser(t, "bd.gone", pb.Role_ROLE_COMMUNE_WORKER, pBaDinh)
	ts.addUser(t, "bd.chair", pb.Role_ROLE_COMMUNE_CHAIR, pBaDinh)
	ts.addUser(t, "hk.worker", pb.Role_ROLE_COMMUNE_WORKER, pHoanKiem)
	if _, err := ts.admin().DisableUser(ts.as(t, "admin"), &pb.DisableUserRequest{Name: "users/bd.gone"}); err != nil {
		t.Fatalf("disable: %v", err)
	}
	p := ts.process()
	chair := ts.as(t, "bd.chair")

	name := openCase(t, ts, testNow.Add(-time.Hour), "00004")
	c, err := p.AcknowledgeCase(ts.as(t, "bd.worker"), &pb.AcknowledgeCaseRequest{Name: name, Etag: etagOf(t, ts, "bd.worker", name)})
	if err != nil {
		t.Fatalf("acknowledge: %v", err)
	}
	for _, bad := range []string{"users/hk.worker", "users/nobody", "users/bd.gone", "users/bd.chair", "bd.worker2"} {
		_, err := p.AssignCase(chair, &pb.AssignCaseRequest{Name: name, Etag: c.GetEtag(), Officer: bad})
		if st := wantCode(t, err, codes.InvalidArgument); !slices.Contains(badFields(st), "officer") {
			t.Errorf("assign %s: fields %v", bad, badFields(st))
		}
	}
	_, err = p.AssignCase(ts.as(t, "bd.worker"), &pb.AssignCaseRequest{Name: name, Etag: c.GetEtag(), Officer: "users/bd.worker2"})
	wantCode(t, err, codes.PermissionDenied)

	ts.advance(t, time.Hour)
	c, err = p.AssignCase(chair, &pb.AssignCaseRequest{Name: name, Etag: c.GetEtag(), Officer: "users/bd.worker2"})
	if err != nil {
		t.Fatalf("assign: %v", err)
	}
	if o := c.GetResponsibleOfficer(); o.GetUser() != "users/bd.worker2" || o.GetDisplayName() == "" {
		t.Errorf("responsible officer %v, want users/bd.worker2", o)
	}
	resp, err := ts.cases().ListCases(ts.as(t, "bd.worker"), &pb.ListCasesRequest{Queue: pb.CaseQueue_CASE_QUEUE_MY_UNIT_OPEN})
	if err != nil {
		t.Fatalf("queue: %v", err)
	}
	if cs := resp.GetCases(); len(cs) != 1 || cs[0].GetResponsibleOfficer().GetUser() != "users/bd.worker2" {
		t.Errorf("queue entries: %v, want the case with officer users/bd.worker2", cs)
	}
	inOrder(t, caseEvents(t, ts, "bd.worker", name), "ACKNOWLEDGED", "OFFICER_ASSIGNED")
}

// Scenario: the police record a report they received directly (Decree 56
// Art. 25(1)): the case opens, forwarded to the commune, with their track
// already received; they see only the police view.
func TestStrandedPoliceRecordReport(t *testing.T) {
	ts := startServerAt(t, testNow, "")
	ts.addPoliceUnit(t, "ca-ba-dinh", pBaDinh)
	ts.addUser(t, "police.bd", pb.Role_ROLE_POLICE_LIAISON, "policeUnits/ca-ba-dinh")
	ts.addUser(t, "bd.worker", pb.Role_ROLE_COMMUNE_WORKER, pBaDinh)
	police := ts.as(t, "police.bd")

	received := testNow.Add(-2 * time.Hour) // 08:00 in Hanoi
	r := validReport()
	r.ReceiveTime = timestamppb.New(received)
	r.IncidentCommuneCode = "00004"
	r.SuspectedAbuse = []pb.AbuseForm{pb.AbuseForm_ABUSE_FORM_SEXUAL_ABUSE}
	created, err := ts.reports().CreateReport(police, &pb.CreateReportRequest{Report: r})
	if err != nil {
		t.Fatalf("the police record a report: %v", err)
	}
	name := created.GetCase()
	if name == "" {
		t.Fatal("the police's report opened no case")
	}
	// The answer is a receipt: where the report went, not the report.
	if created.GetName() != "" || len(created.GetChildren()) != 0 || created.GetNarrative() != "" || created.GetIncidentUnit() != pBaDinh {
		t.Errorf("the police's receipt: %v", created)
	}

	// The commune has the case to acknowledge, with the police track.
	c := getCase(t, ts, "bd.worker", name)
	if c.GetResponsibleUnit() != pBaDinh || c.GetStatus() != pb.CaseStatus_CASE_STATUS_AWAITING_ACKNOWLEDGEMENT {
		t.Errorf("case: responsible %s status %v", c.GetResponsibleUnit(), c.GetStatus())
	}
	refs := c.GetPoliceReferrals()
	if len(refs) != 1 || refs[0].GetPoliceUnit() != "policeUnits/ca-ba-dinh" || refs[0].GetState() != "ACKNOWLEDGED" ||
		!refs[0].GetReferTime().AsTime().Equal(received) || !refs[0].GetAcknowledgeTime().AsTime().Equal(received) || refs[0].GetReferredBy() != "users/police.bd" {
		t.Fatalf("police referrals: %v", refs)
	}
	fw := findDeadline(t, c, "D13_POLICE_FORWARD", "policeUnits/ca-ba-dinh")
	checkDeadline(t, fw, "OPEN", received.Add(24*time.Hour))

	// The police: the police view only, no reports, not even their own.
	pv := getCase(t, ts, "police.bd", name)
	if len(pv.GetReports()) != 0 || pv.GetDossier() != nil || len(pv.GetDeadlines()) != 1 {
		t.Errorf("police view: reports %v dossier %v deadlines %v", pv.GetReports(), pv.GetDossier(), pv.GetDeadlines())
	}
	_, err = ts.reports().ListReports(police, &pb.ListReportsRequest{})
	wantCode(t, err, codes.PermissionDenied)
	_, err = ts.process().RecordInitialAssessment(police, &pb.RecordInitialAssessmentRequest{Name: name, Etag: pv.GetEtag(),
		HarmSeverity: low(), AbuserAccess: low(), SafetyObstacles: low()})
	wantCode(t, err, codes.PermissionDenied)

	// Their track goes on: forwarded to the investigators.
	if _, err := ts.process().RecordPoliceForwarding(police, &pb.RecordPoliceForwardingRequest{Name: name, Etag: pv.GetEtag(), InvestigationAgency: "CQCSĐT Công an TP Hà Nội"}); err != nil {
		t.Fatalf("forwarding: %v", err)
	}
	inOrder(t, caseEvents(t, ts, "bd.worker", name), "POLICE_RECEIVED", "FORWARDED", "DEADLINE_STARTED", "DEADLINE_STARTED", "POLICE_FORWARDED")
}
