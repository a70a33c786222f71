package web

import (
	"html"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/protobuf/types/known/timestamppb"

	pb "github.com/childcase/childcase/api/childcase/v1"
	"github.com/childcase/childcase/internal/domain/audit"
	"github.com/childcase/childcase/internal/domain/model"
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

// The audit page says an event's role and outcome in the page's
// language, as the rest of the console says roles: not the log's codes
// ("COMMUNE_WORKER", "denied", "not_found") on a Vietnamese page.
func TestAuditPageSaysRolesAndOutcomesInThePagesLanguage(t *testing.T) {
	c := testConsole(t)
	auditor := &model.User{ID: "auditor", DisplayName: "Auditor", Role: model.RoleAuditor, Unit: "orgs/system"}
	page := auditPage{Events: []*pb.AuditEvent{
		{Seq: 2, Time: timestamppb.Now(), Actor: "users/bd.worker", Role: "COMMUNE_WORKER", Unit: "orgs/system", Action: "case.read", Resource: "cases/HN-2026-00001", Outcome: "not_found"},
		{Seq: 1, Time: timestamppb.Now(), Actor: "users/bd.worker", Role: "COMMUNE_WORKER", Unit: "orgs/system", Action: "auth.denied", Resource: "x", Outcome: "denied"},
	}}
	for _, lang := range languages {
		req := httptest.NewRequest(http.MethodGet, "/audit", nil)
		req.AddCookie(&http.Cookie{Name: langCookie, Value: lang})
		w := httptest.NewRecorder()
		c.render(w, req, http.StatusOK, "audit", view{User: auditor, Title: "audit.title", Data: page})
		body := w.Body.String()
		for _, code := range []string{"COMMUNE_WORKER", ">not_found<", ">denied<"} {
			if strings.Contains(body, code) {
				t.Errorf("%s: the audit page shows the log's code %q", lang, code)
			}
		}
		for _, o := range []string{audit.OutcomeOK, audit.OutcomeDenied, audit.OutcomeNotFound, audit.OutcomeRefused, audit.OutcomeError} {
			if _, ok := c.catalogs[lang]["audit.outcome."+o]; !ok {
				t.Errorf("%s has no text for the audit outcome %q", lang, o)
			}
		}
		for _, key := range []string{"role.COMMUNE_WORKER", "audit.outcome.not_found", "audit.outcome.denied"} {
			if want := c.catalogs.text(lang, key); !strings.Contains(body, want) {
				t.Errorf("%s: the audit page does not say %q (%s)", lang, want, key)
			}
		}
	}
}

// A path that is not UTF-8 text is refused naming it in the page's
// language, not by the word "path".
func TestNonUTF8PathIsNamedInThePagesLanguage(t *testing.T) {
	c := testConsole(t)
	h := c.Handler()
	for _, lang := range languages {
		req := httptest.NewRequest(http.MethodGet, "/cases/%FF", nil)
		req.AddCookie(&http.Cookie{Name: langCookie, Value: lang})
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		want := html.EscapeString(c.catalogs.text(lang, "error.request.utf8.path"))
		if w.Code != http.StatusBadRequest || !strings.Contains(w.Body.String(), want) || strings.Contains(w.Body.String(), " path ") {
			t.Errorf("%s: %d, want 400 saying %q:\n%s", lang, w.Code, want, w.Body)
		}
	}
}

// Every reset-password form carries a request id, the users list's as the
// user page's does: sent twice (a double click, a reload of the answer),
// the reset is made once, and the link the admin copied from the first
// answer still works. Without one, the list's second send made a new
// link, which ended the first.
func TestUsersListResetCarriesARequestID(t *testing.T) {
	c := testConsole(t)
	admin := &model.User{ID: "demo.admin", DisplayName: "Admin", Role: model.RoleAdmin, Unit: "orgs/system"}
	page := usersPage{CanReset: true, Users: []userRow{
		newUserRow(&pb.User{Name: "users/lan.nguyen", DisplayName: "Nguyễn Thị Lan", Role: pb.Role_ROLE_HOTLINE_OPERATOR, Unit: "orgs/hotline-111"}),
		newUserRow(&pb.User{Name: "users/bd.worker", DisplayName: "Lê Thị Hoa", Role: pb.Role_ROLE_COMMUNE_WORKER, Unit: "units/00004@2025-07-01"}),
	}}
	w := httptest.NewRecorder()
	c.render(w, httptest.NewRequest(http.MethodGet, "/admin", nil), http.StatusOK, "admin", view{User: admin, CSRF: "x", Title: "admin.title", Data: page})
	forms := resetForm.FindAllString(w.Body.String(), -1)
	if len(forms) != 2 {
		t.Fatalf("%d reset-password forms on the users list, want 2:\n%s", len(forms), w.Body)
	}
	for _, f := range forms {
		if !regexp.MustCompile(`name="request_id" value="[0-9a-f]{32}"`).MatchString(f) {
			t.Errorf("a reset-password form without a request id:\n%s", f)
		}
	}
}

var resetForm = regexp.MustCompile(`(?s)<form method="post" autocomplete="off" action="/admin/users/[^"]+/reset-password".*?</form>`)

// A path the console does not have, asked for by a signed-in person, is
// "not found" in their layout, with their navigation and the sign-out
// button, as every other page of theirs: on a shared computer a page
// that looks signed out invites walking away from a live session. The
// same path without a session is the signed-out page.
func TestNotFoundKeepsTheSignedInLayout(t *testing.T) {
	client, base := consoleWith(t, workerAccounts{}, func(*grpc.Server) {})
	for _, path := range []string{"/no-such-page", "/cases/HN-2026-00001/no-such-step", "/cases/HN-2026-00001/steps/NoSuchStep"} {
		var code int
		var page string
		if strings.Contains(path, "/steps/") {
			csrf := formValue(t, fetch(t, client, base+"/no-such-page", nil), "csrf")
			resp := send(t, client, base+path, url.Values{"csrf": {csrf}})
			b, _ := io.ReadAll(resp.Body)
			code, page = resp.StatusCode, string(b)
		} else {
			page = fetch(t, client, base+path, &code)
		}
		if code != http.StatusNotFound || !strings.Contains(page, `action="/signout"`) {
			t.Errorf("%s signed in: %d, want 404 with the sign-out button:\n%s", path, code, page)
		}
	}
	var code int
	if page := fetch(t, http.DefaultClient, base+"/no-such-page", &code); code != http.StatusNotFound || strings.Contains(page, `action="/signout"`) {
		t.Errorf("an unknown path without a session: %d, want 404 without a sign-out button", code)
	}
}
