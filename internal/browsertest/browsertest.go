// Package browsertest drives the console in a real headless Chromium
// (Debian's chromium package; .ci/run installs it) for the end-to-end
// tests of internal/app and internal/cli. Without a browser the tests
// skip on a developer's machine and fail in CI.
package browsertest

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/page"
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

// NewTab starts a headless browser at a 1366x768 laptop's size (width and
// height may be given to try a phone's) and returns a tab's context. When
// the test fails, the tab's last screen is saved and its path logged.
func NewTab(t *testing.T, size ...int) context.Context {
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
			saveFailure(t, ctx)
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

// SaveScreenshot saves the tab's screen as name.png into the directory
// CHILDCASE_SCREENSHOTS names, when it is set: the README's screenshots
// are taken this way. Otherwise it does nothing.
func SaveScreenshot(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	if dir := os.Getenv("CHILDCASE_SCREENSHOTS"); dir != "" {
		_ = saveTo(t, ctx, filepath.Join(dir, name+".png"))
	}
}

// saveFailure saves the screen of a failed test into a directory of its
// own that outlives the test, logs the file's path and returns it ("" if
// it could not).
func saveFailure(t *testing.T, ctx context.Context) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "childcase-screens-")
	if err != nil {
		t.Logf("screenshot: %v", err)
		return ""
	}
	file := filepath.Join(dir, unsafeName.ReplaceAllString(strings.TrimPrefix(t.Name(), "Test"), "-")+".png")
	if saveTo(t, ctx, file) != nil {
		return ""
	}
	return file
}

func saveTo(t *testing.T, ctx context.Context, file string) error {
	t.Helper()
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	png, err := chromedp.Run(sctx, chromedp.FullScreenshot(100))
	if err == nil {
		err = os.WriteFile(file, png, 0o644)
	}
	if err != nil {
		t.Logf("screenshot %s: %v", file, err)
		return err
	}
	t.Logf("screenshot: %s", file)
	return nil
}

// SignIn signs a tab in to the console through its sign-in form.
func SignIn(t *testing.T, ctx context.Context, base, user, password string) {
	t.Helper()
	err := chromedp.Do(ctx,
		chromedp.Navigate(base+"/signin"),
		chromedp.WaitVisible(chromedp.ID("user")),
		chromedp.SendKeys(chromedp.ID("user"), user),
		chromedp.SendKeys(chromedp.ID("password"), password),
	)
	if err != nil {
		t.Fatalf("sign in as %s: %v", user, err)
	}
	SubmitAndWait(t, ctx, "#password")
	if err := chromedp.Do(ctx, chromedp.WaitNotPresent(chromedp.ID("password"))); err != nil {
		t.Fatalf("sign in as %s: %v", user, err)
	}
}

// Text returns the text of the first element a CSS selector matches.
func Text(t *testing.T, ctx context.Context, css string) string {
	t.Helper()
	s, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(css)))
	if err != nil {
		t.Fatalf("text of %s: %v", css, err)
	}
	return strings.TrimSpace(s)
}

// ClickAndWait clicks an element that leaves the page (a link, a form's
// button) and waits until the next page has loaded: a wait for an element
// alone could find it still on the page being left.
func ClickAndWait(t *testing.T, ctx context.Context, css string) {
	t.Helper()
	leaveBy(t, ctx, "click "+css, chromedp.Click(chromedp.CSS(css)))
}

// SubmitAndWait submits the form of an element, as pressing Enter in it
// does, and waits until the page it answers with has loaded. Waiting for
// an element of that page instead may look into the page being left as
// it is replaced, which chromedp reports as "No node with given id
// found". The form is sent with requestSubmit, not chromedp.Submit's
// form.submit(): that one skips the submit event a person's send fires,
// so the page's script would take it for leaving the page with its text
// unsent.
func SubmitAndWait(t *testing.T, ctx context.Context, css string) {
	t.Helper()
	js := fmt.Sprintf(`(() => { const el = document.querySelector(%s); (el.form || el).requestSubmit(); return true })()`, strconv.Quote(css))
	leaveBy(t, ctx, "submit "+css, chromedp.Func(func(ctx context.Context, tab *chromedp.Target) error {
		_, err := chromedp.Evaluate[bool](js)(ctx, tab)
		return err
	}))
}

// leaveBy marks the page, does what leaves it and waits until the next
// page has loaded.
func leaveBy(t *testing.T, ctx context.Context, what string, action chromedp.Action[chromedp.Void]) {
	t.Helper()
	if _, err := chromedp.Run(ctx, chromedp.Evaluate[bool]("window.__leaving = true")); err != nil {
		t.Fatalf("mark the page before %s: %v", what, err)
	}
	if err := chromedp.Do(ctx, action); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	for {
		left, err := chromedp.Run(ctx, chromedp.Evaluate[bool]("window.__leaving !== true && document.readyState === 'complete'"))
		if err == nil && left {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("the page did not change after %s: %v", what, ctx.Err())
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// Console is what the pages of a tab write to the browser's console,
// collected from when WatchConsole was called: a page's breach of the
// Content-Security-Policy is reported there (source "security"), as is a
// script's uncaught exception.
type Console struct {
	mu       sync.Mutex
	messages []chromedp.ConsoleMessage
}

// WatchConsole starts collecting the tab's console messages; call it
// before the first page.
func WatchConsole(ctx context.Context) *Console {
	c := &Console{}
	go func() {
		for m, err := range chromedp.Console(ctx) {
			if err != nil {
				return
			}
			c.mu.Lock()
			c.messages = append(c.messages, m)
			c.mu.Unlock()
		}
	}()
	return c
}

// WantQuiet fails the test for every CSP report or exception the pages
// wrote so far. It first adds a canary to the page, an inline script the
// policy refuses: its report shows the check can fail, and, as messages
// come in order, that every report of the pages before it has come in.
func (c *Console) WantQuiet(t *testing.T, ctx context.Context) {
	t.Helper()
	if _, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`(() => {
		const s = document.createElement("script"); s.textContent = "window.canary = 1"; document.body.append(s); return true })()`)); err != nil {
		t.Fatal(err)
	}
	isCSP := func(m chromedp.ConsoleMessage) bool {
		return m.Source == "security" || strings.Contains(m.Text, "Content Security Policy")
	}
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		c.mu.Lock()
		got := append([]chromedp.ConsoleMessage(nil), c.messages...)
		c.mu.Unlock()
		if n := len(got); n > 0 && isCSP(got[n-1]) {
			for _, m := range got[:n-1] {
				if isCSP(m) || m.IsException() {
					t.Errorf("a page wrote to the browser's console: %s", m)
				}
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the canary's inline script was not reported as a CSP violation; messages: %v", got)
		}
	}
}

// ShiftClock moves the page's clock (Date.now) forward by d, as a test
// moves the server's injected clock: what the console's script does at
// most once a minute then happens without the test waiting a minute. It
// holds until the tab leaves the page.
func ShiftClock(t *testing.T, ctx context.Context, d time.Duration) {
	t.Helper()
	js := fmt.Sprintf(`(() => {
		if (!window.__realNow) { window.__realNow = Date.now; window.__shift = 0; Date.now = () => window.__realNow() + window.__shift; }
		window.__shift += %d; return true })()`, d.Milliseconds())
	if _, err := chromedp.Run(ctx, chromedp.Evaluate[bool](js)); err != nil {
		t.Fatalf("shift the page's clock by %v: %v", d, err)
	}
}

// Dialogs are the dialogs the pages of a tab opened (an alert, a confirm,
// the browser asking before it leaves a page whose script objects:
// "beforeunload"), collected from when WatchDialogs was called. Each is
// answered at once: left when Leave was set, dismissed (the person stays
// on the page) otherwise.
type Dialogs struct {
	mu    sync.Mutex
	types []page.DialogType
	leave bool
}

// WatchDialogs starts collecting and answering the tab's dialogs; call it
// before what would open one. A dialog nobody answers holds the page, and
// the test with it, until the tab's time runs out.
func WatchDialogs(t *testing.T, ctx context.Context) *Dialogs {
	t.Helper()
	d := &Dialogs{}
	err := chromedp.Listen(ctx, func(ev any) {
		e, ok := ev.(*page.EventJavascriptDialogOpening)
		if !ok {
			return
		}
		d.mu.Lock()
		d.types = append(d.types, e.Type)
		accept := d.leave
		d.mu.Unlock()
		// Not here: Listen's func must not call the browser.
		go func() {
			if _, err := chromedp.Call(ctx, page.HandleJavaScriptDialog, page.HandleJavaScriptDialogParams{Accept: accept}); err != nil && ctx.Err() == nil {
				t.Errorf("answer the %s dialog: %v", e.Type, err)
			}
		}()
	})
	if err != nil {
		t.Fatalf("watch the tab's dialogs: %v", err)
	}
	return d
}

// Leave sets how the dialogs that follow are answered: true accepts them
// (the person leaves the page), false dismisses them.
func (d *Dialogs) Leave(leave bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.leave = leave
}

// Seen are the types of the dialogs opened so far, in order.
func (d *Dialogs) Seen() []page.DialogType {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]page.DialogType(nil), d.types...)
}

// WaitDialog waits until the tab has opened n dialogs in all, and returns
// the type of the n-th.
func (d *Dialogs) WaitDialog(t *testing.T, ctx context.Context, n int) page.DialogType {
	t.Helper()
	for {
		if seen := d.Seen(); len(seen) >= n {
			return seen[n-1]
		}
		select {
		case <-ctx.Done():
			t.Fatalf("no dialog %d opened: %v", n, ctx.Err())
		case <-time.After(20 * time.Millisecond):
		}
	}
}
