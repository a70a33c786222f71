package grpcapi

import (
	"bytes"
	"testing"

	"google.golang.org/protobuf/proto"

	pb "github.com/childcase/childcase/api/childcase/v1"
)

// A report's fingerprint is taken of its phones in E.164, as intake
// stores them, so a retry typing a number otherwise is the same request;
// the fingerprint of versions before (of the phones as sent) comes beside
// it, so that a request one of them remembered still answers its retry
// sent alike. A user's work phone, stored as typed, is left as sent.
func TestFingerprintTakesPhonesInE164(t *testing.T) {
	report := func(phone string) *pb.CreateReportRequest {
		return &pb.CreateReportRequest{RequestId: "r1", Report: &pb.Report{
			Caregivers: []*pb.Caregiver{{FullName: "Lê Thị Thu", Phone: phone}},
			Reporter: &pb.Reporter{Identity: &pb.Reporter_Identified{Identified: &pb.IdentifiedReporter{
				Consent: true, Phone: phone,
			}}},
		}}
	}
	spaced, dotted, e164 := report("0912 345 678"), report("0912.345.678"), report("+84912345678")
	if !bytes.Equal(fingerprintWithoutID(spaced), fingerprintWithoutID(dotted)) || !bytes.Equal(fingerprintWithoutID(spaced), fingerprintWithoutID(e164)) {
		t.Error("reports differing only in how their phones are typed have different fingerprints")
	}
	if bytes.Equal(fingerprintWithoutID(spaced), fingerprintWithoutID(report("0912 345 679"))) {
		t.Error("reports of two numbers have one fingerprint")
	}
	// What versions before took: the request without its id, trimmed,
	// its phones as sent.
	earlier := proto.Clone(spaced)
	m := earlier.ProtoReflect()
	m.Clear(m.Descriptor().Fields().ByName("request_id"))
	clearOutputOnly(m)
	canonicalCaseNames(m)
	trimStrings(m)
	if got := fingerprintBeforeE164(spaced); !bytes.Equal(got, fingerprint(earlier)) {
		t.Error("the earlier fingerprint is not the one versions before took")
	}
	if got := fingerprintBeforeE164(e164); got != nil {
		t.Errorf("a report whose phones are in E.164 has an earlier fingerprint %x; want none (the same)", got)
	}
	// Both taken of one copy, as CreateReport takes them, are the same.
	for _, r := range []*pb.CreateReportRequest{spaced, dotted, e164} {
		now, before := fingerprints(r)
		if !bytes.Equal(now, fingerprintWithoutID(r)) || !bytes.Equal(before, fingerprintBeforeE164(r)) || len(now) == 0 {
			t.Errorf("fingerprints of %s = %x, %x; want %x, %x", r.GetReport().GetCaregivers()[0].GetPhone(), now, before, fingerprintWithoutID(r), fingerprintBeforeE164(r))
		}
	}
	user := &pb.CreateUserRequest{RequestId: "u1", User: &pb.User{Phone: "024 3825 0000"}}
	other := &pb.CreateUserRequest{RequestId: "u1", User: &pb.User{Phone: "+842438250000"}}
	if bytes.Equal(fingerprintWithoutID(user), fingerprintWithoutID(other)) {
		t.Error("a user's work phone, stored as typed, is fingerprinted in E.164")
	}
}
