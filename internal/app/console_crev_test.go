package app_test

import (
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	pb "github.com/childcase/childcase/api/childcase/v1"
	"github.com/childcase/childcase/internal/domain/identity"
)

var passwordMaxLength = regexp.MustCompile(`<input id="password"[^>]*maxlength="(\d+)"`)

// TestConsoleLongPasswordSignsIn: every password the password page sets
// (up to identity.MaxPasswordBytes, a Vietnamese passphrase of a few
// hundred bytes included) signs in through the console's form, which lets
// it be typed whole.
func TestConsoleLongPasswordSignsIn(t *testing.T) {
	ts := startServer(t, "")
	passphrase := strings.Repeat("Đường về nhà bà ngoại ", 12)               // 384 bytes
	longest := strings.Repeat("x", identity.MaxPasswordBytes-len("ễ")) + "ễ" // exactly the bound
	for i, pw := range []string{passphrase, longest} {
		id := []string{"lan.nguyen", "mai.tran"}[i]
		b := withPassword(t, ts, id, pw)
		_, signin := b.get("/signin")
		m := passwordMaxLength.FindStringSubmatch(signin)
		if m == nil {
			t.Fatalf("the sign-in page has no password field with a maxlength:\n%s", signin)
		}
		if n := len([]rune(pw)); m[1] != "1024" || n > 1024 {
			t.Errorf("the sign-in form's password field takes %s characters; the %d-character password needs %d", m[1], n, n)
		}
		if r, page := b.signInForm(id, pw, ""); r.StatusCode != http.StatusSeeOther {
			t.Errorf("sign in with a %d-byte password: %s, want signed in\n%s", len(pw), r.Status, page)
		}
	}
}

// withPassword creates a hotline operator who sets password pw through
// their one-time link, and returns the browser that set it (not signed
// in).
func withPassword(t *testing.T, ts *testServer, id, pw string) *browser {
	t.Helper()
	resp, err := ts.admin().CreateUser(ts.as(t, "admin"), &pb.CreateUserRequest{
		UserId: id, User: &pb.User{DisplayName: id, Role: pb.Role_ROLE_HOTLINE_OPERATOR, Unit: "orgs/hotline-111"},
	})
	if err != nil {
		t.Fatal(err)
	}
	link := "/password/" + resp.GetPasswordLinkSecret()
	b := newBrowser(t, ts)
	_, page := b.get(link)
	if r, page := b.post(link, url.Values{"csrf": {csrfOf(t, page)}, "password": {pw}, "confirm": {pw}}); r.StatusCode != http.StatusSeeOther {
		t.Fatalf("set %s's %d-byte password: %s\n%s", id, len(pw), r.Status, page)
	}
	return b
}

// TestConsoleResetOrDisableEndsSessions: an admin's password reset or
// disabling of a user ends that user's console sessions, as the README
// says: their next page of any kind sends them to sign in, a page
// answered before any API call too (the console holds its sessions in
// memory, and once ended one only when an API call of it failed);
// another user's session goes on.
func TestConsoleResetOrDisableEndsSessions(t *testing.T) {
	ts := startServer(t, "")
	const pw = "một mật khẩu dài"
	browsers := map[string]*browser{}
	for _, id := range []string{"lan.nguyen", "mai.tran", "hoa.le"} {
		b := withPassword(t, ts, id, pw)
		if r, _ := b.signInForm(id, pw, ""); r.StatusCode != http.StatusSeeOther {
			t.Fatalf("sign in as %s: %s", id, r.Status)
		}
		browsers[id] = b
	}
	if _, err := ts.admin().ResetPassword(ts.as(t, "admin"), &pb.ResetPasswordRequest{Name: "users/lan.nguyen"}); err != nil {
		t.Fatal(err)
	}
	if _, err := ts.admin().DisableUser(ts.as(t, "admin"), &pb.DisableUserRequest{Name: "users/mai.tran"}); err != nil {
		t.Fatal(err)
	}
	const noAPICall = "/reports/not-a-report" // answered before any API call
	for _, page := range []struct {
		path   string
		stayOn int // hoa.le's answer; the others are sent to sign in
	}{{noAPICall, http.StatusNotFound}, {"/queues", http.StatusOK}} {
		for id, want := range map[string]int{"lan.nguyen": http.StatusSeeOther, "mai.tran": http.StatusSeeOther, "hoa.le": page.stayOn} {
			resp, body := browsers[id].get(page.path)
			if resp.StatusCode != want || want == http.StatusSeeOther && !strings.HasPrefix(resp.Header.Get("Location"), "/signin") {
				t.Errorf("%s's %s after the admin's changes: %s to %q, want %d\n%.300s", id, page.path, resp.Status, resp.Header.Get("Location"), want, body)
			}
		}
	}
}

// TestConsoleSessionEndsAfterTwelveHours: a session used every few
// minutes still ends identity.SessionTTL after its sign-in, on every page,
// those that call no API method too (the intake form and its "add a
// child" button), and a page then sends the person to sign in again.
func TestConsoleSessionEndsAfterTwelveHours(t *testing.T) {
	d := startDemoConsole(t)
	b := &browser{t: t, base: strings.TrimSuffix(d.url, "/"), c: newBrowserClient()}
	if resp, _ := b.signInForm("badinh.worker", d.password, ""); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("sign in: %s", resp.Status)
	}
	signedIn := d.clock.Now()
	_, form := b.get("/reports/new")
	csrf := csrfOf(t, form)
	for d.clock.Now().Add(20 * time.Minute).Before(signedIn.Add(identity.SessionTTL)) {
		d.clock.Advance(20 * time.Minute)
		if resp, _ := b.get("/queues"); resp.StatusCode != http.StatusOK {
			t.Fatalf("%v after sign-in, in use: %s, want the queues", d.clock.Now().Sub(signedIn), resp.Status)
		}
	}
	d.clock.Advance(identity.SessionTTL - d.clock.Now().Sub(signedIn))
	for _, page := range []struct{ method, path string }{{"GET", "/reports/receipt"}, {"GET", "/reports/new"}, {"POST", "/reports/new"}, {"GET", "/queues"}} {
		var resp *http.Response
		if page.method == "POST" {
			resp, _ = b.post(page.path, url.Values{"csrf": {csrf}, "do": {"add-child"}})
		} else {
			resp, _ = b.get(page.path)
		}
		if resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(resp.Header.Get("Location"), "/signin") {
			t.Errorf("%s %s %v after sign-in: %s to %q, want sent to sign in", page.method, page.path, identity.SessionTTL, resp.Status, resp.Header.Get("Location"))
		}
	}
}

var auditRow = regexp.MustCompile(`(?s)<tr>\s*<td>\d+</td>\s*<td><time datetime="([^"]+)">.*?</tr>`)

// TestConsoleAuditLogByCaseAndDates: the audit page's filters the README
// names besides the user's: by case (every event shown is on the case)
// and by dates, which are days in Vietnam time, both included (an event
// at 00:30 in Hanoi, 17:30 UTC the day before, is on the later day).
func TestConsoleAuditLogByCaseAndDates(t *testing.T) {
	hanoiLateEvening := time.Date(2026, 11, 27, 16, 30, 0, 0, time.UTC) // 23:30 on 27 November in Hanoi
	ts := startConsoleAt(t, hanoiLateEvening)
	ts.addUser(t, "auditor", pb.Role_ROLE_AUDITOR, "orgs/system")
	before := strings.TrimPrefix(openCase(t, ts, ts.clock.Now(), "00004"), "cases/")
	ts.advance(t, time.Hour) // 00:30 on 28 November in Hanoi
	after := strings.TrimPrefix(openCase(t, ts, ts.clock.Now(), "00004"), "cases/")

	b := newBrowser(t, ts)
	b.signInTo("auditor")
	rows := func(path string) []string {
		t.Helper()
		resp, page := b.get(path)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("%s: %s\n%s", path, resp.Status, page)
		}
		var out []string
		for _, m := range auditRow.FindAllStringSubmatch(page, -1) {
			out = append(out, m[0])
		}
		return out
	}
	byCase := rows("/audit?case=" + before)
	if len(byCase) == 0 {
		t.Fatalf("no event on %s", before)
	}
	for _, r := range byCase {
		if !strings.Contains(r, `>cases/`+before+`</a>`) {
			t.Errorf("filtered by %s, an event of another case or none:\n%s", before, r)
			break
		}
	}
	day28 := rows("/audit?from=2026-11-28&to=2026-11-28")
	if len(day28) == 0 {
		t.Fatal("no event on 28 November (Hanoi)")
	}
	start, end := time.Date(2026, 11, 27, 17, 0, 0, 0, time.UTC), time.Date(2026, 11, 28, 17, 0, 0, 0, time.UTC)
	seen := false
	for _, r := range day28 {
		at, err := time.Parse(time.RFC3339, auditRow.FindStringSubmatch(r)[1])
		if err != nil || at.Before(start) || !at.Before(end) {
			t.Errorf("filtered by 28 November in Hanoi, an event at %v (%v)", at, err)
		}
		seen = seen || strings.Contains(r, ">cases/"+after+"</a>")
	}
	if !seen {
		t.Errorf("filtered by 28 November in Hanoi, no event of %s, opened at 00:30 that day", after)
	}
	if day27 := rows("/audit?from=2026-11-27&to=2026-11-27"); len(day27) == 0 || strings.Contains(strings.Join(day27, ""), ">cases/"+after+"</a>") {
		t.Errorf("filtered by 27 November in Hanoi: %d events, want %s's and none of %s", len(day27), before, after)
	}
}
