package etcdstore_test

import (
	"bytes"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/childcase/childcase/internal/storage/etcdstore"
	"github.com/childcase/childcase/internal/storage/etcdstore/etcdtest"
	"github.com/childcase/childcase/internal/storage/kv"
)

// benchValue is the size of a stored record the figures compare.
var benchValue = bytes.Repeat([]byte{'r'}, 10<<10)

// clients runs b.N calls of do spread over n goroutines, each call with
// its own number.
func clients(b *testing.B, n int, do func(i int64) error) {
	var next atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, n)
	b.ResetTimer()
	for range n {
		wg.Go(func() {
			for i := next.Add(1); i <= int64(b.N); i = next.Add(1) {
				if err := do(i); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	b.StopTimer()
	close(errs)
	for err := range errs {
		b.Fatal(err)
	}
}

// BenchmarkEtcdFloor is the floor the engine is measured against: a raw
// etcd put of a 10 KB value, on a one-member cluster with fsync on.
func BenchmarkEtcdFloor(b *testing.B) {
	c := etcdtest.Start(b, 1)
	client := c.Client(b)
	for _, n := range []int{1, 64} {
		b.Run(fmt.Sprintf("clients=%d", n), func(b *testing.B) {
			clients(b, n, func(i int64) error {
				_, err := client.Put(b.Context(), fmt.Sprintf("floor/%d/%d", n, i), string(benchValue))
				return err
			})
		})
	}
}

// BenchmarkEngineUpdate is one Update writing the same bytes through the
// engine. Concurrent Updates serialise on the commit guard (one commits,
// the others re-run), so 64 clients measure the retries; childcase's group
// commit is what batches concurrent writers into one Update.
func BenchmarkEngineUpdate(b *testing.B) {
	c := etcdtest.Start(b, 1)
	e, err := etcdstore.NewEngine(c.Client(b), "", etcdstore.Limits{})
	if err != nil {
		b.Fatal(err)
	}
	for _, n := range []int{1, 64} {
		b.Run(fmt.Sprintf("clients=%d", n), func(b *testing.B) {
			clients(b, n, func(i int64) error {
				return e.Update(b.Context(), func(tx kv.Tx) error {
					bk, err := tx.CreateBucketIfNotExists([]byte("bench"))
					if err != nil {
						return err
					}
					return bk.Put(fmt.Appendf(nil, "%d/%d", n, i), benchValue)
				})
			})
		})
	}
}
