package access_test

import (
	"os"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/childcase/childcase/internal/domain/access"
	"github.com/childcase/childcase/internal/domain/model"
)

// Every role has a row of its own, in the order of model.Roles, and may
// call at least one method; no row names a role that does not exist.
func TestRulesCoverEveryRole(t *testing.T) {
	rows := access.RoleRows()
	if len(rows) != len(model.Roles) {
		t.Errorf("%d role rows for %d roles", len(rows), len(model.Roles))
	}
	for i, r := range model.Roles {
		if i >= len(rows) || rows[i].Role != r {
			t.Errorf("role %s has no row (or not in the order of model.Roles)", r)
			continue
		}
		if rows[i].Column == "" || rows[i].Sees == "" {
			t.Errorf("role %s: row %+v says nothing", r, rows[i])
		}
		calls := 0
		for _, rule := range access.Rules() {
			if rule.Grant(r) != access.Refused {
				calls++
			}
		}
		if calls == 0 {
			t.Errorf("role %s may call no method", r)
		}
	}
	for _, rule := range access.Rules() {
		for _, list := range [][]model.Role{rule.Full, rule.Police, rule.Call} {
			for _, r := range list {
				if r.String() == "ROLE_UNKNOWN" {
					t.Errorf("%s grants unknown role %d", rule.Method, r)
				}
			}
		}
	}
}

var methodName = regexp.MustCompile(`^[A-Z][A-Za-z]*Service/[A-Z][A-Za-z]*$`)

// The rows are well formed: one per method, one per step, a role in at
// most one grant of a row, and the rules that keep case content where it
// belongs: only police liaisons get the police view, and they, auditors
// and admins never a full one.
func TestRulesAreWellFormed(t *testing.T) {
	methods, names, steps := map[string]bool{}, map[string]bool{}, map[string]bool{}
	for _, rule := range access.Rules() {
		if !methodName.MatchString(rule.Method) {
			t.Errorf("method %q is not Service/Method", rule.Method)
		}
		_, name, _ := strings.Cut(rule.Method, "/")
		if methods[rule.Method] || names[name] {
			// The README's table names methods without their service.
			t.Errorf("method %s has two rows, or its name another service's", rule.Method)
		}
		methods[rule.Method], names[name] = true, true
		if rule.Step != "" {
			if steps[rule.Step] {
				t.Errorf("step %s has two rows", rule.Step)
			}
			steps[rule.Step] = true
			if got, ok := access.StepRule(rule.Step); !ok || got.Method != rule.Method {
				t.Errorf("StepRule(%s) = %s, %v", rule.Step, got.Method, ok)
			}
		}
		if got, ok := access.RuleFor(rule.Method); !ok || got.Method != rule.Method {
			t.Errorf("RuleFor(%s) = %s, %v", rule.Method, got.Method, ok)
		}
		for _, r := range model.Roles {
			n := 0
			for _, list := range [][]model.Role{rule.Full, rule.Police, rule.Call} {
				for _, x := range list {
					if x == r {
						n++
					}
				}
			}
			if n > 1 {
				t.Errorf("%s grants %s %d times", rule.Method, r, n)
			}
			g := rule.Grant(r)
			switch {
			case g == access.Police && r != model.RolePoliceLiaison:
				t.Errorf("%s gives %s the police view", rule.Method, r)
			case g == access.Full && (r == model.RolePoliceLiaison || r == model.RoleAuditor || r == model.RoleAdmin):
				t.Errorf("%s gives %s case content", rule.Method, r)
			}
		}
		if len(rule.Roles()) == 0 {
			t.Errorf("%s has a row that allows nobody", rule.Method)
		}
	}
	if _, ok := access.RuleFor("CaseService/NoSuchMethod"); ok {
		t.Error("RuleFor found a method without a row")
	}
	if (access.Principal{Role: model.RoleCityOfficer}).May("CaseService/NoSuchMethod") {
		t.Error("a method without a row may be called")
	}
}

// Rules that matter most, pinned: who may record, disclose, read the
// police view, take a police step and run the system.
func TestRulesPinned(t *testing.T) {
	intakers := map[model.Role]access.Grant{
		model.RoleHotlineOperator: access.Full, model.RoleHotlineSupervisor: access.Full, model.RoleCommuneWorker: access.Full,
		model.RoleCommuneChair: access.Full, model.RoleDistrictOfficer: access.Full, model.RoleCityOfficer: access.Full,
	}
	readers := map[model.Role]access.Grant{model.RolePoliceLiaison: access.Police}
	for r, g := range intakers {
		readers[r] = g
	}
	searchers := map[model.Role]access.Grant{
		model.RoleHotlineOperator: access.Candidates, model.RoleHotlineSupervisor: access.Candidates, model.RoleCommuneWorker: access.Full,
		model.RoleCommuneChair: access.Full, model.RoleDistrictOfficer: access.Full, model.RoleCityOfficer: access.Full,
	}
	tests := []struct {
		method string
		want   map[model.Role]access.Grant // every other role is refused
	}{
		{"CaseService/SearchCases", searchers},
		{"ReportService/CreateReport", readers}, // the police record reports they receive (Art. 25(1))
		{"ReportService/ListReports", intakers},
		{"ReportService/DiscloseReporter", map[model.Role]access.Grant{model.RoleHotlineSupervisor: access.Full, model.RoleCityOfficer: access.Full}},
		{"CaseService/GetCase", readers},
		{"CaseProcessService/WatchEvents", readers},
		{"CaseProcessService/ListCaseEvents", intakers},
		{"CaseProcessService/ReferCaseToPolice", intakers},
		// The city runs the cases it holds, the social work centre's
		// supervisors acting as its workers; a district the cases handed
		// to it, whose ACKNOWLEDGE it must meet
		// (TestDistrictHoldingACaseTakesItsSteps).
		{"CaseProcessService/AcknowledgeCase", map[model.Role]access.Grant{model.RoleCommuneWorker: access.Full, model.RoleCommuneChair: access.Full,
			model.RoleDistrictOfficer: access.Full, model.RoleCityOfficer: access.Full, model.RoleHotlineSupervisor: access.Full}},
		{"CaseProcessService/ApproveClosure", map[model.Role]access.Grant{model.RoleCommuneChair: access.Full, model.RoleDistrictOfficer: access.Full, model.RoleCityOfficer: access.Full}},
		// A merge decides a second case, which a district may not hold.
		{"CaseProcessService/MergeCase", map[model.Role]access.Grant{model.RoleCommuneChair: access.Full, model.RoleCityOfficer: access.Full}},
		{"CaseProcessService/ReassignCase", map[model.Role]access.Grant{model.RoleDistrictOfficer: access.Full, model.RoleCityOfficer: access.Full}},
		{"CaseProcessService/RecordPoliceOutcome", map[model.Role]access.Grant{model.RolePoliceLiaison: access.Police}},
		{"AdminService/BackupDatabase", map[model.Role]access.Grant{model.RoleAdmin: access.Call}},
		{"AuditService/VerifyAuditLog", map[model.Role]access.Grant{model.RoleAuditor: access.Call}},
	}
	for _, tt := range tests {
		for _, r := range append([]model.Role{0}, model.Roles...) {
			if got := (access.Principal{Role: r}).Grant(tt.method); got != tt.want[r] {
				t.Errorf("%s as %s: %q, want %q", tt.method, r, got, tt.want[r])
			}
		}
	}
	for _, r := range model.Roles {
		if !(access.Principal{Role: r}).May("UnitService/ListUnits") {
			t.Errorf("%s may not read the units", r)
		}
	}
}

// The README's tables of who may do what are the table's: a change of a
// rule shows in the README, or this test fails with the tables to paste.
func TestREADMERoleTable(t *testing.T) {
	readme, err := os.ReadFile("../../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	want := access.RoleTable()
	if !strings.Contains(string(readme), want) {
		t.Errorf("README.md's tables under \"Who sees what\" differ from access's table; replace them with:\n\n%s", want)
	}
}

// The second factor is needed by the roles that may disclose a reporter,
// those that see every case, and those that may make another person's
// credentials or take a backup: today hotline supervisors, city officers
// and admins. An admin signed in with a password alone could otherwise
// reset a city officer's password, or make them a token, and read every
// case. A change to the table that changes the set fails here first.
func TestNeedsSecondFactorPinned(t *testing.T) {
	var got []string
	for _, r := range model.Roles {
		if access.NeedsSecondFactor(r) {
			got = append(got, r.String())
		}
	}
	want := []string{model.RoleHotlineSupervisor.String(), model.RoleCityOfficer.String(), model.RoleAdmin.String()}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("roles needing a second factor = %v, want %v", got, want)
	}
}

// TestREADMENamesTheSecondFactorRoles: the README's "Signing in to the
// console" names the roles that need a second factor as the table gives
// them, so that a change of the table shows there or fails here.
func TestREADMENamesTheSecondFactorRoles(t *testing.T) {
	readme, err := os.ReadFile("../../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	want := "today " + access.SecondFactorRoles() + "."
	if !strings.Contains(strings.Join(strings.Fields(string(readme)), " "), want) {
		t.Errorf("README.md's \"A second factor\" does not name the roles that need one; it should say %q", want)
	}
}

func TestWorksUnitQueues(t *testing.T) {
	for role, want := range map[model.Role]bool{
		model.RoleHotlineOperator:   false,
		model.RoleAuditor:           false,
		model.RoleAdmin:             false,
		model.RoleHotlineSupervisor: false,
		model.RoleCommuneWorker:     true,
		model.RolePoliceLiaison:     true,
		model.RoleDistrictOfficer:   true,
	} {
		if got := access.WorksUnitQueues(role); got != want {
			t.Errorf("WorksUnitQueues(%s) = %v, want %v", role, got, want)
		}
	}
}

// TestQueuesARoleCanHave: only city officers hold the queue of cases
// awaiting a successor (InQueue), only the roles that decide transfers
// are ever offered one, and a role that works no unit queues has none.
func TestQueuesARoleCanHave(t *testing.T) {
	all := []access.Queue{access.QueueMyUnitOpen, access.QueueOverdue, access.QueueAwaitingMyAccept, access.QueueAwaitingSuccessor}
	for role, want := range map[model.Role][]access.Queue{
		model.RoleHotlineOperator: nil,
		model.RoleAuditor:         nil,
		model.RoleAdmin:           nil,
		// A supervisor's unit is an organisation (orgs/...), which is never
		// responsible for a case nor meets or is escalated a clock: the
		// cases the social work centre works for the city are the city's.
		model.RoleHotlineSupervisor: nil,
		model.RolePoliceLiaison:     {access.QueueMyUnitOpen, access.QueueOverdue},
		model.RoleCommuneWorker:     {access.QueueMyUnitOpen, access.QueueOverdue, access.QueueAwaitingMyAccept},
		model.RoleCommuneChair:      {access.QueueMyUnitOpen, access.QueueOverdue, access.QueueAwaitingMyAccept},
		model.RoleDistrictOfficer:   {access.QueueMyUnitOpen, access.QueueOverdue, access.QueueAwaitingMyAccept},
		model.RoleCityOfficer:       all,
	} {
		var got []access.Queue
		for _, q := range all {
			if access.HasQueue(role, q) {
				got = append(got, q)
			}
		}
		if !slices.Equal(got, want) {
			t.Errorf("%s can have queues %v, want %v", role, got, want)
		}
	}
}

// TestAllRulesYieldsTheTable: AllRules, which the per-request paths read,
// yields the rows Rules returns, in order, and stops when asked to.
func TestAllRulesYieldsTheTable(t *testing.T) {
	if got, want := slices.Collect(access.AllRules()), access.Rules(); !reflect.DeepEqual(got, want) {
		t.Errorf("AllRules yields %d rows, Rules has %d, or they differ", len(got), len(want))
	}
	n := 0
	for range access.AllRules() {
		n++
		if n == 2 {
			break
		}
	}
	if n != 2 {
		t.Errorf("AllRules yielded %d rows after a break at the second", n)
	}
}
