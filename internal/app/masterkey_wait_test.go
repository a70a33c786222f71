package app

import (
	"context"
	"errors"
	"os"
	"testing"
	"time"

	"github.com/childcase/childcase/internal/domain/access"
	"github.com/childcase/childcase/internal/domain/datastore"
	"github.com/childcase/childcase/internal/domain/idempotency"
	"github.com/childcase/childcase/internal/keys"
)

// A RotateMasterKey that waits for the rotation lock (held by a hot
// backup's copy, or by another rotation) gives up when its caller does:
// its deadline passed or its call cancelled, it answers DeadlineExceeded
// or Canceled and changes nothing. It waited for the lock without its
// context, and a rotation nobody waited for any more ran after the
// backup.
func TestRotateMasterKeyWaitsForTheLockOnlyAsLongAsItsCaller(t *testing.T) {
	path, store, _, mk := openTestMasterKeys(t)
	before, err := keys.LoadMaster(path)
	if err != nil {
		t.Fatal(err)
	}
	mk.mu.Lock() // a backup's copy being written
	defer mk.mu.Unlock()

	expired, cancelExpired := context.WithDeadline(context.Background(), time.Unix(0, 0)) // long past
	defer cancelExpired()
	if _, _, err := mk.RotateMasterKey(expired, access.System("test"), idempotency.Request{}); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("RotateMasterKey past its deadline behind a held lock: %v; want DeadlineExceeded", err)
	}

	// Cancelled while it waits.
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		_, _, err := mk.RotateMasterKey(ctx, access.System("test"), idempotency.Request{})
		done <- err
	}()
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Errorf("RotateMasterKey cancelled behind a held lock: %v; want Canceled", err)
	}

	if m, err := keys.LoadMaster(path); err != nil || m.ID() != before.ID() {
		t.Errorf("the key file holds %v (%v) after the rotations given up; want %s unchanged", m.ID(), err, before.ID())
	}
	for _, p := range []string{nextKeyPath(path), nextRequestPath(path)} {
		if _, err := os.Stat(p); err == nil {
			t.Errorf("a rotation given up left %s", p)
		}
	}
	if err := store.View(t.Context(), func(tx datastore.ReadTx) error {
		for e, err := range tx.AuditEvents(0) {
			if err != nil {
				return err
			}
			if e.Action == "keys.rotate" {
				t.Errorf("a rotation given up is audited as done: %+v", e)
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
}
