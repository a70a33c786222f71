package app_test

import (
	"strings"
	"testing"
)

// TestConsoleTimelineNamesTheServiceInThePagesLanguage: the lines the
// service writes itself (a deadline started, a warning, a breach, an
// escalation: those an officer reads first) name their actor in the
// page's language; they read "system", the service's user id, on a
// Vietnamese page.
func TestConsoleTimelineNamesTheServiceInThePagesLanguage(t *testing.T) {
	ts, number := caseConsole(t)
	b := newBrowser(t, ts)
	b.signIn("bd.worker")
	_, page := b.get("/cases/" + number)
	timeline := page[strings.Index(page, `id="timeline"`):]
	timeline = timeline[:strings.Index(timeline, "</table>")]
	if strings.Contains(timeline, "<td>system</td>") || !strings.Contains(timeline, "<td>Hệ thống</td>") {
		t.Errorf("the timeline does not name the service as Hệ thống:\n%s", timeline)
	}
	b.get("/lang/en?back=/")
	_, page = b.get("/cases/" + number)
	if !strings.Contains(page, "<td>System</td>") {
		t.Error("the English timeline does not name the service as System")
	}
}
