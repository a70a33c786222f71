package process_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"

	"github.com/childcase/childcase/internal/domain/datastore"
	"github.com/childcase/childcase/internal/domain/intake"
	"github.com/childcase/childcase/internal/domain/model"
	"github.com/childcase/childcase/internal/domain/process"
	"github.com/childcase/childcase/internal/domain/vntime"
)

// damagedCase is a store one of whose cases lies on a damaged page of the
// file: every transaction that reads it fails, as boltstore's do once
// bbolt panics on the page (model.ErrDamaged), a write that reads it by
// id and a read that lists it from the queue index alike.
type damagedCase struct {
	datastore.Store
	id    uint64
	tries *atomic.Int64 // counts the writes that read the damaged case, if not nil
}

// Update counts a write that read the damaged case once, however many
// times the store ran its body (memstore runs it twice).
func (s damagedCase) Update(ctx context.Context, fn func(datastore.Tx) error) error {
	var read atomic.Bool
	err := s.Store.Update(ctx, func(tx datastore.Tx) error { return fn(damagedCaseTx{tx, s, &read}) })
	if read.Load() && s.tries != nil {
		s.tries.Add(1)
	}
	return err
}

func (s damagedCase) View(ctx context.Context, fn func(datastore.ReadTx) error) error {
	return s.Store.View(ctx, func(tx datastore.ReadTx) error { return fn(damagedReadTx{tx, s.id}) })
}

type damagedReadTx struct {
	datastore.ReadTx
	id uint64
}

// ListQueue fails when the list reads the damaged case, as a list of
// boltstore's does: it reads each case its index names.
func (t damagedReadTx) ListQueue(q datastore.QueueQuery) ([]model.Case, string, error) {
	match, read := q.Match, false
	q.Match = func(c model.Case) bool {
		read = read || c.ID == t.id
		return match == nil || match(c)
	}
	out, next, err := t.ReadTx.ListQueue(q)
	if read {
		return nil, "", fmt.Errorf("case id %d: %w", t.id, model.ErrDamaged)
	}
	return out, next, err
}

type damagedCaseTx struct {
	datastore.Tx
	s    damagedCase
	read *atomic.Bool // whether the write read the damaged case
}

func (t damagedCaseTx) CaseByID(id uint64) (model.Case, error) {
	if id == t.s.id {
		t.read.Store(true)
		return model.Case{}, fmt.Errorf("case id %d: %w", id, model.ErrDamaged)
	}
	return t.Tx.CaseByID(id)
}

// errorLines counts the ERROR records logged.
type errorLines struct{ n atomic.Int64 }

func (h *errorLines) Enabled(context.Context, slog.Level) bool { return true }
func (h *errorLines) Handle(_ context.Context, r slog.Record) error {
	if r.Level >= slog.LevelError {
		h.n.Add(1)
	}
	return nil
}
func (h *errorLines) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h *errorLines) WithGroup(string) slog.Handler      { return h }

// A case on a damaged page fails its own timers every time they fall due,
// and only them: the scheduler fires the deadlines of the other cases due
// after it, and reports the damaged one (which Run logs) without deleting
// its timer. It stopped at the damaged timer, so that one damaged case held
// back every deadline of every case due after it, at every pass.
func TestSchedulerFiresPastADamagedCase(t *testing.T) {
	e := loadEnv(t)
	w := newWorld(t, e)
	defer w.close()
	damaged := w.openCaseAt(t, w.clk.Now(), false, model.AbuseNeglect) // its acknowledgement falls due first
	w.clk.Advance(time.Hour)
	sound := w.openCaseAt(t, w.clk.Now(), false, model.AbuseNeglect)
	w.clk.Advance(48 * time.Hour) // both acknowledgements are overdue

	eng := process.New(process.Deps{Store: damagedCase{Store: w.store, id: damaged.ID}, Units: e.reg, Policy: e.pol, Calendar: e.cal, Vault: e.vault, Clock: w.clk, Log: e.log})
	n, err := eng.FireDue(w.ctx)
	if !errors.Is(err, model.ErrDamaged) {
		t.Errorf("FireDue past a damaged case: %d fired, error %v; want the damage reported", n, err)
	}
	w.firedPast(t, sound, damaged)
}

// The unit reforms move the other cases of a unit gone out of force past a
// case on a damaged page, and report the damaged one. The first damaged
// case ended the pass, so every case after it stayed in a unit that is
// gone, and the scheduler scanned the reformed units' queues again at
// every pass.
func TestReformsMovePastADamagedCase(t *testing.T) {
	e := loadEnv(t)
	w := newWorldAt(t, e, time.Date(2025, 6, 25, 9, 0, 0, 0, vntime.Location())) // Phường Trúc Bạch is in force until 30 June
	defer w.close()
	// One sound case either side of the damaged one, whichever order the
	// queue reads them in.
	first := w.openCaseAt(t, w.clk.Now(), false, model.AbuseNeglect)
	w.clk.Advance(time.Hour)
	damaged := w.openCaseAt(t, w.clk.Now(), false, model.AbuseNeglect)
	w.clk.Advance(time.Hour)
	last := w.openCaseAt(t, w.clk.Now(), false, model.AbuseNeglect)
	w.clk.Set(time.Date(2025, 7, 2, 9, 0, 0, 0, vntime.Location()))

	eng := process.New(process.Deps{Store: damagedCase{Store: w.store, id: damaged.ID}, Units: e.reg, Policy: e.pol, Calendar: e.cal, Vault: e.vault, Clock: w.clk, Log: e.log})
	n, err := eng.FollowReforms(w.ctx)
	if !errors.Is(err, model.ErrDamaged) || n != 2 {
		t.Errorf("FollowReforms past a damaged case: %d changed, error %v; want 2 and the damage reported", n, err)
	}
	w.movedPast(t, first, last)
}

// The scheduler tries a case on a damaged page again, and logs it, once an
// hour, not at every pass: each pass (every poll, and every write's
// wake-up) tried the case's overdue timer and the unit reforms again and
// logged two ERROR lines a second for as long as the server ran.
func TestSchedulerTriesADamagedCaseHourly(t *testing.T) {
	e := loadEnv(t)
	w := newWorldAt(t, e, time.Date(2025, 6, 25, 9, 0, 0, 0, vntime.Location()))
	defer w.close()
	damaged := w.openCaseAt(t, w.clk.Now(), false, model.AbuseNeglect)
	w.clk.Set(time.Date(2025, 7, 2, 9, 0, 0, 0, vntime.Location())) // its acknowledgement is overdue, its unit gone

	var tries atomic.Int64
	logged := &errorLines{}
	eng := process.New(process.Deps{Store: damagedCase{Store: w.store, id: damaged.ID, tries: &tries}, Units: e.reg, Policy: e.pol, Calendar: e.cal, Vault: e.vault, Clock: w.clk, Log: slog.New(logged)})
	defer runScheduler(t, w.ctx, eng)()
	waitFor := func(want int64) {
		t.Helper()
		for start := time.Now(); tries.Load() < want; time.Sleep(time.Millisecond) {
			if time.Since(start) > 30*time.Second {
				t.Fatalf("after 30 s the damaged case was read %d times, want %d", tries.Load(), want)
			}
		}
	}
	// Its timer, then the reforms: one try each.
	waitFor(2)
	// A few hundred passes at a 1 ms poll, with the clock still.
	time.Sleep(300 * time.Millisecond)
	if n, lines := tries.Load(), logged.n.Load(); n != 2 || lines != 2 {
		t.Errorf("with the clock still, the damaged case was tried %d times and %d ERROR lines logged; want 2 and 2 (its timer and the reforms, once each)", n, lines)
	}
	// An hour later its timer is tried, and logged, again; the reforms wait for the next day.
	w.clk.Advance(time.Hour)
	waitFor(3)
	time.Sleep(100 * time.Millisecond)
	if n, lines := tries.Load(), logged.n.Load(); n != 3 || lines != 3 {
		t.Errorf("an hour later the damaged case was tried %d times in all and %d ERROR lines logged; want 3 and 3", n, lines)
	}
}

// writesCounted counts its write transactions.
type writesCounted struct {
	datastore.Store
	n *atomic.Int64
}

func (s writesCounted) Update(ctx context.Context, fn func(datastore.Tx) error) error {
	s.n.Add(1)
	return s.Store.Update(ctx, fn)
}

// A case already waiting for the city (its commune split in the reform)
// costs the daily pass of the reforms nothing: it is left out of the list
// from the index, as the cases of the gone units are read there, and no
// write transaction is begun for it (each is a commit, two fsyncs on a
// file, every start and every day, for as long as the city leaves it).
func TestReformsLeaveACaseAwaitingTheCityAlone(t *testing.T) {
	e := loadEnv(t)
	w := newWorldAt(t, e, time.Date(2025, 6, 25, 9, 0, 0, 0, vntime.Location()))
	defer w.close()
	age := int32(9)
	out, err := w.intake.CreateReport(w.ctx, principal("operator"), intake.CreateReportInput{
		Report: model.Report{
			Channel: 1, ReceiveTime: w.clk.Now(), CallType: model.CallIntervention,
			Children:  []model.Child{{FullName: "Nguyễn Văn An", EstimatedAge: &age, Sex: 1}},
			Narrative: "trẻ bị đánh", SuspectedAbuse: []model.AbuseForm{model.AbuseNeglect}, Reporter: model.Reporter{Anonymous: true},
		},
		IncidentCommuneCode: "00016", // Ngọc Hà, split on 1 July 2025
	})
	if err != nil {
		t.Fatal(err)
	}
	w.clk.Set(time.Date(2025, 7, 2, 9, 0, 0, 0, vntime.Location()))
	var writes atomic.Int64
	eng := process.New(process.Deps{Store: writesCounted{w.store, &writes}, Units: e.reg, Policy: e.pol, Calendar: e.cal, Vault: e.vault, Clock: w.clk, Log: e.log})
	if n, err := eng.FollowReforms(w.ctx); err != nil || n != 1 {
		t.Fatalf("the first pass: %d changed, %v; want the case %s to await the city", n, err, out.CaseNumber)
	}
	if err := w.store.View(w.ctx, func(tx datastore.ReadTx) error {
		c, err := tx.CaseByNumber(out.CaseNumber)
		if err == nil && !c.AwaitingSuccessor {
			t.Fatalf("case %s after the reform: in %v, not awaiting the city", c.Number, c.ResponsibleUnit)
		}
		return err
	}); err != nil {
		t.Fatal(err)
	}
	writes.Store(0)
	w.clk.Advance(24 * time.Hour)
	if n, err := eng.FollowReforms(w.ctx); err != nil || n != 0 || writes.Load() != 0 {
		t.Errorf("the next day's pass: %d changed, %v, %d write transactions; want none", n, err, writes.Load())
	}
}

// firedPast fails t unless a FireDue past the case held (damaged, or one
// whose firing panics) breached sound's overdue acknowledgement and left
// due only held's timers, which must still be there to fire once the
// fault is mended.
func (w *world) firedPast(t *testing.T, sound, held model.Case) {
	t.Helper()
	var after model.Case
	var timers []model.Timer
	if err := w.store.View(w.ctx, func(tx datastore.ReadTx) error {
		var err error
		if after, err = tx.CaseByID(sound.ID); err != nil {
			return err
		}
		timers, err = tx.DueTimers(w.clk.Now(), 100)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if d := after.OpenDeadline(model.DeadlineAcknowledge, ""); d == nil || !d.Breached {
		t.Errorf("the sound case's overdue acknowledgement after FireDue: %+v, want it breached", d)
	}
	for _, tm := range timers {
		if tm.CaseID != held.ID {
			t.Errorf("a due timer of the sound case is left: %+v", tm)
		}
	}
	if len(timers) == 0 {
		t.Errorf("the timer of case %s, held back, is gone: it must fire once the fault is mended", held.Number)
	}
}

// movedPast fails t unless each sound case left the unit gone out of force
// it was in (moved to its successor, or awaiting the city's choice of one).
func (w *world) movedPast(t *testing.T, sound ...model.Case) {
	t.Helper()
	for _, c := range sound {
		var after model.Case
		if err := w.store.View(w.ctx, func(tx datastore.ReadTx) error {
			var err error
			after, err = tx.CaseByID(c.ID)
			return err
		}); err != nil {
			t.Fatal(err)
		}
		if after.ResponsibleUnit == c.ResponsibleUnit && !after.AwaitingSuccessor {
			t.Errorf("the sound case %s stayed in %v, a unit gone out of force", c.Number, after.ResponsibleUnit)
		}
	}
}
