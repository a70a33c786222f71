package process_test

import (
	"context"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"pgregory.net/rapid"

	"github.com/childcase/childcase/internal/domain/access"
	"github.com/childcase/childcase/internal/domain/datastore"
	"github.com/childcase/childcase/internal/domain/intake"
	"github.com/childcase/childcase/internal/domain/model"
	"github.com/childcase/childcase/internal/domain/process"
	"github.com/childcase/childcase/internal/domain/units"
	"github.com/childcase/childcase/internal/domain/vntime"
)

// snapshot is everything the process writes that the invariants look at.
type snapshot struct {
	cases  map[string]model.Case
	events map[string][]model.CaseEvent
	timers []model.Timer
}

var farFuture = time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC)

// fataler is a *rapid.T or a *testing.T: the checks below run in the
// property test and in ordinary tests.
type fataler interface {
	Fatalf(format string, args ...any)
}

// refresh reads the store after an action and remembers what it read as
// the state before the next one. Timelines only grow, so only their new
// events are read.
func (w *world) refresh(t fataler) snapshot {
	s := snapshot{cases: map[string]model.Case{}, events: map[string][]model.CaseEvent{}}
	err := w.store.View(w.ctx, func(tx datastore.ReadTx) error {
		for _, n := range w.cases {
			c, err := tx.CaseByNumber(n)
			if err != nil {
				return err
			}
			old := slices.Clip(w.last.events[n])
			var after uint64
			if len(old) > 0 {
				after = old[len(old)-1].Seq
			}
			ev, err := tx.CaseEvents(c.ID, after, 1<<20)
			if err != nil {
				return err
			}
			s.cases[n], s.events[n] = c, append(old, ev...)
		}
		var err error
		s.timers, err = tx.DueTimers(farFuture, 1<<20)
		return err
	})
	if err != nil {
		t.Fatalf("snapshot: %v", err)
	}
	if errs := policeViewStamps(w.last, s); len(errs) > 0 {
		t.Fatalf("police views:\n%s", strings.Join(errs, "\n"))
	}
	w.last = s
	return s
}

// policeViewStamps checks the police views of every case from one snapshot
// to the next, whatever wrote it in between (steps, timers, a report
// joining): a police unit's view keeps its etag and update time while
// what it shows stays the same, and when it shows something new its etag
// moves by at most one per write of the case, and its update time to that
// of one of those writes. The police must learn nothing of the commune's
// work from them, and a police step sent with a stale view's etag must
// find it changed.
func policeViewStamps(before, after snapshot) []string {
	var errs []string
	for n, a := range after.cases {
		b, existed := before.cases[n]
		if !existed || a.Revision == b.Revision {
			continue
		}
		writes := a.Revision - b.Revision
		for _, u := range policeUnitsOf(a) {
			av := access.PoliceView(a, u)
			bv := access.PoliceView(b, u)
			switch {
			case !slices.Contains(policeUnitsOf(b), u):
				// A unit that sees the case from now on: its view starts
				// counting at 1, at one of the writes (its first etag
				// tells nothing of the case's revisions before it), and
				// moves by at most one with each write after that one.
				if av.Revision < 1 || av.Revision > writes || av.UpdateTime.Before(b.UpdateTime) || av.UpdateTime.After(a.UpdateTime) {
					errs = append(errs, fmt.Sprintf("%s: %s's new view has revision %d at %v, want 1 to %d (the writes since) after %v", n, u, av.Revision, av.UpdateTime, writes, b.UpdateTime))
				}
			case reflect.DeepEqual(shownByView(bv), shownByView(av)):
				if av.Revision != bv.Revision || !av.UpdateTime.Equal(bv.UpdateTime) {
					errs = append(errs, fmt.Sprintf("%s: %s's view shows nothing new but moved from revision %d at %v to %d at %v", n, u, bv.Revision, bv.UpdateTime, av.Revision, av.UpdateTime))
				}
			default:
				if av.Revision <= bv.Revision || av.Revision > bv.Revision+writes || av.UpdateTime.Before(b.UpdateTime) || av.UpdateTime.After(a.UpdateTime) {
					errs = append(errs, fmt.Sprintf("%s: %s's view changed in %d writes but moved from revision %d at %v to %d at %v", n, u, writes, bv.Revision, bv.UpdateTime, av.Revision, av.UpdateTime))
				}
			}
		}
	}
	return errs
}

// policeUnitsOf are the police units that see c.
func policeUnitsOf(c model.Case) []string {
	units := slices.Clone(c.PoliceAlerted)
	for _, r := range c.PoliceReferrals {
		units = append(units, r.PoliceUnit)
	}
	slices.Sort(units)
	return slices.Compact(units)
}

// shownByView is a police view without its etag and update time and
// without what no view shows (timer fire times, sealed text).
func shownByView(c model.Case) model.Case {
	c.Revision, c.UpdateTime, c.Texts = 0, time.Time{}, model.Sealed{}
	c.Deadlines = slices.Clone(c.Deadlines)
	for i := range c.Deadlines {
		c.Deadlines[i].NextFire = time.Time{}
	}
	return c
}

// openCaseAt records an intervention report about a child of 9 in Phường
// Ba Đình, received at receive, and returns the case it opened as stored.
func (w *world) openCaseAt(t *testing.T, receive time.Time, danger bool, abuse model.AbuseForm) model.Case {
	t.Helper()
	return w.reportIn(t, "00004", receive, danger, abuse, "")
}

// reportIn records, as the operator, an intervention report about a child
// of 9 in the commune of code, received at receive, joining the case
// named caseName or, with "", opening one; it returns that case as stored.
func (w *world) reportIn(t *testing.T, code string, receive time.Time, danger bool, abuse model.AbuseForm, caseName string) model.Case {
	t.Helper()
	age := int32(9)
	out, err := w.intake.CreateReport(w.ctx, principal("operator"), intake.CreateReportInput{
		Report: model.Report{
			Channel: 1, ReceiveTime: receive, CallType: model.CallIntervention, ImmediateDanger: danger,
			Children:  []model.Child{{FullName: "Nguyễn Văn An", EstimatedAge: &age, Sex: 1}},
			Narrative: "trẻ bị đánh", SuspectedAbuse: []model.AbuseForm{abuse}, Reporter: model.Reporter{Anonymous: true},
		},
		IncidentCommuneCode: code, CaseName: caseName,
	})
	if err != nil {
		t.Fatal(err)
	}
	var c model.Case
	if err := w.store.View(w.ctx, func(tx datastore.ReadTx) error {
		c, err = tx.CaseByNumber(out.CaseNumber)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	return c
}

func (w *world) readCase(t *rapid.T, number string) model.Case {
	var c model.Case
	err := w.store.View(w.ctx, func(tx datastore.ReadTx) error {
		var err error
		c, err = tx.CaseByNumber(number)
		return err
	})
	if err != nil {
		t.Fatalf("read case %s: %v", number, err)
	}
	return c
}

func (w *world) expectSame(t *rapid.T, what, number string, before, after model.Case) {
	if !reflect.DeepEqual(before, after) {
		t.Fatalf("%s changed case %s:\nbefore %+v\nafter  %+v", what, number, before, after)
	}
}

func (w *world) expectSnapshot(t *rapid.T, what string, before, after snapshot) {
	for n, b := range before.cases {
		w.expectSame(t, what, n, b, after.cases[n])
		if len(before.events[n]) != len(after.events[n]) {
			t.Fatalf("%s added events to case %s: %+v", what, n, after.events[n][len(before.events[n]):])
		}
	}
	if !reflect.DeepEqual(before.timers, after.timers) {
		t.Fatalf("%s changed the timers:\nbefore %+v\nafter  %+v", what, before.timers, after.timers)
	}
}

// nextLevel is where the code promises a deadline of unit escalates to:
// commune -> (district while in force) -> city; police unit -> city police.
func (w *world) nextLevel(unit string, at time.Time) string {
	if strings.HasPrefix(unit, "policeUnits/") {
		if unit == policeCity {
			return ""
		}
		return policeCity
	}
	k, err := units.ParseKey(strings.TrimPrefix(unit, "units/"))
	if err != nil {
		return ""
	}
	day := vntime.DateOf(at)
	u, ok := w.reg.Get(k)
	for ok && !u.Parent.IsZero() {
		parent, found := w.reg.Get(u.Parent)
		if !found {
			return ""
		}
		if parent.InForce(day) || parent.Level == units.LevelCity {
			return access.UnitName(parent.Key)
		}
		u = parent
	}
	return ""
}

// escalationDue is when an escalated step must be done at its new level.
func (w *world) escalationDue(from time.Time) time.Time {
	clk, length, days := w.pol.EscalationStep.Clock()
	switch clk {
	case model.ClockCalendarDays:
		return w.cal.AddCalendarDaysToWorkingDay(from, days)
	case model.ClockWorkingDays:
		return w.cal.AddWorkingDays(from, days)
	}
	return from.Add(length)
}

// warnTime is when d's i-th warning falls: at its stored instant, for a
// working-day clock (TestPlanApprovalStartedOnAFridayWarnsOnWorkingDays
// and the others of workingwarnings_test.go hold where), or at its
// fraction of the wall-clock time.
func warnTime(d model.Deadline, i int) time.Time {
	if d.Clock == model.ClockWorkingDays && len(d.WarnTimes) == len(d.WarnAt) {
		return d.WarnTimes[i]
	}
	span := d.Due.Sub(d.Start)
	return d.Start.Add(time.Duration(float64(span) * d.WarnAt[i]))
}

// expectedNextFire is when the scheduler must next look at d.
func (w *world) expectedNextFire(d model.Deadline) time.Time {
	if !d.Open() || !d.PausedAt.IsZero() {
		return time.Time{}
	}
	if !d.Breached {
		if d.WarningsSent < len(d.WarnAt) {
			return warnTime(d, d.WarningsSent)
		}
		// The due time itself still meets the limit: overdue after it.
		return d.Due.Add(time.Nanosecond)
	}
	if len(d.Escalations) == 0 {
		return time.Time{}
	}
	last := d.Escalations[len(d.Escalations)-1]
	if w.nextLevel(last.To, last.Time) == "" {
		return time.Time{}
	}
	return w.escalationDue(last.Time).Add(time.Nanosecond)
}

type timerKey struct {
	at       int64
	caseID   uint64
	deadline int
}

// checkInvariants reads every case and checks what the process promises.
// fired says FireDue just ran at the current time.
func (w *world) checkInvariants(t fataler, s snapshot, fired bool) {
	now := w.clk.Now()
	var errs []string
	want := map[timerKey]bool{}
	for _, n := range w.cases {
		c := s.cases[n]
		for _, e := range w.checkCase(c, s.events[n], now, fired) {
			errs = append(errs, n+": "+e)
		}
		for _, d := range c.Deadlines {
			if !d.NextFire.IsZero() {
				want[timerKey{d.NextFire.UnixNano(), c.ID, d.ID}] = true
			}
		}
	}
	got := map[timerKey]bool{}
	for _, tm := range s.timers {
		k := timerKey{tm.At.UnixNano(), tm.CaseID, tm.DeadlineID}
		got[k] = true
		if !want[k] {
			errs = append(errs, fmt.Sprintf("timer %+v matches no deadline's NextFire", tm))
		}
		if fired && !tm.At.After(now) {
			errs = append(errs, fmt.Sprintf("timer %+v is due but FireDue left it", tm))
		}
	}
	for k := range want {
		if !got[k] {
			errs = append(errs, fmt.Sprintf("deadline %d of case id %d has NextFire %s but no timer",
				k.deadline, k.caseID, time.Unix(0, k.at).In(vntime.Location()).Format(time.DateTime)))
		}
	}
	if len(errs) > 0 {
		t.Fatalf("invariants broken after step %d:\n  %s", w.step, strings.Join(errs, "\n  "))
	}
}

func isPolice(unit string) bool { return strings.HasPrefix(unit, "policeUnits/") }

func (w *world) checkCase(c model.Case, events []model.CaseEvent, now time.Time, fired bool) []string {
	var errs []string
	fail := func(format string, args ...any) { errs = append(errs, fmt.Sprintf(format, args...)) }
	closed := c.Status == model.StatusClosed
	resp := access.UnitName(c.ResponsibleUnit)

	// No illegal state.
	if c.Status < 1 || c.Status > 7 {
		fail("status %d out of range", c.Status)
	}
	if closed == c.CloseTime.IsZero() {
		fail("status %d with close time %v", c.Status, c.CloseTime)
	}
	switch c.Status {
	case model.StatusAwaitingAcknowledgement:
		if c.PlanState != "" || c.PlanCycle != 0 {
			fail("awaiting acknowledgement with plan %q cycle %d", c.PlanState, c.PlanCycle)
		}
		// Only its reports make a case an emergency before it is assessed,
		// and that starts the 12-hour clock.
		d3 := slices.ContainsFunc(c.Deadlines, func(d model.Deadline) bool { return d.Kind == model.DeadlineEmergencyMeasures })
		if c.Emergency != d3 {
			fail("awaiting acknowledgement: emergency %v, a D3 deadline %v", c.Emergency, d3)
		}
	case model.StatusInitialAssessment, model.StatusSpecificAssessment:
		// "" the first time; after a reopening, the plan as the case
		// closed with it: APPROVED after a review, anything on another
		// ground (moved away, ...), which closes at any step.
		if (c.PlanState != "" && c.PlanState != model.PlanApproved && len(c.Reopened) == 0) || (c.PlanState == "") != (c.PlanCycle == 0) {
			fail("status %d with plan %q cycle %d", c.Status, c.PlanState, c.PlanCycle)
		}
	case model.StatusClosed:
		// APPROVED after a review that proposed closure; on another
		// lawful ground the plan as it stood.
		if (c.PlanState == "") != (c.PlanCycle == 0) {
			fail("closed with plan %q cycle %d", c.PlanState, c.PlanCycle)
		}
	case model.StatusPlanning:
		if (c.PlanState != model.PlanDraft && c.PlanState != model.PlanSubmitted) || c.PlanCycle < 1 {
			fail("planning with plan %q cycle %d", c.PlanState, c.PlanCycle)
		}
	default:
		if c.PlanState != model.PlanApproved || c.PlanCycle < 1 {
			fail("status %d with plan %q cycle %d", c.Status, c.PlanState, c.PlanCycle)
		}
	}
	if (c.PlanState == model.PlanSubmitted || c.PlanState == model.PlanApproved) && len(c.Services) == 0 {
		fail("plan %s without services", c.PlanState)
	}
	if c.ClosureProposed && c.Status != model.StatusReview {
		fail("closure proposed at status %d", c.Status)
	}
	if c.Emergency != (c.EmergencyReason != 0) {
		fail("emergency %v with reason %d", c.Emergency, c.EmergencyReason)
	}
	if !slices.Contains(c.Handlers, c.ResponsibleUnit) {
		fail("responsible unit %s is not among the handlers %v", resp, c.Handlers)
	}
	if !slices.Contains(c.Handlers, c.IncidentUnit) {
		fail("incident unit %s is not among the handlers %v", c.IncidentUnit, c.Handlers)
	}
	for i, h := range c.Handlers {
		if slices.Contains(c.Handlers[:i], h) {
			fail("handler %s twice", h)
		}
	}

	// Transfers.
	pending := 0
	for _, tr := range c.Transfers {
		if tr.State == model.TransferProposed {
			pending++
			if tr.From != resp {
				fail("pending transfer %d from %s, but %s is responsible", tr.ID, tr.From, resp)
			}
		}
	}
	if pending > 1 {
		fail("%d transfers proposed at once", pending)
	}

	// Deadlines, one by one.
	type count map[string]int
	perDeadline := map[int]count{}
	escEvents := map[int][]model.CaseEvent{}
	warnEvents := map[int][]model.CaseEvent{}
	for _, e := range events {
		if e.DeadlineID == 0 {
			continue
		}
		if c.Deadline(e.DeadlineID) == nil {
			fail("event %s names deadline %d, which does not exist", e.Kind, e.DeadlineID)
			continue
		}
		if perDeadline[e.DeadlineID] == nil {
			perDeadline[e.DeadlineID] = count{}
		}
		perDeadline[e.DeadlineID][e.Kind]++
		switch e.Kind {
		case "ESCALATED":
			escEvents[e.DeadlineID] = append(escEvents[e.DeadlineID], e)
		case "DEADLINE_WARNING":
			warnEvents[e.DeadlineID] = append(warnEvents[e.DeadlineID], e)
		}
	}
	type kindRef struct {
		kind model.DeadlineKind
		ref  string
	}
	open := map[kindRef]model.Deadline{}
	ids := map[int]bool{}
	for _, d := range c.Deadlines {
		name := fmt.Sprintf("deadline %d %s %s (unit %s)", d.ID, d.Kind, d.Ref, d.Unit)
		df := func(format string, args ...any) { fail(name+": "+format, args...) }
		if d.ID <= 0 || ids[d.ID] {
			df("bad or repeated id")
		}
		ids[d.ID] = true
		if d.Open() {
			k := kindRef{d.Kind, d.Ref}
			if _, dup := open[k]; dup {
				df("two open deadlines of the same kind and ref")
			}
			open[k] = d
		}
		if !d.Due.After(d.Start) {
			df("due %s is not after start %s", d.Due.In(vntime.Location()), d.Start.In(vntime.Location()))
		}
		switch d.State {
		case model.DeadlineOpen:
			if !d.DoneTime.IsZero() {
				df("open with done time %v", d.DoneTime)
			}
		case model.DeadlineMet, model.DeadlineMissed, model.DeadlineCancelled:
			if d.DoneTime.IsZero() {
				df("%s without done time", d.State)
			}
		default:
			df("state %q", d.State)
		}
		if d.State == model.DeadlineMissed {
			if !d.DoneTime.After(d.Due) || d.MinutesLate < 0 || d.MinutesLate != int64(d.DoneTime.Sub(d.Due)/time.Minute) {
				df("missed at %s, due %s, %d minutes late", d.DoneTime, d.Due, d.MinutesLate)
			}
		}
		// Met: done by the due time, or while paused before the due time
		// (the pause moves the due time by as long as it lasts).
		if d.State == model.DeadlineMet && d.DoneTime.After(d.Due) && (d.PausedAt.IsZero() || d.PausedAt.After(d.Due)) {
			df("met at %s after its due time %s (paused at %v)", d.DoneTime.In(vntime.Location()), d.Due.In(vntime.Location()), d.PausedAt)
		}
		// D16 is not paused but suspended, by the police's decision.
		if !d.Pausable && !d.PausedAt.IsZero() && d.Kind != model.DeadlineProsecutionDecision {
			df("not pausable but paused")
		}
		// An emergency's clocks cannot be paused (issue 4): D3, and the
		// shorter time to acknowledge an emergency.
		if c.Emergency && d.Open() && d.Pausable && (d.Kind == model.DeadlineEmergencyMeasures || d.Kind == model.DeadlineAcknowledge) {
			df("an open clock of an emergency case is pausable")
		}
		// Breached: the due time passed while open (a step at the due
		// time itself still meets it).
		if d.Open() && d.Breached && !now.After(d.Due) {
			df("open, overdue (breached), but due only at %s (now %s)", d.Due.In(vntime.Location()), now.In(vntime.Location()))
		}

		// Timer.
		if wantFire := w.expectedNextFire(d); !wantFire.Equal(d.NextFire) {
			df("NextFire %v, want %v (state %s, paused %v, breached %v, warnings %d/%d, escalations %d)",
				d.NextFire, wantFire, d.State, !d.PausedAt.IsZero(), d.Breached, d.WarningsSent, len(d.WarnAt), len(d.Escalations))
		}
		if fired && d.Open() && d.PausedAt.IsZero() && !d.NextFire.IsZero() && !d.NextFire.After(now) {
			df("NextFire %s is not after now %s after FireDue", d.NextFire, now)
		}

		// Timeline.
		ev := perDeadline[d.ID]
		if ev["DEADLINE_STARTED"] != 1 {
			df("%d DEADLINE_STARTED events", ev["DEADLINE_STARTED"])
		}
		closing := ev["DEADLINE_MET"] + ev["DEADLINE_MISSED"] + ev["DEADLINE_CANCELLED"]
		wantKind := map[model.DeadlineState]string{model.DeadlineMet: "DEADLINE_MET", model.DeadlineMissed: "DEADLINE_MISSED", model.DeadlineCancelled: "DEADLINE_CANCELLED"}[d.State]
		if (d.Open() && closing != 0) || (!d.Open() && (closing != 1 || ev[wantKind] != 1)) {
			df("state %s with closing events %v", d.State, ev)
		}

		// Warnings.
		if d.WarningsSent > len(d.WarnAt) {
			df("%d warnings sent of %d", d.WarningsSent, len(d.WarnAt))
		}
		if d.Breached && d.WarningsSent != len(d.WarnAt) {
			df("breached with %d of %d warnings", d.WarningsSent, len(d.WarnAt))
		}
		wn := len(warnEvents[d.ID])
		if wn > d.WarningsSent || (!d.Breached && wn != d.WarningsSent) {
			df("%d DEADLINE_WARNING events for %d warnings sent (breached %v)", wn, d.WarningsSent, d.Breached)
		}
		for _, e := range warnEvents[d.ID] {
			if e.Time.After(d.Due) {
				df("warning at %s, after the due time %s", e.Time, d.Due)
			}
		}
		// A working-day clock's warnings to come fall on its working
		// days, in order, before it is due, whatever pauses it had.
		if d.Clock == model.ClockWorkingDays {
			if len(d.WarnTimes) != len(d.WarnAt) {
				df("%d warning times for %d warnings", len(d.WarnTimes), len(d.WarnAt))
			} else if d.Open() && d.PausedAt.IsZero() {
				for i := d.WarningsSent; i < len(d.WarnTimes); i++ {
					at := d.WarnTimes[i]
					if !w.cal.IsWorkingDay(vntime.DateOf(at)) || !at.Before(d.Due) || i > 0 && at.Before(d.WarnTimes[i-1]) {
						df("warning %d at %s (due %s, the one before at %v): not in order on a working day before the due time", i, at.In(vntime.Location()), d.Due.In(vntime.Location()), d.WarnTimes[max(i-1, 0)])
					}
				}
			}
		}

		// Breaches and escalations: each breach escalates once, up to the
		// top of the chain.
		breaches := ev["DEADLINE_BREACHED"]
		if d.Breached != (breaches > 0) {
			df("breached %v with %d DEADLINE_BREACHED events", d.Breached, breaches)
		}
		esc := escEvents[d.ID]
		if len(esc) != len(d.Escalations) {
			df("%d ESCALATED events for %d escalations", len(esc), len(d.Escalations))
		} else {
			for i, e := range esc {
				if !e.Time.Equal(d.Escalations[i].Time) {
					df("escalation %d at %s, its event at %s", i, d.Escalations[i].Time, e.Time)
				}
			}
		}
		switch breaches - len(d.Escalations) {
		case 0:
		case 1:
			top, at := d.Unit, d.Start
			if len(d.Escalations) > 0 {
				top, at = d.Escalations[len(d.Escalations)-1].To, d.Escalations[len(d.Escalations)-1].Time
			}
			if next := w.nextLevel(top, at); next != "" {
				df("a breach at %s was not escalated to %s", top, next)
			}
		default:
			df("%d breaches for %d escalations", breaches, len(d.Escalations))
		}
		for i, e := range d.Escalations {
			for _, f := range d.Escalations[:i] {
				if f.To == e.To {
					df("escalated twice to %s", e.To)
				}
			}
			if k, err := units.ParseKey(strings.TrimPrefix(e.To, "units/")); err == nil && !slices.Contains(c.Handlers, k) {
				df("escalated to %s, which is not among the handlers", e.To)
			}
		}
	}

	// Every open step has its deadline, and no deadline outlives its step.
	has := func(kind model.DeadlineKind, ref string) bool { _, ok := open[kindRef{kind, ref}]; return ok }
	cycle := fmt.Sprintf("plan-%d", c.PlanCycle)
	if (c.Status == model.StatusAwaitingAcknowledgement) != has(model.DeadlineAcknowledge, "") {
		fail("status %d, open ACKNOWLEDGE deadline: %v", c.Status, has(model.DeadlineAcknowledge, ""))
	}
	draft := c.Status == model.StatusPlanning && c.PlanState == model.PlanDraft
	submitted := c.Status == model.StatusPlanning && c.PlanState == model.PlanSubmitted
	// A draft runs against D6, or against PLAN_RESUBMIT once returned.
	if draft && !c.Emergency && !has(model.DeadlinePlanDraft, cycle) && !has(model.DeadlinePlanResubmit, cycle) {
		fail("plan draft of %s without an open D6 or PLAN_RESUBMIT", cycle)
	}
	if has(model.DeadlinePlanDraft, cycle) && has(model.DeadlinePlanResubmit, cycle) {
		fail("plan draft of %s with both D6 and PLAN_RESUBMIT open", cycle)
	}
	if submitted && !c.Emergency && !has(model.DeadlinePlanApproval, cycle) {
		fail("plan of %s submitted without an open D7", cycle)
	}
	assessed := c.Status >= model.StatusSpecificAssessment && !closed
	// Measures of the cycle before a reopening do not count for the cycle
	// after it.
	measured := !c.EmergencyMeasured.Before(c.InformationTime())
	if assessed && c.Emergency && !measured && !has(model.DeadlineEmergencyMeasures, "") {
		fail("emergency without measures and without an open D3")
	}
	separated := !c.SeparationStart.IsZero() && c.SeparationEnd.IsZero()
	if separated && !closed && !has(model.DeadlineSeparationReview, "") {
		fail("child separated without an open D4")
	}
	for k, d := range open {
		// Art. 28 waives the plan's clocks in an emergency, however it
		// became one.
		if c.Emergency && (k.kind == model.DeadlinePlanDraft || k.kind == model.DeadlinePlanApproval || k.kind == model.DeadlinePlanResubmit) {
			fail("emergency with an open %s %s", k.kind, k.ref)
		}
		switch k.kind {
		case model.DeadlinePlanDraft:
			if !draft || k.ref != cycle {
				fail("open D6 %s at status %d plan %s %s", k.ref, c.Status, c.PlanState, cycle)
			}
		case model.DeadlinePlanResubmit:
			if !draft || k.ref != cycle {
				fail("open PLAN_RESUBMIT %s at status %d plan %s %s", k.ref, c.Status, c.PlanState, cycle)
			}
		case model.DeadlinePlanApproval:
			if !submitted || k.ref != cycle {
				fail("open D7 %s at status %d plan %s %s", k.ref, c.Status, c.PlanState, cycle)
			}
		case model.DeadlineEmergencyMeasures:
			if !c.Emergency || measured {
				fail("open D3, emergency %v, measured %v", c.Emergency, c.EmergencyMeasured)
			}
		case model.DeadlineSeparationReview:
			if !separated {
				fail("open D4 without a separation")
			}
		case model.DeadlineServiceEnd:
			// While a new plan is drafted or awaits approval, the clocks
			// of the plan in force keep running; once a plan is approved,
			// they watch exactly its services that are not done.
			if c.Status != model.StatusImplementation && c.Status != model.StatusReview {
				break
			}
			i := slices.IndexFunc(c.Services, func(s model.PlanService) bool { return fmt.Sprintf("service-%d", s.ID) == k.ref })
			if i < 0 {
				fail("open D8 %s for a service the plan does not have (services %+v)", k.ref, c.Services)
			} else if st := c.Services[i].State; st != "PLANNED" && st != "IN_PROGRESS" {
				fail("open D8 %s for a service %s", k.ref, st)
			}
		case model.DeadlineTransferAccept:
			i := slices.IndexFunc(c.Transfers, func(tr model.Transfer) bool { return fmt.Sprintf("transfer-%d", tr.ID) == k.ref })
			if i < 0 || c.Transfers[i].State != model.TransferProposed || d.Unit != c.Transfers[i].To {
				fail("open TRANSFER_ACCEPT %s (unit %s) without its proposed transfer", k.ref, d.Unit)
			}
		}
		if closed && !isPolice(d.Unit) {
			fail("closed with open %s %s of %s", k.kind, k.ref, d.Unit)
		}
	}
	if c.Status == model.StatusImplementation || c.Status == model.StatusReview {
		for _, s := range c.Services {
			if s.State == "PLANNED" && !has(model.DeadlineServiceEnd, fmt.Sprintf("service-%d", s.ID)) {
				fail("service %d planned without an open D8", s.ID)
			}
		}
	}
	for _, tr := range c.Transfers {
		if tr.State == model.TransferProposed && !has(model.DeadlineTransferAccept, fmt.Sprintf("transfer-%d", tr.ID)) {
			fail("transfer %d to %s proposed without an open TRANSFER_ACCEPT (case status %d)", tr.ID, tr.To, c.Status)
		}
	}

	// The police track.
	// Each police clock runs while the referral is in the states listed:
	// D13 from the referral (when the police received it) to forwarding.
	policeKinds := map[model.DeadlineKind][]string{
		model.DeadlinePoliceAcknowledge:   {model.PoliceReferred},
		model.DeadlinePoliceForward:       {model.PoliceReferred, model.PoliceAcknowledged},
		model.DeadlineProsecutionDecision: {model.PoliceForwarded},
	}
	seen := map[string]bool{}
	for _, r := range c.PoliceReferrals {
		if seen[r.PoliceUnit] {
			fail("referred twice to %s", r.PoliceUnit)
		}
		seen[r.PoliceUnit] = true
		// (Measures may precede the report, and the police may forward
		// before they acknowledge in the system, but not before they
		// were referred the case.)
		if !r.ForwardTime.IsZero() && r.ForwardTime.Before(r.ReferTime) {
			fail("referral to %s forwarded to the investigators at %s, before it was referred at %s",
				r.PoliceUnit, r.ForwardTime.In(vntime.Location()), r.ReferTime.In(vntime.Location()))
		}
		for kind, states := range policeKinds {
			if slices.Contains(states, r.State) != has(kind, r.PoliceUnit) {
				fail("referral to %s is %s; open %s: %v", r.PoliceUnit, r.State, kind, has(kind, r.PoliceUnit))
			}
		}
	}
	for k := range open {
		if slices.Contains([]model.DeadlineKind{model.DeadlinePoliceAcknowledge, model.DeadlinePoliceForward, model.DeadlineProsecutionDecision}, k.kind) && !seen[k.ref] {
			fail("open %s for %s, which the case was not referred to", k.kind, k.ref)
		}
	}
	return errs
}

// runScheduler runs eng's scheduler (Run, polling every millisecond) until
// the stop it returns is called.
func runScheduler(t *testing.T, ctx context.Context, eng *process.Engine) (stop func()) {
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Go(func() {
		if err := eng.Run(ctx, time.Millisecond); err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	return func() {
		cancel()
		wg.Wait()
	}
}
