package etcdstore_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/childcase/childcase/internal/storage/etcdstore"
	"github.com/childcase/childcase/internal/storage/etcdstore/etcdtest"
	"github.com/childcase/childcase/internal/storage/kv"
)

// open starts a one-member cluster and an engine over it.
func open(t *testing.T, cfg etcdstore.Config, opts ...etcdtest.Option) (*etcdstore.Engine, *etcdtest.Cluster) {
	t.Helper()
	c := etcdtest.Start(t, 1, opts...)
	cfg.Endpoints = c.Endpoints()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	e, err := etcdstore.Open(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = e.Close() })
	return e, c
}

// sortedMaps is what the engine must behave like: buckets of sorted keys.
type sortedMaps struct {
	buckets map[string]map[string][]byte
	seqs    map[string]uint64
}

func (m sortedMaps) clone() sortedMaps {
	c := sortedMaps{buckets: map[string]map[string][]byte{}, seqs: maps.Clone(m.seqs)}
	for name, b := range m.buckets {
		c.buckets[name] = maps.Clone(b)
	}
	return c
}

// modelCursor walks a bucket of the model; pos -1 is past either end.
type modelCursor struct {
	keys []string
	b    map[string][]byte
	pos  int
}

func (c *modelCursor) at(i int) ([]byte, []byte) {
	if i < 0 || i >= len(c.keys) {
		c.pos = -1
		return nil, nil
	}
	c.pos = i
	return []byte(c.keys[i]), c.b[c.keys[i]]
}

func (c *modelCursor) step(d int) ([]byte, []byte) {
	if c.pos < 0 {
		return nil, nil
	}
	return c.at(c.pos + d)
}

var (
	bucketNames = []string{"a", "ab", "b"}
	keyBytes    = []byte{0x00, 0x01, 'a', 'b', 0xff}
)

func randKey(r *rand.Rand) []byte {
	k := make([]byte, 1+r.IntN(3))
	for i := range k {
		k[i] = keyBytes[r.IntN(len(keyBytes))]
	}
	return k
}

func randValue(r *rand.Rand) []byte {
	if r.IntN(5) == 0 {
		return []byte{} // a present key with an empty value
	}
	v := make([]byte, 1+r.IntN(20))
	for i := range v {
		v[i] = byte(r.UintN(256))
	}
	return v
}

func sameValue(got, want []byte) bool {
	return (got == nil) == (want == nil) && bytes.Equal(got, want)
}

// run plays ops random operations on tx and on m, and returns the first
// difference.
func run(tx kv.Tx, m sortedMaps, r *rand.Rand, ops int) error {
	for i := range ops {
		if r.IntN(6) == 0 {
			// A hint changes no answer, whatever it names.
			kv.Prefetch(tx, randRanges(r)...)
		}
		name := bucketNames[r.IntN(len(bucketNames))]
		mb, exists := m.buckets[name]
		b := tx.Bucket([]byte(name))
		if (b != nil) != exists {
			return fmt.Errorf("op %d: Bucket(%q) = %v, model has it: %v", i, name, b, exists)
		}
		op := r.IntN(100)
		if !tx.Writable() {
			op = 40 + r.IntN(40) // reads only
		}
		switch {
		case op < 5 && exists && r.IntN(30) == 0:
			// Rare, so that buckets grow past a cursor's first pages.
			if err := tx.DeleteBucket([]byte(name)); err != nil {
				return fmt.Errorf("op %d: DeleteBucket(%q): %w", i, name, err)
			}
			delete(m.buckets, name)
			delete(m.seqs, name)
		case op < 12 || !exists && op < 40:
			if !tx.Writable() {
				continue
			}
			if _, err := tx.CreateBucketIfNotExists([]byte(name)); err != nil {
				return fmt.Errorf("op %d: CreateBucketIfNotExists(%q): %w", i, name, err)
			}
			if !exists {
				m.buckets[name] = map[string][]byte{}
			}
		case !exists:
			continue
		case op < 30:
			k, v := randKey(r), randValue(r)
			if err := b.Put(k, v); err != nil {
				return fmt.Errorf("op %d: Put: %w", i, err)
			}
			mb[string(k)] = v
		case op < 38:
			k := randKey(r)
			if err := b.Delete(k); err != nil {
				return fmt.Errorf("op %d: Delete: %w", i, err)
			}
			delete(mb, string(k))
		case op < 40:
			s, err := b.NextSequence()
			if err != nil {
				return fmt.Errorf("op %d: NextSequence: %w", i, err)
			}
			m.seqs[name]++
			if s != m.seqs[name] {
				return fmt.Errorf("op %d: NextSequence of %q = %d, want %d", i, name, s, m.seqs[name])
			}
		case op < 55:
			k := randKey(r)
			if got, want := b.Get(k), mb[string(k)]; !sameValue(got, want) {
				return fmt.Errorf("op %d: Get(%q %x) = %x, want %x", i, name, k, got, want)
			}
		case op < 58:
			if got, want := b.Sequence(), m.seqs[name]; got != want {
				return fmt.Errorf("op %d: Sequence of %q = %d, want %d", i, name, got, want)
			}
		default:
			if err := walk(b.Cursor(), mb, r); err != nil {
				return fmt.Errorf("op %d: bucket %q: %w", i, name, err)
			}
		}
	}
	return nil
}

// randRanges are a few ranges of random buckets for kv.Prefetch: points,
// bounded and open ranges, limited or not, either way.
func randRanges(r *rand.Rand) []kv.Range {
	out := make([]kv.Range, 1+r.IntN(4))
	for i := range out {
		name := []byte(bucketNames[r.IntN(len(bucketNames))])
		if r.IntN(3) == 0 {
			out[i] = kv.Point(name, randKey(r))
			continue
		}
		from, to := randKey(r), randKey(r)
		if bytes.Compare(from, to) > 0 {
			from, to = to, from
		}
		switch r.IntN(4) {
		case 0:
			from = nil // from the bucket's start
		case 1:
			to = nil // to its end
		}
		out[i] = kv.Range{Bucket: name, From: from, To: to, Limit: r.IntN(20), Reverse: r.IntN(2) == 0}
	}
	return out
}

// walk starts a cursor somewhere and steps it both ways, comparing every
// answer with the model. A third of the walks give the cursor a floor
// (kv.Floorer): a move backwards whose answer in the model lies below it
// may answer anything below it, and ends the walk, as the layout's walks
// end there; every other answer is the model's.
func walk(c kv.Cursor, mb map[string][]byte, r *rand.Rand) error {
	mc := &modelCursor{keys: slices.Sorted(maps.Keys(mb)), b: mb}
	var floor []byte
	if r.IntN(3) == 0 {
		floor = randKey(r)
		kv.SetFloor(c, floor)
	}
	belowFloor := func(k []byte) bool { return floor != nil && (k == nil || bytes.Compare(k, floor) < 0) }
	backward := false
	var k, v, wk, wv []byte
	var what string
	switch r.IntN(3) {
	case 0:
		k, v = c.First()
		wk, wv = mc.at(0)
		what = "First"
	case 1:
		k, v = c.Last()
		wk, wv = mc.at(len(mc.keys) - 1)
		what, backward = "Last", true
	default:
		s := randKey(r)
		k, v = c.Seek(s)
		i, _ := slices.BinarySearch(mc.keys, string(s))
		wk, wv = mc.at(i)
		what = fmt.Sprintf("Seek(%x)", s)
	}
	// Long walks in one direction cross page boundaries.
	forward := r.IntN(2) == 0
	for step := 0; ; step++ {
		if backward && belowFloor(wk) {
			if !belowFloor(k) {
				return fmt.Errorf("%s (floor %x) = %x=%x, want %x=%x or a key below the floor", what, floor, k, v, wk, wv)
			}
			return nil
		}
		if !sameValue(k, wk) || !sameValue(v, wv) {
			return fmt.Errorf("%s (floor %x) = %x=%x, want %x=%x", what, floor, k, v, wk, wv)
		}
		if k == nil || step == 200 {
			return nil
		}
		if r.IntN(10) == 0 {
			forward = !forward
		}
		backward = !forward
		if forward {
			k, v = c.Next()
			wk, wv = mc.step(1)
			what += " Next"
		} else {
			k, v = c.Prev()
			wk, wv = mc.step(-1)
			what += " Prev"
		}
	}
}

var errRollback = errors.New("rollback")

// TestAgainstModel plays the same random operations on the engine and on
// sorted maps, in write transactions (some rolled back) and in views, and
// checks that every answer is the same.
func TestAgainstModel(t *testing.T) {
	e, _ := open(t, etcdstore.Config{}, etcdtest.WithoutFsync())
	playAgainstModel(t, e)
}

// TestTwoEnginesAgainstModel: the random operations of
// TestAgainstModel, each transaction on one of two engines over the same
// cluster (two instances): what one commits, the other's next
// transaction sees.
func TestTwoEnginesAgainstModel(t *testing.T) {
	e, other := twoEngines(t)
	playAgainstModel(t, e, other)
}

// twoEngines are two engines over one new one-member cluster, as two
// instances have.
func twoEngines(t *testing.T) (*etcdstore.Engine, *etcdstore.Engine) {
	t.Helper()
	e, c := open(t, etcdstore.Config{}, etcdtest.WithoutFsync())
	other, err := etcdstore.NewEngine(c.Client(t), "", etcdstore.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = other.Close() })
	return e, other
}

// readAhead is what a transaction of playAgainstModel gives Speculate:
// nothing, or its own body and a few others, each checked in its first
// run against the committed state that the transaction's snapshot holds;
// a difference fails the test. (Speculate may run a body again, showing
// it sequences past the snapshot's, as the bodies before it took them.)
func readAhead(t *testing.T, committed sortedMaps, txSeed uint64, ops int, r *rand.Rand) []func(kv.Tx) error {
	if r.IntN(2) == 0 {
		return nil
	}
	seeds := []uint64{txSeed}
	for range 1 + r.IntN(3) {
		seeds = append(seeds, r.Uint64())
	}
	fns := make([]func(kv.Tx) error, len(seeds))
	for i, seed := range seeds {
		var runs atomic.Int64
		fns[i] = func(tx kv.Tx) error {
			first := runs.Add(1) == 1
			err := run(tx, committed.clone(), rand.New(rand.NewPCG(seed, 2)), ops)
			if err != nil && first {
				t.Errorf("a body run ahead by Speculate: %v", err)
			}
			return nil
		}
	}
	return fns
}

// playAgainstModel plays random transactions, each on one of engines,
// and on the model, and checks that every answer is the same.
func playAgainstModel(t *testing.T, engines ...kv.Engine) {
	ctx := t.Context()
	seed := rand.Uint64()
	t.Logf("seed %d", seed)
	r := rand.New(rand.NewPCG(seed, 1))
	committed := sortedMaps{buckets: map[string]map[string][]byte{}, seqs: map[string]uint64{}}
	for txn := range 120 {
		e := engines[r.IntN(len(engines))]
		txSeed, ops := r.Uint64(), 1+r.IntN(60)
		switch kind := r.IntN(10); {
		case kind < 3:
			err := e.View(ctx, func(tx kv.Tx) error {
				return run(tx, committed.clone(), rand.New(rand.NewPCG(txSeed, 2)), ops)
			})
			if err != nil {
				t.Fatalf("txn %d (view): %v", txn, err)
			}
		default:
			rollback := kind == 9
			ahead := readAhead(t, committed, txSeed, ops, r)
			var after sortedMaps
			err := e.Update(ctx, func(tx kv.Tx) error {
				// A hint changes no answer, whatever its bodies do.
				kv.Speculate(tx, ahead...)
				after = committed.clone()
				if err := run(tx, after, rand.New(rand.NewPCG(txSeed, 2)), ops); err != nil {
					return err
				}
				if rollback {
					return errRollback
				}
				return nil
			})
			switch {
			case rollback && errors.Is(err, errRollback):
			case err != nil:
				t.Fatalf("txn %d (update): %v", txn, err)
			default:
				committed = after
			}
		}
	}
	// A last full comparison, across a fresh transaction.
	err := engines[0].View(ctx, func(tx kv.Tx) error {
		for _, name := range bucketNames {
			b, mb := tx.Bucket([]byte(name)), committed.buckets[name]
			if (b != nil) != (mb != nil) {
				return fmt.Errorf("bucket %q exists %v, want %v", name, b != nil, mb != nil)
			}
			if b == nil {
				continue
			}
			var got []string
			c := b.Cursor()
			for k, _ := c.First(); k != nil; k, _ = c.Next() {
				got = append(got, string(k))
			}
			if want := slices.Sorted(maps.Keys(mb)); !slices.Equal(got, want) {
				return fmt.Errorf("bucket %q holds %q, want %q", name, got, want)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
