package boltstore

import (
	"bytes"
	"fmt"
	"log/slog"

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
	if split, err := bucketsRootSplit(tx); err != nil || !split {
		return err
	}
	var names [][]byte
	err := tx.ForEach(func(name []byte, _ *bolt.Bucket) error {
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

// bucketsRootSplit reports whether the root of the tree of buckets is a
// branch page.
func bucketsRootSplit(tx *bolt.Tx) (bool, error) {
	info, err := tx.Page(int(tx.Cursor().Bucket().Root()))
	if err != nil {
		return false, fmt.Errorf("the root of the buckets: %w", err)
	}
	return info != nil && info.Type == "branch", nil
}

// mergeRootTries bounds the merges Open tries: bbolt rebalances a
// bucket's changed pages in the order of a Go map, and whether two leaves
// merge can depend on which it looks at first, so one try leaves the
// root split now and then (about one start in twenty, on the test's
// file); each try after the first is another commit at start.
const mergeRootTries = 3

// mergeRoot runs mergeBucketsRoot, in transactions of its own, until the
// root is one leaf or mergeRootTries have been made. What is at stake is
// two pages of each later commit, so a file that cannot take the merge
// (a full disk) still starts: the failure is logged, not returned.
func mergeRoot(db *bolt.DB, log *slog.Logger, path string) {
	for range mergeRootTries {
		var split bool
		err := view(db, func(tx *bolt.Tx) error {
			var err error
			split, err = bucketsRootSplit(tx)
			return err
		})
		if err == nil && split {
			err = update(db, mergeBucketsRoot)
		}
		if err != nil && log != nil {
			log.Warn("the root of the buckets was not merged: each commit writes up to two pages more", "db", path, "err", err)
		}
		if err != nil || !split {
			return
		}
	}
}
