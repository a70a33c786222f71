package app_test

import (
	"slices"
	"strings"
	"testing"
)

// TestConsoleCSPKeepsTheREADMEsPromise reads the Content-Security-Policy
// the console really sends and holds it to what the README promises, not
// to the constant the handler sets (TestConsoleSecurityHeadersOnEveryAnswer
// compares the two, so a loosened constant would pass it): scripts and
// styles from the server only, images also as data: URLs, nothing else
// loaded by default, no inline script or style (no 'unsafe-inline', no
// nonce or hash that would let one run, no 'unsafe-eval'), no other
// origin, forms posted to the console only, and no framing.
func TestConsoleCSPKeepsTheREADMEsPromise(t *testing.T) {
	ts, _ := startConsole(t)
	anon := newBrowser(t, ts)
	b := newBrowser(t, ts)
	b.signIn(operatorID)
	pages := map[string]string{}
	for _, p := range []string{"/signin", "/static/console.css", "/nope"} {
		resp, _ := anon.get(p)
		pages["anonymous GET "+p] = resp.Header.Get("Content-Security-Policy")
	}
	for _, p := range []string{"/queues", "/reports/new", "/cases/HN-0000-00000"} {
		resp, _ := b.get(p)
		pages["GET "+p] = resp.Header.Get("Content-Security-Policy")
	}
	want := map[string][]string{
		"default-src":     {"'none'"},
		"script-src":      {"'self'"},
		"style-src":       {"'self'"},
		"img-src":         {"'self'", "data:"},
		"connect-src":     {"'self'"}, // the live queue's event stream
		"form-action":     {"'self'"},
		"frame-ancestors": {"'none'"},
		"base-uri":        {"'none'"},
	}
	for what, csp := range pages {
		got := map[string][]string{}
		for _, d := range strings.Split(csp, ";") {
			f := strings.Fields(d)
			if len(f) == 0 {
				continue
			}
			if _, twice := got[f[0]]; twice {
				t.Errorf("%s: directive %s given twice in %q", what, f[0], csp)
			}
			got[f[0]] = f[1:]
		}
		for name, sources := range got {
			w, known := want[name]
			switch {
			case !known:
				t.Errorf("%s: directive %s %v, which the README does not promise", what, name, sources)
			case !slices.Equal(sources, w):
				t.Errorf("%s: %s %v, want %v", what, name, sources, w)
			}
		}
		for name, w := range want {
			if _, ok := got[name]; !ok {
				t.Errorf("%s: no %s (want %v) in %q", what, name, w, csp)
			}
		}
		for _, loose := range []string{"unsafe-", "nonce-", "sha256-", "sha384-", "sha512-", "*", "http:", "https:", "strict-dynamic"} {
			if strings.Contains(csp, loose) {
				t.Errorf("%s: %q allows %q", what, csp, loose)
			}
		}
	}
}
