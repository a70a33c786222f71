package app

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"slices"
	"testing"

	"github.com/childcase/childcase/internal/domain/access"
	"github.com/childcase/childcase/internal/domain/datastore"
	"github.com/childcase/childcase/internal/domain/idempotency"
	"github.com/childcase/childcase/internal/domain/model"
	"github.com/childcase/childcase/internal/keys"
)

// A rotation a full disk stopped part way, on a running server, is
// finished by the next hot backup once there is room, which is then
// taken under the new master: the nightly backup unit, refused
// ROTATION_UNFINISHED while the disk was full, works again on its own
// the night after space is freed. It stayed refused, night after night,
// until someone called RotateMasterKey again or restarted the server.
//
// A full disk may also stop it after its last batch, at its audit event:
// the data keys are then all under the new master, whose key is in the
// next key file alone, and a backup taken so opens with no key file the
// operator keeps until the rotation is finished. That backup finishes it
// first too.
func TestAHotBackupFinishesARotationAFullDiskStopped(t *testing.T) {
	for _, tc := range []struct {
		name    string
		commits int // the rotation's commits before the disk is full
	}{
		{"in the re-wrap", 1},
		{"at its audit event", 3},
	} {
		t.Run(tc.name, func(t *testing.T) { testAHotBackupFinishesARotation(t, tc.commits) })
	}
}

func testAHotBackupFinishesARotation(t *testing.T, commits int) {
	ctx := context.Background()
	_, path, bolt, store, _, mk := openFillingMasterKeys(t)
	const sealed = 3 * 200 // three of the rotation's batches
	sealDossiers(t, store, mk.vault, sealed)
	old := mk.vault.Keyring().Current()
	backup := mk.backupBetweenRotations(bolt)

	store.left = commits // the rotation's first batches, then a full disk
	req := idempotency.Request{ID: "rotate-1", Fingerprint: []byte("f")}
	by := access.Principal{UserID: "users/admin"}
	if _, _, err := mk.RotateMasterKey(ctx, by, req); !errors.Is(err, model.ErrFull) {
		t.Fatalf("RotateMasterKey on a disk that fills after its first batch: %v; want it stopped part way, full", err)
	}
	next, err := keys.LoadMaster(nextKeyPath(path))
	if err != nil {
		t.Fatalf("the rotation stopped part way left no next key file: %v", err)
	}
	snap, _, err := backup.Snapshot(ctx)
	if err == nil {
		snap.Close()
	}
	var pre *model.PreconditionError
	if !errors.As(err, &pre) || pre.Reason != "ROTATION_UNFINISHED" {
		t.Fatalf("a hot backup while the disk is still full: %v; want it refused, ROTATION_UNFINISHED", err)
	}

	store.left = 1 << 30 // space freed; no one calls RotateMasterKey
	snap, _, err = backup.Snapshot(ctx)
	if err != nil {
		t.Fatalf("the next hot backup once there is room: %v; want the rotation finished and the backup taken", err)
	}
	snap.Close()
	if got := mastersOf(t, bolt); !slices.Equal(got, []string{next.ID()}) {
		t.Errorf("after the backup the data keys are under %v; want the new master %s alone", got, next.ID())
	}
	if got, err := keys.LoadMaster(path); err != nil || got.ID() != next.ID() {
		t.Errorf("after the backup the key file holds %v (%v); want the new master %s", got, err, next.ID())
	}
	if _, err := keys.LoadMaster(retiredKeyPath(path, old.ID())); err != nil {
		t.Errorf("the old master is not kept as its retired key file: %v", err)
	}
	if _, err := os.Lstat(nextKeyPath(path)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the next key file is still there after the rotation was finished: %v", err)
	}
	// Audited, and remembered for the call the full disk cut short: its
	// retry is answered that rotation rather than rotating again.
	if n := countAction(t, bolt, "keys.rotate"); n != 1 {
		t.Errorf("the rotation finished by the backup is audited %d times; want once", n)
	}
	id, _, err := mk.RotateMasterKey(ctx, by, req)
	if err != nil || id != next.ID() {
		t.Errorf("a retry of the rotation the full disk cut short: %q, %v; want it answered the rotation to %s", id, err, next.ID())
	}
	if got := mastersOf(t, bolt); !slices.Equal(got, []string{next.ID()}) {
		t.Errorf("the retry rotated again: the data keys are under %v", got)
	}
}

// countAction counts the audit events of store whose action is action.
func countAction(t *testing.T, store datastore.Store, action string) int {
	t.Helper()
	n := 0
	if err := store.View(t.Context(), func(tx datastore.ReadTx) error {
		for e, err := range tx.AuditEvents(0) {
			if err != nil {
				return err
			}
			if e.Action == action {
				n++
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return n
}

// A server started on a full disk with a rotation under way (its next
// key file beside the key file) serves under both masters; a hot backup
// while the disk is full copies the data keys under the key file's
// master, which it opens; the next once there is room finishes that
// rotation and is taken, as after a RotateMasterKey the full disk
// stopped. The rotation stayed unfinished until someone rotated again.
func TestAHotBackupFinishesARotationAStartOnAFullDiskLeft(t *testing.T) {
	ctx := context.Background()
	_, path, bolt, store, clk, mk := openFillingMasterKeys(t)
	var err error
	if err := store.Update(ctx, func(tx datastore.Tx) error {
		_, err := mk.vault.SealDossier(tx, "HN-2026-00001", model.Dossier{})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	old := mk.vault.Keyring().Current()
	next := writeNextKey(t, path)

	store.left = 0 // the start finds the disk full
	mk, err = openMasterKeys(ctx, path, store, false, clk, slog.New(slog.DiscardHandler), func(string) {})
	if err != nil {
		t.Fatalf("a start on a full disk with a rotation under way: %v", err)
	}
	backup := mk.backupBetweenRotations(bolt)
	// Nothing re-wrapped yet: a copy now is under the key file's master,
	// which opens it.
	snap, _, err := backup.Snapshot(ctx)
	if err != nil {
		t.Fatalf("a hot backup while the disk is still full, every data key under the key file's master: %v; want it taken", err)
	}
	snap.Close()
	if got := mastersOf(t, bolt); !slices.Equal(got, []string{old.ID()}) {
		t.Fatalf("the test wants the data keys under the key file's master %s; they are under %v", old.ID(), got)
	}

	store.left = 1 << 30 // space freed
	snap, _, err = backup.Snapshot(ctx)
	if err != nil {
		t.Fatalf("the next hot backup once there is room: %v; want the rotation finished and the backup taken", err)
	}
	snap.Close()
	if got, err := keys.LoadMaster(path); err != nil || got.ID() != next.ID() {
		t.Errorf("after the backup the key file holds %v (%v); want the new master %s", got, err, next.ID())
	}
	if got := mastersOf(t, bolt); !slices.Equal(got, []string{next.ID()}) {
		t.Errorf("after the backup the data keys are under %v; want the new master %s alone", got, next.ID())
	}
	if n := countAction(t, bolt, "keys.rotate"); n != 1 {
		t.Errorf("the rotation finished by the backup is audited %d times; want once", n)
	}
}
