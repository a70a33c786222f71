package search

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"

	"github.com/childcase/childcase/internal/domain/datastore"
	"github.com/childcase/childcase/internal/domain/model"
	"github.com/childcase/childcase/internal/domain/panics"
)

// The index entries of the cases a write changes are written after its
// commit, in a transaction of their own, shared by every case that
// queued while the previous one committed: some 50 tokens a case, spread
// over the whole index, land on a leaf page each, and a batch of cases
// shares one commit, and the leaves its cases' tokens have in common,
// where each write paid them alone inside its own transaction.
// The write marks its case (MarkPending) in its own transaction, so a
// crash, or a full disk, before the entry is written loses nothing:
// CatchUp indexes the marked cases at the next start, and internal/app
// runs it again every 30 s while it leads.
//
// The caller of a write waits for its case's batch (Indexed) before it
// answers: a search after an acknowledged write finds what it wrote (the
// candidates of the next report about the same child among them), with
// no second, in-memory index for searches to consult.
//
// A write that is alone, with no other write of an entry under way and
// none waiting for the indexer (BeginWrite), has no batch to share: it
// writes its case's entry in its own transaction instead, one commit
// where the mark and the entry took two (each syncing the file twice and
// writing its meta page, free list and the pages above its leaves).

// indexQueue is what waits for the indexer: the cases of each waiting
// caller, and whether an indexer runs to take them.
type indexQueue struct {
	mu      sync.Mutex
	running bool
	waiting []indexWaiter
	writers int           // writes begun (BeginWrite) and not ended
	wake    chan struct{} // one token: the queue has something
}

// indexWaiter is a caller waiting for its cases' entries.
type indexWaiter struct {
	caseIDs []uint64
	done    chan error // buffered: the indexer never blocks on it
}

func newIndexQueue() *indexQueue { return &indexQueue{wake: make(chan struct{}, 1)} }

// MarkPending marks, in the caller's transaction, a case whose entry is to
// be written after its commit (Indexed). The mark is one small key; the
// entry clears it.
func (s *Service) MarkPending(tx datastore.Tx, caseID uint64) error {
	return tx.MarkSearchPending(caseID)
}

// EntryWrite is a write that changes the search entry of a case (a
// report stored with its case, or linked to one), from before its
// transaction until its caller answers (End).
type EntryWrite struct {
	s     *Service
	alone bool
}

// BeginWrite begins a write that changes a case's entry: the write is
// alone when no other such write is under way and no caller waits for
// the indexer, and then writes the entry itself (Follow). It is decided
// once, before the transaction, so a body that runs again does the same;
// a write that turns out to share its commit with others is still
// correct either way, as its entry is written or marked in its own
// transaction. Every BeginWrite needs its End.
func (s *Service) BeginWrite() *EntryWrite {
	q := s.queue
	q.mu.Lock()
	defer q.mu.Unlock()
	w := &EntryWrite{s: s, alone: q.writers == 0 && len(q.waiting) == 0}
	q.writers++
	return w
}

// End ends the write begun by BeginWrite.
func (w *EntryWrite) End() {
	q := w.s.queue
	q.mu.Lock()
	defer q.mu.Unlock()
	q.writers--
}

// Follow makes the entry of the case follow the write, in its
// transaction: a write alone writes it there (IndexCase, from the case
// and its reports as tx has them, so after the write's own records);
// any other marks the case (MarkPending), and its caller waits with
// Indexed after the commit. It reports whether the entry is pending.
//
// An entry that cannot be made (a report of the case that cannot be
// read or opened) does not fail the write: a report taken on the hotline
// is stored whatever becomes of its case's entry, as it is beside
// another write. The case is marked instead, and the wait after the
// commit tries again (and logs its failure); the next catch-up writes it
// (CatchUp).
func (w *EntryWrite) Follow(tx datastore.Tx, caseID uint64) (pending bool, err error) {
	if !w.alone {
		return true, w.s.MarkPending(tx, caseID)
	}
	c, err := tx.CaseByID(caseID)
	var e datastore.SearchEntry
	if err == nil {
		e, err = w.s.entryOf(tx, c)
	}
	if err != nil {
		return true, w.s.MarkPending(tx, caseID)
	}
	return false, tx.PutSearchEntry(e)
}

// Indexed returns once the entries of the cases, marked by a write that
// has committed, are written: by the indexer's next batch when one runs
// (RunIndexer), or else by a transaction of its own. If ctx ends first,
// the indexer still writes them; any other error leaves them marked for
// CatchUp. The write itself stands either way.
func (s *Service) Indexed(ctx context.Context, caseIDs ...uint64) error {
	if len(caseIDs) == 0 {
		return nil
	}
	q := s.queue
	q.mu.Lock()
	if !q.running {
		q.mu.Unlock()
		_, err := s.indexCases(ctx, caseIDs)
		return err
	}
	w := indexWaiter{caseIDs: caseIDs, done: make(chan error, 1)}
	q.waiting = append(q.waiting, w)
	q.mu.Unlock()
	select {
	case q.wake <- struct{}{}:
	default: // a wake-up is pending already
	}
	select {
	case err := <-w.done:
		return err
	case <-ctx.Done():
		// The indexer still writes them; only this caller stops waiting.
		return ctx.Err()
	}
}

// RunIndexer writes the entries callers of Indexed wait for, in one
// transaction per batch, until ctx ends; the callers that queued by then
// are served before it returns. One runs per service: internal/app starts
// it and stops it after the servers, whose calls wait for it.
func (s *Service) RunIndexer(ctx context.Context) {
	q := s.queue
	q.mu.Lock()
	q.running = true
	q.mu.Unlock()
	for {
		select {
		case <-ctx.Done():
		case <-q.wake:
		}
		q.mu.Lock()
		batch := q.waiting
		q.waiting = nil
		stop := ctx.Err() != nil
		if stop {
			q.running = false // from now on Indexed writes for itself
		}
		q.mu.Unlock()
		if len(batch) > 0 {
			s.serveBatch(context.WithoutCancel(ctx), batch)
		}
		if stop {
			return
		}
	}
}

// serveBatch writes the entries of a batch's cases in one transaction.
// Should it fail, each caller's cases are written alone, so that one
// case's failure is its caller's only.
func (s *Service) serveBatch(ctx context.Context, batch []indexWaiter) {
	var ids []uint64
	for _, w := range batch {
		ids = append(ids, w.caseIDs...)
	}
	_, err := s.indexCases(ctx, ids)
	if err != nil && len(batch) > 1 {
		for _, w := range batch {
			_, err := s.indexCases(ctx, w.caseIDs)
			w.done <- err
		}
		return
	}
	for _, w := range batch {
		w.done <- err
	}
}

// indexCases writes the entries of the cases, as stored now, in one
// transaction (which clears their marks), and returns how many it wrote.
// One too large for the store to commit at once (model.ErrTooLarge:
// etcd's operations a commit) is split in halves, as Rebuild's batches
// are. A case whose entry cannot be made is left out and stays marked
// (skipUnindexable): the others are written.
func (s *Service) indexCases(ctx context.Context, ids []uint64) (int, error) {
	ids = slices.Compact(slices.Sorted(slices.Values(ids)))
	n, err := skipUnindexable(ids, func(ids []uint64) (int, error) { return s.indexCasesAtOnce(ctx, ids) })
	if err != nil {
		return n, fmt.Errorf("search index: %w", err)
	}
	return n, nil
}

func (s *Service) indexCasesAtOnce(ctx context.Context, ids []uint64) (int, error) {
	err := s.store.Update(ctx, func(tx datastore.Tx) error {
		for _, id := range ids {
			if err := s.writeEntry(tx, id); err != nil {
				return err
			}
		}
		return nil
	})
	if errors.Is(err, model.ErrTooLarge) && len(ids) > 1 {
		first, err := s.indexCasesAtOnce(ctx, ids[:len(ids)/2])
		if err != nil {
			return first, err
		}
		second, err := s.indexCasesAtOnce(ctx, ids[len(ids)/2:])
		return first + second, err
	}
	if err != nil {
		return 0, err
	}
	return len(ids), nil
}

// writeEntry writes the entry of the case with the given id in tx. A case
// whose entry cannot be made (itself, or a report of it, that cannot be
// read or opened, or whose making panics) fails as unindexableError.
func (s *Service) writeEntry(tx datastore.Tx, id uint64) error {
	e, err := s.makeEntry(tx, id)
	if err != nil {
		return &unindexableError{caseID: id, err: err}
	}
	return tx.PutSearchEntry(e)
}

// makeEntry makes the entry of the case with the given id, reading only.
// A panic of the making (a record the code cannot handle) is its error:
// left to unwind, it failed the whole batch, and the leader's catch-up,
// run again each second, met the case first every time, so that no case
// marked after it was indexed; in the indexer a write waits for, it ended
// the process. Nothing was written for the case, so the batch goes on
// without it (skipUnindexable). The error says the panic's type, never
// its value, which may hold what a report said.
func (s *Service) makeEntry(tx datastore.Tx, id uint64) (e datastore.SearchEntry, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = panics.Error(errMakingPanicked, p)
		}
	}()
	c, err := tx.CaseByID(id)
	if err != nil {
		return e, err
	}
	return s.entryOf(tx, c)
}

// errMakingPanicked is the error of an entry whose making panicked.
var errMakingPanicked = errors.New("making it panicked")

// unindexableError is a case whose entry cannot be made.
type unindexableError struct {
	caseID uint64
	err    error
}

func (e *unindexableError) Error() string {
	return fmt.Sprintf("the entry of case id %d cannot be made: %v", e.caseID, e.err)
}

func (e *unindexableError) Unwrap() error { return e.err }

// unindexableCases returns the ids of the cases err says cannot be
// indexed (unindexableError, joined as skipUnindexable joins them).
func unindexableCases(err error) []uint64 {
	switch e := err.(type) {
	case *unindexableError:
		return []uint64{e.caseID}
	case interface{ Unwrap() []error }:
		var ids []uint64
		for _, e := range e.Unwrap() {
			ids = append(ids, unindexableCases(e)...)
		}
		return ids
	case interface{ Unwrap() error }:
		return unindexableCases(e.Unwrap())
	}
	return nil
}

// OnlyLeftOut reports whether err, from Rebuild, names only cases whose
// entry cannot be made: those the rebuild left out and marked, which the
// catch-up tries again, the rest indexed and the index recorded complete.
// A caller whose work does not depend on those entries (a key rotation)
// goes on, logging err.
func OnlyLeftOut(err error) bool {
	switch e := err.(type) {
	case *unindexableError:
		return true
	case interface{ Unwrap() []error }:
		errs := e.Unwrap()
		for _, e := range errs {
			if !OnlyLeftOut(e) {
				return false
			}
		}
		return len(errs) > 0
	case interface{ Unwrap() error }:
		return OnlyLeftOut(e.Unwrap())
	}
	return false
}

// skipUnindexable runs write on ids, and again without each case whose
// entry it finds cannot be made, until it writes the rest: one damaged
// case must not keep every case after it out of the index (a catch-up or
// a rebuild goes on past it). It returns what the last run wrote, and the
// cases left out and any other failure, joined.
func skipUnindexable(ids []uint64, write func([]uint64) (int, error)) (int, error) {
	var failed []error
	for len(ids) > 0 {
		n, err := write(ids)
		var bad *unindexableError
		if !errors.As(err, &bad) {
			return n, errors.Join(append(failed, err)...)
		}
		failed = append(failed, bad)
		ids = slices.DeleteFunc(slices.Clone(ids), func(id uint64) bool { return id == bad.caseID })
	}
	return 0, errors.Join(failed...)
}

// CatchUp brings the index up to date at start and returns how many
// cases it indexed: the cases a crash left marked, which costs what they
// number; then, unless the index is recorded complete under the current
// master's key (SetSearchIndexedUnder), every case without an entry under
// it (Rebuild: a database written before the index or the marks, or a
// rotation interrupted). A normal start reads two keys. The marks are
// read once, as they stand when it starts: those that writes add while it
// runs are the indexer's, and a busy service does not keep it going.
// A marked case whose entry cannot be made does not keep the rebuild
// from the others.
func (s *Service) CatchUp(ctx context.Context) (int, error) {
	total, marked := s.IndexMarked(ctx)
	var bad *unindexableError
	if marked != nil && !errors.As(marked, &bad) {
		return total, marked
	}
	under, err := s.indexedUnder(ctx)
	if err != nil || under == s.currentKeyID() {
		return total, errors.Join(marked, err)
	}
	n, err := s.Rebuild(ctx)
	return total + n, errors.Join(marked, err)
}

// IndexMarked indexes the cases marked (MarkPending) and not indexed
// since, and returns how many: CatchUp's first part, which a service
// alone on its store repeats while it runs, since a full disk can fail
// the entry of a case after its commit. With nothing marked it reads one
// key.
func (s *Service) IndexMarked(ctx context.Context) (int, error) {
	var marked []uint64
	err := s.store.View(ctx, func(tx datastore.ReadTx) error {
		marked = marked[:0]
		for after := uint64(0); ; {
			ids, err := tx.SearchPending(after, rebuildBatch)
			if err != nil || len(ids) == 0 {
				return err
			}
			marked, after = append(marked, ids...), ids[len(ids)-1]
		}
	})
	if err != nil {
		return 0, fmt.Errorf("search index: %w", err)
	}
	total := 0
	var failed []error
	for batch := range slices.Chunk(marked, rebuildBatch) {
		n, err := s.indexCases(ctx, batch)
		total += n
		var bad *unindexableError
		if err != nil && !errors.As(err, &bad) {
			return total, err
		}
		failed = append(failed, err)
	}
	return total, errors.Join(failed...)
}

// indexedUnder returns the master under whose index key the index is
// recorded complete, or "".
func (s *Service) indexedUnder(ctx context.Context) (string, error) {
	var under string
	err := s.store.View(ctx, func(tx datastore.ReadTx) error {
		var err error
		under, err = tx.SearchIndexedUnder()
		return err
	})
	if err != nil {
		return "", fmt.Errorf("search index: %w", err)
	}
	return under, nil
}
