package identity_test

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/childcase/childcase/internal/domain/datastore"
	"github.com/childcase/childcase/internal/domain/idempotency"
	"github.com/childcase/childcase/internal/domain/model"
	"github.com/childcase/childcase/internal/domain/units"
)

func retry(id, fingerprint string) idempotency.Request {
	return idempotency.Request{ID: id, Fingerprint: []byte(fingerprint)}
}

// idempotencyResult returns the answer remembered for the admin's request.
func (e *env) idempotencyResult(t *testing.T, method, id string) []byte {
	t.Helper()
	var rec model.IdempotencyRecord
	err := e.store.View(ctx, func(tx datastore.ReadTx) error {
		var err error
		rec, err = tx.Idempotency(idempotency.Key(e.admin, method, id))
		return err
	})
	if err != nil {
		t.Fatalf("idempotency record of %s %s: %v", method, id, err)
	}
	return rec.Result
}

// A retried CreateUser returns the first user and token without creating
// either again. The secret is shown once: it is neither stored (not even
// in the remembered answer, nor its hash) nor repeated.
func TestCreateUserRetry(t *testing.T) {
	e := newEnv(t)
	u := model.User{ID: "op.lan", DisplayName: "Lan", Role: model.RoleHotlineOperator, Unit: model.OrgHotline111}
	first, tok, _, err := e.svc.CreateUser(ctx, e.admin, u, 0, retry("add-lan", "fp-lan"))
	if err != nil {
		t.Fatal(err)
	}
	if tok.Secret == "" {
		t.Fatal("the first answer has no secret")
	}
	events := len(e.events(t))
	e.clock.Advance(time.Minute)

	again, tok2, _, err := e.svc.CreateUser(ctx, e.admin, u, 0, retry("add-lan", "fp-lan"))
	if err != nil {
		t.Fatalf("retry: %v", err)
	}
	if again.ID != first.ID || !again.CreateTime.Equal(first.CreateTime) || again.Role != first.Role {
		t.Errorf("retry user = %+v, want the first %+v", again, first)
	}
	if tok2.Token.ID != tok.Token.ID || !tok2.Token.ExpireTime.Equal(tok.Token.ExpireTime) {
		t.Errorf("retry token = %+v, want the first %+v", tok2.Token, tok.Token)
	}
	if tok2.Secret != "" || len(tok2.Token.SecretHash) != 0 {
		t.Errorf("retry repeated the secret or its hash: %q, %x", tok2.Secret, tok2.Token.SecretHash)
	}
	e.wantRetryRead(t, events, "user.read", "users/op.lan", "CreateUser")
	if ts, _, err := e.svc.ListTokens(ctx, e.admin, u.ID, "", 100); err != nil || len(ts) != 1 {
		t.Errorf("tokens after the retry: %d, %v; want 1", len(ts), err)
	}
	// The first token still works; the answer remembered holds no secret.
	if _, _, err := e.svc.Authenticate(ctx, tok.Secret); err != nil {
		t.Errorf("the first token: %v", err)
	}
	result := e.idempotencyResult(t, "CreateUser", "add-lan")
	_, secret, _ := bytes.Cut([]byte(tok.Secret[3:]), []byte("_"))
	stored := storedToken(t, e, tok.Token.ID)
	for _, leak := range [][]byte{[]byte(tok.Secret), secret, stored.SecretHash, []byte(encodeB64(stored.SecretHash))} {
		if bytes.Contains(result, leak) {
			t.Errorf("the remembered answer holds the secret or its hash: %s", result)
		}
	}

	// The same request_id with another request is refused, and changes
	// nothing.
	other := u
	other.ID = "op.minh"
	if _, _, _, err := e.svc.CreateUser(ctx, e.admin, other, 0, retry("add-lan", "fp-minh")); !errors.Is(err, model.ErrIdempotencyMismatch) {
		t.Errorf("reused request_id: %v, want ErrIdempotencyMismatch", err)
	}
	if _, err := e.svc.GetUser(ctx, "op.minh"); !errors.Is(err, model.ErrNotFound) {
		t.Errorf("the refused request created its user: %v", err)
	}
	// Without a request_id, a second create is ALREADY_EXISTS as before.
	if _, _, _, err := e.svc.CreateUser(ctx, e.admin, u, 0, noRetry); !errors.Is(err, model.ErrAlreadyExists) {
		t.Errorf("CreateUser again without request_id: %v, want ErrAlreadyExists", err)
	}
}

func storedToken(t *testing.T, e *env, id string) model.Token {
	t.Helper()
	var tok model.Token
	err := e.store.View(ctx, func(tx datastore.ReadTx) error {
		var err error
		tok, err = tx.Token(id)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// A retried CreateToken returns the first token, without its secret, even
// after the user was disabled in between.
func TestCreateTokenRetry(t *testing.T) {
	e := newEnv(t)
	u, _ := e.createUser(t, "op.lan", model.RoleHotlineOperator, model.OrgHotline111)
	first, err := e.svc.CreateToken(ctx, e.admin, u.ID, time.Hour, retry("tok-1", "fp"))
	if err != nil || first.Secret == "" {
		t.Fatalf("CreateToken = %+v, %v", first, err)
	}
	if _, err := e.svc.DisableUser(ctx, e.admin, u.ID, noRetry); err != nil {
		t.Fatal(err)
	}
	events := len(e.events(t))
	again, err := e.svc.CreateToken(ctx, e.admin, u.ID, time.Hour, retry("tok-1", "fp"))
	if err != nil {
		t.Fatalf("retry: %v", err)
	}
	if again.Token.ID != first.Token.ID || again.Secret != "" || len(again.Token.SecretHash) != 0 {
		t.Errorf("retry = %+v, want token %s without secret", again, first.Token.ID)
	}
	e.wantRetryRead(t, events, "token.list", "users/op.lan/tokens/"+first.Token.ID, "CreateToken")
	if ts, _, _ := e.svc.ListTokens(ctx, e.admin, u.ID, "", 100); len(ts) != 2 {
		t.Errorf("%d tokens after the retry, want 2", len(ts))
	}
	if _, err := e.svc.CreateToken(ctx, e.admin, u.ID, 2*time.Hour, retry("tok-1", "fp-2h")); !errors.Is(err, model.ErrIdempotencyMismatch) {
		t.Errorf("reused request_id: %v, want ErrIdempotencyMismatch", err)
	}
}

// DisableUser, RevokeToken and CreatePoliceUnit: a retry returns the first
// answer and changes nothing more (the user or token it shows again is
// audited as a read; a police unit is nobody's data); another request
// under the same id is refused.
func TestStateChangesRetry(t *testing.T) {
	e := newEnv(t)
	lan, _ := e.createUser(t, "op.lan", model.RoleHotlineOperator, model.OrgHotline111)
	minh, minhTok := e.createUser(t, "op.minh", model.RoleHotlineOperator, model.OrgHotline111)

	disabled, err := e.svc.DisableUser(ctx, e.admin, lan.ID, retry("off-lan", "lan"))
	if err != nil || !disabled.Disabled() {
		t.Fatalf("DisableUser = %+v, %v", disabled, err)
	}
	events := len(e.events(t))
	e.clock.Advance(time.Hour)
	again, err := e.svc.DisableUser(ctx, e.admin, lan.ID, retry("off-lan", "lan"))
	if err != nil || !again.DisableTime.Equal(disabled.DisableTime) {
		t.Errorf("retried DisableUser = %+v, %v; want the first answer", again, err)
	}
	if _, err := e.svc.DisableUser(ctx, e.admin, minh.ID, retry("off-lan", "minh")); !errors.Is(err, model.ErrIdempotencyMismatch) {
		t.Errorf("reused request_id: %v, want ErrIdempotencyMismatch", err)
	}
	if u, _ := e.svc.GetUser(ctx, minh.ID); u.Disabled() {
		t.Error("the refused DisableUser disabled its user")
	}

	revoked, err := e.svc.RevokeToken(ctx, e.admin, minh.ID, minhTok.Token.ID, retry("rv-1", "minh"))
	if err != nil || revoked.RevokeTime.IsZero() {
		t.Fatalf("RevokeToken = %+v, %v", revoked, err)
	}
	e.clock.Advance(time.Hour)
	rAgain, err := e.svc.RevokeToken(ctx, e.admin, minh.ID, minhTok.Token.ID, retry("rv-1", "minh"))
	if err != nil || !rAgain.RevokeTime.Equal(revoked.RevokeTime) || rAgain.ID != revoked.ID {
		t.Errorf("retried RevokeToken = %+v, %v; want the first answer", rAgain, err)
	}

	pu := model.PoliceUnit{ID: "ca-ha-noi", DisplayName: "Công an thành phố"}
	created, err := e.svc.CreatePoliceUnit(ctx, e.admin, pu, retry("pu-1", "hn"))
	if err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(time.Hour)
	pAgain, err := e.svc.CreatePoliceUnit(ctx, e.admin, pu, retry("pu-1", "hn"))
	if err != nil || !pAgain.CreateTime.Equal(created.CreateTime) || pAgain.ID != created.ID {
		t.Errorf("retried CreatePoliceUnit = %+v, %v; want the first answer, not ALREADY_EXISTS", pAgain, err)
	}
	if _, err := e.svc.CreatePoliceUnit(ctx, e.admin, pu, noRetry); !errors.Is(err, model.ErrAlreadyExists) {
		t.Errorf("CreatePoliceUnit again without request_id: %v, want ErrAlreadyExists", err)
	}

	// Only the first of each was audited as a change: revoke and police
	// unit after the count began; the retries of the disable and the
	// revoke as reads of what they showed again.
	want := events + 2 + 2
	if n := len(e.events(t)); n != want {
		t.Errorf("%d audit events after the retries, want %d", n, want)
	}
}

// encodeB64 is how JSON writes bytes.
func encodeB64(b []byte) string { return base64.StdEncoding.EncodeToString(b) }

// wantRetryRead checks that the events after the first before are one
// read of resource, action, whose reason names the method retried: the
// first answer to a retry shows the record again.
func (e *env) wantRetryRead(t *testing.T, before int, action, resource, method string) {
	t.Helper()
	got := e.events(t)[before:]
	if len(got) != 1 || got[0].Action != action || got[0].Resource != resource ||
		got[0].Actor != e.admin.UserID || got[0].Reason != "the first answer to a retry of "+method {
		t.Errorf("the retry of %s wrote %+v, want one %s of %s by the admin naming the retry", method, got, action, resource)
	}
}

// A retry of a CreateUser or CreatePoliceUnit that committed answers the
// first answer even when the unit it named has gone out of force since
// (a reform takes effect at midnight between the two): the request was
// taken, and refusing its retry with unit.in_force would leave the admin
// told that the user, or the police unit, they did create was not.
func TestCreateRetriedAfterTheUnitEndedAnswersTheFirst(t *testing.T) {
	e := newEnv(t)
	e.clock.Set(time.Date(2025, 6, 30, 16, 59, 0, 0, time.UTC)) // 23:59 in Hanoi, the district's last day
	u := model.User{ID: "do.em", DisplayName: "Em", Role: model.RoleDistrictOfficer, Unit: districtUnit}
	first, _, _, err := e.svc.CreateUser(ctx, e.admin, u, 0, retry("add-em", "fp-em"))
	if err != nil {
		t.Fatal(err)
	}
	pu := model.PoliceUnit{ID: "ca-quan-ba-dinh", DisplayName: "Công an quận Ba Đình", Covers: []units.Key{{Code: "001", ValidFrom: mustDate("2020-01-01")}}}
	if _, err := e.svc.CreatePoliceUnit(ctx, e.admin, pu, retry("add-ca", "fp-ca")); err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(2 * time.Minute) // 2025-07-01 00:01 in Hanoi: the district is no more

	again, _, _, err := e.svc.CreateUser(ctx, e.admin, u, 0, retry("add-em", "fp-em"))
	if err != nil || again.ID != first.ID {
		t.Errorf("CreateUser retried after the unit ended = %+v, %v; want the first answer %s", again, err, first.ID)
	}
	if got, err := e.svc.CreatePoliceUnit(ctx, e.admin, pu, retry("add-ca", "fp-ca")); err != nil || got.ID != pu.ID {
		t.Errorf("CreatePoliceUnit retried after the unit ended = %+v, %v; want the first answer", got, err)
	}
	// A new request naming the ended unit is still refused.
	u.ID = "do.new"
	var fe *model.FieldError
	if _, _, _, err := e.svc.CreateUser(ctx, e.admin, u, 0, retry("add-new", "fp-new")); !errors.As(err, &fe) || fe.Rule != "unit.in_force" {
		t.Errorf("a new CreateUser in the ended unit = %v, want unit.in_force", err)
	}
	pu.ID = "ca-new"
	if _, err := e.svc.CreatePoliceUnit(ctx, e.admin, pu, retry("add-ca-new", "fp-ca-new")); !errors.As(err, &fe) || fe.Rule != "unit.in_force" {
		t.Errorf("a new CreatePoliceUnit covering the ended unit = %v, want unit.in_force", err)
	}
	if _, err := e.svc.GetUser(ctx, "do.new"); !errors.Is(err, model.ErrNotFound) {
		t.Errorf("GetUser after the refusal = %v, want not found", err)
	}
}

// A CreatePoliceUnit that a version before the city-cover rule accepted
// (a unit covering units/01, now refused with police_unit.covers_city)
// answers its retry with the first answer, as the README promises of
// every retry "even if the resource changed since": refusing it would
// tell the admin, after an upgrade between the two tries, that the
// police unit they did create was not. A new request covering the city
// is still refused.
func TestCreatePoliceUnitRetriedAcrossTheCityCoverRuleAnswersTheFirst(t *testing.T) {
	e := newEnv(t)
	city := units.Key{Code: "01", ValidFrom: mustDate("2020-01-01")}
	pu := model.PoliceUnit{ID: "ca-thanh-pho", DisplayName: "Công an thành phố Hà Nội", Covers: []units.Key{city}, CreateTime: e.clock.Now()}
	// What the earlier version stored: the unit and the answer remembered
	// for its request_id, in one transaction.
	err := e.store.Update(ctx, func(tx datastore.Tx) error {
		if err := tx.CreatePoliceUnit(pu); err != nil {
			return err
		}
		answer, err := json.Marshal(pu)
		if err != nil {
			return err
		}
		return idempotency.Remember(tx, e.admin, "CreatePoliceUnit", "add-city", []byte("fp-city"), model.PoliceUnitName(pu.ID), answer, e.clock.Now())
	})
	if err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(time.Minute)

	got, err := e.svc.CreatePoliceUnit(ctx, e.admin, pu, retry("add-city", "fp-city"))
	if err != nil || got.ID != pu.ID || !got.CreateTime.Equal(pu.CreateTime) {
		t.Errorf("CreatePoliceUnit retried after the city-cover rule = %+v, %v; want the first answer", got, err)
	}
	// A new request naming the city is still refused, naming the city's
	// cover, though it names it twice.
	pu.ID = "ca-thanh-pho-2"
	for _, covers := range [][]units.Key{{city}, {city, city}} {
		pu.Covers = covers
		var fe *model.FieldError
		if _, err := e.svc.CreatePoliceUnit(ctx, e.admin, pu, retry("add-city-2", "fp-city-2")); !errors.As(err, &fe) ||
			fe.Rule != "police_unit.covers_city" || fe.Field != "police_unit.covers[0]" {
			t.Errorf("a new CreatePoliceUnit covering %v = %v, want police_unit.covers[0] police_unit.covers_city", covers, err)
		}
	}
	if _, err := e.svc.GetPoliceUnit(ctx, pu.ID); !errors.Is(err, model.ErrNotFound) {
		t.Errorf("GetPoliceUnit after the refusals = %v, want not found", err)
	}
}
