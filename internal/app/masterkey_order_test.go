package app

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/childcase/childcase/internal/domain/access"
	"github.com/childcase/childcase/internal/domain/clock"
	"github.com/childcase/childcase/internal/domain/datastore"
	"github.com/childcase/childcase/internal/domain/idempotency"
	"github.com/childcase/childcase/internal/domain/model"
	"github.com/childcase/childcase/internal/domain/search"
	"github.com/childcase/childcase/internal/domain/units"
	"github.com/childcase/childcase/internal/keys"
	"github.com/childcase/childcase/internal/storage/memstore"
)

// A rotation is audited before its key file is put in place: when the
// audit event cannot be written, the key file still holds the old master
// and the next key file waits beside it, so the next start finishes the
// rotation and records it. The other order could leave a rotation done
// and never audited, after a crash between the two.
func TestRotationAuditedBeforeItsKeyFileIsInPlace(t *testing.T) {
	ctx := context.Background()
	path, _, _, mk := openTestMasterKeys(t)
	old := mk.vault.Keyring().Current()
	next, err := keys.GenerateMaster()
	if err != nil {
		t.Fatal(err)
	}
	if err := keys.WriteMaster(nextKeyPath(path), next); err != nil {
		t.Fatal(err)
	}
	onDisk := func() string {
		t.Helper()
		m, err := keys.LoadMaster(path)
		if err != nil {
			t.Fatal(err)
		}
		return m.ID()
	}
	errAudit := errors.New("the audit event could not be written")
	recorded := false
	_, err = mk.finish(ctx, old, next, func(int) error {
		recorded = true
		if got := onDisk(); got != old.ID() {
			t.Errorf("when the rotation is audited the key file holds %s, want the old master %s", got, old.ID())
		}
		return errAudit
	})
	if !recorded || !errors.Is(err, errAudit) {
		t.Fatalf("finish: recorded %t, err %v", recorded, err)
	}
	if got := onDisk(); got != old.ID() {
		t.Errorf("a rotation whose audit event failed put its key file in place (%s)", got)
	}
	if _, err := os.Stat(nextKeyPath(path)); err != nil {
		t.Errorf("the next key file is gone after a rotation whose audit event failed: %v", err)
	}
}

// A rotation re-wraps every data key and re-indexes every case under the
// new master. A case whose index entry cannot be made (here one naming a
// report that is not there) is left out and marked for the catch-up
// (search.Rebuild), as at a start: it must not fail the rotation, whose
// data keys are re-wrapped by then. Failing it left the re-wrap unaudited
// and the new master in a next key file only, so that every retry was
// refused until a restart finished it.
func TestRotationGoesOnPastACaseItCannotIndex(t *testing.T) {
	ctx := context.Background()
	path, store, clk, mk := openTestMasterKeys(t)
	reg, err := units.Load()
	if err != nil {
		t.Fatal(err)
	}
	mk.search = search.New(search.Deps{Store: store, Units: reg, Vault: mk.vault, Clock: clk, Log: slog.New(slog.DiscardHandler)})
	commune, err := units.ParseKey("00004@2025-07-01")
	if err != nil {
		t.Fatal(err)
	}
	if err := store.Update(ctx, func(tx datastore.Tx) error {
		c := model.Case{Number: "HN-2026-00001", Status: model.StatusAwaitingAcknowledgement, ResponsibleUnit: commune,
			ReportIDs: []string{"0190c4a2-7d3e-7c4b-8a5e-000000000001"}, Revision: 1}
		return tx.CreateCase(&c)
	}); err != nil {
		t.Fatal(err)
	}

	id, _, err := mk.RotateMasterKey(ctx, access.System("test"), idempotency.Request{})
	if err != nil {
		t.Fatalf("a rotation with a case it cannot index: %v", err)
	}
	if m, err := keys.LoadMaster(path); err != nil || m.ID() != id {
		t.Errorf("the key file holds %v (%v), want the new master %s", m.ID(), err, id)
	}
	rotations := 0
	if err := store.View(ctx, func(tx datastore.ReadTx) error {
		for e, err := range tx.AuditEvents(0) {
			if err != nil {
				return err
			}
			if e.Action == "keys.rotate" {
				rotations++
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if rotations != 1 {
		t.Errorf("%d keys.rotate events, want 1", rotations)
	}
}

// openTestMasterKeys makes a new key file in a test folder and opens it
// over a memory store, on a fake clock.
func openTestMasterKeys(t *testing.T) (path string, store *memstore.Store, clk *clock.Fake, mk *masterKeys) {
	t.Helper()
	path = filepath.Join(t.TempDir(), "cc.key")
	store = memstore.New()
	t.Cleanup(func() { store.Close() })
	clk = clock.NewFake(time.Date(2026, 12, 5, 3, 0, 0, 0, time.UTC))
	mk, err := openMasterKeys(t.Context(), path, store, false, clk, slog.New(slog.DiscardHandler), func(string) {})
	if err != nil {
		t.Fatal(err)
	}
	return path, store, clk, mk
}
