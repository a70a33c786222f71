package app_test

import (
	"context"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	pb "github.com/childcase/childcase/api/childcase/v1"
	"github.com/childcase/childcase/internal/browsertest"
)

// typeMore types into the intake's narrative, as a person does, after
// the page's and the server's clocks both moved by d, and waits for the
// script's n-th touch of the session to be answered.
func typeMore(t *testing.T, ts *testServer, ctx context.Context, d time.Duration, words string, n int) {
	t.Helper()
	ts.advance(t, d)
	browsertest.ShiftClock(t, ctx, d)
	if err := chromedp.Do(ctx,
		chromedp.SendKeys(chromedp.ID("narrative"), words),
		chromedp.WaitVisible(chromedp.CSS(fmt.Sprintf(`body[data-touches="%d"]`, n))),
	); err != nil {
		t.Fatalf("type %q after %v: no touch %d of the session answered: %v", words, d, n, err)
	}
}

// reportCount is how many reports the operator's list holds.
func reportCount(t *testing.T, ts *testServer) int {
	t.Helper()
	resp, err := ts.reports().ListReports(ts.as(t, operatorID), &pb.ListReportsRequest{PageSize: 100})
	if err != nil {
		t.Fatal(err)
	}
	return len(resp.GetReports())
}

// TestBrowserTypingKeepsTheIntakeAlive: a hotline operator checks the
// intake form ("Kiểm tra", which offers "Lưu") and types on through a
// 40-minute call without a request of the page;
// the console's script tells the server at most once a minute that they
// are typing, so the session does not end idle, and "Lưu" saves: "Đã
// lưu" with the case number. No script breaks the page's policy.
func TestBrowserTypingKeepsTheIntakeAlive(t *testing.T) {
	ts, _ := startConsole(t)
	ctx := newTab(t)
	log := browsertest.WatchConsole(ctx)
	base := "http://" + ts.HTTPAddr()
	browserSignIn(t, ctx, base, operatorID, "pw-"+operatorID)
	if err := chromedp.Do(ctx,
		chromedp.Navigate(base+"/reports/new"),
		chromedp.WaitVisible(chromedp.ID("narrative")),
		fillIntake(ts.clock.Now().Add(-time.Minute), "Phạm Thị Hồng", "Mẹ của bé gọi, kể rất lâu."),
	); err != nil {
		t.Fatalf("fill the form: %v", err)
	}
	// "Kiểm tra" offers "Lưu"; then 40 minutes of typing, past the idle
	// timeout.
	browsertest.ClickAndWait(t, ctx, `.actions button[value="check"]`)
	for i := 1; i <= 4; i++ {
		typeMore(t, ts, ctx, 10*time.Minute, fmt.Sprintf(" Phút thứ %d.", 10*i), i)
		if s := pageAttr(t, ctx, "body", "data-session"); s != "live" {
			t.Fatalf("after %d minutes of typing the page says the session is %q, want live", 10*i, s)
		}
	}
	browsertest.ClickAndWait(t, ctx, `button[value="save"]`)
	if got := text(t, ctx, "#saved-h"); got != "Đã lưu" {
		t.Fatalf("the save after %v of typing says %q, want Đã lưu", 40*time.Minute, got)
	}
	if n := text(t, ctx, "#case-number"); !strings.HasPrefix(n, "HN-") {
		t.Errorf("the confirmation's case number is %q", n)
	}
	log.WantQuiet(t, ctx)
}

// TestBrowserEndedSessionKeepsTheTypedForm: while the operator types,
// the session ends (signed out in another tab). Their next typing shows
// "CHƯA LƯU" at once, saying that the session has ended, with every
// field as typed and the page where it was; "Lưu" then does not leave the
// page. Another person signing in at that browser does not get it saved
// under their name; once the operator signs in again in another tab,
// "Lưu" saves the form once, with the request id it carried.
func TestBrowserEndedSessionKeepsTheTypedForm(t *testing.T) {
	ts, _ := startConsole(t)
	ts.addUser(t, "operator2", pb.Role_ROLE_HOTLINE_OPERATOR, "orgs/hotline-111")
	ctx := newTab(t)
	log := browsertest.WatchConsole(ctx)
	base := "http://" + ts.HTTPAddr()
	browserSignIn(t, ctx, base, operatorID, "pw-"+operatorID)
	const child, narrative = "Đỗ Văn Nam", "Thầy giáo thấy em Nam có vết bỏng ở tay."
	if err := chromedp.Do(ctx,
		chromedp.Navigate(base+"/reports/new"),
		chromedp.WaitVisible(chromedp.ID("narrative")),
		fillIntake(ts.clock.Now().Add(-time.Minute), child, narrative),
	); err != nil {
		t.Fatalf("fill the form: %v", err)
	}
	browsertest.ClickAndWait(t, ctx, `.actions button[value="check"]`)
	requestID := pageAttr(t, ctx, `input[name="request_id"]`, "value")
	before := reportCount(t, ts)

	other, cancel := chromedp.NewContext(ctx) // another tab of the browser
	defer cancel()
	if err := chromedp.Do(other, chromedp.Navigate(base+"/queues"), chromedp.WaitVisible(chromedp.CSS(`form[action="/signout"] button`))); err != nil {
		t.Fatal(err)
	}
	browsertest.ClickAndWait(t, other, `form[action="/signout"] button`)

	typeMore(t, ts, ctx, time.Minute, " Em sợ về nhà.", 1)
	if s := pageAttr(t, ctx, "body", "data-session"); s != "ended" {
		t.Fatalf("after a sign-out in another tab the page says the session is %q, want ended", s)
	}
	alert := text(t, ctx, "#keep-alert")
	if !strings.Contains(alert, "CHƯA LƯU") || !strings.Contains(alert, "Phiên làm việc đã kết thúc") {
		t.Errorf("the page says %q, want CHƯA LƯU and that the session has ended", alert)
	}
	kept := func(when string) {
		t.Helper()
		if got := fieldValue(t, ctx, "#children-0-full_name"); got != child {
			t.Errorf("%s: the child's name is %q, want %q as typed", when, got, child)
		}
		// (the keys typed on the checked page went in before the text)
		if got := fieldValue(t, ctx, "#narrative"); got != " Em sợ về nhà."+narrative {
			t.Errorf("%s: the narrative is %q, want it as typed", when, got)
		}
		if got := fieldValue(t, ctx, `input[name="request_id"]`); got != requestID {
			t.Errorf("%s: the request id is %q, want %q", when, got, requestID)
		}
		if loc, err := chromedp.Run(ctx, chromedp.Location()); err != nil || !strings.HasSuffix(loc, "/reports/new") {
			t.Errorf("%s: the tab is at %q (%v), want the intake form", when, loc, err)
		}
	}
	kept("the session ended")

	// "Lưu" with the session still ended stays on the page and says so.
	if _, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`document.body.removeAttribute("data-session"), true`)); err != nil {
		t.Fatal(err)
	}
	if err := chromedp.Do(ctx,
		chromedp.Click(chromedp.CSS(`button[value="save"]`)),
		chromedp.WaitVisible(chromedp.CSS(`body[data-session="ended"]`)),
	); err != nil {
		t.Fatalf("Lưu with the session ended: %v", err)
	}
	kept("Lưu pressed with the session ended")
	if n := reportCount(t, ts); n != before {
		t.Fatalf("Lưu with the session ended saved %d reports", n-before)
	}

	// Another person signing in at that computer does not get the form
	// saved under their name: the page says so and keeps it.
	browserSignIn(t, other, base, "operator2", "pw-operator2")
	if _, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`document.body.removeAttribute("data-session"), true`)); err != nil {
		t.Fatal(err)
	}
	if err := chromedp.Do(ctx,
		chromedp.Click(chromedp.CSS(`button[value="save"]`)),
		chromedp.WaitVisible(chromedp.CSS(`body[data-session="other"]`)),
	); err != nil {
		t.Fatalf("Lưu with another person signed in: %v", err)
	}
	if alert := text(t, ctx, "#keep-alert"); !strings.Contains(alert, "CHƯA LƯU") || !strings.Contains(alert, "tài khoản khác") {
		t.Errorf("with another person signed in the page says %q, want CHƯA LƯU and that another account signed in", alert)
	}
	kept("Lưu pressed with another person signed in")
	if n := reportCount(t, ts); n != before {
		t.Fatalf("Lưu with another person signed in saved %d reports", n-before)
	}

	browserSignIn(t, other, base, operatorID, "pw-"+operatorID)
	browsertest.ClickAndWait(t, ctx, `button[value="save"]`)
	if got := text(t, ctx, "#saved-h"); got != "Đã lưu" {
		t.Fatalf("Lưu after signing in again in another tab says %q, want Đã lưu", got)
	}
	if n := reportCount(t, ts); n != before+1 {
		t.Errorf("the form was saved as %d reports, want 1", n-before)
	}
	log.WantQuiet(t, ctx)
}

func pageAttr(t *testing.T, ctx context.Context, css, name string) string {
	t.Helper()
	v, err := chromedp.Run(ctx, chromedp.AttributeValue(chromedp.CSS(css), name))
	if err != nil {
		t.Fatalf("%s of %s: %v", name, css, err)
	}
	return v.Value
}

func fieldValue(t *testing.T, ctx context.Context, css string) string {
	t.Helper()
	v, err := chromedp.Run(ctx, chromedp.Value(chromedp.CSS(css)))
	if err != nil {
		t.Fatalf("value of %s: %v", css, err)
	}
	return v
}

// TestBrowserTypingSendsNothingTyped: the README's promise that the
// script sends none of what was typed and keeps it nowhere but in the
// form. While the operator types a child's name and a narrative, with
// touches of the session, every request the page's script makes (fetch,
// XMLHttpRequest, sendBeacon, recorded in the page) and every address the
// page loaded holds none of it, and the page's storage is empty.
func TestBrowserTypingSendsNothingTyped(t *testing.T) {
	ts, _ := startConsole(t)
	ctx := newTab(t)
	base := "http://" + ts.HTTPAddr()
	browserSignIn(t, ctx, base, operatorID, "pw-"+operatorID)
	const child, secret = "Phạm Thị Hồng", "Bí mật của bé"
	if err := chromedp.Do(ctx,
		chromedp.Navigate(base+"/reports/new"),
		chromedp.WaitVisible(chromedp.ID("narrative")),
	); err != nil {
		t.Fatalf("open the intake form: %v", err)
	}
	record := `(() => {
		window.__sent = [];
		const f = window.fetch;
		window.fetch = function (u, o) { window.__sent.push(String(u) + " " + String((o && o.body) || "")); return f.apply(this, arguments); };
		const send = XMLHttpRequest.prototype.send;
		XMLHttpRequest.prototype.send = function (b) { window.__sent.push("xhr " + String(b || "")); return send.apply(this, arguments); };
		if (navigator.sendBeacon) { const beacon = navigator.sendBeacon.bind(navigator); navigator.sendBeacon = function (u, b) { window.__sent.push(String(u) + " " + String(b || "")); return beacon(u, b); }; }
		return true })()`
	if _, err := chromedp.Run(ctx, chromedp.Evaluate[bool](record)); err != nil {
		t.Fatalf("record the page's requests: %v", err)
	}
	if err := chromedp.Do(ctx, fillIntake(ts.clock.Now().Add(-time.Minute), child, secret)); err != nil {
		t.Fatalf("fill the form: %v", err)
	}
	for i := 1; i <= 2; i++ {
		typeMore(t, ts, ctx, 10*time.Minute, fmt.Sprintf(" %s %d.", secret, i), i)
	}
	sent, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](`window.__sent`))
	if err != nil {
		t.Fatal(err)
	}
	loaded, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](`performance.getEntriesByType("resource").map(e => e.name).concat([location.href])`))
	if err != nil {
		t.Fatal(err)
	}
	if len(sent) < 2 {
		t.Fatalf("the page's requests while typing: %q, want the two touches", sent)
	}
	for _, s := range slices.Concat(sent, loaded) {
		for _, typed := range []string{child, secret, url.QueryEscape(child), url.QueryEscape(secret), url.PathEscape(secret)} {
			if strings.Contains(s, typed) {
				t.Errorf("the page sent or loaded %q, which holds what was typed (%q)", s, typed)
			}
		}
	}
	for _, s := range sent {
		if !strings.HasPrefix(s, "/session/touch csrf=") || strings.Contains(s, "&") {
			t.Errorf("the page's script sent %q while typing, want only touches with the form's token", s)
		}
	}
	if n, err := chromedp.Run(ctx, chromedp.Evaluate[int](`localStorage.length + sessionStorage.length`)); err != nil || n != 0 {
		t.Errorf("the page's storage holds %d items (%v), want none", n, err)
	}
}
