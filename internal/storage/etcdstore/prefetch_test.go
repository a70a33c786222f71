package etcdstore_test

import (
	"bytes"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/childcase/childcase/internal/domain/audit"
	"github.com/childcase/childcase/internal/domain/datastore"
	"github.com/childcase/childcase/internal/domain/model"
	"github.com/childcase/childcase/internal/domain/stats/tally"
	"github.com/childcase/childcase/internal/domain/units"
	"github.com/childcase/childcase/internal/domain/vntime"
	"github.com/childcase/childcase/internal/storage/boltstore"
	"github.com/childcase/childcase/internal/storage/etcdstore"
	"github.com/childcase/childcase/internal/storage/etcdstore/etcdtest"
	"github.com/childcase/childcase/internal/storage/kv"
)

// layoutOnEtcd is the stored layout (boltstore) on an engine over a new
// one-member cluster.
func layoutOnEtcd(t *testing.T) (*etcdstore.Engine, *boltstore.EngineStore) {
	t.Helper()
	e, _ := open(t, etcdstore.Config{}, etcdtest.WithoutFsync())
	s, err := boltstore.OpenEngine(t.Context(), e, boltstore.EngineOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return e, s
}

// key is k%03d, as fill writes them.
func key(i int) []byte { return fmt.Appendf(nil, "k%03d", i) }

// expect checks a cursor's or a Get's answer against the key and value
// fill wrote for i (i < 0: none).
func expect(t *testing.T, what string, k, v []byte, i int) {
	t.Helper()
	if i < 0 {
		if k != nil || v != nil {
			t.Errorf("%s = %q=%q, want nothing", what, k, v)
		}
		return
	}
	if !bytes.Equal(k, key(i)) || !bytes.Equal(v, fmt.Appendf(nil, "v%d", i)) {
		t.Errorf("%s = %q=%q, want %q=v%d", what, k, v, key(i), i)
	}
}

// TestPrefetchServesTheReadsItCovers: one round trip fetches several
// ranges, and the Gets and cursor moves over them are answered from
// memory, with no round trip: a present key, a key absent from a range
// (nil), a walk forward and back over a range. A move past what a range
// brought (its limit, its start) reads from the cluster as it would have.
func TestPrefetchServesTheReadsItCovers(t *testing.T) {
	e, _ := open(t, etcdstore.Config{}, etcdtest.WithoutFsync())
	fill(t, e, 100)
	err := e.View(t.Context(), func(tx kv.Tx) error {
		b := tx.Bucket(bucketName) // takes the snapshot
		start := e.Stats().Reads
		kv.Prefetch(tx,
			// k010..k014: five keys, so known up to k014.
			kv.Range{Bucket: bucketName, From: key(10), To: key(20), Limit: 5},
			// k055..k059: the last five before k060.
			kv.Range{Bucket: bucketName, From: key(50), To: key(60), Limit: 5, Reverse: true},
			kv.Point(bucketName, []byte("k030x")),
			kv.Point(bucketName, key(31)),
		)
		if got := e.Stats().Reads - start; got != 1 {
			t.Errorf("Prefetch of 4 ranges took %d round trips, want 1", got)
		}
		start = e.Stats().Reads
		if v := b.Get([]byte("k030x")); v != nil {
			t.Errorf("Get of a prefetched absent key = %q, want nil", v)
		}
		expect(t, "Get(k031)", key(31), b.Get(key(31)), 31)
		if v := b.Get([]byte("k012x")); v != nil {
			t.Errorf("Get of an absent key inside a prefetched range = %q, want nil", v)
		}
		expect(t, "Get(k013)", key(13), b.Get(key(13)), 13)
		c := b.Cursor()
		k, v := c.Seek(key(10))
		expect(t, "Seek(k010)", k, v, 10)
		for i := 11; i <= 14; i++ {
			k, v = c.Next()
			expect(t, "Next", k, v, i)
		}
		k, v = c.Prev()
		expect(t, "Prev", k, v, 13)
		k, v = c.Next()
		expect(t, "Next", k, v, 14)
		back := b.Cursor()
		k, v = back.Seek([]byte("k0585"))
		expect(t, "Seek(k0585)", k, v, 59)
		for i := 58; i >= 55; i-- {
			k, v = back.Prev()
			expect(t, "Prev", k, v, i)
		}
		if got := e.Stats().Reads - start; got != 0 {
			t.Errorf("reads over prefetched ranges took %d round trips, want 0", got)
		}
		k, v = c.Next() // past the first range's limit
		expect(t, "Next past the limit", k, v, 15)
		k, v = back.Prev() // before the second range's first key
		expect(t, "Prev before the range", k, v, 54)
		if got := e.Stats().Reads - start; got != 2 {
			t.Errorf("two moves past prefetched ranges took %d round trips, want 2 (one each)", got)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestPrefetchIsTheFirstRead: a transaction's first read may be a
// Prefetch: it takes the snapshot, with the markers of the buckets it
// names, in one round trip.
func TestPrefetchIsTheFirstRead(t *testing.T) {
	e, c := open(t, etcdstore.Config{}, etcdtest.WithoutFsync())
	fill(t, e, 20)
	// A new engine, which has found no bucket yet.
	fresh, err := etcdstore.NewEngine(c.Client(t), "", etcdstore.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	err = fresh.View(t.Context(), func(tx kv.Tx) error {
		kv.Prefetch(tx, kv.Range{Bucket: bucketName, Limit: 3}, kv.Point([]byte("missing"), key(1)))
		if tx.Bucket([]byte("missing")) != nil {
			t.Error("a missing bucket named by a prefetch exists")
		}
		k, v := tx.Bucket(bucketName).Cursor().First()
		expect(t, "First", k, v, 0)
		if got := fresh.Stats().Reads; got != 1 {
			t.Errorf("a prefetch, then two buckets and a cursor over them, took %d round trips, want 1", got)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestPrefetchUnderTheTransactionsWrites: what a transaction wrote comes
// before what a prefetch fetched, whether it wrote before or after it.
func TestPrefetchUnderTheTransactionsWrites(t *testing.T) {
	e, _ := open(t, etcdstore.Config{}, etcdtest.WithoutFsync())
	fill(t, e, 20)
	errDone := errors.New("done")
	err := e.Update(t.Context(), func(tx kv.Tx) error {
		b := tx.Bucket(bucketName)
		if err := b.Put(key(3), []byte("before")); err != nil {
			return err
		}
		kv.Prefetch(tx, kv.Range{Bucket: bucketName, From: key(0), To: key(10)})
		start := e.Stats().Reads
		if err := b.Delete(key(5)); err != nil {
			return err
		}
		if err := b.Put([]byte("k005x"), []byte("new")); err != nil {
			return err
		}
		if v := b.Get(key(3)); string(v) != "before" {
			t.Errorf("Get(k003) = %q, want what the transaction put before the prefetch", v)
		}
		if v := b.Get(key(5)); v != nil {
			t.Errorf("Get(k005) = %q after its delete, want nil", v)
		}
		c := b.Cursor()
		var got []string
		for k, _ := c.Seek(key(2)); k != nil && bytes.Compare(k, key(8)) < 0; k, _ = c.Next() {
			got = append(got, string(k))
		}
		if want := []string{"k002", "k003", "k004", "k005x", "k006", "k007"}; fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("walk from k002 = %q, want %q", got, want)
		}
		if got := e.Stats().Reads - start; got != 0 {
			t.Errorf("reads over a prefetched range took %d round trips, want 0", got)
		}
		// A bucket deleted by the transaction has nothing of the
		// snapshot left, prefetched or not.
		if err := tx.DeleteBucket(bucketName); err != nil {
			return err
		}
		nb, err := tx.CreateBucketIfNotExists(bucketName)
		if err != nil {
			return err
		}
		if v := nb.Get(key(1)); v != nil {
			t.Errorf("Get(k001) after the bucket was deleted = %q, want nil", v)
		}
		return errDone
	})
	if !errors.Is(err, errDone) {
		t.Fatal(err)
	}
}

// TestSearchReadsCostRoundTripsNotTokens: on etcd, the reads of a search
// named by one Prefetch each (the newest cases of each of many tokens,
// those tokens among the cases found, the cases found) cost a round trip
// each, however many tokens and cases, and answer as without it.
func TestSearchReadsCostRoundTripsNotTokens(t *testing.T) {
	e, s := layoutOnEtcd(t)
	const tokens, cases = 12, 30
	// Case i is under the tokens j that divide it + 1: token 0 holds
	// every case, token 11 a few.
	ids := indexCases(t, s, cases, func(i int) [][]byte {
		var under [][]byte
		for j := range tokens {
			if (i+1)%(j+1) == 0 {
				under = append(under, searchToken(j))
			}
		}
		return under
	})
	var toks [][]byte
	for j := range tokens {
		toks = append(toks, searchToken(j))
	}
	// search reads what a search does: the 5 newest cases of each token,
	// then each token among every other case, then every case.
	search := func(tx datastore.ReadTx, prefetch bool) (string, error) {
		var out []string
		step := func(name string, p datastore.Prefetch, read func() (any, error)) error {
			if prefetch {
				start := e.Stats().Reads
				tx.Prefetch(p)
				defer func() {
					if got := e.Stats().Reads - start; got != 1 {
						t.Errorf("%s after their prefetch took %d round trips, want 1", name, got)
					}
				}()
			}
			got, err := read()
			out = append(out, fmt.Sprint(got))
			return err
		}
		var among []uint64
		for i := 0; i < len(ids); i += 2 {
			among = append(among, ids[i])
		}
		err := step(fmt.Sprintf("the newest cases of %d tokens", tokens), datastore.Prefetch{Tokens: toks, TokenLimit: 5}, func() (any, error) {
			var all [][]uint64
			for _, tk := range toks {
				got, err := tx.CasesWithToken(tk, 5)
				if err != nil {
					return nil, err
				}
				all = append(all, got)
			}
			return all, nil
		})
		if err != nil {
			return "", err
		}
		err = step(fmt.Sprintf("%d tokens among %d cases", tokens, len(among)), datastore.Prefetch{AmongTokens: toks, AmongCaseIDs: among}, func() (any, error) {
			var all [][]uint64
			for _, tk := range toks {
				got, err := tx.CasesWithTokenAmong(tk, among)
				if err != nil {
					return nil, err
				}
				all = append(all, got)
			}
			return all, nil
		})
		if err != nil {
			return "", err
		}
		err = step(fmt.Sprintf("%d cases", len(ids)), datastore.Prefetch{CaseIDs: ids}, func() (any, error) {
			var numbers []string
			for _, id := range ids {
				c, err := tx.CaseByID(id)
				if err != nil {
					return nil, err
				}
				numbers = append(numbers, c.Number)
			}
			return numbers, nil
		})
		return fmt.Sprint(out), err
	}
	var with, without string
	err := s.View(t.Context(), func(tx datastore.ReadTx) error {
		var err error
		without, err = search(tx, false)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	err = s.View(t.Context(), func(tx datastore.ReadTx) error {
		if _, err := tx.CaseByID(ids[0]); err != nil { // takes the snapshot
			return err
		}
		var err error
		with, err = search(tx, true)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if with != without {
		t.Errorf("with prefetches the reads answer\n%s\nwithout\n%s", with, without)
	}
}

// TestGetReadsAKeyOnce: a transaction reads a key from the cluster once,
// present or absent, however many times it gets it; its own writes still
// come first.
func TestGetReadsAKeyOnce(t *testing.T) {
	e, _ := open(t, etcdstore.Config{}, etcdtest.WithoutFsync())
	fill(t, e, 3)
	errDone := errors.New("done")
	err := e.Update(t.Context(), func(tx kv.Tx) error {
		b := tx.Bucket(bucketName) // takes the snapshot
		start := e.Stats().Reads
		for range 3 {
			expect(t, "Get(k001)", key(1), b.Get(key(1)), 1)
			if v := b.Get([]byte("nope")); v != nil {
				t.Errorf("Get(nope) = %q, want nil", v)
			}
		}
		if got := e.Stats().Reads - start; got != 2 {
			t.Errorf("3 Gets each of 2 keys took %d round trips, want 2", got)
		}
		if err := b.Put(key(1), []byte("mine")); err != nil {
			return err
		}
		if err := b.Put([]byte("nope"), []byte("now")); err != nil {
			return err
		}
		if v := b.Get(key(1)); string(v) != "mine" {
			t.Errorf("Get(k001) after a Put = %q, want mine", v)
		}
		if v := b.Get([]byte("nope")); string(v) != "now" {
			t.Errorf("Get(nope) after a Put = %q, want now", v)
		}
		return errDone
	})
	if !errors.Is(err, errDone) {
		t.Fatal(err)
	}
}

// TestWritesReadTheirCellsAndEventsAtOnce: a write looks up each
// statistics cell it adds to, and each audit event's key before it puts
// it: on etcd one round trip for the cells, and one for the events,
// however many.
func TestWritesReadTheirCellsAndEventsAtOnce(t *testing.T) {
	e, s := layoutOnEtcd(t)
	at := time.Date(2026, time.March, 12, 3, 0, 0, 0, time.UTC)
	// reads is what one Update of fn cost in round trips, its first read
	// included.
	reads := func(fn func(tx datastore.Tx) error) int64 {
		start := e.Stats().Reads
		if err := s.Update(t.Context(), fn); err != nil {
			t.Fatal(err)
		}
		return e.Stats().Reads - start
	}
	events := func(n int) func(tx datastore.Tx) error {
		return func(tx datastore.Tx) error {
			var es []audit.Event
			for range n {
				es = append(es, audit.Event{Time: at, Actor: "tester", Action: "test.event", Resource: "things", Outcome: audit.OutcomeOK})
			}
			_, err := tx.AppendAudit(es...)
			return err
		}
	}
	reads(events(1)) // finds the buckets
	if one, many := reads(events(1)), reads(events(20)); many != one {
		t.Errorf("appending 20 audit events took %d round trips, one took %d: want as many", many, one)
	}
	// A report counts in 4 cells: the month's and the day's, each in
	// total and by its facts.
	r := model.StoredReport{ID: "0190c4a2-7d3e-7c4b-8a5e-000000000001", ReceiveTime: at, CreateTime: at,
		CallType: model.CallIntervention, IncidentUnit: units.Key{Code: "00004", ValidFrom: vntime.Date{Year: 2025, Month: time.July, Day: 1}}}
	if n := len(tally.OfReport(r)); n != 4 {
		t.Fatalf("the report counts in %d cells, want 4 for this test", n)
	}
	warm := r
	warm.ID = "0190c4a2-7d3e-7c4b-8a5e-000000000000"
	reads(func(tx datastore.Tx) error { return tx.CreateReport(warm) }) // finds the buckets
	got := reads(func(tx datastore.Tx) error { return tx.CreateReport(r) })
	if got != 3 {
		t.Errorf("a report write took %d round trips, want 3: its first read, the look-up of its id, its 4 statistics cells", got)
	}
}

// TestPrefetchSkipsWhatItHolds: a Prefetch of ranges whose answers the
// transaction already holds (inside a window an earlier range brought,
// or a key a Get read) makes no round trip; one that reaches past them
// does.
func TestPrefetchSkipsWhatItHolds(t *testing.T) {
	e, _ := open(t, etcdstore.Config{}, etcdtest.WithoutFsync())
	fill(t, e, 20)
	err := e.View(t.Context(), func(tx kv.Tx) error {
		b := tx.Bucket(bucketName) // takes the snapshot
		kv.Prefetch(tx, kv.Range{Bucket: bucketName, From: key(15), Limit: 10})
		b.Get(key(3))
		start := e.Stats().Reads
		kv.Prefetch(tx,
			kv.Range{Bucket: bucketName, From: key(16), To: key(18)},
			kv.Range{Bucket: bucketName, From: []byte("k0175"), Limit: 1},
			kv.Point(bucketName, []byte("k100")),
			kv.Point(bucketName, key(3)),
		)
		if got := e.Stats().Reads - start; got != 0 {
			t.Errorf("a Prefetch of what the transaction holds took %d round trips, want 0", got)
		}
		kv.Prefetch(tx, kv.Range{Bucket: bucketName, From: key(12), To: key(16)})
		if got := e.Stats().Reads - start; got != 1 {
			t.Errorf("a Prefetch of a range it does not hold took %d round trips, want 1", got)
		}
		expect(t, "Get(k013)", key(13), b.Get(key(13)), 13)
		expect(t, "Get(k019)", key(19), b.Get(key(19)), 19)
		if got := e.Stats().Reads - start; got != 1 {
			t.Errorf("Gets of prefetched keys took %d more round trips, want 0", got-1)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
