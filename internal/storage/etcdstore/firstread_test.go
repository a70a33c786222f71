package etcdstore_test

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/childcase/childcase/internal/storage/etcdstore"
	"github.com/childcase/childcase/internal/storage/etcdstore/etcdtest"
	"github.com/childcase/childcase/internal/storage/kv"
)

// laggingKV answers every serializable read-only Txn at revision rev, as
// a member that has not applied the writes after rev would: a stale but
// consistent snapshot. Everything else goes to the cluster as it is.
type laggingKV struct {
	clientv3.KV
	rev int64
	// served counts the stale snapshots it gave.
	served atomic.Int64
}

func (l *laggingKV) Txn(ctx context.Context) clientv3.Txn {
	return &laggingTxn{Txn: l.KV.Txn(ctx), l: l}
}

type laggingTxn struct {
	clientv3.Txn
	l     *laggingKV
	stale bool
}

func (t *laggingTxn) If(cs ...clientv3.Cmp) clientv3.Txn {
	t.Txn = t.Txn.If(cs...)
	return t
}

func (t *laggingTxn) Then(ops ...clientv3.Op) clientv3.Txn {
	t.stale = len(ops) > 0
	for _, op := range ops {
		t.stale = t.stale && op.IsGet() && op.IsSerializable()
	}
	if t.stale {
		at := make([]clientv3.Op, len(ops))
		for i, op := range ops {
			at[i] = clientv3.OpGet(string(op.KeyBytes()), clientv3.WithRange(string(op.RangeBytes())),
				clientv3.WithLimit(op.Limit()), clientv3.WithRev(t.l.rev), clientv3.WithSerializable())
		}
		ops = at
	}
	t.Txn = t.Txn.Then(ops...)
	return t
}

func (t *laggingTxn) Commit() (*clientv3.TxnResponse, error) {
	resp, err := t.Txn.Commit()
	if err == nil && t.stale {
		resp.Header.Revision = t.l.rev
		t.l.served.Add(1)
	}
	return resp, err
}

// TestStaleFirstReadOfAWrite: a write transaction takes its snapshot with
// a serializable read, which a lagging member may answer from before a
// write acknowledged elsewhere. The engine must still give every Update
// the answer of the current state: a body that writes on the stale
// snapshot loses its guard compare and re-runs; a body that refuses (an
// error) or writes nothing on it is re-run once a linearizable read of
// the guard shows the snapshot was not current. A View never reads a
// stale snapshot.
func TestStaleFirstReadOfAWrite(t *testing.T) {
	c := etcdtest.Start(t, 1, etcdtest.WithoutFsync())
	client := c.Client(t)
	e, err := etcdstore.NewEngine(client, "", etcdstore.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	put := func(v string) {
		t.Helper()
		if err := e.Update(t.Context(), func(tx kv.Tx) error {
			b, err := tx.CreateBucketIfNotExists(bucketName)
			if err != nil {
				return err
			}
			return b.Put([]byte("k"), []byte(v))
		}); err != nil {
			t.Fatal(err)
		}
	}
	put("old")
	lagging := &laggingKV{KV: client.KV, rev: revision(t, client)}
	put("new") // acknowledged: every later call must see it
	client.KV = lagging

	errRefused := errors.New("refused: the value is not the last one written")
	tests := []struct {
		name string
		// body gets what the transaction read of k.
		body func(b kv.Bucket, read string) error
		want string // the value after the Update
	}{
		{"a body that writes", func(b kv.Bucket, read string) error {
			return b.Put([]byte("k"), []byte(read+"+1"))
		}, "new+1"},
		{"a body that refuses on what it read", func(b kv.Bucket, read string) error {
			if read != "new+1" {
				return errRefused
			}
			return b.Put([]byte("k"), []byte("new+2"))
		}, "new+2"},
		{"a body that writes nothing", func(kv.Bucket, string) error { return nil }, "new+2"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			current := revision(t, client)
			lagging.rev = current - 1 // behind the last write
			var last string
			if err := e.View(t.Context(), func(tx kv.Tx) error {
				last = string(tx.Bucket(bucketName).Get([]byte("k")))
				return nil
			}); err != nil {
				t.Fatal(err)
			}
			before := lagging.served.Load()
			runs, read := 0, ""
			err := e.Update(t.Context(), func(tx kv.Tx) error {
				runs++
				b := tx.Bucket(bucketName)
				read = string(b.Get([]byte("k")))
				return tt.body(b, read)
			})
			if err != nil {
				t.Fatalf("Update: %v", err)
			}
			if stale := lagging.served.Load() - before; stale != 1 || runs != 2 {
				t.Errorf("the body ran %d times on %d stale snapshots, want twice: once on the stale one, then on the current state", runs, stale)
			}
			if read != last {
				t.Errorf("the body's last run read %q, want the last value written, %q", read, last)
			}
			var got string
			if err := e.View(t.Context(), func(tx kv.Tx) error {
				got = string(tx.Bucket(bucketName).Get([]byte("k")))
				return nil
			}); err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("after the Update, View read %q, want %q", got, tt.want)
			}
		})
	}
	if n := lagging.served.Load(); n != int64(len(tests)) {
		t.Errorf("%d stale snapshots served, want one per Update and none to a View", n)
	}
}

// TestFailedReadAnswersAnEmptyBucket: after a read fails (here the
// caller's context ends), a transaction answers as if its buckets were
// empty, never missing, and View returns the failure. The layout takes
// its buckets' existence for granted: the leader's scheduler, whose
// context ends when it loses the lead, crashed the server on a nil
// bucket.
func TestFailedReadAnswersAnEmptyBucket(t *testing.T) {
	e, _ := open(t, etcdstore.Config{}, etcdtest.WithoutFsync())
	fill(t, e, 3)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	err := e.View(ctx, func(tx kv.Tx) error {
		b := tx.Bucket(bucketName)
		if b == nil {
			t.Fatal("Bucket after a failed read = nil, want an empty bucket")
		}
		if v := b.Get([]byte("k000")); v != nil {
			t.Errorf("Get after a failed read = %q, want nil", v)
		}
		if k, _ := b.Cursor().First(); k != nil {
			t.Errorf("First after a failed read = %q, want nil", k)
		}
		return nil
	})
	if !errors.Is(err, context.Canceled) {
		t.Errorf("View with a failed read = %v, want the failure (context.Canceled)", err)
	}
}

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

// TestKnownBucketsFitMaxTxnOps: the markers and sequences a first read
// brings beside its own Gets stay within MaxTxnOps, so that an engine
// whose cluster allows no more than it (--max-txn-ops as small as the
// engine's, which the settings allow) still reads once it knows more
// buckets than that.
func TestKnownBucketsFitMaxTxnOps(t *testing.T) {
	const maxOps = 8
	e, _ := open(t, etcdstore.Config{MaxTxnOps: maxOps}, etcdtest.WithoutFsync(), etcdtest.WithMaxTxnOps(maxOps))
	names := make([][]byte, 2*maxOps)
	for i := range names {
		names[i] = fmt.Appendf(nil, "b%02d", i)
		err := e.Update(t.Context(), func(tx kv.Tx) error {
			b, err := tx.CreateBucketIfNotExists(names[i])
			if err != nil {
				return err
			}
			_, err = b.NextSequence()
			return err
		})
		if err != nil {
			t.Fatalf("create bucket %d: %v", i, err)
		}
	}
	err := e.Update(t.Context(), func(tx kv.Tx) error {
		for _, name := range names {
			if tx.Bucket(name) == nil {
				return fmt.Errorf("bucket %q is missing", name)
			}
		}
		kv.Prefetch(tx, kv.Point(names[0], []byte("k")), kv.Point(names[1], []byte("k")))
		return tx.Bucket(names[0]).Put([]byte("k"), []byte("v"))
	})
	if err != nil {
		t.Fatalf("a write once %d buckets are known: %v", len(names), err)
	}
	err = e.View(t.Context(), func(tx kv.Tx) error {
		kv.Prefetch(tx, kv.Point(names[0], []byte("k")), kv.Point(names[1], []byte("k")))
		if v := tx.Bucket(names[0]).Get([]byte("k")); string(v) != "v" {
			return fmt.Errorf("Get(k) = %q, want v", v)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("a view once %d buckets are known: %v", len(names), err)
	}
}
