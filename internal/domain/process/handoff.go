package process

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/childcase/childcase/internal/domain/access"
	"github.com/childcase/childcase/internal/domain/model"
	"github.com/childcase/childcase/internal/domain/units"
	"github.com/childcase/childcase/internal/domain/vntime"
)

// ProposeTransfer proposes to hand responsibility for the case to another
// unit: commune to commune (the child lives elsewhere), commune to district
// (services the commune cannot provide), district to city. Until the
// receiving unit accepts, the sender stays responsible.
func (e *Engine) ProposeTransfer(ctx context.Context, p access.Principal, req Request, to, reason string) (model.Case, error) {
	target, reason, err := e.handOver(to, reason)
	if err != nil {
		return model.Case{}, err
	}
	return e.do(ctx, p, req, step{name: "proposeTransfer", roles: Handlers, apply: func(s *stepCtx) error {
		if err := s.requireOpen(); err != nil {
			return err
		}
		from := access.UnitName(s.c.ResponsibleUnit)
		if !s.actorIn(from) {
			return model.Precondition("NOT_RESPONSIBLE_UNIT", "only the responsible unit (%s) may hand the case over", from)
		}
		if err := e.checkTransferLevel(s.c.ResponsibleUnit, target); err != nil {
			return err
		}
		return s.offer(to, reason, "TRANSFER_PROPOSED")
	}})
}

// handOver checks what a hand-over request names: the unit the case is
// to go to (to_unit, a unit in force today) and the reason.
func (e *Engine) handOver(to, reason string) (units.Unit, string, error) {
	reason, err := required("reason", reason, 2000)
	if err != nil {
		return units.Unit{}, "", err
	}
	toKey, ok := unitKey(to)
	if !ok {
		return units.Unit{}, "", model.InvalidField("to_unit", "unit.name", "%q is not a unit name like units/{code}@{valid_from}", to)
	}
	target, ok := e.units.Get(toKey)
	if !ok || !target.InForce(vntime.DateOf(e.clock.Now())) {
		return units.Unit{}, "", model.InvalidField("to_unit", "unit.in_force", "%s is not a unit in force today", to)
	}
	return target, reason, nil
}

// offer proposes to hand the case from its responsible unit to another,
// which has the policy's time to accept (AcceptTransfer) or decline.
func (s *stepCtx) offer(to, reason, kind string) error {
	from := access.UnitName(s.c.ResponsibleUnit)
	if to == from {
		return model.InvalidField("to_unit", "transfer.other_unit", "the case is already with %s", to)
	}
	if s.c.PendingTransfer() != nil {
		return model.Precondition("TRANSFER_PENDING", "a transfer of case %s awaits a decision", s.c.Number)
	}
	id := len(s.c.Transfers) + 1
	s.c.Transfers = append(s.c.Transfers, model.Transfer{
		ID: id, From: from, To: to, Reason: reason, ProposedBy: s.p.UserID, ProposeTime: s.now, State: model.TransferProposed,
	})
	s.startDeadline(model.DeadlineTransferAccept, transferRef(id), to, s.now, fromPolicy(s.e.policy.TransferAccept), true)
	s.event(kind, fmt.Sprintf("from %s to %s", from, to), 0, from, to)
	return nil
}

// ReassignCase: a level above the commune (the district while it exists,
// the city) sends a case of a unit below it, or of a unit no longer in
// force, to a commune in force, which accepts or declines it as a
// transfer. This is how a case handed up, or left behind by a reform,
// comes back down to a commune that can act on it.
func (e *Engine) ReassignCase(ctx context.Context, p access.Principal, req Request, to, reason string) (model.Case, error) {
	target, reason, err := e.handOver(to, reason)
	if err != nil {
		return model.Case{}, err
	}
	today := vntime.DateOf(e.clock.Now())
	if target.Level != units.LevelCommune {
		return model.Case{}, model.InvalidField("to_unit", "reassign.commune", "a case is reassigned to a commune; %s is a %s", to, target.Level)
	}
	return e.do(ctx, p, req, step{name: "reassign", roles: Reassigners, apply: func(s *stepCtx) error {
		if err := s.requireOpen(); err != nil {
			return err
		}
		if err := e.checkAbove(s.p, s.c.ResponsibleUnit, target, today); err != nil {
			return err
		}
		return s.offer(to, reason, "REASSIGNMENT_PROPOSED")
	}})
}

// checkAbove checks that p's unit, in force today, stands above the unit
// holding a case and the commune it is reassigned to: the city above
// every unit, a district above itself and its own communes.
func (e *Engine) checkAbove(p access.Principal, held units.Key, target units.Unit, today vntime.Date) error {
	k, ok := unitKey(p.Unit)
	caller, found := e.units.Get(k)
	if !ok || !found || !caller.InForce(today) {
		return model.Precondition("UNIT_NOT_IN_FORCE", "%s is not in force today", p.Unit)
	}
	if caller.Level == units.LevelCity {
		return nil
	}
	if src, _ := e.units.Get(held); held != caller.Key && src.Parent != caller.Key {
		return model.Precondition("NOT_ABOVE_UNIT", "%s is not a unit of %s", access.UnitName(held), p.Unit)
	}
	if target.Parent != caller.Key {
		return model.InvalidField("to_unit", "reassign.own_commune", "a district reassigns to one of its own communes; %s is not one of %s", access.UnitName(target.Key), p.Unit)
	}
	return nil
}

// AssignOfficer: the chair of the responsible unit names the officer
// responsible for the case, an active user who may take its workers'
// steps for that unit (a commune worker of the commune; for a case the
// city holds, a city officer or a supervisor of the social work centre).
func (e *Engine) AssignOfficer(ctx context.Context, p access.Principal, req Request, officer string) (model.Case, error) {
	id, ok := strings.CutPrefix(officer, "users/")
	if !ok || id == "" {
		return model.Case{}, model.InvalidField("officer", "user.name", "%q is not a user name like users/{user}", officer)
	}
	return e.do(ctx, p, req, step{name: "assign", roles: CommuneChairs, apply: func(s *stepCtx) error {
		if err := s.requireOpen(); err != nil {
			return err
		}
		if err := s.requireResponsible(); err != nil {
			return err
		}
		u, err := s.tx.User(id)
		if err != nil {
			return model.MissingReference(err, "officer", "user %s does not exist", officer)
		}
		if u.Disabled() {
			return model.InvalidField("officer", "user.active", "user %s is disabled", officer)
		}
		unit := access.UnitName(s.c.ResponsibleUnit)
		if as := (access.Principal{UserID: u.ID, Role: u.Role, Unit: u.Unit}); !as.Has(CommuneWorkers) || !e.access.ActsFor(as, unit) {
			return model.InvalidField("officer", "officer.of_unit", "user %s is not a worker of %s", officer, unit)
		}
		s.c.ResponsibleOfficer = u.ID
		s.event("OFFICER_ASSIGNED", officer, 0, unit)
		return nil
	}})
}

// checkTransferLevel allows commune to commune, commune to its district or
// the city, district to the city.
func (e *Engine) checkTransferLevel(from units.Key, to units.Unit) error {
	src, ok := e.units.Get(from)
	if !ok {
		return fmt.Errorf("responsible unit %s is not in the reference data", from)
	}
	switch {
	case src.Level == units.LevelCommune && to.Level == units.LevelCommune,
		src.Level == units.LevelCommune && to.Level == units.LevelDistrict && src.Parent == to.Key,
		src.Level != units.LevelCity && to.Level == units.LevelCity:
		return nil
	}
	return model.InvalidField("to_unit", "transfer.level", "a case goes from a commune to another commune, its district or the city, or from a district to the city")
}

func transferRef(id int) string { return fmt.Sprintf("transfer-%d", id) }

// AcceptTransfer: the receiving unit accepts and becomes responsible.
func (e *Engine) AcceptTransfer(ctx context.Context, p access.Principal, req Request) (model.Case, error) {
	return e.do(ctx, p, req, step{name: "acceptTransfer", roles: Handlers, apply: func(s *stepCtx) error {
		t, err := s.pendingTransferToMe()
		if err != nil {
			return err
		}
		t.State, t.DecidedBy, t.DecideTime = model.TransferAccepted, s.p.UserID, s.now
		s.meet(model.DeadlineTransferAccept, transferRef(t.ID))
		k, _ := unitKey(t.To)
		s.c.ResponsibleUnit = k
		s.c.ResponsibleOfficer = s.p.UserID
		s.c.AwaitingSuccessor = false // a commune in force holds it now
		// Open deadlines of the case's steps now fall to the new unit.
		for i := range s.c.Deadlines {
			if d := &s.c.Deadlines[i]; d.Open() && d.Unit == t.From {
				d.Unit = t.To
			}
		}
		if !containsKey(s.c.Handlers, k) {
			s.c.Handlers = append(s.c.Handlers, k)
		}
		s.event("TRANSFER_ACCEPTED", fmt.Sprintf("%s is now responsible", t.To), 0, t.From, t.To)
		return nil
	}})
}

// DeclineTransfer: the receiving unit declines with a reason; the sender
// stays responsible.
func (e *Engine) DeclineTransfer(ctx context.Context, p access.Principal, req Request, reason string) (model.Case, error) {
	reason, err := required("reason", reason, 2000)
	if err != nil {
		return model.Case{}, err
	}
	return e.do(ctx, p, req, step{name: "declineTransfer", roles: Handlers, apply: func(s *stepCtx) error {
		t, err := s.pendingTransferToMe()
		if err != nil {
			return err
		}
		t.State, t.DecidedBy, t.DecideTime, t.DeclineNote = model.TransferDeclined, s.p.UserID, s.now, reason
		s.meet(model.DeadlineTransferAccept, transferRef(t.ID))
		s.event("TRANSFER_DECLINED", fmt.Sprintf("%s declined", t.To), 0, t.From, t.To)
		return nil
	}})
}

func (s *stepCtx) pendingTransferToMe() (*model.Transfer, error) {
	if err := s.requireOpen(); err != nil {
		return nil, err
	}
	t := s.c.PendingTransfer()
	if t == nil {
		return nil, model.Precondition("NO_PENDING_TRANSFER", "case %s has no transfer awaiting a decision", s.c.Number)
	}
	if !s.actorIn(t.To) {
		return nil, model.Precondition("NOT_RECEIVING_UNIT", "only the receiving unit (%s) decides on the transfer", t.To)
	}
	return t, nil
}

func containsKey(ks []units.Key, k units.Key) bool {
	for _, x := range ks {
		if x == k {
			return true
		}
	}
	return false
}

// ReferToPolice refers the case to a police unit with the suspected
// offence; the police unit has the policy's time to acknowledge. The
// social case keeps going.
func (e *Engine) ReferToPolice(ctx context.Context, p access.Principal, req Request, policeUnit, offence string) (model.Case, error) {
	offence, err := required("suspected_offence", offence, 500)
	if err != nil {
		return model.Case{}, err
	}
	policeID, ok := strings.CutPrefix(policeUnit, "policeUnits/")
	if !ok || policeID == "" {
		return model.Case{}, model.InvalidField("police_unit", "police_unit.name", "%q is not a police unit name like policeUnits/{id}", policeUnit)
	}
	return e.do(ctx, p, req, step{name: "referToPolice", roles: access.Referrers, apply: func(s *stepCtx) error {
		if err := s.requireOpen(); err != nil {
			return err
		}
		if _, err := s.tx.PoliceUnit(policeID); err != nil {
			return model.MissingReference(err, "police_unit", "police unit %s does not exist", policeUnit)
		}
		if s.c.ReferredTo(policeUnit) {
			return model.Precondition("ALREADY_REFERRED", "case %s is already referred to %s", s.c.Number, policeUnit)
		}
		s.c.PoliceReferrals = append(s.c.PoliceReferrals, model.PoliceReferral{
			PoliceUnit: policeUnit, SuspectedOffence: offence, ReferTime: s.now, ReferredBy: s.p.UserID, State: model.PoliceReferred,
		})
		s.startDeadline(model.DeadlinePoliceAcknowledge, policeUnit, policeUnit, s.now, fromPolicy(e.policy.PoliceAcknowledge), false)
		s.event("POLICE_REFERRAL", policeUnit, 0, access.UnitName(s.c.ResponsibleUnit), policeUnit)
		return nil
	}})
}

// referral returns the caller's police unit's referral.
func (s *stepCtx) referral(state string) (*model.PoliceReferral, error) {
	for i := range s.c.PoliceReferrals {
		r := &s.c.PoliceReferrals[i]
		if r.PoliceUnit != s.p.Unit {
			continue
		}
		if r.State != state {
			return nil, model.Precondition("WRONG_POLICE_STEP", "the referral to %s is %s", r.PoliceUnit, strings.ToLower(r.State))
		}
		return r, nil
	}
	return nil, fmt.Errorf("referral: %w", model.ErrNotFound)
}

// AcknowledgePoliceReferral: the police unit acknowledges the referral
// with its own reference number. The crime report must reach the
// investigators within 24 hours (48 in a remote commune).
func (e *Engine) AcknowledgePoliceReferral(ctx context.Context, p access.Principal, req Request, reference string) (model.Case, error) {
	reference, err := required("reference_number", reference, 100)
	if err != nil {
		return model.Case{}, err
	}
	return e.do(ctx, p, req, step{name: "acknowledgePoliceReferral", police: true, roles: PoliceLiaisons, apply: func(s *stepCtx) error {
		r, err := s.referral(model.PoliceReferred)
		if err != nil {
			return err
		}
		r.State, r.ReferenceNumber, r.AcknowledgeTime = model.PoliceAcknowledged, reference, s.now
		s.meet(model.DeadlinePoliceAcknowledge, r.PoliceUnit)
		s.startDeadline(model.DeadlinePoliceForward, r.PoliceUnit, r.PoliceUnit, s.now, e.forwardLimit(s.c), false)
		s.event("POLICE_ACKNOWLEDGED", r.PoliceUnit, 0, access.UnitName(s.c.ResponsibleUnit), r.PoliceUnit)
		return nil
	}})
}

// forwardLimit is the time the police have to send a crime report on to
// the investigators: 24 hours, 48 in a remote commune.
func (e *Engine) forwardLimit(c *model.Case) clockSpec {
	if e.policy.Remote(c.IncidentUnit.Code) {
		return hours(remoteForwardHours)
	}
	return hours(policeForwardHours)
}

// RecordPoliceForwarding: the crime report went to the investigation
// agency, which has 20 days to decide.
func (e *Engine) RecordPoliceForwarding(ctx context.Context, p access.Principal, req Request, investigators string, at time.Time) (model.Case, error) {
	investigators, err := required("investigation_agency", investigators, 300)
	if err != nil {
		return model.Case{}, err
	}
	return e.do(ctx, p, req, step{name: "recordPoliceForwarding", police: true, roles: PoliceLiaisons, apply: func(s *stepCtx) error {
		r, err := s.referral(model.PoliceAcknowledged)
		if err != nil {
			return err
		}
		if at.IsZero() {
			at = s.now
		}
		if at.After(s.now.Add(5 * time.Minute)) {
			return model.InvalidField("forward_time", "time.not_future", "forward_time lies in the future")
		}
		if at.Before(r.AcknowledgeTime) {
			return model.InvalidField("forward_time", "time.after_acknowledgement", "forward_time lies before the police acknowledged the referral (%s)", hanoi(r.AcknowledgeTime))
		}
		r.State, r.ForwardTime, r.Investigators = model.PoliceForwarded, at.UTC(), investigators
		saved := s.now
		s.now = at.UTC()
		s.meet(model.DeadlinePoliceForward, r.PoliceUnit)
		s.now = saved
		s.startDeadline(model.DeadlineProsecutionDecision, r.PoliceUnit, r.PoliceUnit, at, calendarDays(prosecutionDays), true)
		s.event("POLICE_FORWARDED", r.PoliceUnit, 0, access.UnitName(s.c.ResponsibleUnit), r.PoliceUnit)
		return nil
	}})
}

// Police outcomes.
const (
	PoliceProsecuted    = "PROSECUTED"
	PoliceNotProsecuted = "NOT_PROSECUTED"
	PoliceSuspended     = "SUSPENDED"
)

// RecordPoliceOutcome records the investigators' decision.
func (e *Engine) RecordPoliceOutcome(ctx context.Context, p access.Principal, req Request, outcome string) (model.Case, error) {
	if outcome != PoliceProsecuted && outcome != PoliceNotProsecuted && outcome != PoliceSuspended {
		return model.Case{}, model.InvalidField("outcome", "police.outcome", "outcome must be PROSECUTED, NOT_PROSECUTED or SUSPENDED")
	}
	return e.do(ctx, p, req, step{name: "recordPoliceOutcome", police: true, roles: PoliceLiaisons, apply: func(s *stepCtx) error {
		r, err := s.referral(model.PoliceForwarded)
		if err != nil {
			return err
		}
		r.State, r.Outcome, r.OutcomeTime = model.PoliceDecided, outcome, s.now
		s.meet(model.DeadlineProsecutionDecision, r.PoliceUnit)
		s.event("POLICE_OUTCOME", outcome, 0, access.UnitName(s.c.ResponsibleUnit), r.PoliceUnit)
		return nil
	}})
}

// PauseDeadline pauses a deadline with a reason (the child cannot be
// reached, ...). Emergency clocks cannot be paused.
func (e *Engine) PauseDeadline(ctx context.Context, p access.Principal, req Request, deadlineID int, reason string) (model.Case, error) {
	reason, err := required("reason", reason, 1000)
	if err != nil {
		return model.Case{}, err
	}
	return e.do(ctx, p, req, step{name: "pauseDeadline", roles: Handlers, apply: func(s *stepCtx) error {
		d, err := s.myDeadline(deadlineID)
		if err != nil {
			return err
		}
		if !d.Pausable {
			return model.Precondition("NOT_PAUSABLE", "%s cannot be paused", d.Kind)
		}
		if !d.PausedAt.IsZero() {
			return model.Precondition("ALREADY_PAUSED", "deadline %d is already paused", d.ID)
		}
		if d.Breached || !s.now.Before(d.Due) {
			// A pause stops a clock that runs; it cannot undo a miss.
			return model.Precondition("DEADLINE_OVERDUE", "deadline %d is already overdue; it cannot be paused", d.ID)
		}
		d.PausedAt, d.PauseReason = s.now, reason
		s.event("DEADLINE_PAUSED", string(d.Kind), d.ID)
		return s.note("DEADLINE_PAUSED", reason)
	}})
}

// ResumeDeadline resumes a paused deadline; its due time moves by the time
// it was paused.
func (e *Engine) ResumeDeadline(ctx context.Context, p access.Principal, req Request, deadlineID int) (model.Case, error) {
	return e.do(ctx, p, req, step{name: "resumeDeadline", roles: Handlers, apply: func(s *stepCtx) error {
		d, err := s.myDeadline(deadlineID)
		if err != nil {
			return err
		}
		if d.PausedAt.IsZero() {
			return model.Precondition("NOT_PAUSED", "deadline %d is not paused", d.ID)
		}
		paused := s.now.Sub(d.PausedAt)
		d.Paused += paused
		d.Due = d.Due.Add(paused)
		d.Start = d.Start.Add(paused) // warnings keep their fractions of the limit
		d.PausedAt, d.PauseReason = time.Time{}, ""
		s.event("DEADLINE_RESUMED", fmt.Sprintf("%s due %s", d.Kind, hanoi(d.Due)), d.ID)
		return nil
	}})
}

// myDeadline returns an open deadline of the caller's unit.
func (s *stepCtx) myDeadline(id int) (*model.Deadline, error) {
	d := s.c.Deadline(id)
	if d == nil {
		return nil, model.InvalidField("deadline_id", "reference.exists", "case %s has no deadline %d", s.c.Number, id)
	}
	if !d.Open() {
		return nil, model.Precondition("DEADLINE_CLOSED", "deadline %d is %s", id, strings.ToLower(string(d.State)))
	}
	if !s.actorIn(d.Unit) {
		return nil, model.Precondition("NOT_RESPONSIBLE_UNIT", "only %s may pause or resume this deadline", d.Unit)
	}
	return d, nil
}
