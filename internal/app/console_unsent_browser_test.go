package app_test

import (
	"context"
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
// form's own send, nor a page nobody typed in, nor a form whose typing
// was all taken back asks anything; a page that a send answered with the
// form kept as typed, not saved, asks as the typed form did.
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

	// Its own send ("Kiểm tra") asks nothing. The page it answers with,
	// the form kept as typed by the server, holds text not saved all the
	// same, and asks as the typed form did
	// (TestBrowserCheckedIntakeIsNotLeftUnsaved); the person who chooses
	// to leave leaves.
	browsertest.ClickAndWait(t, ctx, `.actions button[value="check"]`)
	if seen := dialogs.Seen(); len(seen) != 3 {
		t.Fatalf("sending the form opened %v, want no dialog past the first three", seen[3:])
	}
	if got := fieldValue(t, ctx, "#narrative"); got != narrative {
		t.Fatalf("the checked form holds %q, want it kept as typed", got)
	}
	dialogs.Leave(true)
	browsertest.ClickAndWait(t, ctx, "a.lang")
	dialogs.Leave(false)
	if seen := dialogs.Seen(); len(seen) != 4 || seen[3] != page.DialogTypeBeforeunload {
		t.Fatalf("leaving the checked form opened %v, want a fourth beforeunload", seen)
	}
	if !strings.Contains(text(t, ctx, "h1"), "Intake form") {
		t.Fatalf("the language link did not leave the page for the English one: h1 %q", text(t, ctx, "h1"))
	}

	// On the blank form the link left for, typing taken back is nothing
	// to lose; typing again is, and the person who chooses to leave
	// leaves.
	if err := chromedp.Do(ctx,
		chromedp.SendKeys(chromedp.ID("narrative"), "x"),
		chromedp.SendKeys(chromedp.ID("narrative"), "\b"),
	); err != nil {
		t.Fatal(err)
	}
	browsertest.ClickAndWait(t, ctx, "a.lang")
	if seen := dialogs.Seen(); len(seen) != 4 {
		t.Fatalf("leaving a form whose typing was taken back opened %v, want no dialog", seen[4:])
	}
	if err := chromedp.Do(ctx, chromedp.SendKeys(chromedp.ID("narrative"), " Thêm.")); err != nil {
		t.Fatal(err)
	}
	dialogs.Leave(true)
	browsertest.ClickAndWait(t, ctx, "a.lang")
	if seen := dialogs.Seen(); !slices.Equal(seen, slices.Repeat([]page.DialogType{page.DialogTypeBeforeunload}, 5)) {
		t.Fatalf("leaving a form typed in again opened %v, want a fifth beforeunload", seen)
	}
}

// TestBrowserCheckedIntakeIsNotLeftUnsaved: the intake form a send
// answered with the form kept as typed ("Kiểm tra", which saves nothing)
// holds text not saved though nobody has typed in that page: leaving it
// asks first, and "Lưu" asks whether the session is live before the
// form leaves the page. With the session ended in another tab, "Lưu"
// stays on the page and says "CHƯA LƯU", the form as typed; it was sent
// to the ended session, answered with the sign-in page, and the report
// lost. Signed in again, "Lưu" saves once, and its confirmation is left
// without a question.
func TestBrowserCheckedIntakeIsNotLeftUnsaved(t *testing.T) {
	ts, _ := startConsole(t)
	ctx := newTab(t)
	dialogs := browsertest.WatchDialogs(t, ctx)
	base := "http://" + ts.HTTPAddr()
	browserSignIn(t, ctx, base, operatorID, "pw-"+operatorID)
	const narrative = "Hàng xóm nghe tiếng bé khóc mỗi đêm."
	if err := chromedp.Do(ctx,
		chromedp.Navigate(base+"/reports/new"),
		chromedp.WaitVisible(chromedp.ID("narrative")),
		fillIntake(ts.clock.Now().Add(-time.Minute), "Vũ Thị Mai", narrative),
	); err != nil {
		t.Fatalf("fill the form: %v", err)
	}
	browsertest.ClickAndWait(t, ctx, `.actions button[value="check"]`)
	if !leavingAsks(t, ctx, dialogs, `nav a[href="/queues"]`, 1) {
		t.Fatal("leaving the checked, unsaved intake by the menu asked nothing")
	}
	if got := fieldValue(t, ctx, "#narrative"); got != narrative {
		t.Fatalf("after staying on the checked form, the narrative holds %q, want %q", got, narrative)
	}

	other, cancel := chromedp.NewContext(ctx) // another tab of the browser
	defer cancel()
	if err := chromedp.Do(other, chromedp.Navigate(base+"/queues"), chromedp.WaitVisible(chromedp.CSS(`form[action="/signout"] button`))); err != nil {
		t.Fatal(err)
	}
	browsertest.ClickAndWait(t, other, `form[action="/signout"] button`)
	before := reportCount(t, ts)
	if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS(`button[value="save"]`))); err != nil {
		t.Fatal(err)
	}
	if where := settled(t, ctx, `document.body.dataset.session === "ended" ? "ended" : location.pathname === "/signin" ? "signin" : ""`); where != "ended" {
		t.Fatalf("Lưu on the checked form with the session ended went to %q, want the page to stay and say CHƯA LƯU", where)
	}
	if alert := text(t, ctx, "#keep-alert"); !strings.Contains(alert, "CHƯA LƯU") {
		t.Errorf("Lưu with the session ended says %q, want CHƯA LƯU", alert)
	}
	if got := fieldValue(t, ctx, "#narrative"); got != narrative {
		t.Errorf("after Lưu with the session ended, the narrative holds %q, want %q", got, narrative)
	}
	if n := reportCount(t, ts); n != before {
		t.Fatalf("Lưu with the session ended saved %d reports", n-before)
	}

	browserSignIn(t, other, base, operatorID, "pw-"+operatorID)
	browsertest.ClickAndWait(t, ctx, `button[value="save"]`)
	if got := text(t, ctx, "#saved-h"); got != "Đã lưu" {
		t.Fatalf("Lưu after signing in again says %q, want Đã lưu", got)
	}
	if n := reportCount(t, ts); n != before+1 {
		t.Errorf("the form was saved as %d reports, want 1", n-before)
	}
	browsertest.ClickAndWait(t, ctx, "a.lang")
	if seen := dialogs.Seen(); len(seen) != 1 {
		t.Errorf("leaving the confirmation of the save opened %v, want no dialog past the first", seen[1:])
	}
}

// leavingAsks clicks css, a way off the page, and reports whether the
// browser asked first (the tab's n-th dialog, a beforeunload, answered
// by staying) rather than leave.
func leavingAsks(t *testing.T, ctx context.Context, dialogs *browsertest.Dialogs, css string, n int) bool {
	t.Helper()
	from, err := chromedp.Run(ctx, chromedp.Location())
	if err != nil {
		t.Fatal(err)
	}
	if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS(css))); err != nil {
		t.Fatalf("click %s: %v", css, err)
	}
	for {
		if seen := dialogs.Seen(); len(seen) >= n {
			if seen[n-1] != page.DialogTypeBeforeunload {
				t.Fatalf("leaving by %s opened a %q dialog, want %q", css, seen[n-1], page.DialogTypeBeforeunload)
			}
			return true
		}
		if loc, err := chromedp.Run(ctx, chromedp.Location()); err == nil && loc != from {
			return false
		}
		select {
		case <-ctx.Done():
			t.Fatalf("leaving by %s: neither asked nor left: %v", css, ctx.Err())
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// settled evaluates js, an expression that says where the tab is ("" for
// not yet), until it says something, asking again while a page replaces
// another.
func settled(t *testing.T, ctx context.Context, js string) string {
	t.Helper()
	for {
		if where, err := chromedp.Run(ctx, chromedp.Evaluate[string](js)); err == nil && where != "" {
			return where
		}
		select {
		case <-ctx.Done():
			t.Fatalf("the tab did not settle (%s): %v", js, ctx.Err())
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// TestBrowserRefusedStepIsNotLeftUnsaved: a case step's form that the
// service refused (here, the risks left unrated) comes back kept as
// typed, not applied: leaving it asks first, as the typed form did, and
// staying keeps the notes. Sent again, complete, it is applied, and its
// answer is left without a question.
func TestBrowserRefusedStepIsNotLeftUnsaved(t *testing.T) {
	ts, number := caseConsole(t)
	acknowledged(t, ts, number)
	ctx := newTab(t)
	dialogs := browsertest.WatchDialogs(t, ctx)
	base := "http://" + ts.HTTPAddr()
	browserSignIn(t, ctx, base, "bd.worker", "pw-bd.worker")
	openCasePage(t, ctx, base, number)
	const id, notes = "step-RecordInitialAssessment-", "Trẻ kể bị đánh bằng roi."
	if err := chromedp.Do(ctx, chromedp.WaitVisible(chromedp.ID(id+"notes")), chromedp.SendKeys(chromedp.ID(id+"notes"), notes)); err != nil {
		t.Fatal(err)
	}
	browsertest.ClickAndWait(t, ctx, "#step-RecordInitialAssessment button[type=submit]")
	if e := text(t, ctx, "#step-RecordInitialAssessment .error"); e == "" {
		t.Fatal("the step without its risks rated was not refused")
	}
	if !leavingAsks(t, ctx, dialogs, `nav a[href="/queues"]`, 1) {
		t.Fatal("leaving the refused step's form, kept as typed, asked nothing")
	}
	if got := fieldValue(t, ctx, "#"+id+"notes"); got != notes {
		t.Fatalf("after staying, the notes are %q, want %q", got, notes)
	}
	sendStep(t, ctx, "RecordInitialAssessment",
		chromedp.SetValue(chromedp.ID(id+"harm_severity"), "RISK_LEVEL_HIGH"),
		chromedp.SetValue(chromedp.ID(id+"abuser_access"), "RISK_LEVEL_LOW"),
		chromedp.SetValue(chromedp.ID(id+"safety_obstacles"), "RISK_LEVEL_LOW"),
	)
	browsertest.ClickAndWait(t, ctx, `nav a[href="/queues"]`)
	if seen := dialogs.Seen(); len(seen) != 1 {
		t.Errorf("leaving the applied step's answer opened %v, want no dialog past the first", seen[1:])
	}
}
