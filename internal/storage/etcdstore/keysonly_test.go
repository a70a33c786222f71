package etcdstore_test

import (
	"bytes"
	"context"
	"fmt"
	"sync"
	"testing"

	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
	"google.golang.org/grpc"

	"github.com/childcase/childcase/internal/domain/datastore"
	"github.com/childcase/childcase/internal/storage/boltstore"
	"github.com/childcase/childcase/internal/storage/etcdstore"
	"github.com/childcase/childcase/internal/storage/etcdstore/etcdtest"
	"github.com/childcase/childcase/internal/storage/kv"
)

// rangesOf returns the Ranges a request to the cluster sends.
func rangesOf(req any) []*pb.RangeRequest {
	switch r := req.(type) {
	case *pb.RangeRequest:
		return []*pb.RangeRequest{r}
	case *pb.TxnRequest:
		var out []*pb.RangeRequest
		for _, op := range r.Success {
			if rr := op.GetRequestRange(); rr != nil {
				out = append(out, rr)
			}
		}
		return out
	}
	return nil
}

// A search reads the postings of a token without their values (they are
// empty) and counts them once: etcd answers a Range with values by
// reading each key's value from its backend file, and a descending one,
// the walk back from a token's newest case, reads every key of it before
// it takes its limit, while keys alone come from its in-memory index.
// The 64-client CreateReport row of BenchmarkScale spent most of its wait
// in the candidates' search, whose tokens its identical reports grow.
// Searched with and without a Prefetch first, as a search does and as a
// read it did not name does; the answers are those of the walk with
// values.
func TestSearchReadsPostingsKeysOnly(t *testing.T) {
	c := etcdtest.Start(t, 1, etcdtest.WithoutFsync())
	var mu sync.Mutex
	var withValues []string // the Ranges of postings sent with values
	record := func(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoke grpc.UnaryInvoker, opts ...grpc.CallOption) error {
		mu.Lock()
		for _, r := range rangesOf(req) {
			if i := bytes.Index(r.Key, []byte("search_tokens/")); i >= 0 && !r.KeysOnly {
				withValues = append(withValues, fmt.Sprintf("%q limit %d order %v", r.Key[i:], r.Limit, r.SortOrder))
			}
		}
		mu.Unlock()
		return invoke(ctx, method, req, reply, cc, opts...)
	}
	e, err := etcdstore.NewEngine(clientThrough(t, c, record), "", etcdstore.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	s, err := boltstore.OpenEngine(t.Context(), e, boltstore.EngineOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	const cases = 200
	// Token 1 holds every case, token 0 (before it) and token 2 (after
	// it) the first three.
	ids := indexCases(t, s, cases, func(i int) [][]byte {
		if i < 3 {
			return [][]byte{searchToken(0), searchToken(1), searchToken(2)}
		}
		return [][]byte{searchToken(1)}
	})
	newest := fmt.Sprint([]uint64{ids[cases-1], ids[cases-2], ids[cases-3], ids[cases-4], ids[cases-5]})
	oldest := fmt.Sprint([]uint64{ids[2], ids[1], ids[0]})
	among := fmt.Sprint([]uint64{ids[0], ids[2]})
	for _, prefetch := range []bool{false, true} {
		var got []string
		var scanned int64
		err := s.View(t.Context(), func(tx datastore.ReadTx) error {
			got = nil
			if _, err := tx.CaseByID(ids[0]); err != nil { // takes the snapshot
				return err
			}
			mu.Lock()
			withValues = nil
			mu.Unlock()
			start := e.Stats().Scanned
			if prefetch {
				tx.Prefetch(datastore.Prefetch{Tokens: [][]byte{searchToken(0), searchToken(1), searchToken(2)}, TokenLimit: 5})
			}
			for _, tok := range []int{0, 1, 2} {
				found, err := tx.CasesWithToken(searchToken(tok), 5)
				if err != nil {
					return err
				}
				got = append(got, fmt.Sprint(found))
			}
			scanned = e.Stats().Scanned - start
			if prefetch {
				tx.Prefetch(datastore.Prefetch{AmongTokens: [][]byte{searchToken(0)}, AmongCaseIDs: []uint64{ids[0], ids[2], ids[cases-1]}})
			}
			a, err := tx.CasesWithTokenAmong(searchToken(0), []uint64{ids[0], ids[2], ids[cases-1]})
			got = append(got, fmt.Sprint(a))
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		if want := fmt.Sprint([]string{oldest, newest, oldest, among}); fmt.Sprint(got) != want {
			t.Errorf("prefetch %v: the tokens' newest 5 and token 0 among 3 cases = %v, want %v", prefetch, got, want)
		}
		mu.Lock()
		if len(withValues) > 0 {
			t.Errorf("prefetch %v: the search read postings with their values in %d Ranges: %q", prefetch, len(withValues), withValues)
		}
		mu.Unlock()
		// Token 1's 200 postings once, the others' 3, and the buckets'
		// markers: a token's postings counted twice (a seek of its
		// oldest, then the walk back from its newest) passes 400.
		if scanned > cases+40 {
			t.Errorf("prefetch %v: the newest cases of a token of %d and two of 3 made the member count %d keys, more than %d", prefetch, cases, scanned, cases+40)
		}
	}
}

// A Range fetched for the walks that read keys only (kv.Range.KeysOnly)
// answers those walks, and nothing that reads values: a Get or a cursor
// of the same keys reads them from the cluster, with their values, as
// without it. A walk of keys only reads its own pages without values.
func TestKeysOnlyRangesServeKeyWalksOnly(t *testing.T) {
	e, _ := open(t, etcdstore.Config{}, etcdtest.WithoutFsync())
	fill(t, e, 30)
	err := e.View(t.Context(), func(tx kv.Tx) error {
		b := tx.Bucket(bucketName) // takes the snapshot
		kv.Prefetch(tx, kv.Range{Bucket: bucketName, From: key(10), To: key(20), Limit: 5, Reverse: true, KeysOnly: true})
		start := e.Stats().Reads
		walker := b.Cursor()
		kv.SetKeysOnly(walker)
		var keys []string
		for k, _ := walker.Seek(key(20)); k != nil; k, _ = walker.Prev() {
			if keys = append(keys, string(k)); len(keys) == 6 {
				break
			}
		}
		// Seek(k020) reads a page from k020 (past the range); the walk
		// back from it takes k019..k015 from the range.
		if got := e.Stats().Reads - start; got != 1 {
			t.Errorf("a walk of keys only over the range took %d round trips, want 1 (its Seek past it)", got)
		}
		if want := fmt.Sprint([]string{"k020", "k019", "k018", "k017", "k016", "k015"}); fmt.Sprint(keys) != want {
			t.Errorf("the walk of keys only took %v, want %v", keys, want)
		}
		start = e.Stats().Reads
		expect(t, "Get(k017)", key(17), b.Get(key(17)), 17)
		cur := b.Cursor()
		k, v := cur.Seek(key(18))
		expect(t, "Seek(k018)", k, v, 18)
		k, v = cur.Prev()
		expect(t, "Prev from k018", k, v, 17)
		if got := e.Stats().Reads - start; got == 0 {
			t.Errorf("a Get and a cursor with values over a range read keys only made no round trip: they were answered from it")
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
