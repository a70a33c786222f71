// Package etcdstore is the kv.Engine over an etcd cluster: it lets
// boltstore's stored layout (buckets, records, indexes, counters) run on
// etcd, so that several childcase instances share one replicated store.
// Besides the engine, it gives the instances sharing a cluster what they
// share through etcd: the election of the one instance that runs the
// background duties (Lead), and the watch that tells every instance when
// notifications were appended to the outbox (WatchOutbox). It knows keys
// and bytes only; it must not know the layout, its records or the domain,
// and nothing but storage may import it (or etcd).
//
// # Key layout
//
// Every key is under the prefix P (Config.Prefix, "/childcase/" by
// default). Other code of childcase (election, the outbox watch, backups)
// relies on it; it does not change without the lead:
//
//	P + name                 bucket exists marker, value empty
//	P + name + "/" + key     a key of the bucket (range [P+name+"/", P+name+"0"))
//	P + name + "#seq"        the bucket's sequence, 8-byte big-endian
//	P + "\x00txn"            the commit guard
//	P + "\x00election"       leader election (concurrency.NewElection)
//
// A bucket name may therefore not be empty, nor hold '/', '#' or a zero
// byte: such a name would make one bucket's range overlap another's keys.
//
// # Transactions
//
// A transaction reads at one revision: its first read also gets the guard
// key (and the markers and sequences of the buckets earlier transactions
// found), and the revision of that answer is the snapshot every later read
// of the transaction carries. That first read is linearizable in a View;
// in an Update's first attempt it is serializable, answered by the member
// alone, and what could be stale in it is caught by the commit's guard
// compare or, for a body that commits nothing, by a linearizable read of
// the guard (see Update). A write transaction keeps what it writes in
// memory (an overlay its own Gets and cursors see) and commits it in one
// etcd Txn that compares the guard's mod revision with the one seen at the
// snapshot and puts the guard. Every write transaction thus conflicts with
// every other one that committed after its snapshot, exactly like bbolt's
// single writer: write transactions are serialisable, whatever keys they
// read. A failed compare re-runs the body from scratch, on a new snapshot,
// a bounded number of times with a short jittered pause (bodies are
// re-runnable by the kv contract). Comparing the keys actually read would
// let disjoint writers run side by side, but every childcase write
// appends to the audit chain, so they would conflict anyway: the single
// guard costs nothing bbolt had and keeps the compare one op.
//
// Cursors read pages of keys from etcd lazily (ascending from a Seek,
// First or Next, descending from a Last or Prev), the first page small
// and later ones larger, so that a Seek followed by k Nexts costs about
// one round trip per page. Reads after the first are served by any member
// that has the snapshot revision (serializable reads): a revision's
// content never changes, so only a member that lacks it must be asked
// again through the leader.
//
// Every read that misses a transaction's own writes is a round trip, so
// the engine saves them where it safely can: kv.Prefetch fetches many
// keys and ranges in one read-only Txn at the snapshot, which Gets and
// cursors then read from as far as it reaches; a transaction reads a key
// once; and a cursor told a floor (kv.Floorer) reads backwards down to it
// only, one told a ceiling (kv.Ceiler) forwards up to it only. Nothing is
// kept across transactions: every transaction reads its own snapshot.
//
// A read costs the member more than the keys it returns: etcd counts
// every key of a Range up to its end, past its limit too (and reads all
// of a descending one before it sorts them), so the bounds a cursor is
// told keep that to the prefix it walks. Stats counts the keys counted
// (Scanned) beside the round trips.
//
// # Limits
//
// etcd refuses a Txn of more than its --max-txn-ops operations or a request
// over its --max-request-bytes. The engine counts both before it sends and
// returns an error wrapping kv.ErrTooLarge when the commit would exceed
// Config.MaxTxnOps or Config.MaxRequestBytes (so the cluster must be
// started with at least those); a cluster that refuses anyway (started
// with less) is reported the same way. Nothing is sent, or kept, then.
// etcd's space quota exceeded ("mvcc: database space exceeded") is
// returned wrapping model.ErrFull. A reader whose snapshot revision was
// compacted away gets an error: the cluster's compaction retention must be
// longer than the longest transaction (a backup).
//
// An error of the commit itself (the connection lost while the Txn was in
// flight) leaves its outcome unknown, as with any networked database; the
// engine returns it and does not re-run the body, which could apply it
// twice.
package etcdstore

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"go.etcd.io/etcd/client/pkg/v3/transport"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
)

// Defaults of Config.
const (
	DefaultPrefix          = "/childcase/"
	DefaultDialTimeout     = 5 * time.Second
	DefaultMaxTxnOps       = 10000
	DefaultMaxRequestBytes = 10 << 20
)

// Config says how to reach the cluster and what it accepts.
type Config struct {
	// Endpoints are the cluster's client URLs.
	Endpoints []string
	// Prefix is put before every key; "" means DefaultPrefix. It must
	// start and end with '/'. Open refuses a prefix under one where a
	// deployment already is ("/childcase/cases/" under "/childcase/"):
	// give each deployment a prefix of its own beside the others.
	Prefix string
	// CAFile verifies the members' certificates; CertFile and KeyFile are
	// the client certificate. All empty: plain connections.
	CAFile, CertFile, KeyFile string
	// DialTimeout bounds the connection and the check that the cluster
	// answers; 0 means DefaultDialTimeout.
	DialTimeout time.Duration
	// MaxTxnOps and MaxRequestBytes are the largest commit the engine
	// sends; 0 means the defaults. The cluster's --max-txn-ops and
	// --max-request-bytes must be at least these.
	MaxTxnOps       int
	MaxRequestBytes int
	// Username and Password authenticate when the cluster has auth on.
	Username, Password string
}

// ConfigError is a field of Config that cannot work: Field names it as
// the struct does ("Prefix", "Endpoints[1]", "CertFile, KeyFile"), so that
// a caller can name its own setting for it, and Rule says why.
type ConfigError struct {
	Field, Rule string
}

func (e *ConfigError) Error() string { return "etcd " + e.Field + ": " + e.Rule }

// Limits are the largest commit an Engine sends.
type Limits struct {
	MaxTxnOps       int
	MaxRequestBytes int
}

func (l Limits) withDefaults() Limits {
	if l.MaxTxnOps == 0 {
		l.MaxTxnOps = DefaultMaxTxnOps
	}
	if l.MaxRequestBytes == 0 {
		l.MaxRequestBytes = DefaultMaxRequestBytes
	}
	return l
}

// WithDefaults returns c with its zero fields set to the defaults.
func (c Config) WithDefaults() Config {
	if c.Prefix == "" {
		c.Prefix = DefaultPrefix
	}
	if c.DialTimeout == 0 {
		c.DialTimeout = DefaultDialTimeout
	}
	l := Limits{MaxTxnOps: c.MaxTxnOps, MaxRequestBytes: c.MaxRequestBytes}.withDefaults()
	c.MaxTxnOps, c.MaxRequestBytes = l.MaxTxnOps, l.MaxRequestBytes
	return c
}

// Validate reports the first field of c (after defaults) that cannot
// work, as a *ConfigError.
func (c Config) Validate() error {
	c = c.WithDefaults()
	if len(c.Endpoints) == 0 {
		return &ConfigError{"Endpoints", "at least one endpoint is required"}
	}
	for i, ep := range c.Endpoints {
		if strings.TrimSuffix(strings.TrimPrefix(strings.TrimPrefix(ep, "https://"), "http://"), "/") == "" {
			// Two commas in a row, or one at an end, of a list.
			return &ConfigError{fmt.Sprintf("Endpoints[%d]", i), fmt.Sprintf("endpoint %d is empty", i+1)}
		}
		if rule := endpointRule(ep); rule != "" {
			return &ConfigError{fmt.Sprintf("Endpoints[%d]", i), rule}
		}
	}
	if err := validatePrefix(c.Prefix); err != nil {
		return err
	}
	if (c.CertFile == "") != (c.KeyFile == "") {
		return &ConfigError{"CertFile, KeyFile", "a client certificate needs both files"}
	}
	if c.DialTimeout < 0 {
		return &ConfigError{"DialTimeout", fmt.Sprintf("%v is negative", c.DialTimeout)}
	}
	if c.MaxTxnOps < 2 {
		return &ConfigError{"MaxTxnOps", fmt.Sprintf("%d leaves no room for a write beside the commit guard (at least 2)", c.MaxTxnOps)}
	}
	if c.MaxRequestBytes < minRequestBytes {
		return &ConfigError{"MaxRequestBytes", fmt.Sprintf("%d is below the %d bytes a commit needs", c.MaxRequestBytes, minRequestBytes)}
	}
	if c.MaxRequestBytes > maxRequestBytes {
		return &ConfigError{"MaxRequestBytes", fmt.Sprintf("%d is over %d (1 GiB), the most allowed", c.MaxRequestBytes, maxRequestBytes)}
	}
	if c.Password != "" && c.Username == "" {
		return &ConfigError{"Username", "a password was given without a user name"}
	}
	return nil
}

// endpointRule returns what is wrong with a client URL, or "": the client
// would otherwise take a URL without a host or with a port that is no
// port, and Open would wait its whole dial timeout to say only that
// nothing answers.
func endpointRule(ep string) string {
	hostPort, ok := strings.CutPrefix(ep, "http://")
	if !ok {
		if hostPort, ok = strings.CutPrefix(ep, "https://"); !ok {
			return fmt.Sprintf("%q is not an http:// or https:// URL", ep)
		}
	}
	hostPort = strings.TrimSuffix(hostPort, "/")
	host, port, err := net.SplitHostPort(hostPort)
	if err != nil || host == "" || strings.ContainsAny(hostPort, "/?#@ ") {
		return fmt.Sprintf("endpoint %q is not a host:port", hostPort)
	}
	// Digits only: Atoi also reads a sign ("+2379"), which no URL takes.
	if n, err := strconv.Atoi(port); err != nil || strings.Trim(port, "0123456789") != "" || n < 1 || n > 65535 {
		return fmt.Sprintf("endpoint %q: the port must be a number from 1 to 65535", hostPort)
	}
	return ""
}

// validatePrefix allows "/" followed by one or more names of letters,
// digits, '.', '_' or '-', each ending in '/': the layout's keys are the
// prefix, a bucket name and '/' or '#' (see the package doc), so a '#', a
// zero byte or an empty name in a prefix could make its keys meet
// another deployment's, and "/" alone would hold every deployment's.
func validatePrefix(p string) error {
	if !strings.HasPrefix(p, "/") || !strings.HasSuffix(p, "/") || len(p) < 2 {
		return &ConfigError{"Prefix", fmt.Sprintf("%q must start and end with '/', with a name between", p)}
	}
	for _, name := range strings.Split(p[1:len(p)-1], "/") {
		if name == "" || strings.Trim(name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") != "" {
			return &ConfigError{"Prefix", fmt.Sprintf("%q: each name between its '/' must be letters, digits, '.', '_' or '-'", p)}
		}
	}
	return nil
}

// minRequestBytes is the least MaxRequestBytes that leaves room for a
// commit: the overhead etcd adds to the request, and some. maxRequestBytes
// is the most, well under the 2 GiB a protobuf message must stay below
// with the overhead (a limit near the int maximum overflowed the client's
// send limit), and far over etcd's advice of 10 MiB at most.
const (
	minRequestBytes = 4 * requestOverhead
	maxRequestBytes = 1 << 30
)

// TLS returns the client TLS configuration of c, or nil for plain
// connections. A file that cannot be read or holds no usable PEM is a
// *ConfigError naming it.
func (c Config) TLS() (*tls.Config, error) {
	if c.CAFile == "" && c.CertFile == "" && c.KeyFile == "" {
		return nil, nil
	}
	if c.CAFile != "" {
		pem, err := os.ReadFile(c.CAFile)
		if err != nil {
			return nil, &ConfigError{"CAFile", err.Error()}
		}
		// The client library would take a file without a certificate as
		// an empty pool, and refuse every member's certificate later.
		if !x509.NewCertPool().AppendCertsFromPEM(pem) {
			return nil, &ConfigError{"CAFile", fmt.Sprintf("%s holds no PEM certificate", c.CAFile)}
		}
	}
	info := transport.TLSInfo{CertFile: c.CertFile, KeyFile: c.KeyFile, TrustedCAFile: c.CAFile}
	tc, err := info.ClientConfig()
	if err != nil {
		return nil, &ConfigError{"CertFile, KeyFile", fmt.Sprintf("%s, %s: %v", c.CertFile, c.KeyFile, err)}
	}
	if err := c.certificateInForce(time.Now()); err != nil {
		return nil, err
	}
	return tc, nil
}

// clockSkew is how far this machine's clock may run behind a member's
// when a client certificate has only just been issued: the members judge
// its start by their own clocks, and a certificate made a moment ago by
// a CA whose clock runs ahead is not refused here for that.
const clockSkew = 5 * time.Minute

// certificateInForce refuses a client certificate that has expired, or
// is not yet valid at now even allowing for clockSkew. A member refuses it only once a connection is
// tried, after the whole dial timeout, and its refusal cannot tell an
// expired certificate from one another CA signed; the file itself says
// when it holds.
func (c Config) certificateInForce(now time.Time) error {
	if c.CertFile == "" {
		return nil
	}
	pair, err := tls.LoadX509KeyPair(c.CertFile, c.KeyFile)
	if err != nil || len(pair.Certificate) == 0 {
		return nil // ClientConfig has read them: nothing more to say
	}
	leaf, err := x509.ParseCertificate(pair.Certificate[0])
	if err != nil {
		return nil
	}
	switch {
	case now.After(leaf.NotAfter):
		return &ConfigError{"CertFile", fmt.Sprintf("the client certificate %s expired at %s: the members refuse it; renew it",
			c.CertFile, leaf.NotAfter.UTC().Format(time.RFC3339))}
	case now.Add(clockSkew).Before(leaf.NotBefore):
		return &ConfigError{"CertFile", fmt.Sprintf("the client certificate %s is valid from %s only (is this machine's clock right?)",
			c.CertFile, leaf.NotBefore.UTC().Format(time.RFC3339))}
	}
	return nil
}

// Engine is a kv.Engine over an etcd cluster.
type Engine struct {
	client *clientv3.Client
	prefix string
	limits Limits
	// guard is the commit guard key.
	guard string
	// owned: Close closes the client (Open made it).
	owned bool
	// What the engine sent (Stats).
	reads, commits, ops, bytes, conflicts, scanned atomic.Int64
	// lastGuard is the guard's mod revision that this engine's last
	// commit gave it (0 before one): while the guard still has it, no
	// other writer has committed since (DeleteAllIfLastWriter).
	lastGuard atomic.Int64
	// known are the buckets transactions found, whose markers (and
	// sequences) a transaction's first read brings at once.
	known knownBuckets
}

// maxKnownBuckets bounds the names a snapshot's first read asks about
// (the stored layout has about 30 buckets), so that it stays well under
// any cluster's --max-txn-ops (128 by default).
const maxKnownBuckets = 64

// knownBuckets are the names of the buckets that existed, and of those
// whose sequence was read, in earlier transactions: a hint of what the
// next transaction will read, never an answer (the first read asks the
// snapshot about each).
type knownBuckets struct {
	mu          sync.Mutex
	names, seqs []string
}

// add records the bucket name, or its sequence when seq is set.
func (k *knownBuckets) add(name string, seq bool) {
	k.mu.Lock()
	defer k.mu.Unlock()
	list := &k.names
	if seq {
		list = &k.seqs
	}
	if len(k.names)+len(k.seqs) >= maxKnownBuckets || slices.Contains(*list, name) {
		return
	}
	// A new slice: get's callers keep reading the old one.
	*list = append(slices.Clip(*list), name)
}

// get returns the names known now; the caller must not change them.
func (k *knownBuckets) get() (names, seqs []string) {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.names, k.seqs
}

// Stats counts what an engine has sent the cluster since it was made:
// counts a busy machine does not change, which the benchmarks report per
// request beside the times.
type Stats struct {
	// Reads are read round trips: a transaction's Gets and cursor pages
	// that its own writes did not answer, and the checks of a snapshot.
	Reads int64
	// Commits are the commit Txns sent, those whose compare failed
	// included; Ops and Bytes are their operations and bytes, as counted
	// against MaxTxnOps and MaxRequestBytes.
	Commits, Ops, Bytes int64
	// Conflicts are the bodies run again because another writer
	// committed after their snapshot (a failed guard compare, or a stale
	// snapshot of a body that wrote nothing).
	Conflicts int64
	// Scanned are the keys the members counted to answer the reads: etcd
	// counts every key of a Range, past its limit too, so a page read
	// from a key to its bucket's end costs the member the rest of the
	// bucket.
	Scanned int64
}

// Stats returns the counts since the engine was made.
func (e *Engine) Stats() Stats {
	return Stats{Reads: e.reads.Load(), Commits: e.commits.Load(), Ops: e.ops.Load(), Bytes: e.bytes.Load(),
		Conflicts: e.conflicts.Load(), Scanned: e.scanned.Load()}
}

// Open connects to the cluster of cfg and checks that it answers (a
// quorum read), within cfg.DialTimeout.
func Open(ctx context.Context, cfg Config) (*Engine, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.WithDefaults()
	tc, err := cfg.TLS()
	if err != nil {
		return nil, err
	}
	client, err := clientv3.New(clientv3.Config{
		Endpoints:   cfg.Endpoints,
		DialTimeout: cfg.DialTimeout,
		TLS:         tc,
		Username:    cfg.Username,
		Password:    cfg.Password,
		// The client refuses to send more than 2 MiB by default: let
		// through what the limits allow (etcd adds the same margin).
		MaxCallSendMsgSize: cfg.MaxRequestBytes + requestOverhead,
		// The client outlives Open's context (a start's, which ends at
		// SIGTERM): sessions, lease revokes and the watch use it until
		// Close. ctx bounds only the check below that the cluster answers.
		Context: context.WithoutCancel(ctx),
		Logger:  zap.NewNop(),
	})
	if err != nil {
		return nil, fmt.Errorf("etcd %v: %w", cfg.Endpoints, err)
	}
	e, err := NewEngine(client, cfg.Prefix, Limits{MaxTxnOps: cfg.MaxTxnOps, MaxRequestBytes: cfg.MaxRequestBytes})
	if err != nil {
		_ = client.Close()
		return nil, err
	}
	e.owned = true
	check, cancel := context.WithTimeout(ctx, cfg.DialTimeout)
	defer cancel()
	guard, err := client.Get(check, e.guard, clientv3.WithCountOnly())
	if err != nil {
		_ = client.Close()
		if ctx.Err() == nil {
			if problem := noMemberAccepts(cfg.Endpoints); problem != nil {
				return nil, problem
			}
			if problem := tlsProblem(cfg.Endpoints, tc, cfg); problem != nil {
				return nil, problem
			}
			if problem := noEtcdMember(cfg.Endpoints, err); problem != nil {
				return nil, problem
			}
		}
		return nil, fmt.Errorf("etcd %v does not answer: %w", cfg.Endpoints, err)
	}
	if err := refuseNested(check, client, e.prefix, guard.Count > 0); err != nil {
		_ = client.Close()
		return nil, err
	}
	return e, nil
}

// guardKey is the commit guard's key under a deployment's prefix.
const guardKey = "\x00txn"

// refuseNested refuses a prefix whose keys would meet another
// deployment's. "/childcase/cases/" is a key range of the bucket cases of
// the deployment at "/childcase/", whose cursors would read the inner
// one's records as their own (and an etcd role on the outer prefix covers
// the inner), whichever of the two came first. A deployment shows by its
// commit guard, written by its first transaction, so every shorter prefix
// ending in '/' is asked for one; and a prefix without a guard of its own
// (deployed says whether it has one) must hold no key at all, since any
// key under it belongs to a deployment inside it or to another program.
func refuseNested(ctx context.Context, client *clientv3.Client, prefix string, deployed bool) error {
	var ops []clientv3.Op
	var outer []string
	for i := 0; i < len(prefix)-1; i++ {
		if prefix[i] == '/' {
			outer = append(outer, prefix[:i+1])
			ops = append(ops, clientv3.OpGet(prefix[:i+1]+guardKey, clientv3.WithCountOnly()))
		}
	}
	if !deployed {
		ops = append(ops, clientv3.OpGet(prefix, clientv3.WithPrefix(), clientv3.WithLimit(1), clientv3.WithKeysOnly()))
	}
	resp, err := client.Txn(ctx).Then(ops...).Commit()
	if err != nil {
		return fmt.Errorf("etcd Prefix: look for deployments around %q: %w", prefix, err)
	}
	for i, r := range resp.Responses {
		rng := r.GetResponseRange()
		switch {
		case i < len(outer) && rng.GetCount() > 0:
			return &ConfigError{"Prefix", fmt.Sprintf("%q lies inside the keys of the deployment at %q; choose a prefix beside it, not under it", prefix, outer[i])}
		case i == len(outer) && len(rng.GetKvs()) > 0:
			return &ConfigError{"Prefix", fmt.Sprintf("%q holds keys of no deployment of its own (%d, the first %q): a deployment under it, or another program's; "+
				"choose a prefix beside them, not around them", prefix, rng.GetCount(), rng.GetKvs()[0].Key)}
		}
	}
	return nil
}

// NewEngine returns an engine over an existing client; closing the engine
// leaves the client open. prefix "" means DefaultPrefix; zero limits mean
// the defaults.
func NewEngine(client *clientv3.Client, prefix string, limits Limits) (*Engine, error) {
	if prefix == "" {
		prefix = DefaultPrefix
	}
	if err := validatePrefix(prefix); err != nil {
		return nil, err
	}
	return &Engine{client: client, prefix: prefix, limits: limits.withDefaults(), guard: prefix + guardKey}, nil
}

// Client is the engine's etcd client, for what runs beside the stored
// layout (election, watches).
func (e *Engine) Client() *clientv3.Client { return e.client }

// Prefix is the prefix of every key the engine writes.
func (e *Engine) Prefix() string { return e.prefix }

// Close ends the engine's watch, and closes the client if Open made it.
func (e *Engine) Close() error {
	if !e.owned {
		return nil
	}
	if err := e.client.Close(); err != nil && !errors.Is(err, context.Canceled) {
		return fmt.Errorf("close etcd client: %w", err)
	}
	return nil
}

// Keys counts the keys under the engine's prefix (a quorum read): zero
// means no deployment uses the prefix, so a copy (childcase migrate-store)
// may fill it.
func (e *Engine) Keys(ctx context.Context) (int64, error) {
	resp, err := e.client.Get(ctx, e.prefix, clientv3.WithPrefix(), clientv3.WithCountOnly())
	if err != nil {
		return 0, fmt.Errorf("etcd: count the keys under %q: %w", e.prefix, err)
	}
	return resp.Count, nil
}

// DeleteAllIfPresent deletes every key under the prefix, in one
// transaction that commits only while the key key of bucket is there; it
// reports whether it did. A copy into an empty prefix that failed part
// way (boltstore.CopyIntoEngine) takes itself back with it, on the mark it
// put in its first commit (boltstore.CopyMarker), which a deployment in
// use never holds.
func (e *Engine) DeleteAllIfPresent(ctx context.Context, bucket, key []byte) (bool, error) {
	mark := e.prefix + string(bucket) + "/" + string(key)
	resp, err := e.client.Txn(ctx).
		If(clientv3.Compare(clientv3.CreateRevision(mark), ">", 0)).
		Then(clientv3.OpDelete(e.prefix, clientv3.WithPrefix())).
		Commit()
	if err != nil {
		return false, fmt.Errorf("etcd: delete the keys under %q: %w", e.prefix, mapErr(err))
	}
	return resp.Succeeded, nil
}

// DeleteAllIfLastWriter deletes every key under the prefix, in one
// transaction that commits only while this engine's last commit is the
// last one of the prefix (the commit guard has the mod revision that
// commit gave it); it reports whether it did. A first start refused
// after it made a new store takes the store back with it, and leaves
// alone one that another instance has written to meanwhile.
func (e *Engine) DeleteAllIfLastWriter(ctx context.Context) (bool, error) {
	last := e.lastGuard.Load()
	if last == 0 {
		return false, nil // this engine committed nothing
	}
	resp, err := e.client.Txn(ctx).
		If(clientv3.Compare(clientv3.ModRevision(e.guard), "=", last)).
		Then(clientv3.OpDelete(e.prefix, clientv3.WithPrefix())).
		Commit()
	if err != nil {
		return false, fmt.Errorf("etcd: delete the keys under %q: %w", e.prefix, mapErr(err))
	}
	return resp.Succeeded, nil
}

// defaultQuotaBytes is etcd's --quota-backend-bytes when a member reports
// none.
const defaultQuotaBytes = 2 << 30

// Space reports, of the members that answer, the one with the least room
// left under its quota: its database (etcd's backend file, whose size the
// space quota caps) and its quota. etcd refuses every write once one
// member's database reaches that member's quota, and members may run with
// different quotas (while --quota-backend-bytes is changed one member at
// a time), so the largest database is not always the nearest to its
// quota. A store that must keep writing the audit events of reads stops
// its ordinary writes some way before (boltstore.EngineOptions.Space).
func (e *Engine) Space(ctx context.Context) (size, quota int64, err error) {
	eps := e.client.Endpoints()
	type answer struct {
		size, quota int64
		err         error
	}
	answers := make([]answer, len(eps))
	var wg sync.WaitGroup
	for i, ep := range eps {
		wg.Go(func() {
			st, err := e.client.Status(ctx, ep)
			if err != nil {
				answers[i].err = fmt.Errorf("%s: %w", ep, err)
				return
			}
			quota := st.DbSizeQuota
			if quota <= 0 {
				quota = defaultQuotaBytes
			}
			answers[i] = answer{size: st.DbSize, quota: quota}
		})
	}
	wg.Wait()
	var errs []error
	answered := false
	for _, a := range answers {
		if a.err != nil {
			errs = append(errs, a.err)
			continue
		}
		if !answered || a.quota-a.size < quota-size {
			size, quota = a.size, a.quota
		}
		answered = true
	}
	if !answered {
		return 0, 0, fmt.Errorf("etcd: the members' database sizes: %w", errors.Join(errs...))
	}
	return size, quota, nil
}
