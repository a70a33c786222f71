package process_test

import (
	"errors"
	"testing"
	"time"

	"github.com/childcase/childcase/internal/domain/model"
	"github.com/childcase/childcase/internal/domain/process"
	"github.com/childcase/childcase/internal/domain/stats/tally"
	"github.com/childcase/childcase/internal/domain/vntime"
)

// measuredEmergency opens a case received Mon 2 Mar 2026 09:00 in danger,
// acknowledges it and records the measures applied at 10:00 (at 11:00: its
// D3 met). It returns the case as the chair's record answered it.
func (w *world) measuredEmergency(t *testing.T) model.Case {
	t.Helper()
	worker, chair := principal("worker.badinh"), principal("chair.badinh")
	at := func(d, h int) time.Time { return time.Date(2026, 3, d, h, 0, 0, 0, vntime.Location()) }
	w.clk.Set(at(2, 9))
	c := w.openCaseAt(t, at(2, 9), true, model.AbuseNeglect)
	name := "cases/" + c.Number
	c = stepOK(t)(w.eng.Acknowledge(w.ctx, worker, process.Request{Case: name, Etag: c.Etag()}))
	w.clk.Set(at(2, 11))
	return stepOK(t)(w.eng.RecordEmergencyMeasures(w.ctx, chair, process.Request{Case: name, Etag: c.Etag()},
		process.EmergencyMeasures{Measures: "đưa trẻ đến nhà bà ngoại", AppliedBy: "Chủ tịch UBND phường", AppliedTime: at(2, 10)}))
}

// stepOK returns a function that takes a step's answer and fails t on its
// error.
func stepOK(t *testing.T) func(model.Case, error) model.Case {
	return func(c model.Case, err error) model.Case {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
}

// reopenedEmergency runs a case through a first emergency cycle
// (measuredEmergency), closes it on 10 Mar, and reopens it at reopen: new
// information. It returns the reopened case.
func (w *world) reopenedEmergency(t *testing.T, reopen time.Time) model.Case {
	t.Helper()
	chair := principal("chair.badinh")
	c := w.measuredEmergency(t)
	name := "cases/" + c.Number
	step := stepOK(t)
	w.clk.Set(time.Date(2026, 3, 10, 9, 0, 0, 0, vntime.Location()))
	c = step(w.eng.ApproveClosure(w.ctx, chair, process.Request{Case: name, Etag: c.Etag()},
		process.Closure{Ground: model.ClosureMovedAway, Reason: "gia đình chuyển vào TP. Hồ Chí Minh"}))
	w.clk.Set(reopen)
	return step(w.eng.Reopen(w.ctx, chair, process.Request{Case: name, Etag: c.Etag()}, "hàng xóm báo trẻ lại bị bỏ mặc"))
}

// assessAsEmergency records the commune worker's initial assessment of c
// that finds an emergency (the caregiver is the abuser), now.
func (w *world) assessAsEmergency(t *testing.T, c model.Case) model.Case {
	t.Helper()
	c, err := w.eng.RecordInitialAssessment(w.ctx, principal("worker.badinh"), process.Request{Case: "cases/" + c.Number, Etag: c.Etag()}, process.InitialAssessment{
		Emergency: true, EmergencyReason: model.EmergencyCaregiverIsAbuser,
		HarmSeverity: model.LevelMedium, AbuserAccess: model.LevelHigh, SafetyObstacles: model.LevelMedium,
	})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// d3s returns the case's D3 deadlines, oldest first.
func d3s(c model.Case) []model.Deadline {
	var out []model.Deadline
	for _, d := range c.Deadlines {
		if d.Kind == model.DeadlineEmergencyMeasures {
			out = append(out, d)
		}
	}
	return out
}

// A reopening is new information: the assessment after it that finds an
// emergency starts a fresh D3 from the reopening, which the scheduler
// breaches and escalates when no measures follow within 12 hours, across
// the 30 April holiday (wall clock). The first cycle's D3 stays met, and
// the statistics' D3 of the emergency case is still the first cycle's.
func TestReopenedEmergencyGetsAFreshD3(t *testing.T) {
	w := newWorld(t, loadEnv(t))
	defer w.close()
	reopen := time.Date(2026, 4, 30, 20, 0, 0, 0, vntime.Location()) // Thu, a public holiday
	c := w.reopenedEmergency(t, reopen)
	name := "cases/" + c.Number
	w.clk.Set(reopen.Add(time.Hour))
	c, err := w.eng.RecordInitialAssessment(w.ctx, principal("worker.badinh"), process.Request{Case: name, Etag: c.Etag()}, process.InitialAssessment{
		Emergency: true, EmergencyReason: model.EmergencySeriousHarm,
		HarmSeverity: model.LevelHigh, AbuserAccess: model.LevelHigh, SafetyObstacles: model.LevelMedium,
	})
	if err != nil {
		t.Fatal(err)
	}
	ds := d3s(c)
	if len(ds) != 2 {
		t.Fatalf("D3 deadlines after the reopened emergency's assessment: %+v, want the first cycle's and a new one", ds)
	}
	first, fresh := ds[0], ds[1]
	if first.State != model.DeadlineMet {
		t.Errorf("the first cycle's D3 is %s, want it met as it was", first.State)
	}
	if !fresh.Open() || !fresh.Start.Equal(reopen) || !fresh.Due.Equal(reopen.Add(12*time.Hour)) || fresh.Pausable {
		t.Fatalf("the new D3: %+v, want open, not pausable, from the reopening %s to 12 hours later", fresh, reopen)
	}

	// 12 hours and a half after the reopening, nothing applied: breached,
	// escalated from the commune to the city.
	w.clk.Set(reopen.Add(12*time.Hour + 30*time.Minute))
	if _, err := w.eng.FireDue(w.ctx); err != nil {
		t.Fatal(err)
	}
	if c, err = stored(t, w.store, c.Number); err != nil {
		t.Fatal(err)
	}
	fresh = *c.Deadline(fresh.ID)
	if !fresh.Breached || len(fresh.Escalations) != 1 || fresh.Escalations[0].To != unitCity {
		t.Fatalf("the new D3 after its due time: breached %v, escalations %+v, want breached and escalated to %s", fresh.Breached, fresh.Escalations, unitCity)
	}
	if got := *c.Deadline(first.ID); got.State != model.DeadlineMet || got.Breached || len(got.Escalations) != 0 {
		t.Errorf("the first cycle's D3 changed: %+v", got)
	}

	// Measures applied an hour late: missed by 60 minutes.
	w.clk.Set(reopen.Add(14 * time.Hour))
	c, err = w.eng.RecordEmergencyMeasures(w.ctx, principal("chair.badinh"), process.Request{Case: name, Etag: c.Etag()},
		process.EmergencyMeasures{Measures: "tách trẻ tạm thời", AppliedBy: "Chủ tịch UBND phường", AppliedTime: reopen.Add(13 * time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	if got := *c.Deadline(fresh.ID); got.State != model.DeadlineMissed || got.MinutesLate != 60 {
		t.Errorf("the new D3 after late measures: %s, %d minutes late; want missed by 60", got.State, got.MinutesLate)
	}
	if d, ok := tally.CaseD3(c); !ok || d.ID != first.ID {
		t.Errorf("the statistics count the emergency case by D3 %+v, want the first cycle's (%d)", d, first.ID)
	}
	w.cases = append(w.cases, c.Number)
	w.checkInvariants(t, w.refresh(t), false)
}

// Measures applied within 12 hours of the reopening meet the reopened
// cycle's D3; measures dated before the reopening belong to no cycle the
// case is in, and are refused.
func TestReopenedEmergencyMeasuresMeetTheFreshD3(t *testing.T) {
	w := newWorld(t, loadEnv(t))
	defer w.close()
	reopen := time.Date(2026, 5, 4, 8, 0, 0, 0, vntime.Location()) // Mon
	c := w.reopenedEmergency(t, reopen)
	name := "cases/" + c.Number
	chair := principal("chair.badinh")
	w.clk.Set(reopen.Add(2 * time.Hour))
	c = w.assessAsEmergency(t, c)
	w.clk.Set(reopen.Add(6 * time.Hour))
	_, err := w.eng.RecordEmergencyMeasures(w.ctx, chair, process.Request{Case: name, Etag: c.Etag()},
		process.EmergencyMeasures{Measures: "đưa trẻ đến nhà bà ngoại", AppliedBy: "Chủ tịch UBND phường", AppliedTime: reopen.Add(-time.Hour)})
	var fe *model.FieldError
	if !errors.As(err, &fe) || fe.Field != "applied_time" || fe.Rule != "time.not_before_reopen" {
		t.Fatalf("measures applied before the reopening: %v, want applied_time refused (time.not_before_reopen)", err)
	}
	// A separation dated before the reopening is refused alike (the
	// README: naming start_time).
	_, err = w.eng.StartSeparation(w.ctx, chair, process.Request{Case: name, Etag: c.Etag()},
		process.Separation{Start: reopen.Add(-time.Hour), Place: "nhà tạm lánh", Carer: "bà ngoại", Ground: "Điều 32(1)", DecisionNumber: "12/QĐ-UBND"})
	if !errors.As(err, &fe) || fe.Field != "start_time" || fe.Rule != "time.not_before_reopen" {
		t.Fatalf("a separation started before the reopening: %v, want start_time refused (time.not_before_reopen)", err)
	}
	c, err = w.eng.RecordEmergencyMeasures(w.ctx, chair, process.Request{Case: name, Etag: c.Etag()},
		process.EmergencyMeasures{Measures: "đưa trẻ đến nhà bà ngoại", AppliedBy: "Chủ tịch UBND phường", AppliedTime: reopen.Add(5 * time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	ds := d3s(c)
	if len(ds) != 2 || ds[0].State != model.DeadlineMet || ds[1].State != model.DeadlineMet || !ds[1].DoneTime.Equal(reopen.Add(5*time.Hour)) {
		t.Fatalf("D3 deadlines: %+v, want the first cycle's met and the new one met at the measures' time", ds)
	}
	if !c.EmergencyMeasured.Equal(reopen.Add(5 * time.Hour)) {
		t.Errorf("emergency measured %s, want the reopened cycle's measures", c.EmergencyMeasured)
	}
	w.cases = append(w.cases, c.Number)
	w.checkInvariants(t, w.refresh(t), false)
}

// A report of danger about the child while its case was closed opens a
// case of its own, with its D3 from that report; the commune then reopens
// the old case and merges the new one into it, which brings that D3
// along, started before the reopening. The statistics still count the old
// case by the D3 of its first cycle, the one done before it was reopened,
// not by the one the merge brought.
func TestMergeIntoAReopenedCaseKeepsItsFirstD3(t *testing.T) {
	w := newWorld(t, loadEnv(t))
	defer w.close()
	reopen := time.Date(2026, 3, 16, 10, 0, 0, 0, vntime.Location()) // Monday
	s := w.reopenedEmergency(t, reopen)
	first := d3s(s)[0]
	a := w.openCaseAt(t, reopen.Add(-time.Hour), true, model.AbuseNeglect)
	if ds := d3s(a); len(ds) != 1 || !ds[0].Open() || !ds[0].Start.Before(reopen) {
		t.Fatalf("the new case's D3: %+v, want one open, started before the reopening", ds)
	}
	w.clk.Set(reopen.Add(30 * time.Minute))
	merged, err := w.eng.MergeCase(w.ctx, principal("chair.badinh"), process.Request{Case: "cases/" + s.Number, Etag: s.Etag()},
		process.Merge{Absorbed: "cases/" + a.Number, AbsorbedEtag: a.Etag(), Reason: "cùng một trẻ"})
	if err != nil {
		t.Fatal(err)
	}
	if ds := d3s(merged); len(ds) != 2 || !ds[1].Open() {
		t.Fatalf("the reopened case's D3s after the merge: %+v, want its first cycle's and the open one the merge brought", ds)
	}
	if d, ok := tally.CaseD3(merged); !ok || d.ID != first.ID {
		t.Errorf("the statistics count the reopened emergency case by D3 %+v, want the first cycle's (%d)", d, first.ID)
	}
}

// Measures applied after the reopening and recorded before its assessment
// already met the new cycle's emergency: the assessment that finds an
// emergency starts no new D3 ("unless measures were applied since", the
// README's process table).
func TestReopenedEmergencyMeasuredBeforeItsAssessment(t *testing.T) {
	w := newWorld(t, loadEnv(t))
	defer w.close()
	reopen := time.Date(2026, 5, 4, 8, 0, 0, 0, vntime.Location()) // Mon
	c := w.reopenedEmergency(t, reopen)
	name := "cases/" + c.Number
	w.clk.Set(reopen.Add(3 * time.Hour))
	c, err := w.eng.RecordEmergencyMeasures(w.ctx, principal("chair.badinh"), process.Request{Case: name, Etag: c.Etag()},
		process.EmergencyMeasures{Measures: "đưa trẻ đến nhà bà ngoại", AppliedBy: "Chủ tịch UBND phường", AppliedTime: reopen.Add(2 * time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	w.clk.Set(reopen.Add(4 * time.Hour))
	c = w.assessAsEmergency(t, c)
	if ds := d3s(c); len(ds) != 1 || ds[0].State != model.DeadlineMet || ds[0].Start.After(reopen) {
		t.Fatalf("D3 deadlines: %+v, want only the first cycle's, met", ds)
	}
	if !c.EmergencyMeasured.Equal(reopen.Add(2 * time.Hour)) {
		t.Errorf("emergency measured %s, want the measures applied after the reopening", c.EmergencyMeasured)
	}
	w.cases = append(w.cases, c.Number)
	w.checkInvariants(t, w.refresh(t), false)
}
