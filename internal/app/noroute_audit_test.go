package app_test

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	pb "github.com/childcase/childcase/api/childcase/v1"
	"github.com/childcase/childcase/internal/domain/auditlog"
)

// TestRESTRequestsNoRouteTakesAreAudited: a REST request that no route
// takes (404) or whose path does not take its method (405) is a call of
// its sender like any other, and a probe of the API with a stolen token
// must not go off the trail: it leaves an event of the token's user,
// with the method and the path as sent but not its query (which may
// hold a child's name), the outcome, and the answer's request id. Such
// events count toward the user's bound of refused calls, so that a scan
// of made-up paths adds a bounded number of events, every one counted;
// a request without a valid token is counted as a refused sign-in of
// its address, as on any route.
func TestRESTRequestsNoRouteTakesAreAudited(t *testing.T) {
	ts := startServer(t, "")
	ts.addUser(t, "auditor", pb.Role_ROLE_AUDITOR, "orgs/system")
	bearer := map[string]string{"Authorization": "Bearer " + ts.tokens.get(operatorID)}
	_, head := newAuditEvents(t, ts, operatorID, 0)

	resp, raw := restResponse(t, ts, "GET", "/v1/cases/HN-2026-00001/children?name=Nguy%E1%BB%85n+Lan", nil, bearer)
	if resp.StatusCode != http.StatusNotFound {
		t.Fatalf("a path no route takes: %s %s", resp.Status, raw)
	}
	e, head := oneNewEvent(t, ts, operatorID, head, "a path no route takes")
	// On the case the path names (TestAPathTriedUnderACaseIsOnItsTrail),
	// which a case that does not exist names as itself.
	wantCallEvent(t, "a path no route takes", e, "http.no_route", "/v1/cases/HN-2026-00001/children", "cases/HN-2026-00001", "not_found", "GET",
		resp.Header.Get("X-Request-Id"))
	if resp.Header.Get("X-Request-Id") == "" || strings.Contains(e.String(), "Lan") || strings.Contains(e.String(), "name=") {
		t.Errorf("the event of a path no route takes: %v (the answer's request id %q)", e, resp.Header.Get("X-Request-Id"))
	}

	resp, raw = restResponse(t, ts, "DELETE", "/v1/cases", nil, bearer)
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Fatalf("a method the path does not take: %s %s", resp.Status, raw)
	}
	e, head = oneNewEvent(t, ts, operatorID, head, "a method the path does not take")
	wantCallEvent(t, "a method the path does not take", e, "http.no_route", "/v1/cases", "", "refused", "DELETE METHOD_NOT_ALLOWED",
		resp.Header.Get("X-Request-Id"))

	// A scan: the first of the window's refusals get an event each (two
	// are spent above), the rest are counted into the user's one event.
	const over = 7
	for i := range auditlog.RefusedCallsPerUser - 2 + over {
		resp, raw := restResponse(t, ts, "GET", fmt.Sprintf("/v1/probe-%d", i), nil, bearer)
		if resp.StatusCode != http.StatusNotFound {
			t.Fatalf("probe %d: %s %s", i, resp.Status, raw)
		}
	}
	got, head := newAuditEvents(t, ts, operatorID, head)
	if len(got) != auditlog.RefusedCallsPerUser-2 {
		t.Fatalf("a scan of %d paths wrote %d events, want %d", auditlog.RefusedCallsPerUser-2+over, len(got), auditlog.RefusedCallsPerUser-2)
	}

	// Without a valid token: a refused sign-in of the address.
	for _, who := range []string{"", "Bearer not-a-token"} {
		resp, raw := restResponse(t, ts, "GET", "/v1/anonymous-probe?child=Lan", nil, map[string]string{"Authorization": who})
		if resp.StatusCode != http.StatusNotFound {
			t.Fatalf("a probe with authorization %q: %s %s", who, resp.Status, raw)
		}
	}

	ts.advance(t, auditlog.RefusalWindow+time.Second)
	resp, _ = restResponse(t, ts, "GET", "/v1/after-the-window", nil, bearer)
	if resp.StatusCode != http.StatusNotFound {
		t.Fatalf("after the window: %s", resp.Status)
	}
	got, _ = newAuditEvents(t, ts, operatorID, head)
	if len(got) != 2 {
		t.Fatalf("after the window: wrote%s\nwant the window's count and the new probe", describeEvents(got))
	}
	count := got[1]
	if count.GetAction() != auditlog.RefusedCallsAction || !strings.Contains(count.GetReason(), fmt.Sprintf(": %d between ", over)) ||
		!strings.Contains(count.GetReason(), fmt.Sprintf("http.no_route not_found GET ×%d", over)) {
		t.Errorf("the window's count: %v", count)
	}
	all := allAuditEvents(t, ts, "auditor", &pb.ListAuditEventsRequest{})
	if !slices.ContainsFunc(all, func(e *pb.AuditEvent) bool {
		return e.GetAction() == "auth.fail" && e.GetActor() == "" && e.GetResource() == "/v1/anonymous-probe" &&
			strings.HasPrefix(e.GetReason(), "refused sign-ins: 2 from ") && !strings.Contains(e.GetReason(), "Lan")
	}) {
		t.Errorf("the probes without a valid token are not counted as refused sign-ins:%s", describeEventsWithReasons(all))
	}
}
