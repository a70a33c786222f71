package app_test

import (
	"strings"
	"sync"
	"testing"
	"time"

	cdplog "github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
)

// TestBrowserStoredTextRunsNoScript: in a real browser, the pages of a
// case whose every free text is a script payload open no dialog and
// break no rule of the Content-Security-Policy (a refused inline script
// or handler would be logged as a violation), and show the payloads as
// text.
func TestBrowserStoredTextRunsNoScript(t *testing.T) {
	ts, number, report := xssCase(t)
	base := "http://" + ts.HTTPAddr()
	for _, c := range []struct {
		user  string
		pages []string
	}{
		{"bd.evil", []string{"/queues?tab=all", "/cases/" + number, "/cases/" + number + "?timeline=all"}},
		{operatorID, []string{"/" + report, "/cases/" + number}},
		{"police.bd", []string{"/cases/" + number}},
	} {
		ctx := newTab(t)
		var mu sync.Mutex
		var alarms []string
		if err := chromedp.Listen(ctx, func(ev any) {
			mu.Lock()
			defer mu.Unlock()
			switch e := ev.(type) {
			case *page.EventJavascriptDialogOpening:
				alarms = append(alarms, "dialog: "+e.Message)
			case *cdplog.EventEntryAdded:
				if strings.Contains(e.Entry.Text, "Content Security Policy") {
					alarms = append(alarms, "CSP: "+e.Entry.Text)
				}
			}
		}); err != nil {
			t.Fatal(err)
		}
		browserSignIn(t, ctx, base, c.user, "pw-"+c.user)
		shown := false
		for _, p := range c.pages {
			if err := chromedp.Do(ctx, chromedp.Navigate(base+p), chromedp.WaitVisible(chromedp.CSS("main"))); err != nil {
				t.Fatalf("%s opens %s: %v", c.user, p, err)
			}
			body, err := chromedp.Run(ctx, chromedp.Evaluate[string]("document.body.innerText"))
			if err != nil {
				t.Fatal(err)
			}
			shown = shown || strings.Contains(body, xssScript)
			if n, err := chromedp.Run(ctx, chromedp.Evaluate[int]("document.querySelectorAll('img[src=x], main script').length")); err != nil || n != 0 {
				t.Errorf("%s, %s: %d elements made of a payload (%v)", c.user, p, n, err)
			}
		}
		if !shown {
			t.Errorf("%s: no page showed the payload as text", c.user)
		}
		mu.Lock()
		if len(alarms) > 0 {
			t.Errorf("%s: %v", c.user, alarms)
		}
		alarms = nil
		mu.Unlock()
		// The watch hears a violation: one made on purpose.
		if _, err := chromedp.Run(ctx, chromedp.Evaluate[bool]("var s = document.createElement('script'); s.textContent = 'alert(1)'; document.body.appendChild(s); true")); err != nil {
			t.Fatal(err)
		}
		for heard := false; !heard; {
			mu.Lock()
			heard = len(alarms) > 0
			mu.Unlock()
			select {
			case <-ctx.Done():
				t.Fatalf("%s: an inline script made on purpose went unheard; the test cannot see a violation", c.user)
			case <-time.After(20 * time.Millisecond):
			}
		}
	}
}
