package etcdstore_test

import (
	"bytes"
	"context"
	"slices"
	"sync"
	"testing"

	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
	"google.golang.org/grpc"

	"github.com/childcase/childcase/internal/storage/etcdstore"
	"github.com/childcase/childcase/internal/storage/etcdstore/etcdtest"
	"github.com/childcase/childcase/internal/storage/kv"
)

// A walk backwards through one prefix reads that prefix only once its
// cursor has a floor: etcd reads every key of a descending Range before
// it sorts them, so a Prev without one costs the member every key below
// the cursor (at a million cases, the case events of every earlier case
// for each step of a case). Keys at and above the floor read as without
// one, the transaction's own writes among them.
func TestCursorFloorBoundsReadsBackwards(t *testing.T) {
	c := etcdtest.Start(t, 1, etcdtest.WithoutFsync())
	var mu sync.Mutex
	var descending [][]byte // the first key in the bucket of each descending Range sent
	record := func(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoke grpc.UnaryInvoker, opts ...grpc.CallOption) error {
		var ranges []*pb.RangeRequest
		switch r := req.(type) {
		case *pb.RangeRequest:
			ranges = append(ranges, r)
		case *pb.TxnRequest:
			for _, op := range r.Success {
				if rr := op.GetRequestRange(); rr != nil {
					ranges = append(ranges, rr)
				}
			}
		}
		mu.Lock()
		for _, r := range ranges {
			if i := bytes.Index(r.Key, []byte("things/")); i >= 0 && r.SortOrder == pb.RangeRequest_DESCEND {
				descending = append(descending, bytes.Clone(r.Key[i+len("things/"):]))
			}
		}
		mu.Unlock()
		return invoke(ctx, method, req, reply, cc, opts...)
	}
	e, err := etcdstore.NewEngine(clientThrough(t, c, record), "", etcdstore.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	putPrefixed(t, e, map[string]int{"a": 300, "b": 10, "c": 5})
	// walk takes the keys of prefix b from the newest, as the layout
	// does: from the first key after it, backwards while they have it.
	walk := func(floor []byte, write bool) ([]string, [][]byte) {
		t.Helper()
		var keys []string
		mu.Lock()
		descending = nil
		mu.Unlock()
		err := e.Update(t.Context(), func(tx kv.Tx) error {
			keys = nil
			b := tx.Bucket(bucketName)
			if write {
				if err := b.Put([]byte("b010"), []byte("new")); err != nil {
					return err
				}
			}
			cur := b.Cursor()
			if floor != nil {
				kv.SetFloor(cur, floor)
			}
			cur.Seek([]byte("c"))
			for k, _ := cur.Prev(); k != nil && bytes.HasPrefix(k, []byte("b")); k, _ = cur.Prev() {
				keys = append(keys, string(k))
			}
			return errRollback
		})
		if err != errRollback {
			t.Fatal(err)
		}
		mu.Lock()
		defer mu.Unlock()
		return keys, slices.Clone(descending)
	}
	want := []string{"b009", "b008", "b007", "b006", "b005", "b004", "b003", "b002", "b001", "b000"}
	keys, sent := walk(nil, false)
	if !slices.Equal(keys, want) {
		t.Fatalf("without a floor the walk took %q, want %q", keys, want)
	}
	if !slices.ContainsFunc(sent, func(k []byte) bool { return bytes.Compare(k, []byte("b")) < 0 }) {
		t.Fatalf("without a floor, no descending Range reached below b (sent %q): this test would not see a floor work", sent)
	}
	keys, sent = walk([]byte("b"), false)
	if !slices.Equal(keys, want) {
		t.Errorf("with the floor b the walk took %q, want %q", keys, want)
	}
	for _, k := range sent {
		if bytes.Compare(k, []byte("b")) < 0 {
			t.Errorf("with the floor b a descending Range started at %q, below it", k)
		}
	}
	keys, _ = walk([]byte("b"), true)
	if want := append([]string{"b010"}, want...); !slices.Equal(keys, want) {
		t.Errorf("with the floor b and b010 written in the transaction the walk took %q, want %q", keys, want)
	}
}
