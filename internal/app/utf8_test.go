package app_test

import (
	"bytes"
	"context"
	"slices"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/proto"

	pb "github.com/childcase/childcase/api/childcase/v1"
)

// rawCodec sends the bytes it is given as they are, so a test can send
// what the Go protobuf encoder refuses to write, and decodes answers
// with the standard codec.
type rawCodec struct{}

func (rawCodec) Marshal(v any) ([]byte, error) { return v.([]byte), nil }
func (rawCodec) Unmarshal(data []byte, v any) error {
	return proto.Unmarshal(data, v.(proto.Message))
}
func (rawCodec) Name() string { return "proto" }

// withoutUTF8 marshals m with each marker replaced by as many 0xff bytes.
func withoutUTF8(t *testing.T, m proto.Message, markers ...string) []byte {
	t.Helper()
	b, err := proto.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	for _, marker := range markers {
		b = bytes.Replace(b, []byte(marker), bytes.Repeat([]byte{0xff}, len(marker)), 1)
	}
	return b
}

// Over gRPC, a string that is not UTF-8 is INVALID_ARGUMENT naming the
// field (the decoder's failure was Internal), after authentication like
// every other rule.
func TestGRPCStringsNotUTF8(t *testing.T) {
	ts := startServer(t, "")
	ctx := ts.as(t, operatorID)
	report := validReport()
	report.Narrative = "XQXQX"
	tests := []struct {
		name, method string
		body         []byte
		stream       bool
		want         string
	}{
		{"case name", pb.CaseService_GetCase_FullMethodName,
			withoutUTF8(t, &pb.GetCaseRequest{Name: "cases/QQ"}, "QQ"), false, "name"},
		{"page token", pb.CaseService_ListCases_FullMethodName,
			withoutUTF8(t, &pb.ListCasesRequest{PageToken: "QQ"}, "QQ"), false, "page_token"},
		{"report text", pb.ReportService_CreateReport_FullMethodName,
			withoutUTF8(t, &pb.CreateReportRequest{Report: report, RequestId: "QQQQ"}, "XQXQX", "QQQQ"), false, "report.narrative"},
		{"stream request", pb.CaseProcessService_WatchEvents_FullMethodName,
			withoutUTF8(t, &pb.WatchEventsRequest{Case: "cases/QQ"}, "QQ"), true, "case"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var err error
			if tt.stream {
				var s grpc.ClientStream
				s, err = ts.conn.NewStream(ctx, &grpc.StreamDesc{ServerStreams: true}, tt.method, grpc.ForceCodec(rawCodec{}))
				if err == nil {
					err = s.SendMsg(tt.body)
				}
				if err == nil {
					_ = s.CloseSend()
					err = s.RecvMsg(&pb.Notification{})
				}
			} else {
				err = ts.conn.Invoke(ctx, tt.method, tt.body, &pb.Case{}, grpc.ForceCodec(rawCodec{}))
			}
			st := wantCode(t, err, codes.InvalidArgument)
			if fields := badFields(st); !slices.Contains(fields, tt.want) {
				t.Errorf("fields %v, want %s (message %q)", fields, tt.want, st.Message())
			}
		})
	}
	// Bytes that are no protobuf encoding at all (a field whose length runs
	// past the end, a truncated varint, a reserved wire type) are refused
	// as a whole: INVALID_ARGUMENT naming the request, never Internal.
	for name, body := range map[string][]byte{
		"length past the end": {0x0a, 0x7f, 'c'},
		"truncated varint":    {0x08, 0xff},
		"wire type 7":         {0x0f},
		// Both at once: a name that is not UTF-8, then a field whose
		// length runs past the end. Noting the bad string left the bad
		// bytes, which the decoder refused as Internal.
		"not UTF-8, then length past the end":  append(withoutUTF8(t, &pb.GetCaseRequest{Name: "cases/QQ"}, "QQ"), 0x12, 0x7f, 'c'),
		"not UTF-8, then a reserved wire type": append(withoutUTF8(t, &pb.GetCaseRequest{Name: "cases/QQ"}, "QQ"), 0xff, 0x08),
	} {
		t.Run("malformed "+name, func(t *testing.T) {
			err := ts.conn.Invoke(ctx, pb.CaseService_GetCase_FullMethodName, body, &pb.Case{}, grpc.ForceCodec(rawCodec{}))
			st := wantCode(t, err, codes.InvalidArgument)
			if fields := badFields(st); !slices.Contains(fields, "request") {
				t.Errorf("fields %v, want request (message %q)", fields, st.Message())
			}
		})
	}
	// Authentication still comes first.
	err := ts.conn.Invoke(withToken(context.Background(), "cc_not-a-token"), pb.CaseService_GetCase_FullMethodName,
		tests[0].body, &pb.Case{}, grpc.ForceCodec(rawCodec{}))
	wantCode(t, err, codes.Unauthenticated)
}
