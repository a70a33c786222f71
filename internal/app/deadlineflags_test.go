package app_test

import (
	"slices"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"

	pb "github.com/childcase/childcase/api/childcase/v1"
)

// What the API says of a deadline is exactly true: `pausable` is what
// :pauseDeadline does with it, a deadline no longer open is not `paused`,
// and a paused working-day deadline, resumed, ends at 24:00 of a working
// day.

// flagsOf is a deadline's paused and pausable flags as one case answer
// shows them, by id.
func flagsOf(c *pb.Case) map[int32][2]bool {
	out := map[int32][2]bool{}
	for _, d := range c.GetDeadlines() {
		out[d.GetId()] = [2]bool{d.GetPaused(), d.GetPausable()}
	}
	return out
}

// expectListsAgree checks that the case's deadlines show the same flags in
// GetCase and in the lists that carry the case: the plain list and,
// when it is open, the unit's queue.
func expectListsAgree(t *testing.T, ts *testServer, user, name string, queue pb.CaseQueue) {
	t.Helper()
	want := flagsOf(getCase(t, ts, user, name))
	reqs := []*pb.ListCasesRequest{{PageSize: 500}}
	if queue != pb.CaseQueue_CASE_QUEUE_UNSPECIFIED {
		reqs = append(reqs, &pb.ListCasesRequest{Queue: queue, PageSize: 500})
	}
	for _, req := range reqs {
		resp, err := ts.cases().ListCases(ts.as(t, user), req)
		if err != nil {
			t.Fatalf("ListCases %v as %s: %v", req, user, err)
		}
		found := false
		for _, c := range resp.GetCases() {
			if c.GetName() != name {
				continue
			}
			found = true
			for id, flags := range flagsOf(c) {
				if flags != want[id] {
					t.Errorf("ListCases %v as %s: deadline %d of %s shows paused/pausable %v, GetCase %v", req, user, id, name, flags, want[id])
				}
			}
		}
		if !found {
			t.Errorf("ListCases %v as %s does not list %s", req, user, name)
		}
	}
}

// forwardedByPolice has the Ba Đình worker refer a case to the ward police,
// whose liaison acknowledges it with reference and forwards it to the
// investigators now, which starts D16.
func forwardedByPolice(t *testing.T, ts *testServer, name, reference string) {
	t.Helper()
	p := ts.process()
	police := ts.as(t, "police.bd")
	if _, err := p.ReferCaseToPolice(ts.as(t, "bd.worker"), &pb.ReferCaseToPoliceRequest{Name: name, Etag: etagOf(t, ts, "bd.worker", name),
		PoliceUnit: "policeUnits/ca-ba-dinh", SuspectedOffence: "Điều 146 BLHS"}); err != nil {
		t.Fatalf("refer %s: %v", name, err)
	}
	if _, err := p.AcknowledgePoliceReferral(police, &pb.AcknowledgePoliceReferralRequest{Name: name, Etag: etagOf(t, ts, "police.bd", name), ReferenceNumber: reference}); err != nil {
		t.Fatalf("police acknowledge %s: %v", name, err)
	}
	if _, err := p.RecordPoliceForwarding(police, &pb.RecordPoliceForwardingRequest{Name: name, Etag: etagOf(t, ts, "police.bd", name), InvestigationAgency: "Cơ quan CSĐT"}); err != nil {
		t.Fatalf("forwarding %s: %v", name, err)
	}
}

// pausable is true exactly when :pauseDeadline would pause the deadline
// for the unit that must meet it. A sexual-abuse case in Phường Ba Đình,
// received Fri 4 Dec 2026, is referred to the ward police, who forward
// it: its every deadline is tried by the commune's worker, running,
// overdue and done, and one of the police's, D16 included (suspended by
// the police's own decision, never by :pauseDeadline), shows pausable.
func TestDeadlinePausableIsWhatPauseDeadlineAccepts(t *testing.T) {
	received := hn(2026, 12, 4, 10, 0) // Friday
	ts := startServerAt(t, received, "")
	ts.addPoliceUnit(t, "ca-ba-dinh", pBaDinh)
	ts.addUser(t, "bd.worker", pb.Role_ROLE_COMMUNE_WORKER, pBaDinh)
	ts.addUser(t, "police.bd", pb.Role_ROLE_POLICE_LIAISON, "policeUnits/ca-ba-dinh")
	p, worker := ts.process(), ts.as(t, "bd.worker")

	name := openCase(t, ts, received, "00004", pb.AbuseForm_ABUSE_FORM_SEXUAL_ABUSE)
	forwardedByPolice(t, ts, name, "CA-BD-2026/302")

	tried := map[string]bool{}
	check := func(when string) {
		t.Helper()
		c := getCase(t, ts, "bd.worker", name)
		for _, d := range c.GetDeadlines() {
			what := when + ": " + d.GetKind() + " " + d.GetState()
			if strings.HasPrefix(d.GetUnit(), "policeUnits/") {
				// Nobody who may call :pauseDeadline acts for a police unit.
				if d.GetPausable() {
					t.Errorf("%s of %s shows pausable", what, d.GetUnit())
				}
				continue
			}
			_, err := p.PauseDeadline(worker, &pb.PauseDeadlineRequest{Name: name, Etag: etagOf(t, ts, "bd.worker", name),
				DeadlineId: d.GetId(), Reason: "không liên lạc được với gia đình"})
			if (err == nil) != d.GetPausable() {
				t.Errorf("%s shows pausable %v, but :pauseDeadline answered %v", what, d.GetPausable(), err)
			}
			if err == nil {
				paused := findDeadline(t, getCase(t, ts, "bd.worker", name), d.GetKind(), d.GetRef())
				if !paused.GetPaused() || paused.GetPausable() {
					t.Errorf("%s, once paused: paused %v, pausable %v", what, paused.GetPaused(), paused.GetPausable())
				}
				if _, err := p.ResumeDeadline(worker, &pb.ResumeDeadlineRequest{Name: name, Etag: etagOf(t, ts, "bd.worker", name), DeadlineId: d.GetId()}); err != nil {
					t.Fatalf("%s: resume: %v", what, err)
				}
			}
			tried[d.GetKind()+" "+d.GetState()] = true
		}
		expectListsAgree(t, ts, "bd.worker", name, pb.CaseQueue_CASE_QUEUE_MY_UNIT_OPEN)
	}

	c := getCase(t, ts, "bd.worker", name)
	d16 := findDeadline(t, c, "D16_PROSECUTION", "policeUnits/ca-ba-dinh")
	if d16.GetState() != "OPEN" || d16.GetPausable() {
		t.Errorf("the running D16: state %s, pausable %v", d16.GetState(), d16.GetPausable())
	}
	check("forwarded")
	// Sat 5 Dec, 10:30: the acknowledgement, due at 10:00, breached.
	ack := findDeadline(t, c, "ACKNOWLEDGE", "")
	ts.setClock(t, hn(2026, 12, 5, 10, 30))
	waitEvents(t, ts, "bd.worker", name, "DEADLINE_BREACHED", ack.GetId(), 1)
	check("acknowledgement overdue")
	// The README names the refusal: a pause cannot undo a miss.
	_, err := p.PauseDeadline(worker, &pb.PauseDeadlineRequest{Name: name, Etag: etagOf(t, ts, "bd.worker", name),
		DeadlineId: ack.GetId(), Reason: "không liên lạc được với gia đình"})
	wantReason(t, err, codes.FailedPrecondition, "DEADLINE_OVERDUE")
	if _, err := p.AcknowledgeCase(worker, &pb.AcknowledgeCaseRequest{Name: name, Etag: etagOf(t, ts, "bd.worker", name)}); err != nil {
		t.Fatalf("acknowledge: %v", err)
	}
	check("acknowledged late")
	for _, want := range []string{"ACKNOWLEDGE OPEN", "ACKNOWLEDGE MISSED"} {
		if !tried[want] {
			t.Errorf("the walk never tried a deadline %s (tried %v)", want, tried)
		}
	}
}

// A deadline that is no longer open is not paused. In Phường Ba Đình on
// Mon 7 Dec 2026 the worker pauses the acknowledgement of one case and
// then acknowledges it, and pauses another's before the chair closes it
// (the child moved away); the ward police suspend the D16 of a third and
// then record the outcome. Each deadline, met or cancelled, shows paused
// false in GetCase, in the lists, in the police view and on the console's
// case page, while the timeline and the case's notes keep the pause.
func TestDeadlineClosedWhilePausedIsNotPaused(t *testing.T) {
	ts := startConsoleAt(t, hn(2026, 12, 7, 9, 0))
	ts.addPoliceUnit(t, "ca-ba-dinh", pBaDinh)
	ts.addUser(t, "bd.worker", pb.Role_ROLE_COMMUNE_WORKER, pBaDinh)
	ts.addUser(t, "bd.chair", pb.Role_ROLE_COMMUNE_CHAIR, pBaDinh)
	ts.addUser(t, "police.bd", pb.Role_ROLE_POLICE_LIAISON, "policeUnits/ca-ba-dinh")
	p := ts.process()
	police, worker, chair := ts.as(t, "police.bd"), ts.as(t, "bd.worker"), ts.as(t, "bd.chair")
	const reason = "không liên lạc được với gia đình"

	pauseAck := func(name string) *pb.Deadline {
		t.Helper()
		ack := findDeadline(t, getCase(t, ts, "bd.worker", name), "ACKNOWLEDGE", "")
		c, err := p.PauseDeadline(worker, &pb.PauseDeadlineRequest{Name: name, Etag: etagOf(t, ts, "bd.worker", name), DeadlineId: ack.GetId(), Reason: reason})
		if err != nil {
			t.Fatalf("pause the acknowledgement of %s: %v", name, err)
		}
		if d := findDeadline(t, c, "ACKNOWLEDGE", ""); !d.GetPaused() || d.GetPauseReason() != reason {
			t.Fatalf("the paused acknowledgement of %s: paused %v, reason %q", name, d.GetPaused(), d.GetPauseReason())
		}
		return ack
	}
	notPaused := func(c *pb.Case, kind, state, who string) {
		t.Helper()
		d := findDeadline(t, c, kind, "")
		if d.GetState() != state || d.GetPaused() || d.GetPauseReason() != "" || d.GetPausable() {
			t.Errorf("%s of %s as %s: state %s, paused %v, pause reason %q, pausable %v; want %s, not paused, no reason, not pausable",
				kind, c.GetName(), who, d.GetState(), d.GetPaused(), d.GetPauseReason(), d.GetPausable(), state)
		}
	}
	pageNotPaused := func(user, name string) {
		t.Helper()
		_, page := casePageOf(t, ts, user, strings.TrimPrefix(name, "cases/"))
		if strings.Contains(page, `class="tag amber"`) {
			t.Errorf("%s's console page of %s shows a deadline paused", user, name)
		}
	}
	pauseKept := func(name string, id int32) {
		t.Helper()
		if n := countEvents(caseEvents(t, ts, "bd.worker", name), "DEADLINE_PAUSED", id); n != 1 {
			t.Errorf("%s's timeline has %d DEADLINE_PAUSED events for deadline %d, want 1", name, n, id)
		}
		kept := false
		for _, n := range getCase(t, ts, "bd.worker", name).GetDossier().GetNotes() {
			kept = kept || (n.GetKind() == "DEADLINE_PAUSED" && n.GetText() == reason)
		}
		if !kept {
			t.Errorf("%s's notes lost the pause's reason", name)
		}
	}

	// Met while paused.
	met := openCase(t, ts, hn(2026, 12, 7, 8, 30), "00004")
	ack := pauseAck(met)
	if _, err := p.AcknowledgeCase(worker, &pb.AcknowledgeCaseRequest{Name: met, Etag: etagOf(t, ts, "bd.worker", met)}); err != nil {
		t.Fatalf("acknowledge: %v", err)
	}
	notPaused(getCase(t, ts, "bd.worker", met), "ACKNOWLEDGE", "MET", "bd.worker")
	expectListsAgree(t, ts, "bd.worker", met, pb.CaseQueue_CASE_QUEUE_MY_UNIT_OPEN)
	pageNotPaused("bd.worker", met)
	pauseKept(met, ack.GetId())

	// Cancelled while paused: the case closed.
	closed := openCase(t, ts, hn(2026, 12, 7, 8, 40), "00004")
	ack = pauseAck(closed)
	if _, err := p.ApproveClosure(chair, &pb.ApproveClosureRequest{Name: closed, Etag: etagOf(t, ts, "bd.chair", closed),
		Ground: pb.ClosureGround_CLOSURE_GROUND_MOVED_AWAY, Reason: "gia đình chuyển vào TP. Hồ Chí Minh"}); err != nil {
		t.Fatalf("close: %v", err)
	}
	notPaused(getCase(t, ts, "bd.worker", closed), "ACKNOWLEDGE", "CANCELLED", "bd.worker")
	expectListsAgree(t, ts, "bd.worker", closed, pb.CaseQueue_CASE_QUEUE_UNSPECIFIED)
	pageNotPaused("bd.chair", closed)
	pauseKept(closed, ack.GetId())

	// D16 met while suspended: the police view too.
	crime := openCase(t, ts, hn(2026, 12, 7, 8, 50), "00004", pb.AbuseForm_ABUSE_FORM_SEXUAL_ABUSE)
	forwardedByPolice(t, ts, crime, "CA-BD-2026/303")
	c, err := p.SuspendPoliceDeadline(police, &pb.SuspendPoliceDeadlineRequest{Name: crime, Etag: etagOf(t, ts, "police.bd", crime),
		DecisionNumber: "5/QĐ-TĐC", Reason: "chờ kết luận giám định"})
	if err != nil {
		t.Fatalf("suspension: %v", err)
	}
	if d := findDeadline(t, c, "D16_PROSECUTION", ""); !d.GetPaused() || d.GetPausable() {
		t.Errorf("the suspended D16: paused %v, pausable %v", d.GetPaused(), d.GetPausable())
	}
	ts.setClock(t, hn(2026, 12, 9, 9, 0))
	c, err = p.RecordPoliceOutcome(police, &pb.RecordPoliceOutcomeRequest{Name: crime, Etag: etagOf(t, ts, "police.bd", crime), Outcome: "PROSECUTED"})
	if err != nil {
		t.Fatalf("outcome: %v", err)
	}
	notPaused(c, "D16_PROSECUTION", "MET", "police.bd (the step's answer)")
	notPaused(getCase(t, ts, "police.bd", crime), "D16_PROSECUTION", "MET", "police.bd")
	notPaused(getCase(t, ts, "bd.worker", crime), "D16_PROSECUTION", "MET", "bd.worker")
	expectListsAgree(t, ts, "bd.worker", crime, pb.CaseQueue_CASE_QUEUE_MY_UNIT_OPEN)
	pageNotPaused("police.bd", crime)
	pageNotPaused("bd.worker", crime)
}

// A paused working-day deadline, resumed, keeps the working days it had
// left and ends at 24:00 of a working day: D6 from a meeting on Thu 12
// Feb 2026 runs across Tết (16–22 Feb off) to 24:00 of Thu 26 Feb. Paused
// on Friday 13 at 15:00 and resumed in Tết, it still ends then (the
// wall clock would move it to 19:00 on Tue 3 Mar); paused on its last
// day and resumed on Saturday 28, it ends with Monday 2 Mar (the wall
// clock would end it at the start of Sunday). An hours clock still moves
// by the pause.
func TestDeadlinePausedWorkingDaysResumeOnTheCalendar(t *testing.T) {
	ts := startServerAt(t, hn(2026, 2, 12, 10, 0), "")
	ts.addUser(t, "bd.worker", pb.Role_ROLE_COMMUNE_WORKER, pBaDinh)
	p, worker := ts.process(), ts.as(t, "bd.worker")
	name, _ := toPlanDraft(t, ts, strings.TrimPrefix(openCase(t, ts, hn(2026, 2, 12, 8, 0), "00004"), "cases/"))
	d6 := findDeadline(t, getCase(t, ts, "bd.worker", name), "D6_PLAN_DRAFT", "plan-1")
	checkDeadline(t, d6, "OPEN", hn(2026, 2, 27, 0, 0))

	pauseResume := func(pause, resume time.Time) *pb.Deadline {
		t.Helper()
		ts.setClock(t, pause)
		if _, err := p.PauseDeadline(worker, &pb.PauseDeadlineRequest{Name: name, Etag: etagOf(t, ts, "bd.worker", name), DeadlineId: d6.GetId(), Reason: "trẻ đi viện"}); err != nil {
			t.Fatalf("pause at %s: %v", pause, err)
		}
		ts.setClock(t, resume)
		c, err := p.ResumeDeadline(worker, &pb.ResumeDeadlineRequest{Name: name, Etag: etagOf(t, ts, "bd.worker", name), DeadlineId: d6.GetId()})
		if err != nil {
			t.Fatalf("resume at %s: %v", resume, err)
		}
		return findDeadline(t, c, "D6_PLAN_DRAFT", "plan-1")
	}
	checkDeadline(t, pauseResume(hn(2026, 2, 13, 15, 0), hn(2026, 2, 18, 10, 0)), "OPEN", hn(2026, 2, 27, 0, 0))
	checkDeadline(t, pauseResume(hn(2026, 2, 26, 10, 0), hn(2026, 2, 28, 10, 0)), "OPEN", hn(2026, 3, 3, 0, 0))
	var resumed []string
	for _, e := range caseEvents(t, ts, "bd.worker", name) {
		if e.GetKind() == "DEADLINE_RESUMED" {
			resumed = append(resumed, e.GetDetail())
		}
	}
	if want := []string{"D6_PLAN_DRAFT due 2026-02-27T00:00:00+07:00", "D6_PLAN_DRAFT due 2026-03-03T00:00:00+07:00"}; !slices.Equal(resumed, want) {
		t.Errorf("the timeline's DEADLINE_RESUMED events say %q, want %q", resumed, want)
	}
	// It breaches at 24:00 of Mon 2 Mar: the scheduler's timer moved too.
	ts.setClock(t, hn(2026, 3, 3, 0, 1))
	waitEvents(t, ts, "bd.worker", name, "DEADLINE_BREACHED", d6.GetId(), 1)

	// The acknowledgement of a second case, 24 hours by the wall clock,
	// paused for 5 h 30 min, moves by as much.
	other := openCase(t, ts, ts.clock.Now(), "00004")
	ack := findDeadline(t, getCase(t, ts, "bd.worker", other), "ACKNOWLEDGE", "")
	if _, err := p.PauseDeadline(worker, &pb.PauseDeadlineRequest{Name: other, Etag: etagOf(t, ts, "bd.worker", other), DeadlineId: ack.GetId(), Reason: "x"}); err != nil {
		t.Fatal(err)
	}
	ts.setClock(t, ts.clock.Now().Add(5*time.Hour+30*time.Minute))
	c, err := p.ResumeDeadline(worker, &pb.ResumeDeadlineRequest{Name: other, Etag: etagOf(t, ts, "bd.worker", other), DeadlineId: ack.GetId()})
	if err != nil {
		t.Fatal(err)
	}
	checkDeadline(t, findDeadline(t, c, "ACKNOWLEDGE", ""), "OPEN", ack.GetDueTime().AsTime().Add(5*time.Hour+30*time.Minute))
}

// Around Quốc khánh 2026 (Sat 22 Aug worked, Mon 31 Aug swapped off, 1–2
// Sep holidays): D7 of a plan submitted Tue 25 Aug ends with Thu 27 Aug;
// paused Wed 26 at 20:00 and resumed Sat 29, its one working day left is
// Thu 3 Sep (by the wall clock it would end on Sunday 30 Aug at 14:00).
func TestDeadlinePausedAcrossQuocKhanh(t *testing.T) {
	ts := startServerAt(t, hn(2026, 8, 25, 10, 0), "")
	ts.addUser(t, "bd.worker", pb.Role_ROLE_COMMUNE_WORKER, pBaDinh)
	p, worker := ts.process(), ts.as(t, "bd.worker")
	name, day := toPlanDraft(t, ts, strings.TrimPrefix(openCase(t, ts, hn(2026, 8, 25, 8, 0), "00004"), "cases/"))
	_, err := p.SubmitPlan(worker, &pb.SubmitPlanRequest{Name: name, Etag: etagOf(t, ts, "bd.worker", name), Services: []*pb.PlanServiceInput{{
		Name: "tư vấn tâm lý", Owner: "trạm y tế phường", CommuneAssignee: "cán bộ BVTE", StartDate: day, ExpectedEndDate: "2026-10-30"}}})
	if err != nil {
		t.Fatalf("submit: %v", err)
	}
	d7 := findDeadline(t, getCase(t, ts, "bd.worker", name), "D7_PLAN_APPROVAL", "plan-1")
	checkDeadline(t, d7, "OPEN", hn(2026, 8, 28, 0, 0))
	ts.setClock(t, hn(2026, 8, 26, 20, 0))
	// D7's first warning falls after one of its two working days, at
	// 00:00 on Thu 27 (on the wall clock, half its time was Wed 17:00):
	// none has fallen yet.
	for _, e := range caseEvents(t, ts, "bd.worker", name) {
		if e.GetKind() == "DEADLINE_WARNING" {
			t.Errorf("a warning before the first of D7's working days ended: %s at %s", e.GetDetail(), e.GetTime().AsTime().In(hanoi))
		}
	}
	if _, err := p.PauseDeadline(worker, &pb.PauseDeadlineRequest{Name: name, Etag: etagOf(t, ts, "bd.worker", name), DeadlineId: d7.GetId(), Reason: "chủ tịch đi công tác"}); err != nil {
		t.Fatalf("pause: %v", err)
	}
	// Paused, it cannot be paused again, and says so.
	if d := findDeadline(t, getCase(t, ts, "bd.worker", name), "D7_PLAN_APPROVAL", "plan-1"); !d.GetPaused() || d.GetPausable() {
		t.Errorf("the paused D7: paused %v, pausable %v", d.GetPaused(), d.GetPausable())
	}
	_, err = p.PauseDeadline(worker, &pb.PauseDeadlineRequest{Name: name, Etag: etagOf(t, ts, "bd.worker", name), DeadlineId: d7.GetId(), Reason: "x"})
	wantReason(t, err, codes.FailedPrecondition, "ALREADY_PAUSED")
	ts.setClock(t, hn(2026, 8, 29, 10, 0))
	c, err := p.ResumeDeadline(worker, &pb.ResumeDeadlineRequest{Name: name, Etag: etagOf(t, ts, "bd.worker", name), DeadlineId: d7.GetId()})
	if err != nil {
		t.Fatalf("resume: %v", err)
	}
	d := findDeadline(t, c, "D7_PLAN_APPROVAL", "plan-1")
	checkDeadline(t, d, "OPEN", hn(2026, 9, 4, 0, 0))
	// The start moves with it; the warnings, which fell after the pause,
	// fall on its one working day left, Thu 3 Sep, at 00:00 and 12:00: the
	// first keeps its place after one of two working days, all its one
	// used day being spent before the pause.
	if got, want := d.GetStartTime().AsTime(), d7.GetStartTime().AsTime().Add(7*24*time.Hour); !got.Equal(want) {
		t.Errorf("start %s, want %s", got.In(hanoi), want.In(hanoi))
	}
	checkWarningTimes(t, "D7 resumed after Quốc khánh", d, hn(2026, 9, 3, 0, 0), hn(2026, 9, 3, 12, 0))
}
