package process_test

import (
	"fmt"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
	"time"

	"pgregory.net/rapid"

	"github.com/childcase/childcase/internal/domain/datastore"
	"github.com/childcase/childcase/internal/domain/model"
	"github.com/childcase/childcase/internal/domain/process"
	"github.com/childcase/childcase/internal/domain/stats"
	"github.com/childcase/childcase/internal/domain/units"
	"github.com/childcase/childcase/internal/domain/vntime"
)

// After a random run of the process (steps, breaches and escalations,
// hand-overs accepted and declined, reports joining cases, closures and
// reopenings, on the injected clock), the statistics a supervisor reads,
// by month and unit, are what the cases themselves give: the city's from
// the counters, the same from the records (a period a nanosecond longer),
// and each month and unit against a recount from the stored cases, as
// the README defines the counts (recount), every month and unit that any
// case names, so that a count the statistics leave out fails as one they
// add does.
func TestPropertyStatisticsAgreeWithTheCases(t *testing.T) {
	env := loadEnv(t)
	setRapidDefaults(map[string]string{
		"rapid.shrinktime": "10s",
		"rapid.nofailfile": "true",
		"rapid.steps":      "40",
	})
	rapid.Check(t, func(rt *rapid.T) {
		w := newWorld(rt, env)
		defer w.close()
		w.run(rt)
		w.checkStatistics(rt, start)
	})
}

// checkStatistics compares the statistics of the run's months, by month
// and unit, from the counters, from the records and from a recount.
func (w *world) checkStatistics(t checker, since time.Time) {
	t.Helper()
	hanoi := vntime.Location()
	now := w.clk.Now()
	first := time.Date(since.Year(), since.Month(), 1, 0, 0, 0, 0, hanoi)
	end := time.Date(now.In(hanoi).Year(), now.In(hanoi).Month()+1, 1, 0, 0, 0, 0, hanoi)
	q := stats.Query{From: first, To: end, GroupBy: []stats.Dimension{stats.ByMonth, stats.ByUnit}}
	fromCounters := stats.New(stats.Deps{Store: countersOnly{w.store}, Units: w.reg, Vault: w.vault, Clock: w.clk})
	svc := stats.New(stats.Deps{Store: w.store, Units: w.reg, Vault: w.vault, Clock: w.clk})
	cells, err := fromCounters.Compute(w.ctx, principal("city"), q)
	if err != nil {
		t.Fatalf("the city's statistics from the counters: %v", err)
	}
	longer := q
	longer.From = longer.From.Add(-time.Nanosecond)
	records, err := svc.Compute(w.ctx, principal("city"), longer)
	if err != nil {
		t.Fatalf("the city's statistics from the records: %v", err)
	}
	if !reflect.DeepEqual(cells.Groups, records.Groups) {
		t.Fatalf("by month and unit, the counters say\n%s\nthe records\n%s", groupsString(cells.Groups), groupsString(records.Groups))
	}
	byKey := map[[2]string]stats.Counts{}
	for _, g := range cells.Groups {
		byKey[[2]string{g.Key[0], g.Key[1]}] = g.Counts
	}
	for month := first; month.Before(end); month = month.AddDate(0, 1, 0) {
		for _, unit := range w.unitsNamed(t) {
			key := [2]string{month.Format("2006-01"), strings.TrimPrefix(unit, "units/")}
			mq := stats.Query{From: month, To: month.AddDate(0, 1, 0)}
			want := recount(t, w.store, func(u string) bool { return u == unit }, mq, now)
			got, ok := byKey[key]
			if !ok {
				got = stats.Counts{Deadlines: map[model.DeadlineKind]*stats.DeadlineCounts{}, Escalations: map[string]int{}}
			}
			compareRecount(t, fmt.Sprintf("%s %s", key[0], key[1]), got, want)
		}
	}
}

// unitsNamed are the units the stored cases name as responsible or as
// owing a deadline: every unit a count may fall under.
func (w *world) unitsNamed(t checker) []string {
	seen := map[string]bool{}
	var out []string
	add := func(u string) {
		if strings.HasPrefix(u, "units/") && !seen[u] {
			seen[u] = true
			out = append(out, u)
		}
	}
	err := w.store.View(w.ctx, func(tx datastore.ReadTx) error {
		for id := uint64(1); ; id++ {
			c, err := tx.CaseByID(id)
			if err != nil {
				return nil // ids are dense: the first missing one ends the cases
			}
			add("units/" + c.ResponsibleUnit.String())
			for _, d := range c.Deadlines {
				add(d.Unit)
			}
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// Across the 2025 reform: cases of June 2025 in the communes of the
// 2025-01-01 set that went wholly into Phường Ba Đình, some breached and
// escalated to the district before 1 July, the rest acknowledged late
// or in time by Ba Đình, which succeeds them, after the reform; some
// merged into another, reports joining some. Each run, from its seed,
// agrees with the cases as TestPropertyStatisticsAgreeWithTheCases asks;
// and the mapping adds up: Ba Đình with include_mapped counts what
// Ba Đình and the communes it wholly succeeds count apart.
func TestStatisticsAcrossTheReformAgreeWithTheCases(t *testing.T) {
	for seed := range uint64(12) {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			r := rand.New(rand.NewPCG(seed, 2025))
			from := in2025(6, 20, 9, 0)
			w := newWorldAt(t, loadEnv(t), from)
			defer w.close()
			// The communes that went wholly into Ba Đình, whose chair
			// takes their cases on after the reform.
			baDinh, _ := units.ParseKey("00004@2025-07-01")
			var codes []string
			for _, l := range w.reg.Predecessors(baDinh) {
				if l.Full && l.From.ValidFrom.Year == 2025 {
					codes = append(codes, l.From.Code)
				}
			}
			if len(codes) == 0 {
				t.Fatalf("Ba Đình's predecessors %v: want a whole one of 2025", w.reg.Predecessors(baDinh))
			}
			var open []model.Case
			for i := range 4 + r.IntN(5) {
				at := from.Add(time.Duration(i*r.IntN(30)) * time.Hour)
				w.clk.Set(at.Add(time.Minute))
				code := codes[r.IntN(len(codes))]
				c := w.reportIn(t, code, at, r.IntN(4) == 0, model.AbuseNeglect, "")
				if len(open) > 0 && r.IntN(3) == 0 {
					w.reportIn(t, code, at, false, model.AbuseViolence, "cases/"+open[r.IntN(len(open))].Number)
				}
				open = append(open, c)
				if _, err := w.eng.FireDue(w.ctx); err != nil {
					t.Fatal(err)
				}
			}
			// Through the reform: the cases follow their communes'
			// successors.
			for _, at := range []time.Time{in2025(6, 30, 20, 0), in2025(7, 1, 0, 30), in2025(7, 1, 9, 0)} {
				w.clk.Set(at)
				if _, err := w.eng.FireDue(w.ctx); err != nil {
					t.Fatal(err)
				}
				if _, err := w.eng.FollowReforms(w.ctx); err != nil {
					t.Fatal(err)
				}
			}
			chair := principal("chair.badinh")
			var live []string
			for _, c := range open {
				c, err := stored(t, w.store, c.Number)
				if err != nil {
					t.Fatal(err)
				}
				w.clk.Set(w.clk.Now().Add(time.Duration(r.IntN(20)) * time.Hour))
				if r.IntN(3) > 0 && c.Status == model.StatusAwaitingAcknowledgement {
					if _, err := w.eng.Acknowledge(w.ctx, chair, process.Request{Case: "cases/" + c.Number, Etag: c.Etag()}); err != nil {
						t.Logf("acknowledge %s (%s): %v", c.Number, c.ResponsibleUnit, err)
					}
				}
				if _, err := w.eng.FireDue(w.ctx); err != nil {
					t.Fatal(err)
				}
				live = append(live, c.Number)
			}
			if len(live) >= 2 && r.IntN(2) == 0 {
				s, err := stored(t, w.store, live[0])
				if err != nil {
					t.Fatal(err)
				}
				a, err := stored(t, w.store, live[1])
				if err != nil {
					t.Fatal(err)
				}
				in := process.Merge{Absorbed: "cases/" + a.Number, AbsorbedEtag: a.Etag(), Reason: "cùng một trẻ"}
				if _, err := w.eng.MergeCase(w.ctx, chair, process.Request{Case: "cases/" + s.Number, Etag: s.Etag()}, in); err != nil {
					t.Logf("merge %s into %s: %v", a.Number, s.Number, err)
				}
			}
			w.clk.Set(w.clk.Now().Add(time.Duration(24+r.IntN(24*20)) * time.Hour))
			if _, err := w.eng.FireDue(w.ctx); err != nil {
				t.Fatal(err)
			}
			w.checkStatistics(t, from)
			w.checkMappingAddsUp(t, from)
		})
	}
}

// checkMappingAddsUp: Ba Đình's statistics with the mapping are those of
// Ba Đình and of each commune it wholly succeeds, added.
func (w *world) checkMappingAddsUp(t *testing.T, since time.Time) {
	t.Helper()
	svc := stats.New(stats.Deps{Store: w.store, Units: w.reg, Vault: w.vault, Clock: w.clk})
	baDinh, _ := units.ParseKey("00004@2025-07-01")
	q := stats.Query{From: time.Date(since.Year(), 1, 1, 0, 0, 0, 0, vntime.Location()), To: time.Date(since.Year()+2, 1, 1, 0, 0, 0, 0, vntime.Location())}
	count := func(unit units.Key, mapped bool) stats.Counts {
		t.Helper()
		q := q
		q.Unit, q.Mapped = unit, mapped
		res, err := svc.Compute(w.ctx, principal("city"), q)
		if err != nil {
			t.Fatal(err)
		}
		if len(res.Groups) == 0 {
			return stats.Counts{}
		}
		return res.Groups[0].Counts
	}
	got := count(baDinh, true)
	want := count(baDinh, false)
	for _, l := range w.reg.Predecessors(baDinh) {
		if !l.Full {
			continue
		}
		c := count(l.From, false)
		want.Reports += c.Reports
		want.CasesOpened += c.CasesOpened
		want.CasesClosed += c.CasesClosed
	}
	if got.Reports != want.Reports || got.CasesOpened != want.CasesOpened || got.CasesClosed != want.CasesClosed {
		t.Errorf("Ba Đình with the mapping: %d reports, %d cases opened, %d closed; Ba Đình and the communes it wholly succeeds add up to %d, %d, %d",
			got.Reports, got.CasesOpened, got.CasesClosed, want.Reports, want.CasesOpened, want.CasesClosed)
	}
}
