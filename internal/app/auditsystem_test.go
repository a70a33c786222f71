package app_test

import (
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"

	pb "github.com/childcase/childcase/api/childcase/v1"
)

// The service's own work (users/system: the first start, the scheduler's
// firings and escalations) is audited under a role of its own, SYSTEM,
// not ADMIN: an auditor counting what admins did must not count the
// service's escalations, and no user holds that role. The chain verifies
// across the change, since each event's hash covers its own role as
// stored.
func TestServiceEventsHaveARoleOfTheirOwn(t *testing.T) {
	ts := startServer(t, "")
	ts.addUser(t, "auditor", pb.Role_ROLE_AUDITOR, "orgs/system")
	if _, err := ts.reports().CreateReport(ts.as(t, operatorID), &pb.CreateReportRequest{Report: validReport()}); err != nil {
		t.Fatal(err)
	}
	ts.advance(t, 72*time.Hour) // past the acknowledgement: warnings, breaches, escalations

	actions := map[string]bool{}
	for _, e := range auditedBy(t, ts, "auditor", "system") {
		actions[e.GetAction()] = true
		if e.GetRole() != "SYSTEM" {
			t.Errorf("the service's event %d (%s %s) has role %q, want SYSTEM", e.GetSeq(), e.GetAction(), e.GetResource(), e.GetRole())
		}
	}
	for _, want := range []string{"user.create", "deadline.fire"} {
		if !actions[want] {
			t.Errorf("no %s by users/system among %v: nothing held to the role", want, actions)
		}
	}
	for _, e := range allAuditEvents(t, ts, "auditor", &pb.ListAuditEventsRequest{}) {
		if e.GetRole() == "SYSTEM" && e.GetActor() != "users/system" {
			t.Errorf("event %d by %s has the service's role SYSTEM", e.GetSeq(), e.GetActor())
		}
	}
	v, err := ts.audit().VerifyAuditLog(ts.as(t, "auditor"), &pb.VerifyAuditLogRequest{})
	if err != nil || !v.GetIntact() {
		t.Fatalf("verify: %v, %v", v, err)
	}
	// No user may be given the service's role.
	_, err = ts.admin().CreateUser(ts.as(t, "admin"), &pb.CreateUserRequest{UserId: "fake.system",
		User: &pb.User{DisplayName: "Fake system", Role: pb.Role(10), Unit: "orgs/system"}})
	wantCode(t, err, codes.InvalidArgument)
}

// A rotation asked for through the API is audited with the request id of
// the call, as every call's event is: the caller's x-request-id, over gRPC
// and over REST alike (the one the answer's X-Request-Id gives back).
func TestKeyRotationIsAuditedWithTheCallsRequestID(t *testing.T) {
	ts := startServer(t, "")
	ts.addUser(t, "auditor", pb.Role_ROLE_AUDITOR, "orgs/system")
	ctx := metadata.AppendToOutgoingContext(ts.as(t, "admin"), "x-request-id", "rotate-over-grpc")
	if _, err := ts.admin().RotateMasterKey(ctx, &pb.RotateMasterKeyRequest{RequestId: "rotation-1"}); err != nil {
		t.Fatal(err)
	}
	req, err := http.NewRequest(http.MethodPost, "http://"+ts.HTTPAddr()+"/v1/masterKey:rotate", strings.NewReader(`{"request_id": "rotation-2"}`))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+ts.tokens.get("admin"))
	req.Header.Set("X-Request-Id", "rotate-over-rest")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("POST /v1/masterKey:rotate: %s", resp.Status)
	}
	var got []string
	for _, e := range auditedBy(t, ts, "auditor", "admin") {
		if e.GetAction() == "keys.rotate" {
			got = append(got, e.GetRequestId())
		}
	}
	if want := []string{"rotate-over-rest", "rotate-over-grpc"}; !slices.Equal(got, want) {
		t.Errorf("the keys.rotate events carry request ids %q, want %q (newest first)", got, want)
	}
}
