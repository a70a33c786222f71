package grpcapi

import (
	"context"
	"log/slog"
	"sync"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	pb "github.com/childcase/childcase/api/childcase/v1"
	"github.com/childcase/childcase/internal/domain/access"
	"github.com/childcase/childcase/internal/domain/audit"
	"github.com/childcase/childcase/internal/domain/auditlog"
	"github.com/childcase/childcase/internal/domain/clock"
	"github.com/childcase/childcase/internal/domain/model"
)

// methodActions is the audit action of each childcase method, as its
// answer writes it: a call of the method whose handler wrote no event
// (callAudit) is written under the same action, so that the trail of a
// user shows everything they tried, not only what they did. A step of
// the case process writes "case."+its step, from access's table.
var methodActions = func() map[string]string {
	m := map[string]string{
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
	for _, r := range access.Rules() {
		if r.Step != "" {
			m[apiPackage+r.Method] = "case." + r.Step
		}
	}
	return m
}()

// unauditedMethods are the methods no call of which is audited: units
// and police units, which every role reads (the console names a unit on
// every page that shows one) and which name no child or case. They are
// read from access's table, as the rows every role may call for an
// answer with no case content (Call), rather than listed here: a list
// of its own would let a method leave the trail unseen by a line added
// to it, where this takes a row of the roles table the README shows.
var unauditedMethods = func() map[string]bool {
	m := map[string]bool{}
	for _, r := range access.Rules() {
		if r.Step == "" && everyRoleCalls(r) {
			m[apiPackage+r.Method] = true
		}
	}
	return m
}()

// everyRoleCalls reports whether every role may call r's method, each
// for an answer that carries no case (access.Call).
func everyRoleCalls(r access.Rule) bool {
	for _, role := range model.Roles {
		if r.Grant(role) != access.Call {
			return false
		}
	}
	return true
}

// callAudit leaves every call of a signed-in user on the trail, whatever
// its outcome: a call whose handler committed no event of its caller
// (auditlog.Track tells) gets one here, under the method's action, on
// the record the request named (and that record's case), with its
// outcome: ok, not_found, refused with the refusal's code as its reason
// (the field and its rule, or the ErrorInfo reason), denied, or error
// with the failure's code; never the message, which may quote what was
// sent. Most calls write their own event (a read, a step, a refusal of a
// record in or out of scope); this is for the rest: a request refused
// for its input before any record was read (the schema's rules, a page
// token of another listing, the REST gateway's refusal of a body), a
// stream over the user's cap, a page that answered nothing, an admin's
// call on a user that exists already. Refusals and failures go through
// the per-user bound (auditlog.CallRefusals), so that a flood of them
// adds a bounded number of events. Calls refused before a user is known (no token, a
// bad one) are the sign-in guard's, per address; those refused for the
// role, authenticate's.
type callAudit struct {
	audit   *auditlog.Log
	refused *auditlog.CallRefusals
	cases   CaseResolver // nil: refused calls are audited without their case
	clock   clock.Clock
	log     *slog.Logger
}

func (a callAudit) unary(ctx context.Context, req any, info *grpc.UnaryServerInfo, next grpc.UnaryHandler) (resp any, err error) {
	p := principalFrom(ctx)
	action, ok := methodActions[info.FullMethod]
	if !ok || p.UserID == "" || a.audit == nil {
		return next(ctx, req)
	}
	ctx, call := auditlog.Track(ctx, p.UserID)
	defer func() {
		// A panic is answered INTERNAL by the recovery interceptor: the
		// call failed, and is on the trail as failed.
		if r := recover(); r != nil {
			a.record(ctx, call, p, info.FullMethod, action, req, errPanicked)
			panic(r)
		}
	}()
	resp, err = next(ctx, req)
	a.record(ctx, call, p, info.FullMethod, action, req, err)
	return resp, err
}

func (a callAudit) stream(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, next grpc.StreamHandler) error {
	p := principalFrom(ss.Context())
	action, ok := methodActions[info.FullMethod]
	if !ok || p.UserID == "" || a.audit == nil {
		return next(srv, ss)
	}
	ctx, call := auditlog.Track(ss.Context(), p.UserID)
	noted := &requestNotingStream{ServerStream: ss, ctx: ctx}
	defer func() {
		// As for a unary call: a stream whose handler panicked (a
		// watch, an export, a backup) failed, and is on the trail so.
		if r := recover(); r != nil {
			a.record(ctx, call, p, info.FullMethod, action, noted.request(), errPanicked)
			panic(r)
		}
	}()
	err := next(srv, noted)
	a.record(ctx, call, p, info.FullMethod, action, noted.request(), err)
	return err
}

// errPanicked stands for the answer to a call whose handler panicked.
var errPanicked = Internal()

// record writes the event of a call that ended with err, unless its
// handler wrote one.
func (a callAudit) record(ctx context.Context, call *auditlog.Call, p access.Principal, method, action string, req any, err error) {
	if call.Recorded() {
		return
	}
	outcome, reason := callOutcome(err)
	e := p.Event(a.clock.Now(), action, callTarget(method, req), "", outcome)
	// Screened as the gateway's refusals are: a field path that is not a
	// field's name (a map key, a name the client made up) is left out.
	e.Reason = screenedRefusal(reason)
	// The call's context, which a client that gave up has ended, would
	// lose the event; and the event is no handler's.
	ctx = auditlog.Untracked(context.WithoutCancel(ctx))
	var caseOf auditlog.CaseLookup
	if outcome != audit.OutcomeOK && e.Resource != method {
		// Looked up by the bound, which does not for every refusal
		// past it (a cost the caller would control).
		caseOf = caseLookup(a.cases, e.Resource)
	}
	// An answer's event is the record of a read; the others go through
	// the user's bound, failures too: a flood of writes a full database
	// refuses must not spend the room it keeps back for reads' events.
	// A write the full database refused is only counted (one event per
	// user and minute): an event of its own would take room that the
	// writes still being made need, a report's search entry after its
	// commit among them, so that an acknowledged case would go unfound.
	// The answer stands even if its event cannot be written (a refusal
	// for the role's does too); the operator's log says so: here for an
	// answer's event, in the bound for the others.
	switch {
	case outcome == audit.OutcomeOK:
		if err := a.audit.Record(ctx, e); err != nil && a.log != nil {
			a.log.ErrorContext(ctx, "a call could not be audited", "err", err, "action", action, "outcome", outcome)
		}
	case reason == ReasonDatabaseFull:
		a.refused.Count(ctx, e, caseOf)
	default:
		_ = a.refused.Record(ctx, e, caseOf) // logged by the bound when it fails
	}
}

// callOutcome is the outcome and reason of the event of a call that
// ended with err: a refusal of the request (refusalOf, a stale etag, a
// stream over its cap, a refusal for the role or of the token) by its
// code, or else a failure (the store, a full disk, a deadline, a
// cancelled call) by the ErrorInfo reason, or the status code without
// one.
func callOutcome(err error) (outcome, reason string) {
	if err == nil {
		return audit.OutcomeOK, ""
	}
	if outcome, reason, refused := refusalOf(err); refused {
		return outcome, reason
	}
	st := status.Convert(err)
	code := st.Code().String()
	for _, d := range st.Details() {
		if info, ok := d.(*errdetails.ErrorInfo); ok && info.GetReason() != "" {
			code = info.GetReason()
		}
	}
	switch {
	case st.Code() == codes.PermissionDenied, st.Code() == codes.Unauthenticated:
		return audit.OutcomeDenied, code
	case st.Code() == codes.Aborted, code == ReasonTooManyStreams:
		return audit.OutcomeRefused, code
	}
	return audit.OutcomeError, code
}

// requestNotingStream keeps the first request a server stream received,
// for the record its call's event names.
type requestNotingStream struct {
	grpc.ServerStream
	ctx context.Context

	mu    sync.Mutex
	first any
}

func (s *requestNotingStream) Context() context.Context { return s.ctx }

func (s *requestNotingStream) RecvMsg(m any) error {
	err := s.ServerStream.RecvMsg(m)
	if err == nil {
		s.mu.Lock()
		if s.first == nil {
			s.first = m
		}
		s.mu.Unlock()
	}
	return err
}

func (s *requestNotingStream) request() any {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.first
}

// refusalOf is the outcome and reason of a refused call's event, from its
// status; refused is false for what is no refusal of the request (the
// store failing, a full disk, a deadline).
func refusalOf(err error) (outcome, reason string, refused bool) {
	st := status.Convert(err)
	info, violation := "", ""
	for _, d := range st.Details() {
		switch d := d.(type) {
		case *errdetails.ErrorInfo:
			info = d.GetReason()
		case *errdetails.BadRequest:
			if v := d.GetFieldViolations(); len(v) > 0 && violation == "" {
				violation = v[0].GetField() + " " + v[0].GetReason()
			}
		}
	}
	switch st.Code() {
	case codes.NotFound:
		return audit.OutcomeNotFound, "", true
	case codes.InvalidArgument:
		if violation == "" || (info != "" && info != ReasonInvalidField) {
			// A refusal of the whole input, no one field's (the REST
			// gateway's BODY_TOO_LARGE, whose violation names only
			// "body"): its code.
			return audit.OutcomeRefused, info, true
		}
		return audit.OutcomeRefused, violation, true
	case codes.AlreadyExists, codes.FailedPrecondition:
		return audit.OutcomeRefused, info, true
	}
	return "", "", false
}

// callTarget is the record a call named, as its answer's event names it:
// the user or police unit to create, else the request's name or parent
// (or case), else what the method acts on. A value that could be no
// record's name (screenedName) is left for the method, as for a refusal
// for the role.
func callTarget(method string, req any) string {
	switch r := req.(type) {
	case *pb.CreateUserRequest:
		if name := "users/" + r.GetUserId(); r.GetUserId() != "" && screenedName(name) {
			return name
		}
		return method
	case *pb.CreatePoliceUnitRequest:
		if name := "policeUnits/" + r.GetPoliceUnitId(); r.GetPoliceUnitId() != "" && screenedName(name) {
			return name
		}
		return method
	case *pb.ListUsersRequest:
		return "users"
	case *pb.RotateMasterKeyRequest:
		return "masterKey"
	}
	if name := targetName(req); name != "" {
		return name
	}
	return method
}
