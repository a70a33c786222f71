package process_test

import (
	"errors"
	"testing"
	"time"

	"github.com/childcase/childcase/internal/domain/model"
	"github.com/childcase/childcase/internal/domain/process"
)

// A case Ba Đình never acknowledged is handed to the commune where the
// child lives. Ba Đình's acknowledgement breached and went to the city:
// that miss stays Ba Đình's, closed as missed when the other commune
// takes the case, and that commune, to which the case is forwarded by
// its acceptance, gets its own time to acknowledge it from then, rather
// than a clock that was overdue before it ever held the case, whose
// escalation named Ba Đình.
func TestOverdueAcknowledgementHandedOverStaysTheSenders(t *testing.T) {
	w := newWorld(t, loadEnv(t))
	defer w.close()
	worker, other, step := principal("worker.badinh"), principal("worker.other"), stepOK(t)
	c := w.openCaseAt(t, start, false, model.AbuseNeglect)
	req := func() process.Request { return process.Request{Case: "cases/" + c.Number, Etag: c.Etag()} }
	ack := openDeadline(t, c, model.DeadlineAcknowledge)
	c = w.firedAt(t, ack.Due.Add(time.Hour), c.Number)
	if esc := c.Deadline(ack.ID).Escalations; len(esc) != 1 || esc[0].To != unitCity {
		t.Fatalf("ACKNOWLEDGE escalations %+v, want one to the city", esc)
	}
	c = step(w.eng.ProposeTransfer(w.ctx, worker, req(), unitOther, "trẻ sống ở phường khác"))
	w.clk.Set(ack.Due.Add(2 * time.Hour))
	c = step(w.eng.AcceptTransfer(w.ctx, other, req()))

	old := c.Deadline(ack.ID)
	if old.Unit != unitBaDinh || old.State != model.DeadlineMissed || old.MinutesLate != 120 || !old.Breached || len(old.Escalations) != 1 {
		t.Errorf("Ba Đình's ACKNOWLEDGE after the hand-over: unit %s, %s, %d minutes late, breached %v, escalations %+v; want Ba Đình's, missed by 120, breached, its one escalation kept",
			old.Unit, old.State, old.MinutesLate, old.Breached, old.Escalations)
	}
	fresh := openDeadline(t, c, model.DeadlineAcknowledge)
	if fresh.Unit != unitOther || !fresh.Start.Equal(w.clk.Now()) || !fresh.Due.Equal(w.clk.Now().Add(24*time.Hour)) || fresh.Breached || len(fresh.Escalations) != 0 {
		t.Errorf("the receiving commune's ACKNOWLEDGE: unit %s, start %s, due %s, breached %v, escalations %+v; want its own, 24 hours from the acceptance, not overdue",
			fresh.Unit, fresh.Start, fresh.Due, fresh.Breached, fresh.Escalations)
	}
	c = step(w.eng.Acknowledge(w.ctx, other, req()))
	if d := c.Deadline(fresh.ID); d.State != model.DeadlineMet {
		t.Errorf("the receiving commune's ACKNOWLEDGE after it acknowledged: %s, want met", d.State)
	}
	w.cases = append(w.cases, c.Number)
	w.checkInvariants(t, w.refresh(t), false)
}

// The case was acknowledged when the receiving commune acknowledged it,
// not when the sender's overdue clock closed at the hand-over: a meeting
// held between the two lies before the acknowledgement and is refused,
// as it would be on a case never handed over.
func TestAcknowledgedWhenTheReceiverAcknowledgesAHandedOverCase(t *testing.T) {
	w := newWorld(t, loadEnv(t))
	defer w.close()
	worker, other, step := principal("worker.badinh"), principal("worker.other"), stepOK(t)
	c := w.openCaseAt(t, start, false, model.AbuseNeglect)
	req := func() process.Request { return process.Request{Case: "cases/" + c.Number, Etag: c.Etag()} }
	ack := openDeadline(t, c, model.DeadlineAcknowledge)
	c = w.firedAt(t, ack.Due.Add(time.Hour), c.Number)
	c = step(w.eng.ProposeTransfer(w.ctx, worker, req(), unitOther, "trẻ sống ở phường khác"))
	accepted := ack.Due.Add(2 * time.Hour)
	w.clk.Set(accepted)
	c = step(w.eng.AcceptTransfer(w.ctx, other, req()))
	acknowledged := accepted.Add(3 * time.Hour)
	w.clk.Set(acknowledged)
	c = step(w.eng.Acknowledge(w.ctx, other, req()))
	c = step(w.eng.RecordInitialAssessment(w.ctx, other, req(), process.InitialAssessment{
		HarmSeverity: model.LevelMedium, AbuserAccess: model.LevelLow, SafetyObstacles: model.LevelLow,
	}))
	meeting := func(at time.Time) process.SpecificAssessment {
		return process.SpecificAssessment{
			Needs: "hỗ trợ tâm lý", ChildViews: "muốn đi học", MeetingRecord: "biên bản họp",
			MeetingTime: at, MeetingChair: model.Attendee{FullName: "Chủ tịch UBND phường"},
		}
	}
	_, err := w.eng.RecordSpecificAssessment(w.ctx, other, req(), meeting(accepted.Add(time.Hour)))
	var fe *model.FieldError
	if !errors.As(err, &fe) || fe.Field != "meeting_time" || fe.Rule != "time.after_acknowledgement" {
		t.Fatalf("a meeting after the hand-over, before the receiver acknowledged the case: %v, want meeting_time refused (time.after_acknowledgement)", err)
	}
	c = step(w.eng.RecordSpecificAssessment(w.ctx, other, req(), meeting(acknowledged)))
	if c.Status != model.StatusPlanning {
		t.Errorf("a meeting as the case was acknowledged: status %v, want planning", c.Status)
	}
}
