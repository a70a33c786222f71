package app_test

import (
	"context"
	"strings"
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
	accts := &bookAccounts{}
	again := launch(t, cfg, app.Options{Clock: clock.NewFake(ts.clock.Now()), ConsoleAccounts: accts})
	accts.server.Store(again)
	defer again.stop()

	// The browser reconnects its stream after the stream's retry delay.
	wait, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := chromedp.Do(wait, chromedp.WaitVisible(chromedp.ID("password"))); err != nil {
		loc, _ := chromedp.Run(ctx, chromedp.Location())
		stream, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`(document.getElementById("queue") || {dataset: {}}).dataset.stream || ""`))
		t.Fatalf("30s after the restart the page is still at %s (its stream %q), want the sign-in page: %v", loc, stream, err)
	}
	if loc, err := chromedp.Run(ctx, chromedp.Location()); err != nil || !strings.HasPrefix(loc, base+"/signin") {
		t.Fatalf("after the restart the page is at %q (%v), want the sign-in page", loc, err)
	}
}
