package app_test

import (
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	pb "github.com/childcase/childcase/api/childcase/v1"
)

// The tests of this file read the audit log as an auditor would, holding
// the README's "every access is audited" to the letter.

// auditedBy returns every audit event of the user, newest first, as an
// auditor lists them (which the list itself is audited for: the auditor's
// own events are not the user's, unless the user is that auditor).
func auditedBy(t *testing.T, ts *testServer, auditor, user string) []*pb.AuditEvent {
	t.Helper()
	return allAuditEvents(t, ts, auditor, &pb.ListAuditEventsRequest{Actor: "users/" + user})
}

// allAuditEvents returns every event the filters of req select, newest
// first, page by page as the auditor lists them.
func allAuditEvents(t *testing.T, ts *testServer, auditor string, req *pb.ListAuditEventsRequest) []*pb.AuditEvent {
	t.Helper()
	var events []*pb.AuditEvent
	for token := ""; ; {
		page := proto.CloneOf(req)
		page.PageSize, page.PageToken = 1000, token
		resp, err := ts.audit().ListAuditEvents(ts.as(t, auditor), page)
		if err != nil {
			t.Fatal(err)
		}
		events = append(events, resp.GetEvents()...)
		if token = resp.GetNextPageToken(); token == "" {
			return events
		}
	}
}

// hasEvent reports whether events hold one of action on resource, about
// the case, with the outcome.
func hasEvent(events []*pb.AuditEvent, action, resource, caseName, outcome string) bool {
	return slices.ContainsFunc(events, func(e *pb.AuditEvent) bool {
		return e.GetAction() == action && e.GetResource() == resource && e.GetCase() == caseName && e.GetOutcome() == outcome
	})
}

// An auditor's reads of the log are reads too: listing it (with what it
// was filtered by, on the case it was filtered by, so that the case's
// trail shows who read it) and verifying it are on the record, under the
// auditor's name, and another auditor sees them.
func TestAuditorsReadsOfTheLogAreAudited(t *testing.T) {
	ts := startServer(t, "")
	ts.addUser(t, "auditor", pb.Role_ROLE_AUDITOR, "orgs/system")
	ts.addUser(t, "auditor2", pb.Role_ROLE_AUDITOR, "orgs/system")
	created, err := ts.reports().CreateReport(ts.as(t, operatorID), &pb.CreateReportRequest{Report: validReport()})
	if err != nil {
		t.Fatal(err)
	}
	caseName := created.GetCase()

	auditor := ts.as(t, "auditor")
	from, to := testNow.Add(-24*time.Hour), testNow.Add(time.Hour)
	if _, err := ts.audit().ListAuditEvents(auditor, &pb.ListAuditEventsRequest{
		Case: caseName, Actor: "users/" + operatorID, StartTime: timestamppb.New(from), EndTime: timestamppb.New(to)}); err != nil {
		t.Fatal(err)
	}
	if _, err := ts.audit().VerifyAuditLog(auditor, &pb.VerifyAuditLogRequest{}); err != nil {
		t.Fatal(err)
	}

	events := auditedBy(t, ts, "auditor2", "auditor")
	if !hasEvent(events, "audit.list", "auditEvents", caseName, "ok") {
		t.Errorf("the auditor's list of %s's trail is not on the record: %v", caseName, events)
	}
	for _, e := range events {
		if e.GetAction() == "audit.list" && e.GetCase() == caseName {
			for _, filter := range []string{caseName, "users/" + operatorID, from.Format(time.RFC3339), to.Format(time.RFC3339)} {
				if !strings.Contains(e.GetReason(), filter) {
					t.Errorf("the audit.list event does not say it was filtered by %s: %q", filter, e.GetReason())
				}
			}
		}
	}
	if !hasEvent(events, "audit.verify", "auditEvents", "", "ok") {
		t.Errorf("the auditor's verification is not on the record: %v", events)
	}

	// The verification is on the record before it answers: the head it
	// reports is its own event, and the chain with it is whole. A list
	// shows the log as it was when read; its own event follows.
	v, err := ts.audit().VerifyAuditLog(auditor, &pb.VerifyAuditLogRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if !v.GetIntact() || v.GetCheckedEvents() != v.GetHeadSeq() {
		t.Errorf("VerifyAuditLog = %v, want an intact chain of every event", v)
	}
	last, err := ts.audit().ListAuditEvents(ts.as(t, "auditor2"), &pb.ListAuditEventsRequest{PageSize: 1})
	if err != nil {
		t.Fatal(err)
	}
	if got := last.GetEvents(); len(got) != 1 || got[0].GetSeq() != v.GetHeadSeq() || got[0].GetAction() != "audit.verify" {
		t.Errorf("the newest event after a verification (head %d): %v, want the verification's own", v.GetHeadSeq(), got)
	}
}

// The notifications watch answers case names and what happened to them:
// opening it is audited, and so is every notification it delivers, on its
// case, before it is sent.
func TestWatchIsAudited(t *testing.T) {
	ts := startServerAt(t, testNow, "")
	ts.addUser(t, "auditor", pb.Role_ROLE_AUDITOR, "orgs/system")
	ts.addUser(t, "bd.worker", pb.Role_ROLE_COMMUNE_WORKER, pBaDinh)
	// A case in another commune gives the outbox its first entry; the
	// watch resumes after it.
	openCase(t, ts, testNow.Add(-time.Hour), "00008")
	w := watch(t, ts, "bd.worker", 1)
	name := openCase(t, ts, testNow.Add(-time.Hour), "00004")
	n := w.waitFor(t, "CASE_FORWARDED", name)

	events := auditedBy(t, ts, "auditor", "bd.worker")
	if !hasEvent(events, "notifications.watch", "notifications", "", "ok") {
		t.Errorf("opening the watch is not on the record: %v", events)
	}
	if res := fmt.Sprintf("notifications/%d", n.GetSeq()); !hasEvent(events, "notification.read", res, name, "ok") {
		t.Errorf("the notification %s of %s the watch delivered is not on the record: %v", res, name, events)
	}
	for _, e := range events {
		if e.GetAction() == "notification.read" && e.GetCase() != name {
			t.Errorf("audited as delivered a notification of a case the worker was not told of: %v", e)
		}
	}
}

// An admin's reads of the staff directory (a user, the list of users, a
// user's tokens) are audited like any read, on the record they read, a
// user who does not exist included.
func TestAdminReadsAreAudited(t *testing.T) {
	ts := startServer(t, "")
	ts.addUser(t, "auditor", pb.Role_ROLE_AUDITOR, "orgs/system")
	admin := ts.as(t, "admin")
	if _, err := ts.admin().GetUser(admin, &pb.GetUserRequest{Name: "users/" + operatorID}); err != nil {
		t.Fatal(err)
	}
	_, err := ts.admin().GetUser(admin, &pb.GetUserRequest{Name: "users/nobody"})
	wantCode(t, err, codes.NotFound)
	list, err := ts.admin().ListUsers(admin, &pb.ListUsersRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ts.admin().ListTokens(admin, &pb.ListTokensRequest{Parent: "users/" + operatorID}); err != nil {
		t.Fatal(err)
	}

	events := auditedBy(t, ts, "auditor", "admin")
	for _, want := range []struct{ action, resource, outcome string }{
		{"user.read", "users/" + operatorID, "ok"},
		{"user.read", "users/nobody", "not_found"},
		{"token.list", "users/" + operatorID + "/tokens", "ok"},
	} {
		if !hasEvent(events, want.action, want.resource, "", want.outcome) {
			t.Errorf("no %s of %s (%s) by the admin: %v", want.action, want.resource, want.outcome, events)
		}
	}
	for _, u := range list.GetUsers() {
		if !hasEvent(events, "user.list", u.GetName(), "", "ok") {
			t.Errorf("the admin's list showed %s without an audit event: %v", u.GetName(), events)
		}
	}
}

// The console's audit page is the API's list: opening it, filtered by a
// case, is on the record as the auditor's list of that case's trail.
func TestConsoleAuditPageIsAudited(t *testing.T) {
	ts := startConsoleAt(t, testNow)
	ts.addUser(t, "auditor", pb.Role_ROLE_AUDITOR, "orgs/system")
	name := openCase(t, ts, testNow.Add(-time.Hour), "00004")
	b := newBrowser(t, ts)
	b.signInTo("auditor")
	if resp, page := b.get("/audit?case=" + strings.TrimPrefix(name, "cases/")); resp.StatusCode != 200 {
		t.Fatalf("the audit page of %s: %s\n%s", name, resp.Status, page)
	}
	if events := auditedBy(t, ts, "auditor", "auditor"); !hasEvent(events, "audit.list", "auditEvents", name, "ok") {
		t.Errorf("the console's audit page of %s is not on the record: %v", name, events)
	}
}

// A step the role may not take, posted to the console on a named case, is
// refused as the API refuses it and on the case's audit trail, as the same
// call made to the API is (auth.denied): the console refusing it on its own
// left no trace of the attempt.
func TestConsoleRefusedStepIsOnTheCaseTrail(t *testing.T) {
	ts, number := caseConsole(t)
	ts.addUser(t, "auditor", pb.Role_ROLE_AUDITOR, "orgs/system")
	b := newBrowser(t, ts)
	b.signIn("bd.worker")
	_, page := b.get("/cases/" + number)
	resp, body := b.post("/cases/"+number+"/steps/ApprovePlan", url.Values{"csrf": {csrfOf(t, page)}, "etag": {"1"}})
	if resp.StatusCode != http.StatusForbidden || strings.Contains(body, "Điều 146") {
		t.Fatalf("a worker posting ApprovePlan: %s, want 403 with no case", resp.Status)
	}
	name := "cases/" + number
	if events := auditedBy(t, ts, "auditor", "bd.worker"); !hasEvent(events, "auth.denied", name, name, "denied") {
		t.Errorf("the refused ApprovePlan on %s is not on its trail: %v", name, events)
	}
}

// The console's other refusals of a role are the API's too: a report
// saved, or the live stream opened, by a role that may not, is audited as
// the API call it stands for (auth.denied), as when made to the API.
func TestConsoleRefusedCallsAreAudited(t *testing.T) {
	ts, _ := startConsole(t)
	ts.addUser(t, "auditor", pb.Role_ROLE_AUDITOR, "orgs/system")
	ts.addUser(t, "auditor2", pb.Role_ROLE_AUDITOR, "orgs/system")
	b := newBrowser(t, ts)
	b.signInTo("auditor")
	_, page := b.get("/audit")
	if resp, _ := b.post("/reports/new", with(callForm(csrfOf(t, page), "r1"), "do", "save")); resp.StatusCode != http.StatusForbidden {
		t.Errorf("an auditor saving a report: %s, want 403", resp.Status)
	}
	if resp, _ := b.get("/events"); resp.StatusCode != http.StatusForbidden || strings.Contains(resp.Header.Get("Content-Type"), "event-stream") {
		t.Errorf("an auditor opening the live stream: %s %s, want 403", resp.Status, resp.Header.Get("Content-Type"))
	}
	events := auditedBy(t, ts, "auditor2", "auditor")
	for _, method := range []string{pb.ReportService_CreateReport_FullMethodName, pb.CaseProcessService_WatchEvents_FullMethodName} {
		if !hasEvent(events, "auth.denied", method, "", "denied") {
			t.Errorf("the console's refusal of %s is not on the record: %v", method, events)
		}
	}
}

// A call refused for the role is audited before validation, on the record
// its request names. A name holding a control character or a
// bidirectional override is no record's (the API refuses such a string,
// string.no_control): the event stands on the method, as for a name too
// long to be one, so that no escape sequence or override reaches the log,
// and the terminals and pages that show it, through a refusal.
func TestRefusedCallWithAControlCharacterInItsNameIsAuditedOnTheMethod(t *testing.T) {
	ts := startServer(t, "")
	ts.addUser(t, "auditor", pb.Role_ROLE_AUDITOR, "orgs/system")
	for _, name := range []string{"cases/HN-2026-00001\x1b[2J", "cases/HN-2026-\u202e10000"} {
		_, err := ts.process().ApprovePlan(ts.as(t, operatorID), &pb.ApprovePlanRequest{Name: name, Etag: "1"})
		if code := status.Code(err); code != codes.PermissionDenied {
			t.Fatalf("an operator approving a plan of %q: %v, want PERMISSION_DENIED", name, err)
		}
	}
	var denied int
	for _, e := range auditedBy(t, ts, "auditor", operatorID) {
		if e.GetAction() != "auth.denied" {
			continue
		}
		denied++
		for _, s := range []string{e.GetResource(), e.GetCase(), e.GetReason()} {
			if strings.ContainsAny(s, "\x1b\u202e") {
				t.Errorf("a refusal's event holds the name's control character: %q", s)
			}
		}
		if e.GetResource() != pb.CaseProcessService_ApprovePlan_FullMethodName {
			t.Errorf("a refusal named by no record's name is on %q, want the method", e.GetResource())
		}
	}
	if denied != 2 {
		t.Errorf("%d refusals audited, want 2", denied)
	}
}

// A watch that resumes behind a run of notifications it may not see (a
// full page of other communes' cases) reads on at once to the ones it
// may, instead of waiting for the next write or the poll (an hour here).
func TestWatchReadsPastAPageOfOthersNotifications(t *testing.T) {
	ts := startServerAt(t, testNow, "")
	ts.addUser(t, "bd.worker", pb.Role_ROLE_COMMUNE_WORKER, pBaDinh)
	// More than a page (200) of notifications of another commune's
	// cases, then one of the worker's; the watch opens after all of them,
	// so no write wakes it.
	for range 201 {
		openCase(t, ts, testNow.Add(-time.Hour), "00008")
	}
	name := openCase(t, ts, testNow.Add(-time.Hour), "00004")
	w := watch(t, ts, "bd.worker", 1)
	w.waitFor(t, "CASE_FORWARDED", name)
}

// A retry (the same request_id) is answered with the first answer: the
// report or the case as it was, whatever happened since, even to a caller
// the step took the case away from. That answer shows the record again,
// so it is a read on the record, like any other: one event each time,
// naming what was retried.
func TestRetriesAreAuditedAsReads(t *testing.T) {
	ts := startServer(t, "")
	ts.addUser(t, "auditor", pb.Role_ROLE_AUDITOR, "orgs/system")
	ts.addUser(t, "worker", pb.Role_ROLE_COMMUNE_WORKER, "units/00004@2025-07-01")
	retried := func(t *testing.T, user, action, resource, caseName string, call func() error) {
		t.Helper()
		before := auditedBy(t, ts, "auditor", user)
		if err := call(); err != nil {
			t.Fatal(err)
		}
		after := auditedBy(t, ts, "auditor", user)
		count := func(events []*pb.AuditEvent) int {
			return len(slices.DeleteFunc(slices.Clone(events), func(e *pb.AuditEvent) bool {
				return e.GetAction() != action || e.GetResource() != resource || e.GetCase() != caseName || e.GetOutcome() != "ok"
			}))
		}
		if count(after) != count(before)+1 {
			t.Errorf("the retry wrote no %s of %s by %s: %v", action, resource, user, after[:len(after)-len(before)])
		}
	}

	create := &pb.CreateReportRequest{Report: validReport(), RequestId: "retry-report-1"}
	report, err := ts.reports().CreateReport(ts.as(t, operatorID), create)
	if err != nil {
		t.Fatal(err)
	}
	before := auditedBy(t, ts, "auditor", operatorID)
	retried(t, operatorID, "report.read", report.GetName(), report.GetCase(), func() error {
		_, err := ts.reports().CreateReport(ts.as(t, operatorID), create)
		return err
	})
	// Nothing else is written again but the search of the candidates the
	// retry shows again (README "Data at rest and the audit trail").
	var actions []string
	after := auditedBy(t, ts, "auditor", operatorID) // newest first
	for _, e := range after[:len(after)-len(before)] {
		actions = append(actions, e.GetAction())
	}
	slices.Sort(actions)
	if want := []string{"case.search", "report.read"}; !slices.Equal(actions, want) {
		t.Errorf("a report's retry wrote the events %v, want %v", actions, want)
	}

	c, err := ts.cases().GetCase(ts.as(t, "worker"), &pb.GetCaseRequest{Name: report.GetCase()})
	if err != nil {
		t.Fatal(err)
	}
	ack := &pb.AcknowledgeCaseRequest{Name: c.GetName(), Etag: c.GetEtag(), RequestId: "retry-ack-1"}
	if _, err := ts.process().AcknowledgeCase(ts.as(t, "worker"), ack); err != nil {
		t.Fatal(err)
	}
	retried(t, "worker", "case.read", c.GetName(), c.GetName(), func() error {
		_, err := ts.process().AcknowledgeCase(ts.as(t, "worker"), ack)
		return err
	})

	info := validReport()
	info.CallType = pb.CallType_CALL_TYPE_INFORMATION
	loose, err := ts.reports().CreateReport(ts.as(t, operatorID), &pb.CreateReportRequest{Report: info})
	if err != nil {
		t.Fatal(err)
	}
	link := &pb.LinkReportRequest{Name: loose.GetName(), Case: c.GetName(), RequestId: "retry-link-1"}
	if _, err := ts.reports().LinkReport(ts.as(t, operatorID), link); err != nil {
		t.Fatal(err)
	}
	retried(t, operatorID, "report.read", loose.GetName(), c.GetName(), func() error {
		_, err := ts.reports().LinkReport(ts.as(t, operatorID), link)
		return err
	})
	// A link made already, asked again without a request_id, answers the
	// report as it is: a read too.
	retried(t, operatorID, "report.read", loose.GetName(), c.GetName(), func() error {
		_, err := ts.reports().LinkReport(ts.as(t, operatorID), &pb.LinkReportRequest{Name: loose.GetName(), Case: c.GetName()})
		return err
	})
}

// A set-password link is a credential: one that does not work (a wrong
// secret, an unknown or malformed link, one used, replaced or expired) is
// an authentication failure, counted in the refused sign-ins' events like
// a wrong password (all links under one key, the link itself nowhere); a
// live link's page is not.
func TestDeadPasswordLinksAreRefusedSignIns(t *testing.T) {
	ts := startServer(t, "")
	ts.addUser(t, "auditor", pb.Role_ROLE_AUDITOR, "orgs/system")
	secret := newUserLink(t, ts, "lan.nguyen")
	b := newBrowser(t, ts)
	if r, _ := b.get("/password/" + secret); r.StatusCode != http.StatusOK {
		t.Fatalf("GET a live link: %s", r.Status)
	}
	wrong := secret[:len(secret)-4] + "AAAA"
	dead := []string{"/password/" + wrong, "/password/pw_0123456789abcdef_" + strings.Repeat("A", 43), "/password/nonsense"}
	for _, path := range dead {
		if r, _ := b.get(path); r.StatusCode != http.StatusNotFound {
			t.Fatalf("GET %s: %s, want 404", path, r.Status)
		}
	}
	// The window of those refusals ends; the next refusal writes its
	// event before it is counted.
	ts.advance(t, signInWindow+time.Second)
	b.get(dead[0])
	_, events, _ := signInAudit(t, ts)
	if !slices.ContainsFunc(events, func(e *pb.AuditEvent) bool {
		return strings.HasPrefix(e.GetReason(), "refused sign-ins: 3 from password links ")
	}) {
		t.Errorf("no event counts the three dead links of the first window: %v", events)
	}
	for _, e := range events {
		if strings.Contains(e.GetReason(), secret[len(secret)-20:]) || strings.Contains(e.GetResource(), secret[len(secret)-20:]) {
			t.Errorf("an event holds the link's secret: %v", e)
		}
	}
}

// A step refused on a case the caller sees (a stale etag, the case's
// state, a field the body checks) read the case: it is on the case's
// trail with outcome "refused" and the refusal's code, not its message,
// although the refused step's own transaction wrote nothing.
func TestRefusedStepsAreOnTheCaseTrail(t *testing.T) {
	ts := startServer(t, "")
	ts.addUser(t, "auditor", pb.Role_ROLE_AUDITOR, "orgs/system")
	ts.addUser(t, "bd.worker", pb.Role_ROLE_COMMUNE_WORKER, pBaDinh)
	ts.addUser(t, "bd.chair", pb.Role_ROLE_COMMUNE_CHAIR, pBaDinh)
	name := openCase(t, ts, testNow.Add(-time.Hour), "00004")
	p := ts.process()

	_, err := p.AcknowledgeCase(ts.as(t, "bd.worker"), &pb.AcknowledgeCaseRequest{Name: name, Etag: "999"})
	wantReason(t, err, codes.Aborted, "ETAG_MISMATCH")
	_, err = p.ApproveClosure(ts.as(t, "bd.chair"), &pb.ApproveClosureRequest{Name: name, Etag: etagOf(t, ts, "bd.chair", name),
		Reason: "trẻ đã ổn định", NoPoliceReferralReason: "không có dấu hiệu tội phạm"})
	wantCode(t, err, codes.FailedPrecondition)
	closure := status.Convert(err)

	refused := func(user string) []*pb.AuditEvent {
		var out []*pb.AuditEvent
		for _, e := range auditedBy(t, ts, "auditor", user) {
			if e.GetOutcome() == "refused" {
				out = append(out, e)
			}
		}
		return out
	}
	if got := refused("bd.worker"); len(got) != 1 || got[0].GetAction() != "case.acknowledge" ||
		got[0].GetCase() != name || got[0].GetReason() != "ETAG_MISMATCH" {
		t.Errorf("the worker's refused acknowledgement: %v, want one case.acknowledge refused on %s, reason ETAG_MISMATCH", describeEvents(got), name)
	}
	var reason string
	for _, d := range closure.Details() {
		if info, ok := d.(*errdetails.ErrorInfo); ok {
			reason = info.GetReason()
		}
	}
	if got := refused("bd.chair"); len(got) != 1 || got[0].GetAction() != "case.approveClosure" ||
		got[0].GetCase() != name || reason == "" || got[0].GetReason() != reason {
		t.Errorf("the chair's refused closure (%s): %v, want one case.approveClosure refused on %s with that reason", reason, describeEvents(got), name)
	}
	// Nothing else changed: the case is where it was.
	if c := getCase(t, ts, "bd.worker", name); c.GetStatus() != pb.CaseStatus_CASE_STATUS_AWAITING_ACKNOWLEDGEMENT {
		t.Errorf("after the refusals the case is %v", c.GetStatus())
	}
}

// The console's audit page shows each event's request id, which the
// README lists among what an event holds (who, role, unit, action,
// resource, case, time, request id, reason, outcome): it is what ties the
// events of one call together (a search and each case it answered) and
// to the service's log line of that call. The page showed every other of
// them, and not it.
func TestConsoleAuditPageShowsTheRequestID(t *testing.T) {
	ts := startConsoleAt(t, testNow)
	ts.addUser(t, "auditor", pb.Role_ROLE_AUDITOR, "orgs/system")
	ts.addUser(t, "bd.worker", pb.Role_ROLE_COMMUNE_WORKER, pBaDinh)
	name := openCase(t, ts, testNow.Add(-time.Hour), "00004")
	ctx := metadata.AppendToOutgoingContext(ts.as(t, "bd.worker"), "x-request-id", "ca-doc-ho-so-42")
	if _, err := ts.cases().GetCase(ctx, &pb.GetCaseRequest{Name: name}); err != nil {
		t.Fatal(err)
	}
	b := newBrowser(t, ts)
	b.signInTo("auditor")
	resp, page := b.get("/audit?actor=bd.worker")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("the audit page: %s\n%s", resp.Status, page)
	}
	if !strings.Contains(page, "<code>case.read</code>") || !strings.Contains(page, "ca-doc-ho-so-42") {
		t.Errorf("the audit page of bd.worker's read does not show its request id ca-doc-ho-so-42:\n%s", page)
	}
}

// The README has the auditor keep the head a verification answers
// (head_seq and head_hash) elsewhere, since events cut from the end with
// the stored head set back leave a whole chain (a restore of an older
// backup does the same). A later verification given that head checks the
// log still holds it: intact while it does, broken at the noted seq when
// the event there has another hash. The head's hash is the listing's hash
// of that event, the noted head is in the verification's own event, and
// half a head is refused naming the field missing.
func TestVerifyAuditLogAgainstANotedHead(t *testing.T) {
	ts := startServer(t, "")
	ts.addUser(t, "auditor", pb.Role_ROLE_AUDITOR, "orgs/system")
	auditor := ts.as(t, "auditor")
	first, err := ts.audit().VerifyAuditLog(auditor, &pb.VerifyAuditLogRequest{})
	if err != nil {
		t.Fatal(err)
	}
	newest, err := ts.audit().ListAuditEvents(auditor, &pb.ListAuditEventsRequest{PageSize: 1})
	if err != nil {
		t.Fatal(err)
	}
	if e := newest.GetEvents(); len(e) != 1 || e[0].GetSeq() != first.GetHeadSeq() || e[0].GetHash() != first.GetHeadHash() || len(first.GetHeadHash()) != 64 {
		t.Fatalf("VerifyAuditLog's head %d %q is not the newest event's seq and hash: %v", first.GetHeadSeq(), first.GetHeadHash(), e)
	}
	if _, err := ts.reports().CreateReport(ts.as(t, operatorID), &pb.CreateReportRequest{Report: validReport()}); err != nil {
		t.Fatal(err)
	}

	// Over REST, as the README's curl has it.
	body := fmt.Sprintf(`{"noted_head_seq":"%d","noted_head_hash":%q}`, first.GetHeadSeq(), first.GetHeadHash())
	code, raw := restRaw(t, ts, "POST", "/v1/auditEvents:verify", body, map[string]string{"Authorization": "Bearer " + ts.tokens.get("auditor")})
	if code != http.StatusOK || !strings.Contains(string(raw), `"intact":true`) {
		t.Errorf("verify against the head noted before: %d %s, want intact", code, raw)
	}
	forged := strings.Repeat("0", 64)
	v, err := ts.audit().VerifyAuditLog(auditor, &pb.VerifyAuditLogRequest{NotedHeadSeq: first.GetHeadSeq(), NotedHeadHash: forged})
	if err != nil {
		t.Fatal(err)
	}
	if v.GetIntact() || v.GetBrokenSeq() != first.GetHeadSeq() || !strings.Contains(v.GetProblem(), "noted") {
		t.Errorf("verify against a head the log never had: %v, want broken at seq %d", v, first.GetHeadSeq())
	}
	// A broken log's head is no reference: a script that notes every
	// answer's head would anchor the next verification to the tampered
	// log, so none is answered, as the console and the CLI show none.
	if v.GetHeadHash() != "" || v.GetHeadSeq() == 0 {
		t.Errorf("a verification that is not intact answers head %d %q; want its seq and no hash to note", v.GetHeadSeq(), v.GetHeadHash())
	}
	if v, err := ts.audit().VerifyAuditLog(auditor, &pb.VerifyAuditLogRequest{NotedHeadSeq: v.GetHeadSeq() + 5, NotedHeadHash: forged}); err != nil ||
		v.GetIntact() || v.GetBrokenSeq() != v.GetHeadSeq()+1 || !strings.Contains(v.GetProblem(), "cut from its end") {
		t.Errorf("verify against a head past the log's: %v, %v; want broken after its head, events cut", v, err)
	}
	events := auditedBy(t, ts, "auditor", "auditor")
	if !slices.ContainsFunc(events, func(e *pb.AuditEvent) bool {
		return e.GetAction() == "audit.verify" && strings.Contains(e.GetReason(), fmt.Sprintf("seq %d, hash %s", first.GetHeadSeq(), forged))
	}) {
		t.Errorf("no audit.verify event names the head noted: %v", events)
	}

	_, err = ts.audit().VerifyAuditLog(auditor, &pb.VerifyAuditLogRequest{NotedHeadSeq: first.GetHeadSeq()})
	wantField(t, err, "noted_head_hash")
	_, err = ts.audit().VerifyAuditLog(auditor, &pb.VerifyAuditLogRequest{NotedHeadHash: first.GetHeadHash()})
	wantField(t, err, "noted_head_seq")
	_, err = ts.audit().VerifyAuditLog(auditor, &pb.VerifyAuditLogRequest{NotedHeadSeq: 1, NotedHeadHash: "xyz"})
	wantField(t, err, "noted_head_hash")
}

// TestRESTVerifyOfABrokenLogSaysIntactFalse: the README's curl says that
// a verification given a head the log no longer holds answers
// "intact":false. Over REST it answered no "intact" at all: false is the
// field's default, which the gateway's JSON leaves out, so a script that
// read .intact got null, and one that looked for "intact":false in the
// answer never found it. intact is now a field with presence, answered
// either way.
func TestRESTVerifyOfABrokenLogSaysIntactFalse(t *testing.T) {
	ts := startServer(t, "")
	ts.addUser(t, "auditor", pb.Role_ROLE_AUDITOR, "orgs/system")
	first, err := ts.audit().VerifyAuditLog(ts.as(t, "auditor"), &pb.VerifyAuditLogRequest{})
	if err != nil {
		t.Fatal(err)
	}
	auth := map[string]string{"Authorization": "Bearer " + ts.tokens.get("auditor")}
	body := fmt.Sprintf(`{"noted_head_seq":"%d","noted_head_hash":%q}`, first.GetHeadSeq(), strings.Repeat("0", 64))
	code, raw := restRaw(t, ts, "POST", "/v1/auditEvents:verify", body, auth)
	if code != http.StatusOK || !strings.Contains(string(raw), `"intact":false`) || !strings.Contains(string(raw), `"broken_seq":"`) {
		t.Errorf("verify against a head the log never had: %d %s, want \"intact\":false and its broken_seq", code, raw)
	}
	if code, raw := restRaw(t, ts, "POST", "/v1/auditEvents:verify", `{}`, auth); code != http.StatusOK || !strings.Contains(string(raw), `"intact":true`) {
		t.Errorf("verify of an intact log: %d %s, want \"intact\":true", code, raw)
	}
}
