package web

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strconv"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/childcase/childcase/internal/domain/clock"
	"github.com/childcase/childcase/internal/domain/model"
)

// A session's ended channel closes however the session ends, so that its
// event stream ends with it.
func TestSessionEndsCloseTheirChannel(t *testing.T) {
	clk := clock.NewFake(time.Date(2026, 11, 30, 2, 0, 0, 0, time.UTC))
	st := newSessionStore(clk, time.Minute, 2, 2)
	closed := func(s *session) bool {
		select {
		case <-s.ended:
			return true
		default:
			return false
		}
	}
	signedOut, _ := st.add(Account{})
	st.remove(signedOut.id, "signed out")
	if !closed(signedOut) {
		t.Error("a signed-out session's channel is open")
	}

	idle, _ := st.add(Account{})
	clk.Advance(time.Minute)
	if s, ended := st.peek(idle.id); s != nil || ended != idle || !closed(idle) {
		t.Errorf("an idle session: peek %v, ended %v, closed %v; want it ended", s, ended, closed(idle))
	}

	oldest, _ := st.add(Account{})
	clk.Advance(time.Second)
	st.add(Account{})
	_, evicted := st.add(Account{})
	if evicted != oldest || !closed(oldest) {
		t.Errorf("eviction ended %v (closed %v), want the oldest session", evicted, closed(oldest))
	}
}

// peek does not count as the person's activity; get does.
func TestSessionPeekIsNoActivity(t *testing.T) {
	clk := clock.NewFake(time.Date(2026, 11, 30, 2, 0, 0, 0, time.UTC))
	st := newSessionStore(clk, time.Minute, 10, 10)
	s, _ := st.add(Account{})
	clk.Advance(50 * time.Second)
	if got, _ := st.peek(s.id); got != s {
		t.Fatal("a live session is not found by peek")
	}
	clk.Advance(10 * time.Second)
	if got, _ := st.get(s.id); got != nil {
		t.Fatal("a session only peeked at for its idle timeout is still live")
	}
}

// TestOneAccountCannotSignOthersOut: signing in over and over with one
// account ends that account's own sessions, never another person's, so a
// full store cannot be used to sign a chosen person out.
func TestOneAccountCannotSignOthersOut(t *testing.T) {
	clk := clock.NewFake(time.Date(2026, 3, 2, 2, 0, 0, 0, time.UTC))
	st := newSessionStore(clk, IdleTimeout, 8, 3)
	victim, _ := st.add(Account{User: model.User{ID: "victim"}})
	for range 20 {
		clk.Advance(time.Second)
		if _, ended := st.add(Account{User: model.User{ID: "attacker"}}); ended != nil && ended.user.ID != "attacker" {
			t.Fatalf("a sign-in of attacker ended a session of %s", ended.user.ID)
		}
	}
	if s, _ := st.get(victim.id); s == nil {
		t.Fatal("the victim's session was ended by another account's sign-ins")
	}
	// The store still bounds the sessions in all: past it, many accounts'
	// sign-ins end the sessions idle the longest.
	for i := range 10 {
		clk.Advance(time.Second)
		st.add(Account{User: model.User{ID: "user" + strconv.Itoa(i)}})
	}
	if n := len(st.byID); n != 8 {
		t.Errorf("%d sessions held, want at most 8", n)
	}
}

// A session remembers the answers of its last maxSavesPerSession saves,
// each under its own random id; a retry of a save (the same request id)
// finds the first one's id, and an older save is forgotten.
func TestSessionRemembersItsLastSaves(t *testing.T) {
	s := &session{}
	first := s.remember(savedAnswer{requestID: "r0", caseNumber: "HN-2026-00001"})
	if again := s.remember(savedAnswer{requestID: "r0", caseNumber: "HN-2026-00001"}); again != first {
		t.Errorf("a retry of the save got id %q, want the first's %q", again, first)
	}
	ids := []string{first}
	for i := 1; i <= maxSavesPerSession; i++ {
		ids = append(ids, s.remember(savedAnswer{requestID: "r" + strconv.Itoa(i)}))
	}
	if _, ok := s.recall(first); ok {
		t.Errorf("the oldest of %d saves is still remembered", maxSavesPerSession+1)
	}
	for _, id := range ids[1:] {
		if _, ok := s.recall(id); !ok {
			t.Errorf("save %s of the last %d forgotten", id, maxSavesPerSession)
		}
	}
	if len(s.saves) != maxSavesPerSession {
		t.Errorf("%d saves held, want %d", len(s.saves), maxSavesPerSession)
	}
	if _, ok := s.recall(""); ok {
		t.Error("an empty id recalls a save")
	}
}

// Each way a session ends says so in its why, which becomes the reason of
// the owner's auth.sign_out (README: "its reason saying how it ended").
// The end at the token's expiry and the two evictions by a newer sign-in
// are the ones the console test does not reach.
func TestSessionEndsSayWhy(t *testing.T) {
	clk := clock.NewFake(time.Date(2026, 11, 30, 2, 0, 0, 0, time.UTC))
	st := newSessionStore(clk, time.Hour, 3, 2)
	expiring, _ := st.add(Account{User: model.User{ID: "lan"}, Expires: clk.Now().Add(time.Minute)})
	clk.Advance(time.Minute)
	if _, ended := st.get(expiring.id); ended != expiring || ended.why != "ended at its token's expiry" {
		t.Errorf("a session past its token's expiry: ended %v, why %q", ended, expiring.why)
	}

	own, _ := st.add(Account{User: model.User{ID: "lan"}})
	clk.Advance(time.Second)
	st.add(Account{User: model.User{ID: "lan"}})
	clk.Advance(time.Second)
	if _, evicted := st.add(Account{User: model.User{ID: "lan"}}); evicted != own ||
		evicted.why != "ended by a newer sign-in of the account, which holds 2 sessions at most" {
		t.Errorf("past the account's limit: evicted %v, why %q", evicted, own.why)
	}

	oldest := st.byID[func() string {
		var id string
		var at time.Time
		for k, s := range st.byID {
			if id == "" || s.lastSeen.Before(at) {
				id, at = k, s.lastSeen
			}
		}
		return id
	}()]
	st.add(Account{User: model.User{ID: "mai"}})
	clk.Advance(time.Second)
	if _, evicted := st.add(Account{User: model.User{ID: "hoa"}}); evicted != oldest ||
		evicted.why != "ended by a sign-in of users/hoa: the console holds 3 sessions at most" {
		t.Errorf("past the console's limit: evicted %v, why %q", evicted, oldest.why)
	}
}

// The case steps and links of a session, remembered only so that the
// page they lead to says "saved", do not push its report confirmations
// out: a worker who files a report and then takes twenty steps can still
// open the confirmation to read the case number to the caller.
func TestSessionStepsKeepItsConfirmations(t *testing.T) {
	s := &session{}
	confirmation := s.remember(savedAnswer{requestID: "r0", report: "reports/r0", caseNumber: "HN-2026-00001"})
	var steps []string
	for i := range maxSavesPerSession + 5 {
		steps = append(steps, s.remember(savedAnswer{requestID: "step " + strconv.Itoa(i), caseNumber: "HN-2026-00001", done: "AddCaseNote"}))
	}
	if a, ok := s.recall(confirmation); !ok || a.report != "reports/r0" {
		t.Errorf("the report's confirmation is forgotten after %d case steps", len(steps))
	}
	if _, ok := s.recall(steps[0]); ok {
		t.Errorf("the oldest of %d steps is still remembered", len(steps))
	}
	if _, ok := s.recall(steps[len(steps)-1]); !ok {
		t.Error("the newest step is forgotten")
	}
}

// refusalLog keeps why each refused session cookie was refused.
type refusalLog struct {
	mu  sync.Mutex
	why []string
}

func (l *refusalLog) RefuseSession(_ context.Context, _, why string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.why = append(l.why, why)
}

func (l *refusalLog) last() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.why) == 0 {
		return ""
	}
	return l.why[len(l.why)-1]
}

// A session that ended idle is audited as ended whenever its cookie
// comes back, also after the console's minute sweep (Run) has ended it:
// in service the sweep ends nearly every idle session before its browser
// comes back, and the person back from lunch was audited as a cookie
// the console never issued ("unknown console session"), as a forged one
// is.
func TestIdleSessionSweptIsAuditedAsEnded(t *testing.T) {
	clk := clock.NewFake(time.Date(2026, 11, 28, 3, 0, 0, 0, time.UTC))
	conn, err := grpc.NewClient("passthrough:///unused", grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	refusals := &refusalLog{}
	c, err := New(Config{Conn: conn, Accounts: anyoneAccounts{}, Clock: clk, Refusals: refusals,
		Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(c.Handler())
	t.Cleanup(ts.Close)
	jar, _ := cookiejar.New(nil)
	client := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	page := fetch(t, client, ts.URL+"/signin", nil)
	if resp := send(t, client, ts.URL+"/signin", url.Values{"csrf": {formValue(t, page, "csrf")}, "user": {"op"}, "password": {"x"}}); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("sign in: %s", resp.Status)
	}

	clk.Advance(IdleTimeout)
	if swept := c.sessions.expire(); len(swept) != 1 { // Run's minute tick
		t.Fatalf("the sweep ended %d sessions, want the idle one", len(swept))
	}
	for _, path := range []string{"/queues", "/"} {
		var code int
		fetch(t, client, ts.URL+path, &code)
		if code != http.StatusSeeOther {
			t.Fatalf("%s with the swept session's cookie: %d, want a redirect to sign in", path, code)
		}
		if got, want := refusals.last(), "console session ended (idle or expired)"; got != want {
			t.Errorf("%s with the swept session's cookie is audited %q, want %q", path, got, want)
		}
	}

	u, _ := url.Parse(ts.URL)
	jar.SetCookies(u, []*http.Cookie{{Name: sessionCookie, Value: "forged-session-cookie", Path: "/"}})
	fetch(t, client, ts.URL+"/queues", nil)
	if got, want := refusals.last(), "unknown console session"; got != want {
		t.Errorf("a forged cookie is audited %q, want %q", got, want)
	}
}

// A session is ended for what came first: its token's expiry or its idle
// timeout, both when a request finds it over and when the minute sweep
// does. The sweep ended only idle sessions, so a session whose token
// expired (the 12-hour limit) while its browser was away was put on the
// audit trail as ended without use half an hour after its last request.
func TestSessionEndsForWhatCameFirst(t *testing.T) {
	start := time.Date(2026, 11, 30, 2, 0, 0, 0, time.UTC)
	const expiryWhy = "ended at its token's expiry"
	for _, tc := range []struct {
		name  string
		sweep bool
	}{{"request", false}, {"sweep", true}} {
		clk := clock.NewFake(start)
		st := newSessionStore(clk, 30*time.Minute, 10, 10)
		s, _ := st.add(Account{Expires: start.Add(40 * time.Minute)})
		clk.Advance(20 * time.Minute)
		st.get(s.id)                  // used at 20m: idle at 50m, the token expires at 40m
		clk.Advance(45 * time.Minute) // 65m: both are past
		var ended *session
		if tc.sweep {
			if swept := st.expire(); len(swept) == 1 {
				ended = swept[0]
			}
		} else {
			_, ended = st.get(s.id)
		}
		if ended != s || s.why != expiryWhy {
			t.Errorf("%s: ended %v saying %q, want the session ended %q", tc.name, ended != nil, s.why, expiryWhy)
		}
	}
	// Expired, not idle: the sweep ends it at once.
	clk := clock.NewFake(start)
	st := newSessionStore(clk, 30*time.Minute, 10, 10)
	s, _ := st.add(Account{Expires: start.Add(10 * time.Minute)})
	clk.Advance(11 * time.Minute)
	if swept := st.expire(); len(swept) != 1 || s.why != expiryWhy {
		t.Errorf("a session past its token's expiry, not idle: the sweep ended %d saying %q, want it ended %q", len(swept), s.why, expiryWhy)
	}
}
