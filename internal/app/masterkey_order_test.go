package app

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/childcase/childcase/internal/domain/clock"
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
	path := filepath.Join(t.TempDir(), "cc.key")
	store := memstore.New()
	t.Cleanup(func() { store.Close() })
	clk := clock.NewFake(time.Date(2026, 12, 5, 3, 0, 0, 0, time.UTC))
	mk, err := openMasterKeys(ctx, path, store, false, clk, slog.New(slog.DiscardHandler), func(string) {})
	if err != nil {
		t.Fatal(err)
	}
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
