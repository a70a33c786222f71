package boltstore

import (
	"bytes"
	"fmt"

	bolt "go.etcd.io/bbolt"

	"github.com/childcase/childcase/internal/domain/model"
)

// migrate brings a file of an older schema version up to SchemaVersion, in
// the transaction that opens it: either the whole migration is committed
// with the new version, or nothing is.
func migrate(tx *bolt.Tx, version uint32) error {
	if version >= SchemaVersion {
		return nil
	}
	if version < 2 {
		if err := migrateIdempotencyIndex(tx); err != nil {
			return fmt.Errorf("migrate to schema version 2: %w", err)
		}
	}
	return tx.Bucket(bucketMeta).Put(keySchemaVersion, u32(SchemaVersion))
}

// migrateIdempotencyIndex (version 1 to 2) adds the index of idempotency
// records by CreateTime, which the retention sweep reads.
func migrateIdempotencyIndex(tx *bolt.Tx) error {
	idx, err := tx.CreateBucketIfNotExists(bucketIdempotencyByTime)
	if err != nil {
		return fmt.Errorf("create bucket %s: %w", bucketIdempotencyByTime, err)
	}
	recs := tx.Bucket(bucketIdempotency)
	if recs == nil {
		return fmt.Errorf("bucket %s is missing", bucketIdempotency)
	}
	return recs.ForEach(func(k, v []byte) error {
		r, err := decodeAs[model.IdempotencyRecord](v)
		if err != nil {
			return fmt.Errorf("idempotency record %q: %w", k, err)
		}
		return idx.Put(idempotencyTimeKey(r.CreateTime, string(k)), nil)
	})
}

// bucketVersion is the schema version that added a bucket.
func bucketVersion(name []byte) uint32 {
	if bytes.Equal(name, bucketIdempotencyByTime) {
		return 2
	}
	return 1
}
