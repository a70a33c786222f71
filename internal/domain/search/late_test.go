package search

import (
	"context"
	"testing"
	"time"

	"github.com/childcase/childcase/internal/domain/access"
	"github.com/childcase/childcase/internal/domain/datastore"
	"github.com/childcase/childcase/internal/domain/model"
	"github.com/childcase/childcase/internal/domain/vault"
	"github.com/childcase/childcase/internal/domain/vntime"
	"github.com/childcase/childcase/internal/keys"
	"github.com/childcase/childcase/internal/storage/memstore"
)

// The cases a report's early search could not see, scored in its write
// from their stored entry (a case indexed since) or from an entry made
// there (a case still marked, opened by another instance), rank as the
// whole search ranks them once every entry is written.
func TestLateCandidatesRankAsTheSearchOnceIndexed(t *testing.T) {
	ctx := context.Background()
	store := memstore.New()
	v := vault.New(keys.NewKeyring(newMaster(t)))
	s := New(Deps{Store: store, Units: testRegistry(t), Vault: v})
	// The city sees every case whole.
	worker := access.Principal{UserID: "city", Role: model.RoleCityOfficer, Unit: "units/01@2020-01-01"}
	storeUnindexedCases(t, store, v, 2)
	if _, err := s.CatchUp(ctx); err != nil {
		t.Fatal(err)
	}
	// A call about Số 3 (one syllable from the others), born the day
	// they were.
	r := model.Report{
		ReceiveTime: time.Date(2026, 3, 12, 3, 0, 0, 0, time.UTC), IncidentUnit: mustKey("00004@2025-07-01"), CallType: model.CallIntervention,
		Children: []model.Child{{FullName: "Nguyen Thi So 3", BirthDate: vntime.Date{Year: 2016, Month: 1, Day: 2}, Sex: model.SexFemale}},
		Reporter: model.Reporter{Anonymous: true},
	}
	var since Since
	var early []Candidate
	view := func(fn func(tx datastore.ReadTx) error) {
		t.Helper()
		if err := store.View(ctx, fn); err != nil {
			t.Fatal(err)
		}
	}
	view(func(tx datastore.ReadTx) (err error) {
		if since, err = s.SinceOf(tx, worker, r); err != nil {
			return err
		}
		early, err = s.CandidatesOf(tx, worker, r)
		return err
	})

	// Số 3 and Số 4 are opened after the early search: Số 3's entry is
	// written, Số 4's still to be.
	late := storeUnindexedCasesAfter(t, store, v, 2, 2)
	mark(t, s, store, late[0])
	if _, err := s.CatchUp(ctx); err != nil {
		t.Fatal(err)
	}
	mark(t, s, store, late[1])
	var got []Candidate
	view(func(tx datastore.ReadTx) (err error) {
		got, err = s.LateCandidates(tx, worker, since, 0, "", early)
		return err
	})

	if _, err := s.CatchUp(ctx); err != nil {
		t.Fatal(err)
	}
	var want []Candidate
	view(func(tx datastore.ReadTx) (err error) {
		want, err = s.CandidatesOf(tx, worker, r)
		return err
	})
	if len(want) != 4 || len(early) != 2 {
		t.Fatalf("the search finds %d cases before and %d after; the test wants 2 and 4", len(early), len(want))
	}
	if len(got) != len(want) {
		t.Fatalf("late candidates %v, want %v", numbersOf(got), numbersOf(want))
	}
	for i := range want {
		if got[i].Case.Number != want[i].Case.Number || got[i].Score != want[i].Score {
			t.Errorf("late candidate %d is %s scoring %v, want %s scoring %v", i, got[i].Case.Number, got[i].Score, want[i].Case.Number, want[i].Score)
		}
	}
}

func numbersOf(cs []Candidate) []string {
	var out []string
	for _, c := range cs {
		out = append(out, c.Case.Number)
	}
	return out
}
