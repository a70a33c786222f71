package app_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"

	pb "github.com/childcase/childcase/api/childcase/v1"
	"github.com/childcase/childcase/internal/browsertest"
)

// The live queues, the countdowns, CSRF and the console's quality checks,
// in a real browser.

// countdownOf returns the class and the text of the countdown in the
// queue's row of a case ("" when the row or its countdown is missing).
func countdownOf(t *testing.T, ctx context.Context, number string) (class, text string) {
	t.Helper()
	got, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](fmt.Sprintf(`(() => {
		const row = [...document.querySelectorAll("#queue tbody tr")].find(r => r.querySelector('a[href="/cases/' + %q + '"]'));
		const el = row && row.querySelector("time.countdown");
		return el ? [el.className, el.textContent] : ["", ""];
	})()`, number)))
	if err != nil {
		t.Fatalf("countdown of %s: %v", number, err)
	}
	return got[0], got[1]
}

// TestBrowserCountdownsFollowTheServiceClock: a countdown is green while
// its deadline is far, amber past the deadline's first warning point and
// red, "Quá hạn", once overdue, all on the service's clock (here a fake
// one, days from the browser's own).
func TestBrowserCountdownsFollowTheServiceClock(t *testing.T) {
	ts, _ := startConsole(t)
	worker := "bd.worker"
	ts.addUser(t, worker, pb.Role_ROLE_COMMUNE_WORKER, pBaDinh)
	number := openCaseIn(t, ts, "00004") // its nearest deadline: acknowledge within 24 hours
	ctx := newTab(t)
	base := "http://" + ts.HTTPAddr()

	for _, step := range []struct {
		advance time.Duration
		class   string
		text    string
	}{
		{0, "ok", "giờ"},
		{13 * time.Hour, "amber", "giờ"}, // past the first warning, at half the span
		{12 * time.Hour, "red", "Quá hạn"},
	} {
		// The queue's live events end a page whose session ended and send
		// it to the sign-in page by itself (console.js), which would race
		// the sign-in below: the tab leaves the queue before the clock
		// moves.
		if err := chromedp.Do(ctx, chromedp.Navigate(base+"/signin")); err != nil {
			t.Fatal(err)
		}
		ts.advance(t, step.advance)
		// The hours passed end the session (idle): sign in again, which
		// opens the queue afresh.
		browserSignIn(t, ctx, base, worker, "pw-"+worker)
		if err := chromedp.Do(ctx, chromedp.WaitVisible(chromedp.CSS("time.countdown.ok, time.countdown.amber, time.countdown.red"))); err != nil {
			t.Fatal(err)
		}
		class, text := countdownOf(t, ctx, number)
		if !strings.Contains(" "+class+" ", " "+step.class+" ") || !strings.Contains(text, step.text) {
			t.Fatalf("after %v more: the countdown of %s is %q %q, want %s and %q", step.advance, number, class, text, step.class, step.text)
		}
	}
}

// TestBrowserQueueUpdatesLive: a worker's queue is open; a new case of
// their commune, created through the API, appears in it without a reload.
func TestBrowserQueueUpdatesLive(t *testing.T) {
	ts, _ := startConsole(t)
	worker := "bd.worker"
	ts.addUser(t, worker, pb.Role_ROLE_COMMUNE_WORKER, pBaDinh)
	// Cases whose countdowns are red (overdue) and amber (warned).
	late := openCaseIn(t, ts, "00004")
	ts.advance(t, 13*time.Hour)
	warned := openCaseIn(t, ts, "00004")
	ts.advance(t, 12*time.Hour+30*time.Minute)

	ctx := newTab(t)
	base := "http://" + ts.HTTPAddr()
	browserSignIn(t, ctx, base, worker, "pw-"+worker)
	if err := chromedp.Do(ctx, chromedp.WaitVisible(chromedp.CSS(`#queue[data-stream="open"]`))); err != nil {
		t.Fatalf("the queue does not follow the event stream: %v", err)
	}
	if _, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`window.loadedOnce = true`)); err != nil {
		t.Fatal(err)
	}

	fresh := openCaseIn(t, ts, "00004")
	if err := chromedp.Do(ctx, chromedp.WaitVisible(chromedp.CSS(`#queue a[href="/cases/`+fresh+`"]`))); err != nil {
		t.Fatalf("the new case %s did not appear in the open queue: %v", fresh, err)
	}
	stayed, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`window.loadedOnce === true`))
	if err != nil || !stayed {
		t.Fatalf("the page was reloaded to show the new case (%v)", err)
	}
	for number, want := range map[string]string{late: "red", warned: "amber", fresh: "ok"} {
		if class, text := countdownOf(t, ctx, number); !strings.Contains(" "+class+" ", " "+want+" ") {
			t.Errorf("the countdown of %s is %q %q, want %s", number, class, text, want)
		}
	}
	saveScreenshot(t, ctx, "queues")
}

// TestBrowserCSRFRefused: a page of another origin that posts a form to
// the console while its victim is signed in, in the same browser, is
// refused (403), and the session survives; a wrong password shows the
// refusal and starts no session.
func TestBrowserCSRFRefused(t *testing.T) {
	ts, _ := startConsole(t)
	ctx := newTab(t)
	base := "http://" + ts.HTTPAddr()

	// Sign-in failure.
	if err := chromedp.Do(ctx,
		chromedp.Navigate(base+"/signin"),
		chromedp.WaitVisible(chromedp.ID("user")),
		chromedp.SendKeys(chromedp.ID("user"), operatorID),
		chromedp.SendKeys(chromedp.ID("password"), "not-the-password"),
	); err != nil {
		t.Fatalf("sign in with a wrong password: %v", err)
	}
	browsertest.SubmitAndWait(t, ctx, "#password")
	if err := chromedp.Do(ctx, chromedp.WaitVisible(chromedp.CSS(`p.error[role="alert"]`))); err != nil {
		t.Fatalf("the refusal of a wrong password: %v", err)
	}
	if got := text(t, ctx, `p.error[role="alert"]`); !strings.Contains(got, "Đăng nhập không thành công") {
		t.Errorf("the refusal reads %q", got)
	}
	if h1 := pageAfter(t, ctx, base+"/queues"); h1 != "Đăng nhập" {
		t.Fatalf("after a refused sign-in, /queues shows %q, want the sign-in page", h1)
	}

	// The attack: another origin (another port of the same host, so the
	// browser even sends the SameSite=Strict cookie) posts the sign-out
	// form with a made-up token as soon as it loads.
	var mu sync.Mutex
	var attacked bool
	attacker := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		attacked = true
		mu.Unlock()
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprintf(w, `<!doctype html><html lang="en"><body>
<form id="f" method="post" action="%s/signout"><input type="hidden" name="csrf" value="guessed"></form>
<script>document.getElementById("f").submit()</script></body></html>`, base)
	}))
	defer attacker.Close()

	browserSignIn(t, ctx, base, operatorID, "pw-"+operatorID)
	if err := chromedp.Do(ctx,
		chromedp.Navigate(attacker.URL),
		chromedp.Poll[chromedp.Void](strconv.Quote(base)+` === location.origin && document.readyState === "complete"`),
	); err != nil {
		t.Fatalf("the attacking page did not post to the console: %v", err)
	}
	mu.Lock()
	if !attacked {
		t.Fatal("the attacking page was never served")
	}
	mu.Unlock()
	status, err := chromedp.Run(ctx, chromedp.Evaluate[int](`performance.getEntriesByType("navigation")[0].responseStatus`))
	if err != nil || status != http.StatusForbidden {
		t.Errorf("the console answered the cross-origin post with %d (%v), want 403", status, err)
	}
	if h1 := pageAfter(t, ctx, base+"/queues"); h1 != "Hàng việc của tôi" {
		t.Errorf("after the attack /queues shows %q: the session did not survive", h1)
	}
}

// pageAfter navigates to a URL and returns the h1 of where it lands.
func pageAfter(t *testing.T, ctx context.Context, url string) string {
	t.Helper()
	if err := chromedp.Do(ctx, chromedp.Navigate(url), chromedp.WaitVisible(chromedp.CSS("h1"))); err != nil {
		t.Fatalf("open %s: %v", url, err)
	}
	return text(t, ctx, "h1")
}

// qualityCheck is evaluated in each page: what it returns are the page's
// faults (empty when none).
const qualityCheck = `(() => {
	const faults = [];
	if (!document.documentElement.lang) faults.push("no lang");
	const h1s = document.querySelectorAll("h1").length;
	if (h1s !== 1) faults.push(h1s + " h1 elements");
	for (const el of document.querySelectorAll("input, select, textarea")) {
		// Hidden fields, and fields a page keeps out of sight and out of the
		// accessibility tree with the hidden attribute (the username the
		// password page gives password managers), need no label.
		if (el.type === "hidden" || el.closest("[hidden]")) continue;
		// el.labels holds both a label[for] and a label wrapped around it.
		const labelled = (el.labels && el.labels.length > 0 && el.labels[0].textContent.trim() !== "") ||
			el.getAttribute("aria-label") || el.getAttribute("aria-labelledby");
		if (!labelled) faults.push("no label for " + (el.name || el.id || el.outerHTML));
	}
	for (const th of document.querySelectorAll("th")) {
		if (!th.getAttribute("scope")) faults.push("th without scope: " + th.textContent);
	}
	if (document.documentElement.scrollWidth > window.innerWidth) {
		faults.push("wider than the screen: " + document.documentElement.scrollWidth + " > " + window.innerWidth);
	}
	const table = document.querySelector("#queue table");
	if (table && table.getBoundingClientRect().right > window.innerWidth) faults.push("the queue table overflows");
	return faults;
})()`

// contrastCheck is evaluated in each page after qualityCheck: it returns
// the text and the focus rings a person with low vision could not read
// (empty when none), by WCAG 2's contrast ratio. Text needs 4.5:1 against
// what is behind it (3:1 when large: 24px, or 18.67px bold); an input's
// value and placeholder count as text. A control's focus ring needs 3:1
// against what surrounds the control, in its outline or in its shadow, so
// that a keyboard user sees where they are on white and on the dark top
// bar alike. Text hidden from sight (the skip link until focused, text for
// screen readers only) is not shown and not checked.
const contrastCheck = `(() => {
	const faults = [];
	const parse = c => {
		const m = /rgba?\(([^)]*)\)/.exec(c || "");
		if (!m) return null;
		const p = m[1].split(/[\s,\/]+/).filter(Boolean).map(Number);
		return [p[0], p[1], p[2], p.length > 3 ? p[3] : 1];
	};
	const over = (top, under) => [0, 1, 2].map(i => top[i] * top[3] + under[i] * (1 - top[3])).concat([1]);
	// The colour behind an element: the backgrounds of it and its
	// ancestors, composited down to the first opaque one (or the white
	// canvas).
	const behind = el => {
		const layers = [];
		for (let e = el; e && e.nodeType === 1; e = e.parentElement) {
			const c = parse(getComputedStyle(e).backgroundColor);
			if (c && c[3] > 0) {
				layers.push(c);
				if (c[3] >= 1) break;
			}
		}
		let bg = [255, 255, 255, 1];
		for (let i = layers.length - 1; i >= 0; i--) bg = over(layers[i], bg);
		return bg;
	};
	const lum = c => {
		const [r, g, b] = c.slice(0, 3).map(v => {
			v /= 255;
			return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4);
		});
		return 0.2126 * r + 0.7152 * g + 0.0722 * b;
	};
	const ratio = (a, b) => {
		const [hi, lo] = [lum(a), lum(b)].sort((x, y) => y - x);
		return (hi + 0.05) / (lo + 0.05);
	};
	const shown = el => {
		const s = getComputedStyle(el);
		if (s.display === "none" || s.visibility !== "visible" || s.opacity === "0") return false;
		const r = el.getBoundingClientRect();
		return r.width > 1 && r.height > 1 && r.right > 0 && r.bottom > 0;
	};
	const name = el => el.tagName.toLowerCase() + (el.id ? "#" + el.id : "") +
		(typeof el.className === "string" && el.className ? "." + el.className.trim().split(/\s+/).join(".") : "");
	const seen = new Set();
	const fault = f => { if (!seen.has(f)) { seen.add(f); faults.push(f); } };
	const checkText = (el, what, colour, bg) => {
		const fg = parse(colour);
		if (!fg) return;
		const s = getComputedStyle(el);
		const size = parseFloat(s.fontSize), bold = parseInt(s.fontWeight, 10) >= 700;
		const need = size >= 24 || (size >= 18.66 && bold) ? 3 : 4.5;
		const got = ratio(over(fg, bg), bg);
		if (got < need) fault("contrast " + got.toFixed(2) + ":1 < " + need + ":1 of " + name(el) + " " + JSON.stringify(what.slice(0, 40)));
	};
	for (const el of document.querySelectorAll("body *")) {
		if (!shown(el)) continue;
		const own = [...el.childNodes].filter(n => n.nodeType === 3).map(n => n.textContent).join("").trim();
		const svg = el instanceof SVGElement;
		if (own) checkText(el, own, svg ? getComputedStyle(el).fill : getComputedStyle(el).color, behind(el));
		if (el.matches("input:not([type=hidden]):not([type=checkbox]):not([type=radio]), textarea, select")) {
			if (el.value) checkText(el, el.value, getComputedStyle(el).color, behind(el));
			if (el.placeholder && !el.value) checkText(el, el.placeholder, getComputedStyle(el, "::placeholder").color, behind(el));
		}
	}
	const before = document.activeElement;
	for (const el of document.querySelectorAll("a[href], button, input:not([type=hidden]), select, textarea, summary")) {
		if (!shown(el) || el.disabled || el.tabIndex < 0) continue; // not reached with Tab
		el.focus({preventScroll: true});
		if (document.activeElement !== el) continue;
		const s = getComputedStyle(el);
		const around = behind(el.parentElement);
		const rings = [];
		if (s.outlineStyle !== "none" && parseFloat(s.outlineWidth) >= 2) rings.push(parse(s.outlineColor));
		for (const c of (s.boxShadow || "").match(/rgba?\([^)]*\)/g) || []) rings.push(parse(c));
		const best = Math.max(0, ...rings.filter(Boolean).map(c => ratio(over(c, around), around)));
		if (best < 3) fault("focus ring " + best.toFixed(2) + ":1 < 3:1 of " + name(el) + " " + JSON.stringify((el.textContent || el.name || "").trim().slice(0, 40)));
	}
	if (before && before.focus) before.focus({preventScroll: true}); else document.activeElement.blur();
	return faults;
})()`

// TestBrowserConsoleAccessibleAndResponsive: every page of the console
// (sign-in, setting a first password with the second factor, each queue,
// the intake form, a case page, the police view, the dashboard, the audit
// log, admin, the not-found page), as a role that may use it, has its
// language, one h1, a label for every field and scoped table headers,
// fits a 1366x768 laptop and a 390x844 phone without sideways scrolling,
// has text and focus rings of enough contrast (contrastCheck; the queues
// show a countdown of each colour), lets the keyboard reach the sign-out
// button, and breaks no rule of the Content-Security-Policy.
func TestBrowserConsoleAccessibleAndResponsive(t *testing.T) {
	ts, _ := startConsole(t)
	worker := "bd.worker"
	ts.addUser(t, worker, pb.Role_ROLE_COMMUNE_WORKER, pBaDinh)
	// Rows for the queue tables, with a countdown of each colour: red
	// (overdue), amber (past the first warning) and green.
	openCaseIn(t, ts, "00004")
	ts.advance(t, 13*time.Hour)
	openCaseIn(t, ts, "00004")
	ts.advance(t, 12*time.Hour+30*time.Minute)
	number := openCaseIn(t, ts, "00004")
	referred := addTheOtherRoles(t, ts)
	// A city officer's first password, with the second factor's
	// enrolment (its QR code and secret), as their one-time link shows it.
	created, err := ts.admin().CreateUser(ts.as(t, "admin.test"), &pb.CreateUserRequest{
		UserId: "city.new", User: &pb.User{DisplayName: "Nguyễn Văn Mới", Role: pb.Role_ROLE_CITY_OFFICER, Unit: "units/01@2020-01-01"},
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx := newTab(t)
	base := "http://" + ts.HTTPAddr()
	// A headless tab is never the focused window, and a page that is not
	// focused draws no focus ring (:focus does not match): emulate the
	// focus a person's window has, so contrastCheck sees the rings.
	if _, err := chromedp.Call(ctx, emulation.SetFocusEmulationEnabled, emulation.SetFocusEmulationEnabledParams{Enabled: true}); err != nil {
		t.Fatal(err)
	}
	console := browsertest.WatchConsole(ctx)

	sizes := []struct {
		name string
		w, h int64
	}{{"laptop", 1366, 768}, {"phone", 390, 844}}
	tables := 0 // pages checked with a queue table
	check := func(who, path string) {
		t.Helper()
		for _, size := range sizes {
			if err := chromedp.Do(ctx, chromedp.EmulateViewport(size.w, size.h),
				chromedp.Navigate(base+path), chromedp.WaitVisible(chromedp.CSS("h1"))); err != nil {
				t.Fatalf("%s %s on a %s: %v", who, path, size.name, err)
			}
			if w, err := chromedp.Run(ctx, chromedp.Evaluate[int64](`window.innerWidth`)); err != nil || w != size.w {
				t.Fatalf("%s %s: the window is %d wide (%v), want a %s's %d", who, path, w, err, size.name, size.w)
			}
			faults, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](qualityCheck))
			if err != nil {
				t.Fatalf("%s %s on a %s: %v", who, path, size.name, err)
			}
			for _, f := range faults {
				t.Errorf("%s %s on a %s: %s", who, path, size.name, f)
			}
			faults, err = chromedp.Run(ctx, chromedp.Evaluate[[]string](contrastCheck))
			if err != nil {
				t.Fatalf("%s %s on a %s: %v", who, path, size.name, err)
			}
			for _, f := range faults {
				t.Errorf("%s %s on a %s: %s", who, path, size.name, f)
			}
			if n, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll("#queue table").length`)); err == nil {
				tables += n
			}
		}
	}

	check("signed out", "/signin")
	check("signed out", "/no-such-page")
	check("signed out", "/password/"+created.GetPasswordLinkSecret())
	// Every screen, as a role that may use it: the queues' tabs, the
	// intake form, a report's page (with the reporter's form for the city
	// officer), a case page with its step forms, the dashboard, the audit
	// log and admin.
	cs, err := ts.cases().GetCase(ts.as(t, "city.test"), &pb.GetCaseRequest{Name: "cases/" + number})
	if err != nil || len(cs.GetReports()) == 0 {
		t.Fatalf("the case's report: %v", err)
	}
	report := "/" + cs.GetReports()[0] // with the form that asks for the reporter
	screens := map[string][]string{
		operatorID:     {"/reports/new", report},
		worker:         {"/cases/" + number, "/reports/new"},
		"police.bd":    {"/cases/" + referred},
		"city.test":    {"/dashboard", "/dashboard/overdue", report},
		"auditor.test": {"/audit"},
		"admin.test":   {"/admin", "/admin/users/" + worker, "/admin/police"},
	}
	for _, user := range []string{operatorID, worker, "police.bd", "city.test", "auditor.test", "admin.test"} {
		browserSignIn(t, ctx, base, user, "pw-"+user)
		// The tabs each role is offered (TestConsoleQueuesShowTheRoleItsQueuesOnly).
		for _, tab := range map[string][]string{
			operatorID: {"all"}, worker: {"open", "overdue", "accept", "all"}, "city.test": {"successor"},
		}[user] {
			check(user, "/queues?tab="+tab)
		}
		for _, path := range screens[user] {
			check(user, path)
		}
		check(user, "/no-such-page")
		keyboardSignOut(t, ctx, base, user)
	}

	if tables == 0 {
		t.Error("no page had a queue table to check")
	}

	console.WantQuiet(t, ctx)
}

// keyboardSignOut reaches the sign-out button of the page with the Tab
// key alone, and presses it with Enter.
func keyboardSignOut(t *testing.T, ctx context.Context, base, who string) {
	t.Helper()
	if err := chromedp.Do(ctx, chromedp.Navigate(base+"/queues"), chromedp.WaitVisible(chromedp.CSS("h1"))); err != nil {
		t.Fatal(err)
	}
	onSignOut := `(() => { const a = document.activeElement; return a && a.tagName === "BUTTON" && !!a.closest('form[action="/signout"]') })()`
	for range 30 {
		if err := chromedp.Do(ctx, chromedp.KeyEvent("\t")); err != nil {
			t.Fatal(err)
		}
		reached, err := chromedp.Run(ctx, chromedp.Evaluate[bool](onSignOut))
		if err != nil {
			t.Fatal(err)
		}
		if reached {
			if err := chromedp.Do(ctx, chromedp.KeyEvent("\r"), chromedp.WaitVisible(chromedp.ID("password"))); err != nil {
				t.Fatalf("%s: Enter on the sign-out button: %v", who, err)
			}
			return
		}
	}
	t.Fatalf("%s: 30 presses of Tab never reach the sign-out button", who)
}
