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
	client *clientv3.Client
	stop   func()        // ends Lead
	done   chan struct{} // closed when Lead has returned
}

// election is an embedded etcd and two contenders, "a" and "b", with the
// same TTL, and what their runs report.
type election struct {
	endpoint   string
	contenders map[string]*contender
	running    atomic.Int32 // how many runs are running
	leading    chan string  // receives a contender's id each time its run starts
	lost       chan string  // receives it each time its run returns
	first      string       // the id of the first leader
}

// elect starts an election and waits for its first leader.
func elect(t *testing.T, ttl time.Duration) *election {
	t.Helper()
	e := &election{endpoint: startEtcd(t), contenders: map[string]*contender{}, leading: make(chan string, 4), lost: make(chan string, 4)}
	for _, id := range []string{"a", "b"} {
		c := &contender{client: newClient(t, e.endpoint), done: make(chan struct{})}
		ctx, cancel := context.WithCancel(t.Context())
		c.stop = cancel
		go func() {
			defer close(c.done)
			err := etcdstore.Lead(ctx, c.client, testPrefix, id, ttl, slog.New(slog.DiscardHandler), func(ctx context.Context) {
				e.running.Add(1)
				e.leading <- id
				<-ctx.Done()
				e.running.Add(-1)
				e.lost <- id
			})
			if err != nil {
				t.Errorf("Lead %s: %v", id, err)
			}
		}()
		t.Cleanup(func() { cancel(); <-c.done })
		e.contenders[id] = c
	}
	e.first = wait(t, e.leading, 30*time.Second, "first leader")
	return e
}

// handedOver checks that the first leader's run has ended and that the
// other contender leads, and returns when the new leader started.
func (e *election) handedOver(t *testing.T, limit time.Duration, what string) time.Time {
	t.Helper()
	if id := wait(t, e.lost, limit, what+": the leader's run ends"); id != e.first {
		t.Fatalf("%s lost leadership, want %s", id, e.first)
	}
	if next := wait(t, e.leading, limit, what+": a new leader"); next == e.first {
		t.Fatalf("%s leads again", next)
	}
	return time.Now()
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
// partitioned away: nothing resigns), its run ends once it can no longer
// follow the election (at once here: its watch ends with the connection;
// at the latest when its keep-alives have gone unanswered for the TTL, 3 s
// here), and the other leads once the cluster has let the lease expire.
func TestLeadHandsOverWhenTheLeaderDies(t *testing.T) {
	const ttl = 3 * time.Second
	e := elect(t, ttl)
	if n := e.running.Load(); n != 1 {
		t.Fatalf("%d contenders run at once", n)
	}
	select {
	case id := <-e.leading:
		t.Fatalf("%s leads beside %s", id, e.first)
	case <-time.After(ttl + time.Second):
		// Longer than a lease: the follower did not take over a live leader.
	}

	died := time.Now()
	if err := e.contenders[e.first].client.ActiveConnection().Close(); err != nil {
		t.Fatal(err)
	}
	at := e.handedOver(t, 30*time.Second, "leader cut off")
	t.Logf("handover after the leader was cut off: %s (session TTL %s)", at.Sub(died).Round(10*time.Millisecond), ttl)
	if n := e.running.Load(); n != 1 {
		t.Fatalf("%d contenders run at once after the handover", n)
	}
}

// A leader that stops cleanly resigns: the other contender leads at once,
// long before the leader's lease (60 s here) would have expired.
func TestLeadResignsOnStop(t *testing.T) {
	const ttl = 60 * time.Second
	e := elect(t, ttl)
	stopped := time.Now()
	e.contenders[e.first].stop()
	<-e.contenders[e.first].done
	at := e.handedOver(t, ttl/2, "clean stop, before the leader's lease expires")
	t.Logf("handover after a clean stop: %s (session TTL %s)", at.Sub(stopped).Round(time.Millisecond), ttl)
	if n := e.running.Load(); n != 1 {
		t.Fatalf("%d contenders run at once", n)
	}
}

// A leader whose lease is revoked behind its back (by an operator, or
// expired by the cluster while the leader was cut off) stops its run, and
// the other contender leads.
func TestLeadStopsWhenItsLeaseIsRevoked(t *testing.T) {
	const ttl = 60 * time.Second
	e := elect(t, ttl)
	admin := newClient(t, e.endpoint)
	resp, err := admin.Get(t.Context(), testPrefix+"\x00election", clientv3.WithFirstCreate()...)
	if err != nil || len(resp.Kvs) == 0 {
		t.Fatalf("the election's keys: %v, %v", resp, err)
	}
	if got := string(resp.Kvs[0].Value); got != e.first {
		t.Fatalf("the first key of the election is %s's, want the leader %s's", got, e.first)
	}
	if _, err := admin.Revoke(t.Context(), clientv3.LeaseID(resp.Kvs[0].Lease)); err != nil {
		t.Fatal(err)
	}
	e.handedOver(t, ttl/2, "lease revoked")
}
