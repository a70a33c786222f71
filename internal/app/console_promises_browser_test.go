package app_test

import (
	"net/url"
	"testing"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"

	pb "github.com/childcase/childcase/api/childcase/v1"
	"github.com/childcase/childcase/internal/browsertest"
)

// promisesCheck is evaluated in each page: what it returns are the
// page's faults against the README's promises (empty when none).
//   - Every form that posts carries a CSRF token.
//   - Nothing comes from another origin (no CDN): the page's scripts,
//     styles, images and frames, and every resource it loaded, are the
//     console's own (images may also be data: URLs).
//   - Times are shown in Vietnam time, whatever the browser's time zone:
//     each <time> but a countdown shows its datetime as dd/mm/yyyy HH:MM
//     in Asia/Ho_Chi_Minh.
//   - Every text is from the catalogs: no text is a catalog key left as
//     it is (a key the catalogs lack shows as the key).
const promisesCheck = `(() => {
	const faults = [];
	for (const f of document.querySelectorAll("form")) {
		if ((f.getAttribute("method") || "get").toLowerCase() !== "post") continue;
		const c = f.querySelector('input[type=hidden][name=csrf]');
		if (!c || c.value.length < 16) faults.push("a form without its CSRF token: " + (f.getAttribute("action") || location.pathname));
	}
	const foreign = u => {
		if (!u) return false;
		const url = new URL(u, location.href);
		return url.protocol !== "data:" && url.origin !== location.origin;
	};
	for (const el of document.querySelectorAll("script[src], link[href]:not([rel=alternate]), img[src], iframe, source[src], object, embed, video, audio")) {
		const u = el.getAttribute("src") || el.getAttribute("href") || el.getAttribute("data");
		if (el.tagName === "LINK" && !/stylesheet|icon|preload|modulepreload|manifest/.test(el.rel)) continue;
		if (foreign(u)) faults.push("loads from another origin: " + el.outerHTML.slice(0, 120));
	}
	for (const e of performance.getEntriesByType("resource")) {
		if (foreign(e.name)) faults.push("loaded from another origin: " + e.name);
	}
	const vn = new Intl.DateTimeFormat("en-GB", {timeZone: "Asia/Ho_Chi_Minh", year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit", hourCycle: "h23"});
	for (const el of document.querySelectorAll("time[datetime]:not(.countdown)")) {
		const d = new Date(el.getAttribute("datetime"));
		if (isNaN(d) || !el.getAttribute("datetime").includes("T")) continue;
		const p = Object.fromEntries(vn.formatToParts(d).map(x => [x.type, x.value]));
		const want = p.day + "/" + p.month + "/" + p.year + " " + p.hour + ":" + p.minute;
		if (!el.textContent.includes(want)) faults.push("a time not in Vietnam time: " + JSON.stringify(el.textContent) + ", want " + want);
	}
	const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
	for (let n = walker.nextNode(); n; n = walker.nextNode()) {
		const s = n.textContent.trim();
		if (/^[a-z][a-z0-9_]*(\.[A-Za-z0-9_]+)+$/.test(s) && !n.parentElement.closest("td, dd, code, option")) faults.push("a catalog key shown as text: " + s);
	}
	for (const el of document.querySelectorAll("[aria-label], [placeholder], [title]")) {
		for (const a of ["aria-label", "placeholder", "title"]) {
			const s = (el.getAttribute(a) || "").trim();
			if (/^[a-z][a-z0-9_]*(\.[A-Za-z0-9_]+)+$/.test(s) && a !== "placeholder") faults.push("a catalog key in " + a + ": " + s);
		}
	}
	return faults;
})()`

// TestBrowserConsolePromisesOnEveryPage: each role's pages, and the pages
// that answer their forms (an intake with errors, a token's secret shown
// once, a reset link, the audit log verified, a refused step), in a
// browser whose time zone is not Vietnam's, keep the README's promises in
// Vietnamese and in English (promisesCheck); the language link of each of
// them comes back to the same page (its query too) in the other language;
// and no page breaks a rule of the Content-Security-Policy or throws.
func TestBrowserConsolePromisesOnEveryPage(t *testing.T) {
	ts, _ := startConsole(t)
	worker := "bd.worker"
	ts.addUser(t, worker, pb.Role_ROLE_COMMUNE_WORKER, pBaDinh)
	number := openCaseIn(t, ts, "00004")
	referred := addTheOtherRoles(t, ts)

	ctx := newTab(t)
	base := "http://" + ts.HTTPAddr()
	// A browser far from Hanoi: a time the page converted in the browser
	// would show New York's.
	if _, err := chromedp.Call(ctx, emulation.SetTimezoneOverride, emulation.SetTimezoneOverrideParams{TimezoneID: "America/New_York"}); err != nil {
		t.Fatal(err)
	}
	console := browsertest.WatchConsole(ctx)

	where := func() string {
		loc, err := chromedp.Run(ctx, chromedp.Evaluate[string](`location.pathname + location.search`))
		if err != nil {
			t.Fatal(err)
		}
		return loc
	}
	lang := func() string {
		l, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.documentElement.lang`))
		if err != nil {
			t.Fatal(err)
		}
		return l
	}
	checkHere := func(who, what string) {
		t.Helper()
		faults, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](promisesCheck))
		if err != nil {
			t.Fatalf("%s, %s: %v", who, what, err)
		}
		for _, f := range faults {
			t.Errorf("%s, %s (%s): %s", who, what, lang(), f)
		}
	}
	// switchBack follows the language link and back, checking each side,
	// and expects to land where it should.
	switchBoth := func(who, what, back string) {
		t.Helper()
		for _, want := range []string{"en", "vi"} {
			browsertest.ClickAndWait(t, ctx, "a.lang")
			if got := lang(); got != want {
				t.Errorf("%s, %s: the language link gives %q, want %q", who, what, got, want)
			}
			if got := where(); got != back {
				t.Errorf("%s, %s: the language link to %s lands on %s, want %s", who, what, want, got, back)
			}
			checkHere(who, what)
		}
	}
	page := func(who, path string) {
		t.Helper()
		if err := chromedp.Do(ctx, chromedp.Navigate(base+path), chromedp.WaitVisible(chromedp.CSS("h1"))); err != nil {
			t.Fatalf("%s opens %s: %v", who, path, err)
		}
		if l := lang(); l != "vi" {
			t.Errorf("%s, %s: the page opens in %q, want Vietnamese first", who, path, l)
		}
		checkHere(who, path)
		switchBoth(who, path, path)
	}
	// answer sends a form of the page by its button and checks the page
	// that answers; its language link leads back to back.
	answer := func(who, what, button, back string) {
		t.Helper()
		browsertest.ClickAndWait(t, ctx, button)
		checkHere(who, what)
		switchBoth(who, what, back)
	}

	// The check can fail: a page made to break each promise.
	bad := `<html lang="vi"><body><form method="post" action="/x"><input name="a"></form>` +
		`<script src="https://cdn.example.invalid/x.js"></script>` +
		`<time datetime="2026-01-01T00:00:00Z">01/01/2026 00:00</time><p>case.status</p></body></html>`
	if err := chromedp.Do(ctx, chromedp.Navigate("data:text/html,"+url.PathEscape(bad))); err != nil {
		t.Fatal(err)
	}
	if faults, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](promisesCheck)); err != nil || len(faults) < 4 {
		t.Fatalf("promisesCheck finds %q (%v) in a page that breaks four promises", faults, err)
	}

	page("signed out", "/signin")
	page("signed out", "/no-such-page")

	browserSignIn(t, ctx, base, operatorID, "pw-"+operatorID)
	page(operatorID, "/queues?tab=all")
	page(operatorID, "/reports/new")
	// The intake sent empty: its errors, on their fields.
	answer(operatorID, "the intake with errors", `.actions button[value="check"]`, "/reports/new")
	// A counselling call's report, in no case, with the form that attaches
	// it to one, sent empty.
	counselling := validReport()
	counselling.CallType = pb.CallType_CALL_TYPE_COUNSELLING
	call, err := ts.reports().CreateReport(ts.as(t, operatorID), &pb.CreateReportRequest{Report: counselling})
	if err != nil {
		t.Fatal(err)
	}
	report := "/" + call.GetName()
	page(operatorID, report)
	answer(operatorID, "a link without a case number", `form[action="`+report+`"] button[type=submit]`, report)

	browserSignIn(t, ctx, base, worker, "pw-"+worker)
	page(worker, "/queues?tab=overdue")
	page(worker, "/cases/"+number+"?timeline=all")
	page(worker, "/dashboard?period=custom&from=2026-01-01&to=2026-12-31")

	browserSignIn(t, ctx, base, "police.bd", "pw-police.bd")
	page("police.bd", "/cases/"+referred)

	browserSignIn(t, ctx, base, "city.test", "pw-city.test")
	page("city.test", "/dashboard/overdue")
	// A report's page, its reporter asked for without a reason, and with
	// one: the identity shown on the answer only.
	cs, err := ts.cases().GetCase(ts.as(t, "city.test"), &pb.GetCaseRequest{Name: "cases/" + number})
	if err != nil || len(cs.GetReports()) == 0 {
		t.Fatalf("the case's report: %v", err)
	}
	cityReport := "/" + cs.GetReports()[0]
	page("city.test", cityReport)
	answer("city.test", "a disclosure without a reason", `#reporter-form button[type=submit]`, cityReport)
	if err := chromedp.Do(ctx, chromedp.Navigate(base+cityReport), chromedp.WaitVisible(chromedp.CSS("h1")),
		chromedp.SendKeys(chromedp.ID("reporter-reason"), "Cần gọi lại người báo tin để xác minh")); err != nil {
		t.Fatal(err)
	}
	browsertest.ClickAndWait(t, ctx, `#reporter-form button[type=submit]`)
	checkHere("city.test", "the reporter disclosed")
	if n, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll("#reporter-identity").length`)); err != nil || n != 1 {
		t.Errorf("city.test: the disclosed identity is not on the page (%d, %v)", n, err)
	}

	browserSignIn(t, ctx, base, "auditor.test", "pw-auditor.test")
	page("auditor.test", "/audit?case="+number)
	answer("auditor.test", "the log verified", "#verify", "/audit")

	browserSignIn(t, ctx, base, "admin.test", "pw-admin.test")
	page("admin.test", "/admin")
	page("admin.test", "/admin/police")
	page("admin.test", "/admin/users/"+worker)
	answer("admin.test", "a token's secret", `form[action$="/tokens"] button[type=submit]`, "/admin/users/"+worker)
	if err := chromedp.Do(ctx, chromedp.Navigate(base+"/admin/users/"+worker), chromedp.WaitVisible(chromedp.CSS("h1"))); err != nil {
		t.Fatal(err)
	}
	answer("admin.test", "a reset link", `main form[action$="/reset-password"] button[type=submit]`, "/admin/users/"+worker)

	console.WantQuiet(t, ctx)
}
