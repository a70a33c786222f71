package process

import (
	"fmt"
	"slices"
	"strings"

	"github.com/childcase/childcase/internal/domain/access"
	"github.com/childcase/childcase/internal/domain/model"
)

// The README's table of the case process, one row per step of Decree 56
// as a reader meets it. A row names its methods by access's table, and the
// "who" column is rendered from that table's rows for them, so who may
// take a step is written once, in access's rules, and the README cannot
// drift from it. What the rules cannot say (who within a role, the
// clocks) is the row's notes. TestREADMEProcessTable checks the README,
// TestProcessTableCoversEveryStep that every step has a row.

// TableRow is one row of the process table.
type TableRow struct {
	// Step is the step column: what the row does, with its law.
	Step string
	// Methods are the row's methods, in the order shown.
	Methods []TableMethod
	// Only, when set, keeps only the roles the methods grant it: the row
	// is one role's way of calling a method others call too.
	Only access.Grant
	// Responsible says the unit responsible for the case takes the row's
	// steps: a commune, or a district or the city for a case it holds (for
	// the city the social work centre's hotline supervisors act too,
	// access.Policy.ActsFor).
	// A hotline supervisor elsewhere may not take them.
	Responsible bool
	// Notes is the last column: who within the roles, what the step
	// takes, and the clocks it starts and (in brackets) stops.
	Notes string
}

// TableMethod is a method of a row.
type TableMethod struct {
	// Method names the row of access's table, "CaseProcessService/AcknowledgeCase".
	Method string
	// Show is how the README names a method that takes no step (a step
	// shows as its custom verb, ":acknowledge").
	Show string
	// Detail, if any, follows the method in brackets.
	Detail string
}

// processTable is the table, in the README's order.
var processTable = []TableRow{
	{
		Step:        "1 acknowledge the forwarded case",
		Methods:     []TableMethod{{Method: "CaseProcessService/AcknowledgeCase"}},
		Responsible: true,
		Notes:       "the responsible unit acknowledges; who acknowledges becomes the responsible officer. (ACKNOWLEDGE, policy)",
	},
	{
		Step:    "intake of an emergency: a report with `immediate_danger`, or naming a parent or caregiver as `suspected_abuser` (Arts. 26(3), 31(1))",
		Methods: []TableMethod{{Method: "ReportService/CreateReport", Show: "`POST /v1/reports`", Detail: "opening or joining a case"}},
		Notes:   fmt.Sprintf("D3, %d h from the first receive time, wall clock; ACKNOWLEDGE from `acknowledge_emergency` (policy, 2 h).", emergencyHours) + " A report that makes a joined case an emergency starts D3 from its own receive time if none runs (one received before a running D3 started moves that D3 to count from it: `DEADLINE_MOVED`, notified to the unit that must meet it), and gives a case not yet acknowledged a new ACKNOWLEDGE from `acknowledge_emergency`, cancelling the ordinary one, when that ends sooner or the ordinary one is paused. An emergency's ACKNOWLEDGE, like D3, cannot be paused. A case that becomes an emergency (by such a report or a merge) while its plan is drafted or awaits the chair has its D6, D7 or PLAN_RESUBMIT cancelled: Art. 28 waives them in an emergency",
	},
	{
		Step:        "2 initial assessment, Mẫu 02",
		Methods:     []TableMethod{{Method: "CaseProcessService/RecordInitialAssessment"}},
		Responsible: true,
		Notes:       fmt.Sprintf("emergency: D3 as above, if not yet running; on a reopened case, a new D3 of %d h from the reopening", emergencyHours) + " (`:reopen` is new information), unless measures were applied since, while the first cycle's D3 stays as it ended (met, missed or cancelled), and so does the emergency case's D3 in the statistics; downgrading an emergency from intake needs `emergency_downgrade_reason` (a case note), and cancels D3",
	},
	{
		Step:        "emergency measures",
		Methods:     []TableMethod{{Method: "CaseProcessService/RecordEmergencyMeasures"}},
		Responsible: true,
		Notes:       fmt.Sprintf("(D3, met if applied within %d h; after a reopening, applied no earlier than it)", emergencyHours),
	},
	{
		Step: "temporary separation, Mẫu 07: place, carer, Art. 32(1) ground, decision number",
		Methods: []TableMethod{
			{Method: "CaseProcessService/StartSeparation"},
			{Method: "CaseProcessService/ExtendSeparation", Detail: fmt.Sprintf("days, reason, decision number; %d more days at most", maxSeparationExtension)},
			{Method: "CaseProcessService/EndSeparation", Detail: "`RETURNED_HOME` or `ALTERNATIVE_CARE`"},
		},
		Responsible: true,
		Notes:       fmt.Sprintf("(D3, met like measures: Art. 32(2)) D4, %d calendar days, re-assessment by day %d; an extension moves it", separationDays, separationDays),
	},
	{
		Step: "court petition (Circular 14/2020 Art. 14(3)(b))",
		Methods: []TableMethod{
			{Method: "CaseProcessService/PetitionCourt"},
			{Method: "CaseProcessService/RecordCourtDecision", Detail: "decision number and date, `RETURNED_HOME` or `ALTERNATIVE_CARE`"},
		},
		Responsible: true,
		Notes:       "(D4) the separation stays in force, and closure is refused (`COURT_PETITION_PENDING`), until the decision is recorded",
	},
	{
		Step:        "alternative care (Art. 30)",
		Methods:     []TableMethod{{Method: "CaseProcessService/RecordCareFollowUp"}},
		Responsible: true,
		Notes:       "CARE_FOLLOW_UP, started by a placement in alternative care (the separation's end or the court's decision): 1 month, 3 months, then every 6 months after the placement, each by 24:00 of that day (of the next working day when that day is a day off, Civil Code Art. 148); each follow-up meets one and opens the next; one may be recorded before it is due, so its notes count toward a full case, which refuses it (`CASE_FULL`)",
	},
	{
		Step:        "3 specific assessment and needs, Mẫu 03",
		Methods:     []TableMethod{{Method: "CaseProcessService/RecordSpecificAssessment"}},
		Responsible: true,
		Notes:       fmt.Sprintf("D6, plan drafted in %d working days from the meeting", planDraftDays) + "'s `meeting_time` (Art. 27(2)), which may lie neither in the future nor before the acknowledgement (nor, on a reopened case, before the reopening: `time.not_before_reopen`); an emergency case has no D6 (Art. 28)",
	},
	{
		Step: "4 plan, Mẫu 04/05",
		Methods: []TableMethod{
			{Method: "CaseProcessService/SubmitPlan"},
			{Method: "CaseProcessService/ApprovePlan"},
			{Method: "CaseProcessService/ReturnPlan"},
		},
		Responsible: true,
		Notes:       "the worker submits, the chair approves or returns. (D6 or PLAN_RESUBMIT) D7, approved in " + fmt.Sprint(planApprovalDays) + " working days (neither D6 nor D7 in an emergency); then D8 per service. A returned plan gets PLAN_RESUBMIT (policy), not a fresh D6; a returned change leaves the approved plan in force (back to implementation, nothing to resubmit)",
	},
	{
		Step: "5 implementation",
		Methods: []TableMethod{
			{Method: "CaseProcessService/RecordServiceProgress"},
			{Method: "CaseProcessService/SubmitPlan", Detail: "a change goes back through approval"},
		},
		Responsible: true,
		Notes:       "(D8 when a service completes) While a change awaits the chair, the approved plan's D8 clocks run on and its services take no progress; approval replaces them, a return restores them",
	},
	{
		Step: "6 review, Mẫu 06",
		Methods: []TableMethod{
			{Method: "CaseProcessService/StartReview"},
			{Method: "CaseProcessService/RecordReview"},
		},
		Responsible: true,
		Notes:       "a new plan cycle (D6 again) or a closure proposal",
	},
	{
		Step: "closure",
		Methods: []TableMethod{
			{Method: "CaseProcessService/ApproveClosure"},
			{Method: "CaseProcessService/ReopenCase"},
		},
		Responsible: true,
		Notes:       "closure takes the `ground` and the reason: `RISK_LOW` (the default) needs the last review to rate every risk LOW and propose closure (Art. 30(1)(b); else `NO_CLOSURE_PROPOSAL`); `MOVED_AWAY`, `TURNED_16`, `TURNED_18`, `DECEASED`, `TRANSFERRED` close at any step, `TURNED_16` once every child the case's reports name is 16 (Child Law Art. 1) by the date of birth, or by the age estimated when the report was received and the years since (else `CHILD_UNDER_16`; a child of no recorded age does not hold it back, the reason says why); `TURNED_18` (where criminal-procedure protections of a victim end) is not held to a recorded age, the reason says why. Every ground waits while the child is separated (`CHILD_SEPARATED`) or a court petition is pending (`COURT_PETITION_PENDING`) and while a transfer awaits a decision (`TRANSFER_PENDING`), and a suspected crime needs a police referral or a `no_police_referral_reason` (`POLICE_REFERRAL_REQUIRED`). It cancels the open social clocks; a `CLOSED` notification goes to the level above (district until 2025-06-30, city from 2025-07-01). `:reopen`, with a reason, takes the case back to the initial assessment as new information (D3 above); a case closed before a reform abolished its unit reopens with the successor, whose chair reopens it, or, where the unit split, by the city, which then reassigns it",
	},
	{
		Step: "hand-over",
		Methods: []TableMethod{
			{Method: "CaseProcessService/ProposeTransfer"},
			{Method: "CaseProcessService/AcceptTransfer"},
			{Method: "CaseProcessService/DeclineTransfer"},
		},
		Notes: "the responsible unit proposes, the receiving unit decides; the sender stays responsible until it accepts. A district that accepts a case (until 2025-06-30) runs it as the city runs a case it holds, its officer taking every step, so that it can meet the clocks it is given (`TestDistrictHoldingACaseTakesItsSteps`). TRANSFER_ACCEPT (policy); a case not yet acknowledged is forwarded anew by the acceptance: the sender's ACKNOWLEDGE closes, missed (its breach and escalations kept) if overdue, else cancelled, and the receiving unit's own runs from then (ACKNOWLEDGE, policy; `TestOverdueAcknowledgementHandedOverStaysTheSenders`); once it is overdue, a level it escalated to may `:declineTransfer` on the receiving unit's behalf, so that a transfer nobody answers does not hold the case (closure and any other hand-over wait while one is pending)",
	},
	{
		Step: "reassignment",
		Methods: []TableMethod{
			{Method: "CaseProcessService/ReassignCase"},
			{Method: "CaseProcessService/AcceptTransfer"},
			{Method: "CaseProcessService/DeclineTransfer"},
		},
		Notes: "a level above the commune sends the case down to a commune in force, with a reason: the city any case, a district (until 2025-06-30) a case it or one of its communes holds, to one of its communes; then the commune accepts or declines as on a hand-over. TRANSFER_ACCEPT (policy)",
	},
	{
		Step:        "responsible officer",
		Methods:     []TableMethod{{Method: "CaseProcessService/AssignCase"}},
		Responsible: true,
		Notes:       "the chair of the responsible unit names an active worker of that unit (`\"officer\": \"users/...\"`, one of those `:listAssignableOfficers` answers the chair); the case and its queue entries show the officer",
	},
	{
		Step:    "merge two cases of one child",
		Methods: []TableMethod{{Method: "CaseProcessService/MergeCase", Detail: "`absorbed_case`, `absorbed_etag`, `reason`"}},
		Notes:   "with both cases fully in the caller's scope (the city for cases of two communes). The absorbed case's open clocks move to the case named in the path, each kind keeping the earlier start and its due (the ACKNOWLEDGE of a survivor that is, or becomes, an emergency keeps the sooner due, at most `acknowledge_emergency` from the merge, and cannot be paused); its ACKNOWLEDGE is met by the merge if the survivor was acknowledged; its timers go",
	},
	{
		Step: "police track",
		Methods: []TableMethod{
			{Method: "CaseProcessService/ReferCaseToPolice"},
			{Method: "CaseProcessService/AcknowledgePoliceReferral"},
			{Method: "CaseProcessService/RecordPoliceForwarding"},
			{Method: "CaseProcessService/RecordPoliceOutcome"},
		},
		Notes: "the liaison of the referred police unit records; `:referToPolice` names a police unit that serves a unit in force that day: the city police, or one of whose `covers` a reform did not end every unit (else `400` naming `police_unit`, `unit.in_force`, and the communes that took over; what was referred to it before runs on with its liaison; `TestNewReferralToAPoliceUnitWhoseCommunesEndedIsRefused`); `:acknowledgePoliceReferral` takes the police's own `reference_number` (required, up to 100 characters). POLICE_ACKNOWLEDGE (policy); D13 " + fmt.Sprintf("%d h (%d h in a remote commune)", policeForwardHours, remoteForwardHours) + " to the investigators, from the referral, when the police received it (Circular 43/2021 Art. 5), not from their acknowledgement; D16 " + fmt.Sprintf("%d calendar days to a decision, from the forwarding (a %dth day", prosecutionDays, prosecutionDays) + " that is a day off runs to 24:00 of the next working day, Civil Code Art. 148). `:recordPoliceForwarding` takes `forward_time` (now if left out; not before the acknowledgement, nor in the future) and meets or misses D13 by it; `forward_record_time` keeps when it was recorded, and a record made later than the policy's `late_recording` after `forward_time` is flagged as late emergency measures are (`forward_late_recording`, and a `LATE_RECORDING` event notified to the police unit, the city police above it, which from then on sees the case in the police view with that referral, and the commune; `TestClocksLatePoliceForwardingReachesTheCityPolice`). A D13 that breached before such a record meets it keeps its breach (`breached`) and escalations",
	},
	{
		Step: "D16 extension or suspension (Criminal Procedure Code Art. 147(3)-(4))",
		Methods: []TableMethod{
			{Method: "CaseProcessService/ExtendPoliceDeadline", Detail: "`until_date`"},
			{Method: "CaseProcessService/SuspendPoliceDeadline"},
			{Method: "CaseProcessService/ResumePoliceDeadline"},
		},
		Notes: "each with `decision_number` and `reason`, by the liaison of the referred unit, while D16 runs and is not overdue. D16 ends at 24:00 of `until_date`: " + fmt.Sprintf("the first extension reaches at most %d months from the start, the second (the procuracy's) %d, no third", prosecutionExtensionMonths[0], prosecutionExtensionMonths[1]) + " (`EXTENSIONS_EXHAUSTED`); a suspension stops D16, and resuming gives it the days it had left after the day of the suspension, counted from the day after the resumption (Art. 147(4)), so it ends at 24:00, of the next working day if that day is a day off (`TestResumedProsecutionDeadlineEndsAtMidnightOfAWorkingDay`); its start moves as its due time does. Each decision is on the commune's timeline (`POLICE_DEADLINE_EXTENDED`, `_SUSPENDED`, `_RESUMED`, notified to the commune) and in the referral's `decisions`, in the full and the police view",
	},
	{
		Step:    "police intake (Art. 25(1))",
		Methods: []TableMethod{{Method: "ReportService/CreateReport", Show: "`POST /v1/reports`"}},
		Only:    access.Police,
		Notes:   "the police record a report they received; it opens the case, forwarded to the commune, with their unit's referral already received at the report's receive time; they get a receipt (case, commune, times), not the report, and see the case only in the police view. D13 from the receive time",
	},
	{
		Step: "clocks",
		Methods: []TableMethod{
			{Method: "CaseProcessService/PauseDeadline"},
			{Method: "CaseProcessService/ResumeDeadline"},
		},
		Notes: "the unit that must meet it, with a reason, while the deadline runs and is not overdue (`DEADLINE_OVERDUE`); an emergency's clocks (D3, and ACKNOWLEDGE of a case that is an emergency before it is acknowledged), D4, the follow-ups of alternative care, a transfer's TRANSFER_ACCEPT and the police clocks cannot be paused (`NOT_PAUSABLE`; D16 has its own suspension, above). A pause's reason counts toward a full case, which refuses it (`CASE_FULL`; `pausable` does not foresee that). A deadline's `pausable` says whether `:pauseDeadline` would pause it now (asked by that unit), and `paused` whether its clock is stopped now: one met, missed or cancelled while paused is not paused (the timeline and the case's notes keep the pause). On resumption a working-day deadline is due after the working days it had left when paused (those after the day of the pause), counted from the day after the resumption, or, paused on its last day, at 24:00 of the first working day from the day it is resumed, so it ends at 24:00 of a working day; a calendar-day deadline (D8, a policy limit in `days`) keeps its days left the same way, ending at 24:00 (for a limit in `days`, of the next working day when that day is a day off; D8 ends on its day whatever it is); an hours deadline's due time moves by the pause",
	},
	{
		Step:    "notes",
		Methods: []TableMethod{{Method: "CaseProcessService/AddCaseNote"}},
	},
}

// stepGates are the steps' gates, by their names in access's table: when
// each applies (see Gate). The engine refuses a step by its gate, and
// StepsAllowed offers it by the same; the README's table shows their
// stages in its "when" column, and its notes what Ready asks besides.
var stepGates = map[string]Gate{
	"acknowledge":              {In: []Stage{{Status: model.StatusAwaitingAcknowledgement}}, First: "it was already acknowledged", Ready: responsible},
	"recordInitialAssessment":  {In: []Stage{{Status: model.StatusInitialAssessment}}, First: "acknowledge it first", Ready: responsible},
	"recordEmergencyMeasures":  {Ready: all(responsible, (*stepCtx).requireEmergency)},
	"startSeparation":          {Ready: all(responsible, (*stepCtx).requireNotSeparatedYet)},
	"endSeparation":            {Ready: all((*stepCtx).requireSeparationStep, func(s *stepCtx) error { return s.requireNoPetition("record its decision with :recordCourtDecision") })},
	"extendSeparation":         {Ready: all((*stepCtx).requireSeparationStep, (*stepCtx).requireExtensible)},
	"petitionCourt":            {Ready: all((*stepCtx).requireSeparationStep, func(s *stepCtx) error { return s.requireNoPetition("a petition awaits it already") })},
	"recordCourtDecision":      {Ready: all(responsible, (*stepCtx).requirePetition)},
	"recordCareFollowUp":       {Ready: all(responsible, (*stepCtx).requireCareFollowUp)},
	"recordSpecificAssessment": {In: []Stage{{Status: model.StatusSpecificAssessment}}, First: "record the initial assessment first", Ready: responsible},
	"submitPlan": {
		In:    []Stage{{Status: model.StatusPlanning, Plan: model.PlanDraft}, {Status: model.StatusImplementation}},
		First: "a plan is submitted after the specific assessment, or as a change during implementation",
		Ready: responsible,
	},
	"approvePlan":               {In: []Stage{{Status: model.StatusPlanning, Plan: model.PlanSubmitted}}, Reason: "PLAN_NOT_SUBMITTED", First: "no plan awaits approval; the worker submits it first", Ready: all(responsible, (*stepCtx).requireServiceDatesAhead)},
	"returnPlan":                {In: []Stage{{Status: model.StatusPlanning, Plan: model.PlanSubmitted}}, Reason: "PLAN_NOT_SUBMITTED", First: "no plan awaits approval; the worker submits it first", Ready: responsible},
	"recordServiceProgress":     {In: []Stage{{Status: model.StatusImplementation}}, First: "services are followed during implementation", Ready: responsible},
	"startReview":               {In: []Stage{{Status: model.StatusImplementation}}, First: "the plan must be approved and carried out first", Ready: responsible},
	"recordReview":              {In: []Stage{{Status: model.StatusReview}}, First: "start the review first", Ready: all(responsible, (*stepCtx).requireNoClosureProposal)},
	"approveClosure":            {Ready: all(responsible, (*stepCtx).requireNotSeparated, (*stepCtx).requireNoTransfer)},
	"reopen":                    {Closed: true, Ready: (*stepCtx).requireReopener},
	"addNote":                   {Any: true},
	"proposeTransfer":           {Ready: all((*stepCtx).requireHandingUnit, (*stepCtx).requireNoTransfer)},
	"acceptTransfer":            {Ready: (*stepCtx).requireReceiver},
	"declineTransfer":           {Ready: (*stepCtx).requireDecliner},
	"reassign":                  {Ready: all((*stepCtx).requireAbove, (*stepCtx).requireNoTransfer)},
	"assign":                    {Ready: responsible},
	"merge":                     {Field: "name", Ready: (*stepCtx).requireMergeableCase},
	"referToPolice":             {},
	"acknowledgePoliceReferral": {Referral: model.PoliceReferred},
	"recordPoliceForwarding":    {Referral: model.PoliceAcknowledged},
	"recordPoliceOutcome":       {Referral: model.PoliceForwarded},
	"extendPoliceDeadline":      {Referral: model.PoliceForwarded, Ready: (*stepCtx).requireExtendable},
	"suspendPoliceDeadline":     {Referral: model.PoliceForwarded, Ready: (*stepCtx).requireSuspendable},
	"resumePoliceDeadline":      {Referral: model.PoliceForwarded, Ready: (*stepCtx).requireSuspended},
	"pauseDeadline":             {Some: somePausable},
	"resumeDeadline":            {Some: somePaused},
}

// ProcessTable returns the process table's rows.
func ProcessTable() []TableRow { return slices.Clone(processTable) }

// RenderProcessTable renders the README's process table. A method without
// a row in access's table is an error: the table would name a method
// nobody may call.
func RenderProcessTable() (string, error) {
	var b strings.Builder
	b.WriteString("| step | method | who | when | notes and clocks started (stopped) |\n|---|---|---|---|---|\n")
	for _, row := range processTable {
		methods := make([]string, len(row.Methods))
		for i, m := range row.Methods {
			rule, ok := access.RuleFor(m.Method)
			if !ok {
				return "", fmt.Errorf("process table row %q: %s has no row in access's table", row.Step, m.Method)
			}
			methods[i] = methodText(rule, m)
		}
		who, err := row.who()
		if err != nil {
			return "", err
		}
		when, err := row.when()
		if err != nil {
			return "", err
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s |\n", row.Step, strings.Join(methods, ", "), who, when, row.Notes)
	}
	return b.String(), nil
}

// methodText names a method as the README shows it, with its detail.
func methodText(rule access.Rule, m TableMethod) string {
	name := m.Show
	if rule.Step != "" {
		name = "`:" + rule.Step + "`"
	}
	if m.Detail != "" {
		name += " (" + m.Detail + ")"
	}
	return name
}

// who renders the roles that may call the row's methods, from access's
// table. Methods allowed to the same roles share a list; when the row's
// methods differ, each list is headed by its methods.
func (row TableRow) who() (string, error) {
	type group struct {
		methods []string
		roles   []model.Role
	}
	var groups []group
	for _, m := range row.Methods {
		rule, _ := access.RuleFor(m.Method)
		var roles []model.Role
		for _, r := range rule.Roles() {
			if row.Only == access.Refused || rule.Grant(r) == row.Only {
				roles = append(roles, r)
			}
		}
		if len(roles) == 0 {
			return "", fmt.Errorf("process table row %q: nobody may call %s", row.Step, m.Method)
		}
		name := methodText(rule, TableMethod{Show: m.Show})
		i := slices.IndexFunc(groups, func(g group) bool { return slices.Equal(g.roles, roles) })
		switch {
		case i < 0:
			groups = append(groups, group{methods: []string{name}, roles: roles})
		case !slices.Contains(groups[i].methods, name):
			groups[i].methods = append(groups[i].methods, name)
		}
	}
	parts := make([]string, len(groups))
	for i, g := range groups {
		parts[i] = row.roleWords(g.roles)
		if len(groups) > 1 {
			parts[i] = strings.Join(g.methods, ", ") + ": " + parts[i]
		}
	}
	return strings.Join(parts, "; "), nil
}

// when renders the gates of the row's steps (stepGates): one text when
// they agree, else each headed by its steps; a method that takes no step
// (intake) has none.
func (row TableRow) when() (string, error) {
	var texts []string
	heads := map[string][]string{}
	for _, m := range row.Methods {
		rule, _ := access.RuleFor(m.Method)
		if rule.Step == "" {
			continue
		}
		g, ok := stepGates[rule.Step]
		if !ok {
			return "", fmt.Errorf("process table row %q: step %s has no gate", row.Step, rule.Step)
		}
		text := g.String()
		if !slices.Contains(texts, text) {
			texts = append(texts, text)
		}
		if name := methodText(rule, TableMethod{}); !slices.Contains(heads[text], name) {
			heads[text] = append(heads[text], name)
		}
	}
	if len(texts) <= 1 {
		return strings.Join(texts, ""), nil
	}
	parts := make([]string, len(texts))
	for i, text := range texts {
		parts[i] = strings.Join(heads[text], ", ") + ": " + text
	}
	return strings.Join(parts, "; "), nil
}

// roleWords names roles in words, in the order of model.Roles but for the
// social work centre's supervisors, who come last on the responsible
// unit's steps since they act only for the city.
func (row TableRow) roleWords(roles []model.Role) string {
	var words, forCity []string
	for _, r := range roles {
		if row.Responsible && r == model.RoleHotlineSupervisor {
			forCity = append(forCity, "social work centre supervisor (for the city)")
			continue
		}
		words = append(words, strings.ToLower(strings.ReplaceAll(r.String(), "_", " ")))
	}
	return strings.Join(append(words, forCity...), ", ")
}
