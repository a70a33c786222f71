package process_test

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/childcase/childcase/internal/domain/model"
	"github.com/childcase/childcase/internal/domain/process"
)

// A separation may be extended only within its limit (SEPARATION_OVERDUE
// after it), whether or not the scheduler has yet found its D4 overdue:
// the limit is the law's, not the scheduler's, and a pass may lag (a
// restart catching up, a new leader). A separation started at 10:00 on
// Mon 7 Dec 2026 ends at 24:00 of its 15th day, Tue 22 Dec: at that
// instant the chair may still extend it, a minute later no longer, with
// no scheduler pass in between.
func TestSeparationExtendedOnlyWithinItsLimit(t *testing.T) {
	started := hn(2026, 12, 7, 10, 0)
	w := newWorldAt(t, loadEnv(t), started)
	defer w.close()
	chair := principal("chair.badinh")
	step := stepOK(t)
	separated := func() model.Case {
		t.Helper()
		w.clk.Set(started)
		c := w.openCaseAt(t, started.Add(-time.Hour), false, model.AbuseNeglect)
		return step(w.eng.StartSeparation(w.ctx, chair, process.Request{Case: "cases/" + c.Number, Etag: c.Etag()},
			process.Separation{Start: started, Place: "nhà tạm lánh", Carer: "bà ngoại", Ground: "Điều 32(1)", DecisionNumber: "12/QĐ-UBND"}))
	}
	extend := func(c model.Case) (model.Case, error) {
		return w.eng.ExtendSeparation(w.ctx, chair, process.Request{Case: "cases/" + c.Number, Etag: c.Etag()}, 5, "trẻ chưa thể về nhà", "13/QĐ-UBND")
	}
	onTime, late := separated(), separated()
	end := hn(2026, 12, 23, 0, 0)
	checkDue(t, openDeadline(t, onTime, model.DeadlineSeparationReview), end)

	w.clk.Set(end)
	if !slices.Contains(w.eng.StepsAllowed(chair, onTime, w.dossierOf(t, onTime)), "extendSeparation") {
		t.Error("extendSeparation not offered at 24:00 of the 15th day")
	}
	onTime = step(extend(onTime))
	checkDue(t, openDeadline(t, onTime, model.DeadlineSeparationReview), hn(2026, 12, 28, 0, 0))

	w.clk.Set(end.Add(time.Minute))
	if slices.Contains(w.eng.StepsAllowed(chair, late, w.dossierOf(t, late)), "extendSeparation") {
		t.Error("extendSeparation offered after the separation's limit")
	}
	_, err := extend(late)
	var pe *model.PreconditionError
	if !errors.As(err, &pe) || pe.Reason != "SEPARATION_OVERDUE" {
		t.Errorf("extension a minute after the limit: %v, want SEPARATION_OVERDUE", err)
	}
	if c, err := stored(t, w.store, late.Number); err != nil || c.Etag() != late.Etag() {
		t.Errorf("the refused extension changed the case (err %v)", err)
	}
}
