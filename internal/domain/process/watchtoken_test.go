package process_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/childcase/childcase/internal/domain/datastore"
	"github.com/childcase/childcase/internal/domain/model"
	"github.com/childcase/childcase/internal/domain/process"
	"github.com/childcase/childcase/internal/storage/memstore"
)

// A watch checks its caller's token (Deps.TokenValid) in the transactions
// that read something it sends, and in those alone: a poll that finds
// nothing for the caller reads the outbox and no more. Checked in every
// poll, each idle watcher read its token and user once a second, on etcd
// two network round trips per watcher per second beside the outbox's
// one, for nothing it could have sent. Here the outbox takes more than
// two pages of another commune's notifications, then one of the
// watcher's: one check, in the transaction that sends it.
func TestAWatchChecksItsTokenOnlyForWhatItSends(t *testing.T) {
	w := newReplayWorld(t, memstore.New(), 1, 0, true)
	e := loadEnv(t)
	var checks atomic.Int32
	eng := process.New(process.Deps{Store: w.store, Units: e.reg, Policy: e.pol, Calendar: e.cal, Vault: e.vault, Clock: w.clk, Log: e.log,
		TokenValid: func(datastore.ReadTx, string, time.Time) error { checks.Add(1); return nil }})
	p := principal("worker.badinh")
	p.TokenID = "tok-watcher"
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	sent := make(chan model.Notification, 1)
	done := make(chan error, 1)
	live := make(chan struct{})
	go func() {
		done <- eng.Watch(ctx, p, 0, "", func(uint64) error { close(live); return nil }, func(n model.Notification) error {
			sent <- n
			return nil
		})
	}()
	<-live
	write := func(ns ...model.Notification) {
		t.Helper()
		if err := w.store.Update(ctx, func(tx datastore.Tx) error {
			_, err := tx.AppendNotifications(ns...)
			return err
		}); err != nil {
			t.Fatal(err)
		}
	}
	var others []model.Notification
	for range 401 { // two pages and more: at least two reads
		others = append(others, model.Notification{Time: start, Kind: "WARNING", Case: w.other, Units: []string{unitOther}, DeadlineID: 1})
	}
	write(others...)
	write(model.Notification{Time: start, Kind: "WARNING", Case: w.seen[0], Units: []string{unitBaDinh}, DeadlineID: 1})
	select {
	case n := <-sent:
		if n.Case != w.seen[0] {
			t.Fatalf("sent a notification of %s, want %s", n.Case, w.seen[0])
		}
	case err := <-done:
		t.Fatalf("the watch ended: %v", err)
	case <-time.After(time.Minute):
		t.Fatal("the watcher's notification was not sent")
	}
	if n := checks.Load(); n != 1 {
		t.Errorf("the token was checked %d times for one notification sent, want once", n)
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("the watch ended with %v", err)
	}
}
