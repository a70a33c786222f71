package process_test

import (
	"context"
	"errors"
	"regexp"
	"strconv"
	"testing"
	"time"

	"github.com/childcase/childcase/internal/domain/datastore"
	"github.com/childcase/childcase/internal/domain/model"
	"github.com/childcase/childcase/internal/domain/process"
)

// A watch resumes at most process.MaxWatchReplay notifications back: a
// replay reads every notification after its cursor and the case of each,
// and from the first of a million (after_seq=1) it was minutes of the
// server's work for one call of any user. An older cursor is refused
// naming after_seq and the bound; one within the bound is taken. The test runs on a bound of 3.
func TestAWatchResumesOnlySoFarBack(t *testing.T) {
	if process.MaxWatchReplay < 1000 || process.MaxWatchReplay > 100_000 {
		t.Errorf("process.MaxWatchReplay is %d: a resumption after a weekend must fit, a replay of the whole outbox must not", process.MaxWatchReplay)
	}
	e := loadEnv(t)
	w := newWorld(t, e)
	defer w.close()
	eng := process.New(process.Deps{Store: w.store, Units: e.reg, Policy: e.pol, Calendar: e.cal, Vault: e.vault, Clock: w.clk, Log: e.log,
		WatchReplay: 3})
	for range 6 {
		w.openCaseAt(t, start.Add(-2*time.Hour), false, 1)
	}
	var head uint64
	if err := w.store.View(w.ctx, func(tx datastore.ReadTx) (err error) {
		head, err = tx.OutboxHead()
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if head < 5 {
		t.Fatalf("the outbox holds %d notifications, want at least 5 for the test", head)
	}
	worker := principal("worker.badinh")
	errLive := errors.New("live")
	watch := func(after uint64) error {
		return eng.Watch(w.ctx, worker, after, "", func(uint64) error { return errLive }, func(model.Notification) error { return nil })
	}
	err := watch(1)
	var fe *model.FieldError
	if !errors.As(err, &fe) || fe.Field != "after_seq" || fe.Rule != "after_seq.replay" {
		t.Errorf("a watch after seq 1 of %d, bound 3: %v; want it refused naming after_seq (after_seq.replay)", head, err)
	}
	if err := watch(head - 3); !errors.Is(err, errLive) {
		t.Errorf("a watch after seq %d of %d, bound 3: %v; want it live", head-3, head, err)
	}
	if err := watch(0); !errors.Is(err, errLive) {
		t.Errorf("a watch from now: %v; want it live", err)
	}
}

// numbersIn returns the decimal numbers a text names.
func numbersIn(s string) []uint64 {
	var out []uint64
	for _, m := range regexp.MustCompile(`[0-9]+`).FindAllString(s, -1) {
		n, err := strconv.ParseUint(m, 10, 64)
		if err == nil {
			out = append(out, n)
		}
	}
	return out
}

// TestAnAfterSeqRefusalNamesNoOtherScopesNumbers: the outbox is the
// city's, numbered across every scope, so a refused after_seq that named
// the last notification ("the last is N") told a commune worker how many
// notifications the whole city had had. A refusal names the rule broken,
// the caller's own after_seq and the service's bound, no number of the
// outbox's.
func TestAnAfterSeqRefusalNamesNoOtherScopesNumbers(t *testing.T) {
	e := loadEnv(t)
	w := newWorld(t, e)
	defer w.close()
	const bound = 3
	eng := process.New(process.Deps{Store: w.store, Units: e.reg, Policy: e.pol, Calendar: e.cal, Vault: e.vault, Clock: w.clk, Log: e.log,
		WatchReplay: bound})
	for range 6 {
		w.openCaseAt(t, start.Add(-2*time.Hour), false, 1)
	}
	worker := principal("worker.badinh")
	for _, tt := range []struct {
		after uint64
		rule  string
	}{
		{1000, "after_seq.sent"},
		{1, "after_seq.replay"},
	} {
		err := eng.Watch(w.ctx, worker, tt.after, "", nil, func(model.Notification) error { return nil })
		var fe *model.FieldError
		if !errors.As(err, &fe) || fe.Field != "after_seq" || fe.Rule != tt.rule {
			t.Errorf("a watch after seq %d: %v; want it refused naming after_seq (%s)", tt.after, err, tt.rule)
			continue
		}
		for _, n := range numbersIn(fe.Description) {
			if n != tt.after && n != bound {
				t.Errorf("the refusal of after_seq %d (%s) names %d, a number of the outbox's: %q", tt.after, tt.rule, n, fe.Description)
			}
		}
	}
}

// TestAWatchAfterWhatWasPrunedIsRefused: an after_seq older than the
// oldest notification kept would skip those pruned without a word; it is
// refused naming after_seq and the rule (after_seq.pruned). The one just
// before the oldest kept loses nothing and is taken.
func TestAWatchAfterWhatWasPrunedIsRefused(t *testing.T) {
	w, e := sixCasesWorld(t)
	defer w.close()
	eng := process.New(process.Deps{Store: w.store, Units: e.reg, Policy: e.pol, Calendar: e.cal, Vault: e.vault, Clock: w.clk, Log: e.log})
	w.prune(t, 3)
	worker := principal("worker.badinh")
	errLive := errors.New("live")
	watch := func(after uint64) error {
		return eng.Watch(w.ctx, worker, after, "", func(uint64) error { return errLive }, func(model.Notification) error { return nil })
	}
	for _, after := range []uint64{1, 2} {
		err := watch(after)
		var fe *model.FieldError
		if !errors.As(err, &fe) || fe.Field != "after_seq" || fe.Rule != "after_seq.pruned" {
			t.Errorf("a watch after seq %d, 1-3 pruned: %v; want it refused naming after_seq (after_seq.pruned)", after, err)
		}
	}
	if err := watch(3); !errors.Is(err, errLive) {
		t.Errorf("a watch after seq 3, 1-3 pruned: %v; want it live", err)
	}
	if err := watch(0); !errors.Is(err, errLive) {
		t.Errorf("a watch from now: %v; want it live", err)
	}
}

// TestAPruneDuringAReplayIsRefusedNotSkipped: the oldest notification
// kept was checked once, before the watch's opening was audited, and the
// replay read from the cursor later, in another snapshot. A prune by the
// leader in between (it runs every hour, 500 a transaction) removed the
// notifications right after the cursor, and the replay sent those behind
// them without a word: what after_seq.pruned is there to refuse. The
// replay checks the oldest kept in each snapshot it reads.
func TestAPruneDuringAReplayIsRefusedNotSkipped(t *testing.T) {
	w, e := sixCasesWorld(t)
	defer w.close()
	eng := process.New(process.Deps{Store: w.store, Units: e.reg, Policy: e.pol, Calendar: e.cal, Vault: e.vault, Clock: w.clk, Log: e.log})
	w.prune(t, 2) // the oldest kept is 3: a watch after 2 loses nothing
	var sent []uint64
	errStop := errors.New("stop")
	ctx, cancel := context.WithTimeout(w.ctx, 10*time.Second) // a bound, should the watch wait live
	defer cancel()
	err := eng.Watch(ctx, principal("worker.badinh"), 2, "",
		func(uint64) error {
			// Taken and audited; the leader prunes 3 and 4 before the
			// replay reads them.
			w.prune(t, 4)
			return nil
		},
		func(n model.Notification) error {
			sent = append(sent, n.Seq)
			return errStop
		})
	var fe *model.FieldError
	if !errors.As(err, &fe) || fe.Field != "after_seq" || fe.Rule != "after_seq.pruned" {
		t.Errorf("a watch after seq 2 whose 3 and 4 were pruned as it opened: %v, sent %v; want it refused naming after_seq (after_seq.pruned), nothing sent", err, sent)
	}
	if len(sent) > 0 {
		t.Errorf("sent %v past the pruned 3 and 4 without a word", sent)
	}
}

// pruneAfterBatch is a store that runs prune once, after the first
// batched write (an audit record) that commits once it is armed.
type pruneAfterBatch struct {
	datastore.Store
	armed bool
	prune func()
}

func (s *pruneAfterBatch) Batch(ctx context.Context, fn func(datastore.Tx) error) error {
	err := s.Store.Batch(ctx, fn)
	if err == nil && s.armed {
		s.armed = false
		s.prune()
	}
	return err
}

// TestAPruneBetweenAReplaysAuditAndItsSendingIsRefused: a replay reads
// what it sends, audits it, then reads it again to send it. A prune by the
// leader between the audit and the second reading ended the watch with an
// internal error ("notification 3 is gone from the outbox"), which the
// console takes for a failure rather than the cue to start from now: it
// is after_seq.pruned, as a prune before the first reading is.
func TestAPruneBetweenAReplaysAuditAndItsSendingIsRefused(t *testing.T) {
	w, e := sixCasesWorld(t)
	defer w.close()
	w.prune(t, 2)
	s := &pruneAfterBatch{Store: w.store, prune: func() { w.prune(t, 4) }}
	eng := process.New(process.Deps{Store: s, Units: e.reg, Policy: e.pol, Calendar: e.cal, Vault: e.vault, Clock: w.clk, Log: e.log})
	var sent []uint64
	errStop := errors.New("stop")
	ctx, cancel := context.WithTimeout(w.ctx, 10*time.Second) // a bound, should the watch wait live
	defer cancel()
	err := eng.Watch(ctx, principal("worker.badinh"), 2, "",
		func(uint64) error {
			// The opening is audited; the next commit is the replay's
			// audit, after its first reading.
			s.armed = true
			return nil
		},
		func(n model.Notification) error {
			sent = append(sent, n.Seq)
			return errStop
		})
	if s.armed {
		t.Fatal("the replay wrote no audit event: the test pruned nothing")
	}
	var fe *model.FieldError
	if !errors.As(err, &fe) || fe.Field != "after_seq" || fe.Rule != "after_seq.pruned" {
		t.Errorf("a watch after seq 2 whose 3 and 4 were pruned between its replay's audit and its sending: %v, sent %v; want it refused naming after_seq (after_seq.pruned)", err, sent)
	}
	if len(sent) > 0 {
		t.Errorf("sent %v past the pruned 3 and 4 without a word", sent)
	}
}

// prune removes the notifications up to through from w's outbox, as the
// leader's prune does.
func (w *world) prune(t *testing.T, through uint64) {
	t.Helper()
	if err := w.store.Update(w.ctx, func(tx datastore.Tx) error {
		_, err := tx.PruneNotifications(through, 100)
		return err
	}); err != nil {
		t.Fatal(err)
	}
}

// sixCasesWorld is a world whose outbox holds the notifications of six
// cases opened two hours before start, for the tests of a watch whose
// cursor the prune passes.
func sixCasesWorld(t *testing.T) (*world, env) {
	t.Helper()
	e := loadEnv(t)
	w := newWorld(t, e)
	for range 6 {
		w.openCaseAt(t, start.Add(-2*time.Hour), false, 1)
	}
	return w, e
}
