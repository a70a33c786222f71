package process_test

import (
	"errors"
	"testing"

	"github.com/childcase/childcase/internal/domain/model"
	"github.com/childcase/childcase/internal/domain/process"
)

// A reopened case is new information, with a cycle of its own: its
// specific-assessment meeting, from which D6 counts (Art. 27(2)), is one
// held after the reopening, as its emergency measures are
// (time.not_before_reopen). A case acknowledged on Mon 7 Dec 2026, closed
// (the family moved away) on Tue 8 and reopened on Mon 14 Dec at 09:00:
// a meeting dated Thu 10 Dec, after the acknowledgement but before the
// reopening, is refused, naming meeting_time, and changes nothing; held
// on Mon 14 at 10:00, it starts D6 due at 24:00 of Mon 21 Dec.
func TestReopenedCaseMeetingNotBeforeTheReopening(t *testing.T) {
	w := newWorldAt(t, loadEnv(t), hn(2026, 12, 7, 8, 0))
	defer w.close()
	worker, chair := principal("worker.badinh"), principal("chair.badinh")
	step := stepOK(t)
	c := w.openCaseAt(t, hn(2026, 12, 7, 7, 0), false, model.AbuseNeglect)
	name := "cases/" + c.Number
	req := func() process.Request { return process.Request{Case: name, Etag: c.Etag()} }
	initial := process.InitialAssessment{HarmSeverity: model.LevelMedium, AbuserAccess: model.LevelLow, SafetyObstacles: model.LevelLow}
	c = step(w.eng.Acknowledge(w.ctx, worker, req()))
	c = step(w.eng.RecordInitialAssessment(w.ctx, worker, req(), initial))
	w.clk.Set(hn(2026, 12, 8, 9, 0))
	c = step(w.eng.ApproveClosure(w.ctx, chair, req(), process.Closure{Ground: model.ClosureMovedAway, Reason: "gia đình chuyển đi"}))
	reopened := hn(2026, 12, 14, 9, 0)
	w.clk.Set(reopened)
	c = step(w.eng.Reopen(w.ctx, chair, req(), "gia đình quay lại, trẻ lại bị bỏ mặc"))
	w.clk.Set(hn(2026, 12, 14, 10, 30))
	c = step(w.eng.RecordInitialAssessment(w.ctx, worker, req(), initial))

	meeting := func(at string, y, mo, d, h int) (model.Case, error) {
		return w.eng.RecordSpecificAssessment(w.ctx, worker, req(), process.SpecificAssessment{
			Needs: "hỗ trợ tâm lý", ChildViews: "muốn ở với bà", MeetingRecord: "biên bản họp " + at,
			MeetingTime: hn(y, 12, d, h, 0), MeetingChair: model.Attendee{FullName: "Chủ tịch UBND phường"},
		})
	}
	_, err := meeting("10/12", 2026, 12, 10, 9)
	var bad *model.FieldError
	if !errors.As(err, &bad) || bad.Field != "meeting_time" || bad.Rule != "time.not_before_reopen" {
		t.Fatalf("a meeting before the reopening: %v, want meeting_time refused (time.not_before_reopen)", err)
	}
	if s, err := stored(t, w.store, c.Number); err != nil || s.Etag() != c.Etag() {
		t.Errorf("the refused step changed the case (err %v)", err)
	}
	c = step(meeting("14/12", 2026, 12, 14, 10))
	checkDue(t, openDeadline(t, c, model.DeadlinePlanDraft), hn(2026, 12, 22, 0, 0))
	w.cases = append(w.cases, c.Number)
	w.checkInvariants(t, w.refresh(t), false)
}
