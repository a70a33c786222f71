package storagetest

import (
	"context"

	"github.com/childcase/childcase/internal/domain/datastore"
	"github.com/childcase/childcase/internal/domain/model"
)

// LookingStore counts in Looked the records the lists of its read
// transactions look at: every case or report their Match is asked about
// (a store calls Match on every record a list reads,
// datastore.CaseQuery.Match), so that a test can hold a list to reading
// about its page, not the whole of a scope.
type LookingStore struct {
	datastore.Store
	Looked *int
}

// View implements datastore.Store, counting.
func (s LookingStore) View(ctx context.Context, fn func(datastore.ReadTx) error) error {
	return s.Store.View(ctx, func(tx datastore.ReadTx) error { return fn(lookingTx{tx, s.Looked}) })
}

type lookingTx struct {
	datastore.ReadTx
	looked *int
}

func (tx lookingTx) ListCases(q datastore.CaseQuery) ([]model.Case, string, error) {
	q.Match = countedMatch(q.Match, tx.looked)
	return tx.ReadTx.ListCases(q)
}

func (tx lookingTx) ListReports(q datastore.ReportQuery) ([]model.StoredReport, string, error) {
	q.Match = countedMatch(q.Match, tx.looked)
	return tx.ReadTx.ListReports(q)
}

func (tx lookingTx) ListQueue(q datastore.QueueQuery) ([]model.Case, string, error) {
	q.Match = countedMatch(q.Match, tx.looked)
	return tx.ReadTx.ListQueue(q)
}

// countedMatch is match (nil: every record) counting each record it is
// asked about in n.
func countedMatch[T any](match func(T) bool, n *int) func(T) bool {
	return func(r T) bool {
		*n++
		return match == nil || match(r)
	}
}
