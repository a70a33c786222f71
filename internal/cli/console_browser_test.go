package cli

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/childcase/childcase/internal/browsertest"
	"github.com/childcase/childcase/internal/domain/identity"
)

// newcomer is `childcase serve --demo` run as its own process, the way a
// newcomer starts it, and what it printed for them.
type newcomer struct {
	url, password, secret string
}

var (
	printedURL      = regexp.MustCompile(`Open the console at (\S+) and sign in`)
	printedPassword = regexp.MustCompile(`has the password (\S+) \(`)
	printedSecret   = regexp.MustCompile(`add the secret (\S+) to an authenticator app`)
)

// startNewcomer runs this test binary as the childcase command (as the
// README test does) with serve --demo on free ports, and the extra flags
// given, and waits for the line that tells where the console is.
func startNewcomer(t *testing.T, extra ...string) newcomer {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	cmd := exec.Command(exe, "serve", "--demo", "--db", filepath.Join(dir, "childcase.db"), "--key-file", filepath.Join(dir, "childcase.key"),
		"--http-addr", "127.0.0.1:0", "--grpc-addr", "127.0.0.1:0")
	cmd.Args = append(cmd.Args, extra...)
	cmd.Env = append(os.Environ(), readmeMainEnv+"=1")
	out := &mgBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		_ = cmd.Wait()
	})
	deadline := time.Now().Add(30 * time.Second)
	for !printedURL.MatchString(out.String()) {
		if time.Now().After(deadline) {
			t.Fatalf("serve --demo printed no console URL in 30 s:\n%s", out)
		}
		time.Sleep(50 * time.Millisecond)
	}
	text := out.String()
	n := newcomer{url: printedURL.FindStringSubmatch(text)[1]}
	for _, f := range []struct {
		re  *regexp.Regexp
		dst *string
	}{{printedPassword, &n.password}, {printedSecret, &n.secret}} {
		m := f.re.FindStringSubmatch(text)
		if m == nil {
			t.Fatalf("serve --demo printed no line matching %v:\n%s", f.re, text)
		}
		*f.dst = m[1]
	}
	return n
}

// signInAs fills the sign-in form at the console's URL and waits for the
// next page.
func signInAs(t *testing.T, ctx context.Context, url, user, password, code string) {
	t.Helper()
	steps := []chromedp.Action[chromedp.Void]{
		chromedp.Navigate(url + "signin"),
		chromedp.WaitVisible(chromedp.ID("user")),
		chromedp.SendKeys(chromedp.ID("user"), user),
		chromedp.SendKeys(chromedp.ID("password"), password),
	}
	if code != "" {
		steps = append(steps, chromedp.SendKeys(chromedp.ID("code"), code))
	}
	if err := chromedp.Do(ctx, steps...); err != nil {
		t.Fatalf("sign in as %s: %v", user, err)
	}
	browsertest.ClickAndWait(t, ctx, `form[action="/signin"] button[type="submit"]`)
}

func signOut(t *testing.T, ctx context.Context) {
	t.Helper()
	browsertest.ClickAndWait(t, ctx, `form[action="/signout"] button`)
}

// TestBrowserNewcomerSignsIn is the "done when" on the real
// command: serve --demo, open the printed URL, sign in as a demo user
// with the printed password (and, for a role with a second factor, the
// code), then a wrong password and the lock-out, in real Chromium.
func TestBrowserNewcomerSignsIn(t *testing.T) {
	n := startNewcomer(t)
	ctx := browsertest.NewTab(t)

	if err := chromedp.Do(ctx, chromedp.Navigate(n.url), chromedp.WaitVisible(chromedp.ID("user"))); err != nil {
		t.Fatalf("open %s: %v", n.url, err)
	}
	browsertest.SaveScreenshot(t, ctx, "signin")

	signInAs(t, ctx, n.url, "badinh.worker", n.password, "")
	if h1 := browsertest.Text(t, ctx, "h1"); h1 != "Hàng việc của tôi" {
		t.Fatalf("badinh.worker after sign-in sees %q, want the queues", h1)
	}
	if rows := browsertest.Text(t, ctx, "main"); !strings.Contains(rows, "HN-") {
		t.Fatalf("badinh.worker's queue lists no demo case:\n%s", rows)
	}
	signOut(t, ctx)

	// city.officer's role needs a second factor: the password alone asks
	// for the code, and the code from the printed secret lets them in.
	signInAs(t, ctx, n.url, "city.officer", n.password, "")
	if msg := browsertest.Text(t, ctx, ".flash"); !strings.Contains(msg, "mã xác thực") {
		t.Fatalf("city.officer without a code sees %q, want to be asked for the code", msg)
	}
	code, err := identity.TOTPCode(n.secret, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	signInAs(t, ctx, n.url, "city.officer", n.password, code)
	if h1 := browsertest.Text(t, ctx, "h1"); h1 != "Hàng việc của tôi" {
		t.Fatalf("city.officer with the code sees %q, want the queues", h1)
	}
	signOut(t, ctx)

	// A wrong password is refused with one message for every cause; after
	// identity.MaxSignInFailures of them the account is locked, and the
	// right password is refused the same way.
	for range identity.MaxSignInFailures {
		signInAs(t, ctx, n.url, "hoankiem.worker", "not the password", "")
	}
	refusal := browsertest.Text(t, ctx, ".error")
	if !strings.Contains(refusal, "Đăng nhập không thành công") {
		t.Fatalf("a wrong password shows %q", refusal)
	}
	signInAs(t, ctx, n.url, "hoankiem.worker", n.password, "")
	if got := browsertest.Text(t, ctx, ".error"); got != refusal {
		t.Fatalf("the right password on a locked account shows %q, want the same refusal %q", got, refusal)
	}
	browsertest.SaveScreenshot(t, ctx, "signin-refused")
}
