package boltstore

import "github.com/childcase/childcase/internal/storage"

// TxID returns the id of the bbolt transaction behind tx, so that a test
// can tell which calls shared a transaction.
func TxID(t storage.Tx) int { return t.(*tx).btx.ID() }

// LeafFill returns the bytes in use and the bytes allocated by the leaf
// pages of a bucket.
func LeafFill(t storage.ReadTx, bucket string) (inuse, alloc int) {
	st := t.(*tx).btx.Bucket([]byte(bucket)).Stats()
	return st.LeafInuse, st.LeafAlloc
}
