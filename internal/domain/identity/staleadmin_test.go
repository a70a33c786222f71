package identity_test

import (
	"errors"
	"testing"

	"github.com/childcase/childcase/internal/domain/identity"
	"github.com/childcase/childcase/internal/domain/model"
	"github.com/childcase/childcase/internal/domain/units"
)

// TestAnAdminDisabledMeanwhileActsNoMore holds what two admins who
// disable each other at the same moment saw: each call's token was
// checked when the call began, before either disable committed, so both
// writes went through and the service was left with no active admin
// (seen live: 6 of 10 such pairs over REST). A call whose token or user
// stopped being valid between its sign-in and its transaction must
// change nothing: every admin write checks its caller again in the
// transaction it writes with.
func TestAnAdminDisabledMeanwhileActsNoMore(t *testing.T) {
	e := newEnv(t)
	a, aTok := e.createUser(t, "ad.an", model.RoleAdmin, model.OrgSystem)
	b, bTok := e.createUser(t, "ad.binh", model.RoleAdmin, model.OrgSystem)
	target, targetTok := e.createUser(t, "op.lan", model.RoleHotlineOperator, model.OrgHotline111)
	// Both calls signed in before either wrote.
	pa := identity.TokenPrincipal(a, aTok.Token, "req-a")
	pb := identity.TokenPrincipal(b, bTok.Token, "req-b")

	if _, err := e.svc.DisableUser(ctx, pa, b.ID, noRetry); err != nil {
		t.Fatalf("DisableUser(%s) by %s: %v", b.ID, a.ID, err)
	}
	before := len(e.events(t))

	// b, disabled, goes on with the calls it began before that.
	unauthenticated := func(call string, err error) {
		t.Helper()
		if !errors.Is(err, identity.ErrUnauthenticated) {
			t.Errorf("%s by the disabled %s = %v, want ErrUnauthenticated", call, b.ID, err)
		}
	}
	_, err := e.svc.DisableUser(ctx, pb, a.ID, noRetry)
	unauthenticated("DisableUser", err)
	_, _, _, err = e.svc.CreateUser(ctx, pb, model.User{ID: "ad.new", DisplayName: "New admin", Role: model.RoleAdmin, Unit: model.OrgSystem}, 0, noRetry)
	unauthenticated("CreateUser", err)
	_, err = e.svc.CreateToken(ctx, pb, target.ID, 0, noRetry)
	unauthenticated("CreateToken", err)
	_, err = e.svc.RevokeToken(ctx, pb, target.ID, targetTok.Token.ID, noRetry)
	unauthenticated("RevokeToken", err)
	_, err = e.svc.ResetPassword(ctx, pb, target.ID, noRetry)
	unauthenticated("ResetPassword", err)
	_, err = e.svc.CreatePoliceUnit(ctx, pb, model.PoliceUnit{
		ID: "ca-moi", DisplayName: "Công an mới",
		Covers: []units.Key{{Code: "00004", ValidFrom: mustDate("2025-07-01")}},
	}, noRetry)
	unauthenticated("CreatePoliceUnit", err)

	if u, err := e.svc.GetUser(ctx, a.ID); err != nil || u.Disabled() {
		t.Errorf("the admin who disabled the other is %+v, %v; want active", u, err)
	}
	if _, _, err := e.svc.Authenticate(ctx, aTok.Secret); err != nil {
		t.Errorf("the active admin's token stopped working: %v", err)
	}
	if _, err := e.svc.GetUser(ctx, "ad.new"); !errors.Is(err, model.ErrNotFound) {
		t.Errorf("the disabled admin made a user: %v", err)
	}
	if _, _, err := e.svc.Authenticate(ctx, targetTok.Secret); err != nil {
		t.Errorf("the disabled admin revoked a token: %v", err)
	}
	if _, err := e.svc.GetPoliceUnit(ctx, "ca-moi"); !errors.Is(err, model.ErrNotFound) {
		t.Errorf("the disabled admin made a police unit: %v", err)
	}
	if n := len(e.events(t)) - before; n != 0 {
		t.Errorf("the disabled admin's calls appended %d events, want none", n)
	}

	// A revoked token (its user still active) is refused the same way.
	if _, err := e.svc.RevokeToken(ctx, pa, a.ID, aTok.Token.ID, noRetry); err != nil {
		t.Fatalf("RevokeToken(own): %v", err)
	}
	if _, err := e.svc.CreateToken(ctx, pa, target.ID, 0, noRetry); !errors.Is(err, identity.ErrUnauthenticated) {
		t.Errorf("CreateToken with a token revoked meanwhile = %v, want ErrUnauthenticated", err)
	}
}
