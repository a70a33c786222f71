package app_test

import (
	"net/http"
	"net/url"
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
			ts.clock.Advance(identity.LockOutDuration)
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
