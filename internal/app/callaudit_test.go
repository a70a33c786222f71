package app_test

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	pb "github.com/childcase/childcase/api/childcase/v1"
	"github.com/childcase/childcase/internal/app"
	"github.com/childcase/childcase/internal/domain/access"
	"github.com/childcase/childcase/internal/domain/auditlog"
	"github.com/childcase/childcase/internal/domain/model"
)

// The tests of this file hold the README's "every call of a signed-in
// user leaves an event" to the letter: the calls whose handlers wrote no
// event of their own (refused for their input before any record was
// read, a page that answered nothing, a stream over its cap) are on the
// trail as one event each, with the call's request id, over gRPC and
// REST; and a flood of them is bounded.

// withRequestID is ctx with the call's request id.
func withRequestID(ctx context.Context, id string) context.Context {
	return metadata.AppendToOutgoingContext(ctx, "x-request-id", id)
}

// oneNewEvent returns the one event user has after seq head, failing
// unless there is exactly one, and the new head.
func oneNewEvent(t *testing.T, ts *testServer, user string, head uint64, what string) (*pb.AuditEvent, uint64) {
	t.Helper()
	got, next := newAuditEvents(t, ts, user, head)
	if len(got) != 1 {
		t.Fatalf("%s: wrote%s\nwant exactly one event", what, describeEvents(got))
	}
	return got[0], next
}

func wantCallEvent(t *testing.T, what string, e *pb.AuditEvent, action, resource, caseName, outcome, reason, requestID string) {
	t.Helper()
	if e.GetAction() != action || e.GetResource() != resource || e.GetCase() != caseName || e.GetOutcome() != outcome ||
		e.GetReason() != reason || e.GetRequestId() != requestID {
		t.Errorf("%s: wrote %s %s case=%s %s reason=%q request_id=%q\nwant %s %s case=%s %s reason=%q request_id=%q", what,
			e.GetAction(), e.GetResource(), e.GetCase(), e.GetOutcome(), e.GetReason(), e.GetRequestId(),
			action, resource, caseName, outcome, reason, requestID)
	}
}

func TestEveryCallOfASignedInUserLeavesOneEvent(t *testing.T) {
	ts := startServerWith(t, "", func(c *app.Config) { c.MaxStreamsPerUser = 1 })
	ts.addUser(t, "auditor", pb.Role_ROLE_AUDITOR, "orgs/system")
	ts.addUser(t, "operator2", pb.Role_ROLE_HOTLINE_OPERATOR, "orgs/hotline-111")
	created, err := ts.reports().CreateReport(ts.as(t, operatorID), &pb.CreateReportRequest{Report: validReport()})
	if err != nil {
		t.Fatal(err)
	}
	caseName := created.GetCase()
	if caseName == "" {
		t.Fatal("the report opened no case")
	}
	_, head := newAuditEvents(t, ts, operatorID, 0)

	// CreateReport refused for its input by the schema, over gRPC: no
	// record was read, and nothing the client wrote is in the reason.
	_, err = ts.reports().CreateReport(withRequestID(ts.as(t, operatorID), "probe-create"),
		&pb.CreateReportRequest{Report: &pb.Report{Narrative: "Nguyễn Thị Lan, 9 tuổi"}})
	wantCode(t, err, codes.InvalidArgument)
	e, head := oneNewEvent(t, ts, operatorID, head, "CreateReport refused for its input")
	if e.GetAction() != "report.create" || e.GetOutcome() != "refused" || e.GetRequestId() != "probe-create" ||
		!strings.HasPrefix(e.GetReason(), "report.") || strings.Contains(e.GetReason(), "Lan") {
		t.Errorf("CreateReport refused: wrote %v", e)
	}

	// The same over REST, and a body the gateway refused itself.
	for _, tc := range []struct{ name, body, reason string }{
		{"the schema", `{"report":{}}`, ""},
		{"a body that is no JSON", `{"report":`, ""},
	} {
		code, raw := restRaw(t, ts, "POST", "/v1/reports", tc.body, map[string]string{
			"Content-Type": "application/json", "Authorization": "Bearer " + ts.tokens.get(operatorID), "X-Request-Id": "probe-rest",
		})
		if code != 400 {
			t.Fatalf("REST %s: %d %s", tc.name, code, raw)
		}
		e, head = oneNewEvent(t, ts, operatorID, head, "REST CreateReport refused: "+tc.name)
		if e.GetAction() != "report.create" || e.GetOutcome() != "refused" || e.GetRequestId() != "probe-rest" || e.GetReason() == "" {
			t.Errorf("REST CreateReport refused (%s): wrote %v", tc.name, e)
		}
	}

	// A watch over REST with a query parameter it does not read: a
	// stream refused before its handler ran.
	code, raw := restRaw(t, ts, "GET", "/v1/notifications:watch?bogus=1", "", map[string]string{
		"Authorization": "Bearer " + ts.tokens.get(operatorID), "X-Request-Id": "probe-watch",
	})
	if code != 400 {
		t.Fatalf("REST watch with a bogus parameter: %d %s", code, raw)
	}
	e, head = oneNewEvent(t, ts, operatorID, head, "REST WatchEvents refused for its input")
	wantCallEvent(t, "REST WatchEvents refused for its input", e, "notifications.watch", pb.CaseProcessService_WatchEvents_FullMethodName, "",
		"refused", "bogus query.unexpected", "probe-watch")

	// ListCases with a page token of no listing of this service.
	_, err = ts.cases().ListCases(withRequestID(ts.as(t, operatorID), "probe-list"), &pb.ListCasesRequest{PageToken: "bm90IGEgdG9rZW4"})
	wantCode(t, err, codes.InvalidArgument)
	e, head = oneNewEvent(t, ts, operatorID, head, "ListCases with a bad page token")
	wantCallEvent(t, "ListCases with a bad page token", e, "case.list", pb.CaseService_ListCases_FullMethodName, "", "refused",
		"page_token page_token.valid", "probe-list")

	// A step refused for its input before the case was read: on the
	// case's trail all the same.
	_, err = ts.process().ReferCaseToPolice(withRequestID(ts.as(t, operatorID), "probe-step"),
		&pb.ReferCaseToPoliceRequest{Name: caseName, Etag: "x"})
	wantCode(t, err, codes.InvalidArgument)
	e, head = oneNewEvent(t, ts, operatorID, head, "ReferCaseToPolice refused for its input")
	if e.GetAction() != "case.referToPolice" || e.GetResource() != caseName || e.GetCase() != caseName ||
		e.GetOutcome() != "refused" || e.GetRequestId() != "probe-step" || !strings.HasPrefix(e.GetReason(), "police_unit ") {
		t.Errorf("ReferCaseToPolice refused: wrote %v", e)
	}
	byCase := allAuditEvents(t, ts, "auditor", &pb.ListAuditEventsRequest{Case: caseName})
	if !hasEvent(byCase, "case.referToPolice", caseName, caseName, "refused") {
		t.Errorf("the listing by case does not show the refused step:%s", describeEvents(byCase))
	}

	// A watch over the user's cap of open streams.
	stop := openWatch(t, ts, operatorID)
	defer stop()
	_, head = newAuditEvents(t, ts, operatorID, head) // the open watch's own event
	st := wantCode(t, watchErr(t, ts, operatorID), codes.ResourceExhausted)
	if errorReason(st) != "TOO_MANY_STREAMS" {
		t.Fatalf("watch over the cap: %v", st.Err())
	}
	e, head = oneNewEvent(t, ts, operatorID, head, "WatchEvents over the stream cap")
	wantCallEvent(t, "WatchEvents over the stream cap", e, "notifications.watch", pb.CaseProcessService_WatchEvents_FullMethodName, "",
		"refused", "TOO_MANY_STREAMS", e.GetRequestId())
	if e.GetRequestId() == "" {
		t.Error("the refused watch's event names no request id")
	}

	// An answer whose handler wrote nothing: a page that lists no case.
	_, head2 := newAuditEvents(t, ts, "operator2", 0)
	resp, err := ts.cases().ListCases(withRequestID(ts.as(t, "operator2"), "probe-empty"), &pb.ListCasesRequest{})
	if err != nil || len(resp.GetCases()) != 0 {
		t.Fatalf("operator2's cases: %v, %v", resp, err)
	}
	e, _ = oneNewEvent(t, ts, "operator2", head2, "an empty page of ListCases")
	wantCallEvent(t, "an empty page of ListCases", e, "case.list", pb.CaseService_ListCases_FullMethodName, "", "ok", "", "probe-empty")

	// A call whose handler wrote its own event gets no second one.
	if _, err := ts.cases().GetCase(ts.as(t, operatorID), &pb.GetCaseRequest{Name: caseName}); err != nil {
		t.Fatal(err)
	}
	e, _ = oneNewEvent(t, ts, operatorID, head, "GetCase")
	if e.GetAction() != "case.read" || e.GetOutcome() != "ok" {
		t.Errorf("GetCase: wrote %v", e)
	}

	v, err := ts.audit().VerifyAuditLog(ts.as(t, "auditor"), &pb.VerifyAuditLogRequest{})
	if err != nil || !v.GetIntact() {
		t.Errorf("verify after the refused calls: %v, %v", v, err)
	}
}

// A signed-in user who floods the service with refused calls adds a
// bounded number of events: the first RefusedCallsPerUser of a window
// one each, the rest counted in one event of the user's, written when
// the window ends, which still accounts for every refusal.
func TestRefusedCallsOfOneUserAreBounded(t *testing.T) {
	ts := startServer(t, "")
	ts.addUser(t, "auditor", pb.Role_ROLE_AUDITOR, "orgs/system")
	_, head := newAuditEvents(t, ts, operatorID, 0)
	const over = 25
	for i := range auditlog.RefusedCallsPerUser + over {
		_, err := ts.cases().ListCases(withRequestID(ts.as(t, operatorID), fmt.Sprintf("flood-%d", i)), &pb.ListCasesRequest{PageToken: "bm90IGEgdG9rZW4"})
		wantCode(t, err, codes.InvalidArgument)
	}
	// Refusals for the role count toward the same bound.
	const denied = 5
	for range denied {
		_, err := ts.audit().ListAuditEvents(ts.as(t, operatorID), &pb.ListAuditEventsRequest{})
		wantCode(t, err, codes.PermissionDenied)
	}
	got, head := newAuditEvents(t, ts, operatorID, head)
	if len(got) != auditlog.RefusedCallsPerUser {
		t.Fatalf("%d refused calls in a minute wrote %d events, want %d", auditlog.RefusedCallsPerUser+over+denied, len(got), auditlog.RefusedCallsPerUser)
	}

	// The window ends; the next refusal writes its count first.
	ts.advance(t, auditlog.RefusalWindow+time.Second)
	_, err := ts.cases().ListCases(withRequestID(ts.as(t, operatorID), "after"), &pb.ListCasesRequest{PageToken: "bm90IGEgdG9rZW4"})
	wantCode(t, err, codes.InvalidArgument)
	got, _ = newAuditEvents(t, ts, operatorID, head)
	if len(got) != 2 {
		t.Fatalf("after the window: wrote%s\nwant the window's count and the new refusal", describeEvents(got))
	}
	count, own := got[1], got[0] // newest first
	wantReason := fmt.Sprintf("refused calls beyond %d a window: %d between ", auditlog.RefusedCallsPerUser, over+denied)
	if count.GetAction() != auditlog.RefusedCallsAction || count.GetOutcome() != "refused" || !strings.HasPrefix(count.GetReason(), wantReason) ||
		!strings.Contains(count.GetReason(), fmt.Sprintf("case.list refused page_token page_token.valid ×%d", over)) ||
		!strings.Contains(count.GetReason(), fmt.Sprintf("auth.denied denied ×%d", denied)) ||
		count.GetRequestId() != fmt.Sprintf("flood-%d", auditlog.RefusedCallsPerUser) || count.GetRole() != "HOTLINE_OPERATOR" {
		t.Errorf("the window's count: %v", count)
	}
	wantCallEvent(t, "the refusal after the window", own, "case.list", pb.CaseService_ListCases_FullMethodName, "", "refused",
		"page_token page_token.valid", "after")
}

// TestEveryRPCRefusedForItsInputLeavesOneEvent walks every method of the
// API's descriptors, with its row of the roles table, and calls it as a
// role that may, with a string of its request that the service refuses
// whatever the method (a control character): each such call, refused
// before its handler ran, writes exactly one event of its caller's, its
// method's action refused with the field and rule as its reason, and the
// auditor finds it listing by actor, by case and by time. Units and
// police units, which are not audited, are left out.
func TestEveryRPCRefusedForItsInputLeavesOneEvent(t *testing.T) {
	f := setupMatrix(t)
	heads := map[string]uint64{}
	for _, m := range childcaseMethods(t) {
		method := fullMethod(m)
		build, rule, ok := matrixEntry(t, method)
		if !ok {
			continue
		}
		action := auditOnSuccess[method]
		if rule.Step != "" {
			action = "case." + rule.Step
		}
		if action == "" {
			continue // not audited (README, "Audit")
		}
		t.Run(string(m.Name()), func(t *testing.T) {
			i := slices.IndexFunc(mxRoles, func(r mxRole) bool { return rule.Grant(model.Role(r.role)) != access.Refused })
			r := mxRoles[i]
			req := build(t, f, r.in, r.target)
			field, ok := spoilAString(req)
			if !ok {
				t.Skipf("%s takes no string", method)
			}
			_, heads[r.in] = newAuditEvents(t, f.ts, r.in, heads[r.in])
			_, err := f.invoke(t, m, r.in, req)
			if status.Code(err) != codes.InvalidArgument {
				t.Fatalf("as %s with a control character in %s: %v, want InvalidArgument", r.in, field, err)
			}
			var got []*pb.AuditEvent
			got, heads[r.in] = newAuditEvents(t, f.ts, r.in, heads[r.in])
			got = slices.DeleteFunc(got, func(e *pb.AuditEvent) bool {
				return r.in == "auditor" && e.GetAction() == "audit.list" && e.GetOutcome() == "ok" // the test's own listings
			})
			if len(got) != 1 || got[0].GetAction() != action || got[0].GetOutcome() != "refused" ||
				!strings.HasPrefix(got[0].GetReason(), field+" ") || got[0].GetRequestId() == "" {
				t.Fatalf("as %s, refused for %s: wrote%s\nwant exactly one %s refused, its reason %s and its rule", r.in, field, describeEvents(got), action, field)
			}
			findAuditEvent(t, f.ts, got[0])
		})
	}
}

// spoilAString puts a control character in a string of req: the first
// of its own fields that names no record, else the record it names. It
// returns the field, and false when req has no string field.
func spoilAString(req proto.Message) (string, bool) {
	fields := req.ProtoReflect().Descriptor().Fields()
	var named protoreflect.FieldDescriptor
	for i := range fields.Len() {
		fd := fields.Get(i)
		if fd.Kind() != protoreflect.StringKind || fd.IsList() || fd.ContainingOneof() != nil {
			continue
		}
		switch fd.Name() {
		case "name", "parent", "case":
			if named == nil {
				named = fd
			}
			continue
		}
		req.ProtoReflect().Set(fd, protoreflect.ValueOfString("a\x01b"))
		return string(fd.Name()), true
	}
	if named == nil {
		return "", false
	}
	req.ProtoReflect().Set(named, protoreflect.ValueOfString("a\x01b"))
	return string(named.Name()), true
}

// The refused calls still counted when the server stops are written
// then, not lost with the process.
func TestRefusedCallsCountedAtShutdownAreWritten(t *testing.T) {
	db := filepath.Join(t.TempDir(), "childcase.db")
	ts := startServer(t, db)
	ts.addUser(t, "auditor", pb.Role_ROLE_AUDITOR, "orgs/system")
	for range auditlog.RefusedCallsPerUser + 3 {
		_, err := ts.cases().ListCases(ts.as(t, operatorID), &pb.ListCasesRequest{PageToken: "bm90IGEgdG9rZW4"})
		wantCode(t, err, codes.InvalidArgument)
	}
	ts.stop()
	ts = startServer(t, db)
	events := auditedBy(t, ts, "auditor", operatorID)
	if !slices.ContainsFunc(events, func(e *pb.AuditEvent) bool {
		return e.GetAction() == auditlog.RefusedCallsAction && strings.Contains(e.GetReason(), ": 3 between ")
	}) {
		t.Errorf("after a restart the operator's events are%s\nwant the count of the 3 refusals beyond the bound", describeEvents(events))
	}
}

// TestReadsOfCasesNotFoundAreEachAudited: the bound on one user's refused
// calls covers the calls whose work wrote no event. A read of a case
// that does not exist writes its own not_found event, as a read of one
// out of scope does (the two must look alike, to the caller and on the
// trail), so a flood of made-up numbers is audited call by call, like
// any read, and never folded into a count: the README said "a record not
// found" was bounded, which holds only for the calls whose record the
// handler never read (an admin's token for users/ghost).
func TestReadsOfCasesNotFoundAreEachAudited(t *testing.T) {
	ts := startServer(t, "")
	ts.addUser(t, "auditor", pb.Role_ROLE_AUDITOR, "orgs/system")
	_, head := newAuditEvents(t, ts, operatorID, 0)
	const reads = auditlog.RefusedCallsPerUser + 5
	for i := range reads {
		_, err := ts.cases().GetCase(withRequestID(ts.as(t, operatorID), fmt.Sprintf("guess-%d", i)), &pb.GetCaseRequest{Name: "cases/HN-2026-09999"})
		wantCode(t, err, codes.NotFound)
	}
	ts.advance(t, auditlog.RefusalWindow+time.Second)
	got, _ := newAuditEvents(t, ts, operatorID, head)
	if len(got) != reads {
		t.Fatalf("%d reads of a case that does not exist wrote %d events, want one each:%s", reads, len(got), describeEvents(got))
	}
	for _, e := range got {
		if e.GetAction() != "case.read" || e.GetResource() != "cases/HN-2026-09999" || e.GetOutcome() != "not_found" {
			t.Errorf("a read of a case that does not exist wrote %s %s %s, want case.read cases/HN-2026-09999 not_found",
				e.GetAction(), e.GetResource(), e.GetOutcome())
		}
	}
}
