package app_test

import (
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/encoding/protojson"

	pb "github.com/childcase/childcase/api/childcase/v1"
)

// TestAuditorReadsNoChildOrReporterDetails: the auditor reads "the audit
// log (who did what to which record), no case content" (README, "Who sees
// what"), and a search's query stays sealed in the listing. After calls
// that carry a child's, a caregiver's and a reporter's details (intake, a
// search and a validate_only check by those details, a note, a transfer's
// reason, steps refused for a field, a disclosure), no event the auditor
// lists holds any of them.
func TestAuditorReadsNoChildOrReporterDetails(t *testing.T) {
	f := setupMatrix(t) // cases A and B, taken with the mx* details
	ts := f.ts
	a := f.cases["A"]
	secrets := []string{mxChildName, mxNarrative, mxCaregiver, mxReporterName, mxReporterTel, mxReporterAddr, "0987654321", "+84987654321"}

	// A search and a check by the child's and the reporter's details.
	if _, err := ts.cases().SearchCases(ts.as(t, "sup.111"), &pb.SearchCasesRequest{ChildName: mxChildName, Phone: mxReporterTel, CaregiverName: mxCaregiver}); err != nil {
		t.Fatal(err)
	}
	if _, err := ts.reports().CreateReport(ts.as(t, "sup.111"), &pb.CreateReportRequest{Report: secretReport(testNow.Add(-10 * time.Minute)), ValidateOnly: true}); err != nil {
		t.Fatal(err)
	}
	// A disclosure whose reason names no one.
	if _, err := ts.reports().DiscloseReporter(ts.as(t, "sup.111"), &pb.DiscloseReporterRequest{Name: f.reports["A"], Reason: "xác minh lại thông tin cuộc gọi"}); err != nil {
		t.Fatal(err)
	}
	// Free text written on the case, accepted and refused.
	p := ts.process()
	if _, err := p.AddCaseNote(ts.as(t, "worker.badinh"), &pb.AddCaseNoteRequest{Name: a, Etag: etagOf(t, ts, "worker.badinh", a), Text: "Đã gọi cho " + mxCaregiver + " số " + mxReporterTel}); err != nil {
		t.Fatal(err)
	}
	_, err := p.ProposeTransfer(ts.as(t, "worker.badinh"), &pb.ProposeTransferRequest{Name: a, Etag: etagOf(t, ts, "worker.badinh", a), ToUnit: "units/99999@2025-07-01", Reason: "gia đình " + mxChildName + " chuyển nhà"})
	if err == nil {
		t.Fatal("a transfer to a unit that does not exist was taken")
	}
	_, err = p.AddCaseNote(ts.as(t, "worker.badinh"), &pb.AddCaseNoteRequest{Name: a, Etag: "999", Text: mxNarrative})
	if err == nil {
		t.Fatal("a note on a stale etag was taken")
	}

	events := allAuditEvents(t, ts, "auditor", &pb.ListAuditEventsRequest{})
	searches := 0
	for _, e := range events {
		raw, err := protojson.Marshal(e)
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range secrets {
			if strings.Contains(string(raw), s) {
				t.Errorf("the auditor reads %q in event %s", s, raw)
			}
		}
		if e.GetAction() == "case.search" && e.GetResource() == "cases" {
			searches++
			if !strings.HasPrefix(e.GetReason(), "sealed-query:") {
				t.Errorf("a search's query is not sealed in the listing: %s", raw)
			}
		}
	}
	if searches < 2 {
		t.Errorf("%d searches listed, want the search and the check's at least", searches)
	}

}
