package auditlog

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/childcase/childcase/internal/domain/audit"
	"github.com/childcase/childcase/internal/domain/clock"
	"github.com/childcase/childcase/internal/domain/vntime"
)

// Refused sign-ins (a bad bearer token, a wrong password) are audited at a
// bounded cost, whoever sends them: they are counted per key (a client
// address, an account) over a window, and each window ends in at most one
// event per key for the first RefusalKeys keys and one more for all the
// others. Every refusal is counted in exactly one event, so the log still
// accounts for each of them.
const (
	// RefusalWindow is how long refusals are counted before their events
	// are written; windows start at a refusal and do not overlap.
	RefusalWindow = time.Minute
	// RefusalKeys is how many keys get an event of their own in one
	// window.
	RefusalKeys = 60
	// MaxRefusalEvents bounds the events of one Refusals per window.
	MaxRefusalEvents = RefusalKeys + 1
	// maxRefusalReasons is how many distinct reasons an event lists with
	// their counts; the others are summed.
	maxRefusalReasons = 4
	// maxRefusalReasonLen bounds an event's reason, in bytes.
	maxRefusalReasonLen = 600
)

// NewRefusals returns refusals whose events go to log; othersName names
// the keys beyond RefusalKeys in their shared event ("other addresses").
func NewRefusals(log *Log, clk clock.Clock, logger *slog.Logger, othersName string) *Refusals {
	return &Refusals{audit: log, clock: clk, logger: logger, othersName: othersName, clients: map[string]*refusals{}}
}

// Run writes the refusals of each window soon after it ends, looking every
// poll, until ctx ends; then it writes what is still counted, so that a
// shutdown loses nothing.
func (l *Refusals) Run(ctx context.Context, poll time.Duration) { RunFlushes(ctx, poll, l.Flush) }

// RunFlushes calls each flush (Refusals.Flush, CallRefusals.Flush) every
// poll, until ctx ends; then once more with all set, so that a shutdown
// loses nothing counted.
func RunFlushes(ctx context.Context, poll time.Duration, flushes ...func(ctx context.Context, all bool)) {
	t := time.NewTicker(poll)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			for _, flush := range flushes {
				flush(context.WithoutCancel(ctx), true)
			}
			return
		case <-t.C:
			for _, flush := range flushes {
				flush(ctx, false)
			}
		}
	}
}

// Refusals counts refused sign-ins per key (a client address, an
// account) in the current window. It is safe for concurrent use.
type Refusals struct {
	audit      *Log
	clock      clock.Clock
	logger     *slog.Logger
	othersName string

	// writing is held from taking a window's counts until their events
	// are written, so that a call that finds its window ended waits for
	// the events: nothing done after the window ended is written before
	// them, and an auditor's read sees them.
	writing sync.Mutex
	mu      sync.Mutex
	start   time.Time            // of the current window; zero: nothing counted
	clients map[string]*refusals // at most RefusalKeys
	order   []string             // keys in the order first seen
	others  refusals             // the keys beyond RefusalKeys
}

// refusals are the refused sign-ins of one key (or of the others) in a
// window.
type refusals struct {
	count        int
	first, last  time.Time
	requestID    string // of the first, to find it in the transport logs
	resource     string // the method called or the account, "" when several
	reasons      map[string]int
	otherReasons int // refusals whose reason is beyond maxRefusalReasons
}

// Add counts one refusal under key, of resource (the method called, the
// account): its event is written when the window ends. When the current
// window has ended, its events are written first.
func (l *Refusals) Add(ctx context.Context, key, resource, reason, requestID string) {
	l.Flush(ctx, false)
	now := l.clock.Now()
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.start.IsZero() {
		l.start = now
	}
	r := l.clients[key]
	if r == nil {
		if len(l.clients) < RefusalKeys {
			r = &refusals{}
			l.clients[key] = r
			l.order = append(l.order, key)
		} else {
			r = &l.others
		}
	}
	r.add(now, resource, reason, requestID)
}

func (r *refusals) add(now time.Time, resource, reason, requestID string) {
	if r.count == 0 {
		r.first, r.requestID, r.resource, r.reasons = now, requestID, resource, map[string]int{}
	} else if r.resource != resource {
		r.resource = ""
	}
	r.count++
	r.last = now
	if _, ok := r.reasons[reason]; ok || len(r.reasons) < maxRefusalReasons {
		r.reasons[reason]++
	} else {
		r.otherReasons++
	}
}

// Flush writes the counted refusals if their window has ended, or in any
// case when all is set (at shutdown).
func (l *Refusals) Flush(ctx context.Context, all bool) {
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
func (l *Refusals) takeEnded(now time.Time, all bool) []audit.Event {
	if l.start.IsZero() || (!all && now.Sub(l.start) < RefusalWindow) {
		return nil
	}
	events := make([]audit.Event, 0, len(l.order)+1)
	for _, c := range l.order {
		events = append(events, l.clients[c].event(c))
	}
	if l.others.count > 0 {
		events = append(events, l.others.event(l.othersName))
	}
	l.start, l.order, l.others = time.Time{}, nil, refusals{}
	clear(l.clients)
	return events
}

// event is the audit event of r: anonymous, denied, its count first in
// the reason ("refused sign-ins: N from ...") so that it can be summed.
// It is dated at the first refusal, when what it records began, not when
// the window's end writes it: a listing of the log by time finds it in
// the minute of the refusals.
func (r *refusals) event(key string) audit.Event {
	reason := r.summary(fmt.Sprintf("refused sign-ins: %d from %s", r.count, key))
	return audit.Event{Time: r.first, Action: "auth.fail", Resource: r.resource, RequestID: r.requestID,
		Reason: reason, Outcome: audit.OutcomeDenied}
}

// summary is the reason of an event that counts r: what, the times of the
// first and the last, and each reason with its count, sorted, cut at
// maxRefusalReasonLen.
func (r *refusals) summary(what string) string {
	reasons := make([]string, 0, len(r.reasons)+1)
	for why, n := range r.reasons {
		reasons = append(reasons, fmt.Sprintf("%s ×%d", why, n))
	}
	slices.Sort(reasons)
	if r.otherReasons > 0 {
		reasons = append(reasons, fmt.Sprintf("other reasons ×%d", r.otherReasons))
	}
	// The times as the service shows every time, in Hanoi with the
	// offset, beside an event the console dates so.
	hanoi := func(t time.Time) string { return t.In(vntime.Location()).Format(time.RFC3339) }
	reason := fmt.Sprintf("%s between %s and %s: %s", what,
		hanoi(r.first), hanoi(r.last), strings.Join(reasons, "; "))
	if len(reason) > maxRefusalReasonLen {
		reason = strings.ToValidUTF8(reason[:maxRefusalReasonLen], "") + "…"
	}
	return reason
}

// write appends the events. A refusal stands even when its event cannot
// be written (a full database); the counts then go to the operator's log
// rather than nowhere.
func (l *Refusals) write(ctx context.Context, events []audit.Event) {
	if len(events) == 0 {
		return
	}
	// Not the events of the call that happens to write them (CallRefusals).
	if err := l.audit.Record(Untracked(context.WithoutCancel(ctx)), events...); err != nil {
		for _, e := range events {
			l.logger.ErrorContext(ctx, "refused sign-ins could not be audited", "err", err, "reason", e.Reason)
		}
	}
}
