package web

import (
	"context"
	"net/http"
	"net/http/cookiejar"
	"net/netip"
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

// heldWork holds every check and unchecked refusal until released,
// telling when one starts: a password hash that takes long.
type heldWork struct {
	started, release chan struct{}
}

func (a heldWork) SignIn(context.Context, Credentials) (Account, error) {
	a.started <- struct{}{}
	<-a.release
	return Account{}, ErrRefused
}

func (a heldWork) RefuseUnchecked(context.Context, Credentials) {
	a.started <- struct{}{}
	<-a.release
}

func (heldWork) SignOut(context.Context, string, string) error { return nil }

// throttledFrom throttles one address.
type throttledFrom struct{ client string }

func (f throttledFrom) PasswordSignInWait(client string) time.Duration {
	if client == f.client {
		return 30 * time.Second
	}
	return 0
}
func (throttledFrom) FailPasswordSignIn(string)                      {}
func (throttledFrom) ThrottlePasswordSignIn(context.Context, string) {}

// A throttled address's refusals cost a hash each (above), so one guesser
// there could keep every one of the maxSignInsAtOnce slots busy and the
// people of every other address out ("busy"), where the throttle used to
// answer them for nothing. A throttled address holds one slot at a time,
// whoever signs in from it (a familiar account too, or the wait would
// tell it apart again); the others' sign-ins still get theirs.
func TestThrottledAddressHoldsOneSignInSlot(t *testing.T) {
	conn, err := grpc.NewClient("passthrough:///unused", grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	accts := heldWork{started: make(chan struct{}), release: make(chan struct{})}
	const guesser = "203.0.113.7"
	ts, _ := serveConsoleWith(t, Config{Conn: conn, Accounts: accts, Throttle: throttledFrom{client: guesser},
		TrustedProxies: []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}})
	signIn := func(from string) *http.Response {
		t.Helper()
		jar, _ := cookiejar.New(nil)
		client := &http.Client{Jar: jar}
		form := url.Values{"csrf": {formValue(t, fetch(t, client, ts.URL+"/signin", nil), "csrf")}, "user": {"someone"}, "password": {"guess"}}
		req, _ := http.NewRequest(http.MethodPost, ts.URL+"/signin", strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("X-Forwarded-For", from)
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	var wg sync.WaitGroup
	released := false
	defer func() {
		if !released {
			close(accts.release)
		}
		wg.Wait()
	}()
	wg.Go(func() { signIn(guesser) })
	<-accts.started
	answer := make(chan *http.Response, maxSignInsAtOnce+1) // every sign-in's but the first
	wg.Go(func() { answer <- signIn(guesser) })
	select {
	case <-accts.started:
		t.Fatal("a second sign-in of a throttled address started its hash while the first hashed")
	case resp := <-answer:
		if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") != "1" {
			t.Errorf("a second sign-in of a throttled address while the first hashed: %s, want 503 busy", resp.Status)
		}
	}
	// Another address's sign-ins take the remaining slots.
	for i := range maxSignInsAtOnce - 1 {
		from := "198.51.100." + string(rune('1'+i))
		wg.Go(func() { answer <- signIn(from) })
		select {
		case <-accts.started:
		case resp := <-answer:
			t.Fatalf("a sign-in from %s while the throttled address hashed: %s, want its hash started", from, resp.Status)
		}
	}
	close(accts.release)
	released = true
}
