package app_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"google.golang.org/grpc/codes"

	pb "github.com/childcase/childcase/api/childcase/v1"
	"github.com/childcase/childcase/internal/app"
	"github.com/childcase/childcase/internal/domain/clock"
	"github.com/childcase/childcase/internal/domain/datastore"
	"github.com/childcase/childcase/internal/storage/boltstore"
	"github.com/childcase/childcase/internal/storage/etcdstore"
	"github.com/childcase/childcase/internal/storage/etcdstore/etcdtest"
	"github.com/childcase/childcase/internal/storage/kv"
)

// moveInto copies the bbolt file at path into the etcd store at
// endpoints under prefix with app.MigrateStore, and fails unless the copy
// passed its check and holds what the file holds.
func moveInto(t *testing.T, path string, endpoints []string, prefix string, opts app.MoveOptions) {
	t.Helper()
	from, to := app.DefaultConfig(), app.DefaultConfig()
	from.DBPath = path
	to.Store, to.EtcdPrefix = etcdStoreOf(endpoints), prefix
	res, err := app.MigrateStore(context.Background(), from, to, opts)
	if err != nil {
		t.Fatalf("migrate %s into etcd %s: %v", path, prefix, err)
	}
	if !res.OK() {
		t.Fatalf("migrate %s into etcd %s: check %v, buckets %+v", path, prefix, res.Check.Problems, res.Buckets)
	}
}

// TestServerOnMigratedEtcdCopy: a server's bbolt database moved onto etcd
// with migrate-store serves its cases to a server started on the copy,
// which goes on writing there.
func TestServerOnMigratedEtcdCopy(t *testing.T) {
	cluster := etcdtest.Start(t, 1, etcdtest.WithoutFsync())
	dir := t.TempDir()
	clk := clock.NewFake(testNow)
	onFile := startWithClock(t, testConfig(t, filepath.Join(dir, "childcase.db")), clk)
	onFile.addUser(t, "bd.worker", pb.Role_ROLE_COMMUNE_WORKER, pBaDinh)
	name := openCase(t, onFile, testNow.Add(-time.Hour), "00004")
	onFile.stop()

	moveInto(t, filepath.Join(dir, "childcase.db"), cluster.Endpoints(), app.DefaultEtcdPrefix, app.MoveOptions{})
	onEtcd := startOnEtcd(t, cluster.Endpoints(), dir, clk)
	if got := getCase(t, onEtcd, "bd.worker", name); got.GetName() != name {
		t.Fatalf("the server on the etcd copy read %q, want %s", got.GetName(), name)
	}
	second := openCase(t, onEtcd, testNow.Add(-time.Hour), "00004")
	if second == name {
		t.Fatalf("the server on the etcd copy opened case %s again: its counters were not copied", second)
	}
}

// TestEtcdBackupRestoresOnBothBackends: the AdminService backup of a
// server on etcd (a bbolt file of one revision) passes the check, and a
// server started on it serves the case, whether it is restored as a file
// or onto an empty etcd prefix.
func TestEtcdBackupRestoresOnBothBackends(t *testing.T) {
	cluster, dir, clk, onEtcd := etcdWithWorker(t)
	name := openCase(t, onEtcd, testNow.Add(-time.Hour), "00004")
	data, err := backupOverGRPC(onEtcd.as(t, "admin"), onEtcd)
	if err != nil {
		t.Fatalf("BackupDatabase of a server on etcd: %v", err)
	}
	onEtcd.stop()

	path := filepath.Join(dir, "childcase.db") // where the instances' key file and tokens are
	if res := restoreTo(t, data, path); res.Cases != 1 {
		t.Fatalf("the backup holds %d cases, want 1", res.Cases)
	}
	// Audited before the revision it copies was read, as on a file: the
	// backup holds its own event.
	copied, err := boltstore.OpenReadOnly(path, boltstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	err = copied.View(context.Background(), func(tx datastore.ReadTx) error {
		events, _, err := tx.ListAuditEvents(datastore.AuditQuery{Actor: "admin", Limit: 1})
		if err == nil && (len(events) != 1 || events[0].Action != "database.backup") {
			t.Errorf("the etcd backup's last event of the admin is %+v, want its own database.backup", events)
		}
		return err
	})
	if cerr := copied.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		t.Fatal(err)
	}
	backup := filepath.Join(dir, "backup.db")
	if err := os.WriteFile(backup, data, 0o600); err != nil {
		t.Fatal(err)
	}

	onFile := startWithClock(t, testConfig(t, path), clk)
	if got := getCase(t, onFile, "bd.worker", name); got.GetName() != name {
		t.Fatalf("the server on the restored file read %q, want %s", got.GetName(), name)
	}
	onFile.stop()

	moveInto(t, backup, cluster.Endpoints(), "/restored/", app.MoveOptions{KeepSchema: true})
	restored := startOnEtcdWith(t, cluster.Endpoints(), dir, clk, func(c *app.Config) { c.EtcdPrefix = "/restored/" })
	if got := getCase(t, restored, "bd.worker", name); got.GetName() != name {
		t.Fatalf("the server on the backup restored onto etcd read %q, want %s", got.GetName(), name)
	}
}

// TestEtcdQuotaIsDatabaseFull: a cluster over its space quota refuses a
// write with RESOURCE_EXHAUSTED and reason DATABASE_FULL, keeps nothing of
// it, and still answers reads (whose audit events take the room kept back
// from ordinary writes).
func TestEtcdQuotaIsDatabaseFull(t *testing.T) {
	cluster := etcdtest.Start(t, 1, etcdtest.WithQuota(2<<20), etcdtest.WithoutFsync())
	dir := t.TempDir()
	ts := startOnEtcd(t, cluster.Endpoints(), dir, clock.NewFake(testNow))
	ctx := context.Background()
	var created []string
	var refused error
	for i := 0; refused == nil; i++ {
		if i == 5000 {
			t.Fatalf("%d reports and the cluster is still not full", i)
		}
		r, err := ts.reports().CreateReport(ctx, &pb.CreateReportRequest{Report: validReport(), RequestId: fmt.Sprintf("fill-%d", i)})
		if err != nil {
			refused = err
			break
		}
		created = append(created, r.GetName())
	}
	if st := wantCode(t, refused, codes.ResourceExhausted); errorReason(st) != "DATABASE_FULL" {
		t.Fatalf("refusal: reason %q, message %q", errorReason(st), st.Message())
	}
	t.Logf("full after %d reports", len(created))
	if n := countReports(t, ts); n != len(created) {
		t.Errorf("%d reports listed, %d acknowledged", n, len(created))
	}
	// Each read is answered once its audit event is committed: they come
	// out of the room the reserve keeps, which a cluster at its quota
	// would no longer have.
	for i := range 100 {
		name := created[i%len(created)]
		if _, err := ts.reports().GetReport(ctx, &pb.GetReportRequest{Name: name}); err != nil {
			t.Fatalf("read %d (%s) of a full cluster: %v", i+1, name, err)
		}
	}
	_, err := ts.reports().CreateReport(ctx, &pb.CreateReportRequest{Report: validReport(), RequestId: "after-the-reads"})
	if st := wantCode(t, err, codes.ResourceExhausted); errorReason(st) != "DATABASE_FULL" {
		t.Errorf("a write after the reads: reason %q, message %q", errorReason(st), st.Message())
	}
	// A restart on the full cluster (its start's duties only read a store
	// that needs nothing of them) answers reads too.
	ts.stop()
	ts = startOnEtcd(t, cluster.Endpoints(), dir, clock.NewFake(testNow))
	for i := range 100 {
		if _, err := ts.reports().GetReport(ctx, &pb.GetReportRequest{Name: created[i%len(created)]}); err != nil {
			t.Fatalf("read %d of a full cluster after a restart: %v", i+1, err)
		}
	}
}

// TestSmallestEtcdMaxTxnOps: at the least --etcd-max-txn-ops a store on
// etcd accepts, migrate-store copies a database and a server creates a new
// store; one less, with which a server could create no store (it failed at
// its first commit, naming the engine's MaxTxnOps), is refused before
// anything opens, naming the flag.
func TestSmallestEtcdMaxTxnOps(t *testing.T) {
	cluster := etcdtest.Start(t, 1, etcdtest.WithoutFsync())
	dir := t.TempDir()
	clk := clock.NewFake(testNow)
	startWithClock(t, testConfig(t, filepath.Join(dir, "childcase.db")), clk).stop()
	least := app.MinEtcdMaxTxnOps()
	if least != 24 {
		t.Errorf("the least --etcd-max-txn-ops is %d; the README's etcd section says 24", least)
	}

	from, to := app.DefaultConfig(), app.DefaultConfig()
	from.DBPath = filepath.Join(dir, "childcase.db")
	to.Store, to.EtcdPrefix, to.EtcdMaxTxnOps = etcdStoreOf(cluster.Endpoints()), "/moved/", least
	if res, err := app.MigrateStore(context.Background(), from, to, app.MoveOptions{}); err != nil || !res.OK() {
		t.Fatalf("migrate-store at --etcd-max-txn-ops %d: %v (check %v)", least, err, res.Check.Problems)
	}
	startOnEtcdWith(t, cluster.Endpoints(), t.TempDir(), clk, func(c *app.Config) {
		c.EtcdPrefix, c.EtcdMaxTxnOps = "/new/", least
	})

	to.EtcdPrefix, to.EtcdMaxTxnOps = "/fewer/", least-1
	_, err := app.MigrateStore(context.Background(), from, to, app.MoveOptions{})
	if want := fmt.Sprintf("config: etcd-max-txn-ops: %d is below the %d operations", least-1, least); err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("migrate-store at --etcd-max-txn-ops %d = %v, want %q", least-1, err, want)
	}
}

// TestFailedCopyOntoEtcdLeavesThePrefixEmpty: a copy onto etcd that fails
// part way (here a member that takes fewer operations in one commit than
// the copy sends: its buckets go in, its first batch of keys is refused)
// takes back what it wrote, so the prefix is empty again, as the copy
// found it: the same migrate-store, with limits the cluster takes, then
// fills it. It left the buckets and the migrating key, so that the second
// run was refused as a target that is not empty.
func TestFailedCopyOntoEtcdLeavesThePrefixEmpty(t *testing.T) {
	cluster := etcdtest.Start(t, 1, etcdtest.WithoutFsync(), etcdtest.WithMaxTxnOps(30))
	dir := t.TempDir()
	onFile := startWithClock(t, testConfig(t, filepath.Join(dir, "childcase.db")), clock.NewFake(testNow))
	openCase(t, onFile, testNow.Add(-time.Hour), "00004") // more keys than one commit of the cluster's takes
	onFile.stop()
	from, to := app.DefaultConfig(), app.DefaultConfig()
	from.DBPath = filepath.Join(dir, "childcase.db")
	to.Store, to.EtcdPrefix = etcdStoreOf(cluster.Endpoints()), "/moved/"

	_, err := app.MigrateStore(context.Background(), from, to, app.MoveOptions{})
	if err == nil {
		t.Fatal("a copy in commits over the cluster's --max-txn-ops succeeded")
	}
	t.Logf("the failed copy: %v", err)
	if !strings.Contains(err.Error(), "nothing of it is left") {
		t.Errorf("the failure %q does not say that the prefix was emptied again", err)
	}
	keys, err := cluster.Client(t).Get(context.Background(), "/moved/", clientv3.WithPrefix(), clientv3.WithCountOnly())
	if err != nil {
		t.Fatal(err)
	}
	if keys.Count != 0 {
		t.Fatalf("the failed copy left %d keys under its prefix", keys.Count)
	}
	// The copy is on the file's trail before it began, and its failure
	// after it: the trail does not show a copy that never reached the
	// cluster as a plain success (as a backup's does not).
	if got := newestOutcomes(t, from.DBPath, 2); got != "database.copy ok, database.copy error" {
		t.Errorf("the file's newest events after the failed copy: %s, want its copy and its failure", got)
	}
	to.EtcdMaxTxnOps = 30
	if res, err := app.MigrateStore(context.Background(), from, to, app.MoveOptions{}); err != nil || !res.OK() {
		t.Fatalf("migrate-store again, within the cluster's limits: %v (check %v)", err, res.Check.Problems)
	}
}

// newestOutcomes is the action and outcome of the newest n events of the
// database file at db, oldest first.
func newestOutcomes(t *testing.T, db string, n uint64) string {
	t.Helper()
	s, err := boltstore.OpenReadOnly(db, boltstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var head uint64
	err = s.View(t.Context(), func(tx datastore.ReadTx) error {
		head, _, err = tx.AuditHead()
		if err != nil || head < n {
			return fmt.Errorf("head %d: %v", head, err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return outcomesFrom(t, s, head-n+1)
}

// outcomesFrom is the action and outcome of the events of s from seq
// from on, oldest first.
func outcomesFrom(t *testing.T, s datastore.Store, from uint64) string {
	t.Helper()
	var out []string
	err := s.View(t.Context(), func(tx datastore.ReadTx) error {
		for e, err := range tx.AuditEvents(from) {
			if err != nil {
				return err
			}
			out = append(out, e.Action+" "+string(e.Outcome))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return strings.Join(out, ", ")
}

// newEtcdStore starts a one-member cluster and moves a new, empty
// database onto it under the default prefix.
func newEtcdStore(t *testing.T) *etcdtest.Cluster {
	t.Helper()
	cluster := etcdtest.Start(t, 1, etcdtest.WithoutFsync())
	path := filepath.Join(t.TempDir(), "childcase.db")
	s, err := boltstore.Open(path, boltstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	moveInto(t, path, cluster.Endpoints(), app.DefaultEtcdPrefix, app.MoveOptions{})
	return cluster
}

// TestOfflineEtcdBackupDoesNotMigrateItsStore: a backup --store (and a
// migrate-store back to a file) of an etcd store of an older schema
// version copies it as it is and says that it is not on the store's
// trail, as a backup of a file does: taking its event would first raise
// the store's schema version, under the servers of the older version
// that may be running on it, which could then not start again.
func TestOfflineEtcdBackupDoesNotMigrateItsStore(t *testing.T) {
	cluster := newEtcdStore(t)
	e, err := etcdstore.Open(t.Context(), etcdstore.Config{Endpoints: cluster.Endpoints(), Prefix: app.DefaultEtcdPrefix})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	older := binary.BigEndian.AppendUint32(nil, boltstore.SchemaVersion-1)
	if err := e.Update(t.Context(), func(tx kv.Tx) error {
		return tx.Bucket([]byte("meta")).Put([]byte("schema_version"), older)
	}); err != nil {
		t.Fatal(err)
	}
	version := func() []byte {
		var v []byte
		if err := e.View(t.Context(), func(tx kv.Tx) error {
			v = bytes.Clone(tx.Bucket([]byte("meta")).Get([]byte("schema_version")))
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		return v
	}
	before, err := e.Keys(t.Context())
	if err != nil {
		t.Fatal(err)
	}

	cfg := app.DefaultConfig()
	cfg.Store = etcdStoreOf(cluster.Endpoints())
	var copied bytes.Buffer
	rec, err := app.BackupStore(t.Context(), cfg, time.Second, "backup.db", &copied)
	if err != nil {
		t.Fatalf("backup --store of a store of the older schema: %v", err)
	}
	want := fmt.Sprintf("its schema version %d is older", boltstore.SchemaVersion-1)
	if rec.Seq != 0 || !strings.Contains(rec.Unaudited, want) {
		t.Errorf("the backup of a store of the older schema answered %+v, want no event and %q", rec, want)
	}
	if v := version(); !bytes.Equal(v, older) {
		t.Errorf("after the backup the store has schema version %x, want %x as it was", v, older)
	}
	if after, err := e.Keys(t.Context()); err != nil || after != before {
		t.Errorf("after the backup the store holds %d keys (%v), want %d as before", after, err, before)
	}

	to := app.DefaultConfig()
	to.DBPath = filepath.Join(t.TempDir(), "back.db")
	// Nor does a migrate-store back to a file (as before its event was
	// written there): its copy, of the older version, then fails the
	// check, and a start of this version on the store migrates it.
	res, err := app.MigrateStore(t.Context(), cfg, to, app.MoveOptions{})
	if err != nil {
		t.Fatalf("migrate-store of a store of the older schema back to a file: %v", err)
	}
	if res.Audit.Seq != 0 || !strings.Contains(res.Audit.Unaudited, want) {
		t.Errorf("the migrate-store of a store of the older schema answered %+v, want no event and %q", res.Audit, want)
	}
	if v := version(); !bytes.Equal(v, older) {
		t.Errorf("after the migrate-store the store has schema version %x, want %x as it was", v, older)
	}
}

// TestFailedEtcdBackupIsOnTheStoresTrail: an offline backup --store whose
// copy fails adds an event of its outcome error to the store's trail
// after its event, as a backup --db does to its file (README, "Audit"),
// and so does a migrate-store from etcd that fails: the trail does not
// show a copy that never reached its file as a plain success.
func TestFailedEtcdBackupIsOnTheStoresTrail(t *testing.T) {
	cluster := newEtcdStore(t)
	cfg := app.DefaultConfig()
	cfg.Store = etcdStoreOf(cluster.Endpoints())
	rec, err := app.BackupStore(t.Context(), cfg, time.Second, "backup.db", failingWriter{})
	if err == nil || rec.Seq == 0 {
		t.Fatalf("a backup --store into a writer that fails: %+v, %v; want its event and the failure", rec, err)
	}

	e, err := etcdstore.Open(t.Context(), etcdstore.Config{Endpoints: cluster.Endpoints(), Prefix: app.DefaultEtcdPrefix})
	if err != nil {
		t.Fatal(err)
	}
	store, err := boltstore.OpenEngine(t.Context(), e, boltstore.EngineOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	if s := outcomesFrom(t, store, rec.Seq); s != "database.backup ok, database.backup error" {
		t.Errorf("the store's events from the backup's on: %s, want the backup and its failure", s)
	}

	// So is a migrate-store back to a file that fails (its folder is
	// missing): the copy never reached the file.
	to := app.DefaultConfig()
	to.DBPath = filepath.Join(t.TempDir(), "missing", "back.db")
	if _, err := app.MigrateStore(t.Context(), cfg, to, app.MoveOptions{}); err == nil {
		t.Fatal("migrate-store into a missing folder succeeded")
	}
	if s := outcomesFrom(t, store, rec.Seq+2); s != "database.copy ok, database.copy error" {
		t.Errorf("the store's events from the failed migrate-store's on: %s, want the copy and its failure", s)
	}
}

// failingWriter fails every write, as a full disk under a backup's file
// does.
type failingWriter struct{}

func (failingWriter) Write([]byte) (int, error) { return 0, errors.New("no space left on device") }

// TestOfflineEtcdBackupsWhileServersWriteKeepOneChain: backup --store
// writes its event into a cluster that servers are writing to: two
// writers of the audit chain, which stays one verifiable sequence (every
// write transaction on etcd conflicts with any committed after its
// snapshot, the CLI's as a server's), and each backup holds its event.
func TestOfflineEtcdBackupsWhileServersWriteKeepOneChain(t *testing.T) {
	cluster, _, _, onEtcd := etcdWithWorker(t)
	cfg := app.DefaultConfig()
	cfg.Store = etcdStoreOf(cluster.Endpoints())
	done := make(chan error, 1)
	go func() {
		var errs []error
		for range 5 {
			rec, err := app.BackupStore(context.Background(), cfg, time.Second, "backup.db", io.Discard)
			if err == nil && rec.Seq == 0 {
				err = fmt.Errorf("a backup wrote no event: %s", rec.Unaudited)
			}
			errs = append(errs, err)
		}
		done <- errors.Join(errs...)
	}()
	for range 5 {
		openCase(t, onEtcd, testNow.Add(-time.Hour), "00004")
	}
	if err := <-done; err != nil {
		t.Fatalf("backup --store while a server writes: %v", err)
	}
	res, err := app.CheckStore(context.Background(), cfg, app.CheckOptions{})
	if err != nil || !res.OK() {
		t.Fatalf("check of the store after the backups: %v, problems %v", err, res.Problems)
	}
	onEtcd.addUser(t, "auditor", pb.Role_ROLE_AUDITOR, "orgs/system")
	v, err := onEtcd.audit().VerifyAuditLog(onEtcd.as(t, "auditor"), &pb.VerifyAuditLogRequest{})
	if err != nil || !v.GetIntact() {
		t.Fatalf("VerifyAuditLog after the backups: %v, %v", v, err)
	}
}
