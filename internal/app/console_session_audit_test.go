package app_test

import (
	"bufio"
	"context"
	"io"
	"net"
	"net/http"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/credentials/insecure"

	pb "github.com/childcase/childcase/api/childcase/v1"
	"github.com/childcase/childcase/internal/app"
	"github.com/childcase/childcase/internal/transport/web"
)

// A console request with a session cookie that names no live session (a
// forged one, or one whose session ended) is sent to sign in, and audited
// as the API audits a refused token: counted per client address over a
// minute with the API's refusals from that address, one anonymous
// auth.fail event that says how many and why (of resource console when
// all were the console's), with neither the cookie's value nor any
// secret, however many are sent; and not counted by the throttle.
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
	// They do not count toward the sign-in throttle: the API still
	// answers this address's next bad sign-in 401, not 429. It counts
	// with them: one event for the address and window.
	if code, _ := restRaw(t, ts, "GET", "/v1/cases", "", nil); code != http.StatusUnauthorized {
		t.Errorf("GET /v1/cases without a token after %d refused session cookies: %d, want 401 (the cookies are not counted by the throttle)", sent, code)
	}
	// A session that ended idle is refused the same way.
	b = newBrowser(t, ts)
	b.signIn(operatorID)
	ts.advance(t, web.IdleTimeout)
	if resp, _ := b.get("/queues"); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("queues after the idle timeout: %s, want a redirect to sign in", resp.Status)
	}
	// Without a cookie nobody was refused anything: the sign-in page is
	// where a person starts.
	if resp, _ := newBrowser(t, ts).get("/queues"); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("queues without a session: %s, want a redirect to sign in", resp.Status)
	}

	_, events, refused := signInAudit(t, ts)
	if refused != sent+2 {
		t.Errorf("the audit log accounts for %d refused sign-ins, want %d: %v", refused, sent+2, events)
	}
	// One event per address and window, newest first: the ended session's,
	// half an hour later, alone of its window, so of resource console; and
	// the forged cookies' minute, which the API's refusal shares, so of no
	// one resource.
	if len(events) != 2 {
		t.Fatalf("%d refused session cookies and a refused API call are %d auth.fail events, want 2: %v", sent+2, len(events), events)
	}
	for i, want := range []struct{ resource, why string }{
		{"console", ": console session ended (idle or expired) ×1"},
		{"", "no authorization ×1; unknown console session ×200"},
	} {
		if e := events[i]; e.GetResource() != want.resource || !strings.Contains(e.GetReason(), want.why) {
			t.Errorf("auth.fail event %d: resource %q, reason %q; want resource %q and a reason with %q", i, e.GetResource(), e.GetReason(), want.resource, want.why)
		}
	}
	for _, e := range events {
		if e.GetOutcome() != "denied" || e.GetActor() != "" || !strings.Contains(e.GetReason(), "127.0.0.1") {
			t.Errorf("auth.fail event %v", e)
		}
		if s := e.String(); strings.Contains(s, forged) || strings.Contains(s, "cc_") {
			t.Errorf("auth.fail event holds the cookie or a token: %v", e)
		}
	}
}

// TestConsoleSessionEndsSayHowTheyEnded: a console session ends when its
// person signs out, but also when nobody used it for IdleTimeout, and
// when someone else signs in over it in the same browser (the last person
// at a shared computer did not sign out). Each end is the session
// owner's auth.sign_out, and each said nothing more: the auditor read
// that badinh.worker signed out at the moment hoankiem.worker sat down
// at the computer, or half an hour after the worker left it. The event
// says why the session ended.
func TestConsoleSessionEndsSayHowTheyEnded(t *testing.T) {
	d := startDemoConsole(t)
	auditor := regexp.MustCompile(`(?m)^\s*auditor\s.*(` + tokenPattern.String() + `)`).FindStringSubmatch(d.printed)
	if auditor == nil {
		t.Fatalf("no auditor token printed:\n%s", d.printed)
	}
	base := strings.TrimSuffix(d.url, "/")
	signIn := func(b *browser, user string) {
		t.Helper()
		if resp, _ := b.signInForm(user, d.password, ""); resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("sign in as %s: %s", user, resp.Status)
		}
	}
	// Signed out by the person.
	own := &browser{t: t, base: base, c: newBrowserClient()}
	signIn(own, "badinh.worker")
	_, page := own.get("/queues")
	if resp, _ := own.post("/signout", url.Values{"csrf": {csrfOf(t, page)}}); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("sign-out: %s", resp.Status)
	}
	// Ended by another person's sign-in in the same browser.
	shared := &browser{t: t, base: base, c: newBrowserClient()}
	signIn(shared, "badinh.worker")
	signIn(shared, "hoankiem.worker")
	// Ended by the idle timeout.
	left := &browser{t: t, base: base, c: newBrowserClient()}
	signIn(left, "badinh.worker")
	d.clock.Advance(web.IdleTimeout + time.Minute)
	if resp, _ := left.get("/queues"); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("an idle session's page: %s, want sent to sign in", resp.Status)
	}

	conn := dialGRPC(t, d.GRPCAddr(), insecure.NewCredentials())
	resp, err := pb.NewAuditServiceClient(conn).ListAuditEvents(withToken(context.Background(), auditor[1]),
		&pb.ListAuditEventsRequest{Actor: "users/badinh.worker", PageSize: 1000})
	if err != nil {
		t.Fatal(err)
	}
	var reasons []string
	for _, e := range resp.GetEvents() {
		if e.GetAction() == "auth.sign_out" {
			reasons = append([]string{e.GetReason()}, reasons...) // oldest first
		}
	}
	want := []*regexp.Regexp{
		regexp.MustCompile(`^signed out$`),
		regexp.MustCompile(`^ended by a sign-in of users/hoankiem\.worker in the same browser$`),
		regexp.MustCompile(`^ended after 30m0s without use$`),
	}
	if len(reasons) != len(want) {
		t.Fatalf("badinh.worker's auth.sign_out reasons %q, want %d ends", reasons, len(want))
	}
	for i, re := range want {
		if !re.MatchString(reasons[i]) {
			t.Errorf("end %d of badinh.worker's sessions says %q, want %v", i+1, reasons[i], re)
		}
	}
}

// An admin who disables a user, resets their password or revokes the
// token of their session ends their console sessions. Each end is the
// owner's auth.sign_out too, as every other end of a session is, saying
// who ended it and how: the owner's trail showed the sign-in and no end,
// a session still open for all an auditor reading it could tell, and the
// admin's token.revoke does not say that the token was a session.
func TestConsoleSessionEndedByAnAdminIsTheOwnersSignOut(t *testing.T) {
	d := startDemoConsole(t)
	tokenOf := func(user string) string {
		t.Helper()
		m := regexp.MustCompile(`(?m)^\s*` + regexp.QuoteMeta(user) + `\s.*(` + tokenPattern.String() + `)`).FindStringSubmatch(d.printed)
		if m == nil {
			t.Fatalf("no %s token printed:\n%s", user, d.printed)
		}
		return m[1]
	}
	conn := dialGRPC(t, d.GRPCAddr(), insecure.NewCredentials())
	admin := pb.NewAdminServiceClient(conn)
	adminCtx := withToken(context.Background(), tokenOf("demo.admin"))
	trail := func(user string) []*pb.AuditEvent {
		t.Helper()
		resp, err := pb.NewAuditServiceClient(conn).ListAuditEvents(withToken(context.Background(), tokenOf("auditor")),
			&pb.ListAuditEventsRequest{Actor: "users/" + user, PageSize: 1000})
		if err != nil {
			t.Fatal(err)
		}
		return resp.GetEvents()
	}
	// signIn signs user in to the console and returns their session's
	// token, as their auth.sign_in names it.
	signIn := func(user string) (*browser, string) {
		t.Helper()
		b := &browser{t: t, base: strings.TrimSuffix(d.url, "/"), c: newBrowserClient()}
		if resp, _ := b.signInForm(user, d.password, ""); resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("sign in as %s: %s", user, resp.Status)
		}
		for _, e := range trail(user) {
			if e.GetAction() == "auth.sign_in" {
				return b, e.GetResource()
			}
		}
		t.Fatalf("%s's sign-in is not on the trail", user)
		return nil, ""
	}

	for _, tc := range []struct {
		user, why string
		end       func(user, session string) error
	}{
		{"badinh.worker", "ended by users/demo.admin disabling the account", func(user, _ string) error {
			_, err := admin.DisableUser(adminCtx, &pb.DisableUserRequest{Name: "users/" + user})
			return err
		}},
		{"hoankiem.worker", "ended by users/demo.admin resetting the password", func(user, _ string) error {
			_, err := admin.ResetPassword(adminCtx, &pb.ResetPasswordRequest{Name: "users/" + user})
			return err
		}},
		{"badinh.chair", "ended by users/demo.admin revoking its token", func(_, session string) error {
			_, err := admin.RevokeToken(adminCtx, &pb.RevokeTokenRequest{Name: session})
			return err
		}},
	} {
		t.Run(tc.user, func(t *testing.T) {
			b, session := signIn(tc.user)
			if err := tc.end(tc.user, session); err != nil {
				t.Fatal(err)
			}
			if resp, _ := b.get("/queues"); resp.StatusCode != http.StatusSeeOther {
				t.Fatalf("the ended session's page: %s, want sent to sign in", resp.Status)
			}
			var ends []string
			for _, e := range trail(tc.user) {
				if e.GetAction() == "auth.sign_out" && e.GetResource() == session {
					ends = append(ends, e.GetReason())
				}
			}
			if len(ends) != 1 || ends[0] != tc.why {
				t.Errorf("%s's session %s ended with auth.sign_out %q, want exactly one saying %q", tc.user, session, ends, tc.why)
			}
		})
	}
}

// A stop of the service signs everyone out of the console (sessions live
// in its memory): each session's end is its owner's auth.sign_out, as
// every other end is, written before the database closes. The owner's
// trail showed a sign-in and no end, and the session's token stayed
// unrevoked until its expiry.
func TestConsoleSessionsEndedByAStopAreTheirOwnersSignOut(t *testing.T) {
	for _, tc := range []struct {
		name string
		// hold, when given, keeps a request in flight through the stop.
		hold bool
	}{
		{"idle", false},
		// A request still in flight when the shutdown timeout ends (a
		// body that never comes) used up the stop's time, and the
		// sessions were ended with it spent: no end was written.
		{"a request in flight past the shutdown timeout", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "childcase.db")
			configure := func(cfg *app.Config) {
				cfg.DBPath, cfg.KeyFile = path, path+".key"
				cfg.ShutdownTimeout = time.Second
			}
			d := startDemoConsoleWith(t, configure)
			b := &browser{t: t, base: strings.TrimSuffix(d.url, "/"), c: newBrowserClient()}
			if resp, _ := b.signInForm("badinh.worker", d.password, ""); resp.StatusCode != http.StatusSeeOther {
				t.Fatalf("sign in: %s", resp.Status)
			}
			if tc.hold {
				holdRequest(t, d.HTTPAddr())
			}
			// Held, the stop ends when its time is up.
			if err := d.Stop(); err != nil && !tc.hold {
				t.Fatal(err)
			}
			checkStoppedSessionEnd(t, configure)
		})
	}
}

// holdRequest sends the head of a request to addr and, once a handler
// reads its body (the server's 100 Continue says so), a part of it: the
// request is in flight until the connection closes.
func holdRequest(t *testing.T, addr string) {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	// A token of a token's form (a made-up one): the body of a request
	// without one is never read, and its answer would not wait for it.
	if _, err := io.WriteString(c, "POST /v1/reports HTTP/1.1\r\nHost: childcase\r\nContent-Type: application/json\r\nContent-Length: 100\r\nExpect: 100-continue\r\n"+
		"Authorization: Bearer cc_0123456789abcdef_"+strings.Repeat("t", 43)+"\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	status, err := bufio.NewReader(c).ReadString('\n')
	if err != nil || !strings.HasPrefix(status, "HTTP/1.1 100 ") {
		t.Fatalf("the request's head: %q %v, want 100 Continue", status, err)
	}
	if _, err := io.WriteString(c, "{"); err != nil {
		t.Fatal(err)
	}
}

// checkStoppedSessionEnd starts the demo again on the database (it
// issues new tokens), and checks that badinh.worker's session ended with
// the service's stop, once.
func checkStoppedSessionEnd(t *testing.T, configure func(*app.Config)) {
	t.Helper()
	d := startDemoConsoleWith(t, configure)
	auditor := regexp.MustCompile(`(?m)^\s*auditor\s.*(` + tokenPattern.String() + `)`).FindStringSubmatch(d.printed)
	if auditor == nil {
		t.Fatalf("no auditor token printed:\n%s", d.printed)
	}
	conn := dialGRPC(t, d.GRPCAddr(), insecure.NewCredentials())
	resp, err := pb.NewAuditServiceClient(conn).ListAuditEvents(withToken(context.Background(), auditor[1]),
		&pb.ListAuditEventsRequest{Actor: "users/badinh.worker", PageSize: 1000})
	if err != nil {
		t.Fatal(err)
	}
	var session string
	var ends []string
	for _, e := range resp.GetEvents() {
		switch e.GetAction() {
		case "auth.sign_in":
			session = e.GetResource()
		case "auth.sign_out":
			ends = append(ends, e.GetResource()+": "+e.GetReason())
		}
	}
	if want := session + ": ended by the service's stop"; session == "" || len(ends) != 1 || ends[0] != want {
		t.Errorf("badinh.worker's trail: sign-in on %q, ends %q; want exactly %q", session, ends, want)
	}
}
