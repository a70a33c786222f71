// Package identity manages who may call the service: users with one role and
// one unit, the bearer tokens they authenticate with, people's console
// sign-in (passwords, one-time set-password links, TOTP, lock-out and
// sessions, see signin.go), and the police units cases are referred to. Tokens are random, shown once, stored only as a
// SHA-256 hash, compared in constant time, and expire or are revoked. Every
// change is audited in the transaction that makes it, and is idempotent by
// request_id in that transaction too: a retry returns the first answer, a
// token's secret excepted (it is never stored, so a retry cannot show it
// again).
package identity

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"

	"github.com/childcase/childcase/internal/domain/access"
	"github.com/childcase/childcase/internal/domain/audit"
	"github.com/childcase/childcase/internal/domain/auditlog"
	"github.com/childcase/childcase/internal/domain/clock"
	"github.com/childcase/childcase/internal/domain/datastore"
	"github.com/childcase/childcase/internal/domain/idempotency"
	"github.com/childcase/childcase/internal/domain/model"
	"github.com/childcase/childcase/internal/domain/search"
	"github.com/childcase/childcase/internal/domain/units"
	"github.com/childcase/childcase/internal/domain/vault"
	"github.com/childcase/childcase/internal/domain/vntime"
)

// Token lifetimes.
const (
	DefaultTokenTTL = 90 * 24 * time.Hour
	MaxTokenTTL     = 400 * 24 * time.Hour
	// BootstrapTokenTTL bounds the first admin token printed by a new
	// database: long enough to set up, short enough not to linger.
	BootstrapTokenTTL = 7 * 24 * time.Hour
)

// BootstrapUserID is the id of the admin a new database creates.
const BootstrapUserID = "admin"

// tokenPrefix starts every token so that secret scanners and people can
// recognise one.
const tokenPrefix = "cc_"

// ErrUnauthenticated is returned (wrapped with the why, which is for the
// audit log, never for the caller) when a bearer token is not valid.
var ErrUnauthenticated = errors.New("unauthenticated")

// Service manages users, tokens and police units.
type Service struct {
	store datastore.Store
	units *units.Registry
	clock clock.Clock
	log   *slog.Logger
	// vault seals the TOTP secrets of console sign-in; nil: no second
	// factor can be enrolled or checked (WithVault).
	vault *vault.Vault
	// refusals audits failed console sign-ins per account, at a bounded
	// cost (RunAudit writes them).
	refusals *auditlog.Refusals
	// full is set while the sign-ins' writes fail for a full database
	// (the reserve used up), and cleared by the next that goes through:
	// wrong passwords then go uncounted, so every sign-in answers
	// model.ErrFull, whatever its password (SignInWithPassword).
	full *atomic.Bool
	// sessionsEnded is told the console sessions an admin's change ended
	// (OnSessionsEnded); shared by the copies WithVault makes.
	sessionsEnded *atomic.Pointer[func(tokenIDs []string)]
	// revoked wakes the open streams (Revoked) when a change through
	// this service revokes tokens; shared by the copies WithVault makes.
	revoked *revocations
}

// New returns the identity service.
func New(store datastore.Store, reg *units.Registry, clk clock.Clock, log *slog.Logger) *Service {
	return &Service{store: store, units: reg, clock: clk, log: log,
		refusals: auditlog.NewRefusals(auditlog.New(store), clk, log, "other accounts"), full: new(atomic.Bool),
		sessionsEnded: new(atomic.Pointer[func([]string)]), revoked: new(revocations)}
}

// revocations signals tokens revoked, per user: the channel wait returns
// for a user is closed by the next tell of that user, and a later wait
// gets a new one. Per user, so that a revocation wakes the streams of
// its user alone, not every open stream (the console's idle sweep ends
// sessions each minute).
type revocations struct {
	mu   sync.Mutex
	next map[string]chan struct{}
}

func (r *revocations) wait(userID string) <-chan struct{} {
	r.mu.Lock()
	defer r.mu.Unlock()
	ch, ok := r.next[userID]
	if !ok {
		if r.next == nil {
			r.next = make(map[string]chan struct{})
		}
		ch = make(chan struct{})
		r.next[userID] = ch
	}
	return ch
}

func (r *revocations) tell(userID string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if ch, ok := r.next[userID]; ok {
		close(ch)
		delete(r.next, userID)
	}
}

// Revoked returns a channel closed once a change made through this
// service after the call is committed that revokes tokens of userID or
// disables them (DisableUser, RevokeToken, ResetPassword, EndSession). An
// open stream waits on it beside its periodic check and checks its token
// at once: a person disabled must lose their live notifications with the
// admin's answer, not seconds later. A change made through another
// instance of a shared store is not told here; the periodic check sees
// it. Take the channel before checking the token, so that no revocation
// falls between the two.
func (s *Service) Revoked(userID string) <-chan struct{} { return s.revoked.wait(userID) }

// OnSessionsEnded has f told the token ids of the console sessions that an
// admin's change ended (disabling the account, resetting its password,
// revoking the token), once the change is committed. The console keeps
// its sessions in memory: without being told, it would end one only when
// an API call of it failed, and a page that makes none would still show
// the person signed in. f must not block; each instance's console is told
// of the changes made through it, and another instance's sessions end at
// their next API call, which their revoked token fails.
func (s *Service) OnSessionsEnded(f func(tokenIDs []string)) { s.sessionsEnded.Store(&f) }

// tellSessionsEnded tells OnSessionsEnded's f of ended sessions, if any.
func (s *Service) tellSessionsEnded(tokenIDs []string) {
	if f := s.sessionsEnded.Load(); f != nil && len(tokenIDs) > 0 {
		(*f)(tokenIDs)
	}
}

// WithVault returns the service with v sealing and opening the TOTP
// secrets of console sign-in. The two share their refusal counts, and
// what they know of a full database.
func (s *Service) WithVault(v *vault.Vault) *Service {
	c := *s
	c.vault = v
	return &c
}

// RunAudit writes the failed console sign-ins of each window soon after it
// ends, looking every poll, until ctx ends; then it writes what is still
// counted.
func (s *Service) RunAudit(ctx context.Context, poll time.Duration) { s.refusals.Run(ctx, poll) }

// IssuedToken is a token as created: the secret is shown this once.
type IssuedToken struct {
	Token  model.Token
	Secret string // the whole bearer token, "cc_<id>_<secret>"
}

var userIDPattern = regexp.MustCompile(`^[a-z][a-z0-9._-]{1,62}$`)

// ValidUserID reports whether id is of the form every user id takes
// (CreateUser refuses any other): a filter naming another can match no
// one.
func ValidUserID(id string) bool { return userIDPattern.MatchString(id) }

// CanonicalUserID is the user id a person typed, as ids are stored: a
// phone's keyboard starts it with a capital, an input method may type it
// in full width, a paste brings spaces. Every id is of a-z, 0-9 and
// . _ - (ValidUserID), so each of those forms is one user's id and no
// other's; whatever does not fold to such an id stays no one's.
// What is longer than MaxTypedUserID is not folded and is no one's ("",
// never an id): NFKC writes some letters as up to 18, and a sign-in
// form's megabyte of them cost tens of megabytes and a third of a second
// of a core, before any throttle.
func CanonicalUserID(typed string) string {
	if len(typed) > MaxTypedUserID {
		return ""
	}
	return strings.ToLower(strings.TrimSpace(norm.NFKC.String(typed)))
}

// MaxTypedUserID bounds, in bytes, a user id as typed: an id's 63
// letters in full width (3 bytes each) with room for spaces around.
const MaxTypedUserID = 256

var policeIDPattern = regexp.MustCompile(`^[a-z][a-z0-9-]{1,62}$`)

// Authenticate checks a bearer token and returns its user and the token
// (without its hash), which the principal names (TokenPrincipal). Every
// failure wraps ErrUnauthenticated; the wrapped text says why (for the
// audit log).
func (s *Service) Authenticate(ctx context.Context, bearer string) (model.User, model.Token, error) {
	id, secret, ok := parseToken(bearer)
	if !ok {
		return model.User{}, model.Token{}, fmt.Errorf("%w: malformed token", ErrUnauthenticated)
	}
	now := s.clock.Now()
	var u model.User
	var t model.Token
	err := s.store.View(ctx, func(tx datastore.ReadTx) error {
		var err error
		t, err = tx.Token(id)
		if errors.Is(err, model.ErrNotFound) {
			// Hash anyway so an unknown id costs what a known one does.
			_ = subtle.ConstantTimeCompare(hashSecret(secret), make([]byte, sha256.Size))
			return fmt.Errorf("%w: unknown token", ErrUnauthenticated)
		}
		if err != nil {
			return err
		}
		if subtle.ConstantTimeCompare(hashSecret(secret), t.SecretHash) != 1 {
			return fmt.Errorf("%w: wrong secret for token %s", ErrUnauthenticated, t.ID)
		}
		u, err = usable(tx, t, now)
		return err
	})
	if err != nil {
		return model.User{}, model.Token{}, err
	}
	return withoutSignIn(u), withoutHash(t), nil
}

// StillValid reports, in tx, whether the token id that authenticated a
// call may still act at now: not revoked, not expired, its user not
// disabled. Authentication checks it once, when a call starts; a stream
// that outlives that check (a watch) asks again in each transaction it
// reads with, so that nothing it read after a revocation reaches the
// caller. Every failure wraps ErrUnauthenticated.
func StillValid(tx datastore.ReadTx, id string, now time.Time) error {
	t, err := tx.Token(id)
	if errors.Is(err, model.ErrNotFound) {
		return fmt.Errorf("%w: unknown token", ErrUnauthenticated)
	}
	if err != nil {
		return err
	}
	_, err = usable(tx, t, now)
	return err
}

// usable returns the user of t, read in tx, when t may act at now: a
// token rather than a set-password link, neither revoked nor expired, of
// a user who is not disabled.
func usable(tx datastore.ReadTx, t model.Token, now time.Time) (model.User, error) {
	switch {
	case t.Kind == model.TokenPasswordLink:
		return model.User{}, fmt.Errorf("%w: token %s is a set-password link", ErrUnauthenticated, t.ID)
	case !t.RevokeTime.IsZero():
		return model.User{}, fmt.Errorf("%w: token %s was revoked", ErrUnauthenticated, t.ID)
	case !now.Before(t.ExpireTime):
		return model.User{}, fmt.Errorf("%w: token %s expired", ErrUnauthenticated, t.ID)
	}
	u, err := tx.User(t.UserID)
	if err != nil {
		return model.User{}, err
	}
	if u.Disabled() {
		return model.User{}, fmt.Errorf("%w: user %s is disabled", ErrUnauthenticated, u.ID)
	}
	return u, nil
}

// Principal returns the principal of a user acting in a request.
func Principal(u model.User, requestID string) access.Principal {
	return access.Principal{UserID: u.ID, Role: u.Role, Unit: u.Unit, RequestID: requestID}
}

// TokenPrincipal returns the principal of a user acting in a request with
// token t: its audit events name the token and, when someone else created
// it (an admin, the service), who did, since they were shown its secret
// and could have made the call.
func TokenPrincipal(u model.User, t model.Token, requestID string) access.Principal {
	p := Principal(u, requestID)
	p.TokenID = t.ID
	if t.CreatedBy != t.UserID {
		p.TokenCreatedBy = t.CreatedBy
	}
	return p
}

// TokenID returns the public id of a bearer token of the right form,
// without looking it up: the sign-in throttle counts failures per token id
// so that guesses at one user's token slow down that token, not everyone
// who shares the guesser's address.
func TokenID(bearer string) (id string, ok bool) {
	id, _, ok = parseToken(bearer)
	return id, ok
}

// parseToken splits "cc_<16 hex>_<43 base64url>" into id and secret.
func parseToken(s string) (id, secret string, ok bool) { return parseSecret(s, tokenPrefix) }

// parseSecret splits "<prefix><16 hex>_<43 base64url>" into id and secret.
func parseSecret(s, prefix string) (id, secret string, ok bool) {
	rest, ok := strings.CutPrefix(s, prefix)
	if !ok {
		return "", "", false
	}
	id, secret, ok = strings.Cut(rest, "_")
	if !ok || len(id) != 16 || len(secret) != 43 {
		return "", "", false
	}
	if _, err := hex.DecodeString(id); err != nil {
		return "", "", false
	}
	return id, secret, true
}

func hashSecret(secret string) []byte {
	h := sha256.Sum256([]byte(secret))
	return h[:]
}

// newToken makes an API token for a user, created by the user createdBy:
// an 8-byte public id and a 256-bit secret.
func newToken(userID, createdBy string, now time.Time, ttl time.Duration) (IssuedToken, error) {
	return newCredential(userID, createdBy, now, ttl, model.TokenAPI, tokenPrefix)
}

// newCredential makes a token of a kind, its secret starting with prefix,
// created by the user createdBy (who is shown its secret).
func newCredential(userID, createdBy string, now time.Time, ttl time.Duration, kind model.TokenKind, prefix string) (IssuedToken, error) {
	var id [8]byte
	var secret [32]byte
	if _, err := rand.Read(id[:]); err != nil {
		return IssuedToken{}, fmt.Errorf("new token: %w", err)
	}
	if _, err := rand.Read(secret[:]); err != nil {
		return IssuedToken{}, fmt.Errorf("new token: %w", err)
	}
	idHex := hex.EncodeToString(id[:])
	sec := base64.RawURLEncoding.EncodeToString(secret[:])
	return IssuedToken{
		Token: model.Token{
			ID: idHex, UserID: userID, SecretHash: hashSecret(sec),
			CreateTime: now, ExpireTime: now.Add(ttl), Kind: kind, CreatedBy: createdBy,
		},
		Secret: prefix + idHex + "_" + sec,
	}, nil
}

func checkTTL(ttl time.Duration, field string) (time.Duration, error) {
	switch {
	case ttl == 0:
		return DefaultTokenTTL, nil
	case ttl < time.Minute || ttl > MaxTokenTTL:
		return 0, model.InvalidField(field, "token.ttl", "a token lives between 1 minute and %d days", int(MaxTokenTTL.Hours()/24))
	}
	return ttl, nil
}

// CreateUser creates a user, a first token for them, and a one-time link
// to set their console password. A retry with the same request_id returns
// the first user and token, with an empty Secret, and no link (the secret
// is not kept: ResetPassword makes a new one). The user's unit must not
// have gone out of force by today (access.CheckUnitInForce).
func (s *Service) CreateUser(ctx context.Context, p access.Principal, u model.User, ttl time.Duration, req idempotency.Request) (model.User, IssuedToken, PasswordLink, error) {
	return s.createUser(ctx, p, u, ttl, req, true)
}

// SeedUser is CreateUser for the demo's seeding, which shows on purpose
// staff of a unit a reform ended (Quận Ba Đình's officer), as a database
// that lived through the reform holds them: it takes a unit out of force.
// No request reaches it.
func (s *Service) SeedUser(ctx context.Context, p access.Principal, u model.User, ttl time.Duration) (model.User, IssuedToken, PasswordLink, error) {
	return s.createUser(ctx, p, u, ttl, idempotency.Request{}, false)
}

// checkWorkPhone refuses a work phone that is no phone number, by the rule
// intake applies to a caller's (search.PhoneNumber): the police call the
// responsible officer on it, and "call the office" or a number short of a
// digit reaches no one. It is kept as typed, as intake keeps a caller's,
// with full-width digits and no-break spaces in ASCII. None is allowed.
func checkWorkPhone(phone *string) error {
	if *phone == "" {
		return nil
	}
	if _, ok := search.PhoneNumber(*phone); !ok {
		return model.InvalidField("user.phone", "phone.number", "a work phone is a phone number: digits (9 or 10 after 0 or +84 for a Vietnamese number, "+
			"024 3825 0000 or 0912 345 678; 10 to 15 with its + and code for another country), "+
			"with spaces, dots, dashes, slashes or parentheses between them and a + before them")
	}
	*phone = strings.TrimSpace(norm.NFKC.String(*phone))
	return nil
}

func (s *Service) createUser(ctx context.Context, p access.Principal, u model.User, ttl time.Duration, req idempotency.Request, inForce bool) (model.User, IssuedToken, PasswordLink, error) {
	u.DisplayName = strings.TrimSpace(norm.NFC.String(u.DisplayName))
	u.Phone = strings.TrimSpace(u.Phone)
	if !userIDPattern.MatchString(u.ID) {
		return model.User{}, IssuedToken{}, PasswordLink{}, model.InvalidField("user_id", "user.id", "a user id is 2-63 characters of a-z, 0-9, '.', '_' and '-', starting with a letter")
	}
	if u.ID == access.SystemUserID {
		// The audit log and the case timelines name the service's own
		// work so: a user of that id would act under the service's name.
		return model.User{}, IssuedToken{}, PasswordLink{}, model.InvalidField("user_id", "user.id_reserved", "%q is the service's own name in the audit log and the case timelines; choose another user id", u.ID)
	}
	if err := checkDisplayName("user.display_name", u.DisplayName); err != nil {
		return model.User{}, IssuedToken{}, PasswordLink{}, err
	}
	if utf8.RuneCountInString(u.Phone) > maxPhoneLen {
		return model.User{}, IssuedToken{}, PasswordLink{}, model.InvalidField("user.phone", "string.max_len", "a work phone is at most %d characters", maxPhoneLen)
	}
	if strings.ContainsFunc(u.Phone, model.IsRefusedControl) {
		return model.User{}, IssuedToken{}, PasswordLink{}, noControl("user.phone")
	}
	if err := checkWorkPhone(&u.Phone); err != nil {
		return model.User{}, IssuedToken{}, PasswordLink{}, err
	}
	if _, ok := model.ParseRole(u.Role.String()); !ok {
		return model.User{}, IssuedToken{}, PasswordLink{}, model.InvalidField("user.role", "user.role", "role is required")
	}
	if err := access.CheckUserUnit(s.units, u.Role, u.Unit, "user.unit"); err != nil {
		return model.User{}, IssuedToken{}, PasswordLink{}, err
	}
	now := s.clock.Now()
	ttl, err := checkTTL(ttl, "token_ttl")
	if err != nil {
		return model.User{}, IssuedToken{}, PasswordLink{}, err
	}
	u.CreateTime, u.DisableTime = now, time.Time{}
	u.SignIn = model.SignIn{}
	tok, err := newToken(u.ID, p.UserID, now, ttl)
	if err != nil {
		return model.User{}, IssuedToken{}, PasswordLink{}, err
	}
	link, err := newLink(u.ID, p.UserID, now)
	if err != nil {
		return model.User{}, IssuedToken{}, PasswordLink{}, err
	}
	var first createdUser
	replayed := false
	err = s.store.Update(ctx, func(tx datastore.Tx) error {
		var err error
		if replayed, err = replay(tx, p, "CreateUser", req, &first, now); err != nil || replayed {
			return err
		}
		// After the replay: the unit may have ended since a first
		// request that committed, whose retry answers what it did.
		if inForce {
			if err := access.CheckUnitInForce(s.units, u.Unit, vntime.DateOf(now), "user.unit"); err != nil {
				return err
			}
		}
		if police, ok := strings.CutPrefix(u.Unit, "policeUnits/"); ok {
			if _, err := tx.PoliceUnit(police); err != nil {
				return model.MissingReference(err, "user.unit", "police unit %s does not exist", u.Unit)
			}
		}
		if err := createWithToken(tx, p, u, tok.Token, now); err != nil {
			return err
		}
		if err := storeLink(tx, p, link.Token, now); err != nil {
			return err
		}
		return remember(tx, p, "CreateUser", req, model.UserName(u.ID), createdUser{User: u, Token: withoutHash(tok.Token)}, now)
	})
	if err != nil {
		return model.User{}, IssuedToken{}, PasswordLink{}, err
	}
	if replayed {
		return first.User, IssuedToken{Token: first.Token}, PasswordLink{}, nil
	}
	s.log.InfoContext(ctx, "user created", "user", u.ID, "role", u.Role.String(), "unit", u.Unit, "by", p.UserID)
	s.warnSecondFactorToken(ctx, p, u.Role, tok.Token)
	return u, tok, link.PasswordLink, nil
}

func tokenName(t model.Token) string { return model.UserName(t.UserID) + "/tokens/" + t.ID }

// createdUser is the answer to CreateUser as remembered for a retry: the
// token without its hash, and of course without its secret.
type createdUser struct {
	User  model.User
	Token model.Token
}

// withoutHash returns a token as it may be remembered for a retry.
func withoutHash(t model.Token) model.Token {
	t.SecretHash = nil
	return t
}

// replay looks up an earlier request of p with the same request_id and,
// when there was one, decodes its answer into first and returns true. The
// first answer shows a user or a token again, so it is audited as a read
// of it at now, as the retries of reports and case steps are. A
// different request under that id is model.ErrIdempotencyMismatch.
//
// Every admin write begins with it, so it first checks, in the write's
// own transaction, that p's token may still act: the call's sign-in was
// checked when it began, and another admin may have disabled p, or
// revoked the token, since. Without this, two admins who disable each
// other at the same moment both succeed and leave no active admin, and
// an admin being disabled can still make a user or a token in the
// moment it takes. p without a token (the service's own work, the
// offline commands) has nothing to check.
func replay[T any](tx datastore.Tx, p access.Principal, method string, req idempotency.Request, first *T, now time.Time) (bool, error) {
	if p.TokenID != "" {
		if err := StillValid(tx, p.TokenID, now); err != nil {
			return false, fmt.Errorf("%s by %s: %w", method, p.UserID, err)
		}
	}
	rec, found, err := idempotency.Replay(tx, p, method, req.ID, req.Fingerprint)
	if err != nil || !found {
		return false, err
	}
	if err := json.Unmarshal(rec.Result, first); err != nil {
		return false, fmt.Errorf("%s: the answer remembered for request_id %q: %w", method, req.ID, err)
	}
	if action := retryRead(method); action != "" {
		if _, err := tx.AppendAudit(idempotency.Retried(p, now, action, rec.Resource, "", method)); err != nil {
			return false, err
		}
	}
	return true, nil
}

// retryRead is the action of the read the answer to a retry of method
// is: a user or a token shown again. A police unit is nobody's data; its
// reads are not audited, nor is the retry of its creation.
func retryRead(method string) string {
	switch method {
	case "CreateUser", "DisableUser", "ResetPassword":
		return "user.read"
	case "CreateToken", "RevokeToken":
		return "token.list"
	}
	return ""
}

// remember records the answer to p's request, in the transaction of the
// change, so that a retry with the same request_id gets it back. Without a
// request_id it does nothing.
func remember[T any](tx datastore.IdempotencyTx, p access.Principal, method string, req idempotency.Request, resource string, answer T, now time.Time) error {
	if req.ID == "" {
		return nil
	}
	result, err := json.Marshal(answer)
	if err != nil {
		return fmt.Errorf("%s: remember the answer: %w", method, err)
	}
	return idempotency.Remember(tx, p, method, req.ID, req.Fingerprint, resource, result, now)
}

// GetUser returns a user, without their sign-in credentials.
func (s *Service) GetUser(ctx context.Context, id string) (model.User, error) {
	var u model.User
	err := s.store.View(ctx, func(tx datastore.ReadTx) error {
		var err error
		u, err = tx.User(id)
		return err
	})
	return withoutSignIn(u), err
}

// ReadUser is GetUser for p, an admin through the API: the read is
// audited ("user.read", on the user, one that does not exist included)
// before it answers.
func (s *Service) ReadUser(ctx context.Context, p access.Principal, id string) (model.User, error) {
	u, err := s.GetUser(ctx, id)
	if rerr := s.recordReads(ctx, p.Event(s.clock.Now(), "user.read", model.UserName(id), "", auditlog.Outcome(err))); rerr != nil {
		return model.User{}, rerr
	}
	return u, err
}

// recordReads records the audit events of reads before they are answered.
func (s *Service) recordReads(ctx context.Context, events ...audit.Event) error {
	return auditlog.New(s.store).Record(ctx, events...)
}

// withoutSignIn returns u without their credentials: what the service
// answers and remembers for a retry. Hashes are kept where they are used.
func withoutSignIn(u model.User) model.User {
	u.SignIn = model.SignIn{}
	return u
}

// ListUsers lists users by id.
func (s *Service) ListUsers(ctx context.Context, after string, limit int) (us []model.User, next string, err error) {
	err = s.store.View(ctx, func(tx datastore.ReadTx) error {
		us, next, err = tx.ListUsers(after, limit)
		for i := range us {
			us[i] = withoutSignIn(us[i])
		}
		return err
	})
	return us, next, err
}

// ListUsersFor is ListUsers for p, an admin through the API: each user of
// the page is audited ("user.list") before the page is answered, as a
// list of cases is.
func (s *Service) ListUsersFor(ctx context.Context, p access.Principal, after string, limit int) ([]model.User, string, error) {
	us, next, err := s.ListUsers(ctx, after, limit)
	if err != nil {
		return nil, "", err
	}
	now := s.clock.Now()
	events := make([]audit.Event, 0, len(us))
	for _, u := range us {
		events = append(events, p.Event(now, "user.list", model.UserName(u.ID), "", audit.OutcomeOK))
	}
	if err := s.recordReads(ctx, events...); err != nil {
		return nil, "", err
	}
	return us, next, nil
}

// ListTokens returns a page of a user's API tokens (without secrets), up
// to limit in order of id after the cursor, and the cursor of the next
// page. Console sessions and set-password links are tokens too, but not
// ones an admin issues or hands to a client: they are left out, and end
// with sign-out, ResetPassword or DisableUser; a page ends short after
// passing over storekey.MaxSkipped of them, with a cursor, so that a user
// of many sign-ins costs a page, not their history. The read is audited
// for p ("token.list", on the user's tokens) before it answers.
func (s *Service) ListTokens(ctx context.Context, p access.Principal, userID, after string, limit int) ([]model.Token, string, error) {
	var ts []model.Token
	var next string
	err := s.store.View(ctx, func(tx datastore.ReadTx) error {
		if _, err := tx.User(userID); err != nil {
			return err
		}
		var err error
		ts, next, err = tx.TokensOfUserPage(userID, after, limit, func(t model.Token) bool { return t.Kind == model.TokenAPI })
		return err
	})
	if rerr := s.recordReads(ctx, p.Event(s.clock.Now(), "token.list", model.UserName(userID)+"/tokens", "", auditlog.Outcome(err))); rerr != nil {
		return nil, "", rerr
	}
	if err != nil {
		return nil, "", err
	}
	return ts, next, nil
}

// DisableUser disables a user and revokes all their tokens, at once: a
// person who leaves must lose access with one command. A retry with the
// same request_id returns the first answer.
func (s *Service) DisableUser(ctx context.Context, p access.Principal, id string, req idempotency.Request) (model.User, error) {
	now := s.clock.Now()
	var u model.User
	var ended []string // the console sessions it ends
	err := s.store.Update(ctx, func(tx datastore.Tx) error {
		ended = nil
		if replayed, err := replay(tx, p, "DisableUser", req, &u, now); err != nil || replayed {
			return err
		}
		var err error
		if u, err = tx.User(id); err != nil {
			return err
		}
		if id == p.UserID {
			return model.Precondition("SELF_DISABLE", "an admin cannot disable their own user; ask another admin")
		}
		events := []audit.Event{}
		if !u.Disabled() {
			u.DisableTime = now
			if err := tx.UpdateUser(u); err != nil {
				return err
			}
			events = append(events, p.Event(now, "user.disable", model.UserName(id), "", audit.OutcomeOK))
		}
		ts, err := tx.TokensOfUser(id)
		if err != nil {
			return err
		}
		for _, t := range ts {
			if t.RevokeTime.IsZero() {
				t.RevokeTime = now
				if err := tx.UpdateToken(t); err != nil {
					return err
				}
				events = append(events, p.Event(now, "token.revoke", tokenName(t), "", audit.OutcomeOK))
				if t.Kind == model.TokenSession {
					events = append(events, sessionEnd(p, u, t, now, "disabling the account"))
					ended = append(ended, t.ID)
				}
			}
		}
		if _, err = tx.AppendAudit(events...); err != nil {
			return err
		}
		return remember(tx, p, "DisableUser", req, model.UserName(id), withoutSignIn(u), now)
	})
	if err == nil {
		s.revoked.tell(id)
		s.tellSessionsEnded(ended)
	}
	return withoutSignIn(u), err
}

// sessionEnd is the auth.sign_out of u, the owner of the console session
// t that p's change ended (how: "disabling the account", ...). Every end
// of a session is its owner's event, saying how it ended (EndSession
// writes those the console sees): without it, the owner's trail shows
// a sign-in and no end, and p's token.revoke does not say that the token
// was a session. It carries p's request id, the call that ended it.
func sessionEnd(p access.Principal, u model.User, t model.Token, now time.Time, how string) audit.Event {
	e := Principal(u, p.RequestID).Event(now, "auth.sign_out", tokenName(t), "", audit.OutcomeOK)
	e.Reason = "ended by " + model.UserName(p.UserID) + " " + how
	return e
}

// CreateToken issues another token for an active user. A retry with the
// same request_id returns the first token, with an empty Secret.
func (s *Service) CreateToken(ctx context.Context, p access.Principal, userID string, ttl time.Duration, req idempotency.Request) (IssuedToken, error) {
	ttl, err := checkTTL(ttl, "ttl")
	if err != nil {
		return IssuedToken{}, err
	}
	now := s.clock.Now()
	tok, err := newToken(userID, p.UserID, now, ttl)
	if err != nil {
		return IssuedToken{}, err
	}
	var first model.Token
	var role model.Role // the user's, read in the transaction
	replayed := false
	err = s.store.Update(ctx, func(tx datastore.Tx) error {
		var err error
		if replayed, err = replay(tx, p, "CreateToken", req, &first, now); err != nil || replayed {
			return err
		}
		u, err := activeUser(tx, userID)
		if err != nil {
			return err
		}
		role = u.Role
		if err := tx.CreateToken(tok.Token); err != nil {
			return err
		}
		if _, err = tx.AppendAudit(tokenCreated(p, u, tok.Token, now)); err != nil {
			return err
		}
		return remember(tx, p, "CreateToken", req, tokenName(tok.Token), withoutHash(tok.Token), now)
	})
	if err != nil {
		return IssuedToken{}, err
	}
	if replayed {
		return IssuedToken{Token: first}, nil
	}
	s.warnSecondFactorToken(ctx, p, role, tok.Token)
	return tok, nil
}

// tokenCreated is the token.create event of t, a token of u that p made.
// A token asks for no second factor: one of a user whose role needs it (a
// hotline supervisor, a city officer, an admin), made by someone else,
// acts as them without it, so the event says so in its reason, where an
// auditor finds it (and every call made with the token names its creator,
// TokenPrincipal).
func tokenCreated(p access.Principal, u model.User, t model.Token, now time.Time) audit.Event {
	e := p.Event(now, "token.create", tokenName(t), "", audit.OutcomeOK)
	if p.UserID != u.ID && NeedsSecondFactor(u.Role) {
		e.Reason = SecondFactorTokenReason(u.Role)
	}
	return e
}

// SecondFactorTokenReason is the reason of the token.create of a token
// made by someone else of a user of role, which needs a second factor.
func SecondFactorTokenReason(role model.Role) string {
	return "a token of a user of role " + role.String() + " made by another: it acts as them without the second factor their role signs in with"
}

// warnSecondFactorToken logs, at warning level, a token p made of a user
// of role, which needs a second factor, but their own (and the service's
// own commands', on the server's host): beside the audit event, the
// operators' log watch sees it as it happens.
func (s *Service) warnSecondFactorToken(ctx context.Context, p access.Principal, role model.Role, t model.Token) {
	if p.UserID == t.UserID || p.UserID == access.SystemUserID || !NeedsSecondFactor(role) {
		return
	}
	s.log.WarnContext(ctx, "token of a role that needs a second factor made by another user", "user", t.UserID, "role", role.String(),
		"token", tokenName(t), "by", p.UserID)
}

// activeUser returns a user who is not disabled: credentials are issued
// only to them.
func activeUser(tx datastore.ReadTx, userID string) (model.User, error) {
	u, err := tx.User(userID)
	if err != nil {
		return model.User{}, err
	}
	if u.Disabled() {
		return model.User{}, model.Precondition("USER_DISABLED", "user %s is disabled", userID)
	}
	return u, nil
}

// RevokeToken revokes one token of a user. Revoking twice changes
// nothing; a retry with the same request_id returns the first answer.
func (s *Service) RevokeToken(ctx context.Context, p access.Principal, userID, tokenID string, req idempotency.Request) (model.Token, error) {
	now := s.clock.Now()
	var t model.Token
	var ended []string // the console session it ends
	err := s.store.Update(ctx, func(tx datastore.Tx) error {
		ended = nil
		if replayed, err := replay(tx, p, "RevokeToken", req, &t, now); err != nil || replayed {
			return err
		}
		var err error
		if t, err = tx.Token(tokenID); err != nil {
			return err
		}
		if t.UserID != userID {
			return fmt.Errorf("token %s of %s: %w", tokenID, userID, model.ErrNotFound)
		}
		if t.RevokeTime.IsZero() {
			t.RevokeTime = now
			if err := tx.UpdateToken(t); err != nil {
				return err
			}
			events := []audit.Event{p.Event(now, "token.revoke", tokenName(t), "", audit.OutcomeOK)}
			if t.Kind == model.TokenSession {
				u, err := tx.User(userID)
				if err != nil {
					return err
				}
				events = append(events, sessionEnd(p, u, t, now, "revoking its token"))
				ended = append(ended, t.ID)
			}
			if _, err = tx.AppendAudit(events...); err != nil {
				return err
			}
		}
		return remember(tx, p, "RevokeToken", req, tokenName(t), withoutHash(t), now)
	})
	if err == nil {
		s.revoked.tell(userID)
		s.tellSessionsEnded(ended)
	}
	t.SecretHash = nil
	return t, err
}

// Bootstrap creates the first admin and returns their token when the
// database has no user yet; otherwise it returns created = false. The
// token is printed once at first start.
func (s *Service) Bootstrap(ctx context.Context) (tok IssuedToken, created bool, err error) {
	// Every start but the first only reads: a write transaction, even one
	// that changes nothing, is refused on a full database, and a full
	// database must still start and answer reads from its reserve.
	var users int
	err = s.store.View(ctx, func(tx datastore.ReadTx) error {
		users, err = tx.CountUsers()
		return err
	})
	if err != nil || users > 0 {
		return IssuedToken{}, false, err
	}
	now := s.clock.Now()
	p := access.System("bootstrap")
	tok, err = newToken(BootstrapUserID, p.UserID, now, BootstrapTokenTTL)
	if err != nil {
		return IssuedToken{}, false, err
	}
	err = s.store.Update(ctx, func(tx datastore.Tx) error {
		created = false // the body may run again (datastore.Store): the last run decides
		n, err := tx.CountUsers()
		if err != nil || n > 0 {
			return err
		}
		u := model.User{ID: BootstrapUserID, DisplayName: "First administrator", Role: model.RoleAdmin,
			Unit: model.OrgSystem, CreateTime: now}
		if err := createWithToken(tx, p, u, tok.Token, now); err != nil {
			return err
		}
		created = true
		return nil
	})
	if err != nil || !created {
		return IssuedToken{}, false, err
	}
	return tok, true, nil
}

// CreatePoliceUnit registers a police unit that cases can be referred to.
// A retry with the same request_id returns the first answer instead of
// model.ErrAlreadyExists.
func (s *Service) CreatePoliceUnit(ctx context.Context, p access.Principal, pu model.PoliceUnit, req idempotency.Request) (model.PoliceUnit, error) {
	pu.DisplayName = strings.TrimSpace(norm.NFC.String(pu.DisplayName))
	if !policeIDPattern.MatchString(pu.ID) {
		return model.PoliceUnit{}, model.InvalidField("police_unit_id", "police_unit.id", "a police unit id is 2-63 characters of a-z, 0-9 and '-', starting with a letter")
	}
	if err := checkDisplayName("police_unit.display_name", pu.DisplayName); err != nil {
		return model.PoliceUnit{}, err
	}
	now := s.clock.Now()
	pu.CreateTime = now
	in := pu
	err := s.store.Update(ctx, func(tx datastore.Tx) error {
		pu = in // a replay below overwrites pu, and the body may run again (datastore.Store)
		if replayed, err := replay(tx, p, "CreatePoliceUnit", req, &pu, now); err != nil || replayed {
			return err
		}
		// After the replay, as CreateUser's: a retry answers what its
		// first request did, though a unit it covers ended since, or a
		// version before the city-cover rule took it.
		if err := checkCovers(s.units, pu.Covers); err != nil {
			return err
		}
		if err := checkCoversInForce(s.units, pu.Covers, vntime.DateOf(now)); err != nil {
			return err
		}
		if err := tx.CreatePoliceUnit(pu); err != nil {
			return err
		}
		if pu.IsCityPolice() {
			if err := checkNoOtherCityPolice(tx, pu.ID); err != nil {
				return err
			}
		}
		if _, err := tx.AppendAudit(p.Event(now, "police_unit.create", model.PoliceUnitName(pu.ID), "", audit.OutcomeOK)); err != nil {
			return err
		}
		return remember(tx, p, "CreatePoliceUnit", req, model.PoliceUnitName(pu.ID), pu, now)
	})
	return pu, err
}

// checkCovers refuses a police unit's coverage of a unit that does not
// exist, of the city itself, or of a unit twice, naming the coverage's
// field. The city police covers the city by covering no unit by name
// (model.PoliceUnit.IsCityPolice): a unit covering the city would be no
// city police, and the police chain would have no top, or two units the
// city's.
func checkCovers(reg *units.Registry, covers []units.Key) error {
	for i, k := range covers {
		field := fmt.Sprintf("police_unit.covers[%d]", i)
		u, ok := reg.Get(k)
		if !ok {
			return model.InvalidField(field, "reference.exists", "unit %s does not exist", k)
		}
		if u.Level == units.LevelCity {
			return model.InvalidField(field, "police_unit.covers_city",
				"a police unit covers communes (or districts, before 2025-07-01), not the city %s: the city police is the one that covers no unit", k)
		}
		if slices.Contains(covers[:i], k) {
			return model.InvalidField(field, "repeated.unique", "unit %s is covered twice", k)
		}
	}
	return nil
}

// checkCoversInForce refuses a police unit's coverage of a unit a reform
// ended by day (access.CheckUnitInForce), naming the coverage's field: a
// police unit registered today polices the units of today, and coverage
// of a commune a reform ended would name a place that is no more.
func checkCoversInForce(reg *units.Registry, covers []units.Key, day vntime.Date) error {
	for i, k := range covers {
		if err := access.CheckUnitInForce(reg, access.UnitName(k), day, fmt.Sprintf("police_unit.covers[%d]", i)); err != nil {
			return err
		}
	}
	return nil
}

// checkNoOtherCityPolice refuses a second city police, id being the one
// just created (in the transaction, which the refusal rolls back, so that
// a duplicate id is still model.ErrAlreadyExists). A police unit that
// covers no unit is the city police, the one top of the police chain that
// every overdue referral escalates to and that then sees the case: a
// second one would make that top ambiguous (the city police's own overdue
// clocks would escalate to it), and a ward police registered without its
// communes would come to see the cases of the whole city.
func checkNoOtherCityPolice(tx datastore.ReadTx, id string) error {
	ps, err := tx.ListPoliceUnits()
	if err != nil {
		return err
	}
	for _, p := range ps {
		if p.IsCityPolice() && p.ID != id {
			return model.InvalidField("police_unit.covers", "police_unit.city_police_unique",
				"the city police (the police unit that covers no unit) is %s already: name the units this police unit covers", model.PoliceUnitName(p.ID))
		}
	}
	return nil
}

// ListPoliceUnits lists up to limit police units in order of id, after
// the cursor, and the cursor of the next page.
func (s *Service) ListPoliceUnits(ctx context.Context, after string, limit int) (ps []model.PoliceUnit, next string, err error) {
	err = s.store.View(ctx, func(tx datastore.ReadTx) error {
		ps, next, err = tx.ListPoliceUnitsPage(after, limit)
		return err
	})
	return ps, next, err
}

// GetPoliceUnit returns a police unit.
func (s *Service) GetPoliceUnit(ctx context.Context, id string) (pu model.PoliceUnit, err error) {
	err = s.store.View(ctx, func(tx datastore.ReadTx) error {
		pu, err = tx.PoliceUnit(id)
		return err
	})
	return pu, err
}

// createWithToken stores a new user and their first token, with the audit
// events of both, in the caller's transaction.
func createWithToken(tx datastore.Tx, p access.Principal, u model.User, t model.Token, now time.Time) error {
	if err := tx.CreateUser(u); err != nil {
		return fmt.Errorf("user %s: %w", u.ID, err)
	}
	if err := tx.CreateToken(t); err != nil {
		return err
	}
	created := p.Event(now, "user.create", model.UserName(u.ID), "", audit.OutcomeOK)
	created.Reason = userCreatedReason(u)
	_, err := tx.AppendAudit(created, tokenCreated(p, u, t, now))
	return err
}

// userCreatedReason is the reason of a user.create: what it granted. A
// role and unit decide whose cases the new user reads, and the admin who
// made the user was shown the first token's secret; the auditor, who may
// not read users, learns from the trail what was given to whom.
func userCreatedReason(u model.User) string {
	return "role " + u.Role.String() + ", unit " + u.Unit
}

// The bounds of a user's or police unit's display name and a user's work
// phone, as the API's schema has them (identity.proto), held here too for
// the paths that do not pass the schema (`users add`).
const (
	maxDisplayNameLen = 200
	maxPhoneLen       = 40
)

// checkDisplayName refuses a display name (the field named field, trimmed)
// that is empty or too long, or that has no letter or digit: a name of invisible or
// format characters alone (U+200B, U+2060), or of punctuation, shows as
// nothing, or as nobody, in the console's lists and the audit page, where
// it must tell one user or police unit from another. The last is a rule
// of its own: "required" would tell the person who typed "--" that the
// field is empty.
func checkDisplayName(field, name string) error {
	if name == "" {
		return model.InvalidField(field, "required", "display_name is required")
	}
	if utf8.RuneCountInString(name) > maxDisplayNameLen {
		return model.InvalidField(field, "string.max_len", "display_name is at most %d characters", maxDisplayNameLen)
	}
	if strings.ContainsFunc(name, model.IsRefusedControl) {
		return noControl(field)
	}
	if model.StacksMarks(name) {
		return model.InvalidField(field, "string.stacked_marks", "must not stack more than %d combining marks on a character", model.MaxStackedMarks)
	}
	if strings.IndexFunc(name, func(r rune) bool { return unicode.IsLetter(r) || unicode.IsNumber(r) }) < 0 {
		return model.InvalidField(field, "display_name.letter_or_digit", "display_name needs a letter or digit")
	}
	return nil
}

// noControl is the API's refusal of a string holding a control character
// or a bidirectional override (string.no_control), for the paths that do
// not pass the API (`users add`): an escape sequence in a name reaches
// every terminal that lists the users, an override makes it read otherwise.
func noControl(field string) error {
	return model.InvalidField(field, "string.no_control", "must not contain a control character (other than tab and line breaks) or a bidirectional override")
}
