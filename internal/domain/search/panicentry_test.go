package search

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/childcase/childcase/internal/domain/datastore"
	"github.com/childcase/childcase/internal/domain/model"
	"github.com/childcase/childcase/internal/domain/vault"
	"github.com/childcase/childcase/internal/keys"
	"github.com/childcase/childcase/internal/storage/memstore"
)

// panickingReport is a store in which reading one report panics, as a
// record the code cannot handle would, with a value that holds a name.
type panickingReport struct {
	datastore.Store
	id string
}

func (s panickingReport) Update(ctx context.Context, fn func(datastore.Tx) error) error {
	return s.Store.Update(ctx, func(tx datastore.Tx) error { return fn(panickingReportTx{tx, s.id}) })
}

type panickingReportTx struct {
	datastore.Tx
	id string
}

func (t panickingReportTx) Report(id string) (model.StoredReport, error) {
	if id == t.id {
		panic(fmt.Sprintf("no handling for Nguyễn Thị Hoa of report %s", id))
	}
	return t.Tx.Report(id)
}

// A case whose entry panics as it is made is left out and stays marked,
// as one whose entry fails is, and the cases around it are indexed: the
// panic unwound the batch, so that the leader's catch-up, run again each
// second, met it first every time and no case marked after it was ever
// indexed (nor, in the indexer a write waits for, the process stayed up).
// The error names the case and the panic's type, never its value.
func TestCatchUpGoesOnPastACaseWhoseEntryPanics(t *testing.T) {
	ctx := context.Background()
	store := memstore.New()
	v := vault.New(keys.NewKeyring(newMaster(t)))
	storeUnindexedCases(t, store, v, 5)
	ids := caseIDs(t, store)
	bad := ids[2]
	c := viewed(t, store, func(tx datastore.ReadTx) (model.Case, error) { return tx.CaseByID(bad) })
	s := New(Deps{Store: panickingReport{Store: store, id: c.ReportIDs[0]}, Units: testRegistry(t), Vault: v})
	if err := s.recordIndexedUnder(ctx, s.currentKeyID()); err != nil {
		t.Fatal(err)
	}
	mark(t, s, store, ids...)

	got, err := func() (n int, err error) {
		defer func() {
			if p := recover(); p != nil {
				t.Errorf("CatchUp panicked: %v", p)
			}
		}()
		return s.CatchUp(ctx)
	}()
	if want := len(ids) - 1; got != want {
		t.Errorf("CatchUp indexed %d cases, want %d (all but the one whose entry panics)", got, want)
	}
	var unindexable *unindexableError
	if !errors.As(err, &unindexable) || unindexable.caseID != bad || !strings.Contains(err.Error(), "panicked") {
		t.Errorf("CatchUp = %v; want it to name case id %d, whose entry panicked", err, bad)
	}
	if err != nil && strings.Contains(err.Error(), "Hoa") {
		t.Errorf("the error holds the panic's value, a name: %v", err)
	}
	for _, id := range ids {
		if got, want := hasEntry(t, store, id), id != bad; got != want {
			t.Errorf("case id %d has an entry: %v, want %v", id, got, want)
		}
	}
	if got := pendingCases(t, store); !slices.Equal(got, []uint64{bad}) {
		t.Errorf("cases marked after CatchUp %v, want only %d", got, bad)
	}
}
