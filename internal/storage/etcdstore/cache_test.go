package etcdstore_test

import (
	"testing"
	"time"

	"github.com/childcase/childcase/internal/storage/kv"
)

// TestCachedGetsAcrossTransactions: once an engine has read a key and its
// watch has caught up, a later transaction gets the key without a round
// trip beyond its first read; when another engine (another instance)
// changes the key, the next transaction sees the change.
func TestCachedGetsAcrossTransactions(t *testing.T) {
	e, other := twoEngines(t)
	fill(t, e, 3)
	// get reads k001 in a transaction of e; it returns the value and the
	// round trips after the transaction's first read.
	get := func() (string, int64) {
		var v string
		var reads int64
		err := e.View(t.Context(), func(tx kv.Tx) error {
			b := tx.Bucket(bucketName) // the first read
			start := e.Stats().Reads
			v = string(b.Get(key(1)))
			reads = e.Stats().Reads - start
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		return v, reads
	}
	// cached waits until a Get of k001 is answered from the cache: the
	// watch applies the fill, or tells its progress, soon; until it has,
	// the key is read.
	cached := func(why string) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for {
			v, reads := get()
			if v != "v1" {
				t.Fatalf("Get(k001) = %q, want v1", v)
			}
			if reads == 0 {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s, Get(k001) still made a round trip after 10 s", why)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	cached("after the fill")
	// A write outside the prefix moves the snapshots' revision with no
	// event for the watch.
	if _, err := other.Client().Put(t.Context(), "/elsewhere/x", "y"); err != nil {
		t.Fatal(err)
	}
	cached("after a write outside the prefix")
	err := other.Update(t.Context(), func(tx kv.Tx) error { return tx.Bucket(bucketName).Put(key(1), []byte("changed")) })
	if err != nil {
		t.Fatal(err)
	}
	if v, _ := get(); v != "changed" {
		t.Errorf("after another engine's write, Get(k001) = %q, want changed", v)
	}
}
