package boltstore

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

// The ranges of splitKeys cover every key of a bucket exactly once, in
// order, however few its keys or many the ranges: no keys, one key, fewer
// keys than ranges, keys sharing their first eight bytes, keys shorter or
// longer than eight, the largest and smallest numbers.
func TestSplitKeysCoverEveryKeyOnce(t *testing.T) {
	ids := func(vs ...uint64) [][]byte {
		var out [][]byte
		for _, v := range vs {
			out = append(out, be.AppendUint64(nil, v))
		}
		return out
	}
	var many []uint64
	for i := range uint64(1000) {
		many = append(many, 1+i*7)
	}
	cases := map[string][][]byte{
		"no keys":                      nil,
		"one key":                      ids(42),
		"two keys":                     ids(1, 2),
		"fewer keys than ranges":       ids(5, 6, 9),
		"the extremes":                 ids(0, 1, 1<<63, ^uint64(0)-1, ^uint64(0)),
		"a thousand ids":               ids(many...),
		"one leading number":           {[]byte("abcdefgh1"), []byte("abcdefgh2"), []byte("abcdefgh3")},
		"short and long keys":          {{0}, {0, 1}, {1}, []byte("report"), []byte("reports_by_taker\x00x"), {0xff, 0xff, 0xff}},
		"uuids":                        {bytes.Repeat([]byte{0x01}, 16), bytes.Repeat([]byte{0x7f}, 16), bytes.Repeat([]byte{0xfe}, 16)},
		"keys below the first's bound": {{0, 0, 0, 0, 0, 0, 0, 1, 5}, {0, 0, 0, 0, 0, 0, 0, 2}},
	}
	for name, keys := range cases {
		slices.SortFunc(keys, bytes.Compare)
		for _, n := range []int{0, 1, 2, 3, 7, 64} {
			t.Run(fmt.Sprintf("%s/%d", name, n), func(t *testing.T) {
				var first, last []byte
				if len(keys) > 0 {
					first, last = keys[0], keys[len(keys)-1]
				}
				rs := splitKeys(first, last, n)
				if len(rs) == 0 || len(rs) > max(n, 1) {
					t.Fatalf("%d ranges for %d wanted", len(rs), n)
				}
				if rs[0].from != nil || rs[len(rs)-1].to != nil {
					t.Fatalf("the ranges %q do not run from the first key to the last", rs)
				}
				for i := 1; i < len(rs); i++ {
					if !bytes.Equal(rs[i].from, rs[i-1].to) || bytes.Compare(rs[i-1].to, first) <= 0 || (rs[i-1].from != nil && bytes.Compare(rs[i-1].from, rs[i-1].to) >= 0) {
						t.Fatalf("the ranges %q are not in order, end to end, each after the first key", rs)
					}
				}
				var seen [][]byte
				for _, r := range rs {
					for _, k := range keys {
						if r.contains(k) {
							seen = append(seen, k)
						}
					}
				}
				if !slices.EqualFunc(seen, keys, bytes.Equal) {
					t.Errorf("the ranges %q hold %q, want each of %q once, in order", rs, seen, keys)
				}
			})
		}
	}
}

// A thousand case ids split in two, or in seven, come in ranges of about
// as many ids each.
func TestSplitKeysEvenly(t *testing.T) {
	for _, n := range []int{2, 7} {
		rs := splitKeys(be.AppendUint64(nil, 1), be.AppendUint64(nil, 1000), n)
		if len(rs) != n {
			t.Fatalf("%d ranges, want %d", len(rs), n)
		}
		for _, r := range rs {
			count := 0
			for id := uint64(1); id <= 1000; id++ {
				if r.contains(be.AppendUint64(nil, id)) {
					count++
				}
			}
			if want := 1000 / n; count < want-2 || count > want+2 {
				t.Errorf("%d in %d: a range holds %d ids, want about %d", 1000, n, count, want)
			}
		}
	}
}

// hasInOrder answers as has does, whatever the order of the keys asked
// for: in order (the keys of each prefix one after another, or with more
// than a few keys between them), backwards, at random; for keys before
// the first, after the last, between two, and of a nested bucket.
func TestHasInOrderIsHas(t *testing.T) {
	db, err := bolt.Open(filepath.Join(t.TempDir(), "x.db"), 0o600, &bolt.Options{Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	name := bucketCasesByUnit // a bucket of its own here: the file has no index bucket
	var stored [][]byte
	err = db.Update(func(btx *bolt.Tx) error {
		b, err := btx.CreateBucket(name)
		if err != nil {
			return err
		}
		for _, prefix := range []string{"a", "b", "c"} {
			for i := 10; i < 200; i += 1 + i%7 { // runs of keys, and gaps
				k := append([]byte(prefix+"\x00"), byte(i))
				stored = append(stored, k)
				if i == 45 {
					_, err = b.CreateBucket(k)
				} else {
					err = b.Put(k, []byte{1})
				}
				if err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	var all [][]byte // every key of the three prefixes and of one more, stored or not
	for _, prefix := range []string{"a", "b", "c", "d"} {
		for i := range 256 {
			all = append(all, append([]byte(prefix+"\x00"), byte(i)))
		}
	}
	rng := rand.New(rand.NewPCG(1, 2))
	orders := map[string][][]byte{
		"ascending": all,
		"descending": func() [][]byte {
			out := slices.Clone(all)
			slices.Reverse(out)
			return out
		}(),
		"random": shuffled(rng, all),
		"every third": func() (out [][]byte) {
			for i := 0; i < len(all); i += 3 {
				out = append(out, all[i])
			}
			return out
		}(),
		"every eleventh": func() (out [][]byte) {
			for i := 0; i < len(all); i += 11 {
				out = append(out, all[i])
			}
			return out
		}(),
	}
	for order, keys := range orders {
		err := db.View(func(btx *bolt.Tx) error {
			c := &checker{ctx: context.Background(), btx: btx, t: newReadTx(btx), res: &CheckResult{},
				cursors: map[string]*getCursor{}, seqCursors: map[string]*seqCursor{}}
			for _, k := range keys {
				if got, want := c.hasInOrder(name, k, 1), c.has(name, k); got != want {
					t.Errorf("%s: hasInOrder(%q) = %v, has = %v", order, k, got, want)
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	if len(stored) < 100 {
		t.Fatalf("only %d keys stored", len(stored))
	}
}

func shuffled(rng *rand.Rand, keys [][]byte) [][]byte {
	out := slices.Clone(keys)
	rng.Shuffle(len(out), func(i, j int) { out[i], out[j] = out[j], out[i] })
	return out
}
