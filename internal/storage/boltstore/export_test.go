package boltstore

import "github.com/childcase/childcase/internal/storage"

// TxID returns the id of the bbolt transaction behind tx, so that a test
// can tell which calls shared a transaction.
func TxID(t storage.Tx) int { return t.(*tx).btx.ID() }
