package storagetest

import (
	"context"
	"errors"

	"github.com/childcase/childcase/internal/domain/datastore"
)

// Rerunning returns s with every Update body run twice, as a group commit
// runs it when another body in its shared transaction fails (see
// datastore.Store): first in a transaction that is then rolled back, then,
// after between has run (the failed call committed alone, or whatever
// another writer did in the meantime), in a transaction of its own whose
// outcome is Update's. A domain test runs a service on it to show that its
// write bodies are safe to re-run: that what they leave for their caller
// comes from the run that counted. between may be nil.
func Rerunning(s datastore.Store, between func()) datastore.Store {
	return &rerunning{Store: s, between: between}
}

type rerunning struct {
	datastore.Store
	between func()
}

var errRolledBack = errors.New("rolled back by another call of the shared transaction")

func (r *rerunning) Update(ctx context.Context, fn func(datastore.Tx) error) error {
	// The first run's outcome, its own error or the rollback, is not
	// the caller's: either way the body runs again.
	_ = r.Store.Update(ctx, func(tx datastore.Tx) error {
		if err := fn(tx); err != nil {
			return err
		}
		return errRolledBack
	})
	if r.between != nil {
		r.between()
	}
	return r.Store.Update(ctx, fn)
}
