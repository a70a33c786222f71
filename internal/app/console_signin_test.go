package app_test

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	pb "github.com/childcase/childcase/api/childcase/v1"
	"github.com/childcase/childcase/internal/app"
	"github.com/childcase/childcase/internal/domain/clock"
	"github.com/childcase/childcase/internal/domain/identity"
)

// demoConsole is a demo server whose console signs people in with their
// passwords, as `serve --demo` runs: what it printed, parsed.
type demoConsole struct {
	*app.Server
	clock    *clock.Fake
	url      string // the console's URL as printed
	password string // every demo user's
	secret   string // the TOTP secret of the roles that need one
	printed  string
}

var (
	demoPasswordLine = regexp.MustCompile(`has the password (\S+) \(`)
	demoSecretLine   = regexp.MustCompile(`add the secret (\S+) to an authenticator app`)
	demoURLLine      = regexp.MustCompile(`Open the console at (\S+) and sign in`)
)

func startDemoConsole(t *testing.T) *demoConsole {
	t.Helper()
	return startDemoConsoleWith(t, nil)
}

// startDemoConsoleWith is startDemoConsole with configure applied to the
// configuration first.
func startDemoConsoleWith(t *testing.T, configure func(*app.Config)) *demoConsole {
	t.Helper()
	cfg := testConfig(t, "")
	cfg.Demo = true
	if configure != nil {
		configure(&cfg)
	}
	var out bytes.Buffer
	clk := clock.NewFake(testNow)
	srv, err := app.Start(context.Background(), cfg, app.Options{Clock: clk, Console: &out, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Stop() })
	d := &demoConsole{Server: srv, clock: clk, printed: out.String()}
	for _, f := range []struct {
		re  *regexp.Regexp
		dst *string
	}{{demoPasswordLine, &d.password}, {demoSecretLine, &d.secret}, {demoURLLine, &d.url}} {
		m := f.re.FindStringSubmatch(d.printed)
		if m == nil {
			t.Fatalf("serve --demo printed no line matching %v:\n%s", f.re, d.printed)
		}
		*f.dst = m[1]
	}
	return d
}

// signInForm posts the sign-in form as a person would, with the code when
// given, and returns the answer.
func (b *browser) signInForm(user, password, code string) (*http.Response, string) {
	b.t.Helper()
	_, page := b.get("/signin")
	return b.post("/signin", url.Values{"csrf": {csrfOf(b.t, page)}, "user": {user}, "password": {password}, "code": {code}})
}

// TestConsoleDemoSignIn: the newcomer's path. serve --demo prints the
// console's URL and a password; a demo user signs in with it; a role that
// needs a second factor is asked for the code and gets in with it.
func TestConsoleDemoSignIn(t *testing.T) {
	d := startDemoConsole(t)
	if want := "http://127.0.0.1:" + d.HTTPAddr()[strings.LastIndex(d.HTTPAddr(), ":")+1:] + "/"; d.url != want {
		t.Errorf("printed console URL %q, want %q", d.url, want)
	}
	b := &browser{t: t, base: strings.TrimSuffix(d.url, "/"), c: newBrowserClient()}
	resp, _ := b.signInForm("badinh.worker", d.password, "")
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/queues" {
		t.Fatalf("badinh.worker with the demo password: %s to %q", resp.Status, resp.Header.Get("Location"))
	}
	if resp, page := b.get("/queues"); resp.StatusCode != http.StatusOK || !strings.Contains(page, "HN-") {
		t.Fatalf("badinh.worker's queues: %s, no case listed:\n%s", resp.Status, page)
	}

	city := &browser{t: t, base: b.base, c: newBrowserClient()}
	resp, page := city.signInForm("city.officer", d.password, "")
	if resp.StatusCode != http.StatusOK || !strings.Contains(page, "cần mã xác thực") {
		t.Fatalf("city.officer without a code: %s, want the form asking for the code:\n%s", resp.Status, page)
	}
	code, err := identity.TOTPCode(d.secret, d.clock.Now())
	if err != nil {
		t.Fatal(err)
	}
	if resp, _ := city.signInForm("city.officer", d.password, code); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("city.officer with the code: %s, want signed in", resp.Status)
	}
}

// TestConsoleLockOut: five wrong passwords lock the account; the right one
// is then refused with the same page, until the lock ends.
func TestConsoleLockOut(t *testing.T) {
	d := startDemoConsole(t)
	b := &browser{t: t, base: strings.TrimSuffix(d.url, "/"), c: newBrowserClient()}
	var refused string
	for range identity.MaxSignInFailures {
		resp, page := b.signInForm("badinh.chair", "not the password", "")
		if resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("wrong password: %s", resp.Status)
		}
		refused = page
	}
	resp, page := b.signInForm("badinh.chair", d.password, "")
	if resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("the right password on a locked account: %s, want refused", resp.Status)
	}
	if stripCSRF(page) != stripCSRF(refused) {
		t.Error("a locked account's refusal differs from a wrong password's")
	}
	d.clock.Advance(identity.LockOutDuration)
	if resp, _ := b.signInForm("badinh.chair", d.password, ""); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("after the lock: %s, want signed in", resp.Status)
	}
}

func stripCSRF(page string) string { return csrfField.ReplaceAllString(page, "") }

// TestConsoleSetPasswordLink: a new user's one-time link sets their
// password, once; they then sign in with it.
func TestConsoleSetPasswordLink(t *testing.T) {
	ts := startServer(t, "")
	resp, err := ts.admin().CreateUser(ts.as(t, "admin"), &pb.CreateUserRequest{
		UserId: "lan.nguyen", User: &pb.User{DisplayName: "Nguyễn Thị Lan", Role: pb.Role_ROLE_HOTLINE_OPERATOR, Unit: "orgs/hotline-111"},
	})
	if err != nil {
		t.Fatal(err)
	}
	link := "/password/" + resp.GetPasswordLinkSecret()
	b := newBrowser(t, ts)
	r, page := b.get(link)
	if r.StatusCode != http.StatusOK || !strings.Contains(page, "Nguyễn Thị Lan") {
		t.Fatalf("GET the link: %s\n%s", r.Status, page)
	}
	short := url.Values{"csrf": {csrfOf(t, page)}, "password": {"short"}, "confirm": {"short"}}
	if r, page := b.post(link, short); r.StatusCode != http.StatusBadRequest || !strings.Contains(page, "ít nhất 12 ký tự") {
		t.Fatalf("a short password: %s, want the rule named:\n%s", r.Status, page)
	}
	// A link to the sign-in page cannot make it say that a password was
	// set: only this browser's own setting of it can.
	const setSaid = "Đã đặt mật khẩu"
	if _, page := newBrowser(t, ts).get("/signin?set=1"); strings.Contains(page, setSaid) {
		t.Errorf("the sign-in page opened by a link says %q", setSaid)
	}
	good := url.Values{"csrf": {csrfOf(t, page)}, "password": {"một mật khẩu dài"}, "confirm": {"một mật khẩu dài"}}
	if r, _ := b.post(link, good); r.StatusCode != http.StatusSeeOther || r.Header.Get("Location") != "/signin?set=1" {
		t.Fatalf("set the password: %s to %q", r.Status, r.Header.Get("Location"))
	}
	if _, page := b.get("/signin?set=1"); !strings.Contains(page, setSaid) {
		t.Errorf("the sign-in page after setting the password does not say %q", setSaid)
	}
	if _, page := b.get("/signin?set=1"); strings.Contains(page, setSaid) {
		t.Errorf("the sign-in page says %q again on a reload", setSaid)
	}
	if r, _ := b.get(link); r.StatusCode != http.StatusNotFound {
		t.Errorf("the used link: %s, want 404", r.Status)
	}
	if r, _ := b.signInForm("lan.nguyen", "một mật khẩu dài", ""); r.StatusCode != http.StatusSeeOther {
		t.Errorf("sign in with the new password: %s", r.Status)
	}
}
