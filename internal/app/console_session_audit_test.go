package app_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	pb "github.com/childcase/childcase/api/childcase/v1"
	"github.com/childcase/childcase/internal/transport/web"
)

// A console request with a session cookie that names no live session (a
// forged one, or one whose session ended) is sent to sign in, and audited
// as the API audits a refused token: counted per client address over a
// minute, one anonymous auth.fail event that says how many, with neither
// the cookie's value nor any secret, however many are sent.
func TestConsoleRefusedSessionCookiesAreAudited(t *testing.T) {
	ts, _ := startConsole(t)
	ts.addUser(t, "auditor", pb.Role_ROLE_AUDITOR, "orgs/system")

	const forged = "forged-session-cookie-value-0123456789"
	const sent = 200
	b := newBrowser(t, ts)
	u, _ := url.Parse(b.base + "/")
	for i := range sent {
		b.c.Jar.SetCookies(u, []*http.Cookie{{Name: "childcase_session", Value: forged, Path: "/"}})
		path := "/queues"
		if i%2 == 1 {
			path = "/"
		}
		resp, _ := b.get(path)
		if resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(resp.Header.Get("Location"), "/signin") {
			t.Fatalf("GET %s with a forged session cookie: %s to %q, want a redirect to sign in", path, resp.Status, resp.Header.Get("Location"))
		}
	}
	// A session that ended idle is refused the same way.
	b = newBrowser(t, ts)
	b.signIn(operatorID)
	ts.clock.Advance(web.IdleTimeout)
	if resp, _ := b.get("/queues"); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("queues after the idle timeout: %s, want a redirect to sign in", resp.Status)
	}
	// Without a cookie nobody was refused anything: the sign-in page is
	// where a person starts.
	if resp, _ := newBrowser(t, ts).get("/queues"); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("queues without a session: %s, want a redirect to sign in", resp.Status)
	}

	_, events, refused := signInAudit(t, ts)
	if refused != sent+1 {
		t.Errorf("the audit log accounts for %d refused console sessions, want %d: %v", refused, sent+1, events)
	}
	// One event per address and window: the forged cookies' minute, and
	// the ended session's half an hour later.
	if len(events) != 2 {
		t.Errorf("%d refused session cookies are %d auth.fail events, want 2: %v", sent+1, len(events), events)
	}
	for _, e := range events {
		if e.GetOutcome() != "denied" || e.GetActor() != "" || !strings.Contains(e.GetReason(), "127.0.0.1") ||
			!strings.Contains(e.GetReason(), "console session") {
			t.Errorf("auth.fail event %v", e)
		}
		if s := e.String(); strings.Contains(s, forged) || strings.Contains(s, "cc_") {
			t.Errorf("auth.fail event holds the cookie or a token: %v", e)
		}
	}
}
