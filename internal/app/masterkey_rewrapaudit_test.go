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
	"github.com/childcase/childcase/internal/domain/search"
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

// A search looks its tokens up under every master of the keyring, and the
// search index of a file re-wrapped at start is rebuilt under the key
// file's master in the background, a batch at a time. A start that comes
// before that rebuild is done (the server stopped or killed meanwhile)
// keeps in its keyring the retired master the index is still recorded
// under, so that a search finds the cases not yet indexed again: the
// hotline searches for the child before opening a case. It dropped that
// master with the last data key under it, and such cases were not found
// until the rebuild reached them.
func TestAStartKeepsTheMasterTheSearchIndexIsUnderUntilItIsRebuilt(t *testing.T) {
	ctx := context.Background()
	path, store, clk, old, next := fileUnderARetiredMaster(t)
	// The older file's index is complete under its own master.
	if err := store.Update(ctx, func(tx datastore.Tx) error {
		return tx.SetSearchIndexedUnder(search.EntryKeyID(old))
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := openMasterKeys(ctx, path, store, false, clk, slog.New(slog.DiscardHandler), func(string) {}); err != nil {
		t.Fatal(err)
	}
	if got := mastersOf(t, store); !slices.Equal(got, []string{next.ID()}) {
		t.Fatalf("the test wants the data keys re-wrapped by the first start; they are under %v", got)
	}
	// Stopped before the index was rebuilt: the next start.
	mk, err := openMasterKeys(ctx, path, store, false, clk, slog.New(slog.DiscardHandler), func(string) {})
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, m := range mk.vault.Keyring().Masters() {
		ids = append(ids, m.ID())
	}
	if !slices.Contains(ids, old.ID()) || mk.vault.Keyring().Current().ID() != next.ID() {
		t.Errorf("a start with the search index still under %s searches under %v (current %s); want it to search under both %s and %s",
			old.ID(), ids, mk.vault.Keyring().Current().ID(), next.ID(), old.ID())
	}
}
