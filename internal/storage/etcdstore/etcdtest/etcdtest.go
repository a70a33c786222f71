// Package etcdtest starts etcd clusters inside the test process, on
// loopback ports and in the test's temporary directory, so that tests of
// the etcd engine (and of childcase on etcd) need nothing installed. It is
// for tests only.
package etcdtest

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"go.etcd.io/etcd/client/pkg/v3/transport"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/etcd/server/v3/embed"
	"go.uber.org/zap"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/childcase/childcase/internal/storage/etcdstore"
)

// startTimeout bounds a member's start (and a cluster's).
const startTimeout = 30 * time.Second

// Option changes the members' configuration.
type Option func(*options)

type options struct {
	quota     int64
	quotas    []int64
	noFsync   bool
	tls       *TLSFiles
	maxTxnOps uint
}

// TLSFiles are the PEM files of a member's client port under TLS.
type TLSFiles struct {
	CertFile, KeyFile string // the member's certificate and key
	ClientCAFile      string // the CA client certificates must chain to
}

// WithClientTLS serves the members' client ports over TLS and requires
// client certificates signed by the CA of files; Endpoints then answers
// https URLs, and Client is not available (it has no certificate).
func WithClientTLS(files TLSFiles) Option { return func(o *options) { o.tls = &files } }

// WithQuota sets the members' backend quota (--quota-backend-bytes), so
// that a test can fill the database.
func WithQuota(bytes int64) Option { return func(o *options) { o.quota = bytes } }

// WithQuotas sets each member's backend quota in turn (member i gets
// quotas[i]; members past the list, WithQuota's), as during a rolling
// change of --quota-backend-bytes.
func WithQuotas(quotas ...int64) Option { return func(o *options) { o.quotas = quotas } }

// WithoutFsync turns fsync off, for tests that never stop a member
// abruptly and want speed rather than durability.
func WithoutFsync() Option { return func(o *options) { o.noFsync = true } }

// WithMaxTxnOps sets the members' --max-txn-ops (default: the engine's
// default), so that a test can run an engine at a small limit against a
// cluster that refuses any Txn over it.
func WithMaxTxnOps(n uint) Option { return func(o *options) { o.maxTxnOps = n } }

// Cluster is a running embedded cluster.
type Cluster struct {
	t       testing.TB
	mu      sync.Mutex
	members []*member
}

type member struct {
	cfg *embed.Config
	// etcd is nil while the member is stopped.
	etcd *embed.Etcd
	gate *gate
}

// gate lets Kill refuse a member's new client requests and wait for those
// under way before its raft node and backend stop. A member in the test's
// process stopped under a read panics the whole test (the read finds its
// bbolt transaction gone), where a process that died would just be gone:
// the gate keeps that race out, and the kill is as abrupt for the cluster.
type gate struct {
	mu     sync.RWMutex
	closed bool
	busy   sync.WaitGroup
}

// gateDrain bounds Kill's wait for the requests under way: long enough
// for a read that has its revision to finish, short enough that the
// member still dies at once for its peers. A request still waiting (for
// raft) when it stops fails with the server, without reading the backend.
const gateDrain = 100 * time.Millisecond

func (g *gate) unary(ctx context.Context, req any, _ *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
	g.mu.RLock()
	if g.closed {
		g.mu.RUnlock()
		return nil, status.Error(codes.Unavailable, "etcdtest: the member was killed")
	}
	g.busy.Add(1)
	g.mu.RUnlock()
	defer g.busy.Done()
	return handler(ctx, req)
}

// close refuses new requests and waits (a while) for those under way.
func (g *gate) close() {
	g.mu.Lock()
	g.closed = true
	g.mu.Unlock()
	drained := make(chan struct{})
	go func() {
		g.busy.Wait()
		close(drained)
	}()
	select {
	case <-drained:
	case <-time.After(gateDrain):
	}
}

func (g *gate) open() {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.closed = false
}

// Start starts a cluster of members members and stops it when the test
// ends. The members accept commits as large as the engine's defaults.
func Start(t testing.TB, members int, opts ...Option) *Cluster {
	t.Helper()
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	// A port found free may be taken by another test process before its
	// member binds it: the cluster then starts again on other ports.
	for attempt := 1; ; attempt++ {
		c, err := start(t, members, o)
		if err == nil {
			return c
		}
		c.stopAll()
		// embed may not wrap the listener's error: its text is read too.
		inUse := errors.Is(err, syscall.EADDRINUSE) || strings.Contains(err.Error(), "address already in use")
		if attempt == 5 || !inUse {
			t.Fatalf("etcdtest: %v", err)
		}
	}
}

// start starts a cluster of members on ports free a moment ago, and
// returns it with the first error of a member that did not start.
func start(t testing.TB, members int, o options) (*Cluster, error) {
	c := &Cluster{t: t}
	dir := t.TempDir()
	var initial []string
	for i := range members {
		cfg := embed.NewConfig()
		cfg.Name = fmt.Sprintf("m%d", i)
		cfg.Dir = filepath.Join(dir, cfg.Name)
		client, peer := freeURL(t), freeURL(t)
		if o.tls != nil {
			client.Scheme = "https"
			cfg.ClientTLSInfo = transport.TLSInfo{CertFile: o.tls.CertFile, KeyFile: o.tls.KeyFile,
				TrustedCAFile: o.tls.ClientCAFile, ClientCertAuth: true}
		}
		cfg.ListenClientUrls, cfg.AdvertiseClientUrls = []url.URL{client}, []url.URL{client}
		cfg.ListenPeerUrls, cfg.AdvertisePeerUrls = []url.URL{peer}, []url.URL{peer}
		cfg.InitialClusterToken = fmt.Sprintf("etcdtest-%p", c)
		cfg.MaxTxnOps = etcdstore.DefaultMaxTxnOps
		if o.maxTxnOps != 0 {
			cfg.MaxTxnOps = o.maxTxnOps
		}
		cfg.MaxRequestBytes = etcdstore.DefaultMaxRequestBytes + 64<<10
		cfg.QuotaBackendBytes = o.quota
		if i < len(o.quotas) {
			cfg.QuotaBackendBytes = o.quotas[i]
		}
		cfg.UnsafeNoFsync = o.noFsync
		// Short ticks: a killed leader is replaced in well under a second.
		cfg.TickMs, cfg.ElectionMs = 50, 500
		cfg.LogLevel = "error"
		cfg.ZapLoggerBuilder = embed.NewZapLoggerBuilder(zap.NewNop())
		g := &gate{}
		cfg.GRPCAdditionalServerOptions = []grpc.ServerOption{grpc.ChainUnaryInterceptor(g.unary)}
		initial = append(initial, cfg.Name+"="+peer.String())
		c.members = append(c.members, &member{cfg: cfg, gate: g})
	}
	for _, m := range c.members {
		m.cfg.InitialCluster = strings.Join(initial, ",")
	}
	t.Cleanup(c.stopAll)
	// Members wait for each other to form the cluster: start them side by
	// side.
	errs := make([]error, members)
	var wg sync.WaitGroup
	for i := range c.members {
		wg.Go(func() { errs[i] = c.start(i) })
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			return c, fmt.Errorf("member %d: %w", i, err)
		}
	}
	return c, nil
}

// freeURL is a loopback URL on a port that was free a moment ago.
func freeURL(t testing.TB) url.URL {
	t.Helper()
	// A member keeps its ports across a kill and a restart, so they are
	// taken below Linux's ephemeral range (32768-60999): a port of that
	// range freed by a killed member may be given to any outgoing
	// connection of the machine meanwhile, and the restart could not bind
	// it again (seen in CI, where many tests dial at once).
	for range 1000 {
		addr := fmt.Sprintf("127.0.0.1:%d", 20000+rand.IntN(12768))
		l, err := net.Listen("tcp", addr)
		if err != nil {
			continue
		}
		if err := l.Close(); err != nil {
			t.Fatalf("etcdtest: free port: %v", err)
		}
		return url.URL{Scheme: "http", Host: addr}
	}
	t.Fatal("etcdtest: no free port below the ephemeral range")
	return url.URL{}
}

// start starts member i (again) over its data directory.
func (c *Cluster) start(i int) error {
	m := c.members[i]
	m.gate.open()
	e, err := embed.StartEtcd(m.cfg)
	if err != nil {
		return err
	}
	select {
	case <-e.Server.ReadyNotify():
	case err := <-e.Err():
		e.Close()
		return fmt.Errorf("start: %w", err)
	case <-time.After(startTimeout):
		e.Close()
		return fmt.Errorf("not ready after %v", startTimeout)
	}
	c.mu.Lock()
	m.etcd = e
	c.mu.Unlock()
	return nil
}

// stopAll stops the members at the end of the test: abruptly and side by
// side, since a graceful stop hands leadership over to members that are
// stopping too, and each Close waits up to a second for its peers'
// connections to go idle.
func (c *Cluster) stopAll() {
	var wg sync.WaitGroup
	for i := range c.members {
		wg.Go(func() { c.stop(i, true) })
	}
	wg.Wait()
}

// Endpoints are the members' client URLs, stopped ones included.
func (c *Cluster) Endpoints() []string {
	var eps []string
	for _, m := range c.members {
		eps = append(eps, m.cfg.AdvertiseClientUrls[0].String())
	}
	return eps
}

// Client is a client of every member, closed when the test ends.
func (c *Cluster) Client(t testing.TB) *clientv3.Client {
	t.Helper()
	return c.client(t, c.Endpoints())
}

func (c *Cluster) client(t testing.TB, endpoints []string) *clientv3.Client {
	t.Helper()
	client, err := clientv3.New(clientv3.Config{
		Endpoints:          endpoints,
		DialTimeout:        5 * time.Second,
		MaxCallSendMsgSize: etcdstore.DefaultMaxRequestBytes + 64<<10,
		Logger:             zap.NewNop(),
	})
	if err != nil {
		t.Fatalf("etcdtest: client: %v", err)
	}
	t.Cleanup(func() { _ = client.Close() })
	return client
}

// MemberClient is a client of member i alone, closed when the test ends.
func (c *Cluster) MemberClient(t testing.TB, i int) *clientv3.Client {
	t.Helper()
	return c.client(t, c.Endpoints()[i:i+1])
}

// Leader is the index of the member that leads, or -1 when no running
// member knows a leader.
func (c *Cluster) Leader() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, m := range c.members {
		if m.etcd == nil {
			continue
		}
		lead := m.etcd.Server.Lead()
		for j, o := range c.members {
			if o.etcd != nil && uint64(o.etcd.Server.MemberID()) == lead {
				return j
			}
		}
	}
	return -1
}

// WaitLeader waits until a running member leads, and returns its index.
func (c *Cluster) WaitLeader(ctx context.Context) (int, error) {
	for {
		if i := c.Leader(); i >= 0 {
			return i, nil
		}
		select {
		case <-ctx.Done():
			return -1, fmt.Errorf("etcdtest: no leader: %w", ctx.Err())
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// Stop stops member i gracefully (a leader hands its leadership over
// first).
func (c *Cluster) Stop(i int) { c.stop(i, false) }

// Kill stops member i abruptly: its raft node stops at once, with no
// leadership transfer, as if the process died.
func (c *Cluster) Kill(i int) { c.stop(i, true) }

func (c *Cluster) stop(i int, abrupt bool) {
	c.mu.Lock()
	m := c.members[i]
	e := m.etcd
	m.etcd = nil
	c.mu.Unlock()
	if e == nil {
		return
	}
	if abrupt {
		// The raft node and its transport stop first, so Close's own
		// leadership transfer finds nobody to hand over to; the client
		// requests, just before.
		m.gate.close()
		e.Server.HardStop()
	}
	e.Close()
}

// Restart starts a stopped or killed member again over its data
// directory; it rejoins the cluster it was in.
func (c *Cluster) Restart(i int) {
	c.t.Helper()
	c.mu.Lock()
	m := c.members[i]
	running := m.etcd != nil
	c.mu.Unlock()
	if running {
		c.t.Fatalf("etcdtest: restart of member %d, which runs", i)
	}
	m.cfg.ClusterState = embed.ClusterStateFlagExisting
	if err := c.start(i); err != nil {
		c.t.Fatalf("etcdtest: restart member %d: %v", i, err)
	}
}
