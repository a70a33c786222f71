package app_test

import (
	"context"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/timestamppb"

	pb "github.com/childcase/childcase/api/childcase/v1"
)

// The tests of this file read a case's trail (GET /v1/auditEvents?case=)
// as an outside auditor does: who was shown the case, and who tried.

// caseTrail returns every audit event on the case, newest first, as the
// auditor lists them.
func caseTrail(t *testing.T, ts *testServer, auditor, caseName string) []*pb.AuditEvent {
	t.Helper()
	return allAuditEvents(t, ts, auditor, &pb.ListAuditEventsRequest{Case: caseName})
}

// mergedCases opens two cases in Phường Ba Đình, the survivor first (the
// outbox's first entry), then the one merged into it (its second), and
// merges them as bd.chair, whom it adds.
func mergedCases(t *testing.T, ts *testServer) (old, survivor string) {
	t.Helper()
	ts.addUser(t, "bd.chair", pb.Role_ROLE_COMMUNE_CHAIR, pBaDinh)
	survivor = openCase(t, ts, testNow.Add(-2*time.Hour), "00004")
	old = openCase(t, ts, testNow.Add(-time.Hour), "00004")
	mergeAsChair(t, ts, survivor, old)
	return old, survivor
}

// watchAs opens a watch as user, which ends with the test or after 10 s.
func watchAs(t *testing.T, ts *testServer, user string, req *pb.WatchEventsRequest) (pb.CaseProcessService_WatchEventsClient, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(ts.as(t, user), 10*time.Second)
	t.Cleanup(cancel)
	return ts.process().WatchEvents(ctx, req)
}

// mergeAsChair merges absorbed into survivor as bd.chair.
func mergeAsChair(t *testing.T, ts *testServer, survivor, absorbed string) {
	t.Helper()
	if _, err := ts.process().MergeCase(ts.as(t, "bd.chair"), &pb.MergeCaseRequest{Name: survivor, Etag: etagOf(t, ts, "bd.chair", survivor),
		AbsorbedCase: absorbed, AbsorbedEtag: etagOf(t, ts, "bd.chair", absorbed), Reason: "cùng một trẻ"}); err != nil {
		t.Fatalf("merge %s into %s: %v", absorbed, survivor, err)
	}
}

// Two cases of one child merged are one case to the auditor too. Each
// merge event names the other case: the auditor reads no case, and could
// not otherwise follow the child from one trail to the other. And an
// absorbed case's number still opens the child's case, which is the
// survivor: what a caller is shown through the old number, or what a
// step, a call or a joining report refused there touched, is the
// survivor, and its trail must say so, or `?case=` on the survivor misses
// who was shown it.
func TestMergedCasesOnTheAuditTrail(t *testing.T) {
	first := hn(2026, 3, 2, 9, 0) // Monday
	ts := startServerAt(t, first, "")
	ts.addUser(t, "bd.worker", pb.Role_ROLE_COMMUNE_WORKER, pBaDinh)
	ts.addUser(t, "bd.chair", pb.Role_ROLE_COMMUNE_CHAIR, pBaDinh)
	ts.addUser(t, "hk.worker", pb.Role_ROLE_COMMUNE_WORKER, pHoanKiem)
	ts.addUser(t, "auditor", pb.Role_ROLE_AUDITOR, "orgs/system")
	old := openCase(t, ts, first, "00004")
	ts.setClock(t, hn(2026, 3, 2, 11, 0))
	survivor := openCase(t, ts, hn(2026, 3, 2, 11, 0), "00004")
	ts.setClock(t, hn(2026, 3, 2, 12, 0))
	if _, err := ts.process().MergeCase(ts.as(t, "bd.chair"), &pb.MergeCaseRequest{
		Name: survivor, Etag: etagOf(t, ts, "bd.chair", survivor),
		AbsorbedCase: old, AbsorbedEtag: etagOf(t, ts, "bd.chair", old),
		Reason: "cùng một trẻ: cùng tên, ngày sinh và người chăm sóc"}); err != nil {
		t.Fatalf("merge: %v", err)
	}

	// The auditor, who reads no case, learns from the two trails which
	// cases became one: each merge event names the other case.
	for _, c := range []struct{ name, reason string }{
		{survivor, "absorbed " + old},
		{old, "merged into " + survivor},
	} {
		if trail := caseTrail(t, ts, "auditor", c.name); !slices.ContainsFunc(trail, func(e *pb.AuditEvent) bool {
			return e.GetAction() == "case.merge" && e.GetResource() == c.name && e.GetReason() == c.reason
		}) {
			t.Errorf("%s's trail has no case.merge saying %q:%s", c.name, c.reason, describeEvents(trail))
		}
	}

	if got := getCase(t, ts, "bd.worker", old); got.GetName() != survivor {
		t.Fatalf("GetCase %s answers %s, want %s", old, got.GetName(), survivor)
	}
	_, err := ts.process().AddCaseNote(ts.as(t, "bd.worker"), &pb.AddCaseNoteRequest{Name: old, Etag: "999", Text: "gọi lại cho mẹ"})
	wantCode(t, err, codes.Aborted)
	// A step the role may not take, named by the old number.
	_, err = ts.process().ApprovePlan(ts.as(t, "bd.worker"), &pb.ApprovePlanRequest{Name: old, Etag: "1"})
	wantCode(t, err, codes.PermissionDenied)

	// A report joined to the old number by someone who does not see the
	// child's case: refused as an absent case is (a reference that does
	// not exist), and the attempt is on its trail.
	info := validReport()
	info.CallType = pb.CallType_CALL_TYPE_INFORMATION
	info.IncidentCommuneCode = "00070"
	info.ReceiveTime = timestamppb.New(hn(2026, 3, 2, 11, 30))
	loose, err := ts.reports().CreateReport(ts.as(t, "hk.worker"), &pb.CreateReportRequest{Report: info})
	if err != nil {
		t.Fatal(err)
	}
	_, err = ts.reports().LinkReport(ts.as(t, "hk.worker"), &pb.LinkReportRequest{Name: loose.GetName(), Case: old})
	wantCode(t, err, codes.InvalidArgument)

	trail := caseTrail(t, ts, "auditor", survivor)
	for _, want := range []struct{ action, outcome string }{
		{"case.read", "ok"},
		{"case.addNote", "refused"},
		{"auth.denied", "denied"},
		{"case.add_report", "not_found"},
	} {
		if !hasEvent(trail, want.action, old, survivor, want.outcome) {
			t.Errorf("%s's trail lacks %s %s through %s:%s", survivor, want.action, want.outcome, old, describeEvents(trail))
		}
	}
}

// A call the role may not make is on the trail of the case it names
// (README, "Who sees what"), whether the case is the call's name or its
// case, as a watch of one case or a list of a case's audit events name
// it, and whether the call is unary or a stream: the attempt to follow a
// case, or to read who touched it, is worth as much to the auditor as an
// attempt to read it.
func TestRefusedCallsNamingACaseInTheirCaseFieldAreOnItsTrail(t *testing.T) {
	ts := startServerAt(t, testNow, "")
	ts.addUser(t, "bd.worker", pb.Role_ROLE_COMMUNE_WORKER, pBaDinh)
	ts.addUser(t, "auditor", pb.Role_ROLE_AUDITOR, "orgs/system")
	name := openCase(t, ts, testNow.Add(-time.Hour), "00004")

	_, err := ts.audit().ListAuditEvents(ts.as(t, "bd.worker"), &pb.ListAuditEventsRequest{Case: name})
	wantCode(t, err, codes.PermissionDenied)
	w, err := ts.process().WatchEvents(ts.as(t, "admin"), &pb.WatchEventsRequest{Case: name})
	if err == nil {
		_, err = w.Recv()
	}
	wantCode(t, err, codes.PermissionDenied)
	// The same over REST, as the auditor itself, who may not watch.
	code, body := restRaw(t, ts, "GET", "/v1/notifications:watch?case="+name, "",
		map[string]string{"Authorization": "Bearer " + ts.tokens.get("auditor")})
	if code != http.StatusForbidden {
		t.Errorf("the auditor's watch of %s over REST: %d %s, want 403", name, code, body)
	}

	trail := caseTrail(t, ts, "auditor", name)
	for _, who := range []string{"bd.worker", "admin", "auditor"} {
		if !slices.ContainsFunc(trail, func(e *pb.AuditEvent) bool {
			return e.GetActor() == "users/"+who && e.GetAction() == "auth.denied" && e.GetResource() == name &&
				e.GetCase() == name && e.GetOutcome() == "denied"
		}) {
			t.Errorf("%s's trail lacks the refused call of %s:%s", name, who, describeEvents(trail))
		}
	}
}

// A step that lets someone else into a case (a hand-over offered to a
// unit, a referral to a police unit, an officer named) says who in its
// audit event: the auditor, who reads no case, must be able to tell from
// the trail why that unit, police unit or officer touches the case next.
func TestStepsThatLetSomeoneInNameThemOnTheTrail(t *testing.T) {
	ts := startServerAt(t, testNow, "")
	ts.addPoliceUnit(t, "ca-ba-dinh", pBaDinh)
	ts.addUser(t, "bd.worker", pb.Role_ROLE_COMMUNE_WORKER, pBaDinh)
	ts.addUser(t, "bd.chair", pb.Role_ROLE_COMMUNE_CHAIR, pBaDinh)
	ts.addUser(t, "hk.worker", pb.Role_ROLE_COMMUNE_WORKER, pHoanKiem)
	ts.addUser(t, "auditor", pb.Role_ROLE_AUDITOR, "orgs/system")
	name := openCase(t, ts, testNow.Add(-time.Hour), "00004")
	p := ts.process()
	if _, err := p.AssignCase(ts.as(t, "bd.chair"), &pb.AssignCaseRequest{Name: name, Etag: etagOf(t, ts, "bd.chair", name), Officer: "users/bd.worker"}); err != nil {
		t.Fatalf("assign: %v", err)
	}
	if _, err := p.ReferCaseToPolice(ts.as(t, "bd.worker"), &pb.ReferCaseToPoliceRequest{Name: name, Etag: etagOf(t, ts, "bd.worker", name),
		PoliceUnit: "policeUnits/ca-ba-dinh", SuspectedOffence: "Điều 140"}); err != nil {
		t.Fatalf("refer: %v", err)
	}
	if _, err := p.ProposeTransfer(ts.as(t, "bd.worker"), &pb.ProposeTransferRequest{Name: name, Etag: etagOf(t, ts, "bd.worker", name),
		ToUnit: pHoanKiem, Reason: "gia đình chuyển đến phường Hoàn Kiếm"}); err != nil {
		t.Fatalf("propose: %v", err)
	}

	trail := caseTrail(t, ts, "auditor", name)
	for _, want := range []struct{ action, reason string }{
		{"case.assign", "to users/bd.worker"},
		{"case.referToPolice", "to policeUnits/ca-ba-dinh"},
		{"case.proposeTransfer", "to " + pHoanKiem},
	} {
		if !slices.ContainsFunc(trail, func(e *pb.AuditEvent) bool {
			return e.GetAction() == want.action && e.GetOutcome() == "ok" && e.GetReason() == want.reason
		}) {
			t.Errorf("%s's trail has no %s saying %q:%s", name, want.action, want.reason, describeEvents(trail))
		}
	}
}

// A server stream refused for the caller's role is read for its request,
// to audit the refusal on the case it names; a client that opens the
// stream and never sends the request is refused all the same, after a
// short wait, and the refusal is audited on the method. The read waited
// for as long as the client kept the stream open, holding the server's
// goroutine and the stream for a call it had already refused.
func TestRefusedStreamWithoutItsRequestIsRefused(t *testing.T) {
	ts := startServerAt(t, testNow, "")
	ctx, cancel := context.WithTimeout(ts.as(t, "admin"), 30*time.Second)
	defer cancel()
	s, err := ts.conn.NewStream(ctx, &grpc.StreamDesc{ServerStreams: true}, "/childcase.v1.CaseProcessService/WatchEvents")
	if err != nil {
		t.Fatal(err)
	}
	// No SendMsg, no CloseSend: the request never comes.
	err = s.RecvMsg(&pb.Notification{})
	wantCode(t, err, codes.PermissionDenied)
}

// A watch of a merged case's old number watches the case that survived
// it, as a read of the number shows it, and is on the survivor's trail:
// it watched the absorbed case, closed at the merge, so the worker who
// followed the number read out over the phone was told of nothing.
// Resumed from a cursor taken before the merge, as Watch says a client
// may after a reconnection, it sends what happened to the number itself
// until then, then the survivor's: it sent the survivor's only, and what
// was done to the case the client followed was lost.
func TestWatchOfAnOldNumberFollowsTheSurvivor(t *testing.T) {
	ts := startServerAt(t, testNow, "")
	ts.addUser(t, "bd.worker", pb.Role_ROLE_COMMUNE_WORKER, pBaDinh)
	ts.addUser(t, "auditor", pb.Role_ROLE_AUDITOR, "orgs/system")
	old, survivor := mergedCases(t, ts)
	stream, err := watchAs(t, ts, "bd.worker", &pb.WatchEventsRequest{AfterSeq: 1, Case: old})
	if err != nil {
		t.Fatal(err)
	}
	if n, err := stream.Recv(); err != nil || n.GetCase() != old || n.GetSeq() != 2 {
		t.Fatalf("a watch of the old number %s after seq 1: %v, %v; want its own notification of seq 2 first", old, n, err)
	}
	if n, err := stream.Recv(); err != nil || n.GetCase() != survivor {
		t.Fatalf("the watch of %s after its own notification: %v, %v; want the survivor %s's notifications", old, n, err, survivor)
	}
	trail := caseTrail(t, ts, "auditor", survivor)
	if !slices.ContainsFunc(trail, func(e *pb.AuditEvent) bool {
		return e.GetAction() == "case.watch" && e.GetActor() == "users/bd.worker" && e.GetResource() == old && e.GetCase() == survivor
	}) {
		t.Errorf("the watch through %s is not on %s's trail:%s", old, survivor, describeEvents(trail))
	}
}

// A number merged twice (A into B, then B into C) watches C, and from a
// cursor before the merges, what happened to A and to B until each was
// merged: the chain is followed as a read of A follows it.
func TestWatchOfANumberMergedTwiceFollowsTheChain(t *testing.T) {
	ts := startServerAt(t, testNow, "")
	ts.addUser(t, "bd.chair", pb.Role_ROLE_COMMUNE_CHAIR, pBaDinh)
	c := openCase(t, ts, testNow.Add(-3*time.Hour), "00004") // seq 1
	b := openCase(t, ts, testNow.Add(-2*time.Hour), "00004") // seq 2
	a := openCase(t, ts, testNow.Add(-time.Hour), "00004")   // seq 3
	mergeAsChair(t, ts, b, a)                                // seq 4, on b
	mergeAsChair(t, ts, c, b)                                // seq 5, on c
	ctx, cancel := context.WithTimeout(ts.as(t, "bd.chair"), 10*time.Second)
	defer cancel()
	stream, err := ts.process().WatchEvents(ctx, &pb.WatchEventsRequest{AfterSeq: 1, Case: a})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for range 4 {
		n, err := stream.Recv()
		if err != nil {
			t.Fatalf("the watch of %s after %v: %v", a, got, err)
		}
		got = append(got, n.GetCase())
	}
	if want := []string{b, a, b, c}; !slices.Equal(got, want) {
		t.Errorf("a watch of %s after seq 1 sent the notifications of %v, want %v", a, got, want)
	}
}

// A watch through an old number by someone who does not see the child's
// case is refused as an absent case is, and the attempt is on the trail
// of the case the number stands for, as a refused read or step through it
// is: it was on the absorbed case's trail, where an auditor asking who
// tried to follow the survivor did not look.
func TestRefusedWatchOfAnOldNumberIsOnTheSurvivorsTrail(t *testing.T) {
	ts := startServerAt(t, testNow, "")
	ts.addUser(t, "hk.worker", pb.Role_ROLE_COMMUNE_WORKER, pHoanKiem)
	ts.addUser(t, "auditor", pb.Role_ROLE_AUDITOR, "orgs/system")
	old, survivor := mergedCases(t, ts)
	stream, err := watchAs(t, ts, "hk.worker", &pb.WatchEventsRequest{Case: old})
	if err == nil {
		_, err = stream.Recv()
	}
	wantCode(t, err, codes.NotFound)
	if trail := caseTrail(t, ts, "auditor", survivor); !hasEvent(trail, "case.watch", old, survivor, "not_found") {
		t.Errorf("the refused watch through %s is not on %s's trail:%s", old, survivor, describeEvents(trail))
	}
}

// An escalation lets the level escalated to into the case (README, "Who
// sees what": the district's cases "escalated ... to the district", the
// city police's clocks "escalated to it"), and the auditor, who reads no
// case, learns it only from the trail: the service's event of the breach
// (deadline.fire, by users/system) names whom it let in, as a step that
// lets someone in does.
func TestEscalationsNameWhomTheyLetInOnTheTrail(t *testing.T) {
	referred := hn(2026, 11, 17, 9, 0)
	ts := startServerAt(t, referred, "")
	ts.addPoliceUnit(t, "ca-ba-dinh", pBaDinh)
	ts.addPoliceUnit(t, "ca-ha-noi") // the city police, above the ward's
	ts.addUser(t, "bd.worker", pb.Role_ROLE_COMMUNE_WORKER, pBaDinh)
	ts.addUser(t, "auditor", pb.Role_ROLE_AUDITOR, "orgs/system")
	name := openCase(t, ts, referred.Add(-30*time.Minute), "00004", pb.AbuseForm_ABUSE_FORM_SEXUAL_ABUSE)
	if _, err := ts.process().ReferCaseToPolice(ts.as(t, "bd.worker"), &pb.ReferCaseToPoliceRequest{Name: name, Etag: etagOf(t, ts, "bd.worker", name),
		PoliceUnit: "policeUnits/ca-ba-dinh", SuspectedOffence: "Điều 146 BLHS"}); err != nil {
		t.Fatalf("refer: %v", err)
	}
	// Nobody acts: the commune's acknowledgement and the police's
	// forwarding both break, and escalate.
	ts.setClock(t, referred.Add(4*24*time.Hour))
	waitEvents(t, ts, "bd.worker", name, "ESCALATED", 0, 2)

	trail := caseTrail(t, ts, "auditor", name)
	for _, to := range []string{"to " + pCity, "to policeUnits/ca-ha-noi"} {
		if !slices.ContainsFunc(trail, func(e *pb.AuditEvent) bool {
			return e.GetAction() == "deadline.fire" && e.GetActor() == "users/system" && e.GetOutcome() == "ok" && e.GetReason() == to
		}) {
			t.Errorf("%s's trail has no deadline.fire saying %q:%s", name, to, describeEventsWithReasons(trail))
		}
	}
}

func describeEventsWithReasons(events []*pb.AuditEvent) string {
	var b strings.Builder
	for _, e := range events {
		b.WriteString("\n  " + e.GetActor() + " " + e.GetAction() + " " + e.GetResource() + " " + e.GetOutcome() + " " + strconv.Quote(e.GetReason()))
	}
	return b.String()
}

// The police forwarding keeps when it was recorded beside the time it
// gives (a liaison may backdate forward_time); the trail says when the
// record was made and by whom, whatever time it gives: the event of the
// forwarding is at the record time, by the liaison. A forwarding refused
// for its time (in the future) is on the trail as refused, naming the
// field and its rule; one by another police unit's liaison as not_found.
func TestPoliceForwardingIsOnTheTrailAtItsRecordTime(t *testing.T) {
	referred := hn(2026, 11, 17, 9, 0)
	ts := startServerAt(t, referred, "")
	ts.addPoliceUnit(t, "ca-ba-dinh", pBaDinh)
	ts.addPoliceUnit(t, "ca-hoan-kiem", pHoanKiem)
	ts.addUser(t, "bd.worker", pb.Role_ROLE_COMMUNE_WORKER, pBaDinh)
	ts.addUser(t, "police.bd", pb.Role_ROLE_POLICE_LIAISON, "policeUnits/ca-ba-dinh")
	ts.addUser(t, "police.hk", pb.Role_ROLE_POLICE_LIAISON, "policeUnits/ca-hoan-kiem")
	ts.addUser(t, "auditor", pb.Role_ROLE_AUDITOR, "orgs/system")
	p := ts.process()
	name := openCase(t, ts, referred.Add(-30*time.Minute), "00004", pb.AbuseForm_ABUSE_FORM_SEXUAL_ABUSE)
	if _, err := p.ReferCaseToPolice(ts.as(t, "bd.worker"), &pb.ReferCaseToPoliceRequest{Name: name, Etag: etagOf(t, ts, "bd.worker", name),
		PoliceUnit: "policeUnits/ca-ba-dinh", SuspectedOffence: "Điều 146 BLHS"}); err != nil {
		t.Fatalf("refer: %v", err)
	}
	liaison := ts.as(t, "police.bd")
	ts.setClock(t, hn(2026, 11, 17, 10, 0))
	if _, err := p.AcknowledgePoliceReferral(liaison, &pb.AcknowledgePoliceReferralRequest{Name: name, Etag: etagOf(t, ts, "police.bd", name), ReferenceNumber: "CA-BD-2026/301"}); err != nil {
		t.Fatalf("acknowledge: %v", err)
	}
	recorded, forwarded := hn(2026, 11, 18, 15, 0), hn(2026, 11, 17, 11, 0)
	ts.setClock(t, recorded)
	// The commune's acknowledgement and the police's forwarding are both
	// overdue by then.
	waitEvents(t, ts, "bd.worker", name, "DEADLINE_BREACHED", 0, 2)
	_, err := p.RecordPoliceForwarding(liaison, &pb.RecordPoliceForwardingRequest{Name: name, Etag: etagOf(t, ts, "police.bd", name),
		InvestigationAgency: "Cơ quan CSĐT", ForwardTime: timestamppb.New(recorded.Add(time.Hour))})
	if st := wantCode(t, err, codes.InvalidArgument); !slices.Equal(badFields(st), []string{"forward_time"}) {
		t.Fatalf("a forwarding in the future: fields %v (%s), want forward_time", badFields(st), st.Message())
	}
	if _, err := p.RecordPoliceForwarding(ts.as(t, "police.hk"), &pb.RecordPoliceForwardingRequest{Name: name, Etag: "1",
		InvestigationAgency: "Cơ quan CSĐT"}); status.Code(err) != codes.NotFound {
		t.Fatalf("another unit's liaison: %v, want NotFound", err)
	}
	// The breaches of the day fired when the clock moved (setClock): the
	// etag read now is the one the step must name.
	c, err := p.RecordPoliceForwarding(liaison, &pb.RecordPoliceForwardingRequest{Name: name, Etag: etagOf(t, ts, "police.bd", name),
		InvestigationAgency: "Cơ quan CSĐT", ForwardTime: timestamppb.New(forwarded)})
	if err != nil {
		t.Fatalf("forwarding: %v", err)
	}
	if r := c.GetPoliceReferrals()[0]; !r.GetForwardRecordTime().AsTime().Equal(recorded) || !r.GetForwardTime().AsTime().Equal(forwarded) {
		t.Fatalf("the referral says forwarded %v, recorded %v", r.GetForwardTime().AsTime(), r.GetForwardRecordTime().AsTime())
	}

	var ok, refused, notFound int
	for _, e := range caseTrail(t, ts, "auditor", name) {
		if e.GetAction() != "case.recordPoliceForwarding" {
			continue
		}
		switch {
		case e.GetOutcome() == "ok" && e.GetActor() == "users/police.bd" && e.GetTime().AsTime().Equal(recorded) && e.GetUnit() == "policeUnits/ca-ba-dinh":
			ok++
		case e.GetOutcome() == "refused" && e.GetActor() == "users/police.bd" && strings.HasPrefix(e.GetReason(), "forward_time "):
			refused++
		case e.GetOutcome() == "not_found" && e.GetActor() == "users/police.hk":
			notFound++
		case e.GetOutcome() == "refused" && e.GetReason() == "ETAG_MISMATCH":
			// A retry after the scheduler wrote the case.
		default:
			t.Errorf("unexpected forwarding event: %v", e)
		}
	}
	if ok != 1 || refused != 1 || notFound != 1 {
		t.Errorf("the trail has %d forwardings at the record time, %d refused naming forward_time, %d not found; want one each", ok, refused, notFound)
	}
}

// A link refused because the report is out of the caller's scope is an
// attempt on that report, and so on its case's trail ("Refused calls are
// audited on the record they named, with its case"), as a read of the
// report is: an auditor asking who tried to take a child's report must
// find the attempt under the child's case, not only under the case the
// caller wanted it in.
func TestRefusedLinkOfAnotherCasesReportIsOnThatCasesTrail(t *testing.T) {
	ts := startServerAt(t, testNow, "")
	ts.addUser(t, "bd.worker", pb.Role_ROLE_COMMUNE_WORKER, pBaDinh)
	ts.addUser(t, "auditor", pb.Role_ROLE_AUDITOR, "orgs/system")
	theirs := openCase(t, ts, testNow.Add(-2*time.Hour), "00070") // Hoàn Kiếm: not bd.worker's
	ours := openCase(t, ts, testNow.Add(-time.Hour), "00004")
	c, err := ts.cases().GetCase(ts.as(t, operatorID), &pb.GetCaseRequest{Name: theirs})
	if err != nil {
		t.Fatal(err)
	}
	if len(c.GetReports()) == 0 {
		t.Fatalf("%s has no report", theirs)
	}
	report := c.GetReports()[0]

	_, err = ts.reports().LinkReport(ts.as(t, "bd.worker"), &pb.LinkReportRequest{Name: report, Case: ours})
	wantCode(t, err, codes.NotFound)

	if trail := caseTrail(t, ts, "auditor", theirs); !slices.ContainsFunc(trail, func(e *pb.AuditEvent) bool {
		return e.GetActor() == "users/bd.worker" && e.GetAction() == "report.link" && e.GetResource() == report &&
			e.GetCase() == theirs && e.GetOutcome() == "not_found"
	}) {
		t.Errorf("%s's trail lacks bd.worker's refused link of its report %s:%s", theirs, report, describeEvents(trail))
	}
}

// A watch of one case opened before that case is merged into another
// goes on with the survivor, as a watch opened after the merge does: the
// worker who followed the number is told of the merge (MERGED, on the
// survivor) and of what happens to the child's case from then on. The
// watch kept the cases it followed from when it opened, so it went
// silent at the merge, while the clocks it watched ran on the survivor.
func TestWatchOpenAtAMergeFollowsTheSurvivor(t *testing.T) {
	ts := startServerAt(t, testNow, "")
	ts.addUser(t, "bd.worker", pb.Role_ROLE_COMMUNE_WORKER, pBaDinh)
	ts.addUser(t, "bd.chair", pb.Role_ROLE_COMMUNE_CHAIR, pBaDinh)
	survivor := openCase(t, ts, testNow.Add(-2*time.Hour), "00004")
	old := openCase(t, ts, testNow.Add(-time.Hour), "00004")
	stream, err := watchAs(t, ts, "bd.worker", &pb.WatchEventsRequest{Case: old})
	if err != nil {
		t.Fatal(err)
	}
	// The server sends the stream's header once the watch is live, from
	// the notification then newest: the merge comes after it.
	if _, err := stream.Header(); err != nil {
		t.Fatal(err)
	}
	mergeAsChair(t, ts, survivor, old)
	n, err := stream.Recv()
	if err != nil || n.GetCase() != survivor || n.GetKind() != "MERGED" {
		t.Fatalf("a watch of %s open at its merge into %s got %v, %v; want the survivor's MERGED", old, survivor, n, err)
	}
	// Then what happens to the survivor: its acknowledgement, left alone
	// for two days, falls due.
	ts.clock.Set(testNow.Add(48 * time.Hour))
	n, err = stream.Recv()
	if err != nil || n.GetCase() != survivor {
		t.Fatalf("after the merge, a watch of %s got %v, %v; want what happens to the survivor %s", old, n, err, survivor)
	}
}

// A supervisor who links a report an operator took lets that operator
// into the case: from then on the operator follows it like the cases of
// their own reports. The auditor, who reads no case, must learn from the
// trail why the operator reads it next, as from a step that lets someone
// in ("to users/{user}"). A link of one's own report lets in no one but
// the caller, whom the event names already.
func TestALinkOfAnotherUsersReportNamesItsTakerOnTheTrail(t *testing.T) {
	ts := startServerAt(t, testNow, "")
	ts.addUser(t, "op2", pb.Role_ROLE_HOTLINE_OPERATOR, "orgs/hotline-111")
	ts.addUser(t, "op3", pb.Role_ROLE_HOTLINE_OPERATOR, "orgs/hotline-111")
	ts.addUser(t, "sup", pb.Role_ROLE_HOTLINE_SUPERVISOR, "orgs/hotline-111")
	ts.addUser(t, "auditor", pb.Role_ROLE_AUDITOR, "orgs/system")
	name := openCase(t, ts, testNow.Add(-time.Hour), "00004") // taken by operatorID
	loose := func(user string) string {
		t.Helper()
		r := validReport()
		r.CallType = pb.CallType_CALL_TYPE_COUNSELLING
		r.ReceiveTime = timestamppb.New(testNow.Add(-time.Minute))
		created, err := ts.reports().CreateReport(ts.as(t, user), &pb.CreateReportRequest{Report: r})
		if err != nil {
			t.Fatal(err)
		}
		return created.GetName()
	}
	theirs, own := loose("op2"), loose("op3")
	_, err := ts.cases().GetCase(ts.as(t, "op2"), &pb.GetCaseRequest{Name: name})
	wantCode(t, err, codes.NotFound)

	if _, err := ts.reports().LinkReport(ts.as(t, "sup"), &pb.LinkReportRequest{Name: theirs, Case: name}); err != nil {
		t.Fatalf("the supervisor's link of op2's report: %v", err)
	}
	if _, err := ts.cases().GetCase(ts.as(t, "op2"), &pb.GetCaseRequest{Name: name}); err != nil {
		t.Fatalf("op2 after the link: %v, want the case: the link let them in", err)
	}
	if _, err := ts.reports().LinkReport(ts.as(t, "op3"), &pb.LinkReportRequest{Name: own, Case: name}); err != nil {
		t.Fatalf("op3's link of their own report: %v", err)
	}

	trail := caseTrail(t, ts, "auditor", name)
	for _, want := range []struct{ actor, reason string }{
		{"users/sup", "to users/op2"},
		{"users/op3", ""},
	} {
		if !slices.ContainsFunc(trail, func(e *pb.AuditEvent) bool {
			return e.GetActor() == want.actor && e.GetAction() == "case.add_report" && e.GetResource() == name &&
				e.GetOutcome() == "ok" && e.GetReason() == want.reason
		}) {
			t.Errorf("%s's trail has no case.add_report by %s saying %q:%s", name, want.actor, want.reason, describeEvents(trail))
		}
	}
}

// TestAReportsEventsBeforeItJoinedACaseAreNotOnThatCasesTrail holds what
// the README says of `?case=` and a report that joined a case later (a
// call that opened no case, linked): its events from before the link
// named no case, and the chain is never rewritten, nor is there an index
// by report to find them at the link, so the case's trail lists the
// reads of the report from the link on (and the link itself), not those
// before; the auditor finds those by the report's name among the events
// of action=report.read (or of its taker), which the link's time bounds.
func TestAReportsEventsBeforeItJoinedACaseAreNotOnThatCasesTrail(t *testing.T) {
	ts := startServerAt(t, testNow, "")
	ts.addUser(t, "op2", pb.Role_ROLE_HOTLINE_OPERATOR, "orgs/hotline-111")
	ts.addUser(t, "sup", pb.Role_ROLE_HOTLINE_SUPERVISOR, "orgs/hotline-111")
	ts.addUser(t, "auditor", pb.Role_ROLE_AUDITOR, "orgs/system")
	name := openCase(t, ts, testNow.Add(-time.Hour), "00004")
	r := validReport()
	r.CallType = pb.CallType_CALL_TYPE_COUNSELLING
	r.ReceiveTime = timestamppb.New(testNow.Add(-time.Minute))
	created, err := ts.reports().CreateReport(ts.as(t, "op2"), &pb.CreateReportRequest{Report: r})
	if err != nil {
		t.Fatal(err)
	}
	report := created.GetName()
	read := func() {
		t.Helper()
		if _, err := ts.reports().GetReport(ts.as(t, "op2"), &pb.GetReportRequest{Name: report}); err != nil {
			t.Fatal(err)
		}
	}
	read() // before the link
	if _, err := ts.reports().LinkReport(ts.as(t, "sup"), &pb.LinkReportRequest{Name: report, Case: name}); err != nil {
		t.Fatal(err)
	}
	read() // after it

	reads := func(events []*pb.AuditEvent) (onCase, onNone int) {
		for _, e := range events {
			if e.GetAction() != "report.read" || e.GetActor() != "users/op2" || e.GetResource() != report {
				continue
			}
			switch e.GetCase() {
			case name:
				onCase++
			case "":
				onNone++
			default:
				t.Errorf("a read of %s on %s", report, e.GetCase())
			}
		}
		return onCase, onNone
	}
	trail := caseTrail(t, ts, "auditor", name)
	if onCase, onNone := reads(trail); onCase != 1 || onNone != 0 {
		t.Errorf("%s's trail lists %d reads of %s on the case and %d on none, want the one after the link:%s", name, onCase, report, onNone, describeEvents(trail))
	}
	if !slices.ContainsFunc(trail, func(e *pb.AuditEvent) bool { return e.GetAction() == "case.add_report" && e.GetActor() == "users/sup" }) {
		t.Errorf("%s's trail has no case.add_report by users/sup:%s", name, describeEvents(trail))
	}
	all := allAuditEvents(t, ts, "auditor", &pb.ListAuditEventsRequest{Action: "report.read"})
	if onCase, onNone := reads(all); onCase != 1 || onNone != 1 {
		t.Errorf("action=report.read lists %d reads of %s on the case and %d on none, want one of each:%s", onCase, report, onNone, describeEvents(all))
	}
}
