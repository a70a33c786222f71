package web

import (
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// TestFormTokenCountsOnlyInTheFormsBody: the CSRF token is read from an
// URL-encoded body only. The same right token in the query string (where
// a link or an image could carry it, and a proxy's log keep it), in a
// text/plain or JSON body (which a page of another site may post without
// a preflight), or beside a method override does not sign the person
// out: each is refused, and the session lives on.
func TestFormTokenCountsOnlyInTheFormsBody(t *testing.T) {
	client, base := consoleOver(t, &flakyReports{})
	csrf := formValue(t, fetch(t, client, base+"/reports/new", nil), "csrf")
	for _, tc := range []struct {
		what, method, path, ctype, body string
		header                          map[string]string
	}{
		{"the token in the query", http.MethodPost, "/signout?csrf=" + csrf, "application/x-www-form-urlencoded", "", nil},
		{"a text/plain body", http.MethodPost, "/signout", "text/plain", "csrf=" + csrf, nil},
		{"a JSON body", http.MethodPost, "/signout", "application/json", `{"csrf":"` + csrf + `"}`, nil},
		{"a GET with the token", http.MethodGet, "/signout?csrf=" + csrf, "", "", nil},
		{"a GET overridden to POST", http.MethodGet, "/signout?csrf=" + csrf + "&_method=POST", "", "", map[string]string{"X-HTTP-Method-Override": "POST"}},
		{"the token twice, the right one last", http.MethodPost, "/signout", "application/x-www-form-urlencoded", "csrf=x&csrf=" + csrf, nil},
	} {
		req, err := http.NewRequest(tc.method, base+tc.path, strings.NewReader(tc.body))
		if err != nil {
			t.Fatal(err)
		}
		if tc.ctype != "" {
			req.Header.Set("Content-Type", tc.ctype)
		}
		for k, v := range tc.header {
			req.Header.Set(k, v)
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode < 400 {
			t.Errorf("%s: %s, want a refusal", tc.what, resp.Status)
		}
		var status int
		fetch(t, client, base+"/reports/new", &status)
		if status != http.StatusOK {
			t.Fatalf("%s signed the person out: the next page is %d", tc.what, status)
		}
	}
}

// TestStaticFilesStayInTheirFolder: a static path that climbs out of
// static/, plainly, percent-encoded, with backslashes or a NUL, never
// answers a template or a source file of the console (they are embedded
// beside the static files).
func TestStaticFilesStayInTheirFolder(t *testing.T) {
	_, base := consoleOver(t, &flakyReports{})
	u, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{
		"/static/../templates/signin.html", "/static/%2e%2e/templates/signin.html",
		"/static/..%2ftemplates%2fsignin.html", "/static/..%5ctemplates%5csignin.html",
		"/static/%2e%2e%2f%2e%2e%2fweb.go", "/static/console.css%00", "/static/", "/static/i18n/vi.json",
		"/static/..%2fi18n%2fvi.json",
	} {
		// A raw request: http.Client would clean the path first.
		conn, err := net.Dial("tcp", u.Host)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.WriteString(conn, "GET "+p+" HTTP/1.1\r\nHost: "+u.Host+"\r\nConnection: close\r\n\r\n")
		b, err := io.ReadAll(conn)
		conn.Close()
		if err != nil {
			t.Fatal(err)
		}
		answer := string(b)
		status, _, _ := strings.Cut(answer, "\r\n")
		if strings.Contains(status, " 200 ") || strings.Contains(answer, `{{define`) || strings.Contains(answer, "package web") || strings.Contains(answer, `"signin.title"`) {
			t.Errorf("GET %s: %s, answering a file outside static/", p, status)
		}
	}
}
