package identity_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/text/unicode/norm"

	"github.com/childcase/childcase/internal/domain/audit"
	"github.com/childcase/childcase/internal/domain/auditlog"
	"github.com/childcase/childcase/internal/domain/datastore"
	"github.com/childcase/childcase/internal/domain/identity"
	"github.com/childcase/childcase/internal/domain/model"
	"github.com/childcase/childcase/internal/domain/vault"
	"github.com/childcase/childcase/internal/keys"
	"github.com/childcase/childcase/internal/storage/memstore"
	"github.com/childcase/childcase/internal/storage/storagetest"
)

const goodPassword = "Mật khẩu đủ dài 2026"

// newSignInEnv is newEnv with a vault, to seal TOTP secrets.
func newSignInEnv(t *testing.T) *env {
	t.Helper()
	return withVault(t, newEnv(t))
}

// withVault gives e's service a vault, to seal TOTP secrets.
func withVault(t *testing.T, e *env) *env {
	t.Helper()
	master, err := keys.GenerateMaster()
	if err != nil {
		t.Fatal(err)
	}
	e.svc = e.svc.WithVault(vault.New(keys.NewKeyring(master)))
	return e
}

// addPerson creates a user and sets their password through the link
// CreateUser made, enrolling totpSecret when the role needs it.
func (e *env) addPerson(t *testing.T, id string, role model.Role, unit, totpSecret string) {
	t.Helper()
	_, _, link, err := e.svc.CreateUser(ctx, e.admin, model.User{ID: id, DisplayName: "User " + id, Role: role, Unit: unit}, 0, noRetry)
	if err != nil {
		t.Fatalf("CreateUser(%s): %v", id, err)
	}
	in := identity.SetPassword{LinkSecret: link.Secret, Password: goodPassword}
	if totpSecret != "" {
		in.TOTPSecret, in.TOTPCode = totpSecret, totpCode(t, totpSecret, e.clock.Now())
	}
	if _, err := e.svc.SetPasswordWithLink(ctx, in); err != nil {
		t.Fatalf("SetPasswordWithLink(%s): %v", id, err)
	}
}

// addUpgradedAdmin makes an admin as the database holds them after the
// upgrade that made admins need a second factor: a password set, and no
// second factor enrolled. No role can be changed through the API, so the
// store is written.
func (e *env) addUpgradedAdmin(t *testing.T, id string) {
	t.Helper()
	e.addPerson(t, id, model.RoleCommuneWorker, communeUnit, "")
	err := e.store.Update(ctx, func(tx datastore.Tx) error {
		u, err := tx.User(id)
		if err != nil {
			return err
		}
		u.Role, u.Unit = model.RoleAdmin, model.OrgSystem
		return tx.UpdateUser(u)
	})
	if err != nil {
		t.Fatal(err)
	}
}

func totpCode(t *testing.T, secret string, at time.Time) string {
	t.Helper()
	c, err := identity.TOTPCode(secret, at)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func (e *env) storedUser(t *testing.T, id string) model.User {
	t.Helper()
	var u model.User
	err := e.store.View(ctx, func(tx datastore.ReadTx) error {
		var err error
		u, err = tx.User(id)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return u
}

func (e *env) signIn(userID, password, code string) (identity.Session, error) {
	return e.svc.SignInWithPassword(ctx, identity.PasswordSignIn{UserID: userID, Password: password, TOTPCode: code, Client: "192.0.2.7"})
}

func wantFieldError(t *testing.T, what string, err error, field, rule string) {
	t.Helper()
	var fe *model.FieldError
	if !errors.As(err, &fe) || fe.Field != field || fe.Rule != rule {
		t.Errorf("%s = %v, want field %q rule %q", what, err, field, rule)
	}
}

// Passwords are kept only as argon2id PHC strings with a salt of their own.
func TestPasswordStoredAsArgon2id(t *testing.T) {
	e := newSignInEnv(t)
	e.addPerson(t, "lan.nguyen", model.RoleCommuneWorker, communeUnit, "")
	e.addPerson(t, "minh.tran", model.RoleCommuneWorker, communeUnit, "")
	a, b := e.storedUser(t, "lan.nguyen").SignIn.PasswordHash, e.storedUser(t, "minh.tran").SignIn.PasswordHash
	if !strings.HasPrefix(a, "$argon2id$v=19$m=19456,t=2,p=1$") || strings.Contains(a, goodPassword) {
		t.Errorf("stored password %q, want an argon2id PHC string", a)
	}
	if a == b {
		t.Errorf("two users with one password have one hash %q: no salt", a)
	}
	if got, err := e.svc.GetUser(ctx, "lan.nguyen"); err != nil || got.SignIn.PasswordHash != "" {
		t.Errorf("GetUser shows the sign-in state: %+v, %v", got.SignIn, err)
	}
	s, err := e.signIn("lan.nguyen", goodPassword, "")
	if err != nil || s.User.ID != "lan.nguyen" || s.User.SignIn.PasswordHash != "" {
		t.Fatalf("sign-in = %+v, %v", s.User, err)
	}
	// The same password typed in another Unicode form is the same password.
	if _, err := e.signIn("lan.nguyen", norm.NFD.String(goodPassword), ""); err != nil {
		t.Errorf("sign-in with the NFD form: %v", err)
	}
	if _, err := e.signIn("lan.nguyen", goodPassword+"x", ""); !errors.Is(err, identity.ErrSignInRefused) {
		t.Errorf("wrong password: %v, want ErrSignInRefused", err)
	}
}

func TestPasswordPolicy(t *testing.T) {
	e := newSignInEnv(t)
	tests := []struct {
		name, password, rule string
	}{
		{"eleven runes", "Mật khẩu ng", "password.min_length"},
		{"eleven runes, more in NFD", norm.NFD.String("Mật khẩu ng"), "password.min_length"},
		{"the user id", "NGUYEN.THI.LAN", "password.not_user_id"},
		// Spaces around it, or the id typed in full width, are no
		// other password to a guesser who tries the user id.
		{"the user id with spaces around it", "  nguyen.thi.lan\u00a0 ", "password.not_user_id"},
		{"the user id in full width", "ｎｇｕｙｅｎ．ｔｈｉ．ｌａｎ", "password.not_user_id"},
		{"too long", strings.Repeat("ư", identity.MaxPasswordBytes), "password.max_length"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, link, err := e.svc.CreateUser(ctx, e.admin, model.User{ID: "nguyen.thi.lan", DisplayName: "Lan", Role: model.RoleCommuneWorker, Unit: communeUnit}, 0, noRetry)
			if err != nil && !errors.Is(err, model.ErrAlreadyExists) {
				t.Fatal(err)
			}
			if err != nil {
				if link, err = e.svc.ResetPassword(ctx, e.admin, "nguyen.thi.lan", noRetry); err != nil {
					t.Fatal(err)
				}
			}
			_, err = e.svc.SetPasswordWithLink(ctx, identity.SetPassword{LinkSecret: link.Secret, Password: tt.password})
			wantFieldError(t, "SetPasswordWithLink", err, "password", tt.rule)
			// The refused password did not use the link up.
			if _, _, err := e.svc.LinkUser(ctx, link.Secret, "test"); err != nil {
				t.Errorf("after a refused password the link is gone: %v", err)
			}
		})
	}
	if err := identity.CheckPassword("lan", "Mật khẩu ngắ"); err != nil {
		t.Errorf("twelve runes refused: %v", err)
	}
}

// A link is used once, expires after PasswordLinkTTL, is replaced by a
// reset, and never authenticates a call.
func TestPasswordLinkSingleUseAndExpiry(t *testing.T) {
	e := newSignInEnv(t)
	_, _, link, err := e.svc.CreateUser(ctx, e.admin, model.User{ID: "lan.nguyen", DisplayName: "Lan", Role: model.RoleCommuneWorker, Unit: communeUnit}, 0, noRetry)
	if err != nil {
		t.Fatal(err)
	}
	if !link.ExpireTime.Equal(start.Add(identity.PasswordLinkTTL)) || !strings.HasPrefix(link.Secret, "pw_") {
		t.Errorf("link %+v", link)
	}
	if _, _, err := e.svc.Authenticate(ctx, link.Secret); !errors.Is(err, identity.ErrUnauthenticated) {
		t.Errorf("a link as a bearer token: %v", err)
	}
	if u, totp, err := e.svc.LinkUser(ctx, link.Secret, "test"); err != nil || u.ID != "lan.nguyen" || totp {
		t.Fatalf("LinkUser = %s %v %v", u.ID, totp, err)
	}
	set := identity.SetPassword{LinkSecret: link.Secret, Password: goodPassword}
	if _, err := e.svc.SetPasswordWithLink(ctx, set); err != nil {
		t.Fatal(err)
	}
	set.Password = "another long password"
	if _, err := e.svc.SetPasswordWithLink(ctx, set); !errors.Is(err, model.ErrNotFound) {
		t.Errorf("a used link again: %v, want ErrNotFound", err)
	}
	if _, err := e.signIn("lan.nguyen", goodPassword, ""); err != nil {
		t.Errorf("the first password no longer works: %v", err)
	}

	old, err := e.svc.ResetPassword(ctx, e.admin, "lan.nguyen", noRetry)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.signIn("lan.nguyen", goodPassword, ""); !errors.Is(err, identity.ErrSignInRefused) {
		t.Errorf("sign-in after a reset: %v, want refused", err)
	}
	link, err = e.svc.ResetPassword(ctx, e.admin, "lan.nguyen", noRetry)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := e.svc.LinkUser(ctx, old.Secret, "test"); !errors.Is(err, model.ErrNotFound) {
		t.Errorf("a link replaced by a reset: %v, want ErrNotFound", err)
	}
	e.clock.Advance(identity.PasswordLinkTTL - time.Second)
	if _, _, err := e.svc.LinkUser(ctx, link.Secret, "test"); err != nil {
		t.Errorf("a link a second before it expires: %v", err)
	}
	e.clock.Advance(time.Second)
	if _, err := e.svc.SetPasswordWithLink(ctx, identity.SetPassword{LinkSecret: link.Secret, Password: goodPassword}); !errors.Is(err, model.ErrNotFound) {
		t.Errorf("an expired link: %v, want ErrNotFound", err)
	}
	for _, bad := range []string{"", "pw_", link.Secret[:len(link.Secret)-1] + "A", strings.Replace(link.Secret, "pw_", "cc_", 1)} {
		if _, _, err := e.svc.LinkUser(ctx, bad, "test"); !errors.Is(err, model.ErrNotFound) {
			t.Errorf("LinkUser(%q) = %v, want ErrNotFound", bad, err)
		}
	}
}

// A role that needs a second factor enrols a TOTP secret with a code of
// it; the secret is stored sealed, and a code is accepted once.
func TestTOTPEnrolmentAndReplay(t *testing.T) {
	e := newSignInEnv(t)
	_, _, link, err := e.svc.CreateUser(ctx, e.admin, model.User{ID: "thu.hoang", DisplayName: "Thu", Role: model.RoleCityOfficer, Unit: cityUnit}, 0, noRetry)
	if err != nil {
		t.Fatal(err)
	}
	if _, needs, err := e.svc.LinkUser(ctx, link.Secret, "test"); err != nil || !needs {
		t.Fatalf("LinkUser of a city officer: needs TOTP %v, %v", needs, err)
	}
	key, err := identity.NewTOTPKey("thu.hoang")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(key.URL, "otpauth://totp/") || len(key.QRPNG) < 8 || string(key.QRPNG[1:4]) != "PNG" {
		t.Errorf("key URL %q, QR of %d bytes", key.URL, len(key.QRPNG))
	}
	set := identity.SetPassword{LinkSecret: link.Secret, Password: goodPassword}
	_, err = e.svc.SetPasswordWithLink(ctx, set)
	wantFieldError(t, "without a TOTP secret", err, "totp_secret", "required")
	set.TOTPSecret = "NOT*BASE32"
	_, err = e.svc.SetPasswordWithLink(ctx, set)
	wantFieldError(t, "with a bad TOTP secret", err, "totp_secret", "totp.secret")
	set.TOTPSecret, set.TOTPCode = key.Secret, "000000"
	if totpCode(t, key.Secret, start) == "000000" {
		set.TOTPCode = "111111"
	}
	_, err = e.svc.SetPasswordWithLink(ctx, set)
	wantFieldError(t, "with a wrong code", err, "totp_code", "totp.code")
	set.TOTPCode = totpCode(t, key.Secret, start)
	if _, err := e.svc.SetPasswordWithLink(ctx, set); err != nil {
		t.Fatal(err)
	}
	stored := e.storedUser(t, "thu.hoang").SignIn.TOTP
	if stored.KeyID == "" || strings.Contains(string(stored.Data), key.Secret) {
		t.Errorf("the TOTP secret is not stored sealed: %+v", stored)
	}

	if _, err := e.signIn("thu.hoang", goodPassword, ""); !errors.Is(err, identity.ErrSecondFactorNeeded) {
		t.Errorf("right password, no code: %v, want ErrSecondFactorNeeded", err)
	}
	// The enrolment used this step's code: it is not accepted again.
	if _, err := e.signIn("thu.hoang", goodPassword, totpCode(t, key.Secret, start)); !errors.Is(err, identity.ErrSignInRefused) {
		t.Errorf("the enrolment's code again: %v, want refused", err)
	}
	e.clock.Advance(30 * time.Second)
	code := totpCode(t, key.Secret, e.clock.Now())
	if _, err := e.signIn("thu.hoang", goodPassword, code); err != nil {
		t.Fatalf("a fresh code: %v", err)
	}
	if _, err := e.signIn("thu.hoang", goodPassword, code); !errors.Is(err, identity.ErrSignInRefused) {
		t.Errorf("a code used twice: %v, want refused", err)
	}
	// The next step's code is accepted a step early (clock skew), the one
	// after is not.
	if _, err := e.signIn("thu.hoang", goodPassword, totpCode(t, key.Secret, e.clock.Now().Add(60*time.Second))); !errors.Is(err, identity.ErrSignInRefused) {
		t.Errorf("a code two steps ahead: %v, want refused", err)
	}
	if _, err := e.signIn("thu.hoang", goodPassword, totpCode(t, key.Secret, e.clock.Now().Add(30*time.Second))); err != nil {
		t.Errorf("a code one step ahead: %v", err)
	}
}

// Five failures in a row lock the account for 15 minutes, and it then
// answers a right password as a wrong one; a success resets the count.
func TestLockOut(t *testing.T) {
	e := newSignInEnv(t)
	e.addPerson(t, "lan.nguyen", model.RoleCommuneWorker, communeUnit, "")
	wrong := func(n int) {
		t.Helper()
		for range n {
			if _, err := e.signIn("lan.nguyen", "wrong password!", ""); !errors.Is(err, identity.ErrSignInRefused) {
				t.Fatalf("wrong password: %v", err)
			}
		}
	}
	wrong(identity.MaxSignInFailures - 1)
	if _, err := e.signIn("lan.nguyen", goodPassword, ""); err != nil {
		t.Fatalf("after %d failures: %v", identity.MaxSignInFailures-1, err)
	}
	wrong(identity.MaxSignInFailures - 1) // the success reset the count
	if _, err := e.signIn("lan.nguyen", goodPassword, ""); err != nil {
		t.Fatalf("the count was not reset by a success: %v", err)
	}
	wrong(identity.MaxSignInFailures)
	_, locked := e.signIn("lan.nguyen", goodPassword, "")
	_, wrongErr := e.signIn("nobody.here", "wrong password!", "")
	if !errors.Is(locked, identity.ErrSignInRefused) || !errors.Is(wrongErr, identity.ErrSignInRefused) {
		t.Fatalf("locked account: %v; unknown user: %v; want both ErrSignInRefused", locked, wrongErr)
	}
	e.clock.Advance(identity.LockOutDuration - time.Second)
	if _, err := e.signIn("lan.nguyen", goodPassword, ""); !errors.Is(err, identity.ErrSignInRefused) {
		t.Errorf("a second before the lock ends: %v", err)
	}
	e.clock.Advance(time.Second)
	if _, err := e.signIn("lan.nguyen", goodPassword, ""); err != nil {
		t.Errorf("after the lock: %v", err)
	}
}

// A user id is taken at sign-in as the person's phone or input method
// typed it: with a capital (a phone's keyboard starts with one), in
// capitals, with spaces around it or in full width. Every user id is of
// a-z, 0-9 and . _ - (CreateUser), so each such form is one user's id
// and no other's: before, it was refused as an unknown id, and its wrong
// passwords counted toward no lock-out.
func TestSignInTakesTheUserIDAsTyped(t *testing.T) {
	e := newSignInEnv(t)
	e.addPerson(t, "lan.nguyen", model.RoleCommuneWorker, communeUnit, "")
	for _, typed := range []string{"Lan.nguyen", "LAN.NGUYEN", " lan.nguyen\t", "ｌａｎ．ｎｇｕｙｅｎ"} {
		ses, err := e.signIn(typed, goodPassword, "")
		if err != nil {
			t.Errorf("sign-in as %q: %v", typed, err)
			continue
		}
		if ses.User.ID != "lan.nguyen" || ses.Token.Token.UserID != "lan.nguyen" {
			t.Errorf("sign-in as %q: user %q, session of %q, want lan.nguyen", typed, ses.User.ID, ses.Token.Token.UserID)
		}
	}
	// Wrong passwords under another form of the id are the account's.
	for range identity.MaxSignInFailures {
		if _, err := e.signIn("LAN.NGUYEN", "wrong password!", ""); !errors.Is(err, identity.ErrSignInRefused) {
			t.Fatalf("wrong password: %v", err)
		}
	}
	if got := e.storedUser(t, "lan.nguyen").SignIn.LockedUntil; !got.After(e.clock.Now()) {
		t.Errorf("%d wrong passwords as LAN.NGUYEN did not lock lan.nguyen (locked until %v)", identity.MaxSignInFailures, got)
	}
}

// The longest id there can be, typed in full width with spaces around,
// folds; what is longer is not folded (NFKC writes some letters as 18)
// and is no one's.
func TestCanonicalUserIDFoldsNoMoreThanAnIDTyped(t *testing.T) {
	id := "a" + strings.Repeat("b", 62)
	wide := "  " + strings.Map(func(r rune) rune { return r - 'a' + 'ａ' }, id) + "\t"
	if got := identity.CanonicalUserID(wide); got != id {
		t.Errorf("the longest id typed in full width (%d bytes) folds to %q, want %q", len(wide), got, id)
	}
	long := strings.Repeat("\uFDFA", identity.MaxTypedUserID/3+1)
	if got := identity.CanonicalUserID(long); got != "" {
		t.Errorf("%d bytes typed fold to %d bytes, want none", len(long), len(got))
	}
}

// A sign-in of an unknown user id writes nothing: guessing names cannot
// grow the database.
func TestSignInUnknownUserWritesNothing(t *testing.T) {
	e := newSignInEnv(t)
	e.addPerson(t, "lan.nguyen", model.RoleCommuneWorker, communeUnit, "")
	before := e.events(t)
	for i := range 3 {
		if _, err := e.signIn(fmt.Sprintf("guess.%d", i), goodPassword, ""); !errors.Is(err, identity.ErrSignInRefused) {
			t.Fatalf("unknown user: %v", err)
		}
	}
	if n, err := countUsers(e); err != nil || n != 1 {
		t.Errorf("%d users after guesses, want 1 (%v)", n, err)
	}
	if after := e.events(t); len(after) != len(before) {
		t.Errorf("%d audit events appended by guesses before their window ended, want 0", len(after)-len(before))
	}
}

// Sign-in and sign-out are an event each; a session token authenticates
// until it ends, and is not listed as an API token.
func TestSessionSignInAndOut(t *testing.T) {
	e := newSignInEnv(t)
	e.addPerson(t, "lan.nguyen", model.RoleCommuneWorker, communeUnit, "")
	before := len(e.events(t))
	s, err := e.signIn("lan.nguyen", goodPassword, "")
	if err != nil {
		t.Fatal(err)
	}
	if s.Token.Token.Kind != model.TokenSession || !s.Token.Token.ExpireTime.Equal(start.Add(identity.SessionTTL)) {
		t.Errorf("session token %+v", s.Token.Token)
	}
	if u, _, err := e.svc.Authenticate(ctx, s.Token.Secret); err != nil || u.ID != "lan.nguyen" {
		t.Errorf("Authenticate(session) = %s, %v", u.ID, err)
	}
	ts, _, err := e.svc.ListTokens(ctx, e.admin, "lan.nguyen", "", 100)
	if err != nil || len(ts) != 1 || ts[0].Kind != model.TokenAPI {
		t.Errorf("ListTokens = %+v, %v; want the API token only", ts, err)
	}
	if err := e.svc.EndSession(ctx, s.Token.Token.ID, "signed out"); err != nil {
		t.Fatal(err)
	}
	if err := e.svc.EndSession(ctx, s.Token.Token.ID, "signed out"); err != nil {
		t.Errorf("ending an ended session: %v", err)
	}
	if _, _, err := e.svc.Authenticate(ctx, s.Token.Secret); !errors.Is(err, identity.ErrUnauthenticated) {
		t.Errorf("Authenticate after sign-out: %v", err)
	}
	if err := e.svc.EndSession(ctx, ts[0].ID, "signed out"); !errors.Is(err, model.ErrNotFound) {
		t.Errorf("EndSession of an API token: %v, want ErrNotFound", err)
	}
	// The admin's list of tokens between them is the admin's event.
	events := slices.DeleteFunc(e.events(t)[before:], func(ev audit.Event) bool { return ev.Actor == e.admin.UserID })
	if len(events) != 2 || events[0].Action != "auth.sign_in" || events[1].Action != "auth.sign_out" ||
		events[0].Actor != "lan.nguyen" || events[1].Actor != "lan.nguyen" || events[1].Reason != "signed out" {
		t.Errorf("events %+v, want auth.sign_in and auth.sign_out by lan.nguyen, saying why", events)
	}
	// A reset ends the sessions.
	s, err = e.signIn("lan.nguyen", goodPassword, "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.ResetPassword(ctx, e.admin, "lan.nguyen", noRetry); err != nil {
		t.Fatal(err)
	}
	if _, _, err := e.svc.Authenticate(ctx, s.Token.Secret); !errors.Is(err, identity.ErrUnauthenticated) {
		t.Errorf("a session after ResetPassword: %v", err)
	}
	if ts, _, _ := e.svc.ListTokens(ctx, e.admin, "lan.nguyen", "", 100); len(ts) != 1 || !ts[0].RevokeTime.IsZero() {
		t.Errorf("ResetPassword touched the API token: %+v", ts)
	}
}

// Hammering one account and guessing many names grows the audit log by
// a bounded number of events, which still count every failure.
func TestSignInFailuresAuditBounded(t *testing.T) {
	e := newSignInEnv(t)
	e.addPerson(t, "lan.nguyen", model.RoleCommuneWorker, communeUnit, "")
	before := len(e.events(t))
	const onAccount, guesses = 20, 60
	for range onAccount {
		_, _ = e.signIn("lan.nguyen", "wrong password!", "")
	}
	for i := range guesses {
		_, _ = e.signIn(fmt.Sprintf("guess.%d", i), "wrong password!", "")
	}
	e.clock.Advance(auditlog.RefusalWindow)
	_, _ = e.signIn("guess.last", "wrong password!", "") // ends the window: its events are written
	events := e.events(t)[before:]
	// One event for the account, one for all unknown ids, one lock-out.
	if len(events) != 3 {
		t.Fatalf("%d audit events for %d failures, want 3: %+v", len(events), onAccount+guesses, events)
	}
	var counted, locks int
	for _, ev := range events {
		if ev.Outcome != audit.OutcomeDenied {
			t.Errorf("event %+v is not denied", ev)
		}
		if ev.Action == "auth.lock" {
			locks++
			continue
		}
		var n int
		if _, err := fmt.Sscanf(ev.Reason, "refused sign-ins: %d from", &n); err != nil {
			t.Fatalf("reason %q: %v", ev.Reason, err)
		}
		counted += n
	}
	if locks != 1 || counted != onAccount+guesses {
		t.Errorf("%d lock-outs and %d failures counted, want 1 and %d", locks, counted, onAccount+guesses)
	}
}

// TestTOTPQRCodeDrawsTheSameSecret: the QR code drawn again after a
// refused first code encodes the secret being enrolled, and a bad secret
// is refused naming the field.
func TestTOTPQRCodeDrawsTheSameSecret(t *testing.T) {
	k, err := identity.NewTOTPKey("city.officer")
	if err != nil {
		t.Fatal(err)
	}
	png, err := identity.TOTPQRCode("city.officer", k.Secret)
	if err != nil || len(png) < 8 || string(png[1:4]) != "PNG" {
		t.Fatalf("TOTPQRCode = %d bytes, %v; want a PNG", len(png), err)
	}
	var fe *model.FieldError
	if _, err := identity.TOTPQRCode("city.officer", "not base32!"); !errors.As(err, &fe) || fe.Field != "totp_secret" {
		t.Fatalf("TOTPQRCode of a bad secret: %v, want an error naming totp_secret", err)
	}
}

// The right password without the code its role needs is audited (as a
// refused sign-in, in its window's event) so that the auditor sees who
// knew the password and from where; it is never counted against the
// account.
func TestSecondFactorNeededIsAudited(t *testing.T) {
	e := newSignInEnv(t)
	key, err := identity.NewTOTPKey("thu.hoang")
	if err != nil {
		t.Fatal(err)
	}
	e.addPerson(t, "thu.hoang", model.RoleCityOfficer, cityUnit, key.Secret)
	before := len(e.events(t))
	if _, err := e.signIn("thu.hoang", goodPassword, ""); !errors.Is(err, identity.ErrSecondFactorNeeded) {
		t.Fatalf("right password, no code: %v, want ErrSecondFactorNeeded", err)
	}
	e.clock.Advance(auditlog.RefusalWindow)
	_, _ = e.signIn("nobody.here", "wrong password!", "") // ends the window: its events are written
	var asked bool
	for _, ev := range e.events(t)[before:] {
		asked = asked || (ev.Resource == "users/thu.hoang" && ev.Outcome == audit.OutcomeDenied &&
			strings.HasPrefix(ev.Reason, "refused sign-ins: 1 from ") && strings.Contains(ev.Reason, "second factor needed"))
	}
	if !asked {
		t.Errorf("the right password without its code left no audit event: %+v", e.events(t)[before:])
	}
	if u := e.storedUser(t, "thu.hoang"); u.SignIn.Failures != 0 {
		t.Errorf("the right password without its code counted %d failures, want 0", u.SignIn.Failures)
	}
}

// fullStore is a store whose writes, Batch's too, fail while full is set,
// as on a database whose reserve is used up.
type fullStore struct {
	datastore.Store
	full atomic.Bool
}

func (s *fullStore) Update(ctx context.Context, fn func(datastore.Tx) error) error {
	if s.full.Load() {
		return fmt.Errorf("test store: %w", model.ErrFull)
	}
	return s.Store.Update(ctx, fn)
}

func (s *fullStore) Batch(ctx context.Context, fn func(datastore.Tx) error) error {
	if s.full.Load() {
		return fmt.Errorf("test store: %w", model.ErrFull)
	}
	return s.Store.Batch(ctx, fn)
}

// Once not even the reserve takes a write, a wrong password cannot be
// counted toward the lock-out, so a guesser may try without end: no
// answer may then tell the right password from a wrong one. A wrong
// password answers as the right one does (model.ErrFull: the console's
// 503), and so do, after it, the right password without its code and an
// unknown user id; once writes go through again, a wrong password is
// refused and counted.
func TestSignInOnAFullDatabaseTellsNoPasswordRight(t *testing.T) {
	fs := &fullStore{Store: memstore.New()}
	t.Cleanup(func() { fs.Close() })
	e := withVault(t, newEnvOn(fs, ""))
	key, err := identity.NewTOTPKey("thu.hoang")
	if err != nil {
		t.Fatal(err)
	}
	e.addPerson(t, "thu.hoang", model.RoleCityOfficer, cityUnit, key.Secret)
	e.addPerson(t, "lan.nguyen", model.RoleCommuneWorker, communeUnit, "")
	fs.full.Store(true)

	_, right := e.signIn("lan.nguyen", goodPassword, "")
	if !errors.Is(right, model.ErrFull) {
		t.Fatalf("the right password on a full database: %v, want ErrFull", right)
	}
	for i := range identity.MaxSignInFailures + 2 {
		if _, err := e.signIn("lan.nguyen", "not the password", ""); !errors.Is(err, model.ErrFull) {
			t.Errorf("wrong password %d on a full database: %v, want ErrFull as for the right one", i+1, err)
		}
	}
	if _, err := e.signIn("thu.hoang", "not the password", ""); !errors.Is(err, model.ErrFull) {
		t.Errorf("a wrong password of a role with a second factor: %v, want ErrFull", err)
	}
	if _, err := e.signIn("thu.hoang", goodPassword, ""); !errors.Is(err, model.ErrFull) {
		t.Errorf("the right password without its code on a full database: %v, want ErrFull as for a wrong one", err)
	}
	if _, err := e.signIn("no.such.user", "not the password", ""); !errors.Is(err, model.ErrFull) {
		t.Errorf("an unknown user id on a full database: %v, want ErrFull as for a known one", err)
	}
	// The console answers its unchecked refusals by it, as the checks.
	if !e.svc.SignInsFull() {
		t.Error("SignInsFull on a full database: false, want true")
	}

	fs.full.Store(false)
	if _, err := e.signIn("lan.nguyen", "not the password", ""); !errors.Is(err, identity.ErrSignInRefused) {
		t.Errorf("a wrong password once writes go through: %v, want refused", err)
	}
	if e.svc.SignInsFull() {
		t.Error("SignInsFull once writes go through: true, want false")
	}
	if u := e.storedUser(t, "lan.nguyen"); u.SignIn.Failures != 1 {
		t.Errorf("failures counted once writes go through: %d, want 1", u.SignIn.Failures)
	}
	if _, err := e.signIn("thu.hoang", goodPassword, ""); !errors.Is(err, identity.ErrSecondFactorNeeded) {
		t.Errorf("the right password without its code once writes go through: %v, want ErrSecondFactorNeeded", err)
	}
	if _, err := e.signIn("lan.nguyen", goodPassword, ""); err != nil {
		t.Errorf("the right password once writes go through: %v", err)
	}
}

// A call's principal names the token it was made with, and who created
// that token when it was not its user: an admin who created a token for
// someone was shown its secret. A console session is the user's own.
func TestTokenPrincipalNamesAnotherCreator(t *testing.T) {
	e := newSignInEnv(t)
	e.addPerson(t, "lan.nguyen", model.RoleCommuneWorker, communeUnit, "")
	s, err := e.signIn("lan.nguyen", goodPassword, "")
	if err != nil {
		t.Fatal(err)
	}
	issued, err := e.svc.CreateToken(ctx, e.admin, "lan.nguyen", 0, noRetry)
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name, secret, id, createdBy string
	}{
		{"a console session", s.Token.Secret, s.Token.Token.ID, ""},
		{"a token an admin created", issued.Secret, issued.Token.ID, e.admin.UserID},
	} {
		u, tok, err := e.svc.Authenticate(ctx, tt.secret)
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		p := identity.TokenPrincipal(u, tok, "req-1")
		if p.UserID != "lan.nguyen" || p.TokenID != tt.id || p.TokenCreatedBy != tt.createdBy {
			t.Errorf("%s: principal %+v, want token %s created by %q", tt.name, p, tt.id, tt.createdBy)
		}
		if ev := p.Event(start, "case.read", "cases/HN-2026-00001", "cases/HN-2026-00001", audit.OutcomeOK); ev.Token != tt.id || ev.TokenCreatedBy != tt.createdBy {
			t.Errorf("%s: its event names token %q created by %q", tt.name, ev.Token, ev.TokenCreatedBy)
		}
	}
}

// storedTokens returns the ids of every token stored for userID, of
// every kind.
func (e *env) storedTokens(t *testing.T, userID string) []string {
	t.Helper()
	var ids []string
	err := e.store.View(ctx, func(tx datastore.ReadTx) error {
		ts, err := tx.TokensOfUser(userID)
		for _, tok := range ts {
			ids = append(ids, tok.ID)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(ids)
	return ids
}

// A sign-in deletes its user's console sessions and set-password links
// that ended (signed out, expired, used) more than a day before, at most
// 50 at a time; sessions still live on another device, and API tokens,
// stay. Every sign-in left a session stored for ever before.
func TestSignInPrunesEndedSessionsAndLinks(t *testing.T) {
	e := newSignInEnv(t)
	e.addPerson(t, "lan.nguyen", model.RoleCommuneWorker, communeUnit, "") // an API token, and a link used now
	apiTokens, _, err := e.svc.ListTokens(ctx, e.admin, "lan.nguyen", "", 100)
	if err != nil || len(apiTokens) != 1 {
		t.Fatalf("ListTokens = %v, %v", apiTokens, err)
	}
	api := apiTokens[0].ID
	signIn := func() identity.Session {
		t.Helper()
		s, err := e.signIn("lan.nguyen", goodPassword, "")
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	signedOut := signIn()
	if err := e.svc.EndSession(ctx, signedOut.Token.Token.ID, "signed out"); err != nil {
		t.Fatal(err)
	}
	expiring := signIn() // ends in identity.SessionTTL
	if n := len(e.storedTokens(t, "lan.nguyen")); n != 4 {
		t.Fatalf("%d tokens stored, want the API token, the used link and two sessions", n)
	}

	e.clock.Advance(30 * time.Hour) // the link and the signed-out session ended 30 h ago; the other 18 h ago
	live := signIn()
	want := []string{api, expiring.Token.Token.ID, live.Token.Token.ID}
	slices.Sort(want)
	if got := e.storedTokens(t, "lan.nguyen"); !slices.Equal(got, want) {
		t.Errorf("tokens after a sign-in 30 h on = %v, want %v (API, the session ended 18 h ago, the new one)", got, want)
	}
	if _, _, err := e.svc.Authenticate(ctx, signedOut.Token.Secret); !errors.Is(err, identity.ErrUnauthenticated) {
		t.Errorf("Authenticate with a deleted session = %v, want ErrUnauthenticated", err)
	}

	e.clock.Advance(7 * time.Hour) // the expired session ended 25 h ago; live ends in 5 h
	latest := signIn()
	want = []string{api, live.Token.Token.ID, latest.Token.Token.ID}
	slices.Sort(want)
	if got := e.storedTokens(t, "lan.nguyen"); !slices.Equal(got, want) {
		t.Errorf("tokens after a sign-in 37 h on = %v, want %v", got, want)
	}
	if u, _, err := e.svc.Authenticate(ctx, live.Token.Secret); err != nil || u.ID != "lan.nguyen" {
		t.Errorf("a session still live on another device after the prune: %s, %v", u.ID, err)
	}

	// Sixty signed-out sessions take two sign-ins to go: a sign-in stays
	// a small write.
	for range 60 {
		if err := e.svc.EndSession(ctx, signIn().Token.Token.ID, "signed out"); err != nil {
			t.Fatal(err)
		}
	}
	e.clock.Advance(48 * time.Hour) // 62 ended sessions, the API token
	first := signIn()
	if n := len(e.storedTokens(t, "lan.nguyen")); n != 64-50 {
		t.Errorf("%d tokens after one sign-in, want %d: 50 of the 62 ended sessions pruned", n, 64-50)
	}
	last := signIn()
	want = []string{api, first.Token.Token.ID, last.Token.Token.ID}
	slices.Sort(want)
	if got := e.storedTokens(t, "lan.nguyen"); !slices.Equal(got, want) {
		t.Errorf("tokens after the next sign-in = %v, want %v", got, want)
	}
}

// deleteCountingTx counts the tokens a body deletes
// (storagetest.SmallCommits).
type deleteCountingTx struct {
	datastore.Tx
	deleted *int
}

func (c deleteCountingTx) DeleteToken(id string) error {
	*c.deleted++
	return c.Tx.DeleteToken(id)
}

// On a store that commits less at once than a sign-in's pruning would
// delete (an etcd cluster with a small --max-txn-ops), the sign-in still
// goes through, pruning fewer; it was refused at every try.
func TestSignInPrunesWhatTheStoreCommits(t *testing.T) {
	mem := memstore.New()
	t.Cleanup(func() { mem.Close() })
	store := &storagetest.SmallCommits{Store: mem, Limit: 3, Count: func(tx datastore.Tx, n *int) datastore.Tx {
		return deleteCountingTx{Tx: tx, deleted: n}
	}}
	e := withVault(t, newEnvOn(store, ""))
	e.addPerson(t, "lan.nguyen", model.RoleCommuneWorker, communeUnit, "")
	for range 10 {
		s, err := e.signIn("lan.nguyen", goodPassword, "")
		if err != nil {
			t.Fatal(err)
		}
		if err := e.svc.EndSession(ctx, s.Token.Token.ID, "signed out"); err != nil {
			t.Fatal(err)
		}
	}
	before := len(e.storedTokens(t, "lan.nguyen")) // the API token, the used link, 10 sessions
	e.clock.Advance(48 * time.Hour)
	if _, err := e.signIn("lan.nguyen", goodPassword, ""); err != nil {
		t.Fatalf("a sign-in with 11 ended credentials on a store of small commits: %v", err)
	}
	if store.Refused == 0 {
		t.Fatal("no commit was refused: the test's limit does not bite")
	}
	if got := len(e.storedTokens(t, "lan.nguyen")); got != before+1-3 {
		t.Errorf("%d tokens after the sign-in, want %d: 3 pruned, 1 new", got, before+1-3)
	}
}

// TestAnAdminsPasswordWithoutASecondFactorNoLongerSignsIn: an admin who
// set a console password before admins needed a second factor has none
// enrolled. The password alone is refused as a wrong one is (no session,
// nothing said of the account); a new link enrols the factor with the
// password, and then the password and a code sign in.
func TestAnAdminsPasswordWithoutASecondFactorNoLongerSignsIn(t *testing.T) {
	e := newSignInEnv(t)
	e.addUpgradedAdmin(t, "ad.cu")
	if _, err := e.signIn("ad.cu", goodPassword, ""); !errors.Is(err, identity.ErrSignInRefused) {
		t.Fatalf("an admin's password without a second factor enrolled: %v, want ErrSignInRefused", err)
	}
	link, err := e.svc.ResetPassword(ctx, e.admin, "ad.cu", noRetry)
	if err != nil {
		t.Fatal(err)
	}
	_, err = e.svc.SetPasswordWithLink(ctx, identity.SetPassword{LinkSecret: link.Secret, Password: goodPassword})
	wantFieldError(t, "a new link's password without the second factor", err, "totp_secret", "required")
	key, err := identity.NewTOTPKey("ad.cu")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.SetPasswordWithLink(ctx, identity.SetPassword{LinkSecret: link.Secret, Password: goodPassword,
		TOTPSecret: key.Secret, TOTPCode: totpCode(t, key.Secret, e.clock.Now().Add(-30*time.Second))}); err != nil {
		t.Fatalf("the new link with the second factor: %v", err)
	}
	if _, err := e.signIn("ad.cu", goodPassword, totpCode(t, key.Secret, e.clock.Now())); err != nil {
		t.Errorf("the admin with the password and a code: %v, want signed in", err)
	}
}
