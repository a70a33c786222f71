package grpcapi

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"syscall"
	"testing"

	"github.com/grpc-ecosystem/go-grpc-middleware/v2/interceptors/recovery"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	pb "github.com/childcase/childcase/api/childcase/v1"
	"github.com/childcase/childcase/internal/domain/access"
	"github.com/childcase/childcase/internal/domain/idempotency"
	"github.com/childcase/childcase/internal/domain/identity"
	"github.com/childcase/childcase/internal/domain/model"
)

func TestToStatus(t *testing.T) {
	secret := "Nguyễn Thị Lan, 0912345678"
	tests := []struct {
		name       string
		err        error
		wantCode   codes.Code
		wantReason string
		wantLogged bool
	}{
		{"field", fmt.Errorf("wrapped: %w", model.InvalidField("report.x", "rule.x", "bad")), codes.InvalidArgument, ReasonInvalidField, false},
		{"precondition", model.Precondition("REPORT_ALREADY_LINKED", "already linked"), codes.FailedPrecondition, "REPORT_ALREADY_LINKED", false},
		{"bad cursor", fmt.Errorf("list: %w", model.ErrBadCursor), codes.InvalidArgument, ReasonInvalidField, false},
		{"not found hides the name", fmt.Errorf("case %s: %w", secret, model.ErrNotFound), codes.NotFound, ReasonNotFound, false},
		{"request id reused", fmt.Errorf("x: %w", model.ErrIdempotencyMismatch), codes.AlreadyExists, ReasonRequestIDReused, false},
		{"already exists", model.ErrAlreadyExists, codes.AlreadyExists, ReasonAlreadyExists, false},
		{"conflict", fmt.Errorf("x: %w", model.ErrConflict), codes.Aborted, ReasonEtagMismatch, false},
		{"write outcome unknown, logged", fmt.Errorf("etcd commit: %w: %w", model.ErrOutcomeUnknown, model.ErrUnavailable), codes.Unavailable, ReasonOutcomeUnknown, true},
		{"store unavailable, logged", fmt.Errorf("etcd commit: %w", model.ErrUnavailable), codes.Unavailable, ReasonUnavailable, true},
		// The README's "What to watch" names this log line for the operator.
		{"database full, logged", fmt.Errorf("commit: %w", model.ErrFull), codes.ResourceExhausted, ReasonDatabaseFull, true},
		{"disk full, logged", fmt.Errorf("commit: %w", syscall.ENOSPC), codes.ResourceExhausted, ReasonDatabaseFull, true},
		{"commit too large, logged", fmt.Errorf("etcd commit of about 9000 bytes, over the engine's MaxRequestBytes 8192: %w", model.ErrTooLarge), codes.ResourceExhausted, ReasonCommitTooLarge, true},
		// bbolt's panic text (here standing for what a damaged page holds)
		// is the operator's, in the log; the client learns only the reason.
		{"database damaged, logged", fmt.Errorf("the database file x.db is damaged: a read failed (bbolt panicked: %s): %w", secret, model.ErrDamaged), codes.DataLoss, ReasonDatabaseDamaged, true},
		// A call whose token or user stopped being valid between its
		// sign-in and its write (an admin disabled meanwhile) is refused
		// as a token no longer valid is, not as a failure of the server.
		{"token no longer valid in the write", fmt.Errorf("DisableUser by ad.binh: %w: user ad.binh is disabled", identity.ErrUnauthenticated), codes.Unauthenticated, ReasonUnauthenticated, false},
		{"deadline", context.DeadlineExceeded, codes.DeadlineExceeded, ReasonDeadlineExceeded, false},
		{"cancelled", context.Canceled, codes.Canceled, ReasonRequestCancelled, false},
		{"unknown is internal and logged", errors.New("disk on fire near " + secret), codes.Internal, ReasonInternal, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var logs bytes.Buffer
			err := toStatus(context.Background(), slog.New(slog.NewTextHandler(&logs, nil)), tt.err)
			st, ok := status.FromError(err)
			if !ok || st.Code() != tt.wantCode {
				t.Fatalf("code = %v, want %v", st.Code(), tt.wantCode)
			}
			var reason string
			for _, d := range st.Details() {
				if info, ok := d.(*errdetails.ErrorInfo); ok {
					reason = info.GetReason()
					if info.GetDomain() != ErrorDomain {
						t.Errorf("domain = %q", info.GetDomain())
					}
				}
			}
			if reason != tt.wantReason {
				t.Errorf("reason = %q, want %q", reason, tt.wantReason)
			}
			if strings.Contains(st.Message(), secret) {
				t.Errorf("message %q leaks what the error wrapped", st.Message())
			}
			if logged := logs.Len() > 0; logged != tt.wantLogged {
				t.Errorf("logged = %v, want %v (%s)", logged, tt.wantLogged, logs.String())
			}
			if tt.wantReason == ReasonDatabaseFull && !strings.Contains(logs.String(), `msg="database full: a write was refused"`) {
				t.Errorf("logged %q, want the line the README tells operators to watch for", logs.String())
			}
		})
	}
	if toStatus(context.Background(), slog.Default(), nil) != nil {
		t.Error("nil error mapped to a status")
	}
	// A status passes through unchanged.
	in := status.Error(codes.Unauthenticated, "who are you")
	if got := toStatus(context.Background(), slog.Default(), in); got != in {
		t.Errorf("status rewritten: %v", got)
	}
}

// A field error of the domain that quotes a long value (a unit name of
// 300 KB that fits no role) still answers with a message that names the
// field and the rule, and with a bounded description: the answer to bad
// input must not grow with it (issue 9, point 3), nor leave out which
// field was wrong (issue 2).
func TestToStatusFieldErrorQuotingALongValue(t *testing.T) {
	long := strings.Repeat("a", 300_000)
	err := toStatus(context.Background(), slog.New(slog.DiscardHandler),
		model.InvalidField("user.unit", "user.unit_for_role", "a COMMUNE_WORKER belongs to a commune, not %q", long))
	st := status.Convert(err)
	if st.Code() != codes.InvalidArgument {
		t.Fatalf("code = %v, want InvalidArgument", st.Code())
	}
	if !strings.Contains(st.Message(), "user.unit: ") || !strings.Contains(st.Message(), "[user.unit_for_role]") {
		t.Errorf("message %.200q does not name the field and the rule", st.Message())
	}
	if len(st.Message()) > maxViolationMessage+100 {
		t.Errorf("message of %d bytes, want at most about %d", len(st.Message()), maxViolationMessage)
	}
	for _, d := range st.Details() {
		br, ok := d.(*errdetails.BadRequest)
		if !ok {
			continue
		}
		for _, v := range br.GetFieldViolations() {
			if len(v.GetDescription()) > maxDescriptionBytes {
				t.Errorf("violation %s: description of %d bytes, want at most %d", v.GetField(), len(v.GetDescription()), maxDescriptionBytes)
			}
		}
	}
}

// rotatorStoppedByAFullDisk is a KeyRotator whose rotation ran out of room
// part way.
type rotatorStoppedByAFullDisk struct{ err error }

func (r rotatorStoppedByAFullDisk) RotateMasterKey(context.Context, access.Principal, idempotency.Request) (string, int, error) {
	return "", 3, r.err
}

// A rotation refused for want of room may have gone part way (its next key
// file written, some data keys re-wrapped): it answers DATABASE_FULL, and
// says so and that a retry with the same request_id finishes it, where the
// answer of other writes says nothing was written.
func TestRotateMasterKeyOnAFullDiskSaysItStoppedPartWay(t *testing.T) {
	for _, cause := range []error{model.ErrFull, syscall.ENOSPC} {
		s := &adminServer{keys: rotatorStoppedByAFullDisk{fmt.Errorf("rotate master key: re-wrap data keys: %w", cause)}, log: slog.New(slog.DiscardHandler)}
		_, err := s.RotateMasterKey(context.Background(), &pb.RotateMasterKeyRequest{RequestId: "r1"})
		st := status.Convert(err)
		var reason string
		for _, d := range st.Details() {
			if info, ok := d.(*errdetails.ErrorInfo); ok {
				reason = info.GetReason()
			}
		}
		if st.Code() != codes.ResourceExhausted || reason != ReasonDatabaseFull ||
			!strings.Contains(st.Message(), "stopped part way") || !strings.Contains(st.Message(), "same request_id") ||
			strings.Contains(st.Message(), "nothing was written") {
			t.Errorf("%v: %s %s %q; want RESOURCE_EXHAUSTED, DATABASE_FULL, saying the rotation stopped part way", cause, st.Code(), reason, st.Message())
		}
	}
}

// A request with several bad fields is told all of them at once: two
// malformed dates of a statistics period, and an unknown unit, are three
// violations (the first alone was named before).
func TestStatisticsQueryNamesEveryBadField(t *testing.T) {
	_, err := statisticsQuery(&pb.GetStatisticsRequest{StartDate: "2026-13-01", EndDate: "yesterday", Unit: "units/nowhere"})
	st := status.Convert(toStatus(context.Background(), slog.New(slog.DiscardHandler), err))
	var got []string
	for _, d := range st.Details() {
		if bad, ok := d.(*errdetails.BadRequest); ok {
			for _, v := range bad.GetFieldViolations() {
				got = append(got, v.GetField()+" "+v.GetReason())
			}
		}
	}
	want := []string{"start_date date.valid", "end_date date.valid", "unit unit.name"}
	if st.Code() != codes.InvalidArgument || strings.Join(got, ", ") != strings.Join(want, ", ") {
		t.Errorf("%s %q, violations %q; want INVALID_ARGUMENT naming %q", st.Code(), st.Message(), got, want)
	}
	for _, f := range []string{"start_date", "end_date", "unit"} {
		if !strings.Contains(st.Message(), f) {
			t.Errorf("the message %q does not name %s", st.Message(), f)
		}
	}
}

// A request_id sent again with another request is refused naming the
// field, as every refusal of a request's input does: its ErrorInfo's
// metadata says "field": "request_id", as an INVALID_FIELD's names its
// field, so that a client can point at the id it must change, not only
// read it in the message.
func TestRequestIDReusedNamesTheField(t *testing.T) {
	st := status.Convert(toStatus(context.Background(), slog.New(slog.DiscardHandler), fmt.Errorf("create report: %w", model.ErrIdempotencyMismatch)))
	if st.Code() != codes.AlreadyExists {
		t.Fatalf("code %s, want ALREADY_EXISTS", st.Code())
	}
	for _, d := range st.Details() {
		if info, ok := d.(*errdetails.ErrorInfo); ok {
			if info.GetReason() != ReasonRequestIDReused || info.GetMetadata()["field"] != "request_id" {
				t.Errorf("ErrorInfo %v, want reason %s naming the field request_id", info, ReasonRequestIDReused)
			}
			return
		}
	}
	t.Errorf("no ErrorInfo in %v", st.Details())
}

// TestPanicIsAnsweredAndLoggedWithoutItsValue: a handler that panics is
// answered INTERNAL with nothing of the panic, and logged at ERROR with
// the panic's type and stack but not its value, which may hold a child's
// name; a runtime error's own words (no data) are kept.
func TestPanicIsAnsweredAndLoggedWithoutItsValue(t *testing.T) {
	const secret = "Nguyễn Thị Lan, 0912345678"
	var logged bytes.Buffer
	intercept := recovery.UnaryServerInterceptor(recoveryHandler(slog.New(slog.NewJSONHandler(&logged, nil))))
	call := func(handler grpc.UnaryHandler) error {
		_, err := intercept(context.Background(), &pb.GetCaseRequest{}, &grpc.UnaryServerInfo{FullMethod: "/x/Y"}, handler)
		return err
	}
	err := call(func(context.Context, any) (any, error) { panic("no case for " + secret) })
	if status.Code(err) != codes.Internal || strings.Contains(err.Error(), secret) || reasonOf(status.Convert(err)) != ReasonInternal {
		t.Errorf("a panicking handler answered %v, want INTERNAL without the panic", err)
	}
	var nilMap map[string]int
	_ = call(func(context.Context, any) (any, error) { nilMap["x"] = 1; return nil, nil })
	text := logged.String()
	if strings.Contains(text, secret) {
		t.Errorf("the log holds the panic's value:\n%s", text)
	}
	for _, want := range []string{`"level":"ERROR","msg":"panic in handler","panic.type":"string","stack":"`, `grpcapi.TestPanicIsAnsweredAndLoggedWithoutItsValue`,
		`"panic.type":"runtime.plainError","panic":"assignment to entry in nil map"`} {
		if !strings.Contains(text, want) {
			t.Errorf("the log lacks %s:\n%s", want, text)
		}
	}
}
