package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"github.com/childcase/childcase/internal/domain/access"
	"github.com/childcase/childcase/internal/domain/clock"
	"github.com/childcase/childcase/internal/domain/datastore"
	"github.com/childcase/childcase/internal/domain/idempotency"
	"github.com/childcase/childcase/internal/domain/model"
	"github.com/childcase/childcase/internal/storage/boltstore"
)

// fillingStore commits its next left writes, then refuses every write as
// a full database does.
type fillingStore struct {
	datastore.Store
	left int
}

func (s *fillingStore) Update(ctx context.Context, fn func(datastore.Tx) error) error {
	if s.left <= 0 {
		return fmt.Errorf("write: %w", model.ErrFull)
	}
	s.left--
	return s.Store.Update(ctx, fn)
}

// A RotateMasterKey stopped part way by a full disk releases the rotation
// lock with the data keys under two masters. A hot backup taken then
// must not copy them so (neither key file alone would open the copy): it
// is refused, ROTATION_UNFINISHED, until a retry of the rotation finishes
// it, and then taken. It copied the mixed file.
func TestHotBackupAfterARotationStoppedByAFullDisk(t *testing.T) {
	ctx := context.Background()
	_, _, bolt, store, _, mk := openFillingMasterKeys(t)
	const sealed = 3 * 200 // three of the rotation's batches
	sealDossiers(t, store, mk.vault, sealed)
	backup := mk.backupBetweenRotations(bolt)

	store.left = 1 // the rotation's first batch, then a full disk
	if _, _, err := mk.RotateMasterKey(ctx, access.System("test"), idempotency.Request{}); !errors.Is(err, model.ErrFull) {
		t.Fatalf("RotateMasterKey on a disk that fills after its first batch: %v; want it stopped part way, full", err)
	}
	if got := mastersOf(t, bolt); len(got) != 2 {
		t.Fatalf("after the rotation stopped part way the data keys are under %v; the test wants two masters", got)
	}
	snap, _, err := backup.Snapshot(ctx)
	if err == nil {
		snap.Close()
	}
	var pre *model.PreconditionError
	if !errors.As(err, &pre) || pre.Reason != "ROTATION_UNFINISHED" {
		t.Errorf("a hot backup after a rotation stopped part way: %v; want it refused, ROTATION_UNFINISHED", err)
	}

	store.left = 1 << 30 // space freed
	if _, _, err := mk.RotateMasterKey(ctx, access.System("test"), idempotency.Request{}); err != nil {
		t.Fatalf("RotateMasterKey once there is room: %v", err)
	}
	snap, _, err = backup.Snapshot(ctx)
	if err != nil {
		t.Fatalf("a hot backup once the rotation is finished: %v", err)
	}
	snap.Close()
}

// openFillingMasterKeys opens the master keys of a new bbolt file in a
// folder of the test's, through a fillingStore with room for any number
// of commits until the test sets how many are left, on a fake clock: the
// folder, the key file's path, the file, the store, the clock and the
// keys.
func openFillingMasterKeys(t *testing.T) (string, string, *boltstore.Store, *fillingStore, *clock.Fake, *masterKeys) {
	t.Helper()
	dir := t.TempDir()
	bolt, err := boltstore.Open(filepath.Join(dir, "cc.db"), boltstore.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { bolt.Close() })
	store := &fillingStore{Store: bolt, left: 1 << 30}
	clk := clock.NewFake(time.Date(2026, 12, 5, 3, 0, 0, 0, time.UTC))
	path := filepath.Join(dir, "cc.key")
	mk, err := openMasterKeys(context.Background(), path, store, false, clk, slog.New(slog.DiscardHandler), func(string) {})
	if err != nil {
		t.Fatal(err)
	}
	return dir, path, bolt, store, clk, mk
}
