package app_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	pb "github.com/childcase/childcase/api/childcase/v1"
)

// TestConsolePagesAreAuditedAsTheirAPICalls: "The console's pages are API
// calls ... and are audited as those" (README, "Audit"). Each page a
// commune chair opens leaves, under the chair's name, the events of the
// calls it is built on: the queues and the overdue list each case shown
// (case.list), the case page the case and its timeline (case.read,
// case.events.read), a report's page the report and its case, the
// dashboard and its two report files the statistics (statistics.read,
// statistics.report), and the live stream its opening and each
// notification it passed on (notifications.watch, notification.read on
// the case). A case of another commune is not found, and the attempt is
// on that case's trail (case.read, not_found).
func TestConsolePagesAreAuditedAsTheirAPICalls(t *testing.T) {
	ts := startConsoleAt(t, testNow)
	ts.addUser(t, "auditor", pb.Role_ROLE_AUDITOR, "orgs/system")
	ts.addUser(t, "bd.chair", pb.Role_ROLE_COMMUNE_CHAIR, pBaDinh)
	name := openCase(t, ts, testNow.Add(-time.Hour), "00004")
	other := openCase(t, ts, testNow.Add(-time.Hour), "00070")
	// Three days on, never acknowledged: overdue.
	ts.setClock(t, testNow.Add(72*time.Hour))
	reports, err := ts.reports().ListReports(ts.as(t, "bd.chair"), &pb.ListReportsRequest{})
	if err != nil || len(reports.GetReports()) != 1 {
		t.Fatalf("the chair's reports: %v %v", reports, err)
	}
	report := reports.GetReports()[0].GetName()

	b := newBrowser(t, ts)
	b.signIn("bd.chair")
	for _, tc := range []struct {
		path   string
		status int
		want   [][4]string // action, resource, case, outcome
	}{
		{"/queues", http.StatusOK, [][4]string{{"case.list", name, name, "ok"}}},
		{"/dashboard/overdue", http.StatusOK, [][4]string{{"case.list", name, name, "ok"}}},
		{"/" + name, http.StatusOK, [][4]string{{"case.read", name, name, "ok"}, {"case.events.read", name, name, "ok"}}},
		{"/" + report, http.StatusOK, [][4]string{{"report.read", report, name, "ok"}, {"case.read", name, name, "ok"}}},
		{"/dashboard", http.StatusOK, [][4]string{{"statistics.read", "statistics", "", "ok"}}},
		{"/dashboard/reports/periodic?period=month", http.StatusOK, [][4]string{{"statistics.report", "statistics:periodicReport", "", "ok"}}},
		{"/dashboard/reports/action-month?year=2026", http.StatusOK, [][4]string{{"statistics.report", "statistics:actionMonthReport", "", "ok"}}},
		{"/" + other, http.StatusNotFound, [][4]string{{"case.read", other, other, "not_found"}}},
	} {
		_, head := newAuditEvents(t, ts, "bd.chair", 0)
		resp, _ := b.get(tc.path)
		if resp.StatusCode != tc.status {
			t.Errorf("GET %s: %s, want %d", tc.path, resp.Status, tc.status)
		}
		got, _ := newAuditEvents(t, ts, "bd.chair", head)
		for _, w := range tc.want {
			if !hasEvent(got, w[0], w[1], w[2], w[3]) {
				t.Errorf("GET %s: wrote%s\nwant %s on %s (case %q) %s", tc.path, describeEvents(got), w[0], w[1], w[2], w[3])
			}
		}
	}

	// The live stream: its opening, and each notification before it is
	// passed on.
	_, head := newAuditEvents(t, ts, "bd.chair", 0)
	stream := b.openEvents()
	fresh := openCase(t, ts, ts.clock.Now().Add(-time.Minute), "00004")
	stream.waitForCase(strings.TrimPrefix(fresh, "cases/"))
	got, _ := newAuditEvents(t, ts, "bd.chair", head)
	if !hasEvent(got, "notifications.watch", "notifications", "", "ok") {
		t.Errorf("the live stream's opening is not on the record:%s", describeEvents(got))
	}
	read := false
	for _, e := range got {
		read = read || (e.GetAction() == "notification.read" && e.GetCase() == fresh && strings.HasPrefix(e.GetResource(), "notifications/") && e.GetOutcome() == "ok")
	}
	if !read {
		t.Errorf("the notification of %s the stream passed on is not on the record:%s", fresh, describeEvents(got))
	}
}
