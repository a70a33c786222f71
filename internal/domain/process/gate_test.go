package process_test

import (
	"slices"
	"testing"

	"github.com/childcase/childcase/internal/domain/access"
	"github.com/childcase/childcase/internal/domain/model"
	"github.com/childcase/childcase/internal/domain/process"
)

// Every step of access's table has a gate in the process table: the
// engine refuses a step without one.
func TestEveryStepHasAGate(t *testing.T) {
	for _, rule := range access.Rules() {
		if rule.Step == "" {
			continue
		}
		if _, ok := process.GateOf(rule.Step); !ok {
			t.Errorf("step %s (%s) has no gate in the process table", rule.Step, rule.Method)
		}
	}
}

// StepsAllowed offers a step in the stages of its gate, to the roles that
// may take it: the worker acknowledges a new case and nothing of the plan,
// the chair approves only a submitted plan, reopening only a closed case,
// and the police only the next step of their own unit's referral.
// (TestPropertyProcess checks StepsAllowed against the engine.)
func TestStepsAllowed(t *testing.T) {
	w := newWorld(t, loadEnv(t))
	defer w.close()
	worker, chair, police := principal("worker.badinh"), principal("chair.badinh"), principal("police.badinh")
	referred := []model.PoliceReferral{{PoliceUnit: policeCity, State: model.PoliceForwarded}, {PoliceUnit: policeLocal, State: model.PoliceReferred}}
	for _, tc := range []struct {
		name     string
		p        access.Principal
		c        model.Case
		want     []string
		wantNone []string
	}{
		{"worker, new case", worker, model.Case{Status: model.StatusAwaitingAcknowledgement},
			[]string{"acknowledge", "addNote", "proposeTransfer", "referToPolice"},
			[]string{"recordInitialAssessment", "submitPlan", "recordReview", "startReview", "reopen"}},
		{"worker, acknowledged", worker, model.Case{Status: model.StatusInitialAssessment},
			[]string{"recordInitialAssessment"}, []string{"acknowledge", "recordSpecificAssessment"}},
		{"worker, plan draft", worker, model.Case{Status: model.StatusPlanning, PlanState: model.PlanDraft},
			[]string{"submitPlan"}, []string{"approvePlan"}},
		{"worker, plan submitted", worker, model.Case{Status: model.StatusPlanning, PlanState: model.PlanSubmitted},
			nil, []string{"submitPlan", "approvePlan", "returnPlan"}},
		{"chair, plan draft", chair, model.Case{Status: model.StatusPlanning, PlanState: model.PlanDraft},
			[]string{"approveClosure"}, []string{"approvePlan", "returnPlan", "submitPlan"}},
		{"chair, plan submitted", chair, model.Case{Status: model.StatusPlanning, PlanState: model.PlanSubmitted},
			[]string{"approvePlan", "returnPlan"}, nil},
		{"chair, closed", chair, model.Case{Status: model.StatusClosed},
			[]string{"reopen", "addNote"}, []string{"approveClosure", "approvePlan", "startSeparation", "pauseDeadline"}},
		{"police, their referral referred", police, model.Case{Status: model.StatusReview, PoliceReferrals: referred},
			[]string{"acknowledgePoliceReferral"}, []string{"recordPoliceForwarding", "recordPoliceOutcome", "recordReview", "addNote"}},
		{"police, no referral of theirs", police, model.Case{Status: model.StatusReview, PoliceReferrals: referred[:1]},
			nil, []string{"acknowledgePoliceReferral", "recordPoliceOutcome"}},
	} {
		tc.c.ResponsibleUnit = baDinh
		got := w.eng.StepsAllowed(tc.p, tc.c, nil)
		for _, s := range tc.want {
			if !slices.Contains(got, s) {
				t.Errorf("%s: StepsAllowed = %v, want %s in it", tc.name, got, s)
			}
		}
		for _, s := range tc.wantNone {
			if slices.Contains(got, s) {
				t.Errorf("%s: StepsAllowed = %v, want no %s", tc.name, got, s)
			}
		}
		if tc.p.Role == model.RolePoliceLiaison && tc.want == nil && len(got) != 0 {
			t.Errorf("%s: StepsAllowed = %v, want none", tc.name, got)
		}
	}
}
