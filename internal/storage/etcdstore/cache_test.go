package etcdstore_test

import (
	"encoding/binary"
	"fmt"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/childcase/childcase/internal/storage/etcdstore"
	"github.com/childcase/childcase/internal/storage/etcdstore/etcdtest"
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

// TestCachedGetsKeepUpdatesAndViewsExact: read-modify-writes of one
// counter on two engines (two instances), each keeping its cache of point
// Gets, lose no increment, including those that delete and re-create the
// counter's bucket; and a View on either engine, begun after an Update
// returned, sees at least what it wrote, whatever the other engine's cache
// and watch hold.
func TestCachedGetsKeepUpdatesAndViewsExact(t *testing.T) {
	e, other := twoEngines(t)
	engines := []kv.Engine{e, other}
	fill(t, e, 0)
	counter := []byte("counter")
	read := func(b kv.Bucket) uint64 {
		if v := b.Get(counter); v != nil {
			return binary.BigEndian.Uint64(v)
		}
		return 0
	}
	const writers, each = 4, 25
	concurrently(t, writers, func(w int) error {
		for i := range each {
			var wrote uint64
			err := engines[(w+i)%2].Update(t.Context(), func(tx kv.Tx) error {
				n := read(tx.Bucket(bucketName)) + 1
				if i%5 == 4 {
					// The bucket's keys, marker and sequence go, and come back.
					if err := tx.DeleteBucket(bucketName); err != nil {
						return err
					}
				}
				b, err := tx.CreateBucketIfNotExists(bucketName)
				if err != nil {
					return err
				}
				wrote = n
				return b.Put(counter, binary.BigEndian.AppendUint64(nil, n))
			})
			if err != nil {
				return err
			}
			err = engines[(w+i+1)%2].View(t.Context(), func(tx kv.Tx) error {
				if n := read(tx.Bucket(bucketName)); n < wrote {
					return fmt.Errorf("a View after an Update that wrote %d read %d", wrote, n)
				}
				return nil
			})
			if err != nil {
				return err
			}
		}
		return nil
	})
	for _, e := range engines {
		err := e.View(t.Context(), func(tx kv.Tx) error {
			if n := read(tx.Bucket(bucketName)); n != writers*each {
				return fmt.Errorf("counter = %d, want %d", n, writers*each)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
}

// TestCacheAcrossItsMembersDeath: an engine whose member (its only
// endpoint) dies while another instance changes a key the engine has
// cached, and the cluster compacts those changes away, watches again when
// the member is back (from where it was, or from scratch when the member
// has applied the compaction first): its next transactions read the key
// as it now is, and a read-modify-write of it loses nothing.
func TestCacheAcrossItsMembersDeath(t *testing.T) {
	c := etcdtest.Start(t, 3, etcdtest.WithoutFsync())
	lead, err := c.WaitLeader(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	// Followers: a member killed leaves a leader in place.
	mine, others := (lead+1)%3, (lead+2)%3
	e, err := etcdstore.NewEngine(c.MemberClient(t, mine), "", etcdstore.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = e.Close() })
	other, err := etcdstore.NewEngine(c.MemberClient(t, others), "", etcdstore.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = other.Close() })
	counter := []byte("counter")
	add := func(e *etcdstore.Engine) uint64 {
		t.Helper()
		var n uint64
		err := e.Update(t.Context(), func(tx kv.Tx) error {
			b, err := tx.CreateBucketIfNotExists(bucketName)
			if err != nil {
				return err
			}
			n = 1
			if v := b.Get(counter); v != nil {
				n += binary.BigEndian.Uint64(v)
			}
			return b.Put(counter, binary.BigEndian.AppendUint64(nil, n))
		})
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	read := func(e *etcdstore.Engine) uint64 {
		t.Helper()
		var n uint64
		err := e.View(t.Context(), func(tx kv.Tx) error {
			n = binary.BigEndian.Uint64(tx.Bucket(bucketName).Get(counter))
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	add(e)
	for range 20 { // the watch catches up, and the cache keeps the counter
		read(e)
	}
	c.Kill(mine)
	for range 5 {
		add(other)
	}
	resp, err := other.Client().Get(t.Context(), "/", clientv3.WithCountOnly())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := other.Client().Compact(t.Context(), resp.Header.Revision, clientv3.WithCompactPhysical()); err != nil {
		t.Fatal(err)
	}
	c.Restart(mine)
	if n := read(e); n != 6 {
		t.Errorf("after its member came back, a View on the engine read %d, want 6", n)
	}
	if n := add(e); n != 7 {
		t.Errorf("a read-modify-write on the engine wrote %d, want 7", n)
	}
	if n := read(other); n != 7 {
		t.Errorf("the other engine read %d, want 7", n)
	}
}
