package boltstore

import (
	"bytes"
	"context"
	"encoding/json"

	bolt "go.etcd.io/bbolt"

	"github.com/childcase/childcase/internal/domain/datastore"
	"github.com/childcase/childcase/internal/domain/stats/tally"
)

// TxID returns the id of the bbolt transaction behind tx, so that a test
// can tell which calls shared a transaction.
func TxID(t datastore.Tx) int { return boltOf(t).ID() }

// boltOf returns the bbolt transaction behind t.
func boltOf(t datastore.ReadTx) *bolt.Tx { return t.(*tx).kt.(*boltTx).tx }

// LeafFill returns the bytes in use and the bytes allocated by the leaf
// pages of a bucket.
func LeafFill(t datastore.ReadTx, bucket string) (inuse, alloc int) {
	st := boltOf(t).Bucket([]byte(bucket)).Stats()
	return st.LeafInuse, st.LeafAlloc
}

// FillAsBefore makes s fill pages as the store did before appendFill (the
// audit log full, every other bucket split at half a page), for
// TestFillPercentShrinksTheFile's comparison.
func FillAsBefore(s *Store) { s.fill = map[string]float64{string(bucketAudit): 1} }

// AppendFill lists the buckets appendFill fills beyond half a page.
func AppendFill() []string {
	var names []string
	for name := range appendFill {
		names = append(names, name)
	}
	return names
}

// EncodeRecord and DecodeRecord are encode and decode, for the tests that
// read or damage stored records.
func EncodeRecord(v any) ([]byte, error)   { return encode(v) }
func DecodeRecord(raw []byte, v any) error { return decode(raw, v) }

// ProtoRecord is the first byte of a record in the encoding of schema
// version 5.
const ProtoRecord = protoRecord

// EncodeJSONRecord encodes v as schema version 4 did, for the comparison
// of sizes.
func EncodeJSONRecord(v any) ([]byte, error) {
	b, err := json.Marshal(v)
	return append([]byte{jsonRecord}, b...), err
}

// RawKeys is a bucket or index of the layout in a raw bbolt transaction
// (an index lives in the bucket index from schema version 6), for the
// tests that damage one.
func RawKeys(btx *bolt.Tx, name string) interface {
	Get(k []byte) []byte
	Put(k, v []byte) error
	Delete(k []byte) error
} {
	return newTx(btx).keys([]byte(name))
}

// IndexKey is the key under which an index's entry k is stored in the
// bucket index.
func IndexKey(name string, k []byte) []byte {
	tag, ok := indexTag([]byte(name))
	if !ok {
		panic("no index " + name)
	}
	return append([]byte{tag}, k...)
}

// SplitIndexes undoes moveIndexes: it gives each index of the bucket
// index a bucket of its own again, as before schema version 6, for the
// tests that make a file of an older version out of a new one.
func SplitIndexes(btx *bolt.Tx) error {
	ix := btx.Bucket(bucketIndex)
	for _, it := range indexTags {
		if bytes.Equal(it.name, bucketAuditByTime) {
			continue // never a bucket of its own: a file of before version 6 has no such index
		}
		b, err := btx.CreateBucket(it.name)
		if err != nil {
			return err
		}
		c := ix.Cursor()
		for k, v := c.Seek([]byte{it.tag}); k != nil && k[0] == it.tag; k, v = c.Next() {
			if err := b.Put(bytes.Clone(k[1:]), bytes.Clone(v)); err != nil {
				return err
			}
		}
	}
	return btx.DeleteBucket(bucketIndex)
}

// StatKey is statKey, for the tests that damage a statistics counter.
func StatKey(k tally.Key) []byte { return statKey(k) }

// ParseStatKey is parseStatKey.
func ParseStatKey(b []byte) (tally.Key, error) { return parseStatKey(b) }

// PutSearchEntryAlone writes a case's search entry without its postings,
// and PutSearchPostings writes postings (SearchPostingKey) given in
// ascending order: BenchmarkMillion's bulk build writes the postings of a
// million cases sorted, where PutSearchEntry's random inserts would
// rewrite most of the token index at every commit. Together they store
// what PutSearchEntry stores; check verifies one against the other.
func PutSearchEntryAlone(t datastore.Tx, e datastore.SearchEntry) error {
	raw, err := encode(e)
	if err != nil {
		return err
	}
	return t.(*tx).bucket(bucketSearchByCase).Put(u64(e.CaseID), raw)
}

func PutSearchPostings(t datastore.Tx, sorted [][]byte) error {
	b := t.(*tx).bucket(bucketSearchTokens).(boltBucket)
	b.FillPercent = 0.7 // about what random inserts leave; see BenchmarkMillion
	for _, k := range sorted {
		if err := b.Put(k, nil); err != nil {
			return err
		}
	}
	return nil
}

// SearchPostingKey is the key of a posting: the token, then the case id.
func SearchPostingKey(token []byte, caseID uint64) []byte { return searchPostingKey(token, caseID) }

// Buckets lists the buckets of the current layout.
func Buckets() []string {
	var out []string
	for _, name := range allBuckets {
		out = append(out, string(name))
	}
	return out
}

// CheckInChunks is Check with the reports and the cases each read by n
// parts side by side, whatever the machine's cores.
func CheckInChunks(ctx context.Context, path string, n int) (CheckResult, error) {
	return CheckWith(ctx, path, CheckOptions{chunks: n})
}

// BucketRoot returns the page id of a bucket's root (0 for an inline
// bucket): bbolt copies every page a commit changes to a new id, up to
// the root, so a root that keeps its id had no page of its bucket
// written.
func BucketRoot(t datastore.ReadTx, bucket string) uint64 {
	return uint64(boltOf(t).Bucket([]byte(bucket)).Root())
}

// SetLockHooks runs before and after (either may be nil) in Open just
// before the file is opened and locked, and just after, until the test
// ends: what another process's start does meanwhile.
func SetLockHooks(t interface{ Cleanup(func()) }, before, after func(path string)) {
	lockHooks.before, lockHooks.after = before, after
	t.Cleanup(func() { lockHooks.before, lockHooks.after = nil, nil })
}

// CheckOnWorkers is Check with its parts run by at most workers
// goroutines, calling onPart as each part begins with how many are
// running then.
func CheckOnWorkers(ctx context.Context, path string, workers int, onPart func(running int)) (CheckResult, error) {
	return CheckWith(ctx, path, CheckOptions{workers: workers, onPart: onPart})
}
