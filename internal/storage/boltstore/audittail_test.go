package boltstore_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/childcase/childcase/internal/domain/audit"
	"github.com/childcase/childcase/internal/domain/datastore"
	"github.com/childcase/childcase/internal/storage/boltstore"
)

// readEvent is the audit event of the i-th read of a test: the reads
// alternate between two cases and two actors.
func readEvent(i int) audit.Event {
	return audit.Event{
		Time:     auditT0.Add(time.Duration(i) * time.Second),
		Actor:    fmt.Sprintf("reader-%d", i%2),
		Role:     "COMMUNE_WORKER",
		Action:   "case.read",
		Resource: fmt.Sprintf("cases/HN-2026-0000%d", i%2),
		Case:     fmt.Sprintf("cases/HN-2026-0000%d", i%2),
		Outcome:  audit.OutcomeOK,
	}
}

// listed counts what the three listings through an index show: by the
// first case, by the first actor, and by a time range holding every
// event.
func listed(t *testing.T, s datastore.Store) (byCase, byActor, byTime int) {
	t.Helper()
	err := s.View(context.Background(), func(tx datastore.ReadTx) error {
		for _, q := range []struct {
			q datastore.AuditQuery
			n *int
		}{
			{datastore.AuditQuery{Case: readEvent(0).Case, Limit: 1000}, &byCase},
			{datastore.AuditQuery{Actor: readEvent(0).Actor, Limit: 1000}, &byActor},
			{datastore.AuditQuery{From: auditT0, To: auditT0.Add(time.Hour), Limit: 1000}, &byTime},
		} {
			es, _, err := tx.ListAuditEvents(q.q)
			if err != nil {
				return err
			}
			*q.n = len(es)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return byCase, byActor, byTime
}

// TestReadsAuditEntriesWaitForALaterCommit holds what a file store does
// with the index entries of the audit events of reads (Batch): their
// commit leaves them out, and the first of a listing's IndexAuditEvents,
// an ordinary write, the read that brings the waiting events to 256,
// Close, and a start after a crash (a copy of the file taken while they
// waited) writes them, so that the listings see every event; check
// passes a file with events waiting, and verification finds no gap.
func TestReadsAuditEntriesWaitForALaterCommit(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	path := filepath.Join(dir, "childcase.db")
	s := open(t, path)
	read := func(i int) {
		t.Helper()
		if err := s.Batch(ctx, func(tx datastore.Tx) error {
			_, err := tx.AppendAudit(readEvent(i))
			return err
		}); err != nil {
			t.Fatalf("read %d: %v", i, err)
		}
	}
	want := func(stage string, n int, indexed bool) {
		t.Helper()
		c, a, tm := listed(t, s)
		if !indexed {
			n = 0
		}
		if c != (n+1)/2 || a != (n+1)/2 || tm != n {
			t.Errorf("%s: listings by case, actor and time show %d, %d and %d events; want %d, %d and %d",
				stage, c, a, tm, (n+1)/2, (n+1)/2, n)
		}
	}
	n := 0
	for range 10 {
		read(n)
		n++
	}
	// The reads' commits left the entries out, yet the log is whole.
	want("after 10 reads", n, false)
	if err := s.View(ctx, func(tx datastore.ReadTx) error {
		events := []audit.Event{}
		for e, err := range tx.AuditEvents(1) {
			if err != nil {
				return err
			}
			events = append(events, e)
		}
		if len(events) != n {
			t.Errorf("the log holds %d events, want %d", len(events), n)
		}
		if at, index, err := tx.AuditIndexGap(events); err != nil || at >= 0 {
			t.Errorf("AuditIndexGap of events waiting for their entries = %d %q %v; want none", at, index, err)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}

	// A crash now: a copy of the file as the commits left it.
	crashed := filepath.Join(dir, "crashed.db")
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(crashed, raw, 0o600); err != nil {
		t.Fatal(err)
	}
	res, err := boltstore.Check(ctx, crashed)
	if err != nil || !res.OK() || res.AuditUnindexed != n {
		t.Errorf("check of a file with %d events waiting: err %v, problems %v, %d waiting", n, err, res.Problems, res.AuditUnindexed)
	}
	restarted := open(t, crashed)
	if c, a, tm := listed(t, restarted); c != n/2 || a != n/2 || tm != n {
		t.Errorf("after a start on the crashed file, the listings show %d, %d and %d events; want %d, %d and %d", c, a, tm, n/2, n/2, n)
	}
	if err := restarted.Close(); err != nil {
		t.Fatal(err)
	}
	if res, err := boltstore.Check(ctx, crashed); err != nil || !res.OK() || res.AuditUnindexed != 0 {
		t.Errorf("check after the start: err %v, problems %v, %d waiting; want none", err, res.Problems, res.AuditUnindexed)
	}

	// A listing has them written first.
	if err := s.IndexAuditEvents(ctx); err != nil {
		t.Fatal(err)
	}
	want("after IndexAuditEvents", n, true)

	// An ordinary write writes them.
	for range 5 {
		read(n)
		n++
	}
	want("after 5 more reads", 10, true)
	if err := s.Update(ctx, func(tx datastore.Tx) error { return nil }); err != nil {
		t.Fatal(err)
	}
	want("after an ordinary write", n, true)

	// The read that brings them to 256 writes them all.
	for range 255 {
		read(n)
		n++
	}
	want("after 255 more reads", 15, true)
	read(n)
	n++
	want("after the 256th", n, true)

	// Close writes them.
	for range 3 {
		read(n)
		n++
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if res, err := boltstore.Check(ctx, path); err != nil || !res.OK() || res.AuditUnindexed != 0 || res.AuditEvents != n {
		t.Errorf("check after Close: err %v, problems %v, %d events, %d waiting; want %d, none waiting", err, res.Problems, res.AuditEvents, res.AuditUnindexed, n)
	}
}

// TestHotBackupWritesTheReadsWaitingAuditEntries holds the README's
// promise of a hot backup (WriteBackup) of a serving file store: the
// entries its reads' commits left for later are written before the copy
// is made, so that the copy is laid out as a closed file is, and a
// listing of a copy opened read-only (which writes nothing) shows every
// read; the serving store's listings too, without another commit.
func TestHotBackupWritesTheReadsWaitingAuditEntries(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s := open(t, filepath.Join(dir, "childcase.db"))
	const n = 10
	for i := range n {
		if err := s.Batch(ctx, func(tx datastore.Tx) error {
			_, err := tx.AppendAudit(readEvent(i))
			return err
		}); err != nil {
			t.Fatalf("read %d: %v", i, err)
		}
	}
	if c, _, _ := listed(t, s); c != 0 {
		t.Fatalf("before the backup, the listing by case shows %d events: the reads' commits wrote their entries, the test tests nothing", c)
	}
	copyPath := filepath.Join(dir, "backup.db")
	f, err := os.Create(copyPath)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.WriteBackup(ctx, f); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	if c, a, tm := listed(t, s); c != n/2 || a != n/2 || tm != n {
		t.Errorf("after the backup, the serving store's listings show %d, %d and %d events; want %d, %d and %d", c, a, tm, n/2, n/2, n)
	}
	res, err := boltstore.Check(ctx, copyPath)
	if err != nil || !res.OK() || res.AuditEvents != n || res.AuditUnindexed != 0 {
		t.Errorf("check of the copy: err %v, problems %v, %d events, %d waiting for their entries; want %d, none waiting",
			err, res.Problems, res.AuditEvents, res.AuditUnindexed, n)
	}
	ro, err := boltstore.OpenReadOnly(copyPath, boltstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer ro.Close()
	if c, a, tm := listed(t, ro); c != n/2 || a != n/2 || tm != n {
		t.Errorf("the copy opened read-only lists %d, %d and %d events; want %d, %d and %d", c, a, tm, n/2, n/2, n)
	}
}
