package etcdstore_test

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/childcase/childcase/internal/domain/audit"
	"github.com/childcase/childcase/internal/domain/auditlog"
	"github.com/childcase/childcase/internal/domain/datastore"
	"github.com/childcase/childcase/internal/storage/boltstore"
	"github.com/childcase/childcase/internal/storage/etcdstore"
	"github.com/childcase/childcase/internal/storage/etcdstore/etcdtest"
	"github.com/childcase/childcase/internal/storage/kv"
)

// TestAuditIndexByTimeOfAnOlderStore: a store on etcd written before the
// audit log's index by time (an etcd store is never migrated) gets its
// events' entries from auditlog.IndexByTime, the start's background duty,
// in batches that fit in the commits etcd takes (the engine's default
// limits, 10,000 operations: the log here is longer than that), and a
// listing by time alone then reads the index, by time.
func TestAuditIndexByTimeOfAnOlderStore(t *testing.T) {
	ctx := t.Context()
	e, s := openAuditStore(t)
	t0 := time.Date(2026, time.March, 16, 1, 0, 0, 0, time.UTC)
	const n, per = 10500, 500
	for i := 0; i < n; i += per {
		err := s.Update(ctx, func(tx datastore.Tx) error {
			events := make([]audit.Event, per)
			for j := range events {
				// Each event a second before the one it follows: time
				// order is the reverse of seq order.
				events[j] = audit.Event{Time: t0.Add(-time.Duration(i+j) * time.Second), Actor: "lan.nguyen",
					Action: "case.list", Resource: "cases", Outcome: audit.OutcomeOK}
			}
			_, err := tx.AppendAudit(events...)
			return err
		})
		if err != nil {
			t.Fatalf("AppendAudit: %v", err)
		}
	}
	// As written before the index: no key under its tag (12), the record
	// that it is complete included.
	var entries [][]byte
	err := e.View(ctx, func(tx kv.Tx) error {
		c := tx.Bucket([]byte("index")).Cursor()
		for k, _ := c.Seek([]byte{12}); k != nil && k[0] == 12; k, _ = c.Next() {
			entries = append(entries, bytes.Clone(k))
		}
		return nil
	})
	if err != nil || len(entries) != n+1 {
		t.Fatalf("the index by time holds %d keys (%v), want %d", len(entries), err, n+1)
	}
	for chunk := range slices.Chunk(entries, 5000) {
		err := e.Update(ctx, func(tx kv.Tx) error {
			for _, k := range chunk {
				if err := tx.Bucket([]byte("index")).Delete(k); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	firstPage := func() []uint64 {
		t.Helper()
		var es []audit.Event
		err := s.View(ctx, func(tx datastore.ReadTx) error {
			var err error
			es, _, err = tx.ListAuditEvents(datastore.AuditQuery{From: t0.Add(-24 * time.Hour), Limit: 3})
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		var seqs []uint64
		for _, e := range es {
			seqs = append(seqs, e.Seq)
		}
		return seqs
	}
	if got, want := firstPage(), []uint64{n, n - 1, n - 2}; !slices.Equal(got, want) {
		t.Errorf("first page by time before the index = %v, want the log's walk %v", got, want)
	}
	if walked, err := auditlog.New(s).IndexByTime(ctx); err != nil || walked != n {
		t.Fatalf("IndexByTime = %d walked, %v; want %d", walked, err, n)
	}
	if walked, err := auditlog.New(s).IndexByTime(ctx); err != nil || walked != 0 {
		t.Fatalf("IndexByTime of a complete index = %d walked, %v; want none", walked, err)
	}
	if got, want := firstPage(), []uint64{1, 2, 3}; !slices.Equal(got, want) {
		t.Errorf("first page by time once indexed = %v, want by time %v", got, want)
	}
}

// TestAuditVerifyFindsAnEventHiddenFromTheListingsOnEtcd is boltstore's
// TestAuditVerifyFindsAnEventHiddenFromTheListings on etcd, where the
// verification fetches a batch's index entries in one round trip: an
// entry deleted from the index by case is named at its event, past the
// first batch.
func TestAuditVerifyFindsAnEventHiddenFromTheListingsOnEtcd(t *testing.T) {
	ctx := t.Context()
	e, s := openAuditStore(t)
	t0 := time.Date(2026, time.March, 16, 1, 0, 0, 0, time.UTC)
	err := s.Update(ctx, func(tx datastore.Tx) error {
		events := make([]audit.Event, 600)
		for i := range events {
			events[i] = audit.Event{Time: t0.Add(time.Duration(i) * time.Second), Actor: "lan.nguyen", Action: "case.read",
				Resource: "cases/HN-2026-00001", Case: "cases/HN-2026-00001", Outcome: audit.OutcomeOK}
		}
		events[499].Case, events[499].Resource = "cases/HN-2026-00002", "cases/HN-2026-00002"
		_, err := tx.AppendAudit(events...)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if res, err := auditlog.New(s).Verify(ctx); err != nil || res.Problem != nil || res.Checked != 600 {
		t.Fatalf("before: Verify = %+v, %v; want 600 events and no problem", res, err)
	}
	deleteCaseEntry(t, e, "cases/HN-2026-00002", 500)
	res, err := auditlog.New(s).Verify(ctx)
	if err != nil || res.Problem == nil || res.Problem.Seq != 500 || res.Checked != 499 {
		t.Fatalf("Verify = %+v (problem %v), %v; want the problem at seq 500 after 499 events", res, res.Problem, err)
	}
}

// TestAuditVerifyFindsTheNewestEventHiddenFromTheListingsOnEtcd is the
// test above with the entry deleted from the log's last event, the
// newest read of a case, the one an insider would most want to hide. A
// file store leaves the entries of its reads' events for a later commit,
// and its verification passes over such a tail at the log's end; an
// engine writes every event's entries with it, and OpenEngine writes
// those of a tail a file moved onto it brought, so on an open engine
// store an event at the end without its entries is hidden from the
// listings, not waiting, and the verification must name it.
func TestAuditVerifyFindsTheNewestEventHiddenFromTheListingsOnEtcd(t *testing.T) {
	ctx := t.Context()
	e, s := openAuditStore(t)
	t0 := time.Date(2026, time.March, 16, 1, 0, 0, 0, time.UTC)
	const n = 20
	for i := range n {
		// One read at a time, as a server's Batch commits them.
		err := s.Batch(ctx, func(tx datastore.Tx) error {
			c := "cases/HN-2026-00001"
			if i == n-1 {
				c = "cases/HN-2026-00002"
			}
			_, err := tx.AppendAudit(audit.Event{Time: t0.Add(time.Duration(i) * time.Second), Actor: "lan.nguyen",
				Action: "case.read", Resource: c, Case: c, Outcome: audit.OutcomeOK})
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	if res, err := auditlog.New(s).Verify(ctx); err != nil || res.Problem != nil || res.Checked != n {
		t.Fatalf("before: Verify = %+v, %v; want %d events and no problem", res, err, n)
	}
	deleteCaseEntry(t, e, "cases/HN-2026-00002", n)
	var listed int
	err := s.View(ctx, func(tx datastore.ReadTx) error {
		es, _, err := tx.ListAuditEvents(datastore.AuditQuery{Case: "cases/HN-2026-00002", Limit: 10})
		listed = len(es)
		return err
	})
	if err != nil || listed != 0 {
		t.Fatalf("the listing by case shows %d events, %v; want the read hidden (0)", listed, err)
	}
	res, err := auditlog.New(s).Verify(ctx)
	if err != nil || res.Problem == nil || res.Problem.Seq != n || res.Checked != n-1 {
		t.Fatalf("Verify = %+v (problem %v), %v; want the problem at seq %d after %d events", res, res.Problem, err, n, n-1)
	}
	if tail, err := auditlog.New(s).VerifyTail(ctx, 5); err != nil || tail.Problem == nil || tail.Problem.Seq != n {
		t.Errorf("VerifyTail(5) = %+v, %v; want the problem at seq %d", tail, err, n)
	}
}

// openAuditStore opens a store on a new etcd engine, without fsync.
func openAuditStore(t *testing.T) (*etcdstore.Engine, *boltstore.EngineStore) {
	t.Helper()
	e, _ := open(t, etcdstore.Config{}, etcdtest.WithoutFsync())
	s, err := boltstore.OpenEngine(t.Context(), e, boltstore.EngineOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return e, s
}

// deleteCaseEntry deletes the entry of audit event seq in the index by
// case (tag 10: its case, a zero byte and its seq), as one who wants a
// read hidden from the listings would.
func deleteCaseEntry(t *testing.T, e *etcdstore.Engine, c string, seq uint64) {
	t.Helper()
	entry := append([]byte{10}, c+"\x00"...)
	entry = binary.BigEndian.AppendUint64(entry, seq)
	err := e.Update(t.Context(), func(tx kv.Tx) error {
		if tx.Bucket([]byte("index")).Get(entry) == nil {
			return fmt.Errorf("no entry %q to delete", entry)
		}
		return tx.Bucket([]byte("index")).Delete(entry)
	})
	if err != nil {
		t.Fatal(err)
	}
}
