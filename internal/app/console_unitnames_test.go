package app_test

import (
	"net/http"
	"regexp"
	"strings"
	"testing"
)

// TestConsoleNamesAUnitOneWayOnEveryPage: a unit is named on every page
// as the admin's pages name it, by its full name ("Phường Ba Đình"),
// never by its name alone ("Ba Đình", which may be the ward's or the old
// district's). The case page, the queues and the dashboard said "Ba
// Đình" where the admin's and the intake's said "Phường Ba Đình".
func TestConsoleNamesAUnitOneWayOnEveryPage(t *testing.T) {
	ts, number := caseConsole(t)
	b := newBrowser(t, ts)
	b.signIn("bd.chair")
	// A unit's type before "Ba Đình" (a police unit's name holds one too:
	// "Công an phường Ba Đình"); what is left of "Ba Đình" after them is
	// the name alone.
	full := regexp.MustCompile(`(?i)(Phường|Quận) Ba Đình`)
	for _, path := range []string{"/cases/" + number, "/queues", "/dashboard"} {
		resp, page := b.get(path)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("%s: %s", path, resp.Status)
		}
		if !full.MatchString(page) {
			t.Errorf("%s: the unit is not named by its full name, Phường Ba Đình:\n%s", path, page)
		}
		rest := full.ReplaceAllString(page, "")
		if i := strings.Index(rest, "Ba Đình"); i >= 0 {
			t.Errorf("%s: a unit named by its name alone: %q", path, rest[max(0, i-80):i+len("Ba Đình")])
		}
	}
}
