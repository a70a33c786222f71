package app

import (
	"bytes"
	"container/heap"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"io/fs"
	"log/slog"
	"math/rand/v2"
	"os"
	"regexp"
	"slices"
	"sort"
	"strings"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	pb "github.com/childcase/childcase/api/childcase/v1"
	"github.com/childcase/childcase/internal/domain/clock"
	"github.com/childcase/childcase/internal/domain/units"
	"github.com/childcase/childcase/internal/domain/vntime"
)

// Load fills a new database with synthetic but realistic case work, for
// the scale benchmarks and as a stress fixture: it starts the service on
// the new file with a clock of its own and drives it over gRPC, as its
// clients would, so every record goes through the service's own write path
// (validation, access rules, sealing, deadlines, audit). Only the clock is
// not real: it moves through the years of receive times as the work is
// done, so deadlines are met, missed and escalated as they would be. The
// service runs without fsync while loading (the file is synced once at the
// end), which makes loading faster but changes nothing that is written.
//
// Load uses the public API only (and the unit reference data, to choose
// communes), so that it keeps working while the storage and domain change
// underneath.

// LoadConfig says what Load makes.
type LoadConfig struct {
	DBPath  string // the database to create; it must not exist
	KeyFile string // its master key file, created; "" is DBPath + ".key"
	Cases   int    // intervention cases to open (counselling calls come on top)
	Seed    uint64 // the same seed and Cases make the same work
	// Progress receives a line now and then while loading; nil: none.
	Progress io.Writer
	// Logger receives the service's warnings; nil: discarded.
	Logger *slog.Logger
}

// The period the receive times of a load spread over: the last two and a
// half years of the 2020 units, the 2025-01 rearrangement and the
// communes of 2025-07-01, fixed so that a seed makes the same work on any
// day.
var (
	loadFrom = time.Date(2022, time.July, 1, 0, 0, 0, 0, vntime.Location())
	loadTo   = time.Date(2026, time.November, 28, 0, 0, 0, 0, vntime.Location())
)

// loadTokenTTL is the life of the tokens Load issues: the longest a token
// may live, renewed by the loader before the moving clock reaches it.
const loadTokenTTL = 400 * 24 * time.Hour

// LoadManifest describes a loaded database; Load writes it beside the
// database as DBPath + ".load.json" (mode 0600: it holds tokens).
type LoadManifest struct {
	Seed    uint64 `json:"seed"`
	Cases   int    `json:"cases"`   // intervention cases opened
	Reports int    `json:"reports"` // reports recorded, counselling calls included
	// Steps counts the process steps taken, by method; Refused those the
	// service refused (a step out of turn after the scheduler moved the
	// case on, for example): they are part of a realistic load too.
	Steps   map[string]int `json:"steps"`
	Refused map[string]int `json:"refused"`
	// EndTime is the clock at the end of the load. Open the database with
	// a clock from here on to see it as the load left it; the real clock
	// lets the deadlines due since then fire at start.
	EndTime time.Time `json:"end_time"`
	// BusyUnit and QuietUnit are the 2025 communes with the most cases and
	// with the fewest (one at least), and Users names a worker and a chair of each, a
	// hotline operator and an admin ("busy.worker", "busy.chair",
	// "quiet.worker", "quiet.chair", "operator", "admin").
	BusyUnit  string              `json:"busy_unit"`
	QuietUnit string              `json:"quiet_unit"`
	Users     map[string]LoadUser `json:"users"`
}

// LoadUser is a user of a loaded database and a token of theirs, valid
// for 400 days from the manifest's end time.
type LoadUser struct {
	ID    string `json:"id"`
	Role  string `json:"role"`
	Unit  string `json:"unit"`
	Token string `json:"token"`
}

// ReadLoadManifest reads the manifest Load wrote beside dbPath.
func ReadLoadManifest(dbPath string) (LoadManifest, error) {
	var m LoadManifest
	raw, err := os.ReadFile(dbPath + ".load.json")
	if err != nil {
		return m, err
	}
	if err := json.Unmarshal(raw, &m); err != nil {
		return m, fmt.Errorf("%s.load.json: %w", dbPath, err)
	}
	return m, nil
}

// Load makes the database cfg describes; see the comment at the top of
// this file.
func Load(ctx context.Context, cfg LoadConfig) (_ LoadManifest, err error) {
	if cfg.Cases < 1 {
		return LoadManifest{}, errors.New("load: --cases: must be at least 1")
	}
	if cfg.DBPath == "" {
		return LoadManifest{}, errors.New("load: --db: a database path is required")
	}
	if _, err := os.Lstat(cfg.DBPath); err == nil {
		return LoadManifest{}, fmt.Errorf("load: --db: %s exists: a load makes a new database; name a path with nothing there", cfg.DBPath)
	}
	if cfg.KeyFile == "" {
		cfg.KeyFile = cfg.DBPath + ".key"
	}
	// A load that fails leaves nothing it made: a half-loaded database is
	// no fixture, and its name must be free for the next try. Only what
	// it made: a key file it was given, or a reserve file that was there
	// (beside a database removed by hand; the start takes it up), stays.
	made := []string{cfg.DBPath}
	for _, p := range []string{cfg.DBPath + ".reserve", cfg.KeyFile} {
		if _, err := os.Lstat(p); errors.Is(err, fs.ErrNotExist) {
			made = append(made, p)
		}
	}
	defer func() {
		if err != nil {
			for _, p := range made {
				if rmErr := os.Remove(p); rmErr != nil && !errors.Is(rmErr, fs.ErrNotExist) {
					err = errors.Join(err, fmt.Errorf("load: removing what the failed load made: %w", rmErr))
				}
			}
		}
	}()
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Progress == nil {
		cfg.Progress = io.Discard
	}
	reg, err := units.Load()
	if err != nil {
		return LoadManifest{}, err
	}
	clk := clock.NewFake(loadFrom.Add(-24 * time.Hour))
	scfg := DefaultConfig()
	scfg.DBPath, scfg.KeyFile = cfg.DBPath, cfg.KeyFile
	scfg.GRPCAddr, scfg.HTTPAddr = "127.0.0.1:0", "127.0.0.1:0"
	var console bytes.Buffer
	srv, err := Start(ctx, scfg, Options{
		Clock: clk, Logger: cfg.Logger, Console: &console, NoSync: true,
		// The clock jumps ahead as fast as the work goes: the scheduler
		// looks at it often, so deadlines fire close to when they fall due.
		SchedulerPoll: 2 * time.Millisecond,
	})
	if err != nil {
		return LoadManifest{}, err
	}
	stopped := false
	defer func() {
		if !stopped {
			srv.Stop()
		}
	}()
	bootstrapToken := loadTokenPattern.Find(console.Bytes())
	if bootstrapToken == nil {
		return LoadManifest{}, errors.New("load: the new database printed no admin token")
	}
	conn, err := grpc.NewClient(srv.GRPCAddr(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return LoadManifest{}, err
	}
	defer conn.Close()

	l := &loader{
		cfg: cfg, reg: reg, clk: clk, settle: srv.engine.Settle, rng: rand.New(rand.NewPCG(cfg.Seed, cfg.Seed^0x6368696c64636173)),
		admin:   pb.NewAdminServiceClient(conn),
		reports: pb.NewReportServiceClient(conn),
		cases:   pb.NewCaseServiceClient(conn),
		steps:   pb.NewCaseProcessServiceClient(conn),
		users: map[string]*loadUser{"admin": {
			// The bootstrap admin's token lives a week; it only creates the
			// loader's admin before the clock moves.
			id: "admin", token: string(bootstrapToken), expires: clk.Now().Add(loadTokenTTL),
		}},
		police:  map[string]string{},
		perUnit: map[string]int{},
		m:       LoadManifest{Seed: cfg.Seed, Steps: map[string]int{}, Refused: map[string]int{}},
	}
	if err := l.run(ctx); err != nil {
		return LoadManifest{}, err
	}
	if err := l.finish(ctx); err != nil {
		return LoadManifest{}, err
	}
	stopped = true
	if err := srv.Stop(); err != nil {
		return LoadManifest{}, err
	}
	// The service ran without fsync: make the file durable before saying
	// it is done.
	if err := syncFile(cfg.DBPath); err != nil {
		return LoadManifest{}, err
	}
	raw, err := json.MarshalIndent(l.m, "", "  ")
	if err != nil {
		return LoadManifest{}, err
	}
	// It holds the load users' live tokens.
	if err := writePrivateFile(cfg.DBPath+".load.json", append(raw, '\n')); err != nil {
		return LoadManifest{}, err
	}
	return l.m, nil
}

// loadTokenPattern finds the bootstrap admin's token in what a new
// database prints once.
var loadTokenPattern = regexp.MustCompile(`cc_[0-9a-f]{16}_[A-Za-z0-9_-]{43}`)

func syncFile(path string) error {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

type loadUser struct {
	id, role, unit string
	token          string
	expires        time.Time
}

// loadCase is a case being worked on by the loader.
type loadCase struct {
	name, etag string
	unit       string // the responsible unit, "units/..."
	serious    bool   // sexual abuse, trafficking or injury: referred to the police
	// emergency is why the case is an emergency from intake (a suspected
	// caregiver, a child in immediate danger), or unspecified.
	emergency pb.EmergencyReason
	depth     int    // how far the social process goes (see socialSteps)
	done      int    // social steps taken
	liaison   string // the liaison of the police unit it was referred to; "" before
}

// A loadStep is work due at a time on a case.
type loadStep struct {
	at   time.Time
	seq  int // ties keep the order steps were scheduled in: runs repeat
	c    *loadCase
	kind string
}

type stepQueue []loadStep

func (q stepQueue) Len() int { return len(q) }
func (q stepQueue) Less(i, j int) bool {
	if !q[i].at.Equal(q[j].at) {
		return q[i].at.Before(q[j].at)
	}
	return q[i].seq < q[j].seq
}
func (q stepQueue) Swap(i, j int) { q[i], q[j] = q[j], q[i] }
func (q *stepQueue) Push(x any)   { *q = append(*q, x.(loadStep)) }
func (q *stepQueue) Pop() any {
	old := *q
	s := old[len(old)-1]
	*q = old[:len(old)-1]
	return s
}

type loader struct {
	cfg     LoadConfig
	reg     *units.Registry
	clk     *clock.Fake
	settle  func(context.Context) error // the scheduler's Settle
	rng     *rand.Rand
	admin   pb.AdminServiceClient
	reports pb.ReportServiceClient
	cases   pb.CaseServiceClient
	steps   pb.CaseProcessServiceClient
	users   map[string]*loadUser
	police  map[string]string // unit -> police unit name
	perUnit map[string]int    // cases opened per unit
	queue   stepQueue
	seq     int
	eras    []loadEra
	m       LoadManifest
}

// A loadEra is a set of communes in force from a date, with the weights
// that make a few of them busy and most quiet.
type loadEra struct {
	from     time.Time
	communes []units.Unit
	cum      []float64 // cumulative weights
}

// socialSteps is the process a case goes through, in order; a case's
// depth says how many of them it takes before the load ends.
var socialSteps = []string{"acknowledge", "initialAssessment", "specificAssessment", "submitPlan", "approvePlan", "startReview", "recordReview", "approveClosure"}

// depthWeights: how far cases go, in percent, by depth 0..8: most
// reach closure, some wait at every step (a queue to work on), a few are
// never acknowledged (escalated).
var depthWeights = []int{6, 6, 8, 8, 6, 14, 4, 3, 45}

func (l *loader) setupEras() {
	for _, from := range []time.Time{loadFrom, time.Date(2025, 1, 1, 0, 0, 0, 0, vntime.Location()), time.Date(2025, 7, 1, 0, 0, 0, 0, vntime.Location())} {
		cs := l.reg.List(units.Filter{Level: units.LevelCommune, AsOf: vntime.DateOf(from)})
		// A commune is as busy as the rank of its code in an order the
		// seed fixes (weight 1/rank), so a code keeps its place across
		// the rearrangements.
		sort.Slice(cs, func(i, j int) bool { return l.codeRank(cs[i].Code) < l.codeRank(cs[j].Code) })
		e := loadEra{from: from, communes: cs}
		total := 0.0
		for i := range cs {
			total += 1 / float64(i+1)
			e.cum = append(e.cum, total)
		}
		l.eras = append(l.eras, e)
	}
}

func (l *loader) codeRank(code string) uint64 {
	h := fnv.New64a()
	fmt.Fprintf(h, "%d/%s", l.cfg.Seed, code)
	return h.Sum64()
}

func (l *loader) era(t time.Time) *loadEra {
	for i := len(l.eras) - 1; i > 0; i-- {
		if !t.Before(l.eras[i].from) {
			return &l.eras[i]
		}
	}
	return &l.eras[0]
}

func (l *loader) pickCommune(t time.Time) units.Unit {
	e := l.era(t)
	x := l.rng.Float64() * e.cum[len(e.cum)-1]
	i, _ := slices.BinarySearch(e.cum, x)
	return e.communes[min(i, len(e.communes)-1)]
}

func (l *loader) run(ctx context.Context) error {
	l.setupEras()
	if err := l.setupStaff(ctx); err != nil {
		return err
	}
	// Counselling calls open no case; they are a quarter again as many.
	counselling := l.cfg.Cases / 4
	total := l.cfg.Cases + counselling
	receive := make([]time.Time, total)
	span := loadTo.Sub(loadFrom)
	for i := range receive {
		receive[i] = loadFrom.Add(time.Duration(l.rng.Int64N(int64(span))))
	}
	slices.SortFunc(receive, func(a, b time.Time) int { return a.Compare(b) })
	// The manifest names a busy and a quiet commune of today's set, so at
	// least one case is received once it is in force: a small load whose
	// draws all fell before has its last call moved into that era and
	// made a case, the counselling calls drawn among the others. (A load
	// that drew one keeps its draws: the same seed and cases make the same
	// work as before.)
	reform := l.eras[len(l.eras)-1].from
	drawn := total // the calls whose kind is drawn
	if receive[total-1].Before(reform) {
		receive[total-1] = reform.Add(time.Duration(l.rng.Int64N(int64(loadTo.Sub(reform)))))
		drawn--
	}
	start, lastLine := time.Now(), time.Now()
	for i, at := range receive {
		// The operator records the call some minutes after it came in.
		rec := at.Add(time.Duration(2+l.rng.IntN(40)) * time.Minute)
		if err := l.drain(ctx, rec); err != nil {
			return err
		}
		if err := l.advance(ctx, rec); err != nil {
			return err
		}
		intervention := i >= drawn || l.rng.IntN(drawn-i) >= counselling
		if !intervention {
			counselling--
		}
		if err := l.report(ctx, at, intervention); err != nil {
			return err
		}
		if time.Since(lastLine) > 5*time.Second || i == total-1 {
			lastLine = time.Now()
			fmt.Fprintf(l.cfg.Progress, "load: %d/%d cases, %d reports, %d steps, clock %s, %s\n",
				l.m.Cases, l.cfg.Cases, l.m.Reports, sum(l.m.Steps), l.clk.Now().Format(time.DateOnly), time.Since(start).Round(time.Second))
		}
	}
	// The work still due before the end of the period is done; what lies
	// beyond stays open, as recent cases are.
	return l.drain(ctx, loadTo)
}

func sum(m map[string]int) int {
	n := 0
	for _, v := range m {
		n += v
	}
	return n
}

// advance moves the clock to t, never back. It goes a quarter of a
// token's life at a time, renewing the admin's token at each, so that a
// small load with years between its calls still has an admin to renew
// the others' tokens (as).
func (l *loader) advance(ctx context.Context, t time.Time) error {
	for t.After(l.clk.Now()) {
		l.clk.Set(minTime(t, l.clk.Now().Add(loadTokenTTL/4)))
		if err := l.renew(ctx, "admin"); err != nil {
			return err
		}
	}
	return nil
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

// drain does the steps due before t, in time order.
func (l *loader) drain(ctx context.Context, t time.Time) error {
	for len(l.queue) > 0 && !l.queue[0].at.After(t) {
		s := heap.Pop(&l.queue).(loadStep)
		if err := l.advance(ctx, s.at); err != nil {
			return err
		}
		if err := l.step(ctx, s); err != nil {
			return err
		}
	}
	return nil
}

func (l *loader) schedule(c *loadCase, kind string, after time.Duration) {
	l.seq++
	heap.Push(&l.queue, loadStep{at: l.clk.Now().Add(after), seq: l.seq, c: c, kind: kind})
}

// between returns a random duration in [lo, hi).
func (l *loader) between(lo, hi time.Duration) time.Duration {
	return lo + time.Duration(l.rng.Int64N(int64(hi-lo)))
}

// setupStaff creates the loader's admin (the bootstrap token lives only a
// week) and the hotline operators.
func (l *loader) setupStaff(ctx context.Context) error {
	if err := l.ensureUser(ctx, "loader.admin", pb.Role_ROLE_ADMIN, "orgs/system"); err != nil {
		return err
	}
	l.users["admin"] = l.users["loader.admin"]
	for i := 1; i <= 12; i++ {
		if err := l.ensureUser(ctx, fmt.Sprintf("op.%02d", i), pb.Role_ROLE_HOTLINE_OPERATOR, "orgs/hotline-111"); err != nil {
			return err
		}
	}
	for i := 1; i <= 3; i++ {
		if err := l.ensureUser(ctx, fmt.Sprintf("swc.%02d", i), pb.Role_ROLE_HOTLINE_OPERATOR, "orgs/social-work-centre"); err != nil {
			return err
		}
	}
	return nil
}

// as returns a context whose calls act as the user. Tokens are renewed
// once the moving clock has passed half their life (the admin's first, with
// its own token), so that even a small load, with weeks between calls,
// never meets an expired one.
func (l *loader) as(ctx context.Context, id string) (context.Context, error) {
	if l.users[id] == nil {
		return nil, fmt.Errorf("load: no user %s", id)
	}
	if err := l.renew(ctx, "admin"); err != nil {
		return nil, err
	}
	if err := l.renew(ctx, id); err != nil {
		return nil, err
	}
	return withBearer(ctx, l.users[id].token), nil
}

func (l *loader) renew(ctx context.Context, id string) error {
	u := l.users[id]
	if l.clk.Now().Add(loadTokenTTL / 2).Before(u.expires) {
		return nil
	}
	tok, err := l.admin.CreateToken(withBearer(ctx, l.users["admin"].token), &pb.CreateTokenRequest{Parent: "users/" + u.id, Ttl: durationpb.New(loadTokenTTL)})
	if err != nil {
		return fmt.Errorf("load: renew the token of %s: %w", u.id, err)
	}
	u.token, u.expires = tok.GetSecret(), l.clk.Now().Add(loadTokenTTL)
	return nil
}

func withBearer(ctx context.Context, token string) context.Context {
	return metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+token)
}

func (l *loader) ensureUser(ctx context.Context, id string, role pb.Role, unit string) error {
	if l.users[id] != nil {
		return nil
	}
	actx, err := l.as(ctx, "admin")
	if err != nil {
		return err
	}
	resp, err := l.admin.CreateUser(actx, &pb.CreateUserRequest{
		UserId:   id,
		User:     &pb.User{DisplayName: l.personName() + " (" + id + ")", Role: role, Unit: unit, Phone: l.phone()},
		TokenTtl: durationpb.New(loadTokenTTL),
	})
	if err != nil {
		return fmt.Errorf("load: create user %s: %w", id, err)
	}
	l.users[id] = &loadUser{id: id, role: role.String(), unit: unit, token: resp.GetToken().GetSecret(), expires: l.clk.Now().Add(loadTokenTTL)}
	return nil
}

// unitStaff makes sure a commune has a worker and a chair and returns
// their ids.
func (l *loader) unitStaff(ctx context.Context, unit string) (worker, chair string, err error) {
	base := strings.NewReplacer("units/", "", "@", ".", "-", "").Replace(unit)
	worker, chair = "worker."+base, "chair."+base
	if err := l.ensureUser(ctx, worker, pb.Role_ROLE_COMMUNE_WORKER, unit); err != nil {
		return "", "", err
	}
	if err := l.ensureUser(ctx, chair, pb.Role_ROLE_COMMUNE_CHAIR, unit); err != nil {
		return "", "", err
	}
	return worker, chair, nil
}

// policeUnit makes sure a commune has a ward police unit and returns its
// name. It is registered when the commune's first case opens, while the
// commune is in force: a referral comes later, perhaps after a reform
// ended the commune, and the service registers no police unit covering
// a commune out of force.
func (l *loader) policeUnit(ctx context.Context, unit string) (string, error) {
	if name := l.police[unit]; name != "" {
		return name, nil
	}
	id := "ca-" + strings.NewReplacer("units/", "", "@", "-").Replace(unit)
	actx, err := l.as(ctx, "admin")
	if err != nil {
		return "", err
	}
	if _, err := l.admin.CreatePoliceUnit(actx, &pb.CreatePoliceUnitRequest{
		PoliceUnitId: id, PoliceUnit: &pb.PoliceUnit{DisplayName: "Công an " + unit, Covers: []string{unit}},
	}); err != nil {
		return "", fmt.Errorf("load: police unit %s: %w", id, err)
	}
	l.police[unit] = "policeUnits/" + id
	return l.police[unit], nil
}

// policeFor makes sure a commune has a ward police unit and liaison and
// returns the unit's name and the liaison's id.
func (l *loader) policeFor(ctx context.Context, unit string) (string, string, error) {
	name, err := l.policeUnit(ctx, unit)
	if err != nil {
		return "", "", err
	}
	liaison := "police." + strings.NewReplacer("units/", "", "@", ".", "-", ".").Replace(unit)
	if err := l.ensureUser(ctx, liaison, pb.Role_ROLE_POLICE_LIAISON, name); err != nil {
		return "", "", err
	}
	return name, liaison, nil
}

// report records a call received at at.
func (l *loader) report(ctx context.Context, at time.Time, intervention bool) error {
	commune := l.pickCommune(at)
	r := l.reportBody(at, commune.Code, intervention)
	op := fmt.Sprintf("op.%02d", 1+l.rng.IntN(12))
	if l.rng.IntN(10) == 0 {
		op = fmt.Sprintf("swc.%02d", 1+l.rng.IntN(3))
		r.Channel = pb.Channel_CHANNEL_SOCIAL_WORK_CENTRE
	}
	actx, err := l.as(ctx, op)
	if err != nil {
		return err
	}
	created, err := l.reports.CreateReport(actx, &pb.CreateReportRequest{Report: r, RequestId: fmt.Sprintf("load-%d", l.m.Reports+1)})
	if err != nil {
		return fmt.Errorf("load: report %d: %w", l.m.Reports+1, err)
	}
	l.m.Reports++
	if !intervention {
		return nil
	}
	if created.GetCase() == "" {
		return fmt.Errorf("load: the intervention report %s opened no case", created.GetName())
	}
	l.m.Cases++
	unit := created.GetIncidentUnit()
	l.perUnit[unit]++
	c := &loadCase{name: created.GetCase(), unit: unit, depth: l.depth()}
	if r.GetImmediateDanger() {
		c.emergency = pb.EmergencyReason_EMERGENCY_REASON_SERIOUS_HARM
	}
	for _, cg := range r.GetCaregivers() {
		if cg.GetSuspectedAbuser() {
			c.emergency = pb.EmergencyReason_EMERGENCY_REASON_CAREGIVER_IS_ABUSER
		}
	}
	for _, f := range r.GetSuspectedAbuse() {
		c.serious = c.serious || f == pb.AbuseForm_ABUSE_FORM_SEXUAL_ABUSE || f == pb.AbuseForm_ABUSE_FORM_TRAFFICKING ||
			f == pb.AbuseForm_ABUSE_FORM_VIOLENCE_WITH_INJURY
	}
	if _, _, err := l.unitStaff(ctx, unit); err != nil {
		return err
	}
	if _, err := l.policeUnit(ctx, unit); err != nil {
		return err
	}
	if c.depth > 0 {
		// Most communes acknowledge within the day; some miss the 24 hours.
		l.schedule(c, "acknowledge", l.between(30*time.Minute, 30*time.Hour))
	}
	return nil
}

func (l *loader) depth() int {
	x := l.rng.IntN(100)
	for d, w := range depthWeights {
		if x < w {
			return d
		}
		x -= w
	}
	return len(depthWeights) - 1
}

// step does one step on a case and schedules the next.
func (l *loader) step(ctx context.Context, s loadStep) error {
	c := s.c
	l.followReform(c)
	worker, chair, err := l.unitStaff(ctx, c.unit)
	if err != nil {
		return err
	}
	actor := worker
	var call func(ctx context.Context, etag string) (*pb.Case, error)
	next, liaison := "", ""
	var wait time.Duration
	switch s.kind {
	case "acknowledge":
		call = func(ctx context.Context, e string) (*pb.Case, error) {
			return l.steps.AcknowledgeCase(ctx, &pb.AcknowledgeCaseRequest{Name: c.name, Etag: e})
		}
		if c.serious || l.rng.IntN(25) == 0 {
			l.schedule(c, "referToPolice", l.between(10*time.Minute, 3*time.Hour))
		}
		if l.rng.IntN(25) == 0 && c.depth > 1 {
			next, wait = "proposeTransfer", l.between(time.Hour, 48*time.Hour)
		}
	case "initialAssessment":
		req := &pb.RecordInitialAssessmentRequest{Name: c.name,
			HarmSeverity: l.risk(), AbuserAccess: l.risk(), SafetyObstacles: l.risk(), Notes: l.text(1, 4)}
		// An emergency from intake is upheld, or downgraded with a reason
		// as the law's assessment allows.
		if c.emergency != pb.EmergencyReason_EMERGENCY_REASON_UNSPECIFIED {
			if l.rng.IntN(2) == 0 {
				req.Emergency, req.EmergencyReason = true, c.emergency
			} else {
				req.EmergencyDowngradeReason = l.text(1, 2)
			}
		}
		call = func(ctx context.Context, e string) (*pb.Case, error) {
			req.Etag = e
			return l.steps.RecordInitialAssessment(ctx, req)
		}
	case "specificAssessment":
		req := &pb.RecordSpecificAssessmentRequest{Name: c.name,
			Needs: l.text(1, 4), ChildViews: l.text(1, 3), ParentViews: l.text(1, 3), MeetingRecord: l.text(2, 8),
			MeetingTime:  timestamppb.New(l.clk.Now().Add(-2 * time.Hour)),
			MeetingChair: &pb.MeetingAttendee{FullName: "Chủ tịch UBND", Role: "chủ trì"}}
		call = func(ctx context.Context, e string) (*pb.Case, error) {
			req.Etag = e
			return l.steps.RecordSpecificAssessment(ctx, req)
		}
	case "submitPlan":
		req := &pb.SubmitPlanRequest{Name: c.name, Services: l.services()}
		call = func(ctx context.Context, e string) (*pb.Case, error) {
			req.Etag = e
			return l.steps.SubmitPlan(ctx, req)
		}
	case "approvePlan":
		actor = chair
		req := &pb.ApprovePlanRequest{Name: c.name, DecisionNumber: "QĐ/" + c.name, DecisionDate: vntime.DateOf(l.clk.Now()).String()}
		call = func(ctx context.Context, e string) (*pb.Case, error) {
			req.Etag = e
			return l.steps.ApprovePlan(ctx, req)
		}
	case "startReview":
		call = func(ctx context.Context, e string) (*pb.Case, error) {
			return l.steps.StartReview(ctx, &pb.StartReviewRequest{Name: c.name, Etag: e})
		}
	case "recordReview":
		low := pb.RiskLevel_RISK_LEVEL_LOW
		req := &pb.RecordReviewRequest{Name: c.name,
			HarmSeverity: low, AbuserAccess: low, SafetyObstacles: low, Notes: l.text(1, 5), Outcome: "PROPOSE_CLOSURE",
			SelfProtection: "Trẻ biết tìm người giúp đỡ.", Recovery: "Trẻ đã ổn định."}
		call = func(ctx context.Context, e string) (*pb.Case, error) {
			req.Etag = e
			return l.steps.RecordReview(ctx, req)
		}
	case "approveClosure":
		actor = chair
		req := &pb.ApproveClosureRequest{Name: c.name, Reason: "Trẻ đã an toàn và ổn định; " + l.text(1, 2)}
		call = func(ctx context.Context, e string) (*pb.Case, error) {
			req.Etag = e
			return l.steps.ApproveClosure(ctx, req)
		}
	case "proposeTransfer":
		to := l.pickCommune(l.clk.Now())
		toUnit := "units/" + to.Key.String()
		if toUnit == c.unit {
			return l.continueSocial(c) // no other commune to hand it to: carry on
		}
		if _, _, err := l.unitStaff(ctx, toUnit); err != nil {
			return err
		}
		call = func(ctx context.Context, e string) (*pb.Case, error) {
			return l.steps.ProposeTransfer(ctx, &pb.ProposeTransferRequest{Name: c.name, Etag: e, ToUnit: toUnit, Reason: "Gia đình trẻ đã chuyển đến " + to.FullName()})
		}
		next, wait = "decideTransfer:"+toUnit, l.between(2*time.Hour, 60*time.Hour)
	case "referToPolice":
		var police string
		if police, liaison, err = l.policeFor(ctx, c.unit); err != nil {
			return err
		}
		call = func(ctx context.Context, e string) (*pb.Case, error) {
			return l.steps.ReferCaseToPolice(ctx, &pb.ReferCaseToPoliceRequest{Name: c.name, Etag: e, PoliceUnit: police, SuspectedOffence: "Nghi vấn phạm tội theo Điều 146 BLHS"})
		}
	case "policeAcknowledge", "policeForward", "policeOutcome":
		return l.policeStep(ctx, c, s.kind)
	default:
		if toUnit, ok := strings.CutPrefix(s.kind, "decideTransfer:"); ok {
			return l.decideTransfer(ctx, c, toUnit)
		}
		return fmt.Errorf("load: unknown step %q", s.kind)
	}
	ok, err := l.call(ctx, s.kind, actor, c, call)
	if err != nil || !ok {
		return err
	}
	if s.kind == "referToPolice" {
		c.liaison = liaison
		if l.rng.IntN(10) < 9 {
			l.schedule(c, "policeAcknowledge", l.between(2*time.Hour, 30*time.Hour))
		}
		return nil
	}
	if slices.Contains(socialSteps, s.kind) {
		c.done++
	}
	if next != "" {
		l.schedule(c, next, wait)
		return nil
	}
	return l.continueSocial(c)
}

// followReform moves a case to the commune that wholly succeeds its own
// once a reform put that out of force, as the service does
// (process.Engine.FollowReforms); a case of a commune that split stays
// with its staff until the city reassigns it.
func (l *loader) followReform(c *loadCase) {
	k, err := units.ParseKey(strings.TrimPrefix(c.unit, "units/"))
	if err != nil {
		return
	}
	if u, ok := l.reg.Get(k); !ok || u.InForce(vntime.DateOf(l.clk.Now())) {
		return
	}
	if succ, ok := l.reg.Successor(k); ok {
		to := "units/" + succ.String()
		l.perUnit[c.unit]--
		l.perUnit[to]++
		c.unit = to
	}
}

// continueSocial schedules the case's next social step, if its depth
// reaches it.
func (l *loader) continueSocial(c *loadCase) error {
	if c.done >= c.depth || c.done >= len(socialSteps) {
		return nil
	}
	delays := map[string][2]time.Duration{
		"initialAssessment":  {2 * time.Hour, 72 * time.Hour},
		"specificAssessment": {24 * time.Hour, 5 * 24 * time.Hour},
		"submitPlan":         {24 * time.Hour, 8 * 24 * time.Hour},
		"approvePlan":        {2 * time.Hour, 4 * 24 * time.Hour},
		"startReview":        {30 * 24 * time.Hour, 120 * 24 * time.Hour},
		"recordReview":       {24 * time.Hour, 7 * 24 * time.Hour},
		"approveClosure":     {24 * time.Hour, 5 * 24 * time.Hour},
	}
	kind := socialSteps[c.done]
	d := delays[kind]
	l.schedule(c, kind, l.between(d[0], d[1]))
	return nil
}

// decideTransfer: the receiving commune accepts three times in four; the
// case then goes on there, or where it was.
func (l *loader) decideTransfer(ctx context.Context, c *loadCase, toUnit string) error {
	worker, _, err := l.unitStaff(ctx, toUnit)
	if err != nil {
		return err
	}
	accept := l.rng.IntN(4) != 0
	reason := l.text(1, 2)
	kind := "declineTransfer"
	if accept {
		kind = "acceptTransfer"
	}
	ok, err := l.call(ctx, kind, worker, c, func(ctx context.Context, e string) (*pb.Case, error) {
		if accept {
			return l.steps.AcceptTransfer(ctx, &pb.AcceptTransferRequest{Name: c.name, Etag: e})
		}
		return l.steps.DeclineTransfer(ctx, &pb.DeclineTransferRequest{Name: c.name, Etag: e, Reason: reason})
	})
	if err != nil || !ok {
		return err
	}
	if accept {
		l.perUnit[c.unit]--
		l.perUnit[toUnit]++
		c.unit = toUnit
	}
	return l.continueSocial(c)
}

// policeStep: the liaison acknowledges, forwards to the investigators,
// and in time records the outcome; some referrals stop on the way.
func (l *loader) policeStep(ctx context.Context, c *loadCase, kind string) error {
	// The liaison of the police unit the case was referred to, even if
	// the case has moved to another commune since.
	liaison := c.liaison
	// Drawn before the call: a retry must not draw again, or the seed
	// would not make the same work.
	reference := fmt.Sprintf("CA-%06d", l.rng.IntN(1_000_000))
	outcome := []string{"PROSECUTED", "NOT_PROSECUTED", "SUSPENDED"}[l.rng.IntN(3)]
	ok, err := l.call(ctx, kind, liaison, c, func(ctx context.Context, e string) (*pb.Case, error) {
		switch kind {
		case "policeAcknowledge":
			return l.steps.AcknowledgePoliceReferral(ctx, &pb.AcknowledgePoliceReferralRequest{Name: c.name, Etag: e, ReferenceNumber: reference})
		case "policeForward":
			return l.steps.RecordPoliceForwarding(ctx, &pb.RecordPoliceForwardingRequest{Name: c.name, Etag: e, InvestigationAgency: "Cơ quan CSĐT Công an thành phố Hà Nội"})
		}
		return l.steps.RecordPoliceOutcome(ctx, &pb.RecordPoliceOutcomeRequest{Name: c.name, Etag: e, Outcome: outcome})
	})
	if err != nil || !ok {
		return err
	}
	switch {
	case kind == "policeAcknowledge" && l.rng.IntN(10) < 8:
		l.schedule(c, "policeForward", l.between(2*time.Hour, 40*time.Hour))
	case kind == "policeForward" && l.rng.IntN(10) < 6:
		l.schedule(c, "policeOutcome", l.between(5*24*time.Hour, 25*24*time.Hour))
	}
	return nil
}

// maxStepAttempts bounds how often call reads a case again after ABORTED.
const maxStepAttempts = 40

// call makes one step as the actor with the case's etag; f must draw
// nothing from the random source, since it may run more than once. A case the
// scheduler changed meanwhile (ABORTED) is read again and the step
// retried; a step the service refuses (its state does not allow it) is
// counted and ends the case's walk. It reports whether the step was taken.
func (l *loader) call(ctx context.Context, kind, actor string, c *loadCase, f func(context.Context, string) (*pb.Case, error)) (bool, error) {
	actx, err := l.as(ctx, actor)
	if err != nil {
		return false, err
	}
	for attempt := 0; ; attempt++ {
		if c.etag == "" || attempt > 0 {
			got, err := l.cases.GetCase(actx, &pb.GetCaseRequest{Name: c.name})
			if err != nil {
				if status.Code(err) == codes.NotFound {
					l.m.Refused[kind]++
					return false, nil
				}
				return false, fmt.Errorf("load: read %s as %s: %w", c.name, actor, err)
			}
			c.etag = got.GetEtag()
		}
		got, err := f(actx, c.etag)
		switch status.Code(err) {
		case codes.OK:
			c.etag = got.GetEtag()
			l.m.Steps[kind]++
			return true, nil
		case codes.Aborted:
			// The scheduler may be firing the case's deadlines while the
			// clock catches up; on a loaded machine that can take a while.
			if attempt < maxStepAttempts {
				time.Sleep(time.Duration(attempt) * 5 * time.Millisecond)
				continue
			}
		case codes.FailedPrecondition, codes.InvalidArgument, codes.NotFound:
			l.m.Refused[kind]++
			l.cfg.Logger.Debug("load: step refused", "step", kind, "case", c.name, "err", err)
			return false, nil
		}
		return false, fmt.Errorf("load: %s on %s as %s: %w", kind, c.name, actor, err)
	}
}

// finish lets the scheduler catch up with the end of the period, and
// issues the manifest's users fresh tokens.
func (l *loader) finish(ctx context.Context) error {
	if err := l.advance(ctx, loadTo); err != nil {
		return err
	}
	// What fell due by then fires before the manifest is written and the
	// server stops: a sleep let a loaded machine leave some unfired.
	if err := l.settle(ctx); err != nil {
		return err
	}
	l.m.EndTime = l.clk.Now().UTC()
	post := l.eras[len(l.eras)-1].communes
	busy, quiet := "", ""
	for _, u := range post {
		name := "units/" + u.Key.String()
		n := l.perUnit[name]
		if busy == "" || n > l.perUnit[busy] {
			busy = name
		}
		if n > 0 && (quiet == "" || n < l.perUnit[quiet] || (n == l.perUnit[quiet] && quiet > name)) {
			quiet = name
		}
	}
	if quiet == "" {
		return errors.New("load: no case was received after 2025-07-01: load more cases")
	}
	l.m.BusyUnit, l.m.QuietUnit = busy, quiet
	l.m.Users = map[string]LoadUser{}
	named := map[string]string{"admin": "loader.admin", "operator": "op.01"}
	for label, unit := range map[string]string{"busy": busy, "quiet": quiet} {
		w, ch, err := l.unitStaff(ctx, unit)
		if err != nil {
			return err
		}
		named[label+".worker"], named[label+".chair"] = w, ch
	}
	for label, id := range named {
		u := l.users[id]
		u.expires = time.Time{} // a fresh token from the end of the period
		if _, err := l.as(ctx, id); err != nil {
			return err
		}
		l.m.Users[label] = LoadUser{ID: u.id, Role: u.role, Unit: u.unit, Token: u.token}
	}
	return nil
}

func (l *loader) risk() pb.RiskLevel {
	return []pb.RiskLevel{pb.RiskLevel_RISK_LEVEL_LOW, pb.RiskLevel_RISK_LEVEL_LOW, pb.RiskLevel_RISK_LEVEL_MEDIUM, pb.RiskLevel_RISK_LEVEL_HIGH}[l.rng.IntN(4)]
}

func (l *loader) services() []*pb.PlanServiceInput {
	n := 1 + l.rng.IntN(3)
	day := vntime.DateOf(l.clk.Now())
	var out []*pb.PlanServiceInput
	for i := 0; i < n; i++ {
		s := loadServices[l.rng.IntN(len(loadServices))]
		out = append(out, &pb.PlanServiceInput{
			Name: s[0], Owner: s[1], CommuneAssignee: "cán bộ bảo vệ trẻ em", StartDate: day.AddDays(1).String(), ExpectedEndDate: day.AddDays(7 + l.rng.IntN(90)).String(),
			CostEstimateVnd: int64(l.rng.IntN(20)) * 500_000,
		})
	}
	return out
}
