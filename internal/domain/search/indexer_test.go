package search

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/childcase/childcase/internal/domain/datastore"
	"github.com/childcase/childcase/internal/domain/model"
	"github.com/childcase/childcase/internal/domain/vault"
	"github.com/childcase/childcase/internal/keys"
	"github.com/childcase/childcase/internal/storage/memstore"
)

// caseIDs returns the ids of the stored cases, in order.
func caseIDs(t *testing.T, store datastore.Store) []uint64 {
	t.Helper()
	ids := viewed(t, store, func(tx datastore.ReadTx) ([]uint64, error) {
		cs, _, err := tx.ListCases(datastore.CaseQuery{Limit: 1000})
		var ids []uint64
		for _, c := range cs {
			ids = append(ids, c.ID)
		}
		return ids, err
	})
	slices.Sort(ids)
	return ids
}

// mark marks cases as a write marks the case it changed, in a
// transaction of its own.
func mark(t *testing.T, s *Service, store datastore.Store, ids ...uint64) {
	t.Helper()
	err := store.Update(context.Background(), func(tx datastore.Tx) error {
		for _, id := range ids {
			if err := s.MarkPending(tx, id); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func pendingCases(t *testing.T, store datastore.Store) []uint64 {
	t.Helper()
	return viewed(t, store, func(tx datastore.ReadTx) ([]uint64, error) { return tx.SearchPending(0, 1000) })
}

func hasEntry(t *testing.T, store datastore.Store, id uint64) bool {
	t.Helper()
	return viewed(t, store, func(tx datastore.ReadTx) (bool, error) {
		_, err := tx.SearchEntry(id)
		if errors.Is(err, model.ErrNotFound) {
			return false, nil
		}
		return err == nil, err
	})
}

// A crash between a write's commit and its case's index entry loses
// nothing: the write's mark makes the next start index the case. A start
// of an index recorded complete indexes the marked cases and no other,
// however many lack an entry, so it costs what the marks number, not what
// the store holds; one of an index never recorded complete (a database
// from before the marks) goes through every case once, and records it.
func TestCatchUpIndexesTheMarkedCases(t *testing.T) {
	ctx := context.Background()
	store := memstore.New()
	v := vault.New(keys.NewKeyring(newMaster(t)))
	s := New(Deps{Store: store, Units: testRegistry(t), Vault: v})
	const n = rebuildBatch + 5
	storeUnindexedCases(t, store, v, n)
	ids := caseIDs(t, store)

	// The first start after the upgrade: every case is indexed, and the
	// index is recorded complete under the current master.
	if got, err := s.CatchUp(ctx); err != nil || got != n {
		t.Fatalf("first CatchUp = %d, %v; want all %d cases", got, err, n)
	}
	// Three cases stored without an entry, which no write does: a start
	// that read every case would index them all. Two of them are marked,
	// as by two writes whose server died before their entries.
	unindexed := storeUnindexedCasesAfter(t, store, v, n, 3)
	mark(t, s, store, unindexed[0], unindexed[2])

	restarted := New(Deps{Store: store, Units: testRegistry(t), Vault: v})
	if got, err := restarted.CatchUp(ctx); err != nil || got != 2 {
		t.Fatalf("CatchUp after the crash = %d, %v; want the 2 marked cases", got, err)
	}
	if got := pendingCases(t, store); len(got) != 0 {
		t.Errorf("cases still marked after CatchUp: %v", got)
	}
	for i, id := range unindexed {
		if got, want := hasEntry(t, store, id), i != 1; got != want {
			t.Errorf("case id %d has an entry: %v, want %v (marked: %v)", id, got, want, want)
		}
	}
	if got := ranked(t, s, store, Query{ChildName: "Nguyen Thi So 1"}); len(got) != 1 || got[0] != ids[0] {
		t.Errorf("the search found %v, want case id %d", got, ids[0])
	}

	// A rotation the start finds unfinished (the index recorded complete
	// under the old master): every case is indexed under the new one,
	// the unmarked case without an entry among them.
	next := newMaster(t)
	v.SetKeyring(keys.NewKeyring(next, v.Keyring().Current()))
	if got, err := restarted.CatchUp(ctx); err != nil || got != n+3 {
		t.Fatalf("CatchUp under a new master = %d, %v; want all %d cases", got, err, n+3)
	}
	if got, err := restarted.CatchUp(ctx); err != nil || got != 0 {
		t.Fatalf("CatchUp again = %d, %v; want none", got, err)
	}
}

// storeUnindexedCasesAfter stores k more cases as storeUnindexedCases does
// (numbered after the first n), and returns their ids.
func storeUnindexedCasesAfter(t *testing.T, store datastore.Store, v *vault.Vault, n, k int) []uint64 {
	t.Helper()
	before := caseIDs(t, store)
	storeUnindexedCasesFrom(t, store, v, n, k)
	return caseIDs(t, store)[len(before):]
}

// gatedStore holds the first write transaction until its gate opens, and
// counts the write transactions.
type gatedStore struct {
	datastore.Store
	gate    chan struct{}
	mu      sync.Mutex
	updates int
}

func (g *gatedStore) Update(ctx context.Context, fn func(datastore.Tx) error) error {
	g.mu.Lock()
	g.updates++
	first := g.updates == 1
	g.mu.Unlock()
	if first {
		<-g.gate
	}
	return g.Store.Update(ctx, fn)
}

// The cases that queue while a batch commits are indexed together, in
// one write transaction, and each caller returns once its case is.
func TestIndexerBatchesTheCasesThatQueue(t *testing.T) {
	ctx := context.Background()
	mem := memstore.New()
	v := vault.New(keys.NewKeyring(newMaster(t)))
	storeUnindexedCases(t, mem, v, 6)
	ids := caseIDs(t, mem)
	store := &gatedStore{Store: mem, gate: make(chan struct{})}
	s := New(Deps{Store: store, Units: testRegistry(t), Vault: v})
	mark(t, s, mem, ids...)

	indexerCtx, stop := context.WithCancel(ctx)
	stopped := make(chan struct{})
	go func() { defer close(stopped); s.RunIndexer(indexerCtx) }()
	defer func() { stop(); <-stopped }()
	// Indexed writes for itself until the indexer runs: wait for it.
	for !s.indexerRunning() {
		time.Sleep(time.Millisecond)
	}

	errs := make(chan error, len(ids))
	go func() { errs <- s.Indexed(ctx, ids[0]) }()
	// The first batch (ids[0]) is held in its transaction; the others
	// queue behind it.
	for store.updateCount() == 0 {
		time.Sleep(time.Millisecond)
	}
	for _, id := range ids[1:] {
		go func() { errs <- s.Indexed(ctx, id) }()
	}
	for s.queued() < len(ids)-1 {
		time.Sleep(time.Millisecond)
	}
	close(store.gate)
	for range ids {
		if err := <-errs; err != nil {
			t.Fatalf("Indexed: %v", err)
		}
	}
	if got := store.updateCount(); got != 2 {
		t.Errorf("%d cases in two batches took %d write transactions, want 2", len(ids), got)
	}
	for _, id := range ids {
		if !hasEntry(t, mem, id) {
			t.Errorf("case id %d has no entry after Indexed returned", id)
		}
	}
	if got := pendingCases(t, mem); len(got) != 0 {
		t.Errorf("cases still marked: %v", got)
	}
}

func (g *gatedStore) updateCount() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.updates
}

func (s *Service) indexerRunning() bool {
	s.queue.mu.Lock()
	defer s.queue.mu.Unlock()
	return s.queue.running
}

func (s *Service) queued() int {
	s.queue.mu.Lock()
	defer s.queue.mu.Unlock()
	return len(s.queue.waiting)
}

// A caller that queued before the indexer stops is still served; after
// it stops, a caller writes its case's entry itself.
func TestIndexerServesWhatQueuedBeforeItStops(t *testing.T) {
	ctx := context.Background()
	store := memstore.New()
	v := vault.New(keys.NewKeyring(newMaster(t)))
	s := New(Deps{Store: store, Units: testRegistry(t), Vault: v})
	storeUnindexedCases(t, store, v, 2)
	ids := caseIDs(t, store)
	mark(t, s, store, ids...)

	indexerCtx, stop := context.WithCancel(ctx)
	// Queued as if the indexer were running, before it starts: its first
	// look at the queue is after its context has ended.
	s.queue.running = true
	done := make(chan error, 1)
	go func() { done <- s.Indexed(ctx, ids[0]) }()
	for s.queued() == 0 {
		time.Sleep(time.Millisecond)
	}
	stop()
	s.RunIndexer(indexerCtx)
	if err := <-done; err != nil {
		t.Fatalf("Indexed of a caller queued before the stop: %v", err)
	}
	if err := s.Indexed(ctx, ids[1]); err != nil {
		t.Fatalf("Indexed after the stop: %v", err)
	}
	for _, id := range ids {
		if !hasEntry(t, store, id) {
			t.Errorf("case id %d has no entry", id)
		}
	}
}

// busyStore marks one more of its cases after each write, as a service
// whose writes go on marks them, until none is left to mark.
type busyStore struct {
	datastore.Store
	toMark []uint64
}

func (b *busyStore) Update(ctx context.Context, fn func(datastore.Tx) error) error {
	if err := b.Store.Update(ctx, fn); err != nil {
		return err
	}
	if len(b.toMark) == 0 {
		return nil
	}
	id := b.toMark[0]
	b.toMark = b.toMark[1:]
	return b.Store.Update(ctx, func(tx datastore.Tx) error { return tx.MarkSearchPending(id) })
}

// CatchUp indexes the marks it finds at start, not those that writes
// add while it runs (the indexer's): on a busy service it would
// otherwise never end.
func TestCatchUpIndexesTheMarksAsTheyStoodAtStart(t *testing.T) {
	ctx := context.Background()
	mem := memstore.New()
	v := vault.New(keys.NewKeyring(newMaster(t)))
	storeUnindexedCases(t, mem, v, 3*rebuildBatch)
	ids := caseIDs(t, mem)
	s := New(Deps{Store: mem, Units: testRegistry(t), Vault: v})
	if _, err := s.CatchUp(ctx); err != nil { // the index recorded complete
		t.Fatal(err)
	}
	mark(t, s, mem, ids[:rebuildBatch+1]...)
	busy := &busyStore{Store: mem, toMark: ids[rebuildBatch+1:]}
	s = New(Deps{Store: busy, Units: testRegistry(t), Vault: v})
	if got, err := s.CatchUp(ctx); err != nil || got != rebuildBatch+1 {
		t.Fatalf("CatchUp = %d, %v; want the %d cases marked at its start", got, err, rebuildBatch+1)
	}
}

// A write alone writes its case's entry in its own transaction, with no
// mark and nothing to wait for; a write begun while another is under way
// marks its case for the indexer's shared commit, as every write did.
func TestALoneWriteWritesItsEntryItself(t *testing.T) {
	ctx := context.Background()
	store := memstore.New()
	v := vault.New(keys.NewKeyring(newMaster(t)))
	s := New(Deps{Store: store, Units: testRegistry(t), Vault: v})
	storeUnindexedCases(t, store, v, 3)
	ids := caseIDs(t, store)

	follow := func(w *EntryWrite, id uint64) bool {
		t.Helper()
		pending, err := followIn(ctx, store, w, id)
		if err != nil {
			t.Fatal(err)
		}
		return pending
	}
	first, second := s.BeginWrite(), s.BeginWrite()
	if follow(first, ids[0]) {
		t.Error("the first write, alone when it began, left its case pending")
	}
	if !follow(second, ids[1]) {
		t.Error("a write begun beside another wrote its entry itself, want it marked for the indexer")
	}
	first.End()
	second.End()
	if !hasEntry(t, store, ids[0]) || hasEntry(t, store, ids[1]) {
		t.Errorf("entries: case id %d %v, case id %d %v; want the first only", ids[0], hasEntry(t, store, ids[0]), ids[1], hasEntry(t, store, ids[1]))
	}
	if got := pendingCases(t, store); !slices.Equal(got, ids[1:2]) {
		t.Errorf("marked cases %v, want %v", got, ids[1:2])
	}

	// Both ended: the next write is alone again.
	third := s.BeginWrite()
	defer third.End()
	if follow(third, ids[2]) || !hasEntry(t, store, ids[2]) {
		t.Error("a write begun after the others ended did not write its entry itself")
	}
	if got := ranked(t, s, store, Query{ChildName: "Nguyen Thi So 1"}); len(got) != 1 || got[0] != ids[0] {
		t.Errorf("the search found %v, want case id %d", got, ids[0])
	}
}

// A write alone whose case's entry cannot be made (a report of the case
// that cannot be opened: here its data key is wrapped under a master the
// service does not hold) still commits: the entry's failure is not the
// write's, as it is not for a write beside another, or for every write
// before a lone one wrote its entry. The case is marked instead, so the
// caller's wait after the commit tries again (Indexed) and the next start
// writes it (CatchUp).
func TestALoneWriteWhoseEntryFailsMarksItsCase(t *testing.T) {
	ctx := context.Background()
	store := memstore.New()
	storeUnindexedCases(t, store, vault.New(keys.NewKeyring(newMaster(t))), 1)
	id := caseIDs(t, store)[0]
	s := New(Deps{Store: store, Units: testRegistry(t), Vault: vault.New(keys.NewKeyring(newMaster(t)))})

	w := s.BeginWrite()
	defer w.End()
	pending, err := followIn(ctx, store, w, id)
	if err != nil {
		t.Fatalf("the write failed with its case's entry: %v", err)
	}
	if !pending || hasEntry(t, store, id) {
		t.Errorf("Follow = pending %v, entry %v; want the case pending, with no entry", pending, hasEntry(t, store, id))
	}
	if got := pendingCases(t, store); !slices.Equal(got, []uint64{id}) {
		t.Errorf("marked cases %v, want %v", got, []uint64{id})
	}
	if err := s.Indexed(ctx, id); err == nil {
		t.Error("Indexed wrote an entry the service cannot make")
	}
}

// followIn makes the entry of a case follow w in a write transaction of
// its own, as a write's body does (EntryWrite.Follow).
func followIn(ctx context.Context, store datastore.Store, w *EntryWrite, id uint64) (pending bool, err error) {
	err = store.Update(ctx, func(tx datastore.Tx) error {
		pending, err = w.Follow(tx, id)
		return err
	})
	return pending, err
}

// One case whose entry cannot be made (its report sealed under a master
// the service does not hold, as in a damaged database) does not keep the
// cases around it out of the index: a catch-up of the marked cases and a
// rebuild both index every other case, in its batch and the batches
// after, and fail naming it. It stays marked (a rebuild marks it) and
// the index is recorded complete, so the next round tries it alone
// rather than walking every case again.
func TestCatchUpGoesOnPastACaseItCannotIndex(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name     string
		marked   bool // the cases are marked, as by writes; else never indexed
		onlyBad  bool // only the damaged case is marked, the others never indexed
		complete bool // the index is recorded complete before the cases came
	}{
		{name: "marked", marked: true, complete: true},
		{name: "rebuild", complete: false},
		// A rebuild is due (a database written before the index, a
		// rotation interrupted) and the damaged case is marked too: the
		// marked case's failure does not keep the rebuild from the rest.
		{name: "marked and rebuild", marked: true, onlyBad: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			store := memstore.New()
			v := vault.New(keys.NewKeyring(newMaster(t)))
			s := New(Deps{Store: store, Units: testRegistry(t), Vault: v})
			if tc.complete {
				// An index complete before the cases came: the catch-up
				// reads the marks and nothing else.
				if err := s.recordIndexedUnder(ctx, s.currentKeyID()); err != nil {
					t.Fatal(err)
				}
			}
			storeUnindexedCases(t, store, v, 3)
			bad := storeUnindexedCasesAfter(t, store, vault.New(keys.NewKeyring(newMaster(t))), 3, 1)[0]
			storeUnindexedCasesFrom(t, store, v, 4, rebuildBatch+2)
			ids := caseIDs(t, store)
			switch {
			case tc.onlyBad:
				mark(t, s, store, bad)
			case tc.marked:
				mark(t, s, store, ids...)
			}

			got, err := s.CatchUp(ctx)
			if want := len(ids) - 1; got != want {
				t.Errorf("CatchUp indexed %d cases, want %d (all but the damaged one)", got, want)
			}
			var unindexable *unindexableError
			if !errors.As(err, &unindexable) || unindexable.caseID != bad {
				t.Errorf("CatchUp = %v; want it to name case id %d, whose entry cannot be made", err, bad)
			}
			for _, id := range ids {
				if got, want := hasEntry(t, store, id), id != bad; got != want {
					t.Errorf("case id %d has an entry: %v, want %v", id, got, want)
				}
			}
			// The damaged case is marked, so that the catch-up of every
			// 30 s tries it alone, and a rebuild records the index
			// complete: the next round walks no case but it.
			if got := pendingCases(t, store); !slices.Equal(got, []uint64{bad}) {
				t.Errorf("cases marked after CatchUp %v, want only %d", got, bad)
			}
			if under, err := s.indexedUnder(ctx); err != nil || under != s.currentKeyID() {
				t.Errorf("index recorded complete under %q (%v), want the current master %q", under, err, s.currentKeyID())
			}
			if got, err := s.CatchUp(ctx); got != 0 || !errors.As(err, &unindexable) || unindexable.caseID != bad {
				t.Errorf("CatchUp again = %d, %v; want none indexed, naming case id %d", got, err, bad)
			}
		})
	}
}

// OnlyLeftOut lets a rotation go on past the cases a rebuild left out and
// marked, and only those: any other failure beside them stops it.
func TestOnlyLeftOut(t *testing.T) {
	bad := &unindexableError{caseID: 7, err: model.ErrNotFound}
	for _, tc := range []struct {
		err  error
		want bool
	}{
		{nil, false},
		{bad, true},
		{errors.Join(errors.Join(bad), errors.Join(&unindexableError{caseID: 9})), true},
		{fmt.Errorf("search index: %w", bad), true},
		{errors.Join(bad, errors.New("search index: mark the cases left out: disk full")), false},
		{errors.New("disk full"), false},
	} {
		if got := OnlyLeftOut(tc.err); got != tc.want {
			t.Errorf("OnlyLeftOut(%v) = %v, want %v", tc.err, got, tc.want)
		}
	}
}
