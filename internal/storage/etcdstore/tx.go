package etcdstore

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"sort"

	"time"

	"github.com/tidwall/btree"
	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/childcase/childcase/internal/domain/model"
	"github.com/childcase/childcase/internal/storage/kv"
)

// Retries of a write transaction whose guard compare failed: the pause
// before attempt n is jittered in [0, min(maxPause, minPause<<n)), so
// that writers that met once do not meet again in step.
const (
	maxAttempts = 100
	minPause    = time.Millisecond
	maxPause    = 50 * time.Millisecond
)

// Cursor pages: small first (most cursors read a key or two after a
// Seek), doubling up to maxPage for long walks.
const (
	firstPage = 16
	maxPage   = 1024
)

// requestOverhead is what etcd adds around a Txn before it checks
// --max-request-bytes (the raft request's header), with room to spare.
const requestOverhead = 1024

// ErrContended is what Update wraps when its body lost the commit to
// other writers maxAttempts times in a row.
var ErrContended = errors.New("etcd: the transaction kept conflicting with other writers")

var (
	errNotWritable    = errors.New("etcd: the transaction is read-only")
	errBucketNotFound = errors.New("etcd: bucket not found")
	errKeyRequired    = errors.New("etcd: the key is empty")
)

var (
	_ kv.Engine     = (*Engine)(nil)
	_ kv.Bucket     = (*bucket)(nil)
	_ kv.Prefetcher = (*tx)(nil)
	_ kv.Speculator = (*tx)(nil)
)

// View runs fn over one snapshot of the cluster. Its first read is
// linearizable: a View sees every write acknowledged before it began, on
// any instance (a serializable read from a member that lags would miss
// one, and break read-your-writes across instances).
func (e *Engine) View(ctx context.Context, fn func(kv.Tx) error) error {
	t := e.newTx(ctx, false, false)
	err := fn(t)
	if t.err != nil {
		return t.err
	}
	return err
}

// Fits runs fn in a write transaction, as Update's first attempt does,
// and reports whether what it wrote fits one commit under the engine's
// limits (an error wrapping kv.ErrTooLarge when not), sending none of it:
// check asks it whether the commit a start would make on a store of an
// older schema version goes through with the same limits.
func (e *Engine) Fits(ctx context.Context, fn func(kv.Tx) error) error {
	t := e.newTx(ctx, true, true)
	err := fn(t)
	if t.err != nil {
		return t.err
	}
	if err != nil {
		return err
	}
	_, _, err = t.prepare()
	return err
}

// Update runs fn and commits what it wrote, re-running it from a new
// snapshot when another writer committed first.
//
// The first attempt takes its snapshot with a serializable read, which the
// member that answers serves alone, without the round trip through the
// leader a linearizable read makes: it may be stale, behind a write
// acknowledged elsewhere. A commit is safe anyway, since its guard compare
// fails on any snapshot older than the last commit and the body re-runs. A
// body that returns an error or writes nothing commits nothing, so
// nothing checked its snapshot: before its answer stands, a linearizable
// read of the guard confirms that no write committed after the snapshot;
// when one did, the body re-runs. Re-runs take linearizable snapshots.
func (e *Engine) Update(ctx context.Context, fn func(kv.Tx) error) error {
	for attempt := 0; ; attempt++ {
		t := e.newTx(ctx, true, attempt == 0)
		err := fn(t)
		if t.err != nil {
			return t.err
		}
		var committed bool
		if err == nil {
			committed, err = t.commit()
			if err != nil {
				return err
			}
		}
		if t.written && committed {
			return nil
		}
		if !t.written {
			// The body's error, or its reads that wrote nothing.
			current, cerr := t.snapshotCurrent()
			if cerr != nil {
				return cerr
			}
			if current {
				return err
			}
		}
		e.conflicts.Add(1)
		if attempt+1 == maxAttempts {
			return fmt.Errorf("%w (%d attempts)", ErrContended, maxAttempts)
		}
		timer := time.NewTimer(pause(attempt))
		select {
		case <-ctx.Done():
			timer.Stop()
			return fmt.Errorf("etcd update: %w", ctx.Err())
		case <-timer.C:
		}
	}
}

// snapshotCurrent reports whether what the transaction read is still the
// cluster's state: its snapshot was linearizable, or no write committed
// after it (the guard's mod revision is the one the snapshot saw), which a
// linearizable read of the guard tells.
func (t *tx) snapshotCurrent() (bool, error) {
	if !t.serializable || t.rev == 0 {
		return true, nil
	}
	t.e.reads.Add(1)
	resp, err := t.e.client.Get(t.ctx, t.e.guard)
	if err != nil {
		return false, fmt.Errorf("etcd read of the commit guard: %w", mapErr(err))
	}
	var guardRev int64
	if len(resp.Kvs) > 0 {
		guardRev = resp.Kvs[0].ModRevision
	}
	return guardRev == t.guardRev, nil
}

// pause is how long Update waits before re-running a body that lost
// attempt+1 commits in a row: jittered, doubling from minPause up to
// maxPause.
func pause(attempt int) time.Duration {
	ceiling := min(maxPause, minPause<<min(attempt, 16))
	return 1 + time.Duration(rand.Int64N(int64(ceiling)))
}

type tx struct {
	e        *Engine
	ctx      context.Context
	writable bool
	// rev is the snapshot revision, 0 before the first read; guardRev is
	// the guard's mod revision at rev (0 when it had none).
	rev, guardRev int64
	// serializable: the snapshot is taken by a serializable read (see
	// Update); written: commit found writes to send.
	serializable, written bool
	// err is the first failed read: from then on the transaction reads
	// nothing and neither returns nor commits anything else.
	err     error
	buckets map[string]*bucket
	// got counts the answers the buckets' got keep.
	got int
	// speculative: a throwaway run of Speculate, which is never
	// committed; its cursors keep the pages they read as windows of
	// their buckets, for the transaction that gathers them.
	speculative bool
}

func (e *Engine) newTx(ctx context.Context, writable, serializable bool) *tx {
	return &tx{e: e, ctx: ctx, writable: writable, serializable: serializable, buckets: map[string]*bucket{}}
}

func (t *tx) Writable() bool { return t.writable }

// get is one Range of a read: a key, and the options of clientv3.OpGet.
type get struct {
	key  string
	opts []clientv3.OpOption
}

// read runs a Range at the snapshot revision; nil after a failed read.
func (t *tx) read(key string, opts ...clientv3.OpOption) *pb.RangeResponse {
	if t.err != nil {
		return nil
	}
	if t.rev == 0 {
		resps, err := t.first([]get{{key, opts}})
		if err != nil {
			t.fail(err)
			return nil
		}
		return resps[0]
	}
	at := append(opts, clientv3.WithRev(t.rev))
	t.e.reads.Add(1)
	resp, err := t.e.client.Get(t.ctx, key, append(at, clientv3.WithSerializable())...)
	if errors.Is(err, rpctypes.ErrFutureRev) {
		// This member has not applied the snapshot yet: ask the leader.
		t.e.reads.Add(1)
		resp, err = t.e.client.Get(t.ctx, key, at...)
	}
	if err != nil {
		t.fail(err)
		return nil
	}
	t.e.scanned.Add(resp.Count)
	return (*pb.RangeResponse)(resp)
}

// first is the transaction's first read: it takes the snapshot and the
// guard in the same round trip as the Ranges gs (a read-only Txn is
// answered at one revision), and returns their answers. It is
// serializable when all its Gets are.
func (t *tx) first(gs []get) ([]*pb.RangeResponse, error) {
	guardOpts := []clientv3.OpOption(nil)
	if t.serializable {
		guardOpts = []clientv3.OpOption{clientv3.WithSerializable()}
	}
	ops := []clientv3.Op{clientv3.OpGet(t.e.guard, guardOpts...)}
	for _, g := range gs {
		ops = append(ops, clientv3.OpGet(g.key, append(slices.Clip(g.opts), guardOpts...)...))
	}
	// It also brings the markers (and in a write, the sequences) of the
	// buckets earlier transactions found, which a transaction would
	// otherwise read one round trip each.
	names, seqs := t.e.known.get()
	if !t.writable {
		seqs = nil
	}
	// Within MaxTxnOps, which the cluster may allow and no more: a hint
	// that does not fit is left out, and read when needed.
	room := max(0, t.e.limits.MaxTxnOps-len(ops))
	names = names[:min(len(names), room)]
	seqs = seqs[:min(len(seqs), room-len(names))]
	for _, name := range names {
		ops = append(ops, clientv3.OpGet(t.e.prefix+name, guardOpts...))
	}
	for _, name := range seqs {
		ops = append(ops, clientv3.OpGet(t.e.prefix+name+"#seq", guardOpts...))
	}
	t.e.reads.Add(1)
	resp, err := t.e.client.Txn(t.ctx).Then(ops...).Commit()
	if err != nil {
		return nil, err
	}
	t.rev = resp.Header.Revision
	t.e.scannedBy(resp)
	if kvs := resp.Responses[0].GetResponseRange().Kvs; len(kvs) > 0 {
		t.guardRev = kvs[0].ModRevision
	}
	known := resp.Responses[1+len(gs):]
	for i, name := range names {
		b := t.newBucket(name)
		b.atSnapshot = len(known[i].GetResponseRange().Kvs) > 0
		b.exists = b.atSnapshot
		t.buckets[name] = b
	}
	for i, name := range seqs {
		if b := t.buckets[name]; b != nil {
			b.setSeq(known[len(names)+i].GetResponseRange())
		}
	}
	out := make([]*pb.RangeResponse, len(gs))
	for i := range gs {
		out[i] = resp.Responses[1+i].GetResponseRange()
	}
	return out, nil
}

// readMany runs the Ranges gs in one read-only Txn at the snapshot
// revision, which must have been taken.
func (t *tx) readMany(gs []get) ([]*pb.RangeResponse, error) {
	txn := func(serializable bool) (*clientv3.TxnResponse, error) {
		ops := make([]clientv3.Op, len(gs))
		for i, g := range gs {
			opts := append(slices.Clip(g.opts), clientv3.WithRev(t.rev))
			if serializable {
				opts = append(opts, clientv3.WithSerializable())
			}
			ops[i] = clientv3.OpGet(g.key, opts...)
		}
		t.e.reads.Add(1)
		return t.e.client.Txn(t.ctx).Then(ops...).Commit()
	}
	resp, err := txn(true)
	if errors.Is(err, rpctypes.ErrFutureRev) {
		// This member has not applied the snapshot yet: ask the leader.
		resp, err = txn(false)
	}
	if err != nil {
		return nil, err
	}
	t.e.scannedBy(resp)
	out := make([]*pb.RangeResponse, len(gs))
	for i := range gs {
		out[i] = resp.Responses[i].GetResponseRange()
	}
	return out, nil
}

// scannedBy counts the keys the member counted for the Ranges of a
// read-only Txn (Stats.Scanned).
func (e *Engine) scannedBy(resp *clientv3.TxnResponse) {
	for _, r := range resp.Responses {
		e.scanned.Add(r.GetResponseRange().GetCount())
	}
}

// Prefetch reads the ranges in one round trip (more when they hold more
// operations than a Txn takes), at the snapshot (taking it when this is
// the transaction's first read), with the markers of the buckets the
// transaction has not looked at yet, and keeps each range's answer as a
// window of its bucket, which Get and the cursors read before they ask
// the cluster. A range of a bucket that has none of the snapshot's keys
// to give (missing, created or deleted by the transaction) is left out.
// It is a hint: a failure is dropped here, and the read it would have
// answered is made, and fails, as without it.
func (t *tx) Prefetch(ranges ...kv.Range) {
	if t.err != nil {
		return
	}
	type pending struct {
		b *bucket
		r kv.Range
	}
	var gs []get
	var unseen []*bucket // whose markers gs read first
	var want []pending
	for _, r := range ranges {
		if validName(r.Bucket) != nil || r.Limit < 0 || r.To != nil && bytes.Compare(r.From, r.To) >= 0 {
			continue
		}
		b, ok := t.buckets[string(r.Bucket)]
		if !ok {
			i := slices.IndexFunc(unseen, func(b *bucket) bool { return b.name == string(r.Bucket) })
			if i < 0 {
				i = len(unseen)
				unseen = append(unseen, t.newBucket(string(r.Bucket)))
			}
			b = unseen[i]
		} else if !b.atSnapshot || b.cleared || b.holds(r) {
			continue
		}
		want = append(want, pending{b, r})
	}
	if len(want) == 0 {
		return
	}
	for _, b := range unseen {
		gs = append(gs, get{key: b.marker})
	}
	for _, w := range want {
		gs = append(gs, w.b.rangeGet(w.r))
	}
	// Room for the first read's guard and known buckets beside the
	// ranges, under the cluster's --max-txn-ops.
	chunk := max(1, t.e.limits.MaxTxnOps-1-maxKnownBuckets)
	resps := make([]*pb.RangeResponse, 0, len(gs))
	for part := range slices.Chunk(gs, chunk) {
		var got []*pb.RangeResponse
		var err error
		if t.rev == 0 {
			got, err = t.first(part)
		} else {
			got, err = t.readMany(part)
		}
		if err != nil {
			break
		}
		resps = append(resps, got...)
	}
	for i, b := range unseen {
		if i == len(resps) {
			return
		}
		if _, ok := t.buckets[b.name]; ok {
			continue // the snapshot's first read brought it
		}
		b.atSnapshot = len(resps[i].Kvs) > 0
		b.exists = b.atSnapshot
		t.buckets[b.name] = b
		if b.exists {
			t.e.known.add(b.name, false)
		}
	}
	for i, w := range want {
		j := len(unseen) + i
		if j >= len(resps) {
			return
		}
		b := t.buckets[w.b.name]
		if b.atSnapshot && !b.cleared {
			b.windows = append(b.windows, b.newWindow(w.r.From, w.r.To, w.r.Reverse, w.r.KeysOnly, resps[j]))
		}
	}
}

// holds reports whether the transaction already holds the snapshot's
// answer to r: a window over all of its keys (one a run ahead by
// Speculate read, of a range that reached further), or, for a Point, a
// Get's answer.
func (b *bucket) holds(r kv.Range) bool {
	if r.Limit == 1 && r.To != nil && bytes.Equal(r.To, append(slices.Clip(r.From), 0)) {
		if _, ok := b.got[string(r.From)]; ok {
			return true
		}
	}
	w := b.windowFrom(r.From, r.KeysOnly)
	return w != nil && (w.hi == nil || r.To != nil && bytes.Compare(r.To, w.hi) <= 0)
}

// rangeGet is the Range of the bucket's keys that r asks for.
func (b *bucket) rangeGet(r kv.Range) get {
	end := b.hi
	if r.To != nil {
		end = b.lo + string(r.To)
	}
	order := clientv3.SortAscend
	if r.Reverse {
		order = clientv3.SortDescend
	}
	opts := []clientv3.OpOption{
		clientv3.WithRange(end), clientv3.WithLimit(int64(r.Limit)), clientv3.WithSort(clientv3.SortByKey, order),
	}
	if r.KeysOnly {
		opts = append(opts, clientv3.WithKeysOnly())
	}
	return get{key: b.lo + string(r.From), opts: opts}
}

func (t *tx) fail(err error) {
	if t.err == nil {
		t.err = fmt.Errorf("etcd read at revision %d: %w", t.rev, mapErr(err))
	}
}

// mapErr turns etcd's refusals into the errors the kv and datastore
// contracts name.
func mapErr(err error) error {
	switch {
	case errors.Is(err, rpctypes.ErrNoSpace), errors.Is(err, rpctypes.ErrGRPCNoSpace):
		return fmt.Errorf("%w: %w", model.ErrFull, err)
	case errors.Is(err, rpctypes.ErrTooManyOps), errors.Is(err, rpctypes.ErrGRPCTooManyOps),
		errors.Is(err, rpctypes.ErrRequestTooLarge), errors.Is(err, rpctypes.ErrGRPCRequestTooLarge):
		return fmt.Errorf("%w: the cluster refused it (start etcd with at least the engine's limits): %w", kv.ErrTooLarge, err)
	case unavailable(err):
		return fmt.Errorf("%w: %w", model.ErrUnavailable, err)
	}
	return err
}

// unavailable reports whether err is etcd saying it cannot answer now
// (a leader change, no leader, a request timed out in the cluster, no
// member reachable): a failure that passes, unlike a refusal.
func unavailable(err error) bool {
	var ee rpctypes.EtcdError
	if errors.As(err, &ee) {
		return ee.Code() == codes.Unavailable
	}
	if s, ok := status.FromError(err); ok {
		return s.Code() == codes.Unavailable
	}
	return false
}

// bucket is a bucket's state in one transaction: what the snapshot holds
// and what the transaction wrote over it.
type bucket struct {
	t    *tx
	name string
	// marker, seqKey, lo and hi are its etcd keys: lo and hi bound its
	// keys' range [lo, hi).
	marker, seqKey, lo, hi string
	// atSnapshot: the marker is in the snapshot; exists: the bucket
	// exists now.
	atSnapshot, exists bool
	// cleared: the transaction deleted the bucket, so nothing of the
	// snapshot's keys counts any more.
	cleared bool
	seq     uint64
	// seqLoaded: seq holds the sequence; seqDirty: it must be written.
	seqLoaded, seqDirty bool
	// seqRead: the sequence was read from the snapshot, which held
	// seqAtSnapshot (seq moves on with the transaction's NextSequence).
	seqRead       bool
	seqAtSnapshot uint64
	// writes are the transaction's puts and deletes, by key.
	writes *btree.BTreeG[*write]
	// windows are what Prefetch brought of the snapshot's keys; got are
	// the snapshot's answers to Gets (nil: no such key).
	windows []*window
	got     map[string][]byte
	// inherited counts the windows a throwaway run of Speculate started
	// with: those of the transaction it was made of, which has them.
	inherited int
}

// window is what a transaction knows of the snapshot's keys in [lo, hi)
// of a bucket: every one of them is in keys (ascending, relative to the
// bucket), with its value, or with an empty one when keysOnly (read for
// the cursors that read keys only, kv.KeyWalker). An empty lo is the
// bucket's start, a nil hi its end.
type window struct {
	lo, hi     []byte
	keys, vals [][]byte
	keysOnly   bool
}

// newWindow is the window of an answer to a Range of the bucket's keys in
// [from, to) (a nil to: the bucket's end), ascending or (reverse)
// descending, with their values or (keysOnly) without: with more keys
// than its limit, the answer covers the range only as far as its last
// key.
func (b *bucket) newWindow(from, to []byte, reverse, keysOnly bool, resp *pb.RangeResponse) *window {
	w := &window{lo: from, hi: to, keys: make([][]byte, 0, len(resp.Kvs)), vals: make([][]byte, 0, len(resp.Kvs)), keysOnly: keysOnly}
	for _, p := range resp.Kvs {
		w.keys = append(w.keys, p.Key[len(b.lo):])
		w.vals = append(w.vals, present(p.Value))
	}
	if reverse {
		slices.Reverse(w.keys)
		slices.Reverse(w.vals)
	}
	if resp.More && len(w.keys) > 0 {
		if reverse {
			w.lo = w.keys[0]
		} else {
			w.hi = append(slices.Clip(w.keys[len(w.keys)-1]), 0)
		}
	}
	return w
}

// holdsFrom reports whether w knows the first key at or after s.
func (w *window) holdsFrom(s []byte) bool {
	return bytes.Compare(s, w.lo) >= 0 && (w.hi == nil || bytes.Compare(s, w.hi) < 0)
}

// holdsBefore reports whether w knows the last key before before (nil:
// the bucket's end), or that there is none: it covers some keys below
// it.
func (w *window) holdsBefore(before []byte) bool {
	if before == nil {
		return w.hi == nil
	}
	return bytes.Compare(w.lo, before) < 0 && (w.hi == nil || bytes.Compare(before, w.hi) <= 0)
}

// firstFrom returns the index of the first key of w at or after s.
func (w *window) firstFrom(s []byte) int {
	return sort.Search(len(w.keys), func(i int) bool { return bytes.Compare(w.keys[i], s) >= 0 })
}

// windowFrom returns a prefetched window that knows the first key at or
// after s, or nil; one without values only for a reader of keys only.
func (b *bucket) windowFrom(s []byte, keysOnly bool) *window {
	for _, w := range b.windows {
		if (keysOnly || !w.keysOnly) && w.holdsFrom(s) {
			return w
		}
	}
	return nil
}

// windowBefore returns a prefetched window that knows the last key before
// before, or nil; one without values only for a reader of keys only.
func (b *bucket) windowBefore(before []byte, keysOnly bool) *window {
	for _, w := range b.windows {
		if (keysOnly || !w.keysOnly) && w.holdsBefore(before) {
			return w
		}
	}
	return nil
}

// write is a put, or a delete when deleted is set.
type write struct {
	key, value []byte
	deleted    bool
}

func lessWrite(a, b *write) bool { return bytes.Compare(a.key, b.key) < 0 }

// validName refuses the names whose keys would fall in another bucket's
// range or on the engine's own keys.
func validName(name []byte) error {
	if len(name) == 0 {
		return errors.New("etcd: the bucket name is empty")
	}
	if bytes.ContainsAny(name, "/#\x00") {
		return fmt.Errorf("etcd: bucket name %q holds '/', '#' or a zero byte", name)
	}
	return nil
}

// state returns the bucket's state, reading its marker on first use.
func (t *tx) state(name []byte) *bucket {
	if b, ok := t.buckets[string(name)]; ok {
		return b
	}
	b := t.newBucket(string(name))
	resp := t.read(b.marker)
	if resp == nil {
		return b // not cached: the transaction has failed anyway
	}
	if b, ok := t.buckets[string(name)]; ok {
		return b // the snapshot's first read brought it
	}
	b.atSnapshot = len(resp.Kvs) > 0
	b.exists = b.atSnapshot
	t.buckets[b.name] = b
	if b.exists {
		t.e.known.add(b.name, false)
	}
	return b
}

func (t *tx) newBucket(name string) *bucket {
	p := t.e.prefix + name
	return &bucket{
		t: t, name: name,
		marker: p, seqKey: p + "#seq", lo: p + "/", hi: p + "0",
		writes: btree.NewBTreeGOptions(lessWrite, btree.Options{NoLocks: true}),
	}
}

// Bucket returns the bucket, nil when it does not exist; after a failed
// read, a bucket that reads nothing and refuses writes, whether it exists
// or not: the stored layout takes its buckets as there (on a file they
// always are), and its body must run to its end for View or Update to
// return the failure, not panic on a nil bucket.
func (t *tx) Bucket(name []byte) kv.Bucket {
	if validName(name) != nil {
		return nil
	}
	// After a failed read every bucket reads as empty rather than as
	// missing (the kv contract): the layout takes its buckets for granted,
	// and the error reaches the caller through View or Update.
	if b := t.state(name); b.exists || t.err != nil {
		return b
	}
	return nil
}

func (t *tx) CreateBucketIfNotExists(name []byte) (kv.Bucket, error) {
	if !t.writable {
		return nil, errNotWritable
	}
	if err := validName(name); err != nil {
		return nil, err
	}
	b := t.state(name)
	if t.err != nil {
		return nil, t.err
	}
	b.exists = true
	return b, nil
}

func (t *tx) DeleteBucket(name []byte) error {
	if !t.writable {
		return errNotWritable
	}
	if err := validName(name); err != nil {
		return err
	}
	b := t.state(name)
	if t.err != nil {
		return t.err
	}
	if !b.exists {
		return fmt.Errorf("delete bucket %q: %w", name, errBucketNotFound)
	}
	b.exists, b.cleared = false, true
	b.writes.Clear()
	b.seq, b.seqLoaded, b.seqDirty = 0, true, true
	return nil
}

// usable says why the bucket cannot be written now, if it cannot.
func (b *bucket) writableErr() error {
	switch {
	case !b.t.writable:
		return errNotWritable
	case !b.exists:
		return fmt.Errorf("bucket %q: %w", b.name, errBucketNotFound)
	}
	return nil
}

// present is a stored value as the kv contract wants it: a present key
// with an empty value is an empty slice, never nil.
func present(v []byte) []byte {
	if v == nil {
		return []byte{}
	}
	return v
}

func (b *bucket) Get(key []byte) []byte {
	if b.t.err != nil || !b.exists {
		return nil
	}
	if w, ok := b.writes.Get(&write{key: key}); ok {
		if w.deleted {
			return nil
		}
		return w.value
	}
	if b.cleared || len(key) == 0 {
		return nil
	}
	if w := b.windowFrom(key, false); w != nil {
		if i := w.firstFrom(key); i < len(w.keys) && bytes.Equal(w.keys[i], key) {
			return w.vals[i]
		}
		return nil
	}
	if v, ok := b.got[string(key)]; ok {
		return v
	}
	resp := b.t.read(b.lo + string(key))
	if resp == nil {
		return nil
	}
	var v []byte
	if len(resp.Kvs) > 0 {
		v = present(resp.Kvs[0].Value)
	}
	// The snapshot does not change: a key read again (the layout reads
	// some, a data key, a case, several times in one write) is answered
	// from memory, up to maxGot keys a transaction.
	if b.t.got < maxGot {
		if b.got == nil {
			b.got = map[string][]byte{}
		}
		b.got[string(key)] = v
		b.t.got++
	}
	return v
}

// maxGot bounds the snapshot's answers to Gets a transaction keeps
// (bucket.got): a long read (a check of every record) keeps no more.
const maxGot = 4096

func (b *bucket) Put(key, value []byte) error {
	if err := b.writableErr(); err != nil {
		return err
	}
	if len(key) == 0 {
		return errKeyRequired
	}
	b.writes.Set(&write{key: key, value: present(value)})
	return nil
}

func (b *bucket) Delete(key []byte) error {
	if err := b.writableErr(); err != nil {
		return err
	}
	if b.cleared {
		// Nothing of the snapshot is left to hide.
		b.writes.Delete(&write{key: key})
		return nil
	}
	b.writes.Set(&write{key: key, deleted: true})
	return nil
}

// loadSeq reads the sequence once per transaction.
func (b *bucket) loadSeq() uint64 {
	if b.seqLoaded {
		return b.seq
	}
	if resp := b.t.read(b.seqKey); resp != nil && !b.seqLoaded {
		b.setSeq(resp)
		b.t.e.known.add(b.name, true)
	}
	return b.seq
}

// setSeq takes the sequence from the snapshot's answer for its key.
func (b *bucket) setSeq(resp *pb.RangeResponse) {
	if len(resp.Kvs) > 0 {
		v := resp.Kvs[0].Value
		if len(v) != 8 {
			b.t.err = fmt.Errorf("etcd: sequence of bucket %q is %d bytes, not 8", b.name, len(v))
			return
		}
		b.seq = binary.BigEndian.Uint64(v)
	}
	b.seqLoaded = true
	b.seqRead, b.seqAtSnapshot = true, b.seq
}

func (b *bucket) NextSequence() (uint64, error) {
	if err := b.writableErr(); err != nil {
		return 0, err
	}
	s := b.loadSeq()
	if b.t.err != nil {
		return 0, b.t.err
	}
	b.seq, b.seqDirty = s+1, true
	return b.seq, nil
}

// Sequence returns the bucket's current sequence (0 when none was
// taken).
func (b *bucket) Sequence() uint64 {
	if b.t.err != nil {
		return 0
	}
	return b.loadSeq()
}

// SetSequence sets the bucket's sequence, in a writable transaction.
func (b *bucket) SetSequence(v uint64) error {
	if err := b.writableErr(); err != nil {
		return err
	}
	b.seq, b.seqLoaded, b.seqDirty = v, true, true
	return nil
}

func (b *bucket) Cursor() kv.Cursor { return &cursor{b: b, page: firstPage} }

// cursor merges the snapshot's keys of its bucket, read a page at a
// time, with the transaction's writes.
type cursor struct {
	b *bucket
	// pos is the key the cursor is on, nil past either end.
	pos []byte
	// w is the window of the snapshot the cursor read last: its last
	// page, or a window Prefetch brought; nil before the first.
	w    *window
	page int64
	// floor is the least key a walk backwards needs (kv.Floorer), nil
	// for none: the reads backwards start there, not at the bucket's
	// first key.
	floor []byte
	// ceiling is the key from which the walk needs none (kv.Ceiler),
	// nil for none: the reads forwards end there, not at the bucket's
	// end, and the cursor answers nil at or above it.
	ceiling []byte
	// keysOnly: the walk reads keys only (kv.KeyWalker), so its pages
	// are read without values and it may read windows without them.
	keysOnly bool
}

var (
	_ kv.Floorer   = (*cursor)(nil)
	_ kv.Ceiler    = (*cursor)(nil)
	_ kv.KeyWalker = (*cursor)(nil)
)

// SetFloor implements kv.Floorer: etcd answers a descending Range only
// after reading every key of it, so a read backwards from a key with
// nothing below to stop it costs the member the whole bucket below.
func (c *cursor) SetFloor(floor []byte) { c.floor = bytes.Clone(floor) }

// SetCeiling implements kv.Ceiler: etcd counts every key of a Range up to
// its end, past its limit too, so a page read from a key to the bucket's
// end costs the member the rest of the bucket.
func (c *cursor) SetCeiling(ceiling []byte) { c.ceiling = bytes.Clone(ceiling) }

// SetKeysOnly implements kv.KeyWalker: etcd reads the value of every key
// of a Range from its backend file, and a descending Range reads every
// key of it before it takes its limit, while keys alone come from its
// in-memory index (a search's walk back through a token's thousands of
// postings, whose values are empty).
func (c *cursor) SetKeysOnly() { c.keysOnly = true }

// readPage is a Range of the bucket's keys from key to end, of the next
// page's size, in the order given, and without values for a cursor
// that reads keys only.
func (c *cursor) readPage(key, end string, order clientv3.SortOrder) *pb.RangeResponse {
	opts := []clientv3.OpOption{clientv3.WithRange(end), clientv3.WithLimit(c.nextPage()),
		clientv3.WithSort(clientv3.SortByKey, order)}
	if c.keysOnly {
		opts = append(opts, clientv3.WithKeysOnly())
	}
	return c.b.t.read(key, opts...)
}

// aboveCeiling reports whether k is at or above the cursor's ceiling.
func (c *cursor) aboveCeiling(k []byte) bool {
	return c.ceiling != nil && bytes.Compare(k, c.ceiling) >= 0
}

func (c *cursor) First() ([]byte, []byte) { return c.forward([]byte{}, true) }
func (c *cursor) Last() ([]byte, []byte)  { return c.backward(nil) }

// Seek copies s: the cursor keeps its bound, and the caller may reuse the
// slice for its next Seek (boltstore's keyspace cursors do).
func (c *cursor) Seek(s []byte) ([]byte, []byte) { return c.forward(bytes.Clone(s), true) }

func (c *cursor) Next() ([]byte, []byte) {
	if c.pos == nil {
		return nil, nil
	}
	return c.forward(c.pos, false)
}

func (c *cursor) Prev() ([]byte, []byte) {
	if c.pos == nil {
		return nil, nil
	}
	return c.backward(c.pos)
}

// forward moves to the first key at (incl) or after from.
func (c *cursor) forward(from []byte, incl bool) ([]byte, []byte) {
	for {
		if c.b.t.err != nil || !c.b.exists {
			c.pos = nil
			return nil, nil
		}
		baseFrom := from
		if !incl {
			baseFrom = append(slices.Clip(from), 0)
		}
		bk, bv := c.baseFirst(baseFrom)
		var w *write
		c.b.writes.Ascend(&write{key: from}, func(it *write) bool {
			if !incl && bytes.Equal(it.key, from) {
				return true
			}
			if !c.aboveCeiling(it.key) {
				w = it
			}
			return false
		})
		k, v, skip := c.merge(w, bk, bv, func(wk, bk []byte) bool { return bytes.Compare(wk, bk) <= 0 })
		if skip {
			from, incl = w.key, false
			continue
		}
		return k, v
	}
}

// merge moves to the nearer, in the walk's direction, of the
// transaction's write w and the snapshot's key bk (w when wFirst says
// so). It reports skip, and does not move, when that write is a delete,
// which the walk must step over.
func (c *cursor) merge(w *write, bk, bv []byte, wFirst func(wk, bk []byte) bool) (k, v []byte, skip bool) {
	switch {
	case w == nil && bk == nil:
		c.pos = nil
		return nil, nil, false
	case w != nil && (bk == nil || wFirst(w.key, bk)):
		if w.deleted {
			return nil, nil, true
		}
		c.pos = w.key
		return w.key, w.value, false
	}
	c.pos = bk
	return bk, bv, false
}

// backward moves to the last key before before (nil: the last key, below
// the ceiling).
func (c *cursor) backward(before []byte) ([]byte, []byte) {
	if before == nil && c.ceiling != nil {
		before = c.ceiling
	}
	for {
		if c.b.t.err != nil || !c.b.exists {
			c.pos = nil
			return nil, nil
		}
		bk, bv := c.baseLast(before)
		var w *write
		visit := func(it *write) bool {
			if before != nil && bytes.Compare(it.key, before) >= 0 {
				return true
			}
			w = it
			return false
		}
		if before == nil {
			c.b.writes.Reverse(visit)
		} else {
			c.b.writes.Descend(&write{key: before}, visit)
		}
		k, v, skip := c.merge(w, bk, bv, func(wk, bk []byte) bool { return bytes.Compare(wk, bk) >= 0 })
		if skip {
			before = w.key
			continue
		}
		return k, v
	}
}

// baseFirst returns the snapshot's first key at or after s, from the
// windows the transaction holds as far as they reach, then from a page
// read from s.
func (c *cursor) baseFirst(s []byte) ([]byte, []byte) {
	if c.b.cleared {
		return nil, nil
	}
	for {
		if c.aboveCeiling(s) {
			return nil, nil // nothing the walk needs is above
		}
		w := c.w
		if w == nil || !w.holdsFrom(s) {
			if w = c.b.windowFrom(s, c.keysOnly); w == nil {
				break
			}
		}
		c.w = w
		if i := w.firstFrom(s); i < len(w.keys) {
			return w.keys[i], w.vals[i]
		}
		if w.hi == nil {
			return nil, nil
		}
		s = w.hi // past w, which ends before the bucket does
	}
	end := c.b.hi
	if c.ceiling != nil {
		end = c.b.lo + string(c.ceiling)
	}
	resp := c.readPage(c.b.lo+string(s), end, clientv3.SortAscend)
	if resp == nil {
		return nil, nil
	}
	c.w = c.b.newWindow(s, c.ceiling, false, c.keysOnly, resp)
	c.b.keepPage(c.w)
	if len(c.w.keys) == 0 {
		return nil, nil
	}
	return c.w.keys[0], c.w.vals[0]
}

// baseLast returns the snapshot's last key before before (nil: the last
// key), from the windows the transaction holds as far as they reach,
// then from a page read backwards from before.
func (c *cursor) baseLast(before []byte) ([]byte, []byte) {
	if c.b.cleared || before != nil && len(before) == 0 {
		return nil, nil
	}
	for {
		if c.floor != nil && before != nil && bytes.Compare(before, c.floor) <= 0 {
			return nil, nil // nothing the walk needs is below
		}
		w := c.w
		if w == nil || !w.holdsBefore(before) {
			if w = c.b.windowBefore(before, c.keysOnly); w == nil {
				break
			}
		}
		c.w = w
		i := len(w.keys)
		if before != nil {
			i = w.firstFrom(before)
		}
		if i > 0 {
			return w.keys[i-1], w.vals[i-1]
		}
		if len(w.lo) == 0 {
			return nil, nil
		}
		before = w.lo // below w, which starts after the bucket does
	}
	end := c.b.hi
	if before != nil {
		end = c.b.lo + string(before)
	}
	resp := c.readPage(c.b.lo+string(c.floor), end, clientv3.SortDescend)
	if resp == nil {
		return nil, nil
	}
	c.w = c.b.newWindow(c.floor, before, true, c.keysOnly, resp)
	c.b.keepPage(c.w)
	if len(c.w.keys) == 0 {
		return nil, nil
	}
	return c.w.keys[len(c.w.keys)-1], c.w.vals[len(c.w.vals)-1]
}

func (c *cursor) nextPage() int64 {
	p := c.page
	c.page = min(2*c.page, maxPage)
	return p
}

// commit sends the transaction's writes in one Txn guarded by the
// snapshot's guard revision. It reports false when another writer
// committed first (nothing was written).
func (t *tx) commit() (bool, error) {
	ops, cmps, err := t.prepare()
	if len(ops.ops) == 0 {
		return true, nil // nothing written: nothing to commit
	}
	t.written = true
	if err != nil {
		return false, err
	}
	t.e.commits.Add(1)
	t.e.ops.Add(int64(len(ops.ops)))
	t.e.bytes.Add(int64(ops.bytes))
	resp, err := t.e.client.Txn(t.ctx).If(cmps...).Then(ops.ops...).Commit()
	if err != nil {
		err = mapErr(err)
		if errors.Is(err, model.ErrUnavailable) {
			// Sent and not answered: it may have been applied.
			err = fmt.Errorf("%w: %w", model.ErrOutcomeUnknown, err)
		}
		return false, fmt.Errorf("etcd commit: %w", err)
	}
	if resp.Succeeded {
		// The Txn put the guard at its own revision.
		t.e.lastGuard.Store(resp.Header.Revision)
	}
	return resp.Succeeded, nil
}

// prepare gathers the transaction's writes into one commit, the commit
// guard's put and compare with them, and refuses (kv.ErrTooLarge) a
// commit over the engine's limits. No writes: no operations, no error.
func (t *tx) prepare() (opList, []clientv3.Cmp, error) {
	var ops opList
	names := make([]string, 0, len(t.buckets))
	for name := range t.buckets {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		t.buckets[name].ops(&ops)
	}
	if len(ops.ops) == 0 {
		return ops, nil, nil
	}
	var cmps []clientv3.Cmp
	if t.rev != 0 {
		cmps = append(cmps, clientv3.Compare(clientv3.ModRevision(t.e.guard), "=", t.guardRev))
		ops.bytes += compareBytes(t.e.guard)
	}
	ops.put(t.e.guard, "")
	if n := len(ops.ops); n > t.e.limits.MaxTxnOps {
		return ops, nil, fmt.Errorf("etcd commit of %d operations, over the engine's MaxTxnOps %d: %w", n, t.e.limits.MaxTxnOps, kv.ErrTooLarge)
	}
	if n := ops.bytes + requestOverhead; n > t.e.limits.MaxRequestBytes {
		return ops, nil, fmt.Errorf("etcd commit of about %d bytes, over the engine's MaxRequestBytes %d: %w", n, t.e.limits.MaxRequestBytes, kv.ErrTooLarge)
	}
	return ops, cmps, nil
}

// ops appends the bucket's writes to the commit.
func (b *bucket) ops(l *opList) {
	switch {
	case b.exists && !b.atSnapshot:
		l.put(b.marker, "")
	case !b.exists && b.atSnapshot:
		l.del(b.marker, "")
	}
	if b.seqDirty {
		if b.exists && b.seq != 0 {
			l.put(b.seqKey, string(binary.BigEndian.AppendUint64(nil, b.seq)))
		} else if b.atSnapshot {
			l.del(b.seqKey, "")
		}
	}
	// etcd refuses a Txn that puts a key inside a range it deletes, so a
	// cleared bucket's range is deleted in the gaps between its new keys.
	gap := b.lo
	b.writes.Scan(func(w *write) bool {
		k := b.lo + string(w.key)
		switch {
		case b.cleared && b.atSnapshot:
			if gap < k {
				l.del(gap, k)
			}
			gap = k + "\x00"
			l.put(k, string(w.value))
		case w.deleted:
			l.del(k, "")
		default:
			l.put(k, string(w.value))
		}
		return true
	})
	if b.cleared && b.atSnapshot && gap < b.hi {
		l.del(gap, b.hi)
	}
}

// opList is a commit's operations and the bytes they take in the Txn
// request (protobuf sizes, counted as they are added).
type opList struct {
	ops   []clientv3.Op
	bytes int
}

func (l *opList) put(key, value string) {
	l.ops = append(l.ops, clientv3.OpPut(key, value))
	l.bytes += fieldBytes(fieldBytes(fieldBytes(len(key)) + fieldBytes(len(value))))
}

// del deletes key, or the range [key, end) when end is not empty.
func (l *opList) del(key, end string) {
	if end == "" {
		l.ops = append(l.ops, clientv3.OpDelete(key))
	} else {
		l.ops = append(l.ops, clientv3.OpDelete(key, clientv3.WithRange(end)))
	}
	l.bytes += fieldBytes(fieldBytes(fieldBytes(len(key)) + fieldBytes(len(end))))
}

// compareBytes is the size of a mod revision compare of key.
func compareBytes(key string) int { return fieldBytes(fieldBytes(len(key)) + 3*11) }

// fieldBytes is the size of a length-delimited protobuf field of n bytes
// (proto3 leaves empty ones out).
func fieldBytes(n int) int {
	if n == 0 {
		return 0
	}
	return 1 + varintBytes(n) + n
}

func varintBytes(n int) int {
	b := 1
	for ; n >= 0x80; n >>= 7 {
		b++
	}
	return b
}
