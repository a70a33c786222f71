package process

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/childcase/childcase/internal/domain/access"
	"github.com/childcase/childcase/internal/domain/model"
	"github.com/childcase/childcase/internal/domain/vntime"
)

// Roles of the steps; the transport's method table uses them too. Each
// step is taken by the unit responsible for the case: a commune, or the
// city for a case it holds, which a city officer runs in full (the city
// decides in the chair's place) and the social work centre's hotline
// supervisors run for it as its workers (access.Policy.ActsFor).
var (
	// CommuneStaff acknowledge a forwarded case.
	CommuneStaff = []model.Role{model.RoleCommuneWorker, model.RoleCommuneChair, model.RoleCityOfficer, model.RoleHotlineSupervisor}
	// CommuneWorkers assess, plan, follow up and review.
	CommuneWorkers = []model.Role{model.RoleCommuneWorker, model.RoleCityOfficer, model.RoleHotlineSupervisor}
	// CommuneChairs decide emergency measures, separation, plan approval
	// and closure, and name the case's responsible officer.
	CommuneChairs = []model.Role{model.RoleCommuneChair, model.RoleCityOfficer}
	// Handlers hand cases over, decide on transfers, add notes and pause
	// their unit's deadlines.
	Handlers = []model.Role{model.RoleCommuneWorker, model.RoleCommuneChair, model.RoleDistrictOfficer, model.RoleCityOfficer}
	// Reassigners are the levels above the commune, which send a case of
	// a unit below them (or of a unit no longer in force) to a commune.
	Reassigners = []model.Role{model.RoleDistrictOfficer, model.RoleCityOfficer}
	// PoliceLiaisons take the police steps.
	PoliceLiaisons = []model.Role{model.RolePoliceLiaison}
)

// Acknowledge: the commune where it happened takes the forwarded case
// (step 1); the acknowledging officer becomes responsible for it.
func (e *Engine) Acknowledge(ctx context.Context, p access.Principal, req Request) (model.Case, error) {
	return e.do(ctx, p, req, step{name: "acknowledge", roles: CommuneStaff, apply: func(s *stepCtx) error {
		if err := s.requireStatus(model.StatusAwaitingAcknowledgement, "it was already acknowledged"); err != nil {
			return err
		}
		if err := s.requireResponsible(); err != nil {
			return err
		}
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
	HarmSeverity    model.Level
	AbuserAccess    model.Level
	SafetyObstacles model.Level
	Notes           string
}

// RecordInitialAssessment records the initial assessment (step 2). An
// emergency starts the 12-hour clock for emergency measures from when the
// information was received.
func (e *Engine) RecordInitialAssessment(ctx context.Context, p access.Principal, req Request, in InitialAssessment) (model.Case, error) {
	if err := checkLevels("", in.HarmSeverity, in.AbuserAccess, in.SafetyObstacles); err != nil {
		return model.Case{}, err
	}
	if in.Emergency != (in.EmergencyReason != 0) {
		return model.Case{}, model.InvalidField("emergency_reason", "emergency.reason", "an emergency needs its reason, and only an emergency has one")
	}
	notes := text(in.Notes)
	return e.do(ctx, p, req, step{name: "recordInitialAssessment", roles: CommuneWorkers, apply: func(s *stepCtx) error {
		if err := s.requireStatus(model.StatusInitialAssessment, "acknowledge it first"); err != nil {
			return err
		}
		if err := s.requireResponsible(); err != nil {
			return err
		}
		s.c.Emergency, s.c.EmergencyReason = in.Emergency, in.EmergencyReason
		s.c.Status = model.StatusSpecificAssessment
		if in.Emergency && s.c.EmergencyMeasured.IsZero() {
			s.startDeadline(model.DeadlineEmergencyMeasures, "", access.UnitName(s.c.ResponsibleUnit), s.c.ReceiveTime, hours(emergencyHours), false)
		}
		s.event("INITIAL_ASSESSMENT_RECORDED", fmt.Sprintf("emergency: %v", in.Emergency), 0)
		return s.edit(func(d *model.Dossier) {
			d.InitialAssessment = &model.InitialAssessment{
				Emergency: in.Emergency, EmergencyReason: in.EmergencyReason, HarmSeverity: in.HarmSeverity,
				AbuserAccess: in.AbuserAccess, SafetyObstacles: in.SafetyObstacles, Notes: notes, By: s.p.UserID, Time: s.now,
			}
		})
	}})
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
// (Art. 26(3)): what was done, when and by whom. It meets the 12-hour clock.
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
	return e.do(ctx, p, req, step{name: "recordEmergencyMeasures", roles: CommuneChairs, apply: func(s *stepCtx) error {
		if err := s.requireOpen(); err != nil {
			return err
		}
		if err := s.requireResponsible(); err != nil {
			return err
		}
		if !s.c.Emergency {
			return model.Precondition("NOT_AN_EMERGENCY", "case %s is not assessed as an emergency", s.c.Number)
		}
		if in.AppliedTime.After(s.now.Add(5 * time.Minute)) {
			return model.InvalidField("applied_time", "time.not_future", "applied_time lies in the future")
		}
		s.c.EmergencyMeasured = in.AppliedTime.UTC()
		if d := s.c.OpenDeadline(model.DeadlineEmergencyMeasures, ""); d != nil {
			saved := s.now
			s.now = in.AppliedTime.UTC() // met or missed by when the measures were applied
			s.meet(model.DeadlineEmergencyMeasures, "")
			s.now = saved
		}
		s.event("EMERGENCY_MEASURES_RECORDED", "", 0)
		return s.edit(func(d *model.Dossier) {
			d.EmergencyMeasures = append(d.EmergencyMeasures, model.EmergencyMeasures{
				Measures: measures, AppliedBy: by, AppliedTime: in.AppliedTime.UTC(), RecordedBy: s.p.UserID,
			})
		})
	}})
}

// StartSeparation records a temporary separation (Art. 32, Mẫu 07): at most
// 15 days, re-assessed by day 15.
func (e *Engine) StartSeparation(ctx context.Context, p access.Principal, req Request, start time.Time, place string) (model.Case, error) {
	place, err := required("place", place, 500)
	if err != nil {
		return model.Case{}, err
	}
	if start.IsZero() {
		return model.Case{}, model.InvalidField("start_time", "required", "start_time is required")
	}
	return e.do(ctx, p, req, step{name: "startSeparation", roles: CommuneChairs, apply: func(s *stepCtx) error {
		if err := s.requireOpen(); err != nil {
			return err
		}
		if err := s.requireResponsible(); err != nil {
			return err
		}
		if !s.c.SeparationStart.IsZero() && s.c.SeparationEnd.IsZero() {
			return model.Precondition("ALREADY_SEPARATED", "the child of case %s is already separated; end that separation first", s.c.Number)
		}
		s.c.SeparationStart, s.c.SeparationEnd = start.UTC(), time.Time{}
		s.startDeadline(model.DeadlineSeparationReview, "", access.UnitName(s.c.ResponsibleUnit), start, calendarDays(separationDays), false)
		s.event("SEPARATION_STARTED", "", 0)
		return s.edit(func(d *model.Dossier) { d.Separation = &model.Separation{Place: place} })
	}})
}

// Separation outcomes.
const (
	SeparationReturnedHome  = "RETURNED_HOME"
	SeparationCourtPetition = "COURT_PETITION"
)

// EndSeparation records the day-15 re-assessment: the child returns home
// or the commune petitions the court.
func (e *Engine) EndSeparation(ctx context.Context, p access.Principal, req Request, outcome, notes string) (model.Case, error) {
	if outcome != SeparationReturnedHome && outcome != SeparationCourtPetition {
		return model.Case{}, model.InvalidField("outcome", "separation.outcome", "outcome must be RETURNED_HOME or COURT_PETITION")
	}
	notes = text(notes)
	return e.do(ctx, p, req, step{name: "endSeparation", roles: CommuneChairs, apply: func(s *stepCtx) error {
		if err := s.requireResponsible(); err != nil {
			return err
		}
		if s.c.SeparationStart.IsZero() || !s.c.SeparationEnd.IsZero() {
			return model.Precondition("NOT_SEPARATED", "the child of case %s is not separated", s.c.Number)
		}
		s.c.SeparationEnd = s.now
		s.meet(model.DeadlineSeparationReview, "")
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
	return e.do(ctx, p, req, step{name: "recordSpecificAssessment", roles: CommuneWorkers, apply: func(s *stepCtx) error {
		if err := s.requireStatus(model.StatusSpecificAssessment, "record the initial assessment first"); err != nil {
			return err
		}
		if err := s.requireResponsible(); err != nil {
			return err
		}
		s.c.Status, s.c.PlanState, s.c.PlanCycle = model.StatusPlanning, model.PlanDraft, max(1, s.c.PlanCycle)
		s.startPlanDraft()
		s.event("SPECIFIC_ASSESSMENT_RECORDED", "", 0)
		return s.edit(func(d *model.Dossier) {
			d.SpecificAssessment = &model.SpecificAssessment{
				Needs: needs, ChildViews: views, ParentViews: text(in.ParentViews), MeetingRecord: record,
				MeetingTime: in.MeetingTime.UTC(), By: s.p.UserID,
			}
		})
	}})
}

// startPlanDraft starts the 5-working-day clock of a plan draft, waived in
// an emergency (Art. 28).
func (s *stepCtx) startPlanDraft() {
	if !s.c.Emergency {
		s.startDeadline(model.DeadlinePlanDraft, planRef(s.c), access.UnitName(s.c.ResponsibleUnit), s.now, workingDays(planDraftDays), true)
	}
}

func planRef(c *model.Case) string { return fmt.Sprintf("plan-%d", c.PlanCycle) }

// Service is one service of a submitted plan.
type Service struct {
	Name, Owner                string
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
		start, err1 := vntime.ParseDate(sv.StartDate)
		end, err2 := vntime.ParseDate(sv.ExpectedEndDate)
		if err1 != nil || err2 != nil || end.Before(start) {
			return model.Case{}, model.InvalidField(field+".expected_end_date", "plan.dates", "start_date and expected_end_date must be dates, the end not before the start")
		}
		if end.Before(vntime.DateOf(e.clock.Now())) {
			return model.Case{}, model.InvalidField(field+".expected_end_date", "plan.dates_ahead", "expected_end_date lies before today")
		}
		if sv.CostEstimateVND < 0 {
			return model.Case{}, model.InvalidField(field+".cost_estimate_vnd", "plan.cost", "a cost estimate cannot be negative")
		}
		details = append(details, model.ServiceDetail{ID: i + 1, Name: name, Owner: owner})
		public = append(public, model.PlanService{ID: i + 1, StartDate: start.String(), ExpectedEndDate: end.String(), CostEstimateVND: sv.CostEstimateVND, State: "PLANNED"})
	}
	return e.do(ctx, p, req, step{name: "submitPlan", roles: CommuneWorkers, apply: func(s *stepCtx) error {
		if err := s.requireOpen(); err != nil {
			return err
		}
		if err := s.requireResponsible(); err != nil {
			return err
		}
		change := s.c.Status == model.StatusImplementation
		if !change && (s.c.Status != model.StatusPlanning || s.c.PlanState != model.PlanDraft) {
			return model.Precondition("WRONG_STEP", "case %s is at %s: a plan is submitted after the specific assessment, or as a change during implementation", s.c.Number, StatusName(s.c.Status))
		}
		if change {
			s.c.Status = model.StatusPlanning
			s.event("PLAN_CHANGE_PROPOSED", "", 0)
		}
		s.meet(model.DeadlinePlanDraft, planRef(s.c))
		s.c.PlanState = model.PlanSubmitted
		s.c.Services = public
		if !s.c.Emergency {
			s.startDeadline(model.DeadlinePlanApproval, planRef(s.c), access.UnitName(s.c.ResponsibleUnit), s.now, workingDays(planApprovalDays), true)
		}
		s.event("PLAN_SUBMITTED", fmt.Sprintf("%d services", len(public)), 0)
		return s.edit(func(d *model.Dossier) { d.Services = details })
	}})
}

// ApprovePlan: the chair approves the plan; implementation starts (step 5)
// and each service's expected end is watched.
func (e *Engine) ApprovePlan(ctx context.Context, p access.Principal, req Request) (model.Case, error) {
	return e.do(ctx, p, req, step{name: "approvePlan", roles: CommuneChairs, apply: func(s *stepCtx) error {
		if err := s.requirePlanSubmitted(); err != nil {
			return err
		}
		today := vntime.DateOf(s.now)
		for _, sv := range s.c.Services {
			if end, _ := vntime.ParseDate(sv.ExpectedEndDate); end.Before(today) {
				return model.Precondition("SERVICE_DATES_PASSED", "service %d was expected to end on %s, before today; return the plan to update it", sv.ID, sv.ExpectedEndDate)
			}
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
			s.openDeadline(model.DeadlineServiceEnd, ref, access.UnitName(s.c.ResponsibleUnit), s.now, end.AddDays(1).Start(), calendarDays(max(0, days)), true)
		}
		s.event("PLAN_APPROVED", "", 0)
		return nil
	}})
}

func (s *stepCtx) requirePlanSubmitted() error {
	if err := s.requireOpen(); err != nil {
		return err
	}
	if err := s.requireResponsible(); err != nil {
		return err
	}
	if s.c.Status != model.StatusPlanning || s.c.PlanState != model.PlanSubmitted {
		return model.Precondition("PLAN_NOT_SUBMITTED", "case %s has no plan awaiting approval; the worker submits it first", s.c.Number)
	}
	return nil
}

// ReturnPlan: the chair returns the plan with a reason; the worker has 5
// working days to submit it again.
func (e *Engine) ReturnPlan(ctx context.Context, p access.Principal, req Request, reason string) (model.Case, error) {
	reason, err := required("reason", reason, 2000)
	if err != nil {
		return model.Case{}, err
	}
	return e.do(ctx, p, req, step{name: "returnPlan", roles: CommuneChairs, apply: func(s *stepCtx) error {
		if err := s.requirePlanSubmitted(); err != nil {
			return err
		}
		s.meet(model.DeadlinePlanApproval, planRef(s.c))
		s.c.PlanState = model.PlanDraft
		s.startPlanDraft()
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
	return e.do(ctx, p, req, step{name: "recordServiceProgress", roles: CommuneWorkers, apply: func(s *stepCtx) error {
		if err := s.requireStatus(model.StatusImplementation, "services are followed during implementation"); err != nil {
			return err
		}
		if err := s.requireResponsible(); err != nil {
			return err
		}
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
	return e.do(ctx, p, req, step{name: "startReview", roles: CommuneWorkers, apply: func(s *stepCtx) error {
		if err := s.requireStatus(model.StatusImplementation, "the plan must be approved and carried out first"); err != nil {
			return err
		}
		if err := s.requireResponsible(); err != nil {
			return err
		}
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
	notes := text(in.Notes)
	return e.do(ctx, p, req, step{name: "recordReview", roles: CommuneWorkers, apply: func(s *stepCtx) error {
		if err := s.requireStatus(model.StatusReview, "start the review first"); err != nil {
			return err
		}
		if err := s.requireResponsible(); err != nil {
			return err
		}
		if s.c.ClosureProposed {
			return model.Precondition("CLOSURE_PROPOSED", "a closure proposal awaits the chair's decision")
		}
		if in.Outcome == ReviewNewPlanCycle {
			s.c.Status, s.c.PlanState = model.StatusPlanning, model.PlanDraft
			s.c.PlanCycle++
			s.startPlanDraft()
		} else {
			s.c.ClosureProposed = true
		}
		s.event("REVIEW_RECORDED", in.Outcome, 0)
		return s.edit(func(d *model.Dossier) {
			d.Reviews = append(d.Reviews, model.Review{
				HarmSeverity: in.HarmSeverity, AbuserAccess: in.AbuserAccess, SafetyObstacles: in.SafetyObstacles,
				Notes: notes, Outcome: in.Outcome, By: s.p.UserID, Time: s.now,
			})
		})
	}})
}

// policeMatters are the forms of abuse that are crimes for the police:
// sexual abuse, trafficking (and abduction), violence with injury.
var policeMatters = []model.AbuseForm{2, 4, 7}

// ApproveClosure: the chair closes the case on a closure proposal, with the
// reason. A case with a suspected crime needs a police referral, or a
// recorded reason why there is none.
func (e *Engine) ApproveClosure(ctx context.Context, p access.Principal, req Request, reason, noReferralReason string) (model.Case, error) {
	reason, err := required("reason", reason, 2000)
	if err != nil {
		return model.Case{}, err
	}
	noReferralReason = text(noReferralReason)
	return e.do(ctx, p, req, step{name: "approveClosure", roles: CommuneChairs, apply: func(s *stepCtx) error {
		if err := s.requireStatus(model.StatusReview, "a case is closed from review"); err != nil {
			return err
		}
		if err := s.requireResponsible(); err != nil {
			return err
		}
		if !s.c.ClosureProposed {
			return model.Precondition("NO_CLOSURE_PROPOSAL", "the worker proposes closure in a review first")
		}
		if !s.c.SeparationStart.IsZero() && s.c.SeparationEnd.IsZero() {
			return model.Precondition("CHILD_SEPARATED", "the child of case %s is still separated; end the separation first", s.c.Number)
		}
		if s.c.PendingTransfer() != nil {
			return model.Precondition("TRANSFER_PENDING", "a transfer of case %s awaits a decision; it must be accepted or declined first", s.c.Number)
		}
		crime := slices.ContainsFunc(s.c.SuspectedAbuse, func(a model.AbuseForm) bool { return slices.Contains(policeMatters, a) })
		if crime && len(s.c.PoliceReferrals) == 0 && noReferralReason == "" {
			return model.Precondition("POLICE_REFERRAL_REQUIRED", "case %s concerns a suspected crime: refer it to the police, or give no_police_referral_reason", s.c.Number)
		}
		s.c.Status, s.c.CloseTime, s.c.ClosureProposed = model.StatusClosed, s.now, false
		for i := range s.c.Deadlines {
			if d := &s.c.Deadlines[i]; d.Open() && !strings.HasPrefix(d.Unit, "policeUnits/") {
				s.cancel(d.Kind, d.Ref, "case closed")
			}
		}
		s.event("CLOSED", "", 0)
		if err := s.note("CLOSURE", reason); err != nil {
			return err
		}
		if noReferralReason != "" {
			return s.note("NO_POLICE_REFERRAL", noReferralReason)
		}
		return nil
	}})
}

// Reopen reopens a closed case with a reason, at the initial assessment.
func (e *Engine) Reopen(ctx context.Context, p access.Principal, req Request, reason string) (model.Case, error) {
	reason, err := required("reason", reason, 2000)
	if err != nil {
		return model.Case{}, err
	}
	return e.do(ctx, p, req, step{name: "reopen", roles: CommuneChairs, apply: func(s *stepCtx) error {
		if s.c.Status != model.StatusClosed {
			return model.Precondition("NOT_CLOSED", "case %s is not closed", s.c.Number)
		}
		if err := s.requireResponsible(); err != nil {
			return err
		}
		s.c.Status, s.c.CloseTime = model.StatusInitialAssessment, time.Time{}
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
	return e.do(ctx, p, req, step{name: "addNote", roles: Handlers, apply: func(s *stepCtx) error {
		s.event("NOTE_ADDED", "", 0)
		return s.note("NOTE", note)
	}})
}
