package crashtest

import (
	"bufio"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"

	pb "github.com/childcase/childcase/api/childcase/v1"
	"github.com/childcase/childcase/internal/storage/etcdstore/etcdtest"
)

var failoverCyclesFlag = flag.Int("failover.cycles", 0, "failover cycles of TestFailover (default 4; CHILDCASE_FAILOVER_CYCLES wins)")

// Tuning of the failover test.
const (
	instances   = 2 // childcase instances on the cluster
	etcdMembers = 3
	// The election's key prefix under the store's default prefix: the
	// value of its first key (by creation) is the leader's id, "host
	// grpc-addr pid N policy FINGERPRINT" (etcdstore.Lead, app's instanceID).
	electionPrefix = "/childcase/\x00election/"
	// A leader killed without resigning keeps its lease this long at most
	// (etcdstore.DefaultSessionTTL, rounded by etcd), and the next one
	// campaigns within a retry or two: the handover must be done by then.
	handoverTimeout = 30 * time.Second
	porcupineTime   = 2 * time.Minute
)

// TestFailover runs childcase on a three-member etcd cluster embedded in
// the test, as two instances of the real binary sharing it, under the
// crash test's workload from clients that each prefer one instance and
// retry on the other, with the same request, when theirs does not answer.
// Each cycle kills the etcd leader (abruptly), then the instance that
// leads the election (SIGKILL), at random moments, restarts both, and
// checks as the crash test does: every acknowledged write present, none
// applied twice, the deadlines that fell due while no instance led fired
// once, on the service and on a backup of the cluster (a bbolt file taken
// through the API, checked like the crash test's file). At the end, the
// history of the case etags is checked for linearizability (porcupine).
func TestFailover(t *testing.T) {
	requireChild(t)
	cycles, seed := runSize(t, "CHILDCASE_FAILOVER", *failoverCyclesFlag, 4, 2)
	t.Logf("failover test: %d cycles, seed %d (CHILDCASE_FAILOVER_SEED=%d repeats the choices)", cycles, seed, seed)

	began := time.Now()
	h := newHarness(t, seed, cycles)
	f := newFailover(h)
	done := 0
	defer func() {
		s, fs := &h.stats, &f.stats
		t.Logf("failover test summary: %d of %d cycles, %d etcd leaders killed (another led after %s), "+
			"%d leading instances SIGKILLed (the other led after %s), %s, "+
			"%d calls retried on the other instance (attempts without an answer: %s), "+
			"%d deadlines fell due while no instance led and fired once, %d operations on case etags linearizable (porcupine), "+
			"%d problems; last backup: %s; wall time %s",
			done, cycles, fs.etcdKills, spread(fs.etcdHandovers), fs.leaderKills, spread(fs.leaderHandovers), s.writes(),
			f.rerouted.Load(), f.cutCodes(), s.downtimeFired, fs.checkedOps, s.problems, s.final, time.Since(began).Round(time.Second))
	}()
	runCycles(&done, cycles, f.setup, f.cycle, f.finish)
}

// failover is the failover test's side of the harness: the cluster, the
// instances and the clients' routing.
type failover struct {
	h       *harness
	cluster *etcdtest.Cluster
	etcd    *clientv3.Client // the test's own client, to read the election

	mu   sync.Mutex
	inst [instances]*child
	// conns are the clients' connections to the instances, nil while one
	// is down.
	conns [instances]*grpc.ClientConn

	hist     *etagHistory
	rerouted atomic.Int64 // calls retried on the other instance
	// cut counts the attempts that got no answer, by code: what clients
	// see during a failover.
	cut   map[codes.Code]int
	cutMu sync.Mutex
	burst atomic.Bool // the clients do not think between calls
	stats struct {
		etcdKills, leaderKills         int
		etcdHandovers, leaderHandovers []time.Duration
		checkedOps                     int
	}
}

func newFailover(h *harness) *failover {
	f := &failover{h: h, hist: newEtagHistory(), cut: map[codes.Code]int{}}
	f.cluster = etcdtest.Start(h.t, etcdMembers)
	f.etcd = f.cluster.Client(h.t)
	var hosts []string
	for _, ep := range f.cluster.Endpoints() {
		hosts = append(hosts, strings.TrimPrefix(ep, "http://"))
	}
	h.storeArgs = []string{"--store", "etcd://" + strings.Join(hosts, ",")}
	h.t.Cleanup(func() {
		for i := range instances {
			f.down(i)
		}
	})
	return f
}

// setup starts the first instance on the empty cluster, bootstraps it, and
// starts the second.
func (f *failover) setup() {
	for i := range instances {
		f.up(i)
		if i == 0 {
			f.h.bootstrap(f.inst[0])
		}
	}
}

// up starts instance i and connects the clients to it.
func (f *failover) up(i int) {
	c := f.h.start()
	conn, err := grpc.NewClient(c.grpcAddr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		f.h.t.Fatalf("dial %s: %v", c.grpcAddr, err)
	}
	f.mu.Lock()
	f.inst[i], f.conns[i] = c, conn
	f.mu.Unlock()
}

// down SIGKILLs instance i (if it runs) and disconnects the clients.
func (f *failover) down(i int) {
	f.mu.Lock()
	c, conn := f.inst[i], f.conns[i]
	f.inst[i], f.conns[i] = nil, nil
	f.mu.Unlock()
	if c != nil {
		if exitedEarly := c.kill(); exitedEarly {
			f.h.problem("instance %d exited on its own before the kill (log %s):\n%s", i, c.logPath, tail(c.logPath, 40))
		}
	}
	if conn != nil {
		_ = conn.Close()
	}
}

// client is a client that prefers instance home.
func (f *failover) client(id, home int) *client {
	return newClient(&routedConn{f: f, id: id, home: home}, func() error { return nil })
}

// routedConn sends each call to the client's instance and, when that one
// gives no answer (down, or killed during the call), the same request to
// the other; and records the calls on case etags.
type routedConn struct {
	f        *failover
	id, home int
}

func (r *routedConn) conn(i int) *grpc.ClientConn {
	r.f.mu.Lock()
	defer r.f.mu.Unlock()
	return r.f.conns[i]
}

// Invoke implements grpc.ClientConnInterface.
func (r *routedConn) Invoke(ctx context.Context, method string, args, reply any, opts ...grpc.CallOption) error {
	call := time.Now()
	var err error
	for try := range instances {
		if try > 0 {
			r.f.rerouted.Add(1)
		}
		conn := r.conn((r.home + try) % instances)
		if conn == nil {
			err = status.Error(codes.Unavailable, "the instance is down")
			continue
		}
		err = conn.Invoke(ctx, method, args, reply, opts...)
		if r.f.h.classify(err) != classInDoubt || ctx.Err() != nil {
			break
		}
		r.f.cutMu.Lock()
		r.f.cut[status.Code(err)]++
		r.f.cutMu.Unlock()
	}
	r.f.hist.record(r.id, method, args, reply, err, call, time.Now())
	return err
}

// NewStream implements grpc.ClientConnInterface; the workload opens no
// stream, so it goes to the client's instance.
func (r *routedConn) NewStream(ctx context.Context, desc *grpc.StreamDesc, method string, opts ...grpc.CallOption) (grpc.ClientStream, error) {
	conn := r.conn(r.home)
	if conn == nil {
		return nil, status.Error(codes.Unavailable, "the instance is down")
	}
	return conn.NewStream(ctx, desc, method, opts...)
}

// leader is the instance whose id leads the election, or -1 when no
// running instance does (none has won yet, or the killed one's lease has
// not expired).
func (f *failover) leader(ctx context.Context) (int, error) {
	resp, err := f.etcd.Get(ctx, electionPrefix, clientv3.WithFirstCreate()...)
	if err != nil || len(resp.Kvs) == 0 {
		return -1, err
	}
	id := string(resp.Kvs[0].Value)
	f.mu.Lock()
	defer f.mu.Unlock()
	for i, c := range f.inst {
		if c != nil && strings.Contains(id, " "+c.grpcAddr+" ") {
			return i, nil
		}
	}
	return -1, nil
}

// awaitLeader waits until a running instance leads, and returns it.
func (f *failover) awaitLeader() int {
	deadline := time.Now().Add(handoverTimeout)
	for {
		// A second for each read: one that hangs on a member just killed
		// is given up, and the next goes to another.
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		i, err := f.leader(ctx)
		cancel()
		if i >= 0 {
			return i
		}
		if time.Now().After(deadline) {
			f.h.t.Fatalf("no running instance leads the election %s after the kill (last error %v)", handoverTimeout, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// awaitLedSince waits until the log at logPath says, after after, that
// its instance leads (it says so a moment after its key leads the
// election), and returns when.
func (f *failover) awaitLedSince(logPath string, after time.Time) time.Time {
	deadline := time.Now().Add(handoverTimeout)
	for {
		since, err := ledSince(logPath)
		if err == nil && since.After(after) {
			return since
		}
		if time.Now().After(deadline) {
			f.h.t.Fatalf("%s after its key led the election, the instance has not logged that it leads (%v):\n%s",
				handoverTimeout, err, tail(logPath, 20))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// ledSince is when the log at logPath last says that its instance leads.
func ledSince(logPath string) (time.Time, error) {
	file, err := os.Open(logPath)
	if err != nil {
		return time.Time{}, err
	}
	defer file.Close()
	var since time.Time
	sc := bufio.NewScanner(file)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for sc.Scan() {
		var line struct {
			Time time.Time `json:"time"`
			Msg  string    `json:"msg"`
		}
		if json.Unmarshal(sc.Bytes(), &line) == nil && line.Msg == "leader election: this instance leads" {
			since = line.Time
		}
	}
	if err := sc.Err(); err != nil {
		return time.Time{}, err
	}
	if since.IsZero() {
		return since, fmt.Errorf("%s: no line says the instance leads", logPath)
	}
	return since, nil
}

// pause sleeps between lo and hi, at random.
func (f *failover) pause(lo, hi time.Duration) {
	time.Sleep(lo + time.Duration(f.h.rng.Int64N(int64(hi-lo))))
}

// cycle runs the workload on both instances, kills the etcd leader, then
// the leading instance, restarts both, and checks.
func (f *failover) cycle(n int) {
	h := f.h
	mark, end := h.beginCycle(n, "while no instance led")
	defer end()

	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for w := range clients {
		cl := f.client(w, w%instances)
		rng := rand.New(rand.NewPCG(h.seed, uint64(n)<<8|uint64(w+1)))
		wg.Go(func() { h.worker(ctx, n, w, cl, rng, f.burst.Load) })
	}
	f.pause(300*time.Millisecond, 1500*time.Millisecond)

	// The etcd leader dies; the cluster elects another.
	h.killing.Store(true) // from now on an error may leave a write in doubt
	dead := f.cluster.Leader()
	if dead < 0 {
		h.t.Fatal("the etcd cluster has no leader")
	}
	killed := time.Now()
	// The member is gone for the others at once; Kill returns when its
	// server has closed (it waits for its peers' connections a while).
	var gone sync.WaitGroup
	gone.Go(func() { f.cluster.Kill(dead) })
	f.stats.etcdKills++
	for i := f.cluster.Leader(); i < 0 || i == dead; i = f.cluster.Leader() {
		if time.Since(killed) > handoverTimeout {
			h.t.Fatalf("no etcd member leads %s after the leader m%d was killed", handoverTimeout, dead)
		}
		time.Sleep(10 * time.Millisecond)
	}
	handover := time.Since(killed)
	f.stats.etcdHandovers = append(f.stats.etcdHandovers, handover)
	mark(fmt.Sprintf("load, then etcd leader m%d killed, another led after", dead))

	// Then the leading instance dies, during a burst of calls.
	f.pause(100*time.Millisecond, 1200*time.Millisecond)
	lead := f.awaitLeader()
	f.burst.Store(true)
	time.Sleep(burstBeforeKill)
	h.killTime = time.Now()
	f.down(lead)
	f.stats.leaderKills++
	time.Sleep(burstBeforeKill)
	f.burst.Store(false)

	// The etcd member comes back while the lease of the dead instance runs
	// out; the other instance takes over.
	f.pause(200*time.Millisecond, 2*time.Second)
	gone.Wait()
	f.cluster.Restart(dead)
	mark(fmt.Sprintf("instance %d killed, etcd m%d restarted", lead, dead))
	next := f.awaitLeader()
	since := f.awaitLedSince(f.inst[next].logPath, h.killTime)
	h.upTime = since
	f.stats.leaderHandovers = append(f.stats.leaderHandovers, since.Sub(h.killTime))
	mark(fmt.Sprintf("instance %d leads after %s, seen", next, since.Sub(h.killTime).Round(time.Millisecond)))
	f.up(lead)
	f.pause(200*time.Millisecond, 800*time.Millisecond)
	cancel()
	wg.Wait()
	h.killing.Store(false)
	h.endOfStage(fmt.Sprintf("cycle %d, load", n))
	mark("instance restarted, load")

	cl := f.client(clients, n%instances)
	h.resolve(cl)
	h.endOfStage(fmt.Sprintf("cycle %d, retries of the writes in doubt", n))
	mark("resolve")
	h.checkOnline(cl, n)
	h.endOfStage(fmt.Sprintf("cycle %d, service after the failover", n))
	mark("service check")
	f.checkBackup(n)
	h.endOfStage(fmt.Sprintf("cycle %d, backup of the cluster", n))
	mark("backup check")
}

// checkBackup takes a backup of the cluster through an instance, as an
// operator would (childcase backup --addr), and checks the bbolt file
// as the crash test checks its database.
func (f *failover) checkBackup(n int) {
	f.mu.Lock()
	addr := f.inst[n%instances].grpcAddr
	f.mu.Unlock()
	path := filepath.Join(f.h.dir, fmt.Sprintf("backup-%03d.db", n))
	cmd := exec.Command(childBin, "backup", "--addr", addr, "--token", f.h.tokens["admin"], "--to", path)
	cmd.Env = slices.DeleteFunc(os.Environ(), func(kv string) bool { return strings.HasPrefix(kv, "CHILDCASE_") })
	if out, err := cmd.CombinedOutput(); err != nil {
		f.h.problem("childcase backup --addr %s: %v\n%s", addr, err, out)
		return
	}
	f.h.checkFile(path)
	if err := os.Remove(path); err != nil {
		f.h.problem("remove the backup: %v", err)
	}
}

// finish reads every case once more with nothing running, checks the
// history of the etags, and stops both instances cleanly.
func (f *failover) finish() {
	h := f.h
	cl := f.client(clients, 0)
	h.led.mu.Lock()
	names := slices.Clone(h.led.caseNames)
	h.led.mu.Unlock()
	for _, name := range names {
		if err := h.call(func(ctx context.Context) error {
			_, err := cl.cases.GetCase(h.as(ctx, userCity), &pb.GetCaseRequest{Name: name})
			return err
		}); err != nil {
			h.problem("GetCase %s (acknowledged): %v", name, err)
		}
	}
	h.endOfStage("the last reads")
	dir := h.dir
	if flag.Lookup("test.artifacts") != nil && flag.Lookup("test.artifacts").Value.String() == "true" {
		dir = h.t.ArtifactDir()
	}
	checked, err := f.hist.check(dir, porcupineTime)
	f.stats.checkedOps = checked
	if err != nil {
		h.problem("%v", err)
	}
	h.endOfStage("linearizability of the case etags")
	for i := range instances {
		f.mu.Lock()
		c := f.inst[i]
		f.inst[i] = nil
		f.mu.Unlock()
		if err := c.stop(); err != nil {
			h.problem("graceful stop of instance %d: %v (log %s):\n%s", i, err, c.logPath, tail(c.logPath, 40))
		}
	}
	h.endOfStage("stop")
}

// cutCodes lists the codes of the attempts without an answer.
func (f *failover) cutCodes() string {
	f.cutMu.Lock()
	defer f.cutMu.Unlock()
	var out []string
	for code, n := range f.cut {
		out = append(out, fmt.Sprintf("%d %s", n, code))
	}
	slices.Sort(out)
	if len(out) == 0 {
		return "none"
	}
	return strings.Join(out, ", ")
}

// spread is "min-max" of durations, or "-" when there are none.
func spread(ds []time.Duration) string {
	if len(ds) == 0 {
		return "-"
	}
	return fmt.Sprintf("%s-%s", slices.Min(ds).Round(10*time.Millisecond), slices.Max(ds).Round(10*time.Millisecond))
}
