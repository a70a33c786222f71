package grpcapi

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"testing"

	"google.golang.org/grpc/mem"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	pb "github.com/childcase/childcase/api/childcase/v1"
)

// grpcLimit is the server's default largest request (--max-recv-msg-size).
const grpcLimit = 4 << 20

// BenchmarkRequestChecks measures what the server does with a request
// before a handler sees it (decoding through the screening codec, then
// the validator) for the worst requests within the 4 MiB limit of each
// method that takes a list, against floors in the same run: a valid
// report, a report breaking one rule, and the standard decoder reading
// the largest request. Run with
//
//	go test -run '^$' -bench RequestChecks -benchtime 20x -count 6 ./internal/transport/grpcapi/
func BenchmarkRequestChecks(b *testing.B) {
	report := func(edit func(r *pb.Report)) proto.Message {
		req := validCreateReport()
		edit(req.Report)
		return req
	}
	plan := func(n int, fill int) proto.Message {
		req := &pb.SubmitPlanRequest{Name: "cases/HN-2026-00001", Etag: "7"}
		for range n {
			req.Services = append(req.Services, stuffed(&pb.PlanServiceInput{}, fill))
		}
		return req
	}
	police := func(n int, cover string) proto.Message {
		req := &pb.CreatePoliceUnitRequest{PoliceUnitId: "ca-x", PoliceUnit: &pb.PoliceUnit{DisplayName: "Công an"}}
		for range n {
			req.PoliceUnit.Covers = append(req.PoliceUnit.Covers, cover)
		}
		return req
	}
	requests := []struct {
		name string
		wire []byte
	}{
		{"floor/valid_report", wire(b, validCreateReport())},
		{"floor/report_one_rule_broken", wire(b, report(func(r *pb.Report) { r.IncidentCommuneCode = "4" }))},
		{"CreateReport/2M_empty_children", wire(b, withEmptyChildren(grpcLimit/2-1024))},
		{"CreateReport/4M_abuse_forms", wire(b, report(func(r *pb.Report) {
			r.SuspectedAbuse = make([]pb.AbuseForm, grpcLimit-1024)
		}))},
		{"CreateReport/20_children_10_caregivers_all_text_too_long", wire(b, report(func(r *pb.Report) {
			r.Children, r.Caregivers = nil, nil
			for range 20 {
				r.Children = append(r.Children, stuffed(&pb.Child{}, grpcLimit/300))
			}
			for range 10 {
				r.Caregivers = append(r.Caregivers, stuffed(&pb.Caregiver{}, grpcLimit/300))
			}
		}))},
		{"CreateReport/4MiB_narrative", wire(b, report(func(r *pb.Report) { r.Narrative = strings.Repeat("ả", grpcLimit/3-64) }))},
		{"CreateReport/4MiB_not_UTF-8", notUTF8(b, report(func(r *pb.Report) { r.Narrative = strings.Repeat("Q", grpcLimit-256) }), strings.Repeat("Q", grpcLimit-256))},
		{"SubmitPlan/2M_empty_services", wire(b, plan(grpcLimit/2-1024, 0))},
		{"SubmitPlan/50_services_all_text_too_long", wire(b, plan(50, fillWithin(&pb.PlanServiceInput{}, 50)))},
		{"CreatePoliceUnit/2M_empty_covers", wire(b, police(grpcLimit/2-1024, ""))},
		{"CreatePoliceUnit/600_covers_of_7KB", wire(b, police(600, strings.Repeat("u", grpcLimit/600-8)))},
	}
	v, err := newValidator(slog.New(slog.DiscardHandler))
	if err != nil {
		b.Fatal(err)
	}
	// The floor of the bytes: the standard decoder alone reading 4 MiB,
	// what gRPC spends on such a request before any of our code runs.
	b.Run("floor/standard_decoder_4MiB_narrative", func(b *testing.B) {
		raw := requests[5].wire
		b.SetBytes(int64(len(raw)))
		for b.Loop() {
			if err := proto.Unmarshal(raw, &pb.CreateReportRequest{}); err != nil {
				b.Fatal(err)
			}
		}
	})
	// Rules are compiled at their first use: not part of any request.
	if err := v.check(context.Background(), validCreateReport()); err != nil {
		b.Fatal(err)
	}
	codec := newScreeningCodec()
	for _, r := range requests {
		if len(r.wire) > grpcLimit {
			b.Fatalf("%s: %d bytes, over the limit", r.name, len(r.wire))
		}
		typ := typeOf(r.name)
		b.Run(r.name, func(b *testing.B) {
			b.SetBytes(int64(len(r.wire)))
			for b.Loop() {
				m := typ.New().Interface()
				if err := codec.Unmarshal(mem.BufferSlice{mem.SliceBuffer(r.wire)}, m); err != nil {
					b.Fatal(err)
				}
				if err := v.check(context.Background(), m); err != nil && r.name == "floor/valid_report" {
					b.Fatalf("check: %v", err)
				}
			}
		})
	}
}

func typeOf(name string) protoreflect.Message {
	switch {
	case strings.HasPrefix(name, "SubmitPlan/"):
		return (&pb.SubmitPlanRequest{}).ProtoReflect()
	case strings.HasPrefix(name, "CreatePoliceUnit/"):
		return (&pb.CreatePoliceUnitRequest{}).ProtoReflect()
	}
	return (&pb.CreateReportRequest{}).ProtoReflect()
}

func wire(b *testing.B, m proto.Message) []byte {
	b.Helper()
	raw, err := proto.Marshal(m)
	if err != nil {
		b.Fatal(err)
	}
	return raw
}

// fillWithin is the most bytes stuffed may put in each string field of
// n messages like m for a request that stays within grpcLimit: a fixed
// share would go over the limit once the message gains a string field.
func fillWithin(m proto.Message, n int) int {
	fields := m.ProtoReflect().Descriptor().Fields()
	strs := 0
	for i := range fields.Len() {
		if fd := fields.Get(i); fd.Kind() == protoreflect.StringKind && !fd.IsList() {
			strs++
		}
	}
	const framing = 8 // each field's tag and length, and the message's own
	return (grpcLimit-1024)/(n*strs) - framing
}

// stuffed sets every string field of m to n bytes, over any max_len.
func stuffed[M proto.Message](m M, n int) M {
	r := m.ProtoReflect()
	fields := r.Descriptor().Fields()
	for i := range fields.Len() {
		if fd := fields.Get(i); fd.Kind() == protoreflect.StringKind && !fd.IsList() {
			r.Set(fd, protoreflect.ValueOfString(string(bytes.Repeat([]byte{'x'}, n))))
		}
	}
	return m
}
