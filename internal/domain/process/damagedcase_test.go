package process_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/childcase/childcase/internal/domain/datastore"
	"github.com/childcase/childcase/internal/domain/model"
	"github.com/childcase/childcase/internal/domain/process"
)

// damagedCase is a store one of whose cases lies on a damaged page of the
// file: every write transaction that reads it fails, as boltstore's do
// once bbolt panics on the page (model.ErrDamaged).
type damagedCase struct {
	datastore.Store
	id uint64
}

func (s damagedCase) Update(ctx context.Context, fn func(datastore.Tx) error) error {
	return s.Store.Update(ctx, func(tx datastore.Tx) error { return fn(damagedCaseTx{tx, s.id}) })
}

type damagedCaseTx struct {
	datastore.Tx
	id uint64
}

func (t damagedCaseTx) CaseByID(id uint64) (model.Case, error) {
	if id == t.id {
		return model.Case{}, fmt.Errorf("case id %d: %w", id, model.ErrDamaged)
	}
	return t.Tx.CaseByID(id)
}

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

	eng := process.New(process.Deps{Store: damagedCase{w.store, damaged.ID}, Units: e.reg, Policy: e.pol, Calendar: e.cal, Vault: e.vault, Clock: w.clk, Log: e.log})
	n, err := eng.FireDue(w.ctx)
	if !errors.Is(err, model.ErrDamaged) {
		t.Errorf("FireDue past a damaged case: %d fired, error %v; want the damage reported", n, err)
	}
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
		if tm.CaseID != damaged.ID {
			t.Errorf("a due timer of the sound case is left: %+v", tm)
		}
	}
	if len(timers) == 0 {
		t.Error("the damaged case's timer is gone: it must fire once the file is mended")
	}
}
