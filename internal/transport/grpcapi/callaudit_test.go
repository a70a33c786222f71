package grpcapi

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"

	pb "github.com/childcase/childcase/api/childcase/v1"
	"github.com/childcase/childcase/internal/domain/access"
	"github.com/childcase/childcase/internal/domain/audit"
	"github.com/childcase/childcase/internal/domain/auditlog"
	"github.com/childcase/childcase/internal/domain/clock"
	"github.com/childcase/childcase/internal/domain/datastore"
	"github.com/childcase/childcase/internal/domain/model"
	"github.com/childcase/childcase/internal/storage/memstore"
)

// Every method of every childcase service, found from the API's
// descriptors and from access's table, has the action its calls are
// audited under, or is on the short list of methods not audited at all:
// a new method without one would leave the calls its handler does not
// audit (a refusal of its input) unseen.
func TestEveryMethodAuditsItsCalls(t *testing.T) {
	served := map[string]bool{}
	protoregistry.GlobalFiles.RangeFilesByPackage("childcase.v1", func(f protoreflect.FileDescriptor) bool {
		for i := range f.Services().Len() {
			sd := f.Services().Get(i)
			for j := range sd.Methods().Len() {
				served["/"+string(sd.FullName())+"/"+string(sd.Methods().Get(j).Name())] = true
			}
		}
		return true
	})
	if len(served) == 0 {
		t.Fatal("no service of childcase.v1 is registered")
	}
	for _, r := range access.Rules() {
		served[apiPackage+r.Method] = true
	}
	for name := range served {
		_, audited := methodActions[name]
		switch {
		case audited && unauditedMethods[name]:
			t.Errorf("%s is both audited and not", name)
		case !audited && !unauditedMethods[name]:
			t.Errorf("%s has no row in methodActions: its calls would leave no trace", name)
		}
	}
	for name := range methodActions {
		if !served[name] {
			t.Errorf("methodActions names %s, which no service serves", name)
		}
	}
	// The README's one exception, the reads of units and police units,
	// and no other: unauditedMethods is read from the roles table, and a
	// row that let every role call another method would leave its calls
	// off the trail.
	want := map[string]bool{
		pb.UnitService_ListUnits_FullMethodName:             true,
		pb.UnitService_GetUnit_FullMethodName:               true,
		pb.PoliceUnitService_ListPoliceUnits_FullMethodName: true,
		pb.PoliceUnitService_GetPoliceUnit_FullMethodName:   true,
	}
	if !maps.Equal(unauditedMethods, want) {
		t.Errorf("the methods not audited are %v, want the reads of units and police units only: %v", slices.Sorted(maps.Keys(unauditedMethods)), slices.Sorted(maps.Keys(want)))
	}
}

// A refusal's event says what the caller was told, by its stable code:
// the field and its rule, or the ErrorInfo reason; never the message.
// What is no refusal of the request (the store, a full disk) is not one.
func TestRefusalOf(t *testing.T) {
	quiet := slog.New(slog.DiscardHandler)
	tests := []struct {
		name            string
		err             error
		outcome, reason string
		refused         bool
	}{
		{"not found", toStatus(t.Context(), quiet, model.ErrNotFound), audit.OutcomeNotFound, "", true},
		{"a field", toStatus(t.Context(), quiet, model.InvalidField("user_id", "user.id_reserved", "no %q", "system")), audit.OutcomeRefused, "user_id user.id_reserved", true},
		{"the schema", invalidArgument([]*errdetails.BadRequest_FieldViolation{fieldViolation("user.role", "value is required", "required")}), audit.OutcomeRefused, "user.role required", true},
		{"already exists", toStatus(t.Context(), quiet, model.ErrAlreadyExists), audit.OutcomeRefused, ReasonAlreadyExists, true},
		{"request_id reused", toStatus(t.Context(), quiet, model.ErrIdempotencyMismatch), audit.OutcomeRefused, ReasonRequestIDReused, true},
		{"a precondition", toStatus(t.Context(), quiet, model.Precondition("USER_DISABLED", "user %s is disabled", "x")), audit.OutcomeRefused, "USER_DISABLED", true},
		{"a full database", toStatus(t.Context(), quiet, model.ErrFull), "", "", false},
		{"unavailable", withInfo(codes.Unavailable, "retry", ReasonUnavailable, nil), "", "", false},
		{"internal", errors.New("boom"), "", "", false},
	}
	for _, tt := range tests {
		outcome, reason, refused := refusalOf(tt.err)
		if outcome != tt.outcome || reason != tt.reason || refused != tt.refused {
			t.Errorf("%s: refusalOf = %q, %q, %t; want %q, %q, %t", tt.name, outcome, reason, refused, tt.outcome, tt.reason, tt.refused)
		}
	}
}

// The gateway's refusal of an admin's input is audited by its code: a
// field the client named in a form no field has (free text, a value) is
// left out, and what is no code is not written at all.
func TestScreenedRefusal(t *testing.T) {
	tests := []struct{ in, want string }{
		{"user.user_id body.parse", "user.user_id body.parse"},
		{"report.children[0].age_years body.parse", "report.children[0].age_years body.parse"},
		{"bogus query.unexpected", "bogus query.unexpected"},
		{"BODY_TOO_LARGE", "BODY_TOO_LARGE"},
		{"Nguyễn_Văn_A query.unexpected", "query.unexpected"},
		{"a\"b query.unexpected", "query.unexpected"},
		{strings.Repeat("a", 101) + " body.parse", "body.parse"},
		{"body no such rule!", ""},
		{"", ""},
	}
	for _, tt := range tests {
		if got := screenedRefusal(tt.in); got != tt.want {
			t.Errorf("screenedRefusal(%q) = %q, want %q", tt.in, got, tt.want)
		}
		// The server's answer carries it back as the audit reads it;
		// none is INVALID_FIELD, the code of every refused field.
		want := tt.want
		if want == "" {
			want = ReasonInvalidField
		}
		if got := InputRefusal(InputRefused(tt.in)); got != want {
			t.Errorf("InputRefusal(InputRefused(%q)) = %q, want %q", tt.in, got, want)
		}
	}
}

// A call's event says how it ended by a code, never the message: a
// refusal of the request (refusalOf's, a stale etag, a stream over the
// cap, the role) as refused, not_found or denied, and what is no
// refusal (the store, a full disk, a cancelled call) as an error.
func TestCallOutcome(t *testing.T) {
	quiet := slog.New(slog.DiscardHandler)
	tests := []struct {
		name            string
		err             error
		outcome, reason string
	}{
		{"answered", nil, audit.OutcomeOK, ""},
		{"a field", toStatus(t.Context(), quiet, model.InvalidField("page_token", "page_token.valid", "no %q", "x")), audit.OutcomeRefused, "page_token page_token.valid"},
		{"not found", toStatus(t.Context(), quiet, model.ErrNotFound), audit.OutcomeNotFound, ""},
		{"a stale etag", toStatus(t.Context(), quiet, model.ErrConflict), audit.OutcomeRefused, ReasonEtagMismatch},
		{"a stream over the cap", withInfo(codes.ResourceExhausted, "too many open streams", ReasonTooManyStreams, nil), audit.OutcomeRefused, ReasonTooManyStreams},
		{"the role", toStatus(t.Context(), quiet, model.ErrPermissionDenied), audit.OutcomeDenied, ReasonPermissionDenied},
		{"a full database", toStatus(t.Context(), quiet, model.ErrFull), audit.OutcomeError, ReasonDatabaseFull},
		{"cancelled", toStatus(t.Context(), quiet, context.Canceled), audit.OutcomeError, ReasonRequestCancelled},
		{"a bare status", status.Error(codes.Unavailable, "a message naming Nguyễn Văn A"), audit.OutcomeError, "Unavailable"},
		{"a panic", errPanicked, audit.OutcomeError, ReasonInternal},
	}
	for _, tt := range tests {
		if outcome, reason := callOutcome(tt.err); outcome != tt.outcome || reason != tt.reason {
			t.Errorf("%s: callOutcome = %q, %q; want %q, %q", tt.name, outcome, reason, tt.outcome, tt.reason)
		}
	}
}

// The events callAudit writes for calls that failed or were refused go
// through the user's bound; answers do not. A write the full database
// refused is only counted, however few: its own event would take the
// room that the writes still being made (a report's search entry after
// its commit) and the events of reads need. Other failures (a deadline)
// get events of their own within the bound.
func TestCallAuditBoundsFailuresAndRefusalsNotAnswers(t *testing.T) {
	store, log, a := newCallAudit(t)
	p := access.Principal{UserID: "users/op", Role: model.RoleHotlineOperator, RequestID: "r"}
	full := toStatus(t.Context(), slog.New(slog.DiscardHandler), model.ErrFull)
	late := status.Error(codes.DeadlineExceeded, "deadline exceeded")
	record := func(method, action string, req any, err error) {
		ctx, call := auditlog.Track(t.Context(), p.UserID)
		a.record(ctx, call, p, method, action, req, err)
	}
	for range auditlog.RefusedCallsPerUser + 5 {
		record(pb.ReportService_CreateReport_FullMethodName, "report.create", &pb.CreateReportRequest{}, full)
	}
	for range 5 {
		record(pb.CaseService_ListCases_FullMethodName, "case.list", &pb.ListCasesRequest{}, nil)
	}
	for range auditlog.RefusedCallsPerUser + 5 {
		record(pb.CaseService_GetCase_FullMethodName, "case.read", &pb.GetCaseRequest{}, late)
	}
	head, err := log.HeadSeq(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if want := uint64(5 + auditlog.RefusedCallsPerUser); head != want {
		t.Errorf("%d events, want %d: the 5 answers and the first %d deadlines, none of the writes the full database refused", head, want, auditlog.RefusedCallsPerUser)
	}
	a.refused.Flush(t.Context(), true)
	last := lastEvent(t, store)
	if want := fmt.Sprintf("report.create error %s ×%d", ReasonDatabaseFull, auditlog.RefusedCallsPerUser+5); last.Action != auditlog.RefusedCallsAction || !strings.Contains(last.Reason, want) {
		t.Errorf("the count event: %s %q; want %s counting %q", last.Action, last.Reason, auditlog.RefusedCallsAction, want)
	}
}

// A refusal's reason is screened before it is written, as the gateway's
// are: a field path that quotes what the client sent (a map key, a name
// of its own) leaves only the rule.
func TestCallAuditScreensTheReason(t *testing.T) {
	s, _, a := newCallAudit(t)
	p := access.Principal{UserID: "users/op", Role: model.RoleHotlineOperator, RequestID: "r"}
	refused := invalidArgument([]*errdetails.BadRequest_FieldViolation{fieldViolation(`labels["Nguyễn Văn A"]`, "too long", "string.max_len")})
	ctx, call := auditlog.Track(t.Context(), p.UserID)
	a.record(ctx, call, p, pb.ReportService_CreateReport_FullMethodName, "report.create", &pb.CreateReportRequest{}, refused)
	var got []audit.Event
	err := s.View(t.Context(), func(tx datastore.ReadTx) error {
		for e, err := range tx.AuditEvents(1) {
			if err != nil {
				return err
			}
			got = append(got, e)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].Reason != "string.max_len" || got[0].Outcome != audit.OutcomeRefused {
		t.Errorf("wrote %+v, want one report.create refused, reason string.max_len", got)
	}
}

// A call whose handler panics is answered INTERNAL by the recovery
// interceptor, and is on the trail as failed, a stream's (a watch, an
// export, a backup) as a unary call's: one event, outcome error, reason
// INTERNAL; the panic goes on to the recovery interceptor.
func TestCallAuditRecordsAPanickedCall(t *testing.T) {
	s, _, a := newCallAudit(t)
	ctx := asCaller("op")
	repanicked := func(call func()) (r any) {
		defer func() { r = recover() }()
		call()
		return nil
	}
	if r := repanicked(func() {
		_, _ = a.unary(ctx, &pb.GetCaseRequest{Name: "cases/HN-2026-00001"}, &grpc.UnaryServerInfo{FullMethod: pb.CaseService_GetCase_FullMethodName},
			func(context.Context, any) (any, error) { panic("a bug") })
	}); r == nil {
		t.Error("a unary call's panic was swallowed")
	}
	if r := repanicked(func() {
		_ = a.stream(nil, &fakeStream{ctx: ctx}, &grpc.StreamServerInfo{FullMethod: pb.CaseProcessService_WatchEvents_FullMethodName, IsServerStream: true},
			func(any, grpc.ServerStream) error { panic("a bug") })
	}); r == nil {
		t.Error("a stream's panic was swallowed")
	}
	var got []string
	err := s.View(t.Context(), func(tx datastore.ReadTx) error {
		for e, err := range tx.AuditEvents(1) {
			if err != nil {
				return err
			}
			got = append(got, e.Action+" "+e.Outcome+" "+e.Reason)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"case.read error " + ReasonInternal, "notifications.watch error " + ReasonInternal}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("events %q, want %q", got, want)
	}
}

// newCallAudit is a callAudit on a store of its own, with a fake clock:
// the store, the log it writes to, and the callAudit.
func newCallAudit(t *testing.T) (*memstore.Store, *auditlog.Log, callAudit) {
	t.Helper()
	s := memstore.New()
	t.Cleanup(func() { s.Close() })
	clk := clock.NewFake(time.Date(2026, 12, 6, 3, 0, 0, 0, time.UTC))
	log := auditlog.New(s)
	return s, log, callAudit{audit: log, refused: auditlog.NewCallRefusals(log, clk, slog.New(slog.DiscardHandler)), clock: clk}
}

// countingCases is a CaseResolver that counts its reads of the store.
type countingCases struct{ reads atomic.Int64 }

func (c *countingCases) CaseOf(_ context.Context, resource string) (string, error) {
	c.reads.Add(1)
	if strings.HasPrefix(resource, "cases/") {
		return resource, nil
	}
	return "", nil
}

// A refused call's case is a read of the store that the caller controls:
// past the user's bound, where the case only decides whether the
// window's count names one, it is read once a window, for the first
// refusal counted, and not for each of a flood. The count still names
// the case every counted refusal named, and none when they named
// different records.
func TestRefusedCallsPastTheBoundReadNoCase(t *testing.T) {
	s, log, a := newCallAudit(t)
	cases := &countingCases{}
	a.cases = cases
	p := access.Principal{UserID: "users/op", Role: model.RoleHotlineOperator, RequestID: "r"}
	guard := NewSignInGuard(log, a.clock, slog.New(slog.DiscardHandler))
	guard.calls = a.refused
	auth := &authenticator{audit: log, guard: guard, cases: cases, clock: a.clock}
	refused := invalidArgument([]*errdetails.BadRequest_FieldViolation{fieldViolation("etag", "value is required", "string.min_len")})
	const over = 50
	for i := range auditlog.RefusedCallsPerUser + over {
		req := &pb.AcknowledgeCaseRequest{Name: "cases/HN-2026-00001"}
		if i%2 == 0 {
			ctx, call := auditlog.Track(t.Context(), p.UserID)
			a.record(ctx, call, p, pb.CaseProcessService_AcknowledgeCase_FullMethodName, "case.acknowledge", req, refused)
		} else {
			auth.recordDenied(t.Context(), p, pb.CaseProcessService_AcknowledgeCase_FullMethodName, req)
		}
	}
	if got, want := cases.reads.Load(), int64(auditlog.RefusedCallsPerUser+1); got != want {
		t.Errorf("%d refused calls read the case %d times, want %d: one for each event and one for the window's count",
			auditlog.RefusedCallsPerUser+over, got, want)
	}
	a.refused.Flush(t.Context(), true)
	last := lastEvent(t, s)
	if last.Action != auditlog.RefusedCallsAction || last.Case != "cases/HN-2026-00001" || !strings.Contains(last.Reason, fmt.Sprintf(": %d between", over)) {
		t.Errorf("the window's count: %+v", last)
	}

	// Refusals on two records: the count names no case.
	for i := range auditlog.RefusedCallsPerUser + over {
		ctx, call := auditlog.Track(t.Context(), p.UserID)
		req := &pb.AcknowledgeCaseRequest{Name: fmt.Sprintf("cases/HN-2026-%05d", 1+i%2)}
		a.record(ctx, call, p, pb.CaseProcessService_AcknowledgeCase_FullMethodName, "case.acknowledge", req, refused)
	}
	if got, want := cases.reads.Load(), int64(2*(auditlog.RefusedCallsPerUser+1)); got != want {
		t.Errorf("after the second flood the case was read %d times, want %d", got, want)
	}
	a.refused.Flush(t.Context(), true)
	if last := lastEvent(t, s); last.Action != auditlog.RefusedCallsAction || last.Case != "" {
		t.Errorf("the count of refusals on two cases: %+v, want no case", last)
	}
}

func lastEvent(t *testing.T, s *memstore.Store) audit.Event {
	t.Helper()
	var last audit.Event
	err := s.View(t.Context(), func(tx datastore.ReadTx) error {
		for e, err := range tx.AuditEvents(1) {
			if err != nil {
				return err
			}
			last = e
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return last
}
