// Package kv is the ordered key-value engine under childcase's stored
// layout (package boltstore): named buckets of byte keys kept in order,
// read and written in serialisable transactions. A bbolt file gives it
// (boltstore's own engine); so does an etcd cluster (package etcdstore),
// which keeps each bucket under a key prefix. The layout, its records,
// indexes and counters are written once, in boltstore, over these
// interfaces; an engine adds nothing to them and decides nothing about
// them.
//
// The interfaces are bbolt's own shape (a Get returns nil for a missing
// key, a cursor returns a nil key past either end) so that the bbolt
// engine costs no more than a method call. An engine that can fail on a
// read (a network) cannot say so there: it keeps its first such error,
// answers every later call as if the bucket were empty, and returns the
// error from Engine.View or Engine.Update in place of whatever the body
// returned, and an Update with a failed read never commits. A body
// therefore never acts on a failed read.
package kv

import (
	"context"
	"fmt"

	"github.com/childcase/childcase/internal/domain/model"
)

// Engine runs transactions.
type Engine interface {
	// View runs fn in a read-only transaction over one consistent
	// snapshot.
	View(ctx context.Context, fn func(Tx) error) error
	// Update runs fn in a read-write transaction and commits it durably
	// when fn returns nil; when fn returns an error nothing it wrote is
	// kept. An engine may run fn more than once (etcd does when another
	// writer committed first): each run starts from the committed state
	// and sees nothing of an earlier run. Update returns only after the
	// commit is durable. It returns an error wrapping ErrTooLarge when the
	// transaction exceeds what the engine takes in one commit; nothing of
	// it is kept then.
	Update(ctx context.Context, fn func(Tx) error) error
	// Close releases the engine.
	Close() error
}

// ErrTooLarge is what Engine.Update wraps when one transaction holds more
// operations or bytes than the engine commits at once (etcd's
// --max-txn-ops and --max-request-bytes). A group commit that meets it
// splits the group and tries again; a single body that meets it fails,
// and its error, model.ErrTooLarge, tells transport what to answer.
var ErrTooLarge = fmt.Errorf("transaction too large for the storage engine: %w", model.ErrTooLarge)

// Tx is one transaction.
type Tx interface {
	// Bucket returns the named top-level bucket, or nil when there is
	// none.
	Bucket(name []byte) Bucket
	// CreateBucketIfNotExists returns the named bucket, creating it when
	// there is none. Only a writable transaction may call it.
	CreateBucketIfNotExists(name []byte) (Bucket, error)
	// DeleteBucket removes a bucket and every key in it. Only a writable
	// transaction may call it.
	DeleteBucket(name []byte) error
	// Writable reports whether the transaction may write.
	Writable() bool
}

// Bucket is an ordered set of keys and their values.
type Bucket interface {
	// Get returns the value of key, or nil when there is none. The value
	// is valid until the transaction ends and must not be changed.
	Get(key []byte) []byte
	// Put stores value under key. Neither may be changed after the call
	// until the transaction ends; key must not be empty.
	Put(key, value []byte) error
	// Delete removes key; removing a missing key is not an error.
	Delete(key []byte) error
	// Cursor returns a cursor over the bucket's keys in byte order, seeing
	// the transaction's own writes.
	Cursor() Cursor
	// NextSequence returns the bucket's next sequence number, from 1, in a
	// writable transaction.
	NextSequence() (uint64, error)
	// Sequence returns the bucket's sequence number: the last one
	// NextSequence returned, or what SetSequence set; 0 for a new bucket.
	Sequence() uint64
	// SetSequence sets the bucket's sequence number, in a writable
	// transaction: a copy of a bucket (boltstore.CopyIntoEngine) carries
	// its sequence with its keys.
	SetSequence(v uint64) error
}

// Cursor walks a bucket's keys in byte order. Each method returns a key
// and its value, or nil and nil past either end. A cursor must not be
// used after a Put or Delete in its bucket, except through a new Seek,
// First or Last.
type Cursor interface {
	First() (key, value []byte)
	Last() (key, value []byte)
	Seek(seek []byte) (key, value []byte) // the first key at or after seek
	Next() (key, value []byte)
	Prev() (key, value []byte)
}

// Prefetcher is what a Tx of an engine whose reads are network round
// trips (etcd) may also be: Prefetch fetches several keys and key ranges
// in one round trip, at the transaction's snapshot, and keeps the answers
// in the transaction, so that the Gets and cursor moves over them that
// follow are answered from memory, each of which would otherwise cost a
// round trip. It is a hint and nothing more: it returns nothing, a read it
// did not cover (a key outside its ranges, a cursor moving past a range's
// limit) is made as it would have been without it, and the transaction's
// own writes still come before what it fetched. An engine that reads
// memory (bbolt) does not implement it; the stored layout calls it
// through Prefetch, which does nothing on such an engine.
type Prefetcher interface {
	Prefetch(ranges ...Range)
}

// Range is a bucket's keys in [From, To) (a nil To: to the bucket's end),
// at most Limit of them (0: all): the first ones, or the last ones when
// Reverse is set, which is what a cursor walking backwards from To reads.
// KeysOnly says that the walks it is fetched for read its keys only (a
// cursor told so by SetKeysOnly): an engine may then leave the values
// out, and answer from it those walks only, never a Get or another
// cursor.
type Range struct {
	Bucket   []byte
	From, To []byte
	Limit    int
	Reverse  bool
	KeysOnly bool
}

// Point is the Range of one key: a Get of key in bucket.
func Point(bucket, key []byte) Range {
	return Range{Bucket: bucket, From: key, To: append(key[:len(key):len(key)], 0), Limit: 1}
}

// Prefetch passes ranges to tx when it is a Prefetcher, and does nothing
// otherwise.
func Prefetch(tx Tx, ranges ...Range) {
	if p, ok := tx.(Prefetcher); ok && len(ranges) > 0 {
		p.Prefetch(ranges...)
	}
}

// Floorer is what a Cursor of an engine whose backward reads cost every
// key below them implements: etcd sorts a descending Range only after
// reading all of it, so a Last or a Prev with nothing to stop it reads
// the whole bucket below the cursor on the member, however few keys the
// walk then takes. SetFloor says that the walk needs no key below floor
// (the prefix it walks): the cursor then reads down to floor only, and
// may answer nil below it as past the bucket's first key. Keys at or
// above floor read as before. The stored layout calls it through
// SetFloor, which does nothing on an engine that reads memory.
type Floorer interface {
	SetFloor(floor []byte)
}

// SetFloor passes floor to c when it is a Floorer, and does nothing
// otherwise.
func SetFloor(c Cursor, floor []byte) {
	if f, ok := c.(Floorer); ok {
		f.SetFloor(floor)
	}
}

// Ceiler is what a Cursor of an engine whose forward reads cost every
// key after them implements: etcd counts every key of a Range up to its
// end, past its limit too, so a page read from a Seek to the bucket's end
// costs the member the rest of the bucket, however few keys the walk then
// takes. SetCeiling says that the walk needs no key at or above ceiling
// (the end of the prefix it walks): the cursor then reads up to ceiling
// only, and answers nil at or above it as past the bucket's last key (a
// Last lands on the last key below it). Keys below ceiling read as
// before. The stored layout calls it through SetCeiling, which does
// nothing on an engine that reads memory.
type Ceiler interface {
	SetCeiling(ceiling []byte)
}

// SetCeiling passes ceiling to c when it is a Ceiler, and does nothing
// otherwise; a nil ceiling (the end of a prefix of 0xff bytes only) sets
// none.
func SetCeiling(c Cursor, ceiling []byte) {
	if f, ok := c.(Ceiler); ok && ceiling != nil {
		f.SetCeiling(ceiling)
	}
}

// KeyWalker is what a Cursor of an engine that can read keys without
// their values implements: etcd reads a key's value from its backend
// file for every key of a Range it answers with values, and every key of
// a descending Range, past its limit too, as it reads all of them before
// it sorts them; keys alone it answers from its in-memory index.
// SetKeysOnly says that the walk uses the keys it lands on and never
// their values: the cursor may then answer any value of the snapshot as
// empty (the transaction's own writes keep theirs), and read what a
// KeysOnly Range fetched. The stored layout calls it through
// SetKeysOnly, which does nothing on an engine that reads memory.
type KeyWalker interface {
	SetKeysOnly()
}

// SetKeysOnly tells c that its walk reads keys only when it is a
// KeyWalker, and does nothing otherwise.
func SetKeysOnly(c Cursor) {
	if w, ok := c.(KeyWalker); ok {
		w.SetKeysOnly()
	}
}

// Speculator is what a Tx of an engine whose reads are network round
// trips (etcd) may also be. A group commit runs the bodies of several
// callers one after another in one transaction, each making its reads in
// turn, one round trip at a time; Speculate runs fns, those bodies, ahead
// of that, at once (a bounded number at a time), each on a throwaway
// transaction of its own at this transaction's snapshot whose writes are
// discarded and never committed, and keeps in this transaction what they
// read, so that the bodies run on it afterwards find their reads in
// memory. It is a hint, as Prefetch is: it returns nothing, what it keeps
// is the snapshot's answers (the transaction's own writes still come
// first), a fn that fails or panics there is ignored, and a read it did
// not make (a body that takes another path after the writes of the
// bodies before it) is made as it would have been without it. Each fn
// must therefore be safe to run more than once (as Engine.Update's bodies
// are) and at the same time as the others, sharing no state with them
// beyond what it reads through its transaction. An engine that reads
// memory (bbolt) does not implement it; the stored layout calls it
// through Speculate, which does nothing on such an engine.
type Speculator interface {
	Speculate(fns ...func(Tx) error)
}

// Speculate passes fns to tx when it is a Speculator, and does nothing
// otherwise.
func Speculate(tx Tx, fns ...func(Tx) error) {
	if s, ok := tx.(Speculator); ok && len(fns) > 0 {
		s.Speculate(fns...)
	}
}
