package app_test

import (
	"net/http"
	"strings"
	"testing"

	pb "github.com/childcase/childcase/api/childcase/v1"
)

// TestConsoleWrongMethodIsRefusedWithAllow: a console path asked for with
// a method it does not answer (a form's address reloaded as a PUT, a GET
// page posted to) is 405 with the methods it takes in Allow, as the
// console's own page in the page's language, not "not found": the page
// is there. A path the console does not have stays 404.
func TestConsoleWrongMethodIsRefusedWithAllow(t *testing.T) {
	ts, _ := startConsole(t)
	worker := "worker.ba-dinh"
	ts.addUser(t, worker, pb.Role_ROLE_COMMUNE_WORKER, pBaDinh)
	b := newBrowser(t, ts)
	for _, tc := range []struct {
		method, path, allow string
		signedIn            bool
	}{
		{http.MethodPost, "/queues", "GET, HEAD", false},
		{http.MethodPost, "/queues", "GET, HEAD", true},
		{http.MethodPut, "/signin", "GET, HEAD, POST", false},
		{http.MethodDelete, "/cases/HN-2026-00001", "GET, HEAD", true},
		{http.MethodPost, "/", "GET, HEAD", false},
		{http.MethodPost, "/static/console.css", "GET, HEAD", false},
		{http.MethodPatch, "/cases/HN-2026-00001/steps/AcknowledgeCase", "GET, HEAD, POST", true},
	} {
		if tc.signedIn {
			b.signIn(worker)
		}
		req, _ := http.NewRequest(tc.method, b.base+tc.path, strings.NewReader(""))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Origin", b.base)
		resp, err := b.c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		page := readBody(t, resp)
		if resp.StatusCode != http.StatusMethodNotAllowed || resp.Header.Get("Allow") != tc.allow {
			t.Errorf("%s %s: %s, Allow %q; want 405 with Allow %q", tc.method, tc.path, resp.Status, resp.Header.Get("Allow"), tc.allow)
		}
		if !strings.Contains(page, "Phương thức không được hỗ trợ") || resp.Header.Get("Cache-Control") != "no-store" || resp.Header.Get("Content-Security-Policy") == "" {
			t.Errorf("%s %s: not the console's Vietnamese error page (Cache-Control %q):\n%s", tc.method, tc.path, resp.Header.Get("Cache-Control"), page)
		}
		if tc.signedIn && !strings.Contains(page, `action="/signout"`) {
			t.Errorf("%s %s: a signed-in person's page without their sign-out button:\n%s", tc.method, tc.path, page)
		}
	}
	req, _ := http.NewRequest(http.MethodPut, b.base+"/no-such-page", nil)
	resp, err := b.c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	readBody(t, resp)
	if resp.StatusCode != http.StatusNotFound || resp.Header.Get("Allow") != "" {
		t.Errorf("PUT /no-such-page: %s, Allow %q; want 404 without Allow", resp.Status, resp.Header.Get("Allow"))
	}
}
