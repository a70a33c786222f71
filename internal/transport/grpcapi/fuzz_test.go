package grpcapi

import (
	"context"
	"io"
	"log/slog"
	"testing"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	pb "github.com/childcase/childcase/api/childcase/v1"
)

// FuzzValidateCreateReport feeds arbitrary bytes, read as a
// CreateReportRequest, through what the server does before the domain sees
// a report: the schema's rules (the validation interceptor), the
// conversion to the domain record, the request fingerprint and the answer's
// conversion back. Nothing may panic, and every refusal must be
// INVALID_ARGUMENT naming the fields in BadRequest details.
func FuzzValidateCreateReport(f *testing.F) {
	for _, req := range fuzzSeedRequests() {
		b, err := proto.Marshal(req)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	v, err := newValidator(slog.New(slog.DiscardHandler))
	if err != nil {
		f.Fatal(err)
	}
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	f.Fuzz(func(t *testing.T, data []byte) {
		var req pb.CreateReportRequest
		if err := proto.Unmarshal(data, &req); err != nil {
			return // gRPC answers that itself, before any interceptor
		}
		if err := v.check(context.Background(), &req); err != nil {
			wantInvalidArgument(t, err)
			return
		}
		r, err := reportFromProto(req.GetReport())
		if err != nil {
			wantInvalidArgument(t, toStatus(context.Background(), quiet, err))
			return
		}
		if fp := fingerprint(&pb.CreateReportRequest{Report: req.GetReport()}); len(fp) != 32 {
			t.Fatalf("fingerprint of a valid request: %x", fp)
		}
		if out := reportToProto(r); out.GetChannel() != req.GetReport().GetChannel() {
			t.Fatalf("channel %v came back as %v", req.GetReport().GetChannel(), out.GetChannel())
		}
	})
}

func wantInvalidArgument(t *testing.T, err error) {
	t.Helper()
	st, ok := status.FromError(err)
	if !ok || st.Code() != codes.InvalidArgument {
		t.Fatalf("refusal %v, want INVALID_ARGUMENT", err)
	}
	for _, d := range st.Details() {
		if br, ok := d.(*errdetails.BadRequest); ok && len(br.GetFieldViolations()) > 0 {
			return
		}
	}
	t.Fatalf("refusal %v names no field", err)
}

// fuzzSeedRequests are a valid request and near misses.
func fuzzSeedRequests() []*pb.CreateReportRequest {
	valid := validReport
	birth := valid()
	birth.Children[0].Age = &pb.Child_BirthDate{BirthDate: "2017-02-30"} // matches the pattern, not a date
	anonymous := valid()
	anonymous.Reporter = &pb.Reporter{Identity: &pb.Reporter_Anonymous{Anonymous: true}}
	withheld := valid()
	withheld.Reporter = &pb.Reporter{Identity: &pb.Reporter_Withheld{Withheld: true}}
	badCode := valid()
	badCode.IncidentCommuneCode = "4"
	noChildren := valid()
	noChildren.Children = nil
	return []*pb.CreateReportRequest{
		{Report: valid(), RequestId: "0b6f1c1e-call-1"},
		{Report: birth}, {Report: anonymous}, {Report: withheld}, {Report: badCode}, {Report: noChildren},
		{},
	}
}
