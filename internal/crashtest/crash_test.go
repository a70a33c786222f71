package crashtest

import (
	"context"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	pb "github.com/childcase/childcase/api/childcase/v1"
)

// The binary under test, built once by TestMain.
var (
	childBin string
	buildOut []byte
	buildErr error
)

var cyclesFlag = flag.Int("crash.cycles", 0, "kill-and-restart cycles of TestCrash (default 20; CHILDCASE_CRASH_CYCLES wins)")

func TestMain(m *testing.M) {
	flag.Parse()
	dir, err := os.MkdirTemp("", "childcase-crashtest-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "crashtest:", err)
		os.Exit(1)
	}
	childBin = filepath.Join(dir, "childcase")
	if runtime.GOOS == "windows" {
		childBin += ".exe"
	}
	buildOut, buildErr = buildChild(childBin)
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// goTool is the go command of the toolchain running the test: $GOROOT/bin/go
// when GOROOT is set, else the go on PATH.
func goTool() string {
	if root := os.Getenv("GOROOT"); root != "" {
		name := "go"
		if runtime.GOOS == "windows" {
			name += ".exe"
		}
		p := filepath.Join(root, "bin", name)
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	if p, err := exec.LookPath("go"); err == nil {
		return p
	}
	return "go"
}

// buildChild builds ./cmd/childcase, without -race whatever the test runs
// with: the child is the production binary.
func buildChild(out string) ([]byte, error) {
	cmd := exec.Command(goTool(), "build", "-o", out, "github.com/childcase/childcase/cmd/childcase")
	return cmd.CombinedOutput()
}

// inCI reports whether CI=true (or 1): there the test never skips.
func inCI() bool {
	ok, _ := strconv.ParseBool(os.Getenv("CI"))
	return ok
}

// requireChild skips the test where it cannot run (no SIGKILL, or the
// binary does not build), except in CI, where it fails.
func requireChild(t *testing.T) {
	t.Helper()
	ci := inCI()
	if runtime.GOOS == "windows" && !ci {
		t.Skip("Windows has no SIGKILL")
	}
	if buildErr != nil {
		if ci {
			t.Fatalf("go build ./cmd/childcase: %v\n%s", buildErr, buildOut)
		}
		t.Skipf("cannot build ./cmd/childcase (%v): %s", buildErr, buildOut)
	}
}

// runSize is a run's number of cycles and its seed: def cycles, short
// with -short outside CI, the flag's value when set, and $PREFIX_CYCLES
// over all; the seed from $PREFIX_SEED, else the clock.
func runSize(t *testing.T, prefix string, flagCycles, def, short int) (cycles int, seed uint64) {
	t.Helper()
	cycles = def
	if testing.Short() && !inCI() {
		cycles = short
	}
	if flagCycles > 0 {
		cycles = flagCycles
	}
	if s := os.Getenv(prefix + "_CYCLES"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 {
			t.Fatalf("%s_CYCLES=%q: want a positive number", prefix, s)
		}
		cycles = n
	}
	seed = uint64(time.Now().UnixNano())
	if s := os.Getenv(prefix + "_SEED"); s != "" {
		n, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			t.Fatalf("%s_SEED=%q: %v", prefix, s, err)
		}
		seed = n
	}
	return cycles, seed
}

// Tuning of a cycle.
const (
	clients = 8                      // concurrent clients of the workload
	minRun  = 100 * time.Millisecond // the workload runs this long at least before the kill...
	maxRun  = 700 * time.Millisecond // ...and at most
	// The clients stop thinking between calls this long before the kill.
	burstBeforeKill = 60 * time.Millisecond
	minDowntime     = 500 * time.Millisecond  // the server stays down this long at least...
	maxDowntime     = 2500 * time.Millisecond // ...and at most: the 2 s ACKNOWLEDGE clocks fall due meanwhile
	callTimeout     = 15 * time.Second        // one call of the workload or the checks
	startTimeout    = 60 * time.Second        // from exec to gRPC health SERVING
	fireTimeout     = 20 * time.Second        // for the scheduler to catch up after a restart
)

// policyJSON makes the policy clocks run in seconds, so that they fall due
// while the server is down. Escalation goes commune -> city and police
// unit -> city police, one step each, so every breach escalates once.
const policyJSON = `{
  "acknowledge": {"seconds": 2},
  "transfer_accept": {"seconds": 3},
  "police_acknowledge": {"seconds": 3},
  "escalation_step": {"seconds": 3},
  "warnings": [0.5, 0.75]
}`

func TestCrash(t *testing.T) {
	requireChild(t)
	cycles, seed := runSize(t, "CHILDCASE_CRASH", *cyclesFlag, 20, 5)
	t.Logf("crash test: %d cycles, seed %d (CHILDCASE_CRASH_SEED=%d repeats the choices)", cycles, seed, seed)

	h := newHarness(t, seed, cycles)
	began := time.Now()
	done := 0
	defer func() {
		// Also when a check failed: how far the run got.
		s := &h.stats
		t.Logf("crash test summary: %d of %d cycles, %d SIGKILLs, %s, "+
			"%d deadlines fell due while down and fired once after the restart, %d problems; "+
			"database at the last check: %s; wall time %s",
			done, cycles, s.kills, s.writes(), s.downtimeFired, s.problems, s.final, time.Since(began).Round(time.Second))
		t.Logf("transitions acknowledged, by method: %s", h.led.ackedByMethod())
	}()
	runCycles(&done, cycles, h.setup, h.cycle, h.finish)
}

// runCycles runs setup, cycles cycles and finish, counting the cycles done
// (the summary says how far a failed run got).
func runCycles(done *int, cycles int, setup func(), cycle func(n int), finish func()) {
	setup()
	for n := 1; n <= cycles; n++ {
		cycle(n)
		*done = n
	}
	finish()
}

// stats are the run's figures for the summary line.
type stats struct {
	kills          int
	ackedReports   int // reports acknowledged while the workload ran
	ackedSteps     int // transitions acknowledged while the workload ran
	sameAnswers    int // retries of acknowledged requests that answered the same
	inDoubt        int // writes whose outcome a kill left unknown
	inDoubtReports int // in-doubt reports resolved by a retry after the restart
	// in-doubt reports joining a case closed since, refused by the retry
	inDoubtReportsRefused int
	inDoubtStepsApplied   int // in-doubt transitions a retry showed applied (before the kill or by the retry)
	inDoubtStepsRefused   int // in-doubt transitions a retry showed not applied, and refused since
	hidden                int // in-doubt transitions whose retry answered NOT_FOUND
	downtimeFired         int // deadlines due while down, fired once after the restart
	problems              int
	final                 checkCounts
}

// writes are the figures of the writes, for a summary.
func (s *stats) writes() string {
	return fmt.Sprintf("%d writes acknowledged (%d reports, %d transitions), "+
		"%d retries of acknowledged requests answered alike, %d writes in doubt at a kill resolved by retry "+
		"(%d reports recorded once, %d reports refused as their case was closed, "+
		"%d transitions applied once, %d refused, %d answered NOT_FOUND)",
		s.ackedReports+s.ackedSteps, s.ackedReports, s.ackedSteps,
		s.sameAnswers, s.inDoubt, s.inDoubtReports, s.inDoubtReportsRefused, s.inDoubtStepsApplied, s.inDoubtStepsRefused, s.hidden)
}

// checkCounts are the counts of boltstore.Check at the last check.
type checkCounts struct {
	Reports, Cases, CaseEvents, AuditEvents int
	Bytes                                   int64
}

func (c checkCounts) String() string {
	return fmt.Sprintf("%d reports, %d cases, %d case events, %d audit events, %d bytes",
		c.Reports, c.Cases, c.CaseEvents, c.AuditEvents, c.Bytes)
}

// The users and units of the workload.
const (
	unitBD   = "units/00004@2025-07-01" // Phường Ba Đình
	unitHK   = "units/00070@2025-07-01" // Phường Hoàn Kiếm
	unitCity = "units/01@2020-01-01"    // Thành phố Hà Nội

	policeBD   = "policeUnits/ca-ba-dinh" // covers Ba Đình
	policeCity = "policeUnits/ca-ha-noi"  // the city police, top of the police chain

	userOp      = "op"
	userBDW     = "bd.worker"
	userBDC     = "bd.chair"
	userHKW     = "hk.worker"
	userCity    = "city"
	userPolice  = "police.bd"
	userAuditor = "auditor"
)

// workerOf is the commune worker who acts for a unit; otherUnit the unit a
// case of the unit is handed to.
var (
	workerOf  = map[string]string{unitBD: userBDW, unitHK: userHKW}
	otherUnit = map[string]string{unitBD: unitHK, unitHK: unitBD}
)

// harness runs the cycles of one test.
type harness struct {
	t      *testing.T
	seed   uint64
	cycles int
	rng    *rand.Rand // the harness's own choices (not the workers')

	dir, db, keyFile, policyFile string
	storeArgs                    []string // serve's flags that name the store
	env                          []string // added to the server's environment (a webhook's secret)
	metrics                      bool     // serve the metrics, on a fresh port at each start (child.metricsAddr)
	srv                          *child   // the crash test's server
	starts                       int
	tokens                       map[string]string // user -> bearer token, kept across restarts

	led   *ledger
	stats stats
	// watch holds the cases whose deadlines may still fire: looked at again
	// after the next restart.
	watch map[string]bool

	killing atomic.Bool // the server is being killed: errors from now on leave writes in doubt
	// The deadlines due after killTime and not after upTime must fire
	// once, not before upTime. The crash test: when the SIGKILL went out
	// and when the restarted server was exec'd; the failover test: when the
	// leading instance was killed and when the other one took over.
	killTime, upTime time.Time

	mu       sync.Mutex
	problems []string // found in this cycle
}

func newHarness(t *testing.T, seed uint64, cycles int) *harness {
	dir, err := os.MkdirTemp("", "childcase-crashtest-")
	if err != nil {
		t.Fatal(err)
	}
	h := &harness{
		t: t, seed: seed, cycles: cycles, rng: rand.New(rand.NewPCG(seed, 0)),
		dir: dir, db: filepath.Join(dir, "childcase.db"), keyFile: filepath.Join(dir, "childcase.key"),
		policyFile: filepath.Join(dir, "policy.json"),
		storeArgs:  []string{"--db", filepath.Join(dir, "childcase.db")},
		tokens:     map[string]string{}, led: newLedger(), watch: map[string]bool{},
	}
	if err := os.WriteFile(h.policyFile, []byte(policyJSON), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if h.srv != nil {
			h.srv.kill()
		}
		if t.Failed() || os.Getenv("CHILDCASE_CRASH_KEEP") != "" {
			t.Logf("the database, key, policy and server logs are kept in %s", dir)
			return
		}
		os.RemoveAll(dir)
	})
	return h
}

// problem records something the service got wrong (or the test could not
// check); the cycle fails at its end. Safe for concurrent use.
func (h *harness) problem(format string, args ...any) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.problems = append(h.problems, fmt.Sprintf(format, args...))
}

// endOfStage fails the test with every problem found so far.
func (h *harness) endOfStage(stage string) {
	h.mu.Lock()
	ps := h.problems
	h.problems = nil
	h.mu.Unlock()
	if len(ps) == 0 {
		return
	}
	h.stats.problems += len(ps)
	const show = 50
	for i, p := range ps {
		if i == show {
			h.t.Errorf("... and %d more", len(ps)-show)
			break
		}
		h.t.Errorf("%s: %s", stage, p)
	}
	if h.srv != nil {
		h.t.Logf("server log: %s", h.srv.logPath)
	}
	h.t.FailNow()
}

// setup starts the server on a new database and bootstraps it.
func (h *harness) setup() {
	h.srv = h.start()
	h.bootstrap(h.srv)
}

// bootstrap takes the admin token that srv, started on a new database,
// printed, and creates the users and police units.
func (h *harness) bootstrap(srv *child) {
	t := h.t
	admin, err := bootstrapToken(srv.logPath)
	if err != nil {
		t.Fatal(err)
	}
	h.tokens["admin"] = admin
	cl := h.dialAddr(srv.grpcAddr)
	defer cl.close()
	ctx, cancel := context.WithTimeout(context.Background(), callTimeout)
	defer cancel()
	actx := h.as(ctx, "admin")
	for _, p := range []struct {
		id     string
		covers []string
	}{{policeBD, []string{unitBD}}, {policeCity, nil}} {
		id := strings.TrimPrefix(p.id, "policeUnits/")
		if _, err := cl.admin.CreatePoliceUnit(actx, &pb.CreatePoliceUnitRequest{
			PoliceUnitId: id, PoliceUnit: &pb.PoliceUnit{DisplayName: "Công an " + id, Covers: p.covers},
		}); err != nil {
			t.Fatalf("create police unit %s: %v", p.id, err)
		}
	}
	for _, u := range []struct {
		id   string
		role pb.Role
		unit string
	}{
		{userOp, pb.Role_ROLE_HOTLINE_OPERATOR, "orgs/hotline-111"},
		{userBDW, pb.Role_ROLE_COMMUNE_WORKER, unitBD},
		{userBDC, pb.Role_ROLE_COMMUNE_CHAIR, unitBD},
		{userHKW, pb.Role_ROLE_COMMUNE_WORKER, unitHK},
		{userCity, pb.Role_ROLE_CITY_OFFICER, unitCity},
		{userPolice, pb.Role_ROLE_POLICE_LIAISON, policeBD},
		{userAuditor, pb.Role_ROLE_AUDITOR, "orgs/system"},
	} {
		resp, err := cl.admin.CreateUser(actx, &pb.CreateUserRequest{
			UserId: u.id,
			User:   &pb.User{DisplayName: "Crash test " + u.id, Role: u.role, Unit: u.unit, Phone: "024 3825 0000"},
		})
		if err != nil {
			t.Fatalf("create user %s: %v", u.id, err)
		}
		h.tokens[u.id] = resp.GetToken().GetSecret()
	}
}

// cycle runs the workload against the running server, kills it, checks
// the file, restarts it and checks the service.
func (h *harness) cycle(n int) {
	mark, end := h.beginCycle(n, "while down")
	defer end()

	// Load, then SIGKILL at a random moment.
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	conns := make([]*client, clients)
	run := minRun + time.Duration(h.rng.Int64N(int64(maxRun-minRun)))
	burst := time.Now().Add(run - burstBeforeKill)
	for w := range conns {
		conns[w] = h.dial()
		rng := rand.New(rand.NewPCG(h.seed, uint64(n)<<8|uint64(w+1)))
		wg.Go(func() { h.worker(ctx, n, w, conns[w], rng, func() bool { return time.Now().After(burst) }) })
	}
	time.Sleep(run)
	h.killing.Store(true)
	h.killTime = time.Now()
	if exitedEarly := h.srv.kill(); exitedEarly {
		h.problem("the server exited on its own before the kill (log %s):\n%s", h.srv.logPath, tail(h.srv.logPath, 40))
	}
	h.stats.kills++
	cancel()
	wg.Wait()
	for _, c := range conns {
		c.close()
	}
	h.killing.Store(false)
	h.endOfStage(fmt.Sprintf("cycle %d, load", n))
	mark("load")

	// With the server down: the file; and down a while longer, so that
	// deadlines fall due, then up again.
	downtime := minDowntime + time.Duration(h.rng.Int64N(int64(maxDowntime-minDowntime)))
	h.checkFile(h.db)
	h.endOfStage(fmt.Sprintf("cycle %d, database after SIGKILL", n))
	mark("file check")
	time.Sleep(time.Until(h.killTime.Add(downtime)))
	h.upTime = time.Now()
	mark("then down")
	h.srv = h.start()
	mark("start")
	cl := h.dial()
	defer cl.close()
	h.resolve(cl)
	h.endOfStage(fmt.Sprintf("cycle %d, retries of the writes in doubt", n))
	mark("resolve")
	h.checkOnline(cl, n)
	h.endOfStage(fmt.Sprintf("cycle %d, service after restart", n))
	mark("service check")
}

// beginCycle begins cycle n in the ledger. mark notes how long the stage
// just done took; end logs the cycle's figures and stages. window says
// when the deadlines checked by checkOnline fell due.
func (h *harness) beginCycle(n int, window string) (mark func(stage string), end func()) {
	h.led.beginCycle(n)
	t0, before := time.Now(), h.stats
	var marks []string
	mark = func(stage string) {
		marks = append(marks, fmt.Sprintf("%s %s", stage, time.Since(t0).Round(time.Millisecond)))
		t0 = time.Now()
	}
	end = func() {
		s := h.stats
		h.t.Logf("cycle %d: %d writes acknowledged, %d in doubt at the kill, %d deadlines due %s fired; %s",
			n, s.ackedReports+s.ackedSteps-before.ackedReports-before.ackedSteps, s.inDoubt-before.inDoubt,
			s.downtimeFired-before.downtimeFired, window, strings.Join(marks, ", "))
	}
	return mark, end
}

// finish stops the server gracefully and checks the file a last time, now
// that nothing is in doubt: every count must be exact.
func (h *harness) finish() {
	if err := h.srv.stop(); err != nil {
		h.problem("graceful stop: %v (log %s):\n%s", err, h.srv.logPath, tail(h.srv.logPath, 40))
	}
	h.srv = nil
	h.checkFile(h.db)
	h.endOfStage("final check of the database")
}

// tail returns the last n lines of a file.
func tail(path string, n int) string {
	raw, err := os.ReadFile(path)
	if err != nil {
		return err.Error()
	}
	lines := strings.Split(strings.TrimRight(string(raw), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
