package boltstore_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/childcase/childcase/internal/domain/access"
	"github.com/childcase/childcase/internal/domain/datastore"
	"github.com/childcase/childcase/internal/domain/model"
	"github.com/childcase/childcase/internal/domain/units"
	"github.com/childcase/childcase/internal/storage/boltstore"
	"github.com/childcase/childcase/internal/storage/kv"
	"github.com/childcase/childcase/internal/storage/storagetest"
)

// TestEngineConformance runs the conformance suite on the layout over the
// bbolt file as a kv engine (OpenEngine), the way it runs over etcd.
func TestEngineConformance(t *testing.T) {
	storagetest.RunAll(t, func(t *testing.T) datastore.Store {
		return openEngineStore(t, openBoltEngine(t, filepath.Join(t.TempDir(), "childcase.db")))
	})
}

// openBoltEngine opens a bbolt file as a kv engine for the test.
func openBoltEngine(t *testing.T, path string) kv.Engine {
	t.Helper()
	e, err := boltstore.OpenBoltEngine(path, boltstore.Options{NoSync: true})
	if err != nil {
		t.Fatalf("OpenBoltEngine(%s): %v", path, err)
	}
	return e
}

// openEngineStore opens the layout on e and closes it (and e) when the
// test ends.
func openEngineStore(t *testing.T, e kv.Engine) *boltstore.EngineStore {
	t.Helper()
	s, err := boltstore.OpenEngine(context.Background(), e, boltstore.EngineOptions{})
	if err != nil {
		e.Close()
		t.Fatalf("OpenEngine: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return s
}

// putMeta sets (or, with a nil value, removes) a key of the meta bucket
// of a layout on e.
func putMeta(t *testing.T, e kv.Engine, key string, value []byte) {
	t.Helper()
	err := e.Update(context.Background(), func(tx kv.Tx) error {
		meta := tx.Bucket([]byte("meta"))
		if value == nil {
			return meta.Delete([]byte(key))
		}
		return meta.Put([]byte(key), value)
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestOpenEngineSchema: an empty engine gets the layout at the current
// version; one at an older version is refused with the way to move it, one
// at a newer version with ErrSchemaTooNew, one with a copy unfinished with
// that said; none of them is changed by the refusal.
func TestOpenEngineSchema(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "childcase.db")
	e := openBoltEngine(t, path)
	s, err := boltstore.OpenEngine(ctx, e, boltstore.EngineOptions{})
	if err != nil {
		t.Fatalf("OpenEngine on an empty engine: %v", err)
	}
	if err := s.Update(ctx, func(tx datastore.Tx) error { return tx.CreateUser(groupUser("first")) }); err != nil {
		t.Fatalf("Update: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	// The bbolt engine wrote the layout of a file: Check and Open accept it.
	res, err := boltstore.Check(ctx, path)
	if err != nil || len(res.Problems) != 0 {
		t.Fatalf("Check of the layout OpenEngine wrote: %v, %+v", err, res.Problems)
	}
	version := func(v uint32) []byte { return binary.BigEndian.AppendUint32(nil, v) }
	for _, tc := range []struct {
		name, key string
		value     []byte
		want      string
		wantErr   error
	}{
		{"older", "schema_version", version(9), "migrate it on a bbolt file first", nil},
		{"newer", "schema_version", version(boltstore.SchemaVersion + 1), "run a newer childcase", datastore.ErrSchemaTooNew},
		{"damaged", "schema_version", []byte{1}, "schema version record is damaged", nil},
		{"migrating", "migrating", []byte{}, "childcase migrate-store", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := openBoltEngine(t, path)
			defer e.Close()
			putMeta(t, e, tc.key, tc.value)
			defer putMeta(t, e, "schema_version", version(boltstore.SchemaVersion))
			defer putMeta(t, e, "migrating", nil)
			_, err := boltstore.OpenEngine(ctx, e, boltstore.EngineOptions{})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("OpenEngine = %v, want an error saying %q", err, tc.want)
			}
			if tc.wantErr != nil && !errors.Is(err, tc.wantErr) {
				t.Errorf("OpenEngine = %v, want it to wrap %v", err, tc.wantErr)
			}
		})
	}
	// A store of schema version 10 needs no record rewritten (version 11
	// writes new audit events in binary and reads the JSON ones): the
	// engine's store opens, and says so in its version.
	e = openBoltEngine(t, path)
	putMeta(t, e, "schema_version", version(10))
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	s, err = boltstore.OpenEngine(ctx, openBoltEngine(t, path), boltstore.EngineOptions{})
	if err != nil {
		t.Fatalf("OpenEngine on a store of schema version 10: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	e = openBoltEngine(t, path)
	var got []byte
	err = e.View(ctx, func(tx kv.Tx) error {
		got = bytes.Clone(tx.Bucket([]byte("meta")).Get([]byte("schema_version")))
		return nil
	})
	if err != nil || !bytes.Equal(got, version(boltstore.SchemaVersion)) {
		t.Errorf("schema version after opening a version-10 store: %x (%v), want %x", got, err, version(boltstore.SchemaVersion))
	}
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	// Refused, the store is as it was.
	s = openEngineStore(t, openBoltEngine(t, path))
	err = s.View(ctx, func(tx datastore.ReadTx) error {
		_, err := tx.User("first")
		return err
	})
	if err != nil {
		t.Fatalf("the user written before the refusals: %v", err)
	}
}

// tooLargeEngine refuses, as etcd does past --max-txn-ops, a transaction
// that puts more than max keys, and counts what it committed.
type tooLargeEngine struct {
	kv.Engine
	max int

	mu        sync.Mutex
	committed []int // the puts of each committed transaction
}

// View hides the engine's transaction behind countingTx, as an engine's
// own would be: nothing but the kv.Tx methods.
func (e *tooLargeEngine) View(ctx context.Context, fn func(kv.Tx) error) error {
	return e.Engine.View(ctx, func(tx kv.Tx) error { return fn(countingTx{Tx: tx, puts: new(int)}) })
}

func (e *tooLargeEngine) Update(ctx context.Context, fn func(kv.Tx) error) error {
	puts := 0
	err := e.Engine.Update(ctx, func(tx kv.Tx) error {
		puts = 0
		if err := fn(countingTx{Tx: tx, puts: &puts}); err != nil {
			return err
		}
		if puts > e.max {
			return fmt.Errorf("%d puts, at most %d: %w", puts, e.max, kv.ErrTooLarge)
		}
		return nil
	})
	if err == nil {
		e.mu.Lock()
		e.committed = append(e.committed, puts)
		e.mu.Unlock()
	}
	return err
}

type countingTx struct {
	kv.Tx
	puts *int
}

func (t countingTx) Bucket(name []byte) kv.Bucket {
	b := t.Tx.Bucket(name)
	if b == nil {
		return nil
	}
	return countingBucket{Bucket: b, puts: t.puts}
}

type countingBucket struct {
	kv.Bucket
	puts *int
}

func (b countingBucket) Put(k, v []byte) error {
	*b.puts++
	return b.Bucket.Put(k, v)
}

// TestEngineGroupCommitSplitsTooLarge: a shared commit the engine refuses
// as too large is split until each part fits, and every call of it is
// committed; a call too large alone fails with kv.ErrTooLarge and keeps
// nothing.
func TestEngineGroupCommitSplitsTooLarge(t *testing.T) {
	ctx := context.Background()
	e := &tooLargeEngine{Engine: openBoltEngine(t, filepath.Join(t.TempDir(), "childcase.db")), max: 8}
	s := openEngineStore(t, e)
	const n, huge = 32, 5
	errs := storagetest.UpdatesBehindACommit(t, s, n, func(tx datastore.Tx, i int) error {
		if i == huge {
			for j := range e.max + 1 {
				if err := tx.CreateUser(groupUser(fmt.Sprintf("huge-%02d", j))); err != nil {
					return err
				}
			}
			return nil
		}
		return tx.CreateUser(groupUser(fmt.Sprintf("user-%02d", i)))
	})
	for i, err := range errs {
		if i == huge {
			if !errors.Is(err, kv.ErrTooLarge) {
				t.Errorf("Update %d, too large alone = %v, want kv.ErrTooLarge", i, err)
			}
			continue
		}
		if err != nil {
			t.Errorf("Update %d: %v", i, err)
		}
	}
	shared := false
	for _, puts := range e.committed {
		if puts > e.max {
			t.Errorf("a commit of %d puts, over the engine's %d", puts, e.max)
		}
		shared = shared || puts > 1
	}
	if !shared {
		t.Errorf("commits of %v puts: the halves were not shared", e.committed)
	}
	err := s.View(ctx, func(tx datastore.ReadTx) error {
		for i := range n {
			_, err := tx.User(fmt.Sprintf("user-%02d", i))
			if i == huge && !errors.Is(err, model.ErrNotFound) {
				t.Errorf("the too large call's user-%02d: %v, want not found", i, err)
			}
			if i != huge && err != nil {
				t.Errorf("user-%02d: %v", i, err)
			}
		}
		if _, err := tx.User("huge-00"); !errors.Is(err, model.ErrNotFound) {
			t.Errorf("the too large call's first user: %v, want not found", err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// overlapEngine is a kv engine that tells whether two Updates ever ran on
// it at once. While armed, the first Update waits (up to a bound) for a
// second to arrive, so that two that could overlap do.
type overlapEngine struct {
	kv.Engine
	armed    atomic.Bool
	inflight atomic.Int32
	overlap  atomic.Bool
	second   chan struct{}
}

func (e *overlapEngine) Update(ctx context.Context, fn func(kv.Tx) error) error {
	if e.inflight.Add(1) > 1 && e.overlap.CompareAndSwap(false, true) {
		close(e.second)
	}
	defer e.inflight.Add(-1)
	if e.armed.CompareAndSwap(true, false) {
		select {
		case <-e.second:
		case <-time.After(500 * time.Millisecond): // none came: none could
		}
	}
	return e.Engine.Update(ctx, fn)
}

// TestEngineGroupsCommitOneAtATime: the group commit of Updates and that
// of Batches never run their transactions on the engine at once. An
// engine that serialises its writers (etcd's commit guard) would make one
// of the two re-run, with all its reads, every time they met.
func TestEngineGroupsCommitOneAtATime(t *testing.T) {
	e := &overlapEngine{Engine: openBoltEngine(t, filepath.Join(t.TempDir(), "childcase.db")), second: make(chan struct{})}
	s := openEngineStore(t, e)
	e.armed.Store(true)
	ctx := context.Background()
	nothing := func(datastore.Tx) error { return nil }
	var wg sync.WaitGroup
	wg.Go(func() {
		if err := s.Update(ctx, nothing); err != nil {
			t.Error(err)
		}
	})
	wg.Go(func() {
		if err := s.Batch(ctx, nothing); err != nil {
			t.Error(err)
		}
	})
	wg.Wait()
	if e.overlap.Load() {
		t.Error("an Update's and a Batch's transactions ran on the engine at once")
	}
}

// TestOpenEngineBuildsUsersByUnit: a store on an engine (as on etcd) of
// schema version 11, the schema-11 golden file as a kv engine, gets the
// index of users by unit of version 12 in the transaction that raises
// its version, without any record rewritten: the Ba Đình chair's
// officers are a prefix scan at once, and Check finds the index and the
// users in agreement.
func TestOpenEngineBuildsUsersByUnit(t *testing.T) {
	ctx := context.Background()
	db, _ := copyGolden(t, "schema11")
	s := openEngineStore(t, openBoltEngine(t, db))
	baDinh := "units/00004@2025-07-01"
	err := s.View(ctx, func(tx datastore.ReadTx) error {
		us, next, err := tx.ListActiveUsersOf([]datastore.UnitRole{{Unit: baDinh, Role: model.RoleCommuneWorker}}, "", 10)
		if err != nil || len(us) != 1 || us[0].ID != "badinh.worker" || next != "" {
			t.Errorf("Ba Đình's workers after the migration: %v, %q, %v; want badinh.worker alone", us, next, err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if got := bucketCounts(t, db); got["users_by_unit"] != 11 || got["users"] != 11 {
		t.Errorf("after the engine's migration: %d users, %d entries in users_by_unit; want 11 of each", got["users"], got["users_by_unit"])
	}
	res := mustCheck(t, db)
	if !res.OK() || res.SchemaVersion != boltstore.SchemaVersion {
		t.Errorf("Check after the engine's migration: version %d, problems:\n%s", res.SchemaVersion, problemList(res))
	}
}

// TestOpenEngineBuildsHolderEntries: a store on an engine (as on etcd) of
// schema version 13, the schema-13 golden file as a kv engine, gets the
// queue index's entries under a holder's key of version 14 in the
// transaction that raises its version, without any record rewritten: Ba
// Đình's list by due time of the cases it holds is a prefix scan at
// once, and Check finds the index and the cases in agreement.
func TestOpenEngineBuildsHolderEntries(t *testing.T) {
	ctx := context.Background()
	db, _ := copyGolden(t, "schema13")
	before := bucketCounts(t, db)
	s := openEngineStore(t, openBoltEngine(t, db))
	baDinh, err := units.ParseKey("00004@2025-07-01")
	if err != nil {
		t.Fatal(err)
	}
	err = s.View(ctx, func(tx datastore.ReadTx) error {
		// What Ba Đình holds, by the index of cases by unit, with an
		// open deadline.
		held, _, err := tx.ListCases(datastore.CaseQuery{ResponsibleUnit: baDinh, Limit: 10})
		if err != nil {
			return err
		}
		var want []string
		for _, c := range held {
			if _, ok := access.HolderQueueEntry(c); ok {
				want = append(want, c.Number)
			}
		}
		cs, next, err := tx.ListQueue(datastore.QueueQuery{
			Queue: access.QueueNone, Keys: []string{access.HolderQueueKey(baDinh)}, Until: time.Date(2100, 1, 1, 0, 0, 0, 0, time.UTC), Limit: 10,
		})
		var got []string
		for _, c := range cs {
			got = append(got, c.Number)
		}
		slices.Sort(got)
		slices.Sort(want)
		if err != nil || len(want) == 0 || !slices.Equal(got, want) || next != "" {
			t.Errorf("the cases Ba Đình holds by due time after the migration: %v, %q, %v; want %v", got, next, err, want)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	after := bucketCounts(t, db)
	if after["case_queue"] != before["case_queue"]+4 || after["cases"] != 4 {
		t.Errorf("after the engine's migration: %d entries in case_queue, %d before; want 4 more, one for each of the 4 cases", after["case_queue"], before["case_queue"])
	}
	res := mustCheck(t, db)
	if !res.OK() || res.SchemaVersion != boltstore.SchemaVersion {
		t.Errorf("Check after the engine's migration: version %d, problems:\n%s", res.SchemaVersion, problemList(res))
	}
}
