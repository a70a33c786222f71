package process_test

import (
	"errors"
	"testing"
	"time"

	"github.com/childcase/childcase/internal/domain/model"
	"github.com/childcase/childcase/internal/domain/process"
)

// A transfer the receiving commune never answers breaches its
// TRANSFER_ACCEPT and escalates to the city. While it is pending the case
// can neither close nor go elsewhere, and only the receiving unit decides
// on it; so the city it escalated to may decline it on that unit's
// behalf, which gives the case back to its sender, able to act again.
// Before the breach the city may not: the receiving unit still has its
// time.
func TestUnansweredTransferDeclinedByTheLevelAbove(t *testing.T) {
	w := newWorld(t, loadEnv(t))
	defer w.close()
	chair, city := principal("chair.badinh"), principal("city")
	step := stepOK(t)
	c := w.transferProposed(t)
	req := func() process.Request { return process.Request{Case: "cases/" + c.Number, Etag: c.Etag()} }
	ta := openDeadline(t, c, model.DeadlineTransferAccept)

	// Within the receiving unit's time the city cannot decide for it.
	_, err := w.eng.DeclineTransfer(w.ctx, city, req(), "không ai nhận")
	wantPrecondition(t, err, "NOT_RECEIVING_UNIT")

	// An hour past its due time: breached, escalated to the city; the
	// case is stuck until somebody decides.
	w.clk.Set(ta.Due.Add(time.Hour))
	if _, err := w.eng.FireDue(w.ctx); err != nil {
		t.Fatal(err)
	}
	if c, err = stored(t, w.store, c.Number); err != nil {
		t.Fatal(err)
	}
	if esc := c.Deadline(ta.ID).Escalations; len(esc) != 1 || esc[0].To != unitCity {
		t.Fatalf("TRANSFER_ACCEPT escalations %+v, want one to the city", esc)
	}
	_, err = w.eng.ApproveClosure(w.ctx, chair, req(), process.Closure{Ground: model.ClosureMovedAway, Reason: "chuyển đi"})
	wantPrecondition(t, err, "TRANSFER_PENDING")

	c = step(w.eng.DeclineTransfer(w.ctx, city, req(), "phường không trả lời quá hạn"))
	tr := c.Transfers[len(c.Transfers)-1]
	if tr.State != model.TransferDeclined || tr.DecidedBy != city.UserID || tr.DeclineNote == "" {
		t.Errorf("transfer after the city's decline: %+v", tr)
	}
	if d := c.Deadline(ta.ID); d.State != model.DeadlineMissed || d.MinutesLate != 60 {
		t.Errorf("TRANSFER_ACCEPT after the city's decline: %s, %d minutes late; want missed by 60", d.State, d.MinutesLate)
	}
	if got := "units/" + c.ResponsibleUnit.String(); got != unitBaDinh {
		t.Errorf("responsible unit %s, want the sender %s", got, unitBaDinh)
	}
	w.cases = append(w.cases, c.Number)
	w.checkInvariants(t, w.refresh(t), false)
	// The sender acts again: the case closes.
	c = step(w.eng.ApproveClosure(w.ctx, chair, req(), process.Closure{Ground: model.ClosureMovedAway, Reason: "gia đình chuyển đi"}))
	if c.Status != model.StatusClosed {
		t.Errorf("status %v after closure", c.Status)
	}
}

// wantPrecondition fails t unless err is a failed precondition of reason.
func wantPrecondition(t *testing.T, err error, reason string) {
	t.Helper()
	var pe *model.PreconditionError
	if !errors.As(err, &pe) || pe.Reason != reason {
		t.Fatalf("error %v, want the precondition %s", err, reason)
	}
}

// The receiving unit cannot hold a transfer by pausing its
// TRANSFER_ACCEPT: a paused clock is never overdue, so the level above
// could never decline the transfer for it, and the case could neither
// close nor go elsewhere. It answers yes or no instead.
func TestTransferAcceptCannotBePaused(t *testing.T) {
	w := newWorld(t, loadEnv(t))
	defer w.close()
	c := w.transferProposed(t)
	ta := openDeadline(t, c, model.DeadlineTransferAccept)
	if ta.Pausable {
		t.Errorf("TRANSFER_ACCEPT says pausable")
	}
	_, err := w.eng.PauseDeadline(w.ctx, principal("chair.other"), process.Request{Case: "cases/" + c.Number, Etag: c.Etag()}, ta.ID, "chờ họp ủy ban phường tuần sau")
	wantPrecondition(t, err, "NOT_PAUSABLE")
}

// transferProposed opens a case in Ba Đình, whose worker acknowledges it
// and proposes to hand it to the other commune.
func (w *world) transferProposed(t *testing.T) model.Case {
	t.Helper()
	worker, step := principal("worker.badinh"), stepOK(t)
	c := w.openCaseAt(t, start, false, model.AbuseNeglect)
	req := func() process.Request { return process.Request{Case: "cases/" + c.Number, Etag: c.Etag()} }
	c = step(w.eng.Acknowledge(w.ctx, worker, req()))
	return step(w.eng.ProposeTransfer(w.ctx, worker, req(), unitOther, "trẻ sống ở phường khác"))
}
