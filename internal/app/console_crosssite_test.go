package app_test

import (
	"net/http"
	"testing"
)

// TestConsoleLinksOfAnotherSiteSetNoCookie: a request the browser says
// comes from another site's link (Sec-Fetch-Site: cross-site, and, as
// the console's cookies are SameSite=Strict, none of them) sets no cookie
// of the console: the language switch is refused, a page sends to sign
// in without clearing the session cookie the browser's other tabs hold,
// and the sign-in page is asked again from the console (Refresh) rather
// than made with a new pre-session token. Asked from the console, the
// sign-in page keeps the browser's token, so that a second sign-in page
// does not make the first one's form expire.
func TestConsoleLinksOfAnotherSiteSetNoCookie(t *testing.T) {
	ts, _ := startConsole(t)
	bare := newBrowserClient()
	for _, c := range []struct {
		path    string
		status  int
		refresh string
	}{
		{"/lang/en?back=/queues", http.StatusForbidden, ""},
		{"/queues", http.StatusSeeOther, ""},
		{"/signin?next=%2Fqueues", http.StatusOK, "0; url=/signin?next=%2Fqueues"},
	} {
		req, _ := http.NewRequest(http.MethodGet, "http://"+ts.HTTPAddr()+c.path, nil)
		req.Header.Set("Sec-Fetch-Site", "cross-site")
		resp, err := bare.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_ = resp.Body.Close()
		if resp.StatusCode != c.status || resp.Header.Get("Refresh") != c.refresh {
			t.Errorf("GET %s from another site: %s, Refresh %q; want %d, Refresh %q", c.path, resp.Status, resp.Header.Get("Refresh"), c.status, c.refresh)
		}
		if got := resp.Header.Values("Set-Cookie"); len(got) > 0 {
			t.Errorf("GET %s from another site sets %q, want no cookie", c.path, got)
		}
	}

	b := newBrowser(t, ts)
	_, first := b.get("/signin")
	_, again := b.get("/signin")
	if csrfOf(t, first) != csrfOf(t, again) {
		t.Error("a second sign-in page made a new pre-session token: the first page's form would be refused")
	}
	if resp, _ := b.post("/signin", map[string][]string{"csrf": {csrfOf(t, first)}, "user": {operatorID}, "password": {"pw-" + operatorID}}); resp.StatusCode != http.StatusSeeOther {
		t.Errorf("the first sign-in page's form, after a second page: %s, want 303", resp.Status)
	}
}
