package app_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"

	pb "github.com/childcase/childcase/api/childcase/v1"
	"github.com/childcase/childcase/internal/transport/grpcapi"
)

// TestAuditListFiltersByAction: an auditor asks "who disclosed a
// reporter, who exported" with ?action=, and gets those events only,
// over REST as over gRPC (TestEveryListFilterFilters); an action that no
// action can be is refused naming action, rather than answered with no
// events, which would read as "nobody did".
func TestAuditListFiltersByAction(t *testing.T) {
	ts := startServer(t, "")
	ts.addUser(t, "auditor", pb.Role_ROLE_AUDITOR, "orgs/system")
	ts.addUser(t, "sup", pb.Role_ROLE_HOTLINE_SUPERVISOR, "orgs/hotline-111")
	created, err := ts.reports().CreateReport(context.Background(), &pb.CreateReportRequest{Report: validReport()})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ts.reports().DiscloseReporter(ts.as(t, "sup"), &pb.DiscloseReporterRequest{Name: created.GetName(), Reason: confGoodReason}); err != nil {
		t.Fatalf("DiscloseReporter: %v", err)
	}
	auditor := map[string]string{"Authorization": "Bearer " + ts.tokens.get("auditor")}
	list := func(t *testing.T, action string) []*pb.AuditEvent {
		t.Helper()
		code, raw := restRaw(t, ts, "GET", "/v1/auditEvents?page_size=1000&action="+url.QueryEscape(action), "", auditor)
		if code != http.StatusOK {
			t.Fatalf("?action=%s: %d %.300s", action, code, raw)
		}
		var page struct {
			Events []struct {
				Action string `json:"action"`
				Actor  string `json:"actor"`
			} `json:"events"`
			Next string `json:"next_page_token"`
		}
		if err := json.Unmarshal(raw, &page); err != nil {
			t.Fatal(err)
		}
		var out []*pb.AuditEvent
		for _, e := range page.Events {
			out = append(out, &pb.AuditEvent{Action: e.Action, Actor: e.Actor})
		}
		return out
	}
	disclosures := list(t, "reporter.disclose")
	if len(disclosures) != 1 || disclosures[0].GetActor() != "users/sup" {
		t.Errorf("?action=reporter.disclose = %v, want the one disclosure by users/sup", disclosures)
	}
	creates := list(t, "report.create")
	if len(creates) == 0 {
		t.Error("?action=report.create is empty")
	}
	for _, e := range creates {
		if e.GetAction() != "report.create" {
			t.Errorf("?action=report.create holds a %s", e.GetAction())
		}
	}
	for _, bad := range []string{"Reporter Disclose", "reporter", strings.Repeat("a.", 40)} {
		code, raw := restRaw(t, ts, "GET", "/v1/auditEvents?action="+url.QueryEscape(bad), "", auditor)
		if reason, _ := restErrorInfo(t, raw); code != http.StatusBadRequest || reason != grpcapi.ReasonInvalidField || !strings.Contains(string(raw), `"action"`) {
			t.Errorf("?action=%s: %d %.300s, want 400 INVALID_FIELD naming action", bad, code, raw)
		}
	}
}
