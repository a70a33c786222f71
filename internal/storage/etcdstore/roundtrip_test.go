package etcdstore_test

import (
	"context"
	"sync/atomic"
	"testing"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/childcase/childcase/internal/storage/etcdstore"
	"github.com/childcase/childcase/internal/storage/etcdstore/etcdtest"
	"github.com/childcase/childcase/internal/storage/kv"
)

// countingKV counts the requests that reach the cluster: Gets and Txns
// (the reads of a snapshot's first read and the commits).
type countingKV struct {
	clientv3.KV
	gets, txns atomic.Int64
}

func (c *countingKV) Get(ctx context.Context, key string, opts ...clientv3.OpOption) (*clientv3.GetResponse, error) {
	c.gets.Add(1)
	return c.KV.Get(ctx, key, opts...)
}

func (c *countingKV) Txn(ctx context.Context) clientv3.Txn {
	c.txns.Add(1)
	return c.KV.Txn(ctx)
}

// TestKnownBucketsCostNoRoundTrip: a transaction learns whether a bucket
// exists, and its sequence, in the round trip of its first read once an
// earlier transaction found them, instead of one round trip each. A write
// that takes a sequence of two buckets and puts a key in each costs two
// requests, its first read and its commit, whatever the number of buckets.
func TestKnownBucketsCostNoRoundTrip(t *testing.T) {
	c := etcdtest.Start(t, 1, etcdtest.WithoutFsync())
	client := c.Client(t)
	counting := &countingKV{KV: client.KV}
	client.KV = counting
	e, err := etcdstore.NewEngine(client, "", etcdstore.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	names := [][]byte{[]byte("reports"), []byte("cases"), []byte("audit")}
	write := func() {
		t.Helper()
		err := e.Update(t.Context(), func(tx kv.Tx) error {
			for _, name := range names {
				b, err := tx.CreateBucketIfNotExists(name)
				if err != nil {
					return err
				}
				seq, err := b.NextSequence()
				if err != nil {
					return err
				}
				if err := b.Put([]byte{byte(seq)}, name); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	write() // creates the buckets
	write() // finds them, and reads their sequences
	gets, txns := counting.gets.Load(), counting.txns.Load()
	write()
	if got, want := counting.gets.Load()-gets+counting.txns.Load()-txns, int64(2); got != want {
		t.Errorf("a write of %d known buckets made %d requests (%d Gets, %d Txns), want %d: its first read and its commit",
			len(names), got, counting.gets.Load()-gets, counting.txns.Load()-txns, want)
	}
	var seq uint64
	if err := e.View(t.Context(), func(tx kv.Tx) error {
		seq = tx.Bucket(names[2]).Sequence()
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if seq != 3 {
		t.Errorf("the last bucket's sequence after three writes is %d, want 3", seq)
	}
}
