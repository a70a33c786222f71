package process_test

import (
	"errors"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/childcase/childcase/internal/domain/access"
	"github.com/childcase/childcase/internal/domain/datastore"
	"github.com/childcase/childcase/internal/domain/model"
	"github.com/childcase/childcase/internal/domain/process"
	"github.com/childcase/childcase/internal/domain/units"
	"github.com/childcase/childcase/internal/domain/vntime"
)

// A police liaison who takes a step of the police track gets the police
// view of the case back from the engine itself, not only from the API: no
// reports, handlers, dossier or hand-overs, only their own unit's referral
// and deadlines. The same holds for the answer to a retry. The commune
// worker who referred the case gets it whole.
func TestPoliceStepAnswersThePoliceView(t *testing.T) {
	w := newWorld(t, loadEnv(t))
	defer w.close()
	w.clk.Set(time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)) // Monday 16:00 in Hanoi
	number := w.openCaseAt(t, w.clk.Now().Add(-time.Hour), false, model.AbuseSexual).Number
	name := "cases/" + number
	worker := principal("worker.badinh")
	refer := func(c model.Case, unit string) model.Case {
		t.Helper()
		c, err := w.eng.ReferToPolice(w.ctx, worker, process.Request{Case: name, Etag: c.Etag()}, unit, "xâm hại tình dục")
		if err != nil {
			t.Fatalf("refer to %s: %v", unit, err)
		}
		return c
	}
	c := refer(model.Case{Number: number, Revision: 1}, policeLocal)
	c = refer(c, policeCity)
	if len(c.ReportIDs) == 0 || len(c.Handlers) == 0 || len(c.PoliceReferrals) != 2 {
		t.Fatalf("the referring worker got %+v, want the whole case", c)
	}

	police := principal("police.badinh")
	w.clk.Set(w.clk.Now().Add(30 * time.Minute))
	// The etag of the case as the police see it: the referral to the city
	// police is not in their view.
	req := process.Request{Case: name, Etag: access.PoliceView(c, policeLocal).Etag(), RequestID: "ack-1", Fingerprint: []byte("ack CA-123")}
	got, err := w.eng.AcknowledgePoliceReferral(w.ctx, police, req, "CA-123")
	if err != nil {
		t.Fatal(err)
	}
	var opened model.Case
	err = w.store.View(w.ctx, func(tx datastore.ReadTx) error {
		stored, err := tx.CaseByNumber(number)
		if err != nil {
			return err
		}
		opened, err = w.vault.OpenCase(tx, stored)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	want := access.PoliceView(opened, policeLocal)
	if !reflect.DeepEqual(got, want) {
		t.Errorf("the police liaison got\n%+v\nwant the police view\n%+v", got, want)
	}
	if len(got.ReportIDs) != 0 || len(got.Handlers) != 0 || len(got.PoliceReferrals) != 1 {
		t.Errorf("the police liaison got reports %v, handlers %v, referrals %+v", got.ReportIDs, got.Handlers, got.PoliceReferrals)
	}
	again, err := w.eng.AcknowledgePoliceReferral(w.ctx, police, req, "CA-123")
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(again, want) {
		t.Errorf("the retry answered\n%+v\nwant the police view\n%+v", again, want)
	}
}

// The police view's etag and update time move only with what that view
// shows: the commune's notes (its social work, which the view hides) leave
// them as they were, so that they tell the police nothing of it, and the
// police's own step with the view's etag goes through even though the
// commune stepped since. A stale etag of the view is still a conflict, and
// a change the view shows (the commune acknowledging the case: its
// status) moves them.
func TestPoliceViewEtagMovesOnlyWithWhatItShows(t *testing.T) {
	w := newWorld(t, loadEnv(t))
	defer w.close()
	worker, police := principal("worker.badinh"), principal("police.badinh")
	name, full := w.referredCase(t)
	var err error
	read := func(p access.Principal) model.Case { t.Helper(); return w.caseAs(t, p, name) }
	seen := read(police)
	// The view's count starts with the referral, the first change it shows.
	if seen.Etag() != (model.Case{Number: full.Number, Revision: 1, EtagView: model.PoliceEtagView}).Etag() || !seen.UpdateTime.Equal(full.UpdateTime) {
		t.Errorf("right after the referral the police view has etag %s, update time %v; want p1 and the referral's %v",
			seen.Etag(), seen.UpdateTime, full.UpdateTime)
	}

	// The commune's notes, an hour and two later: hidden from the police.
	for i := range 2 {
		w.clk.Set(w.clk.Now().Add(time.Hour))
		if full, err = w.eng.AddNote(w.ctx, worker, process.Request{Case: name, Etag: full.Etag()}, "ghi chú của xã "+strconv.Itoa(i)); err != nil {
			t.Fatal(err)
		}
	}
	if full.Etag() == seen.Etag() {
		t.Fatalf("the commune's full etag %s did not move with its notes", full.Etag())
	}
	if now := read(police); now.Etag() != seen.Etag() || !now.UpdateTime.Equal(seen.UpdateTime) {
		t.Errorf("after the commune's notes the police view has etag %s, update time %v; want %s, %v as before: they reveal work the view hides",
			now.Etag(), now.UpdateTime, seen.Etag(), seen.UpdateTime)
	}

	// The police step with the etag of their view.
	w.clk.Set(w.clk.Now().Add(time.Hour))
	acked, err := w.eng.AcknowledgePoliceReferral(w.ctx, police, process.Request{Case: name, Etag: seen.Etag()}, "CA-123")
	if err != nil {
		t.Fatalf("the police acknowledge with their view's etag %s: %v", seen.Etag(), err)
	}
	// The view's etag counts the changes it showed: one more, however many
	// the commune made in between.
	if want := (model.Case{Number: full.Number, Revision: seen.Revision + 1, EtagView: model.PoliceEtagView}).Etag(); acked.Etag() != want || !acked.UpdateTime.Equal(w.clk.Now()) {
		t.Errorf("after their acknowledgement the police view has etag %s, update time %v; want %s, %v", acked.Etag(), acked.UpdateTime, want, w.clk.Now())
	}
	if now := read(police); now.Etag() != acked.Etag() {
		t.Errorf("the police read etag %s, their step answered %s", now.Etag(), acked.Etag())
	}
	// Their etag from before is stale now: their own step changed the view.
	if _, err := w.eng.RecordPoliceForwarding(w.ctx, police, process.Request{Case: name, Etag: seen.Etag()}, "Cơ quan CSĐT", w.clk.Now()); !errors.Is(err, model.ErrConflict) {
		t.Errorf("a police step with the stale etag %s: %v, want a conflict", seen.Etag(), err)
	}
	// So is the commune's full etag from before the police step.
	if _, err := w.eng.AddNote(w.ctx, worker, process.Request{Case: name, Etag: full.Etag()}, "ghi chú"); !errors.Is(err, model.ErrConflict) {
		t.Errorf("a commune step with the stale full etag %s: %v, want a conflict", full.Etag(), err)
	}

	// The commune acknowledges the case: its status, which the view shows.
	w.clk.Set(w.clk.Now().Add(time.Hour))
	full = read(worker)
	if full, err = w.eng.Acknowledge(w.ctx, worker, process.Request{Case: name, Etag: full.Etag()}); err != nil {
		t.Fatal(err)
	}
	if now := read(police); now.Etag() == acked.Etag() || !now.UpdateTime.Equal(w.clk.Now()) {
		t.Errorf("after the commune acknowledged the case the police view has etag %s, update time %v; want a new etag and %v", now.Etag(), now.UpdateTime, w.clk.Now())
	}

	// The case's own etag, as the commune's answers carry it, is taken
	// from the police too while it is current (a client that chains the
	// referral's answer into the police step), never once it is stale.
	stale := read(worker).Etag()
	if full, err = w.eng.AddNote(w.ctx, worker, process.Request{Case: name, Etag: full.Etag()}, "ghi chú"); err != nil {
		t.Fatal(err)
	}
	if _, err := w.eng.RecordPoliceForwarding(w.ctx, police, process.Request{Case: name, Etag: stale}, "Cơ quan CSĐT", w.clk.Now()); !errors.Is(err, model.ErrConflict) {
		t.Errorf("a police step with the case's stale etag %s: %v, want a conflict", stale, err)
	}
	fwd, err := w.eng.RecordPoliceForwarding(w.ctx, police, process.Request{Case: name, Etag: full.Etag()}, "Cơ quan CSĐT", w.clk.Now())
	if err != nil {
		t.Fatalf("a police step with the case's current etag %s: %v", full.Etag(), err)
	}
	if now := read(police); fwd.Etag() != now.Etag() || fwd.EtagView != model.PoliceEtagView {
		t.Errorf("the police step answered etag %s, the police read %s: want the view's", fwd.Etag(), now.Etag())
	}
}

// A police unit's view of a case starts counting when the unit first sees
// the case: its first etag is the same whether the commune worked on the
// case before referring it or not, so that it does not tell the police how
// many changes (notes, assessments, plans) the case had before them. The
// city police, who see the case only when a police clock is escalated to
// them, start the same way (StampPoliceViews has one rule for both).
func TestPoliceViewFirstEtagHidesTheCommunesWorkBefore(t *testing.T) {
	w := newWorld(t, loadEnv(t))
	defer w.close()
	w.clk.Set(time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)) // Monday 16:00 in Hanoi
	worker, police := principal("worker.badinh"), principal("police.badinh")
	quiet := w.openCaseAt(t, w.clk.Now().Add(-time.Hour), false, model.AbuseSexual)
	busy := w.openCaseAt(t, w.clk.Now().Add(-time.Hour), false, model.AbuseSexual)
	for i := range 3 {
		var err error
		busy, err = w.eng.AddNote(w.ctx, worker, process.Request{Case: "cases/" + busy.Number, Etag: busy.Etag()}, "ghi chú của xã "+strconv.Itoa(i))
		if err != nil {
			t.Fatal(err)
		}
	}
	w.clk.Set(w.clk.Now().Add(time.Hour))
	etags := map[string]string{}
	for _, c := range []model.Case{quiet, busy} {
		name := "cases/" + c.Number
		if _, err := w.eng.ReferToPolice(w.ctx, worker, process.Request{Case: name, Etag: c.Etag()}, policeLocal, "xâm hại tình dục"); err != nil {
			t.Fatal(err)
		}
		seen, _, err := w.intake.GetCase(w.ctx, police, name)
		if err != nil {
			t.Fatal(err)
		}
		if !seen.UpdateTime.Equal(w.clk.Now()) {
			t.Errorf("the police view of %s has update time %v, want the referral's %v", c.Number, seen.UpdateTime, w.clk.Now())
		}
		// The count, without the tag of the case's number.
		etags[c.Number], _, _ = strings.Cut(seen.Etag(), ".")
	}
	if etags[quiet.Number] != etags[busy.Number] {
		t.Errorf("right after their referrals the police see etag %s on the case the commune left alone and %s on the one it wrote 3 notes on: the etag counts work the view hides",
			etags[quiet.Number], etags[busy.Number])
	}
}

// Another police unit's track is not in a police unit's view: when that
// unit's clock is overdue and escalated to the city police (who are then
// alerted to the case), the local unit's view, which shows none of it,
// keeps its etag and update time.
func TestPoliceViewEtagDoesNotMoveWithAnotherUnitsEscalation(t *testing.T) {
	w := newWorld(t, loadEnv(t))
	defer w.close()
	const policeOther = "policeUnits/ca-tay-ho"
	tayHo, _ := units.ParseKey("00103@2025-07-01")
	err := w.store.Update(w.ctx, func(tx datastore.Tx) error {
		return tx.CreatePoliceUnit(model.PoliceUnit{ID: "ca-tay-ho", DisplayName: "Công an phường Tây Hồ", Covers: []units.Key{tayHo}, CreateTime: w.clk.Now()})
	})
	if err != nil {
		t.Fatal(err)
	}
	worker, police := principal("worker.badinh"), principal("police.badinh")
	name, full := w.referredCase(t)
	if _, err := w.eng.ReferToPolice(w.ctx, worker, process.Request{Case: name, Etag: full.Etag()}, policeOther, "xâm hại tình dục"); err != nil {
		t.Fatal(err)
	}
	read := func() model.Case {
		t.Helper()
		c, _, err := w.intake.GetCase(w.ctx, police, name)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	// The local unit meets its clocks at once; D16 (20 days) runs on.
	seen, err := w.eng.AcknowledgePoliceReferral(w.ctx, police, process.Request{Case: name, Etag: read().Etag()}, "CA-1")
	if err != nil {
		t.Fatal(err)
	}
	if seen, err = w.eng.RecordPoliceForwarding(w.ctx, police, process.Request{Case: name, Etag: seen.Etag()}, "Cơ quan CSĐT", w.clk.Now()); err != nil {
		t.Fatal(err)
	}

	// The other unit does nothing: its clocks run out and escalate.
	w.clk.Set(w.clk.Now().Add(72 * time.Hour))
	if _, err := w.eng.FireDue(w.ctx); err != nil {
		t.Fatal(err)
	}
	if city, _, err := w.intake.GetCase(w.ctx, principal("police.city"), name); err != nil {
		t.Fatalf("the city police do not see the case after the escalation the test needs: %v", err)
	} else if len(city.Deadlines) == 0 {
		t.Fatalf("the city police see no escalated clock: %+v", city.Deadlines)
	}
	now := read()
	if now.Etag() != seen.Etag() || !now.UpdateTime.Equal(seen.UpdateTime) {
		t.Errorf("after another unit's clock escalated the local police view has etag %s, update time %v; want %s, %v as before: they reveal a track the view hides",
			now.Etag(), now.UpdateTime, seen.Etag(), seen.UpdateTime)
	}
	if !reflect.DeepEqual(withoutStamp(now), withoutStamp(seen)) {
		t.Errorf("the local unit's view changed with the other unit's escalation:\n%+v\nwas\n%+v", now, seen)
	}
}

// withoutStamp is a police view without its etag and update time.
func withoutStamp(c model.Case) model.Case {
	c.Revision, c.UpdateTime = 0, time.Time{}
	return c
}

// The commune's records of emergency measures are its own: a second one,
// recorded late (flagged for the accountability reports, which count the
// case's late recordings), changes nothing the police view shows (the
// case's first measures' time stays), so it moves neither the view's
// etag nor its update time.
func TestPoliceViewEtagDoesNotMoveWithALateRecording(t *testing.T) {
	w := newWorld(t, loadEnv(t))
	defer w.close()
	worker, chair, police := principal("worker.badinh"), principal("chair.badinh"), principal("police.badinh")
	at := func(d, h int) time.Time { return time.Date(2026, 3, d, h, 0, 0, 0, vntime.Location()) }
	c := w.measuredEmergency(t) // measures applied on Monday 2 March at 10:00, recorded at 11:00
	name := "cases/" + c.Number
	step := stepOK(t)
	c = step(w.eng.ReferToPolice(w.ctx, worker, process.Request{Case: name, Etag: c.Etag()}, policeLocal, "xâm hại tình dục"))
	seen, _, err := w.intake.GetCase(w.ctx, police, name)
	if err != nil {
		t.Fatal(err)
	}

	// Three days later the chair records measures applied on the first
	// day: late.
	w.clk.Set(at(5, 9))
	c = step(w.eng.RecordEmergencyMeasures(w.ctx, chair, process.Request{Case: name, Etag: c.Etag()},
		process.EmergencyMeasures{Measures: "cử cán bộ theo dõi hằng ngày", AppliedBy: "Chủ tịch UBND phường", AppliedTime: at(2, 12)}))
	if len(c.LateRecordings) == 0 {
		t.Fatalf("the second record was not late: %+v; the test needs one", c.LateRecordings)
	}
	now, _, err := w.intake.GetCase(w.ctx, police, name)
	if err != nil {
		t.Fatal(err)
	}
	if now.Etag() != seen.Etag() || !now.UpdateTime.Equal(seen.UpdateTime) {
		t.Errorf("after the commune's late record the police view has etag %s, update time %v; want %s, %v as before: they reveal work the view hides",
			now.Etag(), now.UpdateTime, seen.Etag(), seen.UpdateTime)
	}
}

// caseAs is the case name as p reads it.
func (w *world) caseAs(t *testing.T, p access.Principal, name string) model.Case {
	t.Helper()
	c, _, err := w.intake.GetCase(w.ctx, p, name)
	if err != nil {
		t.Fatalf("%s reads %s: %v", p.UserID, name, err)
	}
	return c
}

// referredCase opens a case on Monday 2 March 2026, 16:00 in Hanoi, a
// suspected crime, and refers it to the local police at once; it returns
// the case's name and the case as the referring commune worker got it.
func (w *world) referredCase(t *testing.T) (string, model.Case) {
	t.Helper()
	w.clk.Set(time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC))
	opened := w.openCaseAt(t, w.clk.Now().Add(-time.Hour), false, model.AbuseSexual)
	name := "cases/" + opened.Number
	full, err := w.eng.ReferToPolice(w.ctx, principal("worker.badinh"), process.Request{Case: name, Etag: opened.Etag()}, policeLocal, "xâm hại tình dục")
	if err != nil {
		t.Fatal(err)
	}
	return name, full
}

// A case of an older database, written before police views kept their own
// etag, shows the case's etag in the police view. The commune's next
// write, which the view does not show, stamps the view without changing
// that etag, not even its form: the police step sent with the number the
// liaison read goes through, and only a change the view shows gives it the
// view's form.
func TestPoliceViewOfAnOlderCaseKeepsItsEtagAcrossHiddenWrites(t *testing.T) {
	w := newWorld(t, loadEnv(t))
	defer w.close()
	worker, police := principal("worker.badinh"), principal("police.badinh")
	name, _ := w.referredCase(t)
	number := name[len("cases/"):]
	// As an older database holds it: written without the views' stamps.
	err := w.store.Update(w.ctx, func(tx datastore.Tx) error {
		c, err := tx.CaseByNumber(number)
		if err != nil {
			return err
		}
		c.PoliceViews, c.Revision = nil, c.Revision+1
		return tx.UpdateCase(c)
	})
	if err != nil {
		t.Fatal(err)
	}
	read := func(p access.Principal) model.Case { t.Helper(); return w.caseAs(t, p, name) }
	full, seen := read(worker), read(police)
	if seen.Etag() != full.Etag() {
		t.Fatalf("the police view of an unstamped case has etag %s, want the case's %s", seen.Etag(), full.Etag())
	}

	w.clk.Set(w.clk.Now().Add(time.Hour))
	if _, err := w.eng.AddNote(w.ctx, worker, process.Request{Case: name, Etag: full.Etag()}, "ghi chú"); err != nil {
		t.Fatal(err)
	}
	if now := read(police); now.Etag() != seen.Etag() || !now.UpdateTime.Equal(seen.UpdateTime) {
		t.Errorf("after a note the police view has etag %s at %v, want %s at %v as before", now.Etag(), now.UpdateTime, seen.Etag(), seen.UpdateTime)
	}
	acked, err := w.eng.AcknowledgePoliceReferral(w.ctx, police, process.Request{Case: name, Etag: seen.Etag()}, "CA-123")
	if err != nil {
		t.Fatalf("the police acknowledge with the etag they read, %s: %v", seen.Etag(), err)
	}
	if want := (model.Case{Number: number, Revision: seen.Revision + 1, EtagView: model.PoliceEtagView}).Etag(); acked.Etag() != want {
		t.Errorf("after their acknowledgement the police view has etag %s, want %s", acked.Etag(), want)
	}
}

// The README's known limit: since a police step takes the case's own etag
// while it is current, a police client can tell the current number from
// the others by guessing, even with a step the case refuses (it has been
// acknowledged already): the others are a conflict, the current one is
// refused for what it asks. So it can learn how many times the case was
// written, the commune's hidden notes included, though not what they were.
func TestPoliceStepTellsTheCurrentCaseEtagFromTheOthers(t *testing.T) {
	w := newWorld(t, loadEnv(t))
	defer w.close()
	worker, police := principal("worker.badinh"), principal("police.badinh")
	name, full := w.referredCase(t)
	seen := access.PoliceView(full, policeLocal)
	if _, err := w.eng.AcknowledgePoliceReferral(w.ctx, police, process.Request{Case: name, Etag: seen.Etag()}, "CA-123"); err != nil {
		t.Fatal(err)
	}
	c := w.caseAs(t, worker, name)
	var err error
	for range 2 {
		if c, err = w.eng.AddNote(w.ctx, worker, process.Request{Case: name, Etag: c.Etag()}, "ghi chú"); err != nil {
			t.Fatal(err)
		}
	}
	for n := uint64(1); n <= c.Revision+1; n++ {
		_, err := w.eng.AcknowledgePoliceReferral(w.ctx, police, process.Request{Case: name, Etag: (model.Case{Number: c.Number, Revision: n}).Etag()}, "CA-124")
		var refused *model.PreconditionError
		if current := n == c.Revision; current != errors.As(err, &refused) || current == errors.Is(err, model.ErrConflict) {
			t.Errorf("a second acknowledgement with etag %d (the case's is %d): %v", n, c.Revision, err)
		}
	}
}

// The city police is the top of the police chain: its own overdue clocks
// escalate no further. A database written before a second police unit
// without covers was refused may hold one (here Tây Hồ's, registered
// without its commune); the city police's breach used to escalate to it,
// and its liaison came to see a case of another commune.
func TestCityPoliceEscalatesToNoOtherUnitWithoutCovers(t *testing.T) {
	w := newWorld(t, loadEnv(t))
	defer w.close()
	err := w.store.Update(w.ctx, func(tx datastore.Tx) error {
		return tx.CreatePoliceUnit(model.PoliceUnit{ID: "ca-tay-ho", DisplayName: "Công an phường Tây Hồ", CreateTime: w.clk.Now()})
	})
	if err != nil {
		t.Fatal(err)
	}
	tayHo := access.Principal{UserID: "police.tayho", Role: model.RolePoliceLiaison, Unit: "policeUnits/ca-tay-ho"}
	name, full := w.referredCase(t)
	if _, err := w.eng.ReferToPolice(w.ctx, principal("worker.badinh"), process.Request{Case: name, Etag: full.Etag()}, policeCity, "xâm hại tình dục"); err != nil {
		t.Fatal(err)
	}
	// Nobody acts: every police clock runs out, and each breach escalates
	// (and, unanswered, escalates again).
	for range 5 {
		w.clk.Set(w.clk.Now().Add(72 * time.Hour))
		if _, err := w.eng.FireDue(w.ctx); err != nil {
			t.Fatal(err)
		}
	}
	if c, _, err := w.intake.GetCase(w.ctx, principal("police.city"), name); err != nil || len(c.Deadlines) == 0 {
		t.Fatalf("the city police's view = %+v, %v: the test needs their overdue clocks", c.Deadlines, err)
	}
	if c, _, err := w.intake.GetCase(w.ctx, tayHo, name); !errors.Is(err, model.ErrNotFound) {
		t.Errorf("Tây Hồ's police, to whom the case was never referred, read it: %+v, %v", c, err)
	}
}
