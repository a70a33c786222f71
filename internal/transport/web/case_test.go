package web

import (
	"strings"
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

// A stale edit lists what changed in the case's header in the page's
// language, as the rest of the page shows the same values: its deadlines
// by their names, its unit and police units by their names, referral and
// plan states in words; not the API's codes ("Thời hạn: ACKNOWLEDGE,
// POLICE_ACKNOWLEDGE → POLICE_ACKNOWLEDGE").
func TestStaleEditChangesInThePagesLanguage(t *testing.T) {
	c := testConsole(t)
	names := map[string]string{"units/00004@2025-07-01": "Phường Ba Đình", "policeUnits/ca-phuong-ba-dinh": "Công an phường Ba Đình"}
	unitName := func(n string) string {
		if v, ok := names[n]; ok {
			return v
		}
		return n
	}
	cs := &pb.Case{
		ResponsibleUnit: "units/00004@2025-07-01", PlanState: "SUBMITTED",
		PoliceReferrals: []*pb.PoliceReferral{{PoliceUnit: "policeUnits/ca-phuong-ba-dinh", State: "REFERRED"}},
		Deadlines:       []*pb.Deadline{{Kind: "ACKNOWLEDGE", State: "OPEN"}, {Kind: "POLICE_ACKNOWLEDGE", State: "OPEN"}},
	}
	for _, lang := range languages {
		for _, h := range headerOf(cs) {
			got := c.headerText(lang, h.Key, h.Value, unitName)
			for _, code := range []string{"ACKNOWLEDGE", "REFERRED", "SUBMITTED", "units/", "policeUnits/"} {
				if strings.Contains(got, code) {
					t.Errorf("%s: %s %q is shown as %q, with the API's %q", lang, h.Key, h.Value, got, code)
				}
			}
		}
		want := c.catalogs.text(lang, "deadline.ACKNOWLEDGE") + ", " + c.catalogs.text(lang, "deadline.POLICE_ACKNOWLEDGE")
		if got := c.headerText(lang, "case.deadlines", "ACKNOWLEDGE, POLICE_ACKNOWLEDGE", unitName); got != want {
			t.Errorf("%s: deadlines shown as %q, want %q", lang, got, want)
		}
		want = "Công an phường Ba Đình (" + c.catalogs.text(lang, "code.REFERRED") + ")"
		if got := c.headerText(lang, "case.referrals", "policeUnits/ca-phuong-ba-dinh REFERRED", unitName); got != want {
			t.Errorf("%s: referrals shown as %q, want %q", lang, got, want)
		}
	}
}
