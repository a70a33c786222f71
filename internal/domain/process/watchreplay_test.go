package process_test

import (
	"errors"
	"testing"
	"time"

	"github.com/childcase/childcase/internal/domain/datastore"
	"github.com/childcase/childcase/internal/domain/model"
	"github.com/childcase/childcase/internal/domain/process"
)

// A watch resumes at most process.MaxWatchReplay notifications back: a
// replay reads every notification after its cursor and the case of each,
// and from the first of a million (after_seq=1) it was minutes of the
// server's work for one call of any user. An older cursor is refused
// naming after_seq and the oldest it takes; one within the bound is
// taken. The test runs on a bound of 3.
func TestAWatchResumesOnlySoFarBack(t *testing.T) {
	if process.MaxWatchReplay < 1000 || process.MaxWatchReplay > 100_000 {
		t.Errorf("process.MaxWatchReplay is %d: a resumption after a weekend must fit, a replay of the whole outbox must not", process.MaxWatchReplay)
	}
	e := loadEnv(t)
	w := newWorld(t, e)
	defer w.close()
	eng := process.New(process.Deps{Store: w.store, Units: e.reg, Policy: e.pol, Calendar: e.cal, Vault: e.vault, Clock: w.clk, Log: e.log,
		WatchReplay: 3})
	for range 6 {
		w.openCaseAt(t, start.Add(-2*time.Hour), false, 1)
	}
	var head uint64
	if err := w.store.View(w.ctx, func(tx datastore.ReadTx) (err error) {
		head, err = tx.OutboxHead()
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if head < 5 {
		t.Fatalf("the outbox holds %d notifications, want at least 5 for the test", head)
	}
	worker := principal("worker.badinh")
	errLive := errors.New("live")
	watch := func(after uint64) error {
		return eng.Watch(w.ctx, worker, after, "", func(uint64) error { return errLive }, func(model.Notification) error { return nil })
	}
	err := watch(1)
	var fe *model.FieldError
	if !errors.As(err, &fe) || fe.Field != "after_seq" || fe.Rule != "after_seq.replay" {
		t.Errorf("a watch after seq 1 of %d, bound 3: %v; want it refused naming after_seq (after_seq.replay)", head, err)
	}
	if err := watch(head - 3); !errors.Is(err, errLive) {
		t.Errorf("a watch after seq %d of %d, bound 3: %v; want it live", head-3, head, err)
	}
	if err := watch(0); !errors.Is(err, errLive) {
		t.Errorf("a watch from now: %v; want it live", err)
	}
}
