package boltstore

import (
	"context"

	bolt "go.etcd.io/bbolt"

	"github.com/childcase/childcase/internal/storage/kv"
)

// boltTx is a bbolt transaction as a kv.Tx: the layout's code runs over it
// on a bbolt file. It costs a method call: a bucket is a *bolt.Bucket
// behind a one-pointer struct, which an interface holds without
// allocating, and its cursor is bbolt's own.
type boltTx struct {
	tx *bolt.Tx
	// fill is appendFill, or what a test compares it with (Store.fill).
	fill map[string]float64
	// open, when set, keeps the buckets a read transaction has opened:
	// bbolt allocates a Bucket each time a read transaction opens one,
	// which Check, reading every record, would pay per record.
	open map[string]kv.Bucket
}

var _ kv.Tx = (*boltTx)(nil)

// boltBucket is a bbolt bucket as a kv.Bucket.
type boltBucket struct{ *bolt.Bucket }

var _ kv.Bucket = boltBucket{}

func (b boltBucket) Cursor() kv.Cursor { return b.Bucket.Cursor() }

// bucketOf returns b as a kv.Bucket: nil (not a nil *bolt.Bucket behind
// an interface) when there is no bucket.
func bucketOf(b *bolt.Bucket) kv.Bucket {
	if b == nil {
		return nil
	}
	return boltBucket{b}
}

// newTx returns the layout's transaction over a bbolt one, fill percents
// from appendFill.
func newTx(btx *bolt.Tx) *tx { return &tx{kt: &boltTx{tx: btx}} }

// newReadTx is newTx keeping the buckets it opens (see boltTx.open), for
// a read transaction that opens buckets per record (Check).
func newReadTx(btx *bolt.Tx) *tx {
	return &tx{kt: &boltTx{tx: btx, open: map[string]kv.Bucket{}}}
}

// Bucket returns a bucket of the layout. In a write transaction, a bucket
// whose keys only grow gets its fill percent from appendFill.
func (t *boltTx) Bucket(name []byte) kv.Bucket {
	if b, ok := t.open[string(name)]; ok {
		return b
	}
	b := t.tx.Bucket(name)
	if t.open != nil && !t.tx.Writable() {
		t.open[string(name)] = bucketOf(b)
	}
	if b != nil && t.tx.Writable() {
		fill := t.fill
		if fill == nil {
			fill = appendFill
		}
		if f, ok := fill[string(name)]; ok {
			b.FillPercent = f
		}
	}
	return bucketOf(b)
}

func (t *boltTx) CreateBucketIfNotExists(name []byte) (kv.Bucket, error) {
	b, err := t.tx.CreateBucketIfNotExists(name)
	if err != nil {
		return nil, err
	}
	return boltBucket{b}, nil
}

func (t *boltTx) DeleteBucket(name []byte) error { return t.tx.DeleteBucket(name) }

func (t *boltTx) Writable() bool { return t.tx.Writable() }

// ended reports whether the transaction has been committed or rolled
// back (see tx.ended).
func (t *boltTx) ended() bool { return t.tx.DB() == nil }

// boltEngine is a bbolt file as a kv.Engine (OpenBoltEngine).
type boltEngine struct{ db *bolt.DB }

// OpenBoltEngine opens or creates the bbolt file at path as a kv.Engine,
// inspected first as Open does. It writes nothing: OpenEngine gives a new
// file its layout. Only NoSync, Timeout and MaxSize of opts apply.
func OpenBoltEngine(path string, opts Options) (kv.Engine, error) {
	db, err := openBolt(path, opts)
	if err != nil {
		return nil, err
	}
	return &boltEngine{db: db}, nil
}

func (e *boltEngine) View(ctx context.Context, fn func(kv.Tx) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return view(e.db, func(btx *bolt.Tx) error { return fn(&boltTx{tx: btx}) })
}

func (e *boltEngine) Update(ctx context.Context, fn func(kv.Tx) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return wrapFull(update(e.db, func(btx *bolt.Tx) error { return fn(&boltTx{tx: btx}) }))
}

func (e *boltEngine) Close() error { return e.db.Close() }
