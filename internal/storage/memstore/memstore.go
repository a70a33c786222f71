// Package memstore implements datastore.Store in memory, for tests that need
// a store but not a database file: domain tests run against it instead of
// bbolt. It keeps the contract storagetest pins, with boltstore's
// transactional semantics: a View reads one snapshot, an Update is all or
// nothing, Batch may run its function more than once. It never returns
// model.ErrFull: memory is its only limit. It is not for production:
// nothing is durable, and lists sort their candidates on every
// call, so their cost grows with the store rather than with the page.
//
// Design: the committed state is a set of maps that are never written
// after their transaction commits. A transaction works on a shallow copy
// of the state and clones a map the first time it writes to it (copy on
// write), so a View keeps reading its snapshot while later writes commit,
// and a failed Update is rolled back by dropping its copy. Write
// transactions run one at a time. Records are stored encoded (JSON, the
// audit package's encoding for audit events) and decoded on every read, so
// a caller can neither change stored state through a value it passed in
// or got back, nor see fields a database would not keep.
//
// Key encodings, cursors, paging and the audit chain are storekey's,
// shared with boltstore, so both stores give the same answers.
package memstore

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/childcase/childcase/internal/domain/datastore"
	"github.com/childcase/childcase/internal/storage/storekey"
)

// ErrClosed is returned by every call on a closed store.
var ErrClosed = errors.New("memstore: the store is closed")

// Store is a datastore.Store held in memory. The zero value is not usable;
// call New.
type Store struct {
	// writeMu serialises write transactions: each one starts from the
	// state the previous one committed.
	writeMu sync.Mutex

	mu        sync.Mutex // guards committed and closed
	committed *state
	closed    bool
}

var _ datastore.Store = (*Store)(nil)

// New returns an empty store.
func New() *Store { return &Store{committed: &state{}} }

// snapshot returns the committed state, which nothing writes any more.
func (s *Store) snapshot() (*state, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, ErrClosed
	}
	return s.committed, nil
}

// View implements datastore.Store. Its transaction works on a copy, as a
// write transaction does, so that a caller writing through it (by a type
// assertion) cannot reach the committed state.
func (s *Store) View(ctx context.Context, fn func(datastore.ReadTx) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	st, err := s.snapshot()
	if err != nil {
		return err
	}
	t := &tx{st: st.fork()}
	defer t.end()
	return fn(t)
}

// Update implements datastore.Store. It runs fn twice, as Batch does: the
// contract lets a store run an Update body more than once too (boltstore
// and etcdstore group-commit Updates, and etcd runs a body again when
// another writer committed first), so the tests that use this store show
// whether an Update body is safe to re-run.
func (s *Store) Update(ctx context.Context, fn func(datastore.Tx) error) error {
	return s.rehearseAndWrite(ctx, fn)
}

// Batch implements datastore.Store. It runs fn twice: first in a
// transaction that is thrown away, then in the one that commits. The
// contract lets a store run fn more than once (boltstore does when a
// shared transaction fails), and the tests that use this store should
// show whether a Batch body is safe to re-run rather than leave it to a
// rare failure in production.
func (s *Store) Batch(ctx context.Context, fn func(datastore.Tx) error) error {
	return s.rehearseAndWrite(ctx, fn)
}

// IndexAuditEvents implements datastore.Store: ListAuditEvents reads the
// events themselves, so there are no entries to write.
func (s *Store) IndexAuditEvents(context.Context) error { return nil }

// rehearseAndWrite runs fn in a transaction that is thrown away, then in
// one that commits if fn returns nil.
func (s *Store) rehearseAndWrite(ctx context.Context, fn func(datastore.Tx) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	st, err := s.snapshot()
	if err != nil {
		return err
	}
	rehearsal := &tx{st: st.fork()}
	_ = fn(rehearsal) // its writes and its error are dropped; the next run decides
	rehearsal.end()
	return s.write(fn)
}

// write runs fn in a write transaction and commits its state if fn
// returns nil. The caller holds writeMu.
func (s *Store) write(fn func(datastore.Tx) error) error {
	st, err := s.snapshot()
	if err != nil {
		return err
	}
	t := &tx{st: st.fork()}
	err = fn(t)
	written := t.st
	t.end()
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ErrClosed
	}
	s.committed = written
	return nil
}

// Close implements datastore.Store. Closing twice is not an error.
func (s *Store) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = true
	return nil
}

// ---------------------------------------------------------------------------
// State

// state is everything a store holds. Its tables are copied on write, its
// other fields are values.
type state struct {
	reports     table[string, reportEntry] // report key (16 bytes) -> JSON
	cases       table[uint64, caseEntry]
	caseNumbers table[string, uint64] // number -> id
	lastCaseID  uint64
	sequences   table[int, uint64] // year -> last case sequence
	idempotency table[string, idempotencyEntry]
	users       table[string, []byte]
	tokens      table[string, tokenEntry]
	policeUnits table[string, []byte]
	dataKeys    table[string, []byte]
	audit       table[uint64, auditEntry]
	auditSeq    uint64
	auditHash   []byte                  // replaced, never written in place
	caseEvents  table[uint64, [][]byte] // case id -> JSON events in order of seq from 1
	timers      table[string, struct{}] // storekey.TimerKey
	outbox      table[uint64, []byte]
	outboxSeq   uint64
	outboxTail  uint64 // the oldest seq kept once some were pruned; 0: none pruned
	cursors     table[string, uint64]
	// searchEntries holds each case's search index entry (JSON);
	// postings the ids of the cases under each token, sorted. A posting
	// list is replaced, never changed in place, since snapshots share it.
	searchEntries table[uint64, []byte]
	postings      table[string, []uint64]
	// searchPending holds the cases marked to index (MarkSearchPending);
	// indexedUnder the master id SetSearchIndexedUnder recorded.
	searchPending table[uint64, struct{}]
	indexedUnder  string
}

// idempotencyEntry is a stored idempotency record and its CreateTime, by
// which DeleteIdempotencyBefore finds it without decoding.
type idempotencyEntry struct {
	raw []byte
	at  time.Time
}

// auditEntry is an event as audit.Encode stored it, and the fields its
// lists select on.
type auditEntry struct {
	raw      []byte
	caseName string
	actor    string
	at       time.Time
}

// fork returns a copy of st whose tables are shared with st until written.
func (st *state) fork() *state {
	c := *st
	c.reports.owned = false
	c.cases.owned = false
	c.caseNumbers.owned = false
	c.sequences.owned = false
	c.idempotency.owned = false
	c.users.owned = false
	c.tokens.owned = false
	c.policeUnits.owned = false
	c.dataKeys.owned = false
	c.audit.owned = false
	c.caseEvents.owned = false
	c.timers.owned = false
	c.outbox.owned = false
	c.cursors.owned = false
	c.searchEntries.owned = false
	c.postings.owned = false
	c.searchPending.owned = false
	return &c
}

// table is a map copied on its first write in a transaction.
type table[K comparable, V any] struct {
	m     map[K]V
	owned bool // m belongs to this transaction alone and may be written
}

func (t *table[K, V]) get(k K) (V, bool) {
	v, ok := t.m[k]
	return v, ok
}

func (t *table[K, V]) has(k K) bool {
	_, ok := t.m[k]
	return ok
}

func (t *table[K, V]) put(k K, v V) {
	t.own()
	t.m[k] = v
}

func (t *table[K, V]) del(k K) {
	t.own()
	delete(t.m, k)
}

func (t *table[K, V]) own() {
	if t.owned {
		return
	}
	if t.m = maps.Clone(t.m); t.m == nil {
		t.m = make(map[K]V)
	}
	t.owned = true
}

// ---------------------------------------------------------------------------
// Encoding

func encode(v any) ([]byte, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("encode %T: %w", v, err)
	}
	return b, nil
}

func decodeAs[T any](raw []byte) (T, error) {
	var v T
	if err := json.Unmarshal(raw, &v); err != nil {
		return v, fmt.Errorf("decode %T: %w", v, err)
	}
	return v, nil
}

// ---------------------------------------------------------------------------
// Ordered keys

// sortedCursor is a storekey.Cursor over keys sorted in a slice, so the
// stores share one paging walk.
type sortedCursor struct {
	keys, values [][]byte // values is nil or parallel to keys
	pos          int
}

// newCursor sorts keys (and values with them) and returns a cursor over
// them.
func newCursor(keys, values [][]byte) *sortedCursor {
	idx := make([]int, len(keys))
	for i := range idx {
		idx[i] = i
	}
	slices.SortFunc(idx, func(a, b int) int { return bytes.Compare(keys[a], keys[b]) })
	c := &sortedCursor{keys: make([][]byte, len(keys))}
	if values != nil {
		c.values = make([][]byte, len(keys))
	}
	for i, j := range idx {
		c.keys[i] = keys[j]
		if values != nil {
			c.values[i] = values[j]
		}
	}
	return c
}

// openSorted sorts keys and returns a function that opens a new cursor
// over them each time it is called, as storekey.ScanMerged needs one per
// prefix.
func openSorted(keys [][]byte) func() storekey.Cursor {
	slices.SortFunc(keys, bytes.Compare)
	return func() storekey.Cursor { return &sortedCursor{keys: keys} }
}

func (c *sortedCursor) at() ([]byte, []byte) {
	if c.pos < 0 || c.pos >= len(c.keys) {
		return nil, nil
	}
	if c.values == nil {
		return c.keys[c.pos], nil
	}
	return c.keys[c.pos], c.values[c.pos]
}

func (c *sortedCursor) First() ([]byte, []byte) { c.pos = 0; return c.at() }
func (c *sortedCursor) Last() ([]byte, []byte)  { c.pos = len(c.keys) - 1; return c.at() }

func (c *sortedCursor) Seek(seek []byte) ([]byte, []byte) {
	c.pos, _ = slices.BinarySearchFunc(c.keys, seek, bytes.Compare)
	return c.at()
}

func (c *sortedCursor) Next() ([]byte, []byte) {
	if c.pos < len(c.keys) {
		c.pos++
	}
	return c.at()
}

func (c *sortedCursor) Prev() ([]byte, []byte) {
	if c.pos >= 0 {
		c.pos--
	}
	return c.at()
}
