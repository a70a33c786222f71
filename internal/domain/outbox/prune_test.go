package outbox

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/childcase/childcase/internal/domain/datastore"
	"github.com/childcase/childcase/internal/domain/model"
	"github.com/childcase/childcase/internal/storage/memstore"
	"github.com/childcase/childcase/internal/storage/storagetest"
)

var pruneNow = time.Date(2026, 12, 7, 3, 0, 0, 0, time.UTC)

// appendAged appends one notification made age before pruneNow for each
// age given, in that order.
func appendAged(t *testing.T, s datastore.Store, ages ...time.Duration) {
	t.Helper()
	ns := make([]model.Notification, len(ages))
	for i, age := range ages {
		ns[i] = model.Notification{Time: pruneNow.Add(-age), Kind: "BREACH", Case: "cases/HN-2026-00001", DeadlineID: i + 1}
	}
	err := s.Update(context.Background(), func(tx datastore.Tx) error {
		_, err := tx.AppendNotifications(ns...)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}

func keptSeqs(t *testing.T, ob *Service) []uint64 {
	t.Helper()
	ns, err := ob.Read(context.Background(), 0, 10000)
	if err != nil {
		t.Fatal(err)
	}
	return seqs(ns)
}

const day = 24 * time.Hour

// TestPruneRemovesWhatIsOlderThanTheRetention: what was made before
// now - retention goes, what was made after stays; the boundary itself
// stays (older than, not as old as).
func TestPruneRemovesWhatIsOlderThanTheRetention(t *testing.T) {
	ctx := context.Background()
	s := memstore.New()
	ob := New(s)
	appendAged(t, s, 200*day, 91*day, 90*day, 10*day, time.Hour)
	n, err := ob.Prune(ctx, pruneNow, 90*day, nil)
	if err != nil || n != 2 {
		t.Fatalf("Prune = %d, %v; want 2 (those of 200 and 91 days ago)", n, err)
	}
	if got := keptSeqs(t, ob); !slices.Equal(got, []uint64{3, 4, 5}) {
		t.Errorf("kept %v, want [3 4 5]", got)
	}
	if tail, err := ob.Tail(ctx); err != nil || tail != 3 {
		t.Errorf("Tail = %d, %v; want 3", tail, err)
	}
	// A second round finds nothing more to do.
	if n, err := ob.Prune(ctx, pruneNow, 90*day, nil); err != nil || n != 0 {
		t.Errorf("Prune again = %d, %v; want 0", n, err)
	}
	for _, bad := range []time.Duration{0, -day} {
		if _, err := ob.Prune(ctx, pruneNow, bad, nil); err == nil {
			t.Errorf("Prune with retention %v succeeded, want an error", bad)
		}
	}
}

// TestPruneKeepsWhatAWebhookHasNotAcknowledged: a webhook whose receiver
// is down keeps every notification it has not acknowledged, however old;
// one never registered (cursor 0) keeps them all.
func TestPruneKeepsWhatAWebhookHasNotAcknowledged(t *testing.T) {
	ctx := context.Background()
	s := memstore.New()
	ob := New(s)
	if _, err := ob.Start(ctx, "so-y-te"); err != nil {
		t.Fatal(err)
	}
	appendAged(t, s, 100*day, 100*day, 100*day, 100*day, time.Hour)
	if n, err := ob.Prune(ctx, pruneNow, 90*day, []string{"so-y-te", "never-started"}); err != nil || n != 0 {
		t.Fatalf("Prune with a webhook never started = %d, %v; want 0", n, err)
	}
	ns, err := ob.Read(ctx, 0, 10)
	if err != nil {
		t.Fatal(err)
	}
	if err := ob.Acknowledge(ctx, "so-y-te", ns[1]); err != nil {
		t.Fatal(err)
	}
	n, err := ob.Prune(ctx, pruneNow, 90*day, []string{"so-y-te"})
	if err != nil || n != 2 {
		t.Fatalf("Prune with the webhook at seq 2 = %d, %v; want 2", n, err)
	}
	if got := keptSeqs(t, ob); !slices.Equal(got, []uint64{3, 4, 5}) {
		t.Errorf("kept %v, want [3 4 5]: the webhook has not acknowledged 3 and 4", got)
	}
	// A webhook no longer in the policy holds nothing back.
	if n, err := ob.Prune(ctx, pruneNow, 90*day, nil); err != nil || n != 2 {
		t.Errorf("Prune without the webhook = %d, %v; want 2", n, err)
	}
}

// TestPruneStopsAtTheFirstThatIsNotOld: a notification whose time is out
// of order (a deadline fired late, stamped with its due time) keeps those
// after it: the prune reads a page from the tail, never the whole outbox.
func TestPruneStopsAtTheFirstThatIsNotOld(t *testing.T) {
	s := memstore.New()
	ob := New(s)
	appendAged(t, s, 100*day, day, 100*day, time.Hour)
	if n, err := ob.Prune(context.Background(), pruneNow, 90*day, nil); err != nil || n != 1 {
		t.Fatalf("Prune = %d, %v; want 1", n, err)
	}
}

// TestPruneGoesABatchATime: a large backlog is removed PruneBatch a
// transaction, the newest kept; a cancelled context stops it.
func TestPruneGoesABatchATime(t *testing.T) {
	s := &storagetest.CountingUpdates{Store: memstore.New()}
	ob := New(s)
	ages := make([]time.Duration, 2*PruneBatch+10)
	for i := range ages {
		ages[i] = 100 * day
	}
	appendAged(t, s.Store, ages...)
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	if n, err := ob.Prune(cancelled, pruneNow, 90*day, nil); err != nil || n != 0 {
		t.Errorf("Prune with a cancelled context = %d, %v; want 0, nil", n, err)
	}
	s.Updates = 0
	n, err := ob.Prune(context.Background(), pruneNow, 90*day, nil)
	if err != nil || n != len(ages)-1 {
		t.Fatalf("Prune = %d, %v; want %d (all but the newest)", n, err, len(ages)-1)
	}
	if s.Updates != 3 {
		t.Errorf("%d transactions for %d notifications, want 3 (%d at most each)", s.Updates, n, PruneBatch)
	}
	if got := keptSeqs(t, ob); !slices.Equal(got, []uint64{uint64(len(ages))}) {
		t.Errorf("kept %v, want only the newest", got)
	}
}

// smallCommits is a store that commits at most max deletions of the
// outbox at once, as an etcd cluster does under --max-txn-ops: a larger
// transaction is refused whole with model.ErrTooLarge, as the etcd engine
// refuses it at commit.
type smallCommits struct {
	datastore.Store
	max     int
	refused int
}

type countingPrunes struct {
	datastore.Tx
	pruned *int
}

func (c countingPrunes) PruneNotifications(through uint64, limit int) (int, error) {
	n, err := c.Tx.PruneNotifications(through, limit)
	*c.pruned += n
	return n, err
}

func (s *smallCommits) Update(ctx context.Context, fn func(datastore.Tx) error) error {
	return s.Store.Update(ctx, func(tx datastore.Tx) error {
		pruned := 0
		if err := fn(countingPrunes{Tx: tx, pruned: &pruned}); err != nil {
			return err
		}
		if pruned > s.max {
			s.refused++
			return fmt.Errorf("commit of %d deletions: %w", pruned, model.ErrTooLarge)
		}
		return nil
	})
}

// TestPruneFitsTheStoresCommits: on etcd, a commit holds at most
// --etcd-max-txn-ops operations (24 at least), which an operator sets to
// the cluster's --max-txn-ops (etcd's own default is 128); a prune of
// PruneBatch deletions a transaction was refused at every round there,
// and the outbox was never pruned. It halves its batch until the store
// commits it (datastore.FitBatch), as the other long jobs do.
func TestPruneFitsTheStoresCommits(t *testing.T) {
	s := &smallCommits{Store: memstore.New(), max: 100}
	ob := New(s)
	ages := make([]time.Duration, PruneBatch+10)
	for i := range ages {
		ages[i] = 100 * day
	}
	appendAged(t, s.Store, ages...)
	n, err := ob.Prune(context.Background(), pruneNow, 90*day, nil)
	if err != nil || n != len(ages)-1 {
		t.Fatalf("Prune on a store that commits at most 100 deletions = %d, %v; want %d (all but the newest)", n, err, len(ages)-1)
	}
	if got := keptSeqs(t, ob); !slices.Equal(got, []uint64{uint64(len(ages))}) {
		t.Errorf("kept %v, want only the newest", got)
	}
	if s.refused == 0 {
		t.Errorf("no commit was refused: the test's store let through a batch of %d", PruneBatch)
	}
}
