package etcdstore_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
	"google.golang.org/grpc"

	"github.com/childcase/childcase/internal/domain/model"
	"github.com/childcase/childcase/internal/storage/etcdstore"
	"github.com/childcase/childcase/internal/storage/etcdstore/etcdtest"
	"github.com/childcase/childcase/internal/storage/kv"
)

var bucketName = []byte("things")

// fill commits keys k000..k(n-1) with values v0..., in one transaction.
func fill(t *testing.T, e kv.Engine, n int) {
	t.Helper()
	err := e.Update(t.Context(), func(tx kv.Tx) error {
		b, err := tx.CreateBucketIfNotExists(bucketName)
		if err != nil {
			return err
		}
		for i := range n {
			if err := b.Put(fmt.Appendf(nil, "k%03d", i), fmt.Appendf(nil, "v%d", i)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// revision is the cluster's current revision.
func revision(t *testing.T, c *clientv3.Client) int64 {
	t.Helper()
	resp, err := c.Get(t.Context(), "any")
	if err != nil {
		t.Fatal(err)
	}
	return resp.Header.Revision
}

func TestCursorsSeeTheTransactionsWrites(t *testing.T) {
	e, _ := open(t, etcdstore.Config{}, etcdtest.WithoutFsync())
	fill(t, e, 3) // k000 k001 k002
	err := e.Update(t.Context(), func(tx kv.Tx) error {
		b := tx.Bucket(bucketName)
		if err := b.Put([]byte("k0015"), []byte("new")); err != nil {
			return err
		}
		if err := b.Delete([]byte("k002")); err != nil {
			return err
		}
		c := b.Cursor()
		if k, v := c.Seek([]byte("k0011")); string(k) != "k0015" || string(v) != "new" {
			return fmt.Errorf("Seek(k0011) = %q=%q, want the put k0015=new", k, v)
		}
		if k, _ := c.Next(); k != nil {
			return fmt.Errorf("Next after k0015 = %q, want nil: k002 was deleted", k)
		}
		if k, _ := c.Last(); string(k) != "k0015" {
			return fmt.Errorf("Last = %q, want k0015", k)
		}
		if k, _ := c.Prev(); string(k) != "k001" {
			return fmt.Errorf("Prev from k0015 = %q, want k001", k)
		}
		if v := b.Get([]byte("k002")); v != nil {
			return fmt.Errorf("Get(k002) = %q after its delete", v)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestUpdateWithoutWritesCommitsNothing(t *testing.T) {
	e, c := open(t, etcdstore.Config{}, etcdtest.WithoutFsync())
	fill(t, e, 1)
	client := c.Client(t)
	before := revision(t, client)
	err := e.Update(t.Context(), func(tx kv.Tx) error {
		if v := tx.Bucket(bucketName).Get([]byte("k000")); string(v) != "v0" {
			return fmt.Errorf("Get(k000) = %q", v)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if after := revision(t, client); after != before {
		t.Fatalf("a read-only Update moved the revision from %d to %d", before, after)
	}
}

// concurrently runs fn(0) to fn(n-1) at once, and fails the test with
// their errors once all have returned.
func concurrently(t *testing.T, n int, fn func(i int) error) {
	t.Helper()
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Go(func() {
			if err := fn(i); err != nil {
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}

// TestConcurrentUpdatesAreSerialisable: read-modify-writes of one counter
// from many goroutines lose no increment, because conflicting commits are
// re-run.
func TestConcurrentUpdatesAreSerialisable(t *testing.T) {
	e, _ := open(t, etcdstore.Config{}, etcdtest.WithoutFsync())
	fill(t, e, 0)
	const writers, each = 8, 15
	var runs atomic.Int64
	key := []byte("counter")
	concurrently(t, writers, func(int) error {
		for range each {
			err := e.Update(t.Context(), func(tx kv.Tx) error {
				runs.Add(1)
				b := tx.Bucket(bucketName)
				var n uint64
				if v := b.Get(key); v != nil {
					n = binary.BigEndian.Uint64(v)
				}
				return b.Put(key, binary.BigEndian.AppendUint64(nil, n+1))
			})
			if err != nil {
				return err
			}
		}
		return nil
	})
	err := e.View(t.Context(), func(tx kv.Tx) error {
		if n := binary.BigEndian.Uint64(tx.Bucket(bucketName).Get(key)); n != writers*each {
			return fmt.Errorf("counter = %d, want %d", n, writers*each)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if runs.Load() <= writers*each {
		t.Fatalf("bodies ran %d times for %d commits: no conflict was retried", runs.Load(), writers*each)
	}
	t.Logf("%d runs for %d commits", runs.Load(), writers*each)
}

func TestTooLargeIsRefusedBeforeSending(t *testing.T) {
	tests := []struct {
		name string
		cfg  etcdstore.Config
		// keys of size bytes each are put.
		keys, size int
		want       error
	}{
		{"ops within the limit", etcdstore.Config{MaxTxnOps: 10}, 9, 10, nil},
		{"ops over the limit", etcdstore.Config{MaxTxnOps: 10}, 10, 10, kv.ErrTooLarge},
		{"bytes within the limit", etcdstore.Config{MaxRequestBytes: 64 << 10}, 1, 60 << 10, nil},
		{"bytes over the limit", etcdstore.Config{MaxRequestBytes: 64 << 10}, 1, 64 << 10, kv.ErrTooLarge},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, c := open(t, tt.cfg, etcdtest.WithoutFsync())
			fill(t, e, 0) // the bucket exists: its marker is not part of the count
			client := c.Client(t)
			before := revision(t, client)
			err := e.Update(t.Context(), func(tx kv.Tx) error {
				b := tx.Bucket(bucketName)
				for i := range tt.keys {
					if err := b.Put(fmt.Appendf(nil, "k%d", i), bytes.Repeat([]byte{'x'}, tt.size)); err != nil {
						return err
					}
				}
				return nil
			})
			if !errors.Is(err, tt.want) || (err == nil) != (tt.want == nil) {
				t.Fatalf("Update = %v, want %v", err, tt.want)
			}
			if after := revision(t, client); tt.want != nil && after != before {
				t.Fatalf("a refused Update moved the revision from %d to %d", before, after)
			}
		})
	}
}

func TestQuotaExceededIsFull(t *testing.T) {
	e, _ := open(t, etcdstore.Config{}, etcdtest.WithQuota(2<<20), etcdtest.WithoutFsync())
	fill(t, e, 0)
	value := bytes.Repeat([]byte{'x'}, 256<<10)
	var err error
	// etcd checks the quota against the size of its last backend commit
	// (every 100 ms), so a fast writer gets somewhat past it first.
	for i := 0; i < 1000 && err == nil; i++ {
		err = e.Update(t.Context(), func(tx kv.Tx) error {
			return tx.Bucket(bucketName).Put(fmt.Appendf(nil, "k%d", i), value)
		})
	}
	if !errors.Is(err, model.ErrFull) {
		t.Fatalf("Update on a full cluster = %v, want an error wrapping model.ErrFull", err)
	}
}

// TestViewReadsOneSnapshot: a commit made while a view walks a bucket
// page by page changes nothing the view sees.
func TestViewReadsOneSnapshot(t *testing.T) {
	e, _ := open(t, etcdstore.Config{}, etcdtest.WithoutFsync())
	const n = 300 // several cursor pages
	fill(t, e, n)
	ctx := t.Context()
	err := e.View(ctx, func(tx kv.Tx) error {
		b := tx.Bucket(bucketName)
		c := b.Cursor()
		k, v := c.First()
		err := e.Update(ctx, func(tx kv.Tx) error {
			w := tx.Bucket(bucketName)
			for _, op := range []error{
				w.Put([]byte("k150"), []byte("changed")),
				w.Put([]byte("k2000"), []byte("inserted")),
				w.Delete([]byte("k299")),
			} {
				if op != nil {
					return op
				}
			}
			return nil
		})
		if err != nil {
			return err
		}
		for i := range n {
			if want := fmt.Sprintf("k%03d=v%d", i, i); string(k)+"="+string(v) != want {
				return fmt.Errorf("key %d: %q=%q, want %s", i, k, v, want)
			}
			k, v = c.Next()
		}
		if k != nil {
			return fmt.Errorf("after k299: %q, want the end", k)
		}
		if v := b.Get([]byte("k150")); string(v) != "v150" {
			return fmt.Errorf("Get(k150) = %q, want v150 as at the snapshot", v)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestAFailedReadFailsTheTransaction: once a read fails, the body sees
// nothing more, and Update returns the failure without committing even
// though the body returned nil.
func TestAFailedReadFailsTheTransaction(t *testing.T) {
	e, c := open(t, etcdstore.Config{}, etcdtest.WithoutFsync())
	fill(t, e, 3)
	client := c.Client(t)
	ctx := t.Context()
	// The snapshot is compacted away under the transaction: its next read
	// fails while the commit itself (the guard is untouched) would pass.
	err := e.Update(ctx, func(tx kv.Tx) error {
		b := tx.Bucket(bucketName)
		if err := b.Put([]byte("written"), []byte("x")); err != nil {
			return err
		}
		resp, err := client.Put(ctx, "elsewhere", "x")
		if err != nil {
			return err
		}
		if _, err := client.Compact(ctx, resp.Header.Revision); err != nil {
			return err
		}
		if v := b.Get([]byte("k001")); v != nil {
			return fmt.Errorf("Get after the failed read = %q, want nil", v)
		}
		if k, _ := b.Cursor().First(); k != nil {
			return fmt.Errorf("cursor after the failed read = %q, want nil", k)
		}
		return nil
	})
	if err == nil || !strings.Contains(err.Error(), "compacted") {
		t.Fatalf("Update = %v, want the compaction error", err)
	}
	err = e.View(ctx, func(tx kv.Tx) error {
		if v := tx.Bucket(bucketName).Get([]byte("written")); v != nil {
			return errors.New("the failed Update committed its write")
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}

	// A stopped cluster: the view's reads fail and View says so.
	c.Stop(0)
	short, cancel := context.WithTimeout(ctx, 500*time.Millisecond)
	defer cancel()
	err = e.View(short, func(tx kv.Tx) error {
		// The stored layout's bodies take its buckets as there (they are
		// created with the store): a failed read must not make them nil.
		if v := tx.Bucket(bucketName).Get([]byte("k001")); v != nil {
			return fmt.Errorf("Get from a stopped cluster = %q", v)
		}
		if k, _ := tx.Bucket([]byte("other")).Cursor().First(); k != nil {
			return fmt.Errorf("cursor over a stopped cluster at %q", k)
		}
		return nil
	})
	if err == nil {
		t.Fatal("View over a stopped cluster returned nil")
	}
}

// clientThrough is a client of c whose calls go through ic, which sees
// each request (a count of round trips, the ranges asked for).
func clientThrough(t *testing.T, c *etcdtest.Cluster, ic grpc.UnaryClientInterceptor) *clientv3.Client {
	t.Helper()
	client, err := clientv3.New(clientv3.Config{
		Endpoints:   c.Endpoints(),
		DialTimeout: 5 * time.Second,
		Logger:      zap.NewNop(),
		DialOptions: []grpc.DialOption{grpc.WithChainUnaryInterceptor(ic)},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = client.Close() })
	return client
}

// TestCursorsReadPagesNotKeys: a long walk costs a round trip per page
// (pages grow from 16 keys to 1024), not one per key.
func TestCursorsReadPagesNotKeys(t *testing.T) {
	c := etcdtest.Start(t, 1, etcdtest.WithoutFsync())
	var calls atomic.Int64
	count := func(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoke grpc.UnaryInvoker, opts ...grpc.CallOption) error {
		calls.Add(1)
		return invoke(ctx, method, req, reply, cc, opts...)
	}
	e, err := etcdstore.NewEngine(clientThrough(t, c, count), "", etcdstore.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	fill(t, e, 1000)
	walks := []struct {
		name  string
		walk  func(kv.Cursor) int
		keys  int
		calls int64
	}{
		{"Seek and Next", func(c kv.Cursor) (n int) {
			for k, _ := c.Seek([]byte("k100")); k != nil; k, _ = c.Next() {
				n++
			}
			return n
		}, 900, 6}, // 16+32+64+128+256+512 keys
		{"Last and Prev", func(c kv.Cursor) (n int) {
			for k, _ := c.Last(); k != nil; k, _ = c.Prev() {
				n++
			}
			return n
		}, 1000, 7}, // the seventh page finds nothing more
	}
	for _, w := range walks {
		err := e.View(t.Context(), func(tx kv.Tx) error {
			b := tx.Bucket(bucketName) // the snapshot's own round trip
			calls.Store(0)
			if n := w.walk(b.Cursor()); n != w.keys {
				return fmt.Errorf("%s walked %d keys, want %d", w.name, n, w.keys)
			}
			if got := calls.Load(); got > w.calls {
				return fmt.Errorf("%s over %d keys took %d round trips, want at most %d", w.name, w.keys, got, w.calls)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
}

// TestFailedReadLeavesBucketsEmpty: after a read failed (here, the
// transaction's context ended), an existing bucket is still returned and
// reads as empty, as the kv contract says, rather than as missing: the
// layout takes its buckets for granted, and a nil one would crash the
// process on a network error. The View returns the read's error.
func TestFailedReadLeavesBucketsEmpty(t *testing.T) {
	e, _ := open(t, etcdstore.Config{}, etcdtest.WithoutFsync())
	fill(t, e, 3)
	ctx, cancel := context.WithCancel(t.Context())
	err := e.View(ctx, func(tx kv.Tx) error {
		cancel()
		b := tx.Bucket(bucketName)
		if b == nil {
			t.Fatal("Bucket after a failed read = nil, want a bucket that reads as empty")
		}
		if k, _ := b.Cursor().First(); k != nil || b.Get([]byte("k000")) != nil {
			t.Errorf("a bucket after a failed read holds %q", k)
		}
		return nil
	})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("View with a failed read = %v, want the read's error", err)
	}
}
