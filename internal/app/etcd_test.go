package app_test

import (
	"bytes"
	"context"
	"crypto/x509"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	pb "github.com/childcase/childcase/api/childcase/v1"
	"github.com/childcase/childcase/internal/app"
	"github.com/childcase/childcase/internal/domain/clock"
	"github.com/childcase/childcase/internal/domain/datastore"
	"github.com/childcase/childcase/internal/domain/identity"
	"github.com/childcase/childcase/internal/keys"
	"github.com/childcase/childcase/internal/storage/boltstore"
	"github.com/childcase/childcase/internal/storage/etcdstore"
	"github.com/childcase/childcase/internal/storage/etcdstore/etcdtest"
	"github.com/childcase/childcase/internal/testpki"
)

// startOnEtcd starts an instance on the etcd store at endpoints, with the
// key file and token book of dir (shared by the instances of a test), the
// clock clk, and a WatchPoll so long that only a notification can wake a
// WatchEvents stream.
func startOnEtcd(t *testing.T, endpoints []string, dir string, clk *clock.Fake) *testServer {
	t.Helper()
	return startOnEtcdWith(t, endpoints, dir, clk, nil)
}

// etcdWithWorker starts one embedded etcd member (no fsync), a first
// instance on it (its files in dir) and the Ba Đình commune worker
// bd.worker: the start of the tests of instances sharing a store.
func etcdWithWorker(t *testing.T) (cluster *etcdtest.Cluster, dir string, clk *clock.Fake, a *testServer) {
	t.Helper()
	cluster = etcdtest.Start(t, 1, etcdtest.WithoutFsync())
	dir = t.TempDir()
	clk = clock.NewFake(testNow)
	a = startOnEtcd(t, cluster.Endpoints(), dir, clk)
	a.addUser(t, "bd.worker", pb.Role_ROLE_COMMUNE_WORKER, pBaDinh)
	return cluster, dir, clk, a
}

// startOnEtcdWith is startOnEtcd with a change to the configuration.
func startOnEtcdWith(t *testing.T, endpoints []string, dir string, clk *clock.Fake, configure func(*app.Config)) *testServer {
	t.Helper()
	cfg := testConfig(t, filepath.Join(dir, "childcase.db"))
	cfg.Store = etcdStoreOf(endpoints)
	if configure != nil {
		configure(&cfg)
	}
	return launch(t, cfg, app.Options{Clock: clk, SchedulerPoll: 5 * time.Millisecond, WatchPoll: time.Hour})
}

// startOnEtcdRefused starts an instance as startOnEtcdWith does, and
// returns why its start was refused; the test fails if it starts (what
// says which instance).
func startOnEtcdRefused(t *testing.T, endpoints []string, dir string, clk *clock.Fake, what string, configure func(*app.Config)) error {
	t.Helper()
	cfg := testConfig(t, filepath.Join(dir, "childcase.db"))
	cfg.Store = etcdStoreOf(endpoints)
	configure(&cfg)
	srv, err := app.Start(context.Background(), cfg, app.Options{Clock: clk, Console: io.Discard, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err == nil {
		_ = srv.Stop()
		t.Fatalf("%s started", what)
	}
	return err
}

// etcdStoreOf is the --store of the etcd members at endpoints.
func etcdStoreOf(endpoints []string) string {
	var hosts []string
	for _, ep := range endpoints {
		hosts = append(hosts, strings.TrimPrefix(ep, "http://"))
	}
	return "etcd://" + strings.Join(hosts, ",")
}

// TestTwoInstancesShareAnEtcdStore runs two instances on one etcd store:
// what one writes the other reads, a page token of one is good on the
// other, and a WatchEvents stream on the one that did not write is woken
// by the other's notification (through the outbox watch: WatchPoll is an
// hour). No bbolt file is made.
func TestTwoInstancesShareAnEtcdStore(t *testing.T) {
	cluster, dir, clk, a := etcdWithWorker(t)
	b := startOnEtcd(t, cluster.Endpoints(), dir, clk) // reads a's token book

	first := openCase(t, a, testNow.Add(-time.Hour), "00004")
	bw := watch(t, b, "bd.worker", 0)
	name := openCase(t, a, testNow.Add(-time.Hour), "00004")
	bw.waitFor(t, "CASE_FORWARDED", name)

	if got := getCase(t, b, "bd.worker", first); got.GetName() != first {
		t.Fatalf("instance b read %q, want %s", got.GetName(), first)
	}
	page, err := a.cases().ListCases(a.as(t, "bd.worker"), &pb.ListCasesRequest{PageSize: 1})
	if err != nil || page.GetNextPageToken() == "" {
		t.Fatalf("ListCases on a: %v, next page token %q", err, page.GetNextPageToken())
	}
	next, err := b.cases().ListCases(b.as(t, "bd.worker"), &pb.ListCasesRequest{PageSize: 1, PageToken: page.GetNextPageToken()})
	if err != nil {
		t.Fatalf("ListCases on b with a's page token: %v", err)
	}
	if len(next.GetCases()) != 1 || next.GetCases()[0].GetName() == page.GetCases()[0].GetName() {
		t.Fatalf("b's second page %v after a's first %v", next.GetCases(), page.GetCases())
	}
	if matches, _ := filepath.Glob(filepath.Join(dir, "*.db")); len(matches) != 0 {
		t.Errorf("instances on etcd made bbolt files: %v", matches)
	}
}

// TestStoreConfigValidation: a store setting that cannot work is refused
// before anything is opened, naming the flag.
func TestStoreConfigValidation(t *testing.T) {
	tests := []struct {
		name      string
		edit      func(*app.Config)
		wantInErr string
	}{
		{"unknown store", func(c *app.Config) { c.Store = "postgres://db:5432" }, "config: store:"},
		{"a file's path as the store", func(c *app.Config) { c.Store = "/var/lib/childcase/childcase.db" }, "a file's path goes to --db"},
		{"etcd without endpoints", func(c *app.Config) { c.Store = "etcd://" }, `config: store: "etcd://": at least one endpoint is required`},
		{"etcd with an empty endpoint", func(c *app.Config) { c.Store = "etcd://db1:2379,,db2:2379" }, `config: store: "etcd://db1:2379,,db2:2379": endpoint 2 is empty`},
		{"etcd endpoint without port", func(c *app.Config) { c.Store = "etcd://db1,db2:2379" }, "config: store:"},
		{"etcd endpoint with a path", func(c *app.Config) { c.Store = "etcd://db1:2379/x" }, "config: store:"},
		{"etcd endpoint without host", func(c *app.Config) { c.Store = "etcd://:2379" }, "config: store:"},
		{"etcd endpoint with a port that is no number", func(c *app.Config) { c.Store = "etcd://db1:2379,db2:notaport" }, "config: store:"},
		{"etcd endpoint with a port too large", func(c *app.Config) { c.Store = "etcd://db1:99999" }, "config: store:"},
		{"prefix without slashes", func(c *app.Config) { c.Store, c.EtcdPrefix = "etcd://db1:2379", "childcase" }, "config: etcd-prefix:"},
		{"prefix with odd characters", func(c *app.Config) { c.Store, c.EtcdPrefix = "etcd://db1:2379", "/child#case/" }, "config: etcd-prefix:"},
		{"certificate without key", func(c *app.Config) { c.Store, c.EtcdCertFile = "etcd://db1:2379", "c.pem" }, "config: etcd-cert, etcd-key:"},
		{"missing CA file", func(c *app.Config) { c.Store, c.EtcdCAFile = "etcd://db1:2379", "/nonexistent/ca.pem" }, "config: etcd-ca:"},
		{"too few ops", func(c *app.Config) { c.Store, c.EtcdMaxTxnOps = "etcd://db1:2379", 1 }, "config: etcd-max-txn-ops:"},
		{"too small commits", func(c *app.Config) { c.Store, c.EtcdMaxRequestBytes = "etcd://db1:2379", 100 }, "config: etcd-max-request-bytes:"},
		{"negative commit limit", func(c *app.Config) { c.Store, c.EtcdMaxTxnOps = "etcd://db1:2379", -1 }, "etcd-max-txn-ops"},
		{"file cap on etcd", func(c *app.Config) { c.Store, c.MaxDBSize = "etcd://db1:2379", 1<<20 }, "max-db-size"},
		{"bbolt without a path", func(c *app.Config) { c.Store, c.DBPath = "bbolt", "" }, "config: db:"},
		{"expired client certificate", func(c *app.Config) {
			expired := testpki.NewCA(t, t.TempDir(), "ca").IssueExpired(t, t.TempDir(), "etcd-client", x509.ExtKeyUsageClientAuth)
			c.Store, c.EtcdCertFile, c.EtcdKeyFile = "etcd://db1:2379", expired.CertFile, expired.KeyFile
		}, "config: etcd-cert: the client certificate "},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := testConfig(t, "")
			tt.edit(&cfg)
			if err := cfg.Validate(); err == nil || !strings.Contains(err.Error(), tt.wantInErr) {
				t.Fatalf("Validate() = %v, want an error naming %q", err, tt.wantInErr)
			}
		})
	}
	cfg := testConfig(t, "")
	cfg.Store = "etcd://db1:2379,db2:2379,db3:2379"
	if err := cfg.Validate(); err != nil {
		t.Errorf("three endpoints: %v", err)
	}
}

// TestEtcdSettingsNeedAnEtcdStore: a server given the etcd settings but
// not --store etcd://... (left out, or CHILDCASE_STORE missing from the
// unit's environment) started on a new local file, with a new master key
// and a new admin, and took reports there that no other instance sees.
// It is refused naming the setting, as --max-db-size is on etcd.
func TestEtcdSettingsNeedAnEtcdStore(t *testing.T) {
	for name, edit := range map[string]func(*app.Config){
		"etcd-prefix": func(c *app.Config) { c.EtcdPrefix = "/hn/" },
		"etcd-ca":     func(c *app.Config) { c.EtcdCAFile = "etcd-ca.pem" },
		"etcd-cert":   func(c *app.Config) { c.EtcdCertFile, c.EtcdKeyFile = "etcd-client.pem", "etcd-client-key.pem" },
		// A commit's limits did nothing on a file, and were taken silently.
		"etcd-max-txn-ops":       func(c *app.Config) { c.EtcdMaxTxnOps = 5000 },
		"etcd-max-request-bytes": func(c *app.Config) { c.EtcdMaxRequestBytes = 1 << 20 },
	} {
		cfg := testConfig(t, "")
		edit(&cfg)
		err := cfg.Validate()
		if err == nil || !strings.Contains(err.Error(), "config: "+name+":") || !strings.Contains(err.Error(), "--store etcd://") {
			t.Errorf("%s on a bbolt store: Validate() = %v, want it refused naming %s and --store", name, err, name)
		}
	}
	cfg := testConfig(t, "")
	cfg.EtcdPrefix = app.DefaultEtcdPrefix
	if err := cfg.Validate(); err != nil {
		t.Errorf("the default etcd prefix on a bbolt store: %v", err)
	}
}

// TestRotationRefusedOnASharedStore: rotating the master key through one
// instance of a shared store would re-wrap the data keys under a key file
// only that machine has, and the other instances could no longer open a
// case; it is refused, and both instances go on reading.
func TestRotationRefusedOnASharedStore(t *testing.T) {
	cluster, dir, clk, a := etcdWithWorker(t)
	b := startOnEtcd(t, cluster.Endpoints(), dir, clk)
	name := openCase(t, a, testNow.Add(-time.Hour), "00004")
	_, err := a.admin().RotateMasterKey(a.as(t, "admin"), &pb.RotateMasterKeyRequest{})
	wantReason(t, err, codes.FailedPrecondition, "SHARED_STORE")
	for _, ts := range []*testServer{a, b} {
		if _, err := ts.cases().GetCase(ts.as(t, "bd.worker"), &pb.GetCaseRequest{Name: name}); err != nil {
			t.Errorf("GetCase after the refused rotation: %v", err)
		}
	}
	openCase(t, b, testNow.Add(-time.Hour), "00004")
}

// TestLeaderIndexesWhatAnotherInstanceLeftMarked: an instance killed
// between a write and the write's search index entry leaves the case
// marked; on a shared store the leader takes such cases up as it goes, so
// the case is found again without waiting for a restart or a new leader.
func TestLeaderIndexesWhatAnotherInstanceLeftMarked(t *testing.T) {
	cluster := etcdtest.Start(t, 1, etcdtest.WithoutFsync())
	dir := t.TempDir()
	cfg := testConfig(t, filepath.Join(dir, "childcase.db"))
	cfg.Store = etcdStoreOf(cluster.Endpoints())
	ts := launch(t, cfg, app.Options{Clock: clock.NewFake(testNow), SchedulerPoll: 5 * time.Millisecond, WatchPoll: time.Hour,
		SearchCatchUpEvery: 50 * time.Millisecond})
	ts.addUser(t, "operator.two", pb.Role_ROLE_HOTLINE_OPERATOR, "orgs/hotline-111")
	created, err := ts.reports().CreateReport(context.Background(), &pb.CreateReportRequest{Report: firstCall()})
	if err != nil {
		t.Fatal(err)
	}
	search := func() int {
		resp, err := ts.cases().SearchCases(ts.as(t, "operator.two"), &pb.SearchCasesRequest{ChildName: "nhung nguyen thi hong", Phone: "+84 987 111 222"})
		if err != nil {
			t.Fatalf("SearchCases: %v", err)
		}
		return len(resp.GetCandidates())
	}
	if n := search(); n != 1 {
		t.Fatalf("%d candidates before, want the case", n)
	}

	// What a crash between the write and its index entry leaves: the case
	// marked, its entry not written.
	e, err := etcdstore.Open(context.Background(), etcdstore.Config{Endpoints: cluster.Endpoints()})
	if err != nil {
		t.Fatal(err)
	}
	store, err := boltstore.OpenEngine(context.Background(), e, boltstore.EngineOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	err = store.Update(context.Background(), func(tx datastore.Tx) error {
		return leaveSearchPending(tx, strings.TrimPrefix(created.GetCase(), "cases/"))
	})
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(20 * time.Second)
	for search() != 1 {
		if time.Now().After(deadline) {
			t.Fatal("the case left marked was not indexed again by the leader within 20 s")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestConsoleSessionsStayOnTheirInstance: on a shared store an API token
// is good on every instance (tokens are records of the store), while a
// console session is held by the instance that signed it in: its cookie
// is nothing to another instance, which sends the browser to sign in.
// Resetting the password through the other instance still ends the
// session, since the session's bearer token is a record of the store.
func TestConsoleSessionsStayOnTheirInstance(t *testing.T) {
	cluster := etcdtest.Start(t, 1, etcdtest.WithoutFsync())
	dir := t.TempDir()
	clk := clock.NewFake(testNow)
	start := func(demo bool) (*app.Server, string) {
		cfg := testConfig(t, filepath.Join(dir, "childcase.db"))
		cfg.Store, cfg.Demo = etcdStoreOf(cluster.Endpoints()), demo
		var out bytes.Buffer
		srv, err := app.Start(context.Background(), cfg, app.Options{Clock: clk, Console: &out, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = srv.Stop() })
		return srv, out.String()
	}
	a, printed := start(true)
	b, _ := start(false)
	password := demoPasswordLine.FindStringSubmatch(printed)
	admin := regexp.MustCompile(`(?m)^\s+demo.admin\s.*?(cc_\S+)`).FindStringSubmatch(printed)
	if password == nil || admin == nil {
		t.Fatalf("serve --demo printed no password or admin token:\n%s", printed)
	}

	onA := &browser{t: t, base: "http://" + a.HTTPAddr(), c: newBrowserClient()}
	if resp, _ := onA.signInForm("badinh.worker", password[1], ""); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("sign-in on instance a: %s", resp.Status)
	}
	if resp, _ := onA.get("/queues"); resp.StatusCode != http.StatusOK {
		t.Fatalf("the queues on instance a after its sign-in: %s", resp.Status)
	}
	// The same browser (its cookie jar ignores ports) on instance b.
	onB := &browser{t: t, base: "http://" + b.HTTPAddr(), c: onA.c}
	if resp, _ := onB.get("/queues"); resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(resp.Header.Get("Location"), "/signin") {
		t.Fatalf("instance a's session cookie on instance b: %s to %q, want the sign-in page", resp.Status, resp.Header.Get("Location"))
	}

	rest := func(srv *app.Server, method, path, token string) int {
		req, _ := http.NewRequest(method, "http://"+srv.HTTPAddr()+path, strings.NewReader("{}"))
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if code := rest(b, http.MethodGet, "/v1/users", admin[1]); code != http.StatusOK {
		t.Fatalf("the admin token instance a printed, on instance b: %d", code)
	}
	if code := rest(b, http.MethodPost, "/v1/users/badinh.worker:resetPassword", admin[1]); code != http.StatusOK {
		t.Fatalf("reset badinh.worker's password through instance b: %d", code)
	}
	if resp, _ := onA.get("/queues"); resp.StatusCode == http.StatusOK {
		t.Fatalf("the session on instance a went on after a password reset through instance b")
	}

	// A lock-out is a record of the store: wrong passwords count on
	// whichever instance takes them, and the account is locked on both.
	guesser := newBrowserClient()
	for i := range identity.MaxSignInFailures {
		on := &browser{t: t, base: "http://" + []*app.Server{a, b}[i%2].HTTPAddr(), c: guesser}
		if resp, _ := on.signInForm("hoankiem.worker", "not-"+password[1], ""); resp.StatusCode == http.StatusSeeOther {
			t.Fatalf("a wrong password signed hoankiem.worker in")
		}
	}
	for _, srv := range []*app.Server{a, b} {
		on := &browser{t: t, base: "http://" + srv.HTTPAddr(), c: newBrowserClient()}
		if resp, _ := on.signInForm("hoankiem.worker", password[1], ""); resp.StatusCode == http.StatusSeeOther {
			t.Errorf("hoankiem.worker signed in on %s after %d wrong passwords taken by both instances", srv.HTTPAddr(), identity.MaxSignInFailures)
		}
	}
}

// TestInstancesOnAStoreShareOneMasterKey: an instance started on a shared
// store with another key file than the first one's (one it creates, as
// when the file was not copied to its machine, or another existing one) is
// refused at start, even while no report has been written yet; otherwise
// each instance would seal data under its own master, and neither could
// open what the other wrote.
func TestInstancesOnAStoreShareOneMasterKey(t *testing.T) {
	cluster := etcdtest.Start(t, 1, etcdtest.WithoutFsync())
	dir := t.TempDir()
	clk := clock.NewFake(testNow)
	a := startOnEtcd(t, cluster.Endpoints(), dir, clk) // a new store: nothing sealed yet

	other := filepath.Join(t.TempDir(), "other.key")
	master, err := keys.GenerateMaster()
	if err != nil {
		t.Fatal(err)
	}
	if err := keys.WriteMaster(other, master); err != nil {
		t.Fatal(err)
	}
	for _, keyFile := range []string{filepath.Join(t.TempDir(), "new.key"), other} {
		err := startOnEtcdRefused(t, cluster.Endpoints(), dir, clk, "an instance with the key file "+keyFile+" beside one with "+a.cfg.KeyFile,
			func(c *app.Config) { c.KeyFile = keyFile })
		if !strings.Contains(err.Error(), "key file") {
			t.Errorf("start with the key file %s: %v, want an error about the key file", keyFile, err)
		}
	}
	openCase(t, a, testNow.Add(-time.Hour), "00004")
}

// TestInstancesOnAStoreShareOnePolicy: the deadlines of a step are those
// of the policy of the instance that takes it, and the leader's policy
// runs the escalations and names the webhooks; so an instance whose
// policy differs from that of an instance running on the store is refused
// at start, naming the flag, rather than give a case other deadlines by
// the instance a load balancer picked. One with the same policy starts.
func TestInstancesOnAStoreShareOnePolicy(t *testing.T) {
	cluster := etcdtest.Start(t, 1, etcdtest.WithoutFsync())
	dir := t.TempDir()
	clk := clock.NewFake(testNow)
	startOnEtcd(t, cluster.Endpoints(), dir, clk)
	// The instance takes part in the election once it has started: wait
	// for its key.
	client := cluster.Client(t)
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		resp, err := client.Get(context.Background(), etcdstore.DefaultPrefix+"\x00election/", clientv3.WithPrefix())
		if err == nil && len(resp.Kvs) > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("instance a did not take part in the election within 10 s: %v", err)
		}
	}

	shorter := filepath.Join(t.TempDir(), "policy.json")
	if err := os.WriteFile(shorter, []byte(`{"acknowledge": {"hours": 2}}`), 0o600); err != nil {
		t.Fatal(err)
	}
	err := startOnEtcdRefused(t, cluster.Endpoints(), dir, clk, "an instance with another policy beside one with the shipped policy",
		func(c *app.Config) { c.PolicyFile = shorter })
	if !strings.HasPrefix(err.Error(), "config: policy:") {
		t.Errorf("start with another policy: %v, want an error naming the policy", err)
	}
	b := startOnEtcd(t, cluster.Endpoints(), dir, clk)
	openCase(t, b, testNow.Add(-time.Hour), "00004")
}

// Two instances with different policies started at the same moment, each
// looking at the running instances before either has joined the
// election: the one that joined later gives way, naming the policy, and
// the other runs. Before, both could start.
func TestInstancesStartedTogetherShareOnePolicy(t *testing.T) {
	cluster := etcdtest.Start(t, 1, etcdtest.WithoutFsync())
	dir := t.TempDir()
	clk := clock.NewFake(testNow)
	startOnEtcd(t, cluster.Endpoints(), dir, clk).stop() // the store's layout and master key
	shorter := filepath.Join(t.TempDir(), "policy.json")
	if err := os.WriteFile(shorter, []byte(`{"acknowledge": {"hours": 2}}`), 0o600); err != nil {
		t.Fatal(err)
	}
	for round := range 3 {
		var wg sync.WaitGroup
		servers := make([]*app.Server, 2)
		errs := make([]error, 2)
		for i, policyFile := range []string{"", shorter} {
			cfg := testConfig(t, filepath.Join(dir, "childcase.db"))
			cfg.Store = etcdStoreOf(cluster.Endpoints())
			cfg.PolicyFile = policyFile
			wg.Go(func() {
				servers[i], errs[i] = app.Start(context.Background(), cfg, app.Options{Clock: clk, Console: io.Discard, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
			})
		}
		wg.Wait()
		started := 0
		for i := range servers {
			if errs[i] == nil {
				started++
				continue
			}
			if !strings.HasPrefix(errs[i].Error(), "config: policy:") {
				t.Errorf("round %d: instance %d refused for another reason: %v", round, i, errs[i])
			}
		}
		if started != 1 {
			t.Errorf("round %d: %d instances started (errors %v), want exactly one", round, started, errs)
		}
		for _, srv := range servers {
			if srv != nil {
				if err := srv.Stop(); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
}

// TestInterruptedRotationNotFinishedOnASharedStore: a rotation's next key
// file beside the key file (a rotation on a file cut short, before the
// file was moved onto etcd) is not finished by an instance of a shared
// store at start, which would re-wrap the data keys under a key only its
// machine has: the start is refused, naming the file, and the instance
// already running goes on opening the cases.
func TestInterruptedRotationNotFinishedOnASharedStore(t *testing.T) {
	cluster, dir, clk, a := etcdWithWorker(t)
	name := openCase(t, a, testNow.Add(-time.Hour), "00004")

	// b's machine: a copy of the key file, and a next key beside it.
	keyFile := filepath.Join(t.TempDir(), "childcase.key")
	raw, err := os.ReadFile(a.cfg.KeyFile)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, raw, 0o600); err != nil {
		t.Fatal(err)
	}
	next, err := keys.GenerateMaster()
	if err != nil {
		t.Fatal(err)
	}
	if err := keys.WriteMaster(keyFile+".next", next); err != nil {
		t.Fatal(err)
	}
	err = startOnEtcdRefused(t, cluster.Endpoints(), dir, clk, "an instance with a rotation's next key file beside its key file",
		func(c *app.Config) { c.KeyFile = keyFile })
	if !strings.Contains(err.Error(), keyFile+".next") {
		t.Errorf("start with a next key file: %v, want an error naming it", err)
	}
	r, err := a.reports().GetReport(a.as(t, operatorID), &pb.GetReportRequest{Name: getCase(t, a, "bd.worker", name).GetReports()[0]})
	if err != nil || len(r.GetChildren()) == 0 || r.GetChildren()[0].GetFullName() == "" {
		t.Fatalf("instance a opening its case's report after b's start: %v, %v", r.GetChildren(), err)
	}
}

// TestAuditChainIsOneAcrossInstances holds issue 17's "the audit chain
// stays a single verifiable sequence across instances": two instances on
// one etcd store take reports at the same time, and the log they share
// holds every report's event in one chain, each seq once with no gap,
// which VerifyAuditLog on either instance finds intact.
func TestAuditChainIsOneAcrossInstances(t *testing.T) {
	cluster, dir, clk, a := etcdWithWorker(t)
	a.addUser(t, "auditor", pb.Role_ROLE_AUDITOR, "orgs/system")
	b := startOnEtcd(t, cluster.Endpoints(), dir, clk) // reads a's token book

	const reports = 12
	created := make(chan string, reports)
	errs := make(chan error, reports)
	var wg sync.WaitGroup
	for i := range reports {
		ts := []*testServer{a, b}[i%2]
		ctx := ts.as(t, operatorID)
		wg.Go(func() {
			resp, err := ts.reports().CreateReport(ctx, &pb.CreateReportRequest{Report: validReport()})
			if err != nil {
				errs <- err
				return
			}
			created <- resp.GetName()
		})
	}
	wg.Wait()
	close(errs)
	close(created)
	for err := range errs {
		t.Fatalf("CreateReport: %v", err)
	}

	for name, ts := range map[string]*testServer{"a": a, "b": b} {
		v, err := ts.audit().VerifyAuditLog(ts.as(t, "auditor"), &pb.VerifyAuditLogRequest{})
		if err != nil || !v.GetIntact() || v.GetCheckedEvents() != v.GetHeadSeq() {
			t.Errorf("VerifyAuditLog on instance %s = %v, %v; want an intact chain of every event", name, v, err)
		}
	}
	events := allAuditEvents(t, a, "auditor", &pb.ListAuditEventsRequest{})
	seen := map[uint64]bool{}
	for _, e := range events {
		if seen[e.GetSeq()] {
			t.Errorf("seq %d twice in the log", e.GetSeq())
		}
		seen[e.GetSeq()] = true
	}
	for seq := uint64(1); seq <= uint64(len(events)); seq++ {
		if !seen[seq] {
			t.Errorf("seq %d missing from the log of %d events", seq, len(events))
		}
	}
	for name := range created {
		if !slices.ContainsFunc(events, func(e *pb.AuditEvent) bool {
			return e.GetAction() == "report.create" && e.GetResource() == name
		}) {
			t.Errorf("no report.create event of %s in the shared log", name)
		}
	}
}

// TestEtcdCommitTooLargeIsRefused: a write whose commit is over the
// store's limits (here --etcd-max-request-bytes at 8 KiB, which a report
// outgrows) answers RESOURCE_EXHAUSTED, reason COMMIT_TOO_LARGE, and keeps
// nothing, as the README's etcd section says; it answered INTERNAL.
func TestEtcdCommitTooLargeIsRefused(t *testing.T) {
	cluster := etcdtest.Start(t, 1, etcdtest.WithoutFsync())
	a := startOnEtcdWith(t, cluster.Endpoints(), t.TempDir(), clock.NewFake(testNow), func(c *app.Config) { c.EtcdMaxRequestBytes = 8 << 10 })
	ctx := a.as(t, operatorID)
	_, err := a.reports().CreateReport(ctx, &pb.CreateReportRequest{Report: validReport()})
	st, _ := status.FromError(err)
	if info, _ := errorInfo(st); st.Code() != codes.ResourceExhausted || info.GetReason() != "COMMIT_TOO_LARGE" {
		t.Fatalf("CreateReport over the commit limit: %v (reason %q), want RESOURCE_EXHAUSTED, reason COMMIT_TOO_LARGE", err, info.GetReason())
	}
	list, err := a.reports().ListReports(ctx, &pb.ListReportsRequest{})
	if err != nil || len(list.GetReports()) != 0 {
		t.Errorf("ListReports after the refusal = %v, %v; want no report", list.GetReports(), err)
	}
}

// TestNoMajorityAnswersUnavailable: with two of three members gone, the
// cluster has no majority. A write and a read do not wait for it: each
// answers UNAVAILABLE (reason UNAVAILABLE) once etcd's request timeout has
// passed, and the write, sent again with the same request_id once a member
// is back, is made. The README's failover section says so; it said that
// writes wait until a member is back.
func TestNoMajorityAnswersUnavailable(t *testing.T) {
	cluster := etcdtest.Start(t, 3, etcdtest.WithoutFsync())
	clk := clock.NewFake(testNow)
	a := startOnEtcd(t, cluster.Endpoints(), t.TempDir(), clk)
	a.addUser(t, "bd.worker", pb.Role_ROLE_COMMUNE_WORKER, pBaDinh)
	name := openCase(t, a, testNow.Add(-time.Hour), "00004")
	leader, err := cluster.WaitLeader(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	down := []int{leader, (leader + 1) % 3}
	for _, i := range down {
		cluster.Kill(i)
	}
	req := &pb.CreateReportRequest{Report: validReport(), RequestId: "no-majority"}
	began := time.Now()
	_, err = a.reports().CreateReport(a.as(t, operatorID), req)
	if st := wantCode(t, err, codes.Unavailable); errorReason(st) != "UNAVAILABLE" && errorReason(st) != "OUTCOME_UNKNOWN" {
		t.Errorf("a write without a majority: reason %q", errorReason(st))
	}
	t.Logf("a write without a majority answered after %s", time.Since(began).Round(time.Millisecond))
	began = time.Now()
	_, err = a.cases().GetCase(a.as(t, "bd.worker"), &pb.GetCaseRequest{Name: name})
	if st := wantCode(t, err, codes.Unavailable); errorReason(st) != "UNAVAILABLE" {
		t.Errorf("a read without a majority: reason %q", errorReason(st))
	}
	t.Logf("a read without a majority answered after %s", time.Since(began).Round(time.Millisecond))

	cluster.Restart(down[1])
	var created *pb.Report
	for try := 0; ; try++ {
		if created, err = a.reports().CreateReport(a.as(t, operatorID), req); err == nil || try == 20 {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	if err != nil {
		t.Fatalf("the write again with a member back: %v", err)
	}
	if n := countReports(t, a); n != 2 {
		t.Errorf("%d reports after the write and its retry, want 2 (the case's and this one, %s)", n, created.GetName())
	}
}

// TestCallsGiveUpWithinTheRequestTimeoutWhenTheClusterIsGone: with every
// member of the cluster gone, a call from a client that sets no deadline
// of its own (curl through the REST gateway, grpcurl without -max-time)
// ends within --request-timeout, the server's deadline for every unary
// call. The token's lookup, before the handler, read the store under
// the client's context alone, so such a call waited for ever (seen for
// 11 minutes on a member killed in the README's cluster).
func TestCallsGiveUpWithinTheRequestTimeoutWhenTheClusterIsGone(t *testing.T) {
	cluster, a := serverOnOneMember(t)
	name := openCase(t, a, testNow.Add(-time.Hour), "00004")
	cluster.Kill(0)
	// Back before the server's stop (the cleanups run after this), so
	// that its leadership can be handed over.
	defer cluster.Restart(0)

	type answer struct {
		what string
		err  error
	}
	done := make(chan answer, 2)
	go func() {
		_, err := a.cases().GetCase(a.as(t, "bd.worker"), &pb.GetCaseRequest{Name: name})
		done <- answer{"GetCase", err}
	}()
	go func() {
		_, err := a.reports().CreateReport(a.as(t, operatorID), &pb.CreateReportRequest{Report: validReport(), RequestId: "gone"})
		done <- answer{"CreateReport", err}
	}()
	// Far beyond the 2 s request timeout: only a call that waits for the
	// cluster without a bound reaches it.
	bound := time.After(25 * time.Second)
	for range 2 {
		select {
		case got := <-done:
			switch status.Code(got.err) {
			case codes.DeadlineExceeded, codes.Unavailable:
			default:
				t.Errorf("%s with the cluster gone: %v, want DEADLINE_EXCEEDED or UNAVAILABLE", got.what, got.err)
			}
		case <-bound:
			t.Fatal("a call with the cluster gone still waits 25 s after it began (request timeout 2 s)")
		}
	}
}

// TestStreamsAuthenticateWithinTheRequestTimeoutWhenTheClusterIsGone: the
// server's deadline bounds a stream's token lookup as it does a unary
// call's, though not the stream itself. With every member gone, a watch
// opened by a client that sets no deadline (the console's live queue
// through the gateway) read the token under the stream's own context
// alone, and so waited for ever before its handler ran.
func TestStreamsAuthenticateWithinTheRequestTimeoutWhenTheClusterIsGone(t *testing.T) {
	cluster, a := serverOnOneMember(t)
	ctx, cancel := context.WithCancel(a.as(t, "bd.worker"))
	defer cancel()
	cluster.Kill(0)
	defer cluster.Restart(0)

	done := make(chan error, 1)
	go func() {
		stream, err := a.process().WatchEvents(ctx, &pb.WatchEventsRequest{})
		if err == nil {
			_, err = stream.Recv()
		}
		done <- err
	}()
	select {
	case err := <-done:
		switch status.Code(err) {
		case codes.DeadlineExceeded, codes.Unavailable:
		default:
			t.Errorf("a watch with the cluster gone: %v, want DEADLINE_EXCEEDED or UNAVAILABLE", err)
		}
	case <-time.After(25 * time.Second):
		// Far beyond the 2 s request timeout.
		t.Error("a watch with the cluster gone still waits for its token's lookup 25 s after it began (request timeout 2 s)")
		cancel() // the deferred Restart then lets the server stop
	}
}

// serverOnOneMember starts a server with a request timeout of 2 s on a
// cluster of one member, with a worker of Phường Ba Đình.
func serverOnOneMember(t *testing.T) (*etcdtest.Cluster, *testServer) {
	t.Helper()
	cluster := etcdtest.Start(t, 1, etcdtest.WithoutFsync())
	a := startOnEtcdWith(t, cluster.Endpoints(), t.TempDir(), clock.NewFake(testNow), func(c *app.Config) {
		c.RequestTimeout = 2 * time.Second
	})
	a.addUser(t, "bd.worker", pb.Role_ROLE_COMMUNE_WORKER, pBaDinh)
	return cluster, a
}
