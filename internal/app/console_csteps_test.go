package app_test

import (
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	pb "github.com/childcase/childcase/api/childcase/v1"
)

// The case page offers the forms of the steps the person may take now:
// those GetCase answers in allowed_steps, by the process table's gates,
// not every step their role may take.

// toPlanDraft walks the console's case, as the Ba Đình worker, through
// both assessments to a plan in draft, and returns its name and the day
// in Hanoi.
func toPlanDraft(t *testing.T, ts *testServer, number string) (name, day string) {
	t.Helper()
	name = acknowledged(t, ts, number)
	p, w := ts.process(), ts.as(t, "bd.worker")
	c, err := p.RecordInitialAssessment(w, &pb.RecordInitialAssessmentRequest{Name: name, Etag: etagOf(t, ts, "bd.worker", name), HarmSeverity: low(), AbuserAccess: low(), SafetyObstacles: low()})
	if err == nil {
		_, err = p.RecordSpecificAssessment(w, &pb.RecordSpecificAssessmentRequest{Name: name, Etag: c.GetEtag(), Needs: "tư vấn tâm lý",
			ChildViews: "muốn ở với mẹ", MeetingRecord: "biên bản họp", MeetingTime: timestamppb.New(ts.clock.Now()), MeetingChair: chairAttendee()})
	}
	if err != nil {
		t.Fatalf("walk the case to a plan in draft: %v", err)
	}
	return name, ts.clock.Now().In(hanoi).Format(time.DateOnly)
}

// submitPlan has the Ba Đình worker submit a plan of one service.
func submitPlan(t *testing.T, ts *testServer, name, day string) {
	t.Helper()
	_, err := ts.process().SubmitPlan(ts.as(t, "bd.worker"), &pb.SubmitPlanRequest{Name: name, Etag: etagOf(t, ts, "bd.worker", name), Services: []*pb.PlanServiceInput{{
		Name: "tư vấn tâm lý", Owner: "trạm y tế phường", CommuneAssignee: "cán bộ BVTE", StartDate: day, ExpectedEndDate: day}}})
	if err != nil {
		t.Fatalf("submit the plan: %v", err)
	}
}

// casePageOf signs user in and returns their page of the case.
func casePageOf(t *testing.T, ts *testServer, user, number string) (*browser, string) {
	t.Helper()
	b := newBrowser(t, ts)
	b.signIn(user)
	resp, page := b.get("/cases/" + number)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("%s's case page: %s", user, resp.Status)
	}
	return b, page
}

// expectForms checks which step forms a page has, and that those it has
// are open.
func expectForms(t *testing.T, who, page, number string, shown, hidden []string) {
	t.Helper()
	for _, step := range shown {
		if stepForm(page, number, step) == "" {
			t.Errorf("%s: the page has no %s form", who, step)
		} else if !strings.Contains(page, `<details id="step-`+step+`" open>`) {
			t.Errorf("%s: the %s form is folded", who, step)
		}
	}
	for _, step := range hidden {
		if stepForm(page, number, step) != "" {
			t.Errorf("%s: the page offers %s, which the case's state does not allow", who, step)
		}
	}
}

func TestConsoleStepsWorkerSeesTheStepOfTheCaseNow(t *testing.T) {
	ts, number := caseConsole(t)
	name := "cases/" + number
	b, page := casePageOf(t, ts, "bd.worker", number)
	expectForms(t, "a new case", page, number, []string{"AcknowledgeCase", "AddCaseNote"},
		[]string{"RecordInitialAssessment", "RecordSpecificAssessment", "SubmitPlan", "RecordServiceProgress", "StartReview", "RecordReview"})
	if got := getCase(t, ts, "bd.worker", name).GetAllowedSteps(); !slices.Contains(got, "acknowledge") || slices.Contains(got, "submitPlan") {
		t.Errorf("GetCase's allowed_steps for the worker on a new case: %v", got)
	}

	resp, _ := b.post("/cases/"+number+"/steps/AcknowledgeCase", formValues(t, stepForm(page, number, "AcknowledgeCase")))
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("acknowledge from the page: %s", resp.Status)
	}
	_, page = b.get("/cases/" + number)
	expectForms(t, "an acknowledged case", page, number, []string{"RecordInitialAssessment"},
		[]string{"AcknowledgeCase", "RecordSpecificAssessment", "SubmitPlan", "StartReview"})
	// The allowed steps come first, before the timeline.
	if i, j := strings.Index(page, `id="steps"`), strings.Index(page, `id="timeline"`); i < 0 || j < 0 || i > j {
		t.Errorf("the steps (at %d) do not come before the timeline (at %d)", i, j)
	}
}

func TestConsoleStepsChairApprovesOnlyASubmittedPlan(t *testing.T) {
	ts, number := caseConsole(t)
	name, day := toPlanDraft(t, ts, number)
	_, page := casePageOf(t, ts, "bd.chair", number)
	expectForms(t, "chair, plan in draft", page, number, []string{"ApproveClosure"}, []string{"ApprovePlan", "ReturnPlan", "ReopenCase", "AcknowledgeCase"})
	_, page = casePageOf(t, ts, "bd.worker", number)
	expectForms(t, "worker, plan in draft", page, number, []string{"SubmitPlan"}, []string{"RecordSpecificAssessment"})

	submitPlan(t, ts, name, day)
	_, page = casePageOf(t, ts, "bd.chair", number)
	expectForms(t, "chair, plan submitted", page, number, []string{"ApprovePlan", "ReturnPlan"}, []string{"ReopenCase"})
	_, page = casePageOf(t, ts, "bd.worker", number)
	expectForms(t, "worker, plan submitted", page, number, nil, []string{"SubmitPlan", "ApprovePlan", "RecordServiceProgress"})
}

// The police see the step of their referral it is at, and none once the
// referral is decided; never a social step.
func TestConsoleStepsPoliceFollowTheirReferral(t *testing.T) {
	ts, number := caseConsole(t)
	policeCase(t, ts, number)
	social := []string{"AcknowledgeCase", "RecordInitialAssessment", "AddCaseNote", "ReferCaseToPolice", "PauseDeadline"}
	b, page := casePageOf(t, ts, "police.bd", number)
	expectForms(t, "police, referred", page, number, []string{"AcknowledgePoliceReferral"},
		append([]string{"RecordPoliceForwarding", "RecordPoliceOutcome", "ExtendPoliceDeadline"}, social...))
	if got := getCase(t, ts, "police.bd", "cases/"+number).GetAllowedSteps(); !slices.Equal(got, []string{"acknowledgePoliceReferral"}) {
		t.Errorf("GetCase's allowed_steps in the police view: %v, want only acknowledgePoliceReferral", got)
	}
	form := formValues(t, stepForm(page, number, "AcknowledgePoliceReferral"))
	form.Set("reference_number", "CA-BD-2026/117")
	if resp, _ := b.post("/cases/"+number+"/steps/AcknowledgePoliceReferral", form); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("police acknowledge: %s", resp.Status)
	}
	_, page = b.get("/cases/" + number)
	expectForms(t, "police, acknowledged", page, number, []string{"RecordPoliceForwarding"},
		append([]string{"AcknowledgePoliceReferral", "RecordPoliceOutcome", "ExtendPoliceDeadline"}, social...))

	name := "cases/" + number
	p, police := ts.process(), ts.as(t, "police.bd")
	_, err := p.RecordPoliceForwarding(police, &pb.RecordPoliceForwardingRequest{Name: name, Etag: etagOf(t, ts, "police.bd", name), InvestigationAgency: "Cơ quan CSĐT Công an quận Ba Đình"})
	if err == nil {
		_, err = p.RecordPoliceOutcome(police, &pb.RecordPoliceOutcomeRequest{Name: name, Etag: etagOf(t, ts, "police.bd", name), Outcome: "PROSECUTED"})
	}
	if err != nil {
		t.Fatalf("the police track to a decision: %v", err)
	}
	_, page = b.get("/cases/" + number)
	if strings.Contains(page, `id="steps"`) {
		t.Error("the police page offers steps on a referral already decided")
	}
}

// The forms are of the steps that can be taken now, not of every step
// the case's status allows: no resume without a paused clock, no pause
// without a clock that pauses (and only such clocks to choose from, not
// the police's running beside them), no
// accepting or declining without a transfer pending to the person's
// commune, and none of the sender's own transfer; GetCase's
// allowed_steps says the same.
func TestConsoleStepsOnlyThoseTheCaseLetsBeTaken(t *testing.T) {
	ts, number := caseConsole(t)
	name := "cases/" + number
	// The police's clocks run beside the commune's, which alone pauses.
	if _, err := ts.process().ReferCaseToPolice(ts.as(t, "bd.worker"), &pb.ReferCaseToPoliceRequest{Name: name, Etag: etagOf(t, ts, "bd.worker", name),
		PoliceUnit: "policeUnits/ca-ba-dinh", SuspectedOffence: "Điều 146 BLHS"}); err != nil {
		t.Fatal(err)
	}
	never := []string{"AcceptTransfer", "DeclineTransfer", "RecordCareFollowUp", "ResumeDeadline"}
	_, page := casePageOf(t, ts, "bd.worker", number)
	expectForms(t, "worker, a new case", page, number, []string{"AcknowledgeCase", "PauseDeadline", "ProposeTransfer"}, never)
	ack := findDeadline(t, getCase(t, ts, "bd.worker", name), "ACKNOWLEDGE", "")
	id := strconv.Itoa(int(ack.GetId()))
	if got := choicesOf(stepForm(page, number, "PauseDeadline"), "PauseDeadline", "deadline_id"); len(got) != 1 || got[id] == "" {
		t.Errorf("the pause form offers %v, want only the acknowledgement's clock (%s)", got, id)
	}
	if _, err := ts.process().PauseDeadline(ts.as(t, "bd.worker"), &pb.PauseDeadlineRequest{Name: name, Etag: etagOf(t, ts, "bd.worker", name),
		DeadlineId: ack.GetId(), Reason: "Không liên lạc được với gia đình"}); err != nil {
		t.Fatal(err)
	}
	_, page = casePageOf(t, ts, "bd.worker", number)
	expectForms(t, "worker, its one clock paused", page, number, []string{"ResumeDeadline"}, []string{"PauseDeadline", "AcceptTransfer", "DeclineTransfer"})
	if got := choicesOf(stepForm(page, number, "ResumeDeadline"), "ResumeDeadline", "deadline_id"); len(got) != 1 || got[id] == "" {
		t.Errorf("the resume form offers %v, want only the paused clock (%s)", got, id)
	}
	if got := getCase(t, ts, "bd.worker", name).GetAllowedSteps(); slices.Contains(got, "pauseDeadline") || !slices.Contains(got, "resumeDeadline") {
		t.Errorf("GetCase's allowed_steps with the one clock paused: %v", got)
	}

	if _, err := ts.process().ProposeTransfer(ts.as(t, "bd.worker"), &pb.ProposeTransferRequest{Name: name, Etag: etagOf(t, ts, "bd.worker", name),
		ToUnit: pHoanKiem, Reason: "Gia đình đã chuyển đến Hoàn Kiếm"}); err != nil {
		t.Fatal(err)
	}
	_, page = casePageOf(t, ts, "bd.worker", number)
	expectForms(t, "the sender, a transfer pending", page, number, nil, []string{"AcceptTransfer", "DeclineTransfer", "ProposeTransfer"})
	b, page := casePageOf(t, ts, "hk.worker", number)
	expectForms(t, "the receiver", page, number, []string{"AcceptTransfer", "DeclineTransfer"}, []string{"ProposeTransfer", "AcknowledgeCase", "ResumeDeadline"})
	if got := getCase(t, ts, "hk.worker", name).GetAllowedSteps(); !slices.Contains(got, "acceptTransfer") || slices.Contains(got, "acknowledge") {
		t.Errorf("GetCase's allowed_steps for the receiving commune: %v", got)
	}
	// Offered, it is taken.
	if resp, body := b.post("/cases/"+number+"/steps/AcceptTransfer", formValues(t, stepForm(page, number, "AcceptTransfer"))); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("accept from the page: %s\n%s", resp.Status, stepForm(body, number, "AcceptTransfer"))
	}
	// The acceptance forwards the case anew: the sender's paused clock
	// is cancelled, and the receiver's own runs, so it pauses, and
	// there is nothing to resume.
	_, page = casePageOf(t, ts, "hk.worker", number)
	expectForms(t, "the receiver, now responsible", page, number, []string{"AcknowledgeCase", "PauseDeadline", "ProposeTransfer"}, []string{"AcceptTransfer", "DeclineTransfer", "ResumeDeadline"})
}
