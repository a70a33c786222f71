package boltstore_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/childcase/childcase/internal/domain/access"
	"github.com/childcase/childcase/internal/domain/clock"
	"github.com/childcase/childcase/internal/domain/datastore"
	"github.com/childcase/childcase/internal/domain/intake"
	"github.com/childcase/childcase/internal/domain/model"
	"github.com/childcase/childcase/internal/domain/search"
	"github.com/childcase/childcase/internal/domain/stats"
	"github.com/childcase/childcase/internal/domain/units"
	"github.com/childcase/childcase/internal/domain/vault"
	"github.com/childcase/childcase/internal/domain/vntime"
	"github.com/childcase/childcase/internal/keys"
	"github.com/childcase/childcase/internal/storage/boltstore"
)

// BenchmarkMillion measures, on synthetic databases of the sizes in
// CHILDCASE_BENCH_CASES (the first is the base), the operations that
// decide whether lists, search and statistics stay O(page), O(matches)
// and O(cells) as the city grows to a million cases: a quiet commune's
// page of cases, a busy commune's open-cases queue, four searches, and a
// year of the city's statistics by month and unit. Each operation runs
// on every size in turn in the same loop, and reports its p50 at each
// size and the ratio of each p50 to the base's.
//
//	CHILDCASE_BENCH_DIR=/tmp/bench CHILDCASE_BENCH_CASES=10000,1000000 GOTOOLCHAIN=go1.27.3 \
//	  go test -run '^$' -bench BenchmarkMillion -benchtime 20x -count 3 -timeout 0 ./internal/storage/boltstore/
//
// The databases are built directly in the store, not through the API
// (buildSynthetic says what they hold), and kept under
// CHILDCASE_BENCH_DIR between runs (the database of a million cases
// takes some 4 GB and many minutes to build), under a name that says the
// layout of their search index (v2: the 8-byte tokens of schema version
// 8); without it each run builds them anew in a temporary directory. A run opens them in place, not
// copies: the list rows append their pages' audit events to them, as the
// service does, which leaves them valid and adds a few kilobytes.
func BenchmarkMillion(b *testing.B) {
	sizes := []int{2000, 4000}
	if spec := os.Getenv("CHILDCASE_BENCH_CASES"); spec != "" {
		sizes = nil
		for _, f := range strings.Split(spec, ",") {
			n, err := strconv.Atoi(strings.TrimSpace(f))
			if err != nil || n < synthQuietCases {
				b.Fatalf("CHILDCASE_BENCH_CASES: %q is not a list of case counts of at least %d", spec, synthQuietCases)
			}
			sizes = append(sizes, n)
		}
	}
	dir := os.Getenv("CHILDCASE_BENCH_DIR")
	if dir == "" {
		dir = b.TempDir()
	}
	// A cache directory named for the first time, as the README's
	// command names one, is made here.
	if err := os.MkdirAll(dir, 0o700); err != nil {
		b.Fatal(err)
	}
	reg, err := units.Load()
	if err != nil {
		b.Fatal(err)
	}
	var worlds []*synthWorld
	for _, n := range sizes {
		worlds = append(worlds, openSynthetic(b, reg, dir, n))
	}
	b.Run("row=bytes", func(b *testing.B) {
		for b.Loop() {
		}
		for _, w := range worlds {
			b.ReportMetric(float64(w.Bytes)/float64(w.Cases), fmt.Sprintf("bytes/case@%d", w.Cases))
		}
	})
	ctx := context.Background()
	const page = 50
	// A search row counts, per size, the loops whose candidates held the
	// child it looks for (found@N is their share).
	found := map[*synthWorld]int{}
	look := func(w *synthWorld, r model.Report, want string) error {
		ok, err := w.find(r, want)
		if ok {
			found[w]++
		}
		return err
	}
	for _, op := range []struct {
		name string
		run  func(w *synthWorld) error
	}{
		{"quiet-cases", func(w *synthWorld) error {
			cs, _, err := w.intake.ListCases(ctx, w.quietWorker, datastore.CaseQuery{Limit: page})
			return wantCount(len(cs), page, err)
		}},
		{"busy-queue", func(w *synthWorld) error {
			cs, _, err := w.intake.ListQueue(ctx, w.busyWorker, intake.QueueQuery{Queue: intake.QueueMyUnitOpen, Limit: page})
			return wantCount(len(cs), page, err)
		}},
		{"search-name-variant", func(w *synthWorld) error { return look(w, w.Target.Variant, w.Target.Number) }},
		{"search-name-typo", func(w *synthWorld) error { return look(w, w.Target.Typo, w.Target.Number) }},
		{"search-shared-name", func(w *synthWorld) error {
			return look(w, model.Report{Children: []model.Child{{FullName: "Nguyễn Thị Lan"}}}, "")
		}},
		{"search-phone", func(w *synthWorld) error { return w.mustFind(w.Target.Phone, w.Target.Number) }},
		{"statistics-year", func(w *synthWorld) error {
			res, err := w.stats.Compute(ctx, w.officer, w.year)
			if err == nil && len(res.Groups) == 0 {
				err = errors.New("no groups")
			}
			return err
		}},
	} {
		b.Run("row="+op.name, func(b *testing.B) {
			took := make([][]time.Duration, len(worlds))
			clear(found)
			for b.Loop() {
				for i, w := range worlds {
					start := time.Now()
					err := op.run(w)
					took[i] = append(took[i], time.Since(start))
					if err != nil {
						b.Fatalf("%s at %d cases: %v", op.name, w.Cases, err)
					}
				}
			}
			base := median(took[0])
			for i, w := range worlds {
				p50 := median(took[i])
				b.ReportMetric(float64(p50)/1e6, fmt.Sprintf("p50-ms@%d", w.Cases))
				if i > 0 {
					b.ReportMetric(float64(p50)/float64(base), fmt.Sprintf("ratio@%d", w.Cases))
				}
				if strings.HasPrefix(op.name, "search-name") {
					b.ReportMetric(float64(found[w])/float64(len(took[i])), fmt.Sprintf("found@%d", w.Cases))
				}
			}
		})
	}
}

func wantCount(got, want int, err error) error {
	if err == nil && got != want {
		err = fmt.Errorf("%d cases, want a page of %d", got, want)
	}
	return err
}

func median(ds []time.Duration) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[len(s)/2]
}

// synthManifest is what a build wrote, kept beside the database.
type synthManifest struct {
	Cases   int
	Bytes   int64 // the file's size once built
	Busy    units.Key
	Quiet   units.Key
	Target  synthTarget
	BuiltIn string // how long the build took
}

// synthTarget is a child of the database and the second calls about
// them that the search rows make, as reports (search.CandidatesOf).
type synthTarget struct {
	Number  string
	Variant model.Report // the name without diacritics, given name first, and the birth date
	Typo    model.Report // the given name mistyped, with the birth date and the commune
	Phone   model.Report // a caregiver's phone written another way
}

// synthWorld is an opened copy of a synthetic database and the services
// that the rows call.
type synthWorld struct {
	synthManifest
	store                   *boltstore.Store
	intake                  *intake.Service
	search                  *search.Service
	stats                   *stats.Service
	quietWorker, busyWorker access.Principal
	operator, officer       access.Principal
	year                    stats.Query
}

// close closes the store, once.
func (w *synthWorld) close() {
	if w.store != nil {
		w.store.Close()
		w.store = nil
	}
}

// find runs the search a new report about the child makes at intake (in
// a read transaction: what Search adds is its audit event), and reports
// whether the case want is among the candidates (search.IntakeCandidates
// of them): at a million cases many children share a name, and a newer
// one with as good a score comes first.
func (w *synthWorld) find(r model.Report, want string) (bool, error) {
	var found bool
	err := w.store.View(context.Background(), func(tx datastore.ReadTx) error {
		cs, err := w.search.CandidatesOf(tx, w.operator, r)
		found = slices.ContainsFunc(cs, func(c search.Candidate) bool { return c.Case.Number == want })
		return err
	})
	return found, err
}

// mustFind is find for a search whose child no other shares (a phone).
func (w *synthWorld) mustFind(r model.Report, want string) error {
	found, err := w.find(r, want)
	if err == nil && !found {
		err = fmt.Errorf("%s is not among the candidates", want)
	}
	return err
}

// synthEnd is the day the synthetic period ends and the clock stands.
var synthEnd = time.Date(2026, 12, 1, 0, 0, 0, 0, vntime.Location())

// openSynthetic opens the synthetic database of n cases under dir,
// building it first if dir does not hold it.
func openSynthetic(b testing.TB, reg *units.Registry, dir string, n int) *synthWorld {
	b.Helper()
	path := filepath.Join(dir, fmt.Sprintf("synthetic-%d-v2.db", n))
	if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
		buildSynthetic(b, reg, path, n)
	} else if err != nil {
		b.Fatal(err)
	}
	w := &synthWorld{}
	raw, err := os.ReadFile(path + ".json")
	if err == nil {
		err = json.Unmarshal(raw, &w.synthManifest)
	}
	if err != nil {
		b.Fatalf("manifest of %s: %v", path, err)
	}
	master, err := keys.LoadMaster(path + ".key")
	if err != nil {
		b.Fatal(err)
	}
	if w.store, err = boltstore.Open(path, boltstore.Options{NoSync: true}); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(w.close)
	v, clk, log := vault.New(keys.NewKeyring(master)), clock.NewFake(synthEnd), slog.New(slog.NewTextHandler(io.Discard, nil))
	w.search = search.New(search.Deps{Store: w.store, Units: reg, Vault: v, Clock: clk, Log: log})
	w.intake = intake.New(intake.Deps{Store: w.store, Units: reg, Vault: v, Clock: clk, Log: log, Search: w.search})
	w.stats = stats.New(stats.Deps{Store: w.store, Units: reg, Clock: clk})
	w.quietWorker = access.Principal{UserID: "quiet.worker", Role: model.RoleCommuneWorker, Unit: access.UnitName(w.Quiet)}
	w.busyWorker = access.Principal{UserID: "busy.worker", Role: model.RoleCommuneWorker, Unit: access.UnitName(w.Busy)}
	w.operator = access.Principal{UserID: "op.second", Role: model.RoleHotlineOperator, Unit: model.OrgHotline111}
	city := reg.List(units.Filter{Level: units.LevelCity})[0]
	w.officer = access.Principal{UserID: "city", Role: model.RoleCityOfficer, Unit: access.UnitName(city.Key)}
	w.year = stats.Query{
		From: time.Date(2026, 1, 1, 0, 0, 0, 0, vntime.Location()), To: time.Date(2027, 1, 1, 0, 0, 0, 0, vntime.Location()),
		GroupBy: []stats.Dimension{stats.ByMonth, stats.ByUnit},
	}
	return w
}

// synthQuietCases is how many cases the quiet commune has at every size,
// spread evenly through the database's history, so that its first page is
// full at each size and is the same amount of work.
const synthQuietCases = 100

// synthBatch is how many cases a build writes per transaction.
const synthBatch = 10000

// buildSynthetic writes the database of n cases at path, its master key
// at path.key and its manifest at path.json, as a build of its own under
// a temporary name renamed when done, so that an interrupted or a
// concurrent build never leaves a half-built database under path. It is
// written directly in the store (NoSync, synthBatch cases a transaction),
// not through the API. It holds what intake stores of a case, without
// the sealed parts: the case (a 2026 receive time that grows with the
// case's number, a commune drawn 1/rank over the communes of 2026, the
// one quiet commune aside; closed when old, an open deadline of its
// commune when not) and its report (channel, abuse form, child's age and
// sex), with their indexes and statistics counters, and the case's blind
// search index entry, made by search.Tokens from a plain report with the
// child's, a caregiver's and often the reporter's names and phones, and
// the communes. The postings of that index are written sorted
// (PutSearchPostings), a slice of the token space at a time.
func buildSynthetic(b testing.TB, reg *units.Registry, path string, n int) {
	b.Helper()
	began := time.Now()
	tmp := fmt.Sprintf("%s.build-%d", path, os.Getpid())
	for _, p := range []string{tmp, tmp + ".key"} {
		if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
			b.Fatal(err)
		}
	}
	s, err := boltstore.Open(tmp, boltstore.Options{NoSync: true})
	if err != nil {
		b.Fatal(err)
	}
	master, err := keys.GenerateMaster()
	if err == nil {
		err = keys.WriteMaster(tmp+".key", master)
	}
	if err != nil {
		b.Fatal(err)
	}
	gen := newSynthGen(reg, n)
	ctx := context.Background()
	ids := make([]uint64, n)
	for from := 0; from < n; from += synthBatch {
		to := min(n, from+synthBatch)
		err := s.Update(ctx, func(tx datastore.Tx) error {
			for i := from; i < to; i++ {
				c, r := gen.record(i)
				seq, err := tx.NextCaseSequence(2026)
				if err != nil {
					return err
				}
				c.Number, r.CaseNumber = fmt.Sprintf("HN-2026-%05d", seq), fmt.Sprintf("HN-2026-%05d", seq)
				if err := tx.CreateCase(&c); err != nil {
					return err
				}
				ids[i] = c.ID
				if err := tx.CreateReport(r); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			b.Fatalf("build %d cases: %v", n, err)
		}
	}
	indexSynthetic(b, s, gen, ids, master)
	if err := s.Close(); err != nil {
		b.Fatal(err)
	}
	info, err := os.Stat(tmp)
	if err != nil {
		b.Fatal(err)
	}
	target := gen.target(n / 2)
	target.Number = fmt.Sprintf("HN-2026-%05d", n/2+1)
	m := synthManifest{Cases: n, Bytes: info.Size(), Busy: gen.communes[0], Quiet: gen.quiet, Target: target,
		BuiltIn: time.Since(began).Round(time.Second).String()}
	raw, err := json.MarshalIndent(m, "", " ")
	if err == nil {
		err = os.WriteFile(path+".json", raw, 0o644)
	}
	for _, p := range []string{".key", ""} { // the database last: its presence means built
		if err == nil {
			err = os.Rename(tmp+p, path+p)
		}
	}
	if err != nil {
		b.Fatal(err)
	}
}

// indexSynthetic writes every case's search entry, then the postings of
// a slice of the token space (by the token's first byte) at a time,
// sorted, so that no more than about 200,000 cases' postings are held at
// once; each slice computes the tokens again.
func indexSynthetic(b testing.TB, s *boltstore.Store, gen *synthGen, ids []uint64, master keys.MasterKey) {
	b.Helper()
	ctx := context.Background()
	key := master.IndexKey()
	slicesOfSpace := (len(ids) + 199999) / 200000
	for part := range slicesOfSpace {
		lo, hi := 256*part/slicesOfSpace, 256*(part+1)/slicesOfSpace
		var postings [][]byte
		for from := 0; from < len(ids); from += synthBatch {
			to := min(len(ids), from+synthBatch)
			err := s.Update(ctx, func(tx datastore.Tx) error {
				for i := from; i < to; i++ {
					tokens := search.Tokens(key, gen.reg, gen.report(i))
					if part == 0 {
						err := boltstore.PutSearchEntryAlone(tx, datastore.SearchEntry{CaseID: ids[i], KeyID: search.EntryKeyID(master), Tokens: tokens})
						if err != nil {
							return err
						}
					}
					for _, t := range tokens {
						if int(t[0]) >= lo && int(t[0]) < hi {
							postings = append(postings, boltstore.SearchPostingKey(t, ids[i]))
						}
					}
				}
				return nil
			})
			if err != nil {
				b.Fatalf("search entries: %v", err)
			}
		}
		slices.SortFunc(postings, bytes.Compare)
		for from := 0; from < len(postings); from += 50 * synthBatch {
			chunk := postings[from:min(len(postings), from+50*synthBatch)]
			if err := s.Update(ctx, func(tx datastore.Tx) error { return boltstore.PutSearchPostings(tx, chunk) }); err != nil {
				b.Fatalf("search postings: %v", err)
			}
		}
	}
	err := s.Update(ctx, func(tx datastore.Tx) error { return tx.SetSearchIndexedUnder(search.EntryKeyID(master)) })
	if err != nil {
		b.Fatal(err)
	}
}

// synthGen makes the i-th case of a synthetic database of n cases, the
// same each time it is asked (each case has a random source of its own).
type synthGen struct {
	reg      *units.Registry
	n        int
	communes []units.Key // all but the quiet one, busiest first
	weights  []float64   // cumulative 1/rank
	quiet    units.Key
}

func newSynthGen(reg *units.Registry, n int) *synthGen {
	all := reg.List(units.Filter{Level: units.LevelCommune, AsOf: vntime.Date{Year: 2026, Month: time.January, Day: 1}})
	rng := rand.New(rand.NewPCG(7, 11))
	rng.Shuffle(len(all), func(i, j int) { all[i], all[j] = all[j], all[i] })
	g := &synthGen{reg: reg, n: n, quiet: all[len(all)-1].Key}
	sum := 0.0
	for i, u := range all[:len(all)-1] {
		g.communes = append(g.communes, u.Key)
		sum += 1 / float64(i+1)
		g.weights = append(g.weights, sum)
	}
	return g
}

func (g *synthGen) rng(i int) *rand.Rand { return rand.New(rand.NewPCG(uint64(i), 0x5eed)) }

// commune is where case i happened: the quiet commune for every
// n/synthQuietCases-th case, else one drawn 1/rank.
func (g *synthGen) commune(i int, rng *rand.Rand) units.Key {
	if i%(g.n/synthQuietCases) == 0 {
		return g.quiet
	}
	x := rng.Float64() * g.weights[len(g.weights)-1]
	k, _ := slices.BinarySearch(g.weights, x)
	return g.communes[min(k, len(g.communes)-1)]
}

// receive is when case i was received: through 2026 in the order of the
// cases, a few hours either way.
func (g *synthGen) receive(i int, rng *rand.Rand) time.Time {
	start := time.Date(2026, 1, 1, 8, 0, 0, 0, vntime.Location())
	span := synthEnd.Add(-24 * time.Hour).Sub(start)
	return start.Add(time.Duration(float64(span) * float64(i) / float64(g.n))).Add(time.Duration(rng.IntN(4*3600)) * time.Second)
}

// record returns case i and its report, unnumbered.
func (g *synthGen) record(i int) (model.Case, model.StoredReport) {
	rng := g.rng(i)
	unit, at := g.commune(i, rng), g.receive(i, rng)
	abuse := []model.AbuseForm{model.AbuseForm(1 + rng.IntN(6))}
	children := []model.ChildSummary{{AgeYears: int32(rng.IntN(18)), Sex: model.Sex(1 + rng.IntN(2))}}
	id := fmt.Sprintf("%08x-0000-7000-8000-%012x", i, i) // unique, in the order of the cases
	ack := model.Deadline{ID: 1, Kind: model.DeadlineAcknowledge, Unit: access.UnitName(unit), Start: at, Due: at.Add(24 * time.Hour), State: model.DeadlineMet, DoneTime: at.Add(time.Hour)}
	if rng.IntN(4) == 0 {
		ack.State, ack.DoneTime, ack.MinutesLate = model.DeadlineMissed, at.Add(30*time.Hour), 360
	}
	c := model.Case{
		Status: model.StatusInitialAssessment, ResponsibleUnit: unit, IncidentUnit: unit, Handlers: []units.Key{unit},
		IntakeUsers: []string{"op.first"}, IntakeUnits: []string{model.OrgHotline111},
		ReportIDs: []string{id}, Revision: 1, ReceiveTime: at, CreateTime: at, UpdateTime: at,
		SuspectedAbuse: abuse, Children: children, Deadlines: []model.Deadline{ack},
	}
	if synthEnd.Sub(at) > 60*24*time.Hour && rng.IntN(5) != 0 {
		c.Status = model.StatusClosed
	} else {
		due := at.Add(7 * 24 * time.Hour)
		c.Deadlines = append(c.Deadlines, model.Deadline{ID: 2, Kind: model.DeadlinePlanDraft, Unit: access.UnitName(unit), Start: at, Due: due, State: model.DeadlineOpen, Breached: due.Before(synthEnd)})
	}
	r := model.StoredReport{
		ID: id, CallType: model.CallIntervention, Channel: model.Channel(1 + rng.IntN(5)), IncidentUnit: unit,
		ReceiveTime: at, SuspectedAbuse: abuse, Children: children,
	}
	return c, r
}

// Vietnamese names, the families about as frequent as in the population
// (Nguyễn nearly two in five), the middle names by the child's sex.
var (
	synthFamilies = []string{"Nguyễn", "Nguyễn", "Nguyễn", "Nguyễn", "Nguyễn", "Nguyễn", "Nguyễn", "Nguyễn", "Trần", "Trần", "Lê", "Lê",
		"Phạm", "Phạm", "Hoàng", "Huỳnh", "Phan", "Vũ", "Võ", "Đặng"}
	synthMiddles = [2][]string{{"Văn", "Văn", "Đức", "Minh", "Quốc", "Hữu", "Gia", "Tuấn"}, {"Thị", "Thị", "Ngọc", "Thu", "Hồng", "Thanh", "Phương", "Diệu"}}
	synthGivens  = [2][]string{
		{"An", "Bình", "Cường", "Dũng", "Duy", "Đạt", "Hải", "Hiếu", "Huy", "Hùng", "Khang", "Khoa", "Long", "Minh", "Nam", "Phúc", "Quân", "Quang", "Sơn", "Thắng", "Tiến", "Trí", "Trung", "Tuấn", "Việt", "Khôi", "Lộc"},
		{"Anh", "Châu", "Chi", "Giang", "Hà", "Hân", "Hoa", "Hương", "Lan", "Linh", "Mai", "My", "Ngân", "Ngọc", "Nhung", "Nhi", "Phương", "Thảo", "Thủy", "Trang", "Tú", "Uyên", "Vân", "Vy", "Yến", "Hằng", "Loan"},
	}
)

// person returns case i's child, a caregiver and the reporter (anonymous
// in one case of two), with phones.
func (g *synthGen) person(i int) (child, caregiver []string, childPhone, reporterName, reporterPhone string) {
	rng := rand.New(rand.NewPCG(uint64(i), 0xface))
	sex := rng.IntN(2)
	family := synthFamilies[rng.IntN(len(synthFamilies))]
	child = []string{family, synthMiddles[sex][rng.IntN(len(synthMiddles[sex]))]}
	if rng.IntN(3) == 0 {
		child = append(child, synthMiddles[sex][rng.IntN(len(synthMiddles[sex]))])
	}
	child = append(child, synthGivens[sex][rng.IntN(len(synthGivens[sex]))])
	caregiver = []string{family, synthMiddles[0][rng.IntN(len(synthMiddles[0]))], synthGivens[0][rng.IntN(len(synthGivens[0]))]}
	phone := func() string { return fmt.Sprintf("09%d%07d", rng.IntN(10), rng.IntN(10_000_000)) }
	childPhone = phone()
	if rng.IntN(2) == 0 {
		reporterName = synthFamilies[rng.IntN(len(synthFamilies))] + " Thị " + synthGivens[1][rng.IntN(len(synthGivens[1]))]
		reporterPhone = phone()
	}
	return child, caregiver, childPhone, reporterName, reporterPhone
}

// report is the plain report of case i, as its index entry is made from.
func (g *synthGen) report(i int) model.Report {
	rng := g.rng(i)
	unit, at := g.commune(i, rng), g.receive(i, rng)
	child, caregiver, phone, reporterName, reporterPhone := g.person(i)
	birth := vntime.DateOf(at).AddDays(-(365 + int(uint64(i)*2654435761%uint64(16*365))))
	return model.Report{
		ReceiveTime: at, IncidentUnit: unit,
		Children:   []model.Child{{FullName: strings.Join(child, " "), BirthDate: birth, ResidenceUnit: unit}},
		Caregivers: []model.Caregiver{{FullName: strings.Join(caregiver, " "), Phone: phone[:4] + " " + phone[4:7] + " " + phone[7:]}},
		Reporter:   model.Reporter{Anonymous: reporterName == "", FullName: reporterName, Phone: reporterPhone},
	}
}

// target returns the second calls about case i's child that the search
// rows make.
func (g *synthGen) target(i int) synthTarget {
	r := g.report(i)
	syl := search.Syllables(r.Children[0].FullName)
	n := len(syl)
	swapped := strings.Join(append([]string{syl[n-1]}, syl[:n-1]...), " ")
	typo := slices.Clone(syl)
	typo[n-1] += "h" // the given name mistyped
	phone := strings.ReplaceAll(r.Caregivers[0].Phone, " ", "")
	birth := r.Children[0].BirthDate
	return synthTarget{
		Variant: model.Report{Children: []model.Child{{FullName: search.Fold(swapped), BirthDate: birth}}},
		Typo:    model.Report{IncidentUnit: r.IncidentUnit, Children: []model.Child{{FullName: strings.Join(typo, " "), BirthDate: birth}}},
		Phone:   model.Report{Caregivers: []model.Caregiver{{Phone: "+84 " + phone[1:4] + " " + phone[4:7] + " " + phone[7:]}}},
	}
}

// TestSyntheticDatabase: the database BenchmarkMillion measures is one
// that check accepts (the sorted postings agree with the entries, the
// counters and indexes with the records), its searches find the child
// they look for by the tokens search.Tokens made, and a second open takes
// the built file rather than building it again.
func TestSyntheticDatabase(t *testing.T) {
	const n = 400
	reg, err := units.Load()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	w := openSynthetic(t, reg, dir, n)
	path := filepath.Join(dir, fmt.Sprintf("synthetic-%d-v2.db", n))
	w.close() // check takes the file's lock
	res, err := boltstore.Check(context.Background(), path)
	if err != nil || !res.OK() {
		t.Fatalf("Check = %v, %s", err, problemList(res))
	}
	if res.Cases != n || res.Reports != n {
		t.Errorf("check counted %d cases and %d reports, want %d of each", res.Cases, res.Reports, n)
	}
	built, err := os.Stat(path + ".json") // written by a build only
	if err != nil {
		t.Fatal(err)
	}
	again := openSynthetic(t, reg, dir, n)
	if info, err := os.Stat(path + ".json"); err != nil || !info.ModTime().Equal(built.ModTime()) || again.Target.Number != w.Target.Number {
		t.Errorf("the second open built the database again (%v)", err)
	}
	for name, r := range map[string]model.Report{"variant": again.Target.Variant, "typo": again.Target.Typo, "phone": again.Target.Phone} {
		if err := again.mustFind(r, again.Target.Number); err != nil {
			t.Errorf("search by %s: %v", name, err)
		}
	}
}
