package boltstore

import (
	"bytes"
	"fmt"
	"slices"

	bolt "go.etcd.io/bbolt"

	"github.com/childcase/childcase/internal/storage/kv"
	"github.com/childcase/childcase/internal/storage/storekey"
)

// From schema version 6 the secondary indexes whose entries are written
// with a report, a case or an audit event share one bucket, index, each
// index's keys behind a one-byte tag. Each bucket a commit changes costs
// at least its own pages (a leaf, and the branch pages above it once it
// has grown); a report with its new case changed ten index buckets beside
// its records, and in one bucket the indexes share the branch pages above
// their leaves (BenchmarkWrite's pages/op: see the README's Performance).
// Each index keeps its own name everywhere else: the code, Check's
// problems and the migration speak of reports_by_taker, not of a tag.
//
// The tags are stored: never renumber or reuse one.
var indexTags = []struct {
	name []byte
	tag  byte
}{
	{bucketReportsByCallType, 1},
	{bucketReportsByTaker, 2},
	{bucketReportScope, 3},
	{bucketCasesByUnit, 4},
	{bucketCasesByStatus, 5},
	{bucketCaseScope, 6},
	{bucketCaseQueue, 7},
	{bucketTimers, 8},
	{bucketTokensByUser, 9},
	{bucketAuditByCase, 10},
	{bucketAuditByActor, 11},
	{bucketAuditByTime, 12}, // never a bucket of its own
	{bucketUsersByUnit, 13}, // never a bucket of its own
}

// indexTag returns the tag of an index kept in the index bucket.
func indexTag(name []byte) (byte, bool) {
	for _, it := range indexTags {
		if bytes.Equal(it.name, name) {
			return it.tag, true
		}
	}
	return 0, false
}

// indexOfTag returns the name of the index a tag stands for.
func indexOfTag(tag byte) ([]byte, bool) {
	for _, it := range indexTags {
		if it.tag == tag {
			return it.name, true
		}
	}
	return nil, false
}

// keyspace is the keys of one bucket of the layout, or those of one index
// inside the index bucket (behind its tag, which it adds and strips).
type keyspace struct {
	b   kv.Bucket
	tag []byte // nil for a bucket of its own
}

// keys returns the keyspace of a bucket or index of the layout, or nil
// when the file has none. A file of a version before 6, opened without
// being migrated (a backup read or checked), keeps each index in a
// bucket of its own: that bucket is the index then.
func (t *tx) keys(name []byte) *keyspace {
	if tag, ok := indexTag(name); ok {
		if b := t.bucket(bucketIndex); b != nil {
			return &keyspace{b: b, tag: []byte{tag}}
		}
	}
	if b := t.bucket(name); b != nil {
		return &keyspace{b: b}
	}
	return nil
}

func (ks *keyspace) key(k []byte) []byte {
	if ks.tag == nil {
		return k
	}
	return append(append(make([]byte, 0, len(ks.tag)+len(k)), ks.tag...), k...)
}

func (ks *keyspace) Get(k []byte) []byte { return ks.b.Get(ks.key(k)) }

func (ks *keyspace) Put(k, v []byte) error { return ks.b.Put(ks.key(k), v) }

func (ks *keyspace) Delete(k []byte) error { return ks.b.Delete(ks.key(k)) }

// nested reports whether k holds a nested bucket, which no bucket or
// index of the layout has (and only a bbolt file can).
func (ks *keyspace) nested(k []byte) bool {
	b, ok := ks.b.(boltBucket)
	return ok && b.Bucket.Bucket(ks.key(k)) != nil
}

// Cursor walks the keyspace's keys only, without the tag.
func (ks *keyspace) Cursor() *keyCursor {
	c := ks.b.Cursor()
	if ks.tag != nil {
		// Nothing below or above the keyspace is ever its.
		kv.SetFloor(c, ks.tag)
		kv.SetCeiling(c, prefixEnd(ks.tag))
	}
	return &keyCursor{c: c, tag: ks.tag}
}

// keyCursor is a cursor over one keyspace. Past either end of the
// keyspace it returns nil, as a kv cursor does past the ends of its
// bucket.
type keyCursor struct {
	c   kv.Cursor
	tag []byte
	buf []byte // Seek's key, reused
}

var _ storekey.Cursor = (*keyCursor)(nil)

func (c *keyCursor) strip(k, v []byte) ([]byte, []byte) {
	if k == nil || !bytes.HasPrefix(k, c.tag) {
		return nil, nil
	}
	return k[len(c.tag):], v
}

func (c *keyCursor) First() ([]byte, []byte) {
	if c.tag == nil {
		return c.c.First()
	}
	return c.strip(c.c.Seek(c.tag))
}

func (c *keyCursor) Last() ([]byte, []byte) {
	if c.tag == nil {
		return c.c.Last()
	}
	if k, _ := c.c.Seek(storekey.PrefixEnd(c.tag)); k == nil {
		return c.strip(c.c.Last())
	}
	return c.strip(c.c.Prev())
}

func (c *keyCursor) Seek(seek []byte) ([]byte, []byte) {
	if c.tag == nil {
		return c.c.Seek(seek)
	}
	c.buf = append(append(c.buf[:0], c.tag...), seek...)
	return c.strip(c.c.Seek(c.buf))
}

func (c *keyCursor) Next() ([]byte, []byte) { return c.strip(c.c.Next()) }

func (c *keyCursor) Prev() ([]byte, []byte) { return c.strip(c.c.Prev()) }

// SetFloor implements kv.Floorer over the keyspace's keys.
func (c *keyCursor) SetFloor(floor []byte) {
	kv.SetFloor(c.c, append(slices.Clip(c.tag), floor...))
}

// SetCeiling implements kv.Ceiler over the keyspace's keys.
func (c *keyCursor) SetCeiling(ceiling []byte) {
	kv.SetCeiling(c.c, append(slices.Clip(c.tag), ceiling...))
}

// moveIndexes (version 5 to 6) moves the entries of each index of
// indexTags from its own bucket into the index bucket, behind its tag,
// and deletes the index's bucket, in the one transaction of the
// migration: a crash leaves the file at version 5 as it was. The entries
// are put in key order (the tags ascending, each index in its own order),
// so they are appended to the new bucket's pages rather than splitting
// them.
//
// A file that already has the index bucket has the layout of version 6
// for its indexes (its version was lowered, as tests of older versions
// do), and an index without a bucket of its own has nothing to move.
func moveIndexes(btx *bolt.Tx) error {
	had := btx.Bucket(bucketIndex) != nil
	ix, err := btx.CreateBucketIfNotExists(bucketIndex)
	if err != nil {
		return fmt.Errorf("create bucket %s: %w", bucketIndex, err)
	}
	ix.FillPercent = 0.9
	for _, it := range indexTags {
		old := btx.Bucket(it.name)
		if old == nil && (had || neverOwnBucket(it.name)) {
			continue
		}
		if old == nil {
			return fmt.Errorf("bucket %s is missing", it.name)
		}
		err := old.ForEach(func(k, v []byte) error {
			// An entry put earlier in this transaction (by the
			// migration to version 4) reads as nil, as a nested bucket
			// does.
			if v == nil && old.Bucket(k) != nil {
				return fmt.Errorf("%s %x: a nested bucket the layout does not have", it.name, k)
			}
			return ix.Put(append([]byte{it.tag}, k...), bytes.Clone(v))
		})
		if err != nil {
			return err
		}
		if err := btx.DeleteBucket(it.name); err != nil {
			return fmt.Errorf("delete bucket %s: %w", it.name, err)
		}
	}
	return nil
}

// neverOwnBucket reports whether an index of indexTags came after
// version 6 and so was only ever keys of the index bucket.
func neverOwnBucket(name []byte) bool {
	return bytes.Equal(name, bucketAuditByTime) || bytes.Equal(name, bucketUsersByUnit)
}
