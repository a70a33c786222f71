package boltstore_test

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
	"github.com/childcase/childcase/internal/storage/boltstore"
)

// TestSealClearTextPassesOverACaseItCannotSeal: on the schema-2 golden
// file, whose cases keep their free text in the clear, the sealing of one
// case fails (on a damaged page) or panics. The others are sealed, the
// one is reported by its number, wrapping vault.ErrLeftInTheClear, and
// the mark stays, so that a later run seals it once it can. The first
// failure ended the run: every case after it stayed in the clear, and a
// panic left the run (the start) unwound.
func TestSealClearTextPassesOverACaseItCannotSeal(t *testing.T) {
	ctx := context.Background()
	for name, fail := range map[string]func() error{
		"damaged": func() error { return fmt.Errorf("read the case: %w", model.ErrDamaged) },
		"panic":   func() error { panic("sealing went wrong") },
	} {
		t.Run(name, func(t *testing.T) {
			s, v := schema2WithItsVault(t)
			before := casesInClear(t, s)
			if len(before) < 2 {
				t.Fatalf("the golden file has %v in the clear, want two cases at least", before)
			}
			bad := before[0] // the first: every case after it was left
			n, err := v.SealClearText(ctx, failingCase{Store: s, number: bad, fail: fail})
			if !errors.Is(err, vault.ErrLeftInTheClear) || !strings.Contains(fmt.Sprint(err), bad) {
				t.Errorf("SealClearText with case %s failing: %v, want vault.ErrLeftInTheClear naming it", bad, err)
			}
			if got := casesInClear(t, s); n != len(before)-1 || !slices.Equal(got, []string{bad}) {
				t.Errorf("SealClearText with case %s failing sealed %d, left %v in the clear; want %d sealed, only %s left",
					bad, n, got, len(before)-1, bad)
			}
			if !clearTextPending(t, s) {
				t.Error("the mark of clear text went with a case still in the clear: no later run would seal it")
			}

			// Mended, the next run seals it and clears the mark.
			if n, err := v.SealClearText(ctx, s); err != nil || n != 1 {
				t.Errorf("SealClearText once mended = %d, %v; want 1, nil", n, err)
			}
			if got := casesInClear(t, s); len(got) != 0 || clearTextPending(t, s) {
				t.Errorf("once mended: %v still in the clear, mark pending %v", got, clearTextPending(t, s))
			}
		})
	}
}

// failingCase is a store whose write transactions fail, by fail, to read
// case number: a case on a damaged page, or whose sealing panics.
type failingCase struct {
	datastore.Store
	number string
	fail   func() error
}

func (s failingCase) Update(ctx context.Context, fn func(datastore.Tx) error) error {
	return s.Store.Update(ctx, func(tx datastore.Tx) error { return fn(failingCaseTx{Tx: tx, s: s}) })
}

type failingCaseTx struct {
	datastore.Tx
	s failingCase
}

func (t failingCaseTx) CaseByNumber(number string) (model.Case, error) {
	if number == t.s.number {
		return model.Case{}, t.s.fail()
	}
	return t.Tx.CaseByNumber(number)
}

// TestSealClearTextListingPassesOverACaseItCannotRead: on the schema-2
// golden file, the listing that finds the cases in the clear meets one
// it cannot read (on a damaged page). The others are found and sealed,
// the one is reported by its id, wrapping vault.ErrLeftInTheClear, and
// the mark stays. The listing stopped at it: the run sealed nothing and
// ended with the damage, so every case stayed in the clear.
func TestSealClearTextListingPassesOverACaseItCannotRead(t *testing.T) {
	ctx := context.Background()
	db, _ := copyGolden(t, "schema2")
	s := open(t, db)
	inClear := casesInClear(t, s)
	s.Close()
	if len(inClear) < 2 {
		t.Fatalf("the golden file has %v in the clear, want two cases at least", inClear)
	}
	// Each in turn: the newest, on the listing's first page, and older.
	for _, bad := range inClear {
		t.Run(bad, func(t *testing.T) {
			s, v := schema2WithItsVault(t)
			before := casesInClear(t, s)
			var badID uint64
			if err := s.View(ctx, func(tx datastore.ReadTx) error {
				c, err := tx.CaseByNumber(bad)
				badID = c.ID
				return err
			}); err != nil {
				t.Fatal(err)
			}
			n, err := v.SealClearText(ctx, damagedCase{Store: s, id: badID})
			if want := fmt.Sprintf("case id %d", badID); !errors.Is(err, vault.ErrLeftInTheClear) || !strings.Contains(fmt.Sprint(err), want) {
				t.Errorf("SealClearText with case %s unreadable: %v, want vault.ErrLeftInTheClear naming %q", bad, err, want)
			}
			if got := casesInClear(t, s); n != len(before)-1 || !slices.Equal(got, []string{bad}) {
				t.Errorf("SealClearText with case %s unreadable sealed %d, left %v in the clear; want %d sealed, only %s left",
					bad, n, got, len(before)-1, bad)
			}
			if !clearTextPending(t, s) {
				t.Error("the mark of clear text went with a case still in the clear: no later run would seal it")
			}
			if n, err := v.SealClearText(ctx, s); err != nil || n != 1 {
				t.Errorf("SealClearText once mended = %d, %v; want 1, nil", n, err)
			}
		})
	}
}

// damagedCase is a store on which the case of id cannot be read, as on
// a damaged page: a read of it, alone or in a list, fails the read
// transaction (and so does any write transaction's).
type damagedCase struct {
	datastore.Store
	id uint64
}

func (s damagedCase) View(ctx context.Context, fn func(datastore.ReadTx) error) error {
	return s.Store.View(ctx, func(tx datastore.ReadTx) error { return fn(damagedCaseTx{ReadTx: tx, id: s.id}) })
}

func (s damagedCase) Update(ctx context.Context, fn func(datastore.Tx) error) error {
	return s.Store.Update(ctx, func(tx datastore.Tx) error { return fn(damagedCaseWriteTx{Tx: tx, id: s.id}) })
}

type damagedCaseTx struct {
	datastore.ReadTx
	id uint64
}

var errDamagedPage = fmt.Errorf("read the page: %w", model.ErrDamaged)

func (t damagedCaseTx) CaseByID(id uint64) (model.Case, error) {
	if id == t.id {
		return model.Case{}, errDamagedPage
	}
	return t.ReadTx.CaseByID(id)
}

func (t damagedCaseTx) ListCases(q datastore.CaseQuery) ([]model.Case, string, error) {
	cs, next, err := t.ReadTx.ListCases(q)
	for _, c := range cs {
		if c.ID == t.id {
			return nil, "", errDamagedPage
		}
	}
	return cs, next, err
}

type damagedCaseWriteTx struct {
	datastore.Tx
	id uint64
}

func (t damagedCaseWriteTx) CaseByID(id uint64) (model.Case, error) {
	if id == t.id {
		return model.Case{}, errDamagedPage
	}
	return t.Tx.CaseByID(id)
}

// casesInClear are the numbers of the cases of s whose free text is in
// the clear, in order.
func casesInClear(t *testing.T, s datastore.Store) []string {
	t.Helper()
	var numbers []string
	err := s.View(context.Background(), func(tx datastore.ReadTx) error {
		cs, _, err := tx.ListCases(datastore.CaseQuery{Limit: 1000, Match: vault.InClear})
		for _, c := range cs {
			numbers = append(numbers, c.Number)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(numbers)
	return numbers
}

// schema2WithItsVault opens a copy of the schema-2 golden file, whose
// cases are in the clear, with a vault of its master key.
func schema2WithItsVault(t *testing.T) (*boltstore.Store, *vault.Vault) {
	t.Helper()
	db, keyFile := copyGolden(t, "schema2")
	master, err := keys.LoadMaster(keyFile)
	if err != nil {
		t.Fatal(err)
	}
	return open(t, db), vault.New(keys.NewKeyring(master))
}
