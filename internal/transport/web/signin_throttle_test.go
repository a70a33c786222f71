package web

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/childcase/childcase/internal/domain/clock"
	"github.com/childcase/childcase/internal/domain/identity"
	"github.com/childcase/childcase/internal/domain/model"
)

// workAccounts signs in "op" with the password "right" and counts the
// checks; pauses counts the waits of the sign-ins refused unchecked.
type workAccounts struct {
	mu      sync.Mutex
	checked []string
	pauses  []time.Duration
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

func (*workAccounts) SignOut(context.Context, string, string) error { return nil }

func (a *workAccounts) pause(_ context.Context, d time.Duration) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.pauses = append(a.pauses, d)
}

func (a *workAccounts) work() (checked int, pauses []time.Duration) {
	a.mu.Lock()
	defer a.mu.Unlock()
	return len(a.checked), append([]time.Duration(nil), a.pauses...)
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
// sign in from there: an unchecked refusal waits as long as a checked one
// takes lately (a password hash and a commit, tens of milliseconds, where
// a bare refusal took none), doing none of its work, and a password too
// long to check is answered 429 for both (a familiar account's was 401).
func TestThrottledSignInTellsNoFamiliarAccountApart(t *testing.T) {
	conn, err := grpc.NewClient("passthrough:///unused", grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	accts := &workAccounts{}
	throttle := &switchedThrottle{}
	ts, _ := serveConsoleWith(t, Config{Conn: conn, Accounts: accts, Throttle: throttle, Pause: accts.pause})
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
	// The failures that throttle an address are checked: their time is
	// what an unchecked refusal waits.
	if resp := signIn("op", "wrong"); resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("a wrong password before the throttle: %s", resp.Status)
	}
	throttle.on.Store(true)
	tooLong := strings.Repeat("x", identity.MaxPasswordBytes+1)
	for _, try := range []struct {
		user, password string
		checked        bool
	}{
		{"op", "wrong", true}, {"nobody", "wrong", false}, {"op", tooLong, false}, {"nobody", tooLong, false},
	} {
		checked0, pauses0 := accts.work()
		resp := signIn(try.user, try.password)
		if resp.StatusCode != http.StatusTooManyRequests {
			t.Errorf("%s with a password of %d bytes at a throttled address: %s, want 429", try.user, len(try.password), resp.Status)
		}
		if len(try.password) > identity.MaxPasswordBytes {
			continue
		}
		checked, pauses := accts.work()
		checks, waits := checked-checked0, pauses[len(pauses0):]
		switch {
		case try.checked && (checks != 1 || len(waits) != 0):
			t.Errorf("%s, familiar, at a throttled address: %d checks and %d pauses, want its password checked", try.user, checks, len(waits))
		case !try.checked && (checks != 0 || len(waits) != 1 || waits[0] <= 0):
			t.Errorf("%s at a throttled address: %d checks and pauses %v, want no check and one pause as long as a check", try.user, checks, waits)
		}
	}
}

// heldWork holds every check until released, telling when one starts: a
// password hash that takes long.
type heldWork struct {
	started, release chan struct{}
}

func (a heldWork) SignIn(context.Context, Credentials) (Account, error) {
	a.started <- struct{}{}
	<-a.release
	return Account{}, ErrRefused
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

// throttledConsole serves a console over accts whose throttle refuses
// guesser, with pause as its unchecked refusals' wait, and a signIn from
// an address (X-Forwarded-For, from a trusted proxy) of a user with a
// wrong password; nil if the request failed.
func throttledConsole(t *testing.T, accts Accounts, guesser string, pause func(context.Context, time.Duration)) (*Console, func(from, user string) *http.Response) {
	t.Helper()
	conn, err := grpc.NewClient("passthrough:///unused", grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	c, err := New(Config{Conn: conn, Accounts: accts, Throttle: throttledFrom{client: guesser},
		TrustedProxies: []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")},
		Clock:          clock.NewFake(time.Date(2026, 11, 28, 3, 0, 0, 0, time.UTC)),
		Log:            slog.New(slog.NewTextHandler(io.Discard, nil)),
		Pause:          pause,
	})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(c.Handler())
	t.Cleanup(ts.Close)
	return c, func(from, user string) *http.Response {
		jar, _ := cookiejar.New(nil)
		client := &http.Client{Jar: jar}
		form := url.Values{"csrf": {formValue(t, fetch(t, client, ts.URL+"/signin", nil), "csrf")}, "user": {user}, "password": {"guess"}}
		req, _ := http.NewRequest(http.MethodPost, ts.URL+"/signin", strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("X-Forwarded-For", from)
		resp, err := client.Do(req)
		if err != nil {
			t.Error(err)
			return nil
		}
		resp.Body.Close()
		return resp
	}
}

// A throttled address's refusals unchecked do none of a check's work and
// take none of the maxSignInsAtOnce places: a guesser's flood there must
// not keep the people of other addresses, or the familiar accounts of
// its own, out with "busy". With a guesser's refusals waiting, every
// place is still there for the checks of other addresses.
func TestUncheckedRefusalsTakeNoSignInPlace(t *testing.T) {
	accts := heldWork{started: make(chan struct{}), release: make(chan struct{})}
	const guesser = "203.0.113.7"
	paused, resume := make(chan time.Duration), make(chan struct{})
	c, signIn := throttledConsole(t, accts, guesser, func(_ context.Context, d time.Duration) {
		paused <- d
		<-resume
	})
	c.noteRefusalTime(40 * time.Millisecond) // the checks that throttled the guesser
	var wg sync.WaitGroup
	defer func() {
		close(resume)
		close(accts.release)
		wg.Wait()
	}()
	for range maxSignInsAtOnce + 1 {
		wg.Go(func() {
			if resp := signIn(guesser, "someone"); resp != nil && resp.StatusCode != http.StatusTooManyRequests {
				t.Errorf("an unchecked refusal: %s, want 429", resp.Status)
			}
		})
		if d := <-paused; d != 40*time.Millisecond {
			t.Errorf("the unchecked refusal paused %v, want the 40ms a check takes", d)
		}
	}
	// Every place is free for the others, the refusals still waiting.
	for i := range maxSignInsAtOnce {
		from := "198.51.100." + string(rune('1'+i))
		answer := make(chan *http.Response, 1)
		wg.Go(func() { answer <- signIn(from, "someone") })
		select {
		case <-accts.started:
		case resp := <-answer:
			t.Fatalf("a sign-in from %s while a guesser's refusals waited: %v, want its check started", from, resp)
		}
	}
}

// With every place taken by checks, a familiar account at a throttled
// address is answered "busy" (it would be checked), and so must every
// other account there be: a 429 for the others alone would tell whoever
// shares the address, having filled the places from elsewhere, which
// user ids sign in from it.
func TestThrottledSignInIsBusyAlikeForEveryAccount(t *testing.T) {
	accts := heldWork{started: make(chan struct{}), release: make(chan struct{})}
	const guesser = "203.0.113.7"
	c, signIn := throttledConsole(t, accts, guesser, func(context.Context, time.Duration) {})
	c.noteRefusalTime(40 * time.Millisecond)
	c.familiar.add(guesser, "familiar")
	var wg sync.WaitGroup
	defer func() {
		close(accts.release)
		wg.Wait()
	}()
	for i := range maxSignInsAtOnce {
		from := "198.51.100." + string(rune('1'+i))
		wg.Go(func() { signIn(from, "someone") })
		<-accts.started
	}
	sameAnswerForEveryAccount(t, signIn, guesser, "every place taken", "503 busy")
}

// sameAnswerForEveryAccount signs in at the throttled address guesser as
// "familiar" (an account that signed in from there before) and as
// "stranger", and fails unless both get the same status and Retry-After,
// a 503 (want says which).
func sameAnswerForEveryAccount(t *testing.T, signIn func(from, user string) *http.Response, guesser, when, want string) {
	t.Helper()
	var answers []string
	for _, user := range []string{"familiar", "stranger"} {
		resp := signIn(guesser, user)
		if resp == nil {
			return
		}
		answers = append(answers, resp.Status+" Retry-After "+resp.Header.Get("Retry-After"))
	}
	if answers[0] != answers[1] || !strings.HasPrefix(answers[0], "503") {
		t.Errorf("%s, at a throttled address: a familiar account %q, another %q; want both %s", when, answers[0], answers[1], want)
	}
}

// However many of a throttled address's refusals wait at once, one more
// waits too: answered at once past a bound, a guesser holding that many
// waiting would tell an unfamiliar account's refusal (at once) from a
// familiar one's (checked, as long as a check takes).
func TestManyUncheckedRefusalsWaitingStillWaitAsACheck(t *testing.T) {
	const guesser, waiting = "203.0.113.7", 256 // the bound there was
	paused, resume := make(chan time.Duration), make(chan struct{})
	c, signIn := throttledConsole(t, heldWork{}, guesser, func(_ context.Context, d time.Duration) {
		paused <- d
		<-resume
	})
	c.noteRefusalTime(40 * time.Millisecond)
	var wg sync.WaitGroup
	defer func() {
		close(resume)
		wg.Wait()
	}()
	for range waiting {
		wg.Go(func() { signIn(guesser, "someone") })
		<-paused
	}
	answer := make(chan *http.Response, 1)
	wg.Go(func() { answer <- signIn(guesser, "stranger") })
	select {
	case d := <-paused:
		if d != 40*time.Millisecond {
			t.Errorf("refusal %d waited %v, want the 40ms a check takes", waiting+1, d)
		}
	case resp := <-answer:
		t.Errorf("refusal %d while %d waited: %v at once, want it to wait as a check would", waiting+1, waiting, resp)
	}
}

// spendAccounts is workAccounts that can spend a refused check's work on
// nothing, as the identity service does (refusalSpender).
type spendAccounts struct {
	workAccounts
	spent atomic.Int32
}

func (a *spendAccounts) RefuseUnchecked(context.Context, Credentials) {
	time.Sleep(time.Millisecond) // a hash, however short
	a.spent.Add(1)
}

// An address is throttled by the API's failed tokens too (one allowance
// per address, whichever door), and the throttle outlives no restart but
// the moving average starts empty with it: so an address may be
// throttled before any checked refusal was timed. A familiar account's
// refusal there still costs a check; an unchecked one must not be
// answered at once, or it tells the familiar accounts apart. It spends
// a refusal's work once, and that time is what the next ones wait.
func TestUncheckedRefusalBeforeAnyCheckWasTimedCostsACheck(t *testing.T) {
	const guesser = "203.0.113.7"
	accts := &spendAccounts{}
	c, signIn := throttledConsole(t, accts, guesser, accts.pause)
	c.familiar.add(guesser, "op")
	for i := range 2 {
		if resp := signIn(guesser, "nobody"); resp == nil || resp.StatusCode != http.StatusTooManyRequests {
			t.Fatalf("an unchecked refusal: %v, want 429", resp)
		}
		checked, pauses := accts.work()
		spent := int(accts.spent.Load())
		switch {
		case checked != 0:
			t.Errorf("refusal %d checked a password", i+1)
		case i == 0 && (spent != 1 || len(pauses) != 0):
			t.Errorf("the first unchecked refusal, nothing timed yet: %d spent, pauses %v; want a check's work spent", spent, pauses)
		case i == 1 && (spent != 1 || len(pauses) != 1 || pauses[0] <= 0):
			t.Errorf("the second unchecked refusal: %d spent in all, pauses %v; want a pause as long as the first took", spent, pauses)
		}
	}
}

// fullAccounts answers every check as a database full past its reserve
// does (model.ErrFull, for a refusal too) and says so (fullness).
type fullAccounts struct{ workAccounts }

func (a *fullAccounts) SignIn(ctx context.Context, c Credentials) (Account, error) {
	_, _ = a.workAccounts.SignIn(ctx, c)
	return Account{}, fmt.Errorf("sign-in: %w (refused)", model.ErrFull)
}

func (*fullAccounts) Full() bool { return true }

// While the database is full, a familiar account's check at a throttled
// address is answered 503 "database full", as every check is: an
// unchecked refusal there must be too, or its 429 tells the familiar
// accounts apart.
func TestThrottledSignInWhileTheDatabaseIsFullTellsNoFamiliarAccountApart(t *testing.T) {
	const guesser = "203.0.113.7"
	accts := &fullAccounts{}
	c, signIn := throttledConsole(t, accts, guesser, accts.pause)
	c.noteRefusalTime(40 * time.Millisecond)
	c.familiar.add(guesser, "familiar")
	sameAnswerForEveryAccount(t, signIn, guesser, "the database full", "503 database full")
}
