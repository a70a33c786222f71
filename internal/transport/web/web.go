// Package web is the console: the server-rendered web interface for the
// people who work the cases (commune officers, hotline staff, police
// liaisons, supervisors, auditors and admins). It is served by the same
// binary at "/", from files embedded in it, with no build step and nothing
// loaded from another origin.
//
// The console holds no business logic and no access rule of its own. A
// person signs in with a user name and password (and a TOTP code where
// their role needs one); the domain answers with a session token of that
// user, whose secret the console keeps only in memory, and every page and
// form is a call to the gRPC API over the in-process connection the REST
// gateway uses, with that token. So a page never shows more than the API
// would answer to the same user, and every action passes the API's
// validation, access rules and audit.
package web

import (
	"context"
	"crypto/rand"
	"embed"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/grpc"

	pb "github.com/childcase/childcase/api/childcase/v1"
	"github.com/childcase/childcase/internal/domain/clock"
	"github.com/childcase/childcase/internal/domain/model"
)

//go:embed templates static i18n
var files embed.FS

// IdleTimeout ends a session nobody used for this long: the console runs
// on shared office computers.
const IdleTimeout = 30 * time.Minute

// MaxSessions bounds the sessions held in memory; past it, a sign-in ends
// the session idle the longest.
const MaxSessions = 10000

// MaxSessionsPerUser bounds the sessions of one account (a person at a
// few computers and a phone); past it, the account's own session idle the
// longest ends.
const MaxSessionsPerUser = 5

// Errors an Accounts implementation answers with.
var (
	// ErrRefused: the user name, password or code is wrong, or the account
	// is locked or disabled. The person is told only that sign-in failed.
	ErrRefused = errors.New("sign-in refused")
	// ErrCodeNeeded: the password is right and the role needs a TOTP code.
	ErrCodeNeeded = errors.New("second factor needed")
)

// Credentials are what a person types to sign in.
type Credentials struct {
	UserID, Password, Code string
	Client                 string // the client's address, for the lock-out's audit
}

// Account is who signed in, and the bearer token their session's API
// calls carry.
type Account struct {
	User    model.User
	Bearer  string // the whole token; kept in memory only
	TokenID string // its public id, to end it
	// Expires is when the token stops working (zero: it does not): the
	// session ends then too, on every page, not only on those whose API
	// call the token's expiry refuses.
	Expires time.Time
}

// Accounts signs people in and out; the domain's identity service, behind
// an adapter in the wiring.
type Accounts interface {
	SignIn(ctx context.Context, c Credentials) (Account, error)
	SignOut(ctx context.Context, tokenID, why string) error
}

// Config is what the console needs from the wiring.
type Config struct {
	Conn     *grpc.ClientConn // the in-process connection to the gRPC API
	Accounts Accounts
	// Passwords sets passwords through one-time links; nil: the links'
	// page is not served.
	Passwords Passwords
	Clock     clock.Clock
	Log       *slog.Logger
	// SecureCookies marks the session cookie Secure (the service runs
	// under TLS, or behind a proxy that terminates it).
	SecureCookies bool
	// TrustedProxies are the reverse proxies whose X-Forwarded-For names
	// the client, as for the API: the sign-in's lock-out audit and every
	// API call name that client, not the proxy.
	TrustedProxies []netip.Prefix
	// EnrolKey signs the TOTP secrets the set-password page makes
	// (keys.MasterKey.EnrolKey): every instance with the same key file
	// accepts a page another made. Without one, a key made at start.
	EnrolKey []byte
	// Refusals audits the requests whose session cookie names no live
	// session; nil: they are only sent to sign in.
	Refusals SessionRefusals
	// Throttle slows down an address that keeps failing to sign in;
	// nil: only the accounts' lock-out and maxSignInsAtOnce apply.
	Throttle SignInThrottle
	// Pause waits d or until ctx ends: an unchecked refusal's wait
	// (signIn). nil: a timer; tests see the wait asked for.
	Pause func(ctx context.Context, d time.Duration)
}

// SignInThrottle counts the failed password sign-ins of each client
// address, and says how long an address that failed too often must wait
// before its next password is checked: the API's sign-in guard, in the
// wiring, whose allowance per address the API's token sign-ins share.
type SignInThrottle interface {
	// PasswordSignInWait is how long client must wait; 0: not at all.
	PasswordSignInWait(client string) time.Duration
	// FailPasswordSignIn counts a refused sign-in of client.
	FailPasswordSignIn(client string)
	// ThrottlePasswordSignIn audits a sign-in of client refused by the
	// throttle, its password unchecked.
	ThrottlePasswordSignIn(ctx context.Context, client string)
}

// SessionRefusals audits a console request refused for its session
// cookie (forged, from before a restart, or of a session that ended), as
// the API audits a refused bearer token; the API's sign-in guard, in the
// wiring. why never holds the cookie.
type SessionRefusals interface {
	RefuseSession(ctx context.Context, client, why string)
}

// Console is the web interface. Create it with New, serve Handler, and run
// Run for as long as it serves (it ends idle sessions).
type Console struct {
	cfg      Config
	api      apiClients
	sessions *sessionStore
	pages    map[string]*template.Template
	static   fs.FS // the files under static/
	catalogs catalogs
	signIns  chan struct{} // a slot for each sign-in being checked
	// refusalTime is how long a checked refusal took lately (a moving
	// average, in nanoseconds): an unchecked one waits as long (signIn).
	refusalTime atomic.Int64
	// familiar are the accounts that signed in from each address: they
	// still sign in from it while it is throttled (familiarSignIns).
	familiar *familiarSignIns
	// enrolKey signs the TOTP secrets the set-password page makes, so
	// that only such a secret is enrolled (totpProof): Config.EnrolKey,
	// or random at each start without one.
	enrolKey []byte
	// repeatable are the form fields a browser may send more than once
	// (repeatableFields); any other sent twice is refused.
	repeatable map[string]bool

	stopping chan struct{} // closed by Close: the event streams end
	stopOnce sync.Once
}

// apiClients are the gRPC clients the pages call.
type apiClients struct {
	cases   pb.CaseServiceClient
	reports pb.ReportServiceClient
	process pb.CaseProcessServiceClient
	units   pb.UnitServiceClient
	admin   pb.AdminServiceClient
	police  pb.PoliceUnitServiceClient
	audit   pb.AuditServiceClient
	stats   pb.StatisticsServiceClient
}

// New returns the console.
func New(cfg Config) (*Console, error) {
	if cfg.Conn == nil || cfg.Accounts == nil || cfg.Clock == nil || cfg.Log == nil {
		return nil, errors.New("web: Conn, Accounts, Clock and Log are required")
	}
	cats, err := loadCatalogs(files)
	if err != nil {
		return nil, err
	}
	pages, err := parsePages(files)
	if err != nil {
		return nil, err
	}
	staticFS, err := fs.Sub(files, "static")
	if err != nil {
		return nil, fmt.Errorf("web: static files: %w", err)
	}
	c := &Console{
		cfg: cfg,
		api: apiClients{
			cases:   pb.NewCaseServiceClient(cfg.Conn),
			reports: pb.NewReportServiceClient(cfg.Conn),
			process: pb.NewCaseProcessServiceClient(cfg.Conn),
			units:   pb.NewUnitServiceClient(cfg.Conn),
			admin:   pb.NewAdminServiceClient(cfg.Conn),
			police:  pb.NewPoliceUnitServiceClient(cfg.Conn),
			audit:   pb.NewAuditServiceClient(cfg.Conn),
			stats:   pb.NewStatisticsServiceClient(cfg.Conn),
		},
		sessions: newSessionStore(cfg.Clock, IdleTimeout, MaxSessions, MaxSessionsPerUser),
		pages:    pages,
		static:   staticFS,
		catalogs: cats,
		stopping: make(chan struct{}),
		signIns:  make(chan struct{}, maxSignInsAtOnce),
		familiar: newFamiliarSignIns(maxFamiliarSignIns),
		enrolKey: cfg.EnrolKey,

		repeatable: repeatableFields(),
	}
	if len(c.enrolKey) == 0 {
		c.enrolKey = make([]byte, 32)
		_, _ = rand.Read(c.enrolKey) // crypto/rand.Read never fails (Go 1.24+)
	}
	return c, nil
}

// Run ends idle sessions (and their tokens) every minute until ctx ends.
func (c *Console) Run(ctx context.Context) {
	t := time.NewTicker(time.Minute)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			for _, s := range c.sessions.expire() {
				c.endToken(ctx, s)
			}
		}
	}
}

// stoppedWhy is why the sessions open when the service stops ended.
const stoppedWhy = "ended by the service's stop"

// EndSessions ends every open session as the service stops (sessions live
// in its memory: a stop signs everyone out) and revokes their tokens, so
// that each end is its owner's auth.sign_out, as every other end is. The
// server calls it before the database closes. The tokens are revoked a
// few at once, so that their commits are grouped.
func (c *Console) EndSessions(ctx context.Context) {
	ended := c.sessions.endAll(stoppedWhy)
	sem := make(chan struct{}, 16)
	var wg sync.WaitGroup
	for _, s := range ended {
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			c.endToken(ctx, s)
		}()
	}
	wg.Wait()
}

// SessionsEnded ends at once the sessions whose tokens an admin's change
// revoked (disabling the account, resetting its password, revoking the
// token; identity's OnSessionsEnded): their next page, whether it calls
// the API or not, sends the person to sign in, and an open event stream
// ends. The change wrote each one's end on the audit trail already.
func (c *Console) SessionsEnded(tokenIDs []string) {
	c.sessions.removeTokens(tokenIDs, "ended by an admin's change")
}

// endToken revokes an ended session's token, saying why it ended; a
// failure is logged, and the token still dies at its absolute expiry.
func (c *Console) endToken(ctx context.Context, s *session) {
	if err := c.cfg.Accounts.SignOut(ctx, s.tokenID, s.why); err != nil {
		c.cfg.Log.WarnContext(ctx, "console: end session token", "user", s.user.ID, "err", err)
	}
}
