package app_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// The console's browser tests drive a real headless Chromium (Debian's
// chromium package; .ci/run installs it). Without one they skip on a
// developer's machine and fail in CI.

// chromiumPath finds a Chromium or Chrome binary.
func chromiumPath() string {
	if p := os.Getenv("CHILDCASE_CHROMIUM"); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	return ""
}

// newTab starts a headless browser at a 1366x768 laptop's size (width and
// height may be given to try a phone's) and returns a tab's context. When
// the test fails, the tab's last screen is saved and its path logged.
func newTab(t *testing.T, size ...int) context.Context {
	t.Helper()
	bin := chromiumPath()
	if bin == "" {
		if os.Getenv("CI") == "true" {
			t.Fatal("no chromium found, and CI=true: the browser tests must run (apt-get install -y chromium)")
		}
		t.Skip("no chromium found (apt-get install -y chromium, or set CHILDCASE_CHROMIUM)")
	}
	w, h := 1366, 768
	if len(size) == 2 {
		w, h = size[0], size[1]
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(bin),
		chromedp.WindowSize(w, h),
		chromedp.NoSandbox, // CI runs as root in a container
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("lang", "vi-VN"),
	)
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelTab := chromedp.NewContext(actx)
	ctx, cancelTime := context.WithTimeout(ctx, 90*time.Second)
	t.Cleanup(func() {
		if t.Failed() {
			saveScreenshot(t, ctx, "failed")
		}
		cancelTime()
		cancelTab()
		cancelAlloc()
	})
	if err := chromedp.Do(ctx); err != nil { // start the browser now
		t.Fatalf("start chromium: %v", err)
	}
	return ctx
}

var unsafeName = regexp.MustCompile(`[^A-Za-z0-9_-]+`)

// saveScreenshot saves the tab's screen: into CHILDCASE_SCREENSHOTS when
// set (the README's screenshots are taken this way), else, for a failed
// test, into a directory that outlives the test.
func saveScreenshot(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	dir := os.Getenv("CHILDCASE_SCREENSHOTS")
	if dir == "" {
		if !t.Failed() {
			return
		}
		var err error
		if dir, err = os.MkdirTemp("", "childcase-screens-"); err != nil {
			t.Logf("screenshot: %v", err)
			return
		}
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	png, err := chromedp.Run(sctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Logf("screenshot %s: %v", name, err)
		return
	}
	file := filepath.Join(dir, unsafeName.ReplaceAllString(strings.TrimPrefix(t.Name(), "Test"), "-")+"-"+name+".png")
	if os.Getenv("CHILDCASE_SCREENSHOTS") != "" {
		file = filepath.Join(dir, name+".png")
	}
	if err := os.WriteFile(file, png, 0o644); err != nil {
		t.Logf("screenshot %s: %v", name, err)
		return
	}
	t.Logf("screenshot: %s", file)
}

// browserSignIn signs a tab in to the console through its sign-in form.
func browserSignIn(t *testing.T, ctx context.Context, base, user, password string) {
	t.Helper()
	err := chromedp.Do(ctx,
		chromedp.Navigate(base+"/signin"),
		chromedp.WaitVisible(chromedp.ID("user")),
		chromedp.SendKeys(chromedp.ID("user"), user),
		chromedp.SendKeys(chromedp.ID("password"), password),
		chromedp.Submit(chromedp.ID("password")),
		chromedp.WaitNotPresent(chromedp.ID("password")),
	)
	if err != nil {
		t.Fatalf("sign in as %s: %v", user, err)
	}
}

// TestBrowserConsoleSignInAndLanguage: in a real browser, the console
// opens in Vietnamese, signs a person in, shows their queue with live
// countdowns, switches to English with one click and back, and runs no
// inline script (the CSP would refuse it; a refusal shows on the console).
func TestBrowserConsoleSignInAndLanguage(t *testing.T) {
	ts, _ := startConsole(t)
	ctx := newTab(t)
	base := "http://" + ts.HTTPAddr()

	if err := chromedp.Do(ctx, chromedp.Navigate(base+"/")); err != nil {
		t.Fatal(err)
	}
	title, err := chromedp.Run(ctx, chromedp.Title())
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(title, "Đăng nhập") {
		t.Fatalf("the start page's title is %q, want the Vietnamese sign-in page", title)
	}
	browserSignIn(t, ctx, base, operatorID, "pw-"+operatorID)
	h1 := text(t, ctx, "h1")
	lang, err := chromedp.Run(ctx, chromedp.AttributeValue(chromedp.CSS("html"), "lang"))
	if err != nil {
		t.Fatal(err)
	}
	if h1 != "Hàng việc của tôi" || lang.Value != "vi" {
		t.Fatalf("after sign-in: h1 %q, lang %q; want the queues page in Vietnamese", h1, lang.Value)
	}
	if err := chromedp.Do(ctx,
		chromedp.Click(chromedp.CSS("a.lang")),
		chromedp.WaitVisible(chromedp.CSS(`html[lang="en"]`)),
	); err != nil {
		t.Fatal(err)
	}
	if h1 := text(t, ctx, "h1"); h1 != "My queues" {
		t.Fatalf("after the switch: h1 %q, want My queues", h1)
	}
	if err := chromedp.Do(ctx,
		chromedp.Click(chromedp.CSS("a.lang")),
		chromedp.WaitVisible(chromedp.CSS(`html[lang="vi"]`)),
	); err != nil {
		t.Fatalf("switch back to Vietnamese: %v", err)
	}
	saveScreenshot(t, ctx, "queues")
}

// text returns the text of the first element a CSS selector matches.
func text(t *testing.T, ctx context.Context, css string) string {
	t.Helper()
	s, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(css)))
	if err != nil {
		t.Fatalf("text of %s: %v", css, err)
	}
	return strings.TrimSpace(s)
}
