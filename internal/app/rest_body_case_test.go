package app_test

import (
	"net/http"
	"testing"

	pb "github.com/childcase/childcase/api/childcase/v1"
)

// TestRESTStepWithABodyTheGatewayRefusesNamesItsCase: a step of the case
// process over REST whose body the gateway cannot read (broken JSON, a
// field the request does not have) is refused before any handler, and
// was audited on the method alone, so that the case's trail (?case=)
// did not show the attempt. Its event names the case of the path, as
// the same step refused for its input over gRPC does; and a case out of
// the caller's scope is answered, and audited, as one that does not
// exist is: the same 400, and an event on the case named.
func TestRESTStepWithABodyTheGatewayRefusesNamesItsCase(t *testing.T) {
	ts := startServer(t, "")
	ts.addUser(t, "auditor", pb.Role_ROLE_AUDITOR, "orgs/system")
	ts.addUser(t, "worker.badinh", pb.Role_ROLE_COMMUNE_WORKER, "units/00004@2025-07-01")
	ts.addUser(t, "worker.hoankiem", pb.Role_ROLE_COMMUNE_WORKER, "units/00070@2025-07-01")
	created, err := ts.reports().CreateReport(ts.as(t, operatorID), &pb.CreateReportRequest{Report: validReport()})
	if err != nil {
		t.Fatal(err)
	}
	caseName := created.GetCase()
	const missing = "cases/HN-2026-09999"
	heads := map[string]uint64{}
	for _, who := range []string{"worker.badinh", "worker.hoankiem"} {
		_, heads[who] = newAuditEvents(t, ts, who, 0)
	}
	for _, body := range []string{`{"etag":`, `{"etag":"x","bogus":1}`} {
		answers := map[string]string{}
		for _, tc := range []struct{ who, name string }{
			{"worker.badinh", caseName},   // in scope
			{"worker.hoankiem", caseName}, // out of scope
			{"worker.hoankiem", missing},  // does not exist
		} {
			code, raw := restRaw(t, ts, "POST", "/v1/"+tc.name+":acknowledge", body, map[string]string{
				"Content-Type": "application/json", "Authorization": "Bearer " + ts.tokens.get(tc.who), "X-Request-Id": "probe-body",
			})
			if code != http.StatusBadRequest {
				t.Fatalf("%s on %s with %s: %d %s", tc.who, tc.name, body, code, raw)
			}
			answers[tc.who+" "+tc.name] = string(raw)
			var e *pb.AuditEvent
			e, heads[tc.who] = oneNewEvent(t, ts, tc.who, heads[tc.who], tc.who+" on "+tc.name+" with "+body)
			if e.GetAction() != "case.acknowledge" || e.GetResource() != tc.name || e.GetCase() != tc.name ||
				e.GetOutcome() != "refused" || e.GetRequestId() != "probe-body" || e.GetReason() == "" {
				t.Errorf("%s on %s with %s: wrote %v\nwant case.acknowledge on %s refused, with the body's refusal", tc.who, tc.name, body, e, tc.name)
			}
		}
		if out, absent := answers["worker.hoankiem "+caseName], answers["worker.hoankiem "+missing]; out != absent {
			t.Errorf("with %s, a case out of scope is answered\n%s\nand one that does not exist\n%s", body, out, absent)
		}
	}
	// A role that may not take the step is refused for it (403), on the
	// case too, as over gRPC.
	_, head := newAuditEvents(t, ts, operatorID, 0)
	code, raw := restRaw(t, ts, "POST", "/v1/"+caseName+":acknowledge", `{"etag":`, map[string]string{
		"Content-Type": "application/json", "Authorization": "Bearer " + ts.tokens.get(operatorID),
	})
	if code != http.StatusForbidden {
		t.Fatalf("the operator's step with a broken body: %d %s", code, raw)
	}
	e, _ := oneNewEvent(t, ts, operatorID, head, "the operator's step with a broken body")
	if e.GetAction() != "auth.denied" || e.GetResource() != caseName || e.GetCase() != caseName || e.GetOutcome() != "denied" {
		t.Errorf("the operator's step with a broken body: wrote %v, want auth.denied on %s", e, caseName)
	}
	byCase := allAuditEvents(t, ts, "auditor", &pb.ListAuditEventsRequest{Case: caseName})
	if !hasEvent(byCase, "case.acknowledge", caseName, caseName, "refused") {
		t.Errorf("the case's trail does not show the refused steps:%s", describeEvents(byCase))
	}
}
