package app_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	pb "github.com/childcase/childcase/api/childcase/v1"
	"github.com/childcase/childcase/internal/app"
	"github.com/childcase/childcase/internal/domain/clock"
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
