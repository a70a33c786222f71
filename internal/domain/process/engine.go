// Package process runs the case process of Decree 56 (Arts. 25-32) after
// intake: the steps as an explicit state machine, each transition with its
// own role rule; hand-overs between units with acceptance; the police track
// beside the social case; and the deadlines, statutory and policy, with
// their warnings and escalation to the next level. Every transition checks
// the case's etag, is idempotent by request_id, appends to the case's
// timeline and the audit log, and writes its notifications to the outbox in
// the same transaction.
package process

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"
	"unicode"

	"github.com/childcase/childcase/internal/domain/access"
	"github.com/childcase/childcase/internal/domain/audit"
	"github.com/childcase/childcase/internal/domain/auditlog"
	"github.com/childcase/childcase/internal/domain/clock"
	"github.com/childcase/childcase/internal/domain/datastore"
	"github.com/childcase/childcase/internal/domain/idempotency"
	"github.com/childcase/childcase/internal/domain/intake"
	"github.com/childcase/childcase/internal/domain/model"
	"github.com/childcase/childcase/internal/domain/policy"
	"github.com/childcase/childcase/internal/domain/units"
	"github.com/childcase/childcase/internal/domain/vault"
	"github.com/childcase/childcase/internal/domain/vntime"
)

// Calendar is the working-day calendar deadlines are computed with.
type Calendar interface {
	Version() string
	AddCalendarDays(start time.Time, n int) time.Time
	AddCalendarDaysToWorkingDay(start time.Time, n int) time.Time
	EndOfLastDay(last vntime.Date) time.Time
	AddWorkingDays(start time.Time, n int) time.Time
	ResumeWorkingDays(due, paused, resumed time.Time) time.Time
	ResumeCalendarDays(due, paused, resumed time.Time, endsOnLastDay bool) time.Time
	WorkingDaysBetween(a, b vntime.Date) int
	WorkingDaysPoint(due time.Time, m int, x float64) time.Time
	// Years are the first and last years whose days off the data list;
	// outside them only weekends and the fixed-date holidays are off.
	Years() (first, last int)
	// Provisional reports whether the data's days off of a year are
	// estimates, not yet announced.
	Provisional(year int) bool
}

// Engine runs transitions and the deadline scheduler.
type Engine struct {
	store    datastore.Store
	units    *units.Registry
	access   *access.Policy
	policy   policy.Policy
	calendar Calendar
	vault    *vault.Vault
	clock    clock.Clock
	log      *slog.Logger
	hub      *Hub
	// watchPoll bounds how long a watcher sleeps without a wake-up, in
	// case one is missed.
	watchPoll time.Duration
	// idemRetention is how long idempotency records are kept; the
	// scheduler's loop sweeps older ones (lastSweep: when it last did).
	idemRetention time.Duration
	lastSweep     time.Time
	// reformDay is the date the scheduler's loop last made cases follow
	// the unit reforms (FollowReforms); zero before the first pass.
	reformDay vntime.Date
	search    Indexer // nil: no search index
	// maxCaseText bounds a case's sealed free text, in bytes.
	maxCaseText int
	// watchReplay bounds how many notifications back a watch resumes.
	watchReplay uint64
	// tokenValid, when set, tells whether a watcher's token may still act
	// (identity.StillValid): nil for tests of the engine alone.
	tokenValid func(tx datastore.ReadTx, tokenID string, now time.Time) error
	// passes counts Run's passes, for Settle.
	passes *passCount
}

// Deps are what the engine needs.
type Deps struct {
	Store    datastore.Store
	Units    *units.Registry
	Policy   policy.Policy
	Calendar Calendar
	Vault    *vault.Vault
	Clock    clock.Clock
	Log      *slog.Logger
	// WatchPoll bounds how long a watcher waits without a wake-up (default
	// one second).
	WatchPoll time.Duration
	// Search, if set, keeps the blind search index of the cases a step
	// changes the reports of (a merge) in the step's transaction.
	Search Indexer
	// IdempotencyRetention is how long a request_id is remembered, for
	// every service (default idempotency.DefaultRetention, never less than
	// idempotency.MinRetention). The scheduler sweeps older records.
	IdempotencyRetention time.Duration
	// MaxCaseTextBytes bounds a case's sealed free text (default, and at
	// most, MaxCaseTextBytes).
	MaxCaseTextBytes int
	// WatchReplay bounds how many notifications back a watch may resume
	// (default, and at most, MaxWatchReplay).
	WatchReplay int
	// TokenValid, when set, reports whether the token a watch was opened
	// with may still act (identity.StillValid; an error wrapping
	// identity.ErrUnauthenticated when it may not): a watch asks it in
	// every transaction it reads notifications in, and ends with its
	// error rather than send what it read.
	TokenValid func(tx datastore.ReadTx, tokenID string, now time.Time) error
}

// MaxCaseTextBytes is the sealed free text past which a case takes no
// more text that a caller may add at will (step.bounded): its dossier
// (notes, the records of its steps, the dossiers of the cases merged into
// it) and the texts of its transfers, police referrals and D16 decisions.
// They are stored with the case, written again by every step, and
// answered whole by GetCase (the transfers and referrals by every list),
// whose answer is at most --max-send-msg-size (16 MiB unless set):
// without a bound, a worker adding notes in a loop made a case unreadable
// to everyone. Such a step that would go past it is refused (CASE_FULL).
const MaxCaseTextBytes = 4 << 20

// Indexer writes a case's entry of the search index from its reports
// (search.Service).
type Indexer interface {
	IndexCase(tx datastore.Tx, c model.Case) error
}

// New returns an engine.
func New(d Deps) *Engine {
	e := &Engine{
		store: d.Store, units: d.Units, access: access.New(d.Units), policy: d.Policy,
		calendar: d.Calendar, vault: d.Vault, clock: d.Clock, log: d.Log, hub: newHub(), search: d.Search,
		watchPoll:     cmp.Or(d.WatchPoll, time.Second),
		idemRetention: idempotency.EffectiveRetention(d.IdempotencyRetention),
		maxCaseText:   MaxCaseTextBytes,
		watchReplay:   MaxWatchReplay,
		passes:        newPassCount(),
		tokenValid:    d.TokenValid,
	}
	if d.WatchReplay > 0 {
		e.watchReplay = uint64(min(d.WatchReplay, MaxWatchReplay))
	}
	if d.MaxCaseTextBytes > 0 {
		e.maxCaseText = min(d.MaxCaseTextBytes, MaxCaseTextBytes)
	}
	return e
}

// Hub returns the notifier watchers wait on.
func (e *Engine) Hub() *Hub { return e.hub }

// Request is what every transition carries.
type Request struct {
	Case        string // "cases/{number}"
	Etag        string // the case's current etag; required
	RequestID   string // makes a retry harmless
	Fingerprint []byte // the request without its request_id
}

// step is one transition: its name (the audit action is "case."+name)
// and what it does. Who may take it, and on which view of the case, is the
// row of access's table that names the step; in which statuses, its gate
// in the process table (stepGates), which do checks before the step runs.
type step struct {
	name  string
	apply func(s *stepCtx) error
	// exact: the step acts on the case the request names even if it was
	// merged into another (the merge, which refuses such a case); every
	// other step acts on the case the number resolves to
	// (intake.ResolveCase).
	exact bool
	// bounded: the step adds text a caller may add again and again (a
	// note, a service's progress note, a transfer proposed, a deadline
	// paused, a suspension of D16), and is refused
	// once the case's text is full (refuseFull). The steps that answer
	// one (declining the transfer, resuming the deadline or D16) and those of the
	// process, which its course bounds, never are, so a full case is
	// still worked and closed.
	bounded bool
}

// stepCtx is a transition in progress: the case, its dossier (opened when
// first needed) and what the transition produces.
type stepCtx struct {
	e   *Engine
	tx  datastore.Tx
	p   access.Principal
	now time.Time
	c   *model.Case
	// asked is when the caller asked for the step, by the clock read
	// before its transaction: a limit the step meets is met or missed
	// by it (meet), while what it writes is dated now, no earlier than
	// the case's last write (Case.WriteTime), which may have committed
	// in between. Zero for the scheduler's firings.
	asked time.Time

	dossier       *model.Dossier
	dossierChange bool
	events        []model.CaseEvent
	notes         []model.Notification
	audits        []audit.Event
	// auditReason is the reason of the step's own audit event: names of
	// cases, units and users only, never what a user wrote. It says what
	// the auditor, who reads no case, could not learn otherwise: the
	// other case of a merge, whom a step lets into the case (letIn).
	auditReason string
	// referral is the caller's police unit's referral, for a police step
	// (its gate found it in the state the step needs).
	referral *model.PoliceReferral
	oldFires map[int]time.Time
	// bounded: the step is refused when it would fill the case
	// (step.bounded).
	bounded bool
	// counted: the deadlines counted past the holiday data, logged once
	// the transaction is committed (logCounts).
	counted []pastDataCount
}

// do runs a transition on a case in one transaction.
//
// The step's row in access's table says which roles may take it and on
// which view: a role granted the full view acts on the cases it fully sees,
// one granted the police view on the cases it sees in the police view; any
// other case is out of scope and looks absent. The answer, a retry's too,
// is the case in that view.
func (e *Engine) do(ctx context.Context, p access.Principal, req Request, st step) (model.Case, error) {
	rule, ok := access.StepRule(st.name)
	if !ok {
		return model.Case{}, fmt.Errorf("step %s has no row in the access table: %w", st.name, model.ErrPermissionDenied)
	}
	want := rule.Grant(p.Role).View()
	if want == access.ViewNone {
		return model.Case{}, model.ErrPermissionDenied
	}
	gate, ok := stepGates[st.name]
	if !ok {
		return model.Case{}, fmt.Errorf("step %s has no gate in the process table", st.name)
	}
	number, err := intake.ParseCaseName(req.Case)
	if err != nil {
		return model.Case{}, model.InvalidField("name", "case.name", "%v", err)
	}
	if req.Etag == "" {
		return model.Case{}, model.InvalidField("etag", "required", "etag is required: read the case and send its etag")
	}
	now := e.clock.Now()
	var out model.Case
	// seen: the body found the case in the caller's scope, so a refusal
	// after that is an access to it, audited below.
	seen := false
	// onCase: the case the number stands for today (a merge's survivor),
	// whose trail a refusal goes on.
	onCase := number
	// counted: what the run that committed counted past the holiday data.
	var counted []pastDataCount
	err = e.store.Update(ctx, func(tx datastore.Tx) error {
		seen, onCase, counted = false, number, nil
		// A retry gets the first answer, as it was, even if the case moved
		// on since or the step took it out of the caller's scope (a unit
		// that declined a transfer no longer sees the case). Request ids
		// are the caller's own, so this shows nothing the caller was not
		// shown before.
		method := "case." + st.name
		prior, replayed, err := idempotency.Replay(tx, p, method, req.RequestID, req.Fingerprint)
		if err != nil {
			return err
		}
		if replayed && prior.Resource == number {
			// The answer is remembered as storage keeps the case: its
			// free text sealed.
			var first model.Case
			if err := json.Unmarshal(prior.Result, &first); err != nil {
				return err
			}
			opened, err := e.vault.OpenCase(tx, first)
			if err != nil {
				return err
			}
			out, _ = access.Shape(p, want, opened)
			res := access.CaseResource(first.Number)
			_, err = tx.AppendAudit(idempotency.Retried(p, now, "case.read", res, res, method))
			return err
		}
		c, err := e.loadCase(tx, number, !st.exact)
		if err != nil {
			return err
		}
		onCase = c.Number
		// A police step sent with its view's etag goes through the
		// commune's writes that committed since it read the clock: it is
		// dated after them (Case.WriteTime).
		s := &stepCtx{e: e, tx: tx, p: p, now: c.WriteTime(now), asked: now, c: &c, oldFires: map[int]time.Time{}, bounded: st.bounded}
		for _, d := range c.Deadlines {
			s.oldFires[d.ID] = d.NextFire
		}
		// A case whose unit a reform abolished moves before the step, as
		// the scheduler would have moved it (FollowReforms): who may take
		// the step does not depend on whether the scheduler got there
		// first.
		s.followReform()
		if e.access.CaseView(p, c) != want {
			return fmt.Errorf("case %s: %w", number, model.ErrNotFound)
		}
		seen = true
		if replayed {
			// The same request_id for this step on another case: a
			// different request. The fingerprint includes the case name,
			// so Replay already refused it; this cannot be reached.
			return fmt.Errorf("request_id %q was first used for case %s: %w", req.RequestID, prior.Resource, model.ErrIdempotencyMismatch)
		}
		// Only a step on the case the request names exactly (a merge)
		// meets a merged case, whose own etag no read answers (its
		// number answers the survivor): its gate refuses it for the
		// merge before the etag, which the caller could never have sent
		// current. ETAG_MISMATCH would send them to read the case again,
		// and the read back to the same refusal.
		if c.MergedInto != "" {
			if _, err := gate.check(p, s.c); err != nil {
				return err
			}
		}
		// The etag of the case as the caller sees it: the police view's
		// moves only with what that view shows (access.StampPoliceViews).
		// The case's own etag, which the commune's answers carry, is
		// current only until the case's next write, so it is taken too: a
		// police step sent with the etag of the referral's answer is not
		// refused for coming from the other view.
		if seen, _ := access.Shape(p, want, c); seen.Etag() != req.Etag && c.Etag() != req.Etag {
			return fmt.Errorf("case %s has etag %s, the request carries %q: %w", number, seen.Etag(), req.Etag, model.ErrConflict)
		}
		// The gate, from the process table, before anything the step
		// itself checks.
		if s.referral, err = gate.check(p, s.c); err != nil {
			return err
		}
		// The rest of what the step needs of the case and its caller,
		// which StepsAllowed asks too.
		if gate.Ready != nil {
			if err := gate.Ready(s); err != nil {
				return err
			}
		}
		if err := st.apply(s); err != nil {
			return err
		}
		stored, err := s.commit(method)
		if err != nil {
			return err
		}
		counted = s.counted
		// A step's answer never shows the dossier (GetCase reads it), so
		// neither the answer nor what is remembered for a retry carries
		// it: remembered, each step on a long case kept another copy of
		// every note before it for the retention.
		c.Dossier, stored.Dossier = model.Sealed{}, model.Sealed{}
		out, _ = access.Shape(p, want, c)
		if req.RequestID == "" {
			return nil
		}
		result, err := json.Marshal(stored)
		if err != nil {
			return err
		}
		return idempotency.Remember(tx, p, method, req.RequestID, req.Fingerprint, number, result, now)
	})
	// A refused attempt changed nothing, and the body's events were rolled
	// back with it; it goes on the case's audit trail in a transaction of
	// its own: out of scope or absent (the two look alike to the caller),
	// as a refused read does, on the other case a step named when that is
	// the one not found (a merge's absorbed case); or refused on a case
	// the caller sees (a stale etag, a field, the case's state), which it
	// read.
	outcome, code := "", ""
	if errors.Is(err, model.ErrNotFound) {
		var other otherCaseNotFound
		if errors.As(err, &other) {
			number, onCase = other.number, other.number
		}
		outcome = audit.OutcomeNotFound
	} else if c, refused := refusalCode(err); refused && seen {
		outcome, code = audit.OutcomeRefused, c
	}
	if outcome != "" {
		ev := p.Event(now, "case."+st.name, access.CaseResource(number), access.CaseResource(onCase), outcome)
		ev.Reason = code
		if rerr := auditlog.New(e.store).Record(ctx, ev); rerr != nil {
			return model.Case{}, rerr
		}
	}
	if err != nil {
		return model.Case{}, err
	}
	e.logCounts(ctx, counted)
	e.hub.notify()
	return out, nil
}

// refusalCode is the stable code of a step's refusal for its audit event:
// what the API's ErrorInfo says (the reason, or the field and its rule),
// never the message, which may name the case's data. Other errors (the
// store failing, a full disk) are no refusal.
func refusalCode(err error) (string, bool) {
	var fe *model.FieldError
	var pe *model.PreconditionError
	switch {
	case err == nil:
		return "", false
	case errors.As(err, &pe):
		return pe.Reason, true
	case errors.As(err, &fe):
		return fe.Field + " " + fe.Rule, true
	case errors.Is(err, model.ErrConflict):
		return model.ReasonEtagMismatch, true
	case errors.Is(err, model.ErrIdempotencyMismatch):
		return model.ReasonRequestIDReused, true
	}
	return "", false
}

// otherCaseNotFound is a case other than the one a request names that a
// step needs and the caller may not see, or that does not exist: the
// refusal is audited on it.
type otherCaseNotFound struct{ number string }

func (e otherCaseNotFound) Error() string { return "case " + e.number + ": not found" }
func (e otherCaseNotFound) Unwrap() error { return model.ErrNotFound }

// commit writes what a transition or a timer produced: the dossier, the
// case, its timers, timeline, outbox entries and audit events. It returns
// the case as stored, with its free text sealed.
func (s *stepCtx) commit(action string) (model.Case, error) {
	c := s.c
	if s.dossierChange {
		sealed, err := s.e.vault.SealDossier(s.tx, c.Number, *s.dossier)
		if err != nil {
			return model.Case{}, err
		}
		c.Dossier = sealed
	}
	if err := s.syncTimers(); err != nil {
		return model.Case{}, err
	}
	c.UpdateTime = s.now
	c.Revision++
	err := access.StampPoliceViews(c, func() (model.Case, error) { return s.e.loadCase(s.tx, c.Number, false) })
	if err != nil {
		return model.Case{}, err
	}
	stored, err := s.e.vault.SealCase(s.tx, *c)
	if err != nil {
		return model.Case{}, err
	}
	if err := s.refuseFull(stored); err != nil {
		return model.Case{}, err
	}
	if err := s.tx.UpdateCase(stored); err != nil {
		return model.Case{}, err
	}
	if len(s.events) > 0 {
		if _, err := s.tx.AppendCaseEvents(c.ID, s.events...); err != nil {
			return model.Case{}, err
		}
	}
	if len(s.notes) > 0 {
		if _, err := s.tx.AppendNotifications(s.notes...); err != nil {
			return model.Case{}, err
		}
	}
	res := access.CaseResource(c.Number)
	own := s.p.Event(s.now, action, res, res, audit.OutcomeOK)
	own.Reason = s.auditReason
	audits := append([]audit.Event{own}, s.audits...)
	if _, err := s.tx.AppendAudit(audits...); err != nil {
		return model.Case{}, err
	}
	return stored, nil
}

// loadCase reads a case to change it, its free text opened: with resolve,
// the case the number resolves to after merges (intake.ResolveCase).
func (e *Engine) loadCase(tx datastore.ReadTx, number string, resolve bool) (model.Case, error) {
	var c model.Case
	var err error
	if resolve {
		c, err = intake.ResolveCase(tx, number)
	} else {
		c, err = tx.CaseByNumber(number)
	}
	if err != nil {
		return model.Case{}, err
	}
	return e.vault.OpenCase(tx, c)
}

// sealedText is how much sealed free text a case as stored carries: its
// dossier and the texts of its transfers, police referrals and pauses.
func sealedText(c model.Case) int { return len(c.Dossier.Data) + len(c.Texts.Data) }

// refuseFull refuses a bounded step (step.bounded) that would make the
// case's sealed text, stored as it is about to be, larger than the
// engine's bound.
func (s *stepCtx) refuseFull(stored model.Case) error {
	n := sealedText(stored)
	if !s.bounded || n <= s.e.maxCaseText {
		return nil
	}
	return model.Precondition("CASE_FULL",
		"case %s: this would make its notes, records and texts %d bytes sealed, over the %d a case may hold; nothing was recorded", stored.Number, n, s.e.maxCaseText)
}

// open returns the case's dossier, opening it on first use.
func (s *stepCtx) open() (*model.Dossier, error) {
	if s.dossier != nil {
		return s.dossier, nil
	}
	d, err := s.e.vault.OpenDossier(s.tx, s.c.Number, s.c.Dossier)
	if err != nil {
		return nil, err
	}
	s.dossier = &d
	return s.dossier, nil
}

// edit changes the dossier.
func (s *stepCtx) edit(fn func(d *model.Dossier)) error {
	d, err := s.open()
	if err != nil {
		return err
	}
	fn(d)
	s.dossierChange = true
	return nil
}

// event adds a timeline event and, when units is non-empty, a notification.
func (s *stepCtx) event(kind, detail string, deadlineID int, units ...string) {
	s.events = append(s.events, model.CaseEvent{Time: s.now, Actor: s.p.UserID, Kind: kind, Detail: detail, DeadlineID: deadlineID})
	if len(units) > 0 {
		s.notes = append(s.notes, model.Notification{
			Time: s.now, Kind: kind, Case: access.CaseResource(s.c.Number), Units: dedupe(units), DeadlineID: deadlineID, Detail: detail,
		})
	}
}

func dedupe(xs []string) []string {
	out := make([]string, 0, len(xs))
	for _, x := range xs {
		if x != "" && !slices.Contains(out, x) {
			out = append(out, x)
		}
	}
	return out
}

// actorIn reports whether the principal acts for unit: belongs to it, or
// acts for the city (access.Policy.ActsFor).
func (s *stepCtx) actorIn(unit string) bool { return s.e.access.ActsFor(s.p, unit) }

// requireResponsible refuses a step by someone outside the responsible unit.
func (s *stepCtx) requireResponsible() error {
	if !s.actorIn(access.UnitName(s.c.ResponsibleUnit)) {
		return model.Precondition("NOT_RESPONSIBLE_UNIT", "only the responsible unit (%s) may take this step", access.UnitName(s.c.ResponsibleUnit))
	}
	return nil
}

// StatusName names a status for messages.
func StatusName(st model.CaseStatus) string {
	switch st {
	case model.StatusAwaitingAcknowledgement:
		return "awaiting acknowledgement"
	case model.StatusInitialAssessment:
		return "initial assessment"
	case model.StatusSpecificAssessment:
		return "specific assessment"
	case model.StatusPlanning:
		return "planning"
	case model.StatusImplementation:
		return "implementation"
	case model.StatusReview:
		return "review"
	case model.StatusClosed:
		return "closed"
	}
	return "unknown"
}

// text normalises free text as intake does.
func text(s string) string { return intake.NormalizeText(s) }

// required checks that a free-text field says something: a letter or a
// digit, not only invisible characters (a zero-width space passes for a
// reason nobody can read), as a disclosure's reason and a display name
// must.
func required(field, value string, max int) (string, error) {
	v := text(value)
	if v == "" {
		return "", model.InvalidField(field, "required", "%s is required", field)
	}
	if !says(v) {
		return "", model.InvalidField(field, "text.letter_or_digit", "%s needs a letter or digit: it says nothing", field)
	}
	return optional(field, value, max)
}

// says reports whether a text has a letter or a digit.
func says(v string) bool {
	return strings.IndexFunc(v, func(r rune) bool { return unicode.IsLetter(r) || unicode.IsNumber(r) }) >= 0
}

// optional checks the length of a free-text field that may be empty.
func optional(field, value string, max int) (string, error) {
	v := text(value)
	if len([]rune(v)) > max {
		return "", model.InvalidField(field, "string.max_len", "%s is longer than %d characters", field, max)
	}
	return v, nil
}

// PrepareNewCase starts the process on a case intake is opening: it was
// forwarded to the commune where it happened (or, if that commune is no
// longer in force, to its successor: see FollowReforms), which has the
// policy's time to acknowledge it. A case that opens as an emergency
// (intake set c.Emergency: the child in immediate danger, or a parent or
// caregiver the suspected abuser, Arts. 26(3), 31(1)) has the emergency
// policy's shorter time, and its 12 hours for emergency measures run from
// the receive time already: the law counts them from when the information
// came in, not from when the commune assessed it. A report the police
// received directly (Decree 56 Art. 25(1)) starts the police track of the
// liaison's unit too: received when the report was, so the clock to
// forward the crime report to the investigators runs from then.
//
// It returns what intake calls once the case is committed: the log of
// its deadlines counted past the holiday data (logCounts).
func (e *Engine) PrepareNewCase(tx datastore.ReadTx, c *model.Case, now time.Time) (committed func(context.Context)) {
	s := &stepCtx{e: e, p: system, now: now, c: c}
	s.followReform()
	unit := access.UnitName(c.ResponsibleUnit)
	ack := e.policy.Acknowledge
	if c.Emergency {
		ack = e.policy.AcknowledgeEmergency
	}
	// An emergency's clocks cannot be paused (issue 4): its shorter time
	// to acknowledge is one of them.
	s.startDeadline(model.DeadlineAcknowledge, "", unit, now, fromPolicy(ack)).Pausable = !c.Emergency
	if c.Emergency {
		s.startEmergencyClock(c.ReceiveTime)
	}
	if police, ok := policeIntake(*c); ok {
		c.PoliceReferrals = append(c.PoliceReferrals, model.PoliceReferral{
			PoliceUnit: police, ReferTime: c.ReceiveTime, ReferredBy: c.IntakeUsers[0],
			State: model.PoliceAcknowledged, AcknowledgeTime: c.ReceiveTime,
		})
		s.startDeadline(model.DeadlinePoliceForward, police, police, c.ReceiveTime, e.forwardLimit(c))
	}
	for i := range c.Deadlines {
		c.Deadlines[i].NextFire = e.nextFire(tx, &c.Deadlines[i])
	}
	counted := s.counted
	return func(ctx context.Context) { e.logCounts(ctx, counted) }
}

// startEmergencyClock starts D3 from receive, unless it runs already or
// emergency measures were applied since the information the case now acts
// on was received (a reopening starts a new cycle: measures of the cycle
// before do not meet its emergency).
func (s *stepCtx) startEmergencyClock(receive time.Time) {
	if s.c.OpenDeadline(model.DeadlineEmergencyMeasures, "") == nil && s.c.EmergencyMeasured.Before(s.c.InformationTime()) {
		s.startDeadline(model.DeadlineEmergencyMeasures, "", access.UnitName(s.c.ResponsibleUnit), receive, hours(emergencyHours))
	}
}

// acknowledgeAsEmergency gives an emergency case (one that has just
// become it, or has just absorbed another case's clocks by a merge) an
// emergency's time to acknowledge it, if it awaits acknowledgement: the
// policy's acknowledge_emergency from now, unless its ordinary time ends
// first. Either way the clock is then an emergency's, which cannot be
// paused; a paused one (its due time not yet known) gives way.
func (s *stepCtx) acknowledgeAsEmergency() {
	ack := s.c.OpenDeadline(model.DeadlineAcknowledge, "")
	if ack == nil {
		return
	}
	spec, unit := fromPolicy(s.e.policy.AcknowledgeEmergency), ack.Unit
	if !ack.PausedAt.IsZero() || s.e.due(s.now, spec).Before(ack.Due) {
		s.cancel(model.DeadlineAcknowledge, "", "the case is an emergency: acknowledge_emergency applies")
		s.startDeadline(model.DeadlineAcknowledge, "", unit, s.now, spec).Pausable = false
		return
	}
	ack.Pausable = false
}

// waivePlanClocks cancels the plan's clocks of a case that has become an
// emergency: Art. 28 waives the five working days to draft the plan (D6)
// and the two to approve it (D7) in an emergency, and with them the time
// to resubmit a returned plan, as startPlanDraft, SubmitPlan and
// ReturnPlan never start them for one. Left running, they would breach
// and escalate a plan the law no longer times, beside the emergency's own
// clock (D3).
func (s *stepCtx) waivePlanClocks() {
	for i := range s.c.Deadlines {
		switch d := s.c.Deadlines[i]; d.Kind {
		case model.DeadlinePlanDraft, model.DeadlinePlanApproval, model.DeadlinePlanResubmit:
			if d.Open() {
				s.cancel(d.Kind, d.Ref, "the case is an emergency: Art. 28 waives the plan's time limits")
			}
		}
	}
}

// EmergencyReported makes an open case an emergency when a report joining
// it says the child is in danger (intake.CaseStarter). If no D3 runs and
// no measures were applied, D3 starts from that report's receive time: it
// is when the danger became known (an earlier report did not say so). A
// case still awaiting acknowledgement gets the emergency's shorter time to
// acknowledge it from now, as if it had opened as one (PrepareNewCase),
// unless its ordinary time ends first. A case already an emergency keeps
// its clocks. c is the case as stored; the caller stores it.
//
// A case already an emergency keeps its clocks, but for a report received
// before its running D3 started: the danger was known from then, so D3
// counts from that receive time (see emergencyKnownEarlier).
//
// The clocks it starts count in hours (D3, acknowledge_emergency, which
// the policy takes in seconds or hours only), never past the holiday
// data, so it leaves nothing to log after the commit (logCounts).
func (e *Engine) EmergencyReported(tx datastore.Tx, p access.Principal, c *model.Case, reason model.EmergencyReason, receive, now time.Time) error {
	s := &stepCtx{e: e, tx: tx, p: p, now: now, c: c, oldFires: map[int]time.Time{}}
	for _, d := range c.Deadlines {
		s.oldFires[d.ID] = d.NextFire
	}
	if c.Emergency {
		if !s.emergencyKnownEarlier(receive) {
			return nil
		}
	} else {
		c.Emergency, c.EmergencyReason = true, reason
		s.event("EMERGENCY_REPORTED", "a joining report makes it an emergency: "+emergencyReasonName(reason), 0, access.UnitName(c.ResponsibleUnit))
		s.startEmergencyClock(receive)
		s.acknowledgeAsEmergency()
		s.waivePlanClocks()
	}
	if err := s.syncTimers(); err != nil {
		return err
	}
	if _, err := tx.AppendCaseEvents(c.ID, s.events...); err != nil {
		return err
	}
	_, err := tx.AppendNotifications(s.notes...)
	return err
}

// emergencyKnownEarlier moves the running D3 to count from receive, the
// receive time of a joining report that says the child is in danger, when
// that lies before D3's start: the 12 hours run from when the information
// came in (Decree 56 Art. 26(3)), as a merge keeps the earlier start of
// two D3s, and a report recorded late must not give the commune more
// time. Not before the last reopening, whose cycle D3 belongs to. It
// reports whether it moved D3.
func (s *stepCtx) emergencyKnownEarlier(receive time.Time) bool {
	d := s.c.OpenDeadline(model.DeadlineEmergencyMeasures, "")
	if n := len(s.c.Reopened); n > 0 && receive.Before(s.c.Reopened[n-1]) {
		receive = s.c.Reopened[n-1]
	}
	if d == nil || !receive.Before(d.Start) {
		return false
	}
	d.Start, d.Due = receive.UTC(), s.e.due(receive, hours(emergencyHours)).UTC()
	// Notified to the unit that must meet it: its 12 hours just grew
	// shorter, by as much as the report waited to be recorded.
	s.event("DEADLINE_MOVED", fmt.Sprintf("%s now counts from %s, when a joining report was received, due %s", d.Kind, hanoi(d.Start), hanoi(d.Due)), d.ID, d.Unit)
	return true
}

// policeIntake returns the police unit whose liaison recorded the report
// that opens c, if one did.
func policeIntake(c model.Case) (string, bool) {
	if len(c.IntakeUnits) == 0 || !strings.HasPrefix(c.IntakeUnits[0], "policeUnits/") {
		return "", false
	}
	return c.IntakeUnits[0], true
}

// ActivateNewCase sets the timers, timeline and notification of a case
// intake has just stored.
func (e *Engine) ActivateNewCase(tx datastore.Tx, c model.Case, now time.Time) error {
	for _, d := range c.Deadlines {
		if !d.NextFire.IsZero() {
			if err := tx.PutTimer(model.Timer{At: d.NextFire, CaseID: c.ID, DeadlineID: d.ID}); err != nil {
				return err
			}
		}
	}
	unit := access.UnitName(c.ResponsibleUnit)
	units := []string{unit}
	var events []model.CaseEvent
	if police, ok := policeIntake(c); ok {
		events = append(events, model.CaseEvent{Time: now, Actor: access.SystemUserID, Kind: "POLICE_RECEIVED",
			Detail: fmt.Sprintf("received directly by %s at %s", police, hanoi(c.ReceiveTime))})
		units = append(units, police)
	}
	if c.ResponsibleUnit != c.IncidentUnit {
		events = append(events, model.CaseEvent{Time: now, Actor: access.SystemUserID, Kind: "UNIT_SUCCEEDED",
			Detail: fmt.Sprintf("%s is no longer in force; %s succeeds it", access.UnitName(c.IncidentUnit), unit)})
	}
	events = append(events, model.CaseEvent{Time: now, Actor: access.SystemUserID, Kind: "FORWARDED", Detail: "forwarded to " + unit})
	if c.AwaitingSuccessor {
		events = append(events, model.CaseEvent{Time: now, Actor: access.SystemUserID, Kind: "SUCCESSOR_NEEDED",
			Detail: fmt.Sprintf("%s is no longer in force and no one unit succeeds it: the city reassigns the case", unit)})
		units = append(units, e.cityName())
	}
	for i := range c.Deadlines {
		d := &c.Deadlines[i]
		events = append(events, model.CaseEvent{Time: now, Actor: access.SystemUserID, Kind: "DEADLINE_STARTED",
			Detail: dueDetail(d), DeadlineID: d.ID})
	}
	if _, err := tx.AppendCaseEvents(c.ID, events...); err != nil {
		return err
	}
	_, err := tx.AppendNotifications(model.Notification{
		Time: now, Kind: "CASE_FORWARDED", Case: access.CaseResource(c.Number), Units: units, Detail: "a new case awaits acknowledgement",
	})
	return err
}

// Notify wakes watchers, webhooks and the scheduler after a commit that
// wrote notifications or timers outside the engine (intake opening a case)
// or on another instance sharing the store (etcdstore.WatchOutbox calls
// it for each batch of outbox appends it sees).
func (e *Engine) Notify() { e.hub.notify() }
