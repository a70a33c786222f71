package web

import (
	"context"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/childcase/childcase/internal/domain/identity"
	"github.com/childcase/childcase/internal/domain/model"
)

// workAccounts signs in "op" with the password "right" and counts the
// work each attempt was given: a check (SignIn) or the same cost spent
// on nothing (RefuseUnchecked).
type workAccounts struct {
	mu             sync.Mutex
	checked, spent []string
}

func (a *workAccounts) SignIn(_ context.Context, c Credentials) (Account, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.checked = append(a.checked, c.UserID)
	if c.UserID != "op" || c.Password != "right" {
		return Account{}, ErrRefused
	}
	return Account{User: model.User{ID: c.UserID, Role: model.RoleHotlineOperator, Unit: model.OrgHotline111}, Bearer: "t", TokenID: "t"}, nil
}

func (a *workAccounts) RefuseUnchecked(_ context.Context, c Credentials) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.spent = append(a.spent, c.UserID)
}

func (*workAccounts) SignOut(context.Context, string, string) error { return nil }

func (a *workAccounts) work() (checked, spent int) {
	a.mu.Lock()
	defer a.mu.Unlock()
	return len(a.checked), len(a.spent)
}

// switchedThrottle throttles every address once on.
type switchedThrottle struct{ on atomic.Bool }

func (s *switchedThrottle) PasswordSignInWait(string) time.Duration {
	if s.on.Load() {
		return 30 * time.Second
	}
	return 0
}
func (*switchedThrottle) FailPasswordSignIn(string)                      {}
func (*switchedThrottle) ThrottlePasswordSignIn(context.Context, string) {}

// At a throttled address, an account that signed in from it before has
// its password checked and the others are refused unchecked; both are
// answered 429. The answer must not tell them apart in any other way, or
// whoever shares the address (an office's NAT) learns which user ids
// exist and sign in from there: an unchecked refusal costs the same work
// as a checked one (the password hash and the commit that take tens of
// milliseconds, where a bare refusal took none), and a password too long
// to check is answered 429 for both (a familiar account's was 401).
func TestThrottledSignInTellsNoFamiliarAccountApart(t *testing.T) {
	conn, err := grpc.NewClient("passthrough:///unused", grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	accts := &workAccounts{}
	throttle := &switchedThrottle{}
	ts, _ := serveConsoleWith(t, Config{Conn: conn, Accounts: accts, Throttle: throttle})
	signIn := func(user, password string) *http.Response {
		t.Helper()
		jar, _ := cookiejar.New(nil)
		client := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
		form := url.Values{"csrf": {formValue(t, fetch(t, client, ts.URL+"/signin", nil), "csrf")}, "user": {user}, "password": {password}}
		return send(t, client, ts.URL+"/signin", form)
	}
	if resp := signIn("op", "right"); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("sign in before the throttle: %s", resp.Status)
	}
	throttle.on.Store(true)
	tooLong := strings.Repeat("x", identity.MaxPasswordBytes+1)
	for _, try := range []struct{ user, password string }{
		{"op", "wrong"}, {"nobody", "wrong"}, {"op", tooLong}, {"nobody", tooLong},
	} {
		checked0, spent0 := accts.work()
		resp := signIn(try.user, try.password)
		if resp.StatusCode != http.StatusTooManyRequests {
			t.Errorf("%s with a password of %d bytes at a throttled address: %s, want 429", try.user, len(try.password), resp.Status)
		}
		checked, spent := accts.work()
		if len(try.password) <= identity.MaxPasswordBytes && (checked-checked0)+(spent-spent0) != 1 {
			t.Errorf("%s at a throttled address: %d checks and %d unchecked refusals, want the work of one", try.user, checked-checked0, spent-spent0)
		}
	}
}
