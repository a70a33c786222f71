package app_test

// Scenarios of issue 11: the emergency clocks of Decree 56 (Arts. 26, 31,
// 32), the temporary separation and its court petition (Circular 14/2020
// Art. 14(3)(b), Mẫu 07), and the follow-ups of alternative care (Art. 30),
// walked on real dates with the fake clock.

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	pb "github.com/childcase/childcase/api/childcase/v1"
)

// reportEmergency records an intervention report that names the stepfather
// as the suspected abuser (Art. 31(1)), received at receive in the commune
// with the given code, joining caseName when it is not "". It returns the
// name of its case.
func reportEmergency(t *testing.T, ts *testServer, receive time.Time, commune, caseName string, immediateDanger, caregiverAbuser bool) string {
	t.Helper()
	r := validReport()
	r.ReceiveTime = timestamppb.New(receive)
	r.IncidentCommuneCode = commune
	r.ImmediateDanger = immediateDanger
	r.Caregivers[0].SuspectedAbuser = caregiverAbuser
	r.Case = caseName
	created, err := ts.reports().CreateReport(ts.as(t, operatorID), &pb.CreateReportRequest{Report: r})
	if err != nil {
		t.Fatalf("create report: %v", err)
	}
	if created.GetCase() == "" {
		t.Fatal("the intervention report belongs to no case")
	}
	return created.GetCase()
}

// A report naming the stepfather as the abuser, taken on the evening of
// Reunification Day (Thu 30 April 2026, a public holiday), opens the case
// with D3 running from the receive time, 12 wall-clock hours through the
// night and the holiday, and a 2-hour acknowledge clock. Nobody acts: D3
// breaches at 09:30 on Labour Day and goes up to the city.
func TestEmergencyD3RunsFromIntake(t *testing.T) {
	now := hn(2026, 4, 30, 22, 0)
	ts := startServerAt(t, now, "")
	ts.addUser(t, "bd.worker", pb.Role_ROLE_COMMUNE_WORKER, pBaDinh)
	receive := hn(2026, 4, 30, 21, 30)

	name := reportEmergency(t, ts, receive, "00004", "", false, true)
	c := getCase(t, ts, "bd.worker", name)
	if !c.GetEmergency() || c.GetEmergencyReason() != pb.EmergencyReason_EMERGENCY_REASON_CAREGIVER_IS_ABUSER {
		t.Errorf("new case: emergency %v reason %v, want an emergency: the caregiver is the abuser", c.GetEmergency(), c.GetEmergencyReason())
	}
	d3 := findDeadline(t, c, "D3_EMERGENCY", "")
	checkDeadline(t, d3, "OPEN", hn(2026, 5, 1, 9, 30))
	if !d3.GetStartTime().AsTime().Equal(receive) || d3.GetClock() != "HOURS" || d3.GetPausable() || d3.GetUnit() != pBaDinh {
		t.Errorf("D3: start %v clock %s pausable %v unit %s", d3.GetStartTime().AsTime(), d3.GetClock(), d3.GetPausable(), d3.GetUnit())
	}
	checkDeadline(t, findDeadline(t, c, "ACKNOWLEDGE", ""), "OPEN", now.Add(2*time.Hour))

	// Immediate danger alone, no caregiver suspected: an emergency for
	// serious harm.
	other := reportEmergency(t, ts, receive, "00004", "", true, false)
	o := getCase(t, ts, "bd.worker", other)
	if !o.GetEmergency() || o.GetEmergencyReason() != pb.EmergencyReason_EMERGENCY_REASON_SERIOUS_HARM {
		t.Errorf("immediate danger: emergency %v reason %v", o.GetEmergency(), o.GetEmergencyReason())
	}
	checkDeadline(t, findDeadline(t, o, "D3_EMERGENCY", ""), "OPEN", hn(2026, 5, 1, 9, 30))

	// Nobody acts overnight: D3 breaches at 09:30 and is escalated to the
	// city (no districts after 2025-07-01).
	ts.setClock(t, hn(2026, 5, 1, 9, 31))
	events := waitEvents(t, ts, "bd.worker", name, "DEADLINE_BREACHED", d3.GetId(), 1)
	inOrder(t, events, "FORWARDED", "DEADLINE_STARTED", "DEADLINE_STARTED", "DEADLINE_BREACHED", "ESCALATED")
	c = getCase(t, ts, "bd.worker", name)
	d3 = findDeadline(t, c, "D3_EMERGENCY", "")
	if !d3.GetOverdue() || len(d3.GetEscalations()) == 0 || d3.GetEscalations()[0].GetToUnit() != pCity {
		t.Errorf("D3 after 09:30: overdue %v escalations %v, want escalated to %s", d3.GetOverdue(), d3.GetEscalations(), pCity)
	}
}

// wantBadField fails unless err is INVALID_ARGUMENT naming field.
func wantBadField(t *testing.T, err error, field string) {
	t.Helper()
	st := wantCode(t, err, codes.InvalidArgument)
	if got := badFields(st); len(got) != 1 || got[0] != field {
		t.Errorf("error %v names fields %v, want %s", err, got, field)
	}
}

// An ordinary report on the eve of Tết Bính Ngọ (Mon 16 Feb 2026) opens an
// ordinary case; on the first day of Tết a second report says the child is
// in immediate danger: the case becomes an emergency with D3 from that
// report's receive time, and the commune has acknowledge_emergency to
// acknowledge it. The initial assessment downgrades it only with a
// recorded reason, which cancels D3 and shows on the timeline.
func TestEmergencyJoinedReportAndDowngrade(t *testing.T) {
	ts := startServerAt(t, hn(2026, 2, 16, 20, 30), "")
	ts.addUser(t, "bd.worker", pb.Role_ROLE_COMMUNE_WORKER, pBaDinh)
	p := ts.process()
	worker := ts.as(t, "bd.worker")

	name := reportEmergency(t, ts, hn(2026, 2, 16, 20, 0), "00004", "", false, false)
	c := getCase(t, ts, "bd.worker", name)
	if c.GetEmergency() || countDeadlines(c, "D3_EMERGENCY") != 0 {
		t.Fatalf("ordinary report: emergency %v, deadlines %v", c.GetEmergency(), c.GetDeadlines())
	}
	checkDeadline(t, findDeadline(t, c, "ACKNOWLEDGE", ""), "OPEN", hn(2026, 2, 17, 20, 30))

	ts.setClock(t, hn(2026, 2, 17, 8, 0)) // Mùng 1 Tết
	if got := reportEmergency(t, ts, hn(2026, 2, 17, 7, 40), "00004", name, true, false); got != name {
		t.Fatalf("the joining report went to %s, not %s", got, name)
	}
	c = getCase(t, ts, "bd.worker", name)
	if !c.GetEmergency() || c.GetEmergencyReason() != pb.EmergencyReason_EMERGENCY_REASON_SERIOUS_HARM {
		t.Errorf("after the joining report: emergency %v reason %v", c.GetEmergency(), c.GetEmergencyReason())
	}
	d3 := findDeadline(t, c, "D3_EMERGENCY", "")
	checkDeadline(t, d3, "OPEN", hn(2026, 2, 17, 19, 40))
	// An emergency case is acknowledged within acknowledge_emergency (2 h)
	// of the report that made it one, not at the end of the ordinary 24
	// hours, which would fall after D3 itself.
	if n := countDeadlines(c, "ACKNOWLEDGE"); n != 2 || c.GetDeadlines()[0].GetState() != "CANCELLED" {
		t.Errorf("acknowledge deadlines after the joining report: %v, want the ordinary one cancelled and a new one", c.GetDeadlines())
	}
	checkDeadline(t, findDeadline(t, c, "ACKNOWLEDGE", ""), "OPEN", hn(2026, 2, 17, 10, 0))
	inOrder(t, caseEvents(t, ts, "bd.worker", name), "FORWARDED", "EMERGENCY_REPORTED", "DEADLINE_STARTED")

	c, err := p.AcknowledgeCase(worker, &pb.AcknowledgeCaseRequest{Name: name, Etag: c.GetEtag()})
	if err != nil {
		t.Fatalf("acknowledge: %v", err)
	}
	assess := &pb.RecordInitialAssessmentRequest{Name: name, Etag: c.GetEtag(),
		HarmSeverity: pb.RiskLevel_RISK_LEVEL_MEDIUM, AbuserAccess: low(), SafetyObstacles: low()}
	_, err = p.RecordInitialAssessment(worker, assess)
	wantBadField(t, err, "emergency_downgrade_reason")
	upheld := &pb.RecordInitialAssessmentRequest{Name: name, Etag: c.GetEtag(), Emergency: true,
		EmergencyReason: pb.EmergencyReason_EMERGENCY_REASON_SERIOUS_HARM,
		HarmSeverity:    pb.RiskLevel_RISK_LEVEL_HIGH, AbuserAccess: low(), SafetyObstacles: low(),
		EmergencyDowngradeReason: "không còn nguy hiểm"}
	_, err = p.RecordInitialAssessment(worker, upheld)
	wantBadField(t, err, "emergency_downgrade_reason")
	// A reason of invisible characters alone is no reason recorded.
	assess.EmergencyDowngradeReason = "\u200b\u2060"
	_, err = p.RecordInitialAssessment(worker, assess)
	wantBadField(t, err, "emergency_downgrade_reason")

	assess.EmergencyDowngradeReason = "trẻ đã ở nhà bà ngoại, người bị nghi đã rời địa phương"
	c, err = p.RecordInitialAssessment(worker, assess)
	if err != nil {
		t.Fatalf("downgrade: %v", err)
	}
	if c.GetEmergency() {
		t.Error("the case is still an emergency after the downgrade")
	}
	d3 = findDeadline(t, c, "D3_EMERGENCY", "")
	if d3.GetState() != "CANCELLED" || !d3.GetDoneTime().AsTime().Equal(ts.clock.Now()) {
		t.Errorf("D3 after the downgrade: state %s done %v", d3.GetState(), d3.GetDoneTime().AsTime())
	}
	events := caseEvents(t, ts, "bd.worker", name)
	inOrder(t, events, "INITIAL_ASSESSMENT_RECORDED", "EMERGENCY_DOWNGRADED", "DEADLINE_CANCELLED")
	found := false
	for _, n := range getCase(t, ts, "bd.worker", name).GetDossier().GetNotes() {
		found = found || (n.GetKind() == "EMERGENCY_DOWNGRADED" && n.GetText() == assess.EmergencyDowngradeReason)
	}
	if !found {
		t.Error("the downgrade's reason is not among the case notes")
	}
}

// On National Day (Wed 2 Sep 2026) a report names the stepfather at 06:00;
// D3 is due at 18:00. Measures or a separation dated before the report, or
// in the future, are refused. The separation started at 15:00 meets D3,
// but is recorded only the next day at 16:00: both times are kept, and the
// 25-hour gap (the policy allows 24) is flagged on the record and the
// timeline, and notified to the level above (the city) for its
// accountability.
func TestEmergencyMetBySeparationRecordedLate(t *testing.T) {
	ts := startServerAt(t, hn(2026, 9, 2, 6, 30), "")
	ts.addUser(t, "bd.chair", pb.Role_ROLE_COMMUNE_CHAIR, pBaDinh)
	ts.addUser(t, "city", pb.Role_ROLE_CITY_OFFICER, pCity)
	city := watch(t, ts, "city", 0)
	p := ts.process()
	chair := ts.as(t, "bd.chair")
	name := reportEmergency(t, ts, hn(2026, 9, 2, 6, 0), "00004", "", false, true)
	c := getCase(t, ts, "bd.chair", name)
	checkDeadline(t, findDeadline(t, c, "D3_EMERGENCY", ""), "OPEN", hn(2026, 9, 2, 18, 0))

	measures := func(at time.Time) error {
		_, err := p.RecordEmergencyMeasures(chair, &pb.RecordEmergencyMeasuresRequest{Name: name, Etag: etagOf(t, ts, "bd.chair", name),
			Measures: "đưa trẻ đến nơi an toàn", AppliedBy: "Chủ tịch UBND phường", AppliedTime: timestamppb.New(at)})
		return err
	}
	separate := func(at time.Time) (*pb.Case, error) {
		return p.StartSeparation(chair, &pb.StartSeparationRequest{Name: name, Etag: etagOf(t, ts, "bd.chair", name),
			StartTime: timestamppb.New(at), Place: "nhà tạm lánh", Carer: "bà ngoại",
			Ground: "cha dượng là người xâm hại trẻ (Điều 32(1))", DecisionNumber: "21/QĐ-UBND"})
	}
	wantBadField(t, measures(hn(2025, 9, 2, 6, 0)), "applied_time") // a year back: would turn a missed D3 into MET
	wantBadField(t, measures(hn(2026, 9, 2, 5, 59)), "applied_time")
	wantBadField(t, measures(hn(2026, 9, 2, 8, 0)), "applied_time") // in the future
	_, err := separate(hn(2026, 9, 1, 23, 0))
	wantBadField(t, err, "start_time")
	_, err = separate(hn(2026, 9, 2, 9, 0))
	wantBadField(t, err, "start_time")

	// Nobody records anything that day: D3 breaches at 18:00.
	// Nor is the case acknowledged: both breaches go up to the city.
	ts.setClock(t, hn(2026, 9, 3, 16, 0))
	waitEvents(t, ts, "bd.chair", name, "ESCALATED", findDeadline(t, c, "D3_EMERGENCY", "").GetId(), 1)
	waitEvents(t, ts, "bd.chair", name, "ESCALATED", findDeadline(t, c, "ACKNOWLEDGE", "").GetId(), 1)
	start := hn(2026, 9, 2, 15, 0)
	c, err = separate(start)
	if err != nil {
		t.Fatalf("start separation: %v", err)
	}
	d3 := findDeadline(t, c, "D3_EMERGENCY", "")
	checkDeadline(t, d3, "MET", hn(2026, 9, 2, 18, 0))
	if !d3.GetDoneTime().AsTime().Equal(start) || !c.GetEmergencyMeasuresTime().AsTime().Equal(start) || !c.GetSeparationStartTime().AsTime().Equal(start) {
		t.Errorf("D3 done %v, measures time %v, separation start %v, want %v",
			d3.GetDoneTime().AsTime(), c.GetEmergencyMeasuresTime().AsTime(), c.GetSeparationStartTime().AsTime(), start)
	}
	sep := getCase(t, ts, "bd.chair", name).GetDossier().GetSeparation()
	if !sep.GetRecordTime().AsTime().Equal(ts.clock.Now()) || !sep.GetLateRecording() {
		t.Errorf("separation record: recorded %v late %v, want %v and late", sep.GetRecordTime().AsTime(), sep.GetLateRecording(), ts.clock.Now())
	}
	if sep.GetCarer() != "bà ngoại" || sep.GetDecisionNumber() != "21/QĐ-UBND" || sep.GetGround() == "" {
		t.Errorf("separation record: %v", sep)
	}
	// Measures applied at 17:00 and recorded now (23 hours later) are on
	// time: the record is not flagged.
	if err := measures(hn(2026, 9, 2, 17, 0)); err != nil {
		t.Fatalf("emergency measures: %v", err)
	}
	c = getCase(t, ts, "bd.chair", name)
	m := c.GetDossier().GetEmergencyMeasures()
	if len(m) != 1 || m[0].GetLateRecording() || !m[0].GetRecordTime().AsTime().Equal(ts.clock.Now()) || !m[0].GetAppliedTime().AsTime().Equal(hn(2026, 9, 2, 17, 0)) {
		t.Errorf("emergency measures record: %v", m)
	}
	if !c.GetEmergencyMeasuresTime().AsTime().Equal(start) {
		t.Errorf("emergency measures time %v, want the first, %v", c.GetEmergencyMeasuresTime().AsTime(), start)
	}
	events := caseEvents(t, ts, "bd.chair", name)
	inOrder(t, events, "DEADLINE_BREACHED", "LATE_RECORDING", "DEADLINE_MET", "SEPARATION_STARTED", "EMERGENCY_MEASURES_RECORDED")
	if n := countEvents(events, "LATE_RECORDING", 0); n != 1 {
		t.Errorf("%d LATE_RECORDING events, want 1", n)
	}
	if n := city.waitFor(t, "LATE_RECORDING", name); !slices.Equal(n.GetUnits(), []string{pBaDinh, pCity}) {
		t.Errorf("the late recording's notice went to %v, want the commune and the city", n.GetUnits())
	}
}

// startTestSeparation starts a separation of the case at start.
func startTestSeparation(t *testing.T, ts *testServer, chair, name string, start time.Time) *pb.Case {
	t.Helper()
	c, err := ts.process().StartSeparation(ts.as(t, chair), &pb.StartSeparationRequest{Name: name, Etag: etagOf(t, ts, chair, name),
		StartTime: timestamppb.New(start), Place: "Làng trẻ em SOS Hà Nội", Carer: "mẹ SOS Nguyễn Thị Hoa",
		Ground: "cha dượng là người xâm hại trẻ (Điều 32(1))", DecisionNumber: "30/QĐ-UBND"})
	if err != nil {
		t.Fatalf("start separation: %v", err)
	}
	return c
}

// A separation from Mon 23 Nov 2026, extended by 5 days with the chair's
// decision and reason, then a court petition at the re-assessment on Sat
// 12 Dec: the separation and its guard on closure stay in force until the
// court's decision of 21 Dec is recorded; then the case closes.
func TestSeparationCourtPetitionKeepsItInForce(t *testing.T) {
	ts := startServerAt(t, hn(2026, 11, 23, 9, 0), "")
	ts.addUser(t, "bd.worker", pb.Role_ROLE_COMMUNE_WORKER, pBaDinh)
	ts.addUser(t, "bd.chair", pb.Role_ROLE_COMMUNE_CHAIR, pBaDinh)
	p := ts.process()
	chair := ts.as(t, "bd.chair")
	name := openCase(t, ts, hn(2026, 11, 23, 8, 0), "00004")
	walkToReview(t, ts, "bd.worker", "bd.chair", name)

	// 15 days from Mon 23 Nov: by 24:00 of Tue 8 Dec.
	ts.setClock(t, hn(2026, 11, 23, 10, 0))
	c := startTestSeparation(t, ts, "bd.chair", name, hn(2026, 11, 23, 10, 0))
	d4 := findDeadline(t, c, "D4_SEPARATION", "")
	checkDeadline(t, d4, "OPEN", hn(2026, 12, 9, 0, 0))

	// Extended by 5 days: by 24:00 of Sun 13 Dec; never beyond 15 more.
	extend := func(days int32) (*pb.Case, error) {
		return p.ExtendSeparation(chair, &pb.ExtendSeparationRequest{Name: name, Etag: etagOf(t, ts, "bd.chair", name),
			Days: days, Reason: "chờ kết quả giám định", DecisionNumber: "31/QĐ-UBND"})
	}
	// On Mon 7 Dec the scheduler has warned twice on D4, and the plan's
	// service, due on 23 Nov, breached and went up to the city; wait for
	// that work so that the etag holds still.
	ts.setClock(t, hn(2026, 12, 7, 9, 0))
	waitEvents(t, ts, "bd.chair", name, "DEADLINE_WARNING", d4.GetId(), 2)
	waitEvents(t, ts, "bd.chair", name, "ESCALATED", findDeadline(t, c, "D8_SERVICE", "service-1").GetId(), 1)
	c, err := extend(5)
	if err != nil {
		t.Fatalf("extend: %v", err)
	}
	checkDeadline(t, findDeadline(t, c, "D4_SEPARATION", ""), "OPEN", hn(2026, 12, 14, 0, 0))
	_, err = extend(11)
	wantBadField(t, err, "days")
	ext := getCase(t, ts, "bd.chair", name).GetDossier().GetSeparation().GetExtensions()
	if len(ext) != 1 || ext[0].GetDays() != 5 || ext[0].GetReason() == "" || ext[0].GetDecisionNumber() != "31/QĐ-UBND" {
		t.Errorf("extensions: %v", ext)
	}

	// The re-assessment on Sat 12 Dec petitions the court: D4 met; the
	// child stays separated, and neither the separation's end nor closure
	// can be recorded until the court decides.
	ts.setClock(t, hn(2026, 12, 12, 10, 0))
	_, err = p.EndSeparation(chair, &pb.EndSeparationRequest{Name: name, Etag: etagOf(t, ts, "bd.chair", name), Outcome: "COURT_PETITION"})
	wantBadField(t, err, "outcome")
	c, err = p.PetitionCourt(chair, &pb.PetitionCourtRequest{Name: name, Etag: etagOf(t, ts, "bd.chair", name), Court: "TAND khu vực 1 - Hà Nội"})
	if err != nil {
		t.Fatalf("petition: %v", err)
	}
	checkDeadline(t, findDeadline(t, c, "D4_SEPARATION", ""), "MET", hn(2026, 12, 14, 0, 0))
	if c.GetSeparationEndTime() != nil {
		t.Errorf("the petition ended the separation at %v", c.GetSeparationEndTime().AsTime())
	}
	_, err = p.ApproveClosure(chair, &pb.ApproveClosureRequest{Name: name, Etag: c.GetEtag(), Reason: "an toàn"})
	wantReason(t, err, codes.FailedPrecondition, "COURT_PETITION_PENDING")
	_, err = p.EndSeparation(chair, &pb.EndSeparationRequest{Name: name, Etag: c.GetEtag(), Outcome: "RETURNED_HOME"})
	wantReason(t, err, codes.FailedPrecondition, "COURT_PETITION_PENDING")
	_, err = extend(1)
	wantReason(t, err, codes.FailedPrecondition, "SEPARATION_REASSESSED")

	// The court decides on Mon 21 Dec; the decision is recorded on Tue 22.
	ts.setClock(t, hn(2026, 12, 22, 9, 0))
	decide := &pb.RecordCourtDecisionRequest{Name: name, Etag: c.GetEtag(), DecisionNumber: "05/2026/QĐ-TA", DecisionDate: "2026-12-23", Outcome: "RETURNED_HOME"}
	_, err = p.RecordCourtDecision(chair, decide)
	wantBadField(t, err, "decision_date")
	decide.DecisionDate = "2026-12-21"
	if c, err = p.RecordCourtDecision(chair, decide); err != nil {
		t.Fatalf("court decision: %v", err)
	}
	if !c.GetSeparationEndTime().AsTime().Equal(ts.clock.Now()) {
		t.Errorf("separation end %v, want the decision recorded at %v", c.GetSeparationEndTime().AsTime(), ts.clock.Now())
	}
	court := getCase(t, ts, "bd.chair", name).GetDossier().GetSeparation().GetCourtPetition()
	if court.GetDecisionNumber() != "05/2026/QĐ-TA" || court.GetDecisionDate() != "2026-12-21" || court.GetOutcome() != "RETURNED_HOME" {
		t.Errorf("court petition: %v", court)
	}
	if _, err = p.ApproveClosure(chair, &pb.ApproveClosureRequest{Name: name, Etag: c.GetEtag(), Reason: "trẻ đã về nhà an toàn"}); err != nil {
		t.Fatalf("closure after the court's decision: %v", err)
	}
	inOrder(t, caseEvents(t, ts, "bd.chair", name), "SEPARATION_STARTED", "SEPARATION_EXTENDED", "DEADLINE_MET", "COURT_PETITIONED",
		"COURT_DECISION_RECORDED", "CLOSED")
}

// Closure on another lawful ground (the child moved away) is not refused
// for want of a review, but the child's separation (CHILD_SEPARATED) and
// then a transfer awaiting a decision (TRANSFER_PENDING) still hold it
// back, as the README's closure row says.
func TestClosureOnAnotherGroundWaitsForTheSeparation(t *testing.T) {
	ts := startServerAt(t, hn(2026, 11, 23, 9, 0), "")
	ts.addUser(t, "bd.chair", pb.Role_ROLE_COMMUNE_CHAIR, pBaDinh)
	ts.addUser(t, "hk.chair", pb.Role_ROLE_COMMUNE_CHAIR, pHoanKiem)
	p := ts.process()
	chair := ts.as(t, "bd.chair")
	name := openCase(t, ts, hn(2026, 11, 23, 8, 0), "00004")
	c := startTestSeparation(t, ts, "bd.chair", name, hn(2026, 11, 23, 8, 30))

	closure := &pb.ApproveClosureRequest{Name: name, Etag: c.GetEtag(), Reason: "gia đình chuyển đến tỉnh khác",
		Ground: pb.ClosureGround_CLOSURE_GROUND_MOVED_AWAY, NoPoliceReferralReason: "gia đình đã trình báo công an nơi ở mới"}
	_, err := p.ApproveClosure(chair, closure)
	wantReason(t, err, codes.FailedPrecondition, "CHILD_SEPARATED")

	c, err = p.EndSeparation(chair, &pb.EndSeparationRequest{Name: name, Etag: c.GetEtag(), Outcome: "RETURNED_HOME"})
	if err != nil {
		t.Fatalf("end separation: %v", err)
	}
	// A transfer awaiting Hoàn Kiếm's decision holds it back too.
	c, err = p.ProposeTransfer(chair, &pb.ProposeTransferRequest{Name: name, Etag: c.GetEtag(), ToUnit: pHoanKiem, Reason: "trẻ sống ở Hoàn Kiếm"})
	if err != nil {
		t.Fatalf("propose: %v", err)
	}
	closure.Etag = c.GetEtag()
	_, err = p.ApproveClosure(chair, closure)
	wantReason(t, err, codes.FailedPrecondition, "TRANSFER_PENDING")
	c, err = p.DeclineTransfer(ts.as(t, "hk.chair"), &pb.DeclineTransferRequest{Name: name, Etag: c.GetEtag(), Reason: "trẻ đã chuyển đi tỉnh khác"})
	if err != nil {
		t.Fatalf("decline: %v", err)
	}
	closure.Etag = c.GetEtag()
	if c, err = p.ApproveClosure(chair, closure); err != nil || c.GetStatus() != pb.CaseStatus_CASE_STATUS_CLOSED {
		t.Fatalf("closure after the separation ended and the transfer was declined: %v %v", c.GetStatus(), err)
	}
}

// The court places the child, separated since Mon 30 Mar 2026, in
// alternative care on Tue 31 Mar. Follow-ups are due 1 month later (30
// Apr, April having no 31st; a holiday, followed by 1/5 and a weekend, so
// by 24:00 of Mon 4 May, Civil Code Art. 148), 3 months later (Tue 30
// Jun), then every 6 months (Thu 31 Dec 2026, ...). The first is on time;
// the second is late: it breaches, goes up to the city, and is missed.
func TestAlternativeCareFollowUps(t *testing.T) {
	ts := startServerAt(t, hn(2026, 3, 30, 9, 0), "")
	ts.addUser(t, "bd.worker", pb.Role_ROLE_COMMUNE_WORKER, pBaDinh)
	ts.addUser(t, "bd.chair", pb.Role_ROLE_COMMUNE_CHAIR, pBaDinh)
	// The scenario runs longer than a token lives (90 days by default).
	for _, user := range []string{"bd.worker", "bd.chair"} {
		tok, err := ts.admin().CreateToken(ts.as(t, "admin"), &pb.CreateTokenRequest{Parent: "users/" + user, Ttl: durationpb.New(400 * 24 * time.Hour)})
		if err != nil {
			t.Fatalf("token for %s: %v", user, err)
		}
		ts.tokens.put(t, user, tok.GetSecret())
	}
	p := ts.process()
	worker, chair := ts.as(t, "bd.worker"), ts.as(t, "bd.chair")
	name := openCase(t, ts, hn(2026, 3, 30, 8, 0), "00004")
	_, err := p.AcknowledgeCase(worker, &pb.AcknowledgeCaseRequest{Name: name, Etag: etagOf(t, ts, "bd.worker", name)})
	if err != nil {
		t.Fatalf("acknowledge: %v", err)
	}
	followUp := func() (*pb.Case, error) {
		return p.RecordCareFollowUp(worker, &pb.RecordCareFollowUpRequest{Name: name, Etag: etagOf(t, ts, "bd.worker", name), Notes: "trẻ ăn ngủ tốt, đi học đều"})
	}
	_, err = followUp()
	wantReason(t, err, codes.FailedPrecondition, "NOT_IN_ALTERNATIVE_CARE")

	ts.setClock(t, hn(2026, 3, 30, 10, 0))
	startTestSeparation(t, ts, "bd.chair", name, hn(2026, 3, 30, 10, 0))
	ts.setClock(t, hn(2026, 3, 31, 9, 0))
	c, err := p.PetitionCourt(chair, &pb.PetitionCourtRequest{Name: name, Etag: etagOf(t, ts, "bd.chair", name), Court: "TAND quận Ba Đình"})
	if err != nil {
		t.Fatalf("petition: %v", err)
	}
	if c, err = p.RecordCourtDecision(chair, &pb.RecordCourtDecisionRequest{Name: name, Etag: c.GetEtag(),
		DecisionNumber: "02/2026/QĐ-TA", DecisionDate: "2026-03-31", Outcome: "ALTERNATIVE_CARE"}); err != nil {
		t.Fatalf("court decision: %v", err)
	}
	f1 := findDeadline(t, c, "CARE_FOLLOW_UP", "follow-up-1")
	checkDeadline(t, f1, "OPEN", hn(2026, 5, 5, 0, 0))
	if f1.GetClock() != "CALENDAR_DAYS" || f1.GetPausable() || f1.GetUnit() != pBaDinh {
		t.Errorf("follow-up 1: clock %s pausable %v unit %s", f1.GetClock(), f1.GetPausable(), f1.GetUnit())
	}

	ts.setClock(t, hn(2026, 4, 28, 9, 0))
	waitEvents(t, ts, "bd.worker", name, "DEADLINE_WARNING", f1.GetId(), 2)
	if c, err = followUp(); err != nil {
		t.Fatalf("follow-up 1: %v", err)
	}
	checkDeadline(t, findDeadline(t, c, "CARE_FOLLOW_UP", "follow-up-1"), "MET", hn(2026, 5, 5, 0, 0))
	f2 := findDeadline(t, c, "CARE_FOLLOW_UP", "follow-up-2")
	checkDeadline(t, f2, "OPEN", hn(2026, 7, 1, 0, 0))

	// Nobody visits by 24:00 of 30 June: the breach goes up to the city.
	ts.setClock(t, hn(2026, 7, 1, 0, 1))
	waitEvents(t, ts, "bd.worker", name, "ESCALATED", f2.GetId(), 1)
	c = getCase(t, ts, "bd.worker", name)
	if f := findDeadline(t, c, "CARE_FOLLOW_UP", "follow-up-2"); !f.GetOverdue() || f.GetEscalations()[0].GetToUnit() != pCity {
		t.Errorf("follow-up 2 after its due time: overdue %v escalations %v", f.GetOverdue(), f.GetEscalations())
	}
	ts.setClock(t, hn(2026, 7, 3, 10, 0))
	if c, err = followUp(); err != nil {
		t.Fatalf("follow-up 2: %v", err)
	}
	if f := findDeadline(t, c, "CARE_FOLLOW_UP", "follow-up-2"); f.GetState() != "MISSED" || f.GetMinutesLate() != (2*24+10)*60 {
		t.Errorf("follow-up 2: state %s, %d minutes late", f.GetState(), f.GetMinutesLate())
	}
	// Every 6 months from the third: 9 months after the placement.
	checkDeadline(t, findDeadline(t, c, "CARE_FOLLOW_UP", "follow-up-3"), "OPEN", hn(2027, 1, 1, 0, 0))
	if n := len(getCase(t, ts, "bd.worker", name).GetDossier().GetCareFollowUps()); n != 2 {
		t.Errorf("%d follow-ups in the dossier, want 2", n)
	}

	// The child is separated again on 10 July and placed again: the
	// follow-ups count from the new placement, and the earlier placement's
	// open follow-up no longer applies (one open follow-up, never two).
	ts.setClock(t, hn(2026, 7, 10, 9, 0))
	startTestSeparation(t, ts, "bd.chair", name, hn(2026, 7, 10, 9, 0))
	ts.setClock(t, hn(2026, 7, 10, 11, 0))
	if c, err = p.EndSeparation(chair, &pb.EndSeparationRequest{Name: name, Etag: etagOf(t, ts, "bd.chair", name), Outcome: "ALTERNATIVE_CARE"}); err != nil {
		t.Fatalf("end the second separation: %v", err)
	}
	if f := findDeadline(t, c, "CARE_FOLLOW_UP", "follow-up-3"); f.GetState() != "CANCELLED" {
		t.Errorf("the first placement's follow-up 3 after a new placement: %s, want CANCELLED", f.GetState())
	}
	open := 0
	var second *pb.Deadline
	for _, d := range c.GetDeadlines() {
		if d.GetKind() == "CARE_FOLLOW_UP" && d.GetState() == "OPEN" {
			open++
			second = d
			if d.GetRef() != "follow-up-1" || !d.GetDueTime().AsTime().Equal(hn(2026, 8, 11, 0, 0)) {
				t.Errorf("open follow-up %s due %v, want follow-up-1 due %v", d.GetRef(), d.GetDueTime().AsTime(), hn(2026, 8, 11, 0, 0))
			}
		}
	}
	if open != 1 {
		t.Fatalf("%d open follow-ups after the second placement, want 1", open)
	}
	ts.setClock(t, hn(2026, 8, 3, 9, 0))
	// Both warnings of the new follow-up 1 are due by then: let the
	// scheduler record them before the step reads the etag.
	waitEvents(t, ts, "bd.worker", name, "DEADLINE_WARNING", second.GetId(), 2)
	if c, err = followUp(); err != nil {
		t.Fatalf("follow-up 1 of the second placement: %v", err)
	}
	// Three months after 10 July is Sat 10 October: by 24:00 of Mon 12
	// October.
	checkDeadline(t, findDeadline(t, c, "CARE_FOLLOW_UP", "follow-up-2"), "OPEN", hn(2026, 10, 13, 0, 0))
}

// Emergency clocks cannot be paused (issue 4), and the 2-hour acknowledge
// clock of an emergency is one: a report naming the stepfather on the
// night of National Day (Wed 2 Sep 2026) gives Phường Ba Đình until
// midnight to acknowledge, and its worker cannot stop that clock over
// REST, while the 24 hours of an ordinary case can be paused. A joining
// report that makes a case an emergency gives it an acknowledge clock
// that cannot be paused either.
func TestEmergencyAcknowledgeCannotBePaused(t *testing.T) {
	ts := startServerAt(t, hn(2026, 9, 2, 22, 0), "")
	worker := ts.addUser(t, "bd.worker", pb.Role_ROLE_COMMUNE_WORKER, pBaDinh)
	pause := func(name string, d *pb.Deadline) (int, map[string]any) {
		t.Helper()
		body := fmt.Sprintf(`{"etag": %q, "deadline_id": %d, "reason": "không liên lạc được với gia đình"}`, etagOf(t, ts, "bd.worker", name), d.GetId())
		code, raw := restRaw(t, ts, "POST", "/v1/"+name+":pauseDeadline", body, map[string]string{
			"Content-Type": "application/json", "Authorization": "Bearer " + worker})
		var out map[string]any
		if err := json.Unmarshal(raw, &out); err != nil {
			t.Fatalf("pause: %d, body not JSON: %s", code, raw)
		}
		return code, out
	}
	wantNotPausable := func(name string, d *pb.Deadline) {
		t.Helper()
		if d.GetPausable() {
			t.Errorf("%s of emergency case %s shows pausable", d.GetKind(), name)
		}
		code, out := pause(name, d)
		details, _ := out["details"].([]any)
		reason := ""
		for _, x := range details {
			if m, ok := x.(map[string]any); ok && m["reason"] != nil {
				reason, _ = m["reason"].(string)
			}
		}
		if code != http.StatusBadRequest || reason != "NOT_PAUSABLE" {
			t.Errorf("pausing %s of emergency case %s: %d %v, want 400 NOT_PAUSABLE", d.GetKind(), name, code, out)
		}
		if got := findDeadline(t, getCase(t, ts, "bd.worker", name), d.GetKind(), ""); got.GetPaused() || got.GetState() != "OPEN" {
			t.Errorf("%s after a refused pause: paused %v state %s", d.GetKind(), got.GetPaused(), got.GetState())
		}
	}

	emergency := reportEmergency(t, ts, hn(2026, 9, 2, 21, 40), "00004", "", false, true)
	ack := findDeadline(t, getCase(t, ts, "bd.worker", emergency), "ACKNOWLEDGE", "")
	checkDeadline(t, ack, "OPEN", hn(2026, 9, 3, 0, 0))
	wantNotPausable(emergency, ack)

	ordinary := reportEmergency(t, ts, hn(2026, 9, 2, 21, 45), "00004", "", false, false)
	ack = findDeadline(t, getCase(t, ts, "bd.worker", ordinary), "ACKNOWLEDGE", "")
	if !ack.GetPausable() {
		t.Errorf("the ordinary acknowledge clock is not pausable")
	}
	if code, out := pause(ordinary, ack); code != http.StatusOK {
		t.Fatalf("pausing the ordinary acknowledge clock: %d %v", code, out)
	}

	// A joining report says the child is in danger: the paused ordinary
	// clock gives way to the emergency's, which runs and cannot be paused.
	ts.setClock(t, hn(2026, 9, 2, 23, 0))
	reportEmergency(t, ts, hn(2026, 9, 2, 22, 50), "00004", ordinary, true, false)
	c := getCase(t, ts, "bd.worker", ordinary)
	ack = findDeadline(t, c, "ACKNOWLEDGE", "")
	checkDeadline(t, ack, "OPEN", hn(2026, 9, 3, 1, 0))
	if n := countDeadlines(c, "ACKNOWLEDGE"); n != 2 || c.GetDeadlines()[0].GetState() != "CANCELLED" {
		t.Errorf("acknowledge deadlines after the joining report: %v, want the paused one cancelled and a new one", c.GetDeadlines())
	}
	wantNotPausable(ordinary, ack)
}
