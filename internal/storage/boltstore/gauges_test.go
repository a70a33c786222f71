package boltstore_test

import (
	"context"
	"os"
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
	// The file's size as the disk has it, which bbolt grows ahead of the
	// pages in use (by whole steps of up to 16 MiB): what an operator
	// weighs against the disk and --max-db-size. The pages in use are
	// fewer; reported as the file's size, they made the file look up to
	// 16 MiB smaller than it was.
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if g.SizeBytes != fi.Size() {
		t.Errorf("SizeBytes %d, the file has %d bytes", g.SizeBytes, fi.Size())
	}
}
