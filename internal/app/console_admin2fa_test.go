package app_test

import (
	"net/http"
	"regexp"
	"strings"
	"testing"

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
