package grpcapi

import (
	"errors"
	"log/slog"
	"strings"
	"testing"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"

	pb "github.com/childcase/childcase/api/childcase/v1"
	"github.com/childcase/childcase/internal/domain/audit"
	"github.com/childcase/childcase/internal/domain/model"
)

// Every unary method of the AdminService has the action its refusals are
// audited under: a new method without one would be refused unseen.
func TestEveryAdminMethodAuditsItsRefusals(t *testing.T) {
	for _, m := range pb.AdminService_ServiceDesc.Methods {
		name := "/" + pb.AdminService_ServiceDesc.ServiceName + "/" + m.MethodName
		if adminActions[name] == "" {
			t.Errorf("%s has no row in adminActions: its refusals would leave no trace", name)
		}
	}
	if n := len(pb.AdminService_ServiceDesc.Methods); len(adminActions) != n {
		t.Errorf("adminActions has %d rows for %d unary methods: a row names no method", len(adminActions), n)
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
