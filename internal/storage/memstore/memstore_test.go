package memstore_test

import (
	"context"
	"errors"
	"testing"

	"github.com/childcase/childcase/internal/domain/datastore"
	"github.com/childcase/childcase/internal/domain/model"
	"github.com/childcase/childcase/internal/domain/units"
	"github.com/childcase/childcase/internal/storage/memstore"
	"github.com/childcase/childcase/internal/storage/storagetest"
)

func TestConformance(t *testing.T) {
	storagetest.RunAll(t, func(t *testing.T) datastore.Store { return newStore(t) })
}

func newStore(t *testing.T) *memstore.Store {
	t.Helper()
	s := memstore.New()
	t.Cleanup(func() { s.Close() })
	return s
}

var ctx = context.Background()

func sampleCase() model.Case {
	return model.Case{
		Number:          "HN-2026-00001",
		Status:          model.StatusAwaitingAcknowledgement,
		ResponsibleUnit: units.Key{Code: "00004"},
		Revision:        1,
		Children:        []model.ChildSummary{{AgeYears: 10}},
		Dossier:         model.Sealed{KeyID: "dk", Data: []byte{1, 2, 3}},
	}
}

func readCase(t *testing.T, s datastore.Store, number string) model.Case {
	t.Helper()
	var c model.Case
	err := s.View(ctx, func(tx datastore.ReadTx) error {
		var err error
		c, err = tx.CaseByNumber(number)
		return err
	})
	if err != nil {
		t.Fatalf("CaseByNumber(%s): %v", number, err)
	}
	return c
}

// TestValuesAreNotShared pins that the store keeps its own copies: a
// caller changing the slices of a value it stored, or of a value it read,
// changes nothing stored. A map store that kept the caller's value would
// show the change on the next read.
func TestValuesAreNotShared(t *testing.T) {
	s := newStore(t)
	c := sampleCase()
	if err := s.Update(ctx, func(tx datastore.Tx) error { return tx.CreateCase(&c) }); err != nil {
		t.Fatalf("CreateCase: %v", err)
	}
	c.Children[0].AgeYears = 99
	c.Dossier.Data[0] = 99

	got := readCase(t, s, c.Number)
	if got.Children[0].AgeYears != 10 || got.Dossier.Data[0] != 1 {
		t.Fatalf("after the caller changed the value it stored, the store holds Children %+v, Dossier %v; want age 10, data [1 2 3]", got.Children, got.Dossier.Data)
	}
	got.Children[0].AgeYears = 77
	got.Dossier.Data[0] = 77
	if again := readCase(t, s, c.Number); again.Children[0].AgeYears != 10 || again.Dossier.Data[0] != 1 {
		t.Errorf("after the caller changed a value it read, the store holds Children %+v, Dossier %v; want age 10, data [1 2 3]", again.Children, again.Dossier.Data)
	}
}

// TestWritesThroughViewAreDropped pins that a read transaction cannot
// change the store, even when its caller asserts it to a Tx and writes.
func TestWritesThroughViewAreDropped(t *testing.T) {
	s := newStore(t)
	err := s.View(ctx, func(rtx datastore.ReadTx) error {
		tx, ok := rtx.(datastore.Tx)
		if !ok {
			t.Skip("the read transaction cannot write at all")
		}
		c := sampleCase()
		return tx.CreateCase(&c)
	})
	if err != nil {
		t.Fatalf("View: %v", err)
	}
	err = s.View(ctx, func(tx datastore.ReadTx) error {
		_, err := tx.CaseByNumber("HN-2026-00001")
		return err
	})
	if !errors.Is(err, model.ErrNotFound) {
		t.Errorf("CaseByNumber after a write inside View = %v, want ErrNotFound", err)
	}
}

// TestBatchRunsTheBodyAgain pins that Batch runs its function more than
// once, as the contract allows, and keeps the writes of one run only: a
// domain test over this store then shows a Batch body that is not safe to
// re-run.
//
// Update does the same (issue 10: every transaction body safe to re-run):
// boltstore and etcdstore group-commit Updates as well, and etcd runs a
// body again when another writer committed first, so an Update body that
// is not safe to re-run must fail a domain test too; memstore ran it once.
func TestBatchRunsTheBodyAgain(t *testing.T) {
	for _, name := range []string{"Batch", "Update"} {
		t.Run(name, func(t *testing.T) {
			s := newStore(t)
			write := s.Batch
			if name == "Update" {
				write = s.Update
			}
			runs := 0
			err := write(ctx, func(tx datastore.Tx) error {
				runs++
				_, err := tx.AppendNotifications(model.Notification{Kind: "BREACH"})
				return err
			})
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			if runs < 2 {
				t.Errorf("%s ran its function %d times, want at least 2", name, runs)
			}
			var head uint64
			if err := s.View(ctx, func(tx datastore.ReadTx) error {
				var err error
				head, err = tx.OutboxHead()
				return err
			}); err != nil {
				t.Fatalf("OutboxHead: %v", err)
			}
			if head != 1 {
				t.Errorf("OutboxHead after one %s = %d, want 1: only the committed run's writes count", name, head)
			}
		})
	}
}

func TestClosed(t *testing.T) {
	s := newStore(t)
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := s.View(ctx, func(datastore.ReadTx) error { return nil }); !errors.Is(err, memstore.ErrClosed) {
		t.Errorf("View after Close = %v, want ErrClosed", err)
	}
	if err := s.Update(ctx, func(datastore.Tx) error { return nil }); !errors.Is(err, memstore.ErrClosed) {
		t.Errorf("Update after Close = %v, want ErrClosed", err)
	}
	if err := s.Batch(ctx, func(datastore.Tx) error { return nil }); !errors.Is(err, memstore.ErrClosed) {
		t.Errorf("Batch after Close = %v, want ErrClosed", err)
	}
}
