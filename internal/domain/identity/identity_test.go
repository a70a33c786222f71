package identity_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	berrors "go.etcd.io/bbolt/errors"

	"github.com/childcase/childcase/internal/domain/access"
	"github.com/childcase/childcase/internal/domain/audit"
	"github.com/childcase/childcase/internal/domain/clock"
	"github.com/childcase/childcase/internal/domain/datastore"
	"github.com/childcase/childcase/internal/domain/idempotency"
	"github.com/childcase/childcase/internal/domain/identity"
	"github.com/childcase/childcase/internal/domain/model"
	"github.com/childcase/childcase/internal/domain/units"
	"github.com/childcase/childcase/internal/domain/vntime"
	"github.com/childcase/childcase/internal/storage/boltstore"
	"github.com/childcase/childcase/internal/storage/memstore"
	"github.com/childcase/childcase/internal/storage/storagetest"
)

var ctx = context.Background()

// noRetry is the idempotency of a request without a request_id.
var noRetry = idempotency.Request{}

var start = time.Date(2026, 3, 10, 2, 0, 0, 0, time.UTC)

const (
	cityUnit     = "units/01@2020-01-01"
	districtUnit = "units/001@2020-01-01"
	communeUnit  = "units/00004@2025-07-01" // Phường Ba Đình, in force at start
	policeID     = "ca-phuong-truc-bach"
	policeUnit   = "policeUnits/" + policeID
)

var reg = func() *units.Registry {
	r, err := units.Load()
	if err != nil {
		panic(err)
	}
	return r
}()

type env struct {
	store datastore.Store
	path  string // the database file; "" for a store in memory
	clock *clock.Fake
	svc   *identity.Service
	admin access.Principal
}

// newEnv returns a service over a store in memory: the rules of identity do
// not depend on the database.
func newEnv(t *testing.T) *env {
	t.Helper()
	s := memstore.New()
	t.Cleanup(func() { s.Close() })
	return newEnvOn(s, "")
}

// newFileEnv returns a service over a bbolt file, for the tests that read
// what reaches the disk.
func newFileEnv(t *testing.T) *env {
	t.Helper()
	path := filepath.Join(t.TempDir(), "childcase.db")
	s, err := boltstore.Open(path, boltstore.Options{NoSync: true})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil && !errors.Is(err, berrors.ErrDatabaseNotOpen) {
			t.Errorf("Close: %v", err)
		}
	})
	return newEnvOn(s, path)
}

func newEnvOn(s datastore.Store, path string) *env {
	clk := clock.NewFake(start)
	return &env{
		store: s, path: path, clock: clk,
		svc:   identity.New(s, reg, clk, slog.New(slog.DiscardHandler)),
		admin: access.Principal{UserID: "ad.root", Role: model.RoleAdmin, Unit: model.OrgSystem, RequestID: "req-admin"},
	}
}

// createPoliceUnit registers the police unit fixture.
func (e *env) createPoliceUnit(t *testing.T) {
	t.Helper()
	_, err := e.svc.CreatePoliceUnit(ctx, e.admin, model.PoliceUnit{
		ID: policeID, DisplayName: "Công an phường Trúc Bạch",
		Covers: []units.Key{{Code: "00004", ValidFrom: mustDate("2025-07-01")}},
	}, noRetry)
	if err != nil {
		t.Fatalf("CreatePoliceUnit: %v", err)
	}
}

func (e *env) createUser(t *testing.T, id string, role model.Role, unit string) (model.User, identity.IssuedToken) {
	t.Helper()
	u, tok, _, err := e.svc.CreateUser(ctx, e.admin, model.User{ID: id, DisplayName: "User " + id, Role: role, Unit: unit}, 0, noRetry)
	if err != nil {
		t.Fatalf("CreateUser(%s): %v", id, err)
	}
	return u, tok
}

// events returns every audit event, oldest first, after checking the chain.
func (e *env) events(t *testing.T) []audit.Event {
	t.Helper()
	var out []audit.Event
	err := e.store.View(ctx, func(tx datastore.ReadTx) error {
		for ev, err := range tx.AuditEvents(1) {
			if err != nil {
				return err
			}
			out = append(out, ev)
		}
		seq, hash, err := tx.AuditHead()
		if err != nil {
			return err
		}
		_, problem, err := audit.VerifyHead(tx.AuditEvents(1), seq, hash)
		if err == nil && problem != nil {
			t.Errorf("audit chain broken: %s", problem)
		}
		return err
	})
	if err != nil {
		t.Fatalf("audit events: %v", err)
	}
	return out
}

type wantEvent struct{ actor, role, action, resource string }

func checkEvents(t *testing.T, got []audit.Event, want []wantEvent, requestID string, at time.Time) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%d audit events, want %d: %+v", len(got), len(want), got)
	}
	for i, w := range want {
		g := got[i]
		if g.Actor != w.actor || g.Role != w.role || g.Action != w.action || g.Resource != w.resource ||
			g.Outcome != audit.OutcomeOK || g.RequestID != requestID || !g.Time.Equal(at) || g.Case != "" {
			t.Errorf("event %d = %+v, want actor %s role %s action %s resource %s request %s at %v",
				i, g, w.actor, w.role, w.action, w.resource, requestID, at)
		}
	}
}

// linkID returns the id of the set-password link CreateUser made for a
// user.
func linkID(t *testing.T, e *env, userID string) string {
	t.Helper()
	var id string
	err := e.store.View(ctx, func(tx datastore.ReadTx) error {
		ts, err := tx.TokensOfUser(userID)
		for _, tk := range ts {
			if tk.Kind == model.TokenPasswordLink {
				id = tk.ID
			}
		}
		return err
	})
	if err != nil || id == "" {
		t.Fatalf("the link of %s: %q, %v", userID, id, err)
	}
	return id
}

func mustDate(s string) vntime.Date {
	d, err := vntime.ParseDate(s)
	if err != nil {
		panic(err)
	}
	return d
}

func TestCreateUser(t *testing.T) {
	e := newEnv(t)
	e.createPoliceUnit(t)
	tests := []struct {
		name     string
		user     model.User
		ttl      time.Duration
		wantTTL  time.Duration
		wantName string
	}{
		{"hotline operator, default ttl", model.User{ID: "op.lan", DisplayName: "Nguyễn Thị Lan", Role: model.RoleHotlineOperator, Unit: model.OrgHotline111, Phone: " 024 1234 5678 "},
			0, identity.DefaultTokenTTL, "Nguyễn Thị Lan"},
		{"supervisor of the centre, shortest ttl", model.User{ID: "sup.hoa", DisplayName: "Hoa", Role: model.RoleHotlineSupervisor, Unit: model.OrgSocialWorkCentre},
			time.Minute, time.Minute, "Hoa"},
		{"commune worker, longest ttl", model.User{ID: "cw.an", DisplayName: "An", Role: model.RoleCommuneWorker, Unit: communeUnit},
			identity.MaxTokenTTL, identity.MaxTokenTTL, "An"},
		{"commune chair", model.User{ID: "cc.binh", DisplayName: "Bình", Role: model.RoleCommuneChair, Unit: communeUnit}, 0, identity.DefaultTokenTTL, "Bình"},
		{"city officer", model.User{ID: "co.ha", DisplayName: "Hà", Role: model.RoleCityOfficer, Unit: cityUnit}, 0, identity.DefaultTokenTTL, "Hà"},
		{"police liaison of an existing unit", model.User{ID: "pl.khanh", DisplayName: "Khánh", Role: model.RolePoliceLiaison, Unit: policeUnit}, 0, identity.DefaultTokenTTL, "Khánh"},
		{"auditor of the city", model.User{ID: "au.mai", DisplayName: "Mai", Role: model.RoleAuditor, Unit: cityUnit}, 0, identity.DefaultTokenTTL, "Mai"},
		{"admin, disable time ignored", model.User{ID: "ad.oanh", DisplayName: "Oanh", Role: model.RoleAdmin, Unit: model.OrgSystem, DisableTime: start.Add(-time.Hour), CreateTime: start.Add(-time.Hour)},
			0, identity.DefaultTokenTTL, "Oanh"},
		{"display name trimmed and composed (NFC)", model.User{ID: "op.nfc", DisplayName: "  Nguye\u0302\u0303n  ", Role: model.RoleHotlineOperator, Unit: model.OrgHotline111},
			0, identity.DefaultTokenTTL, "Nguyễn"},
		{"shortest id", model.User{ID: "ab", DisplayName: "AB", Role: model.RoleHotlineOperator, Unit: model.OrgHotline111}, 0, identity.DefaultTokenTTL, "AB"},
		{"longest id", model.User{ID: "a" + strings.Repeat("b", 62), DisplayName: "Long", Role: model.RoleHotlineOperator, Unit: model.OrgHotline111}, 0, identity.DefaultTokenTTL, "Long"},
		{"id with every allowed character", model.User{ID: "a0._-z", DisplayName: "Chars", Role: model.RoleHotlineOperator, Unit: model.OrgHotline111}, 0, identity.DefaultTokenTTL, "Chars"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := len(e.events(t))
			u, tok, link, err := e.svc.CreateUser(ctx, e.admin, tt.user, tt.ttl, noRetry)
			if err != nil {
				t.Fatalf("CreateUser: %v", err)
			}
			if u.ID != tt.user.ID || u.DisplayName != tt.wantName || u.Role != tt.user.Role || u.Unit != tt.user.Unit ||
				u.Phone != strings.TrimSpace(tt.user.Phone) || !u.CreateTime.Equal(start) || !u.DisableTime.IsZero() || u.Disabled() {
				t.Errorf("CreateUser = %+v", u)
			}
			stored, err := e.svc.GetUser(ctx, tt.user.ID)
			if err != nil {
				t.Fatalf("GetUser: %v", err)
			}
			if !reflect.DeepEqual(stored, u) {
				t.Errorf("stored user = %+v, returned %+v", stored, u)
			}
			if tok.Token.UserID != u.ID || !tok.Token.CreateTime.Equal(start) || !tok.Token.ExpireTime.Equal(start.Add(tt.wantTTL)) ||
				!tok.Token.RevokeTime.IsZero() || len(tok.Token.ID) != 16 {
				t.Errorf("token = %+v, want one of %s expiring %v", tok.Token, u.ID, start.Add(tt.wantTTL))
			}
			if want := "cc_" + tok.Token.ID + "_"; !strings.HasPrefix(tok.Secret, want) || len(tok.Secret) != len(want)+43 {
				t.Errorf("secret %q does not have the form cc_<id>_<43 chars>", tok.Secret)
			}
			got, _, err := e.svc.Authenticate(ctx, tok.Secret)
			if err != nil || !reflect.DeepEqual(got, u) {
				t.Errorf("Authenticate(first token) = %+v, %v; want %+v", got, err, u)
			}
			checkEvents(t, e.events(t)[before:], []wantEvent{
				{"ad.root", "ADMIN", "user.create", "users/" + u.ID},
				{"ad.root", "ADMIN", "token.create", "users/" + u.ID + "/tokens/" + tok.Token.ID},
				{"ad.root", "ADMIN", "password_link.create", "users/" + u.ID + "/tokens/" + link.Secret[len("pw_"):len("pw_")+16]},
			}, "req-admin", start)
		})
	}
}

func TestCreateUserInvalid(t *testing.T) {
	e := newEnv(t)
	e.createPoliceUnit(t)
	valid := model.User{ID: "op.lan", DisplayName: "Lan", Role: model.RoleHotlineOperator, Unit: model.OrgHotline111}
	with := func(f func(u *model.User)) model.User {
		u := valid
		f(&u)
		return u
	}
	tests := []struct {
		name      string
		user      model.User
		ttl       time.Duration
		wantField string
		wantRule  string
	}{
		{"empty id", with(func(u *model.User) { u.ID = "" }), 0, "user_id", "user.id"},
		{"one-character id", with(func(u *model.User) { u.ID = "a" }), 0, "user_id", "user.id"},
		{"id of 64 characters", with(func(u *model.User) { u.ID = "a" + strings.Repeat("b", 63) }), 0, "user_id", "user.id"},
		{"upper-case id", with(func(u *model.User) { u.ID = "Lan" }), 0, "user_id", "user.id"},
		{"id starting with a digit", with(func(u *model.User) { u.ID = "1lan" }), 0, "user_id", "user.id"},
		{"id starting with a dot", with(func(u *model.User) { u.ID = ".lan" }), 0, "user_id", "user.id"},
		{"id with a space", with(func(u *model.User) { u.ID = "lan nguyen" }), 0, "user_id", "user.id"},
		{"id with a slash", with(func(u *model.User) { u.ID = "lan/x" }), 0, "user_id", "user.id"},
		{"id with a NUL", with(func(u *model.User) { u.ID = "lan\x00x" }), 0, "user_id", "user.id"},
		{"id with a newline", with(func(u *model.User) { u.ID = "lan\n" }), 0, "user_id", "user.id"},
		{"the service's own name", with(func(u *model.User) { u.ID = "system" }), 0, "user_id", "user.id_reserved"},
		{"id with a non-ASCII letter", with(func(u *model.User) { u.ID = "lân" }), 0, "user_id", "user.id"},
		{"missing display name", with(func(u *model.User) { u.DisplayName = "" }), 0, "user.display_name", "required"},
		{"blank display name", with(func(u *model.User) { u.DisplayName = " \t\n " }), 0, "user.display_name", "required"},
		// Given, but naming no one: the rule is not "required", which
		// would tell the person who typed it that the field is empty.
		{"invisible display name", with(func(u *model.User) { u.DisplayName = "\u200b\u2060" }), 0, "user.display_name", "display_name.letter_or_digit"},
		{"display name of punctuation", with(func(u *model.User) { u.DisplayName = "-- ." }), 0, "user.display_name", "display_name.letter_or_digit"},
		// The API's schema bounds these too; `users add` reaches the
		// domain without it.
		{"display name over 200 characters", with(func(u *model.User) { u.DisplayName = strings.Repeat("ễ", 201) }), 0, "user.display_name", "string.max_len"},
		{"phone over 40 characters", with(func(u *model.User) { u.Phone = strings.Repeat("0", 41) }), 0, "user.phone", "string.max_len"},
		// So is a control character: an escape sequence typed into
		// `users add --name` reached every terminal that lists the users.
		{"display name with an escape sequence", with(func(u *model.User) { u.DisplayName = "Lan\x1b[31m" }), 0, "user.display_name", "string.no_control"},
		{"display name with a bidirectional override", with(func(u *model.User) { u.DisplayName = "Lan\u202e" }), 0, "user.display_name", "string.no_control"},
		// And a tower of combining marks, which the console draws over the
		// lines above the name (the API's string.stacked_marks).
		{"display name under a tower of marks", with(func(u *model.User) { u.DisplayName = "Lan" + strings.Repeat("\u0301", 100) }), 0, "user.display_name", "string.stacked_marks"},
		{"display name under marks parted by zero-width spaces", with(func(u *model.User) { u.DisplayName = "Lan" + strings.Repeat("\u0301\u0302\u200b", 20) }), 0, "user.display_name", "string.stacked_marks"},
		{"phone with a NUL", with(func(u *model.User) { u.Phone = "0912\x00345" }), 0, "user.phone", "string.no_control"},
		// The police call the officer on it: a phone that is no number
		// is refused by intake's rule (search.PhoneNumber), naming it.
		{"phone that is a word", with(func(u *model.User) { u.Phone = "call the office" }), 0, "user.phone", "phone.number"},
		{"phone short of a digit", with(func(u *model.User) { u.Phone = "024 3825 000" }), 0, "user.phone", "phone.number"},
		{"mobile with a digit too many", with(func(u *model.User) { u.Phone = "0912 345 6789" }), 0, "user.phone", "phone.number"},
		{"phone with a note", with(func(u *model.User) { u.Phone = "0912 345 678 (giờ hành chính)" }), 0, "user.phone", "phone.number"},
		{"no role", with(func(u *model.User) { u.Role = 0 }), 0, "user.role", "user.role"},
		{"unknown role", with(func(u *model.User) { u.Role = 42 }), 0, "user.role", "user.role"},
		{"operator in a commune", with(func(u *model.User) { u.Unit = communeUnit }), 0, "user.unit", "user.unit_for_role"},
		{"operator without unit", with(func(u *model.User) { u.Unit = "" }), 0, "user.unit", "user.unit_for_role"},
		{"commune worker in a district", with(func(u *model.User) { u.Role, u.Unit = model.RoleCommuneWorker, districtUnit }), 0, "user.unit", "user.unit_for_role"},
		{"commune worker in a commune that does not exist", with(func(u *model.User) { u.Role, u.Unit = model.RoleCommuneWorker, "units/99999@2020-01-01" }), 0, "user.unit", "user.unit_for_role"},
		{"district officer in a commune", with(func(u *model.User) { u.Role, u.Unit = model.RoleDistrictOfficer, communeUnit }), 0, "user.unit", "user.unit_for_role"},
		{"city officer in a district", with(func(u *model.User) { u.Role, u.Unit = model.RoleCityOfficer, districtUnit }), 0, "user.unit", "user.unit_for_role"},
		{"admin of the hotline", with(func(u *model.User) { u.Role = model.RoleAdmin }), 0, "user.unit", "user.unit_for_role"},
		{"auditor of a commune", with(func(u *model.User) { u.Role, u.Unit = model.RoleAuditor, communeUnit }), 0, "user.unit", "user.unit_for_role"},
		{"police liaison in a commune", with(func(u *model.User) { u.Role, u.Unit = model.RolePoliceLiaison, communeUnit }), 0, "user.unit", "user.unit_for_role"},
		{"police unit that does not exist", with(func(u *model.User) { u.Role, u.Unit = model.RolePoliceLiaison, "policeUnits/ca-ghost" }), 0, "user.unit", "reference.exists"},
		{"police unit with an empty id", with(func(u *model.User) { u.Role, u.Unit = model.RolePoliceLiaison, "policeUnits/" }), 0, "user.unit", "reference.exists"},
		{"ttl of 59 seconds", valid, 59 * time.Second, "token_ttl", "token.ttl"},
		{"ttl of 1 nanosecond", valid, time.Nanosecond, "token_ttl", "token.ttl"},
		{"negative ttl", valid, -time.Hour, "token_ttl", "token.ttl"},
		{"ttl over the maximum", valid, identity.MaxTokenTTL + time.Second, "token_ttl", "token.ttl"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := len(e.events(t))
			_, tok, _, err := e.svc.CreateUser(ctx, e.admin, tt.user, tt.ttl, noRetry)
			var fe *model.FieldError
			if !errors.As(err, &fe) {
				t.Fatalf("CreateUser = %v, want a *model.FieldError", err)
			}
			if fe.Field != tt.wantField || fe.Rule != tt.wantRule {
				t.Errorf("CreateUser: field %q rule %q (%v), want field %q rule %q", fe.Field, fe.Rule, err, tt.wantField, tt.wantRule)
			}
			if tok.Secret != "" || tok.Token.ID != "" {
				t.Errorf("CreateUser failed but returned a token: %+v", tok)
			}
			if n, err := countUsers(e); err != nil || n != 0 {
				t.Errorf("%d users after a failed CreateUser (%v), want 0", n, err)
			}
			if after := len(e.events(t)); after != before {
				t.Errorf("a failed CreateUser appended %d audit events", after-before)
			}
		})
	}
}

func countUsers(e *env) (int, error) {
	var n int
	err := e.store.View(ctx, func(tx datastore.ReadTx) error {
		var err error
		n, err = tx.CountUsers()
		return err
	})
	return n, err
}

func TestCreateUserDuplicate(t *testing.T) {
	e := newEnv(t)
	_, first := e.createUser(t, "op.lan", model.RoleHotlineOperator, model.OrgHotline111)
	before := len(e.events(t))
	_, _, _, err := e.svc.CreateUser(ctx, e.admin, model.User{ID: "op.lan", DisplayName: "Other", Role: model.RoleCityOfficer, Unit: cityUnit}, 0, noRetry)
	if !errors.Is(err, model.ErrAlreadyExists) {
		t.Fatalf("second CreateUser = %v, want ErrAlreadyExists", err)
	}
	u, err := e.svc.GetUser(ctx, "op.lan")
	if err != nil || u.Role != model.RoleHotlineOperator || u.DisplayName != "User op.lan" {
		t.Errorf("user after a duplicate create = %+v, %v", u, err)
	}
	if after := len(e.events(t)); after != before {
		t.Errorf("a duplicate CreateUser appended %d audit events", after-before)
	}
	ts, _, err := e.svc.ListTokens(ctx, e.admin, "op.lan", "", 100)
	if err != nil || len(ts) != 1 || ts[0].ID != first.Token.ID {
		t.Errorf("tokens after a duplicate create = %+v, %v; want only the first", ts, err)
	}
}

func TestAuthenticate(t *testing.T) {
	flip := func(s string) string {
		b := []byte(s)
		if b[len(b)-1] == 'A' {
			b[len(b)-1] = 'B'
		} else {
			b[len(b)-1] = 'A'
		}
		return string(b)
	}
	tests := []struct {
		name string
		// bearer returns the token to present, after changing the state.
		bearer func(t *testing.T, e *env, tok identity.IssuedToken) string
		ok     bool
		why    string // in the error text, for the audit log
	}{
		{"valid token", func(t *testing.T, e *env, tok identity.IssuedToken) string { return tok.Secret }, true, ""},
		{"valid one nanosecond before expiry", func(t *testing.T, e *env, tok identity.IssuedToken) string {
			e.clock.Set(tok.Token.ExpireTime.Add(-time.Nanosecond))
			return tok.Secret
		}, true, ""},
		{"empty", func(*testing.T, *env, identity.IssuedToken) string { return "" }, false, "malformed"},
		{"with Bearer prefix", func(_ *testing.T, _ *env, tok identity.IssuedToken) string { return "Bearer " + tok.Secret }, false, "malformed"},
		{"without the cc_ prefix", func(_ *testing.T, _ *env, tok identity.IssuedToken) string {
			return strings.TrimPrefix(tok.Secret, "cc_")
		}, false, "malformed"},
		{"upper-case prefix", func(_ *testing.T, _ *env, tok identity.IssuedToken) string { return "CC_" + tok.Secret[3:] }, false, "malformed"},
		{"no secret", func(_ *testing.T, _ *env, tok identity.IssuedToken) string { return "cc_" + tok.Token.ID }, false, "malformed"},
		{"secret one character short", func(_ *testing.T, _ *env, tok identity.IssuedToken) string { return tok.Secret[:len(tok.Secret)-1] }, false, "malformed"},
		{"secret one character long", func(_ *testing.T, _ *env, tok identity.IssuedToken) string { return tok.Secret + "A" }, false, "malformed"},
		{"id not hex", func(_ *testing.T, _ *env, tok identity.IssuedToken) string {
			return "cc_" + "zz" + tok.Token.ID[2:] + tok.Secret[len("cc_")+16:]
		}, false, "malformed"},
		{"id too short", func(_ *testing.T, _ *env, tok identity.IssuedToken) string {
			return "cc_" + tok.Token.ID[1:] + tok.Secret[len("cc_")+16:]
		}, false, "malformed"},
		{"unknown id", func(_ *testing.T, _ *env, tok identity.IssuedToken) string {
			id := "0000000000000000"
			if tok.Token.ID == id {
				id = "1111111111111111"
			}
			return "cc_" + id + tok.Secret[len("cc_")+16:]
		}, false, "unknown token"},
		{"wrong secret (one character flipped)", func(_ *testing.T, _ *env, tok identity.IssuedToken) string { return flip(tok.Secret) }, false, "wrong secret"},
		{"wrong secret (first character flipped)", func(_ *testing.T, _ *env, tok identity.IssuedToken) string {
			i := len("cc_") + 17
			b := []byte(tok.Secret)
			if b[i] == 'x' {
				b[i] = 'y'
			} else {
				b[i] = 'x'
			}
			return string(b)
		}, false, "wrong secret"},
		{"secret of another token", func(t *testing.T, e *env, tok identity.IssuedToken) string {
			other, err := e.svc.CreateToken(ctx, e.admin, tok.Token.UserID, 0, noRetry)
			if err != nil {
				t.Fatal(err)
			}
			return "cc_" + tok.Token.ID + other.Secret[len("cc_")+16:]
		}, false, "wrong secret"},
		{"expired exactly at expiry", func(_ *testing.T, e *env, tok identity.IssuedToken) string {
			e.clock.Set(tok.Token.ExpireTime)
			return tok.Secret
		}, false, "expired"},
		{"expired a day later", func(_ *testing.T, e *env, tok identity.IssuedToken) string {
			e.clock.Advance(identity.DefaultTokenTTL + 24*time.Hour)
			return tok.Secret
		}, false, "expired"},
		{"revoked", func(t *testing.T, e *env, tok identity.IssuedToken) string {
			if _, err := e.svc.RevokeToken(ctx, e.admin, tok.Token.UserID, tok.Token.ID, noRetry); err != nil {
				t.Fatal(err)
			}
			return tok.Secret
		}, false, "revoked"},
		{"user disabled with DisableUser", func(t *testing.T, e *env, tok identity.IssuedToken) string {
			if _, err := e.svc.DisableUser(ctx, e.admin, tok.Token.UserID, noRetry); err != nil {
				t.Fatal(err)
			}
			return tok.Secret
		}, false, "revoked"},
		{"user disabled, token left valid", func(t *testing.T, e *env, tok identity.IssuedToken) string {
			err := e.store.Update(ctx, func(tx datastore.Tx) error {
				u, err := tx.User(tok.Token.UserID)
				if err != nil {
					return err
				}
				u.DisableTime = e.clock.Now()
				return tx.UpdateUser(u)
			})
			if err != nil {
				t.Fatal(err)
			}
			return tok.Secret
		}, false, "disabled"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			u, tok := e.createUser(t, "op.lan", model.RoleHotlineOperator, model.OrgHotline111)
			bearer := tt.bearer(t, e, tok)
			// On failure only the error counts: callers must not use the
			// user (for a disabled user it is returned filled in).
			got, _, err := e.svc.Authenticate(ctx, bearer)
			if tt.ok {
				if err != nil || !reflect.DeepEqual(got, u) {
					t.Fatalf("Authenticate = %+v, %v; want %+v", got, err, u)
				}
				return
			}
			if !errors.Is(err, identity.ErrUnauthenticated) {
				t.Fatalf("Authenticate(%q) = %+v, %v; want ErrUnauthenticated", bearer, got, err)
			}
			if !strings.Contains(err.Error(), tt.why) {
				t.Errorf("error %q does not say %q", err, tt.why)
			}
			if strings.Contains(err.Error(), bearer) && bearer != "" {
				t.Errorf("error %q quotes the bearer token", err)
			}
		})
	}
}

func TestPrincipal(t *testing.T) {
	u := model.User{ID: "cw.an", Role: model.RoleCommuneWorker, Unit: communeUnit, DisplayName: "An"}
	got := identity.Principal(u, "req-7")
	want := access.Principal{UserID: "cw.an", Role: model.RoleCommuneWorker, Unit: communeUnit, RequestID: "req-7"}
	if got != want {
		t.Errorf("Principal = %+v, want %+v", got, want)
	}
}

func TestDisableUser(t *testing.T) {
	e := newEnv(t)
	u, first := e.createUser(t, "op.lan", model.RoleHotlineOperator, model.OrgHotline111)
	e.clock.Advance(time.Hour)
	second, err := e.svc.CreateToken(ctx, e.admin, u.ID, 0, noRetry)
	if err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(time.Hour)
	third, err := e.svc.CreateToken(ctx, e.admin, u.ID, 0, noRetry)
	if err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(time.Hour)
	revokedAt := e.clock.Now()
	if _, err := e.svc.RevokeToken(ctx, e.admin, u.ID, third.Token.ID, noRetry); err != nil {
		t.Fatal(err)
	}
	_, bystanderTok := e.createUser(t, "op.minh", model.RoleHotlineOperator, model.OrgHotline111)

	e.clock.Advance(time.Hour)
	disabledAt := e.clock.Now()
	before := len(e.events(t))
	got, err := e.svc.DisableUser(ctx, e.admin, u.ID, noRetry)
	if err != nil {
		t.Fatalf("DisableUser: %v", err)
	}
	if !got.Disabled() || !got.DisableTime.Equal(disabledAt) {
		t.Errorf("DisableUser returned %+v, want disabled at %v", got, disabledAt)
	}
	if stored, _ := e.svc.GetUser(ctx, u.ID); !stored.DisableTime.Equal(disabledAt) {
		t.Errorf("stored user %+v, want disabled at %v", stored, disabledAt)
	}
	evs := e.events(t)[before:] // the disable's, before the reads below add theirs

	ts, _, err := e.svc.ListTokens(ctx, e.admin, u.ID, "", 100)
	if err != nil || len(ts) != 3 {
		t.Fatalf("ListTokens = %+v, %v", ts, err)
	}
	wantRevoke := map[string]time.Time{first.Token.ID: disabledAt, second.Token.ID: disabledAt, third.Token.ID: revokedAt}
	for _, tk := range ts {
		if !tk.RevokeTime.Equal(wantRevoke[tk.ID]) {
			t.Errorf("token %s revoked at %v, want %v", tk.ID, tk.RevokeTime, wantRevoke[tk.ID])
		}
	}
	for _, s := range []string{first.Secret, second.Secret, third.Secret} {
		if _, _, err := e.svc.Authenticate(ctx, s); !errors.Is(err, identity.ErrUnauthenticated) {
			t.Errorf("Authenticate after DisableUser = %v, want ErrUnauthenticated", err)
		}
	}
	if _, _, err := e.svc.Authenticate(ctx, bystanderTok.Secret); err != nil {
		t.Errorf("another user's token stopped working: %v", err)
	}

	// One user.disable, one token.revoke per token that was still valid
	// (the third was revoked before; the unused set-password link was
	// valid), in token id order.
	want := []wantEvent{{"ad.root", "ADMIN", "user.disable", "users/op.lan"}}
	ids := []string{first.Token.ID, second.Token.ID, linkID(t, e, u.ID)}
	slices.Sort(ids)
	for _, id := range ids {
		want = append(want, wantEvent{"ad.root", "ADMIN", "token.revoke", "users/op.lan/tokens/" + id})
	}
	checkEvents(t, evs, want, "req-admin", disabledAt)

	// A second disable changes nothing and records nothing.
	e.clock.Advance(time.Hour)
	before = len(e.events(t))
	again, err := e.svc.DisableUser(ctx, e.admin, u.ID, noRetry)
	if err != nil {
		t.Fatalf("second DisableUser: %v", err)
	}
	if !again.DisableTime.Equal(disabledAt) {
		t.Errorf("second DisableUser moved the disable time to %v", again.DisableTime)
	}
	if n := len(e.events(t)) - before; n != 0 {
		t.Errorf("second DisableUser appended %d events", n)
	}

	// A disabled user gets no new token.
	_, err = e.svc.CreateToken(ctx, e.admin, u.ID, 0, noRetry)
	var pe *model.PreconditionError
	if !errors.As(err, &pe) || pe.Reason != "USER_DISABLED" {
		t.Errorf("CreateToken for a disabled user = %v, want precondition USER_DISABLED", err)
	}
}

func TestDisableUserRefusals(t *testing.T) {
	e := newEnv(t)
	admin, tok := e.createUser(t, "ad.root", model.RoleAdmin, model.OrgSystem)
	self := identity.Principal(admin, "req-self")
	before := len(e.events(t))

	_, err := e.svc.DisableUser(ctx, self, admin.ID, noRetry)
	var pe *model.PreconditionError
	if !errors.As(err, &pe) || pe.Reason != "SELF_DISABLE" {
		t.Fatalf("DisableUser(self) = %v, want precondition SELF_DISABLE", err)
	}
	if u, _ := e.svc.GetUser(ctx, admin.ID); u.Disabled() {
		t.Error("the admin disabled themselves")
	}
	if _, _, err := e.svc.Authenticate(ctx, tok.Secret); err != nil {
		t.Errorf("the admin's token stopped working: %v", err)
	}

	if _, err := e.svc.DisableUser(ctx, self, "nobody", noRetry); !errors.Is(err, model.ErrNotFound) {
		t.Errorf("DisableUser(unknown) = %v, want ErrNotFound", err)
	}
	if n := len(e.events(t)) - before; n != 0 {
		t.Errorf("refused DisableUser calls appended %d events", n)
	}
}

func TestCreateToken(t *testing.T) {
	e := newEnv(t)
	u, _ := e.createUser(t, "op.lan", model.RoleHotlineOperator, model.OrgHotline111)
	e.clock.Advance(time.Minute)
	now := e.clock.Now()
	before := len(e.events(t))

	tok, err := e.svc.CreateToken(ctx, e.admin, u.ID, 48*time.Hour, noRetry)
	if err != nil {
		t.Fatalf("CreateToken: %v", err)
	}
	if tok.Token.UserID != u.ID || !tok.Token.CreateTime.Equal(now) || !tok.Token.ExpireTime.Equal(now.Add(48*time.Hour)) {
		t.Errorf("CreateToken = %+v", tok.Token)
	}
	if got, _, err := e.svc.Authenticate(ctx, tok.Secret); err != nil || got.ID != u.ID {
		t.Errorf("Authenticate(new token) = %+v, %v", got, err)
	}
	checkEvents(t, e.events(t)[before:], []wantEvent{
		{"ad.root", "ADMIN", "token.create", "users/op.lan/tokens/" + tok.Token.ID},
	}, "req-admin", now)

	tests := []struct {
		name      string
		user      string
		ttl       time.Duration
		wantField string
		wantErr   error
	}{
		{"unknown user", "nobody", 0, "", model.ErrNotFound},
		{"ttl too short", u.ID, 30 * time.Second, "ttl", nil},
		{"ttl too long", u.ID, identity.MaxTokenTTL + time.Nanosecond, "ttl", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := len(e.events(t))
			_, err := e.svc.CreateToken(ctx, e.admin, tt.user, tt.ttl, noRetry)
			if tt.wantField != "" {
				var fe *model.FieldError
				if !errors.As(err, &fe) || fe.Field != tt.wantField || fe.Rule != "token.ttl" {
					t.Errorf("CreateToken = %v, want a FieldError on %s", err, tt.wantField)
				}
			} else if !errors.Is(err, tt.wantErr) {
				t.Errorf("CreateToken = %v, want %v", err, tt.wantErr)
			}
			if n := len(e.events(t)) - before; n != 0 {
				t.Errorf("a failed CreateToken appended %d events", n)
			}
		})
	}
	if ts, _, _ := e.svc.ListTokens(ctx, e.admin, u.ID, "", 100); len(ts) != 2 {
		t.Errorf("%d tokens, want 2", len(ts))
	}
}

func TestRevokeToken(t *testing.T) {
	e := newEnv(t)
	lan, lanTok := e.createUser(t, "op.lan", model.RoleHotlineOperator, model.OrgHotline111)
	minh, minhTok := e.createUser(t, "op.minh", model.RoleHotlineOperator, model.OrgHotline111)
	e.clock.Advance(time.Hour)

	t.Run("another user's token is not found", func(t *testing.T) {
		before := len(e.events(t))
		_, err := e.svc.RevokeToken(ctx, e.admin, lan.ID, minhTok.Token.ID, noRetry)
		if !errors.Is(err, model.ErrNotFound) {
			t.Fatalf("RevokeToken(lan, minh's token) = %v, want ErrNotFound", err)
		}
		if _, _, err := e.svc.Authenticate(ctx, minhTok.Secret); err != nil {
			t.Errorf("minh's token was revoked through lan: %v", err)
		}
		if n := len(e.events(t)) - before; n != 0 {
			t.Errorf("appended %d events", n)
		}
	})
	t.Run("unknown token is not found", func(t *testing.T) {
		if _, err := e.svc.RevokeToken(ctx, e.admin, lan.ID, "0000000000000000", noRetry); !errors.Is(err, model.ErrNotFound) {
			t.Errorf("RevokeToken(unknown) = %v, want ErrNotFound", err)
		}
	})
	t.Run("own token is revoked once", func(t *testing.T) {
		now := e.clock.Now()
		before := len(e.events(t))
		got, err := e.svc.RevokeToken(ctx, e.admin, lan.ID, lanTok.Token.ID, noRetry)
		if err != nil {
			t.Fatalf("RevokeToken: %v", err)
		}
		if got.ID != lanTok.Token.ID || !got.RevokeTime.Equal(now) {
			t.Errorf("RevokeToken = %+v, want revoked at %v", got, now)
		}
		checkEvents(t, e.events(t)[before:], []wantEvent{
			{"ad.root", "ADMIN", "token.revoke", "users/op.lan/tokens/" + lanTok.Token.ID},
		}, "req-admin", now)
		if _, _, err := e.svc.Authenticate(ctx, lanTok.Secret); !errors.Is(err, identity.ErrUnauthenticated) {
			t.Errorf("Authenticate(revoked) = %v", err)
		}

		e.clock.Advance(time.Hour)
		before = len(e.events(t))
		again, err := e.svc.RevokeToken(ctx, e.admin, lan.ID, lanTok.Token.ID, noRetry)
		if err != nil {
			t.Fatalf("second RevokeToken: %v", err)
		}
		if !again.RevokeTime.Equal(now) {
			t.Errorf("second RevokeToken moved the revoke time to %v", again.RevokeTime)
		}
		if n := len(e.events(t)) - before; n != 0 {
			t.Errorf("second RevokeToken appended %d events", n)
		}
	})
	if u, _ := e.svc.GetUser(ctx, minh.ID); u.Disabled() {
		t.Error("minh was disabled")
	}
}

func TestListTokens(t *testing.T) {
	e := newEnv(t)
	e.createUser(t, "op.lan", model.RoleHotlineOperator, model.OrgHotline111)
	if _, _, err := e.svc.ListTokens(ctx, e.admin, "nobody", "", 100); !errors.Is(err, model.ErrNotFound) {
		t.Errorf("ListTokens(unknown) = %v, want ErrNotFound", err)
	}
	ts, _, err := e.svc.ListTokens(ctx, e.admin, "op.lan", "", 100)
	if err != nil || len(ts) != 1 || ts[0].UserID != "op.lan" {
		t.Errorf("ListTokens = %+v, %v", ts, err)
	}
}

func TestBootstrap(t *testing.T) {
	e := newEnv(t)
	tok, created, err := e.svc.Bootstrap(ctx)
	if err != nil || !created {
		t.Fatalf("first Bootstrap = %v, %v; want created", created, err)
	}
	if tok.Token.UserID != identity.BootstrapUserID || !tok.Token.ExpireTime.Equal(start.Add(identity.BootstrapTokenTTL)) {
		t.Errorf("bootstrap token = %+v", tok.Token)
	}
	u, _, err := e.svc.Authenticate(ctx, tok.Secret)
	if err != nil {
		t.Fatalf("Authenticate(bootstrap token): %v", err)
	}
	if u.ID != "admin" || u.Role != model.RoleAdmin || u.Unit != model.OrgSystem || u.DisplayName == "" || !u.CreateTime.Equal(start) || u.Disabled() {
		t.Errorf("bootstrap user = %+v", u)
	}
	checkEvents(t, e.events(t), []wantEvent{
		{"system", "SYSTEM", "user.create", "users/admin"},
		{"system", "SYSTEM", "token.create", "users/admin/tokens/" + tok.Token.ID},
	}, "bootstrap", start)

	// The bootstrap token expires after BootstrapTokenTTL.
	e.clock.Advance(identity.BootstrapTokenTTL)
	if _, _, err := e.svc.Authenticate(ctx, tok.Secret); !errors.Is(err, identity.ErrUnauthenticated) {
		t.Errorf("Authenticate(bootstrap token after its ttl) = %v, want ErrUnauthenticated", err)
	}

	for i := range 2 {
		again, created, err := e.svc.Bootstrap(ctx)
		if err != nil || created || again.Secret != "" || again.Token.ID != "" {
			t.Errorf("Bootstrap #%d = %+v, %v, %v; want nothing created", i+2, again, created, err)
		}
	}
	if n := len(e.events(t)); n != 2 {
		t.Errorf("%d audit events after repeated Bootstrap, want 2", n)
	}
	if ts, _, _ := e.svc.ListTokens(ctx, e.admin, "admin", "", 100); len(ts) != 1 {
		t.Errorf("%d admin tokens after repeated Bootstrap, want 1", len(ts))
	}
}

func TestBootstrapWithExistingUsers(t *testing.T) {
	e := newEnv(t)
	e.createUser(t, "op.lan", model.RoleHotlineOperator, model.OrgHotline111)
	tok, created, err := e.svc.Bootstrap(ctx)
	if err != nil || created || tok.Secret != "" {
		t.Fatalf("Bootstrap with a user = %+v, %v, %v; want nothing created", tok, created, err)
	}
	if _, err := e.svc.GetUser(ctx, "admin"); !errors.Is(err, model.ErrNotFound) {
		t.Errorf("GetUser(admin) = %v, want ErrNotFound", err)
	}
}

// TestTokensStoredAsHash looks for the secrets in the stored tokens and in
// the database file.
func TestTokensStoredAsHash(t *testing.T) {
	e := newFileEnv(t)
	boot, _, err := e.svc.Bootstrap(ctx)
	if err != nil {
		t.Fatal(err)
	}
	_, tok := e.createUser(t, "op.lan", model.RoleHotlineOperator, model.OrgHotline111)
	extra, err := e.svc.CreateToken(ctx, e.admin, "op.lan", time.Hour, noRetry)
	if err != nil {
		t.Fatal(err)
	}
	issued := []identity.IssuedToken{boot, tok, extra}

	for _, it := range issued {
		secret := it.Secret[len("cc_")+16+1:]
		ts, _, err := e.svc.ListTokens(ctx, e.admin, it.Token.UserID, "", 100)
		if err != nil {
			t.Fatal(err)
		}
		var found bool
		for _, st := range ts {
			if st.ID != it.Token.ID {
				continue
			}
			found = true
			sum := sha256.Sum256([]byte(secret))
			if !bytes.Equal(st.SecretHash, sum[:]) {
				t.Errorf("token %s: stored hash %x, want SHA-256 of the secret %x", st.ID, st.SecretHash, sum)
			}
			if bytes.Contains(st.SecretHash, []byte(secret)) {
				t.Errorf("token %s stores its secret", st.ID)
			}
		}
		if !found {
			t.Errorf("token %s not listed", it.Token.ID)
		}
	}

	if err := e.store.Close(); err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(e.path)
	if err != nil {
		t.Fatal(err)
	}
	for _, it := range issued {
		if !bytes.Contains(raw, []byte(it.Token.ID)) {
			t.Fatalf("token id %s is not in the file; the search below proves nothing", it.Token.ID)
		}
		secret := it.Secret[len("cc_")+16+1:]
		for _, needle := range []string{it.Secret, secret, secret[:20], secret[20:]} {
			if bytes.Contains(raw, []byte(needle)) {
				t.Errorf("the database file holds %q of token %s", needle, it.Token.ID)
			}
		}
	}
}

func TestPoliceUnits(t *testing.T) {
	e := newEnv(t)
	commune := units.Key{Code: "00004", ValidFrom: mustDate("2025-07-01")}  // Phường Ba Đình
	district := units.Key{Code: "00070", ValidFrom: mustDate("2025-07-01")} // Phường Hoàn Kiếm, a neighbour

	pu, err := e.svc.CreatePoliceUnit(ctx, e.admin, model.PoliceUnit{
		ID: policeID, DisplayName: "  Công an phu\u031bo\u031b\u0300ng Trúc Bạch ", Covers: []units.Key{commune, district},
	}, noRetry)
	if err != nil {
		t.Fatalf("CreatePoliceUnit: %v", err)
	}
	if pu.DisplayName != "Công an phường Trúc Bạch" || !pu.CreateTime.Equal(start) || len(pu.Covers) != 2 {
		t.Errorf("CreatePoliceUnit = %+v", pu)
	}
	got, err := e.svc.GetPoliceUnit(ctx, policeID)
	if err != nil || got.DisplayName != pu.DisplayName || !got.CreateTime.Equal(start) || len(got.Covers) != 2 || got.Covers[0] != commune {
		t.Errorf("GetPoliceUnit = %+v, %v", got, err)
	}
	checkEvents(t, e.events(t), []wantEvent{{"ad.root", "ADMIN", "police_unit.create", policeUnit}}, "req-admin", start)

	city, err := e.svc.CreatePoliceUnit(ctx, e.admin, model.PoliceUnit{ID: "ca-ha-noi", DisplayName: "Công an thành phố"}, noRetry)
	if err != nil || len(city.Covers) != 0 {
		t.Fatalf("CreatePoliceUnit(city police) = %+v, %v", city, err)
	}
	list, _, err := e.svc.ListPoliceUnits(ctx, "", 100)
	if err != nil || len(list) != 2 || list[0].ID != "ca-ha-noi" || list[1].ID != policeID {
		t.Errorf("ListPoliceUnits = %+v, %v", list, err)
	}

	before := len(e.events(t))
	tests := []struct {
		name      string
		pu        model.PoliceUnit
		wantField string
		wantErr   error
	}{
		{"id with a dot", model.PoliceUnit{ID: "ca.x", DisplayName: "X"}, "police_unit_id", nil},
		{"upper-case id", model.PoliceUnit{ID: "CA-X", DisplayName: "X"}, "police_unit_id", nil},
		{"one-character id", model.PoliceUnit{ID: "c", DisplayName: "X"}, "police_unit_id", nil},
		{"empty id", model.PoliceUnit{ID: "", DisplayName: "X"}, "police_unit_id", nil},
		{"blank name", model.PoliceUnit{ID: "ca-x", DisplayName: "  "}, "police_unit.display_name", nil},
		{"invisible name", model.PoliceUnit{ID: "ca-x", DisplayName: "\u200b"}, "police_unit.display_name", nil},
		{"unit that does not exist", model.PoliceUnit{ID: "ca-x", DisplayName: "X", Covers: []units.Key{commune, {Code: "99999", ValidFrom: mustDate("2020-01-01")}}}, "police_unit.covers[1]", nil},
		// A unit covered twice is a mistake, as a form of abuse or a
		// grouping named twice is, not a police unit to store.
		{"unit covered twice", model.PoliceUnit{ID: "ca-x", DisplayName: "X", Covers: []units.Key{commune, district, commune}}, "police_unit.covers[2]", nil},
		// Registered today, a police unit covers the units of today.
		{"commune a reform ended", model.PoliceUnit{ID: "ca-x", DisplayName: "X", Covers: []units.Key{commune, {Code: "00004", ValidFrom: mustDate("2020-01-01")}}}, "police_unit.covers[1]", nil},
		{"district after the reform", model.PoliceUnit{ID: "ca-x", DisplayName: "X", Covers: []units.Key{{Code: "001", ValidFrom: mustDate("2020-01-01")}}}, "police_unit.covers[0]", nil},
		{"duplicate id", model.PoliceUnit{ID: policeID, DisplayName: "Again"}, "", model.ErrAlreadyExists},
		{"a second city police", model.PoliceUnit{ID: "ca-x", DisplayName: "X"}, "police_unit.covers", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := e.svc.CreatePoliceUnit(ctx, e.admin, tt.pu, noRetry)
			if tt.wantField != "" {
				var fe *model.FieldError
				if !errors.As(err, &fe) || fe.Field != tt.wantField {
					t.Errorf("CreatePoliceUnit = %v, want a FieldError on %s", err, tt.wantField)
				}
			} else if !errors.Is(err, tt.wantErr) {
				t.Errorf("CreatePoliceUnit = %v, want %v", err, tt.wantErr)
			}
		})
	}
	if n := len(e.events(t)) - before; n != 0 {
		t.Errorf("failed CreatePoliceUnit calls appended %d events", n)
	}
	if got, _ := e.svc.GetPoliceUnit(ctx, policeID); got.DisplayName != pu.DisplayName {
		t.Errorf("the duplicate replaced the police unit: %+v", got)
	}
	if _, err := e.svc.GetPoliceUnit(ctx, "ca-x"); !errors.Is(err, model.ErrNotFound) {
		t.Errorf("GetPoliceUnit(ca-x) = %v, want ErrNotFound", err)
	}
}

func TestListUsers(t *testing.T) {
	e := newEnv(t)
	for _, id := range []string{"op.c", "op.a", "op.b"} {
		e.createUser(t, id, model.RoleHotlineOperator, model.OrgHotline111)
	}
	first, next, err := e.svc.ListUsers(ctx, "", 2)
	if err != nil || len(first) != 2 || first[0].ID != "op.a" || first[1].ID != "op.b" || next == "" {
		t.Fatalf("ListUsers page 1 = %+v, %q, %v", first, next, err)
	}
	second, next, err := e.svc.ListUsers(ctx, next, 2)
	if err != nil || len(second) != 1 || second[0].ID != "op.c" || next != "" {
		t.Fatalf("ListUsers page 2 = %+v, %q, %v", second, next, err)
	}
	if _, err := e.svc.GetUser(ctx, "op.z"); !errors.Is(err, model.ErrNotFound) {
		t.Errorf("GetUser(unknown) = %v, want ErrNotFound", err)
	}
}

// TestAuditedByActorIndex reads the admin's events through the actor index,
// as an auditor would.
func TestAuditedByActorIndex(t *testing.T) {
	e := newEnv(t)
	e.createPoliceUnit(t)
	_, tok := e.createUser(t, "pl.khanh", model.RolePoliceLiaison, policeUnit)
	if _, err := e.svc.RevokeToken(ctx, e.admin, "pl.khanh", tok.Token.ID, noRetry); err != nil {
		t.Fatal(err)
	}
	var evs []audit.Event
	err := e.store.View(ctx, func(tx datastore.ReadTx) error {
		var err error
		evs, _, err = tx.ListAuditEvents(datastore.AuditQuery{Actor: "ad.root", Limit: 100})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	var actions []string
	for _, ev := range evs {
		actions = append(actions, ev.Action)
	}
	want := []string{"token.revoke", "password_link.create", "token.create", "user.create", "police_unit.create"} // newest first
	if strings.Join(actions, ",") != strings.Join(want, ",") {
		t.Errorf("admin's events = %v, want %v", actions, want)
	}
}

// TestBootstrapBodyReruns: Bootstrap's write body runs twice, as a group
// commit runs it when its shared transaction fails: the first run finds no
// user and creates the admin, the transaction is rolled back, another
// writer creates a user meanwhile, and the second run finds one. Bootstrap
// must then report nothing created, not a token it never stored.
func TestBootstrapBodyReruns(t *testing.T) {
	e := newEnv(t)
	other := storagetest.Rerunning(e.store, func() {
		if err := e.store.Update(ctx, func(tx datastore.Tx) error {
			return tx.CreateUser(model.User{ID: "op.lan", DisplayName: "Lan", Role: model.RoleHotlineOperator, Unit: model.OrgHotline111, CreateTime: start})
		}); err != nil {
			t.Errorf("the other writer: %v", err)
		}
	})
	svc := identity.New(other, reg, e.clock, slog.New(slog.DiscardHandler))
	tok, created, err := svc.Bootstrap(ctx)
	if err != nil {
		t.Fatalf("Bootstrap: %v", err)
	}
	if created || tok.Secret != "" {
		t.Errorf("Bootstrap = created %v, token %q; want nothing created, since its committed run found a user", created, tok.Token.ID)
	}
	if _, err := e.svc.GetUser(ctx, identity.BootstrapUserID); !errors.Is(err, model.ErrNotFound) {
		t.Errorf("GetUser(admin) = %v, want ErrNotFound", err)
	}
}

// An admin cannot bind a new user to a unit a reform ended: the refusal
// names user.unit, unit.in_force, the day, when the unit ended and what
// took it over, and writes nothing. Staff of such a unit, seeded as the
// demo seeds them, and users created while their unit was in force, are
// not refused.
func TestCreateUserRefusesAUnitOutOfForce(t *testing.T) {
	e := newEnv(t)
	tests := []struct {
		name string
		role model.Role
		unit string
		want []string // in the message
	}{
		{"worker of a commune of 2020", model.RoleCommuneWorker, "units/00004@2020-01-01",
			[]string{"Phường Trúc Bạch (00004@2020-01-01) is not in force on 2026-03-10", "ended on 2024-12-31", "went into units/00004@2025-07-01 (Phường Ba Đình)"}},
		{"chair of a commune of 2025-01", model.RoleCommuneChair, "units/00004@2025-01-01",
			[]string{"ended on 2025-06-30", "went into units/00004@2025-07-01 (Phường Ba Đình)"}},
		{"worker of a commune that split", model.RoleCommuneWorker, "units/00013@2025-01-01",
			[]string{"Phường Quán Thánh", "went into units/00004@2025-07-01 (Phường Ba Đình)"}},
		{"district officer after the reform", model.RoleDistrictOfficer, districtUnit,
			[]string{"Quận Ba Đình (001@2020-01-01)", "ended on 2025-06-30", "districts were abolished"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := len(e.events(t))
			u := model.User{ID: "new.user", DisplayName: "Mới", Role: tt.role, Unit: tt.unit}
			_, _, _, err := e.svc.CreateUser(ctx, e.admin, u, 0, noRetry)
			var fe *model.FieldError
			if !errors.As(err, &fe) || fe.Field != "user.unit" || fe.Rule != "unit.in_force" {
				t.Fatalf("CreateUser(%s in %s) = %v, want a FieldError on user.unit, rule unit.in_force", tt.role, tt.unit, err)
			}
			for _, w := range tt.want {
				if !strings.Contains(fe.Description, w) {
					t.Errorf("message %q does not say %q", fe.Description, w)
				}
			}
			if _, err := e.svc.GetUser(ctx, "new.user"); !errors.Is(err, model.ErrNotFound) {
				t.Errorf("GetUser after the refusal = %v, want not found", err)
			}
			if n := len(e.events(t)); n != before {
				t.Errorf("%d audit events written by the refusal", n-before)
			}
		})
	}

	// The demo's path seeds staff of an ended unit on purpose.
	if _, tok, _, err := e.svc.SeedUser(ctx, access.System("demo"), model.User{ID: "do.seeded", DisplayName: "Em", Role: model.RoleDistrictOfficer, Unit: districtUnit}, time.Hour); err != nil || tok.Secret == "" {
		t.Errorf("SeedUser(district officer) = %v", err)
	}

	// While the district and the 2020 commune were in force they were
	// open to new staff; before 2025 the commune's name goes on in the
	// 2025-01 data, which the message names.
	e.clock.Set(time.Date(2025, 6, 30, 16, 59, 0, 0, time.UTC)) // 23:59 in Hanoi
	if _, _, _, err := e.svc.CreateUser(ctx, e.admin, model.User{ID: "do.em", DisplayName: "Em", Role: model.RoleDistrictOfficer, Unit: districtUnit}, 0, noRetry); err != nil {
		t.Errorf("CreateUser(district officer) on the district's last day = %v", err)
	}
	e.clock.Set(time.Date(2025, 3, 1, 2, 0, 0, 0, time.UTC))
	_, _, _, err := e.svc.CreateUser(ctx, e.admin, model.User{ID: "cw.old", DisplayName: "Cũ", Role: model.RoleCommuneWorker, Unit: "units/00004@2020-01-01"}, 0, noRetry)
	if err == nil || !strings.Contains(err.Error(), "goes on as units/00004@2025-01-01 (Phường Trúc Bạch)") {
		t.Errorf("CreateUser(worker of 2020) in 2025 = %v, want the commune of 2025-01 named", err)
	}
}

// TestTokenOfASecondFactorRoleByAnotherIsWarned: a token an admin makes of
// a user whose role needs a second factor (here a city officer, at
// creation and later) acts as them without it; beside its audit reason,
// the service logs it at warning level, naming the user, the token and
// the admin, for the operators' log watch. A commune worker's token, and
// the service's own (users add, the demo), are not warned of.
func TestTokenOfASecondFactorRoleByAnotherIsWarned(t *testing.T) {
	e := newEnv(t)
	var logged bytes.Buffer
	e.svc = identity.New(e.store, reg, e.clock, slog.New(slog.NewTextHandler(&logged, nil)))
	_, first, _, err := e.svc.CreateUser(ctx, e.admin, model.User{ID: "co.ha", DisplayName: "Hà", Role: model.RoleCityOfficer, Unit: cityUnit}, 0, noRetry)
	if err != nil {
		t.Fatal(err)
	}
	second, err := e.svc.CreateToken(ctx, e.admin, "co.ha", 0, noRetry)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, _, err := e.svc.CreateUser(ctx, e.admin, model.User{ID: "cw.an", DisplayName: "An", Role: model.RoleCommuneWorker, Unit: communeUnit}, 0, noRetry); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.CreateToken(ctx, access.System("users add"), "co.ha", 0, noRetry); err != nil {
		t.Fatal(err)
	}
	var warned []string
	for line := range strings.Lines(logged.String()) {
		if strings.Contains(line, "level=WARN") {
			warned = append(warned, line)
		}
	}
	if len(warned) != 2 {
		t.Fatalf("warned %d times, want twice (the city officer's two tokens the admin made):\n%s", len(warned), logged.String())
	}
	for i, tok := range []identity.IssuedToken{first, second} {
		if want := "token=users/co.ha/tokens/" + tok.Token.ID; !strings.Contains(warned[i], want) || !strings.Contains(warned[i], "by=ad.root") {
			t.Errorf("warning %d: %s, want it to name %s and by=ad.root", i, warned[i], want)
		}
	}
}

// A user.create says what it granted: the role and the unit, whose cases
// the new user (and the admin, who was shown the first token's secret)
// may read from then on. Without them the auditor saw that an admin made
// a user, not that it was a worker of the commune whose cases were read
// next; only the admin's GetUser, which an auditor may not call, said so.
func TestUserCreateNamesTheRoleAndUnitGranted(t *testing.T) {
	e := newEnv(t)
	before := len(e.events(t))
	u := model.User{ID: "cw.an", DisplayName: "An", Role: model.RoleCommuneWorker, Unit: communeUnit}
	if _, _, _, err := e.svc.CreateUser(ctx, e.admin, u, 0, noRetry); err != nil {
		t.Fatalf("CreateUser: %v", err)
	}
	want := "role COMMUNE_WORKER, unit " + communeUnit
	for _, ev := range e.events(t)[before:] {
		if ev.Action == "user.create" {
			if ev.Reason != want {
				t.Errorf("user.create reason %q, want %q", ev.Reason, want)
			}
			return
		}
	}
	t.Fatal("no user.create event")
}
