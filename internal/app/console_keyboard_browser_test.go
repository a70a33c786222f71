package app_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"

	pb "github.com/childcase/childcase/api/childcase/v1"
	"github.com/childcase/childcase/internal/browsertest"
)

// controlsToReach lists the controls of the page's forms in main that a
// person can see and use (a radio group counts once, as Tab enters it
// once), each by a name unique in the page.
const controlsToReach = `(() => {
	const shown = el => { const r = el.getBoundingClientRect(); const s = getComputedStyle(el);
		return s.visibility === "visible" && s.display !== "none" && (r.width > 0 || r.height > 0); };
	const key = el => el.type === "radio" ? "radio:" + el.name : el.id ? "#" + el.id : el.tagName + ":" + el.name + ":" + [...el.form.elements].indexOf(el) + ":" + (el.form.getAttribute("action") || "");
	const want = new Set();
	for (const el of document.querySelectorAll("main summary")) if (shown(el)) want.add("summary:" + el.textContent.trim());
	for (const el of document.querySelectorAll("main form input, main form select, main form textarea, main form button")) {
		// A control in a closed <details> is reached once its summary,
		// which Tab reaches (controlsToReach counts it), is opened.
		if (el.type === "hidden" || el.disabled || el.tabIndex < 0 || !shown(el) || el.closest("details:not([open])")) continue;
		want.add(key(el));
	}
	window.__key = key;
	return [...want];
})()`

// keyboardReachesEveryControl presses Tab through the page from its top
// and fails the test for each control of its forms that focus never
// reaches.
func keyboardReachesEveryControl(t *testing.T, ctx context.Context, who, path string) {
	t.Helper()
	want, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](controlsToReach))
	if err != nil {
		t.Fatal(err)
	}
	if len(want) == 0 {
		t.Fatalf("%s %s: no control to reach", who, path)
	}
	if _, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`document.activeElement && document.activeElement.blur(), window.scrollTo(0, 0), true`)); err != nil {
		t.Fatal(err)
	}
	left := map[string]bool{}
	for _, k := range want {
		left[k] = true
	}
	for i := 0; i < 3*len(want)+40 && len(left) > 0; i++ {
		if err := chromedp.Do(ctx, chromedp.KeyEvent("\t")); err != nil {
			t.Fatal(err)
		}
		k, err := chromedp.Run(ctx, chromedp.Evaluate[string](`(() => { const a = document.activeElement;
			return !a ? "" : a.tagName === "SUMMARY" ? "summary:" + a.textContent.trim() : a.form ? window.__key(a) : "" })()`))
		if err != nil {
			t.Fatal(err)
		}
		delete(left, k)
	}
	for k := range left {
		t.Errorf("%s %s: Tab never reaches %s", who, path, k)
	}
}

// pressEnterAndWait presses Enter where the focus is, in a field of a
// form, and waits until the page that answers has loaded (as
// browsertest.ClickAndWait does for a click).
func pressEnterAndWait(t *testing.T, ctx context.Context) {
	t.Helper()
	if _, err := chromedp.Run(ctx, chromedp.Evaluate[bool]("window.__leaving = true")); err != nil {
		t.Fatal(err)
	}
	if err := chromedp.Do(ctx, chromedp.KeyEvent("\r")); err != nil {
		t.Fatal(err)
	}
	for {
		left, err := chromedp.Run(ctx, chromedp.Evaluate[bool]("window.__leaving !== true && document.readyState === 'complete'"))
		if err == nil && left {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("the page did not change after Enter: %v", ctx.Err())
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// fieldErrorsCheck returns the page's faults in showing errors (empty
// when none): each field marked invalid is described by a shown error
// that says something, and each link of the error summary leads to a
// field of the form that is marked invalid.
const fieldErrorsCheck = `(() => {
	const faults = [];
	for (const el of document.querySelectorAll('[aria-invalid="true"]')) {
		const ids = (el.getAttribute("aria-describedby") || "").split(/\s+/).filter(Boolean);
		const said = ids.map(id => document.getElementById(id)).filter(e => e && e.classList.contains("field-error") && e.textContent.trim() && e.getBoundingClientRect().height > 0);
		if (said.length === 0) faults.push("invalid with no shown error: " + (el.id || el.name));
	}
	for (const a of document.querySelectorAll('#errors a[href^="#"]')) {
		const f = document.getElementById(a.getAttribute("href").slice(1));
		if (!f) { faults.push("the summary links to nothing: " + a.textContent); continue; }
		if (f.getAttribute("aria-invalid") !== "true") faults.push("the summary's field is not marked invalid: " + f.id);
	}
	return faults;
})()`

// TestBrowserFormsByKeyboardWithErrorsOnTheirFields: each role's forms
// (the intake, a step of the case, the dashboard's period and reports,
// the audit log's filters, admin's users, tokens and police units) are
// reached control by control with Tab alone. The intake sent empty with
// Enter, and a chair's approval sent without its decision, show each
// error on its field, naming it; an admin's new user with a bad id is
// refused naming the field.
func TestBrowserFormsByKeyboardWithErrorsOnTheirFields(t *testing.T) {
	ts, number := caseConsole(t)
	name, _ := toPlanDraft(t, ts, number)
	submitPlan(t, ts, name, testNow.Format("2006-01-02"))
	ts.addUser(t, "city.test", pb.Role_ROLE_CITY_OFFICER, "units/01@2020-01-01")
	ts.addUser(t, "auditor.test", pb.Role_ROLE_AUDITOR, "orgs/system")
	ts.addUser(t, "admin.test", pb.Role_ROLE_ADMIN, "orgs/system")
	ctx := newTab(t)
	base := "http://" + ts.HTTPAddr()
	// A headless tab is not the focused window: emulate the focus a
	// person's window has, so that Tab moves focus as it would.
	if _, err := chromedp.Call(ctx, emulation.SetFocusEmulationEnabled, emulation.SetFocusEmulationEnabledParams{Enabled: true}); err != nil {
		t.Fatal(err)
	}
	open := func(who, path string) {
		t.Helper()
		if err := chromedp.Do(ctx, chromedp.Navigate(base+path), chromedp.WaitVisible(chromedp.CSS("h1"))); err != nil {
			t.Fatalf("%s opens %s: %v", who, path, err)
		}
	}
	errorsShown := func(who, what string) {
		t.Helper()
		faults, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](fieldErrorsCheck))
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range faults {
			t.Errorf("%s, %s: %s", who, what, f)
		}
	}

	// The operator: the intake by keyboard, sent empty with Enter in a
	// field (which checks it, and never saves).
	browserSignIn(t, ctx, base, operatorID, "pw-"+operatorID)
	open(operatorID, "/reports/new")
	keyboardReachesEveryControl(t, ctx, operatorID, "/reports/new")
	if err := chromedp.Do(ctx, chromedp.Focus(chromedp.ID("narrative"))); err != nil {
		t.Fatal(err)
	}
	if err := chromedp.Do(ctx, chromedp.Focus(chromedp.ID("children-0-full_name"))); err != nil {
		t.Fatal(err)
	}
	pressEnterAndWait(t, ctx)
	if err := chromedp.Do(ctx, chromedp.WaitVisible(chromedp.ID("errors"))); err != nil {
		t.Fatalf("Enter in a field of the empty intake: %v", err)
	}
	errorsShown(operatorID, "the empty intake")
	// Each error of the summary is on its field, and says which field.
	invalid, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](`[...document.querySelectorAll('[aria-invalid="true"]')].map(e => e.id)`))
	if err != nil || len(invalid) < 3 {
		t.Errorf("the empty intake marks %v invalid (%v), want its required fields", invalid, err)
	}
	if n, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll("#errors li a").length`)); err != nil || n < len(invalid) {
		t.Errorf("the error summary links %d errors (%v), want one to each of %v", n, err, invalid)
	}
	keyboardReachesEveryControl(t, ctx, operatorID, "the intake with errors")

	// The chair: a plan approved without its decision.
	browserSignIn(t, ctx, base, "bd.chair", "pw-bd.chair")
	open("bd.chair", "/cases/"+number)
	keyboardReachesEveryControl(t, ctx, "bd.chair", "/cases/"+number)
	browsertest.ClickAndWait(t, ctx, "#step-ApprovePlan button[type=submit]")
	errorsShown("bd.chair", "an approval without its decision")
	if e, err := chromedp.Run(ctx, chromedp.Evaluate[string](`(() => {
		const f = document.getElementById("step-ApprovePlan-decision_number");
		const e = f && document.getElementById(f.getAttribute("aria-describedby") || "");
		return e ? e.textContent.trim() : "";
	})()`)); err != nil || e == "" {
		t.Errorf("the approval without its decision shows no error on decision_number (%v)", err)
	}

	for who, paths := range map[string][]string{
		"city.test":    {"/dashboard"},
		"auditor.test": {"/audit"},
		"admin.test":   {"/admin", "/admin/users/bd.worker", "/admin/police"},
	} {
		browserSignIn(t, ctx, base, who, "pw-"+who)
		for _, p := range paths {
			open(who, p)
			keyboardReachesEveryControl(t, ctx, who, p)
		}
	}
	// The admin's new user with an id the API refuses: the console's own
	// words say it, naming the field, not the browser's (which would stop
	// the form in the browser's language, with nothing from the catalogs).
	browserSignIn(t, ctx, base, "admin.test", "pw-admin.test")
	open("admin.test", "/admin")
	for _, f := range []string{"#create-user", "#create-police"} {
		if f == "#create-police" {
			open("admin.test", "/admin/police")
		}
		if nv, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`document.querySelector("`+f+`").noValidate`)); err != nil || !nv {
			t.Errorf("the browser checks the form %s itself (noValidate %v, %v): its refusals are not the console's", f, nv, err)
		}
	}
	if t.Failed() {
		t.FailNow()
	}
	open("admin.test", "/admin")
	if err := chromedp.Do(ctx,
		chromedp.SendKeys(chromedp.CSS(`#create-user [name="user_id"]`), "Bad Id!"),
		chromedp.SendKeys(chromedp.CSS(`#create-user [name="display_name"]`), "Người Mới"),
	); err != nil {
		t.Fatal(err)
	}
	browsertest.ClickAndWait(t, ctx, "#create-user button[type=submit]")
	// The refusal names the field as its label does, not by the API's path.
	if e := text(t, ctx, `p.error[role="alert"]`); !strings.Contains(e, "Tên đăng nhập") || strings.Contains(e, "user_id") {
		t.Errorf("the refused user id reads %q, want it to name the field as its label does (Tên đăng nhập)", e)
	}
	errorsShown("admin.test", "a bad user id")

	// A first password too short, sent with Enter: the page says the rule
	// in the console's words (password.min_length), not the browser's.
	created, err := ts.admin().CreateUser(ts.as(t, "admin.test"), &pb.CreateUserRequest{
		UserId: "bd.new", User: &pb.User{DisplayName: "Người Mới", Role: pb.Role_ROLE_COMMUNE_WORKER, Unit: pBaDinh},
	})
	if err != nil {
		t.Fatal(err)
	}
	keyboardSignOut(t, ctx, base, "admin.test")
	open("signed out", "/password/"+created.GetPasswordLinkSecret())
	keyboardReachesEveryControl(t, ctx, "signed out", "the password page")
	if err := chromedp.Do(ctx,
		chromedp.SendKeys(chromedp.ID("password"), "ngắn quá"),
		chromedp.SendKeys(chromedp.ID("confirm"), "ngắn quá"),
	); err != nil {
		t.Fatal(err)
	}
	if nv, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`document.getElementById("password").form.noValidate`)); err != nil || !nv {
		t.Fatalf("the browser checks the password's length itself (noValidate %v, %v): the page never says password.min_length", nv, err)
	}
	pressEnterAndWait(t, ctx)
	if e := text(t, ctx, `p.error[role="alert"]`); e != "Mật khẩu phải có ít nhất 12 ký tự." {
		t.Errorf("the short password is refused with %q, want the catalog's password.min_length", e)
	}
}
