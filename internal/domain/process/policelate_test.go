package process_test

import (
	"testing"
	"time"

	"github.com/childcase/childcase/internal/domain/access"
	"github.com/childcase/childcase/internal/domain/datastore"
	"github.com/childcase/childcase/internal/domain/model"
	"github.com/childcase/childcase/internal/domain/process"
	"github.com/childcase/childcase/internal/domain/stats"
	"github.com/childcase/childcase/internal/domain/vntime"
)

// The police may date their forwarding to the investigators (forward_time),
// as the chair dates emergency measures; a record made later than the
// policy's late_recording (24 h) after that time is flagged the same way.
// Referred Mon 2 Mar 2026 16:00 (referredCase), acknowledged 17:00, D13
// breached on Tue 3 Mar 16:00 and escalated to the city police; the
// forwarding recorded at 22:00 that day, 30 hours after the referral, but
// dated 18:00 the day before, meets D13 by its date, yet the breach and
// the escalation stay on the deadline and the timeline, the record keeps
// when it was made, and the late record is flagged and counted.
func TestPoliceForwardingRecordedLateIsFlagged(t *testing.T) {
	w := newWorld(t, loadEnv(t))
	defer w.close()
	hanoi := vntime.Location()
	name, c := w.referredCase(t)
	worker, police := principal("worker.badinh"), principal("police.badinh")
	w.clk.Set(time.Date(2026, 3, 2, 17, 0, 0, 0, hanoi))
	if _, err := w.eng.AcknowledgePoliceReferral(w.ctx, police, process.Request{Case: name, Etag: access.PoliceView(c, policeLocal).Etag()}, "CA-BD-1"); err != nil {
		t.Fatal(err)
	}
	w.clk.Set(time.Date(2026, 3, 3, 17, 0, 0, 0, hanoi))
	if _, err := w.eng.FireDue(w.ctx); err != nil {
		t.Fatal(err)
	}

	recorded := time.Date(2026, 3, 3, 22, 0, 0, 0, hanoi) // 30 hours after the referral
	forwarded := time.Date(2026, 3, 2, 18, 0, 0, 0, hanoi)
	w.clk.Set(recorded)
	got, err := w.eng.RecordPoliceForwarding(w.ctx, police, process.Request{Case: name, Etag: w.caseAs(t, police, name).Etag()}, "Cơ quan CSĐT", forwarded)
	if err != nil {
		t.Fatal(err)
	}
	// The police see their own record as flagged, in their view.
	if len(got.PoliceReferrals) != 1 {
		t.Fatalf("the police's answer shows %d referrals, want their own", len(got.PoliceReferrals))
	}
	r := got.PoliceReferrals[0]
	if !r.ForwardTime.Equal(forwarded) || !r.ForwardRecordTime.Equal(recorded) || !r.ForwardLateRecording {
		t.Errorf("forwarding: at %v, recorded %v, late %v; want at %v, recorded %v, late", r.ForwardTime.In(hanoi), r.ForwardRecordTime.In(hanoi), r.ForwardLateRecording, forwarded, recorded)
	}

	full := w.caseAs(t, worker, name)
	if l := full.LateRecordings; len(l) != 1 || !l[0].RecordTime.Equal(recorded) || l[0].Unit != policeLocal {
		t.Errorf("late recordings %+v, want one at %v by %s", l, recorded, policeLocal)
	}
	var d13 *model.Deadline
	for i, d := range full.Deadlines {
		if d.Kind == model.DeadlinePoliceForward {
			d13 = &full.Deadlines[i]
		}
	}
	if d13 == nil {
		t.Fatal("no D13")
	}
	// Met by the forward time, which the record flags; what happened
	// meanwhile stays.
	if d13.State != model.DeadlineMet || !d13.DoneTime.Equal(forwarded) || !d13.Breached ||
		len(d13.Escalations) != 1 || d13.Escalations[0].To != policeCity {
		t.Errorf("D13: state %s done %v breached %v escalations %+v; want MET at %v, breached, escalated to %s",
			d13.State, d13.DoneTime.In(hanoi), d13.Breached, d13.Escalations, forwarded, policeCity)
	}
	var kinds []string
	late := 0
	var events []model.CaseEvent
	if err := w.store.View(w.ctx, func(tx datastore.ReadTx) error {
		events, err = tx.CaseEvents(full.ID, 0, 1<<20)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	for _, e := range events {
		if e.DeadlineID == d13.ID || e.Kind == "LATE_RECORDING" {
			kinds = append(kinds, e.Kind)
		}
		if e.Kind == "LATE_RECORDING" {
			late++
		}
	}
	want := []string{"DEADLINE_BREACHED", "ESCALATED", "LATE_RECORDING", "DEADLINE_MET"}
	if late != 1 || !containsInOrder(kinds, want) {
		t.Errorf("timeline of D13 and late records: %v, want %v in that order and one LATE_RECORDING", kinds, want)
	}

	svc := stats.New(stats.Deps{Store: w.store, Units: w.reg, Vault: w.vault, Clock: w.clk})
	res, err := svc.Compute(w.ctx, principal("city"), stats.Query{From: forwarded.AddDate(0, 0, -1), To: recorded.AddDate(0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Groups) != 1 || res.Groups[0].Counts.LateRecordings != 1 {
		t.Errorf("statistics: %+v, want one late recording", res.Groups)
	}
}

// containsInOrder reports whether want is a subsequence of got.
func containsInOrder(got, want []string) bool {
	i := 0
	for _, g := range got {
		if i < len(want) && g == want[i] {
			i++
		}
	}
	return i == len(want)
}
