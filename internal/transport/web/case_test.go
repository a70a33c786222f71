package web

import (
	"testing"

	"google.golang.org/protobuf/reflect/protoreflect"

	pb "github.com/childcase/childcase/api/childcase/v1"
	"github.com/childcase/childcase/internal/domain/model"
)

// caseKeys are the catalog keys the case page builds: a name for every
// step of CaseProcessService, every field of their requests and of the
// case (forms and the parts shown are rendered from the messages), every
// value of their enums, every clock and deadline state, and the texts the
// handlers pick.
func caseKeys() []string {
	keys := []string{"case.title", "case.saved", "case.stale", "case.refused", "case.referrals", "case.transfers", "case.services", "case.dossier",
		"form.fix", "form.bad.datetime", "form.bad.choice", "form.bad.number", "yes", "no"}
	for _, h := range headerOf(&pb.Case{}) {
		keys = append(keys, h.Key)
	}
	seen := map[protoreflect.FullName]bool{}
	var walk func(md protoreflect.MessageDescriptor)
	walk = func(md protoreflect.MessageDescriptor) {
		if seen[md.FullName()] || md.FullName() == "google.protobuf.Timestamp" {
			return
		}
		seen[md.FullName()] = true
		for i := range md.Fields().Len() {
			fd := md.Fields().Get(i)
			keys = append(keys, "field."+string(fd.Name()))
			if ed := fd.Enum(); ed != nil {
				for j := range ed.Values().Len() {
					keys = append(keys, "enum."+string(ed.Values().Get(j).Name()))
				}
			}
			if fd.Message() != nil {
				walk(fd.Message())
			}
		}
	}
	for _, m := range caseSteps() {
		keys = append(keys, "step."+string(m.Name()))
		walk(m.Input())
	}
	walk((&pb.Case{}).ProtoReflect().Descriptor())
	for _, k := range []model.ClockKind{model.ClockHours, model.ClockCalendarDays, model.ClockWorkingDays} {
		keys = append(keys, "clock."+string(k))
	}
	for _, s := range []model.DeadlineState{model.DeadlineOpen, model.DeadlineMet, model.DeadlineMissed, model.DeadlineCancelled} {
		keys = append(keys, "dstate."+string(s))
	}
	return keys
}

// TestCaseKeysInCatalogs: every key the case page builds is in the
// catalogs (TestCatalogsHaveTheSameKeys checks every language has it).
func TestCaseKeysInCatalogs(t *testing.T) {
	cats, err := loadCatalogs(files)
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range caseKeys() {
		if _, ok := cats["vi"][k]; !ok {
			t.Errorf("no catalog text for %q", k)
		}
	}
}

// TestCaseStepsAreTheAPIs: the forms cover every step method of the API,
// and only those.
func TestCaseStepsAreTheAPIs(t *testing.T) {
	steps := map[string]bool{}
	for _, m := range caseSteps() {
		steps[string(m.Name())] = true
	}
	for _, want := range []string{"AcknowledgeCase", "RecordInitialAssessment", "RecordSpecificAssessment", "SubmitPlan", "ApprovePlan",
		"ReturnPlan", "AcknowledgePoliceReferral", "RecordPoliceForwarding", "RecordPoliceOutcome", "ExtendPoliceDeadline"} {
		if !steps[want] {
			t.Errorf("no form for the step %s", want)
		}
	}
	for _, not := range []string{"ListCaseEvents", "WatchEvents"} {
		if steps[not] {
			t.Errorf("%s is offered as a step", not)
		}
	}
}
