package app_test

// Scenarios of issue 11's clocks on real dates: when D6, D13 and D16 start
// and what may move them, and on what grounds a case closes.

import (
	"context"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/types/known/timestamppb"

	pb "github.com/childcase/childcase/api/childcase/v1"
	"github.com/childcase/childcase/internal/app"
	"github.com/childcase/childcase/internal/domain/clock"
)

// Phường Trúc Bạch between the reforms of 2025-01-01 and 2025-07-01.
const pTrucBach2025 = "units/00004@2025-01-01"

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

	name, c := assessedInTrucBach(t, ts, received, hn(2025, 4, 17, 10, 0))

	// The meeting was on Mon 21 April; the worker types it in on Fri 25.
	ts.setClock(t, hn(2025, 4, 25, 14, 0))
	specific := func(meeting time.Time) (*pb.Case, error) {
		return specificAssessment(p, worker, name, c.GetEtag(), meeting)
	}
	// A meeting in the future, or before the case was acknowledged, is
	// refused naming the field, and changes nothing.
	_, err := specific(hn(2025, 4, 26, 9, 0))
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
	// Half of D6 (2.5 of its working days, to 12:00 on Thu 24) had passed
	// when it was recorded: its first warning goes out at once.
	waitEvents(t, ts, "tb.worker", name, "DEADLINE_WARNING", d6.GetId(), 1)

	// Submitted on Fri 25, returned on Mon 28 April: the worker has the
	// policy's 2 working days: Tue 29, then the 30/4 - 1/5 holidays, the
	// swapped Fri 2 May and the weekend, then Mon 5 May; by 24:00 of Mon 5.
	ts.setClock(t, hn(2025, 4, 25, 18, 0))
	// Three quarters of D6 (3.75 of its working days) passed at 18:00 on
	// Fri 25: its second warning goes out as the clock moves, and must be
	// out before the etag is read.
	waitEvents(t, ts, "tb.worker", name, "DEADLINE_WARNING", d6.GetId(), 2)
	services := []*pb.PlanServiceInput{{Name: "tư vấn", Owner: "trạm y tế", CommuneAssignee: "cán bộ BVTE", StartDate: "2025-05-05", ExpectedEndDate: "2025-05-30"}}
	c, err = p.SubmitPlan(worker, &pb.SubmitPlanRequest{Name: name, Etag: etagOf(t, ts, "tb.worker", name), Services: services})
	if err != nil {
		t.Fatalf("submit: %v", err)
	}
	checkDeadline(t, findDeadline(t, c, "D6_PLAN_DRAFT", "plan-1"), "MET", hn(2025, 4, 27, 0, 0))
	ts.setClock(t, hn(2025, 4, 28, 12, 0))
	// The chair's D7 (Sat 26, a make-up day, and Mon 28) has warned twice,
	// on working time: at 00:00 and 12:00 on Mon 28.
	waitEvents(t, ts, "tb.worker", name, "DEADLINE_WARNING", findDeadline(t, c, "D7_PLAN_APPROVAL", "plan-1").GetId(), 2)
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
	ts.setClock(t, hn(2025, 4, 29, 10, 0))
	c, err = p.SubmitPlan(worker, &pb.SubmitPlanRequest{Name: name, Etag: etagOf(t, ts, "tb.worker", name), Services: services})
	if err != nil {
		t.Fatalf("submit again: %v", err)
	}
	checkDeadline(t, findDeadline(t, c, "PLAN_RESUBMIT", "plan-1"), "MET", hn(2025, 5, 6, 0, 0))
	if d7 := findDeadline(t, c, "D7_PLAN_APPROVAL", "plan-1"); d7.GetState() != "OPEN" {
		t.Errorf("D7 after the second submission: %s", d7.GetState())
	}
}

// D13 runs from when the police received the referral (Circular 43/2021
// Art. 5, "kể từ khi tiếp nhận"): the referral reaches the police unit's
// queue when it is made, so that is the start, not the liaison's later
// acknowledgement. Remote communes are named by versioned unit: code 00004
// was remote Trúc Bạch until 2025-06-30, and is Ba Đình, not remote, from
// 2025-07-01.
func TestClocksPoliceForwardFromReceipt(t *testing.T) {
	referred := hn(2025, 6, 27, 16, 0) // Friday
	ts := startServerAt(t, referred, `{"remote_communes": ["`+pTrucBach2025+`"]}`)
	ts.addPoliceUnit(t, "ca-ba-dinh", pTrucBach2025, pBaDinh)
	ts.addUser(t, "tb.worker", pb.Role_ROLE_COMMUNE_WORKER, pTrucBach2025)
	ts.addUser(t, "bd.worker", pb.Role_ROLE_COMMUNE_WORKER, pBaDinh)
	ts.addUser(t, "police.bd", pb.Role_ROLE_POLICE_LIAISON, "policeUnits/ca-ba-dinh")
	p := ts.process()
	police := ts.as(t, "police.bd")
	sexual := pb.AbuseForm_ABUSE_FORM_SEXUAL_ABUSE

	refer := func(user, name string) *pb.Case {
		t.Helper()
		c, err := p.ReferCaseToPolice(ts.as(t, user), &pb.ReferCaseToPoliceRequest{Name: name, Etag: etagOf(t, ts, user, name),
			PoliceUnit: "policeUnits/ca-ba-dinh", SuspectedOffence: "Điều 146 BLHS"})
		if err != nil {
			t.Fatalf("refer %s: %v", name, err)
		}
		return c
	}

	// Trúc Bạch, remote: 48 hours from the referral on Fri 27 June 16:00,
	// so until Sun 29 June 16:00, running from the moment it was referred.
	remote := openCase(t, ts, referred.Add(-time.Hour), "00004", sexual)
	c := refer("tb.worker", remote)
	d13 := findDeadline(t, c, "D13_POLICE_FORWARD", "policeUnits/ca-ba-dinh")
	checkDeadline(t, d13, "OPEN", hn(2025, 6, 29, 16, 0))
	if !d13.GetStartTime().AsTime().Equal(referred) {
		t.Errorf("D13 starts %v, want the referral %v", d13.GetStartTime().AsTime().In(hanoi), referred)
	}

	// The liaison acknowledges only on Mon 30 June: that does not restart
	// the clock, which is already overdue.
	ts.setClock(t, hn(2025, 6, 30, 9, 0))
	waitEvents(t, ts, "tb.worker", remote, "DEADLINE_BREACHED", d13.GetId(), 1)
	pc, err := p.AcknowledgePoliceReferral(police, &pb.AcknowledgePoliceReferralRequest{Name: remote, Etag: etagOf(t, ts, "police.bd", remote), ReferenceNumber: "CA-BD-2025/88"})
	if err != nil {
		t.Fatalf("police acknowledge: %v", err)
	}
	if n := countDeadlines(pc, "D13_POLICE_FORWARD"); n != 1 {
		t.Errorf("%d D13 deadlines after the acknowledgement, want 1", n)
	}
	d13 = findDeadline(t, pc, "D13_POLICE_FORWARD", "policeUnits/ca-ba-dinh")
	if d13.GetState() != "OPEN" || !d13.GetOverdue() || !d13.GetDueTime().AsTime().Equal(hn(2025, 6, 29, 16, 0)) {
		t.Errorf("D13 after a late acknowledgement: state %s overdue %v due %v", d13.GetState(), d13.GetOverdue(), d13.GetDueTime().AsTime().In(hanoi))
	}
	pc, err = p.RecordPoliceForwarding(police, &pb.RecordPoliceForwardingRequest{Name: remote, Etag: pc.GetEtag(), InvestigationAgency: "Cơ quan CSĐT Công an TP Hà Nội"})
	if err != nil {
		t.Fatalf("forwarding: %v", err)
	}
	if d := findDeadline(t, pc, "D13_POLICE_FORWARD", ""); d.GetState() != "MISSED" || d.GetMinutesLate() != 17*60 {
		t.Errorf("D13 forwarded Mon 09:00: state %s, %d minutes late, want MISSED 1020", d.GetState(), d.GetMinutesLate())
	}
	// Recorded as it happened: the record keeps its time and is not late.
	if r := pc.GetPoliceReferrals()[0]; !r.GetForwardRecordTime().AsTime().Equal(ts.clock.Now()) || !r.GetForwardTime().AsTime().Equal(ts.clock.Now()) || r.GetForwardLateRecording() {
		t.Errorf("forwarding recorded as it happened: %v", r)
	}

	// The same code after the reform is Ba Đình, which the policy did not
	// name: 24 hours.
	ts.setClock(t, hn(2025, 7, 2, 10, 0))
	ordinary := openCase(t, ts, ts.clock.Now().Add(-time.Hour), "00004", sexual)
	c = refer("bd.worker", ordinary)
	checkDeadline(t, findDeadline(t, c, "D13_POLICE_FORWARD", "policeUnits/ca-ba-dinh"), "OPEN", hn(2025, 7, 3, 10, 0))
}

// A bare commune code in the policy file is refused at start, naming the
// field, since codes are reused across reforms.
func TestClocksPolicyRefusesBareRemoteCode(t *testing.T) {
	cfg := testConfig(t, "")
	cfg.PolicyFile = filepath.Join(t.TempDir(), "policy.json")
	if err := os.WriteFile(cfg.PolicyFile, []byte(`{"remote_communes": ["00004"]}`), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := app.Start(context.Background(), cfg, app.Options{Clock: clock.NewFake(testNow), NoSync: true})
	if err == nil || !strings.Contains(err.Error(), "remote_communes[0]") || !strings.Contains(err.Error(), "bare commune code") {
		t.Fatalf("start with a bare remote code: %v", err)
	}
}

// A case closes when the last review rates every risk LOW (Decree 56 Art.
// 30(1)(b)), or earlier on another lawful ground recorded with a reason.
// Every closure tells the level above (the district until 2025-06-30, the
// city from 2025-07-01), marking a suspected crime closed without a police
// referral. Sexual exploitation and pornographic use are police matters
// (Child Law Art. 4); online abuse is a category that goes with the form.
func TestClocksClosureGroundsAndNotice(t *testing.T) {
	start := hn(2025, 6, 16, 9, 0) // Monday
	ts := startServerAt(t, start, "")
	ts.addPoliceUnit(t, "ca-ba-dinh", pBaDinh)
	ts.addUser(t, "tb.worker", pb.Role_ROLE_COMMUNE_WORKER, pTrucBach2025)
	ts.addUser(t, "tb.chair", pb.Role_ROLE_COMMUNE_CHAIR, pTrucBach2025)
	ts.addUser(t, "bd.worker", pb.Role_ROLE_COMMUNE_WORKER, pBaDinh)
	ts.addUser(t, "bd.chair", pb.Role_ROLE_COMMUNE_CHAIR, pBaDinh)
	ts.addUser(t, "district.bd", pb.Role_ROLE_DISTRICT_OFFICER, pDistrictBD)
	ts.addUser(t, "city", pb.Role_ROLE_CITY_OFFICER, pCity)
	p := ts.process()
	district, city := watch(t, ts, "district.bd", 0), watch(t, ts, "city", 0)

	// Trúc Bạch, June 2025: sexual exploitation, never referred. The family
	// moves away before any plan: the chair closes on that ground.
	moved := openCase(t, ts, start.Add(-time.Hour), "00004", pb.AbuseForm_ABUSE_FORM_SEXUAL_EXPLOITATION)
	c, err := p.AcknowledgeCase(ts.as(t, "tb.worker"), &pb.AcknowledgeCaseRequest{Name: moved, Etag: etagOf(t, ts, "tb.worker", moved)})
	if err != nil {
		t.Fatalf("acknowledge: %v", err)
	}
	chair := ts.as(t, "tb.chair")
	_, err = p.ApproveClosure(chair, &pb.ApproveClosureRequest{Name: moved, Etag: c.GetEtag(), Reason: "gia đình chuyển vào TP Hồ Chí Minh"})
	wantReason(t, err, codes.FailedPrecondition, "NO_CLOSURE_PROPOSAL")
	_, err = p.ApproveClosure(chair, &pb.ApproveClosureRequest{Name: moved, Etag: c.GetEtag(), Reason: "gia đình chuyển vào TP Hồ Chí Minh",
		Ground: pb.ClosureGround_CLOSURE_GROUND_MOVED_AWAY})
	wantReason(t, err, codes.FailedPrecondition, "POLICE_REFERRAL_REQUIRED")
	c, err = p.ApproveClosure(chair, &pb.ApproveClosureRequest{Name: moved, Etag: c.GetEtag(), Reason: "gia đình chuyển vào TP Hồ Chí Minh",
		Ground: pb.ClosureGround_CLOSURE_GROUND_MOVED_AWAY, NoPoliceReferralReason: "gia đình đã trình báo công an nơi ở mới"})
	if err != nil {
		t.Fatalf("closure on moving away: %v", err)
	}
	if c.GetStatus() != pb.CaseStatus_CASE_STATUS_CLOSED {
		t.Errorf("status %v", c.GetStatus())
	}
	n := district.waitFor(t, "CLOSED", moved)
	if !slices.Contains(n.GetUnits(), pDistrictBD) || !strings.Contains(n.GetDetail(), "MOVED_AWAY") || !strings.Contains(n.GetDetail(), "NO_POLICE_REFERRAL") {
		t.Errorf("the district's closure notice: %v", n)
	}
	if e := caseEvents(t, ts, "tb.worker", moved); countEvents(e, "CLOSED", 0) != 1 {
		t.Errorf("timeline: %v", kinds(e))
	}

	// Ba Đình, July 2025: pornographic use online. A review that rates any
	// risk above LOW cannot propose closure.
	ts.setClock(t, hn(2025, 7, 7, 9, 0))
	online := openCase(t, ts, ts.clock.Now().Add(-time.Hour), "00004",
		pb.AbuseForm_ABUSE_FORM_PORNOGRAPHIC_USE, pb.AbuseForm_ABUSE_FORM_ONLINE)
	if got := getCase(t, ts, "bd.worker", online).GetSuspectedAbuse(); !slices.Contains(got, pb.AbuseForm_ABUSE_FORM_ONLINE) {
		t.Errorf("suspected abuse %v lacks ONLINE", got)
	}
	walkToReviewStart(t, ts, "bd.worker", "bd.chair", online)
	_, err = p.RecordReview(ts.as(t, "bd.worker"), &pb.RecordReviewRequest{Name: online, Etag: etagOf(t, ts, "bd.worker", online),
		HarmSeverity: low(), AbuserAccess: pb.RiskLevel_RISK_LEVEL_MEDIUM, SafetyObstacles: low(), Outcome: "PROPOSE_CLOSURE",
		SelfProtection: "biết gọi 111", Recovery: "đi học lại"})
	wantField(t, err, "outcome")
	c, err = p.RecordReview(ts.as(t, "bd.worker"), &pb.RecordReviewRequest{Name: online, Etag: etagOf(t, ts, "bd.worker", online),
		HarmSeverity: low(), AbuserAccess: low(), SafetyObstacles: low(), Outcome: "PROPOSE_CLOSURE",
		SelfProtection: "biết gọi 111", Recovery: "đi học lại"})
	if err != nil {
		t.Fatalf("review: %v", err)
	}
	// A police matter: the referral comes first; then the risk ground (the
	// default) closes it, and the city hears of it without a mark.
	_, err = p.ApproveClosure(ts.as(t, "bd.chair"), &pb.ApproveClosureRequest{Name: online, Etag: c.GetEtag(), Reason: "trẻ an toàn"})
	wantReason(t, err, codes.FailedPrecondition, "POLICE_REFERRAL_REQUIRED")
	c, err = p.ReferCaseToPolice(ts.as(t, "bd.worker"), &pb.ReferCaseToPoliceRequest{Name: online, Etag: c.GetEtag(),
		PoliceUnit: "policeUnits/ca-ba-dinh", SuspectedOffence: "Điều 147 BLHS"})
	if err != nil {
		t.Fatalf("refer: %v", err)
	}
	_, err = p.ApproveClosure(ts.as(t, "bd.chair"), &pb.ApproveClosureRequest{Name: online, Etag: c.GetEtag(), Reason: "trẻ an toàn"})
	if err != nil {
		t.Fatalf("closure on low risk: %v", err)
	}
	n = city.waitFor(t, "CLOSED", online)
	if !slices.Contains(n.GetUnits(), pCity) || !strings.Contains(n.GetDetail(), "RISK_LOW") || strings.Contains(n.GetDetail(), "NO_POLICE_REFERRAL") {
		t.Errorf("the city's closure notice: %v", n)
	}
}

// D16 is a day count (Civil Code Arts. 147-148, domain reference section
// 5): forwarded on Sat 12 Dec 2026, its 20th day is Fri 1 Jan 2027, New
// Year's Day, so the investigators have until the end of the next working
// day, Mon 4 Jan 2027, and a decision that day is on time. A separation
// (D4) is a maximum and is not extended over a day off.
func TestClocksProsecutionEndsOnAWorkingDay(t *testing.T) {
	ts, name, pc := forwardedCrimeReport(t, hn(2026, 12, 12, 9, 0), hn(2026, 12, 12, 15, 0)) // a Saturday
	p, police, worker := ts.process(), ts.as(t, "police.bd"), ts.as(t, "bd.worker")
	d16 := findDeadline(t, pc, "D16_PROSECUTION", "policeUnits/ca-ba-dinh")
	checkDeadline(t, d16, "OPEN", hn(2027, 1, 5, 0, 0))
	if _, err := p.AcknowledgeCase(worker, &pb.AcknowledgeCaseRequest{Name: name, Etag: etagOf(t, ts, "bd.worker", name)}); err != nil {
		t.Fatalf("acknowledge: %v", err)
	}

	// Mon 4 Jan 2027, after both warnings, the decision is still on time.
	ts.setClock(t, hn(2027, 1, 4, 16, 0))
	waitEvents(t, ts, "bd.worker", name, "DEADLINE_WARNING", d16.GetId(), 2)
	pc, err := p.RecordPoliceOutcome(police, &pb.RecordPoliceOutcomeRequest{Name: name, Etag: etagOf(t, ts, "police.bd", name), Outcome: "PROSECUTED"})
	if err != nil {
		t.Fatalf("police outcome: %v", err)
	}
	checkDeadline(t, findDeadline(t, pc, "D16_PROSECUTION", ""), "MET", hn(2027, 1, 5, 0, 0))
}

// forwardedCrimeReport starts the service at referred, opens a case of
// sexual abuse in Phường Ba Đình an hour before, which its worker
// (bd.worker) refers to the ward police, whose liaison (police.bd)
// acknowledges it and, at forwarded, forwards it to the investigators. It
// returns the server, the case's name and the case as forwarded.
func forwardedCrimeReport(t *testing.T, referred, forwarded time.Time) (*testServer, string, *pb.Case) {
	t.Helper()
	ts := startServerAt(t, referred, "")
	ts.addPoliceUnit(t, "ca-ba-dinh", pBaDinh)
	ts.addUser(t, "bd.worker", pb.Role_ROLE_COMMUNE_WORKER, pBaDinh)
	ts.addUser(t, "police.bd", pb.Role_ROLE_POLICE_LIAISON, "policeUnits/ca-ba-dinh")
	p := ts.process()
	police, worker := ts.as(t, "police.bd"), ts.as(t, "bd.worker")

	name := openCase(t, ts, referred.Add(-time.Hour), "00004", pb.AbuseForm_ABUSE_FORM_SEXUAL_ABUSE)
	if _, err := p.ReferCaseToPolice(worker, &pb.ReferCaseToPoliceRequest{Name: name, Etag: etagOf(t, ts, "bd.worker", name),
		PoliceUnit: "policeUnits/ca-ba-dinh", SuspectedOffence: "Điều 146 BLHS"}); err != nil {
		t.Fatalf("refer: %v", err)
	}
	if _, err := p.AcknowledgePoliceReferral(police, &pb.AcknowledgePoliceReferralRequest{Name: name, Etag: etagOf(t, ts, "police.bd", name), ReferenceNumber: "CA-BD-2026/301"}); err != nil {
		t.Fatalf("police acknowledge: %v", err)
	}
	ts.setClock(t, forwarded)
	pc, err := p.RecordPoliceForwarding(police, &pb.RecordPoliceForwardingRequest{Name: name, Etag: etagOf(t, ts, "police.bd", name), InvestigationAgency: "Cơ quan CSĐT"})
	if err != nil {
		t.Fatalf("forwarding: %v", err)
	}
	return ts, name, pc
}

// D16: the police liaison records a lawful extension or suspension of the
// 20 days (Criminal Procedure Code Art. 147(3)-(4)) with the decision
// number and reason. An extension moves the due date, at most to two
// months from the start, and a second (the procuracy's) to four; a
// suspension stops the clock until it is resumed. Each change is on the
// commune's timeline and, with its decision, in both views of the case.
func TestClocksProsecutionExtensionAndSuspension(t *testing.T) {
	ts, name, pc := forwardedCrimeReport(t, hn(2026, 12, 4, 10, 0), hn(2026, 12, 4, 15, 0)) // a Friday
	p, police, worker := ts.process(), ts.as(t, "police.bd"), ts.as(t, "bd.worker")
	// 20 days from Fri 4 Dec: until 24:00 of Thu 24 Dec.
	d16 := findDeadline(t, pc, "D16_PROSECUTION", "policeUnits/ca-ba-dinh")
	checkDeadline(t, d16, "OPEN", hn(2026, 12, 25, 0, 0))

	extend := func(until string) (*pb.Case, error) {
		return p.ExtendPoliceDeadline(police, &pb.ExtendPoliceDeadlineRequest{Name: name, Etag: etagOf(t, ts, "police.bd", name),
			DecisionNumber: "12/QĐ-CSĐT", Reason: "phải xác minh tại nhiều địa điểm", UntilDate: until})
	}
	// Mon 21 Dec: extended, but not beyond two months (4 Feb 2027). By
	// then D16 has warned twice, and the commune's missed acknowledgement
	// went to the city.
	ts.setClock(t, hn(2026, 12, 21, 9, 0))
	waitEvents(t, ts, "bd.worker", name, "DEADLINE_WARNING", d16.GetId(), 2)
	waitEvents(t, ts, "bd.worker", name, "ESCALATED", findDeadline(t, getCase(t, ts, "bd.worker", name), "ACKNOWLEDGE", "").GetId(), 1)
	_, err := p.ExtendPoliceDeadline(worker, &pb.ExtendPoliceDeadlineRequest{Name: name, Etag: etagOf(t, ts, "bd.worker", name),
		DecisionNumber: "12/QĐ-CSĐT", Reason: "x", UntilDate: "2027-02-04"})
	wantCode(t, err, codes.PermissionDenied)
	_, err = extend("2027-02-05")
	wantField(t, err, "until_date")
	pc, err = extend("2027-02-04")
	if err != nil {
		t.Fatalf("extension: %v", err)
	}
	checkDeadline(t, findDeadline(t, pc, "D16_PROSECUTION", ""), "OPEN", hn(2027, 2, 5, 0, 0))

	// Mon 4 Jan: suspended (awaiting a forensic examination). Six weeks
	// later, past the extended due date, nothing has breached.
	ts.setClock(t, hn(2027, 1, 4, 9, 0))
	if _, err = p.SuspendPoliceDeadline(police, &pb.SuspendPoliceDeadlineRequest{Name: name, Etag: etagOf(t, ts, "police.bd", name),
		DecisionNumber: "3/QĐ-TĐC", Reason: "chờ kết luận giám định"}); err != nil {
		t.Fatalf("suspension: %v", err)
	}
	// A sentinel case's acknowledgement, due an hour before the clock
	// stops, shows the scheduler has run that far.
	ts.setClock(t, hn(2027, 2, 14, 8, 0))
	sentinel := openCase(t, ts, ts.clock.Now(), "00004")
	ts.setClock(t, hn(2027, 2, 15, 9, 0))
	waitEvents(t, ts, "bd.worker", sentinel, "DEADLINE_BREACHED", 0, 1)
	if n := countEvents(caseEvents(t, ts, "bd.worker", name), "DEADLINE_BREACHED", d16.GetId()); n != 0 {
		t.Errorf("the suspended D16 breached %d times", n)
	}
	// Resumed after exactly 42 days: the due time moves by as much.
	pc, err = p.ResumePoliceDeadline(police, &pb.ResumePoliceDeadlineRequest{Name: name, Etag: etagOf(t, ts, "police.bd", name),
		DecisionNumber: "4/QĐ-PHGQ", Reason: "đã có kết luận giám định"})
	if err != nil {
		t.Fatalf("resumption: %v", err)
	}
	checkDeadline(t, findDeadline(t, pc, "D16_PROSECUTION", ""), "OPEN", hn(2027, 3, 19, 0, 0))

	// The procuracy's extension: four months from the start, which the
	// suspension moved to 15 Jan, so up to 15 May; no third.
	_, err = extend("2027-05-16")
	wantField(t, err, "until_date")
	if pc, err = extend("2027-05-15"); err != nil {
		t.Fatalf("second extension: %v", err)
	}
	checkDeadline(t, findDeadline(t, pc, "D16_PROSECUTION", ""), "OPEN", hn(2027, 5, 16, 0, 0))
	_, err = extend("2027-05-20")
	wantReason(t, err, codes.FailedPrecondition, "EXTENSIONS_EXHAUSTED")

	// The commune sees each decision, and so does the police view.
	for _, view := range []*pb.Case{pc, getCase(t, ts, "bd.worker", name)} {
		r := view.GetPoliceReferrals()[0]
		var got []string
		for _, d := range r.GetDecisions() {
			got = append(got, d.GetKind()+" "+d.GetDecisionNumber())
		}
		want := []string{"EXTENSION 12/QĐ-CSĐT", "SUSPENSION 3/QĐ-TĐC", "RESUMPTION 4/QĐ-PHGQ", "EXTENSION 12/QĐ-CSĐT"}
		if !slices.Equal(got, want) {
			t.Errorf("decisions %v, want %v", got, want)
		}
		if r.GetDecisions()[0].GetReason() == "" || r.GetDecisions()[0].GetUntilDate() != "2027-02-04" {
			t.Errorf("first decision: %v", r.GetDecisions()[0])
		}
	}
	inOrder(t, caseEvents(t, ts, "bd.worker", name), "POLICE_FORWARDED", "POLICE_DEADLINE_EXTENDED", "POLICE_DEADLINE_SUSPENDED",
		"POLICE_DEADLINE_RESUMED", "POLICE_DEADLINE_EXTENDED")
}

// Over the API, TURNED_16 is FAILED_PRECONDITION (CHILD_UNDER_16) while
// the child is under 16 by the date of birth recorded (10 March 2010) and
// closes the case from the 16th birthday, and the timeline names TURNED_16.
func TestClocksClosureOnTurned16(t *testing.T) {
	receive := hn(2026, 3, 2, 9, 0) // Monday
	ts := startServerAt(t, receive.Add(time.Hour), "")
	ts.addUser(t, "bd.worker", pb.Role_ROLE_COMMUNE_WORKER, pBaDinh)
	ts.addUser(t, "bd.chair", pb.Role_ROLE_COMMUNE_CHAIR, pBaDinh)
	r := validReport()
	r.Caregivers[0].SuspectedAbuser = false
	r.ReceiveTime = timestamppb.New(receive)
	r.Children[0].Age = &pb.Child_BirthDate{BirthDate: "2010-03-10"}
	created, err := ts.reports().CreateReport(ts.as(t, operatorID), &pb.CreateReportRequest{Report: r})
	if err != nil {
		t.Fatalf("create report: %v", err)
	}
	name, p, chair := created.GetCase(), ts.process(), ts.as(t, "bd.chair")
	// Acknowledged, the case runs no clock: no timer changes it (and its
	// etag) while the clock moves on.
	if _, err := p.AcknowledgeCase(ts.as(t, "bd.worker"), &pb.AcknowledgeCaseRequest{Name: name, Etag: etagOf(t, ts, "bd.worker", name)}); err != nil {
		t.Fatalf("acknowledge: %v", err)
	}
	closure := func(ground pb.ClosureGround) (*pb.Case, error) {
		return p.ApproveClosure(chair, &pb.ApproveClosureRequest{Name: name, Etag: etagOf(t, ts, "bd.chair", name),
			Reason: "trẻ đã đủ 16 tuổi", Ground: ground, NoPoliceReferralReason: "không có dấu hiệu tội phạm"})
	}
	ts.setClock(t, hn(2026, 3, 9, 23, 59))
	_, err = closure(pb.ClosureGround_CLOSURE_GROUND_TURNED_16)
	wantReason(t, err, codes.FailedPrecondition, "CHILD_UNDER_16")
	// Over REST as the README's table writes it, the ground's short name
	// is refused as an unknown enum value (nothing done); its full name
	// is the ground, refused here as a child under 16 (400).
	rest := func(ground string) (int, string) {
		code, raw := restRaw(t, ts, "POST", "/v1/"+name+":approveClosure",
			`{"etag":"`+etagOf(t, ts, "bd.chair", name)+`","ground":"`+ground+`","reason":"trẻ đã đủ 16 tuổi","no_police_referral_reason":"không có dấu hiệu tội phạm"}`,
			map[string]string{"Authorization": "Bearer " + ts.tokens.get("bd.chair")})
		return code, string(raw)
	}
	if code, raw := rest("TURNED_16"); code != http.StatusBadRequest || !strings.Contains(raw, `"field":"ground"`) ||
		!strings.Contains(raw, `invalid value for enum field ground`) || strings.Contains(raw, `"TURNED_16`) {
		t.Errorf(`REST closure on "ground":"TURNED_16": %d %s, want 400 naming the field and what it takes, not the value sent`, code, raw)
	}
	if code, raw := rest("CLOSURE_GROUND_TURNED_16"); code != http.StatusBadRequest || !strings.Contains(raw, `"reason":"CHILD_UNDER_16"`) {
		t.Errorf(`REST closure on "ground":"CLOSURE_GROUND_TURNED_16" before the 16th birthday: %d %s, want 400, CHILD_UNDER_16`, code, raw)
	}
	ts.setClock(t, hn(2026, 3, 10, 8, 0))
	c, err := closure(pb.ClosureGround_CLOSURE_GROUND_TURNED_16)
	if err != nil {
		t.Fatalf("closure on TURNED_16 on the 16th birthday: %v", err)
	}
	if c.GetStatus() != pb.CaseStatus_CASE_STATUS_CLOSED {
		t.Errorf("status %v, want closed", c.GetStatus())
	}
	var details []string
	for _, e := range caseEvents(t, ts, "bd.chair", name) {
		if e.GetKind() == "CLOSED" {
			details = append(details, e.GetDetail())
		}
	}
	if !slices.Equal(details, []string{"ground TURNED_16"}) {
		t.Errorf("the closure's timeline entries say %q, want one: ground TURNED_16", details)
	}
}

// The police date their forwarding to the investigators, and the record
// keeps when it was made: one made later than the policy's late_recording
// (24 h) after its forward_time is flagged as late emergency measures are.
// Referred Tue 17 Nov 2026 09:00, acknowledged at 10:00; D13 breaches on
// Wed 18 Nov 09:00 and goes up to the city police; at 15:00 that day, 30
// hours after the referral, the liaison records the forwarding dated 11:00
// the day before. D13 is met by that date, but its breach and escalation
// stay on the deadline and the timeline, the police track shows when the
// forwarding was recorded and that it was late, and the statistics count
// the late record.
func TestClocksPoliceForwardingRecordedLate(t *testing.T) {
	referred := hn(2026, 11, 17, 9, 0)
	ts := startServerAt(t, referred, "")
	ts.addPoliceUnit(t, "ca-ba-dinh", pBaDinh)
	ts.addPoliceUnit(t, "ca-ha-noi") // the city police, above the ward's
	ts.addUser(t, "bd.worker", pb.Role_ROLE_COMMUNE_WORKER, pBaDinh)
	ts.addUser(t, "police.bd", pb.Role_ROLE_POLICE_LIAISON, "policeUnits/ca-ba-dinh")
	ts.addUser(t, "city", pb.Role_ROLE_CITY_OFFICER, pCity)
	const police, cityPolice = "policeUnits/ca-ba-dinh", "policeUnits/ca-ha-noi"
	p := ts.process()
	liaison := ts.as(t, "police.bd")
	name := openCase(t, ts, referred.Add(-30*time.Minute), "00004", pb.AbuseForm_ABUSE_FORM_SEXUAL_ABUSE)
	c, err := p.ReferCaseToPolice(ts.as(t, "bd.worker"), &pb.ReferCaseToPoliceRequest{Name: name, Etag: etagOf(t, ts, "bd.worker", name),
		PoliceUnit: police, SuspectedOffence: "Điều 146 BLHS"})
	if err != nil {
		t.Fatalf("refer: %v", err)
	}
	d13 := findDeadline(t, c, "D13_POLICE_FORWARD", police)
	ts.setClock(t, hn(2026, 11, 17, 10, 0))
	if _, err := p.AcknowledgePoliceReferral(liaison, &pb.AcknowledgePoliceReferralRequest{Name: name, Etag: etagOf(t, ts, "police.bd", name), ReferenceNumber: "CA-BD-2026/301"}); err != nil {
		t.Fatalf("acknowledge: %v", err)
	}
	ts.setClock(t, hn(2026, 11, 18, 10, 0))
	waitEvents(t, ts, "bd.worker", name, "ESCALATED", d13.GetId(), 1)

	recorded, forwarded := hn(2026, 11, 18, 15, 0), hn(2026, 11, 17, 11, 0)
	ts.setClock(t, recorded)
	pw := watch(t, ts, "police.bd", 0)
	pc, err := p.RecordPoliceForwarding(liaison, &pb.RecordPoliceForwardingRequest{Name: name, Etag: etagOf(t, ts, "police.bd", name),
		InvestigationAgency: "Cơ quan CSĐT Công an TP Hà Nội", ForwardTime: timestamppb.New(forwarded)})
	if err != nil {
		t.Fatalf("forwarding: %v", err)
	}
	// The liaison's answer and the commune's full view show the same
	// track and the same D13.
	for who, c := range map[string]*pb.Case{"police.bd": pc, "bd.worker": getCase(t, ts, "bd.worker", name)} {
		var r *pb.PoliceReferral
		for _, x := range c.GetPoliceReferrals() {
			if x.GetPoliceUnit() == police {
				r = x
			}
		}
		if r == nil || !r.GetForwardTime().AsTime().Equal(forwarded) || !r.GetForwardRecordTime().AsTime().Equal(recorded) || !r.GetForwardLateRecording() {
			t.Errorf("%s sees the referral %v, want forwarded %v, recorded %v, flagged late", who, r, forwarded, recorded)
		}
		d := findDeadline(t, c, "D13_POLICE_FORWARD", police)
		e := d.GetEscalations()
		if d.GetState() != "MET" || !d.GetDoneTime().AsTime().Equal(forwarded) || !d.GetBreached() || len(e) != 1 || e[0].GetToUnit() != cityPolice {
			t.Errorf("%s sees D13 %s done %v breached %v escalations %v; want MET by %v, breached, escalated to %s",
				who, d.GetState(), d.GetDoneTime().AsTime().In(hanoi), d.GetBreached(), e, forwarded, cityPolice)
		}
	}
	events := caseEvents(t, ts, "bd.worker", name)
	var mine []*pb.CaseEvent
	for _, e := range events {
		if e.GetDeadlineId() == d13.GetId() || e.GetKind() == "LATE_RECORDING" {
			mine = append(mine, e)
		}
	}
	inOrder(t, mine, "DEADLINE_BREACHED", "ESCALATED", "LATE_RECORDING", "DEADLINE_MET")
	if n := countEvents(events, "LATE_RECORDING", 0); n != 1 {
		t.Errorf("%d LATE_RECORDING events, want 1", n)
	}
	if n := pw.waitFor(t, "LATE_RECORDING", name); !slices.Contains(n.GetUnits(), police) || !slices.Contains(n.GetUnits(), cityPolice) || !slices.Contains(n.GetUnits(), pBaDinh) {
		t.Errorf("the late record's notice went to %v, want the police unit, the city police and the commune", n.GetUnits())
	}
	got, err := pb.NewStatisticsServiceClient(ts.conn).GetStatistics(ts.as(t, "city"), &pb.GetStatisticsRequest{StartDate: "2026-11-01", EndDate: "2026-11-30"})
	if err != nil {
		t.Fatal(err)
	}
	if g := got.GetGroups(); len(g) != 1 || g[0].GetLateRecordings() != 1 {
		t.Errorf("November's statistics: %v, want one late recording", g)
	}
}

// The README: a late record of the police's forwarding is "notified to
// the police unit, the city police above it and the commune". With a
// late_recording of 2 hours the record is late while D13 is still met in
// time, so no escalation has let the city police in: the notice named it
// but never reached its watch, and the case it named answered not found.
// Told of it, the city police now sees the case in the police view, with
// the referral recorded late and none of the ward police's clocks (none
// was escalated to it), and lists it.
func TestClocksLatePoliceForwardingReachesTheCityPolice(t *testing.T) {
	ts := startServerAt(t, testNow, `{"late_recording": {"hours": 2}}`)
	ts.addPoliceUnit(t, "ca-ba-dinh", pBaDinh)
	ts.addPoliceUnit(t, "ca-ha-noi") // the city police, above the ward's
	ts.addUser(t, "bd.worker", pb.Role_ROLE_COMMUNE_WORKER, pBaDinh)
	ts.addUser(t, "police.bd", pb.Role_ROLE_POLICE_LIAISON, "policeUnits/ca-ba-dinh")
	ts.addUser(t, "police.city", pb.Role_ROLE_POLICE_LIAISON, "policeUnits/ca-ha-noi")
	const police = "policeUnits/ca-ba-dinh"
	name, _, cw := referWatched(t, ts, "police.city")
	p, liaison := ts.process(), ts.as(t, "police.bd")
	ts.advance(t, time.Hour)
	if _, err := p.AcknowledgePoliceReferral(liaison, &pb.AcknowledgePoliceReferralRequest{Name: name, Etag: etagOf(t, ts, "police.bd", name), ReferenceNumber: "CA-BD-2026/302"}); err != nil {
		t.Fatalf("acknowledge: %v", err)
	}
	forwarded := ts.clock.Now().Add(time.Hour)
	ts.advance(t, 8*time.Hour) // 9 hours after the referral: D13 runs until 24
	pc, err := p.RecordPoliceForwarding(liaison, &pb.RecordPoliceForwardingRequest{Name: name, Etag: etagOf(t, ts, "police.bd", name),
		InvestigationAgency: "Cơ quan CSĐT Công an TP Hà Nội", ForwardTime: timestamppb.New(forwarded)})
	if err != nil {
		t.Fatalf("forwarding: %v", err)
	}
	if r := pc.GetPoliceReferrals()[0]; !r.GetForwardLateRecording() {
		t.Fatalf("the forwarding recorded 7 hours after it was made is not flagged late: %v", r)
	}
	if d := findDeadline(t, pc, "D13_POLICE_FORWARD", police); d.GetState() != "MET" || d.GetBreached() || len(d.GetEscalations()) != 0 {
		t.Fatalf("D13 %s breached %v escalations %v; want met in time, never escalated", d.GetState(), d.GetBreached(), d.GetEscalations())
	}

	if n := cw.waitFor(t, "LATE_RECORDING", name); !slices.Contains(n.GetUnits(), "policeUnits/ca-ha-noi") {
		t.Errorf("the late record's notice went to %v, want the city police among them", n.GetUnits())
	}
	cv := getCase(t, ts, "police.city", name)
	if refs := cv.GetPoliceReferrals(); len(refs) != 1 || refs[0].GetPoliceUnit() != police || !refs[0].GetForwardLateRecording() {
		t.Errorf("the city police's view shows the referrals %v, want the ward police's, flagged late", refs)
	}
	if len(cv.GetDeadlines()) != 0 || len(cv.GetReports()) != 0 || cv.GetDossier() != nil {
		t.Errorf("the city police's view shows deadlines %v reports %v dossier %v; want none", cv.GetDeadlines(), cv.GetReports(), cv.GetDossier())
	}
	if got := queue(t, ts, "police.city", pb.CaseQueue_CASE_QUEUE_UNSPECIFIED); !slices.Equal(got, []string{name}) {
		t.Errorf("the city police's list: %v, want [%s]", got, name)
	}
	// It was told, not handed the ward police's track: their steps stay
	// theirs.
	_, err = p.RecordPoliceOutcome(ts.as(t, "police.city"), &pb.RecordPoliceOutcomeRequest{Name: name, Etag: cv.GetEtag(), Outcome: "PROSECUTED"})
	wantCode(t, err, codes.NotFound)
}

// assessedInTrucBach opens a case in Trúc Bạch received at received, and
// has tb.worker acknowledge it at acknowledged and record its initial
// assessment: a case ready for its specific assessment.
func assessedInTrucBach(t *testing.T, ts *testServer, received, acknowledged time.Time) (string, *pb.Case) {
	t.Helper()
	p, worker := ts.process(), ts.as(t, "tb.worker")
	name := openCase(t, ts, received, "00004")
	ts.setClock(t, acknowledged)
	c, err := p.AcknowledgeCase(worker, &pb.AcknowledgeCaseRequest{Name: name, Etag: etagOf(t, ts, "tb.worker", name)})
	if err != nil {
		t.Fatalf("acknowledge: %v", err)
	}
	c, err = p.RecordInitialAssessment(worker, &pb.RecordInitialAssessmentRequest{Name: name, Etag: c.GetEtag(),
		HarmSeverity: pb.RiskLevel_RISK_LEVEL_MEDIUM, AbuserAccess: low(), SafetyObstacles: low()})
	if err != nil {
		t.Fatalf("initial assessment: %v", err)
	}
	return name, c
}

// specificAssessment records the specific assessment of the meeting at
// meeting.
func specificAssessment(p pb.CaseProcessServiceClient, worker context.Context, name, etag string, meeting time.Time) (*pb.Case, error) {
	return p.RecordSpecificAssessment(worker, &pb.RecordSpecificAssessmentRequest{Name: name, Etag: etag,
		Needs: "hỗ trợ tâm lý", ChildViews: "muốn đi học", MeetingRecord: "biên bản họp", MeetingTime: timestamppb.New(meeting), MeetingChair: chairAttendee()})
}

// A meeting_time in the minute the case was acknowledged is not "before"
// the acknowledgement, whatever second of that minute the service
// recorded: people give times to the minute (the console's fields take
// hh:mm), and a worker who acknowledges and records the meeting held then
// must not be refused, nor one who types back the time a refusal showed.
// A minute earlier is before it.
func TestMeetingInTheMinuteOfTheAcknowledgement(t *testing.T) {
	received := hn(2025, 4, 17, 9, 0)
	ts := startServerAt(t, received, "")
	ts.addUser(t, "tb.worker", pb.Role_ROLE_COMMUNE_WORKER, pTrucBach2025)
	p, worker := ts.process(), ts.as(t, "tb.worker")
	acknowledged := hn(2025, 4, 17, 10, 0)
	name, c := assessedInTrucBach(t, ts, received, acknowledged.Add(37*time.Second+700*time.Millisecond))
	ts.setClock(t, hn(2025, 4, 17, 11, 0))
	_, err := specificAssessment(p, worker, name, c.GetEtag(), acknowledged.Add(-time.Second))
	wantField(t, err, "meeting_time")
	if _, err := specificAssessment(p, worker, name, c.GetEtag(), acknowledged); err != nil {
		t.Fatalf("a meeting in the minute of the acknowledgement: %v", err)
	}
}
