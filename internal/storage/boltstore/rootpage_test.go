package boltstore_test

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/childcase/childcase/internal/domain/audit"
	"github.com/childcase/childcase/internal/domain/datastore"
	"github.com/childcase/childcase/internal/storage/boltstore"
)

// bucketsRoot returns the type ("leaf" or "branch") of the page at the
// root of a file's tree of buckets.
func bucketsRoot(t *testing.T, path string) string {
	t.Helper()
	// Opened for writing: a read-only file has no free list, which
	// Tx.Page reads.
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var typ string
	err = db.View(func(tx *bolt.Tx) error {
		info, err := tx.Page(int(tx.Cursor().Bucket().Root()))
		if err != nil || info == nil {
			return fmt.Errorf("the root of the buckets: %v", err)
		}
		typ = info.Type
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return typ
}

// splitBucketsRoot makes the tree of the buckets of a new store's file
// span a branch and leaves, as a file's first writes leave it: every
// bucket is kept inline in that tree while it is small, the tree splits
// when they together outgrow a page, and its leaves stay apart once the
// buckets have moved to pages of their own (bbolt merges leaves only
// after a delete from them).
func splitBucketsRoot(t *testing.T, path string) {
	t.Helper()
	keys := func(tx *bolt.Tx, fn func(b *bolt.Bucket, k []byte) error) error {
		for _, name := range boltstore.Buckets() {
			if name == "meta" {
				continue
			}
			for i := range 20 {
				if err := fn(tx.Bucket([]byte(name)), fmt.Appendf(nil, "zz-split-%02d", i)); err != nil {
					return err
				}
			}
		}
		return nil
	}
	rawUpdate(t, path, func(tx *bolt.Tx) error {
		return keys(tx, func(b *bolt.Bucket, k []byte) error { return b.Put(k, make([]byte, 8)) })
	})
	rawUpdate(t, path, func(tx *bolt.Tx) error {
		return keys(tx, func(b *bolt.Bucket, k []byte) error { return b.Delete(k) })
	})
	if got := bucketsRoot(t, path); got != "branch" {
		t.Fatalf("the setup left the root of the buckets a %s page, want a branch", got)
	}
}

// Every commit rewrites the root of the tree of buckets down to the leaf
// of each bucket it changed: an audited read's commit changes the audit
// log, the index and meta, and on a file whose root is a branch over two
// leaves that was three pages where one holds them all (2 of the 19 a
// lone GetCase wrote on the 10,000-case scale database). Open merges
// them.
func TestOpenMergesTheBucketsRoot(t *testing.T) {
	path := filepath.Join(t.TempDir(), "childcase.db")
	s := open(t, path)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	splitBucketsRoot(t, path)

	s = open(t, path)
	before := s.WriteStats()
	err := s.Batch(context.Background(), func(tx datastore.Tx) error {
		_, err := tx.AppendAudit(audit.Event{Action: "case.read", Actor: "worker", Case: "cases/HN-2026-00001", Outcome: audit.OutcomeOK})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	// In a file this small the log, the index and meta are all kept
	// inline in the root of the buckets: its one leaf, the free list and
	// the meta page (with the root a branch over two leaves: 5).
	if pages := s.WriteStats().Pages - before.Pages; pages > 3 {
		t.Errorf("an audit event's commit wrote %d pages, want at most 3", pages)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if got := bucketsRoot(t, path); got != "leaf" {
		t.Errorf("after Open the root of the buckets is a %s page, want one leaf", got)
	}
	open(t, path) // and the file opens as it did
}
