package grpcapi

import (
	"context"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/childcase/childcase/internal/domain/auditlog"
	"github.com/childcase/childcase/internal/domain/clock"
	"github.com/childcase/childcase/internal/transport/clientaddr"
)

// Refused sign-ins (no token, a bad one, or a throttled client) are
// audited at a bounded cost by auditlog.Refusals, counted per client
// address: each window ends in at most one event per address for the
// first RefusalClients addresses and one more for all the others.
const (
	RefusalWindow    = auditlog.RefusalWindow
	RefusalClients   = auditlog.RefusalKeys
	MaxRefusalEvents = auditlog.MaxRefusalEvents
)

// SignInGuard slows down clients that keep failing to sign in and audits
// the refusals at a bounded cost. One guard serves both gRPC servers (the
// public one and the gateway's), so a client's failures count once
// whichever way it came.
type SignInGuard struct {
	clients  *failureLimiter // failures per client address
	tokens   *failureLimiter // failures per presented token id
	refusals *auditlog.Refusals
	// calls bounds the events of signed-in users' refused calls, per
	// user, as refusals bounds those of refused sign-ins per address.
	calls *auditlog.CallRefusals

	// failed and throttled count the refused sign-ins since start, for
	// the metrics: a bad or missing token, and a client refused by the
	// throttle before its token was looked at.
	failed, throttled atomic.Uint64
}

// SignInCounts are the refused sign-ins since the guard was made.
type SignInCounts struct {
	Failed    uint64 // no token, or one that did not authenticate
	Throttled uint64 // refused by the throttle
}

// Counts returns the refused sign-ins since the guard was made.
func (g *SignInGuard) Counts() SignInCounts {
	return SignInCounts{Failed: g.failed.Load(), Throttled: g.throttled.Load()}
}

// NewSignInGuard returns a guard whose refusal events go to log.
func NewSignInGuard(log *auditlog.Log, clk clock.Clock, logger *slog.Logger) *SignInGuard {
	return &SignInGuard{
		clients:  newFailureLimiter(clk, failureBurst, failureRefill),
		tokens:   newFailureLimiter(clk, failureBurst, failureRefill),
		refusals: auditlog.NewRefusals(log, clk, logger, "other addresses"),
		calls:    auditlog.NewCallRefusals(log, clk, logger),
	}
}

// Run writes the refusals of each window soon after it ends, looking every
// poll, until ctx ends; then it writes what is still counted, so that a
// shutdown loses nothing. It writes the counted refused calls of signed-in
// users (CallRefusals) the same way.
func (g *SignInGuard) Run(ctx context.Context, poll time.Duration) {
	auditlog.RunFlushes(ctx, poll, g.refusals.Flush, g.calls.Flush)
}

// RefuseSession counts a console request whose session cookie named no
// live session as a refused sign-in of client: the console's stand-in
// for a bearer token, audited as a refused token is (anonymous, per
// address, in the same windows and bound), with why but never the
// cookie. It does not count toward the throttle: a browser still holding
// the cookie of a session that ended, or of one from before a restart,
// is sent to sign in and must not lock its address out of the API.
func (g *SignInGuard) RefuseSession(ctx context.Context, client, why string) {
	g.refusals.Add(ctx, client, "console", why, "")
}

// The console's password sign-ins count toward the same allowance per
// client address as the API's token sign-ins, in the same failureLimiter:
// one guesser is one allowance, whichever door it knocks on. Two
// allowances would give an address twice the guesses (10 at the API,
// then 10 at the console, and one per refill period at each), and a
// guesser turned away by the API would find the console open. Sharing
// costs an office little: the API lets a valid token through a throttled
// address, and the console lets through the people who have signed in
// from it before (web's familiar sign-ins).

// PasswordSignInWait returns how long client must wait before the
// console checks a password it sends; 0: at once.
func (g *SignInGuard) PasswordSignInWait(client string) time.Duration {
	return g.clients.wait(clientaddr.ThrottleKey(client))
}

// FailPasswordSignIn counts a refused console password sign-in from
// client toward the address's throttle and in the metrics. It is audited
// by the identity service, per account, not here.
func (g *SignInGuard) FailPasswordSignIn(client string) {
	g.failed.Add(1)
	g.clients.fail(clientaddr.ThrottleKey(client))
}

// ThrottlePasswordSignIn audits a console sign-in from client that the
// throttle refused without checking its password: as a throttled token
// sign-in is, per address and within the same bound, of the resource
// "console".
func (g *SignInGuard) ThrottlePasswordSignIn(ctx context.Context, client string) {
	g.throttled.Add(1)
	g.refusals.Add(ctx, client, "console", "throttled: too many failed sign-ins from this address", "")
}
