package app_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	pb "github.com/childcase/childcase/api/childcase/v1"
	"github.com/childcase/childcase/internal/domain/identity"
	"github.com/childcase/childcase/internal/transport/web"
)

// TestConsoleTypingKeepsTheSessionAlive: POST /session/touch, which the
// console's script sends at most once a minute while someone types in a
// form, is the person's activity: with the form's token it refreshes the
// session's idle time (204), so a report typed for 40 minutes without a
// request still saves. Without the token, with another session's, from
// another site or by GET it is refused and refreshes nothing. A touch of
// a live session is not audited (it reads nothing); one whose session has
// ended answers 401, never a redirect to follow, and is audited as any
// refused session cookie is.
func TestConsoleTypingKeepsTheSessionAlive(t *testing.T) {
	ts, _ := startConsole(t)
	ts.addUser(t, "auditor", pb.Role_ROLE_AUDITOR, "orgs/system")
	b := newBrowser(t, ts)
	b.signIn(operatorID)
	csrf, requestID := b.intakeForm()
	signedIn := ts.clock.Now()

	touch := func(form url.Values) *http.Response {
		t.Helper()
		resp, _ := b.post("/session/touch", form)
		return resp
	}
	for i := range 4 { // 40 minutes of typing, no page asked for
		ts.advance(t, 10*time.Minute)
		if resp := touch(url.Values{"csrf": {csrf}}); resp.StatusCode != http.StatusNoContent {
			t.Fatalf("touch %d, %v after the sign-in: %s, want 204", i+1, ts.clock.Now().Sub(signedIn), resp.Status)
		}
	}
	// Nothing of a live session's touches is on the trail.
	auditor := ts.as(t, "auditor")
	list, err := ts.audit().ListAuditEvents(auditor, &pb.ListAuditEventsRequest{PageSize: 1000})
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range list.GetEvents() {
		if e.GetTime().AsTime().After(signedIn) && !strings.Contains(e.GetActor(), "auditor") {
			t.Errorf("a touch of a live session wrote %s (%s)", e.GetAction(), e.GetReason())
		}
	}
	// The report typed all along saves, with the form's token.
	resp, page := b.post("/reports/new", with(callForm(csrf, requestID), "do", "save"))
	if resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(resp.Header.Get("Location"), "/reports/saved/") {
		t.Fatalf("save after 40 minutes of typing: %s to %q, want the confirmation\n%s", resp.Status, resp.Header.Get("Location"), page)
	}

	// Refused touches refresh nothing: 29 minutes after the save, each
	// is refused, and a minute later the session has ended.
	ts.advance(t, web.IdleTimeout-time.Minute)
	other := "x" + csrf[1:]
	if other == csrf {
		other = "y" + csrf[1:]
	}
	for what, resp := range map[string]*http.Response{
		"without the token":  touch(url.Values{}),
		"with another token": touch(url.Values{"csrf": {other}}),
		"from another site":  b.postCrossSite("/session/touch", url.Values{"csrf": {csrf}}),
		"by GET":             b.raw(http.MethodGet, "/session/touch", nil),
	} {
		want := http.StatusForbidden
		if what == "by GET" {
			want = http.StatusMethodNotAllowed
		}
		if resp.StatusCode != want {
			t.Errorf("a touch %s: %s, want %d", what, resp.Status, want)
		}
	}
	ts.advance(t, time.Minute)
	resp = touch(url.Values{"csrf": {csrf}})
	if resp.StatusCode != http.StatusUnauthorized || resp.Header.Get("Location") != "" {
		t.Fatalf("a touch of a session idle for %v: %s to %q, want 401 and no redirect", web.IdleTimeout, resp.Status, resp.Header.Get("Location"))
	}
	if resp := b.raw(http.MethodGet, "/session/token", nil); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("the token of an ended session: %s, want 401", resp.Status)
	}
	// A page made before a restart holds a cookie the console no longer
	// knows: ended too.
	restarted := newBrowser(t, ts)
	restarted.c.Jar.SetCookies(mustParse(t, b.base+"/"), []*http.Cookie{{Name: "childcase_session", Value: "from-before-a-restart", Path: "/"}})
	if resp, _ := restarted.post("/session/touch", url.Values{"csrf": {csrf}}); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("a touch with a session cookie from before a restart: %s, want 401", resp.Status)
	}
	_, events, refused := signInAudit(t, ts)
	if refused != 3 || len(events) != 1 || events[0].GetResource() != "console" ||
		!strings.Contains(events[0].GetReason(), "console session ended (idle or expired) ×2") ||
		!strings.Contains(events[0].GetReason(), "unknown console session ×1") {
		t.Errorf("the ended session's touch and token, and the unknown session's touch: %d refusals in %v, want one console auth.fail of 2 ended and 1 unknown sessions", refused, events)
	}
}

// TestConsoleFormTakesTheTokenOfANewSession: a page made for a session
// that has ended holds a token bound to it; after the same browser signs
// in again, the touch with that token is 403, and GET /session/token
// answers the new session's token and user, which the script puts in the
// form (if the user is the same) so that the typed form saves.
func TestConsoleFormTakesTheTokenOfANewSession(t *testing.T) {
	ts, _ := startConsole(t)
	b := newBrowser(t, ts)
	b.signIn(operatorID)
	old, requestID := b.intakeForm()
	ts.advance(t, web.IdleTimeout)
	b.signIn(operatorID) // in another tab
	if resp, _ := b.post("/session/touch", url.Values{"csrf": {old}}); resp.StatusCode != http.StatusForbidden {
		t.Fatalf("a touch with the ended session's token: %s, want 403", resp.Status)
	}
	resp, body := b.get("/session/token")
	var got struct{ CSRF, User string }
	if err := json.Unmarshal([]byte(body), &got); resp.StatusCode != http.StatusOK || err != nil || got.User != operatorID || got.CSRF == "" || got.CSRF == old {
		t.Fatalf("the new session's token: %s %q (%v), want the new token of %s", resp.Status, body, err, operatorID)
	}
	if resp, _ := b.post("/session/touch", url.Values{"csrf": {got.CSRF}}); resp.StatusCode != http.StatusNoContent {
		t.Fatalf("a touch with the new token: %s, want 204", resp.Status)
	}
	resp, page := b.post("/reports/new", with(callForm(got.CSRF, requestID), "do", "save"))
	if resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(resp.Header.Get("Location"), "/reports/saved/") {
		t.Fatalf("save with the new token: %s to %q\n%s", resp.Status, resp.Header.Get("Location"), page)
	}
}

func mustParse(t *testing.T, raw string) *url.URL {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// TestConsoleTypingDoesNotPassTheTwelveHourEnd: touches keep a session
// from its idle end, never past its token's expiry, identity.SessionTTL
// after the sign-in (the real sign-in, whose token has one).
func TestConsoleTypingDoesNotPassTheTwelveHourEnd(t *testing.T) {
	d := startDemoConsole(t)
	b := &browser{t: t, base: strings.TrimSuffix(d.url, "/"), c: newBrowserClient()}
	if resp, _ := b.signInForm("badinh.worker", d.password, ""); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("sign in: %s", resp.Status)
	}
	signedIn := d.clock.Now()
	csrf, _ := b.intakeForm()
	for d.clock.Now().Add(25 * time.Minute).Before(signedIn.Add(identity.SessionTTL)) {
		d.clock.Advance(25 * time.Minute)
		if resp, _ := b.post("/session/touch", url.Values{"csrf": {csrf}}); resp.StatusCode != http.StatusNoContent {
			t.Fatalf("a touch %v after the sign-in: %s, want 204", d.clock.Now().Sub(signedIn), resp.Status)
		}
	}
	d.clock.Advance(identity.SessionTTL - d.clock.Now().Sub(signedIn))
	if resp, _ := b.post("/session/touch", url.Values{"csrf": {csrf}}); resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("a touch %v after the sign-in: %s, want 401", identity.SessionTTL, resp.Status)
	}
}

// TestConsoleSessionTokenOnlyToItsOwnPage: GET /session/token answers
// the session's CSRF token only to the console's own script. A request
// the browser marks as another site's (Sec-Fetch-Site cross-site, or
// same-site: a page of another host of the same domain, to which the
// SameSite=Strict cookie is sent) or as not a page's at all (none: typed
// in the address bar) is refused 403 with no token in it, whatever a
// browser would let that page read.
func TestConsoleSessionTokenOnlyToItsOwnPage(t *testing.T) {
	ts, _ := startConsole(t)
	b := newBrowser(t, ts)
	b.signIn(operatorID)
	csrf, _ := b.intakeForm()
	for _, site := range []string{"cross-site", "same-site", "none"} {
		req, err := http.NewRequest(http.MethodGet, b.base+"/session/token", nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Sec-Fetch-Site", site)
		resp, err := b.c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body := readBody(t, resp)
		if resp.StatusCode != http.StatusForbidden || strings.Contains(body, csrf) {
			t.Errorf("the session's token asked with Sec-Fetch-Site %s: %s %q, want 403 without the token", site, resp.Status, body)
		}
	}
	// The console's own script (same-origin), and a browser that sends
	// no Sec-Fetch-Site, get it.
	for _, site := range []string{"same-origin", ""} {
		req, err := http.NewRequest(http.MethodGet, b.base+"/session/token", nil)
		if err != nil {
			t.Fatal(err)
		}
		if site != "" {
			req.Header.Set("Sec-Fetch-Site", site)
		}
		resp, err := b.c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		if body := readBody(t, resp); resp.StatusCode != http.StatusOK || !strings.Contains(body, csrf) {
			t.Errorf("the session's token asked with Sec-Fetch-Site %q: %s %q, want 200 with the token", site, resp.Status, body)
		}
	}
}
