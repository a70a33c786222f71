package etcdstore_test

import (
	"context"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/childcase/childcase/internal/storage/etcdstore"
)

const testPrefix = "/childcase/"

// contender is one instance taking part in the election.
type contender struct {
	id      string
	client  *clientv3.Client
	leading chan string   // receives the id each time run starts
	lost    chan string   // receives the id each time run returns
	stop    func()        // ends Lead
	done    chan struct{} // closed when Lead has returned
}

// contend makes a contender lead with ttl; running counts the contenders
// whose run is running, across all of them.
func contend(t *testing.T, endpoint, id string, ttl time.Duration, running *atomic.Int32, leading, lost chan string) *contender {
	t.Helper()
	c := &contender{id: id, client: newClient(t, endpoint), leading: leading, lost: lost, done: make(chan struct{})}
	ctx, cancel := context.WithCancel(t.Context())
	c.stop = cancel
	go func() {
		defer close(c.done)
		err := etcdstore.Lead(ctx, c.client, testPrefix, id, ttl, slog.New(slog.DiscardHandler), func(ctx context.Context) {
			running.Add(1)
			leading <- id
			<-ctx.Done()
			running.Add(-1)
			lost <- id
		})
		if err != nil {
			t.Errorf("Lead %s: %v", id, err)
		}
	}()
	t.Cleanup(func() { cancel(); <-c.done })
	return c
}

// wait receives from ch, failing after limit: a bound on how long
// something the election promises "within seconds" may take, far above
// what it takes (the figures are logged).
func wait(t *testing.T, ch chan string, limit time.Duration, what string) string {
	t.Helper()
	select {
	case id := <-ch:
		return id
	case <-time.After(limit):
		t.Fatalf("%s: nothing after %s", what, limit)
		return ""
	}
}

// Two contenders: one leads, the other waits. When the leader is cut off
// from etcd (its connection closed under it, as for an instance killed or
// partitioned away: nothing resigns), its run ends once its keep-alives
// have gone unanswered for the TTL (2 s here), and the other leads once
// the cluster has let the lease expire, about the same time.
func TestLeadHandsOverWhenTheLeaderDies(t *testing.T) {
	endpoint := startEtcd(t)
	var running atomic.Int32
	leading, lost := make(chan string, 4), make(chan string, 4)
	const ttl = 2 * time.Second
	contenders := map[string]*contender{}
	for _, id := range []string{"a", "b"} {
		contenders[id] = contend(t, endpoint, id, ttl, &running, leading, lost)
	}
	first := wait(t, leading, 30*time.Second, "first leader")
	if n := running.Load(); n != 1 {
		t.Fatalf("%d contenders run at once", n)
	}
	select {
	case id := <-leading:
		t.Fatalf("%s leads beside %s", id, first)
	case <-time.After(ttl + time.Second):
		// Longer than a lease: the follower did not take over a live leader.
	}

	died := time.Now()
	if err := contenders[first].client.ActiveConnection().Close(); err != nil {
		t.Fatal(err)
	}
	if id := wait(t, lost, 30*time.Second, "the cut-off leader's run ends"); id != first {
		t.Fatalf("%s lost leadership, want %s", id, first)
	}
	t.Logf("the cut-off leader stopped after %s", time.Since(died).Round(10*time.Millisecond))
	next := wait(t, leading, 30*time.Second, "a new leader")
	t.Logf("handover after the leader was cut off: %s (session TTL %s)", time.Since(died).Round(10*time.Millisecond), ttl)
	if next == first {
		t.Fatalf("%s leads again while cut off", next)
	}
	if n := running.Load(); n != 1 {
		t.Fatalf("%d contenders run at once after the handover", n)
	}
}

// A leader that stops cleanly resigns: the other contender leads at once,
// long before the leader's lease (60 s here) would have expired.
func TestLeadResignsOnStop(t *testing.T) {
	endpoint := startEtcd(t)
	var running atomic.Int32
	leading, lost := make(chan string, 4), make(chan string, 4)
	const ttl = 60 * time.Second
	contenders := map[string]*contender{}
	for _, id := range []string{"a", "b"} {
		contenders[id] = contend(t, endpoint, id, ttl, &running, leading, lost)
	}
	first := wait(t, leading, 30*time.Second, "first leader")

	stopped := time.Now()
	contenders[first].stop()
	<-contenders[first].done
	if id := wait(t, lost, time.Second, "the stopped leader's run ends"); id != first {
		t.Fatalf("%s lost leadership, want %s", id, first)
	}
	next := wait(t, leading, ttl/2, "a new leader before the stopped leader's lease expires")
	t.Logf("handover after a clean stop: %s (session TTL %s)", time.Since(stopped).Round(time.Millisecond), ttl)
	if next == first {
		t.Fatalf("%s leads again after it stopped", next)
	}
	if n := running.Load(); n != 1 {
		t.Fatalf("%d contenders run at once", n)
	}
}

// A leader whose lease is revoked behind its back (an operator, or the
// cluster expiring it while the leader was cut off) stops its run, and
// the other contender leads.
func TestLeadStopsWhenItsLeaseIsRevoked(t *testing.T) {
	endpoint := startEtcd(t)
	var running atomic.Int32
	leading, lost := make(chan string, 4), make(chan string, 4)
	const ttl = 60 * time.Second
	for _, id := range []string{"a", "b"} {
		contend(t, endpoint, id, ttl, &running, leading, lost)
	}
	first := wait(t, leading, 30*time.Second, "first leader")

	admin := newClient(t, endpoint)
	resp, err := admin.Get(t.Context(), testPrefix+"\x00election", clientv3.WithFirstCreate()...)
	if err != nil || len(resp.Kvs) == 0 {
		t.Fatalf("the election's keys: %v, %v", resp, err)
	}
	if got := string(resp.Kvs[0].Value); got != first {
		t.Fatalf("the first key of the election is %s's, want the leader %s's", got, first)
	}
	if _, err := admin.Revoke(t.Context(), clientv3.LeaseID(resp.Kvs[0].Lease)); err != nil {
		t.Fatal(err)
	}
	if id := wait(t, lost, 30*time.Second, "the revoked leader's run ends"); id != first {
		t.Fatalf("%s lost leadership, want %s", id, first)
	}
	if next := wait(t, leading, 30*time.Second, "a new leader"); next == "" {
		t.Fatal("no new leader")
	}
}
