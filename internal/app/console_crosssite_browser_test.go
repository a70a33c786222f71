package app_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/childcase/childcase/internal/browsertest"
)

// TestBrowserLinksOfAnotherSiteChangeNothing: in a real browser, links
// on another site (localhost, where the console is 127.0.0.1) to the
// console's language switch, to one of its pages and to its sign-in page
// change nothing of the console's state in the browser: the language
// stays, the browser's session stays signed in, and a sign-in form open
// in another tab still signs in (its token was not replaced). The
// sign-in page the link opens is asked again from the console itself,
// and carries the browser's token.
func TestBrowserLinksOfAnotherSiteChangeNothing(t *testing.T) {
	ts, _ := startConsole(t)
	ctx := newTab(t)
	base := "http://" + ts.HTTPAddr()
	if !strings.HasPrefix(ts.HTTPAddr(), "127.0.0.1:") {
		t.Fatalf("the console listens on %s; the test needs 127.0.0.1 to be another site than localhost", ts.HTTPAddr())
	}
	links := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprintf(w, `<!doctype html><html lang="en"><body>
<a id="lang" href="%[1]s/lang/en?back=/queues">lang</a>
<a id="queues" href="%[1]s/queues">queues</a>
<a id="signin" href="%[1]s/signin">sign in</a></body></html>`, base)
	}))
	defer links.Close()
	otherSite := strings.Replace(links.URL, "127.0.0.1", "localhost", 1)
	// follow opens the other site in a tab and follows its link id.
	follow := func(tab context.Context, id string) {
		t.Helper()
		if err := chromedp.Do(tab, chromedp.Navigate(otherSite), chromedp.WaitVisible(chromedp.ID(id))); err != nil {
			t.Fatalf("open the other site: %v", err)
		}
		browsertest.ClickAndWait(t, tab, "#"+id)
	}

	browserSignIn(t, ctx, base, operatorID, "pw-"+operatorID)
	follow(ctx, "lang")
	if h1 := text(t, ctx, "h1"); h1 != "Không được phép" {
		t.Errorf("the other site's link to the language switch shows %q, want the refusal", h1)
	}
	follow(ctx, "queues")
	onSignIn(t, ctx, base)
	if h1 := pageAfter(t, ctx, base+"/queues"); h1 != "Hàng việc của tôi" {
		t.Fatalf("after the other site's links, /queues shows %q, want the queues in Vietnamese, still signed in", h1)
	}

	// A sign-in form open in one tab, the other site's link to the
	// sign-in page followed in another: the form still signs in.
	if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS(`form[action="/signout"] button`)), chromedp.WaitVisible(chromedp.ID("user"))); err != nil {
		t.Fatalf("sign out: %v", err)
	}
	if err := chromedp.Do(ctx,
		chromedp.SendKeys(chromedp.ID("user"), operatorID),
		chromedp.SendKeys(chromedp.ID("password"), "pw-"+operatorID),
	); err != nil {
		t.Fatal(err)
	}
	second, cancel := chromedp.NewContext(ctx)
	defer cancel()
	follow(second, "signin")
	onSignIn(t, second, base)
	// Asked again from the console, the sign-in page the link opened
	// carries the browser's token, the open form's.
	if mine, its := fieldValue(t, ctx, `input[name="csrf"]`), fieldValue(t, second, `input[name="csrf"]`); mine != its {
		t.Errorf("the sign-in page the other site's link opened has a token of its own, not the browser's")
	}
	browsertest.SubmitAndWait(t, ctx, "#password")
	if h1 := text(t, ctx, "h1"); h1 != "Hàng việc của tôi" {
		t.Fatalf("the sign-in form open before the other site's link shows %q after its send, want the queues", h1)
	}
}

// onSignIn waits until a tab that followed another site's link to the
// console has been asked again from the console (the page of the link
// has no form) and shows its sign-in form.
func onSignIn(t *testing.T, tab context.Context, base string) {
	t.Helper()
	js := strconv.Quote(base) + ` === location.origin && document.getElementById("user") !== null && document.readyState === "complete"`
	for {
		// An error is the page being replaced as it is asked: ask again.
		if there, err := chromedp.Run(tab, chromedp.Evaluate[bool](js)); err == nil && there {
			return
		}
		select {
		case <-tab.Done():
			t.Fatalf("the other site's link did not end on the sign-in page: %v", tab.Err())
		case <-time.After(20 * time.Millisecond):
		}
	}
}
