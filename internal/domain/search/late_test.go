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
	r := callAbout("Nguyen Thi So 3")
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

// The cases a write scores late are shown as the search shows them: a
// worker of another commune, whose scope holds none of them, is told of
// none (as if they did not exist), while the worker of their commune is
// told of them as the search would tell them.
func TestLateCandidatesKeepToTheCallersScope(t *testing.T) {
	ctx := context.Background()
	store := memstore.New()
	v := vault.New(keys.NewKeyring(newMaster(t)))
	s := New(Deps{Store: store, Units: testRegistry(t), Vault: v})
	storeCommuneCases(t, store, v, 0, 1)
	if _, err := s.CatchUp(ctx); err != nil {
		t.Fatal(err)
	}
	r := callAbout("Nguyen Thi So 2")
	mine := access.Principal{UserID: "mine", Role: model.RoleCommuneWorker, Unit: access.UnitName(mustKey("00004@2025-07-01"))}
	theirs := access.Principal{UserID: "theirs", Role: model.RoleCommuneWorker, Unit: access.UnitName(mustKey("00070@2025-07-01"))}
	type before struct {
		since Since
		early []Candidate
	}
	early := map[string]before{}
	for _, p := range []access.Principal{mine, theirs} {
		err := store.View(ctx, func(tx datastore.ReadTx) error {
			since, err := s.SinceOf(tx, p, r)
			if err != nil {
				return err
			}
			found, err := s.CandidatesOf(tx, p, r)
			early[p.UserID] = before{since, found}
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	// Two cases of commune 00004 are opened after the early searches:
	// one indexed since, one still to be.
	opened := caseIDs(t, store)
	storeCommuneCases(t, store, v, 1, 2)
	late := caseIDs(t, store)[len(opened):]
	mark(t, s, store, late[0])
	if _, err := s.CatchUp(ctx); err != nil {
		t.Fatal(err)
	}
	mark(t, s, store, late[1])
	lateOf := func(p access.Principal) []Candidate {
		t.Helper()
		var got []Candidate
		err := store.View(ctx, func(tx datastore.ReadTx) (err error) {
			got, err = s.LateCandidates(tx, p, early[p.UserID].since, 0, "", early[p.UserID].early)
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		return got
	}
	if got := lateOf(theirs); len(got) != 0 {
		t.Errorf("a worker of another commune is told of %v: cases out of their scope", numbersOf(got))
	}
	got := lateOf(mine)
	if _, err := s.CatchUp(ctx); err != nil {
		t.Fatal(err)
	}
	want := viewed(t, store, func(tx datastore.ReadTx) ([]Candidate, error) { return s.CandidatesOf(tx, mine, r) })
	if len(want) != 3 || len(early[mine.UserID].early) != 1 {
		t.Fatalf("the commune's search finds %d cases before and %d after; the test wants 1 and 3", len(early[mine.UserID].early), len(want))
	}
	if len(got) != len(want) {
		t.Fatalf("the commune's worker is told late of %v, want %v", numbersOf(got), numbersOf(want))
	}
	for i := range want {
		if got[i].Case.Number != want[i].Case.Number || got[i].View != want[i].View || got[i].Score != want[i].Score {
			t.Errorf("late candidate %d is %s (view %v, score %v), want %s (view %v, score %v)", i,
				got[i].Case.Number, got[i].View, got[i].Score, want[i].Case.Number, want[i].View, want[i].Score)
		}
	}
}

// storeCommuneCases stores n cases of commune 00004, as intake opens them
// (held and handled by the commune, which their scope keys name), numbered
// after the first from, their entries not written.
func storeCommuneCases(t *testing.T, store datastore.Store, v *vault.Vault, from, n int) {
	t.Helper()
	storeCasesOf(t, store, v, from, n, model.Reporter{Anonymous: true}, true)
}

// The reports being stored with the cases they open are forgotten once
// their writes end, whatever became of them: a write refused before it
// opened its case, one whose body ran again and took another id, and one
// that stored its case. Otherwise every write of the instance would pay
// for them (SinceOf makes its probes while any is recorded) and the map
// would grow with every write that failed.
func TestOpeningIsForgottenOnceTheWriteEnds(t *testing.T) {
	s := New(Deps{Store: memstore.New(), Units: testRegistry(t), Vault: vault.New(keys.NewKeyring(newMaster(t)))})
	refused := s.Opening(model.Report{ID: "refused"})
	again := s.Opening(model.Report{ID: "again"})
	stored := s.Opening(model.Report{ID: "stored"})
	s.OpeningCase("again", 7) // the run undone
	s.OpeningCase("again", 9) // the run that counts
	s.OpeningCase("stored", 8)
	if r, ok := s.openingReport(7); ok {
		t.Errorf("case 7, the id of an undone run, is still recorded as opened by %s", r)
	}
	if r, ok := s.openingReport(9); !ok || r != "again" {
		t.Errorf("case 9 is recorded as opened by %q (%v), want the report whose run counts", r, ok)
	}
	for _, release := range []func(){refused, again, stored} {
		release()
	}
	s.OpeningCase("stored", 10) // a body after its release: nothing to record
	s.opening.mu.Lock()
	byReport, byCase := len(s.opening.byReport), len(s.opening.byCase)
	s.opening.mu.Unlock()
	if byReport != 0 || byCase != 0 || s.opening.any() {
		t.Errorf("after every write ended, %d reports and %d cases are still recorded as opening", byReport, byCase)
	}
}

// callAbout is an anonymous call about a girl of that name, born the day
// the stored cases' children were, in commune 00004.
func callAbout(name string) model.Report {
	return model.Report{
		ReceiveTime: time.Date(2026, 3, 12, 3, 0, 0, 0, time.UTC), IncidentUnit: mustKey("00004@2025-07-01"), CallType: model.CallIntervention,
		Children: []model.Child{{FullName: name, BirthDate: vntime.Date{Year: 2016, Month: 1, Day: 2}, Sex: model.SexFemale}},
		Reporter: model.Reporter{Anonymous: true},
	}
}
