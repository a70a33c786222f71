package app_test

import (
	"net/http"
	"strings"
	"testing"

	pb "github.com/childcase/childcase/api/childcase/v1"
)

// TestConsoleAuditPageNamesTheServiceInThePagesLanguage: the audit page
// names the service's own actor as the timeline does ("Hệ thống",
// "System"), where it showed its raw id, users/system; the raw id stays
// what the actor filter takes and keeps as its value, and shows over the
// name (its title), for an auditor to filter by.
func TestConsoleAuditPageNamesTheServiceInThePagesLanguage(t *testing.T) {
	ts := startConsoleAt(t, testNow)
	ts.addUser(t, "auditor", pb.Role_ROLE_AUDITOR, "orgs/system")
	b := newBrowser(t, ts)
	b.signInTo("auditor")
	for _, c := range []struct{ lang, name string }{{"vi", "Hệ thống"}, {"en", "System"}} {
		b.get("/lang/" + c.lang + "?back=/")
		resp, page := b.get("/audit?actor=system")
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("the audit page: %s\n%s", resp.Status, page)
		}
		events := page[strings.Index(page, `id="events"`):]
		// The service created the first admin at the first start.
		if rows := strings.Count(events, "<tr>") - 1; rows < 1 {
			t.Fatalf("no event of the service on the %s page:\n%s", c.lang, events)
		}
		if strings.Contains(events, "<td>users/system") || strings.Contains(events, "<td>system") ||
			!strings.Contains(events, `<td><span title="users/system">`+c.name+`</span>`) {
			t.Errorf("the %s audit page does not name the service %s (its id users/system kept in a title):\n%s", c.lang, c.name, events)
		}
		if !strings.Contains(page, `id="actor" name="actor" value="system"`) {
			t.Errorf("the %s audit page's actor filter does not keep the id system as given", c.lang)
		}
	}
}
