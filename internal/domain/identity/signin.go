package identity

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"time"

	"github.com/childcase/childcase/internal/domain/access"
	"github.com/childcase/childcase/internal/domain/audit"
	"github.com/childcase/childcase/internal/domain/datastore"
	"github.com/childcase/childcase/internal/domain/idempotency"
	"github.com/childcase/childcase/internal/domain/model"
)

// People sign in to the console with their user id and password, and a
// TOTP code when their role needs a second factor. The first password is
// set through a one-time link; a sign-in starts a session, a bearer token
// of the user that the console keeps in memory.
const (
	// SessionTTL is the absolute lifetime of a console session's token.
	SessionTTL = 12 * time.Hour
	// PasswordLinkTTL is how long a one-time set-password link lives.
	PasswordLinkTTL = 72 * time.Hour
	// MaxSignInFailures consecutive failed sign-ins lock an account for
	// LockOutDuration; a success resets the count.
	MaxSignInFailures = 5
	LockOutDuration   = 15 * time.Minute
)

// linkPrefix starts every set-password link secret; it is not a bearer
// token's prefix, so a link pasted as one is refused before its lookup.
const linkPrefix = "pw_"

// ErrSignInRefused is wrapped by every refused sign-in; the wrapped text
// says why, for the audit log only: the person is told no more than that
// the user id, password or code is wrong, whatever the reason (a locked
// account answers as a wrong password does).
var ErrSignInRefused = errors.New("sign-in refused")

// ErrSecondFactorNeeded answers a right password of a role that needs a
// second factor when no TOTP code was given: the form then asks for it.
var ErrSecondFactorNeeded = errors.New("second factor needed")

// NeedsSecondFactor reports whether people of role sign in with a TOTP
// code: the roles that may disclose a reporter or see every case, as the
// access rules table says.
func NeedsSecondFactor(r model.Role) bool { return access.NeedsSecondFactor(r) }

// PasswordSignIn is what a person types on the sign-in form.
type PasswordSignIn struct {
	UserID   string
	Password string
	TOTPCode string // empty on the first try; the form then asks for it
	Client   string // client address, for lock-out auditing
}

// Session is a signed-in console session: a bearer token of the user with
// SessionTTL, whose secret the console keeps only in memory and sends on its
// in-process gRPC calls (so every console action goes through the API's rules).
type Session struct {
	User  model.User
	Token IssuedToken
}

// PasswordLink is a one-time link to set a password; Secret goes into the
// URL path /password/{Secret}. Only its hash is stored.
type PasswordLink struct {
	Secret     string
	ExpireTime time.Time
}

// SetPassword is what a person sends through a set-password link.
type SetPassword struct {
	LinkSecret string
	Password   string
	TOTPSecret string // base32, from NewTOTPKey, when the role needs a second factor
	TOTPCode   string // a current code of TOTPSecret, proving the app is enrolled
	Client     string // the client's address, for the audit of a link that does not work
}

// issuedLink is a link as made: its stored token and what the person gets.
type issuedLink struct {
	PasswordLink
	Token model.Token
}

// newLink makes a set-password link for userID, created by the user
// createdBy, valid PasswordLinkTTL.
func newLink(userID, createdBy string, now time.Time) (issuedLink, error) {
	t, err := newCredential(userID, createdBy, now, PasswordLinkTTL, model.TokenPasswordLink, linkPrefix)
	if err != nil {
		return issuedLink{}, err
	}
	return issuedLink{PasswordLink: PasswordLink{Secret: t.Secret, ExpireTime: t.Token.ExpireTime}, Token: t.Token}, nil
}

// storeLink stores a new link and its audit event in the caller's
// transaction.
func storeLink(tx datastore.Tx, p access.Principal, t model.Token, now time.Time) error {
	if err := tx.CreateToken(t); err != nil {
		return err
	}
	_, err := tx.AppendAudit(p.Event(now, "password_link.create", tokenName(t), "", audit.OutcomeOK))
	return err
}

// SignInWithPassword checks a person's password (and TOTP code, for the
// roles that need one) and starts a console session. The user id is taken
// as typed (CanonicalUserID). Every refusal wraps
// ErrSignInRefused and costs an argon2 hash, known user or not; a right
// password without a needed code is ErrSecondFactorNeeded.
//
// A failure of a known account counts towards its lock-out (a write, at
// most MaxSignInFailures per LockOutDuration); an unknown user id writes
// nothing, but costs the same commit (refuseUncounted). Failures are audited in windows (auditlog.Refusals), a lock-out
// and a success each by an event of their own.
//
// When not even the reserve takes the count of a wrong password or the
// session of a right one, the sign-in is model.ErrFull; so is every
// refusal and every code asked for until such a write goes through
// again. Wrong passwords then go uncounted, and a guesser, who could try
// without end, must not tell the right password by its answer.
func (s *Service) SignInWithPassword(ctx context.Context, in PasswordSignIn) (Session, error) {
	in.UserID = CanonicalUserID(in.UserID)
	ses, err := s.signInWithPassword(ctx, in)
	if s.full.Load() && (errors.Is(err, ErrSignInRefused) || errors.Is(err, ErrSecondFactorNeeded)) {
		return Session{}, fmt.Errorf("sign-in: %w (%v)", model.ErrFull, err)
	}
	return ses, err
}

// SpendRefusedSignIn does the work a refused SignInWithPassword does,
// reading the account, an argon2 hash and a commit (refuseUncounted's),
// and checks, counts and audits nothing. The console calls it for a
// sign-in its throttle refuses unchecked before it has timed a checked
// refusal to wait as long as (web's spendAsACheck): answered at once,
// such a refusal would stand apart from the checked ones of the accounts
// that signed in from the address before, and tell whoever shares it
// which user ids those are.
func (s *Service) SpendRefusedSignIn(ctx context.Context, in PasswordSignIn) {
	in.UserID = CanonicalUserID(in.UserID)
	_ = s.store.View(ctx, func(tx datastore.ReadTx) error {
		_, err := tx.User(in.UserID)
		return err
	})
	verifyPassword(dummyHash, in.Password)
	_ = s.store.Batch(ctx, func(tx datastore.Tx) error {
		_, _ = tx.User(in.UserID)
		return nil
	})
}

// signInWithPassword is SignInWithPassword but for a full database's
// answers.
func (s *Service) signInWithPassword(ctx context.Context, in PasswordSignIn) (Session, error) {
	now := s.clock.Now()
	var u model.User
	var totpSecret string
	err := s.store.View(ctx, func(tx datastore.ReadTx) error {
		var err error
		if u, err = tx.User(in.UserID); err != nil {
			return err
		}
		if u.SignIn.TOTP.KeyID != "" && s.vault != nil {
			totpSecret, err = s.vault.OpenTOTP(tx, u.ID, u.SignIn.TOTP)
		}
		return err
	})
	if errors.Is(err, model.ErrNotFound) {
		verifyPassword(dummyHash, in.Password)
		return Session{}, s.refuseUncounted(ctx, in.UserID, "unknown user ids", "", "unknown user id", in.Client)
	}
	if err != nil {
		return Session{}, err
	}
	hash := u.SignIn.PasswordHash
	if hash == "" {
		hash = dummyHash
	}
	passwordOK := verifyPassword(hash, in.Password)
	switch {
	case u.Disabled():
		return Session{}, s.refuseUncounted(ctx, u.ID, model.UserName(u.ID), model.UserName(u.ID), "user disabled", in.Client)
	case u.SignIn.PasswordHash == "":
		return Session{}, s.refuseUncounted(ctx, u.ID, model.UserName(u.ID), model.UserName(u.ID), "no password set", in.Client)
	case now.Before(u.SignIn.LockedUntil):
		return Session{}, s.refuseUncounted(ctx, u.ID, model.UserName(u.ID), model.UserName(u.ID), "account locked", in.Client)
	case !passwordOK:
		return Session{}, s.fail(ctx, u.ID, "wrong password", in.Client)
	}
	step := u.SignIn.TOTPLastStep
	if NeedsSecondFactor(u.Role) {
		if totpSecret == "" {
			// An account of a role that came to need the factor (an
			// admin since admins do) is refused as a wrong password is,
			// counted and at its commit's cost: refused without one, the
			// right password answered sooner than every wrong one.
			return Session{}, s.fail(ctx, u.ID, "no second factor enrolled", in.Client)
		}
		if in.TOTPCode == "" {
			// The password was right, but this is not a sign-in yet: it
			// is audited as a refusal of its own (the auditor sees who
			// knew the password, and from where), never counted
			// against the account.
			_ = s.refuse(ctx, model.UserName(u.ID), model.UserName(u.ID), "second factor needed", in.Client)
			return Session{}, ErrSecondFactorNeeded
		}
		var ok bool
		if step, ok = totpStep(totpSecret, in.TOTPCode, now, u.SignIn.TOTPLastStep); !ok {
			return Session{}, s.fail(ctx, u.ID, "wrong or reused TOTP code", in.Client)
		}
	}
	// The person signing in creates their own session: its calls are theirs.
	tok, err := newCredential(u.ID, u.ID, now, SessionTTL, model.TokenSession, tokenPrefix)
	if err != nil {
		return Session{}, err
	}
	var why string // set when the account changed since the checks above
	// A sign-in writes only its session, the account's sign-in state and
	// its audit event: small, and what lets a person go on reading. It
	// uses the room a full database keeps for reads (Batch), as the
	// reads it leads to do.
	// Pruning the user's ended credentials rides on the sign-in's commit;
	// a store that commits less at once (datastore.FitBatch) gets fewer
	// of them pruned, never a refused sign-in.
	var signedIn model.User
	_, err = datastore.FitBatch(prunedPerSignIn, func(prune int) error {
		return s.store.Batch(ctx, func(tx datastore.Tx) error {
			why = ""
			cur, err := tx.User(u.ID)
			if err != nil {
				return err
			}
			// The password was checked outside the transaction (argon2 is
			// slow): refuse if it changed, the user was disabled or locked,
			// or the code was used meanwhile.
			switch {
			case cur.SignIn.PasswordHash != u.SignIn.PasswordHash || cur.Disabled() || now.Before(cur.SignIn.LockedUntil):
				why = "account changed during sign-in"
				return nil
			case step != u.SignIn.TOTPLastStep && step <= cur.SignIn.TOTPLastStep:
				why = "reused TOTP code"
				return nil
			}
			cur.SignIn.Failures, cur.SignIn.LockedUntil, cur.SignIn.TOTPLastStep = 0, time.Time{}, step
			if err := tx.UpdateUser(cur); err != nil {
				return err
			}
			if err := tx.CreateToken(tok.Token); err != nil {
				return err
			}
			if err := pruneEndedCredentials(tx, cur.ID, now, prune); err != nil {
				return err
			}
			e := Principal(cur, "").Event(now, "auth.sign_in", tokenName(tok.Token), "", audit.OutcomeOK)
			e.Reason = "console sign-in from " + in.Client
			_, err = tx.AppendAudit(e)
			signedIn = cur
			return err
		})
	})
	s.noteFull(err)
	if err != nil {
		return Session{}, err
	}
	if why != "" {
		return Session{}, s.refuse(ctx, model.UserName(u.ID), model.UserName(u.ID), why, in.Client)
	}
	return Session{User: withoutSignIn(signedIn), Token: tok}, nil
}

// A console session or set-password link that ended (expired, signed
// out, used or revoked) more than endedCredentialGrace ago is deleted at
// its user's next sign-in, at most prunedPerSignIn of them, so that a
// sign-in stays a small write. Nothing can use it any more, and the
// console no longer holds it (its sessions end with their tokens); its
// creation, use and end stay on the audit trail. Every sign-in left one
// for ever before, which each revocation of all of a user's tokens then
// read. API tokens stay: an admin lists them, revoked or not.
const (
	endedCredentialGrace = 24 * time.Hour
	prunedPerSignIn      = 50
)

// pruneEndedCredentials deletes up to limit of userID's ended sessions and
// links, as above.
func pruneEndedCredentials(tx datastore.Tx, userID string, now time.Time, limit int) error {
	ts, err := tx.TokensOfUser(userID)
	if err != nil {
		return err
	}
	pruned := 0
	for _, t := range ts {
		if t.Kind == model.TokenAPI || pruned == limit {
			continue
		}
		end := t.ExpireTime
		if !t.RevokeTime.IsZero() && t.RevokeTime.Before(end) {
			end = t.RevokeTime
		}
		if now.Sub(end) < endedCredentialGrace {
			continue
		}
		if err := tx.DeleteToken(t.ID); err != nil {
			return fmt.Errorf("prune ended credential %s: %w", t.ID, err)
		}
		pruned++
	}
	return nil
}

// refuse counts a refused sign-in of key (an account, or all unknown ids
// together, so that guessing names costs no more than one key) and returns
// the error that says why.
func (s *Service) refuse(ctx context.Context, key, resource, why, client string) error {
	s.refusals.Add(ctx, key, resource, why+" from "+client, "")
	return fmt.Errorf("%w: %s", ErrSignInRefused, why)
}

// refuseUncounted refuses a sign-in that counts towards no lock-out (an
// unknown user id; a disabled, password-less or locked account) at the
// cost of one that does (fail): a commit of the same kind, which reads the
// account and writes nothing. A commit waits for its fsync, so a refusal
// without one answered sooner, by that fsync, than a wrong password of a
// known account, and its time told a patient guesser which user ids exist
// and which accounts are locked. The
// commit's outcome says nothing of the sign-in, nor whether the database
// is full (it wrote nothing), so it is not noted.
func (s *Service) refuseUncounted(ctx context.Context, userID, key, resource, why, client string) error {
	_ = s.store.Batch(ctx, func(tx datastore.Tx) error {
		_, _ = tx.User(userID)
		return nil
	})
	return s.refuse(ctx, key, resource, why, client)
}

// fail counts a failure against a known account: the MaxSignInFailures-th
// in a row locks it for LockOutDuration, with an event of its own.
func (s *Service) fail(ctx context.Context, userID, why, client string) error {
	now := s.clock.Now()
	// Counted out of the room a full database keeps for reads (Batch):
	// a failure that could not be counted would lift the lock-out, and
	// would answer differently from an unknown user id, which writes
	// nothing.
	err := s.store.Batch(ctx, func(tx datastore.Tx) error {
		u, err := tx.User(userID)
		if err != nil || now.Before(u.SignIn.LockedUntil) {
			return err
		}
		u.SignIn.Failures++
		if u.SignIn.Failures >= MaxSignInFailures {
			u.SignIn.Failures, u.SignIn.LockedUntil = 0, now.Add(LockOutDuration)
			e := audit.Event{Time: now, Action: "auth.lock", Resource: model.UserName(userID), Outcome: audit.OutcomeDenied,
				Reason: fmt.Sprintf("locked for %s after %d failed sign-ins in a row, the last %s from %s", LockOutDuration, MaxSignInFailures, why, client)}
			if _, err := tx.AppendAudit(e); err != nil {
				return err
			}
		}
		return tx.UpdateUser(u)
	})
	// Not even the reserve has room: the failure goes uncounted, so the
	// lock-out no longer bounds a guesser, and the answer must be the
	// right password's, which cannot be recorded either
	// (SignInWithPassword). The refusal is audited all the same.
	s.noteFull(err)
	if err != nil && !errors.Is(err, model.ErrFull) {
		return err
	}
	if err != nil {
		s.log.WarnContext(ctx, "sign-in: a wrong password was not counted: the database is full", "user", userID, "err", err)
	}
	return s.refuse(ctx, model.UserName(userID), model.UserName(userID), why, client)
}

// SignInsFull reports whether the sign-ins are answered model.ErrFull
// now: the last sign-in write found the database full past its reserve.
func (s *Service) SignInsFull() bool { return s.full.Load() }

// noteFull records what a sign-in's write says of the database: full
// (model.ErrFull), or not any more (it went through). Another error says
// nothing of it.
func (s *Service) noteFull(err error) {
	switch {
	case err == nil:
		s.full.Store(false)
	case errors.Is(err, model.ErrFull):
		s.full.Store(true)
	}
}

// EndSession revokes a console session's token: sign-out, or the
// console's idle timeout, or another sign-in that ended it. why says
// which, in the auth.sign_out event: the event is the session owner's,
// and an auditor must not read "signed out" where the person walked away
// or someone else signed in over the session. Ending an ended session
// changes nothing; a token that is not a session is model.ErrNotFound.
func (s *Service) EndSession(ctx context.Context, tokenID, why string) error {
	now := s.clock.Now()
	// Like the sign-in, out of the room a full database keeps for reads.
	var userID string // the session's, whose streams are told
	err := s.store.Batch(ctx, func(tx datastore.Tx) error {
		t, err := tx.Token(tokenID)
		if err != nil {
			return err
		}
		userID = t.UserID
		if t.Kind != model.TokenSession {
			return fmt.Errorf("session %s: %w", tokenID, model.ErrNotFound)
		}
		if !t.RevokeTime.IsZero() {
			return nil
		}
		u, err := tx.User(t.UserID)
		if err != nil {
			return err
		}
		t.RevokeTime = now
		if err := tx.UpdateToken(t); err != nil {
			return err
		}
		e := Principal(u, "").Event(now, "auth.sign_out", tokenName(t), "", audit.OutcomeOK)
		e.Reason = why
		_, err = tx.AppendAudit(e)
		return err
	})
	if err == nil && userID != "" {
		s.revoked.tell(userID)
	}
	return err
}

// linkToken returns the live link token of secret and its user; any link
// that is not live (unknown, used, expired, of a disabled user) is
// model.ErrNotFound, the why wrapped.
func linkToken(tx datastore.ReadTx, secret string, now time.Time) (model.Token, model.User, error) {
	id, sec, ok := parseSecret(secret, linkPrefix)
	if !ok {
		return model.Token{}, model.User{}, fmt.Errorf("password link: malformed: %w", model.ErrNotFound)
	}
	t, err := tx.Token(id)
	if err != nil {
		return model.Token{}, model.User{}, fmt.Errorf("password link %s: %w", id, err)
	}
	switch {
	case subtle.ConstantTimeCompare(hashSecret(sec), t.SecretHash) != 1 || t.Kind != model.TokenPasswordLink:
		return model.Token{}, model.User{}, fmt.Errorf("password link %s: wrong secret: %w", id, model.ErrNotFound)
	case !t.RevokeTime.IsZero():
		return model.Token{}, model.User{}, fmt.Errorf("password link %s: used or replaced: %w", id, model.ErrNotFound)
	case !now.Before(t.ExpireTime):
		return model.Token{}, model.User{}, fmt.Errorf("password link %s: expired: %w", id, model.ErrNotFound)
	}
	u, err := tx.User(t.UserID)
	if err != nil {
		return model.Token{}, model.User{}, err
	}
	if u.Disabled() {
		return model.Token{}, model.User{}, fmt.Errorf("password link %s: user %s is disabled: %w", id, u.ID, model.ErrNotFound)
	}
	return t, u, nil
}

// LinkUser checks a link without using it: its user, and whether that
// user must enrol TOTP. A link that is not live is model.ErrNotFound, and
// is counted as a refused sign-in from client: a link is a credential, and
// one that does not work is an authentication failure (all links together
// under one key, as unknown user ids are, and without the link).
func (s *Service) LinkUser(ctx context.Context, secret, client string) (u model.User, needsTOTP bool, err error) {
	now := s.clock.Now()
	err = s.store.View(ctx, func(tx datastore.ReadTx) error {
		_, u, err = linkToken(tx, secret, now)
		return err
	})
	if errors.Is(err, model.ErrNotFound) {
		_ = s.refuse(ctx, "password links", "", "password link not live", client)
	}
	if err != nil {
		return model.User{}, false, err
	}
	return withoutSignIn(u), NeedsSecondFactor(u.Role), nil
}

// SetPasswordWithLink sets a person's password (and enrols their TOTP
// secret, for the roles that need one) and uses the link up. A link that
// is not live is model.ErrNotFound; a password against the policy, a
// missing or bad TOTP secret or code is invalid, naming the field.
func (s *Service) SetPasswordWithLink(ctx context.Context, in SetPassword) (model.User, error) {
	u, needsTOTP, err := s.LinkUser(ctx, in.LinkSecret, in.Client)
	if err != nil {
		return model.User{}, err
	}
	if err := CheckPassword(u.ID, in.Password); err != nil {
		return model.User{}, err
	}
	now := s.clock.Now()
	var secret string
	var step int64
	if needsTOTP {
		if secret, err = checkTOTPSecret(in.TOTPSecret); err != nil {
			return model.User{}, err
		}
		var ok bool
		if step, ok = totpStep(secret, in.TOTPCode, now, 0); !ok {
			return model.User{}, model.InvalidField("totp_code", "totp.code", "totp_code must be the code the authenticator app shows now for totp_secret")
		}
		if s.vault == nil {
			return model.User{}, errors.New("set password: no vault to seal the TOTP secret")
		}
	}
	hash, err := hashPassword(in.Password)
	if err != nil {
		return model.User{}, err
	}
	err = s.store.Update(ctx, func(tx datastore.Tx) error {
		t, cur, err := linkToken(tx, in.LinkSecret, now)
		if err != nil {
			return err
		}
		cur.SignIn = model.SignIn{PasswordHash: hash, TOTPLastStep: max(step, cur.SignIn.TOTPLastStep)}
		if needsTOTP {
			if cur.SignIn.TOTP, err = s.vault.SealTOTP(tx, cur.ID, secret); err != nil {
				return err
			}
		}
		if err := tx.UpdateUser(cur); err != nil {
			return err
		}
		t.RevokeTime = now
		if err := tx.UpdateToken(t); err != nil {
			return err
		}
		e := Principal(cur, "").Event(now, "user.set_password", model.UserName(cur.ID), "", audit.OutcomeOK)
		if needsTOTP {
			// An auditor looking for when an account's second factor
			// changed finds it here.
			e.Reason = "second factor enrolled"
		}
		_, err = tx.AppendAudit(e)
		u = cur
		return err
	})
	if err != nil {
		return model.User{}, err
	}
	return withoutSignIn(u), nil
}

// ResetPassword clears a user's password and second factor, unlocks the
// account, ends their console sessions and unused links, and returns a
// new one-time link. A retry with the same request_id returns the first
// link's expiry without its secret (which is not kept).
func (s *Service) ResetPassword(ctx context.Context, p access.Principal, userID string, req idempotency.Request) (PasswordLink, error) {
	now := s.clock.Now()
	link, err := newLink(userID, p.UserID, now)
	if err != nil {
		return PasswordLink{}, err
	}
	var first PasswordLink
	replayed := false
	var ended []string // the console sessions it ends
	err = s.store.Update(ctx, func(tx datastore.Tx) error {
		ended = nil
		var err error
		if replayed, err = replay(tx, p, "ResetPassword", req, &first, now); err != nil || replayed {
			return err
		}
		u, err := activeUser(tx, userID)
		if err != nil {
			return err
		}
		u.SignIn = model.SignIn{TOTPLastStep: u.SignIn.TOTPLastStep}
		if err := tx.UpdateUser(u); err != nil {
			return err
		}
		events := []audit.Event{p.Event(now, "user.reset_password", model.UserName(userID), "", audit.OutcomeOK)}
		ts, err := tx.TokensOfUser(userID)
		if err != nil {
			return err
		}
		for _, t := range ts {
			if t.Kind != model.TokenAPI && t.RevokeTime.IsZero() {
				t.RevokeTime = now
				if err := tx.UpdateToken(t); err != nil {
					return err
				}
				events = append(events, p.Event(now, "token.revoke", tokenName(t), "", audit.OutcomeOK))
				if t.Kind == model.TokenSession {
					events = append(events, sessionEnd(p, u, t, now, "resetting the password"))
					ended = append(ended, t.ID)
				}
			}
		}
		if _, err := tx.AppendAudit(events...); err != nil {
			return err
		}
		if err := storeLink(tx, p, link.Token, now); err != nil {
			return err
		}
		return remember(tx, p, "ResetPassword", req, model.UserName(userID), PasswordLink{ExpireTime: link.ExpireTime}, now)
	})
	if err != nil {
		return PasswordLink{}, err
	}
	s.revoked.tell(userID)
	s.tellSessionsEnded(ended)
	if replayed {
		return first, nil
	}
	return link.PasswordLink, nil
}

// EnrolledTOTPSecret opens the TOTP secret a user enrolled, "" when none.
// Only the demo calls it: its users share a secret fixed per database,
// printed at every start for newcomers without an authenticator app.
func (s *Service) EnrolledTOTPSecret(ctx context.Context, userID string) (secret string, err error) {
	err = s.store.View(ctx, func(tx datastore.ReadTx) error {
		u, err := tx.User(userID)
		if err != nil || u.SignIn.TOTP.KeyID == "" || s.vault == nil {
			return err
		}
		secret, err = s.vault.OpenTOTP(tx, userID, u.SignIn.TOTP)
		return err
	})
	return secret, err
}
