package app_test

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/dynamicpb"

	"github.com/childcase/childcase/internal/domain/model"
	"github.com/childcase/childcase/internal/transport/grpcapi"
)

// Every refusal of bad input names the field and the rule, over gRPC as
// over REST (issue 2: "a violation is INVALID_ARGUMENT naming the field
// and the rule"). Every method of the schema is sent, by a role it
// admits, an empty request and one with each of its strings (nested ones
// included) far over any length limit; every INVALID_ARGUMENT among the
// answers must carry a BadRequest whose violations each name a field and
// a rule, an ErrorInfo INVALID_FIELD naming the first, and a message that
// names that field.
func TestGRPCEveryInvalidArgumentNamesFieldAndRule(t *testing.T) {
	f := setupMatrix(t)
	refusals := 0
	for _, m := range childcaseMethods(t) {
		method := fullMethod(m)
		user := callerOf(method)
		if user == "" {
			t.Errorf("%s: no test user may call it", method)
			continue
		}
		long := dynamicpb.NewMessage(m.Input())
		stringPaths(m.Input(), nil, func(path []protoreflect.FieldDescriptor) {
			setString(long, path, strings.Repeat("x", 10_000))
		})
		for what, req := range map[string]proto.Message{"empty": dynamicpb.NewMessage(m.Input()), "over long": long} {
			t.Run(string(m.Name())+"/"+what, func(t *testing.T) {
				ctx, cancel := context.WithTimeout(f.ts.as(t, user), 5*time.Second)
				defer cancel()
				var err error
				if m.IsStreamingServer() {
					var s grpc.ClientStream
					s, err = f.ts.conn.NewStream(ctx, &grpc.StreamDesc{ServerStreams: true}, method)
					if err == nil {
						err = s.SendMsg(req)
					}
					if err == nil {
						_ = s.CloseSend()
						err = s.RecvMsg(dynamicpb.NewMessage(m.Output()))
					}
				} else {
					err = f.ts.conn.Invoke(ctx, method, req, dynamicpb.NewMessage(m.Output()))
				}
				st := status.Convert(err)
				if st.Code() != codes.InvalidArgument {
					return
				}
				refusals++
				var info *errdetails.ErrorInfo
				var violations []*errdetails.BadRequest_FieldViolation
				for _, d := range st.Details() {
					switch d := d.(type) {
					case *errdetails.ErrorInfo:
						info = d
					case *errdetails.BadRequest:
						violations = append(violations, d.GetFieldViolations()...)
					}
				}
				if len(violations) == 0 {
					t.Fatalf("INVALID_ARGUMENT without a BadRequest naming a field: %v", st.Message())
				}
				for _, v := range violations {
					if v.GetField() == "" || v.GetReason() == "" {
						t.Errorf("a violation without its field or rule: %v (message %q)", v, st.Message())
					}
				}
				if info.GetReason() != "INVALID_FIELD" || info.GetMetadata()["field"] != violations[0].GetField() || info.GetMetadata()["rule"] != violations[0].GetReason() {
					t.Errorf("ErrorInfo %v, want INVALID_FIELD with field %q and rule %q", info, violations[0].GetField(), violations[0].GetReason())
				}
				if !strings.Contains(st.Message(), violations[0].GetField()) {
					t.Errorf("the message %q does not name %s", st.Message(), violations[0].GetField())
				}
			})
		}
	}
	t.Logf("%d refusals checked", refusals)
	if refusals < 60 {
		t.Errorf("only %d refusals: the test proves little", refusals)
	}
}

// callerOf returns a test user of setupMatrix whom the method admits (the
// first such role of mxRoles), or "" when none may call it.
func callerOf(method string) string {
	allowed, public := grpcapi.MethodRoles(method)
	for _, r := range mxRoles {
		if public || slices.Contains(allowed, model.Role(r.role)) {
			return r.in
		}
	}
	return ""
}
