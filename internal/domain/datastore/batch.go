package datastore

import (
	"errors"

	"github.com/childcase/childcase/internal/domain/model"
)

// FitBatch runs one transaction of a long job (a sweep, a rotation, an
// index catch-up) over at most limit items and, while the store refuses it
// as larger than it commits at once (model.ErrTooLarge: an etcd cluster's
// --max-txn-ops or --max-request-bytes, which an operator may set below
// what the job's batch needs), runs it again over half as many, down to
// one item. It returns the limit that committed, for the job's next
// transactions, so that a store with small commit limits pays the halving
// once, not at every batch; and the error of the last run. A job whose
// one item is too large still fails, naming the limit.
func FitBatch(limit int, run func(limit int) error) (int, error) {
	for {
		err := run(limit)
		if limit > 1 && errors.Is(err, model.ErrTooLarge) {
			limit /= 2
			continue
		}
		return limit, err
	}
}
