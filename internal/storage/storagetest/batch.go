package storagetest

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/childcase/childcase/internal/domain/datastore"
	"github.com/childcase/childcase/internal/domain/model"
)

// Both write methods group-commit (see datastore.Store), so they run the same
// tests: Batch for audit events of reads, Update for every other write.
var (
	batchTests       = groupCommitTests(func(s datastore.Store) writeMethod { return s.Batch })
	updateGroupTests = groupCommitTests(func(s datastore.Store) writeMethod { return s.Update })
)

// writeMethod is Store.Update or Store.Batch.
type writeMethod func(ctx context.Context, fn func(datastore.Tx) error) error

func groupCommitTests(method func(datastore.Store) writeMethod) []namedTest {
	tests := []struct {
		name string
		fn   func(t *testing.T, s datastore.Store, write writeMethod)
	}{
		{"Commits", testBatchCommits},
		{"ErrorRollsBack", testBatchErrorRollsBack},
		{"ConcurrentCallsAllCommit", testBatchConcurrent},
		{"ErrorRollsBackOnlyItsCall", testBatchErrorRollsBackOnlyItsCall},
		{"PanicFailsOnlyItsCall", testBatchPanicFailsOnlyItsCall},
		{"CancelledContext", testBatchCancelledContext},
		{"RunsStartFromCommitted", testBatchRunsStartFromCommitted},
	}
	out := make([]namedTest, 0, len(tests))
	for _, tt := range tests {
		out = append(out, namedTest{tt.name, func(t *testing.T, s datastore.Store) { tt.fn(t, s, method(s)) }})
	}
	return out
}

// batchWrite is what one call of these tests writes: a user and an
// audit event by that user, as a failed sign-in would.
func batchWrite(tx datastore.Tx, id string, i int) error {
	if err := tx.CreateUser(sampleUser(id)); err != nil {
		return err
	}
	_, err := tx.AppendAudit(sampleEvent(i, id, "", baseTime.Add(time.Duration(i)*time.Second)))
	return err
}

func testBatchCommits(t *testing.T, s datastore.Store, write writeMethod) {
	err := write(context.Background(), func(tx datastore.Tx) error {
		if err := batchWrite(tx, "lan.nguyen", 1); err != nil {
			return err
		}
		// A batch reads its own writes.
		if _, err := tx.User("lan.nguyen"); err != nil {
			t.Errorf("User in the call that created it: %v", err)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("call: %v", err)
	}
	if _, err := getUser(t, s, "lan.nguyen"); err != nil {
		t.Errorf("User after the call: %v", err)
	}
	if got := listAuditSeqs(t, s, datastore.AuditQuery{Actor: "lan.nguyen"}); !slices.Equal(got, []uint64{1}) {
		t.Errorf("audit events by the batch's user = %v, want [1]", got)
	}
}

func testBatchErrorRollsBack(t *testing.T, s datastore.Store, write writeMethod) {
	createUsers(t, s, sampleUser("kept"))
	err := write(context.Background(), func(tx datastore.Tx) error {
		if err := batchWrite(tx, "lost", 1); err != nil {
			return err
		}
		return errBoom
	})
	if !errors.Is(err, errBoom) {
		t.Fatalf("call = %v, want the error fn returned", err)
	}
	_, err = getUser(t, s, "lost")
	wantErr(t, "User after a failed call", err, model.ErrNotFound)
	if n := countUsers(t, s); n != 1 {
		t.Errorf("CountUsers after a failed call = %d, want 1", n)
	}
	checkStoredLog(t, s, nil)
}

// runBatches calls write from one goroutine per id at once and returns
// each call's error.
func runBatches(write writeMethod, ids []string, fn func(tx datastore.Tx, id string, i int) error) []error {
	errs := make([]error, len(ids))
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i, id := range ids {
		wg.Go(func() {
			<-start
			errs[i] = write(context.Background(), func(tx datastore.Tx) error { return fn(tx, id, i) })
		})
	}
	close(start)
	wg.Wait()
	return errs
}

func testBatchConcurrent(t *testing.T, s datastore.Store, write writeMethod) {
	const n = 40
	ids := make([]string, n)
	for i := range ids {
		ids[i] = fmt.Sprintf("user-%02d", i)
	}
	var calls atomic.Int64
	errs := runBatches(write, ids, func(tx datastore.Tx, id string, i int) error {
		calls.Add(1)
		return batchWrite(tx, id, i)
	})
	for i, err := range errs {
		if err != nil {
			t.Errorf("call %d: %v", i, err)
		}
	}
	t.Logf("%d calls ran fn %d times", n, calls.Load())
	if got := countUsers(t, s); got != n {
		t.Errorf("CountUsers = %d, want %d", got, n)
	}
	for _, id := range ids {
		if _, err := getUser(t, s, id); err != nil {
			t.Errorf("User(%s) after its call: %v", id, err)
		}
		if got := listAuditSeqs(t, s, datastore.AuditQuery{Actor: id}); len(got) != 1 {
			t.Errorf("audit events of %s = %v, want one", id, got)
		}
	}
	// The events of all calls form one chain, whatever the order they ran.
	events := storedEvents(t, s, 1)
	if len(events) != n {
		t.Fatalf("the log holds %d events, want %d", len(events), n)
	}
	checkStoredLog(t, s, events)
}

func testBatchErrorRollsBackOnlyItsCall(t *testing.T, s datastore.Store, write writeMethod) {
	var ids []string
	bad := map[string]bool{}
	for i := range 24 {
		id := fmt.Sprintf("user-%02d", i)
		if i%6 == 2 {
			id = fmt.Sprintf("bad-%02d", i)
			bad[id] = true
		}
		ids = append(ids, id)
	}
	errs := runBatches(write, ids, func(tx datastore.Tx, id string, i int) error {
		if err := batchWrite(tx, id, i); err != nil {
			return err
		}
		if bad[id] {
			return fmt.Errorf("%s: %w", id, errBoom)
		}
		return nil
	})
	good := 0
	for i, id := range ids {
		switch {
		case bad[id] && !errors.Is(errs[i], errBoom):
			t.Errorf("call of %s = %v, want the error its fn returned", id, errs[i])
		case !bad[id] && errs[i] != nil:
			t.Errorf("call of %s = %v, want nil: another call's error must not fail it", id, errs[i])
		}
		_, err := getUser(t, s, id)
		events := listAuditSeqs(t, s, datastore.AuditQuery{Actor: id})
		if bad[id] {
			if !errors.Is(err, model.ErrNotFound) || len(events) != 0 {
				t.Errorf("the failed call of %s kept its writes: User error %v, audit events %v", id, err, events)
			}
			continue
		}
		good++
		if err != nil || len(events) != 1 {
			t.Errorf("the call of %s lost its writes: User error %v, audit events %v", id, err, events)
		}
	}
	if n := countUsers(t, s); n != good {
		t.Errorf("CountUsers = %d, want %d", n, good)
	}
	events := storedEvents(t, s, 1)
	if len(events) != good {
		t.Fatalf("the log holds %d events, want %d", len(events), good)
	}
	checkStoredLog(t, s, events)
	for _, e := range events {
		if bad[e.Actor] {
			t.Errorf("event seq %d of the failed call of %s was kept", e.Seq, e.Actor)
		}
	}
}

// testBatchPanicFailsOnlyItsCall: a fn that panics fails its own call with
// that panic, in the caller's goroutine (where the server's recovery
// answers it), and keeps nothing; the calls that shared its transaction
// are committed.
func testBatchPanicFailsOnlyItsCall(t *testing.T, s datastore.Store, write writeMethod) {
	const n, bad = 12, 5
	panics := make([]any, n)
	errs := make([]error, n)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			defer func() { panics[i] = recover() }()
			<-start
			errs[i] = write(context.Background(), func(tx datastore.Tx) error {
				if err := batchWrite(tx, fmt.Sprintf("user-%02d", i), i); err != nil {
					return err
				}
				if i == bad {
					panic("boom")
				}
				return nil
			})
		})
	}
	close(start)
	wg.Wait()
	for i := range n {
		_, err := getUser(t, s, fmt.Sprintf("user-%02d", i))
		switch {
		case i == bad && panics[i] != "boom":
			t.Errorf("call %d panicked with %v, want its fn's panic", i, panics[i])
		case i == bad && !errors.Is(err, model.ErrNotFound):
			t.Errorf("the call that panicked kept its user: %v", err)
		case i != bad && (panics[i] != nil || errs[i] != nil):
			t.Errorf("call %d = %v, panic %v: another call's panic must not fail it", i, errs[i], panics[i])
		case i != bad && err != nil:
			t.Errorf("call %d lost its user: %v", i, err)
		}
	}
	checkStoredLog(t, s, storedEvents(t, s, 1))
}

func testBatchCancelledContext(t *testing.T, s datastore.Store, write writeMethod) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	ran := false
	err := write(ctx, func(tx datastore.Tx) error {
		ran = true
		return batchWrite(tx, "lan.nguyen", 1)
	})
	if !errors.Is(err, context.Canceled) || ran {
		t.Errorf("call with a cancelled context = %v, fn ran: %v; want context.Canceled and fn not run", err, ran)
	}
	if n := countUsers(t, s); n != 0 {
		t.Errorf("CountUsers after a cancelled call = %d, want 0", n)
	}
}

// testBatchRunsStartFromCommitted pins that however often a write runs its
// function, every run starts from the committed state and only one run's
// writes are kept: a body that reads a value and writes it back plus one
// moves it by exactly one per call.
func testBatchRunsStartFromCommitted(t *testing.T, s datastore.Store, write writeMethod) {
	const calls = 8
	ids := make([]string, calls)
	for i := range ids {
		ids[i] = fmt.Sprintf("call-%d", i)
	}
	errs := runBatches(write, ids, func(tx datastore.Tx, _ string, _ int) error {
		n, err := tx.Cursor("counter")
		if err != nil {
			return err
		}
		return tx.PutCursor("counter", n+1)
	})
	for i, err := range errs {
		if err != nil {
			t.Errorf("call %d: %v", i, err)
		}
	}
	if got := cursor(t, s, "counter"); got != calls {
		t.Errorf("counter after %d calls = %d, want %d", calls, got, calls)
	}
}

// UpdatesBehindACommit holds a commit of s open while n goroutines call
// Update with body, so that they queue for the shared transactions that
// follow, then lets the commit go and returns each call's error once all
// are done. A store's own tests use it to see what a group commit does.
func UpdatesBehindACommit(t testing.TB, s datastore.Store, n int, body func(tx datastore.Tx, i int) error) []error {
	t.Helper()
	ctx := context.Background()
	inFirst, release := make(chan struct{}), make(chan struct{})
	firstDone := make(chan error, 1)
	var inFirstOnce sync.Once
	go func() {
		firstDone <- s.Update(ctx, func(datastore.Tx) error {
			inFirstOnce.Do(func() { close(inFirst) }) // a store may run the body again
			<-release
			return nil
		})
	}()
	<-inFirst
	var started, done sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		started.Add(1)
		done.Go(func() {
			started.Done()
			errs[i] = s.Update(ctx, func(tx datastore.Tx) error { return body(tx, i) })
		})
	}
	started.Wait()
	for range 1000 {
		runtime.Gosched() // let the callers reach Update while the first commit is held
	}
	close(release)
	if err := <-firstDone; err != nil {
		t.Fatalf("the Update holding the commit: %v", err)
	}
	done.Wait()
	return errs
}
