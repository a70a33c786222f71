package grpcapi

import (
	"context"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	pb "github.com/childcase/childcase/api/childcase/v1"
	"github.com/childcase/childcase/internal/domain/audit"
	"github.com/childcase/childcase/internal/domain/auditlog"
	"github.com/childcase/childcase/internal/domain/clock"
)

// adminActions is the audit action of each unary AdminService method, as
// its answer writes it: a refusal of the call is written under the same
// action, so that the trail of an admin shows what they tried, not only
// what they did. (BackupDatabase, the one stream, audits its own end.)
var adminActions = map[string]string{
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
}

// readsAuditNotFound are the admin reads whose domain audits a user that
// does not exist itself (identity.ReadUser, identity.ListTokens): their
// not_found is on the trail already, and is not written twice.
var readsAuditNotFound = map[string]bool{
	pb.AdminService_GetUser_FullMethodName:    true,
	pb.AdminService_ListTokens_FullMethodName: true,
}

// adminRefusals audits an admin's call refused after authentication: for
// a user, token or police unit that does not exist, one that exists
// already, a state that does not allow it, or bad input (the schema's
// rules included, so it runs outside the validator). Without it an admin
// fishing for user ids, or trying ids that are taken, left no trace,
// though every change they make is audited. The event is the call's
// action on the record it named: outcome not_found, or refused with the
// refusal's code as its reason (the field and its rule, or the ErrorInfo
// reason), as a refused case step's event has; never the message, which
// may quote what was sent.
type adminRefusals struct {
	audit *auditlog.Log
	clock clock.Clock
}

func (a adminRefusals) unary(ctx context.Context, req any, info *grpc.UnaryServerInfo, next grpc.UnaryHandler) (any, error) {
	resp, err := next(ctx, req)
	action, ok := adminActions[info.FullMethod]
	if err == nil || !ok || a.audit == nil {
		return resp, err
	}
	outcome, reason, refused := refusalOf(err)
	if !refused || (outcome == audit.OutcomeNotFound && readsAuditNotFound[info.FullMethod]) {
		return resp, err
	}
	p := principalFrom(ctx)
	if p.UserID == "" {
		return resp, err
	}
	e := p.Event(a.clock.Now(), action, adminTarget(info.FullMethod, req), "", outcome)
	e.Reason = reason
	// The refusal stands even if its event cannot be written, as a call
	// refused for the role does (recordDenied); the call's own context,
	// which a client that gave up has ended, would lose it.
	_ = a.audit.Record(context.WithoutCancel(ctx), e)
	return resp, err
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
		if violation == "" {
			// A refusal of the whole input, no field's (the REST
			// gateway's BODY_TOO_LARGE): its code.
			return audit.OutcomeRefused, info, true
		}
		return audit.OutcomeRefused, violation, true
	case codes.AlreadyExists, codes.FailedPrecondition:
		return audit.OutcomeRefused, info, true
	}
	return "", "", false
}

// adminTarget is the record an admin's call named, as its answer's event
// names it: the user or police unit to create, else the request's name or
// parent, else what the method acts on. A value that could be no
// record's name (screenedName) is left for the method, as for a refusal
// for the role.
func adminTarget(method string, req any) string {
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
