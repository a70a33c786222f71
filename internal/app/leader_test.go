package app_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	pb "github.com/childcase/childcase/api/childcase/v1"
	"github.com/childcase/childcase/internal/app"
	"github.com/childcase/childcase/internal/domain/clock"
	"github.com/childcase/childcase/internal/storage/etcdstore/etcdtest"
)

// testLeadership is leadership the test hands out and takes back, as an
// election among instances would.
type testLeadership struct {
	grant   chan struct{} // the test sends: this instance now leads
	revoke  chan struct{} // the test sends: it no longer does
	stopped chan struct{} // Lead sends once run has returned after a revoke
}

func newTestLeadership() *testLeadership {
	return &testLeadership{grant: make(chan struct{}), revoke: make(chan struct{}), stopped: make(chan struct{})}
}

func (l *testLeadership) Lead(ctx context.Context, run func(context.Context)) error {
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-l.grant:
		}
		runCtx, cancel := context.WithCancel(ctx)
		done := make(chan struct{})
		go func() { defer close(done); run(runCtx) }()
		select {
		case <-l.revoke:
			cancel()
			<-done
			l.stopped <- struct{}{}
		case <-ctx.Done():
			cancel()
			<-done
			return nil
		}
	}
}

// notFor checks, a hundred scheduler polls long, that cond stays false:
// an instance that does not lead must not fire timers or deliver
// webhooks however long it waits.
func notFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for end := time.Now().Add(500 * time.Millisecond); time.Now().Before(end); time.Sleep(10 * time.Millisecond) {
		if cond() {
			t.Fatalf("%s while this instance does not lead", what)
		}
	}
}

// Only the leader runs the deadline scheduler and webhook delivery: an
// instance that does not lead fires no due timer and delivers nothing;
// once it leads it catches up on both; when it loses leadership both stop
// before Lead is told they have (so a new leader never runs them beside
// it), and they resume when it leads again.
func TestOnlyTheLeaderRunsTheScheduler(t *testing.T) {
	t.Setenv("CHILDCASE_TEST_HOOK_SECRET", "a-webhook-secret-of-some-length")
	var delivered atomic.Int64
	receiver := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { delivered.Add(1) }))
	defer receiver.Close()
	cfg := testConfig(t, "")
	cfg.PolicyFile = filepath.Join(t.TempDir(), "policy.json")
	policy := `{"acknowledge": {"seconds": 30}, "webhooks": [{"name": "so-y-te", "url": "` + receiver.URL + `", "secret_env": "CHILDCASE_TEST_HOOK_SECRET"}]}`
	if err := os.WriteFile(cfg.PolicyFile, []byte(policy), 0o600); err != nil {
		t.Fatal(err)
	}
	lead := newTestLeadership()
	ts := launch(t, cfg, app.Options{Clock: clock.NewFake(testNow), NoSync: true, SchedulerPoll: 5 * time.Millisecond,
		WatchPoll: time.Hour, Leadership: lead})
	ts.addUser(t, "bd.worker", pb.Role_ROLE_COMMUNE_WORKER, pBaDinh)
	breached := func(name string) func() bool {
		return func() bool { return countEvents(caseEvents(t, ts, "bd.worker", name), "DEADLINE_BREACHED", 0) > 0 }
	}

	name := openCase(t, ts, testNow.Add(-time.Minute), "00004")
	ts.clock.Advance(2 * time.Minute) // the acknowledgement is due
	notFor(t, "a due deadline fired", breached(name))
	notFor(t, "a webhook was delivered", func() bool { return delivered.Load() > 0 })

	lead.grant <- struct{}{}
	waitEvents(t, ts, "bd.worker", name, "ESCALATED", 0, 1)
	for end := time.Now().Add(5 * time.Second); delivered.Load() == 0; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(end) {
			t.Fatal("the leader delivered no webhook in 5 s")
		}
	}

	lead.revoke <- struct{}{}
	<-lead.stopped
	sentinel := openCase(t, ts, ts.clock.Now(), "00004")
	ts.clock.Advance(2 * time.Minute)
	notFor(t, "a due deadline fired after leadership was lost", breached(sentinel))

	lead.grant <- struct{}{}
	waitEvents(t, ts, "bd.worker", sentinel, "ESCALATED", 0, 1)
	events := caseEvents(t, ts, "bd.worker", name)
	if n := countEvents(events, "DEADLINE_BREACHED", 0); n != 1 {
		t.Errorf("%d DEADLINE_BREACHED events on the first case, want 1: %v", n, kinds(events))
	}
}

// TestTwoLeadersAtOnceFireEachTimerOnce: on a shared store two instances
// may lead at the same moment (one cut off from etcd, or paused, learns
// it lost its lease only when its keep-alives have gone unanswered). Both
// schedulers then race for the same due timers, and each deadline is
// still breached and escalated once, since a timer's firing and its
// removal commit in one serialisable transaction; both deliver webhooks,
// and a notification sent twice carries the same X-Childcase-Delivery
// and body, for the receiver to drop the repeat.
func TestTwoLeadersAtOnceFireEachTimerOnce(t *testing.T) {
	t.Setenv("CHILDCASE_TEST_HOOK_SECRET", "a-webhook-secret-of-some-length")
	var mu sync.Mutex
	bodies := map[string]string{} // by X-Childcase-Delivery
	var differ []string
	receiver := httptest.NewServer(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		id := r.Header.Get("X-Childcase-Delivery")
		mu.Lock()
		defer mu.Unlock()
		if old, seen := bodies[id]; seen && old != string(body) {
			differ = append(differ, id)
		}
		bodies[id] = string(body)
	}))
	defer receiver.Close()
	policy := filepath.Join(t.TempDir(), "policy.json")
	if err := os.WriteFile(policy, []byte(`{"acknowledge": {"seconds": 30}, "webhooks": [{"name": "so-y-te", "url": "`+
		receiver.URL+`", "secret_env": "CHILDCASE_TEST_HOOK_SECRET"}]}`), 0o600); err != nil {
		t.Fatal(err)
	}
	cluster := etcdtest.Start(t, 1, etcdtest.WithoutFsync())
	dir := t.TempDir()
	clk := clock.NewFake(testNow)
	start := func() (*testServer, *testLeadership) {
		cfg := testConfig(t, filepath.Join(dir, "childcase.db"))
		cfg.Store, cfg.PolicyFile = etcdStoreOf(cluster.Endpoints()), policy
		lead := newTestLeadership()
		return launch(t, cfg, app.Options{Clock: clk, SchedulerPoll: time.Millisecond, WatchPoll: time.Hour, Leadership: lead}), lead
	}
	a, leadA := start()
	a.addUser(t, "bd.worker", pb.Role_ROLE_COMMUNE_WORKER, pBaDinh)
	b, leadB := start()

	var names []string
	for range 8 {
		names = append(names, openCase(t, a, testNow.Add(-time.Minute), "00004"))
	}
	clk.Advance(2 * time.Minute) // every acknowledgement is due, and escalated
	leadA.grant <- struct{}{}
	leadB.grant <- struct{}{}
	for _, name := range names {
		waitEvents(t, b, "bd.worker", name, "ESCALATED", 0, 1)
	}
	// Both schedulers poll every millisecond: a second firing of any of
	// these timers would show within these polls.
	notFor(t, "a deadline was breached or escalated twice", func() bool {
		for _, name := range names {
			events := caseEvents(t, a, "bd.worker", name)
			if countEvents(events, "DEADLINE_BREACHED", 0) > 1 || countEvents(events, "ESCALATED", 0) > 1 {
				return true
			}
		}
		return false
	})
	for _, name := range names {
		events := caseEvents(t, a, "bd.worker", name)
		if countEvents(events, "DEADLINE_BREACHED", 0) != 1 || countEvents(events, "ESCALATED", 0) != 1 {
			t.Errorf("case %s under two leaders: %v, want the acknowledgement breached and escalated once", name, kinds(events))
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if len(differ) > 0 {
		t.Errorf("notifications %v were sent twice with different bodies", differ)
	}
	if len(bodies) == 0 {
		t.Error("neither leader delivered a webhook")
	}
}
