package app_test

import (
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	pb "github.com/childcase/childcase/api/childcase/v1"
	"github.com/childcase/childcase/internal/app"
	"github.com/childcase/childcase/internal/domain/clock"
	"github.com/childcase/childcase/internal/domain/identity"
)

// forwardedFor is a browser's transport that adds an X-Forwarded-For
// header to every request, as a reverse proxy would (or a client forging
// one).
type forwardedFor string

func (f forwardedFor) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("X-Forwarded-For", string(f))
	return http.DefaultTransport.RoundTrip(r)
}

// TestConsoleNamesTheClientBehindATrustedProxy: behind a proxy listed in
// --trusted-proxies, the console's sign-ins (refused and accepted) are
// audited from the client the proxy names in X-Forwarded-For, as the API's
// are; from a peer not listed, a forged X-Forwarded-For is ignored and the
// peer is named.
func TestConsoleNamesTheClientBehindATrustedProxy(t *testing.T) {
	const client = "203.0.113.7"
	for _, tt := range []struct {
		name, trusted, want, notWant string
	}{
		{"trusted proxy", "127.0.0.1/32", client, "127.0.0.1"},
		{"untrusted peer forging X-Forwarded-For", "", "127.0.0.1", client},
		{"another proxy trusted, not this peer", "10.0.0.0/8", "127.0.0.1", client},
	} {
		t.Run(tt.name, func(t *testing.T) {
			cfg := testConfig(t, "")
			cfg.TrustedProxies = tt.trusted
			ts := launch(t, cfg, app.Options{Clock: clock.NewFake(testNow)})
			ts.addUser(t, "auditor", pb.Role_ROLE_AUDITOR, "orgs/system")
			secret := newUserLink(t, ts, "lan.nguyen")
			const password = "một mật khẩu dài"
			b := newBrowser(t, ts)
			b.c.Transport = forwardedFor("198.51.100.99, " + client)
			link := "/password/" + secret
			_, page := b.get(link)
			if r, _ := b.post(link, url.Values{"csrf": {csrfOf(t, page)}, "password": {password}, "confirm": {password}}); r.StatusCode != http.StatusSeeOther {
				t.Fatalf("set the password: %s", r.Status)
			}
			// Wrong passwords lock the account (audited at once, from the
			// client); after the lock, the right one signs in.
			for range identity.MaxSignInFailures {
				if r, _ := b.signInForm("lan.nguyen", "mật khẩu sai bét", ""); r.StatusCode != http.StatusUnauthorized {
					t.Fatalf("wrong password: %s, want refused", r.Status)
				}
			}
			ts.advance(t, identity.LockOutDuration)
			if r, _ := b.signInForm("lan.nguyen", password, ""); r.StatusCode != http.StatusSeeOther {
				t.Fatalf("sign in: %s", r.Status)
			}
			resp, err := ts.audit().ListAuditEvents(ts.as(t, "auditor"), &pb.ListAuditEventsRequest{PageSize: 1000})
			if err != nil {
				t.Fatal(err)
			}
			seen := map[string]int{}
			for _, e := range resp.GetEvents() {
				if (e.GetAction() != "auth.lock" && e.GetAction() != "auth.sign_in") || !strings.Contains(e.GetResource()+e.GetActor(), "lan.nguyen") {
					continue
				}
				seen[e.GetAction()]++
				if !strings.Contains(e.GetReason(), "from "+tt.want) || strings.Contains(e.GetReason(), tt.notWant) {
					t.Errorf("%s event's reason %q, want it from %s and not naming %s", e.GetAction(), e.GetReason(), tt.want, tt.notWant)
				}
			}
			if seen["auth.lock"] != 1 || seen["auth.sign_in"] != 1 {
				t.Errorf("lan.nguyen's auth.lock and auth.sign_in events: %v, want one of each", seen)
			}
		})
	}
}

var (
	savedPlace = regexp.MustCompile(`^/reports/saved/[A-Za-z0-9_-]+$`)
	reportCode = regexp.MustCompile(`<code>([0-9a-f-]{36})</code>`)
	caseNumber = regexp.MustCompile(`id="case-number">(HN-[0-9]{4}-[0-9]+)<`)
)

// saveCall saves callForm through the intake form and returns this
// session's confirmation the save sent the browser to, and its page.
func (b *browser) saveCall() (place, page string) {
	b.t.Helper()
	csrf, id := b.intakeForm()
	resp, _ := b.post("/reports/new", with(callForm(csrf, id), "do", "save"))
	place = resp.Header.Get("Location")
	if resp.StatusCode != http.StatusSeeOther || !savedPlace.MatchString(place) {
		b.t.Fatalf("save: %s to %q, want this session's confirmation", resp.Status, place)
	}
	_, page = b.get(place)
	return place, page
}

// TestConsoleSavedOnlyForThisSessionsSave: "Đã lưu" is what the operator
// reads to the caller, so it is shown only on the confirmation of a save
// this session made, with the candidates that save answered. A crafted
// link (a report's own address, a police receipt, candidate numbers in
// the query) shows at most what the API answers, never "Đã lưu" nor the
// link's candidates; another session (the same person at another
// computer) opening the confirmation finds nothing.
func TestConsoleSavedOnlyForThisSessionsSave(t *testing.T) {
	ts, _ := startConsole(t)
	b := newBrowser(t, ts)
	b.signIn(operatorID)

	first, page := b.saveCall()
	report, number := reportCode.FindStringSubmatch(page), caseNumber.FindStringSubmatch(page)
	if !strings.Contains(page, "Đã lưu") || report == nil || number == nil {
		t.Fatalf("the confirmation of the save: want Đã lưu, the report id and the case number:\n%s", page)
	}

	// A second call about the same child: its save answers the first case
	// as a candidate, listed on its confirmation.
	second, page := b.saveCall()
	if second == first {
		t.Fatalf("second save to %q, want a confirmation of its own", second)
	}
	if !strings.Contains(page, "Đã lưu") || !strings.Contains(page, `href="/cases/`+number[1]+`"`) {
		t.Errorf("the second save's confirmation: want Đã lưu and the candidate %s:\n%s", number[1], page)
	}

	const forged = "HN-2026-99999"
	for _, link := range []string{
		"/reports/" + report[1],
		"/reports/" + report[1] + "?candidate=" + forged,
		"/reports/receipt?case=" + number[1],
		"/reports/receipt?case=" + number[1] + "&candidate=" + forged,
		"/reports/receipt",
		"/reports/saved/made-up?candidate=" + forged,
	} {
		resp, page := b.get(link)
		if strings.Contains(page, "Đã lưu") || strings.Contains(withoutLangLink(page), forged) {
			t.Errorf("GET %s: %s says Đã lưu or lists %s:\n%s", link, resp.Status, forged, page)
		}
	}
	// The report's own address shows it as the API answers, unsaid saved.
	if resp, page := b.get("/reports/" + report[1]); resp.StatusCode != http.StatusOK || !strings.Contains(page, `id="case-number">`+number[1]+`<`) {
		t.Errorf("GET /reports/%s: %s, want the report and its case\n%s", report[1], resp.Status, page)
	}
	// The query of a confirmation adds nothing to it.
	if _, page := b.get(first + "?candidate=" + forged); !strings.Contains(page, "Đã lưu") || strings.Contains(withoutLangLink(page), forged) {
		t.Errorf("the confirmation with a candidate in its query: want Đã lưu without %s", forged)
	}

	other := newBrowser(t, ts)
	other.signIn(operatorID)
	if resp, page := other.get(first); resp.StatusCode != http.StatusNotFound || strings.Contains(page, "Đã lưu") {
		t.Errorf("another session GET %s: %s, want not found without Đã lưu", first, resp.Status)
	}
}

// The access matrix of the confirmation routes: a role that may not call
// GetReport (the auditor) gets no content at a report's address nor at a
// confirmation; a report out of the person's scope is not found.
func TestConsoleReportRoutesAccess(t *testing.T) {
	ts, _ := startConsole(t)
	ts.addUser(t, "auditor", pb.Role_ROLE_AUDITOR, "orgs/system")
	ts.addUser(t, "operator.swc", pb.Role_ROLE_HOTLINE_OPERATOR, "orgs/social-work-centre")
	ts.addUser(t, "worker.hk", pb.Role_ROLE_COMMUNE_WORKER, pHoanKiem)

	op := newBrowser(t, ts)
	op.signIn(operatorID)
	saved, page := op.saveCall()
	report, number := reportCode.FindStringSubmatch(page), caseNumber.FindStringSubmatch(page)
	if report == nil || number == nil {
		t.Fatalf("the confirmation names no report or case:\n%s", page)
	}

	auditor := newBrowser(t, ts)
	_, page = auditor.get("/signin")
	if resp, _ := auditor.post("/signin", url.Values{"csrf": {csrfOf(t, page)}, "user": {"auditor"}, "password": {"pw-auditor"}}); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("auditor sign-in: %s", resp.Status)
	}
	for _, link := range []string{"/reports/" + report[1], saved} {
		if resp, page := auditor.get(link); (resp.StatusCode != http.StatusForbidden && resp.StatusCode != http.StatusNotFound) || strings.Contains(page, number[1]) {
			t.Errorf("auditor GET %s: %s, want refused without the case number", link, resp.Status)
		}
	}
	for _, user := range []string{"operator.swc", "worker.hk"} {
		o := newBrowser(t, ts)
		o.signIn(user)
		for _, link := range []string{"/reports/" + report[1], saved} {
			if resp, page := o.get(link); resp.StatusCode != http.StatusNotFound || strings.Contains(page, number[1]) {
				t.Errorf("%s GET %s: %s, want 404 without the case number", user, link, resp.Status)
			}
		}
	}
}

// langLink is the language switch's address, which carries the page's own
// path and query back (escaped) so that the switch lands on the same page.
var langLink = regexp.MustCompile(`href="/lang/[a-z]+\?back=[^"]*"`)

// withoutLangLink is a page without the language switch's address: what
// the page shows, and links to, but the way back to itself.
func withoutLangLink(page string) string { return langLink.ReplaceAllString(page, "") }
