package storagetest

import (
	"context"
	"fmt"

	"github.com/childcase/childcase/internal/domain/datastore"
	"github.com/childcase/childcase/internal/domain/model"
)

// SmallCommits is a store that refuses, as an etcd cluster started with
// a small --max-txn-ops or --max-request-bytes does (model.ErrTooLarge),
// an Update or Batch whose body did more than Limit of the operations Count counts:
// for the tests of the long jobs that must split their batches to fit.
type SmallCommits struct {
	datastore.Store
	Limit int
	// Count returns the transaction a body runs on, which adds each
	// operation it counts to *n.
	Count func(tx datastore.Tx, n *int) datastore.Tx
	// Refused is how many Updates were refused.
	Refused int
}

// Update implements datastore.Store.
func (s *SmallCommits) Update(ctx context.Context, fn func(datastore.Tx) error) error {
	return s.Store.Update(ctx, s.counted(fn))
}

// Batch implements datastore.Store.
func (s *SmallCommits) Batch(ctx context.Context, fn func(datastore.Tx) error) error {
	return s.Store.Batch(ctx, s.counted(fn))
}

// counted is fn over a transaction that counts, refused when it counted
// more than Limit.
func (s *SmallCommits) counted(fn func(datastore.Tx) error) func(datastore.Tx) error {
	return func(tx datastore.Tx) error {
		n := 0
		if err := fn(s.Count(tx, &n)); err != nil {
			return err
		}
		if n > s.Limit {
			s.Refused++
			return fmt.Errorf("a commit of %d counted operations, over %d: %w", n, s.Limit, model.ErrTooLarge)
		}
		return nil
	}
}

// CountingUpdates is a store that counts the write transactions it is
// asked for (Update): for the tests of jobs that must commit a batch at a
// time, or nothing when there is nothing to write.
type CountingUpdates struct {
	datastore.Store
	Updates int
}

// Update implements datastore.Store.
func (c *CountingUpdates) Update(ctx context.Context, fn func(datastore.Tx) error) error {
	c.Updates++
	return c.Store.Update(ctx, fn)
}
