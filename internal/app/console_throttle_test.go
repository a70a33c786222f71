package app_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	pb "github.com/childcase/childcase/api/childcase/v1"
	"github.com/childcase/childcase/internal/app"
	"github.com/childcase/childcase/internal/domain/clock"
)

// consoleThrottleBurst and consoleThrottleRefill are the README's
// allowance of an address's failed sign-ins: 10, then one per 30 s.
const (
	consoleThrottleBurst  = 10
	consoleThrottleRefill = 30 * time.Second
)

// TestConsolePasswordGuessesAreThrottledPerAddress: wrong passwords spread
// over many user names from one address were never slowed (only each
// account's lock-out applied), so a guesser could try a password on every
// account. As the README says, after 10 failures the address is answered
// 429 with Retry-After, in the page's language, its passwords unchecked,
// until its allowance comes back, one attempt per 30 s; the allowance is
// the API's too; a person who has signed in from the address before still
// signs in with the right password; and the throttled sign-ins are
// audited within the bound of the refused sign-ins.
func TestConsolePasswordGuessesAreThrottledPerAddress(t *testing.T) {
	accts := &bookAccounts{}
	cfg := testConfig(t, "")
	cfg.MetricsAddr = "127.0.0.1:0"
	ts := launch(t, cfg, app.Options{Clock: clock.NewFake(testNow), ConsoleAccounts: accts})
	accts.server.Store(ts)
	ts.addUser(t, "auditor", pb.Role_ROLE_AUDITOR, "orgs/system")
	ts.addUser(t, "newcomer", pb.Role_ROLE_HOTLINE_OPERATOR, "orgs/hotline-111")
	_, _, refusedBefore := signInAudit(t, ts)

	// The operator has signed in from this address before.
	regular := newBrowser(t, ts)
	regular.signIn(operatorID)

	guesser := newBrowser(t, ts)
	for i := range consoleThrottleBurst {
		resp, _ := guesser.signInForm(fmt.Sprintf("user%02d", i), "Mật khẩu đoán", "")
		if resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("wrong password %d: %s, want 401", i+1, resp.Status)
		}
	}
	resp, page := guesser.signInForm("user99", "Mật khẩu đoán", "")
	if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") != "30" {
		t.Fatalf("wrong password %d from one address: %s, Retry-After %q; want 429 with Retry-After: 30", consoleThrottleBurst+1, resp.Status, resp.Header.Get("Retry-After"))
	}
	if !strings.Contains(page, "Có quá nhiều lần đăng nhập không thành công") || !strings.Contains(page, `lang="vi"`) {
		t.Errorf("the throttled page is not the Vietnamese sign-in page saying why:\n%s", page)
	}
	// Unchecked: the right password of an account new to the address
	// does not pass either, or the throttle would slow no guesser.
	if resp, _ := newBrowser(t, ts).signInForm("newcomer", "pw-newcomer", ""); resp.StatusCode != http.StatusTooManyRequests {
		t.Errorf("the right password of an account never signed in from the throttled address: %s, want 429", resp.Status)
	}
	// The address's allowance is the API's too.
	if code, _ := restRaw(t, ts, "GET", "/v1/cases", "", nil); code != http.StatusTooManyRequests {
		t.Errorf("an API call without a token from the address the console throttles: %d, want 429", code)
	}
	// The operator, who signed in from here before, still signs in; a
	// wrong password of theirs is answered as the others are.
	other := newBrowser(t, ts)
	if resp, _ := other.signInForm(operatorID, "not it", ""); resp.StatusCode != http.StatusTooManyRequests {
		t.Errorf("a wrong password of an account familiar to the throttled address: %s, want 429 as the others", resp.Status)
	}
	if resp, _ := other.signInForm(operatorID, "pw-"+operatorID, ""); resp.StatusCode != http.StatusSeeOther {
		t.Errorf("the right password of an account that signed in from the throttled address before: %s, want signed in", resp.Status)
	}
	// One attempt comes back every 30 s.
	ts.advance(t, consoleThrottleRefill)
	if resp, _ := newBrowser(t, ts).signInForm("newcomer", "pw-newcomer", ""); resp.StatusCode != http.StatusSeeOther {
		t.Errorf("the right password once an attempt came back: %s, want signed in", resp.Status)
	}

	// 10 wrong passwords and the API's refusal counted, and 3 throttled
	// sign-ins: every refusal is accounted for, the throttled ones (the
	// API's call with them) in one event of the address's.
	_, events, refused := signInAudit(t, ts)
	if got, want := refused-refusedBefore, 3; got != want {
		t.Errorf("the audit accounts for %d refused sign-ins of the address, want %d: %v", got, want, events)
	}
	throttled := 0
	for _, e := range events {
		if strings.Contains(e.GetReason(), "throttled: too many failed sign-ins from this address ×") {
			throttled++
			if !strings.Contains(e.GetReason(), "127.0.0.1") || e.GetActor() != "" {
				t.Errorf("throttled console sign-ins audited as %v", e)
			}
		}
	}
	if throttled != 1 {
		t.Errorf("%d auth.fail events of throttled console sign-ins, want 1: %v", throttled, events)
	}
	// The metrics count them as the README's table says: the 11 refused
	// passwords, and the 2 console sign-ins and the API call the throttle
	// refused.
	families := scrape(t, ts)
	for name, want := range map[string]float64{"childcase_signin_failures_total": 11, "childcase_signin_throttled_total": 3} {
		if got, _ := sample(families, name, nil); got != want {
			t.Errorf("%s = %v, want %v", name, got, want)
		}
	}
}
