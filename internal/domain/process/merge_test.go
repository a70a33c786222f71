package process_test

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/childcase/childcase/internal/domain/datastore"
	"github.com/childcase/childcase/internal/domain/intake"
	"github.com/childcase/childcase/internal/domain/model"
	"github.com/childcase/childcase/internal/domain/process"
)

// A merge keeps the earlier of each clock: the survivor acknowledged
// already, so the absorbed case's acknowledgement is met by the merge; a
// police unit referred on both keeps the survivor's earlier referral and
// its D13, and the absorbed case's D13 for it closes; a unit referred only
// on the absorbed case comes along with its clocks. No timer of the
// absorbed case is left. After the merge, a step or a joining report on
// the old number reaches the survivor.
func TestMergeKeepsTheEarlierClock(t *testing.T) {
	w := newWorld(t, loadEnv(t))
	defer w.close()
	hanoi := time.FixedZone("ICT", 7*3600)
	at := func(h, m int) time.Time { return time.Date(2026, 3, 2, h, m, 0, 0, hanoi) } // Monday
	worker, chair := principal("worker.badinh"), principal("chair.badinh")
	age := int32(9)
	// call records a call about the child received now, opening a case
	// or joining caseName, and returns the number of its case.
	call := func(receive time.Time, caseName string) string {
		t.Helper()
		w.clk.Set(receive)
		out, err := w.intake.CreateReport(w.ctx, principal("operator"), intake.CreateReportInput{
			Report: model.Report{
				Channel: 1, ReceiveTime: receive, CallType: model.CallIntervention,
				Children:  []model.Child{{FullName: "Nguyễn Văn An", EstimatedAge: &age, Sex: 1}},
				Narrative: "trẻ bị xâm hại", SuspectedAbuse: []model.AbuseForm{2}, Reporter: model.Reporter{Anonymous: true},
			},
			IncidentCommuneCode: "00004", CaseName: caseName,
		})
		if err != nil {
			t.Fatal(err)
		}
		return out.CaseNumber
	}
	step := func(c model.Case, err error) model.Case {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	refer := func(number string, etag, unit string, when time.Time) model.Case {
		t.Helper()
		w.clk.Set(when)
		return step(w.eng.ReferToPolice(w.ctx, worker, process.Request{Case: "cases/" + number, Etag: etag}, unit, "Điều 146"))
	}

	s := call(at(9, 0), "")
	sc := refer(s, model.Case{Number: s, Revision: 1}.Etag(), policeLocal, at(9, 10))
	w.clk.Set(at(9, 20))
	sc = step(w.eng.Acknowledge(w.ctx, worker, process.Request{Case: "cases/" + s, Etag: sc.Etag()}))
	a := call(at(10, 0), "")
	ac := refer(a, model.Case{Number: a, Revision: 1}.Etag(), policeLocal, at(10, 10))
	ac = refer(a, ac.Etag(), policeCity, at(10, 20))

	w.clk.Set(at(11, 0))
	in := process.Merge{Absorbed: "cases/" + a, AbsorbedEtag: ac.Etag(), Reason: "cùng một trẻ"}
	// The other commune's chair sees neither: both look absent.
	if _, err := w.eng.MergeCase(w.ctx, principal("chair.other"), process.Request{Case: "cases/" + s, Etag: sc.Etag()}, in); !errors.Is(err, model.ErrNotFound) {
		t.Fatalf("out of scope: %v, want not found", err)
	}
	merged := step(w.eng.MergeCase(w.ctx, chair, process.Request{Case: "cases/" + s, Etag: sc.Etag()}, in))

	byRef := map[string][]model.Deadline{}
	for _, d := range merged.Deadlines {
		if d.Open() {
			byRef[string(d.Kind)+" "+d.Ref] = append(byRef[string(d.Kind)+" "+d.Ref], d)
		}
	}
	for key, ds := range byRef {
		if len(ds) != 1 {
			t.Errorf("%d open %s deadlines, want one", len(ds), key)
		}
	}
	if d := merged.OpenDeadline(model.DeadlineAcknowledge, ""); d != nil {
		t.Errorf("the survivor runs an acknowledgement again: %+v", d)
	}
	if d := merged.OpenDeadline(model.DeadlinePoliceForward, policeLocal); d == nil || !d.Start.Equal(at(9, 10)) {
		t.Errorf("D13 of %s: %+v, want the survivor's, from 09:10", policeLocal, d)
	}
	if d := merged.OpenDeadline(model.DeadlinePoliceForward, policeCity); d == nil || !d.Start.Equal(at(10, 20)) || d.Unit != policeCity {
		t.Errorf("D13 of %s: %+v, want the absorbed case's, from 10:20", policeCity, d)
	}
	if len(merged.PoliceReferrals) != 2 || !merged.PoliceReferrals[0].ReferTime.Equal(at(9, 10)) || merged.PoliceReferrals[1].PoliceUnit != policeCity {
		t.Errorf("referrals %+v", merged.PoliceReferrals)
	}

	var absorbed model.Case
	var timers []model.Timer
	err := w.store.View(w.ctx, func(tx datastore.ReadTx) error {
		var err error
		if absorbed, err = tx.CaseByNumber(a); err != nil {
			return err
		}
		timers, err = tx.DueTimers(farFuture, 1000)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if absorbed.MergedInto != s || absorbed.Status != model.StatusClosed || len(absorbed.ReportIDs) != 0 {
		t.Errorf("the absorbed case: merged into %q, status %d, reports %v", absorbed.MergedInto, absorbed.Status, absorbed.ReportIDs)
	}
	for _, d := range absorbed.Deadlines {
		if d.Open() {
			t.Errorf("the absorbed case still runs %s %s", d.Kind, d.Ref)
		}
		if d.Kind == model.DeadlineAcknowledge && d.State != model.DeadlineMet {
			t.Errorf("the absorbed case's acknowledgement is %s, want met by the merge", d.State)
		}
	}
	for _, tm := range timers {
		if tm.CaseID == absorbed.ID {
			t.Errorf("a timer of the absorbed case is left: %+v", tm)
		}
	}

	// The old number: a step acts on the survivor, a report joins it.
	noted := step(w.eng.AddNote(w.ctx, worker, process.Request{Case: "cases/" + a, Etag: merged.Etag()}, "gọi lại"))
	if noted.Number != s {
		t.Errorf("a note on %s went to %s, want %s", a, noted.Number, s)
	}
	if joined := call(at(11, 5), "cases/"+a); joined != s {
		t.Errorf("a report joining %s went to %s, want %s", a, joined, s)
	}
	// Merging the absorbed case again, either way, is refused.
	var survivor model.Case
	if err := w.store.View(w.ctx, func(tx datastore.ReadTx) error {
		survivor, err = tx.CaseByNumber(s)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	etags := map[string]string{s: survivor.Etag(), a: absorbed.Etag()}
	for _, req := range []struct{ name, absorbed string }{{s, a}, {a, s}} {
		_, err := w.eng.MergeCase(w.ctx, chair, process.Request{Case: "cases/" + req.name, Etag: etags[req.name]},
			process.Merge{Absorbed: "cases/" + req.absorbed, AbsorbedEtag: etags[req.absorbed], Reason: "x"})
		var pe *model.PreconditionError
		if !errors.As(err, &pe) || pe.Reason != "ALREADY_MERGED" {
			t.Errorf("merge %s into %s again: %v, want ALREADY_MERGED", req.absorbed, req.name, err)
		}
	}
}

// A merge that makes the survivor an emergency gives it an emergency's
// acknowledge clock, as a joining report does: the survivor, an ordinary
// case received at 09:00 on Mon 2 Mar 2026 and not yet acknowledged, had
// 24 hours (pausable); the absorbed case says the child is in immediate
// danger, received at 10:00, so it had until 12:00. Merged at 11:00, the
// survivor must be acknowledged by the sooner time, 12:00, and that clock
// cannot be paused (issue 4: emergency clocks cannot be paused). The same
// holds the other way round: an emergency absorbing an ordinary case
// received earlier keeps its own, sooner, acknowledgement.
func TestMergeIntoAnEmergencyShortensTheAcknowledgement(t *testing.T) {
	w := newWorld(t, loadEnv(t))
	defer w.close()
	hanoi := time.FixedZone("ICT", 7*3600)
	at := func(h, m int) time.Time { return time.Date(2026, 3, 2, h, m, 0, 0, hanoi) } // Monday
	call := func(receive time.Time, danger bool) model.Case {
		t.Helper()
		w.clk.Set(receive)
		return w.openCaseAt(t, receive, danger, model.AbuseViolence)
	}
	sc := call(at(9, 0), false)
	if d := sc.OpenDeadline(model.DeadlineAcknowledge, ""); d == nil || !d.Pausable || sc.Emergency {
		t.Fatalf("the ordinary case: emergency %v, acknowledgement %+v", sc.Emergency, d)
	}
	ac := call(at(10, 0), true)

	w.clk.Set(at(11, 0))
	merged, err := w.eng.MergeCase(w.ctx, principal("chair.badinh"), process.Request{Case: "cases/" + sc.Number, Etag: sc.Etag()},
		process.Merge{Absorbed: "cases/" + ac.Number, AbsorbedEtag: ac.Etag(), Reason: "cùng một trẻ"})
	if err != nil {
		t.Fatal(err)
	}
	check := func(merged model.Case) {
		t.Helper()
		if !merged.Emergency {
			t.Fatal("the survivor is not an emergency after the merge")
		}
		ack := merged.OpenDeadline(model.DeadlineAcknowledge, "")
		if ack == nil || ack.Pausable || !ack.Due.Equal(at(12, 0)) {
			t.Errorf("the survivor's acknowledgement: %+v, want due at 12:00 and not pausable", ack)
		}
		if d3 := merged.OpenDeadline(model.DeadlineEmergencyMeasures, ""); d3 == nil || !d3.Start.Equal(at(10, 0)) || d3.Pausable {
			t.Errorf("the survivor's D3: %+v, want the emergency report's, from 10:00", d3)
		}
	}
	check(merged)

	// The emergency survives, absorbing the ordinary case received first.
	w.clk.Set(at(9, 0))
	ordinary := call(at(9, 0), false)
	emergency := call(at(10, 0), true)
	w.clk.Set(at(11, 0))
	merged, err = w.eng.MergeCase(w.ctx, principal("chair.badinh"), process.Request{Case: "cases/" + emergency.Number, Etag: emergency.Etag()},
		process.Merge{Absorbed: "cases/" + ordinary.Number, AbsorbedEtag: ordinary.Etag(), Reason: "cùng một trẻ"})
	if err != nil {
		t.Fatal(err)
	}
	check(merged)
}

// A police unit referred on both cases keeps the track it worked on,
// whichever case holds it: one case was referred first (09:10) and the
// police never touched that referral, while on the other, referred at
// 10:10, they acknowledged, forwarded to the investigators and, in the
// second run, recorded nothing more, so its D16 runs. The merge must not
// wipe that out for the older, untouched referral (the police view would
// again ask them to acknowledge, their forwarding and outcome gone from
// the case, their clocks replaced by the untouched referral's
// acknowledgement and D13, long overdue).
func TestMergeKeepsThePoliceTrackFurtherAlong(t *testing.T) {
	for _, workedOnSurvivor := range []bool{true, false} {
		t.Run(map[bool]string{true: "worked on the survivor", false: "worked on the absorbed case"}[workedOnSurvivor], func(t *testing.T) {
			mergePoliceTracks(t, workedOnSurvivor)
		})
	}
}

func mergePoliceTracks(t *testing.T, workedOnSurvivor bool) {
	w := newWorld(t, loadEnv(t))
	defer w.close()
	hanoi := time.FixedZone("ICT", 7*3600)
	at := func(d, h, m int) time.Time { return time.Date(2026, 3, d, h, m, 0, 0, hanoi) }
	worker, chair, police := principal("worker.badinh"), principal("chair.badinh"), principal("police.badinh")
	step := func(c model.Case, err error) model.Case {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	refer := func(c model.Case, when time.Time) model.Case {
		t.Helper()
		w.clk.Set(when)
		return step(w.eng.ReferToPolice(w.ctx, worker, process.Request{Case: "cases/" + c.Number, Etag: c.Etag()}, policeLocal, "Điều 146"))
	}
	w.clk.Set(at(2, 9, 0))
	untouched := refer(w.openCaseAt(t, at(2, 9, 0), false, model.AbuseSexual), at(2, 9, 10))
	w.clk.Set(at(2, 10, 0))
	worked := refer(w.openCaseAt(t, at(2, 10, 0), false, model.AbuseSexual), at(2, 10, 10))
	req := func(c model.Case) process.Request {
		return process.Request{Case: "cases/" + worked.Number, Etag: c.Etag()}
	}
	w.clk.Set(at(2, 11, 0))
	pv := step(w.eng.AcknowledgePoliceReferral(w.ctx, police, req(worked), "CA-BD/7"))
	w.clk.Set(at(2, 12, 0))
	pv = step(w.eng.RecordPoliceForwarding(w.ctx, police, req(pv), "CQĐT Công an TP Hà Nội", time.Time{}))
	wantState, wantOutcome := model.PoliceForwarded, ""
	if workedOnSurvivor {
		w.clk.Set(at(5, 9, 0))
		step(w.eng.RecordPoliceOutcome(w.ctx, police, req(pv), process.PoliceProsecuted))
		wantState, wantOutcome = model.PoliceDecided, process.PoliceProsecuted
	}

	var err error
	if err = w.store.View(w.ctx, func(tx datastore.ReadTx) error {
		if worked, err = tx.CaseByNumber(worked.Number); err != nil {
			return err
		}
		untouched, err = tx.CaseByNumber(untouched.Number)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	sc, ac := worked, untouched
	if !workedOnSurvivor {
		sc, ac = untouched, worked
	}
	w.clk.Set(at(5, 10, 0))
	merged := step(w.eng.MergeCase(w.ctx, chair, process.Request{Case: "cases/" + sc.Number, Etag: sc.Etag()},
		process.Merge{Absorbed: "cases/" + ac.Number, AbsorbedEtag: ac.Etag(), Reason: "cùng một trẻ"}))

	if n := len(merged.PoliceReferrals); n != 1 {
		t.Fatalf("%d referrals after the merge, want one: %+v", n, merged.PoliceReferrals)
	}
	if r := merged.PoliceReferrals[0]; r.State != wantState || r.Outcome != wantOutcome || r.ReferenceNumber != "CA-BD/7" || !r.ReferTime.Equal(at(2, 10, 10)) {
		t.Errorf("the referral after the merge: state %s, outcome %q, reference %q, referred %s; want the one worked on, %s %q under CA-BD/7, referred at 10:10",
			r.State, r.Outcome, r.ReferenceNumber, r.ReferTime, wantState, wantOutcome)
	}
	var open []model.DeadlineKind
	for _, d := range merged.Deadlines {
		if d.Open() && d.Unit == policeLocal {
			open = append(open, d.Kind)
		}
	}
	want := []model.DeadlineKind{model.DeadlineProsecutionDecision}
	if workedOnSurvivor {
		want = nil
	}
	if !slices.Equal(open, want) {
		t.Errorf("the police's open clocks after the merge: %v, want %v (those of the referral they worked on)", open, want)
	}
}
