package grpcapi

import (
	"errors"
	"log/slog"
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
