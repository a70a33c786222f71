package app_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/childcase/childcase/internal/domain/access"
	"github.com/childcase/childcase/internal/domain/model"
)

// TestConsoleScreensRefusedForTheRoleAreAudited: the README's table of the
// console's screens says whom each is shown to, by the API method it
// needs, and "the console's pages are API calls ... audited as those".
// Opened by a role the table refuses, every screen answers 403 and leaves
// the API's refusal on the record (auth.denied by that person, on the
// record the screen names, else on the method), as the same call made to
// the API does.
func TestConsoleScreensRefusedForTheRoleAreAudited(t *testing.T) {
	ts := startConsoleAt(t, testNow)
	users := addUserOfEachRole(t, ts)
	name := openCase(t, ts, testNow.Add(-time.Hour), "00004")

	// The README's screens table (rendered from the console's rows).
	screens := []struct{ path, method, resource string }{
		{"/queues", "CaseService/ListCases", ""},
		{"/reports/new", "ReportService/CreateReport", ""},
		{"/dashboard", "StatisticsService/GetStatistics", ""},
		{"/audit", "AuditService/ListAuditEvents", ""},
		{"/admin", "AdminService/ListUsers", ""},
		{"/" + name, "CaseService/GetCase", name},
		// Pages of a screen, gated as their screen: the overdue cases of
		// the dashboard answer no role the dashboard refuses, though the
		// list they show is ListCases's.
		{"/dashboard/overdue", "StatisticsService/GetStatistics", ""},
		{"/admin/police", "AdminService/CreatePoliceUnit", ""},
	}
	for _, role := range model.Roles {
		user := users[role]
		var b *browser
		for _, sc := range screens {
			if (access.Principal{Role: role}).May(sc.method) {
				continue
			}
			if b == nil {
				b = newBrowser(t, ts)
				b.signInTo(user)
			}
			_, head := newAuditEvents(t, ts, user, 0)
			resp, _ := b.get(sc.path)
			if resp.StatusCode != http.StatusForbidden {
				t.Errorf("%s opening %s: %s, want 403", role, sc.path, resp.Status)
			}
			got, _ := newAuditEvents(t, ts, user, head)
			resource := sc.resource
			if resource == "" {
				resource = "/childcase.v1." + sc.method
			}
			if !hasEvent(got, "auth.denied", resource, sc.resource, "denied") {
				t.Errorf("%s opening %s: wrote%s; want auth.denied on %s", role, sc.path, describeEvents(got), resource)
			}
		}
	}
}
