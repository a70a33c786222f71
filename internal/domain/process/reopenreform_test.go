package process_test

import (
	"slices"
	"testing"
	"time"

	"github.com/childcase/childcase/internal/domain/access"
	"github.com/childcase/childcase/internal/domain/model"
	"github.com/childcase/childcase/internal/domain/process"
	"github.com/childcase/childcase/internal/domain/vntime"
)

// closedBeforeTheReform opens a case in commune code on Fri 20 June 2025
// (a commune of the 2025-01-01 set), closes it that day as its chair, and
// sets the clock to Mon 2 March 2026, after the districts and that set
// of communes ended.
func (w *world) closedBeforeTheReform(t *testing.T, code string) model.Case {
	t.Helper()
	c := w.reportIn(t, code, time.Date(2025, 6, 20, 9, 0, 0, 0, vntime.Location()), false, model.AbuseNeglect, "")
	chair := access.Principal{UserID: "chair.old", Role: model.RoleCommuneChair, Unit: "units/" + code + "@2025-01-01"}
	c = stepOK(t)(w.eng.ApproveClosure(w.ctx, chair, process.Request{Case: "cases/" + c.Number, Etag: c.Etag()},
		process.Closure{Ground: model.ClosureMovedAway, Reason: "gia đình chuyển đi"}))
	w.clk.Set(start)
	return c
}

// A case closed in Phường Trúc Bạch before the 2025 reform, reopened in
// 2026 on new information, reopens with Phường Ba Đình, which succeeds
// Trúc Bạch one to one: Ba Đình's chair reopens it and its worker takes
// the next step. Before, only the responsible unit, Trúc Bạch, could
// reopen it, and Trúc Bạch no longer exists.
func TestReopenAfterTheReformGoesToTheSuccessor(t *testing.T) {
	w := newWorldAt(t, loadEnv(t), time.Date(2025, 6, 20, 9, 0, 0, 0, vntime.Location()))
	defer w.close()
	c := w.closedBeforeTheReform(t, "00004")
	name := "cases/" + c.Number
	old := access.Principal{UserID: "chair.old", Role: model.RoleCommuneChair, Unit: "units/00004@2025-01-01"}
	// Offered to Ba Đình's chair only: Trúc Bạch's and the city's, who
	// see the case, are refused it (allowed_steps offers only what the
	// engine takes).
	wantOffered(t, w, "reopen", c, map[string]access.Principal{"Ba Đình's chair": principal("chair.badinh")},
		map[string]access.Principal{"Trúc Bạch's chair": old, "a city officer": principal("city")})
	_, err := w.eng.Reopen(w.ctx, old, process.Request{Case: name, Etag: c.Etag()}, "tin mới")
	wantPrecondition(t, err, "NOT_RESPONSIBLE_UNIT")
	_, err = w.eng.Reopen(w.ctx, principal("city"), process.Request{Case: name, Etag: c.Etag()}, "tin mới")
	wantPrecondition(t, err, "NOT_RESPONSIBLE_UNIT")

	c = stepOK(t)(w.eng.Reopen(w.ctx, principal("chair.badinh"), process.Request{Case: name, Etag: c.Etag()}, "hàng xóm báo trẻ lại bị bỏ mặc"))
	if got := "units/" + c.ResponsibleUnit.String(); got != unitBaDinh || c.Status != model.StatusInitialAssessment || c.AwaitingSuccessor {
		t.Fatalf("reopened: responsible %s, status %v, awaiting a successor %v; want %s, initial assessment, no", got, c.Status, c.AwaitingSuccessor, unitBaDinh)
	}
	stepOK(t)(w.eng.RecordInitialAssessment(w.ctx, principal("worker.badinh"), process.Request{Case: name, Etag: c.Etag()}, process.InitialAssessment{
		HarmSeverity: model.LevelMedium, AbuserAccess: model.LevelLow, SafetyObstacles: model.LevelLow,
	}))
}

// A case closed in Phường Ngọc Hà (00016 of the 2025-01-01 set), which
// split in the reform, has no one successor: the city reopens it, and it
// waits for the city to reassign it. A commune cannot reopen it.
func TestReopenAfterTheReformOfASplitCommune(t *testing.T) {
	w := newWorldAt(t, loadEnv(t), time.Date(2025, 6, 20, 9, 0, 0, 0, vntime.Location()))
	defer w.close()
	c := w.closedBeforeTheReform(t, "00016")
	name := "cases/" + c.Number
	wantOffered(t, w, "reopen", c, map[string]access.Principal{"a city officer": principal("city")},
		map[string]access.Principal{"Ba Đình's chair": principal("chair.badinh")})
	_, err := w.eng.Reopen(w.ctx, principal("chair.badinh"), process.Request{Case: name, Etag: c.Etag()}, "tin mới")
	if err == nil {
		t.Fatal("Ba Đình's chair reopened a split commune's case")
	}
	c = stepOK(t)(w.eng.Reopen(w.ctx, principal("city"), process.Request{Case: name, Etag: c.Etag()}, "tin mới về trẻ"))
	if c.Status != model.StatusInitialAssessment || !c.AwaitingSuccessor {
		t.Fatalf("reopened by the city: status %v, awaiting a successor %v; want initial assessment, awaiting", c.Status, c.AwaitingSuccessor)
	}
	stepOK(t)(w.eng.ReassignCase(w.ctx, principal("city"), process.Request{Case: name, Etag: c.Etag()}, unitBaDinh, "trẻ sống ở phần thuộc Ba Đình"))
}

// wantOffered checks that StepsAllowed offers step on c to each of yes
// and to none of no.
func wantOffered(t *testing.T, w *world, step string, c model.Case, yes, no map[string]access.Principal) {
	t.Helper()
	for who, p := range yes {
		if got := w.eng.StepsAllowed(p, c, nil); !slices.Contains(got, step) {
			t.Errorf("%s: StepsAllowed = %v, want %s offered", who, got, step)
		}
	}
	for who, p := range no {
		if got := w.eng.StepsAllowed(p, c, nil); slices.Contains(got, step) {
			t.Errorf("%s: StepsAllowed = %v, want no %s", who, got, step)
		}
	}
}
