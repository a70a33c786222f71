package process_test

import (
	"testing"
	"time"

	"github.com/childcase/childcase/internal/domain/model"
	"github.com/childcase/childcase/internal/domain/process"
)

// Art. 28 waives the plan's time limits in an emergency: an emergency
// case has no D6 and no D7 (nor the time to resubmit a returned plan).
// A case that becomes one while its plan is being drafted, or awaits the
// chair, has those clocks cancelled then, as they would never have
// started for it: a report joining it says the child is in danger, and
// the commune's work turns to the emergency measures, due 12 hours from
// that report (D3), not to a plan clock that would breach and escalate.
//
// Two cases of Phường Ba Đình, met on Mon 7 Dec 2026: the first has D6
// running (due at 24:00 of Mon 14 Dec), the second has submitted its plan
// on Tue 8 Dec (D7 due at 24:00 of Thu 10 Dec). On Wed 9 Dec at 10:00 a
// call about each child says the child is in immediate danger; and a
// third case, drafting its plan, absorbs a case of its child opened as an
// emergency then.
func TestCaseBecomingAnEmergencyWaivesThePlanClocks(t *testing.T) {
	w := newWorldAt(t, loadEnv(t), hn(2026, 12, 7, 8, 0))
	defer w.close()
	worker := principal("worker.badinh")
	step := stepOK(t)
	planning := func() model.Case {
		t.Helper()
		c := w.openCaseAt(t, hn(2026, 12, 7, 7, 0), false, model.AbuseNeglect)
		name := "cases/" + c.Number
		req := func() process.Request { return process.Request{Case: name, Etag: c.Etag()} }
		c = step(w.eng.Acknowledge(w.ctx, worker, req()))
		c = step(w.eng.RecordInitialAssessment(w.ctx, worker, req(), process.InitialAssessment{
			HarmSeverity: model.LevelMedium, AbuserAccess: model.LevelLow, SafetyObstacles: model.LevelLow,
		}))
		return step(w.eng.RecordSpecificAssessment(w.ctx, worker, req(), process.SpecificAssessment{
			Needs: "hỗ trợ tâm lý", ChildViews: "muốn đi học", MeetingRecord: "biên bản họp",
			MeetingTime: hn(2026, 12, 7, 8, 0), MeetingChair: model.Attendee{FullName: "Chủ tịch UBND phường"},
		}))
	}
	drafting, merging := planning(), planning()
	d6 := openDeadline(t, drafting, model.DeadlinePlanDraft)
	checkDue(t, d6, hn(2026, 12, 15, 0, 0))

	submitted := planning()
	w.clk.Set(hn(2026, 12, 8, 9, 0))
	submitted = step(w.eng.SubmitPlan(w.ctx, worker, process.Request{Case: "cases/" + submitted.Number, Etag: submitted.Etag()}, []process.Service{{
		Name: "tư vấn", Owner: "trung tâm công tác xã hội", CommuneAssignee: "cán bộ phường",
		StartDate: "2026-12-14", ExpectedEndDate: "2027-03-31",
	}}))
	d7 := openDeadline(t, submitted, model.DeadlinePlanApproval)
	checkDue(t, d7, hn(2026, 12, 11, 0, 0))

	danger := hn(2026, 12, 9, 10, 0)
	w.clk.Set(danger)
	for _, tt := range []struct {
		c  model.Case
		id int
	}{{drafting, d6.ID}, {submitted, d7.ID}} {
		c := w.reportIn(t, "00004", danger, true, model.AbuseViolence, "cases/"+tt.c.Number)
		if !c.Emergency {
			t.Fatalf("case %s: not an emergency after a report of immediate danger", c.Number)
		}
		checkDue(t, openDeadline(t, c, model.DeadlineEmergencyMeasures), danger.Add(12*time.Hour))
		if d := c.Deadline(tt.id); d.State != model.DeadlineCancelled || !d.NextFire.IsZero() {
			t.Errorf("case %s, now an emergency: %s is %s (next fire %v), want it cancelled (Art. 28)", c.Number, d.Kind, d.State, d.NextFire)
		}
		if n := countKind(w.timeline(t, c, tt.id), "DEADLINE_CANCELLED"); n != 1 {
			t.Errorf("case %s: %d DEADLINE_CANCELLED events for its plan clock, want 1", c.Number, n)
		}
		w.cases = append(w.cases, c.Number)
	}
	// A merge with a case of the same child opened as an emergency makes
	// a third case one, drafting its plan: its D6 goes the same way.
	absorbed := w.openCaseAt(t, danger, true, model.AbuseViolence)
	merging = step(w.eng.MergeCase(w.ctx, principal("chair.badinh"), process.Request{Case: "cases/" + merging.Number, Etag: merging.Etag()},
		process.Merge{Absorbed: "cases/" + absorbed.Number, AbsorbedEtag: absorbed.Etag(), Reason: "cùng một trẻ"}))
	if !merging.Emergency {
		t.Fatalf("case %s: not an emergency after absorbing one", merging.Number)
	}
	for _, d := range merging.Deadlines {
		if d.Kind == model.DeadlinePlanDraft && d.State != model.DeadlineCancelled {
			t.Errorf("case %s, an emergency by a merge: %s is %s, want it cancelled (Art. 28)", merging.Number, d.Kind, d.State)
		}
	}

	// Nothing of the plan clocks fires later: past both due times, only
	// the emergencies' clocks have anything to say.
	w.clk.Set(hn(2026, 12, 16, 9, 0))
	if _, err := w.eng.FireDue(w.ctx); err != nil {
		t.Fatal(err)
	}
	s := w.refresh(t)
	w.checkInvariants(t, s, true)
	for _, n := range w.cases {
		c := s.cases[n]
		for _, e := range s.events[n] {
			if e.Kind != "DEADLINE_BREACHED" && e.Kind != "DEADLINE_WARNING" {
				continue
			}
			if d := c.Deadline(e.DeadlineID); d.Kind == model.DeadlinePlanDraft || d.Kind == model.DeadlinePlanApproval {
				t.Errorf("case %s: %s of %s after the case became an emergency", n, e.Kind, d.Kind)
			}
		}
	}
}
