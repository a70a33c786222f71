package app_test

import (
	"fmt"
	"net/http"
	"testing"

	"github.com/childcase/childcase/internal/app"
)

// TestSignInThrottleTakesAnIPv6SlashSixtyFourAsOneAddress: the throttle
// counted failures per whole client address, and one IPv6 connection
// holds a /64 of them (2^64 addresses, a new one at will), so a guesser
// with one got a fresh allowance at each address, at the API and, now
// that its passwords count per address, the console. An IPv6 client is
// throttled by its /64, as the README says; another /64 is not.
func TestSignInThrottleTakesAnIPv6SlashSixtyFourAsOneAddress(t *testing.T) {
	ts := startServerWith(t, "", func(c *app.Config) { c.TrustedProxies = "127.0.0.1/32" })
	get := func(forwardedFor string) int {
		t.Helper()
		code, _ := restRaw(t, ts, "GET", "/v1/cases", "", map[string]string{"Authorization": "Bearer not-a-token", "X-Forwarded-For": forwardedFor})
		return code
	}
	for i := range 10 {
		if code := get(fmt.Sprintf("2001:db8:1:2::%x", i+1)); code != http.StatusUnauthorized {
			t.Fatalf("bad token %d: %d, want 401", i+1, code)
		}
	}
	if code := get("2001:db8:1:2:ffff:ffff:ffff:fffe"); code != http.StatusTooManyRequests {
		t.Errorf("a bad token from a new address of the same /64 after 10 failures in it: %d, want 429", code)
	}
	if code := get("2001:db8:1:3::1"); code != http.StatusUnauthorized {
		t.Errorf("a bad token from another /64: %d, want 401", code)
	}

	// The console's password sign-ins too.
	b := newBrowser(t, ts)
	b.forwardedFor = "2001:db8:1:2::abcd"
	if resp, _ := b.signInForm("nobody", "Mật khẩu đoán", ""); resp.StatusCode != http.StatusTooManyRequests {
		t.Errorf("a console sign-in from a new address of the throttled /64: %s, want 429", resp.Status)
	}
}
