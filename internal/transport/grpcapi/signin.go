package grpcapi

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/childcase/childcase/internal/domain/audit"
	"github.com/childcase/childcase/internal/domain/auditlog"
	"github.com/childcase/childcase/internal/domain/clock"
)

// Refused sign-ins (no token, a bad one, or a throttled client) are
// audited at a bounded cost, whoever sends them: they are counted per
// client address over a window, and each window ends in at most one event
// per address for the first RefusalClients addresses and one more for all
// the others. Every refusal is counted in exactly one event, so the log
// still accounts for each of them.
const (
	// RefusalWindow is how long refusals are counted before their events
	// are written; windows start at a refusal and do not overlap.
	RefusalWindow = time.Minute
	// RefusalClients is how many client addresses get an event of their
	// own in one window.
	RefusalClients = 60
	// MaxRefusalEvents bounds the events of refused sign-ins per window.
	MaxRefusalEvents = RefusalClients + 1
	// maxRefusalReasons is how many distinct reasons an event lists with
	// their counts; the others are summed.
	maxRefusalReasons = 4
	// maxRefusalReasonLen bounds an event's reason, in bytes.
	maxRefusalReasonLen = 600
)

// SignInGuard slows down clients that keep failing to sign in and audits
// the refusals at a bounded cost. One guard serves both gRPC servers (the
// public one and the gateway's), so a client's failures count once
// whichever way it came.
type SignInGuard struct {
	clients  *failureLimiter // failures per client address
	tokens   *failureLimiter // failures per presented token id
	refusals *refusalLog

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
		refusals: &refusalLog{audit: log, clock: clk, logger: logger, clients: map[string]*refusals{}},
	}
}

// Run writes the refusals of each window soon after it ends, looking every
// poll, until ctx ends; then it writes what is still counted, so that a
// shutdown loses nothing.
func (g *SignInGuard) Run(ctx context.Context, poll time.Duration) {
	t := time.NewTicker(poll)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			g.refusals.flush(context.WithoutCancel(ctx), true)
			return
		case <-t.C:
			g.refusals.flush(ctx, false)
		}
	}
}

// refusalLog counts refused sign-ins per client address in the current
// window.
type refusalLog struct {
	audit  *auditlog.Log
	clock  clock.Clock
	logger *slog.Logger

	// writing is held from taking a window's counts until their events
	// are written, so that a call that finds its window ended waits for
	// the events: nothing done after the window ended is written before
	// them, and an auditor's read sees them.
	writing sync.Mutex
	mu      sync.Mutex
	start   time.Time            // of the current window; zero: nothing counted
	clients map[string]*refusals // at most RefusalClients
	order   []string             // clients in the order first seen
	others  refusals             // the addresses beyond RefusalClients
}

// refusals are the refused sign-ins of one client (or of the others) in
// a window.
type refusals struct {
	count        int
	first, last  time.Time
	requestID    string // of the first, to find it in the transport logs
	method       string // the method called, "" when several
	reasons      map[string]int
	otherReasons int // refusals whose reason is beyond maxRefusalReasons
}

// add counts one refusal; when the window has ended, its events are
// written first.
func (l *refusalLog) add(ctx context.Context, client, method, reason, requestID string) {
	l.flush(ctx, false)
	now := l.clock.Now()
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.start.IsZero() {
		l.start = now
	}
	r := l.clients[client]
	if r == nil {
		if len(l.clients) < RefusalClients {
			r = &refusals{}
			l.clients[client] = r
			l.order = append(l.order, client)
		} else {
			r = &l.others
		}
	}
	r.add(now, method, reason, requestID)
}

func (r *refusals) add(now time.Time, method, reason, requestID string) {
	if r.count == 0 {
		r.first, r.requestID, r.method, r.reasons = now, requestID, method, map[string]int{}
	} else if r.method != method {
		r.method = ""
	}
	r.count++
	r.last = now
	if _, ok := r.reasons[reason]; ok || len(r.reasons) < maxRefusalReasons {
		r.reasons[reason]++
	} else {
		r.otherReasons++
	}
}

// flush writes the counted refusals if their window has ended, or in any
// case when all is set.
func (l *refusalLog) flush(ctx context.Context, all bool) {
	l.writing.Lock()
	defer l.writing.Unlock()
	now := l.clock.Now()
	l.mu.Lock()
	ended := l.takeEnded(now, all)
	l.mu.Unlock()
	l.write(ctx, ended)
}

// takeEnded returns the events of the current window and empties it if
// the window has ended (or all is set); callers hold writing and mu.
func (l *refusalLog) takeEnded(now time.Time, all bool) []audit.Event {
	if l.start.IsZero() || (!all && now.Sub(l.start) < RefusalWindow) {
		return nil
	}
	events := make([]audit.Event, 0, len(l.order)+1)
	for _, c := range l.order {
		events = append(events, l.clients[c].event(now, c))
	}
	if l.others.count > 0 {
		events = append(events, l.others.event(now, "other addresses"))
	}
	l.start, l.order, l.others = time.Time{}, nil, refusals{}
	clear(l.clients)
	return events
}

// event is the audit event of r: anonymous, denied, its count first in
// the reason ("refused sign-ins: N from ...") so that it can be summed.
func (r *refusals) event(now time.Time, client string) audit.Event {
	reasons := make([]string, 0, len(r.reasons)+1)
	for why, n := range r.reasons {
		reasons = append(reasons, fmt.Sprintf("%s ×%d", why, n))
	}
	slices.Sort(reasons)
	if r.otherReasons > 0 {
		reasons = append(reasons, fmt.Sprintf("other reasons ×%d", r.otherReasons))
	}
	reason := fmt.Sprintf("refused sign-ins: %d from %s between %s and %s: %s", r.count, client,
		r.first.Format(time.RFC3339), r.last.Format(time.RFC3339), strings.Join(reasons, "; "))
	if len(reason) > maxRefusalReasonLen {
		reason = strings.ToValidUTF8(reason[:maxRefusalReasonLen], "") + "…"
	}
	return audit.Event{Time: now, Action: "auth.fail", Resource: r.method, RequestID: r.requestID,
		Reason: reason, Outcome: audit.OutcomeDenied}
}

// write appends the events. A refusal stands even when its event cannot
// be written (a full database); the counts then go to the operator's log
// rather than nowhere.
func (l *refusalLog) write(ctx context.Context, events []audit.Event) {
	if len(events) == 0 {
		return
	}
	if err := l.audit.Record(context.WithoutCancel(ctx), events...); err != nil {
		for _, e := range events {
			l.logger.ErrorContext(ctx, "refused sign-ins could not be audited", "err", err, "reason", e.Reason)
		}
	}
}
