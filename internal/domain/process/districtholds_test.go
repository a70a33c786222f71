package process_test

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/childcase/childcase/internal/domain/access"
	"github.com/childcase/childcase/internal/domain/model"
	"github.com/childcase/childcase/internal/domain/process"
)

// A commune hands a case it has not acknowledged to its district
// (services the commune cannot provide; districts exist until
// 2025-06-30). The acceptance forwards the case anew and starts the
// district's own ACKNOWLEDGE: the district, now the responsible unit,
// must be able to meet it and go on with the case, as the city does
// with a case it holds, rather than watch the clock breach and escalate
// to the city. A district officer of another unit's case stays refused.
func TestDistrictHoldingACaseTakesItsSteps(t *testing.T) {
	received := in2025(6, 2, 9, 0) // a Monday
	w := newWorldAt(t, loadEnv(t), received)
	defer w.close()
	truc := access.Principal{UserID: "worker.trucbach", Role: model.RoleCommuneWorker, Unit: "units/00004@2025-01-01"}
	district, step := principal("district"), stepOK(t)
	c := w.openCaseAt(t, received, false, model.AbuseNeglect)
	req := func() process.Request { return process.Request{Case: "cases/" + c.Number, Etag: c.Etag()} }
	if ack := openDeadline(t, c, model.DeadlineAcknowledge); ack.Unit != truc.Unit {
		t.Fatalf("ACKNOWLEDGE of %s, want Trúc Bạch's", ack.Unit)
	}
	var pre *model.PreconditionError
	if _, err := w.eng.Acknowledge(w.ctx, district, req()); !errors.As(err, &pre) || pre.Reason != "NOT_RESPONSIBLE_UNIT" {
		t.Fatalf("the district acknowledges a case Trúc Bạch holds: %v; want NOT_RESPONSIBLE_UNIT", err)
	}

	w.clk.Set(received.Add(time.Hour))
	c = step(w.eng.ProposeTransfer(w.ctx, truc, req(), unitDistrict, "cần dịch vụ cấp huyện"))
	w.clk.Set(received.Add(2 * time.Hour))
	c = step(w.eng.AcceptTransfer(w.ctx, district, req()))
	ack := openDeadline(t, c, model.DeadlineAcknowledge)
	if held := access.UnitName(c.ResponsibleUnit); ack.Unit != unitDistrict || held != unitDistrict {
		t.Fatalf("after the acceptance %s holds the case and ACKNOWLEDGE runs for %s, want the district for both", held, ack.Unit)
	}
	if steps := w.eng.StepsAllowed(district, c, nil); !slices.Contains(steps, "acknowledge") {
		t.Errorf("the district is offered %v on the case it holds, want acknowledge among them", steps)
	}

	w.clk.Set(received.Add(3 * time.Hour))
	c = step(w.eng.Acknowledge(w.ctx, district, req()))
	if d := c.Deadline(ack.ID); d.State != model.DeadlineMet || d.Breached || len(d.Escalations) != 0 {
		t.Errorf("the district's ACKNOWLEDGE after it acknowledged: %s, breached %v, escalations %+v; want met in time", d.State, d.Breached, d.Escalations)
	}
	c = step(w.eng.RecordInitialAssessment(w.ctx, district, req(), process.InitialAssessment{
		HarmSeverity: model.LevelMedium, AbuserAccess: model.LevelLow, SafetyObstacles: model.LevelLow,
	}))
	if c.Status != model.StatusSpecificAssessment {
		t.Errorf("status after the district's initial assessment: %v, want %v", c.Status, model.StatusSpecificAssessment)
	}
	for _, s := range []string{"recordSpecificAssessment", "assign"} {
		if steps := w.eng.StepsAllowed(district, c, nil); !slices.Contains(steps, s) {
			t.Errorf("the district is offered %v, want %s among them", steps, s)
		}
	}
	w.cases = append(w.cases, c.Number)
	w.checkInvariants(t, w.refresh(t), false)
}
