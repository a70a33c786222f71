package idempotency_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/childcase/childcase/internal/domain/access"
	"github.com/childcase/childcase/internal/domain/datastore"
	"github.com/childcase/childcase/internal/domain/idempotency"
	"github.com/childcase/childcase/internal/domain/model"
	"github.com/childcase/childcase/internal/storage/memstore"
	"github.com/childcase/childcase/internal/storage/storagetest"
)

var now = time.Date(2026, 11, 28, 3, 0, 0, 0, time.UTC)

var lan = access.Principal{UserID: "lan", Role: model.RoleHotlineOperator, Unit: model.OrgHotline111}

func newStore(t *testing.T) datastore.Store {
	t.Helper()
	s := memstore.New()
	t.Cleanup(func() { s.Close() })
	return s
}

// remember stores lan's request id, made at the given time.
func remember(t *testing.T, s datastore.Store, id string, at time.Time) {
	t.Helper()
	err := s.Update(context.Background(), func(tx datastore.Tx) error {
		return idempotency.Remember(tx, lan, "CreateReport", id, []byte("fp"), "r-"+id, nil, at)
	})
	if err != nil {
		t.Fatal(err)
	}
}

// remembered reports whether lan's request id is still known.
func remembered(t *testing.T, s datastore.Store, id string) bool {
	t.Helper()
	var found bool
	err := s.View(context.Background(), func(tx datastore.ReadTx) error {
		var err error
		_, found, err = idempotency.Replay(tx, lan, "CreateReport", id, []byte("fp"))
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return found
}

// A record younger than MinRetention (7 days) is never swept, whatever
// retention is configured; one older than the retention is.
func TestSweepKeepsSevenDaysAtLeast(t *testing.T) {
	for _, retention := range []time.Duration{time.Nanosecond, time.Hour, 6 * 24 * time.Hour, idempotency.MinRetention} {
		t.Run(retention.String(), func(t *testing.T) {
			s := newStore(t)
			remember(t, s, "young", now.Add(-idempotency.MinRetention+time.Second))
			remember(t, s, "exactly7d", now.Add(-idempotency.MinRetention))
			remember(t, s, "old", now.Add(-idempotency.MinRetention-time.Second))
			n, err := idempotency.Sweep(context.Background(), s, now, retention)
			if err != nil {
				t.Fatal(err)
			}
			if n != 1 {
				t.Errorf("Sweep = %d, want 1", n)
			}
			if !remembered(t, s, "young") || !remembered(t, s, "exactly7d") {
				t.Error("a record not older than 7 days was swept")
			}
			if remembered(t, s, "old") {
				t.Error("a record older than the retention was kept")
			}
		})
	}
}

// The default retention is 30 days: a record of 8 or 29 days stays, one of
// 31 days goes. A longer configured retention is honoured.
func TestSweepRetention(t *testing.T) {
	s := newStore(t)
	remember(t, s, "8d", now.Add(-8*24*time.Hour))
	remember(t, s, "29d", now.Add(-29*24*time.Hour))
	remember(t, s, "31d", now.Add(-31*24*time.Hour))
	remember(t, s, "100d", now.Add(-100*24*time.Hour))
	if n, err := idempotency.Sweep(context.Background(), s, now, 90*24*time.Hour); err != nil || n != 1 {
		t.Errorf("Sweep(90 days) = %d, %v; want 1", n, err)
	}
	if n, err := idempotency.Sweep(context.Background(), s, now, 0); err != nil || n != 1 {
		t.Errorf("Sweep(default) = %d, %v; want 1", n, err)
	}
	for id, want := range map[string]bool{"8d": true, "29d": true, "31d": false, "100d": false} {
		if got := remembered(t, s, id); got != want {
			t.Errorf("record %s kept = %v, want %v", id, got, want)
		}
	}
	if got := idempotency.EffectiveRetention(0); got != 30*24*time.Hour {
		t.Errorf("EffectiveRetention(0) = %v, want 30 days", got)
	}
}

// Many expired records are swept in several small transactions, all of
// them, and nothing younger.
func TestSweepInBatches(t *testing.T) {
	s := newStore(t)
	const old = 700
	err := s.Update(context.Background(), func(tx datastore.Tx) error {
		for i := range old {
			at := now.Add(-40*24*time.Hour + time.Duration(i)*time.Second)
			if err := idempotency.Remember(tx, lan, "CreateReport", fmt.Sprintf("old-%03d", i), []byte("fp"), "r", nil, at); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	remember(t, s, "young", now.Add(-time.Hour))
	n, err := idempotency.Sweep(context.Background(), s, now, 0)
	if err != nil || n != old {
		t.Fatalf("Sweep = %d, %v; want %d", n, err, old)
	}
	if remembered(t, s, "old-000") || remembered(t, s, "old-699") || !remembered(t, s, "young") {
		t.Error("the sweep left an expired record or took a young one")
	}
}

// Replay finds the request Remember recorded, and refuses the same id
// with another request; ids are per user and per method. claim is how the
// callers use the two: a replay, else the change and its record.
func TestReplayAndRemember(t *testing.T) {
	s := newStore(t)
	claim := func(p access.Principal, method, id, fp, resource string) (string, bool, error) {
		var prior string
		var replayed bool
		err := s.Update(context.Background(), func(tx datastore.Tx) error {
			rec, found, err := idempotency.Replay(tx, p, method, id, []byte(fp))
			if err != nil || found {
				prior, replayed = rec.Resource, found
				return err
			}
			return idempotency.Remember(tx, p, method, id, []byte(fp), resource, nil, now)
		})
		return prior, replayed, err
	}
	if _, replayed, err := claim(lan, "CreateReport", "r1", "a", "report-1"); err != nil || replayed {
		t.Fatalf("first claim: replayed %v, %v", replayed, err)
	}
	if prior, replayed, err := claim(lan, "CreateReport", "r1", "a", "report-2"); err != nil || !replayed || prior != "report-1" {
		t.Errorf("retry = %q, %v, %v; want report-1, replayed", prior, replayed, err)
	}
	if _, _, err := claim(lan, "CreateReport", "r1", "b", "report-3"); !errors.Is(err, model.ErrIdempotencyMismatch) {
		t.Errorf("same id, other request: %v, want ErrIdempotencyMismatch", err)
	}
	minh := lan
	minh.UserID = "minh"
	if _, replayed, err := claim(minh, "CreateReport", "r1", "b", "report-4"); err != nil || replayed {
		t.Errorf("another user's same id: replayed %v, %v; want a new claim", replayed, err)
	}
	if _, replayed, err := claim(lan, "LinkReport", "r1", "b", "report-5"); err != nil || replayed {
		t.Errorf("same id on another method: replayed %v, %v; want a new claim", replayed, err)
	}
	if _, replayed, err := claim(lan, "CreateReport", "", "a", "report-6"); err != nil || replayed {
		t.Errorf("no request id: replayed %v, %v", replayed, err)
	}
}

// A record an earlier version wrote holds the fingerprint it took of the
// request (of its phones as sent, before they were stored in E.164): a
// retry sent alike matches it through the earlier fingerprint, and
// another request matches neither.
func TestReplayMatchesAnEarlierFingerprint(t *testing.T) {
	s := newStore(t)
	err := s.Update(context.Background(), func(tx datastore.Tx) error {
		return idempotency.Remember(tx, lan, "CreateReport", "r1", []byte("as sent"), "report-1", nil, now)
	})
	if err != nil {
		t.Fatal(err)
	}
	replay := func(fp []byte, earlier ...[]byte) (string, error) {
		var prior string
		err := s.View(context.Background(), func(tx datastore.ReadTx) error {
			rec, _, err := idempotency.Replay(tx, lan, "CreateReport", "r1", fp, earlier...)
			prior = rec.Resource
			return err
		})
		return prior, err
	}
	if prior, err := replay([]byte("in E.164"), []byte("as sent")); err != nil || prior != "report-1" {
		t.Errorf("the retry of the request an earlier version remembered: %q, %v; want report-1", prior, err)
	}
	if _, err := replay([]byte("in E.164"), nil); !errors.Is(err, model.ErrIdempotencyMismatch) {
		t.Errorf("no earlier fingerprint: %v; want ErrIdempotencyMismatch", err)
	}
	if _, err := replay([]byte("in E.164"), []byte("another")); !errors.Is(err, model.ErrIdempotencyMismatch) {
		t.Errorf("another request: %v; want ErrIdempotencyMismatch", err)
	}
}

// deleteCountingTx counts the idempotency records a body deletes
// (storagetest.SmallCommits).
type deleteCountingTx struct {
	datastore.Tx
	deleted *int
}

func (c deleteCountingTx) DeleteIdempotencyBefore(before time.Time, limit int) (int, error) {
	n, err := c.Tx.DeleteIdempotencyBefore(before, limit)
	*c.deleted += n
	return n, err
}

// A store that commits fewer deletions at once than a sweep's batch (an
// etcd cluster started with a small --max-txn-ops) still gets every
// expired record swept, in smaller transactions, rather than a sweep that
// fails every hour for ever.
func TestSweepFitsAStoreOfSmallCommits(t *testing.T) {
	s := &storagetest.SmallCommits{Store: newStore(t), Limit: 50, Count: func(tx datastore.Tx, n *int) datastore.Tx {
		return deleteCountingTx{Tx: tx, deleted: n}
	}}
	const old = 300
	for i := range old {
		remember(t, s, fmt.Sprintf("old-%03d", i), now.Add(-40*24*time.Hour+time.Duration(i)*time.Second))
	}
	remember(t, s, "young", now.Add(-time.Hour))
	n, err := idempotency.Sweep(context.Background(), s, now, 0)
	if err != nil || n != old {
		t.Fatalf("Sweep = %d, %v; want %d", n, err, old)
	}
	if s.Refused == 0 {
		t.Fatal("no commit was refused: the test's limit does not bite")
	}
	if remembered(t, s, "old-000") || remembered(t, s, "old-299") || !remembered(t, s, "young") {
		t.Error("the sweep left an expired record or took a young one")
	}
}
