package process

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/childcase/childcase/internal/domain/access"
	"github.com/childcase/childcase/internal/domain/datastore"
	"github.com/childcase/childcase/internal/domain/idempotency"
	"github.com/childcase/childcase/internal/domain/model"
	"github.com/childcase/childcase/internal/domain/panics"
	"github.com/childcase/childcase/internal/domain/units"
	"github.com/childcase/childcase/internal/domain/vntime"
)

// The scheduler fires each due deadline event exactly once. Timers are
// durable (a bbolt index by fire time), so deadlines that fell due while
// the server was down fire right after start; each timer is handled in the
// transaction that deletes it and records what it did, so a crash either
// keeps the timer (and it fires again after restart) or keeps its effects
// (and the timer is gone). The cost of a run is proportional to what is
// due, not to the number of open cases.

// system is the actor of what the scheduler does.
var system = access.System("scheduler")

// firePage bounds how many timers one pass reads.
const firePage = 100

// FireDue handles every timer due now and returns how many it handled.
//
// A timer whose case lies on a damaged page of the file (model.ErrDamaged),
// or whose firing panics (errPanicked), fails each time it fires,
// and stays: the pass goes on past it, so that one such case does not
// hold back the deadlines of every case due after it, and reports it at
// the end. Any other failure ends the pass.
func (e *Engine) FireDue(ctx context.Context) (int, error) {
	return e.fireDue(ctx, heldTimers{})
}

// timerKey names one timer.
type timerKey struct {
	at       int64
	caseID   uint64
	deadline int
}

// heldTimers are the timers Run does not try again before the time
// given, those on a damaged page or whose firing panicked: each try
// fails, and logs, for as long as the file or the code is not mended (see
// repeatLogEvery).
type heldTimers map[timerKey]time.Time

// fireDue is FireDue, skipping the timers held until after now and
// holding each timer that fails on a damaged page, or panics, for
// repeatLogEvery.
func (e *Engine) fireDue(ctx context.Context, held heldTimers) (int, error) {
	fired := 0
	damaged := map[timerKey]bool{}
	for k, until := range held {
		if e.clock.Now().Before(until) {
			damaged[k] = true
		} else {
			delete(held, k)
		}
	}
	var errs []error
	for {
		now := e.clock.Now()
		var due []model.Timer
		err := e.store.View(ctx, func(tx datastore.ReadTx) error {
			var err error
			due, err = tx.DueTimers(now, firePage+len(damaged))
			return err
		})
		if err != nil {
			return fired, errors.Join(append(errs, err)...)
		}
		tried := 0
		for _, t := range due {
			k := timerKey{t.At.UnixNano(), t.CaseID, t.DeadlineID}
			if damaged[k] {
				continue
			}
			tried++
			if err := e.fireRecovered(ctx, t, now); err != nil {
				if !errors.Is(err, model.ErrDamaged) && !errors.Is(err, errPanicked) {
					return fired, errors.Join(append(errs, err)...)
				}
				damaged[k] = true
				held[k] = now.Add(repeatLogEvery)
				errs = append(errs, fmt.Errorf("deadline %d of case id %d, due to fire %s: %w", t.DeadlineID, t.CaseID, hanoi(t.At), err))
				continue
			}
			fired++
		}
		if tried == 0 {
			return fired, errors.Join(errs...)
		}
		e.hub.notify()
	}
}

// errPanicked is the error of a timer whose firing, or a case whose move
// after a reform, panicked: held and reported as one on a damaged page is
// (fireDue, FollowReforms), since it panics again at every try until the
// code or the record is mended. Left to unwind, the panic ended the pass
// where it was, and every pass after it (the leader runs the duty again a
// second later) met the same timer or case first: no deadline of any case
// fired again, no case after it followed the reform, and no pass ended.
var errPanicked = errors.New("it panicked")

// panicError is the error of a recovered panic p: its type and where it
// was, never its value, which may hold a child's name; a runtime error's
// message (an index out of range, a nil map) says words and numbers of
// the program only. The store rolled the transaction back, so nothing of
// what panicked is kept.
func panicError(p any) error {
	return panics.Error(errPanicked, p)
}

// fireRecovered is fire, with a panic of the firing turned into an error
// of its timer (panicError).
func (e *Engine) fireRecovered(ctx context.Context, t model.Timer, now time.Time) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = panicError(p)
		}
	}()
	return e.fire(ctx, t, now)
}

// fire handles one timer in its own transaction.
func (e *Engine) fire(ctx context.Context, t model.Timer, now time.Time) error {
	return e.store.Update(ctx, func(tx datastore.Tx) error {
		// The timer is deleted whatever happens next: a timer that no
		// longer matches its deadline (moved or closed by a transition
		// that raced with this pass) must not fire.
		if err := tx.DeleteTimer(t); err != nil {
			return err
		}
		c, err := tx.CaseByID(t.CaseID)
		if errors.Is(err, model.ErrNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		d := c.Deadline(t.DeadlineID)
		if d == nil || !d.Open() || !d.NextFire.Equal(t.At) {
			return nil
		}
		if c, err = e.vault.OpenCase(tx, c); err != nil {
			return err
		}
		d = c.Deadline(t.DeadlineID)
		// The pass read the clock before its first timer, and a write
		// may have committed on this case since (a step, a report joining
		// it), dated later. What the timer does happens after that write:
		// dated by the clock now, and never before the case's last write
		// (another instance's clock may run a little ahead). A later time
		// only finds more due.
		now = c.WriteTime(later(now, e.clock.Now()))
		s := &stepCtx{e: e, tx: tx, p: system, now: now, c: &c, oldFires: map[int]time.Time{}}
		for _, dl := range c.Deadlines {
			if dl.ID != d.ID {
				s.oldFires[dl.ID] = dl.NextFire
			}
		}
		// A deadline that falls due after a reform is the successor's.
		s.followReform()
		s.tick(d)
		_, err = s.commit("deadline.fire")
		return err
	})
}

// tick does what is due on an open deadline at s.now: warnings, the
// breach and its escalation, and the escalation of a breach left unanswered
// at the next level. Each is recorded on the deadline, so doing it twice is
// impossible. A deadline closed in the same transaction before it (the
// reform the firing follows met a TRANSFER_ACCEPT: followTransfer) is
// left as it was closed: a warning, a breach or an escalation of a limit
// already met would be said of nothing anyone still has to do.
func (s *stepCtx) tick(d *model.Deadline) {
	if !d.Open() {
		return
	}
	for d.WarningsSent < len(d.WarnAt) && !d.Breached && !s.now.Before(warnTime(d, d.WarningsSent)) {
		pct := percent(d.WarnAt[d.WarningsSent])
		d.WarningsSent++
		// A warning found only once the deadline is overdue goes
		// unsaid: the breach says more.
		if !overdueAt(d.Due, s.now) {
			s.event("DEADLINE_WARNING", fmt.Sprintf("%s: %s%% of the time used, due %s", d.Kind, pct, hanoi(d.Due)), d.ID, d.Unit)
		}
	}
	if !d.Breached && overdueAt(d.Due, s.now) {
		d.Breached = true
		s.event("DEADLINE_BREACHED", fmt.Sprintf("%s was due %s", d.Kind, hanoi(d.Due)), d.ID, d.Unit)
		s.escalate(d, d.Unit)
		return
	}
	if d.Breached && len(d.Escalations) > 0 {
		last := d.Escalations[len(d.Escalations)-1]
		if end := s.e.levelEnd(last.To); !end.IsZero() && !s.now.Before(end) {
			// The level escalated to is no longer in force: it never
			// had its step, and nobody is there to take it, so the
			// deadline goes on to the level above in force now.
			s.escalateFrom(d, last.To, last.To+" is no longer in force")
			return
		}
		if next := s.e.due(last.Time, fromPolicy(s.e.policy.EscalationStep)); overdueAt(next, s.now) {
			// The level escalated to did not get the step done in time: a
			// breach at that level, escalated once more.
			s.event("DEADLINE_BREACHED", fmt.Sprintf("%s still overdue at %s", d.Kind, last.To), d.ID, last.To)
			s.escalate(d, last.To)
		}
	}
}

// percent says a warning's fraction f of its deadline's time in percent
// as the policy gives it: 0.29 is "29", 0.125 "12.5". The float product
// f × 100 is not always whole where f reads so (0.29 × 100 is
// 28.999999999999996), and cut to an int it told a unit warned at 29%
// that 28% of its time was used; ten significant digits drop that error
// and keep every digit a policy file gives. The rounded figure is written
// out in decimals: 'g' alone says a fraction the policy accepts, 1e-7, as
// "1e-05%".
func percent(f float64) string {
	rounded, _ := strconv.ParseFloat(strconv.FormatFloat(f*100, 'g', 10, 64), 64)
	return strconv.FormatFloat(rounded, 'f', -1, 64)
}

// escalate moves an overdue deadline of from up one level, recorded with
// how late the step is. The level escalated to can see the case from then
// on.
func (s *stepCtx) escalate(d *model.Deadline, from string) {
	s.escalateFrom(d, from, "")
}

// escalateFrom is escalate, the timeline's line saying why when why is
// not "". A level no longer in force is not notified: nobody reads there.
func (s *stepCtx) escalateFrom(d *model.Deadline, from, why string) {
	to := s.e.nextLevel(s.tx, from, s.now)
	if to == "" {
		return
	}
	late := int64(s.now.Sub(d.Due) / time.Minute)
	d.Escalations = append(d.Escalations, model.Escalation{Time: s.now, To: to, MinutesLate: late})
	if k, ok := unitKey(to); ok && !slices.Contains(s.c.Handlers, k) {
		s.c.Handlers = append(s.c.Handlers, k)
	}
	s.alertPolice(to)
	detail := fmt.Sprintf("%s overdue by %d minutes, escalated from %s to %s", d.Kind, late, from, to)
	notify := []string{from, to}
	if why != "" {
		detail += ": " + why
		notify = notify[1:]
	}
	s.event("ESCALATED", detail, d.ID, notify...)
	s.letIn(to)
}

// alertPolice lets the police unit to, when it is one, into the case: the
// city police, alerted to a unit's overdue clock or late record, sees the
// case in the police view from then on (access.PoliceView shows it what
// it was alerted to).
func (s *stepCtx) alertPolice(to string) {
	if strings.HasPrefix(to, "policeUnits/") && !slices.Contains(s.c.PoliceAlerted, to) {
		s.c.PoliceAlerted = append(s.c.PoliceAlerted, to)
	}
}

// repeatLogEvery is how often Run logs a failure that persists. A case on
// a damaged page fails at every pass, each poll and each write's wake-up:
// a line a second would bury the logs, and the first line already says
// what is wrong. A new or changed failure is logged at once.
const repeatLogEvery = time.Hour

// errorLog logs the failures of one of Run's duties.
type errorLog struct {
	last   string    // the failure logged last; "" after a pass that went well
	logged time.Time // when, by the engine's clock
}

// report logs err (nil: the duty went well) if it is new, differs from
// the last one, or was last logged repeatLogEvery ago.
func (l *errorLog) report(ctx context.Context, e *Engine, msg string, err error) {
	if err == nil {
		l.last = ""
		return
	}
	now := e.clock.Now()
	if text := err.Error(); text != l.last || now.Sub(l.logged) >= repeatLogEvery {
		e.log.ErrorContext(ctx, msg, "err", err)
		l.last, l.logged = text, now
	}
}

// wakeAfter is how long Run waits before its next pass: until the next
// timer falls due, at most poll. After a pass that failed, or while a
// damaged timer is held, poll: the timer it failed on is due already and
// stays (a case on a damaged page fails at every try), so waiting for it
// would look at it again at once, in a loop that holds a core.
func wakeAfter(poll time.Duration, now time.Time, next model.Timer, found, failed bool) time.Duration {
	if !found || failed {
		return poll
	}
	return min(poll, max(0, next.At.Sub(now)))
}

// SweepIdempotency deletes the idempotency records older than the
// retention, in small transactions, and returns how many it deleted. Run
// calls it.
func (e *Engine) SweepIdempotency(ctx context.Context) (int, error) {
	n, err := idempotency.Sweep(ctx, e.store, e.clock.Now(), e.idemRetention)
	if n > 0 {
		e.log.InfoContext(ctx, "idempotency records expired", "deleted", n, "retention", e.idemRetention.String())
	}
	return n, err
}

// unitKey parses "units/{code}@{valid_from}".
func unitKey(name string) (units.Key, bool) {
	s, ok := strings.CutPrefix(name, "units/")
	if !ok {
		return units.Key{}, false
	}
	k, err := units.ParseKey(s)
	return k, err == nil
}

// Run fires due deadlines until ctx ends: first what fell due while the
// server was stopped (or no instance led), then each time the next timer
// comes, looking again at least every poll (a transition may have set a
// nearer timer, and the clock may be a test's). After its first firing,
// and whenever the date changes, it makes open cases follow the unit
// reforms (FollowReforms). It also sweeps the idempotency records past
// their retention, at start and then every idempotency.SweepInterval.
func (e *Engine) Run(ctx context.Context, poll time.Duration) error {
	var fireLog, reformLog, sweepLog errorLog
	held := heldTimers{}
	caughtUp := false
	for {
		pass := e.passes.begin()
		// First what is due: a scheduler that starts (a new leader after a
		// failover) fires the deadlines due while none ran before anything
		// else. Firing a timer follows the reform of its own case, so what
		// falls due in a reformed unit still goes to its successor.
		fired, fireErr := e.fireDue(ctx, held)
		if fireErr != nil && ctx.Err() != nil {
			return nil
		}
		fireLog.report(ctx, e, "deadline scheduler", fireErr)
		// Then the reforms, once a day: the scan of every reformed unit's
		// queue is a read per unit, which on etcd is a round trip each.
		if today := vntime.DateOf(e.clock.Now()); today != e.reformDay {
			_, err := e.FollowReforms(ctx)
			if err != nil && ctx.Err() != nil {
				return nil
			}
			reformLog.report(ctx, e, "following the unit reforms", err)
			// A pass that went past damaged cases, or cases whose move
			// panicked, only is done for the day: they move once the
			// file or the code is mended, the next day or at the next
			// start. Any other failure is tried again next pass.
			if err == nil || errors.Is(err, model.ErrDamaged) || errors.Is(err, errPanicked) {
				e.reformDay = today
			}
		}
		if now := e.clock.Now(); e.lastSweep.IsZero() || now.Sub(e.lastSweep) >= idempotency.SweepInterval {
			_, err := e.SweepIdempotency(ctx)
			if err != nil && ctx.Err() != nil {
				return nil
			}
			sweepLog.report(ctx, e, "idempotency sweep", err)
			e.lastSweep = now
		}
		if !caughtUp {
			// Once per start (or lead): what fell due while no scheduler
			// ran has fired. An operator reads from it that the backlog
			// is done; a test that stops the server after its start-time
			// writes waits for it. It is logged before the pass ends, so
			// that whoever settles the scheduler finds it in the log.
			caughtUp = true
			e.log.InfoContext(ctx, "deadline scheduler: caught up on what fell due before it ran", "fired", fired)
		}
		e.passes.end(pass)
		var next model.Timer
		var found bool
		err := e.store.View(ctx, func(tx datastore.ReadTx) error {
			var err error
			next, found, err = tx.NextTimer()
			return err
		})
		t := time.NewTimer(wakeAfter(poll, e.clock.Now(), next, found && err == nil, fireErr != nil || len(held) > 0))
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-e.hub.Wait():
			t.Stop()
		case <-e.passes.wake:
			t.Stop()
		case <-t.C:
		}
	}
}

// Settle wakes Run and waits until it has finished a whole pass that
// began after the call: every deadline event due at the clock's time
// then has fired, and the cases due to follow a reform of the day have
// followed it. Whoever moves a fake clock (the tests, the load tool)
// calls it before it reads what the firings change (a case's etag, its
// timeline), so that no firing commits in between; the service itself,
// on the system clock, never does. It returns ctx's error if no pass ends
// before ctx does (Run is not running: this instance does not lead).
func (e *Engine) Settle(ctx context.Context) error {
	want := e.passes.next()
	select {
	case e.passes.wake <- struct{}{}:
	default: // a wake-up is pending already
	}
	for {
		done, changed := e.passes.finished()
		if done >= want {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-changed:
		}
	}
}

// passCount numbers Run's passes: the pass a Settle waits for, and a way
// to wake Run for it at once rather than at its next poll.
type passCount struct {
	mu      sync.Mutex
	begun   uint64        // passes begun
	done    uint64        // the last pass finished
	changed chan struct{} // closed when done changes
	wake    chan struct{} // a Settle's wake-up, pending until Run waits
}

func newPassCount() *passCount {
	return &passCount{changed: make(chan struct{}), wake: make(chan struct{}, 1)}
}

// begin numbers a new pass.
func (p *passCount) begin() uint64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.begun++
	return p.begun
}

// end records that pass n finished.
func (p *passCount) end(n uint64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.done = n
	close(p.changed)
	p.changed = make(chan struct{})
}

// next is the number of the next pass to begin.
func (p *passCount) next() uint64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.begun + 1
}

// finished returns the last pass finished and a channel closed when
// another one is.
func (p *passCount) finished() (uint64, chan struct{}) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.done, p.changed
}
