package app_test

import (
	"net/http"
	"net/url"
	"testing"

	pb "github.com/childcase/childcase/api/childcase/v1"
	"github.com/childcase/childcase/internal/domain/identity"
)

// TestSettingAPasswordIsAuditedWithItsSecondFactor: issue 3 puts every
// user change on the audit log. A person who sets their password through
// the one-time link is on it as user.set_password, under their own name;
// for a role that needs a second factor, the event says that an
// authenticator was enrolled with it, so that an auditor looking for when
// an account's second factor changed (a lost phone, or a taken account)
// finds it. A refused attempt sets and records nothing of the kind.
func TestSettingAPasswordIsAuditedWithItsSecondFactor(t *testing.T) {
	ts := startServer(t, "")
	ts.addUser(t, "auditor", pb.Role_ROLE_AUDITOR, "orgs/system")
	const password = "một mật khẩu dài"
	setPassword := func(who, link string, withCode bool) {
		t.Helper()
		b := newBrowser(t, ts)
		_, page := b.get(link)
		form := formValues(t, page)
		form.Set("password", password)
		form.Set("confirm", password)
		if withCode {
			code, err := identity.TOTPCode(form.Get("totp_secret"), ts.clock.Now())
			if err != nil {
				t.Fatal(err)
			}
			form.Set("code", code)
		}
		if r, page := b.post(link, form); r.StatusCode != http.StatusSeeOther {
			t.Fatalf("%s sets a password: %s\n%s", who, r.Status, page)
		}
	}
	setEvents := func(user string) []*pb.AuditEvent {
		t.Helper()
		var out []*pb.AuditEvent
		for _, e := range auditedBy(t, ts, "auditor", user) {
			if e.GetAction() == "user.set_password" {
				out = append(out, e)
			}
		}
		return out
	}

	// The supervisor needs a second factor: a wrong code first.
	link := supervisorPasswordLink(t, ts)
	b := newBrowser(t, ts)
	_, page := b.get(link)
	wrong := formValues(t, page)
	wrong.Set("password", password)
	wrong.Set("confirm", password)
	wrong.Set("code", "000000")
	if r, _ := b.post(link, wrong); r.StatusCode == http.StatusSeeOther {
		t.Fatal("a wrong code set the password")
	}
	if got := setEvents("mai.tran"); len(got) != 0 {
		t.Errorf("a refused setting is on the log as set: %v", got)
	}
	setPassword("mai.tran", link, true)
	got := setEvents("mai.tran")
	if len(got) != 1 || got[0].GetResource() != "users/mai.tran" || got[0].GetOutcome() != "ok" || got[0].GetReason() != "second factor enrolled" {
		t.Errorf("the supervisor's password and second factor: %v, want one user.set_password on users/mai.tran, reason %q", got, "second factor enrolled")
	}

	// An operator needs none: the event says nothing of one.
	created, err := ts.admin().CreateUser(ts.as(t, "admin"), &pb.CreateUserRequest{
		UserId: "lan.nguyen", User: &pb.User{DisplayName: "Nguyễn Thị Lan", Role: pb.Role_ROLE_HOTLINE_OPERATOR, Unit: "orgs/hotline-111"},
	})
	if err != nil {
		t.Fatal(err)
	}
	setPassword("lan.nguyen", "/password/"+url.PathEscape(created.GetPasswordLinkSecret()), false)
	if got := setEvents("lan.nguyen"); len(got) != 1 || got[0].GetResource() != "users/lan.nguyen" || got[0].GetReason() != "" {
		t.Errorf("the operator's password: %v, want one user.set_password on users/lan.nguyen with no reason", got)
	}
}
