package process

import (
	"slices"

	"github.com/childcase/childcase/internal/domain/access"
	"github.com/childcase/childcase/internal/domain/model"
	"github.com/childcase/childcase/internal/domain/vntime"
)

// The steps' Ready and Some (see Gate): what each step needs of the case
// and its caller beyond its stages, read from the case record, its
// dossier and the clock. The engine refuses a step by its Ready before
// the step runs, and StepsAllowed offers a step only when its Ready (and
// Some) let it through, so that a person is offered only the steps they
// can take now.

// all is a Ready of several checks, in order.
func all(checks ...func(s *stepCtx) error) func(s *stepCtx) error {
	return func(s *stepCtx) error {
		for _, check := range checks {
			if err := check(s); err != nil {
				return err
			}
		}
		return nil
	}
}

// responsible is the Ready of a step of the responsible unit.
func responsible(s *stepCtx) error { return s.requireResponsible() }

// requireEmergency refuses emergency measures on a case not assessed as
// an emergency.
func (s *stepCtx) requireEmergency() error {
	if !s.c.Emergency {
		return model.Precondition("NOT_AN_EMERGENCY", "case %s is not assessed as an emergency", s.c.Number)
	}
	return nil
}

// requireNotSeparatedYet refuses a separation of a child separated now.
func (s *stepCtx) requireNotSeparatedYet() error {
	if s.separated() {
		return model.Precondition("ALREADY_SEPARATED", "the child of case %s is already separated; end that separation first", s.c.Number)
	}
	return nil
}

// requireExtensible refuses an extension of a separation that has no
// running D4 to extend (the court is petitioned), whose D4 passed, or
// whose extensions add up to the most they may already: the step would
// refuse any number of days.
func (s *stepCtx) requireExtensible() error {
	d4 := s.c.OpenDeadline(model.DeadlineSeparationReview, "")
	switch {
	case d4 == nil:
		return model.Precondition("SEPARATION_REASSESSED", "the separation of case %s was re-assessed already; it awaits the court", s.c.Number)
	case d4.Breached || overdueAt(d4.Due, s.now):
		// Past the limit whether or not a scheduler pass has marked it
		// so yet: the limit is the law's.
		return model.Precondition("SEPARATION_OVERDUE", "the separation of case %s passed its limit on %s: an extension cannot be decided afterwards", s.c.Number, hanoi(d4.Due))
	case d4.Days-separationDays >= maxSeparationExtension:
		return model.InvalidField("days", "separation.extension_days", "extensions of one separation add at most %d days; %d are added already", maxSeparationExtension, d4.Days-separationDays)
	}
	return nil
}

// requirePetition refuses the court's decision when no petition awaits
// it.
func (s *stepCtx) requirePetition() error {
	d, err := s.open()
	if err != nil {
		return err
	}
	if d.Separation == nil || !d.Separation.Court.Pending() {
		return model.Precondition("NO_COURT_PETITION", "case %s has no court petition awaiting a decision", s.c.Number)
	}
	return nil
}

// openCareFollowUpDeadline is the follow-up of alternative care due, or
// nil.
func (s *stepCtx) openCareFollowUpDeadline() *model.Deadline {
	var open *model.Deadline
	for i := range s.c.Deadlines {
		if d := &s.c.Deadlines[i]; d.Kind == model.DeadlineCareFollowUp && d.Open() {
			open = d
		}
	}
	return open
}

// requireCareFollowUp refuses a follow-up of alternative care on a case
// with none due: the child was never placed.
func (s *stepCtx) requireCareFollowUp() error {
	if s.openCareFollowUpDeadline() == nil {
		return model.Precondition("NOT_IN_ALTERNATIVE_CARE", "case %s has no follow-up of alternative care due", s.c.Number)
	}
	return nil
}

// requireServiceDatesAhead refuses the approval of a plan a service of
// which was expected to end before today.
func (s *stepCtx) requireServiceDatesAhead() error {
	today := vntime.DateOf(s.now)
	for _, sv := range s.c.Services {
		if end, _ := vntime.ParseDate(sv.ExpectedEndDate); end.Before(today) {
			return model.Precondition("SERVICE_DATES_PASSED", "service %d was expected to end on %s, before today; return the plan to update it", sv.ID, sv.ExpectedEndDate)
		}
	}
	return nil
}

// requireNoClosureProposal refuses a review while its closure proposal
// awaits the chair.
func (s *stepCtx) requireNoClosureProposal() error {
	if s.c.ClosureProposed {
		return model.Precondition("CLOSURE_PROPOSED", "a closure proposal awaits the chair's decision")
	}
	return nil
}

// requireNoTransfer refuses a step while a transfer awaits a decision:
// closure, another hand-over, a merge.
func (s *stepCtx) requireNoTransfer() error {
	if s.c.PendingTransfer() != nil {
		return model.Precondition("TRANSFER_PENDING", "a transfer of case %s awaits a decision; it must be accepted or declined first", s.c.Number)
	}
	return nil
}

// requireHandingUnit refuses a hand-over by someone outside the
// responsible unit.
func (s *stepCtx) requireHandingUnit() error {
	if from := access.UnitName(s.c.ResponsibleUnit); !s.actorIn(from) {
		return model.Precondition("NOT_RESPONSIBLE_UNIT", "only the responsible unit (%s) may hand the case over", from)
	}
	return nil
}

// requireDecliner refuses to decline a transfer unless one is pending
// and the caller is its receiving unit, or a level its overdue
// acceptance escalated to.
func (s *stepCtx) requireDecliner() error {
	t := s.c.PendingTransfer()
	if t == nil || (!s.actorIn(t.To) && !s.escalatedTo(model.DeadlineTransferAccept, transferRef(t.ID))) {
		_, err := s.pendingTransferToMe()
		return err
	}
	return nil
}

// requireReceiver refuses to accept a transfer unless one is pending to
// the caller's unit.
func (s *stepCtx) requireReceiver() error {
	_, err := s.pendingTransferToMe()
	return err
}

// requireReopener refuses a reopening by someone outside the unit that
// reopens the case. That is its responsible unit when it is still in
// force; a case of a unit a reform abolished reopens with the unit's one
// successor, or, where it split, with the city, which then reassigns it
// (the step moves it first, as followReform does; this is that move's
// outcome, read without making it).
func (s *stepCtx) requireReopener() error {
	unit, awaiting := s.c.ResponsibleUnit, s.c.AwaitingSuccessor
	if old, ok := s.e.units.Get(unit); ok && !awaiting && !old.InForce(vntime.DateOf(s.now)) {
		succ, whole := s.e.units.Successor(old.Key)
		if whole {
			unit = succ
		} else {
			awaiting = true
		}
	}
	if awaiting && s.actorIn(s.e.cityName()) {
		return nil
	}
	if name := access.UnitName(unit); !s.actorIn(name) {
		return model.Precondition("NOT_RESPONSIBLE_UNIT", "only the responsible unit (%s) may take this step", name)
	}
	return nil
}

// requireMergeableCase refuses a merge into a case that cannot take one.
func (s *stepCtx) requireMergeableCase() error { return requireMergeable("name", s.c) }

// requireD16 refuses a decision on D16 when the referral has none open,
// or (but to resume it) it is overdue.
func (s *stepCtx) requireD16(resuming bool) error {
	r := s.referral
	d := s.c.OpenDeadline(model.DeadlineProsecutionDecision, r.PoliceUnit)
	if d == nil {
		return model.Precondition("WRONG_POLICE_STEP", "the referral to %s has no open D16", r.PoliceUnit)
	}
	// A decision taken after the time ran out cannot undo the miss.
	if !resuming && d.PausedAt.IsZero() && (d.Breached || overdueAt(d.Due, s.now)) {
		return model.Precondition("DEADLINE_OVERDUE", "D16 of %s is already overdue", r.PoliceUnit)
	}
	return nil
}

// d16 is the open D16 of the caller's referral (requireD16 found it).
func (s *stepCtx) d16() *model.Deadline {
	return s.c.OpenDeadline(model.DeadlineProsecutionDecision, s.referral.PoliceUnit)
}

// requireExtendable refuses an extension of a suspended D16, or of one
// extended as often as the law allows.
func (s *stepCtx) requireExtendable() error {
	if err := s.requireD16(false); err != nil {
		return err
	}
	d, r := s.d16(), s.referral
	if !d.PausedAt.IsZero() {
		return model.Precondition("DEADLINE_SUSPENDED", "D16 of %s is suspended; resume it first", r.PoliceUnit)
	}
	n := extensions(r)
	if n >= len(prosecutionExtensionMonths) {
		return model.Precondition("EXTENSIONS_EXHAUSTED", "D16 of %s was already extended %d times, which is all Art. 147(3) allows", r.PoliceUnit, n)
	}
	return nil
}

// extensions counts the extensions of D16 the referral records.
func extensions(r *model.PoliceReferral) int {
	n := 0
	for _, x := range r.Decisions {
		if x.Kind == model.PoliceExtension {
			n++
		}
	}
	return n
}

// requireSuspendable refuses a suspension of D16 suspended already.
func (s *stepCtx) requireSuspendable() error {
	if err := s.requireD16(false); err != nil {
		return err
	}
	if !s.d16().PausedAt.IsZero() {
		return model.Precondition("ALREADY_PAUSED", "D16 of %s is already suspended", s.referral.PoliceUnit)
	}
	return nil
}

// requireSuspended refuses to resume a D16 not suspended.
func (s *stepCtx) requireSuspended() error {
	if err := s.requireD16(true); err != nil {
		return err
	}
	if s.d16().PausedAt.IsZero() {
		return model.Precondition("NOT_PAUSED", "D16 of %s is not suspended", s.referral.PoliceUnit)
	}
	return nil
}

// somePausable reports whether the caller's unit has a deadline on the
// case that :pauseDeadline would pause now.
func somePausable(s *stepCtx) bool {
	return slices.ContainsFunc(s.c.Deadlines, func(d model.Deadline) bool {
		return d.Open() && s.actorIn(d.Unit) && pauseRefusal(d, s.now) == nil
	})
}

// somePaused reports whether the caller's unit has a paused deadline on
// the case that :resumeDeadline would resume.
func somePaused(s *stepCtx) bool {
	return slices.ContainsFunc(s.c.Deadlines, func(d model.Deadline) bool {
		return d.Open() && s.actorIn(d.Unit) && !d.PausedAt.IsZero()
	})
}
