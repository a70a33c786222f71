package app_test

import (
	"bufio"
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	pb "github.com/childcase/childcase/api/childcase/v1"
	"github.com/childcase/childcase/internal/app"
	"github.com/childcase/childcase/internal/domain/clock"
	"github.com/childcase/childcase/internal/transport/web"
)

// The console's live queues: GET /events streams the API's notifications
// watch of the signed-in person as server-sent events, and the queues
// page refreshes its list on each.

// eventStream is an open GET /events of a browser.
type eventStream struct {
	t     testing.TB
	resp  *http.Response
	lines *bufio.Scanner
}

// sseEvent is one server-sent event: its type ("" for a message) and data.
type sseEvent struct{ Type, Data string }

// openEvents opens the browser's event stream; it fails the test unless
// the answer is one. The stream ends after a minute at the latest.
func (b *browser) openEvents() *eventStream {
	b.t.Helper()
	return b.openEventsAfter("")
}

// openEventsAfter is openEvents of a browser that reconnects, sending the
// id of the last event it received (Last-Event-ID), when not "".
func (b *browser) openEventsAfter(lastEventID string) *eventStream {
	b.t.Helper()
	// The bound covers the whole stream, the writes a test makes while
	// it reads included, which under -race on a busy machine took more
	// than streamEndWait; a stream that never tells fails after it.
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	b.t.Cleanup(cancel)
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, b.base+"/events", nil)
	if lastEventID != "" {
		req.Header.Set("Last-Event-ID", lastEventID)
	}
	resp, err := b.c.Do(req)
	if err != nil {
		b.t.Fatalf("GET /events: %v", err)
	}
	b.t.Cleanup(func() { resp.Body.Close() })
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
		b.t.Fatalf("GET /events: %s %q, want an event stream", resp.Status, resp.Header.Get("Content-Type"))
	}
	return &eventStream{t: b.t, resp: resp, lines: bufio.NewScanner(resp.Body)}
}

// next returns the stream's next event, skipping comments (heartbeats)
// and the retry field; ok is false when the stream has ended.
func (s *eventStream) next() (ev sseEvent, ok bool) {
	var data []string
	seen := false
	for s.lines.Scan() {
		line := s.lines.Text()
		switch {
		case line == "":
			if seen {
				ev.Data = strings.Join(data, "\n")
				return ev, true
			}
		case strings.HasPrefix(line, ":"), strings.HasPrefix(line, "retry:"), strings.HasPrefix(line, "id:"):
		case strings.HasPrefix(line, "event: "):
			ev.Type, seen = strings.TrimPrefix(line, "event: "), true
		case strings.HasPrefix(line, "data: "):
			data, seen = append(data, strings.TrimPrefix(line, "data: ")), true
		default:
			s.t.Errorf("event stream line %q is no field of ours", line)
		}
	}
	return ev, false
}

// waitForCase returns the first message about a case number, failing the
// test if the stream ends first or tells of another case listed in not.
func (s *eventStream) waitForCase(number string, not ...string) map[string]string {
	s.t.Helper()
	for {
		ev, ok := s.next()
		if !ok {
			s.t.Fatalf("the event stream ended (%v) before a message about %s", s.lines.Err(), number)
		}
		if ev.Type != "" {
			s.t.Fatalf("event %q %q before a message about %s", ev.Type, ev.Data, number)
		}
		var m map[string]string
		if err := json.Unmarshal([]byte(ev.Data), &m); err != nil {
			s.t.Fatalf("event data %q is not JSON: %v", ev.Data, err)
		}
		for _, n := range not {
			if m["case"] == n {
				s.t.Fatalf("the stream told of case %s, which is out of the user's scope: %q", n, ev.Data)
			}
		}
		if m["case"] == number {
			return m
		}
	}
}

// openCaseIn opens a case in a commune at the service's now and returns
// its number.
func openCaseIn(t *testing.T, ts *testServer, commune string) string {
	t.Helper()
	return strings.TrimPrefix(openCase(t, ts, ts.clock.Now(), commune), "cases/")
}

func TestConsoleEventsNeedASession(t *testing.T) {
	ts, _ := startConsole(t)
	b := newBrowser(t, ts)
	resp, body := b.get("/events")
	if resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(resp.Header.Get("Location"), "/signin") {
		t.Fatalf("GET /events signed out: %s to %q, want a redirect to sign in", resp.Status, resp.Header.Get("Location"))
	}
	if strings.Contains(resp.Header.Get("Content-Type"), "event-stream") || strings.Contains(body, "data:") {
		t.Errorf("GET /events signed out answered a stream: %q %q", resp.Header.Get("Content-Type"), body)
	}
}

// A notification of the person's scope arrives as one data line with its
// kind and case number, and nothing else; one out of their scope never
// does (the API's watch decides, with the session's token).
func TestConsoleEventsCarryTheWatch(t *testing.T) {
	ts, _ := startConsole(t)
	ts.addUser(t, "bd.worker", pb.Role_ROLE_COMMUNE_WORKER, pBaDinh)
	ts.addUser(t, "hk.worker", pb.Role_ROLE_COMMUNE_WORKER, pHoanKiem)
	bd, hk := newBrowser(t, ts), newBrowser(t, ts)
	bd.signIn("bd.worker")
	hk.signIn("hk.worker")
	bdEvents, hkEvents := bd.openEvents(), hk.openEvents()

	bdCase := openCaseIn(t, ts, "00004")
	m := bdEvents.waitForCase(bdCase)
	if m["kind"] != "CASE_FORWARDED" || len(m) != 2 {
		t.Errorf("the event of a new case: %v, want its kind (CASE_FORWARDED) and case number only", m)
	}
	// Hoàn Kiếm's worker hears of Hoàn Kiếm's case, and of Ba Đình's
	// (created before it) not at all.
	hkEvents.waitForCase(openCaseIn(t, ts, "00070"), bdCase)
}

// The access matrix of /events: a role the roles table does not let call
// CaseProcessService/WatchEvents gets no stream.
func TestConsoleEventsAccessMatrix(t *testing.T) {
	ts, _ := startConsole(t)
	for _, u := range []struct {
		id   string
		role pb.Role
		unit string
	}{
		{"the.auditor", pb.Role_ROLE_AUDITOR, "orgs/system"},
		{"an.admin", pb.Role_ROLE_ADMIN, "orgs/system"},
	} {
		ts.addUser(t, u.id, u.role, u.unit)
		b := newBrowser(t, ts)
		_, page := b.get("/signin")
		resp, _ := b.post("/signin", url.Values{"csrf": {csrfOf(t, page)}, "user": {u.id}, "password": {"pw-" + u.id}})
		if resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("sign in as %s: %s", u.id, resp.Status)
		}
		resp, body := b.get("/events")
		if resp.StatusCode != http.StatusForbidden || strings.Contains(resp.Header.Get("Content-Type"), "event-stream") {
			t.Errorf("GET /events as %s: %s %q, want 403 and no stream", u.role, resp.Status, resp.Header.Get("Content-Type"))
		}
		if strings.Contains(body, "data:") {
			t.Errorf("GET /events as %s answered events: %q", u.role, body)
		}
	}
}

// Signing out ends the session's open stream at once, with an "end"
// event that sends the page to the sign-in page.
func TestConsoleEventsEndWithTheSession(t *testing.T) {
	ts, _ := startConsole(t)
	b := newBrowser(t, ts)
	page := b.signIn(operatorID)
	events := b.openEvents()
	if r, _ := b.post("/signout", url.Values{"csrf": {csrfOf(t, page)}}); r.StatusCode != http.StatusSeeOther {
		t.Fatalf("sign-out: %s", r.Status)
	}
	ev, ok := events.next()
	if !ok || ev != (sseEvent{Type: "end", Data: "signed-out"}) {
		t.Fatalf("after sign-out the stream said %+v (open %v), want the end event", ev, ok)
	}
	if ev, ok := events.next(); ok {
		t.Fatalf("the stream goes on after the end event: %+v", ev)
	}

	// An idle session ends its stream too, as soon as the service sees it
	// idle (here: the next request of its browser).
	b = newBrowser(t, ts)
	b.signIn(operatorID)
	events = b.openEvents()
	ts.advance(t, web.IdleTimeout)
	if r, _ := b.get("/queues"); r.StatusCode != http.StatusSeeOther {
		t.Fatalf("queues after the idle timeout: %s", r.Status)
	}
	if ev, ok := events.next(); !ok || ev != (sseEvent{Type: "end", Data: "signed-out"}) {
		t.Fatalf("after the idle timeout the stream said %+v (open %v), want the end event", ev, ok)
	}
}

// A page left open past the idle timeout hears of nothing that happens
// after its session ended, even before the minute sweep or the next
// heartbeat sees the session over: the next notification ends the stream
// instead of carrying a case number to a computer nobody signed out of.
func TestConsoleEventsSendNothingPastTheIdleTimeout(t *testing.T) {
	ts, _ := startConsole(t)
	ts.addUser(t, "bd.worker", pb.Role_ROLE_COMMUNE_WORKER, pBaDinh)
	b := newBrowser(t, ts)
	b.signIn("bd.worker")
	events := b.openEvents()
	ts.advance(t, web.IdleTimeout)
	number := openCaseIn(t, ts, "00004")
	ev, ok := events.next()
	if !ok || ev != (sseEvent{Type: "end", Data: "signed-out"}) {
		t.Fatalf("a case opened (%s) after the session's idle timeout: the stream said %+v (open %v), want the end event", number, ev, ok)
	}
}

// A live refresh of the queue (the page's script, marked so) does not
// count as the person's activity: a tab left open on a shared computer
// still signs out after the idle timeout.
func TestConsoleLiveRefreshKeepsTheIdleTimeout(t *testing.T) {
	ts, _ := startConsole(t)
	b := newBrowser(t, ts)
	b.signIn(operatorID)
	live := func() *http.Response {
		req, _ := http.NewRequest(http.MethodGet, b.base+"/queues?tab=open", nil)
		req.Header.Set("X-Childcase-Live", "1")
		resp, err := b.c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		readBody(t, resp)
		return resp
	}
	ts.advance(t, web.IdleTimeout-time.Minute)
	if r := live(); r.StatusCode != http.StatusOK {
		t.Fatalf("a live refresh before the idle timeout: %s", r.Status)
	}
	ts.advance(t, 2*time.Minute)
	if r, _ := b.get("/queues"); r.StatusCode != http.StatusSeeOther {
		t.Errorf("queues %v after the last click, with live refreshes between: %s, want a redirect to sign in",
			web.IdleTimeout+time.Minute, r.Status)
	}
}

// The page carries the service's time, which the countdowns count from.
func TestConsolePagesCarryTheServiceTime(t *testing.T) {
	ts, _ := startConsole(t)
	ts.advance(t, 37*time.Hour)
	page := newBrowser(t, ts).signIn(operatorID)
	want := `data-now="` + ts.clock.Now().UTC().Format(time.RFC3339) + `"`
	if !strings.Contains(page, want) {
		t.Errorf("the queues page does not carry the service's time (%s)", want)
	}
}

// A live refresh stays on the page of the list the person is on.
func TestConsoleLiveRefreshKeepsThePage(t *testing.T) {
	ts, _ := startConsole(t)
	ts.addUser(t, "bd.worker", pb.Role_ROLE_COMMUNE_WORKER, pBaDinh)
	for range 51 { // one more than a page
		openCaseIn(t, ts, "00004")
	}
	b := newBrowser(t, ts)
	first := b.signIn("bd.worker")
	next := regexp.MustCompile(`href="/queues\?tab=open&amp;page=([^"]+)"`).FindStringSubmatch(first)
	if next == nil {
		t.Fatal("the first page of 51 cases links no next page")
	}
	_, second := b.get("/queues?tab=open&page=" + next[1])
	if want := `data-live="/queues?tab=open&amp;page=` + next[1] + `"`; !strings.Contains(second, want) {
		t.Errorf("the second page refreshes from elsewhere; want %s in:\n%s", want, second)
	}
}

// launchConsole starts a server with options of the test's own and a
// console that signs in with bookAccounts.
func launchConsole(t *testing.T, cfg app.Config, opts app.Options) *testServer {
	t.Helper()
	accts := &bookAccounts{}
	opts.ConsoleAccounts = accts
	ts := launch(t, cfg, opts)
	accts.server.Store(ts)
	return ts
}

// The console's stream is not cut by the write timeout of ordinary
// answers: with it at 200 ms, an event a second later still arrives.
func TestConsoleEventsOutliveTheWriteTimeout(t *testing.T) {
	const writeTimeout = 200 * time.Millisecond
	ts := launchConsole(t, testConfig(t, ""), app.Options{
		Clock: clock.NewFake(testNow), HTTPWriteTimeout: writeTimeout, StreamWriteTimeout: 5 * time.Second,
	})
	ts.addUser(t, "bd.worker", pb.Role_ROLE_COMMUNE_WORKER, pBaDinh)
	b := newBrowser(t, ts)
	b.signIn("bd.worker")
	events := b.openEvents()
	time.Sleep(5 * writeTimeout) // well past the ordinary write timeout
	events.waitForCase(openCaseIn(t, ts, "00004"))
}

// Stopping the server ends the console's open streams, so that the
// shutdown is not held until its timeout.
func TestConsoleEventsEndWhenTheServerStops(t *testing.T) {
	cfg := testConfig(t, "")
	cfg.ShutdownTimeout = 5 * time.Second
	ts := launchConsole(t, cfg, app.Options{Clock: clock.NewFake(testNow)})
	b := newBrowser(t, ts)
	b.signIn(operatorID)
	events := b.openEvents()
	ts.conn.Close()
	ts.conn = nil
	if err := ts.Stop(); err != nil {
		t.Fatalf("stop with a console stream open: %v", err)
	}
	if ev, ok := events.next(); ok {
		t.Errorf("the stream goes on after the server stopped: %+v", ev)
	}
}

// A stream the API refuses (here: the user holds all the streams they
// may) ends with an "end" event that tells the page not to reconnect, so
// that a browser's event source does not ask again and again.
func TestConsoleEventsRefusedEndsForGood(t *testing.T) {
	cfg := testConfig(t, "")
	cfg.MaxStreamsPerUser = 1
	ts := launchConsole(t, cfg, app.Options{Clock: clock.NewFake(testNow)})
	b := newBrowser(t, ts)
	b.signIn(operatorID)
	b.openEvents()
	ev, ok := b.openEvents().next()
	if !ok || ev != (sseEvent{Type: "end", Data: "refused"}) {
		t.Fatalf("a second stream over the limit said %+v (open %v), want the end event", ev, ok)
	}
}

// A browser that reconnects with the id of an event the service never
// sent (a page left open across a restore from an older backup, whose
// outbox ends before it) gets the live stream from now, as the API
// advises a client whose after_seq it refuses: not a 400 page, on which
// the browser's EventSource gives up for good and the queues stop
// refreshing without a word.
func TestConsoleEventsFromAnIDNeverSentStartFromNow(t *testing.T) {
	ts, _ := startConsole(t)
	ts.addUser(t, "bd.worker", pb.Role_ROLE_COMMUNE_WORKER, pBaDinh)
	bd := newBrowser(t, ts)
	bd.signIn("bd.worker")
	events := bd.openEventsAfter("999999")
	events.waitForCase(openCaseIn(t, ts, "00004"))
}

// The page's event stream, reconnecting by itself (EventSource sends no
// header of the page's own, so it cannot be marked as the live refresh
// is), does not count as the person's activity either: a queue left open
// on a shared computer whose stream a flaky network or a proxy cuts
// every few minutes reconnected and held the session open past the idle
// timeout.
func TestConsoleEventsReconnectKeepsTheIdleTimeout(t *testing.T) {
	ts, _ := startConsole(t)
	b := newBrowser(t, ts)
	b.signIn(operatorID)
	ts.advance(t, web.IdleTimeout-time.Minute)
	events := b.openEvents() // the stream reconnects, with nobody at the computer
	events.resp.Body.Close()
	ts.advance(t, 2*time.Minute)
	if r, _ := b.get("/queues"); r.StatusCode != http.StatusSeeOther {
		t.Errorf("queues %v after the last click, with the event stream reconnected between: %s, want a redirect to sign in",
			web.IdleTimeout+time.Minute, r.Status)
	}
}
