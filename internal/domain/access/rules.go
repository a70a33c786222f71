package access

import (
	"fmt"
	"iter"
	"slices"
	"strings"

	"github.com/childcase/childcase/internal/domain/model"
	"github.com/childcase/childcase/internal/domain/units"
)

// The one table of who may do what. Every public method of the API has a
// row: the roles that may call it and what each gets back; a method that
// takes a step of the case process names the step, and the engine takes
// the step's roles from the same row. The transport's method rules, the
// access matrix test and the README's role table are all derived from it,
// so a rule lives here and nowhere else. A method without a row is refused
// to everyone.
//
// To add a method, add its row. To add a role, add it to model.Roles, give
// it a row in roleRows, put it in the rows of the methods it may call, and
// teach Policy.CaseView its scope; TestRulesCoverEveryRole fails until it
// has a row.

// Grant is what a role gets from a method.
type Grant int

const (
	// Refused: the role may not call the method (PermissionDenied).
	Refused Grant = iota
	// Call: the role may call the method; its answers carry no case
	// content (units, users, tokens, the audit log).
	Call
	// Police: the role may call the method on the cases referred to its
	// police unit, and gets them only in the police view (see PoliceView).
	Police
	// Full: the role may call the method on the records of its scope and
	// gets them whole (the reporter's identity aside).
	Full
	// Candidates: as Full within the role's scope, and beyond it, across
	// the caller's organisation, the candidate view (CandidateView): that
	// a case exists and enough to join it, never a name or a narrative.
	// Hotline staff searching for a child get it, so that a second call
	// finds the case another operator opened.
	Candidates
)

// String names a grant as the README's table shows it.
func (g Grant) String() string {
	switch g {
	case Call:
		return "yes"
	case Police:
		return "police view"
	case Full:
		return "full"
	case Candidates:
		return "full; candidates in organisation"
	}
	return ""
}

// View is the view of a case a grant allows: ViewNone for a refusal or a
// method whose answers carry no case.
func (g Grant) View() CaseView {
	switch g {
	case Police:
		return ViewPolice
	case Full, Candidates:
		return ViewFull
	}
	return ViewNone
}

// Rule is one row of the table: a method, the step it takes if any, and
// the roles allowed to call it by what they get. A role is in at most one
// of Full, Candidates, Police and Call.
type Rule struct {
	// Method is the service and method as the API names them,
	// "CaseService/GetCase"; the transport adds the package.
	Method string
	// Step is the case-process step the method takes ("" for none); the
	// audit action of the step is "case."+Step.
	Step string
	// Full, Candidates, Police and Call are the roles allowed, by what
	// they get.
	Full, Candidates, Police, Call []model.Role
}

// Grant returns what role gets from the rule's method.
func (r Rule) Grant(role model.Role) Grant {
	switch {
	case slices.Contains(r.Full, role):
		return Full
	case slices.Contains(r.Candidates, role):
		return Candidates
	case slices.Contains(r.Police, role):
		return Police
	case slices.Contains(r.Call, role):
		return Call
	}
	return Refused
}

// Roles returns the roles allowed to call the rule's method, in the order
// of model.Roles.
func (r Rule) Roles() []model.Role {
	var out []model.Role
	for _, role := range model.Roles {
		if r.Grant(role) != Refused {
			out = append(out, role)
		}
	}
	return out
}

// Role sets the rows are written with.
var (
	// intakers record reports, read them and refer cases to the police.
	intakers = []model.Role{
		model.RoleHotlineOperator, model.RoleHotlineSupervisor, model.RoleCommuneWorker,
		model.RoleCommuneChair, model.RoleDistrictOfficer, model.RoleCityOfficer,
	}
	// hotline staff take the calls; nonHotlineIntakers are the other
	// intakers.
	hotline            = []model.Role{model.RoleHotlineOperator, model.RoleHotlineSupervisor}
	nonHotlineIntakers = []model.Role{model.RoleCommuneWorker, model.RoleCommuneChair, model.RoleDistrictOfficer, model.RoleCityOfficer}
	// disclosers may ask for a reporter's identity, with a reason.
	disclosers = []model.Role{model.RoleHotlineSupervisor, model.RoleCityOfficer}
	// The step roles below are a commune's; each step is taken by the
	// unit responsible for the case: a commune, or a level above it for a
	// case it holds, handed up to it (a district, until 2025-06-30, for
	// services its commune cannot provide) or left to it by a reform (the
	// city). Such a level runs the case in full, its officer deciding in
	// the chair's place, as the city's does; otherwise the acceptance of a
	// hand-over would start an ACKNOWLEDGE nobody at the holding unit may
	// meet. The social work centre's hotline supervisors run a case the
	// city holds for it as its workers (Policy.ActsFor decides whether the
	// caller's unit may act for the case's).
	//
	// communeStaff acknowledge a forwarded case.
	communeStaff = []model.Role{model.RoleCommuneWorker, model.RoleCommuneChair, model.RoleDistrictOfficer, model.RoleCityOfficer, model.RoleHotlineSupervisor}
	// communeWorkers assess, plan, follow up and review.
	communeWorkers = []model.Role{model.RoleCommuneWorker, model.RoleDistrictOfficer, model.RoleCityOfficer, model.RoleHotlineSupervisor}
	// communeChairs decide emergency measures, separation, plan approval
	// and closure, and name the case's responsible officer.
	communeChairs = []model.Role{model.RoleCommuneChair, model.RoleDistrictOfficer, model.RoleCityOfficer}
	// mergers decide which case a child has: a commune's chair, or the
	// city for cases of two communes. A district takes a case's steps
	// only while it holds the case; a merge decides a second case too,
	// which the district may not hold.
	mergers = []model.Role{model.RoleCommuneChair, model.RoleCityOfficer}
	// reassigners are the levels above the commune, which send a case of a
	// unit below them (or of a unit no longer in force) to a commune.
	reassigners = []model.Role{model.RoleDistrictOfficer, model.RoleCityOfficer}
	// handlers hand cases over, decide on transfers, add notes and pause
	// their unit's deadlines.
	handlers = []model.Role{model.RoleCommuneWorker, model.RoleCommuneChair, model.RoleDistrictOfficer, model.RoleCityOfficer}
	// police take the police steps and read the police view.
	police = []model.Role{model.RolePoliceLiaison}
	// admins manage users, tokens, police units and keys.
	admins = []model.Role{model.RoleAdmin}
	// statsReaders read the statistics of their scope.
	statsReaders = []model.Role{model.RoleHotlineSupervisor, model.RoleCommuneWorker, model.RoleCommuneChair, model.RoleDistrictOfficer, model.RoleCityOfficer}
	// supervisors oversee the work of their scope, and may take lists of
	// its cases away as files (exports).
	supervisors = []model.Role{model.RoleHotlineSupervisor, model.RoleCommuneChair, model.RoleDistrictOfficer, model.RoleCityOfficer}
	// auditors read and verify the audit log.
	auditors = []model.Role{model.RoleAuditor}
)

// rules is the table, one row per method.
var rules = []Rule{
	// The police may record a report they received directly (Decree 56
	// Art. 25(1)); they get a receipt, never the report.
	{Method: "ReportService/CreateReport", Full: intakers, Police: police},
	{Method: "ReportService/GetReport", Full: intakers},
	{Method: "ReportService/ListReports", Full: intakers},
	{Method: "ReportService/LinkReport", Full: intakers},
	{Method: discloseMethod, Full: disclosers},

	{Method: "CaseService/GetCase", Full: intakers, Police: police},
	{Method: "CaseService/ListCases", Full: intakers, Police: police},
	// Hotline staff search across their organisation, in the candidate
	// view beyond their scope; the police do not search (they get the
	// cases referred to them).
	{Method: "CaseService/SearchCases", Full: nonHotlineIntakers, Candidates: hotline},
	{Method: "CaseService/ExportCases", Full: supervisors},

	{Method: "CaseProcessService/AcknowledgeCase", Step: "acknowledge", Full: communeStaff},
	{Method: "CaseProcessService/RecordInitialAssessment", Step: "recordInitialAssessment", Full: communeWorkers},
	{Method: "CaseProcessService/RecordEmergencyMeasures", Step: "recordEmergencyMeasures", Full: communeChairs},
	{Method: "CaseProcessService/StartSeparation", Step: "startSeparation", Full: communeChairs},
	{Method: "CaseProcessService/EndSeparation", Step: "endSeparation", Full: communeChairs},
	{Method: "CaseProcessService/ExtendSeparation", Step: "extendSeparation", Full: communeChairs},
	{Method: "CaseProcessService/PetitionCourt", Step: "petitionCourt", Full: communeChairs},
	{Method: "CaseProcessService/RecordCourtDecision", Step: "recordCourtDecision", Full: communeChairs},
	{Method: "CaseProcessService/RecordCareFollowUp", Step: "recordCareFollowUp", Full: communeWorkers},
	{Method: "CaseProcessService/RecordSpecificAssessment", Step: "recordSpecificAssessment", Full: communeWorkers},
	{Method: "CaseProcessService/SubmitPlan", Step: "submitPlan", Full: communeWorkers},
	{Method: "CaseProcessService/ApprovePlan", Step: "approvePlan", Full: communeChairs},
	{Method: "CaseProcessService/ReturnPlan", Step: "returnPlan", Full: communeChairs},
	{Method: "CaseProcessService/RecordServiceProgress", Step: "recordServiceProgress", Full: communeWorkers},
	{Method: "CaseProcessService/StartReview", Step: "startReview", Full: communeWorkers},
	{Method: "CaseProcessService/RecordReview", Step: "recordReview", Full: communeWorkers},
	{Method: "CaseProcessService/ApproveClosure", Step: "approveClosure", Full: communeChairs},
	{Method: "CaseProcessService/ReopenCase", Step: "reopen", Full: communeChairs},
	{Method: "CaseProcessService/AddCaseNote", Step: "addNote", Full: handlers},
	{Method: "CaseProcessService/ProposeTransfer", Step: "proposeTransfer", Full: handlers},
	{Method: "CaseProcessService/AcceptTransfer", Step: "acceptTransfer", Full: handlers},
	{Method: "CaseProcessService/DeclineTransfer", Step: "declineTransfer", Full: handlers},
	{Method: "CaseProcessService/ReassignCase", Step: "reassign", Full: reassigners},
	{Method: "CaseProcessService/AssignCase", Step: "assign", Full: communeChairs},
	// Who a case's officer may be is asked by those who name them.
	{Method: "CaseProcessService/ListAssignableOfficers", Full: communeChairs},
	// Merging two cases of one child decides which case the child has:
	// the chair's decision, or the city's for cases of two communes.
	{Method: "CaseProcessService/MergeCase", Step: "merge", Full: mergers},
	{Method: "CaseProcessService/ReferCaseToPolice", Step: "referToPolice", Full: intakers},
	{Method: "CaseProcessService/AcknowledgePoliceReferral", Step: "acknowledgePoliceReferral", Police: police},
	{Method: "CaseProcessService/RecordPoliceForwarding", Step: "recordPoliceForwarding", Police: police},
	{Method: "CaseProcessService/RecordPoliceOutcome", Step: "recordPoliceOutcome", Police: police},
	{Method: "CaseProcessService/ExtendPoliceDeadline", Step: "extendPoliceDeadline", Police: police},
	{Method: "CaseProcessService/SuspendPoliceDeadline", Step: "suspendPoliceDeadline", Police: police},
	{Method: "CaseProcessService/ResumePoliceDeadline", Step: "resumePoliceDeadline", Police: police},
	{Method: "CaseProcessService/PauseDeadline", Step: "pauseDeadline", Full: handlers},
	{Method: "CaseProcessService/ResumeDeadline", Step: "resumeDeadline", Full: handlers},
	{Method: "CaseProcessService/ListCaseEvents", Full: intakers},
	{Method: "CaseProcessService/WatchEvents", Full: intakers, Police: police},

	// Statistics count the cases of the caller's scope, never name one:
	// the supervising levels and the communes account for their own. The
	// police are refused: their referrals are counted in the city's and
	// the units' figures, and a count of a few referrals could point at a
	// child. Hotline operators see only their own reports, not a unit's.
	{Method: "StatisticsService/GetStatistics", Full: statsReaders},
	// The reports units file are made of the same counts, for the same
	// roles; a report that leaves the city level withholds small counts.
	{Method: "StatisticsService/GetActionMonthReport", Full: statsReaders},
	{Method: "StatisticsService/GetPeriodicReport", Full: statsReaders},

	{Method: "UnitService/ListUnits", Call: model.Roles},
	{Method: "UnitService/GetUnit", Call: model.Roles},
	{Method: "PoliceUnitService/ListPoliceUnits", Call: model.Roles},
	{Method: "PoliceUnitService/GetPoliceUnit", Call: model.Roles},

	{Method: "AdminService/CreateUser", Call: admins},
	{Method: "AdminService/GetUser", Call: admins},
	{Method: "AdminService/ListUsers", Call: admins},
	{Method: "AdminService/DisableUser", Call: admins},
	{Method: "AdminService/ResetPassword", Call: admins},
	{Method: "AdminService/CreateToken", Call: admins},
	{Method: "AdminService/ListTokens", Call: admins},
	{Method: "AdminService/RevokeToken", Call: admins},
	{Method: "AdminService/CreatePoliceUnit", Call: admins},
	{Method: "AdminService/RotateMasterKey", Call: admins},
	{Method: "AdminService/BackupDatabase", Call: admins},

	{Method: "AuditService/ListAuditEvents", Call: auditors},
	{Method: "AuditService/VerifyAuditLog", Call: auditors},
}

// RoleRow is a role's row of the README's table: what its scope is.
type RoleRow struct {
	Role model.Role
	// Column heads the role's column in the table of methods.
	Column string
	// Sees says which records are in the role's scope (Policy.CaseView
	// and CanSeeReport decide it).
	Sees string
	// EveryCase is set when the role's scope is every case of the city
	// (Policy.Scope answers all).
	EveryCase bool
	// UnitQueues is set when the role's people work their unit's queues:
	// their unit is responsible for cases, is handed them or is offered
	// them (WorksUnitQueues).
	UnitQueues bool
}

// roleRows has a row for every role, in the order of model.Roles.
var roleRows = []RoleRow{
	{model.RoleHotlineOperator, "operator", "the reports they took, and the cases those reports opened or joined; a search also shows them the candidate view (number, status, unit, the children's age and sex, the last change) of their organisation's other cases", false, false},
	// A supervisor's unit is their organisation, which no case is the
	// responsibility of and no clock is met by or escalated to (the cases
	// the social work centre works for the city are in the city's
	// queues): they follow the cases of their scope, as operators do.
	{model.RoleHotlineSupervisor, "supervisor", "every report of their organisation (hotline 111 or the social work centre) and their cases; at the social work centre, which acts for the city, also the cases the city holds, whose worker steps they take", false, false},
	{model.RoleCommuneWorker, "commune worker", "cases their commune is or was responsible for, or was handed, or is offered by a transfer awaiting its decision, or inherits from a commune it wholly succeeds in a reform, and their reports", false, true},
	{model.RoleCommuneChair, "commune chair", "cases their commune is or was responsible for, or was handed, or is offered by a transfer awaiting its decision, or inherits from a commune it wholly succeeds in a reform, and their reports", false, true},
	{model.RoleDistrictOfficer, "district", "cases of the district's communes and those escalated, handed or offered by a transfer awaiting its decision to the district; takes every step of a case the district holds", false, true},
	{model.RoleCityOfficer, "city", "every case and its reports; takes every step of a case the city holds", true, true},
	{model.RolePoliceLiaison, "police", "only cases referred to their police unit (or opened by a report they recorded), or whose police clock was escalated to it, or a late record of whose forwarding it was told of (the city police, with that unit's referral and the clocks escalated), and only the police view: number, status, whether it is an emergency, dates, forms of abuse, the children's age and sex, the commune, the responsible officer's contact, the numbers of cases merged into it and their own police track; never reports, narratives or the reporter", false, true},
	{model.RoleAuditor, "auditor", "the audit log (who did what to which record), no case content", false, false},
	{model.RoleAdmin, "admin", "users, tokens, police units, the master key and database backups (with the data sealed), no case content", false, false},
}

// discloseMethod is the method that discloses a reporter's identity.
const discloseMethod = "ReportService/DiscloseReporter"

// secondFactorMethods are the methods besides disclosure whose callers
// need a second factor: those that hand the caller another person's
// credentials (a new user's first token, a token, a set-password link,
// which also sets the second factor) and so let them act as anyone, a
// city officer included, and the backup, which takes every record away.
// Without the factor, the weakest credential (an admin's password) would
// guard the strongest power.
var secondFactorMethods = []string{
	discloseMethod,
	"AdminService/CreateUser",
	"AdminService/ResetPassword",
	"AdminService/CreateToken",
	"AdminService/BackupDatabase",
}

// NeedsSecondFactor reports whether a person of role must sign in to the
// console with a second factor: the roles that may disclose a reporter,
// make another person's credentials or take a backup
// (secondFactorMethods), and those whose scope is every case. All come
// from the table, so a role given any of these powers needs the factor
// with no second list of roles to edit.
func NeedsSecondFactor(role model.Role) bool {
	for _, m := range secondFactorMethods {
		if r, ok := RuleFor(m); ok && r.Grant(role) != Refused {
			return true
		}
	}
	i := slices.IndexFunc(roleRows, func(r RoleRow) bool { return r.Role == role })
	return i >= 0 && roleRows[i].EveryCase
}

// SecondFactorRoles returns the roles that need a second factor, in the
// order of model.Roles, as the README names them ("`HOTLINE_SUPERVISOR`,
// `CITY_OFFICER` and `ADMIN`").
func SecondFactorRoles() string {
	var names []string
	for _, r := range model.Roles {
		if NeedsSecondFactor(r) {
			names = append(names, "`"+r.String()+"`")
		}
	}
	return JoinAnd(names)
}

// JoinAnd joins words as a sentence lists them: "a", "a and b",
// "a, b and c".
func JoinAnd(words []string) string {
	if len(words) < 2 {
		return strings.Join(words, "")
	}
	return strings.Join(words[:len(words)-1], ", ") + " and " + words[len(words)-1]
}

// WorksUnitQueues reports whether a role's people work their unit's
// queues of cases (ListCases' work queues); those of a role that does not
// (a hotline operator, whose unit is responsible for no case) follow the
// cases of their scope instead.
func WorksUnitQueues(role model.Role) bool {
	i := slices.IndexFunc(roleRows, func(r RoleRow) bool { return r.Role == role })
	return i >= 0 && roleRows[i].UnitQueues
}

// Rules returns the table, one row per method.
func Rules() []Rule { return slices.Clone(rules) }

// AllRules yields the table's rows in order without copying the table as
// Rules does: for what reads it on every request (the steps a case view
// offers read it whole, some 13 KB a call as a copy).
func AllRules() iter.Seq[Rule] {
	return func(yield func(Rule) bool) {
		for _, r := range rules {
			if !yield(r) {
				return
			}
		}
	}
}

// RoleRows returns the roles' rows, in the order of model.Roles.
func RoleRows() []RoleRow { return slices.Clone(roleRows) }

// RuleFor returns the row of a method, "CaseService/GetCase".
func RuleFor(method string) (Rule, bool) {
	return findRule(func(r Rule) bool { return r.Method == method })
}

// StepRule returns the row of the method that takes a process step.
func StepRule(step string) (Rule, bool) {
	return findRule(func(r Rule) bool { return r.Step != "" && r.Step == step })
}

func findRule(match func(Rule) bool) (Rule, bool) {
	if i := slices.IndexFunc(rules, match); i >= 0 {
		return rules[i], true
	}
	return Rule{}, false
}

// Grant returns what p gets from method: Refused for a method without a
// row.
func (p Principal) Grant(method string) Grant {
	r, _ := RuleFor(method)
	return r.Grant(p.Role)
}

// May reports whether p's role may call method.
func (p Principal) May(method string) bool { return p.Grant(method) != Refused }

// MayKnowReporter reports whether p may learn who reported: only the
// roles that may disclose a reporter's identity (with a reason, audited).
// Anyone else must not even have a guess confirmed, such as a search that
// finds a case by the phone of the neighbour who called.
func (p Principal) MayKnowReporter() bool { return p.May(discloseMethod) }

// View returns how much of c p gets from method: what the table grants p's
// role, within what p's scope allows (CaseView).
func (pol *Policy) View(p Principal, method string, c model.Case) CaseView {
	return min(p.Grant(method).View(), pol.CaseView(p, c))
}

// SearchView returns how much of c p gets from a search (method): what
// View allows, or for a role granted Candidates the candidate view of a
// case beyond its scope that its organisation took a report for.
func (pol *Policy) SearchView(p Principal, method string, c model.Case) CaseView {
	if v := pol.View(p, method, c); v != ViewNone {
		return v
	}
	if p.Grant(method) == Candidates && slices.Contains(c.IntakeUnits, p.Unit) {
		return ViewCandidate
	}
	return ViewNone
}

// SearchScope returns the scope keys of the cases a search by p may show
// (SearchView): those of ListScope, and for a role granted Candidates its
// organisation's intake key, whose cases it sees in the candidate view;
// and, as ListScope's, the units whose held cases it may show (a social
// work centre's supervisor's, the city). all is true when p sees every
// case. A search keeps to them while it walks its ranking (the scope
// index and the index of cases by unit answer by key), so that cases out
// of p's scope, however many rank first, cost it no case read and cannot
// push p's own cases out of what it reads: through the city's handler
// key, every case escalated to the city would.
func (pol *Policy) SearchScope(p Principal, method string) (keys []string, held []units.Key, all bool) {
	keys, held, all = pol.ListScope(p)
	if all {
		return nil, nil, true
	}
	if p.Grant(method) == Candidates && p.Unit != "" {
		keys = append(slices.Clone(keys), scopeIntakeOrg+p.Unit)
		slices.Sort(keys)
		keys = slices.Compact(keys)
	}
	return keys, held, false
}

// CandidateView returns what the candidate view shows of c: its number,
// status, responsible commune, the children's age and sex, and its last
// change (the last contact on it); nothing of what was said or of whom.
func CandidateView(c model.Case) model.Case {
	return model.Case{
		Number:          c.Number,
		Status:          c.Status,
		ResponsibleUnit: c.ResponsibleUnit,
		Children:        slices.Clone(c.Children),
		UpdateTime:      c.UpdateTime,
	}
}

// Shape returns c as a principal gets it in view: whole, in the police
// view of their unit, or not at all (ok false).
func Shape(p Principal, view CaseView, c model.Case) (model.Case, bool) {
	switch view {
	case ViewFull:
		return c, true
	case ViewPolice:
		return PoliceView(c, p.Unit), true
	case ViewCandidate:
		return CandidateView(c), true
	}
	return model.Case{}, false
}

// RoleTable renders the README's tables of who may do what: each role's
// scope, then each method's grants by role.
func RoleTable() string {
	var b strings.Builder
	b.WriteString("| role | sees |\n|---|---|\n")
	for _, r := range roleRows {
		fmt.Fprintf(&b, "| `%s` | %s |\n", r.Role, r.Sees)
	}
	b.WriteString("\n| method |")
	for _, r := range roleRows {
		fmt.Fprintf(&b, " %s |", r.Column)
	}
	b.WriteString("\n|---|")
	b.WriteString(strings.Repeat("---|", len(roleRows)))
	b.WriteString("\n")
	for _, rule := range rules {
		_, name, _ := strings.Cut(rule.Method, "/")
		fmt.Fprintf(&b, "| `%s` |", name)
		for _, r := range roleRows {
			if g := rule.Grant(r.Role); g != Refused {
				fmt.Fprintf(&b, " %s |", g)
			} else {
				b.WriteString(" |")
			}
		}
		b.WriteString("\n")
	}
	return b.String()
}
