package boltstore_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/childcase/childcase/internal/domain/datastore"
	"github.com/childcase/childcase/internal/storage/boltstore"
)

// TestGaugesAndCommitTimes: what the metrics read of the store. Each
// committed write is told to Options.Committed and counted with its two
// fsyncs; a write that fails is neither; the size is the file's and the
// reserve is whole while the disk has room.
func TestGaugesAndCommitTimes(t *testing.T) {
	var told []time.Duration
	path := filepath.Join(t.TempDir(), "cc.db")
	s, err := boltstore.Open(path, boltstore.Options{Reserve: 1 << 20, Committed: func(d time.Duration) { told = append(told, d) }})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	before, err := s.Gauges()
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := s.Update(ctx, func(tx datastore.Tx) error { return tx.PutCursor("metrics-test", 1) }); err != nil {
		t.Fatal(err)
	}
	if err := s.Update(ctx, func(datastore.Tx) error { return context.Canceled }); err == nil {
		t.Fatal("a failing write committed")
	}
	g, err := s.Gauges()
	if err != nil {
		t.Fatal(err)
	}
	if g.Commits != before.Commits+1 || g.Fsyncs != 2*g.Commits || len(told) != 1 {
		t.Errorf("after one committed write: %+v (before %+v), told %d commit times", g, before, len(told))
	}
	if g.SizeBytes <= 0 || g.ReserveBytes != 1<<20 || g.ReserveHeldBytes != 1<<20 {
		t.Errorf("sizes %+v: want the file's size and a whole reserve of 1 MiB", g)
	}
}
