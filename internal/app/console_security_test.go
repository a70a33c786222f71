package app_test

import (
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// browserTarget is where a browser goes with a Location header: it drops
// tabs and newlines from a URL and reads a backslash as a slash (the
// WHATWG URL parser), then resolves it against the page's address.
func browserTarget(t *testing.T, base, location string) *url.URL {
	t.Helper()
	loc := strings.NewReplacer("\t", "", "\n", "", "\r", "", "\\", "/").Replace(location)
	b, err := url.Parse(base + "/")
	if err != nil {
		t.Fatal(err)
	}
	u, err := url.Parse(loc)
	if err != nil {
		t.Fatalf("Location %q does not parse: %v", location, err)
	}
	return b.ResolveReference(u)
}

// raw sends a request with the browser's cookies and answers the
// response as is: unlike http.Client, it does not refuse a Location that
// Go cannot parse but a browser follows.
func (b *browser) raw(method, path string, form url.Values) *http.Response {
	b.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, b.base+path, body)
	if err != nil {
		b.t.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Origin", b.base)
	}
	for _, ck := range b.c.Jar.Cookies(req.URL) {
		req.AddCookie(ck)
	}
	resp, err := http.DefaultTransport.RoundTrip(req)
	if err != nil {
		b.t.Fatalf("%s %s: %v", method, path, err)
	}
	readBody(b.t, resp)
	return resp
}

// TestConsoleSecurityRedirectsStayLocal: the language switch's way back
// and the sign-in's next page lead only to this site, whatever a link
// puts in them.
func TestConsoleSecurityRedirectsStayLocal(t *testing.T) {
	ts, _ := startConsole(t)
	b := newBrowser(t, ts)
	host := ts.HTTPAddr()
	attacks := []string{
		"//evil.example/", "/\\evil.example/", "\\\\evil.example", "/%2F%2Fevil.example", "https:evil.example",
		"https://evil.example", "javascript:alert(1)", "/\t/evil.example/", "/\n/evil.example/", "/\r\n/evil.example",
		"\t//evil.example", "/\t\\evil.example", " //evil.example", "/%09/evil.example",
	}
	for _, a := range attacks {
		r := b.raw(http.MethodGet, "/lang/en?back="+url.QueryEscape(a), nil)
		if got := browserTarget(t, b.base, r.Header.Get("Location")); got.Host != host || got.Scheme != "http" {
			t.Errorf("language switch back=%q: Location %q leads to %s", a, r.Header.Get("Location"), got)
		}
		_, page := b.get("/signin")
		r = b.raw(http.MethodPost, "/signin", url.Values{"csrf": {csrfOf(t, page)}, "user": {operatorID}, "password": {"pw-" + operatorID}, "next": {a}})
		if r.StatusCode != http.StatusSeeOther {
			t.Fatalf("sign in with next=%q: %s", a, r.Status)
		}
		if got := browserTarget(t, b.base, r.Header.Get("Location")); got.Host != host || got.Scheme != "http" {
			t.Errorf("sign-in next=%q: Location %q leads to %s", a, r.Header.Get("Location"), got)
		}
	}
}
