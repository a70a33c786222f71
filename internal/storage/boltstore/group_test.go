package boltstore_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/childcase/childcase/internal/domain/datastore"
	"github.com/childcase/childcase/internal/domain/model"
	"github.com/childcase/childcase/internal/domain/units"
	"github.com/childcase/childcase/internal/domain/vntime"
	"github.com/childcase/childcase/internal/storage/boltstore"
	"github.com/childcase/childcase/internal/storage/storagetest"
)

func groupUser(id string) model.User {
	return model.User{ID: id, DisplayName: id, Role: model.RoleAuditor, Unit: model.OrgSystem}
}

// TestUpdateGroupCommit: Updates that arrive while a commit is under way
// share the next transaction (and its fsync) instead of taking one each,
// and every one of them is committed.
func TestUpdateGroupCommit(t *testing.T) {
	s := open(t, filepath.Join(t.TempDir(), "childcase.db"))
	const n = 32
	var mu sync.Mutex
	txOf := make([]int, n) // the transaction each call committed in: its last run
	errs := storagetest.UpdatesBehindACommit(t, s, n, func(tx datastore.Tx, i int) error {
		mu.Lock()
		txOf[i] = boltstore.TxID(tx)
		mu.Unlock()
		return tx.CreateUser(groupUser(fmt.Sprintf("user-%02d", i)))
	})
	txs := map[int]bool{}
	for i, err := range errs {
		if err != nil {
			t.Errorf("Update %d: %v", i, err)
		}
		txs[txOf[i]] = true
	}
	t.Logf("%d concurrent Updates committed in %d transactions", n, len(txs))
	if len(txs) >= n {
		t.Errorf("%d concurrent Updates took %d transactions: none shared a commit", n, len(txs))
	}
	err := s.View(context.Background(), func(tx datastore.ReadTx) error {
		got, err := tx.CountUsers()
		if err == nil && got != n {
			t.Errorf("CountUsers = %d, want %d: a shared commit lost a write", got, n)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestAppendOnlyBucketsFillPages: the buckets written at their end (reports
// by UUIDv7, case numbers, the outbox) keep full pages rather than the
// half-full ones bbolt's split leaves, so that the database takes about
// half the room for them.
func TestAppendOnlyBucketsFillPages(t *testing.T) {
	ctx := context.Background()
	s := open(t, filepath.Join(t.TempDir(), "childcase.db"))
	unit := units.Key{Code: "00004", ValidFrom: vntime.Date{Year: 2025, Month: time.July, Day: 1}}
	when := time.Date(2026, time.March, 14, 2, 0, 0, 0, time.UTC)
	for i := range 600 {
		id, err := uuid.NewV7()
		if err != nil {
			t.Fatal(err)
		}
		err = s.Update(ctx, func(tx datastore.Tx) error {
			c := model.Case{Number: fmt.Sprintf("HN-2026-%05d", i+1), Status: model.StatusAwaitingAcknowledgement,
				ResponsibleUnit: unit, ReportIDs: []string{id.String()}, CreateTime: when, Revision: 1}
			if err := tx.CreateCase(&c); err != nil {
				return err
			}
			r := model.StoredReport{ID: id.String(), CallType: model.CallIntervention, IncidentUnit: unit,
				ReceiveTime: when, CaseNumber: c.Number, Private: model.Sealed{KeyID: "cases/" + c.Number, Data: make([]byte, 16)}}
			if err := tx.CreateReport(r); err != nil {
				return err
			}
			_, err := tx.AppendNotifications(model.Notification{Time: when, Kind: "CASE_FORWARDED", Case: "cases/" + c.Number})
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	err := s.View(ctx, func(tx datastore.ReadTx) error {
		// Not cases: bbolt leaves at least two records on the page a split
		// starts, so records of a quarter page or more (a case is about
		// 900 bytes here) fill no better. Not the call type index either:
		// written at its end here, with one call type, but between older
		// keys when calls of several types arrive, so it keeps bbolt's
		// default split (TestFillPercentShrinksTheFile).
		for _, b := range []string{"reports", "case_numbers", "outbox"} {
			inuse, alloc := boltstore.LeafFill(tx, b)
			t.Logf("%s: %d of %d bytes of leaf pages in use", b, inuse, alloc)
			// bbolt's split leaves the two last records of a full page on
			// the next one, and the last page is partly filled: 70% leaves
			// room for both, and half-full pages fail.
			if inuse*100 < alloc*70 {
				t.Errorf("bucket %s uses %d of its %d bytes of leaf pages (%d%%), want at least 70%%", b, inuse, alloc, inuse*100/alloc)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestGroupCommitFailuresCostOnePass: when several calls of a shared
// transaction fail, the others run again once, not once for each failure:
// under many writers that conflict (stale etags on one case), retrying the
// batch after each failure would run every body as many times as there
// are failures before it.
func TestGroupCommitFailuresCostOnePass(t *testing.T) {
	s := open(t, filepath.Join(t.TempDir(), "childcase.db"))
	const n = 32
	bad := func(i int) bool { return i%4 == 1 }
	var mu sync.Mutex
	runs := make([]int, n)
	errs := storagetest.UpdatesBehindACommit(t, s, n, func(tx datastore.Tx, i int) error {
		mu.Lock()
		runs[i]++
		mu.Unlock()
		if err := tx.CreateUser(groupUser(fmt.Sprintf("user-%02d", i))); err != nil {
			return err
		}
		if bad(i) {
			return errConflict
		}
		return nil
	})
	for i := range n {
		switch {
		case bad(i) && !errors.Is(errs[i], errConflict):
			t.Errorf("call %d = %v, want its own error", i, errs[i])
		case !bad(i) && errs[i] != nil:
			t.Errorf("call %d = %v, want nil", i, errs[i])
		}
		// A good call runs in its shared transaction, and again once
		// the failures of that transaction are out; a failing one runs
		// again alone.
		if runs[i] > 2 {
			t.Errorf("call %d ran %d times, want at most 2", i, runs[i])
		}
	}
}

var errConflict = errors.New("conflict")

// TestALoneWriteCommitsOnItsCallersGoroutine: a write that finds no
// commit under way is committed by its caller, not handed to a goroutine
// of the group and waited for. The hand-off cost a lone request (a read's
// audit event above all, committed before the read is answered) a
// goroutine's start and two wake-ups, tens of microseconds on a busy
// machine, for nothing to share its commit with.
func TestALoneWriteCommitsOnItsCallersGoroutine(t *testing.T) {
	s := open(t, filepath.Join(t.TempDir(), "childcase.db"))
	ctx := context.Background()
	for _, w := range []struct {
		name  string
		write func(context.Context, func(datastore.Tx) error) error
	}{{"Update", s.Update}, {"Batch", s.Batch}} {
		var stack string
		err := w.write(ctx, func(tx datastore.Tx) error {
			buf := make([]byte, 64<<10)
			stack = string(buf[:runtime.Stack(buf, false)])
			return tx.CreateUser(groupUser("lone-" + w.name))
		})
		if err != nil {
			t.Fatalf("%s: %v", w.name, err)
		}
		// The test's own frame, not only its closure's (".func1").
		if !strings.Contains(stack, ".TestALoneWriteCommitsOnItsCallersGoroutine(") {
			t.Errorf("a lone %s ran on another goroutine than its caller's:\n%s", w.name, stack)
		}
	}
}
