package boltstore

import (
	"encoding/json"

	"github.com/childcase/childcase/internal/domain/datastore"
)

// TxID returns the id of the bbolt transaction behind tx, so that a test
// can tell which calls shared a transaction.
func TxID(t datastore.Tx) int { return t.(*tx).btx.ID() }

// LeafFill returns the bytes in use and the bytes allocated by the leaf
// pages of a bucket.
func LeafFill(t datastore.ReadTx, bucket string) (inuse, alloc int) {
	st := t.(*tx).btx.Bucket([]byte(bucket)).Stats()
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
