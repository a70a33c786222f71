package app_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	pb "github.com/childcase/childcase/api/childcase/v1"
)

// TestConsoleDashboardLongPeriodIsBoundedWork: a supervisor may ask the
// dashboard for any dates, 0001-01-01 to 9999-12-31 too; the chart of
// cases opened per month then has a bar for each month a case can have
// been opened in (from January 2020, the earliest a report may be dated,
// to this month), not one for each of the 120,000 months named, which
// made one GET a page of 39 MB and seconds of the server's work.
func TestConsoleDashboardLongPeriodIsBoundedWork(t *testing.T) {
	ts, _, _, _ := dashScenario(t) // the clock in November 2026
	chair := newBrowser(t, ts)
	chair.signIn("bd.chair")
	resp, page := chair.get("/dashboard?period=custom&from=0001-01-01&to=9999-12-31")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("dashboard of every date: %s", resp.Status)
	}
	const months = 6*12 + 11 // 2020-01 to 2026-11
	if n := strings.Count(page, `class="bar bar-opened"`); n != months {
		t.Errorf("%d bars of cases opened (a page of %d bytes), want %d: 2020-01 to 2026-11", n, len(page), months)
	}
	if !strings.Contains(page, "<title>11/2026, Hồ sơ mở: 2</title>") || !strings.Contains(page, "<title>01/2020, Hồ sơ mở: 0</title>") {
		t.Error("the chart does not run from 01/2020 to 11/2026 with Ba Đình's two cases in November")
	}
	if got := headlineOf(page)["opened"]; got != 2 {
		t.Errorf("headline: %d cases opened, want Ba Đình's 2", got)
	}
	// A period wholly after this month can hold no case opened.
	if _, page := chair.get("/dashboard?period=custom&from=2030-01-01&to=2030-12-31"); strings.Contains(page, `class="bar bar-opened"`) {
		t.Error("a period in the future has bars of cases opened")
	}
}

// TestConsoleRequestIDOfAnyBytesIsNoError: the console passes a
// request's X-Request-Id on to the API, as the REST gateway does; one
// that gRPC metadata cannot carry (a letter outside ASCII, a tab) made
// every console page an internal error (500, logged as an error), where
// the API answers the same header as it answers any malformed id: with
// an id of its own.
func TestConsoleRequestIDOfAnyBytesIsNoError(t *testing.T) {
	ts, _ := startConsole(t)
	b := newBrowser(t, ts)
	b.signIn(operatorID)
	for _, id := range []string{"café", "a\tb", strings.Repeat("x", 300), "ok-id.1"} {
		req, err := http.NewRequest(http.MethodGet, b.base+"/queues", nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("X-Request-Id", id)
		resp, err := b.c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		if page := readBody(t, resp); resp.StatusCode != http.StatusOK {
			t.Errorf("GET /queues with X-Request-Id %q: %s, want the page\n%.300s", id, resp.Status, page)
		}
	}
}

// TestConsolePasswordLinkEndsAsTheREADMESays: a link made by
// :resetPassword replaces the one before it, which stops working at once,
// opened or posted; a link works until 72 hours after it was made, not a
// second longer.
func TestConsolePasswordLinkEndsAsTheREADMESays(t *testing.T) {
	ts := startServer(t, "")
	first := newUserLink(t, ts, "lan.nguyen")
	other := newUserLink(t, ts, "hoa.tran")
	reset, err := ts.admin().ResetPassword(ts.as(t, "admin"), &pb.ResetPasswordRequest{Name: "users/lan.nguyen"})
	if err != nil {
		t.Fatal(err)
	}
	second := reset.GetPasswordLinkSecret()
	b := newBrowser(t, ts)
	_, page := b.get("/password/" + second)
	set := url.Values{"csrf": {csrfOf(t, page)}, "password": {"một mật khẩu dài"}, "confirm": {"một mật khẩu dài"}}
	if r, _ := b.get("/password/" + first); r.StatusCode != http.StatusNotFound {
		t.Errorf("the replaced link opened: %s, want 404", r.Status)
	}
	if r, _ := b.post("/password/"+first, set); r.StatusCode != http.StatusNotFound {
		t.Errorf("the replaced link posted: %s, want 404", r.Status)
	}
	ts.setClock(t, testNow.Add(72*time.Hour-time.Second))
	if r, _ := newBrowser(t, ts).get("/password/" + other); r.StatusCode != http.StatusOK {
		t.Errorf("a link a second before its 72 hours: %s, want the form", r.Status)
	}
	ts.setClock(t, testNow.Add(72*time.Hour+time.Second))
	if r, _ := b.post("/password/"+second, set); r.StatusCode != http.StatusNotFound {
		t.Errorf("the link 72 hours and a second after it was made: %s, want 404", r.Status)
	}
	if r, _ := b.signInForm("lan.nguyen", "một mật khẩu dài", ""); r.StatusCode == http.StatusSeeOther {
		t.Error("an expired link set the password")
	}
}
