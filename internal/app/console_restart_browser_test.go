package app_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/childcase/childcase/internal/app"
	"github.com/childcase/childcase/internal/domain/clock"

	pb "github.com/childcase/childcase/api/childcase/v1"
)

// TestBrowserQueueLeftOpenAcrossARestartGoesToSignIn: a restart signs
// everyone out (sessions live in the server's memory). A queue page left
// open across one reconnected its stream to a server that no longer knew
// the session, was answered with the sign-in page instead of a stream,
// and the browser gave the stream up for good: the page went on showing
// the cases, no longer live and with nothing to say so, on a screen
// nobody was signed in to. It now goes to the sign-in page, as it does
// when the stream itself says the session ended.
func TestBrowserQueueLeftOpenAcrossARestartGoesToSignIn(t *testing.T) {
	ts, _ := startConsole(t)
	ts.addUser(t, "bd.worker", pb.Role_ROLE_COMMUNE_WORKER, pBaDinh)
	number := openCaseIn(t, ts, "00004")
	ctx := newTab(t)
	base := "http://" + ts.HTTPAddr()
	browserSignIn(t, ctx, base, "bd.worker", "pw-bd.worker")
	if err := chromedp.Do(ctx, chromedp.WaitVisible(chromedp.CSS(`#queue[data-stream="open"] a[href="/cases/`+number+`"]`))); err != nil {
		t.Fatalf("the queue does not show the case and follow the stream: %v", err)
	}

	// The same database and address, as a service restarted in place.
	cfg := ts.cfg
	cfg.HTTPAddr = ts.HTTPAddr()
	ts.stop()
	again := relaunchConsole(t, cfg, ts.clock.Now())
	defer again.stop()

	// The browser reconnects its stream after the stream's retry delay.
	waitForSignInPage(t, ctx, base, "the restart")
}

// TestBrowserQueueLeftOpenAcrossARestartBehindAProxyGoesToSignIn: the
// README's deployment puts the console behind nginx, which answers "502
// Bad Gateway" while childcase restarts. A queue page whose stream
// reconnected in that window (its retry delay is shorter than a start)
// was given up for good by the browser, as for the sign-in page; the
// list's one refresh, answered 502 too, found nothing out, and the page
// went on showing the cases, no longer live, on a screen nobody was
// signed in to once the service was back. A refresh the server does not
// answer is now asked again, and the page goes to sign in once the
// service that comes back says the session is gone.
func TestBrowserQueueLeftOpenAcrossARestartBehindAProxyGoesToSignIn(t *testing.T) {
	ts, _ := startConsole(t)
	ts.addUser(t, "bd.worker", pb.Role_ROLE_COMMUNE_WORKER, pBaDinh)
	number := openCaseIn(t, ts, "00004")

	// A proxy in front of the console that, as nginx, answers 502 while
	// the service is down; liveDown is closed at its first 502 to the
	// list's own refresh, after one to the stream.
	backend, err := url.Parse("http://" + ts.HTTPAddr())
	if err != nil {
		t.Fatal(err)
	}
	var streamDown atomic.Bool
	liveDown := make(chan struct{})
	var once sync.Once
	proxy := httputil.NewSingleHostReverseProxy(backend)
	proxy.ErrorHandler = func(w http.ResponseWriter, r *http.Request, err error) {
		switch {
		case r.URL.Path == "/events":
			streamDown.Store(true)
		case r.Header.Get("X-Childcase-Live") != "" && streamDown.Load():
			once.Do(func() { close(liveDown) })
		}
		w.WriteHeader(http.StatusBadGateway)
	}
	front := httptest.NewServer(proxy)
	defer front.Close()

	ctx := newTab(t)
	browserSignIn(t, ctx, front.URL, "bd.worker", "pw-bd.worker")
	if err := chromedp.Do(ctx, chromedp.WaitVisible(chromedp.CSS(`#queue[data-stream="open"] a[href="/cases/`+number+`"]`))); err != nil {
		t.Fatalf("the queue does not show the case and follow the stream: %v", err)
	}

	cfg := ts.cfg
	cfg.HTTPAddr = ts.HTTPAddr()
	ts.stop()
	select {
	case <-liveDown:
	case <-time.After(30 * time.Second):
		t.Fatal("30s after the service stopped, the page has not reconnected its stream and refreshed its list through the proxy")
	}
	again := relaunchConsole(t, cfg, ts.clock.Now())
	defer again.stop()

	waitForSignInPage(t, ctx, front.URL, "the service came back")
}

// relaunchConsole starts the console again on cfg (the same database and
// address, as a service restarted in place), its clock at now.
func relaunchConsole(t *testing.T, cfg app.Config, now time.Time) *testServer {
	t.Helper()
	accts := &bookAccounts{}
	again := launch(t, cfg, app.Options{Clock: clock.NewFake(now), ConsoleAccounts: accts})
	accts.server.Store(again)
	return again
}

// waitForSignInPage waits up to 30 s, after what happened (said in the
// failure), for the page in ctx to be the sign-in page at base.
func waitForSignInPage(t *testing.T, ctx context.Context, base, after string) {
	t.Helper()
	wait, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := chromedp.Do(wait, chromedp.WaitVisible(chromedp.ID("password"))); err != nil {
		loc, _ := chromedp.Run(ctx, chromedp.Location())
		stream, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`(document.getElementById("queue") || {dataset: {}}).dataset.stream || ""`))
		t.Fatalf("30s after %s the page is still at %s (its stream %q), want the sign-in page: %v", after, loc, stream, err)
	}
	if loc, err := chromedp.Run(ctx, chromedp.Location()); err != nil || !strings.HasPrefix(loc, base+"/signin") {
		t.Fatalf("after %s the page is at %q (%v), want the sign-in page", after, loc, err)
	}
}
