package app_test

import (
	"net/http"
	"net/url"
	"path/filepath"
	"testing"

	pb "github.com/childcase/childcase/api/childcase/v1"
	"github.com/childcase/childcase/internal/domain/identity"
)

// TestConsoleTOTPEnrolsOnlyTheServersSecret: the second factor's secret
// is the one the set-password page made, never one the form was posted
// with. The secret rode in a hidden field and was taken back as posted,
// so a person (or whoever posts the form) could enrol a secret of their
// choosing, a well-known or all-zero one, and the code a role needs would
// then be one anybody can compute.
func TestConsoleTOTPEnrolsOnlyTheServersSecret(t *testing.T) {
	ts := startServer(t, "")
	link := supervisorPasswordLink(t, ts)
	b := newBrowser(t, ts)
	_, page := b.get(link)
	issued := formValues(t, page)
	if issued.Get("totp_secret") == "" {
		t.Fatalf("no TOTP secret on the page of a role that needs one:\n%s", page)
	}
	const password = "một mật khẩu dài"
	const chosen = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA" // 20 zero bytes
	code, err := identity.TOTPCode(chosen, ts.clock.Now())
	if err != nil {
		t.Fatal(err)
	}
	forged := url.Values{"password": {password}, "confirm": {password}, "code": {code}}
	for k := range issued {
		forged.Set(k, issued.Get(k))
	}
	forged.Set("totp_secret", chosen)
	if r, page := b.post(link, forged); r.StatusCode != http.StatusBadRequest {
		t.Fatalf("a secret the page did not make: %s, want 400 and nothing set:\n%s", r.Status, page)
	}
	if r, _ := b.signInForm("mai.tran", password, code); r.StatusCode == http.StatusSeeOther {
		t.Fatal("signed in with a code of the secret the form chose")
	}

	// The page's own secret enrols.
	_, page = b.get(link)
	issued = formValues(t, page)
	code, err = identity.TOTPCode(issued.Get("totp_secret"), ts.clock.Now())
	if err != nil {
		t.Fatal(err)
	}
	issued.Set("password", password)
	issued.Set("confirm", password)
	issued.Set("code", code)
	if r, page := b.post(link, issued); r.StatusCode != http.StatusSeeOther {
		t.Fatalf("the page's own secret: %s:\n%s", r.Status, page)
	}
}

// The set-password page's secret is signed with a key derived from the
// master key, not one made at each start: a page shown before a restart
// (or by another instance with the same key file, behind one address)
// still enrols its secret.
func TestConsoleTOTPEnrolAcrossARestart(t *testing.T) {
	dbPath := filepath.Join(t.TempDir(), "childcase.db")
	ts := startServer(t, dbPath)
	link := supervisorPasswordLink(t, ts)
	b := newBrowser(t, ts)
	_, page := b.get(link)
	issued := formValues(t, page)
	ts.stop()

	again := startServer(t, dbPath)
	defer again.stop()
	b.base = "http://" + again.HTTPAddr()
	code, err := identity.TOTPCode(issued.Get("totp_secret"), again.clock.Now())
	if err != nil {
		t.Fatal(err)
	}
	const password = "một mật khẩu dài"
	issued.Set("password", password)
	issued.Set("confirm", password)
	issued.Set("code", code)
	if r, page := b.post(link, issued); r.StatusCode != http.StatusSeeOther {
		t.Fatalf("a page shown before the restart: %s, want its secret enrolled:\n%s", r.Status, page)
	}
}

// supervisorPasswordLink creates the hotline supervisor mai.tran, a role
// that needs a second factor, and returns the path of her set-password
// link.
func supervisorPasswordLink(t *testing.T, ts *testServer) string {
	t.Helper()
	resp, err := ts.admin().CreateUser(ts.as(t, "admin"), &pb.CreateUserRequest{
		UserId: "mai.tran", User: &pb.User{DisplayName: "Trần Thị Mai", Role: pb.Role_ROLE_HOTLINE_SUPERVISOR, Unit: "orgs/hotline-111"},
	})
	if err != nil {
		t.Fatal(err)
	}
	return "/password/" + resp.GetPasswordLinkSecret()
}
