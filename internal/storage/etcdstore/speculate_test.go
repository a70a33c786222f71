package etcdstore_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/childcase/childcase/internal/domain/audit"
	"github.com/childcase/childcase/internal/domain/datastore"
	"github.com/childcase/childcase/internal/domain/model"
	"github.com/childcase/childcase/internal/domain/units"
	"github.com/childcase/childcase/internal/domain/vntime"
	"github.com/childcase/childcase/internal/storage/boltstore"
	"github.com/childcase/childcase/internal/storage/etcdstore"
	"github.com/childcase/childcase/internal/storage/etcdstore/etcdtest"
	"github.com/childcase/childcase/internal/storage/kv"
	"github.com/childcase/childcase/internal/storage/storagetest"
)

// serially runs bodies one after another on tx, as a group commit runs
// its callers' bodies, and returns the read round trips they made.
func serially(e *etcdstore.Engine, tx kv.Tx, bodies []func(kv.Tx) error) (int64, error) {
	start := e.Stats().Reads
	for _, body := range bodies {
		if err := body(tx); err != nil {
			return 0, err
		}
	}
	return e.Stats().Reads - start, nil
}

// TestSpeculationServesTheSerialRunsReads: n bodies that each read k keys
// of their own (Gets, and a cursor's walk) make their n*k reads at once,
// on transactions of their own at the snapshot, while Speculate runs
// them; then run one after another on the transaction, as a group
// commit's bodies do, they find every read in memory and make no round
// trip, where each would otherwise have made its k in turn.
func TestSpeculationServesTheSerialRunsReads(t *testing.T) {
	e, _ := open(t, etcdstore.Config{}, etcdtest.WithoutFsync())
	fill(t, e, 200)
	// A transaction that finds the bucket, so that the snapshot's first
	// read brings its marker from then on.
	if err := e.View(t.Context(), func(tx kv.Tx) error { tx.Bucket(bucketName); return nil }); err != nil {
		t.Fatal(err)
	}
	const n, k = 8, 5
	var inFlight, mostInFlight atomic.Int64
	bodies := make([]func(kv.Tx) error, n)
	for i := range bodies {
		bodies[i] = func(tx kv.Tx) error {
			now := inFlight.Add(1)
			defer inFlight.Add(-1)
			for {
				most := mostInFlight.Load()
				if now <= most || mostInFlight.CompareAndSwap(most, now) {
					break
				}
			}
			b := tx.Bucket(bucketName)
			for j := range k - 1 {
				want := 20*i + 2*j
				expect(t, fmt.Sprintf("body %d: Get", i), key(want), b.Get(key(want)), want)
			}
			c := b.Cursor()
			got, v := c.Seek(key(20*i + 15))
			expect(t, fmt.Sprintf("body %d: Seek", i), got, v, 20*i+15)
			got, v = c.Next()
			expect(t, fmt.Sprintf("body %d: Next", i), got, v, 20*i+16)
			return b.Put(fmt.Appendf(nil, "body-%d", i), []byte("written"))
		}
	}
	errDone := errors.New("done")
	err := e.Update(t.Context(), func(tx kv.Tx) error {
		start := e.Stats().Reads
		kv.Speculate(tx, bodies...)
		// The snapshot's first read, then each body's k reads.
		if got, want := e.Stats().Reads-start, int64(1+n*k); got != want {
			t.Errorf("Speculate of %d bodies of %d reads each made %d round trips, want %d", n, k, got, want)
		}
		reads, err := serially(e, tx, bodies)
		if err != nil {
			return err
		}
		if reads != 0 {
			t.Errorf("%d bodies run one after another after Speculate made %d read round trips, want 0 (%d without it)", n, reads, n*k)
		}
		return errDone
	})
	if !errors.Is(err, errDone) {
		t.Fatal(err)
	}
	// The reads were made at once, not in turn: a body blocks on its
	// first round trip, and the others start meanwhile.
	if got := mostInFlight.Load(); got < 2 {
		t.Errorf("at most %d bodies ran at once, want them run together", got)
	}
}

// TestSpeculatedReadsYieldToTheGroupsWrites: a body that reads what an
// earlier body of the same transaction wrote (a changed key, a deleted
// one, a new one in a cursor's walk) sees those writes, not the
// snapshot's values that Speculate gathered for it; its other reads are
// still answered from memory.
func TestSpeculatedReadsYieldToTheGroupsWrites(t *testing.T) {
	e, _ := open(t, etcdstore.Config{}, etcdtest.WithoutFsync())
	fill(t, e, 20)
	var got [5]string
	first := func(tx kv.Tx) error {
		b := tx.Bucket(bucketName)
		expect(t, "first body: Get", key(1), b.Get(key(1)), 1)
		if err := b.Put(key(5), []byte("first")); err != nil {
			return err
		}
		if err := b.Put([]byte("k0055"), []byte("new")); err != nil {
			return err
		}
		return b.Delete(key(6))
	}
	second := func(tx kv.Tx) error {
		b := tx.Bucket(bucketName)
		got = [5]string{string(b.Get(key(5))), fmt.Sprint(b.Get(key(6)))}
		c := b.Cursor()
		k, _ := c.Seek(key(5))
		got[2] = string(k)
		for i := 3; i < len(got); i++ {
			k, _ = c.Next()
			got[i] = string(k)
		}
		return nil
	}
	errDone := errors.New("done")
	err := e.Update(t.Context(), func(tx kv.Tx) error {
		kv.Speculate(tx, first, second)
		reads, err := serially(e, tx, []func(kv.Tx) error{first, second})
		if err != nil {
			return err
		}
		if reads != 0 {
			t.Errorf("the bodies run after Speculate made %d read round trips, want 0", reads)
		}
		return errDone
	})
	if !errors.Is(err, errDone) {
		t.Fatal(err)
	}
	if want := [5]string{"first", "[]", "k005", "k0055", "k007"}; got != want {
		t.Errorf("the second body read %q (k005, k006, a walk from k005), want %q: the first body's writes", got, want)
	}
}

// TestSpeculationFollowsTheSequences: bodies that each take the next
// number of a sequence and read the key it names (a new record's, which
// must not exist yet) read, when run one after another, the keys of the
// numbers the bodies before them took, not the one each took alone at the
// snapshot; Speculate runs them again with those numbers, so that those
// reads too are in memory.
func TestSpeculationFollowsTheSequences(t *testing.T) {
	e, _ := open(t, etcdstore.Config{}, etcdtest.WithoutFsync())
	fill(t, e, 3)
	const n = 6
	var taken [n]uint64
	bodies := make([]func(kv.Tx) error, n)
	for i := range bodies {
		bodies[i] = func(tx kv.Tx) error {
			b := tx.Bucket(bucketName)
			seq, err := b.NextSequence()
			if err != nil {
				return err
			}
			taken[i] = seq
			k := fmt.Appendf(nil, "n%08d", seq)
			if b.Get(k) != nil {
				return fmt.Errorf("%s exists already", k)
			}
			return b.Put(k, []byte("new"))
		}
	}
	errDone := errors.New("done")
	err := e.Update(t.Context(), func(tx kv.Tx) error {
		kv.Speculate(tx, bodies...)
		reads, err := serially(e, tx, bodies)
		if err != nil {
			return err
		}
		if reads != 0 {
			t.Errorf("%d bodies that each take a number and read its key made %d read round trips after Speculate, want 0", n, reads)
		}
		return errDone
	})
	if !errors.Is(err, errDone) {
		t.Fatal(err)
	}
	if want := [n]uint64{1, 2, 3, 4, 5, 6}; taken != want {
		t.Errorf("the bodies took the numbers %v, want %v", taken, want)
	}
}

// TestSpeculativeWritesAreNeverCommitted: what the bodies write while
// Speculate runs them is thrown away, whether the transaction then fails
// or commits writes of its own.
func TestSpeculativeWritesAreNeverCommitted(t *testing.T) {
	e, c := open(t, etcdstore.Config{}, etcdtest.WithoutFsync())
	fill(t, e, 3)
	client := c.Client(t)
	var runs atomic.Int64
	bodies := []func(kv.Tx) error{
		func(tx kv.Tx) error {
			runs.Add(1)
			return tx.Bucket(bucketName).Put([]byte("spec-1"), []byte("x"))
		},
		func(tx kv.Tx) error {
			runs.Add(1)
			b, err := tx.CreateBucketIfNotExists([]byte("spec-bucket"))
			if err != nil {
				return err
			}
			if _, err := b.NextSequence(); err != nil {
				return err
			}
			return tx.Bucket(bucketName).Delete(key(0))
		},
		func(kv.Tx) error {
			runs.Add(1)
			panic("a body that panics is ignored")
		},
	}
	before := revision(t, client)
	errRefused := errors.New("refused")
	err := e.Update(t.Context(), func(tx kv.Tx) error {
		kv.Speculate(tx, bodies...)
		return errRefused
	})
	if !errors.Is(err, errRefused) {
		t.Fatalf("Update = %v, want its body's error", err)
	}
	if after := revision(t, client); after != before {
		t.Errorf("a failed Update after Speculate moved the revision from %d to %d", before, after)
	}
	err = e.Update(t.Context(), func(tx kv.Tx) error {
		kv.Speculate(tx, bodies...)
		return tx.Bucket(bucketName).Put([]byte("real"), []byte("y"))
	})
	if err != nil {
		t.Fatal(err)
	}
	if got := runs.Load(); got != int64(2*len(bodies)) {
		t.Errorf("the bodies ran %d times in two Speculates, want %d", got, 2*len(bodies))
	}
	err = e.View(t.Context(), func(tx kv.Tx) error {
		b := tx.Bucket(bucketName)
		if v := b.Get([]byte("spec-1")); v != nil {
			t.Errorf("a speculative Put reached the cluster: spec-1 = %q", v)
		}
		expect(t, "Get(k000), which a speculative run deleted", key(0), b.Get(key(0)), 0)
		if string(b.Get([]byte("real"))) != "y" {
			t.Error("the transaction's own Put was not committed")
		}
		if tx.Bucket([]byte("spec-bucket")) != nil {
			t.Error("a bucket created by a speculative run exists")
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestSpeculationThenAConflictingCommit: another writer that commits
// between Speculate and the commit makes the transaction run again, as it
// would without Speculate; the run that commits gathers its reads at its
// own snapshot, and its result counts the other writer's.
func TestSpeculationThenAConflictingCommit(t *testing.T) {
	e, other := twoEngines(t)
	fill(t, e, 0)
	counter := []byte("counter")
	add := func(tx kv.Tx) error {
		b := tx.Bucket(bucketName)
		n := 0
		if v := b.Get(counter); v != nil {
			if _, err := fmt.Sscan(string(v), &n); err != nil {
				return err
			}
		}
		return b.Put(counter, fmt.Append(nil, n+1))
	}
	bodies := []func(kv.Tx) error{add, add, add}
	var attempts int
	var serialReads []int64
	err := e.Update(t.Context(), func(tx kv.Tx) error {
		attempts++
		kv.Speculate(tx, bodies...)
		if attempts == 1 {
			err := other.Update(t.Context(), func(tx kv.Tx) error {
				return tx.Bucket(bucketName).Put(counter, []byte("100"))
			})
			if err != nil {
				return err
			}
		}
		reads, err := serially(e, tx, bodies)
		serialReads = append(serialReads, reads)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if attempts != 2 {
		t.Errorf("the transaction ran %d times, want 2: the other writer's commit must fail its first", attempts)
	}
	for i, reads := range serialReads {
		if reads != 0 {
			t.Errorf("run %d: the bodies made %d read round trips after Speculate, want 0", i+1, reads)
		}
	}
	err = e.View(t.Context(), func(tx kv.Tx) error {
		if v := tx.Bucket(bucketName).Get(counter); string(v) != "103" {
			t.Errorf("counter = %q, want 103: the other writer's 100, then three additions", v)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// groupsOf is an engine that numbers its Update runs, so that a body can
// tell which of a store's shared transactions ran it last.
type groupsOf struct {
	kv.Engine
	runs atomic.Int64
}

func (g *groupsOf) Update(ctx context.Context, fn func(kv.Tx) error) error {
	return g.Engine.Update(ctx, func(tx kv.Tx) error {
		g.runs.Add(1)
		return fn(tx)
	})
}

// layoutCountingGroups is the stored layout on etcd over groupsOf.
func layoutCountingGroups(t *testing.T) (*etcdstore.Engine, *groupsOf, *boltstore.EngineStore) {
	t.Helper()
	e, _ := open(t, etcdstore.Config{}, etcdtest.WithoutFsync())
	g := &groupsOf{Engine: e}
	s, err := boltstore.OpenEngine(t.Context(), g, boltstore.EngineOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return e, g, s
}

// groupsReadAhead runs n Updates of body behind a commit, and fails the
// test unless every transaction that more than one of them shared made
// no read round trip in its serial run, where about perBody each would
// be made without reading ahead.
func groupsReadAhead(t *testing.T, e *etcdstore.Engine, g *groupsOf, s datastore.Store, n, perBody int, body func(tx datastore.Tx, i int) error) {
	t.Helper()
	// Each body's last run is the one that counts: the serial run of its
	// shared transaction, which no run ahead overlaps.
	var mu sync.Mutex
	group, reads := make([]int64, n), make([]int64, n)
	errs := storagetest.UpdatesBehindACommit(t, s, n, func(tx datastore.Tx, i int) error {
		start := e.Stats().Reads
		if err := body(tx, i); err != nil {
			return err
		}
		mu.Lock()
		defer mu.Unlock()
		group[i], reads[i] = g.runs.Load(), e.Stats().Reads-start
		return nil
	})
	for i, err := range errs {
		if err != nil {
			t.Fatalf("Update %d: %v", i, err)
		}
	}
	size, groupReads := map[int64]int{}, map[int64]int64{}
	for i := range n {
		size[group[i]]++
		groupReads[group[i]] += reads[i]
	}
	shared := false
	for run, m := range size {
		t.Logf("a shared transaction of %d bodies: %d read round trips in its serial run", m, groupReads[run])
		if m < 2 {
			continue
		}
		shared = true
		if groupReads[run] != 0 {
			t.Errorf("the %d bodies of a shared transaction made %d read round trips one after another, want 0 (about %d without reading ahead)",
				m, groupReads[run], m*perBody)
		}
	}
	if !shared {
		t.Fatalf("%d Updates behind a commit shared no transaction", n)
	}
}

// TestGroupCommitReadsAhead: the callers of a group commit on etcd make
// their reads ahead of its serial run, at once: the bodies of a shared
// transaction, run one after another, make no read round trip, where each
// would otherwise read its users and then its own new user's key in
// turn.
func TestGroupCommitReadsAhead(t *testing.T) {
	e, g, s := layoutCountingGroups(t)
	const n, k = 12, 4
	user := func(i, j int) model.User {
		id := fmt.Sprintf("user-%02d-%d", i, j)
		return model.User{ID: id, DisplayName: id, Role: model.RoleAuditor, Unit: model.OrgSystem}
	}
	err := s.Update(t.Context(), func(tx datastore.Tx) error {
		for i := range n {
			for j := range k {
				if err := tx.CreateUser(user(i, j)); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	groupsReadAhead(t, e, g, s, n, k+1, func(tx datastore.Tx, i int) error {
		for j := range k {
			if _, err := tx.User(user(i, j).ID); err != nil {
				return err
			}
		}
		return tx.CreateUser(user(i, k))
	})
}

// TestGroupCommitReadsAheadTheNewKeys: the bodies of a shared transaction
// that each number a new case and append an audit event, as a new report
// does, read the keys of the numbers the bodies before them left (the
// case's number, the event's), not those each would take alone at the
// snapshot; those too are read ahead. (The data key a new case's number
// names is not: a data key's Get cannot reach to the end of its bucket
// at a Get's cost, since the keys of other kinds follow.)
func TestGroupCommitReadsAheadTheNewKeys(t *testing.T) {
	e, g, s := layoutCountingGroups(t)
	at := time.Date(2026, time.March, 12, 3, 0, 0, 0, time.UTC)
	unit := units.Key{Code: "00004", ValidFrom: vntime.Date{Year: 2025, Month: time.July, Day: 1}}
	newCase := func(tx datastore.Tx, _ int) error {
		n, err := tx.NextCaseSequence(2026)
		if err != nil {
			return err
		}
		number := fmt.Sprintf("HN-2026-%05d", n)
		c := model.Case{Number: number, Status: model.StatusAwaitingAcknowledgement, ResponsibleUnit: unit, CreateTime: at, Revision: 1}
		if err := tx.CreateCase(&c); err != nil {
			return err
		}
		_, err = tx.AppendAudit(audit.Event{Time: at, Actor: "tester", Action: "case.create", Resource: "cases/" + number, Outcome: audit.OutcomeOK})
		return err
	}
	// Cases before, so that the buckets and sequences are known.
	for i := range 2 {
		if err := s.Update(t.Context(), func(tx datastore.Tx) error { return newCase(tx, i) }); err != nil {
			t.Fatal(err)
		}
	}
	groupsReadAhead(t, e, g, s, 12, 3, newCase)
}
