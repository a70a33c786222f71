package app_test

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/known/timestamppb"

	pb "github.com/childcase/childcase/api/childcase/v1"
	"github.com/childcase/childcase/internal/domain/access"
	"github.com/childcase/childcase/internal/domain/model"
)

// The audit matrix holds the README's "every access is audited" against
// every RPC of the childcase services, found from the service descriptors
// as the access matrix finds them: what each writes to the log as its
// caller when it answers, when the caller's role may not call it, and
// when the record it names is out of the caller's scope. A new RPC without
// a row in auditOnSuccess fails the test.

// auditOnSuccess is the audit action an RPC writes, as its caller, when it
// answers. A step of the case process writes "case."+its step (from
// access's table) and has no row here. "" says the RPC writes none, and
// why stands beside it.
var auditOnSuccess = map[string]string{
	pb.ReportService_CreateReport_FullMethodName:     "report.create",
	pb.ReportService_GetReport_FullMethodName:        "report.read",
	pb.ReportService_ListReports_FullMethodName:      "report.list",
	pb.ReportService_LinkReport_FullMethodName:       "report.link",
	pb.ReportService_DiscloseReporter_FullMethodName: "reporter.disclose",

	pb.CaseService_GetCase_FullMethodName:     "case.read",
	pb.CaseService_ListCases_FullMethodName:   "case.list",
	pb.CaseService_SearchCases_FullMethodName: "case.search",
	pb.CaseService_ExportCases_FullMethodName: "cases.export",

	pb.CaseProcessService_ListCaseEvents_FullMethodName:         "case.events.read",
	pb.CaseProcessService_ListAssignableOfficers_FullMethodName: "case.officers.list",
	pb.CaseProcessService_WatchEvents_FullMethodName:            "notifications.watch",

	pb.StatisticsService_GetStatistics_FullMethodName:        "statistics.read",
	pb.StatisticsService_GetActionMonthReport_FullMethodName: "statistics.report",
	pb.StatisticsService_GetPeriodicReport_FullMethodName:    "statistics.report",

	// Units and police units, which every role reads and which name no
	// child or case, are not audited (README, "Audit").
	pb.UnitService_ListUnits_FullMethodName:             "",
	pb.UnitService_GetUnit_FullMethodName:               "",
	pb.PoliceUnitService_ListPoliceUnits_FullMethodName: "",
	pb.PoliceUnitService_GetPoliceUnit_FullMethodName:   "",

	pb.AdminService_CreateUser_FullMethodName:       "user.create",
	pb.AdminService_GetUser_FullMethodName:          "user.read",
	pb.AdminService_ListUsers_FullMethodName:        "user.list",
	pb.AdminService_DisableUser_FullMethodName:      "user.disable",
	pb.AdminService_ResetPassword_FullMethodName:    "user.reset_password",
	pb.AdminService_CreateToken_FullMethodName:      "token.create",
	pb.AdminService_ListTokens_FullMethodName:       "token.list",
	pb.AdminService_RevokeToken_FullMethodName:      "token.revoke",
	pb.AdminService_CreatePoliceUnit_FullMethodName: "police_unit.create",
	pb.AdminService_RotateMasterKey_FullMethodName:  "keys.rotate",
	pb.AdminService_BackupDatabase_FullMethodName:   "database.backup",

	pb.AuditService_ListAuditEvents_FullMethodName: "audit.list",
	pb.AuditService_VerifyAuditLog_FullMethodName:  "audit.verify",
}

// auditOutOfScope is the action a scoped RPC writes, as its caller and on
// the case, when the record it names is out of the caller's scope (steps
// of the case process: "case."+step). A link of a report to a case out of
// scope is refused on the case.
var auditOutOfScope = map[string]string{
	pb.ReportService_GetReport_FullMethodName:                   "report.read",
	pb.ReportService_LinkReport_FullMethodName:                  "case.add_report",
	pb.ReportService_DiscloseReporter_FullMethodName:            "reporter.disclose",
	pb.CaseService_GetCase_FullMethodName:                       "case.read",
	pb.CaseProcessService_ListCaseEvents_FullMethodName:         "case.events.read",
	pb.CaseProcessService_ListAssignableOfficers_FullMethodName: "case.officers.list",
}

// newAuditEvents returns the user's events written after seq, and the
// highest seq of the user's events.
func newAuditEvents(t *testing.T, ts *testServer, user string, after uint64) ([]*pb.AuditEvent, uint64) {
	t.Helper()
	var out []*pb.AuditEvent
	head := after
	for _, e := range auditedBy(t, ts, "auditor", user) {
		if e.GetSeq() > after {
			out = append(out, e)
		}
		head = max(head, e.GetSeq())
	}
	return out, head
}

func describeEvents(events []*pb.AuditEvent) string {
	var b strings.Builder
	for _, e := range events {
		b.WriteString("\n  " + e.GetAction() + " " + e.GetResource() + " case=" + e.GetCase() + " " + e.GetOutcome())
	}
	return b.String()
}

func TestEveryRPCIsAudited(t *testing.T) {
	f := setupMatrix(t)
	heads := map[string]uint64{}
	since := func(t *testing.T, user string) []*pb.AuditEvent {
		t.Helper()
		events, head := newAuditEvents(t, f.ts, user, heads[user])
		heads[user] = head
		return events
	}
	methods := childcaseMethods(t)
	for _, m := range methods {
		method := fullMethod(m)
		build, rule, ok := matrixEntry(t, method)
		if !ok {
			continue
		}
		okAction, listed := auditOnSuccess[method]
		if rule.Step != "" {
			okAction, listed = "case."+rule.Step, true
		}
		if !listed {
			t.Errorf("%s has no row in auditOnSuccess: what does it audit?", method)
			continue
		}
		outAction := auditOutOfScope[method]
		if rule.Step != "" {
			outAction = "case." + rule.Step
		}
		t.Run(string(m.Name()), func(t *testing.T) {
			// Answered, as the first role that may call it, in scope.
			i := slices.IndexFunc(mxRoles, func(r mxRole) bool { return rule.Grant(model.Role(r.role)) != access.Refused })
			if i < 0 {
				t.Fatalf("no role may call %s", method)
			}
			r := mxRoles[i]
			since(t, r.in)
			_, err := f.invoke(t, m, r.in, build(t, f, r.in, r.target))
			got := since(t, r.in)
			switch {
			case err == nil && okAction == "":
				if len(got) > 0 {
					t.Errorf("as %s: wrote%s, want nothing", r.in, describeEvents(got))
				}
			case err == nil:
				if !slices.ContainsFunc(got, func(e *pb.AuditEvent) bool {
					return e.GetAction() == okAction && e.GetOutcome() == "ok"
				}) {
					t.Errorf("as %s: answered, wrote%s, want %s ok", r.in, describeEvents(got), okAction)
				}
			case rule.Step != "" && status.Code(err) == codes.FailedPrecondition:
				// The case's state refused the step: nothing changed, but
				// the step read the case, so it is on the case's trail as
				// refused, and as nothing else.
				if slices.ContainsFunc(got, func(e *pb.AuditEvent) bool { return e.GetAction() == okAction && e.GetOutcome() != "refused" }) ||
					!slices.ContainsFunc(got, func(e *pb.AuditEvent) bool { return e.GetAction() == okAction && e.GetOutcome() == "refused" }) {
					t.Errorf("as %s: refused (%v), wrote%s; want %s refused and no other", r.in, err, describeEvents(got), okAction)
				}
			default:
				t.Fatalf("as %s: %v", r.in, err)
			}

			// Refused for the role: auth.denied by the caller, on the
			// record the request names (and its case), else the method.
			if j := slices.IndexFunc(mxRoles, func(r mxRole) bool { return rule.Grant(model.Role(r.role)) == access.Refused }); j >= 0 {
				r := mxRoles[j]
				since(t, r.in)
				req := build(t, f, r.in, r.target)
				_, err := f.invoke(t, m, r.in, req)
				if status.Code(err) != codes.PermissionDenied {
					t.Fatalf("as %s: got %v, want PermissionDenied", r.in, err)
				}
				got := since(t, r.in)
				if !slices.ContainsFunc(got, func(e *pb.AuditEvent) bool {
					return e.GetAction() == "auth.denied" && e.GetOutcome() == "denied" &&
						(e.GetResource() == method || strings.HasPrefix(e.GetResource(), "reports/") || strings.HasPrefix(e.GetResource(), "cases/") || strings.HasPrefix(e.GetResource(), "users/"))
				}) {
					t.Errorf("refused as %s: wrote%s, want auth.denied", r.in, describeEvents(got))
				}
			}

			// Out of scope: as for a record that does not exist, and on
			// the trail of the case it named.
			if outAction == "" || r.out == "" {
				return
			}
			outUser := r.out
			if method == pb.ReportService_LinkReport_FullMethodName && r.outSameOrg {
				outUser = "operator.swc"
			}
			since(t, outUser)
			_, err = f.invoke(t, m, outUser, build(t, f, outUser, r.target))
			if c := status.Code(err); c != codes.NotFound && c != codes.InvalidArgument {
				t.Fatalf("out of scope as %s: got %v, want NotFound", outUser, err)
			}
			got = since(t, outUser)
			if !slices.ContainsFunc(got, func(e *pb.AuditEvent) bool {
				return e.GetAction() == outAction && e.GetOutcome() == "not_found" && e.GetCase() == f.cases[r.target]
			}) {
				t.Errorf("out of scope as %s: wrote%s, want %s not_found on %s", outUser, describeEvents(got), outAction, f.cases[r.target])
			}
		})
	}

	// Unauthenticated: every RPC with a token that is none. Each refusal
	// is counted in the events of its window ("refused sign-ins: N from
	// ..."), written when the window ends.
	f.ts.tokens.put(t, "no.one", "not-a-token")
	_, _, before := signInAudit(t, f.ts)
	for _, m := range methods {
		req := matrixCalls[fullMethod(m)](t, f, "admin", "A")
		if _, err := f.invoke(t, m, "no.one", req); status.Code(err) != codes.Unauthenticated && status.Code(err) != codes.ResourceExhausted {
			t.Errorf("%s without a token: got %v, want Unauthenticated", fullMethod(m), err)
		}
	}
	_, _, after := signInAudit(t, f.ts)
	refused := after - before
	if refused != len(methods) {
		t.Errorf("the log counts %d refused sign-ins, want %d (one per RPC called without a token)", refused, len(methods))
	}
}

// TestEveryRPCEventIsExactAndFound holds each call of the audit matrix to
// the README's event, not just to an event of its action: every event a
// call writes names its caller (actor, role, unit, the token called with)
// and shares the call's request id; a call refused for the role writes
// exactly one auth.denied, on the record in its name, else its parent,
// else its case, with that record's case; a call out of scope exactly one
// not_found event of its action on the record it named and that record's
// case; a call on one record in scope exactly one event of its action on
// it; a call that answers many records (a list, a search, an export, a
// watch) or none (a statistic) exactly the events its answer calls for
// (answerEvents). And the auditor finds each event listing by the case, by the actor
// and by a time range of one instant, a few events a page, following the
// page tokens.
func TestEveryRPCEventIsExactAndFound(t *testing.T) {
	f := setupMatrix(t)
	units := map[string]string{}
	users, err := f.ts.admin().ListUsers(f.ts.as(t, "admin"), &pb.ListUsersRequest{PageSize: 100})
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range users.GetUsers() {
		units[u.GetName()] = u.GetUnit()
	}
	heads := map[string]uint64{}
	for _, r := range mxRoles {
		for _, u := range []string{r.in, r.out} {
			if u != "" {
				_, heads[u] = newAuditEvents(t, f.ts, u, 0)
			}
		}
	}
	// singleRecord: the record a call in scope reads or changes, and its
	// one event's action (steps: "case."+step).
	singleRecord := map[string]string{
		pb.ReportService_GetReport_FullMethodName:                   "report.read",
		pb.ReportService_DiscloseReporter_FullMethodName:            "reporter.disclose",
		pb.CaseService_GetCase_FullMethodName:                       "case.read",
		pb.CaseProcessService_ListCaseEvents_FullMethodName:         "case.events.read",
		pb.CaseProcessService_ListAssignableOfficers_FullMethodName: "case.officers.list",
	}
	// call makes one call as user after building its request, and returns
	// the events it wrote as user, each checked to name its caller.
	call := func(t *testing.T, m protoreflect.MethodDescriptor, build mxCall, role pb.Role, user, target string) (proto.Message, string, []*pb.AuditEvent, error) {
		t.Helper()
		req := build(t, f, user, target)
		_, heads[user] = newAuditEvents(t, f.ts, user, heads[user])
		// The call at an instant of its own: the auditor's listings
		// below come after it.
		f.ts.advance(t, time.Millisecond)
		answer, err := f.invoke(t, m, user, req)
		f.ts.advance(t, time.Millisecond)
		var got []*pb.AuditEvent
		got, heads[user] = newAuditEvents(t, f.ts, user, heads[user])
		tok := f.ts.tokens.get(user)
		for _, e := range got {
			if e.GetAction() == "audit.list" && user == "auditor" {
				continue // the test's own listing of the auditor's events
			}
			if e.GetRole() != strings.TrimPrefix(role.String(), "ROLE_") || e.GetUnit() != units["users/"+user] ||
				len(tok) < 19 || e.GetToken() != "users/"+user+"/tokens/"+tok[3:19] || e.GetRequestId() == "" ||
				e.GetRequestId() != got[0].GetRequestId() {
				t.Errorf("as %s: event %v does not name its caller (role %s, unit %s) and its call", user, e, role, units["users/"+user])
			}
			findAuditEvent(t, f.ts, e)
		}
		got = slices.DeleteFunc(got, func(e *pb.AuditEvent) bool { return e.GetAction() == "audit.list" && user == "auditor" })
		return req, answer, got, err
	}
	// caseOf is the case of a fixture record, "" for any other.
	caseOf := func(resource string) string {
		for k, c := range f.cases {
			if resource == c || resource == f.reports[k] {
				return c
			}
		}
		return ""
	}
	exactlyOne := func(t *testing.T, as string, got []*pb.AuditEvent, action, resource, caseName, outcome string) {
		t.Helper()
		if len(got) != 1 || got[0].GetAction() != action || got[0].GetResource() != resource || got[0].GetCase() != caseName || got[0].GetOutcome() != outcome {
			t.Errorf("%s: wrote%s\nwant exactly %s %s case=%s %s", as, describeEvents(got), action, resource, caseName, outcome)
		}
	}

	for _, m := range childcaseMethods(t) {
		method := fullMethod(m)
		build, rule, ok := matrixEntry(t, method)
		if !ok {
			continue
		}
		t.Run(string(m.Name()), func(t *testing.T) {
			i := slices.IndexFunc(mxRoles, func(r mxRole) bool { return rule.Grant(model.Role(r.role)) != access.Refused })
			r := mxRoles[i]
			req, answer, got, err := call(t, m, build, r.role, r.in, r.target)
			action, one := singleRecord[method]
			if rule.Step != "" {
				action, one = "case."+rule.Step, true
			}
			if one {
				resource := recordOf(method, f.cases[r.target], f.reports[r.target])
				outcome := "ok"
				if status.Code(err) == codes.FailedPrecondition && rule.Step != "" {
					outcome = "refused"
				} else if err != nil {
					t.Fatalf("as %s: %v", r.in, err)
				}
				exactlyOne(t, "in scope as "+r.in, got, action, resource, f.cases[r.target], outcome)
			}
			if answered, ok := answerEvents[method]; ok {
				if err != nil {
					t.Fatalf("as %s: %v", r.in, err)
				}
				exactly(t, "in scope as "+r.in, got, answered(t, answer))
			}

			if j := slices.IndexFunc(mxRoles, func(r mxRole) bool { return rule.Grant(model.Role(r.role)) == access.Refused }); j >= 0 {
				r := mxRoles[j]
				req, _, got, err := call(t, m, build, r.role, r.in, r.target)
				if status.Code(err) != codes.PermissionDenied {
					t.Fatalf("as %s: got %v, want PermissionDenied", r.in, err)
				}
				resource := method
				for _, field := range []protoreflect.Name{"name", "parent", "case"} {
					fd := req.ProtoReflect().Descriptor().Fields().ByName(field)
					if fd != nil && fd.Kind() == protoreflect.StringKind && req.ProtoReflect().Get(fd).String() != "" {
						resource = req.ProtoReflect().Get(fd).String()
						break
					}
				}
				exactlyOne(t, "refused as "+r.in, got, "auth.denied", resource, caseOf(resource), "denied")
			}
			_ = req

			out := auditOutOfScope[method]
			if rule.Step != "" {
				out = "case." + rule.Step
			}
			if out == "" || r.out == "" {
				return
			}
			outUser := r.out
			if method == pb.ReportService_LinkReport_FullMethodName && r.outSameOrg {
				outUser = "operator.swc"
			}
			outRole := r.role
			if k := slices.IndexFunc(mxRoles, func(x mxRole) bool { return x.in == outUser || x.out == outUser }); k >= 0 {
				outRole = mxRoles[k].role
			}
			_, _, got, err = call(t, m, build, outRole, outUser, r.target)
			if c := status.Code(err); c != codes.NotFound && c != codes.InvalidArgument {
				t.Fatalf("out of scope as %s: got %v, want NotFound", outUser, err)
			}
			resource := recordOf(method, f.cases[r.target], f.reports[r.target])
			exactlyOne(t, "out of scope as "+outUser, got, out, resource, f.cases[r.target], "not_found")
		})
	}
}

// recordOf is the record a call of method on a target names, whose case
// is caseName and report report: the report for its reads, the case else.
func recordOf(method, caseName, report string) string {
	switch method {
	case pb.ReportService_GetReport_FullMethodName:
		return report
	case pb.ReportService_DiscloseReporter_FullMethodName:
		return report + "/reporter"
	}
	return caseName
}

// findAuditEvent lists the log as the auditor, three events a page and
// following the page tokens, by the event's actor, by its case and by the
// one instant it was written at, and fails unless each listing shows it
// as it is.
func findAuditEvent(t *testing.T, ts *testServer, want *pb.AuditEvent) {
	t.Helper()
	at := want.GetTime()
	queries := []*pb.ListAuditEventsRequest{
		{Actor: want.GetActor()},
		{StartTime: at, EndTime: timestamppb.New(at.AsTime().Add(time.Nanosecond))},
	}
	if want.GetCase() != "" {
		queries = append(queries, &pb.ListAuditEventsRequest{Case: want.GetCase()})
	}
	for _, q := range queries {
		found := false
		token := ""
		for pages := 0; !found && pages < 400; pages++ {
			page := proto.CloneOf(q)
			page.PageSize, page.PageToken = 3, token
			resp, err := ts.audit().ListAuditEvents(ts.as(t, "auditor"), page)
			if err != nil {
				t.Fatal(err)
			}
			for _, e := range resp.GetEvents() {
				if e.GetSeq() == want.GetSeq() {
					found = true
					if !proto.Equal(e, want) {
						t.Errorf("%s shows event %d as %v, want %v", describeAuditQuery(q), want.GetSeq(), e, want)
					}
				}
			}
			if token = resp.GetNextPageToken(); token == "" {
				break
			}
		}
		if !found {
			t.Errorf("%s does not show event %d (%s %s)", describeAuditQuery(q), want.GetSeq(), want.GetAction(), want.GetResource())
		}
	}
}

// wantEvent is an event a call must write; an empty resource takes any
// (the statistics name their unit and period in it).
type wantEvent struct{ action, resource, caseName, outcome string }

func (w wantEvent) String() string {
	return w.action + " " + w.resource + " case=" + w.caseName + " " + w.outcome
}

// answerEvents gives, for the methods that answer many records or no
// record, the events a call in scope writes, read off its answer (JSON,
// or an export's CSV): one for each case, report, user or case of the
// notifications it answers, and the call's own where the README gives it
// one (a search, an export, a watch, a statistic). Exactly these: a
// record answered and not on the trail, or on the trail and not
// answered, fails.
var answerEvents = map[string]func(t *testing.T, answer string) []wantEvent{
	pb.CaseService_ListCases_FullMethodName: func(t *testing.T, answer string) []wantEvent {
		var resp struct{ Cases []struct{ Name string } }
		unmarshalAnswer(t, answer, &resp)
		var want []wantEvent
		for _, c := range resp.Cases {
			want = append(want, wantEvent{"case.list", c.Name, c.Name, "ok"})
		}
		return want
	},
	pb.ReportService_ListReports_FullMethodName: func(t *testing.T, answer string) []wantEvent {
		var resp struct {
			Reports []struct{ Name, Case string }
		}
		unmarshalAnswer(t, answer, &resp)
		var want []wantEvent
		for _, r := range resp.Reports {
			want = append(want, wantEvent{"report.list", r.Name, r.Case, "ok"})
		}
		return want
	},
	pb.CaseService_SearchCases_FullMethodName: func(t *testing.T, answer string) []wantEvent {
		var resp struct {
			Candidates []struct{ Case struct{ Name string } }
		}
		unmarshalAnswer(t, answer, &resp)
		want := []wantEvent{{"case.search", "cases", "", "ok"}}
		for _, c := range resp.Candidates {
			want = append(want, wantEvent{"case.search", c.Case.Name, c.Case.Name, "ok"})
		}
		return want
	},
	pb.CaseService_ExportCases_FullMethodName: func(t *testing.T, answer string) []wantEvent {
		rows, err := csv.NewReader(strings.NewReader(strings.TrimPrefix(answer, "\ufeff"))).ReadAll() // after its byte order mark
		if err != nil || len(rows) == 0 || rows[0][0] != "case_number" {
			t.Fatalf("the export is no CSV with case_number first (%v):\n%s", err, answer)
		}
		want := []wantEvent{{"cases.export", "cases", "", "ok"}}
		for _, row := range rows[1:] {
			want = append(want, wantEvent{"case.export", "cases/" + row[0], "cases/" + row[0], "ok"})
		}
		return want
	},
	pb.CaseProcessService_WatchEvents_FullMethodName: func(t *testing.T, answer string) []wantEvent {
		want := []wantEvent{{"notifications.watch", "notifications", "", "ok"}}
		seen := map[string]bool{} // one event per case, on its first notification
		for d := json.NewDecoder(strings.NewReader(answer)); d.More(); {
			var n struct{ Seq, Case string }
			if err := d.Decode(&n); err != nil {
				t.Fatalf("the notifications sent %q: %v", answer, err)
			}
			if !seen[n.Case] {
				seen[n.Case] = true
				want = append(want, wantEvent{"notification.read", "notifications/" + n.Seq, n.Case, "ok"})
			}
		}
		if len(want) == 1 {
			t.Fatalf("the watch sent nothing: nothing to hold its events to")
		}
		return want
	},
	pb.AdminService_ListUsers_FullMethodName: func(t *testing.T, answer string) []wantEvent {
		var resp struct{ Users []struct{ Name string } }
		unmarshalAnswer(t, answer, &resp)
		var want []wantEvent
		for _, u := range resp.Users {
			want = append(want, wantEvent{"user.list", u.Name, "", "ok"})
		}
		return want
	},
	pb.StatisticsService_GetStatistics_FullMethodName: func(*testing.T, string) []wantEvent {
		return []wantEvent{{"statistics.read", "", "", "ok"}}
	},
	pb.StatisticsService_GetActionMonthReport_FullMethodName: func(*testing.T, string) []wantEvent {
		return []wantEvent{{"statistics.report", "", "", "ok"}}
	},
	pb.StatisticsService_GetPeriodicReport_FullMethodName: func(*testing.T, string) []wantEvent {
		return []wantEvent{{"statistics.report", "", "", "ok"}}
	},
	pb.AuditService_VerifyAuditLog_FullMethodName: func(*testing.T, string) []wantEvent {
		return []wantEvent{{"audit.verify", "auditEvents", "", "ok"}}
	},
}

func unmarshalAnswer(t *testing.T, answer string, v any) {
	t.Helper()
	if err := json.Unmarshal([]byte(answer), v); err != nil {
		t.Fatalf("the answer %q: %v", answer, err)
	}
}

// exactly fails unless got are the events want, in any order, one each.
func exactly(t *testing.T, as string, got []*pb.AuditEvent, want []wantEvent) {
	t.Helper()
	left := slices.Clone(want)
	var extra []*pb.AuditEvent
	for _, e := range got {
		i := slices.IndexFunc(left, func(w wantEvent) bool {
			return w.action == e.GetAction() && (w.resource == "" || w.resource == e.GetResource()) &&
				w.caseName == e.GetCase() && w.outcome == e.GetOutcome()
		})
		if i < 0 {
			extra = append(extra, e)
			continue
		}
		left = slices.Delete(left, i, i+1)
	}
	if len(left) > 0 || len(extra) > 0 {
		t.Errorf("%s: wrote%s\nwant exactly %v: missing %v, not answered%s", as, describeEvents(got), want, left, describeEvents(extra))
	}
}

// TestRefusedAdminCallsAreAudited holds the README's "every call refused"
// to the admin's calls refused after authentication: on a user, token or
// police unit that does not exist, one that exists already, a state that
// does not allow the change, or bad input (the schema's and the
// domain's). Each writes exactly one event, the call's action on the
// record it named, by the admin with the call's request id: not_found,
// or refused with the refusal's code as its reason, as a refused case
// step's event has. Without them an admin could fish for user ids
// unseen.
func TestRefusedAdminCallsAreAudited(t *testing.T) {
	ts := startServer(t, "")
	ts.addUser(t, "auditor", pb.Role_ROLE_AUDITOR, "orgs/system")
	ts.addUser(t, "gone", pb.Role_ROLE_AUDITOR, "orgs/system")
	ts.addPoliceUnit(t, "ca-ba-dinh", "units/00004@2025-07-01")
	admin := ts.admin()
	if _, err := admin.DisableUser(ts.as(t, "admin"), &pb.DisableUserRequest{Name: "users/gone"}); err != nil {
		t.Fatal(err)
	}
	if _, err := admin.CreateToken(ts.as(t, "admin"), &pb.CreateTokenRequest{Parent: "users/auditor", RequestId: "token-once"}); err != nil {
		t.Fatal(err)
	}
	operator := &pb.User{DisplayName: "Another operator", Role: pb.Role_ROLE_HOTLINE_OPERATOR, Unit: "orgs/hotline-111"}
	const noToken = "users/operator/tokens/0123456789abcdef"
	tests := []struct {
		name                              string
		call                              func(context.Context) error
		code                              codes.Code
		action, resource, outcome, reason string
	}{
		{"a token for a user who does not exist", func(ctx context.Context) error {
			_, err := admin.CreateToken(ctx, &pb.CreateTokenRequest{Parent: "users/ghost"})
			return err
		}, codes.NotFound, "token.create", "users/ghost", "not_found", ""},
		{"a password reset of a user who does not exist", func(ctx context.Context) error {
			_, err := admin.ResetPassword(ctx, &pb.ResetPasswordRequest{Name: "users/ghost"})
			return err
		}, codes.NotFound, "user.reset_password", "users/ghost", "not_found", ""},
		{"disabling a user who does not exist", func(ctx context.Context) error {
			_, err := admin.DisableUser(ctx, &pb.DisableUserRequest{Name: "users/ghost"})
			return err
		}, codes.NotFound, "user.disable", "users/ghost", "not_found", ""},
		{"revoking a token of a user who does not exist", func(ctx context.Context) error {
			_, err := admin.RevokeToken(ctx, &pb.RevokeTokenRequest{Name: "users/ghost/tokens/0123456789abcdef"})
			return err
		}, codes.NotFound, "token.revoke", "users/ghost/tokens/0123456789abcdef", "not_found", ""},
		{"revoking a token that does not exist", func(ctx context.Context) error {
			_, err := admin.RevokeToken(ctx, &pb.RevokeTokenRequest{Name: noToken})
			return err
		}, codes.NotFound, "token.revoke", noToken, "not_found", ""},
		{"creating a user whose id is taken", func(ctx context.Context) error {
			_, err := admin.CreateUser(ctx, &pb.CreateUserRequest{UserId: "operator", User: operator})
			return err
		}, codes.AlreadyExists, "user.create", "users/operator", "refused", "ALREADY_EXISTS"},
		{"creating a police unit whose id is taken", func(ctx context.Context) error {
			_, err := admin.CreatePoliceUnit(ctx, &pb.CreatePoliceUnitRequest{PoliceUnitId: "ca-ba-dinh",
				PoliceUnit: &pb.PoliceUnit{DisplayName: "Công an phường Ba Đình", Covers: []string{"units/00004@2025-07-01"}}})
			return err
		}, codes.AlreadyExists, "police_unit.create", "policeUnits/ca-ba-dinh", "refused", "ALREADY_EXISTS"},
		{"creating the service's own user id", func(ctx context.Context) error {
			_, err := admin.CreateUser(ctx, &pb.CreateUserRequest{UserId: "system", User: operator})
			return err
		}, codes.InvalidArgument, "user.create", "users/system", "refused", "user_id user.id_reserved"},
		{"creating a user without a role (the schema's rule)", func(ctx context.Context) error {
			_, err := admin.CreateUser(ctx, &pb.CreateUserRequest{UserId: "new.one",
				User: &pb.User{DisplayName: "New one", Unit: "orgs/hotline-111"}})
			return err
		}, codes.InvalidArgument, "user.create", "users/new.one", "refused", "user.role required"},
		{"reading a name that is no user's", func(ctx context.Context) error {
			_, err := admin.GetUser(ctx, &pb.GetUserRequest{Name: "operators/operator"})
			return err
		}, codes.InvalidArgument, "user.read", "operators/operator", "refused", "name user.name"},
		{"a token for a disabled user", func(ctx context.Context) error {
			_, err := admin.CreateToken(ctx, &pb.CreateTokenRequest{Parent: "users/gone"})
			return err
		}, codes.FailedPrecondition, "token.create", "users/gone", "refused", "USER_DISABLED"},
		{"disabling oneself", func(ctx context.Context) error {
			_, err := admin.DisableUser(ctx, &pb.DisableUserRequest{Name: "users/admin"})
			return err
		}, codes.FailedPrecondition, "user.disable", "users/admin", "refused", "SELF_DISABLE"},
		{"a request_id reused for another request", func(ctx context.Context) error {
			_, err := admin.CreateToken(ctx, &pb.CreateTokenRequest{Parent: "users/operator", RequestId: "token-once"})
			return err
		}, codes.AlreadyExists, "token.create", "users/operator", "refused", "REQUEST_ID_REUSED"},
		// A read that does not find its user is audited by the read
		// itself, once.
		{"reading a user who does not exist", func(ctx context.Context) error {
			_, err := admin.GetUser(ctx, &pb.GetUserRequest{Name: "users/ghost"})
			return err
		}, codes.NotFound, "user.read", "users/ghost", "not_found", ""},
	}
	_, head := newAuditEvents(t, ts, "admin", 0)
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			requestID := fmt.Sprintf("refused-admin-call-%d", i)
			err := tc.call(metadata.AppendToOutgoingContext(ts.as(t, "admin"), "x-request-id", requestID))
			wantCode(t, err, tc.code)
			var got []*pb.AuditEvent
			got, head = newAuditEvents(t, ts, "admin", head)
			if len(got) != 1 || got[0].GetAction() != tc.action || got[0].GetResource() != tc.resource ||
				got[0].GetOutcome() != tc.outcome || got[0].GetReason() != tc.reason || got[0].GetRequestId() != requestID ||
				got[0].GetRole() != "ADMIN" {
				t.Fatalf("wrote%s (reason %q)\nwant exactly %s %s %s, reason %q, request id %s",
					describeEvents(got), reasonsOf(got), tc.action, tc.resource, tc.outcome, tc.reason, requestID)
			}
			findAuditEvent(t, ts, got[0])
		})
	}
	// Over REST too, which reaches the same interceptors through the
	// gateway.
	t.Run("over REST", func(t *testing.T) {
		req, err := http.NewRequest(http.MethodPost, "http://"+ts.HTTPAddr()+"/v1/users/ghost.rest/tokens", strings.NewReader(`{}`))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Authorization", "Bearer "+ts.tokens.get("admin"))
		req.Header.Set("X-Request-Id", "refused-admin-call-rest")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusNotFound {
			t.Fatalf("POST /v1/users/ghost.rest/tokens: %s, want 404", resp.Status)
		}
		var got []*pb.AuditEvent
		got, head = newAuditEvents(t, ts, "admin", head)
		if len(got) != 1 || got[0].GetAction() != "token.create" || got[0].GetResource() != "users/ghost.rest" ||
			got[0].GetOutcome() != "not_found" || got[0].GetRequestId() != "refused-admin-call-rest" {
			t.Fatalf("wrote%s\nwant exactly token.create users/ghost.rest not_found, request id refused-admin-call-rest", describeEvents(got))
		}
	})
}

func reasonsOf(events []*pb.AuditEvent) []string {
	var out []string
	for _, e := range events {
		out = append(out, e.GetReason())
	}
	return out
}
