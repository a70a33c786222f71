package app_test

import (
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	pb "github.com/childcase/childcase/api/childcase/v1"
	"github.com/childcase/childcase/internal/browsertest"
)

// TestBrowserAdminManagesUsersAndTokens: an admin creates a commune
// worker on the admin screen and is shown, once, the link that sets the
// person's first password (CreateUser answers it: a person signs in with
// a password, not a token); the worker sets a password with it. The admin then creates an API token for the worker, whose secret is
// shown once (a reload does not show it again), and revokes it.
func TestBrowserAdminManagesUsersAndTokens(t *testing.T) {
	ts, _ := startConsole(t)
	ts.addUser(t, "admin.test", pb.Role_ROLE_ADMIN, "orgs/system")
	ctx := newTab(t)
	base := "http://" + ts.HTTPAddr()
	browserSignIn(t, ctx, base, "admin.test", "pw-admin.test")
	if err := chromedp.Do(ctx, chromedp.Navigate(base+"/admin"), chromedp.WaitVisible(chromedp.ID("create-user"))); err != nil {
		t.Fatal(err)
	}
	role, err := chromedp.Run(ctx, chromedp.Evaluate[string](`[...document.querySelectorAll("#role option")].map(o => o.value).find(v => v.endsWith("COMMUNE_WORKER")) || ""`))
	if err != nil || role == "" {
		t.Fatalf("no commune worker among the roles (%v)", err)
	}
	if err := chromedp.Do(ctx,
		chromedp.SendKeys(chromedp.ID("user_id"), "bd.moi"),
		chromedp.SendKeys(chromedp.ID("display_name"), "Lê Thị Mới"),
		chromedp.SetValue(chromedp.ID("role"), role),
		chromedp.SetValue(chromedp.ID("unit"), pBaDinh),
	); err != nil {
		t.Fatal(err)
	}
	browsertest.ClickAndWait(t, ctx, "#create-user button[type=submit]")
	link, err := chromedp.Run(ctx, chromedp.Evaluate[string](`(document.getElementById("link") || {}).value || ""`))
	if err != nil || !strings.HasPrefix(link, base+"/password/pw_") {
		t.Fatalf("the new user's page shows the set-password link %q (%v), want %s/password/pw_…", link, err, base)
	}
	if p := text(t, ctx, "#link-box"); !strings.Contains(p, "Chỉ hiện một lần") {
		t.Errorf("the link's box does not say it is shown once: %q", p)
	}

	// The worker sets their password with the link and signs in.
	keyboardSignOut(t, ctx, base, "admin.test")
	if err := chromedp.Do(ctx, chromedp.Navigate(link), chromedp.WaitVisible(chromedp.ID("confirm")),
		chromedp.SendKeys(chromedp.ID("password"), "mật khẩu của Mới 2026"),
		chromedp.SendKeys(chromedp.ID("confirm"), "mật khẩu của Mới 2026"),
	); err != nil {
		t.Fatalf("open the set-password link: %v", err)
	}
	browsertest.ClickAndWait(t, ctx, "main form button[type=submit]")
	// (This test server signs people in from a book of test passwords;
	// TestConsoleSetPasswordLink signs in with a link's password.)
	if loc, err := chromedp.Run(ctx, chromedp.Evaluate[string](`location.pathname + location.search`)); err != nil || loc != "/signin?set=1" {
		t.Fatalf("after setting the password the browser is at %q (%v), want /signin?set=1", loc, err)
	}

	// A token for the worker: its secret once, then revoked.
	browserSignIn(t, ctx, base, "admin.test", "pw-admin.test")
	if err := chromedp.Do(ctx, chromedp.Navigate(base+"/admin/users/bd.moi"), chromedp.WaitVisible(chromedp.ID("new-token"))); err != nil {
		t.Fatal(err)
	}
	browsertest.ClickAndWait(t, ctx, "#new-token")
	secret, err := chromedp.Run(ctx, chromedp.Value(chromedp.ID("secret")))
	if err != nil || secret == "" {
		t.Fatalf("the new token's secret %q (%v)", secret, err)
	}
	if err := chromedp.Do(ctx, chromedp.Reload(), chromedp.WaitVisible(chromedp.CSS("h1"))); err != nil {
		t.Fatal(err)
	}
	if body := text(t, ctx, "body"); strings.Contains(body, secret) {
		t.Fatal("a reload of the token's page shows its secret again")
	}
	if err := chromedp.Do(ctx, chromedp.Navigate(base+"/admin/users/bd.moi"), chromedp.WaitVisible(chromedp.ID("tokens"))); err != nil {
		t.Fatal(err)
	}
	revocable := `document.querySelectorAll('#tokens form[action$="/revoke"]').length`
	before, err := chromedp.Run(ctx, chromedp.Evaluate[int](revocable))
	if err != nil || before == 0 {
		t.Fatalf("%d tokens to revoke (%v)", before, err)
	}
	browsertest.ClickAndWait(t, ctx, `#tokens form[action$="/revoke"] button`)
	if err := chromedp.Do(ctx, chromedp.Navigate(base+"/admin/users/bd.moi"), chromedp.WaitVisible(chromedp.ID("tokens"))); err != nil {
		t.Fatal(err)
	}
	if n, err := chromedp.Run(ctx, chromedp.Evaluate[int](revocable)); err != nil || n != before-1 {
		t.Errorf("after revoking one of %d, %d tokens can still be revoked (%v)", before, n, err)
	}
	if s := text(t, ctx, "#tokens tbody"); !strings.Contains(s, "Đã thu hồi") {
		t.Errorf("the tokens table after revoking: %q, want the token revoked", s)
	}
}
