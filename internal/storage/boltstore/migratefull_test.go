package boltstore_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	bolt "go.etcd.io/bbolt"

	"github.com/childcase/childcase/internal/storage/boltstore"
)

// A migration is one transaction, opened under the whole cap: on a file
// with no room for it, Open refuses, saying that the migration needs
// room and what to do, and the file stays at its version, whole, to be
// migrated by the next open with room. (A refusal that named only "the
// database is full" left the operator to guess that the start had been
// an upgrade, which a full database otherwise survives.)
func TestOpenWithoutRoomForTheMigrationSaysSo(t *testing.T) {
	path := filepath.Join(t.TempDir(), "childcase.db")
	s, err := boltstore.Open(path, boltstore.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	fillWorkload(t, s, 200)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	// The file as version 9 left it, as far as its migration goes (the
	// migration to 10 counts every statistics cell again from the
	// records, in a bucket of its own, beside the old one until the
	// commit), with no free page, and a cap below its size: every page
	// the migration needs must grow the file, and may not.
	setVersion(t, path, 9)
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	_, err = boltstore.Open(path, boltstore.Options{NoSync: true, MaxSize: fi.Size() / 2})
	if err == nil {
		t.Fatal("the migration fitted in the file: this test shows nothing")
	}
	for _, want := range []string{"the database is full", "migrating it from schema version 9", "free space"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("the refusal does not say %q: %v", want, err)
		}
	}
	res, err := boltstore.Check(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	if res.SchemaVersion != 9 {
		t.Errorf("after the refused migration the file has schema version %d, want 9", res.SchemaVersion)
	}
	s, err = boltstore.Open(path, boltstore.Options{NoSync: true})
	if err != nil {
		t.Fatalf("the open with room: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if res, err := boltstore.Check(context.Background(), path); err != nil || !res.OK() || res.SchemaVersion != boltstore.SchemaVersion {
		t.Errorf("after the open with room: %v, version %d, problems %v", err, res.SchemaVersion, res.Problems)
	}
}

// setVersion writes version as the file's schema version, and compacts
// the file, so that it has no free pages left for a migration to use.
func setVersion(t *testing.T, path string, version uint32) {
	t.Helper()
	src, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	err = src.Update(func(tx *bolt.Tx) error {
		return tx.Bucket([]byte("meta")).Put([]byte("schema_version"), u32(version))
	})
	if err != nil {
		t.Fatal(err)
	}
	dst, err := bolt.Open(path+".compact", 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	err = bolt.Compact(dst, src, 0)
	if err := errors.Join(err, dst.Close(), src.Close(), os.Rename(path+".compact", path)); err != nil {
		t.Fatal(err)
	}
}
