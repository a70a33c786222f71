package memstore

import (
	"slices"

	"github.com/childcase/childcase/internal/domain/model"
	"github.com/childcase/childcase/internal/domain/stats/tally"
)

// StatCells implements datastore.StatsReader by recounting the records
// when asked (tally.Recount): what boltstore keeps as it writes, this
// store computes, so that the domain tests read the counters the
// definition gives.
func (t *tx) StatCells(kind tally.Kind, from, to string, fn func(tally.Key, *tally.Tally) error) error {
	reports := func(yield func(model.StoredReport, error) bool) {
		for _, e := range t.st.reports.m {
			if !yield(decodeAs[model.StoredReport](e.raw)) {
				return
			}
		}
	}
	cases := func(yield func(model.Case, error) bool) {
		for id := range t.st.cases.m {
			if !yield(t.CaseByID(id)) {
				return
			}
		}
	}
	cells, err := tally.Recount(reports, cases, func(c model.Case) (*model.StoredReport, error) { return tally.FirstReport(c, t.Report) })
	if err != nil {
		return err
	}
	var keys []tally.Key
	for k := range cells {
		if k.InRange(kind, from, to) {
			keys = append(keys, k)
		}
	}
	slices.SortFunc(keys, tally.Compare)
	for _, k := range keys {
		if err := fn(k, cells[k]); err != nil {
			return err
		}
	}
	return nil
}
