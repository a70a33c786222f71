package etcdstore

import (
	"maps"
	"slices"
	"sync"

	"github.com/childcase/childcase/internal/storage/kv"
)

// maxSpeculating bounds the bodies one Speculate runs at once, and so the
// reads one transaction has in flight (64 writers at once share one or
// two transactions): enough that a large group waits for a few bodies'
// round trips in turn, few enough not to flood the member.
const maxSpeculating = 16

// Speculate implements kv.Speculator. The bodies of a group commit run one
// after another in one transaction, and each of their reads not yet in
// hand is a round trip in turn. Here each fn runs first on a throwaway
// transaction of its own at this one's snapshot (taken first when this
// one has not read yet), all at once, at most maxSpeculating at a time;
// what they read, the same answers at the same revision that this
// transaction would get, is then kept here as its first reads and
// Prefetch's are, under its own writes. So the serial run finds its reads
// in memory, and the group waits for about one body's round trips instead
// of all of them.
//
// Run alone, each body takes the next numbers of a sequence from the
// snapshot's, and reads the keys they name (a new report's, its audit
// events', a new case's), where run one after another each takes the
// numbers after those of the bodies before it. So the bodies that took
// numbers of a sequence that a body before them also took run once more,
// at once again, each shown that sequence as the bodies before it left
// it: they then read the keys of the numbers they will take. What they
// read is still the snapshot's.
//
// A single fn is not run: its reads would be made in turn there as in the
// transaction, so it would only cost its CPU twice. A fn that panics is
// ignored with what it read; one that fails keeps what it read, which is
// the snapshot's all the same. Nothing a throwaway transaction writes is
// ever sent.
func (t *tx) Speculate(fns ...func(kv.Tx) error) {
	if t.err != nil || len(fns) < 2 {
		return
	}
	if t.rev == 0 {
		if _, err := t.first(nil); err != nil {
			return // a hint: the transaction's own first read fails as without it
		}
	}
	runs := t.runAhead(fns, nil)
	if after, again := sequencesBefore(runs); again {
		t.runAhead(fns, after)
	}
}

// runAhead runs fns at once, each on a throwaway transaction, and gathers
// what they read into t. With after, it runs only the fns it has a map
// for, each shown the sequences it maps as that many numbers past the
// snapshot's. It returns the throwaway transaction of each fn that
// returned.
func (t *tx) runAhead(fns []func(kv.Tx) error, after []map[string]uint64) []*tx {
	runs := make([]*tx, len(fns))
	slots := make(chan struct{}, maxSpeculating)
	var wg sync.WaitGroup
	for i, fn := range fns {
		if after != nil && after[i] == nil {
			continue
		}
		s := t.throwaway()
		if after != nil {
			for name, n := range after[i] {
				if b := s.buckets[name]; b != nil && b.seqRead {
					b.seq = b.seqAtSnapshot + n
				}
			}
		}
		slots <- struct{}{}
		wg.Go(func() {
			defer func() { <-slots }()
			if s.speculate(fn) {
				runs[i] = s
			}
		})
	}
	// Every run has ended before this transaction reads on: the bodies
	// then run on it one at a time, as the kv contract has them.
	wg.Wait()
	for _, s := range runs {
		if s != nil {
			t.gather(s)
		}
	}
	return runs
}

// sequencesBefore returns, for each run that took numbers of a sequence
// that runs before it took too, how many those took of each such
// sequence: where the fn's own run in the transaction will find it. It
// reports whether there is any.
func sequencesBefore(runs []*tx) (after []map[string]uint64, any bool) {
	after = make([]map[string]uint64, len(runs))
	took := map[string]uint64{}
	for i, s := range runs {
		if s == nil {
			continue
		}
		for name, b := range s.buckets {
			if !b.seqRead || b.cleared || !b.seqDirty || b.seq <= b.seqAtSnapshot {
				continue
			}
			if n := took[name]; n > 0 {
				if after[i] == nil {
					after[i] = map[string]uint64{}
				}
				after[i][name] = n
				any = true
			}
			took[name] += b.seq - b.seqAtSnapshot
		}
	}
	return after, any
}

// throwaway returns a throwaway transaction at t's snapshot, writable
// (its body writes, into nothing) and knowing what t knows of the
// snapshot, but none of t's writes.
func (t *tx) throwaway() *tx {
	s := &tx{
		e: t.e, ctx: t.ctx, writable: true, speculative: true,
		rev: t.rev, guardRev: t.guardRev, serializable: t.serializable,
		buckets: make(map[string]*bucket, len(t.buckets)), got: t.got,
	}
	for name, b := range t.buckets {
		c := s.newBucket(name)
		c.atSnapshot, c.exists = b.atSnapshot, b.atSnapshot
		if b.seqRead {
			c.seq, c.seqLoaded, c.seqRead, c.seqAtSnapshot = b.seqAtSnapshot, true, true, b.seqAtSnapshot
		}
		if !b.cleared {
			c.windows, c.got = slices.Clip(b.windows), maps.Clone(b.got)
			c.inherited = len(c.windows)
		}
		s.buckets[name] = c
	}
	return s
}

// speculate runs fn on t, a throwaway transaction, and reports whether
// it returned. A panic stops here: the body's own run in the transaction
// panics in its turn, where the group commit answers it to its caller.
func (t *tx) speculate(fn func(kv.Tx) error) (returned bool) {
	defer func() {
		if recover() != nil {
			returned = false
		}
	}()
	_ = fn(t) // its error is the serial run's to find again
	return true
}

// keepPage keeps a cursor's page of the snapshot's keys as a window of
// its bucket when the transaction is a throwaway run of Speculate, for the
// transaction that gathers it; an ordinary cursor only keeps its last.
func (b *bucket) keepPage(w *window) {
	if b.t.speculative {
		b.windows = append(b.windows, w)
	}
}

// gather keeps in t what the throwaway transaction s read of their common
// snapshot: which buckets exist, their sequences, the answers to Gets and
// the windows of keys. As with Prefetch, a bucket that has none of the
// snapshot's keys to give (missing, created or deleted by t) takes no
// keys, and t's own writes stay in front of whatever it keeps.
func (t *tx) gather(s *tx) {
	for name, sb := range s.buckets {
		b, ok := t.buckets[name]
		if !ok {
			b = t.newBucket(name)
			b.atSnapshot, b.exists = sb.atSnapshot, sb.atSnapshot
			t.buckets[name] = b
		}
		if sb.seqRead && !b.seqLoaded {
			b.seq, b.seqLoaded, b.seqRead, b.seqAtSnapshot = sb.seqAtSnapshot, true, true, sb.seqAtSnapshot
		}
		if !b.atSnapshot || b.cleared {
			continue
		}
		for _, w := range sb.windows[sb.inherited:] {
			if !slices.ContainsFunc(b.windows, w.sameSpan) {
				b.windows = append(b.windows, w)
			}
		}
		for key, v := range sb.got {
			if _, ok := b.got[key]; ok || t.got >= maxGot {
				continue
			}
			if b.got == nil {
				b.got = map[string][]byte{}
			}
			b.got[key] = v
			t.got++
		}
	}
}

// sameSpan reports whether w and o cover the same keys, both with their
// values or both without: at one snapshot, they then hold the same ones,
// so a transaction needs only one of them.
func (w *window) sameSpan(o *window) bool {
	return w == o || string(w.lo) == string(o.lo) && (w.hi == nil) == (o.hi == nil) && string(w.hi) == string(o.hi) &&
		w.keysOnly == o.keysOnly
}
