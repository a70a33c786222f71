package app_test

import (
	"net/http"
	"strings"
	"testing"

	pb "github.com/childcase/childcase/api/childcase/v1"
)

// TestConsoleResetOrDisableEndsSessionsAtOnce: an admin's password reset
// or disabling of a user revoked the user's session tokens, but the
// console, which holds its sessions in memory, ended one only when an
// API call of it failed: until then a page that calls none (a report's
// address that names no report) still showed the person signed in, in
// their layout. As the README says, the change ends the sessions: the
// next page of any kind sends them to sign in.
func TestConsoleResetOrDisableEndsSessionsAtOnce(t *testing.T) {
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
	for id, want := range map[string]int{"lan.nguyen": http.StatusSeeOther, "mai.tran": http.StatusSeeOther, "hoa.le": http.StatusNotFound} {
		resp, page := browsers[id].get(noAPICall)
		if resp.StatusCode != want || want == http.StatusSeeOther && !strings.HasPrefix(resp.Header.Get("Location"), "/signin") {
			t.Errorf("%s's %s after the admin's changes: %s to %q, want %d\n%.300s", id, noAPICall, resp.Status, resp.Header.Get("Location"), want, page)
		}
	}
}
