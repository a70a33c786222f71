package identity_test

import (
	"errors"
	"slices"
	"testing"

	"github.com/childcase/childcase/internal/domain/identity"
	"github.com/childcase/childcase/internal/domain/model"
)

// TestOnSessionsEndedIsToldOfAnAdminsChanges: disabling an account,
// resetting its password and revoking a session's token each tell the
// console which of its sessions they ended, once committed; a retry that
// only replays the first answer ends nothing and tells nothing.
func TestOnSessionsEndedIsToldOfAnAdminsChanges(t *testing.T) {
	e := newSignInEnv(t)
	var told [][]string
	e.svc.OnSessionsEnded(func(ids []string) { told = append(told, slices.Clone(ids)) })
	signIn := func(id string) string {
		t.Helper()
		s, err := e.svc.SignInWithPassword(ctx, identity.PasswordSignIn{UserID: id, Password: goodPassword, Client: "203.0.113.7"})
		if err != nil {
			t.Fatalf("sign in as %s: %v", id, err)
		}
		return s.Token.Token.ID
	}
	for _, id := range []string{"lan.nguyen", "mai.tran", "hoa.le"} {
		e.addPerson(t, id, model.RoleHotlineOperator, "orgs/hotline-111", "")
	}
	lan, mai, hoa := signIn("lan.nguyen"), signIn("mai.tran"), signIn("hoa.le")
	disable := retry("disable-mai", "users/mai.tran")

	if _, err := e.svc.ResetPassword(ctx, e.admin, "lan.nguyen", noRetry); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.DisableUser(ctx, e.admin, "mai.tran", disable); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.DisableUser(ctx, e.admin, "mai.tran", disable); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.RevokeToken(ctx, e.admin, "hoa.le", hoa, noRetry); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.RevokeToken(ctx, e.admin, "hoa.le", hoa, noRetry); err != nil {
		t.Fatal(err)
	}
	want := [][]string{{lan}, {mai}, {hoa}}
	if !slices.EqualFunc(told, want, slices.Equal) {
		t.Errorf("told of ended sessions %v, want %v", told, want)
	}
}

// Revoked wakes the open streams of the user whose tokens a change
// revoked, and theirs alone: a disable, a token's revocation, a password
// reset and a session's end each close the channel of its user, not that
// of another, whose streams would otherwise all check their tokens again
// at every sign-out anyone makes.
func TestRevokedTellsTheUserAlone(t *testing.T) {
	e := newSignInEnv(t)
	e.addPerson(t, "lan.nguyen", model.RoleCommuneWorker, communeUnit, "")
	e.addPerson(t, "hoa.tran", model.RoleCommuneWorker, communeUnit, "")
	tok, err := e.svc.CreateToken(ctx, e.admin, "lan.nguyen", 0, noRetry)
	if err != nil {
		t.Fatal(err)
	}
	ses, err := e.signIn("lan.nguyen", goodPassword, "")
	if err != nil {
		t.Fatal(err)
	}
	changes := []struct {
		name string
		do   func() error
	}{
		{"a session's end", func() error { return e.svc.EndSession(ctx, ses.Token.Token.ID, "signed out") }},
		{"a token revoked", func() error {
			_, err := e.svc.RevokeToken(ctx, e.admin, "lan.nguyen", tok.Token.ID, noRetry)
			return err
		}},
		{"a password reset", func() error { _, err := e.svc.ResetPassword(ctx, e.admin, "lan.nguyen", noRetry); return err }},
		{"the user disabled", func() error { _, err := e.svc.DisableUser(ctx, e.admin, "lan.nguyen", noRetry); return err }},
	}
	for _, c := range changes {
		mine, other := e.svc.Revoked("lan.nguyen"), e.svc.Revoked("hoa.tran")
		if err := c.do(); err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		select {
		case <-mine:
		default:
			t.Errorf("%s did not tell the user's streams", c.name)
		}
		select {
		case <-other:
			t.Errorf("%s told another user's streams", c.name)
		default:
		}
	}
}

// An enrolment under way ends with the account: a set-password link
// opened (its page showing the authenticator's secret) and then posted
// after the admin disabled the user, or reset the password again, sets
// nothing, and the second factor is not enrolled.
func TestPendingEnrolmentEndsWithADisableOrAReset(t *testing.T) {
	for _, end := range []string{"disable", "reset"} {
		t.Run(end, func(t *testing.T) {
			e := newSignInEnv(t)
			_, _, link, err := e.svc.CreateUser(ctx, e.admin, model.User{ID: "co.mai", DisplayName: "Mai", Role: model.RoleCityOfficer, Unit: cityUnit}, 0, noRetry)
			if err != nil {
				t.Fatal(err)
			}
			if _, needs, err := e.svc.LinkUser(ctx, link.Secret, "test"); err != nil || !needs {
				t.Fatalf("the link before: needs TOTP %v, %v", needs, err)
			}
			key, err := identity.NewTOTPKey("co.mai")
			if err != nil {
				t.Fatal(err)
			}
			switch end {
			case "disable":
				_, err = e.svc.DisableUser(ctx, e.admin, "co.mai", noRetry)
			case "reset":
				_, err = e.svc.ResetPassword(ctx, e.admin, "co.mai", noRetry)
			}
			if err != nil {
				t.Fatal(err)
			}
			_, err = e.svc.SetPasswordWithLink(ctx, identity.SetPassword{LinkSecret: link.Secret, Password: goodPassword,
				TOTPSecret: key.Secret, TOTPCode: totpCode(t, key.Secret, e.clock.Now())})
			if !errors.Is(err, model.ErrNotFound) {
				t.Errorf("the link posted after the %s: %v, want ErrNotFound", end, err)
			}
			if u := e.storedUser(t, "co.mai"); u.SignIn.PasswordHash != "" || u.SignIn.TOTP.KeyID != "" {
				t.Errorf("the link posted after the %s set a password (%t) or a second factor (%t)", end, u.SignIn.PasswordHash != "", u.SignIn.TOTP.KeyID != "")
			}
		})
	}
}
