package process

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/childcase/childcase/internal/domain/access"
	"github.com/childcase/childcase/internal/domain/datastore"
	"github.com/childcase/childcase/internal/domain/model"
	"github.com/childcase/childcase/internal/domain/policy"
	"github.com/childcase/childcase/internal/domain/units"
	"github.com/childcase/childcase/internal/domain/vntime"
)

// Statutory limits (domain reference, section 4). Policy limits come from
// the policy file.
const (
	emergencyHours     = 12 // D3, Decree 56 Art. 26(3)
	separationDays     = 15 // D4, Art. 32
	planDraftDays      = 5  // D6, Art. 28 (working days)
	planApprovalDays   = 2  // D7, Art. 28 (working days)
	policeForwardHours = 24 // D13, Circular 43/2021/TT-BCA Art. 5
	remoteForwardHours = 48 // D13 in a remote commune
	prosecutionDays    = 20 // D16, Criminal Procedure Code (calendar days)
)

// deadlineKinds is the one table of the kinds of deadline, in the order
// the domain reference lists them, with whether :pauseDeadline may stop a
// clock of the kind. The emergency clocks (D3; an emergency's
// ACKNOWLEDGE, which the deadline itself marks not Pausable), D4 and the
// follow-ups of alternative care protect a child and cannot wait; the
// police clocks belong to a police unit, which :pauseDeadline does not
// serve (D16 is suspended by the police's own decision instead).
// TRANSFER_ACCEPT asks only a yes or a no of the receiving unit, and a
// pending transfer blocks the case's closure and every other hand-over:
// paused, it would never be overdue, so the level above could never
// decline it for a unit that does not answer (DeclineTransfer).
var deadlineKinds = []struct {
	kind     model.DeadlineKind
	pausable bool
}{
	{model.DeadlineAcknowledge, true},
	{model.DeadlineEmergencyMeasures, false},
	{model.DeadlineSeparationReview, false},
	{model.DeadlinePlanDraft, true},
	{model.DeadlinePlanApproval, true},
	{model.DeadlineServiceEnd, true},
	{model.DeadlinePoliceForward, false},
	{model.DeadlineProsecutionDecision, false},
	{model.DeadlineTransferAccept, false},
	{model.DeadlinePoliceAcknowledge, false},
	{model.DeadlineCareFollowUp, false},
	{model.DeadlinePlanResubmit, true},
}

// DeadlineKinds returns every kind of deadline the process starts.
func DeadlineKinds() []model.DeadlineKind {
	out := make([]model.DeadlineKind, len(deadlineKinds))
	for i, k := range deadlineKinds {
		out[i] = k.kind
	}
	return out
}

// kindPausable reports whether :pauseDeadline may stop a clock of kind.
func kindPausable(kind model.DeadlineKind) bool {
	for _, k := range deadlineKinds {
		if k.kind == kind {
			return k.pausable
		}
	}
	return false
}

// clockSkew is how far in the future a time the caller says something
// happened may lie: the clocks of the caller and the server differ.
const clockSkew = 5 * time.Minute

// clockSpec is a limit on one clock.
type clockSpec struct {
	clock  model.ClockKind
	length time.Duration
	days   int
	// maximum marks a calendar-day limit that bounds what is done to the
	// child (D4), or that ends on a date the plan set (D8): it ends on its
	// last day even when that is a day off, where every other day count
	// runs on to the end of the next working day (Civil Code Art. 148).
	maximum bool
}

func hours(h int) clockSpec {
	return clockSpec{clock: model.ClockHours, length: time.Duration(h) * time.Hour}
}
func calendarDays(n int) clockSpec { return clockSpec{clock: model.ClockCalendarDays, days: n} }
func workingDays(n int) clockSpec  { return clockSpec{clock: model.ClockWorkingDays, days: n} }
func fromPolicy(l policy.Limit) clockSpec {
	c, length, days := l.Clock()
	return clockSpec{clock: c, length: length, days: days}
}

// serviceEnd is D8's n calendar days to the expected end date the plan
// set for a service: it ends on that date, day off or not.
func serviceEnd(n int) clockSpec { return lastDayLimit(model.DeadlineServiceEnd, n) }

// separationLimit is D4's limit of n calendar days: a maximum.
func separationLimit(n int) clockSpec {
	return lastDayLimit(model.DeadlineSeparationReview, n)
}

// lastDayLimit is a limit of n calendar days of kind, a maximum when the
// kind ends on its last day (endsOnLastDay): the one list of those kinds
// serves the first count and a count made again (a resumption) alike.
func lastDayLimit(kind model.DeadlineKind, n int) clockSpec {
	return clockSpec{clock: model.ClockCalendarDays, days: n, maximum: endsOnLastDay(kind)}
}

// endsOnLastDay reports whether a calendar-day deadline of kind ends on
// its last day even when that is a day off (the clockSpec's maximum,
// through lastDayLimit), also for a count made again from the deadline
// alone (a resumption).
func endsOnLastDay(kind model.DeadlineKind) bool {
	return kind == model.DeadlineSeparationReview || kind == model.DeadlineServiceEnd
}

// due computes the end of a limit that starts at start.
func (e *Engine) due(start time.Time, spec clockSpec) time.Time {
	switch spec.clock {
	case model.ClockCalendarDays:
		if spec.maximum {
			return e.calendar.AddCalendarDays(start, spec.days)
		}
		return e.calendar.AddCalendarDaysToWorkingDay(start, spec.days)
	case model.ClockWorkingDays:
		return e.calendar.AddWorkingDays(start, spec.days)
	}
	return start.Add(spec.length)
}

// startDeadline opens a deadline on the case for unit, from start.
func (s *stepCtx) startDeadline(kind model.DeadlineKind, ref, unit string, start time.Time, spec clockSpec) *model.Deadline {
	return s.openDeadline(kind, ref, unit, start, s.e.due(start, spec), spec)
}

// openDeadline opens a deadline with a due time computed by the caller,
// pausable as its kind is (deadlineKinds).
func (s *stepCtx) openDeadline(kind model.DeadlineKind, ref, unit string, start, due time.Time, spec clockSpec) *model.Deadline {
	c := s.c
	id := 1
	for _, d := range c.Deadlines {
		id = max(id, d.ID+1)
	}
	d := model.Deadline{
		ID: id, Kind: kind, Ref: ref, Clock: spec.clock, Length: spec.length, Days: spec.days,
		Unit: unit, Start: start.UTC(), Due: due.UTC(), CalendarVersion: s.calendarFor(kind, start, due, spec.countsDaysOff()),
		Pausable: kindPausable(kind), WarnAt: append([]float64(nil), s.e.policy.Warnings...), State: model.DeadlineOpen,
	}
	if d.Clock == model.ClockWorkingDays {
		s.e.workingWarnings(&d, d.Days)
	}
	c.Deadlines = append(c.Deadlines, d)
	s.event("DEADLINE_STARTED", dueDetail(&d), id)
	return &c.Deadlines[len(c.Deadlines)-1]
}

// countsDaysOff reports whether the due time of a limit on spec depends on
// the days off of the holiday data: a count of working days, or of
// calendar days whose last day, if a day off, runs on to the next working
// day. Hours, and a day count that ends on its last day whatever it is
// (D4, D8), do not.
func (spec clockSpec) countsDaysOff() bool {
	switch spec.clock {
	case model.ClockWorkingDays:
		return true
	case model.ClockCalendarDays:
		return !spec.maximum
	}
	return false
}

// calendarFor returns the calendar version to record on a deadline
// counted from start to due: the calendar's own, marked when the count
// (if its clock counts days off: daysOff) reaches a year whose days off
// the data only estimate or do not hold, so that the deadline does not
// pass for one counted on announced data (domain reference section 5: a
// breach stays explainable). The timeline says it too (dueDetail):
//
//   - provisionalMark and the first year reached whose entries are not
//     yet announced (calendar.Calendar.Provisional): the notice of that
//     year may move its days off, and add swaps and make-up Saturdays
//     the data leave out, so the count may end earlier or later;
//   - pastDataMark and the first year reached that the data do not
//     cover: such a count is still made, since no case waits for a
//     calendar, on the weekends and the fixed-date holidays alone
//     (calendar.Calendar.IsWorkingDay), so it may end earlier than the
//     year's notices would make it, never later.
//
// A count that reaches neither keeps the bare version.
func (s *stepCtx) calendarFor(kind model.DeadlineKind, start, due time.Time, daysOff bool) string {
	marked, past := s.e.markedVersion(start, due, daysOff)
	if past != 0 {
		// Whoever runs the server learns that the data need that year's
		// notices, once the deadline is recorded (logCounts).
		s.counted = append(s.counted, pastDataCount{
			caseNumber: s.c.Number, kind: kind, year: past, start: start.UTC(), due: due.UTC(), version: s.e.calendar.Version(),
		})
	}
	return marked
}

// pastDataCount is a deadline counted past the holiday data, for the log.
type pastDataCount struct {
	caseNumber string
	kind       model.DeadlineKind
	year       int
	start, due time.Time
	version    string
}

// logCounts logs the deadlines a committed transaction counted past the
// holiday data. Only after the commit: a transaction's body may run more
// than once, or be refused after the count (datastore.Store), and the log
// must say each deadline recorded once, and none that was not.
func (e *Engine) logCounts(ctx context.Context, counted []pastDataCount) {
	for _, c := range counted {
		e.log.WarnContext(ctx, "process: a deadline is counted past the holiday data, without the movable holidays and swapped days of its year",
			"case", c.caseNumber, "deadline", string(c.kind), "year", c.year, "start", c.start, "due", c.due, "calendar_version", c.version)
	}
}

// markedVersion is calendarFor's version, and the year past the data
// the count reached (0 if none), without a word to the log.
func (e *Engine) markedVersion(start, due time.Time, daysOff bool) (string, int) {
	version := e.calendar.Version()
	if !daysOff {
		return version, 0
	}
	first, last := e.calendar.Years()
	// The days counted: from the day after the event to the last day,
	// the one that ends at the due time (24:00, 00:00 of the day after).
	// A deadline resumed on its last day, with no day left, ends with the
	// day of its resumption, which is then the day looked at.
	from, to := vntime.DateOf(start).AddDays(1), vntime.DateOf(due.Add(-time.Nanosecond))
	if to.Before(from) {
		from = to
	}
	marked := version
	for y := max(from.Year, first); y <= min(to.Year, last); y++ {
		if e.calendar.Provisional(y) {
			marked += fmt.Sprintf("%s%d", provisionalMark, y)
			break
		}
	}
	past := 0
	switch {
	case from.Year < first:
		past = from.Year
	case to.Year > last:
		past = last + 1
	default:
		return marked, 0
	}
	return fmt.Sprintf("%s%s%d", marked, pastDataMark, past), past
}

// limitNotes is what the timeline adds to a line that a limit on spec,
// counted from start, decided (late_recording), naming the limit, when
// the count reached provisional holiday data or went past them: such a
// limit is stored with no calendar version of its own, so the line that
// records what it decided says it. (The escalation step needs no such
// note: it is counted only from a level with one above it, which since
// 2025-07-01 no unit has: TestEscalationStepIsCountedOnlyBeforeTheReform.)
func (e *Engine) limitNotes(limit string, start time.Time, spec clockSpec) string {
	version, _ := e.markedVersion(start, e.due(start, spec), spec.countsDaysOff())
	return calendarNotes(version, limit+" ")
}

// The marks of a calendar version (calendarFor), each followed by a year:
// "vn-holidays@ed650e041f2b+provisional-2030+no-data-2031".
const (
	provisionalMark = "+provisional-"
	pastDataMark    = "+no-data-"
)

// calendarMarks finds the marks of a calendar version and their years.
var calendarMarks = regexp.MustCompile(`\+(provisional|no-data)-(-?[0-9]+)`)

// dueDetail is what the timeline says of when d is due, and, for one
// counted on provisional holiday data or past them, what that means.
func dueDetail(d *model.Deadline) string {
	return fmt.Sprintf("%s due %s", d.Kind, hanoi(d.Due)) + calendarNotes(d.CalendarVersion, "")
}

// calendarNotes says what the marks of a calendar version mean, as the
// timeline's lines add it, of the limit named by subject ("" for the
// deadline of the line): "" for an unmarked version.
func calendarNotes(version, subject string) string {
	notes := ""
	for _, m := range calendarMarks.FindAllStringSubmatch(version, -1) {
		switch "+" + m[1] + "-" {
		case provisionalMark:
			notes += fmt.Sprintf("; %scounted on provisional holiday data for %s: that year's days off are estimates, not yet announced, without the swaps and make-up Saturdays its notice will add, so it may end earlier or later than the notice will make it", subject, m[2])
		case pastDataMark:
			notes += fmt.Sprintf("; %scounted without holiday data for %s: only weekends and 1/1, 30/4, 1/5 and 2/9 are days off then, so it may end earlier than that year's notices would make it", subject, m[2])
		}
	}
	return notes
}

// meet closes the open deadline of kind and ref, if any, as done when
// the step was asked: met if on time, missed (with how late) otherwise.
// A write that committed on the case while the step waited for its
// transaction dates the step's events after it, never the step's
// meeting of a limit: a police step sent in time, with its view's etag,
// is not missed for a commune's note written just past the limit.
func (s *stepCtx) meet(kind model.DeadlineKind, ref string) {
	s.meetAt(kind, ref, s.askedTime())
}

// askedTime is when the step was asked (stepCtx.asked), or now for a
// write no caller asked for: the time a step is done by, where it takes
// no time of the caller's.
func (s *stepCtx) askedTime() time.Time {
	if !s.asked.IsZero() && s.asked.Before(s.now) {
		return s.asked
	}
	return s.now
}

// meetAt is meet for a step done at, an earlier time the caller gives
// (when emergency measures were applied, when the police forwarded the
// report): met or missed by it, which the deadline keeps as its done
// time. Its event is dated when it is recorded, as every event of the
// step is: dated at, it would read on the timeline before what was
// written on the case in between.
func (s *stepCtx) meetAt(kind model.DeadlineKind, ref string, at time.Time) {
	d := s.c.OpenDeadline(kind, ref)
	if d == nil {
		return
	}
	d.DoneTime = at
	if d.PausedAt.IsZero() && overdueAt(d.Due, at) {
		d.State = model.DeadlineMissed
		d.MinutesLate = int64(at.Sub(d.Due) / time.Minute)
		s.event("DEADLINE_MISSED", fmt.Sprintf("%s done %d minutes late", kind, d.MinutesLate), d.ID)
		return
	}
	d.State = model.DeadlineMet
	s.event("DEADLINE_MET", string(kind), d.ID)
}

// cancel closes an open deadline that no longer applies.
func (s *stepCtx) cancel(kind model.DeadlineKind, ref, why string) {
	if d := s.c.OpenDeadline(kind, ref); d != nil {
		d.State, d.DoneTime = model.DeadlineCancelled, s.now
		s.event("DEADLINE_CANCELLED", string(kind)+": "+why, d.ID)
	}
}

// nextFire returns when the scheduler must next look at d, or zero.
func (e *Engine) nextFire(tx datastore.ReadTx, d *model.Deadline) time.Time {
	if !d.Open() || !d.PausedAt.IsZero() {
		return time.Time{}
	}
	if d.WarningsSent < len(d.WarnAt) && !d.Breached {
		return warnTime(d, d.WarningsSent)
	}
	if !d.Breached {
		return breachFire(d.Due)
	}
	if len(d.Escalations) == 0 {
		return time.Time{} // breached at the top of the chain: nowhere to go
	}
	// Overdue: the level escalated to has one escalation step to act
	// before the step goes up once more, while there is a level above.
	last := d.Escalations[len(d.Escalations)-1]
	if e.nextLevel(tx, last.To, last.Time) == "" {
		return time.Time{}
	}
	step := breachFire(e.due(last.Time, fromPolicy(e.policy.EscalationStep)))
	// A level that ends before its step does (a district on 2025-06-30)
	// passes the deadline on as it ends (tick): nobody is left there to
	// act on it.
	if end := e.levelEnd(last.To); !end.IsZero() && end.Before(step) {
		return end
	}
	return step
}

// levelEnd returns the instant the unit named level goes out of force
// (00:00 of the day after its last day), or zero if it has no last day
// or is no unit of the reference data (a police unit).
func (e *Engine) levelEnd(level string) time.Time {
	k, ok := unitKey(level)
	if !ok {
		return time.Time{}
	}
	u, found := e.units.Get(k)
	if !found || u.ValidTo.IsZero() {
		return time.Time{}
	}
	return u.ValidTo.AddDays(1).Start()
}

// overdueAt reports whether a limit due at due is overdue at now. The due
// time is the last instant that still meets the limit (24:00 of its last
// day, the 12th hour itself: "within 12 hours"), as meet counts a step
// taken then, so the limit is overdue only after it: a step taken at its
// due time must not find it breached and escalated.
func overdueAt(due, now time.Time) bool { return now.After(due) }

// breachFire is when the scheduler must look at a limit due at due to
// find it overdue: the first instant after it (overdueAt).
func breachFire(due time.Time) time.Time { return due.Add(time.Nanosecond) }

// warnTime is when the i-th warning of d falls (workingWarnings).
func warnTime(d *model.Deadline, i int) time.Time { return d.WarningTime(i) }

// workingWarnings places the warnings of a working-day deadline d, from
// the first not yet sent, on its working days: the warning at fraction f
// of its limit of n working days falls after f × n of them, counted as
// the deadline counts them (Calendar.WorkingDaysPoint: a working day is
// 00:00-24:00 of a working day), so never on a day off. On the wall clock
// a D7 started on a Friday afternoon warned on the Sunday, and a clock
// across Tết in the middle of the holiday. The count is the last left of
// the working days of the limit up to d.Due: all n at the start; after a
// resumption, the ones it had left (the day of the pause and those
// before it are used), so a warning keeps its place in the limit, and
// one whose place was used up comes at the start of the count's first
// day. The instants are stored, computed with the calendar the due time
// was (the deadline's calendar version): a later policy or holiday data
// do not move what the unit was told.
func (e *Engine) workingWarnings(d *model.Deadline, left int) {
	times := make([]time.Time, len(d.WarnAt))
	for i, f := range d.WarnAt {
		if i < d.WarningsSent {
			times[i] = d.WarningTime(i) // sent: history
			continue
		}
		used := d.Days - left
		times[i] = e.calendar.WorkingDaysPoint(d.Due, max(left, 1), f*float64(d.Days)-float64(used)).UTC()
	}
	d.WarnTimes = times
}

// syncTimers sets the scheduler's timers to the deadlines' next fire times.
func (s *stepCtx) syncTimers() error {
	for i := range s.c.Deadlines {
		d := &s.c.Deadlines[i]
		next := s.e.nextFire(s.tx, d)
		if old := s.oldFires[d.ID]; !old.IsZero() && !old.Equal(next) {
			if err := s.tx.DeleteTimer(model.Timer{At: old, CaseID: s.c.ID, DeadlineID: d.ID}); err != nil {
				return err
			}
		}
		d.NextFire = next
		if !next.IsZero() {
			if err := s.tx.PutTimer(model.Timer{At: next, CaseID: s.c.ID, DeadlineID: d.ID}); err != nil {
				return err
			}
		}
	}
	return nil
}

// nextLevel returns the unit a deadline of unit escalates to on a date:
// commune -> district -> city while districts exist, commune -> city from
// 2025-07-01; a police unit -> the city police. "" at the top.
func (e *Engine) nextLevel(tx datastore.ReadTx, unit string, at time.Time) string {
	day := vntime.DateOf(at)
	if strings.HasPrefix(unit, "policeUnits/") {
		return cityPolice(tx, unit)
	}
	name, ok := strings.CutPrefix(unit, "units/")
	if !ok {
		return ""
	}
	k, err := units.ParseKey(name)
	if err != nil {
		return ""
	}
	// A district no longer in force (after 2025-06-30) is skipped for the
	// city.
	if above, ok := e.units.Above(k, day); ok {
		return access.UnitName(above.Key)
	}
	return ""
}

// cityPolice is the police unit at the top of the police chain: the one
// that covers all of Hanoi (no Covers). "" when from is that unit or none
// is registered. A database written before a second unit without covers
// was refused may hold more than one: from any of them nothing is above
// (they would otherwise escalate to one another, and each would come to
// see the others' cases), and the others escalate to the first by id.
func cityPolice(tx datastore.IdentityReader, from string) string {
	ps, err := tx.ListPoliceUnits()
	if err != nil {
		return ""
	}
	top := ""
	for _, p := range ps {
		if !p.IsCityPolice() {
			continue
		}
		if model.PoliceUnitName(p.ID) == from {
			return ""
		}
		if top == "" {
			top = model.PoliceUnitName(p.ID)
		}
	}
	return top
}

// hanoi shows an instant as the users read it: Vietnam time.
func hanoi(t time.Time) string { return t.In(vntime.Location()).Format(time.RFC3339) }

// beforeMinuteOf reports whether t lies before the minute ref falls in.
// People give times to the minute (the console's fields take hh:mm), and
// one who acknowledges a case and records the meeting held then, in the
// same minute, must not be told the meeting lies before the
// acknowledgement, nor a client that sends back a time it was shown to the
// second. Taking the whole minute of ref admits a time at most 59 seconds
// before it, which no deadline counts.
func beforeMinuteOf(t, ref time.Time) bool { return t.Before(ref.Truncate(time.Minute)) }
