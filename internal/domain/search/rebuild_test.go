package search

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/childcase/childcase/internal/domain/datastore"
	"github.com/childcase/childcase/internal/domain/model"
	"github.com/childcase/childcase/internal/domain/units"
	"github.com/childcase/childcase/internal/domain/vault"
	"github.com/childcase/childcase/internal/domain/vntime"
	"github.com/childcase/childcase/internal/keys"
	"github.com/childcase/childcase/internal/storage/memstore"
	"github.com/childcase/childcase/internal/storage/storagetest"
)

func newMaster(t testing.TB) keys.MasterKey {
	t.Helper()
	m, err := keys.GenerateMaster()
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// storeUnindexedCases stores n cases, each with one sealed report about
// a child named after its number, as a database written before the index
// holds them.
func storeUnindexedCases(t *testing.T, store datastore.Store, v *vault.Vault, n int) {
	t.Helper()
	storeUnindexedCasesFrom(t, store, v, 0, n)
}

// storeUnindexedCasesFrom stores n such cases numbered after the first
// from.
func storeUnindexedCasesFrom(t *testing.T, store datastore.Store, v *vault.Vault, from, n int) {
	t.Helper()
	storeUnindexedCasesBy(t, store, v, from, n, model.Reporter{Anonymous: true})
}

// storeUnindexedCasesBy stores n such cases numbered after the first from,
// each reported by reporter.
func storeUnindexedCasesBy(t *testing.T, store datastore.Store, v *vault.Vault, from, n int, reporter model.Reporter) {
	t.Helper()
	storeCasesOf(t, store, v, from, n, reporter, false)
}

// storeCasesOf stores n cases of commune 00004, numbered after the first
// from, each reported by reporter, their entries not written; handled,
// the commune handles them too, and is their incident unit, as intake
// opens them (their scope keys name it).
func storeCasesOf(t *testing.T, store datastore.Store, v *vault.Vault, from, n int, reporter model.Reporter, handled bool) {
	t.Helper()
	commune := mustKey("00004@2025-07-01")
	err := store.Update(context.Background(), func(tx datastore.Tx) error {
		for i := from; i < from+n; i++ {
			number := fmt.Sprintf("HN-2026-%05d", i+1)
			r := model.Report{
				ID: fmt.Sprintf("0190c4a2-7d3e-7c4b-8a5e-%012d", i+1), ReceiveTime: time.Date(2026, 3, 12, 3, 0, 0, 0, time.UTC),
				IncidentUnit: commune, CallType: model.CallIntervention, CaseNumber: number,
				Children: []model.Child{{FullName: fmt.Sprintf("Nguyễn Thị Số %d", i+1), BirthDate: vntime.Date{Year: 2016, Month: 1, Day: 2}, Sex: model.SexFemale}},
				Reporter: reporter,
			}
			stored, err := v.SealReport(tx, r)
			if err != nil {
				return err
			}
			if err := tx.CreateReport(stored); err != nil {
				return err
			}
			c := model.Case{Number: number, Status: model.StatusAwaitingAcknowledgement, ResponsibleUnit: commune, ReportIDs: []string{r.ID}, Revision: 1}
			if handled {
				c.IncidentUnit, c.Handlers = commune, []units.Key{commune}
			}
			if err := tx.CreateCase(&c); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func ranked(t *testing.T, s *Service, store datastore.Store, q Query) []uint64 {
	t.Helper()
	return rankedThrough(t, s, store, q, func(tx datastore.ReadTx) datastore.ReadTx { return tx })
}

// rankedThrough is ranked with the search reading through the
// transaction that through wraps the store's in.
func rankedThrough(t *testing.T, s *Service, store datastore.Store, q Query, through func(datastore.ReadTx) datastore.ReadTx) []uint64 {
	t.Helper()
	return viewed(t, store, func(tx datastore.ReadTx) ([]uint64, error) {
		hits, _, _, err := s.rank(through(tx), q, firstPostings, IntakeCandidates+1)
		var ids []uint64
		for _, h := range hits {
			ids = append(ids, h.id)
		}
		return ids, err
	})
}

// viewed returns what read reads in a read transaction of store.
func viewed[T any](t *testing.T, store datastore.Store, read func(datastore.ReadTx) (T, error)) T {
	t.Helper()
	var v T
	err := store.View(context.Background(), func(tx datastore.ReadTx) error {
		var err error
		v, err = read(tx)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// Rebuild indexes the cases a database written before the index holds;
// after a rotation it indexes them again under the new key, and while it
// has not, the search still finds them under the old master's key.
func TestRebuild(t *testing.T) {
	ctx := context.Background()
	store := memstore.New()
	old := newMaster(t)
	v := vault.New(keys.NewKeyring(old))
	s := New(Deps{Store: store, Units: testRegistry(t), Vault: v})
	const n = 2*rebuildBatch + 7 // more than one batch
	storeUnindexedCases(t, store, v, n)
	q := Query{ChildName: "Nguyen Thi So 150"}
	if got := ranked(t, s, store, q); len(got) != 0 {
		t.Fatalf("before the rebuild the search found %v", got)
	}
	if got, err := s.Rebuild(ctx); err != nil || got != n {
		t.Fatalf("Rebuild = %d, %v; want %d cases indexed", got, err, n)
	}
	if got, err := s.Rebuild(ctx); err != nil || got != 0 {
		t.Fatalf("Rebuild again = %d, %v; want none left", got, err)
	}
	found := ranked(t, s, store, q)
	if len(found) != 1 {
		t.Fatalf("after the rebuild the search found %v, want one case", found)
	}

	// A rotation: the keyring holds both masters while the index is
	// under the old one; a search finds the case, then Rebuild moves
	// every case to the new key, after which the new key alone finds it.
	next := newMaster(t)
	v.SetKeyring(keys.NewKeyring(next, old))
	if got := ranked(t, s, store, q); len(got) != 1 || got[0] != found[0] {
		t.Fatalf("during the rotation the search found %v, want %v", got, found)
	}
	if got, err := s.Rebuild(ctx); err != nil || got != n {
		t.Fatalf("Rebuild after the rotation = %d, %v; want %d", got, err, n)
	}
	v.SetKeyring(keys.NewKeyring(next))
	if got := ranked(t, s, store, q); len(got) != 1 || got[0] != found[0] {
		t.Fatalf("under the new key alone the search found %v, want %v", got, found)
	}
	err := store.View(ctx, func(tx datastore.ReadTx) error {
		es, _, err := tx.ListSearchEntries(0, n+1)
		for _, e := range es {
			if e.KeyID != EntryKeyID(next) {
				t.Errorf("case id %d is indexed under %s, want %s", e.CaseID, e.KeyID, EntryKeyID(next))
			}
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}

// A rebuild that finds every case indexed (as at every start after the
// first) writes nothing: it looks in read transactions and commits only
// for the cases it indexes.
func TestRebuildOfACompleteIndexWritesNothing(t *testing.T) {
	ctx := context.Background()
	store := &storagetest.CountingUpdates{Store: memstore.New()}
	v := vault.New(keys.NewKeyring(newMaster(t)))
	s := New(Deps{Store: store, Units: testRegistry(t), Vault: v})
	storeUnindexedCases(t, store, v, rebuildBatch+3)
	if got, err := s.Rebuild(ctx); err != nil || got != rebuildBatch+3 {
		t.Fatalf("Rebuild = %d, %v; want %d", got, err, rebuildBatch+3)
	}
	store.Updates = 0
	if got, err := s.Rebuild(ctx); err != nil || got != 0 {
		t.Fatalf("Rebuild again = %d, %v; want none", got, err)
	}
	if store.Updates != 0 {
		t.Errorf("a rebuild with nothing to index asked for %d write transactions, want none", store.Updates)
	}
}

// An index made before format 2, whose entries held the reporter's phone
// under a caregiver's kind (so that anyone's search matched it), is made
// again at start: CatchUp indexes every case anew, after which the phone
// finds the case only for a query that may match reporters. Until then
// (the rebuild runs in the background while the service answers), an
// entry of the older format matches such a query only: its phone could
// be the reporter's.
func TestCatchUpRebuildsAnIndexOfAnOlderFormat(t *testing.T) {
	ctx := context.Background()
	store := memstore.New()
	master := newMaster(t)
	v := vault.New(keys.NewKeyring(master))
	s := New(Deps{Store: store, Units: testRegistry(t), Vault: v})
	storeUnindexedCasesBy(t, store, v, 0, 1, model.Reporter{FullName: "Tạ Thị Báo Tin", Phone: "0966 135 792"})
	const phone = "+84966135792"
	var id uint64
	err := store.Update(ctx, func(tx datastore.Tx) error {
		c, err := tx.CaseByNumber("HN-2026-00001")
		if err != nil {
			return err
		}
		id = c.ID
		// The report without its reporter, and the reporter's phone as
		// the former format kept it.
		r, err := tx.Report(c.ReportIDs[0])
		if err != nil {
			return err
		}
		opened, err := v.OpenReport(tx, r)
		if err != nil {
			return err
		}
		toks := append(Tokens(master.IndexKey(), s.units, opened), newTokenizer(master.IndexKey()).token(feature{kindPhone, phone}))
		if err := tx.PutSearchEntry(datastore.SearchEntry{CaseID: id, KeyID: master.ID(), Tokens: toks}); err != nil {
			return err
		}
		return tx.SetSearchIndexedUnder(master.ID())
	})
	if err != nil {
		t.Fatal(err)
	}
	if got := ranked(t, s, store, Query{Phone: phone}); len(got) != 0 {
		t.Errorf("before CatchUp the older entry: the reporter's phone found %v for anyone", got)
	}
	if got := ranked(t, s, store, Query{Phone: phone, Reporters: true}); len(got) != 1 || got[0] != id {
		t.Errorf("before CatchUp the older entry: the reporter's phone found %v for who may match reporters, want case id %d", got, id)
	}
	if n, err := s.CatchUp(ctx); err != nil || n != 1 {
		t.Fatalf("CatchUp = %d, %v; want the case indexed again", n, err)
	}
	if got := ranked(t, s, store, Query{Phone: phone}); len(got) != 0 {
		t.Errorf("after CatchUp the reporter's phone found %v for anyone", got)
	}
	if got := ranked(t, s, store, Query{Phone: phone, Reporters: true}); len(got) != 1 || got[0] != id {
		t.Errorf("after CatchUp the reporter's phone found %v for who may match reporters, want case id %d", got, id)
	}
	e := viewed(t, store, func(tx datastore.ReadTx) (datastore.SearchEntry, error) { return tx.SearchEntry(id) })
	under := viewed(t, store, func(tx datastore.ReadTx) (string, error) { return tx.SearchIndexedUnder() })
	if e.KeyID != EntryKeyID(master) || under != EntryKeyID(master) {
		t.Errorf("after CatchUp the entry is under %q and the index complete under %q, want %q", e.KeyID, under, EntryKeyID(master))
	}
}

// An index of the format before this one (format 2, whose names were
// folded without Đ's look-alikes) is made again at start, and while it is
// its entries go on matching as they did: they keep the reporter's
// phone apart already, so a caregiver's phone finds the case for anyone.
// A name the former format left unmatched is found once CatchUp is done.
func TestCatchUpRebuildsAnIndexOfTheFormatBefore(t *testing.T) {
	ctx := context.Background()
	// Ð is U+00D0, as a legacy encoding wrote Đ.
	w := storeWithFormerEntry(t, "/2", model.Child{FullName: "Trần \u00d0ức Minh", BirthDate: vntime.Date{Year: 2015, Month: 2, Day: 3}, Sex: model.SexMale},
		model.Caregiver{FullName: "Trần Văn Hùng", Phone: "0903 222 333"})
	s, store, master, id := w.s, w.store, w.master, w.id
	phone, name := Query{Phone: "0903222333"}, Query{ChildName: "Trần Đức Minh"}
	if got := ranked(t, s, store, phone); len(got) != 1 || got[0] != id {
		t.Errorf("before CatchUp the caregiver's phone found %v in the format-2 entry, want case id %d", got, id)
	}
	if n, err := s.CatchUp(ctx); err != nil || n != 1 {
		t.Fatalf("CatchUp = %d, %v; want the case of the former format indexed again", n, err)
	}
	for _, q := range []Query{phone, name, {ChildName: "tran duc minh"}} {
		if got := ranked(t, s, store, q); len(got) != 1 || got[0] != id {
			t.Errorf("after CatchUp %+v found %v, want case id %d", q, got, id)
		}
	}
	e := viewed(t, store, func(tx datastore.ReadTx) (datastore.SearchEntry, error) { return tx.SearchEntry(id) })
	if e.KeyID != EntryKeyID(master) {
		t.Errorf("after CatchUp the entry is under %q, want %q", e.KeyID, EntryKeyID(master))
	}
}

// entryCountingTx counts the search entries a body writes
// (storagetest.SmallCommits).
type entryCountingTx struct {
	datastore.Tx
	entries *int
}

func (c entryCountingTx) PutSearchEntry(e datastore.SearchEntry) error {
	*c.entries++
	return c.Tx.PutSearchEntry(e)
}

// limitedStore refuses, as etcd refuses a commit over its operations, an
// Update whose body wrote more than limit search entries.
func limitedStore(s datastore.Store, limit int) *storagetest.SmallCommits {
	return &storagetest.SmallCommits{Store: s, Limit: limit, Count: func(tx datastore.Tx, n *int) datastore.Tx {
		return entryCountingTx{Tx: tx, entries: n}
	}}
}

// A rebuild whose batch is too large for the store to commit at once
// (etcd's operations a commit: each entry is some 40 postings, and under
// a new master the old ones are deleted too) splits it until it fits,
// rather than failing at every start and every rotation.
func TestRebuildSplitsABatchTooLargeToCommit(t *testing.T) {
	ctx := context.Background()
	store := limitedStore(memstore.New(), 7)
	v := vault.New(keys.NewKeyring(newMaster(t)))
	s := New(Deps{Store: store, Units: testRegistry(t), Vault: v})
	const n = rebuildBatch + 3
	storeUnindexedCases(t, store, v, n)
	if got, err := s.Rebuild(ctx); err != nil || got != n {
		t.Fatalf("Rebuild = %d, %v; want %d cases indexed", got, err, n)
	}
	if store.Refused == 0 {
		t.Fatal("no commit was refused: the test's limit does not bite")
	}
	if got := ranked(t, s, store, Query{ChildName: fmt.Sprintf("Nguyen Thi So %d", n)}); len(got) != 1 {
		t.Errorf("after the rebuild the search found %v, want the last case", got)
	}
	if got, err := s.Rebuild(ctx); err != nil || got != 0 {
		t.Errorf("Rebuild again = %d, %v; want none left", got, err)
	}

	// The marks a crash left, caught up at start in batches as large.
	ids := caseIDs(t, store)
	mark(t, s, store, ids...)
	store.Refused = 0
	if got, err := s.CatchUp(ctx); err != nil || got != n {
		t.Fatalf("CatchUp of %d marked cases = %d, %v", n, got, err)
	}
	if store.Refused == 0 {
		t.Error("no commit of the catch-up was refused: the test's limit does not bite")
	}
	if left := pendingCases(t, store); len(left) != 0 {
		t.Errorf("cases still marked after the catch-up: %v", left)
	}
}

// formerWorld is one report's case in a memory store whose search entry
// is as an older index format made it (storeWithFormerEntry).
type formerWorld struct {
	s      *Service
	store  datastore.Store
	master keys.MasterKey
	id     uint64 // the case's id
}

// storeWithFormerEntry stores a report of child (and caregivers) with its
// case, and the case's search entry as the index format given made it:
// the child's name folded to tokens no query meets (here: none), the
// caregivers' as now; the index complete under that format.
func storeWithFormerEntry(t *testing.T, format string, child model.Child, caregivers ...model.Caregiver) formerWorld {
	t.Helper()
	ctx := context.Background()
	store := memstore.New()
	master := newMaster(t)
	v := vault.New(keys.NewKeyring(master))
	s := New(Deps{Store: store, Units: testRegistry(t), Vault: v})
	commune := mustKey("00004@2025-07-01")
	r := model.Report{
		ID: "0190c4a2-7d3e-7c4b-8a5e-000000000001", ReceiveTime: time.Date(2026, 3, 12, 3, 0, 0, 0, time.UTC),
		IncidentUnit: commune, CallType: model.CallIntervention, CaseNumber: "HN-2026-00001",
		Children:   []model.Child{child},
		Caregivers: caregivers,
		Reporter:   model.Reporter{Anonymous: true},
	}
	var id uint64
	err := store.Update(ctx, func(tx datastore.Tx) error {
		stored, err := v.SealReport(tx, r)
		if err != nil {
			return err
		}
		if err := tx.CreateReport(stored); err != nil {
			return err
		}
		c := model.Case{Number: r.CaseNumber, Status: model.StatusAwaitingAcknowledgement, ResponsibleUnit: commune, ReportIDs: []string{r.ID}, Revision: 1}
		if err := tx.CreateCase(&c); err != nil {
			return err
		}
		id = c.ID
		former := r
		former.Children = []model.Child{{BirthDate: child.BirthDate, Sex: child.Sex}}
		if err := tx.PutSearchEntry(datastore.SearchEntry{CaseID: id, KeyID: master.ID() + format, Tokens: Tokens(master.IndexKey(), s.units, former)}); err != nil {
			return err
		}
		return tx.SetSearchIndexedUnder(master.ID() + format)
	})
	if err != nil {
		t.Fatal(err)
	}
	return formerWorld{s: s, store: store, master: master, id: id}
}
