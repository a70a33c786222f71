package app_test

import (
	"context"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/dynamicpb"
)

// stringPaths calls visit with the path of every string field that md
// and the messages under it carry (a list's first item stands for all),
// and the steps to set it. Well-known types are left out.
func stringPaths(md protoreflect.MessageDescriptor, prefix []protoreflect.FieldDescriptor, visit func(path []protoreflect.FieldDescriptor)) {
	if len(prefix) > 4 || strings.HasPrefix(string(md.FullName()), "google.") {
		return
	}
	for i := range md.Fields().Len() {
		fd := md.Fields().Get(i)
		path := append(slices.Clone(prefix), fd)
		switch fd.Kind() {
		case protoreflect.StringKind:
			visit(path)
		case protoreflect.MessageKind:
			if !fd.IsMap() {
				stringPaths(fd.Message(), path, visit)
			}
		}
	}
}

// setString sets the string at path in m to s, making the messages and
// the list items on the way.
func setString(m protoreflect.Message, path []protoreflect.FieldDescriptor, s string) {
	fd := path[0]
	if len(path) == 1 {
		if fd.IsList() {
			m.Mutable(fd).List().Append(protoreflect.ValueOfString(s))
		} else {
			m.Set(fd, protoreflect.ValueOfString(s))
		}
		return
	}
	var sub protoreflect.Message
	if fd.IsList() {
		l := m.Mutable(fd).List()
		sub = l.NewElement().Message()
		l.Append(protoreflect.ValueOfMessage(sub))
	} else {
		sub = m.Mutable(fd).Message()
	}
	setString(sub, path[1:], s)
}

var listIndex = regexp.MustCompile(`\[\d+\]`)

// Every string of every request of every RPC, nested ones included, that
// is not UTF-8 answers INVALID_ARGUMENT naming that field and the rule string.utf8, as the REST
// table (TestRESTParametersNotUTF8) does for every parameter of the
// OpenAPI document (issue 9: "Over gRPC, such a name answers Internal.
// Both must be 400 / INVALID_ARGUMENT naming the field"). Each call is
// made by a role the method admits, so that the answer is the field's.
func TestGRPCEveryStringNotUTF8(t *testing.T) {
	f := setupMatrix(t)
	const marker = "QXQXQXQX"
	checked := 0
	for _, m := range childcaseMethods(t) {
		method := fullMethod(m)
		user := callerOf(method)
		if user == "" {
			t.Errorf("%s: no test user may call it", method)
			continue
		}
		stringPaths(m.Input(), nil, func(path []protoreflect.FieldDescriptor) {
			var names []string
			for _, fd := range path {
				names = append(names, string(fd.Name()))
			}
			want := strings.Join(names, ".")
			checked++
			t.Run(string(m.Name())+"/"+want, func(t *testing.T) {
				req := dynamicpb.NewMessage(m.Input())
				setString(req, path, marker)
				body := withoutUTF8(t, req, marker)
				ctx, cancel := context.WithTimeout(f.ts.as(t, user), 10*time.Second)
				defer cancel()
				var err error
				if m.IsStreamingServer() {
					var s grpc.ClientStream
					s, err = f.ts.conn.NewStream(ctx, &grpc.StreamDesc{ServerStreams: true}, method, grpc.ForceCodec(rawCodec{}))
					if err == nil {
						err = s.SendMsg(body)
					}
					if err == nil {
						_ = s.CloseSend()
						err = s.RecvMsg(dynamicpb.NewMessage(m.Output()))
					}
				} else {
					err = f.ts.conn.Invoke(ctx, method, body, dynamicpb.NewMessage(m.Output()), grpc.ForceCodec(rawCodec{}))
				}
				st := status.Convert(err)
				if st.Code() != codes.InvalidArgument {
					t.Fatalf("as %s: %v, want INVALID_ARGUMENT naming %s", user, err, want)
				}
				var got []string
				for _, d := range st.Details() {
					if br, ok := d.(*errdetails.BadRequest); ok {
						for _, v := range br.GetFieldViolations() {
							got = append(got, listIndex.ReplaceAllString(v.GetField(), "")+" "+v.GetReason())
						}
					}
				}
				if !slices.Contains(got, want+" string.utf8") {
					t.Errorf("violations %v, want %s string.utf8 (message %q)", got, want, st.Message())
				}
			})
		})
	}
	if checked < 150 {
		t.Errorf("only %d request strings tried: the walk is broken", checked)
	}
	t.Logf("%d request strings tried", checked)
}
