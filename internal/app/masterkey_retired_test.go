package app

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/childcase/childcase/internal/domain/access"
	"github.com/childcase/childcase/internal/domain/audit"
	"github.com/childcase/childcase/internal/domain/datastore"
	"github.com/childcase/childcase/internal/domain/model"
	"github.com/childcase/childcase/internal/keys"
)

// A file whose data keys are under two masters without the next key file
// beside its key file: a copy taken while a rotation was unfinished (an
// offline backup of a file a killed `keys rotate` left, a hot backup
// after a rotation stopped by a full disk), put in place once that
// rotation had finished, so that the key file holds the new master and
// the old one is its retired file. The start takes the retired key file
// into its keyring, opens the file, and re-wraps every data key under the
// key file's master, audited; it refused the file instead ("the master
// key does not open the data in this database"), though both keys were
// there.
func TestAStartOpensAFileUnderARetiredMasterAndEndsUnderOne(t *testing.T) {
	ctx := context.Background()
	path, store, clk, mk := openTestMasterKeys(t)
	const sealed = 6
	sealDossiers(t, store, mk.vault, sealed)
	old := mk.vault.Keyring().Current()
	next, err := keys.GenerateMaster()
	if err != nil {
		t.Fatal(err)
	}
	// Half the data keys re-wrapped under next, as a cut-short rotation
	// leaves them.
	ring := keys.NewKeyring(next, old)
	if err := store.Update(ctx, func(tx datastore.Tx) error {
		ks, _, err := tx.ListDataKeys("", sealed/2)
		if err != nil {
			return err
		}
		for _, k := range ks {
			dk, err := ring.Unwrap(k.Wrapped, []byte(k.ID))
			if err != nil {
				return err
			}
			w, err := next.Wrap(dk, []byte(k.ID))
			if err != nil {
				return err
			}
			if err := tx.PutDataKey(k.ID, w); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	// The key file holds the new master, the old one is kept beside it.
	if err := os.Rename(path, retiredKeyPath(path, old.ID())); err != nil {
		t.Fatal(err)
	}
	if err := keys.WriteMaster(path, next); err != nil {
		t.Fatal(err)
	}

	mk, err = openMasterKeys(ctx, path, store, false, clk, slog.New(slog.DiscardHandler), func(string) {})
	if err != nil {
		t.Fatalf("a start on a file under the key file's master and its retired one: %v", err)
	}
	if got := mastersOf(t, store); !slices.Equal(got, []string{next.ID()}) {
		t.Errorf("after the start the data keys are under %v; want the key file's master %s alone", got, next.ID())
	}
	var rotations []audit.Event
	if err := store.View(ctx, func(tx datastore.ReadTx) error {
		for e, err := range tx.AuditEvents(0) {
			if err != nil {
				return err
			}
			if e.Action == "keys.rotate" {
				if e.Reason, err = mk.vault.OpenReason(tx, e); err != nil {
					return err
				}
				rotations = append(rotations, e)
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	want := fmt.Sprintf("from %s to %s, %d data keys re-wrapped (data keys under retired master keys, re-wrapped at start)", old.ID(), next.ID(), sealed-sealed/2)
	if len(rotations) != 1 || rotations[0].Reason != want || rotations[0].Actor != access.SystemUserID {
		t.Errorf("the re-wrap at start is audited as %+v; want one keys.rotate by users/system, its reason %q", rotations, want)
	}
	// Without the retired key file the start is refused, naming the
	// master it lacks, and nothing is re-wrapped.
	path2, store2, clk2, mk2 := openTestMasterKeys(t)
	if err := store2.Update(ctx, func(tx datastore.Tx) error {
		_, err := mk2.vault.SealDossier(tx, "HN-2026-00001", model.Dossier{})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	old2 := mk2.vault.Keyring().Current()
	if err := os.Remove(path2); err != nil {
		t.Fatal(err)
	}
	if err := keys.WriteMaster(path2, next); err != nil {
		t.Fatal(err)
	}
	_, err = openMasterKeys(ctx, path2, store2, false, clk2, slog.New(slog.DiscardHandler), func(string) {})
	if err == nil || !strings.Contains(err.Error(), "the master key does not open the data in this database") || !strings.Contains(err.Error(), retiredKeyPath(path2, old2.ID())) {
		t.Errorf("a start without the retired key file: %v; want it refused naming the retired key file of %s it lacks", err, old2.ID())
	}
}

// mastersOf returns the masters the data keys of store are under.
func mastersOf(t *testing.T, store datastore.Store) []string {
	t.Helper()
	var ids []string
	if err := store.View(t.Context(), func(tx datastore.ReadTx) error {
		ks, err := tx.DataKeyPerMaster()
		for _, k := range ks {
			ids = append(ids, k.Wrapped.MasterID)
		}
		return err
	}); err != nil {
		t.Fatal(err)
	}
	return ids
}
