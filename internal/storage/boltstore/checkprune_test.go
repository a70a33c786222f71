package boltstore_test

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	bolt "go.etcd.io/bbolt"

	"github.com/childcase/childcase/internal/domain/datastore"
	"github.com/childcase/childcase/internal/domain/model"
	"github.com/childcase/childcase/internal/storage/boltstore"
)

// writePruned stores the healthy fixture, four more notifications, and
// prunes the outbox through seq 4 of its 5, as the leader's retention
// duty does.
func writePruned(t *testing.T, path string) {
	t.Helper()
	writeHealthy(t, path)
	s := open(t, path)
	err := s.Update(context.Background(), func(tx datastore.Tx) error {
		for range 4 {
			if _, err := tx.AppendNotifications(model.Notification{Time: ckT0, Kind: "WARNING", Case: "cases/" + ckCase}); err != nil {
				return err
			}
		}
		n, err := tx.PruneNotifications(4, 100)
		if err == nil && n != 4 {
			t.Errorf("pruned %d notifications, want 4", n)
		}
		return err
	})
	if err != nil {
		t.Fatalf("fill and prune: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestCheckAcceptsAPrunedOutbox: an outbox whose oldest entries were
// pruned is healthy (what is kept is counted), and check still finds the
// outbox's real damage in it.
func TestCheckAcceptsAPrunedOutbox(t *testing.T) {
	path := filepath.Join(t.TempDir(), "cc.db")
	writePruned(t, path)
	res := mustCheck(t, path)
	if !res.OK() {
		t.Fatalf("a pruned outbox has problems:\n%s", problemList(res))
	}
	if res.Notifications != 1 {
		t.Errorf("Notifications = %d, want 1 (seq 5, all the prune kept)", res.Notifications)
	}

	for _, d := range []struct {
		name   string
		change func(tx *bolt.Tx) error
		what   string
	}{
		{"entry that does not decode", func(tx *bolt.Tx) error {
			return boltstore.RawKeys(tx, "outbox").Put(u64(5), []byte{1, 0xff})
		}, "does not decode"},
		{"sequence behind the kept head", func(tx *bolt.Tx) error {
			return tx.Bucket([]byte("outbox")).SetSequence(3)
		}, "behind the last entry 5"},
	} {
		t.Run(d.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "cc.db")
			writePruned(t, path)
			rawUpdate(t, path, d.change)
			res := mustCheck(t, path)
			found := false
			for _, p := range res.Problems {
				if p.Bucket == "outbox" && strings.Contains(p.What, d.what) {
					found = true
				}
			}
			if !found {
				t.Errorf("no outbox problem saying %q; found:\n%s", d.what, problemList(res))
			}
		})
	}
}
