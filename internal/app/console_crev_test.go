package app_test

import (
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	pb "github.com/childcase/childcase/api/childcase/v1"
	"github.com/childcase/childcase/internal/domain/identity"
)

var passwordMaxLength = regexp.MustCompile(`<input id="password"[^>]*maxlength="(\d+)"`)

// TestConsoleLongPasswordSignsIn: every password the password page sets
// (up to identity.MaxPasswordBytes, a Vietnamese passphrase of a few
// hundred bytes included) signs in through the console's form, which lets
// it be typed whole.
func TestConsoleLongPasswordSignsIn(t *testing.T) {
	ts := startServer(t, "")
	passphrase := strings.Repeat("Đường về nhà bà ngoại ", 12)               // 384 bytes
	longest := strings.Repeat("x", identity.MaxPasswordBytes-len("ễ")) + "ễ" // exactly the bound
	for i, pw := range []string{passphrase, longest} {
		id := []string{"lan.nguyen", "mai.tran"}[i]
		b := withPassword(t, ts, id, pw)
		_, signin := b.get("/signin")
		m := passwordMaxLength.FindStringSubmatch(signin)
		if m == nil {
			t.Fatalf("the sign-in page has no password field with a maxlength:\n%s", signin)
		}
		if n := len([]rune(pw)); m[1] != "1024" || n > 1024 {
			t.Errorf("the sign-in form's password field takes %s characters; the %d-character password needs %d", m[1], n, n)
		}
		if r, page := b.signInForm(id, pw, ""); r.StatusCode != http.StatusSeeOther {
			t.Errorf("sign in with a %d-byte password: %s, want signed in\n%s", len(pw), r.Status, page)
		}
	}
}

// withPassword creates a hotline operator who sets password pw through
// their one-time link, and returns the browser that set it (not signed
// in).
func withPassword(t *testing.T, ts *testServer, id, pw string) *browser {
	t.Helper()
	resp, err := ts.admin().CreateUser(ts.as(t, "admin"), &pb.CreateUserRequest{
		UserId: id, User: &pb.User{DisplayName: id, Role: pb.Role_ROLE_HOTLINE_OPERATOR, Unit: "orgs/hotline-111"},
	})
	if err != nil {
		t.Fatal(err)
	}
	link := "/password/" + resp.GetPasswordLinkSecret()
	b := newBrowser(t, ts)
	_, page := b.get(link)
	if r, page := b.post(link, url.Values{"csrf": {csrfOf(t, page)}, "password": {pw}, "confirm": {pw}}); r.StatusCode != http.StatusSeeOther {
		t.Fatalf("set %s's %d-byte password: %s\n%s", id, len(pw), r.Status, page)
	}
	return b
}

// TestConsoleResetOrDisableEndsSessions: an admin's password reset or
// disabling of a user ends that user's console sessions, as the README
// says: their next page sends them to sign in; another user's session
// goes on.
func TestConsoleResetOrDisableEndsSessions(t *testing.T) {
	ts := startServer(t, "")
	const pw = "một mật khẩu dài"
	browsers := map[string]*browser{}
	for _, id := range []string{"lan.nguyen", "mai.tran", "hoa.le"} {
		b := withPassword(t, ts, id, pw)
		if r, _ := b.signInForm(id, pw, ""); r.StatusCode != http.StatusSeeOther {
			t.Fatalf("sign in as %s: %s", id, r.Status)
		}
		browsers[id] = b
	}
	if _, err := ts.admin().ResetPassword(ts.as(t, "admin"), &pb.ResetPasswordRequest{Name: "users/lan.nguyen"}); err != nil {
		t.Fatal(err)
	}
	if _, err := ts.admin().DisableUser(ts.as(t, "admin"), &pb.DisableUserRequest{Name: "users/mai.tran"}); err != nil {
		t.Fatal(err)
	}
	for id, want := range map[string]int{"lan.nguyen": http.StatusSeeOther, "mai.tran": http.StatusSeeOther, "hoa.le": http.StatusOK} {
		resp, _ := browsers[id].get("/queues")
		if resp.StatusCode != want || want == http.StatusSeeOther && !strings.HasPrefix(resp.Header.Get("Location"), "/signin") {
			t.Errorf("%s's queues after the admin's changes: %s to %q, want %d", id, resp.Status, resp.Header.Get("Location"), want)
		}
	}
}

// TestConsoleSessionEndsAfterTwelveHours: a session used every few
// minutes still ends identity.SessionTTL after its sign-in, on every page,
// those that call no API method too (the intake form and its "add a
// child" button), and a page then sends the person to sign in again.
func TestConsoleSessionEndsAfterTwelveHours(t *testing.T) {
	d := startDemoConsole(t)
	b := &browser{t: t, base: strings.TrimSuffix(d.url, "/"), c: newBrowserClient()}
	if resp, _ := b.signInForm("badinh.worker", d.password, ""); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("sign in: %s", resp.Status)
	}
	signedIn := d.clock.Now()
	_, form := b.get("/reports/new")
	csrf := csrfOf(t, form)
	for d.clock.Now().Add(20 * time.Minute).Before(signedIn.Add(identity.SessionTTL)) {
		d.clock.Advance(20 * time.Minute)
		if resp, _ := b.get("/queues"); resp.StatusCode != http.StatusOK {
			t.Fatalf("%v after sign-in, in use: %s, want the queues", d.clock.Now().Sub(signedIn), resp.Status)
		}
	}
	d.clock.Advance(identity.SessionTTL - d.clock.Now().Sub(signedIn))
	for _, page := range []struct{ method, path string }{{"GET", "/reports/receipt"}, {"GET", "/reports/new"}, {"POST", "/reports/new"}, {"GET", "/queues"}} {
		var resp *http.Response
		if page.method == "POST" {
			resp, _ = b.post(page.path, url.Values{"csrf": {csrf}, "do": {"add-child"}})
		} else {
			resp, _ = b.get(page.path)
		}
		if resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(resp.Header.Get("Location"), "/signin") {
			t.Errorf("%s %s %v after sign-in: %s to %q, want sent to sign in", page.method, page.path, identity.SessionTTL, resp.Status, resp.Header.Get("Location"))
		}
	}
}
