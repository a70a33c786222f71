package boltstore

import (
	"math/rand/v2"
	"path/filepath"
	"slices"
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

// countingEntries is an index in memory that counts its reads and writes.
type countingEntries struct {
	keys             map[string]bool
	gets, puts, dels []string
}

func (c *countingEntries) Get(k []byte) []byte {
	c.gets = append(c.gets, string(k))
	if c.keys[string(k)] {
		return []byte{} // present, empty
	}
	return nil
}

func (c *countingEntries) Put(k, _ []byte) error {
	c.puts = append(c.puts, string(k))
	c.keys[string(k)] = true
	return nil
}

func (c *countingEntries) Delete(k []byte) error {
	c.dels = append(c.dels, string(k))
	delete(c.keys, string(k))
	return nil
}

// A write reads an index entry before putting it only when its record had
// that entry before: an unchanged entry is then left alone (its pages not
// rewritten, TestUnchangedEntriesWriteNoPage), and one missing from a
// damaged index put back. A new record's entries, and an updated record's
// new ones, are put without a read, which would miss: a report and its
// new case read every one of their entries for nothing.
func TestEntriesReadOnlyWhereTheRecordHadThem(t *testing.T) {
	db, err := bolt.Open(filepath.Join(t.TempDir(), "entries.db"), 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	err = db.Update(func(btx *bolt.Tx) error {
		tx := newTx(btx)
		idx := &countingEntries{keys: map[string]bool{}}
		bs := func(ks ...string) [][]byte {
			var out [][]byte
			for _, k := range ks {
				out = append(out, []byte(k))
			}
			return out
		}
		// A new record.
		if err := tx.syncEntries(idx, nil, bs("a", "b")); err != nil {
			return err
		}
		if len(idx.gets) != 0 || !slices.Equal(idx.puts, []string{"a", "b"}) {
			t.Errorf("a new record's entries: read %q, put %q; want no read, a and b put", idx.gets, idx.puts)
		}
		// Updated: a goes, b stays, c comes.
		idx.gets, idx.puts = nil, nil
		if err := tx.syncEntries(idx, bs("a", "b"), bs("b", "c")); err != nil {
			return err
		}
		if !slices.Equal(idx.dels, []string{"a"}) || !slices.Equal(idx.gets, []string{"b"}) || !slices.Equal(idx.puts, []string{"c"}) {
			t.Errorf("an update: deleted %q, read %q, put %q; want a deleted, b read and left, c put unread", idx.dels, idx.gets, idx.puts)
		}
		// The index lost b: the next write that keeps it puts it back.
		delete(idx.keys, "b")
		idx.gets, idx.puts, idx.dels = nil, nil, nil
		if err := tx.syncEntries(idx, bs("b", "c"), bs("b", "c")); err != nil {
			return err
		}
		if !slices.Equal(idx.puts, []string{"b"}) || !idx.keys["b"] || !idx.keys["c"] {
			t.Errorf("a lost entry: put %q, index %v; want b put back", idx.puts, idx.keys)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// seekCounter counts the Seeks of a cursor: each reads from the root.
type seekCounter struct {
	*bolt.Cursor
	seeks int
}

func (c *seekCounter) Seek(k []byte) ([]byte, []byte) {
	c.seeks++
	return c.Cursor.Seek(k)
}

// An idWalk answers what a Seek from the root would, for any ids asked
// in any order, among ids dense and sparse, keys of other lengths under
// its prefix and other prefixes on either side; asked for ids coming down,
// as a search asks, it seeks only where its answer is more than a few keys
// below the last one (it sought once a step before).
func TestIDWalkAnswersAsASeekWouldWithFewerSeeks(t *testing.T) {
	db, err := bolt.Open(filepath.Join(t.TempDir(), "walk.db"), 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	prefix := []byte("scope/")
	rng := rand.New(rand.NewPCG(1, 2))
	var ids []uint64 // ascending
	err = db.Update(func(btx *bolt.Tx) error {
		b, err := btx.CreateBucket([]byte("entries"))
		if err != nil {
			return err
		}
		for id := uint64(1); id <= 3000; id++ {
			// Dense runs and sparse stretches.
			if (id/300)%2 == 0 || rng.IntN(20) == 0 {
				ids = append(ids, id)
				if err := b.Put(be.AppendUint64([]byte("scope/"), id), nil); err != nil {
					return err
				}
			}
			if rng.IntN(50) == 0 { // a key of another length under the prefix
				if err := b.Put(append(be.AppendUint64([]byte("scope/"), id), 'x'), nil); err != nil {
					return err
				}
			}
		}
		for _, k := range [][]byte{be.AppendUint64([]byte("scope."), 7), be.AppendUint64([]byte("scope0"), 1<<62)} {
			if err := b.Put(k, nil); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	want := func(id uint64) (uint64, bool) {
		i, found := slices.BinarySearch(ids, id)
		if found {
			return id, true
		}
		if i == 0 {
			return 0, false
		}
		return ids[i-1], true
	}
	err = db.View(func(btx *bolt.Tx) error {
		walk := func() (*idWalk, *seekCounter) {
			c := &seekCounter{Cursor: btx.Bucket([]byte("entries")).Cursor()}
			return &idWalk{c: c, prefix: prefix}, c
		}
		// Any order: down mostly, up at times, the same id twice, past
		// either end.
		w, _ := walk()
		at := uint64(3100)
		for range 5000 {
			switch r := rng.IntN(10); {
			case r == 0:
				at = rng.Uint64N(3200)
			case r < 8 && at > 0:
				at -= min(at, rng.Uint64N(12))
			}
			got, ok := w.atOrBelow(at)
			if wantID, wantOK := want(at); got != wantID || ok != wantOK {
				t.Fatalf("atOrBelow(%d) = %d, %v; want %d, %v", at, got, ok, wantID, wantOK)
			}
		}
		// Down through every id, as a search steps (the next below the
		// last found): in the dense runs, no seek at all.
		w, c := walk()
		found := 0
		for at := uint64(3100); ; {
			got, ok := w.atOrBelow(at)
			if !ok {
				break
			}
			found++
			if got == 0 {
				break
			}
			at = got - 1
		}
		if found != len(ids) {
			t.Fatalf("stepping down found %d ids, want %d", found, len(ids))
		}
		if c.seeks > len(ids)/10 {
			t.Errorf("stepping down through %d ids sought %d times; want at most a tenth as many (one a step before)", len(ids), c.seeks)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
