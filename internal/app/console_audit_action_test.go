package app_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	pb "github.com/childcase/childcase/api/childcase/v1"
)

// TestConsoleAuditPageFiltersByAction: the auditor filters the log by
// action on the page as the API's ?action= does (who disclosed a
// reporter, who exported cases): every event listed is of that action,
// the box keeps what was typed, and text that is no action is refused
// as the API refuses it, naming the field, with the filter kept.
func TestConsoleAuditPageFiltersByAction(t *testing.T) {
	ts := startConsoleAt(t, testNow)
	ts.addUser(t, "auditor", pb.Role_ROLE_AUDITOR, "orgs/system")
	ts.addUser(t, "city", pb.Role_ROLE_CITY_OFFICER, pCity)
	stats := pb.NewStatisticsServiceClient(ts.conn)
	for range 3 {
		if _, err := stats.GetStatistics(ts.as(t, "city"), &pb.GetStatisticsRequest{StartDate: "2026-11-01", EndDate: "2026-11-28"}); err != nil {
			t.Fatal(err)
		}
	}
	openCase(t, ts, testNow.Add(-time.Hour), "00004")

	b := newBrowser(t, ts)
	b.signInTo("auditor")
	_, page := b.get("/audit")
	if !strings.Contains(page, `<label for="action">`) || !strings.Contains(page, `name="action"`) {
		t.Fatalf("the audit page's filter has no labelled action box\n%s", page)
	}
	resp, page := b.get("/audit?action=statistics.read")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("filtered by action: %s\n%s", resp.Status, page)
	}
	if n, all := strings.Count(page, "<code>statistics.read</code>"), len(seqsOf(page)); n != 3 || n != all {
		t.Errorf("filtered by statistics.read: %d of %d events are of that action, want 3 of 3", n, all)
	}
	if !strings.Contains(page, `value="statistics.read"`) {
		t.Error("the action filter is not kept in its box")
	}
	resp, page = b.get("/audit?action=Statistics&actor=city")
	if resp.StatusCode != http.StatusBadRequest || !strings.Contains(page, `role="alert">Thao tác: `) {
		t.Errorf("an action that is none: %s, want 400 with an alert naming action\n%s", resp.Status, page)
	}
	if !strings.Contains(page, `value="Statistics"`) || !strings.Contains(page, `value="city"`) {
		t.Error("a refused filter is not kept as typed")
	}
}
