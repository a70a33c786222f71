package app_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.etcd.io/bbolt"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	pb "github.com/childcase/childcase/api/childcase/v1"
	"github.com/childcase/childcase/internal/app"
	"github.com/childcase/childcase/internal/cli"
	"github.com/childcase/childcase/internal/domain/clock"
	"github.com/childcase/childcase/internal/storage/boltstore"
	"github.com/childcase/childcase/internal/storage/etcdstore"
	"github.com/childcase/childcase/internal/storage/etcdstore/etcdtest"
)

// The scale benchmarks measure each row of the table of issue 10 ("Storage
// v2") on databases of N realistic cases made by `childcase load`, each as
// a ratio against its floor measured in the same run, interleaved sample
// by sample so that a busy machine slows both alike:
//
//	CHILDCASE_SCALE_CASES=10000,30000 CHILDCASE_SCALE_DIR=$HOME/.cache/childcase-scale \
//	  GOTOOLCHAIN=go1.27.3 go test -run '^$' -bench '^BenchmarkScale$' -benchtime 10x -timeout 0 ./internal/app/
//
// CHILDCASE_SCALE_CASES lists the sizes (default 200,400: the small run
// CI makes); the first is the base the list and queue pages are compared
// with. CHILDCASE_SCALE_DIR keeps the loaded databases between runs (they
// are built when missing; default: a temporary directory). Each run works
// on a copy: the cached databases stay as loaded. CHILDCASE_SCALE_STORES
// (bbolt,etcd) lists the stores the rows of writes and reads run on at
// every size (default: bbolt, and etcd at the first size); on etcd, each
// size's copy is moved into an embedded member.

// scaleSeed is the seed of every scale database: runs repeat.
const scaleSeed = 1

func scaleSizes(b *testing.B) []int {
	spec := os.Getenv("CHILDCASE_SCALE_CASES")
	if spec == "" {
		spec = "200,400"
	}
	var sizes []int
	for _, f := range strings.Split(spec, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 {
			b.Fatalf("CHILDCASE_SCALE_CASES: %q is not a list of case counts", spec)
		}
		sizes = append(sizes, n)
	}
	return sizes
}

// scaleDB returns the database of n cases loaded with scaleSeed, building
// it when the cache has none, and its manifest.
func scaleDB(b *testing.B, n int) (string, app.LoadManifest) {
	b.Helper()
	dir := os.Getenv("CHILDCASE_SCALE_DIR")
	if dir == "" {
		dir = b.TempDir()
	}
	var progress io.Writer = io.Discard
	if testing.Verbose() {
		progress = os.Stderr
	}
	db, m, err := cachedScaleDB(dir, n, func(cfg app.LoadConfig) error {
		cfg.Progress = progress
		_, err := app.Load(context.Background(), cfg)
		return err
	})
	if err != nil {
		b.Fatal(err)
	}
	return db, m
}

// cachedScaleDB returns the database of n cases in the cache dir and its
// manifest, calling load to build it when the cache has none.
func cachedScaleDB(dir string, n int, load func(app.LoadConfig) error) (string, app.LoadManifest, error) {
	final := filepath.Join(dir, fmt.Sprintf("n%d-seed%d", n, scaleSeed))
	db := filepath.Join(final, "childcase.db")
	if _, err := os.Stat(db); os.IsNotExist(err) {
		// Built in a directory of its own and renamed when complete: an
		// interrupted build is never taken for a database, and runs that
		// build the same size at once (two benchmark commands, or people
		// sharing the cache) never write into each other's files. The
		// first to finish is kept; the others give way to it.
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return "", app.LoadManifest{}, err
		}
		tmp, err := os.MkdirTemp(dir, filepath.Base(final)+".tmp-")
		if err != nil {
			return "", app.LoadManifest{}, err
		}
		defer os.RemoveAll(tmp)
		if err := load(app.LoadConfig{DBPath: filepath.Join(tmp, "childcase.db"), Cases: n, Seed: scaleSeed}); err != nil {
			return "", app.LoadManifest{}, fmt.Errorf("load %d cases: %w", n, err)
		}
		if err := os.Rename(tmp, final); err != nil {
			if _, statErr := os.Stat(db); statErr != nil {
				return "", app.LoadManifest{}, err
			}
		}
	}
	m, err := app.ReadLoadManifest(db)
	if err != nil {
		return "", app.LoadManifest{}, err
	}
	return db, m, nil
}

// workingCopy copies a scale database (and its key) into a temporary
// directory, with a token book of the manifest's users, so that the
// test helpers start a server on it.
func workingCopy(b testing.TB, db string, m app.LoadManifest) app.Config {
	b.Helper()
	dst := filepath.Join(b.TempDir(), "childcase.db")
	for _, suffix := range []string{"", ".key"} {
		copyFile(b, db+suffix, dst+suffix)
	}
	tokens := map[string]string{}
	for label, u := range m.Users {
		tokens[label] = u.Token
	}
	raw, _ := json.Marshal(tokens)
	if err := os.WriteFile(dst+".tokens.json", raw, 0o600); err != nil {
		b.Fatal(err)
	}
	return testConfig(b, dst)
}

func copyFile(b testing.TB, from, to string) {
	b.Helper()
	src, err := os.Open(from)
	if err != nil {
		b.Fatal(err)
	}
	defer src.Close()
	dst, err := os.OpenFile(to, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		b.Fatal(err)
	}
	if _, err := io.Copy(dst, src); err != nil {
		b.Fatal(err)
	}
	if err := dst.Close(); err != nil {
		b.Fatal(err)
	}
}

// scaleServer starts the service on a working copy, with the clock where
// the load left it (the real clock would fire every deadline due since),
// committing with fsync as in production.
func scaleServer(b testing.TB, cfg app.Config, m app.LoadManifest) *testServer {
	b.Helper()
	ts := launch(b, cfg, app.Options{Clock: clock.NewFake(m.EndTime)})
	ts.sent.ignore()
	return ts
}

// samples collects durations and gives their median.
type samples []time.Duration

func (s *samples) time(f func()) {
	start := time.Now()
	f()
	*s = append(*s, time.Since(start))
}

func (s samples) p50() time.Duration {
	if len(s) == 0 {
		return 0
	}
	c := slices.Clone(s)
	slices.Sort(c)
	return c[len(c)/2]
}

func (s samples) total() time.Duration {
	var t time.Duration
	for _, d := range s {
		t += d
	}
	return t
}

// floorLog is a floor database (openFloorDB) appended to under keys in
// sequence, by any number of goroutines.
type floorLog struct {
	*bbolt.DB
	seq atomic.Uint64
}

// append puts val under the next key; it may run twice in a Batch, and
// then takes a key more.
func (f *floorLog) append(tx *bbolt.Tx, val []byte) error {
	return tx.Bucket([]byte("r")).Put(binary.BigEndian.AppendUint64(nil, f.seq.Add(1)), val)
}

// storeFloor is the raw store a row of the service is measured against,
// where the service keeps its data: a bbolt file on the same disk, or the
// same etcd cluster.
type storeFloor interface {
	// put commits val under a new key, durably, alone.
	put(val []byte) error
	// putShared commits val among concurrent callers, the way the store
	// lets them share commits: bbolt's Batch; etcd shares its raft
	// entries' fsyncs between concurrent puts by itself.
	putShared(val []byte) error
}

func (f *floorLog) put(val []byte) error {
	return f.Update(func(tx *bbolt.Tx) error { return f.append(tx, val) })
}

func (f *floorLog) putShared(val []byte) error {
	return f.Batch(func(tx *bbolt.Tx) error { return f.append(tx, val) })
}

// etcdFloor puts values under keys in sequence on an etcd cluster,
// outside the service's prefix, from any number of goroutines.
type etcdFloor struct {
	// putKV is a raw etcd Put.
	putKV func(key string, val []byte) error
	seq   atomic.Uint64
}

func (f *etcdFloor) put(val []byte) error {
	return f.putKV(fmt.Sprintf("/floor/%016d", f.seq.Add(1)), val)
}

func (f *etcdFloor) putShared(val []byte) error { return f.put(val) }

// scaleStore is a store the rows of writes and reads run on, with the
// floor they are measured against.
type scaleStore struct {
	name string
	ts   *testServer
	// floor makes a new floor on the same disk or cluster.
	floor func(b *testing.B) storeFloor
	// createRecord is what the floor of a CreateReport puts: on a file the
	// request's bytes; on etcd as many bytes as one CreateReport of req
	// sends in its commits, measured on one.
	createRecord func(b *testing.B, ctx context.Context, req *pb.CreateReportRequest) []byte
}

// boltScaleStore is the service on a bbolt file, against raw bbolt.
func boltScaleStore(ts *testServer) scaleStore {
	return scaleStore{
		name: "bbolt", ts: ts,
		floor: func(b *testing.B) storeFloor { return &floorLog{DB: openFloorDB(b)} },
		createRecord: func(b *testing.B, _ context.Context, req *pb.CreateReportRequest) []byte {
			val, err := proto.Marshal(req)
			if err != nil {
				b.Fatal(err)
			}
			return val
		},
	}
}

// etcdScaleStore is the service on the cluster c, against raw etcd puts on
// the same cluster.
func etcdScaleStore(ts *testServer, c *etcdtest.Cluster) scaleStore {
	return scaleStore{
		name: "etcd", ts: ts,
		floor: func(b *testing.B) storeFloor {
			client := c.Client(b)
			return &etcdFloor{putKV: func(key string, val []byte) error {
				_, err := client.Put(context.Background(), key, string(val))
				return err
			}}
		},
		createRecord: func(b *testing.B, ctx context.Context, req *pb.CreateReportRequest) []byte {
			before := ts.StoreCounts()
			if _, err := ts.reports().CreateReport(ctx, req); err != nil {
				b.Fatal(err)
			}
			return make([]byte, ts.StoreCounts()["bytes"]-before["bytes"])
		},
	}
}

// scaleStoreNames are the stores the rows of writes and reads run on at
// a size (first: the first size): those of CHILDCASE_SCALE_STORES; by
// default bbolt, and etcd at the first size only, which keeps CI's small
// run short (on etcd, 64 writers at once take seconds a round).
func scaleStoreNames(b *testing.B, first bool) []string {
	spec := os.Getenv("CHILDCASE_SCALE_STORES")
	if spec == "" {
		if !first {
			return []string{"bbolt"}
		}
		spec = "bbolt,etcd"
	}
	names := strings.Split(spec, ",")
	for _, n := range names {
		if n != "bbolt" && n != "etcd" {
			b.Fatalf("CHILDCASE_SCALE_STORES: %q is not a list of bbolt and etcd", spec)
		}
	}
	return names
}

// etcdScaleServer starts the service on a copy of the scale database db
// moved into the cluster c, under a prefix of its own, committing with
// fsync as in production.
func etcdScaleServer(b *testing.B, c *etcdtest.Cluster, db string, m app.LoadManifest) *testServer {
	b.Helper()
	cfg := workingCopy(b, db, m)
	cfg.EtcdPrefix = fmt.Sprintf("/scale-%d/", m.Cases)
	e, err := etcdstore.NewEngine(c.Client(b), cfg.EtcdPrefix, etcdstore.Limits{})
	if err != nil {
		b.Fatal(err)
	}
	if err := boltstore.CopyIntoEngine(context.Background(), cfg.DBPath, e, boltstore.CopyLimits{}, nil); err != nil {
		b.Fatalf("copy the %d-case database into etcd: %v", m.Cases, err)
	}
	cfg.Store = "etcd://" + strings.TrimPrefix(c.Endpoints()[0], "http://")
	return scaleServer(b, cfg, m)
}

func micros(d time.Duration) float64 { return float64(d) / float64(time.Microsecond) }

// BenchmarkScale measures, for each size, every row of the table
// (see the comment at the top of this file and the README's "Scale").
func BenchmarkScale(b *testing.B) {
	sizes := scaleSizes(b)
	baseDB, baseM := scaleDB(b, sizes[0])
	base := scaleServer(b, workingCopy(b, baseDB, baseM), baseM)
	var cluster *etcdtest.Cluster
	if slices.Contains(scaleStoreNames(b, true), "etcd") {
		cluster = etcdtest.Start(b, 1) // fsync on, as in production
	}
	for _, n := range sizes {
		b.Run(fmt.Sprintf("cases=%d", n), func(b *testing.B) {
			db, m := scaleDB(b, n)
			at := base
			if n != sizes[0] {
				at = scaleServer(b, workingCopy(b, db, m), m)
			}
			var on []scaleStore
			for _, name := range scaleStoreNames(b, n == sizes[0]) {
				if name == "bbolt" {
					on = append(on, boltScaleStore(at))
				} else {
					on = append(on, etcdScaleStore(etcdScaleServer(b, cluster, db, m), cluster))
				}
			}
			runScaleRows(b, db, m, at, base, baseM, on)
		})
	}
}

// runScaleRows runs each measurement as a sub-benchmark on the server at
// of the database db (base is the server of the smallest size); the rows
// of writes and reads also on each store of stores, against its floor.
func runScaleRows(b *testing.B, db string, m app.LoadManifest, at, base *testServer, baseM app.LoadManifest, stores []scaleStore) {
	b.Run("row=bytes-per-case", func(b *testing.B) {
		fi, err := os.Stat(db)
		if err != nil {
			b.Fatal(err)
		}
		for b.Loop() {
		}
		b.ReportMetric(float64(fi.Size())/float64(m.Cases), "B/case")
	})
	b.Run("row=check", func(b *testing.B) {
		var s samples
		for b.Loop() {
			var out, errOut bytes.Buffer
			s.time(func() {
				if code := cli.Main(context.Background(), []string{"check", "--db", db}, &out, &errOut); code != 0 {
					b.Fatalf("check exited %d: %s%s", code, out.String(), errOut.String())
				}
			})
		}
		b.ReportMetric(s.p50().Seconds(), "check-s")
	})
	b.Run("row=cold-start", func(b *testing.B) {
		cfg := workingCopy(b, db, m)
		var s samples
		for b.Loop() {
			var srv *app.Server
			s.time(func() {
				var err error
				srv, err = app.Start(context.Background(), cfg, app.Options{
					Clock: clock.NewFake(m.EndTime), Logger: slog.New(slog.DiscardHandler), Console: io.Discard,
				})
				if err != nil {
					b.Fatal(err)
				}
			})
			if err := srv.Stop(); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(s.p50().Seconds(), "start-s")
	})
	// A commune worker's open queue and a quiet commune's list, first
	// page, at this size and at the base size, alternately.
	pages := []struct {
		name, user string
		req        *pb.ListCasesRequest
	}{
		{"row=queue-page", "busy.worker", &pb.ListCasesRequest{Queue: pb.CaseQueue_CASE_QUEUE_MY_UNIT_OPEN}},
		{"row=quiet-list-page", "quiet.worker", &pb.ListCasesRequest{}},
	}
	// The quiet commune's first page is short at the base size (its whole
	// list), so the row above compares pages of different lengths; this
	// one asks both sizes for a page as long as the base's, which is what
	// "O(page)" promises to keep flat.
	baseQuiet := listPage(b, base, "quiet.worker", &pb.ListCasesRequest{})
	pages = append(pages, struct {
		name, user string
		req        *pb.ListCasesRequest
	}{"row=quiet-list-equal-page", "quiet.worker", &pb.ListCasesRequest{PageSize: int32(baseQuiet)}})
	for _, p := range pages {
		b.Run(p.name, func(b *testing.B) {
			var here, there samples
			var hereCases, thereCases int
			for b.Loop() {
				here.time(func() { hereCases = listPage(b, at, p.user, p.req) })
				there.time(func() { thereCases = listPage(b, base, p.user, p.req) })
			}
			b.ReportMetric(micros(here.p50()), "page-µs")
			b.ReportMetric(micros(there.p50()), "base-page-µs")
			b.ReportMetric(float64(hereCases), "cases/page")
			b.ReportMetric(float64(thereCases), "base-cases/page")
			b.ReportMetric(float64(here.p50())/float64(there.p50()), "ratio-to-base")
		})
	}
	for _, clients := range []int{1, 16} {
		for _, st := range stores {
			b.Run(fmt.Sprintf("row=get-case/clients=%d/store=%s", clients, st.name), func(b *testing.B) {
				benchScaleGetCase(b, st, clients)
			})
		}
	}
	// A search for a child by name by a commune worker, at this size and
	// at the base size, alternately. The loader names children from the
	// same lists (load_data.go), so this name's tokens, and those of its
	// parts, are among the most shared the index holds.
	b.Run("row=search", func(b *testing.B) {
		req := &pb.SearchCasesRequest{ChildName: "Nguyễn Thị Lan"}
		var here, there samples
		for b.Loop() {
			here.time(func() { searchCases(b, at, "busy.worker", req) })
			there.time(func() { searchCases(b, base, "busy.worker", req) })
		}
		b.ReportMetric(micros(here.p50()), "search-µs")
		b.ReportMetric(micros(there.p50()), "base-search-µs")
		b.ReportMetric(float64(here.p50())/float64(there.p50()), "ratio-to-base")
	})
	b.Run("row=statistics-year", func(b *testing.B) { benchScaleStatistics(b, at, m) })
	for _, st := range stores {
		b.Run("row=create-report-p50/store="+st.name, func(b *testing.B) { benchScaleCreateP50(b, st, m) })
	}
	for _, st := range stores {
		b.Run("row=create-report-64-clients/store="+st.name, func(b *testing.B) { benchScaleCreateThroughput(b, st, m, 64) })
	}
	runScaleConsoleRows(b, m, at, base, baseM)
}

func searchCases(b *testing.B, ts *testServer, user string, req *pb.SearchCasesRequest) {
	if _, err := ts.cases().SearchCases(ts.as(b, user), req); err != nil {
		b.Fatalf("search as %s: %v", user, err)
	}
}

// benchScaleStatistics: a city officer's statistics of the last year of
// whole months of the load, grouped by month and unit (issue 13: a few
// hundred milliseconds at most).
func benchScaleStatistics(b *testing.B, ts *testServer, m app.LoadManifest) {
	ts.addUser(b, fmt.Sprintf("bench.city.%d", m.Cases), pb.Role_ROLE_CITY_OFFICER, pCity)
	ctx := ts.as(b, fmt.Sprintf("bench.city.%d", m.Cases))
	end := m.EndTime.In(hanoi)
	month := time.Date(end.Year(), end.Month(), 1, 0, 0, 0, 0, hanoi)
	req := &pb.GetStatisticsRequest{
		StartDate: month.AddDate(-1, 0, 0).Format(time.DateOnly), EndDate: month.AddDate(0, 0, -1).Format(time.DateOnly),
		GroupBy: []string{"month", "unit"},
	}
	var s samples
	for b.Loop() {
		s.time(func() {
			resp, err := pb.NewStatisticsServiceClient(ts.conn).GetStatistics(ctx, req)
			if err != nil || len(resp.GetGroups()) == 0 {
				b.Fatalf("statistics of a year: %d groups, %v", len(resp.GetGroups()), err)
			}
		})
	}
	b.ReportMetric(s.p50().Seconds()*1000, "stats-ms")
}

// listPage lists the first page of req as user and returns how many cases
// it holds: a quiet commune's first page is short on a small database, so
// the rows report it beside the time.
func listPage(b *testing.B, ts *testServer, user string, req *pb.ListCasesRequest) int {
	resp, err := ts.cases().ListCases(ts.as(b, user), req)
	if err != nil {
		b.Fatalf("list as %s: %v", user, err)
	}
	if len(resp.GetCases()) == 0 {
		b.Fatalf("list as %s: an empty page", user)
	}
	return len(resp.GetCases())
}

// benchScaleGetCase: GetCase by a commune worker, clients at once, against
// a gRPC health check plus one durable put of an audit event's size on the
// same store (an fdatasync'd append on the same disk; an etcd put on the
// same cluster), the same clients at once.
func benchScaleGetCase(b *testing.B, st scaleStore, clients int) {
	ts := st.ts
	ctx := ts.as(b, "busy.worker")
	page, err := ts.cases().ListCases(ctx, &pb.ListCasesRequest{PageSize: int32(clients)})
	if err != nil || len(page.GetCases()) == 0 {
		b.Fatalf("list the busy commune's cases: %v", err)
	}
	floor := st.floor(b)
	health := healthpb.NewHealthClient(ts.conn)
	event := make([]byte, 300)
	var mu sync.Mutex
	var gets, floors samples
	before := ts.StoreCounts()
	var getsCPU time.Duration
	cpuKnown := true
	for b.Loop() {
		var wg sync.WaitGroup
		cpuBefore, ok := processCPU()
		cpuKnown = cpuKnown && ok
		for i := range clients {
			name := page.GetCases()[i%len(page.GetCases())].GetName()
			wg.Go(func() {
				var g samples
				g.time(func() {
					if _, err := ts.cases().GetCase(ctx, &pb.GetCaseRequest{Name: name}); err != nil {
						b.Error(err)
					}
				})
				mu.Lock()
				gets = append(gets, g...)
				mu.Unlock()
			})
		}
		wg.Wait()
		cpuAfter, _ := processCPU()
		getsCPU += cpuAfter - cpuBefore
		for range clients {
			wg.Go(func() {
				var f samples
				f.time(func() {
					if _, err := health.Check(ctx, &healthpb.HealthCheckRequest{}); err != nil {
						b.Error(err)
					}
					if err := floor.put(event); err != nil {
						b.Error(err)
					}
				})
				mu.Lock()
				floors = append(floors, f...)
				mu.Unlock()
			})
		}
		wg.Wait()
	}
	b.ReportMetric(micros(gets.p50()), "get-p50-µs")
	b.ReportMetric(micros(floors.p50()), "floor-p50-µs")
	b.ReportMetric(float64(gets.p50())/float64(floors.p50()), "ratio-to-floor")
	if cpuKnown {
		// The CPU of the whole process (the client's side of each call
		// too) while the reads ran, per read: the machine's load does not
		// move it, where it moves every wall-clock figure above.
		b.ReportMetric(float64(getsCPU.Nanoseconds())/float64(b.N*clients), "get-cpu-ns/read")
	}
	// Per iteration, that is per clients reads.
	reportWrites(b, before, ts.StoreCounts())
}

// scaleReport is an intervention report in the busy commune, received an
// hour before the clock the load ended at.
func scaleReport(m app.LoadManifest) *pb.CreateReportRequest {
	r := validReport()
	r.ReceiveTime = timestamppb.New(m.EndTime.Add(-time.Hour))
	r.IncidentCommuneCode = strings.TrimPrefix(strings.Split(m.BusyUnit, "@")[0], "units/")
	return &pb.CreateReportRequest{Report: r}
}

// createBench prepares a CreateReport measurement: the operator's
// context, the request, the floor's record (store.createRecord) and a
// floor.
func createBench(b *testing.B, st scaleStore, m app.LoadManifest) (context.Context, *pb.CreateReportRequest, []byte, storeFloor) {
	req := scaleReport(m)
	ctx := st.ts.as(b, "operator")
	val := st.createRecord(b, ctx, req)
	b.ReportMetric(float64(len(val)), "floor-B")
	return ctx, req, val, st.floor(b)
}

// benchScaleCreateP50: CreateReport by one client against a raw durable
// put of its bytes (a bbolt Update, fsync'd; an etcd put) plus a gRPC
// health check.
func benchScaleCreateP50(b *testing.B, st scaleStore, m app.LoadManifest) {
	ts := st.ts
	ctx, req, val, floor := createBench(b, st, m)
	health := healthpb.NewHealthClient(ts.conn)
	var creates, updates, checks samples
	before := ts.StoreCounts()
	for b.Loop() {
		creates.time(func() {
			if _, err := ts.reports().CreateReport(ctx, req); err != nil {
				b.Fatal(err)
			}
		})
		updates.time(func() {
			if err := floor.put(val); err != nil {
				b.Fatal(err)
			}
		})
		checks.time(func() {
			if _, err := health.Check(ctx, &healthpb.HealthCheckRequest{}); err != nil {
				b.Fatal(err)
			}
		})
	}
	b.ReportMetric(micros(creates.p50()), "create-p50-µs")
	b.ReportMetric(micros(updates.p50()+checks.p50()), "floor-p50-µs")
	b.ReportMetric(float64(creates.p50())/float64(updates.p50()+checks.p50()), "ratio-to-floor")
	reportWrites(b, before, ts.StoreCounts())
}

// benchScaleCreateThroughput: reports per second with clients creating at
// once, against raw puts of the same bytes per second with as many
// goroutines (bbolt Batch; etcd puts). Each iteration is one report per
// client, then one put per goroutine.
func benchScaleCreateThroughput(b *testing.B, st scaleStore, m app.LoadManifest, clients int) {
	ts := st.ts
	ctx, req, val, floor := createBench(b, st, m)
	var creates, puts samples
	before := ts.StoreCounts()
	for b.Loop() {
		var wg sync.WaitGroup
		creates.time(func() {
			for range clients {
				wg.Go(func() {
					if _, err := ts.reports().CreateReport(ctx, req); err != nil {
						b.Error(err)
					}
				})
			}
			wg.Wait()
		})
		puts.time(func() {
			for range clients {
				wg.Go(func() {
					if err := floor.putShared(val); err != nil {
						b.Error(err)
					}
				})
			}
			wg.Wait()
		})
	}
	reportsPerSec := float64(clients*len(creates)) / creates.total().Seconds()
	putsPerSec := float64(clients*len(puts)) / puts.total().Seconds()
	b.ReportMetric(reportsPerSec, "reports/s")
	b.ReportMetric(putsPerSec, "floor-puts/s")
	b.ReportMetric(reportsPerSec/putsPerSec, "ratio-to-floor")
	// Per iteration, that is per clients reports.
	reportWrites(b, before, ts.StoreCounts())
}
