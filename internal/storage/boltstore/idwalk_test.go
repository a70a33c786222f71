package boltstore

import (
	"path/filepath"
	"testing"

	bolt "go.etcd.io/bbolt"
)

// An idWalk steps down a token's postings or a scope's entries, one Seek a
// step, hundreds of steps in every candidates' search a CreateReport makes:
// it finds the right ids and allocates nothing for them (a key made at
// every step was a fifth of the objects a 64-client CreateReport
// allocated).
func TestIDWalkFindsEachIDWithoutAllocating(t *testing.T) {
	db, err := bolt.Open(filepath.Join(t.TempDir(), "walk.db"), 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	prefix := []byte("token-a/")
	err = db.Update(func(btx *bolt.Tx) error {
		b, err := btx.CreateBucket([]byte("postings"))
		if err != nil {
			return err
		}
		// Ids 10, 20, ..., 2000 under the prefix, and keys on either side
		// of it that the walk must not take for its own.
		for id := uint64(10); id <= 2000; id += 10 {
			if err := b.Put(be.AppendUint64([]byte("token-a/"), id), nil); err != nil {
				return err
			}
		}
		for _, k := range [][]byte{be.AppendUint64([]byte("token-0/"), 5), be.AppendUint64([]byte("token-b/"), 1<<40)} {
			if err := b.Put(k, nil); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	err = db.View(func(btx *bolt.Tx) error {
		w := idWalk{c: btx.Bucket([]byte("postings")).Cursor(), prefix: prefix}
		for _, tt := range []struct {
			at   uint64
			want uint64
			ok   bool
		}{
			{1 << 50, 2000, true}, // above every id: the last
			{2000, 2000, true},
			{1999, 1990, true},
			{15, 10, true},
			{10, 10, true},
			{9, 0, false}, // below every id: none, not token-0's
		} {
			if got, ok := w.atOrBelow(tt.at); got != tt.want || ok != tt.ok {
				t.Errorf("atOrBelow(%d) = %d, %v; want %d, %v", tt.at, got, ok, tt.want, tt.ok)
			}
		}
		at := uint64(2000)
		allocs := testing.AllocsPerRun(100, func() {
			id, ok := w.atOrBelow(at)
			if !ok || id != at {
				t.Fatalf("atOrBelow(%d) = %d, %v; want it found", at, id, ok)
			}
			if at -= 10; at == 0 {
				at = 2000
			}
		})
		if allocs != 0 {
			t.Errorf("a step of the walk allocates %v times; want none", allocs)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
