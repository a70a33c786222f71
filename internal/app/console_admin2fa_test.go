package app_test

import (
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	pb "github.com/childcase/childcase/api/childcase/v1"
	"github.com/childcase/childcase/internal/domain/identity"
)

// TestConsoleAdminNeedsASecondFactor: an admin may reset any user's
// password (the answer carries the link that sets it, and the second
// factor with it), make any user a token and take a backup, so a stolen
// admin password alone would be, in a few calls, a city officer's access
// to every case. The admin's password without the code is asked for the
// code and opens no page; the demo prints demo.admin among the users
// that need one, and the printed secret's code signs them in.
func TestConsoleAdminNeedsASecondFactor(t *testing.T) {
	d := startDemoConsole(t)
	needs := regexp.MustCompile(`(?m)^(.*) also need a TOTP code`).FindStringSubmatch(d.printed)
	if needs == nil || !strings.Contains(needs[1], "demo.admin") {
		t.Errorf("serve --demo does not say that demo.admin needs a TOTP code:\n%s", d.printed)
	}
	b := &browser{t: t, base: strings.TrimSuffix(d.url, "/"), c: newBrowserClient()}
	resp, page := b.signInForm("demo.admin", d.password, "")
	if resp.StatusCode != http.StatusOK || !strings.Contains(page, "cần mã xác thực") {
		t.Fatalf("demo.admin with the password alone: %s to %q, want the form asking for the code:\n%s", resp.Status, resp.Header.Get("Location"), page)
	}
	if resp, _ := b.get("/admin"); resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(resp.Header.Get("Location"), "/signin") {
		t.Fatalf("the admin page after the password alone: %s to %q, want sent to sign in", resp.Status, resp.Header.Get("Location"))
	}
	code, err := identity.TOTPCode(d.secret, d.clock.Now())
	if err != nil {
		t.Fatal(err)
	}
	if resp, _ := b.signInForm("demo.admin", d.password, code); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("demo.admin with the code: %s, want signed in", resp.Status)
	}
	if resp, page := b.get("/admin"); resp.StatusCode != http.StatusOK {
		t.Fatalf("the admin page with the code: %s\n%.300s", resp.Status, page)
	}
}

// TestConsoleAdminOffersNoTokenOfASecondFactorRole: the admin screen
// follows the API (TestAdminMakesNoTokenForASecondFactorRole): a user of
// a role that needs a second factor gets no "create a token" button but
// a line saying where their tokens are made, a new one is shown their
// password link and no token, and a form posted all the same is refused
// in the page's language; the admin's own page still offers a token.
func TestConsoleAdminOffersNoTokenOfASecondFactorRole(t *testing.T) {
	ts := startConsoleAt(t, testNow)
	ts.addUser(t, "city.test", pb.Role_ROLE_CITY_OFFICER, "units/01@2020-01-01")
	b := newBrowser(t, ts)
	b.signInTo("admin")

	_, page := b.get("/admin")
	resp, page := b.post("/admin/users", url.Values{"csrf": {csrfOf(t, page)}, "request_id": {"new-supervisor"}, "user_id": {"sup.moi"},
		"display_name": {"Trần Văn Minh"}, "role": {"HOTLINE_SUPERVISOR"}, "unit": {"orgs/hotline-111"}})
	if resp.StatusCode != http.StatusOK || tokenPattern.MatchString(page) || !strings.Contains(page, `id="no-token"`) || !strings.Contains(page, `id="link-box"`) {
		t.Errorf("a new supervisor: %s, a token shown %v; want their password link and the line on tokens\n%s", resp.Status, tokenPattern.MatchString(page), page)
	}
	for user, offered := range map[string]bool{"city.test": false, "sup.moi": false, "admin": true, operatorID: true} {
		_, page := b.get("/admin/users/" + user)
		if strings.Contains(page, `id="new-token"`) != offered || strings.Contains(page, `id="no-tokens"`) == offered {
			t.Errorf("%s's page offers a token: %v, want %v", user, strings.Contains(page, `id="new-token"`), offered)
		}
	}
	_, page = b.get("/admin/users/city.test")
	resp, page = b.post("/admin/users/city.test/tokens", url.Values{"csrf": {csrfOf(t, page)}, "request_id": {"forced"}})
	if resp.StatusCode != http.StatusBadRequest || tokenPattern.MatchString(page) || !strings.Contains(page, "quản trị viên không tạo mã truy cập") {
		t.Errorf("a token of the city officer posted all the same: %s, a token shown %v; want 400 saying why\n%s", resp.Status, tokenPattern.MatchString(page), page)
	}
}
