package app_test

// The fields of forms Mẫu 01-07 that a review found missing (issue 11,
// "Forms"), walked through the service on real dates: how a report came
// in, the child's commune of residence, the special-circumstance groups on
// the case, the meeting's chair and participants, the plan's commune
// assignee, the approval decision and review part (b).

import (
	"bytes"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/timestamppb"

	pb "github.com/childcase/childcase/api/childcase/v1"
)

// wantField fails unless err is INVALID_ARGUMENT naming field.
func wantField(t *testing.T, err error, field string) {
	t.Helper()
	if fields := badFields(wantCode(t, err, codes.InvalidArgument)); !slices.Contains(fields, field) {
		t.Errorf("error %v names %v, want %s", err, fields, field)
	}
}

// Mẫu 01: how the report came in, apart from the channel, and the commune
// where the child lives, named as the unit in force on the day of the
// report and checked against the registry.
func TestFormsReportMeansAndResidence(t *testing.T) {
	receive := hn(2026, 3, 9, 8, 0) // Monday 9 March 2026
	ts := startServerAt(t, receive.Add(time.Hour), "")
	op := ts.as(t, operatorID)

	r := validReport()
	r.ReceiveTime = timestamppb.New(receive)
	r.Means = pb.ReportMeans_REPORT_MEANS_PHONE_CALL
	r.Children[0].ResidenceUnit = pHoanKiem // happened in Ba Đình, lives in Hoàn Kiếm
	created, err := ts.reports().CreateReport(op, &pb.CreateReportRequest{Report: r})
	if err != nil {
		t.Fatalf("create report: %v", err)
	}
	got, err := ts.reports().GetReport(op, &pb.GetReportRequest{Name: created.GetName()})
	if err != nil {
		t.Fatal(err)
	}
	if got.GetMeans() != pb.ReportMeans_REPORT_MEANS_PHONE_CALL || got.GetChannel() != pb.Channel_CHANNEL_HOTLINE_111 {
		t.Errorf("means %v channel %v, want a phone call to the hotline 111", got.GetMeans(), got.GetChannel())
	}
	if res := got.GetChildren()[0].GetResidenceUnit(); res != pHoanKiem {
		t.Errorf("residence_unit %q, want %s", res, pHoanKiem)
	}

	for _, tt := range []struct{ why, unit string }{
		{"a bare code, which codes reuse makes ambiguous", "00070"},
		{"Phường Trúc Bạch, out of force since 2025-06-30", pTrucBach},
		{"the city, not a commune", pCity},
		{"a unit the registry does not know", "units/99999@2025-07-01"},
	} {
		bad := validReport()
		bad.ReceiveTime = timestamppb.New(receive)
		bad.Children[0].ResidenceUnit = tt.unit
		_, err := ts.reports().CreateReport(op, &pb.CreateReportRequest{Report: bad})
		if st, ok := formStatus(err); !ok || st.Code() != codes.InvalidArgument || !slices.Contains(badFields(st), "report.children[0].residence_unit") {
			t.Errorf("%s: %v, want INVALID_ARGUMENT naming report.children[0].residence_unit", tt.why, err)
		}
	}
	bad := validReport()
	bad.Means = pb.ReportMeans(99)
	_, err = ts.reports().CreateReport(op, &pb.CreateReportRequest{Report: bad})
	wantField(t, err, "report.means")
}

// The special-circumstance groups (Child Law Art. 10) belong to the case:
// gathered from its reports as they join, corrected by the assessments,
// shown in the full view only.
func TestFormsSpecialCircumstancesOnCase(t *testing.T) {
	receive := hn(2026, 3, 9, 8, 0)
	ts := startServerAt(t, receive.Add(time.Hour), "")
	ts.addPoliceUnit(t, "ca-ba-dinh", pBaDinh)
	ts.addUser(t, "bd.worker", pb.Role_ROLE_COMMUNE_WORKER, pBaDinh)
	ts.addUser(t, "police.bd", pb.Role_ROLE_POLICE_LIAISON, "policeUnits/ca-ba-dinh")
	p, worker := ts.process(), ts.as(t, "bd.worker")
	harmed, abused := pb.SpecialCircumstance_SPECIAL_CIRCUMSTANCE_I_HARMED_BY_VIOLENCE, pb.SpecialCircumstance_SPECIAL_CIRCUMSTANCE_L_SEXUALLY_ABUSED
	disabled := pb.SpecialCircumstance_SPECIAL_CIRCUMSTANCE_D_DISABLED

	first := validReport()
	first.ReceiveTime = timestamppb.New(receive)
	first.SpecialCircumstances = []pb.SpecialCircumstance{harmed}
	created, err := ts.reports().CreateReport(ts.as(t, operatorID), &pb.CreateReportRequest{Report: first})
	if err != nil {
		t.Fatal(err)
	}
	name := created.GetCase()
	if got := getCase(t, ts, "bd.worker", name).GetSpecialCircumstances(); !slices.Equal(got, []pb.SpecialCircumstance{harmed}) {
		t.Errorf("new case: groups %v, want the report's [%v]", got, harmed)
	}
	second := validReport()
	second.ReceiveTime = timestamppb.New(receive.Add(30 * time.Minute))
	second.Case = name
	second.SpecialCircumstances = []pb.SpecialCircumstance{abused, harmed}
	if _, err := ts.reports().CreateReport(ts.as(t, operatorID), &pb.CreateReportRequest{Report: second}); err != nil {
		t.Fatal(err)
	}
	c := getCase(t, ts, "bd.worker", name)
	if got := c.GetSpecialCircumstances(); !slices.Equal(got, []pb.SpecialCircumstance{harmed, abused}) {
		t.Errorf("after a second report: groups %v, want the union [%v %v]", got, harmed, abused)
	}
	// A report that opened no case brings its groups when it is linked.
	trafficked := pb.SpecialCircumstance_SPECIAL_CIRCUMSTANCE_M_TRAFFICKED
	counselling := validReport()
	counselling.ReceiveTime = timestamppb.New(receive.Add(40 * time.Minute))
	counselling.CallType = pb.CallType_CALL_TYPE_COUNSELLING
	counselling.SpecialCircumstances = []pb.SpecialCircumstance{trafficked}
	loose, err := ts.reports().CreateReport(ts.as(t, operatorID), &pb.CreateReportRequest{Report: counselling})
	if err != nil || loose.GetCase() != "" {
		t.Fatalf("counselling report: %v, case %q", err, loose.GetCase())
	}
	if _, err := ts.reports().LinkReport(ts.as(t, operatorID), &pb.LinkReportRequest{Name: loose.GetName(), Case: name}); err != nil {
		t.Fatalf("link: %v", err)
	}
	c = getCase(t, ts, "bd.worker", name)
	if got := c.GetSpecialCircumstances(); !slices.Equal(got, []pb.SpecialCircumstance{harmed, abused, trafficked}) {
		t.Errorf("after a linked report: groups %v, want [%v %v %v]", got, harmed, abused, trafficked)
	}

	// The police view shows nothing personal: no groups.
	c, err = p.ReferCaseToPolice(worker, &pb.ReferCaseToPoliceRequest{Name: name, Etag: c.GetEtag(),
		PoliceUnit: "policeUnits/ca-ba-dinh", SuspectedOffence: "Điều 146 BLHS"})
	if err != nil {
		t.Fatalf("refer: %v", err)
	}
	if pv := getCase(t, ts, "police.bd", name); len(pv.GetSpecialCircumstances()) != 0 {
		t.Errorf("the police view shows the groups %v", pv.GetSpecialCircumstances())
	}

	// The initial assessment corrects them; a later step that sends none
	// leaves them as they are.
	ts.setClock(t, hn(2026, 3, 9, 10, 0))
	c, err = p.AcknowledgeCase(worker, &pb.AcknowledgeCaseRequest{Name: name, Etag: c.GetEtag()})
	if err != nil {
		t.Fatal(err)
	}
	c, err = p.RecordInitialAssessment(worker, &pb.RecordInitialAssessmentRequest{Name: name, Etag: c.GetEtag(),
		HarmSeverity: low(), AbuserAccess: low(), SafetyObstacles: low(),
		SpecialCircumstances: &pb.SpecialCircumstanceSet{Groups: []pb.SpecialCircumstance{disabled, abused}}})
	if err != nil {
		t.Fatalf("initial assessment: %v", err)
	}
	if got := c.GetSpecialCircumstances(); !slices.Equal(got, []pb.SpecialCircumstance{disabled, abused}) {
		t.Errorf("after the initial assessment: groups %v, want [%v %v]", got, disabled, abused)
	}
	c, err = p.RecordSpecificAssessment(worker, &pb.RecordSpecificAssessmentRequest{Name: name, Etag: c.GetEtag(),
		Needs: "tư vấn tâm lý", ChildViews: "muốn đi học", MeetingRecord: "biên bản họp", MeetingTime: timestamppb.New(ts.clock.Now()),
		MeetingChair: chairAttendee()})
	if err != nil {
		t.Fatalf("specific assessment: %v", err)
	}
	if got := c.GetSpecialCircumstances(); !slices.Equal(got, []pb.SpecialCircumstance{disabled, abused}) {
		t.Errorf("after a specific assessment without groups: %v, want them unchanged", got)
	}
	if pv := getCase(t, ts, "police.bd", name); len(pv.GetSpecialCircumstances()) != 0 {
		t.Errorf("the police view shows the groups %v", pv.GetSpecialCircumstances())
	}

	// An assessment that finds none of the groups clears them: a set sent
	// empty is not the same as no set.
	third := validReport()
	third.ReceiveTime = timestamppb.New(receive)
	third.SpecialCircumstances = []pb.SpecialCircumstance{harmed}
	created, err = ts.reports().CreateReport(ts.as(t, operatorID), &pb.CreateReportRequest{Report: third})
	if err != nil {
		t.Fatal(err)
	}
	other := created.GetCase()
	ts.addUser(t, "bd.worker2", pb.Role_ROLE_COMMUNE_WORKER, pBaDinh)
	worker2 := ts.as(t, "bd.worker2")
	oc, err := p.AcknowledgeCase(worker2, &pb.AcknowledgeCaseRequest{Name: other, Etag: etagOf(t, ts, "bd.worker2", other)})
	if err != nil {
		t.Fatal(err)
	}
	_, err = p.RecordInitialAssessment(worker2, &pb.RecordInitialAssessmentRequest{Name: other, Etag: oc.GetEtag(),
		HarmSeverity: low(), AbuserAccess: low(), SafetyObstacles: low(),
		SpecialCircumstances: &pb.SpecialCircumstanceSet{Groups: []pb.SpecialCircumstance{disabled, disabled}}})
	wantField(t, err, "special_circumstances.groups")
	oc, err = p.RecordInitialAssessment(worker2, &pb.RecordInitialAssessmentRequest{Name: other, Etag: oc.GetEtag(),
		HarmSeverity: low(), AbuserAccess: low(), SafetyObstacles: low(), SpecialCircumstances: &pb.SpecialCircumstanceSet{}})
	if err != nil {
		t.Fatalf("initial assessment of %s: %v", other, err)
	}
	if got := oc.GetSpecialCircumstances(); len(got) != 0 {
		t.Errorf("an empty set left the groups %v", got)
	}
}

// Mẫu 03-06 on a case walked from intake to review in March 2026: the
// meeting's chair and participants, each service's commune assignee, the
// approval decision with its number and date, and review part (b). Each is
// required where the form requires it, shown in the full view, and sealed
// on disk.
func TestFormsStepsRecordTheForms(t *testing.T) {
	receive := hn(2026, 3, 9, 8, 0) // Monday 9 March 2026
	ts := startServerAt(t, receive.Add(time.Hour), "")
	ts.addUser(t, "bd.worker", pb.Role_ROLE_COMMUNE_WORKER, pBaDinh)
	ts.addUser(t, "bd.chair", pb.Role_ROLE_COMMUNE_CHAIR, pBaDinh)
	p := ts.process()
	worker, chair := ts.as(t, "bd.worker"), ts.as(t, "bd.chair")
	const (
		chairName   = "Lê Văn CHAIRMARK-1101"
		participant = "Nguyễn Thị PARTMARK-2202"
		assignee    = "cán bộ ASSIGNMARK-3303"
		selfProtect = "biết gọi 111 SELFMARK-4404"
		recovery    = "đi học lại RECOVERMARK-5505"
	)

	name := openCase(t, ts, receive, "00004")
	c, err := p.AcknowledgeCase(worker, &pb.AcknowledgeCaseRequest{Name: name, Etag: etagOf(t, ts, "bd.worker", name)})
	if err != nil {
		t.Fatal(err)
	}
	c, err = p.RecordInitialAssessment(worker, &pb.RecordInitialAssessmentRequest{Name: name, Etag: c.GetEtag(),
		HarmSeverity: low(), AbuserAccess: low(), SafetyObstacles: low()})
	if err != nil {
		t.Fatal(err)
	}

	// Mẫu 03: the meeting needs its chair.
	specific := &pb.RecordSpecificAssessmentRequest{Name: name, Etag: c.GetEtag(),
		Needs: "tư vấn tâm lý", ChildViews: "muốn ở với mẹ", MeetingRecord: "biên bản họp ngày 9/3",
		MeetingTime: timestamppb.New(hn(2026, 3, 9, 9, 0))}
	_, err = p.RecordSpecificAssessment(worker, specific)
	wantField(t, err, "meeting_chair")
	specific.MeetingChair = &pb.MeetingAttendee{FullName: "   ", Role: "Chủ tịch UBND phường"}
	_, err = p.RecordSpecificAssessment(worker, specific)
	wantField(t, err, "meeting_chair.full_name")
	specific.MeetingChair = &pb.MeetingAttendee{FullName: chairName, Role: "Chủ tịch UBND phường"}
	specific.MeetingParticipants = []*pb.MeetingAttendee{{FullName: participant, Role: "mẹ của trẻ"}, {FullName: "Trần Văn B", Role: "công an phường"}}
	if c, err = p.RecordSpecificAssessment(worker, specific); err != nil {
		t.Fatalf("specific assessment: %v", err)
	}

	// Mẫu 04: each service has the commune's assignee beside its provider.
	service := &pb.PlanServiceInput{Name: "tư vấn tâm lý", Owner: "Trung tâm CTXH Hà Nội", StartDate: "2026-03-11", ExpectedEndDate: "2026-04-30"}
	submit := &pb.SubmitPlanRequest{Name: name, Etag: c.GetEtag(), Services: []*pb.PlanServiceInput{service}}
	_, err = p.SubmitPlan(worker, submit)
	wantField(t, err, "services[0].commune_assignee")
	service.CommuneAssignee = assignee
	if c, err = p.SubmitPlan(worker, submit); err != nil {
		t.Fatalf("submit plan: %v", err)
	}

	// Mẫu 05: the chair's decision, numbered and dated; the date cannot
	// lie after today or before the report.
	ts.setClock(t, hn(2026, 3, 10, 9, 0))
	approve := &pb.ApprovePlanRequest{Name: name, Etag: c.GetEtag()}
	_, err = p.ApprovePlan(chair, approve)
	wantField(t, err, "decision_number")
	approve.DecisionNumber = "125/QĐ-UBND"
	for _, date := range []string{"", "2026-03-11", "2026-03-08", "2026-02-30"} {
		approve.DecisionDate = date
		_, err = p.ApprovePlan(chair, approve)
		if st, ok := formStatus(err); !ok || st.Code() != codes.InvalidArgument || !slices.Contains(badFields(st), "decision_date") {
			t.Errorf("decision_date %q: %v, want INVALID_ARGUMENT naming decision_date", date, err)
		}
	}
	approve.DecisionDate = "2026-03-10"
	if c, err = p.ApprovePlan(chair, approve); err != nil {
		t.Fatalf("approve plan: %v", err)
	}
	if c, err = p.StartReview(worker, &pb.StartReviewRequest{Name: name, Etag: c.GetEtag()}); err != nil {
		t.Fatal(err)
	}

	// Mẫu 06 part (b): self-protection and recovery.
	review := &pb.RecordReviewRequest{Name: name, Etag: c.GetEtag(), HarmSeverity: low(), AbuserAccess: low(), SafetyObstacles: low(),
		Outcome: "PROPOSE_CLOSURE", Recovery: recovery}
	_, err = p.RecordReview(worker, review)
	wantField(t, err, "self_protection")
	review.SelfProtection, review.Recovery = selfProtect, ""
	_, err = p.RecordReview(worker, review)
	wantField(t, err, "recovery")
	review.Recovery = recovery
	if _, err = p.RecordReview(worker, review); err != nil {
		t.Fatalf("review: %v", err)
	}

	full := getCase(t, ts, "bd.worker", name)
	d := full.GetDossier()
	sa := d.GetSpecificAssessment()
	if sa.GetMeetingChair().GetFullName() != chairName || sa.GetMeetingChair().GetRole() != "Chủ tịch UBND phường" ||
		len(sa.GetMeetingParticipants()) != 2 || sa.GetMeetingParticipants()[0].GetFullName() != participant || sa.GetMeetingParticipants()[0].GetRole() != "mẹ của trẻ" {
		t.Errorf("specific assessment: chair %v participants %v", sa.GetMeetingChair(), sa.GetMeetingParticipants())
	}
	if svs := full.GetServices(); len(svs) != 1 || svs[0].GetCommuneAssignee() != assignee || svs[0].GetOwner() != "Trung tâm CTXH Hà Nội" {
		t.Errorf("services: %v", svs)
	}
	if a := d.GetPlanApprovals(); len(a) != 1 || a[0].GetPlanCycle() != 1 || a[0].GetDecisionNumber() != "125/QĐ-UBND" ||
		a[0].GetDecisionDate() != "2026-03-10" || a[0].GetBy() != "users/bd.chair" || !a[0].GetTime().AsTime().Equal(hn(2026, 3, 10, 9, 0)) {
		t.Errorf("plan approvals: %v", a)
	}
	if rv := d.GetReviews(); len(rv) != 1 || rv[0].GetSelfProtection() != selfProtect || rv[0].GetRecovery() != recovery {
		t.Errorf("reviews: %v", rv)
	}

	ts.stop()
	db, err := os.ReadFile(ts.cfg.DBPath)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(db, []byte(strings.TrimPrefix(name, "cases/"))) {
		t.Fatal("the database file does not hold the case: is it the right file?")
	}
	if leaks := confLeaks(db, []string{"CHAIRMARK-1101", "PARTMARK-2202", "ASSIGNMARK-3303", "SELFMARK-4404", "RECOVERMARK-5505"}); len(leaks) > 0 {
		t.Errorf("form text in the clear in the database file:\n%s", strings.Join(leaks, "\n"))
	}
}

func formStatus(err error) (*status.Status, bool) { return status.FromError(err) }
