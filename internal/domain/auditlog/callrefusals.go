package auditlog

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/childcase/childcase/internal/domain/audit"
	"github.com/childcase/childcase/internal/domain/clock"
)

// A signed-in user's refused calls (for the role, for the input, a
// record not found, a stream over its cap), and those that failed, are
// audited at a bounded
// cost, as refused sign-ins are (Refusals), but per user: in a window
// (RefusalWindow, from the user's first refusal) the first
// RefusedCallsPerUser get an event each, with the record they named; the
// others are counted into one event of the user's ("calls.refused"),
// written when the window ends. So a user who floods the service with
// refused calls adds at most RefusedCallsPerUser+1 events a minute, and
// every refusal is still on the trail, in its own event or counted.
const RefusedCallsPerUser = 60

// RefusedCallsAction is the action of the event that counts a user's
// refused calls beyond RefusedCallsPerUser in a window.
const RefusedCallsAction = "calls.refused"

// CallRefusals bounds the events of signed-in users' refused calls. It
// is safe for concurrent use.
type CallRefusals struct {
	audit  *Log
	clock  clock.Clock
	logger *slog.Logger

	// writing is held from taking the ended windows until their events
	// are written, as in Refusals: nothing after a window is written
	// before its event.
	writing sync.Mutex
	mu      sync.Mutex
	users   map[string]*callWindow // actor -> the window open for them
}

// callWindow is one user's refused calls in a window.
type callWindow struct {
	start   time.Time
	written int         // refusals given an event of their own
	over    *refusals   // those beyond RefusedCallsPerUser; nil when none
	first   audit.Event // the first refusal counted in over: who, and the call that began it
	caseOf  string      // the case every counted refusal named, "" when they differ
}

// NewCallRefusals returns the bound of users' refused calls, whose
// events go to log.
func NewCallRefusals(log *Log, clk clock.Clock, logger *slog.Logger) *CallRefusals {
	return &CallRefusals{audit: log, clock: clk, logger: logger, users: map[string]*callWindow{}}
}

// CaseLookup names the case of the record a refused call named
// ("cases/{number}"), "" for none: a read of the store, which a flood of
// refused calls would repeat at will. nil: the event names the case it
// was given.
type CaseLookup func(ctx context.Context) string

// Record writes e, the event of a refused call by e.Actor, on the case
// caseOf names, unless the actor has had RefusedCallsPerUser events in
// the window: it is then counted in the window's event instead (see
// countOver). Windows that ended are written first. An event that cannot
// be written is logged here, as a window's count that cannot be is
// (Flush): the refusal stands whatever happens to its event, and its
// callers (a refusal for the role, a REST path no route takes) have
// nothing more to say of it; the error is returned all the same.
func (l *CallRefusals) Record(ctx context.Context, e audit.Event, caseOf CaseLookup) error {
	w := l.window(ctx, e.Actor)
	if w.written < RefusedCallsPerUser {
		w.written++
		l.mu.Unlock()
		e.Case = lookUp(ctx, e.Case, caseOf)
		if err := l.audit.Record(ctx, e); err != nil {
			l.logger.ErrorContext(ctx, "a refused call could not be audited", "err", err,
				"actor", e.Actor, "action", e.Action, "outcome", e.Outcome)
			return err
		}
		return nil
	}
	l.countOver(ctx, w, e, caseOf)
	return nil
}

// Count counts e, the event of a call by e.Actor, into the window's event
// without an event of its own, whatever the actor's count: for a write
// refused because the database is full, whose own event would take the
// room that the writes still being made (a case's search entry after its
// report) and the reads' events need. Windows that ended are written
// first.
func (l *CallRefusals) Count(ctx context.Context, e audit.Event, caseOf CaseLookup) {
	l.countOver(ctx, l.window(ctx, e.Actor), e, caseOf)
}

// countOver counts e into w, taken with mu held, which it unlocks. The
// case of a counted refusal only decides whether the window's event names
// one, so it is looked up once a window, for the first refusal counted:
// a later one on the same record has its case, one on another record is
// taken to name another case (the event then names none). So a flood of
// refused calls past the bound costs no read of the store, whatever
// records it names.
func (l *CallRefusals) countOver(ctx context.Context, w *callWindow, e audit.Event, caseOf CaseLookup) {
	if w.over != nil || caseOf == nil {
		if caseOf != nil {
			e.Case = ""
			if e.Resource == w.first.Resource {
				e.Case = w.first.Case
			}
		}
		defer l.mu.Unlock()
		w.count(e)
		return
	}
	l.mu.Unlock()
	e.Case = lookUp(ctx, e.Case, caseOf)
	l.mu.Lock()
	defer l.mu.Unlock()
	// The window may have ended and been written meanwhile: the refusal
	// is then counted in the next one.
	l.windowOf(e.Actor, l.clock.Now()).count(e)
}

// lookUp is the case caseOf names, or given when caseOf is nil.
func lookUp(ctx context.Context, given string, caseOf CaseLookup) string {
	if caseOf == nil {
		return given
	}
	return caseOf(ctx)
}

// window writes the windows that ended, then returns actor's window,
// opened now if they have none, with mu held: the caller unlocks it.
func (l *CallRefusals) window(ctx context.Context, actor string) *callWindow {
	l.Flush(ctx, false)
	now := l.clock.Now()
	l.mu.Lock()
	return l.windowOf(actor, now)
}

// windowOf returns actor's window, opened at now if they have none; the
// caller holds mu.
func (l *CallRefusals) windowOf(actor string, now time.Time) *callWindow {
	w := l.users[actor]
	if w == nil {
		w = &callWindow{start: now}
		l.users[actor] = w
	}
	return w
}

// count adds e to the window's counted refusals. Its reason is its
// action and outcome, and the event's reason (a code, a field and its
// rule: never what the client wrote), summed by kind.
func (w *callWindow) count(e audit.Event) {
	why := e.Action + " " + e.Outcome
	if e.Reason != "" {
		why += " " + e.Reason
	}
	if w.over == nil {
		w.over, w.first, w.caseOf = &refusals{}, e, e.Case
	} else if w.caseOf != e.Case {
		w.caseOf = ""
	}
	w.over.add(e.Time, e.Resource, why, e.RequestID)
}

// event is the window's event of its counted refusals, by their user,
// dated at the first, its count first in the reason so that it can be
// summed.
func (w *callWindow) event() audit.Event {
	e := w.first
	r := w.over
	reason := r.summary(fmt.Sprintf("refused calls beyond %d a window: %d", RefusedCallsPerUser, r.count))
	e.Time, e.Action, e.Resource, e.Case, e.RequestID = r.first, RefusedCallsAction, r.resource, w.caseOf, r.requestID
	e.Reason, e.Outcome = reason, audit.OutcomeRefused
	return e
}

// Flush writes the counted refusals of the windows that have ended, or
// of all of them when all is set (at shutdown), and forgets those
// windows.
func (l *CallRefusals) Flush(ctx context.Context, all bool) {
	l.writing.Lock()
	defer l.writing.Unlock()
	now := l.clock.Now()
	l.mu.Lock()
	var events []audit.Event
	for actor, w := range l.users {
		if !all && now.Sub(w.start) < RefusalWindow {
			continue
		}
		if w.over != nil {
			events = append(events, w.event())
		}
		delete(l.users, actor)
	}
	l.mu.Unlock()
	if len(events) == 0 {
		return
	}
	slices.SortFunc(events, func(a, b audit.Event) int { return a.Time.Compare(b.Time) })
	// Not the event of the call that happens to flush them.
	ctx = Untracked(context.WithoutCancel(ctx))
	if err := l.audit.Record(ctx, events...); err != nil {
		for _, e := range events {
			l.logger.ErrorContext(ctx, "refused calls could not be audited", "err", err, "actor", e.Actor, "reason", e.Reason)
		}
	}
}
