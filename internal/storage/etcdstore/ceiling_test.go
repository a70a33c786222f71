package etcdstore_test

import (
	"bytes"
	"fmt"
	"slices"
	"testing"

	"github.com/childcase/childcase/internal/storage/etcdstore"
	"github.com/childcase/childcase/internal/storage/kv"
)

// A walk forwards through one prefix costs the member that prefix's keys
// only once its cursor has a ceiling: etcd counts every key of a Range up
// to its end, past its limit too, so a Seek without one costs the member
// every key after the cursor (on the 400-case benchmark, a search's seek
// of a token counted about 10,000 keys of the other tokens, and 64
// clients' reports made the member count 46 million keys per 64
// reports). Below the ceiling the walk reads as without one, the
// transaction's own writes among them; at or above it, it reads nil.
func TestCursorCeilingBoundsReadsForwards(t *testing.T) {
	e, err := etcdstore.NewEngine(newClient(t, startEtcd(t)), "", etcdstore.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	err = e.Update(t.Context(), func(tx kv.Tx) error {
		b, err := tx.CreateBucketIfNotExists(bucketName)
		if err != nil {
			return err
		}
		for _, p := range []string{"a", "b", "c"} {
			for i := range map[string]int{"a": 5, "b": 10, "c": 300}[p] {
				if err := b.Put(fmt.Appendf(nil, "%s%03d", p, i), []byte("v")); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	// walk takes the keys of prefix b from its first, as the layout
	// does, and the cursor's Last and its Seek of c; with write, the
	// transaction first writes b010 and c999.
	type walked struct {
		keys        []string
		last, seekC string
		scanned     int64
	}
	walk := func(ceiling []byte, write bool) walked {
		t.Helper()
		var w walked
		start := e.Stats().Scanned
		err := e.Update(t.Context(), func(tx kv.Tx) error {
			w = walked{}
			b := tx.Bucket(bucketName)
			if write {
				for _, k := range []string{"b010", "c999"} {
					if err := b.Put([]byte(k), []byte("new")); err != nil {
						return err
					}
				}
			}
			cur := b.Cursor()
			kv.SetCeiling(cur, ceiling)
			for k, _ := cur.Seek([]byte("b")); k != nil && bytes.HasPrefix(k, []byte("b")); k, _ = cur.Next() {
				w.keys = append(w.keys, string(k))
			}
			k, _ := cur.Last()
			w.last = string(k)
			k, _ = cur.Seek([]byte("c"))
			w.seekC = string(k)
			return errRollback
		})
		if err != errRollback {
			t.Fatal(err)
		}
		w.scanned = e.Stats().Scanned - start
		return w
	}
	var want []string
	for i := range 10 {
		want = append(want, fmt.Sprintf("b%03d", i))
	}
	got := walk(nil, false)
	if !slices.Equal(got.keys, want) || got.last != "c299" || got.seekC != "c000" {
		t.Fatalf("without a ceiling the walk took %q, Last %q, Seek(c) %q; want %q, c299, c000", got.keys, got.last, got.seekC, want)
	}
	if got.scanned < 300 {
		t.Fatalf("without a ceiling the member counted %d keys, not the 300 of c: this test would not see a ceiling work", got.scanned)
	}
	got = walk([]byte("c"), false)
	if !slices.Equal(got.keys, want) || got.last != "b009" || got.seekC != "" {
		t.Errorf("with the ceiling c the walk took %q, Last %q, Seek(c) %q; want %q, b009 and none", got.keys, got.last, got.seekC, want)
	}
	// The bucket's markers and the guard in the snapshot's first read,
	// b's 10 keys read by the Seek and again by the Last.
	if got.scanned > 40 {
		t.Errorf("with the ceiling c the member counted %d keys, more than b's and the markers (40)", got.scanned)
	}
	got = walk([]byte("c"), true)
	if want := append(want, "b010"); !slices.Equal(got.keys, want) || got.last != "b010" || got.seekC != "" {
		t.Errorf("with the ceiling c and b010, c999 written in the transaction the walk took %q, Last %q, Seek(c) %q; want %q, b010 and none",
			got.keys, got.last, got.seekC, want)
	}
}
