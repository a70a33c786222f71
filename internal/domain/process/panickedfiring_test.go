package process_test

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/childcase/childcase/internal/domain/datastore"
	"github.com/childcase/childcase/internal/domain/model"
	"github.com/childcase/childcase/internal/domain/process"
	"github.com/childcase/childcase/internal/domain/vntime"
)

// poisonedCase is a store one of whose cases makes a write that reads it
// panic, as a record the code cannot handle would (a nil map, an index
// out of range), with a value that holds a child's name.
type poisonedCase struct {
	datastore.Store
	id uint64
}

func (s poisonedCase) Update(ctx context.Context, fn func(datastore.Tx) error) error {
	return s.Store.Update(ctx, func(tx datastore.Tx) error { return fn(poisonedCaseTx{tx, s.id}) })
}

type poisonedCaseTx struct {
	datastore.Tx
	id uint64
}

func (t poisonedCaseTx) CaseByID(id uint64) (model.Case, error) {
	if id == t.id {
		panic(fmt.Sprintf("no handling for Nguyễn Thị Hoa of case id %d", id))
	}
	return t.Tx.CaseByID(id)
}

// A case whose timer panics when it fires holds back its own deadline
// only: the scheduler fires the deadlines of the other cases due after it
// and reports the one that panicked, by its type and place, never its
// value. The panic left the pass where it was; the duty ran again a second
// later from the same first timer (the oldest due), which panicked again,
// so that no deadline of any case in the city fired again.
func TestSchedulerFiresPastACaseWhoseFiringPanics(t *testing.T) {
	e := loadEnv(t)
	w := newWorld(t, e)
	defer w.close()
	poisoned := w.openCaseAt(t, w.clk.Now(), false, model.AbuseNeglect) // its acknowledgement falls due first
	w.clk.Advance(time.Hour)
	sound := w.openCaseAt(t, w.clk.Now(), false, model.AbuseNeglect)
	w.clk.Advance(48 * time.Hour) // both acknowledgements are overdue

	eng := process.New(process.Deps{Store: poisonedCase{Store: w.store, id: poisoned.ID}, Units: e.reg, Policy: e.pol, Calendar: e.cal, Vault: e.vault, Clock: w.clk, Log: slog.New(slog.DiscardHandler)})
	n, err := func() (n int, err error) {
		defer func() {
			if p := recover(); p != nil {
				t.Errorf("FireDue panicked past the poisoned case: %v", p)
			}
		}()
		return eng.FireDue(w.ctx)
	}()
	if err == nil || !strings.Contains(err.Error(), "panicked") || !strings.Contains(err.Error(), fmt.Sprintf("case id %d", poisoned.ID)) {
		t.Errorf("FireDue past a case whose firing panics: %d fired, error %v; want the panic reported with its case", n, err)
	}
	if err != nil && strings.Contains(err.Error(), "Hoa") {
		t.Errorf("the error holds the panic's value, a name: %v", err)
	}
	w.firedPast(t, sound, poisoned)
}

// The unit reforms move the other cases of a unit gone out of force past a
// case whose move panics, and report it by its type and place, never its
// value; the scheduler's pass then ends (its idempotency sweep, and a
// Settle waiting for it) and tries the case again the next day, as one on
// a damaged page. The panic ended the pass at that case, every case after
// it stayed in a unit that is gone, and each pass after the leader's
// restart of the duty (a second later) met it again before the sweep.
func TestReformsMovePastACaseWhoseMovePanics(t *testing.T) {
	e := loadEnv(t)
	w := newWorldAt(t, e, time.Date(2025, 6, 25, 9, 0, 0, 0, vntime.Location())) // Phường Trúc Bạch is in force until 30 June
	defer w.close()
	first := w.openCaseAt(t, w.clk.Now(), false, model.AbuseNeglect)
	w.clk.Advance(time.Hour)
	poisoned := w.openCaseAt(t, w.clk.Now(), false, model.AbuseNeglect)
	w.clk.Advance(time.Hour)
	last := w.openCaseAt(t, w.clk.Now(), false, model.AbuseNeglect)
	w.clk.Set(time.Date(2025, 7, 2, 9, 0, 0, 0, vntime.Location()))

	eng := process.New(process.Deps{Store: poisonedCase{Store: w.store, id: poisoned.ID}, Units: e.reg, Policy: e.pol, Calendar: e.cal, Vault: e.vault, Clock: w.clk, Log: slog.New(slog.DiscardHandler)})
	n, err := func() (n int, err error) {
		defer func() {
			if p := recover(); p != nil {
				t.Errorf("FollowReforms panicked past the poisoned case: %v", p)
			}
		}()
		return eng.FollowReforms(w.ctx)
	}()
	if n != 2 || err == nil || !strings.Contains(err.Error(), "panicked") || !strings.Contains(err.Error(), fmt.Sprintf("case id %d", poisoned.ID)) {
		t.Errorf("FollowReforms past a case whose move panics: %d changed, error %v; want 2 and the panic reported with its case", n, err)
	}
	if err != nil && strings.Contains(err.Error(), "Hoa") {
		t.Errorf("the error holds the panic's value, a name: %v", err)
	}
	w.movedPast(t, first, last)

	// The scheduler's passes end: a Settle returns.
	func() {
		defer func() {
			if p := recover(); p != nil {
				t.Errorf("Run panicked past the poisoned case: %v", p)
			}
		}()
		ctx, cancel := context.WithCancel(w.ctx)
		defer cancel()
		done := make(chan error, 1)
		go func() {
			defer func() {
				if p := recover(); p != nil {
					done <- fmt.Errorf("Run panicked: %v", p)
				}
			}()
			done <- eng.Run(ctx, time.Millisecond)
		}()
		settled := make(chan error, 1)
		go func() { settled <- eng.Settle(ctx) }()
		select {
		case err := <-settled:
			if err != nil {
				t.Errorf("Settle: %v", err)
			}
		case err := <-done:
			t.Errorf("Run ended before a pass did: %v", err)
		case <-time.After(20 * time.Second):
			t.Error("no pass of the scheduler ended in 20 s")
		}
		cancel()
	}()
}
