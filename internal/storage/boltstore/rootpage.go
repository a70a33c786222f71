package boltstore

import (
	"bytes"
	"fmt"

	bolt "go.etcd.io/bbolt"
)

// mergeBucketsRoot makes the tree of the buckets one page again when it
// has split. Every commit copies the pages of that tree down to the leaf
// holding each bucket it changed (and meta, which bbolt keeps inline
// there), so a root that is a branch over two leaves costs a commit up to
// three pages where one leaf holds every bucket's entry: two of the 19
// pages of a lone audited read on the 10,000-case scale database
// (TestOpenMergesTheBucketsRoot). A file splits it early in its life,
// while its buckets are small enough to be kept inline in that tree, and
// bbolt merges leaves only after a delete from them, which the layout
// never makes there. So Open deletes from each leaf: it creates and
// deletes an empty bucket beside every bucket's name, and the commit
// merges the leaves that fit together. The buckets and their contents
// are untouched.
func mergeBucketsRoot(tx *bolt.Tx) error {
	info, err := tx.Page(int(tx.Cursor().Bucket().Root()))
	if err != nil {
		return fmt.Errorf("the root of the buckets: %w", err)
	}
	if info == nil || info.Type != "branch" {
		return nil
	}
	var names [][]byte
	err = tx.ForEach(func(name []byte, _ *bolt.Bucket) error {
		names = append(names, bytes.Clone(name))
		return nil
	})
	if err != nil {
		return err
	}
	for _, name := range names {
		// The name followed by 0x00 sorts right after it, on its leaf.
		beside := append(name, 0)
		if tx.Bucket(beside) != nil {
			continue
		}
		if _, err := tx.CreateBucket(beside); err != nil {
			return fmt.Errorf("merge the root of the buckets: %w", err)
		}
		if err := tx.DeleteBucket(beside); err != nil {
			return fmt.Errorf("merge the root of the buckets: %w", err)
		}
	}
	return nil
}
