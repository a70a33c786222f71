package app_test

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"

	"github.com/childcase/childcase/internal/browsertest"
)

// TestBrowserLeavingTypedTextAsksFirst: a form holding text the person
// typed and has not sent is not dropped without a word when they leave
// its page another way (the language link, the menu): the browser asks
// first (a beforeunload dialog), and staying keeps the text. Neither the
// form's own send, nor a page nobody typed in, nor a page that a send
// answered with the form kept as typed asks anything.
func TestBrowserLeavingTypedTextAsksFirst(t *testing.T) {
	ts, _ := startConsole(t)
	ctx := newTab(t)
	dialogs := browsertest.WatchDialogs(t, ctx)
	base := "http://" + ts.HTTPAddr()
	// The sign-in form is typed in and sent: no question.
	browserSignIn(t, ctx, base, operatorID, "pw-"+operatorID)

	// A page nobody typed in is left without a question.
	browsertest.ClickAndWait(t, ctx, "a.lang")
	browsertest.ClickAndWait(t, ctx, "a.lang")
	if seen := dialogs.Seen(); len(seen) != 0 {
		t.Fatalf("signing in and switching the language of the queues twice opened %v, want no dialog", seen)
	}

	const narrative = "Bé kể rằng bị đánh hằng ngày."
	if err := chromedp.Do(ctx,
		chromedp.Navigate(base+"/reports/new"),
		chromedp.WaitVisible(chromedp.ID("narrative")),
		fillIntake(ts.clock.Now().Add(-time.Minute), "Phạm Thị Hồng", narrative),
	); err != nil {
		t.Fatalf("fill the form: %v", err)
	}
	// The language link, the menu and closing the tab would drop it: the
	// browser asks, and the person who stays finds the form as typed.
	for i, leave := range []string{"a.lang", `nav a[href="/queues"]`, "close the tab"} {
		var err error
		if leave == "close the tab" {
			// Page.close runs the page's beforeunload, as closing a tab does.
			_, err = chromedp.Call(ctx, page.Close, cdp.Empty{})
		} else {
			err = chromedp.Do(ctx, chromedp.Click(chromedp.CSS(leave)))
		}
		if err != nil {
			t.Fatalf("%s: %v", leave, err)
		}
		if typ := dialogs.WaitDialog(t, ctx, i+1); typ != page.DialogTypeBeforeunload {
			t.Fatalf("leaving the typed form by %s opened a %q dialog, want %q", leave, typ, page.DialogTypeBeforeunload)
		}
		if got := fieldValue(t, ctx, "#narrative"); got != narrative {
			t.Fatalf("after staying on the page (%s), the narrative holds %q, want %q", leave, got, narrative)
		}
		if lang := pageAttr(t, ctx, "html", "lang"); lang != "vi" {
			t.Fatalf("after staying on the page (%s), its language is %q", leave, lang)
		}
	}

	// Its own send ("Kiểm tra") asks nothing, and the page it answers
	// with, the form kept as typed by the server, is left without a
	// question until someone types in it again.
	browsertest.ClickAndWait(t, ctx, `.actions button[value="check"]`)
	if got := fieldValue(t, ctx, "#narrative"); got != narrative {
		t.Fatalf("the checked form holds %q, want it kept as typed", got)
	}
	browsertest.ClickAndWait(t, ctx, "a.lang")
	if seen := dialogs.Seen(); len(seen) != 3 {
		t.Fatalf("sending the form and leaving its answer opened %v, want no dialog past the first three", seen[3:])
	}
	if !strings.Contains(text(t, ctx, "h1"), "Intake form") {
		t.Fatalf("the language link did not leave the page for the English one: h1 %q", text(t, ctx, "h1"))
	}

	// Typing taken back is nothing to lose; typing again is, and the
	// person who chooses to leave leaves.
	if err := chromedp.Do(ctx,
		chromedp.SendKeys(chromedp.ID("narrative"), "x"),
		chromedp.SendKeys(chromedp.ID("narrative"), "\b"),
	); err != nil {
		t.Fatal(err)
	}
	browsertest.ClickAndWait(t, ctx, "a.lang")
	if seen := dialogs.Seen(); len(seen) != 3 {
		t.Fatalf("leaving a form whose typing was taken back opened %v, want no dialog", seen[3:])
	}
	if err := chromedp.Do(ctx, chromedp.SendKeys(chromedp.ID("narrative"), " Thêm.")); err != nil {
		t.Fatal(err)
	}
	dialogs.Leave(true)
	browsertest.ClickAndWait(t, ctx, "a.lang")
	if seen := dialogs.Seen(); !slices.Equal(seen, []page.DialogType{page.DialogTypeBeforeunload, page.DialogTypeBeforeunload, page.DialogTypeBeforeunload, page.DialogTypeBeforeunload}) {
		t.Fatalf("leaving a form typed in again opened %v, want a fourth beforeunload", seen)
	}
}
