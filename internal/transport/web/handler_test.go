package web

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
)

// A form posted from another site is refused with the console's own
// page, in the page's language and with its headers, as every other
// refusal is: not with the standard library's English line of plain text
// ("cross-origin request detected from Sec-Fetch-Site header").
func TestCrossOriginPostIsRefusedInThePagesLanguage(t *testing.T) {
	c := testConsole(t)
	h := c.Handler()
	for _, lang := range languages {
		for _, path := range []string{"/signin", "/signout", "/cases/HN-2026-00001/steps/AddCaseNote", "/admin/users"} {
			req := httptest.NewRequest(http.MethodPost, path, strings.NewReader(url.Values{"csrf": {"x"}, "text": {"x"}}.Encode()))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			req.Header.Set("Origin", "https://evil.example")
			req.Header.Set("Sec-Fetch-Site", "cross-site")
			req.AddCookie(&http.Cookie{Name: langCookie, Value: lang})
			w := httptest.NewRecorder()
			h.ServeHTTP(w, req)
			body := w.Body.String()
			if w.Code != http.StatusForbidden {
				t.Errorf("%s %s: %d, want 403", lang, path, w.Code)
			}
			if ct := w.Header().Get("Content-Type"); !strings.HasPrefix(ct, "text/html") {
				t.Errorf("%s %s: Content-Type %q, want the console's page", lang, path, ct)
			}
			if want := c.catalogs.text(lang, "error.crossorigin"); !strings.Contains(body, want) {
				t.Errorf("%s %s: the refusal does not say %q:\n%s", lang, path, want, body)
			}
			if strings.Contains(body, "cross-origin request detected") {
				t.Errorf("%s %s: the refusal is the standard library's English: %q", lang, path, body)
			}
			for _, hdr := range []string{"Content-Security-Policy", "Cache-Control", "X-Frame-Options", "Referrer-Policy"} {
				if w.Header().Get(hdr) == "" {
					t.Errorf("%s %s: no %s", lang, path, hdr)
				}
			}
		}
	}
}
