package boltstore

import (
	"path/filepath"
	"slices"
	"testing"

	bolt "go.etcd.io/bbolt"
)

// A keyspace's cursor sees its own index only, without the tag, and
// behaves at the ends of it as a bbolt cursor does at the ends of a
// bucket, whatever the indexes on either side hold: the list scans
// (storekey) seek past a prefix and step back, or walk on until nil.
func TestKeyCursorStaysInItsIndex(t *testing.T) {
	db, err := bolt.Open(filepath.Join(t.TempDir(), "ks.db"), 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	tagOf := func(name []byte) byte {
		tag, ok := indexTag(name)
		if !ok {
			t.Fatalf("no tag for %s", name)
		}
		return tag
	}
	before, mine, after := tagOf(bucketReportsByCallType), tagOf(bucketReportsByTaker), tagOf(bucketReportScope)
	if !(before < mine && mine < after) {
		t.Fatalf("tags %d, %d, %d are not in order", before, mine, after)
	}
	err = db.Update(func(btx *bolt.Tx) error {
		b, err := btx.CreateBucket(bucketIndex)
		if err != nil {
			return err
		}
		for _, k := range [][]byte{{before, 0xff, 0xff}, {mine, 'a'}, {mine, 'b'}, {mine, 'c'}, {after}, {after, 0}} {
			if err := b.Put(k, nil); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}

	key := func(k, _ []byte) string {
		if k == nil {
			return "<nil>"
		}
		return string(k)
	}
	err = db.View(func(btx *bolt.Tx) error {
		ks := newTx(btx).keys(bucketReportsByTaker)
		if ks == nil {
			t.Fatal("no keyspace for reports_by_taker in the index bucket")
		}
		c := ks.Cursor()
		var got []string
		for k, v := c.First(); k != nil; k, v = c.Next() {
			got = append(got, key(k, v))
		}
		if want := []string{"a", "b", "c"}; !slices.Equal(got, want) {
			t.Errorf("First..Next = %q, want %q", got, want)
		}
		got = nil
		for k, v := c.Last(); k != nil; k, v = c.Prev() {
			got = append(got, key(k, v))
		}
		if want := []string{"c", "b", "a"}; !slices.Equal(got, want) {
			t.Errorf("Last..Prev = %q, want %q", got, want)
		}
		for _, tt := range []struct{ seek, want, prev string }{
			{"", "a", "<nil>"},
			{"b", "b", "a"},
			{"bb", "c", "b"},
			{"d", "<nil>", "c"}, // past the end: Prev is the last key, as in bbolt
		} {
			if got := key(c.Seek([]byte(tt.seek))); got != tt.want {
				t.Errorf("Seek(%q) = %s, want %s", tt.seek, got, tt.want)
			}
			if got := key(c.Prev()); got != tt.prev {
				t.Errorf("Seek(%q), Prev = %s, want %s", tt.seek, got, tt.prev)
			}
		}
		if got := ks.Get([]byte("b")); got == nil {
			t.Error(`Get("b") = nil, want the entry`)
		}
		if got := ks.Get([]byte{0xff, 0xff}); got != nil {
			t.Error("Get found another index's key")
		}
		// An index with no entries, between others.
		empty := newTx(btx).keys(bucketCasesByUnit)
		ec := empty.Cursor()
		if k, _ := ec.First(); k != nil {
			t.Errorf("First of an empty index = %q", k)
		}
		if k, _ := ec.Last(); k != nil {
			t.Errorf("Last of an empty index = %q", k)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
