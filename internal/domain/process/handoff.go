package process

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/childcase/childcase/internal/domain/access"
	"github.com/childcase/childcase/internal/domain/audit"
	"github.com/childcase/childcase/internal/domain/auditlog"
	"github.com/childcase/childcase/internal/domain/datastore"
	"github.com/childcase/childcase/internal/domain/intake"
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
	return e.do(ctx, p, req, step{name: "proposeTransfer", bounded: true, apply: func(s *stepCtx) error {
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
		return units.Unit{}, "", model.InvalidField("to_unit", "unit.name", "is not a unit name like units/{code}@{valid_from}")
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
	s.startDeadline(model.DeadlineTransferAccept, transferRef(id), to, s.now, fromPolicy(s.e.policy.TransferAccept))
	s.event(kind, fmt.Sprintf("from %s to %s", from, to), 0, from, to)
	s.letIn(to)
	return nil
}

// ReassignCase: a level above the commune (the district while it exists,
// the city) sends a case of a unit below it, or of a unit no longer in
// force, to a commune in force, which accepts or declines it as a
// transfer. This is how a case handed up, or left behind by a reform,
// comes back down to a commune that can act on it.
func (e *Engine) ReassignCase(ctx context.Context, p access.Principal, req Request, to, reason string) (model.Case, error) {
	reason, err := required("reason", reason, 2000)
	if err != nil {
		return model.Case{}, err
	}
	toKey, ok := unitKey(to)
	if !ok {
		return model.Case{}, model.InvalidField("to_unit", "unit.name", "is not a unit name like units/{code}@{valid_from}")
	}
	// A unit that does not exist, is not in force, is not a commune or
	// is not the caller's to reassign to gets one answer: what lies
	// beyond the caller's reach looks like what is not there.
	notTarget := model.InvalidField("to_unit", "reassign.target", "%s is not a commune in force today under %s", to, p.Unit)
	today := vntime.DateOf(e.clock.Now())
	target, found := e.units.Get(toKey)
	if !found || !target.InForce(today) || target.Level != units.LevelCommune {
		return model.Case{}, notTarget
	}
	return e.do(ctx, p, req, step{name: "reassign", apply: func(s *stepCtx) error {
		// Its gate's Ready found the caller above the unit holding the
		// case; the commune it goes to must be below the caller too.
		if err := e.checkBelow(s.p, target, notTarget); err != nil {
			return err
		}
		return s.offer(to, reason, "REASSIGNMENT_PROPOSED")
	}})
}

// requireAbove checks that the caller's unit, in force today, stands
// above the unit holding the case: the city above every unit, a district
// above itself and its own communes.
func (s *stepCtx) requireAbove() error {
	k, ok := unitKey(s.p.Unit)
	caller, found := s.e.units.Get(k)
	if !ok || !found || !caller.InForce(vntime.DateOf(s.now)) {
		return model.Precondition("UNIT_NOT_IN_FORCE", "%s is not in force today", s.p.Unit)
	}
	if caller.Level == units.LevelCity {
		return nil
	}
	held := s.c.ResponsibleUnit
	if src, _ := s.e.units.Get(held); held != caller.Key && src.Parent != caller.Key {
		return model.Precondition("NOT_ABOVE_UNIT", "%s is not a unit of %s", access.UnitName(held), s.p.Unit)
	}
	return nil
}

// checkBelow checks that the commune a case is reassigned to is below
// p's unit (else notTarget): any commune for the city, its own for a
// district (requireAbove found p's unit in force).
func (e *Engine) checkBelow(p access.Principal, target units.Unit, notTarget error) error {
	k, _ := unitKey(p.Unit)
	if caller, _ := e.units.Get(k); caller.Level != units.LevelCity && target.Parent != caller.Key {
		return notTarget
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
		return model.Case{}, model.InvalidField("officer", "user.name", "is not a user name like users/{user}")
	}
	return e.do(ctx, p, req, step{name: "assign", apply: func(s *stepCtx) error {
		unit := access.UnitName(s.c.ResponsibleUnit)
		// A user who does not exist, is disabled or works elsewhere gets
		// one answer: a chair must not learn who exists, or was
		// disabled, outside their unit.
		notOfficer := model.InvalidField("officer", "officer.of_unit", "is not an active worker of %s", unit)
		u, err := s.tx.User(id)
		if errors.Is(err, model.ErrNotFound) {
			return notOfficer
		}
		if err != nil {
			return err
		}
		if !e.takesCasesOf(u, unit) {
			return notOfficer
		}
		s.c.ResponsibleOfficer = u.ID
		s.event("OFFICER_ASSIGNED", officer, 0, unit)
		s.letIn(officer)
		return nil
	}})
}

// takesCasesOf reports whether u may be named the officer responsible
// for a case unit holds: an active user who may take the worker's steps
// (the assessments stand for them all) for that unit.
func (e *Engine) takesCasesOf(u model.User, unit string) bool {
	as := access.Principal{UserID: u.ID, Role: u.Role, Unit: u.Unit}
	return !u.Disabled() && as.May("CaseProcessService/RecordInitialAssessment") && e.access.ActsFor(as, unit)
}

// OfficersPage is a page of ListAssignableOfficers: up to Limit officers
// after the store's cursor After ("" for the start).
type OfficersPage struct {
	After string
	Limit int
}

// ListAssignableOfficers returns a page of the users AssignOfficer would
// accept as the officer responsible for the case now, and a cursor for the
// next page ("" on the last), so that a chair chooses among the people the
// step takes rather than type a user name. Only a role that may name the
// officer asks it, of a case it fully sees (ErrNotFound otherwise, as for
// any step), which the step's gate and preconditions let through now (a
// closed case is CASE_CLOSED, a caller outside the responsible unit
// NOT_RESPONSIBLE_UNIT, as AssignOfficer answers): the list tells no one
// who works where outside their own unit. Every call is audited on the
// case, as a read of it.
func (e *Engine) ListAssignableOfficers(ctx context.Context, p access.Principal, name string, page OfficersPage) ([]model.User, string, error) {
	const method = "CaseProcessService/ListAssignableOfficers"
	if !p.May(method) {
		return nil, "", model.ErrPermissionDenied
	}
	number, err := intake.ParseCaseName(name)
	if err != nil {
		return nil, "", model.InvalidField("name", "case.name", "%v", err)
	}
	if page.Limit <= 0 {
		return nil, "", fmt.Errorf("officers of case %s: page limit %d must be positive", number, page.Limit)
	}
	var out []model.User
	var next string
	// onCase: the case the number stands for today (a merge's survivor),
	// whose trail the read goes on, as a step's does.
	onCase := number
	err = e.store.View(ctx, func(tx datastore.ReadTx) error {
		c, err := e.loadCase(tx, number, true)
		if err != nil {
			return err
		}
		if e.access.View(p, method, c) != access.ViewFull {
			return fmt.Errorf("case %s: %w", number, model.ErrNotFound)
		}
		onCase = c.Number
		// The case as the step would see it, following a reform (do,
		// StepsAllowed), on a copy whose moves go nowhere, and refused as
		// the step would be now, by its gate (a closed case: CASE_CLOSED)
		// and its caller's unit (NOT_RESPONSIBLE_UNIT): no one is
		// accepted then.
		c.Deadlines, c.Transfers, c.Handlers = slices.Clone(c.Deadlines), slices.Clone(c.Transfers), slices.Clone(c.Handlers)
		s := &stepCtx{e: e, p: p, now: e.clock.Now(), c: &c}
		s.followReform()
		gate := stepGates["assign"]
		if _, err := gate.check(p, s.c); err != nil {
			return err
		}
		if err := gate.Ready(s); err != nil {
			return err
		}
		out, next, err = e.officersOf(tx, access.UnitName(c.ResponsibleUnit), page)
		return err
	})
	// Read, absent, or refused as the step is refused (the reason, never
	// the message).
	res := access.CaseResource(onCase)
	ev := p.Event(e.clock.Now(), "case.officers.list", res, res, auditlog.Outcome(err))
	if code, refused := refusalCode(err); refused {
		ev.Outcome, ev.Reason = audit.OutcomeRefused, code
	}
	if rerr := auditlog.New(e.store).Record(ctx, ev); rerr != nil {
		return nil, "", rerr
	}
	if err != nil {
		return nil, "", err
	}
	return out, next, nil
}

// officersOf returns a page of the users who take the cases of unit,
// from the store's index of active users by unit and role: a full page
// of page.Limit (short only on the last), in order of user id as the
// users are stored and as the scan of every user that came before
// listed them, so a page token of that scan goes on from the same user.
// What a page reads grows with the page, not with the service's users.
func (e *Engine) officersOf(tx datastore.ReadTx, unit string, page OfficersPage) ([]model.User, string, error) {
	users, next, err := tx.ListActiveUsersOf(e.officerGroups(unit), page.After, page.Limit)
	if err != nil {
		return nil, "", fmt.Errorf("officers of %s: %w", unit, err)
	}
	// The index holds active users of a unit and role; the rule is the
	// one AssignOfficer applies, asked again so that an entry a damaged
	// index keeps (which check reports) never offers a user the step
	// would refuse.
	out := users[:0]
	for _, u := range users {
		if e.takesCasesOf(u, unit) {
			out = append(out, u)
		}
	}
	return out, next, nil
}

// officerGroups are the units and roles whose active users take the cases
// of unit (takesCasesOf): each role of a user of unit, or of an
// organisation that may act for it (access.Policy.OrgsActingFor), that
// takesCasesOf accepts. The rule decides; this only names the users it is
// asked about.
func (e *Engine) officerGroups(unit string) []datastore.UnitRole {
	var out []datastore.UnitRole
	for _, of := range append([]string{unit}, e.access.OrgsActingFor(unit)...) {
		for _, r := range model.Roles {
			if e.takesCasesOf(model.User{ID: "-", Role: r, Unit: of}, unit) {
				out = append(out, datastore.UnitRole{Unit: of, Role: r})
			}
		}
	}
	return out
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

// letIn names, in the step's audit event, whom the step lets into the
// case (a unit offered it, a police unit referred it, an officer named,
// a level a breach escalated to): the auditor, who reads no case, learns
// from the trail why they touch it next. Names of units, police units and
// users only; a write that lets in more than one names each.
func (s *stepCtx) letIn(who string) {
	if s.auditReason != "" {
		s.auditReason += "; "
	}
	s.auditReason += "to " + who
}

// AcceptTransfer: the receiving unit accepts and becomes responsible.
func (e *Engine) AcceptTransfer(ctx context.Context, p access.Principal, req Request) (model.Case, error) {
	return e.do(ctx, p, req, step{name: "acceptTransfer", apply: func(s *stepCtx) error {
		t := s.c.PendingTransfer() // to the caller's unit (its gate's Ready)
		t.State, t.DecidedBy, t.DecideTime = model.TransferAccepted, s.p.UserID, s.now
		s.meet(model.DeadlineTransferAccept, transferRef(t.ID))
		s.forwardAcknowledgement(t.From, t.To)
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

// forwardAcknowledgement gives the unit to, which accepts a case not yet
// acknowledged, its own time to acknowledge it from now: the hand-over
// forwards the case to it anew, and a clock that may have breached
// before it held the case, its escalation naming the sender, would count
// the sender's delay as its own. The sender's clock closes as it stands:
// missed if overdue (its breach and escalations stay on it), else
// cancelled; its line says the case went from one unit to the other,
// since the city's reassignment moves it too, which the sender never
// proposed. An emergency's time is acknowledge_emergency, not paused.
func (s *stepCtx) forwardAcknowledgement(from, to string) {
	ack := s.c.OpenDeadline(model.DeadlineAcknowledge, "")
	if ack == nil {
		return
	}
	ack.DoneTime = s.now
	if ack.PausedAt.IsZero() && overdueAt(ack.Due, s.now) {
		ack.State = model.DeadlineMissed
		ack.MinutesLate = int64(s.now.Sub(ack.Due) / time.Minute)
		s.event("DEADLINE_MISSED", fmt.Sprintf("%s: the case went from %s to %s %d minutes late, not acknowledged", ack.Kind, from, to, ack.MinutesLate), ack.ID)
	} else {
		ack.State = model.DeadlineCancelled
		s.event("DEADLINE_CANCELLED", fmt.Sprintf("%s: the case went from %s to %s before %s acknowledged it", ack.Kind, from, to, from), ack.ID)
	}
	spec := fromPolicy(s.e.policy.Acknowledge)
	if s.c.Emergency {
		spec = fromPolicy(s.e.policy.AcknowledgeEmergency)
	}
	s.startDeadline(model.DeadlineAcknowledge, "", to, s.now, spec).Pausable = !s.c.Emergency
}

// DeclineTransfer: the receiving unit declines with a reason; the sender
// stays responsible. A transfer the receiving unit left unanswered past
// its TRANSFER_ACCEPT may also be declined, on its behalf, by a level that
// breach escalated to: a pending transfer blocks the case's closure and
// any other hand-over, and only the receiving unit could end it, so a
// commune that never answered would hold the case where nobody can act.
func (e *Engine) DeclineTransfer(ctx context.Context, p access.Principal, req Request, reason string) (model.Case, error) {
	reason, err := required("reason", reason, 2000)
	if err != nil {
		return model.Case{}, err
	}
	return e.do(ctx, p, req, step{name: "declineTransfer", apply: func(s *stepCtx) error {
		t := s.c.PendingTransfer() // its gate's Ready found the caller may decline it
		t.State, t.DecidedBy, t.DecideTime, t.DeclineNote = model.TransferDeclined, s.p.UserID, s.now, reason
		s.meet(model.DeadlineTransferAccept, transferRef(t.ID))
		detail := fmt.Sprintf("%s declined", t.To)
		if !s.actorIn(t.To) {
			detail = fmt.Sprintf("%s declined for %s, which left it unanswered", s.p.Unit, t.To)
		}
		s.event("TRANSFER_DECLINED", detail, 0, t.From, t.To)
		return nil
	}})
}

// escalatedTo reports whether the open deadline of kind and ref is
// overdue and was escalated to a unit the caller acts for.
func (s *stepCtx) escalatedTo(kind model.DeadlineKind, ref string) bool {
	d := s.c.OpenDeadline(kind, ref)
	if d == nil || !d.Breached {
		return false
	}
	for _, esc := range d.Escalations {
		if s.actorIn(esc.To) {
			return true
		}
	}
	return false
}

func (s *stepCtx) pendingTransferToMe() (*model.Transfer, error) {
	t := s.c.PendingTransfer()
	if t == nil {
		return nil, model.Precondition("NO_PENDING_TRANSFER", "case %s has no transfer awaiting a decision", s.c.Number)
	}
	if !s.actorIn(t.To) {
		return nil, model.Precondition("NOT_RECEIVING_UNIT", "only the receiving unit (%s) decides on the transfer (or, once its acceptance is overdue, a level it escalated to may decline it)", t.To)
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
// offence; the police unit has the policy's time to acknowledge, and D13
// runs from now. The social case keeps going.
func (e *Engine) ReferToPolice(ctx context.Context, p access.Principal, req Request, policeUnit, offence string) (model.Case, error) {
	offence, err := required("suspected_offence", offence, 500)
	if err != nil {
		return model.Case{}, err
	}
	policeID, ok := strings.CutPrefix(policeUnit, "policeUnits/")
	if !ok || policeID == "" {
		return model.Case{}, model.InvalidField("police_unit", "police_unit.name", "is not a police unit name like policeUnits/{id}")
	}
	return e.do(ctx, p, req, step{name: "referToPolice", apply: func(s *stepCtx) error {
		pu, err := s.tx.PoliceUnit(policeID)
		if err != nil {
			return model.MissingReference(err, "police_unit", "police unit %s does not exist", policeUnit)
		}
		if err := policeUnitServes(e.units, pu, vntime.DateOf(s.now)); err != nil {
			return err
		}
		if s.c.ReferredTo(policeUnit) {
			return model.Precondition("ALREADY_REFERRED", "case %s is already referred to %s", s.c.Number, policeUnit)
		}
		s.c.PoliceReferrals = append(s.c.PoliceReferrals, model.PoliceReferral{
			PoliceUnit: policeUnit, SuspectedOffence: offence, ReferTime: s.now, ReferredBy: s.p.UserID, State: model.PoliceReferred,
		})
		s.startDeadline(model.DeadlinePoliceAcknowledge, policeUnit, policeUnit, s.now, fromPolicy(e.policy.PoliceAcknowledge))
		// D13 runs from when the police received the crime report
		// (Circular 43/2021 Art. 5: "kể từ khi tiếp nhận"). The referral
		// reaches the unit's queue the moment it is made; the liaison's
		// acknowledgement may come later and must not restart the clock,
		// nor may a receipt time the police record themselves move it.
		s.startDeadline(model.DeadlinePoliceForward, policeUnit, policeUnit, s.now, e.forwardLimit(s.c))
		s.event("POLICE_REFERRAL", policeUnit, 0, access.UnitName(s.c.ResponsibleUnit), policeUnit)
		s.letIn(policeUnit)
		return nil
	}})
}

// policeUnitServes refuses a new referral to a police unit every unit of
// whose coverage a reform ended by day (a ward police of a commune gone,
// a district's police after 2025-06-30). Such a unit serves no place in
// force: a crime report sent there would wait, its 24 hours running, in a
// queue that the police of the commune in force do not watch. What was
// referred to it before runs on (its liaison still acts), so only a new
// referral is refused, saying which commune took over, so the referrer
// picks the police unit in force. The city police cover all of Hanoi.
func policeUnitServes(reg *units.Registry, pu model.PoliceUnit, day vntime.Date) error {
	if pu.IsCityPolice() {
		return nil
	}
	var ended []string
	for _, k := range pu.Covers {
		err := access.CheckUnitInForce(reg, access.UnitName(k), day, "police_unit")
		var fe *model.FieldError
		if !errors.As(err, &fe) {
			return err // in force (nil), or not yet: it serves
		}
		ended = append(ended, fe.Description)
	}
	return model.InvalidField("police_unit", "unit.in_force", "%s covers no unit in force on %s, so it takes no new referral: %s",
		model.PoliceUnitName(pu.ID), day, strings.Join(ended, "; "))
}

// AcknowledgePoliceReferral: the police unit acknowledges the referral
// with its own reference number. D13 (24 hours, 48 in a remote commune, to
// the investigators) already runs from the referral.
func (e *Engine) AcknowledgePoliceReferral(ctx context.Context, p access.Principal, req Request, reference string) (model.Case, error) {
	reference, err := required("reference_number", reference, 100)
	if err != nil {
		return model.Case{}, err
	}
	return e.do(ctx, p, req, step{name: "acknowledgePoliceReferral", apply: func(s *stepCtx) error {
		r := s.referral
		r.State, r.ReferenceNumber, r.AcknowledgeTime = model.PoliceAcknowledged, reference, s.now
		s.meet(model.DeadlinePoliceAcknowledge, r.PoliceUnit)
		s.event("POLICE_ACKNOWLEDGED", r.PoliceUnit, 0, access.UnitName(s.c.ResponsibleUnit), r.PoliceUnit)
		return nil
	}})
}

// forwardLimit is the time the police have to send a crime report on to
// the investigators: 24 hours, 48 in a remote commune, which the policy
// names by versioned unit.
func (e *Engine) forwardLimit(c *model.Case) clockSpec {
	if e.policy.Remote(access.UnitName(c.IncidentUnit)) {
		return hours(remoteForwardHours)
	}
	return hours(policeForwardHours)
}

// RecordPoliceForwarding: the crime report went to the investigation
// agency, which has 20 days to decide. D13 is met or missed by when it
// went (at, now if zero); when it was recorded is kept beside it, and a
// record made later than the policy's late_recording after it is flagged
// as late emergency measures are, for the police unit: the liaison sets
// the time that meets its own unit's clock.
func (e *Engine) RecordPoliceForwarding(ctx context.Context, p access.Principal, req Request, investigators string, at time.Time) (model.Case, error) {
	investigators, err := required("investigation_agency", investigators, 300)
	if err != nil {
		return model.Case{}, err
	}
	return e.do(ctx, p, req, step{name: "recordPoliceForwarding", apply: func(s *stepCtx) error {
		r := s.referral
		if at.IsZero() {
			at = s.askedTime() // it went when the liaison said so
		}
		if at.After(s.now.Add(5 * time.Minute)) {
			return model.InvalidField("forward_time", "time.not_future", "forward_time lies in the future")
		}
		if beforeMinuteOf(at, r.AcknowledgeTime) {
			return model.InvalidField("forward_time", "time.after_acknowledgement", "forward_time lies before the police acknowledged the referral (%s)", hanoi(r.AcknowledgeTime))
		}
		r.State, r.ForwardTime, r.Investigators = model.PoliceForwarded, at.UTC(), investigators
		// The city police answer for the unit's records, as the level
		// above a commune does; the commune's case waits on the track.
		r.ForwardRecordTime = s.now
		r.ForwardLateRecording = s.flagLate(r.PoliceUnit, "forwarded to the investigators", r.ForwardTime,
			s.e.nextLevel(s.tx, r.PoliceUnit, s.now), access.UnitName(s.c.ResponsibleUnit))
		s.meetAt(model.DeadlinePoliceForward, r.PoliceUnit, at.UTC())
		s.startDeadline(model.DeadlineProsecutionDecision, r.PoliceUnit, r.PoliceUnit, at, calendarDays(prosecutionDays))
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
	return e.do(ctx, p, req, step{name: "recordPoliceOutcome", apply: func(s *stepCtx) error {
		r := s.referral
		r.State, r.Outcome, r.OutcomeTime = model.PoliceDecided, outcome, s.now
		s.meet(model.DeadlineProsecutionDecision, r.PoliceUnit)
		s.event("POLICE_OUTCOME", outcome, 0, access.UnitName(s.c.ResponsibleUnit), r.PoliceUnit)
		return nil
	}})
}

// PoliceDecision is a decision under Criminal Procedure Code Art.
// 147(3)-(4) that extends, suspends or resumes D16.
type PoliceDecision struct {
	Number, Reason string
	UntilDate      string // an extension's last day, YYYY-MM-DD
}

// prosecutionExtensionMonths are how far from the start of D16 the first
// extension (the investigation agency's head) and the second (the
// procuracy's) may reach: each adds at most two months (Art. 147(3)).
var prosecutionExtensionMonths = []int{2, 4}

// ExtendPoliceDeadline records an extension of D16 (Art. 147(3)): the
// deadline then ends at 24:00 of UntilDate, which may lie at most two
// months after its start for the first extension and four for the second.
// The time a suspension stopped the clock does not count (resuming moves
// the start as well).
func (e *Engine) ExtendPoliceDeadline(ctx context.Context, p access.Principal, req Request, in PoliceDecision) (model.Case, error) {
	until, err := vntime.ParseDate(in.UntilDate)
	if err != nil {
		return model.Case{}, model.InvalidField("until_date", "date", "until_date must be a date YYYY-MM-DD")
	}
	return e.policeDecision(ctx, p, req, "extendPoliceDeadline", model.PoliceExtension, in, func(s *stepCtx, d *model.Deadline, r *model.PoliceReferral) error {
		n := extensions(r) // fewer than the law allows (its gate's Ready)
		limit := vntime.DateOf(d.Start).AddMonths(prosecutionExtensionMonths[n])
		if until.After(limit) {
			return model.InvalidField("until_date", "police.extension_limit", "extension %d may reach at most %s (%d months from the start)", n+1, limit, prosecutionExtensionMonths[n])
		}
		due := until.AddDays(1).Start()
		if !due.After(d.Due) {
			return model.InvalidField("until_date", "police.extension_later", "until_date must lie after the current due date (%s)", hanoi(d.Due))
		}
		d.Due = due
		s.event("POLICE_DEADLINE_EXTENDED", fmt.Sprintf("%s due %s", d.Kind, hanoi(d.Due)), d.ID, access.UnitName(s.c.ResponsibleUnit), r.PoliceUnit)
		return nil
	})
}

// SuspendPoliceDeadline records a suspension of D16 (Art. 147(4)): the
// clock stops until the matter is resumed.
func (e *Engine) SuspendPoliceDeadline(ctx context.Context, p access.Principal, req Request, in PoliceDecision) (model.Case, error) {
	return e.policeDecision(ctx, p, req, "suspendPoliceDeadline", model.PoliceSuspension, in, func(s *stepCtx, d *model.Deadline, r *model.PoliceReferral) error {
		d.PausedAt = s.now
		s.event("POLICE_DEADLINE_SUSPENDED", string(d.Kind), d.ID, access.UnitName(s.c.ResponsibleUnit), r.PoliceUnit)
		return nil
	})
}

// ResumePoliceDeadline records the decision that resumed a suspended
// matter: D16's days left after the day of the suspension count again
// from the day after the resumption (resume), as the time to decide
// "continues from the decision to resume" (Art. 147(4)).
func (e *Engine) ResumePoliceDeadline(ctx context.Context, p access.Principal, req Request, in PoliceDecision) (model.Case, error) {
	return e.policeDecision(ctx, p, req, "resumePoliceDeadline", model.PoliceResumption, in, func(s *stepCtx, d *model.Deadline, r *model.PoliceReferral) error {
		s.resume(d)
		s.event("POLICE_DEADLINE_RESUMED", dueDetail(d), d.ID, access.UnitName(s.c.ResponsibleUnit), r.PoliceUnit)
		return nil
	})
}

// policeDecision is the police liaison's step that records a decision on
// the open D16 of their unit's referral: change applies it, and the
// decision is kept on the referral, where both the commune's view and the
// police view show it.
func (e *Engine) policeDecision(ctx context.Context, p access.Principal, req Request, name, kind string, in PoliceDecision,
	change func(s *stepCtx, d *model.Deadline, r *model.PoliceReferral) error) (model.Case, error) {
	number, err := required("decision_number", in.Number, 100)
	if err != nil {
		return model.Case{}, err
	}
	reason, err := required("reason", in.Reason, 2000)
	if err != nil {
		return model.Case{}, err
	}
	return e.do(ctx, p, req, step{name: name, bounded: name == "suspendPoliceDeadline", apply: func(s *stepCtx) error {
		// Its gate's Ready found D16 open, and in a state the decision
		// applies to.
		r, d := s.referral, s.d16()
		if err := change(s, d, r); err != nil {
			return err
		}
		decision := model.PoliceDecision{Kind: kind, Number: number, Reason: reason, Time: s.now, RecordedBy: s.p.UserID}
		if kind == model.PoliceExtension {
			decision.UntilDate = in.UntilDate
		}
		r.Decisions = append(r.Decisions, decision)
		return nil
	}})
}

// PauseDeadline pauses a deadline with a reason (the child cannot be
// reached, ...). Emergency clocks cannot be paused. The reason goes into
// the dossier, and a unit may pause and resume again and again: a pause
// is refused for a full case (step.bounded); resuming never is.
func (e *Engine) PauseDeadline(ctx context.Context, p access.Principal, req Request, deadlineID int, reason string) (model.Case, error) {
	reason, err := required("reason", reason, 1000)
	if err != nil {
		return model.Case{}, err
	}
	return e.do(ctx, p, req, step{name: "pauseDeadline", bounded: true, apply: func(s *stepCtx) error {
		d, err := s.myDeadline(deadlineID)
		if err != nil {
			return err
		}
		if err := pauseRefusal(*d, s.now); err != nil {
			return err
		}
		d.PausedAt, d.PauseReason = s.now, reason
		s.event("DEADLINE_PAUSED", string(d.Kind), d.ID)
		return s.note("DEADLINE_PAUSED", reason)
	}})
}

// pauseRefusal says why :pauseDeadline refuses to pause the open deadline
// d at now, whoever asks; nil if it pauses it. Pausable answers by it, so
// what the API shows and what the step does cannot disagree.
func pauseRefusal(d model.Deadline, now time.Time) error {
	if !kindPausable(d.Kind) || !d.Pausable {
		// A D16 stored before its kind was ruled out says Pausable.
		return model.Precondition("NOT_PAUSABLE", "%s cannot be paused", d.Kind)
	}
	if !d.PausedAt.IsZero() {
		return model.Precondition("ALREADY_PAUSED", "deadline %d is already paused", d.ID)
	}
	if d.Breached || overdueAt(d.Due, now) {
		// A pause stops a clock that runs; it cannot undo a miss.
		return model.Precondition("DEADLINE_OVERDUE", "deadline %d is already overdue; it cannot be paused", d.ID)
	}
	return nil
}

// Pausable reports whether :pauseDeadline would pause deadline d of case c
// at now for the unit that must meet it (who may call it aside): the case
// is in the step's gate, and d is open, of a kind that pauses, not paused
// and not overdue. It is the API's pausable.
func Pausable(c model.Case, d model.Deadline, now time.Time) bool {
	if _, err := stepGates["pauseDeadline"].check(access.Principal{}, &c); err != nil {
		return false
	}
	return d.Open() && pauseRefusal(d, now) == nil
}

// ResumeDeadline resumes a paused deadline; its due time moves on (see
// resume).
func (e *Engine) ResumeDeadline(ctx context.Context, p access.Principal, req Request, deadlineID int) (model.Case, error) {
	return e.do(ctx, p, req, step{name: "resumeDeadline", apply: func(s *stepCtx) error {
		d, err := s.myDeadline(deadlineID)
		if err != nil {
			return err
		}
		if d.PausedAt.IsZero() {
			return model.Precondition("NOT_PAUSED", "deadline %d is not paused", d.ID)
		}
		s.resume(d)
		s.event("DEADLINE_RESUMED", dueDetail(d), d.ID)
		return nil
	}})
}

// resume restarts a paused deadline. A working-day clock keeps the
// working days it had left when paused, counted from the day after the
// resumption (Calendar.ResumeWorkingDays): the wall-clock length of the
// pause would make it end at any hour, on a Sunday or in Tết. A
// calendar-day clock (D16 resumed after its suspension, D8, a policy
// limit in days) keeps its calendar days left the same way
// (Calendar.ResumeCalendarDays), so it too ends at 24:00, and, unless
// it ends on its last day whatever that is (D8), not on a day off. An
// hours clock's due time moves by the pause. The start moves as the due
// time does, so the warnings of a clock that are fractions of its
// wall-clock time keep them; a working-day clock's warnings yet to come
// are placed again on the working days it has left (workingWarnings).
func (s *stepCtx) resume(d *model.Deadline) {
	paused := s.now.Sub(d.PausedAt)
	due := d.Due.Add(paused)
	left := -1
	if d.Clock == model.ClockCalendarDays {
		maximum := endsOnLastDay(d.Kind)
		// Never sooner than before, as for working days below.
		due = later(s.e.calendar.ResumeCalendarDays(d.Due, d.PausedAt, s.now, maximum).UTC(), d.Due)
		if !maximum {
			d.CalendarVersion = s.calendarFor(d.Kind, s.now, due, true)
		}
	}
	if d.Clock == model.ClockWorkingDays {
		left = s.e.calendar.WorkingDaysBetween(vntime.DateOf(d.PausedAt), lastDay(d.Due))
		// Never sooner than before: a due time an earlier version moved
		// off the end of a day counts its partial day as a whole one.
		due = later(s.e.calendar.ResumeWorkingDays(d.Due, d.PausedAt, s.now).UTC(), d.Due)
		// The due time now rests on this calendar's days: a breach is
		// explained by it (domain reference section 5).
		d.CalendarVersion = s.calendarFor(d.Kind, s.now, due, true)
	}
	d.Paused += paused
	sent := make([]time.Time, d.WarningsSent)
	for i := range sent {
		sent[i] = d.WarningTime(i)
	}
	d.Start = d.Start.Add(due.Sub(d.Due))
	d.Due = due
	d.PausedAt, d.PauseReason = time.Time{}, ""
	if left >= 0 {
		d.WarnTimes = append(sent, make([]time.Time, len(d.WarnAt)-len(sent))...)
		s.e.workingWarnings(d, left)
	}
}

// lastDay is the last day of a day count due at due: the day that ends
// then, the day before for a count due at 00:00.
func lastDay(due time.Time) vntime.Date {
	last := vntime.DateOf(due)
	if due.Equal(last.Start()) {
		last = last.AddDays(-1)
	}
	return last
}

// earlier is the earlier of a and b, a when b is zero.
func earlier(a, b time.Time) time.Time {
	if !b.IsZero() && b.Before(a) {
		return b
	}
	return a
}

func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
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
