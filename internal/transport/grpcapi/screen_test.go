package grpcapi

import (
	"bytes"
	"context"
	"log/slog"
	"slices"
	"testing"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/mem"
	"google.golang.org/protobuf/proto"

	pb "github.com/childcase/childcase/api/childcase/v1"
)

// notUTF8 marshals m and replaces each marker, a string of m, with as many
// bytes that are not UTF-8: the Go encoder refuses to write those itself.
func notUTF8(t testing.TB, m proto.Message, markers ...string) []byte {
	t.Helper()
	b, err := proto.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	for _, marker := range markers {
		if bytes.Count(b, []byte(marker)) != 1 {
			t.Fatalf("marker %q not found once", marker)
		}
		b = bytes.Replace(b, []byte(marker), bytes.Repeat([]byte{0xff}, len(marker)), 1)
	}
	if err := proto.Unmarshal(b, m.ProtoReflect().New().Interface()); err == nil {
		t.Fatal("the protobuf decoder accepts the bytes")
	}
	return b
}

// screen decodes b into m as the server does and validates it.
func screen(t testing.TB, b []byte, m proto.Message) error {
	t.Helper()
	if err := newScreeningCodec().Unmarshal(mem.BufferSlice{mem.SliceBuffer(b)}, m); err != nil {
		t.Fatalf("decode: %v", err)
	}
	v, err := newValidator(slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	return v.check(context.Background(), m)
}

func fieldNames(viols []*errdetails.BadRequest_FieldViolation) []string {
	var out []string
	for _, v := range viols {
		out = append(out, v.GetField()+" ["+v.GetReason()+"]")
	}
	return out
}

// A string that is not UTF-8 is refused with INVALID_ARGUMENT naming its
// field, not answered as Internal by the decoder.
func TestScreeningNamesStringsThatAreNotUTF8(t *testing.T) {
	tests := []struct {
		name  string
		msg   proto.Message
		bad   []string
		wants []string
	}{
		{"a name", &pb.GetCaseRequest{Name: "cases/XQX"}, []string{"XQX"}, []string{"name [string.utf8]"}},
		{"nested and repeated", func() proto.Message {
			req := validCreateReport()
			req.Report.Children = append(req.Report.Children, &pb.Child{Condition: "QXQXQ"})
			req.Report.Narrative = "XQXQX"
			req.RequestId = "XXQQXX"
			return req
		}(), []string{"QXQXQ", "XQXQX", "XXQQXX"}, []string{
			"report.children[1].condition [string.utf8]", "report.narrative [string.utf8]", "request_id [string.utf8]",
		}},
		{"a list of strings", &pb.CreatePoliceUnitRequest{PoliceUnitId: "ca-x", PoliceUnit: &pb.PoliceUnit{
			DisplayName: "Công an", Covers: []string{"units/00004@2025-07-01", "units/QQQ"},
		}}, []string{"QQQ"}, []string{"police_unit.covers[1] [string.utf8]"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := notUTF8(t, tt.msg, tt.bad...)
			into := tt.msg.ProtoReflect().New().Interface()
			_, viols := violationsOf(t, screen(t, b, into))
			if got := fieldNames(viols); !slices.Equal(got, tt.wants) {
				t.Errorf("violations %v, want %v", got, tt.wants)
			}
		})
	}
}

// A list far over its max_items is cut before it is decoded (4 MiB hold
// two million empty children), and still refused by its rule.
func TestScreeningCutsListsOverTheirLimit(t *testing.T) {
	req := withEmptyChildren(2_000_000)
	for range 100_000 {
		req.Report.SuspectedAbuse = append(req.Report.SuspectedAbuse, pb.AbuseForm_ABUSE_FORM_NEGLECT)
	}
	b, err := proto.Marshal(req)
	if err != nil {
		t.Fatal(err)
	}
	var got pb.CreateReportRequest
	_, viols := violationsOf(t, screen(t, b, &got))
	if n := len(got.GetReport().GetChildren()); n != 21 {
		t.Errorf("%d children decoded, want 21 (max_items + 1)", n)
	}
	if n := len(got.GetReport().GetSuspectedAbuse()); n != 17 {
		t.Errorf("%d abuse forms decoded, want 17 (max_items + 1)", n)
	}
	want := []string{"report.children [repeated.max_items]", "report.suspected_abuse [repeated.max_items]"}
	if names := fieldNames(viols); !slices.Equal(names, want) {
		t.Errorf("violations %v, want %v", names, want)
	}
}

// A request with neither problem decodes exactly as the standard codec
// decodes it.
func TestScreeningLeavesGoodRequestsAlone(t *testing.T) {
	for _, m := range []proto.Message{validCreateReport(), withEmptyChildren(19), &pb.GetCaseRequest{Name: "cases/HN-2026-00001"}} {
		b, err := proto.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		got := m.ProtoReflect().New().Interface()
		if err := newScreeningCodec().Unmarshal(mem.BufferSlice{mem.SliceBuffer(b)}, got); err != nil {
			t.Fatal(err)
		}
		if !proto.Equal(got, m) || len(got.ProtoReflect().GetUnknown()) != 0 {
			t.Errorf("decoded %v, want %v", got, m)
		}
	}
}

// FuzzScreeningCodec feeds arbitrary bytes to the server's codec as a
// CreateReportRequest. Nothing may panic; bytes the standard decoder
// accepts decode alike, unless a list was over its limit; and the
// validator refuses whatever the codec had to repair.
func FuzzScreeningCodec(f *testing.F) {
	for _, req := range fuzzSeedRequests() {
		b, err := proto.Marshal(req)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add(notUTF8(f, &pb.CreateReportRequest{RequestId: "QQ"}, "QQ"))
	v, err := newValidator(slog.New(slog.DiscardHandler))
	if err != nil {
		f.Fatal(err)
	}
	codec := newScreeningCodec()
	f.Fuzz(func(t *testing.T, data []byte) {
		var got pb.CreateReportRequest
		err := codec.Unmarshal(mem.BufferSlice{mem.SliceBuffer(data)}, &got)
		var want pb.CreateReportRequest
		standard := proto.Unmarshal(data, &want)
		if standard == nil && err != nil {
			t.Fatalf("the codec refuses what the standard decoder accepts: %v", err)
		}
		if err != nil {
			return
		}
		if standard == nil && len(want.GetReport().GetChildren()) <= 20 && len(want.GetReport().GetCaregivers()) <= 10 &&
			len(want.GetReport().GetSuspectedAbuse()) <= 16 && len(want.GetReport().GetSpecialCircumstances()) <= 16 &&
			!proto.Equal(&got, &want) {
			t.Fatalf("decoded %v, the standard decoder %v", &got, &want)
		}
		if standard != nil {
			wantInvalidArgument(t, v.check(context.Background(), &got))
		}
	})
}
