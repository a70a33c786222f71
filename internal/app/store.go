package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/childcase/childcase/internal/domain/datastore"
	"github.com/childcase/childcase/internal/storage/boltstore"
	"github.com/childcase/childcase/internal/storage/etcdstore"
	"github.com/childcase/childcase/internal/transport/grpcapi"
	"github.com/childcase/childcase/internal/transport/metrics"
)

// The stores a server runs on (Config.Store): the bbolt file at DBPath,
// the default, which needs nothing installed; or an etcd cluster, which
// several instances share.
const (
	StoreBolt       = "bbolt"
	storeEtcdScheme = "etcd://"
)

// The defaults of the etcd store's settings (Config.EtcdPrefix,
// EtcdMaxTxnOps, EtcdMaxRequestBytes).
const (
	DefaultEtcdPrefix          = etcdstore.DefaultPrefix
	DefaultEtcdMaxTxnOps       = etcdstore.DefaultMaxTxnOps
	DefaultEtcdMaxRequestBytes = etcdstore.DefaultMaxRequestBytes
)

// MinEtcdMaxTxnOps is the least --etcd-max-txn-ops a store on etcd can
// work with: the commit that creates a new store's buckets holds that
// many operations.
func MinEtcdMaxTxnOps() int { return boltstore.MinEngineTxnOps() }

// serverStore is what a server needs of its store: the datastore, a
// consistent backup (a bbolt file of one transaction), the gauges of the
// metrics, and on a shared store the election of the instance that runs
// the background duties and the news of other instances' notifications.
type serverStore struct {
	datastore.Store
	backup grpcapi.DatabaseBackup
	gauges func() (metrics.StoreGauges, error)
	// leadership is nil alone on a file (always the leader).
	leadership Leadership
	// watchOutbox, when set, calls notify whenever any instance appends
	// notifications, until ctx ends.
	watchOutbox func(ctx context.Context, notify func())
	// contenders, on a shared store, returns the ids (instanceID) of the
	// instances taking part in its election.
	contenders func(ctx context.Context) ([]string, error)
	// instanceID is this instance's id in that election.
	instanceID string
	// file is the bbolt store, nil on etcd; etcd is the etcd engine, nil
	// on a file (the benchmarks' write counts).
	file *boltstore.Store
	etcd *etcdstore.Engine
	// madeOnEtcd: this start made the store on an empty etcd prefix,
	// which a refused start takes back (closeRefusedEtcd).
	madeOnEtcd bool
}

// closeRefusedEtcd closes the store on etcd that a refused first start
// made, having deleted every key under its prefix if no other instance
// has written there since this one's last commit: the next start, with
// the mistake mended, finds the prefix as the refused one did, as a
// refused first start on a file leaves no file (Store.CloseRefused).
// A store another instance has written to meanwhile is its now, and is
// left alone.
func (s *serverStore) closeRefusedEtcd(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	_, err := s.etcd.DeleteAllIfLastWriter(ctx)
	if err != nil {
		err = fmt.Errorf("take back the store a refused first start made under %s: %w", s.etcd.Prefix(), err)
	}
	return errors.Join(err, s.Close())
}

// shared reports whether other instances may use the store at the same
// time (etcd): only a shared store has an election.
func (s *serverStore) shared() bool { return s.leadership != nil }

// etcdEndpoints returns the endpoints of an etcd:// store, and whether
// the store is one.
func (c Config) etcdEndpoints() ([]string, bool) {
	rest, ok := strings.CutPrefix(c.Store, storeEtcdScheme)
	if !ok {
		return nil, false
	}
	if strings.TrimSpace(rest) == "" {
		return nil, true // refused by Validate: at least one endpoint is required
	}
	scheme := "http://"
	if c.EtcdCAFile != "" || c.EtcdCertFile != "" {
		scheme = "https://"
	}
	var eps []string
	for _, ep := range strings.Split(rest, ",") {
		eps = append(eps, scheme+strings.TrimSpace(ep))
	}
	return eps, true
}

// etcdConfig is the engine's configuration for an etcd:// store.
func (c Config) etcdConfig() etcdstore.Config {
	eps, _ := c.etcdEndpoints()
	return etcdstore.Config{
		Endpoints: eps, Prefix: c.EtcdPrefix,
		CAFile: c.EtcdCAFile, CertFile: c.EtcdCertFile, KeyFile: c.EtcdKeyFile,
		MaxTxnOps: c.EtcdMaxTxnOps, MaxRequestBytes: int(c.EtcdMaxRequestBytes),
	}
}

// validateStore checks the store settings, naming the flag. On etcd it
// reads the TLS files too, so that a CA, certificate or key that does not
// load is refused before anything opens, not after a dial timeout.
func (c Config) validateStore() error {
	// Refused whatever the store: a negative limit is a mistake even where
	// it would not apply, as the README's Configuration promises.
	if err := refuseNegative(
		namedLimit{"etcd-max-txn-ops", int64(c.EtcdMaxTxnOps)},
		namedLimit{"etcd-max-request-bytes", c.EtcdMaxRequestBytes},
	); err != nil {
		return err
	}
	if c.Store == "" || c.Store == StoreBolt {
		if c.DBPath == "" {
			return errors.New("config: db: a database path is required")
		}
		return nil
	}
	if !c.IsEtcd() {
		// A file's path is the likely mistake of one who read --store as
		// "where the data is stored".
		hint := ""
		if !strings.Contains(c.Store, "://") {
			hint = " (a file's path goes to --db, with --store bbolt or left out)"
		}
		return fmt.Errorf("config: store: %q is neither %q nor %shost:port[,host:port...]%s", c.Store, StoreBolt, storeEtcdScheme, hint)
	}
	if c.MaxDBSize != 0 {
		return errors.New("config: max-db-size: applies to a bbolt file only; on etcd the cluster's --quota-backend-bytes caps the database")
	}
	// Under what the layout's first commit needs, a server could create
	// no store (it failed at that commit, naming the engine's MaxTxnOps,
	// and migrate-store too, a little lower): refused here, naming the flag.
	if n, least := c.EtcdMaxTxnOps, MinEtcdMaxTxnOps(); n != 0 && n < least {
		return fmt.Errorf("config: etcd-max-txn-ops: %d is below the %d operations of the commit that creates the store's buckets (0 means the default, %d)",
			n, least, DefaultEtcdMaxTxnOps)
	}
	if err := c.etcdConfig().Validate(); err != nil {
		return c.etcdSettingError(err)
	}
	if _, err := c.etcdConfig().TLS(); err != nil {
		return c.etcdSettingError(err)
	}
	return nil
}

// etcdFlagOf names the flag of each etcdstore.Config field an operator
// sets (the endpoints are --store's).
var etcdFlagOf = map[string]string{
	"Prefix": "etcd-prefix", "CAFile": "etcd-ca", "CertFile": "etcd-cert", "CertFile, KeyFile": "etcd-cert, etcd-key",
	"MaxTxnOps": "etcd-max-txn-ops", "MaxRequestBytes": "etcd-max-request-bytes",
}

// etcdSettingError names the flag behind an etcdstore.ConfigError (of
// Validate, TLS or Open's look at the prefix); other errors pass as they
// are.
func (c Config) etcdSettingError(err error) error {
	var ce *etcdstore.ConfigError
	if !errors.As(err, &ce) {
		return err
	}
	if name, ok := etcdFlagOf[ce.Field]; ok {
		return fmt.Errorf("config: %s: %s", name, ce.Rule)
	}
	if strings.HasPrefix(ce.Field, "Endpoints") {
		return fmt.Errorf("config: store: %q: %s", c.Store, ce.Rule)
	}
	return fmt.Errorf("config: store: %w", err)
}

// openStore opens the store the configuration names. policy is the
// fingerprint of the instance's policy, part of its id in the election of
// a shared store.
func openStore(ctx context.Context, cfg Config, opts Options, policy string, committed func(time.Duration)) (*serverStore, error) {
	if _, ok := cfg.etcdEndpoints(); ok {
		return openEtcdStore(ctx, cfg, opts.Logger, policy, committed)
	}
	store, err := boltstore.Open(cfg.DBPath, boltstore.Options{NoSync: opts.NoSync, MaxSize: cfg.MaxDBSize, Reserve: cfg.DBReserve,
		Committed: committed, Migrated: migrationAudit(opts.Clock, "start"), Logger: opts.Logger})
	if err != nil {
		return nil, err
	}
	return &serverStore{
		Store: store, backup: store, file: store,
		gauges: func() (metrics.StoreGauges, error) {
			g, err := store.Gauges()
			return metrics.StoreGauges{Commits: g.Commits, Fsyncs: g.Fsyncs, SizeBytes: g.SizeBytes,
				ReserveBytes: g.ReserveBytes, ReserveHeldBytes: g.ReserveHeldBytes}, err
		},
	}, nil
}

// openEtcdStore opens the stored layout on an etcd cluster, with the
// election and the outbox watch of the instances that share it.
func openEtcdStore(ctx context.Context, cfg Config, log *slog.Logger, policy string, committed func(time.Duration)) (*serverStore, error) {
	e, err := openEtcdEngine(ctx, cfg)
	if err != nil {
		return nil, err
	}
	// The reserve keeps room for the audit events of reads, as on a
	// file: a cluster at its quota refuses every write, those included.
	store, err := boltstore.OpenEngine(ctx, e, boltstore.EngineOptions{Committed: committed,
		Space: e.Space, Reserve: cfg.WithDefaults().DBReserve})
	if err != nil {
		e.Close()
		return nil, err
	}
	client, prefix := e.Client(), e.Prefix()
	id := instanceID(cfg, policy)
	return &serverStore{
		Store: store, backup: store, etcd: e, madeOnEtcd: store.Created(),
		// Only the commits are childcase's to count: the cluster's size
		// and syncs are etcd's own metrics (etcd_mvcc_db_total_size_in_bytes,
		// etcd_disk_wal_fsync_duration_seconds).
		gauges: func() (metrics.StoreGauges, error) {
			return metrics.StoreGauges{Commits: store.Commits()}, nil
		},
		leadership: etcdLeadership{lead: func(ctx context.Context, run func(context.Context)) error {
			return etcdstore.Lead(ctx, client, prefix, id, 0, log, run)
		}},
		instanceID: id,
		watchOutbox: func(ctx context.Context, notify func()) {
			etcdstore.WatchOutbox(ctx, client, prefix, notify, log)
		},
		contenders: func(ctx context.Context) ([]string, error) {
			return etcdstore.Contenders(ctx, client, prefix)
		},
	}, nil
}

// instanceID names this instance in the election: its host, its gRPC
// address and its process, so that an operator (or the failover test) can
// tell which instance leads, and the fingerprint of its policy, which the
// instances started after it compare with theirs (samePolicy).
func instanceID(cfg Config, policy string) string {
	host, _ := os.Hostname()
	return fmt.Sprintf("%s %s pid %d%s%s", host, cfg.GRPCAddr, os.Getpid(), policyMark, policy)
}

// policyMark ends an instance's id before its policy's fingerprint.
const policyMark = " policy "

// samePolicy refuses to start an instance whose policy differs from that
// of an instance running on the same store (one of contenders). A step's
// deadlines come from the policy of the instance that takes it, and the
// escalations, warnings and webhooks from the leader's: with two policies
// a case's deadlines would depend on the instance a load balancer picked.
// An id without a fingerprint (an older version's) is passed over.
func samePolicy(ctx context.Context, contenders func(context.Context) ([]string, error), policy string) error {
	ids, err := contenders(ctx)
	if err != nil {
		return err
	}
	return policyOf(ids, policy)
}

// policyOf is samePolicy over the ids of the instances running.
func policyOf(ids []string, policy string) error {
	for _, id := range ids {
		at := strings.LastIndex(id, policyMark)
		if at < 0 {
			continue
		}
		if theirs := id[at+len(policyMark):]; theirs != policy {
			return fmt.Errorf("config: policy: the instance %q runs on this store with another policy (fingerprint %s, this one's %s): "+
				"every instance of a store needs the same policy; to change it, stop them all and start them with the new one", id[:at], theirs, policy)
		}
	}
	return nil
}

// joinedWithSamePolicy is samePolicy once this instance (id) has joined
// the election, against the instances that joined before it: two
// instances started at the same moment with different policies each pass
// samePolicy before either has joined, and then the later of the two
// gives way, the earlier one keeps running. It polls the contenders every
// poll until id is among them, and gives up after wait (the election's
// own errors are logged where it runs), leaving samePolicy's answer.
func joinedWithSamePolicy(ctx context.Context, contenders func(context.Context) ([]string, error), id, policy string, poll, wait time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	for {
		ids, err := contenders(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
		if mine := slices.Index(ids, id); mine >= 0 {
			return policyOf(ids[:mine], policy)
		}
		t := time.NewTimer(poll)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-t.C:
		}
	}
}

// etcdLeadership is the election on etcd (etcdstore.Lead).
type etcdLeadership struct {
	lead func(ctx context.Context, run func(context.Context)) error
}

// Lead implements Leadership.
func (l etcdLeadership) Lead(ctx context.Context, run func(context.Context)) error {
	return l.lead(ctx, run)
}
