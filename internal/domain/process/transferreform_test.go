package process_test

import (
	"testing"
	"time"

	"github.com/childcase/childcase/internal/domain/access"
	"github.com/childcase/childcase/internal/domain/model"
	"github.com/childcase/childcase/internal/domain/process"
	"github.com/childcase/childcase/internal/domain/vntime"
)

// A transfer pending when the 2025-07-01 reform abolished both communes
// follows the receiving commune as the case follows its sender. Phường
// Trúc Bạch (00004, now Ba Đình) proposes on Fri 27 June 2025 to hand the
// case to another commune; its TRANSFER_ACCEPT (two working days) ends
// with Tue 1 July. On 1 July:
//   - to Phường Vĩnh Phúc (00006), which went whole into the new Phường
//     Ngọc Hà (00008@2025-07-01): the transfer now awaits Ngọc Hà, whose
//     chair accepts it, with the time it had left; before, it stayed with
//     Vĩnh Phúc, which no longer exists, and Ngọc Hà was refused it
//     (NOT_RECEIVING_UNIT);
//   - to Phường Quán Thánh (00013), which went whole into Ba Đình like
//     Trúc Bạch: Ba Đình holds the case already, so the transfer has what
//     it asked for and is accepted; before, it stayed pending to a unit
//     that no longer exists, and the case could not close;
//   - to Phường Ngọc Hà of 2025 (00016), which split: it stays as it was
//     until its TRANSFER_ACCEPT breaches and escalates to the city, which
//     declines it, and the case is Ba Đình's to act on again.
func TestTransferPendingAcrossTheReformFollowsTheReceivingUnit(t *testing.T) {
	at := at2025
	const ngocHa = "units/00008@2025-07-01"
	tests := []struct {
		name, to string
		accepted bool // by the reform itself
		split    bool // the receiving commune split: no one successor
	}{
		{"to a commune that went into another", "units/00006@2025-01-01", false, false},
		{"to a commune that went into the sender's successor", "units/00013@2025-01-01", true, false},
		{"to a commune that split", "units/00016@2025-01-01", false, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w, c, ta := transferProposedBeforeTheReform(t, tt.to)
			defer w.close()
			step := stepOK(t)
			req := func() process.Request { return process.Request{Case: "cases/" + c.Number, Etag: c.Etag()} }

			w.clk.Set(at(7, 1, 8, 0))
			if _, err := w.eng.FollowReforms(w.ctx); err != nil {
				t.Fatal(err)
			}
			var err error
			if c, err = stored(t, w.store, c.Number); err != nil {
				t.Fatal(err)
			}
			if got := access.UnitName(c.ResponsibleUnit); got != unitBaDinh {
				t.Fatalf("after the reform the case is %s's, want %s's", got, unitBaDinh)
			}
			tr := c.Transfers[len(c.Transfers)-1]
			d := c.Deadline(ta.ID)
			if tt.accepted {
				if tr.State != model.TransferAccepted || d.State != model.DeadlineMet || c.PendingTransfer() != nil {
					t.Fatalf("transfer %+v, TRANSFER_ACCEPT %s: want accepted, met, none pending", tr, d.State)
				}
				stepOK(t)(w.eng.ApproveClosure(w.ctx, principal("chair.badinh"), req(), process.Closure{Ground: model.ClosureMovedAway, Reason: "gia đình chuyển đi"}))
				return
			}
			if tt.split {
				if tr.To != tt.to || d.Unit != tt.to || !d.Open() {
					t.Fatalf("transfer to %s, TRANSFER_ACCEPT %s's (%s): want as it was", tr.To, d.Unit, d.State)
				}
				w.clk.Set(at(7, 2, 1, 0))
				if _, err := w.eng.FireDue(w.ctx); err != nil {
					t.Fatal(err)
				}
				if c, err = stored(t, w.store, c.Number); err != nil {
					t.Fatal(err)
				}
				if esc := c.Deadline(ta.ID).Escalations; len(esc) != 1 || esc[0].To != unitCity {
					t.Fatalf("TRANSFER_ACCEPT escalations %+v, want one to the city", esc)
				}
				c = step(w.eng.DeclineTransfer(w.ctx, principal("city"), req(), "phường đã chia tách"))
				stepOK(t)(w.eng.ApproveClosure(w.ctx, principal("chair.badinh"), req(), process.Closure{Ground: model.ClosureMovedAway, Reason: "gia đình chuyển đi"}))
				return
			}
			if tr.To != ngocHa || tr.From != unitBaDinh || d.Unit != ngocHa || !d.Open() || !d.Due.Equal(ta.Due) {
				t.Fatalf("transfer %s -> %s, TRANSFER_ACCEPT %s's (%s, due %s): want %s -> %s, %s's, open, due as before",
					tr.From, tr.To, d.Unit, d.State, d.Due.In(vntime.Location()), unitBaDinh, ngocHa, ngocHa)
			}
			chair := access.Principal{UserID: "chair.ngocha", Role: model.RoleCommuneChair, Unit: ngocHa}
			c = step(w.eng.AcceptTransfer(w.ctx, chair, req()))
			if got := access.UnitName(c.ResponsibleUnit); got != ngocHa || c.Deadline(ta.ID).State != model.DeadlineMet {
				t.Errorf("accepted by Ngọc Hà: the case is %s's, TRANSFER_ACCEPT %s; want Ngọc Hà's, met", got, c.Deadline(ta.ID).State)
			}
		})
	}
}

// A timer of a TRANSFER_ACCEPT that the reform it follows closes does
// nothing more: the firing that moves the case to its successor accepts
// a transfer that went into that successor too, and its TRANSFER_ACCEPT
// is then met, not warned of, breached or escalated. Phường Trúc Bạch
// proposes on Fri 27 June 2025 to hand the case to Phường Quán Thánh;
// both went into Ba Đình on 1 July. The transfer's TRANSFER_ACCEPT (Mon
// 30 June and Tue 1 July) warns at 50% at 00:00 on 1 July, the instant
// of the reform, before the day's FollowReforms pass: that firing accepts
// the transfer, and no warning follows the acceptance on the timeline.
// A server down from the evening of 30 June to 01:00 on 2 July, past
// the due time, finds the warning and the breach due at once: neither is
// said of the closed deadline, and nothing escalates to the city; the
// transfer had what it asked for as the reform began, so its
// TRANSFER_ACCEPT is met then, not missed by the hour the server was down.
func TestTransferAcceptedByTheReformItsTimerFollowsIsNotWarnedOrBreached(t *testing.T) {
	at := at2025
	for _, fire := range []time.Time{at(7, 1, 0, 0), at(7, 2, 1, 0)} {
		t.Run(fire.Format(time.DateTime), func(t *testing.T) {
			w, c, ta := transferProposedBeforeTheReform(t, "units/00013@2025-01-01")
			defer w.close()
			if first := ta.WarningTime(0); !first.Equal(at(7, 1, 0, 0)) {
				t.Fatalf("TRANSFER_ACCEPT warns first at %s, want at the reform, 2025-07-01 00:00", first.In(vntime.Location()))
			}

			_, c = w.fireAt(t, c.Number, fire)
			tr, d := c.Transfers[len(c.Transfers)-1], c.Deadline(ta.ID)
			if got := access.UnitName(c.ResponsibleUnit); got != unitBaDinh || tr.State != model.TransferAccepted || d.Open() {
				t.Fatalf("after the firing: the case is %s's, transfer %s, TRANSFER_ACCEPT %s; want %s's, accepted, closed", got, tr.State, d.State, unitBaDinh)
			}
			if d.State != model.DeadlineMet || !d.DoneTime.Equal(at(7, 1, 0, 0)) {
				t.Errorf("TRANSFER_ACCEPT %s, done %s; want met as the reform began, 2025-07-01 00:00", d.State, d.DoneTime.In(vntime.Location()))
			}
			if d.Breached || len(d.Escalations) != 0 || !d.NextFire.IsZero() {
				t.Errorf("TRANSFER_ACCEPT %s: breached %v, escalations %+v, next fire %v; want none of them", d.State, d.Breached, d.Escalations, d.NextFire)
			}
			closed := false
			for _, e := range w.timeline(t, c, ta.ID) {
				switch e.Kind {
				case "DEADLINE_MET", "DEADLINE_MISSED":
					closed = true
				case "DEADLINE_WARNING", "DEADLINE_BREACHED", "ESCALATED":
					if closed {
						t.Errorf("%s %q after the reform closed TRANSFER_ACCEPT", e.Kind, e.Detail)
					}
				}
			}
			for _, n := range w.notices(t, c, ta.ID) {
				if n.Kind == "ESCALATED" {
					t.Errorf("escalated to %v: %q", n.Units, n.Detail)
				}
			}
		})
	}
}

// at2025 is a time of 2025 in Hanoi.
func at2025(m time.Month, d, h, min int) time.Time {
	return time.Date(2025, m, d, h, min, 0, 0, vntime.Location())
}

// transferProposedBeforeTheReform opens a case of Phường Trúc Bạch
// (00004) on Fri 27 June 2025, acknowledged by its chair, who proposes
// to hand it to the commune to; it returns the world, the case and its
// TRANSFER_ACCEPT, due as 2 July begins.
func transferProposedBeforeTheReform(t *testing.T, to string) (*world, model.Case, model.Deadline) {
	t.Helper()
	oldChair := access.Principal{UserID: "chair.old", Role: model.RoleCommuneChair, Unit: "units/00004@2025-01-01"}
	w := newWorldAt(t, loadEnv(t), at2025(6, 27, 9, 0))
	step := stepOK(t)
	c := w.openCaseAt(t, at2025(6, 27, 9, 0), false, model.AbuseNeglect)
	req := func() process.Request { return process.Request{Case: "cases/" + c.Number, Etag: c.Etag()} }
	c = step(w.eng.Acknowledge(w.ctx, oldChair, req()))
	c = step(w.eng.ProposeTransfer(w.ctx, oldChair, req(), to, "trẻ sống ở phường khác"))
	ta := openDeadline(t, c, model.DeadlineTransferAccept)
	checkDue(t, ta, at2025(7, 2, 0, 0))
	return w, c, ta
}
