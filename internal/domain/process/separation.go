package process

import (
	"context"
	"fmt"
	"time"

	"github.com/childcase/childcase/internal/domain/access"
	"github.com/childcase/childcase/internal/domain/model"
	"github.com/childcase/childcase/internal/domain/vntime"
)

// A temporary separation (Decree 56 Art. 32, Mẫu 07) lasts at most 15
// days unless the chair extends it with a reason; at the day-15
// re-assessment the child returns home, is placed in alternative care, or
// the commune petitions the court, and then the separation stays in force
// until the court decides (Circular 14/2020 Art. 14(3)(b)). Alternative
// care is followed up after 1 month, after 3 months, then every 6 months
// (Art. 30): a deadline like the others, each follow-up recorded meets one
// and opens the next.

// maxSeparationExtension bounds the days all extensions of one separation
// add to its 15: the law names no figure, and a separation longer than
// twice its limit without a court is not temporary.
const maxSeparationExtension = separationDays

// separated reports whether the child is separated now.
func (s *stepCtx) separated() bool {
	return !s.c.SeparationStart.IsZero() && s.c.SeparationEnd.IsZero()
}

// requireSeparationStep refuses a step on the separation unless the
// actor's unit is responsible and the child separated (the step's gate
// has refused a closed case already).
func (s *stepCtx) requireSeparationStep() error {
	if err := s.requireResponsible(); err != nil {
		return err
	}
	if !s.separated() {
		return model.Precondition("NOT_SEPARATED", "the child of case %s is not separated", s.c.Number)
	}
	return nil
}

// requireNoPetition refuses a step while a court petition awaits the
// court's decision; what must happen first.
func (s *stepCtx) requireNoPetition(first string) error {
	d, err := s.open()
	if err != nil {
		return err
	}
	if d.Separation != nil && d.Separation.Court.Pending() {
		return model.Precondition("COURT_PETITION_PENDING", "the separation of case %s stays in force until the court decides on the petition: %s", s.c.Number, first)
	}
	return nil
}

// requireNotSeparated refuses closure while a separation, or the court
// petition that keeps it in force, is open.
func (s *stepCtx) requireNotSeparated() error {
	if !s.separated() {
		return nil
	}
	if err := s.requireNoPetition("record its decision first"); err != nil {
		return err
	}
	return model.Precondition("CHILD_SEPARATED", "the child of case %s is still separated; end the separation first", s.c.Number)
}

// endSeparation ends the separation now with its outcome: the
// re-assessment meets D4 if it still runs, and a placement in alternative
// care starts its follow-ups. A child placed again (after a new
// separation) is followed up from the new placement: the follow-up the
// earlier placement still had open no longer applies.
func (s *stepCtx) endSeparation(outcome string) {
	s.c.SeparationEnd = s.now
	s.meet(model.DeadlineSeparationReview, "")
	if outcome == SeparationAlternativeCare {
		for _, d := range s.c.Deadlines {
			if d.Kind == model.DeadlineCareFollowUp && d.Open() {
				s.cancel(d.Kind, d.Ref, "a new placement in alternative care; its follow-ups count from it")
			}
		}
		s.openCareFollowUp(1, s.now)
	}
}

// ExtendSeparation extends the separation's 15 days by days, with the
// chair's decision and its reason (Mẫu 07), before they run out: D4 moves.
func (e *Engine) ExtendSeparation(ctx context.Context, p access.Principal, req Request, days int, reason, decisionNumber string) (model.Case, error) {
	if days < 1 || days > maxSeparationExtension {
		return model.Case{}, model.InvalidField("days", "separation.extension_days", "days must be between 1 and %d", maxSeparationExtension)
	}
	reason, err := required("reason", reason, 2000)
	if err != nil {
		return model.Case{}, err
	}
	decision, err := required("decision_number", decisionNumber, 100)
	if err != nil {
		return model.Case{}, err
	}
	return e.do(ctx, p, req, step{name: "extendSeparation", apply: func(s *stepCtx) error {
		d4 := s.c.OpenDeadline(model.DeadlineSeparationReview, "") // open and not overdue (its gate's Ready)
		total := d4.Days - separationDays + days
		if total > maxSeparationExtension {
			return model.InvalidField("days", "separation.extension_days", "extensions of one separation add at most %d days; %d are added already", maxSeparationExtension, d4.Days-separationDays)
		}
		d4.Days = separationDays + total
		d4.Due, d4.CalendarVersion = s.e.due(d4.Start, separationLimit(d4.Days)), s.e.calendar.Version()
		s.event("SEPARATION_EXTENDED", fmt.Sprintf("by %d days, due %s", days, hanoi(d4.Due)), d4.ID)
		return s.edit(func(d *model.Dossier) {
			if d.Separation == nil {
				d.Separation = &model.Separation{}
			}
			d.Separation.Extensions = append(d.Separation.Extensions, model.SeparationExtension{
				Days: days, Reason: reason, DecisionNumber: decision, By: s.p.UserID, Time: s.now,
			})
		})
	}})
}

// PetitionCourt records the re-assessment's petition to the court
// (Circular 14/2020 Art. 14(3)(b)): D4 is met, and the separation stays in
// force, closure refused, until the court's decision is recorded.
func (e *Engine) PetitionCourt(ctx context.Context, p access.Principal, req Request, court, notes string) (model.Case, error) {
	court, err := required("court", court, 500)
	if err != nil {
		return model.Case{}, err
	}
	notes = text(notes)
	return e.do(ctx, p, req, step{name: "petitionCourt", apply: func(s *stepCtx) error {
		s.meet(model.DeadlineSeparationReview, "")
		s.event("COURT_PETITIONED", "the separation stays in force until the court decides", 0)
		return s.edit(func(d *model.Dossier) {
			if d.Separation == nil {
				d.Separation = &model.Separation{}
			}
			d.Separation.Outcome, d.Separation.Notes = SeparationCourtPetition, notes
			d.Separation.Court = &model.CourtPetition{Court: court, Notes: notes, PetitionTime: s.now, PetitionedBy: s.p.UserID}
		})
	}})
}

// RecordCourtDecision records the court's decision on the petition, which
// ends the separation: the child returns home or is placed in alternative
// care (which starts its follow-ups).
func (e *Engine) RecordCourtDecision(ctx context.Context, p access.Principal, req Request, decisionNumber, decisionDate, outcome string) (model.Case, error) {
	decision, err := required("decision_number", decisionNumber, 100)
	if err != nil {
		return model.Case{}, err
	}
	if outcome != SeparationReturnedHome && outcome != SeparationAlternativeCare {
		return model.Case{}, model.InvalidField("outcome", "court.outcome", "outcome must be RETURNED_HOME or ALTERNATIVE_CARE")
	}
	date, err := vntime.ParseDate(decisionDate)
	if err != nil {
		return model.Case{}, model.InvalidField("decision_date", "date", "decision_date must be a date, YYYY-MM-DD")
	}
	return e.do(ctx, p, req, step{name: "recordCourtDecision", apply: func(s *stepCtx) error {
		d, err := s.open() // a petition awaits the court (its gate's Ready)
		if err != nil {
			return err
		}
		if date.Before(vntime.DateOf(d.Separation.Court.PetitionTime)) || date.After(vntime.DateOf(s.now)) {
			return model.InvalidField("decision_date", "court.decision_date", "decision_date must lie between the petition (%s) and today", vntime.DateOf(d.Separation.Court.PetitionTime))
		}
		s.endSeparation(outcome)
		s.event("COURT_DECISION_RECORDED", outcome, 0)
		return s.edit(func(d *model.Dossier) {
			c := d.Separation.Court
			c.DecisionNumber, c.DecisionDate, c.Outcome, c.RecordTime = decision, date.String(), outcome, s.now
		})
	}})
}

// careFollowUpMonths is when the n-th follow-up of alternative care falls,
// in months after the placement: 1, 3, then every 6 months (9, 15, ...).
func careFollowUpMonths(n int) int {
	switch n {
	case 1:
		return 1
	case 2:
		return 3
	}
	return 3 + 6*(n-2)
}

func careFollowUpRef(n int) string { return fmt.Sprintf("follow-up-%d", n) }

// openCareFollowUp opens the n-th follow-up of a placement in alternative
// care made at placed. It is due by 24:00 of the day that corresponds, so
// many months later, to the placement's day (the month's last day where it
// has none; Civil Code Art. 147), counted on the calendar, or of the next
// working day when that day is a day off (Art. 148): a follow-up is the
// worker's visit, not a limit on what is done to the child.
func (s *stepCtx) openCareFollowUp(n int, placed time.Time) {
	from := vntime.DateOf(placed)
	end := addMonths(from, careFollowUpMonths(n))
	days := int(end.Start().Sub(vntime.DateOf(s.now).Start()) / (24 * time.Hour))
	s.openDeadline(model.DeadlineCareFollowUp, careFollowUpRef(n), access.UnitName(s.c.ResponsibleUnit), s.now, s.e.calendar.EndOfLastDay(end), calendarDays(max(1, days)))
}

// addMonths returns the day months after d, or the last day of that month
// where it has no such day.
func addMonths(d vntime.Date, months int) vntime.Date {
	first := vntime.Date{Year: d.Year, Month: d.Month, Day: 1}
	m := time.Date(first.Year, first.Month+time.Month(months), 1, 0, 0, 0, 0, time.UTC)
	last := time.Date(m.Year(), m.Month()+1, 0, 0, 0, 0, 0, time.UTC).Day()
	return vntime.Date{Year: m.Year(), Month: m.Month(), Day: min(d.Day, last)}
}

// RecordCareFollowUp records a follow-up of the child in alternative care:
// it meets the open follow-up deadline and opens the next, counted from the
// placement. Nothing stops one being recorded before it is due, so its
// notes are bounded as a note's are (step.bounded).
func (e *Engine) RecordCareFollowUp(ctx context.Context, p access.Principal, req Request, notes string) (model.Case, error) {
	notes, err := required("notes", notes, 8000)
	if err != nil {
		return model.Case{}, err
	}
	return e.do(ctx, p, req, step{name: "recordCareFollowUp", bounded: true, apply: func(s *stepCtx) error {
		open := s.openCareFollowUpDeadline() // one is due (its gate's Ready)
		var placed time.Time
		for _, d := range s.c.Deadlines {
			if d.Kind == model.DeadlineCareFollowUp && d.Ref == careFollowUpRef(1) {
				placed = d.Start // the placement opened the first
			}
		}
		ref := open.Ref
		var n int
		if _, err := fmt.Sscanf(ref, "follow-up-%d", &n); err != nil {
			return fmt.Errorf("case %s: follow-up deadline %q: %w", s.c.Number, ref, err)
		}
		s.meet(model.DeadlineCareFollowUp, ref)
		s.event("CARE_FOLLOW_UP_RECORDED", ref, 0)
		s.openCareFollowUp(n+1, placed)
		return s.edit(func(d *model.Dossier) {
			d.CareFollowUps = append(d.CareFollowUps, model.CareFollowUp{Ref: ref, Notes: notes, By: s.p.UserID, Time: s.now})
		})
	}})
}
