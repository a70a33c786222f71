package process

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/childcase/childcase/internal/domain/access"
	"github.com/childcase/childcase/internal/domain/intake"
	"github.com/childcase/childcase/internal/domain/model"
	"github.com/childcase/childcase/internal/domain/vntime"
)

// Acknowledge: the commune where it happened takes the forwarded case
// (step 1); the acknowledging officer becomes responsible for it.
func (e *Engine) Acknowledge(ctx context.Context, p access.Principal, req Request) (model.Case, error) {
	return e.do(ctx, p, req, step{name: "acknowledge", apply: func(s *stepCtx) error {
		s.c.Status = model.StatusInitialAssessment
		s.c.ResponsibleOfficer = s.p.UserID
		s.meet(model.DeadlineAcknowledge, "")
		s.event("ACKNOWLEDGED", "", 0)
		return nil
	}})
}

// InitialAssessment is Mẫu 02.
type InitialAssessment struct {
	Emergency       bool
	EmergencyReason model.EmergencyReason
	// DowngradeReason says why a case that intake opened as an emergency
	// is not one: required then, and only then.
	DowngradeReason string
	HarmSeverity    model.Level
	AbuserAccess    model.Level
	SafetyObstacles model.Level
	Notes           string
	// Circumstances, when not nil, replace the case's special-circumstance
	// groups (Child Law Art. 10); nil leaves them as they are.
	Circumstances []model.SpecialCircumstance
}

// RecordInitialAssessment records the initial assessment (step 2). An
// emergency starts the 12-hour clock for emergency measures from when the
// information was received (the reopening, for a reopened case: it is new
// information), unless it runs from intake already. A case
// that is an emergency from intake is downgraded only with a recorded
// reason: its 12-hour clock is then cancelled.
func (e *Engine) RecordInitialAssessment(ctx context.Context, p access.Principal, req Request, in InitialAssessment) (model.Case, error) {
	if err := checkLevels("", in.HarmSeverity, in.AbuserAccess, in.SafetyObstacles); err != nil {
		return model.Case{}, err
	}
	if in.Emergency != (in.EmergencyReason != 0) {
		return model.Case{}, model.InvalidField("emergency_reason", "emergency.reason", "an emergency needs its reason, and only an emergency has one")
	}
	if err := checkCircumstances(in.Circumstances); err != nil {
		return model.Case{}, err
	}
	notes, downgrade := text(in.Notes), text(in.DowngradeReason)
	if len([]rune(downgrade)) > 2000 {
		return model.Case{}, model.InvalidField("emergency_downgrade_reason", "string.max_len", "emergency_downgrade_reason is longer than 2000 characters")
	}
	return e.do(ctx, p, req, step{name: "recordInitialAssessment", apply: func(s *stepCtx) error {
		downgraded := s.c.Emergency && !in.Emergency
		switch {
		case downgraded && downgrade == "":
			return model.InvalidField("emergency_downgrade_reason", "emergency.downgrade_reason",
				"case %s is an emergency from its reports: record why it is not one in emergency_downgrade_reason", s.c.Number)
		case !downgraded && downgrade != "":
			return model.InvalidField("emergency_downgrade_reason", "emergency.downgrade_reason",
				"only an assessment that downgrades an emergency from the reports has emergency_downgrade_reason")
		case downgraded && !says(downgrade):
			return model.InvalidField("emergency_downgrade_reason", "text.letter_or_digit", "emergency_downgrade_reason needs a letter or digit: it says nothing")
		}
		s.c.Emergency, s.c.EmergencyReason = in.Emergency, in.EmergencyReason
		s.setCircumstances(in.Circumstances)
		s.c.Status = model.StatusSpecificAssessment
		if in.Emergency {
			s.startEmergencyClock(s.c.InformationTime())
		}
		s.event("INITIAL_ASSESSMENT_RECORDED", fmt.Sprintf("emergency: %v", in.Emergency), 0)
		if downgraded {
			s.event("EMERGENCY_DOWNGRADED", "the reason is in the case notes (EMERGENCY_DOWNGRADED)", 0)
			s.cancel(model.DeadlineEmergencyMeasures, "", "emergency downgraded at the initial assessment, with a recorded reason")
			if err := s.note("EMERGENCY_DOWNGRADED", downgrade); err != nil {
				return err
			}
		}
		return s.edit(func(d *model.Dossier) {
			d.InitialAssessment = &model.InitialAssessment{
				Emergency: in.Emergency, EmergencyReason: in.EmergencyReason, HarmSeverity: in.HarmSeverity,
				AbuserAccess: in.AbuserAccess, SafetyObstacles: in.SafetyObstacles, Notes: notes, By: s.p.UserID, Time: s.now,
			}
		})
	}})
}

// checkCircumstances checks a set of special-circumstance groups: each a
// group of Child Law Art. 10 (a-o: 1-14), none twice.
func checkCircumstances(groups []model.SpecialCircumstance) error {
	const field = "special_circumstances.groups"
	for i, g := range groups {
		if g < model.CircumstanceOrphaned || g > model.CircumstanceMigrantDisplaced {
			return model.InvalidField(field, "circumstance.defined", "%d is not a group of Child Law Art. 10", g)
		}
		if slices.Contains(groups[:i], g) {
			return model.InvalidField(field, "circumstance.unique", "group %d is listed twice", g)
		}
	}
	return nil
}

// setCircumstances replaces the case's special-circumstance groups with
// what an assessment found, when it said anything (groups not nil).
func (s *stepCtx) setCircumstances(groups []model.SpecialCircumstance) {
	if groups != nil {
		s.c.SpecialCircumstances = slices.Clone(groups)
	}
}

// emergencyReasonName names an emergency reason for the timeline.
func emergencyReasonName(r model.EmergencyReason) string {
	switch r {
	case model.EmergencySeriousHarm:
		return "SERIOUS_HARM"
	case model.EmergencyCaregiverIsAbuser:
		return "CAREGIVER_IS_ABUSER"
	}
	return "UNSPECIFIED"
}

func checkLevels(prefix string, levels ...model.Level) error {
	names := []string{"harm_severity", "abuser_access", "safety_obstacles"}
	for i, l := range levels {
		if l < model.LevelLow || l > model.LevelHigh {
			return model.InvalidField(prefix+names[i], "level.required", "%s must be LOW, MEDIUM or HIGH", names[i])
		}
	}
	return nil
}

// EmergencyMeasures records emergency measures.
type EmergencyMeasures struct {
	Measures    string
	AppliedBy   string
	AppliedTime time.Time
}

// RecordEmergencyMeasures records the emergency measures the chair decided
// (Art. 26(3)): what was done, when and by whom. It meets the 12-hour clock
// by when the measures were applied, which can be neither before the case's
// information was received nor in the future; when they were recorded is
// kept beside it.
func (e *Engine) RecordEmergencyMeasures(ctx context.Context, p access.Principal, req Request, in EmergencyMeasures) (model.Case, error) {
	measures, err := required("measures", in.Measures, 4000)
	if err != nil {
		return model.Case{}, err
	}
	by, err := required("applied_by", in.AppliedBy, 200)
	if err != nil {
		return model.Case{}, err
	}
	if in.AppliedTime.IsZero() {
		return model.Case{}, model.InvalidField("applied_time", "required", "applied_time is required")
	}
	return e.do(ctx, p, req, step{name: "recordEmergencyMeasures", apply: func(s *stepCtx) error {
		applied, late, err := s.appliedAt("applied_time", in.AppliedTime, "emergency measures")
		if err != nil {
			return err
		}
		s.emergencyApplied(applied)
		s.event("EMERGENCY_MEASURES_RECORDED", "applied "+hanoi(applied), 0)
		return s.edit(func(d *model.Dossier) {
			d.EmergencyMeasures = append(d.EmergencyMeasures, model.EmergencyMeasures{
				Measures: measures, AppliedBy: by, AppliedTime: applied, RecordedBy: s.p.UserID, RecordTime: s.now, LateRecording: late,
			})
		})
	}})
}

// Separation is a temporary separation as the chair decided it (Art. 32,
// Mẫu 07).
type Separation struct {
	Start          time.Time
	Place          string
	Carer          string // who cares for the child
	Ground         string // the Art. 32(1) ground the decision cites
	DecisionNumber string
}

// StartSeparation records a temporary separation (Art. 32, Mẫu 07): at most
// 15 days, re-assessed by day 15. Counted from the receipt too (Art.
// 32(2)), it meets the 12-hour clock of an emergency as emergency measures
// do, by when it started.
func (e *Engine) StartSeparation(ctx context.Context, p access.Principal, req Request, in Separation) (model.Case, error) {
	place, err := required("place", in.Place, 500)
	if err != nil {
		return model.Case{}, err
	}
	carer, err := required("carer", in.Carer, 500)
	if err != nil {
		return model.Case{}, err
	}
	ground, err := required("ground", in.Ground, 2000)
	if err != nil {
		return model.Case{}, err
	}
	decision, err := required("decision_number", in.DecisionNumber, 100)
	if err != nil {
		return model.Case{}, err
	}
	if in.Start.IsZero() {
		return model.Case{}, model.InvalidField("start_time", "required", "start_time is required")
	}
	return e.do(ctx, p, req, step{name: "startSeparation", apply: func(s *stepCtx) error {
		start, late, err := s.appliedAt("start_time", in.Start, "the separation")
		if err != nil {
			return err
		}
		if s.c.Emergency {
			s.emergencyApplied(start)
		}
		s.c.SeparationStart, s.c.SeparationEnd = start, time.Time{}
		s.startDeadline(model.DeadlineSeparationReview, "", access.UnitName(s.c.ResponsibleUnit), start, separationLimit(separationDays))
		s.event("SEPARATION_STARTED", "started "+hanoi(start), 0)
		return s.edit(func(d *model.Dossier) {
			d.Separation = &model.Separation{Place: place, Carer: carer, Ground: ground, DecisionNumber: decision, RecordTime: s.now, LateRecording: late}
		})
	}})
}

// appliedAt checks when something was applied (emergency measures, a
// separation): not before the case's information was received, since the
// 12-hour clock runs from then (nor, on a reopened case, before the
// reopening: the case was closed, and the clock of its new cycle runs from
// the reopening), and not in the future. A late record is flagged
// (flagLate) for the responsible unit; late says so.
func (s *stepCtx) appliedAt(field string, at time.Time, what string) (applied time.Time, late bool, err error) {
	applied = at.UTC()
	if beforeMinuteOf(applied, s.c.ReceiveTime) {
		return time.Time{}, false, model.InvalidField(field, "time.not_before_receive",
			"%s %s lies before case %s was first received (%s)", field, hanoi(applied), s.c.Number, hanoi(s.c.ReceiveTime))
	}
	if info := s.c.InformationTime(); beforeMinuteOf(applied, info) {
		return time.Time{}, false, model.InvalidField(field, "time.not_before_reopen",
			"%s %s lies before case %s was reopened (%s)", field, hanoi(applied), s.c.Number, hanoi(info))
	}
	if applied.After(s.now.Add(intake.ClockSkew)) {
		return time.Time{}, false, model.InvalidField(field, "time.not_future", "%s lies in the future", field)
	}
	unit := access.UnitName(s.c.ResponsibleUnit)
	return applied, s.flagLate(unit, what+" applied", applied, s.e.nextLevel(s.tx, unit, s.now)), nil
}

// flagLate flags a record made now of what happened at, by unit, when the
// gap is beyond the policy's late_recording limit: a time given for a step
// meets or misses its clock, so a record made long after it may be a
// backdated one that turned a missed deadline into a met one. The record
// goes into the case's LateRecordings, counted in the statistics under
// unit (a police unit's under the case's responsible unit, as its clocks
// are), and on the timeline, notified to unit and to those who answer for
// its records (the level above). It reports whether it flagged the record.
func (s *stepCtx) flagLate(unit, what string, at time.Time, above ...string) bool {
	limit := fromPolicy(s.e.policy.LateRecording)
	if !s.now.After(s.e.due(at, limit)) {
		return false
	}
	s.c.LateRecordings = append(s.c.LateRecordings, model.LateRecording{RecordTime: s.now, Unit: unit})
	// The limit's count is recorded nowhere else: the line says if it
	// rests on provisional holiday data or went past them.
	s.event("LATE_RECORDING", fmt.Sprintf("%s %s, recorded %d minutes later", what, hanoi(at), int64(s.now.Sub(at)/time.Minute))+s.e.limitNotes("the late_recording limit", at, limit), 0,
		append([]string{unit}, above...)...)
	// The level above must be able to open what it is told of: a commune's
	// sees the case already (the district its communes', the city every
	// one), the city police only once alerted.
	for _, to := range above {
		if strings.HasPrefix(to, "policeUnits/") && !slices.Contains(s.c.PoliceAlerted, to) {
			s.alertPolice(to)
			s.letIn(to)
		}
	}
	return true
}

// emergencyApplied meets the 12-hour clock, if it runs, by when emergency
// measures or a separation were applied, and keeps the first such time of
// the case's cycle (one before its last reopening is the cycle before's).
func (s *stepCtx) emergencyApplied(at time.Time) {
	if s.c.EmergencyMeasured.Before(s.c.InformationTime()) || at.Before(s.c.EmergencyMeasured) {
		s.c.EmergencyMeasured = at
	}
	// Met or missed by when the measures were applied.
	s.meetAt(model.DeadlineEmergencyMeasures, "", at)
}

// Separation outcomes.
const (
	SeparationReturnedHome    = "RETURNED_HOME"
	SeparationAlternativeCare = "ALTERNATIVE_CARE"
	SeparationCourtPetition   = "COURT_PETITION"
)

// EndSeparation records the day-15 re-assessment when the separation
// ends: the child returns home, or is placed in alternative care (which
// starts its follow-ups). A court petition does not end it: PetitionCourt.
func (e *Engine) EndSeparation(ctx context.Context, p access.Principal, req Request, outcome, notes string) (model.Case, error) {
	if outcome == SeparationCourtPetition {
		return model.Case{}, model.InvalidField("outcome", "separation.outcome",
			"a court petition keeps the separation in force until the court decides: record it with :petitionCourt")
	}
	if outcome != SeparationReturnedHome && outcome != SeparationAlternativeCare {
		return model.Case{}, model.InvalidField("outcome", "separation.outcome", "outcome must be RETURNED_HOME or ALTERNATIVE_CARE")
	}
	notes = text(notes)
	return e.do(ctx, p, req, step{name: "endSeparation", apply: func(s *stepCtx) error {
		s.endSeparation(outcome)
		s.event("SEPARATION_ENDED", outcome, 0)
		return s.edit(func(d *model.Dossier) {
			if d.Separation == nil {
				d.Separation = &model.Separation{}
			}
			d.Separation.Outcome, d.Separation.Notes = outcome, notes
		})
	}})
}

// SpecificAssessment is Mẫu 03 with the meeting record.
type SpecificAssessment struct {
	Needs, ChildViews, ParentViews, MeetingRecord string
	MeetingTime                                   time.Time
	// The meeting's chair (required: Art. 27 has the chair preside) and
	// the others who took part.
	MeetingChair        model.Attendee
	MeetingParticipants []model.Attendee
	// Circumstances as in InitialAssessment.
	Circumstances []model.SpecialCircumstance
}

// maxParticipants bounds the participants of a meeting.
const maxParticipants = 30

// attendee checks and normalises a person at the meeting; field names
// them in errors.
func attendee(field string, a model.Attendee) (model.Attendee, error) {
	name, err := required(field+".full_name", a.FullName, 200)
	if err != nil {
		return model.Attendee{}, err
	}
	role, err := optional(field+".role", a.Role, 200)
	if err != nil {
		return model.Attendee{}, err
	}
	return model.Attendee{FullName: name, Role: role}, nil
}

// RecordSpecificAssessment records the needs (step 3). The plan is due 5
// working days later, unless the case is an emergency.
func (e *Engine) RecordSpecificAssessment(ctx context.Context, p access.Principal, req Request, in SpecificAssessment) (model.Case, error) {
	needs, err := required("needs", in.Needs, 8000)
	if err != nil {
		return model.Case{}, err
	}
	views, err := required("child_views", in.ChildViews, 8000)
	if err != nil {
		return model.Case{}, err
	}
	record, err := required("meeting_record", in.MeetingRecord, 20000)
	if err != nil {
		return model.Case{}, err
	}
	if in.MeetingTime.IsZero() {
		return model.Case{}, model.InvalidField("meeting_time", "required", "meeting_time is required")
	}
	chair, err := attendee("meeting_chair", in.MeetingChair)
	if err != nil {
		return model.Case{}, err
	}
	if len(in.MeetingParticipants) > maxParticipants {
		return model.Case{}, model.InvalidField("meeting_participants", "repeated.max_items", "a meeting has at most %d participants besides its chair", maxParticipants)
	}
	var participants []model.Attendee
	for i, a := range in.MeetingParticipants {
		a, err := attendee(fmt.Sprintf("meeting_participants[%d]", i), a)
		if err != nil {
			return model.Case{}, err
		}
		participants = append(participants, a)
	}
	if err := checkCircumstances(in.Circumstances); err != nil {
		return model.Case{}, err
	}
	return e.do(ctx, p, req, step{name: "recordSpecificAssessment", apply: func(s *stepCtx) error {
		meeting := in.MeetingTime.UTC()
		if meeting.After(s.now.Add(clockSkew)) {
			return model.InvalidField("meeting_time", "time.not_future", "meeting_time lies in the future")
		}
		if ack := s.acknowledgeTime(); beforeMinuteOf(meeting, ack) {
			return model.InvalidField("meeting_time", "time.after_acknowledgement", "meeting_time lies before the case was acknowledged (%s)", hanoi(ack))
		}
		// A reopened case is new information: its meeting is one of the
		// new cycle, as its emergency measures are (appliedAt), or D6
		// would count from a meeting held while the case was closed.
		if info := s.c.InformationTime(); len(s.c.Reopened) > 0 && beforeMinuteOf(meeting, info) {
			return model.InvalidField("meeting_time", "time.not_before_reopen",
				"meeting_time %s lies before case %s was reopened (%s)", hanoi(meeting), s.c.Number, hanoi(info))
		}
		s.c.Status, s.c.PlanState, s.c.PlanCycle = model.StatusPlanning, model.PlanDraft, max(1, s.c.PlanCycle)
		s.setCircumstances(in.Circumstances)
		// D6 counts from the meeting that established the needs (Art.
		// 27(2)), not from when its record was typed in.
		s.startPlanDraft(meeting)
		s.event("SPECIFIC_ASSESSMENT_RECORDED", "", 0)
		return s.edit(func(d *model.Dossier) {
			d.SpecificAssessment = &model.SpecificAssessment{
				Needs: needs, ChildViews: views, ParentViews: text(in.ParentViews), MeetingRecord: record,
				MeetingTime: in.MeetingTime.UTC(), By: s.p.UserID, MeetingChair: chair, MeetingParticipants: participants,
			}
		})
	}})
}

// startPlanDraft starts the 5-working-day clock of a plan draft from when
// the needs were established, waived in an emergency (Art. 28).
func (s *stepCtx) startPlanDraft(from time.Time) {
	if !s.c.Emergency {
		s.startDeadline(model.DeadlinePlanDraft, planRef(s.c), access.UnitName(s.c.ResponsibleUnit), from, workingDays(planDraftDays))
	}
}

// acknowledgeTime is when the commune acknowledged the case: the last
// ACKNOWLEDGE deadline done (met or missed); zero before that. Not the
// first: a hand-over of a case not yet acknowledged closes the sender's
// overdue clock as missed (forwardAcknowledgement), and the case is
// acknowledged only when the receiving unit's own clock is met.
func (s *stepCtx) acknowledgeTime() time.Time {
	var at time.Time
	for _, d := range s.c.Deadlines {
		if d.Kind == model.DeadlineAcknowledge && (d.State == model.DeadlineMet || d.State == model.DeadlineMissed) && d.DoneTime.After(at) {
			at = d.DoneTime
		}
	}
	return at
}

func planRef(c *model.Case) string { return fmt.Sprintf("plan-%d", c.PlanCycle) }

// Service is one service of a submitted plan.
type Service struct {
	Name, Owner string
	// CommuneAssignee is the commune's person in charge of the service
	// (Mẫu 04), apart from its provider, Owner.
	CommuneAssignee            string
	StartDate, ExpectedEndDate string // YYYY-MM-DD
	CostEstimateVND            int64
}

// SubmitPlan submits the drafted plan for the chair's approval (step 4);
// the chair has 2 working days, unless the case is an emergency. A plan
// change during implementation is submitted the same way.
func (e *Engine) SubmitPlan(ctx context.Context, p access.Principal, req Request, services []Service) (model.Case, error) {
	if len(services) == 0 {
		return model.Case{}, model.InvalidField("services", "plan.services", "a plan needs at least one service")
	}
	if len(services) > 50 {
		return model.Case{}, model.InvalidField("services", "plan.services", "a plan has at most 50 services")
	}
	var details []model.ServiceDetail
	var public []model.PlanService
	for i, sv := range services {
		field := fmt.Sprintf("services[%d]", i)
		name, err := required(field+".name", sv.Name, 500)
		if err != nil {
			return model.Case{}, err
		}
		owner, err := required(field+".owner", sv.Owner, 200)
		if err != nil {
			return model.Case{}, err
		}
		assignee, err := required(field+".commune_assignee", sv.CommuneAssignee, 200)
		if err != nil {
			return model.Case{}, err
		}
		start, err1 := vntime.ParseDate(sv.StartDate)
		end, err2 := vntime.ParseDate(sv.ExpectedEndDate)
		if err1 != nil || err2 != nil || end.Before(start) {
			return model.Case{}, model.InvalidField(field+".expected_end_date", "plan.dates", "start_date and expected_end_date must be dates, the end not before the start")
		}
		today := vntime.DateOf(e.clock.Now())
		if end.Before(today) {
			return model.Case{}, model.InvalidField(field+".expected_end_date", "plan.dates_ahead", "expected_end_date lies before today")
		}
		if err := withinAChildhood(field, today, start, end); err != nil {
			return model.Case{}, err
		}
		if sv.CostEstimateVND < 0 {
			return model.Case{}, model.InvalidField(field+".cost_estimate_vnd", "plan.cost", "a cost estimate cannot be negative")
		}
		details = append(details, model.ServiceDetail{ID: i + 1, Name: name, Owner: owner, CommuneAssignee: assignee})
		public = append(public, model.PlanService{ID: i + 1, StartDate: start.String(), ExpectedEndDate: end.String(), CostEstimateVND: sv.CostEstimateVND, State: "PLANNED"})
	}
	return e.do(ctx, p, req, step{name: "submitPlan", apply: func(s *stepCtx) error {
		change := s.c.Status == model.StatusImplementation
		if change {
			s.c.Status = model.StatusPlanning
			s.event("PLAN_CHANGE_PROPOSED", "", 0)
		}
		s.meet(model.DeadlinePlanDraft, planRef(s.c))
		s.meet(model.DeadlinePlanResubmit, planRef(s.c))
		s.c.PlanState = model.PlanSubmitted
		inForce := s.c.Services
		s.c.Services = public
		if !s.c.Emergency {
			s.startDeadline(model.DeadlinePlanApproval, planRef(s.c), access.UnitName(s.c.ResponsibleUnit), s.now, workingDays(planApprovalDays))
		}
		s.event("PLAN_SUBMITTED", fmt.Sprintf("%d services", len(public)), 0)
		return s.edit(func(d *model.Dossier) {
			// The approved plan stays in force until the chair approves
			// the change; a returned change restores it. A plan that is
			// no change (a new cycle's) has none to restore, whatever an
			// earlier change left (the case closed while it waited).
			d.PlanInForce = nil
			if change {
				d.PlanInForce = &model.PlanInForce{Services: inForce, Details: d.Services}
			}
			d.Services = details
		})
	}})
}

// Approval is the chair's decision approving a plan (Mẫu 05).
type Approval struct {
	DecisionNumber string
	DecisionDate   string // YYYY-MM-DD, Vietnam time
}

// childhoodMonths is how far from today a service of a child's plan may
// start or end, either way: 18 years, longer than anyone is a child
// (Child Law Art. 1: under 16; victims' protections reach under 18).
const childhoodMonths = 18 * 12

// withinAChildhood refuses a service of a plan (the field services[i])
// that starts or ends more than childhoodMonths from today. Without the
// bound a date such as 9999-12-31 was taken: its D8 deadline, stored as
// Unix nanoseconds, which end in 2262, came back due in 1816, and the
// case read as overdue since then.
func withinAChildhood(field string, today, start, end vntime.Date) error {
	first, last := today.AddMonths(-childhoodMonths), today.AddMonths(childhoodMonths)
	switch {
	case start.Before(first):
		return model.InvalidField(field+".start_date", "plan.dates_within", "start_date must be on or after %s: a service of a child's plan starts at most 18 years before today", first)
	case end.After(last):
		return model.InvalidField(field+".expected_end_date", "plan.dates_within", "expected_end_date must be on or before %s: a service of a child's plan ends at most 18 years after today", last)
	}
	return nil
}

// ApprovePlan: the chair approves the plan by a decision, numbered and
// dated; implementation starts (step 5) and each service's expected end is
// watched.
func (e *Engine) ApprovePlan(ctx context.Context, p access.Principal, req Request, in Approval) (model.Case, error) {
	number, err := required("decision_number", in.DecisionNumber, 50)
	if err != nil {
		return model.Case{}, err
	}
	date, err := vntime.ParseDate(in.DecisionDate)
	if err != nil {
		return model.Case{}, model.InvalidField("decision_date", "date.valid", "decision_date must be a date YYYY-MM-DD")
	}
	return e.do(ctx, p, req, step{name: "approvePlan", apply: func(s *stepCtx) error {
		if date.After(vntime.DateOf(s.now)) {
			return model.InvalidField("decision_date", "date.not_future", "decision_date %s lies after today", date)
		}
		if received := vntime.DateOf(s.c.ReceiveTime); date.Before(received) {
			return model.InvalidField("decision_date", "decision.after_report", "decision_date %s lies before the case's information was received (%s)", date, received)
		}
		s.meet(model.DeadlinePlanApproval, planRef(s.c))
		s.c.PlanState, s.c.Status = model.PlanApproved, model.StatusImplementation
		// A changed plan replaces every service of the one before.
		for _, d := range s.c.Deadlines {
			if d.Kind == model.DeadlineServiceEnd && d.Open() {
				s.cancel(model.DeadlineServiceEnd, d.Ref, "the plan was replaced")
			}
		}
		for _, sv := range s.c.Services {
			ref := fmt.Sprintf("service-%d", sv.ID)
			end, _ := vntime.ParseDate(sv.ExpectedEndDate)
			// Expected to end by 24:00 of its expected end date (D8).
			days := int(end.Start().Sub(vntime.DateOf(s.now).Start()) / (24 * time.Hour))
			s.openDeadline(model.DeadlineServiceEnd, ref, access.UnitName(s.c.ResponsibleUnit), s.now, end.AddDays(1).Start(), serviceEnd(max(0, days)))
		}
		s.event("PLAN_APPROVED", "", 0)
		return s.edit(func(d *model.Dossier) {
			d.PlanInForce = nil // the change replaces it
			d.PlanApprovals = append(d.PlanApprovals, model.PlanApproval{
				PlanCycle: s.c.PlanCycle, DecisionNumber: number, DecisionDate: date.String(), By: s.p.UserID, Time: s.now,
			})
		})
	}})
}

// ReturnPlan: the chair returns the plan with a reason; the worker has the
// policy's plan_resubmit limit to submit it again. The law's five working
// days (D6) ran once, from the meeting: a return does not start them anew.
// A change of an approved plan returned leaves that plan in force: the
// case goes back to its implementation, with the plan's services as they
// were, and nothing needs submitting again.
func (e *Engine) ReturnPlan(ctx context.Context, p access.Principal, req Request, reason string) (model.Case, error) {
	reason, err := required("reason", reason, 2000)
	if err != nil {
		return model.Case{}, err
	}
	return e.do(ctx, p, req, step{name: "returnPlan", apply: func(s *stepCtx) error {
		s.meet(model.DeadlinePlanApproval, planRef(s.c))
		d, err := s.open()
		if err != nil {
			return err
		}
		if kept := d.PlanInForce; kept != nil {
			s.c.Status, s.c.PlanState, s.c.Services = model.StatusImplementation, model.PlanApproved, kept.Services
			s.event("PLAN_RETURNED", "", 0) // the status shows the plan in force
			if err := s.edit(func(d *model.Dossier) { d.Services, d.PlanInForce = kept.Details, nil }); err != nil {
				return err
			}
			return s.note("PLAN_RETURNED", reason)
		}
		s.c.PlanState = model.PlanDraft
		if !s.c.Emergency {
			s.startDeadline(model.DeadlinePlanResubmit, planRef(s.c), access.UnitName(s.c.ResponsibleUnit), s.now, fromPolicy(e.policy.PlanResubmit))
		}
		s.event("PLAN_RETURNED", "", 0)
		return s.note("PLAN_RETURNED", reason)
	}})
}

func (s *stepCtx) note(kind, t string) error {
	return s.edit(func(d *model.Dossier) {
		d.Notes = append(d.Notes, model.Note{Kind: kind, Text: t, Author: s.p.UserID, Time: s.now})
	})
}

// Service states.
const (
	ServiceInProgress = "IN_PROGRESS"
	ServiceCompleted  = "COMPLETED"
	ServiceCancelled  = "CANCELLED"
)

// RecordServiceProgress records progress on one service of the plan.
func (e *Engine) RecordServiceProgress(ctx context.Context, p access.Principal, req Request, serviceID int, state, note string) (model.Case, error) {
	if state != ServiceInProgress && state != ServiceCompleted && state != ServiceCancelled {
		return model.Case{}, model.InvalidField("state", "service.state", "state must be IN_PROGRESS, COMPLETED or CANCELLED")
	}
	note = text(note)
	// A progress note may be added again and again, as a note may; the
	// service's completion or cancellation answers the plan and is never
	// refused for a full case (step.bounded).
	bounded := state == ServiceInProgress && note != ""
	return e.do(ctx, p, req, step{name: "recordServiceProgress", bounded: bounded, apply: func(s *stepCtx) error {
		i := slices.IndexFunc(s.c.Services, func(sv model.PlanService) bool { return sv.ID == serviceID })
		if i < 0 {
			return model.InvalidField("service_id", "reference.exists", "the plan has no service %d", serviceID)
		}
		s.c.Services[i].State = state
		ref := fmt.Sprintf("service-%d", serviceID)
		switch state {
		case ServiceCompleted:
			s.meet(model.DeadlineServiceEnd, ref)
		case ServiceCancelled:
			s.cancel(model.DeadlineServiceEnd, ref, "service cancelled")
		}
		s.event("SERVICE_PROGRESS", fmt.Sprintf("service %d: %s", serviceID, state), 0)
		return s.edit(func(d *model.Dossier) {
			for j := range d.Services {
				if d.Services[j].ID == serviceID && note != "" {
					d.Services[j].Progress = append(d.Services[j].Progress, hanoi(s.now)+" "+note)
				}
			}
		})
	}})
}

// StartReview moves an implemented plan to review (step 6).
func (e *Engine) StartReview(ctx context.Context, p access.Principal, req Request) (model.Case, error) {
	return e.do(ctx, p, req, step{name: "startReview", apply: func(s *stepCtx) error {
		s.c.Status = model.StatusReview
		s.event("REVIEW_STARTED", "", 0)
		return nil
	}})
}

// Review outcomes.
const (
	ReviewNewPlanCycle   = "NEW_PLAN_CYCLE"
	ReviewProposeClosure = "PROPOSE_CLOSURE"
)

// Review is Mẫu 06.
type Review struct {
	HarmSeverity, AbuserAccess, SafetyObstacles model.Level
	Notes                                       string
	Outcome                                     string
	// Part (b): the child's self-protection and recovery, both required.
	SelfProtection, Recovery string
}

// RecordReview records the review: a new plan cycle, or a closure proposal
// for the chair.
func (e *Engine) RecordReview(ctx context.Context, p access.Principal, req Request, in Review) (model.Case, error) {
	if err := checkLevels("", in.HarmSeverity, in.AbuserAccess, in.SafetyObstacles); err != nil {
		return model.Case{}, err
	}
	if in.Outcome != ReviewNewPlanCycle && in.Outcome != ReviewProposeClosure {
		return model.Case{}, model.InvalidField("outcome", "review.outcome", "outcome must be NEW_PLAN_CYCLE or PROPOSE_CLOSURE")
	}
	selfProtection, err := required("self_protection", in.SelfProtection, 4000)
	if err != nil {
		return model.Case{}, err
	}
	recovery, err := required("recovery", in.Recovery, 4000)
	if err != nil {
		return model.Case{}, err
	}
	notes := text(in.Notes)
	return e.do(ctx, p, req, step{name: "recordReview", apply: func(s *stepCtx) error {
		if in.Outcome == ReviewProposeClosure && !allLow(in.HarmSeverity, in.AbuserAccess, in.SafetyObstacles) {
			return model.InvalidField("outcome", "review.closure_needs_low_risk", "a review proposes closure only when it rates every risk LOW (Art. 30(1)(b)); otherwise a new plan cycle starts")
		}
		if in.Outcome == ReviewNewPlanCycle {
			s.c.Status, s.c.PlanState = model.StatusPlanning, model.PlanDraft
			s.c.PlanCycle++
			// The review itself established the new needs.
			s.startPlanDraft(s.now)
		} else {
			s.c.ClosureProposed = true
		}
		s.event("REVIEW_RECORDED", in.Outcome, 0)
		return s.edit(func(d *model.Dossier) {
			d.Reviews = append(d.Reviews, model.Review{
				HarmSeverity: in.HarmSeverity, AbuserAccess: in.AbuserAccess, SafetyObstacles: in.SafetyObstacles,
				Notes: notes, Outcome: in.Outcome, By: s.p.UserID, Time: s.now,
				SelfProtection: selfProtection, Recovery: recovery,
			})
		})
	}})
}

func allLow(levels ...model.Level) bool {
	return !slices.ContainsFunc(levels, func(l model.Level) bool { return l != model.LevelLow })
}

// Closure is the chair's closure decision.
type Closure struct {
	// Ground is the lawful ground; zero is ClosureRiskLow.
	Ground model.ClosureGround
	Reason string
	// NoPoliceReferralReason says why a suspected crime was never
	// referred to the police.
	NoPoliceReferralReason string
}

// ApproveClosure: the chair closes the case, with the ground and the
// reason. On the ordinary ground the last review rated every risk LOW and
// proposed closure (Art. 30(1)(b)); the other lawful grounds (the child
// moved away, turned 16 (Child Law Art. 1) or 18 (where criminal-procedure
// protections of a victim end), died, or the case went to an agency
// outside the service) close it at any step. A case with a suspected crime
// needs a police referral, or a recorded reason why there is none. Every closure
// is notified to the level above, which is how a crime closed without a
// referral comes to its attention.
func (e *Engine) ApproveClosure(ctx context.Context, p access.Principal, req Request, in Closure) (model.Case, error) {
	reason, err := required("reason", in.Reason, 2000)
	if err != nil {
		return model.Case{}, err
	}
	ground := cmp.Or(in.Ground, model.ClosureRiskLow)
	if ground < model.ClosureRiskLow || ground > model.ClosureTurned16 {
		return model.Case{}, model.InvalidField("ground", "closure.ground", "ground must be RISK_LOW, MOVED_AWAY, TURNED_16, TURNED_18, DECEASED or TRANSFERRED")
	}
	noReferralReason := text(in.NoPoliceReferralReason)
	return e.do(ctx, p, req, step{name: "approveClosure", apply: func(s *stepCtx) error {
		switch ground {
		case model.ClosureRiskLow:
			if err := s.requireLowRiskReview(); err != nil {
				return err
			}
		case model.ClosureTurned16:
			if err := s.requireAged16(); err != nil {
				return err
			}
		}
		crime := model.CrimeSuspected(s.c.SuspectedAbuse)
		unreferred := crime && len(s.c.PoliceReferrals) == 0
		if unreferred && noReferralReason == "" {
			return model.Precondition("POLICE_REFERRAL_REQUIRED", "case %s concerns a suspected crime: refer it to the police, or give no_police_referral_reason", s.c.Number)
		}
		s.c.Status, s.c.CloseTime, s.c.ClosureProposed = model.StatusClosed, s.now, false
		for i := range s.c.Deadlines {
			if d := &s.c.Deadlines[i]; d.Open() && !strings.HasPrefix(d.Unit, "policeUnits/") {
				s.cancel(d.Kind, d.Ref, "case closed")
			}
		}
		// The level above hears of every closure (the district while
		// districts exist, the city from 2025-07-01); a suspected crime
		// closed without a referral is marked for its attention.
		detail := "ground " + ground.String()
		if unreferred {
			detail += "; NO_POLICE_REFERRAL: a suspected crime closed without a police referral"
		}
		unit := access.UnitName(s.c.ResponsibleUnit)
		s.event("CLOSED", detail, 0, unit, e.nextLevel(s.tx, unit, s.now))
		if err := s.note("CLOSURE", reason); err != nil {
			return err
		}
		if noReferralReason != "" {
			return s.note("NO_POLICE_REFERRAL", noReferralReason)
		}
		return nil
	}})
}

// requireLowRiskReview refuses a closure on the ordinary ground unless a
// review proposed it and the last review rated every risk LOW.
func (s *stepCtx) requireLowRiskReview() error {
	if s.c.Status != model.StatusReview || !s.c.ClosureProposed {
		return model.Precondition("NO_CLOSURE_PROPOSAL", "the worker proposes closure in a review first, or the chair gives another lawful ground")
	}
	d, err := s.open()
	if err != nil {
		return err
	}
	if n := len(d.Reviews); n == 0 || !allLow(d.Reviews[n-1].HarmSeverity, d.Reviews[n-1].AbuserAccess, d.Reviews[n-1].SafetyObstacles) {
		return model.Precondition("RISK_NOT_LOW", "the last review of case %s does not rate every risk LOW; close it on another lawful ground, or start a new plan cycle", s.c.Number)
	}
	return nil
}

// childAge is the age at which a child is no longer one (Child Law Art. 1).
const childAge = 16

// requireAged16 refuses a closure on TURNED_16 while a child the case's
// reports name is under 16 today, by the date of birth or by the age
// estimated when the report was received. A child of no recorded age does
// not hold it back: the chair's reason, which every closure needs, says
// why the case closes.
func (s *stepCtx) requireAged16() error {
	today := vntime.DateOf(s.now)
	for _, id := range s.c.ReportIDs {
		stored, err := s.tx.Report(id)
		if err != nil {
			return fmt.Errorf("report %s of case %s: %w", id, s.c.Number, err)
		}
		r, err := s.e.vault.OpenReport(s.tx, stored)
		if err != nil {
			return err
		}
		for i, ch := range r.Children {
			// The age and the date of birth are the child's private data
			// (Decree 56 Art. 33): messages are logged, so they name
			// neither.
			if age, known := ch.AgeOn(vntime.DateOf(r.ReceiveTime), today); known && age < childAge {
				return model.Precondition("CHILD_UNDER_16", "ground: child %d of report %s is under 16 on %s by the age it records; close on TURNED_16 once every child of case %s is 16, or on another lawful ground",
					i+1, id, today, s.c.Number)
			}
		}
	}
	return nil
}

// Reopen reopens a closed case with a reason, at the initial assessment.
// The reopening is new information, received now: an assessment that
// finds an emergency starts a new 12-hour clock from it (InformationTime),
// and the first cycle's clocks stay as they ended.
//
// A case closed before a reform abolished its unit reopens with that
// unit's successor, as an open case would have moved (followReform): the
// successor reopens it, not the unit that is gone. Where the unit split,
// the city reopens it, and it waits in the city's queue of cases needing
// a successor, to be reassigned.
func (e *Engine) Reopen(ctx context.Context, p access.Principal, req Request, reason string) (model.Case, error) {
	reason, err := required("reason", reason, 2000)
	if err != nil {
		return model.Case{}, err
	}
	return e.do(ctx, p, req, step{name: "reopen", apply: func(s *stepCtx) error {
		// Its gate's Ready refused a caller outside a responsible unit in
		// force; a case of a unit a reform abolished goes to its successor
		// first.
		s.c.Status, s.c.CloseTime = model.StatusInitialAssessment, time.Time{}
		s.followReform()
		if !s.c.AwaitingSuccessor || !s.actorIn(e.cityName()) {
			if err := s.requireResponsible(); err != nil {
				return err
			}
		}
		s.c.Reopened = append(s.c.Reopened, s.now)
		s.event("REOPENED", "", 0)
		return s.note("REOPENED", reason)
	}})
}

// AddNote adds a note to the case's timeline (its text is sealed).
func (e *Engine) AddNote(ctx context.Context, p access.Principal, req Request, note string) (model.Case, error) {
	note, err := required("text", note, 8000)
	if err != nil {
		return model.Case{}, err
	}
	return e.do(ctx, p, req, step{name: "addNote", bounded: true, apply: func(s *stepCtx) error {
		s.event("NOTE_ADDED", "", 0)
		return s.note("NOTE", note)
	}})
}
