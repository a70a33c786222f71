package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/childcase/childcase/internal/domain/access"
	"github.com/childcase/childcase/internal/domain/audit"
	"github.com/childcase/childcase/internal/domain/clock"
	"github.com/childcase/childcase/internal/domain/datastore"
	"github.com/childcase/childcase/internal/domain/idempotency"
	"github.com/childcase/childcase/internal/domain/model"
	"github.com/childcase/childcase/internal/domain/search"
	"github.com/childcase/childcase/internal/domain/units"
	"github.com/childcase/childcase/internal/domain/vault"
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
	next := writeNextKey(t, path)
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
	_, err := mk.finish(ctx, old, next, func(int) error {
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

// writeNextKey writes a new master as the next key file beside path, as a
// rotation does before it re-wraps anything.
func writeNextKey(t *testing.T, path string) keys.MasterKey {
	t.Helper()
	next, err := keys.GenerateMaster()
	if err != nil {
		t.Fatal(err)
	}
	if err := keys.WriteMaster(nextKeyPath(path), next); err != nil {
		t.Fatal(err)
	}
	return next
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

// fullStore refuses every write as a full database does, while full.
type fullStore struct {
	datastore.Store
	full bool
}

func (s *fullStore) Update(ctx context.Context, fn func(datastore.Tx) error) error {
	if s.full {
		return fmt.Errorf("write: %w", model.ErrFull)
	}
	return s.Store.Update(ctx, fn)
}

// A rotation cut short by a crash (its next key file written, its data
// keys not all re-wrapped) is finished at start; on a full database the
// start cannot, and must still open the keys, under both masters, so that
// the server answers reads as it does on a full database without a
// rotation under way. (It failed to start instead, and every restart
// failed the same way until space was freed.) The rotation is then
// finished by a RotateMasterKey once there is room, remembered for that
// request.
func TestStartOnAFullDatabaseLeavesTheInterruptedRotation(t *testing.T) {
	ctx := context.Background()
	path, store, clk, mk := openTestMasterKeys(t)
	const sealed = 4 // cases, a data key each
	sealDossiers(t, store, mk.vault, sealed)
	old := mk.vault.Keyring().Current()
	next := writeNextKey(t, path)

	full := &fullStore{Store: store, full: true}
	var logged strings.Builder
	mk, err := openMasterKeys(ctx, path, full, false, clk, slog.New(slog.NewTextHandler(&logged, nil)), func(string) {})
	if err != nil {
		t.Fatalf("a start on a full database with a rotation under way: %v", err)
	}
	if !strings.Contains(logged.String(), "the interrupted master key rotation cannot be finished: the database is full") {
		t.Errorf("the start did not log that it left the rotation unfinished:\n%s", logged.String())
	}
	if got := mk.vault.Keyring().Current().ID(); got != next.ID() {
		t.Errorf("the keyring's current master is %s, want the next one %s", got, next.ID())
	}
	if m, err := keys.LoadMaster(path); err != nil || m.ID() != old.ID() {
		t.Errorf("the key file holds %v (%v), want the old master %s until the rotation is done", m.ID(), err, old.ID())
	}
	req := idempotency.Request{ID: "rotate-after-the-start", Fingerprint: []byte("f")}
	if _, _, err := mk.RotateMasterKey(ctx, access.Principal{UserID: "admin"}, req); !errors.Is(err, model.ErrFull) {
		t.Errorf("RotateMasterKey on the full database: %v, want it refused as full", err)
	}

	full.full = false
	id, n, err := mk.RotateMasterKey(ctx, access.Principal{UserID: "admin"}, req)
	if err != nil || id != next.ID() || n != sealed {
		t.Fatalf("RotateMasterKey once there is room: %s, %d re-wrapped, %v; want the interrupted rotation to %s finished, %d keys re-wrapped", id, n, err, next.ID(), sealed)
	}
	if m, err := keys.LoadMaster(path); err != nil || m.ID() != next.ID() {
		t.Errorf("after the rotation the key file holds %v (%v), want %s", m.ID(), err, next.ID())
	}
	if again, _, err := mk.RotateMasterKey(ctx, access.Principal{UserID: "admin"}, req); err != nil || again != next.ID() {
		t.Errorf("a retry of the same request: %s, %v; want the same rotation answered", again, err)
	}
	if err := mk.vault.Check(ctx, store); err != nil {
		t.Errorf("the data keys after the rotation: %v", err)
	}
}

// The event of a rotation finished at start, by users/system, carries the
// request id of the call whose rotation it finishes, as every event of a
// call does: the auditor joins it to that call's first event, if it was
// written, and to the client's logs. It carried the service's own words
// instead, and the two events of one rotation shared nothing but their
// keys.
func TestRotationFinishedAtStartCarriesTheCallsRequestID(t *testing.T) {
	ctx := context.Background()
	path, store, clk, _ := openTestMasterKeys(t)
	by := access.Principal{UserID: "admin", RequestID: "rotate-call-7"}
	if err := writeNextRequest(path, by, idempotency.Request{ID: "rotate-7", Fingerprint: []byte("f")}); err != nil {
		t.Fatal(err)
	}
	next := writeNextKey(t, path)
	if _, err := openMasterKeys(ctx, path, store, false, clk, slog.New(slog.DiscardHandler), func(string) {}); err != nil {
		t.Fatal(err)
	}
	var rotations []audit.Event
	if err := store.View(ctx, func(tx datastore.ReadTx) error {
		for e, err := range tx.AuditEvents(0) {
			if err != nil {
				return err
			}
			if e.Action == "keys.rotate" {
				rotations = append(rotations, e)
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if len(rotations) != 1 {
		t.Fatalf("%d keys.rotate events, want the one of the rotation to %s finished at start", len(rotations), next.ID())
	}
	if e := rotations[0]; e.Actor != access.SystemUserID || e.RequestID != by.RequestID {
		t.Errorf("the rotation finished at start is audited by %q with request id %q; want %q with the call's %q",
			e.Actor, e.RequestID, access.SystemUserID, by.RequestID)
	}

	// Without a request_id the call's id is kept all the same.
	by.RequestID = "rotate-call-8"
	if err := writeNextRequest(path, by, idempotency.Request{}); err != nil {
		t.Fatal(err)
	}
	writeNextKey(t, path)
	if _, err := openMasterKeys(ctx, path, store, false, clk, slog.New(slog.DiscardHandler), func(string) {}); err != nil {
		t.Fatal(err)
	}
	var last audit.Event
	if err := store.View(ctx, func(tx datastore.ReadTx) error {
		for e, err := range tx.AuditEvents(0) {
			if err != nil {
				return err
			}
			last = e
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if last.Action != "keys.rotate" || last.RequestID != by.RequestID {
		t.Errorf("the last event is %s with request id %q; want keys.rotate with the call's %q", last.Action, last.RequestID, by.RequestID)
	}
}

// sealDossiers seals an empty dossier for each of the first n case
// numbers, a data key each, so that a rotation has keys to re-wrap.
func sealDossiers(t *testing.T, store datastore.Store, v *vault.Vault, n int) {
	t.Helper()
	if err := store.Update(context.Background(), func(tx datastore.Tx) error {
		for i := range n {
			if _, err := v.SealDossier(tx, fmt.Sprintf("HN-2026-%05d", i+1), model.Dossier{}); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
}
