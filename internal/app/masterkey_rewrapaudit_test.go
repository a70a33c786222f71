package app

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"testing"

	"github.com/childcase/childcase/internal/domain/clock"
	"github.com/childcase/childcase/internal/domain/datastore"
	"github.com/childcase/childcase/internal/domain/model"
	"github.com/childcase/childcase/internal/keys"
)

// The re-wrap at start of the data keys under a retired master is
// audited even when the start is cut short between the re-wrap's last
// commit and its event (a kill, a disk that fills): the next start
// records it. The event came after the re-wrap, and the re-wrap left no
// trace to finish: the data keys were all under the key file's master,
// so the next start had nothing to re-wrap and nothing to say, and a key
// change was never on the audit trail.
func TestAReWrapAtStartCutShortBeforeItsEventIsAudited(t *testing.T) {
	// Cut after each of the start's first writes in turn.
	for commits := range 4 {
		t.Run(fmt.Sprintf("after %d commits", commits), func(t *testing.T) {
			ctx := context.Background()
			path, store, clk, old, next := fileUnderARetiredMaster(t)
			cut := &fillingStore{Store: store, left: commits}
			if _, err := openMasterKeys(ctx, path, cut, false, clk, slog.New(slog.DiscardHandler), func(string) {}); err != nil {
				t.Logf("the start cut short: %v", err)
			}
			// Whatever the cut, a re-wrap that left no data key under the
			// retired master has its event: nothing later would write it.
			if got := mastersOf(t, store); slices.Equal(got, []string{next.ID()}) && countAction(t, store, "keys.rotate") == 0 {
				t.Fatalf("the data keys were re-wrapped from %s to %s and no keys.rotate event says so", old.ID(), next.ID())
			}
			if _, err := openMasterKeys(ctx, path, store, false, clk, slog.New(slog.DiscardHandler), func(string) {}); err != nil {
				t.Fatalf("the next start: %v", err)
			}
			if got := mastersOf(t, store); !slices.Equal(got, []string{next.ID()}) {
				t.Errorf("after the next start the data keys are under %v; want %s alone", got, next.ID())
			}
			if n := countAction(t, store, "keys.rotate"); n == 0 {
				t.Errorf("the data keys were re-wrapped from %s to %s and no keys.rotate event says so", old.ID(), next.ID())
			}
		})
	}
}

// fileUnderARetiredMaster returns a store whose data keys are under the
// master old, kept beside the key file at path as its retired key file,
// while the key file holds a later master, next: an older backup put in
// place after a rotation.
func fileUnderARetiredMaster(t *testing.T) (path string, store datastore.Store, clk *clock.Fake, old, next keys.MasterKey) {
	t.Helper()
	path, mem, clk, mk := openTestMasterKeys(t)
	const sealed = 6
	if err := mem.Update(t.Context(), func(tx datastore.Tx) error {
		for i := range sealed {
			if _, err := mk.vault.SealDossier(tx, fmt.Sprintf("HN-2026-%05d", i+1), model.Dossier{}); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	old = mk.vault.Keyring().Current()
	next, err := keys.GenerateMaster()
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(path, retiredKeyPath(path, old.ID())); err != nil {
		t.Fatal(err)
	}
	if err := keys.WriteMaster(path, next); err != nil {
		t.Fatal(err)
	}
	return path, mem, clk, old, next
}
