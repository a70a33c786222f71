package app_test

import (
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

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
			t.Fatalf("set a %d-byte password: %s\n%s", len(pw), r.Status, page)
		}
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
