package process_test

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/childcase/childcase/internal/domain/access"
	"github.com/childcase/childcase/internal/domain/datastore"
	"github.com/childcase/childcase/internal/domain/intake"
	"github.com/childcase/childcase/internal/domain/model"
	"github.com/childcase/childcase/internal/domain/process"
	"github.com/childcase/childcase/internal/domain/stats"
	"github.com/childcase/childcase/internal/domain/stats/tally"
	"github.com/childcase/childcase/internal/domain/units"
	"github.com/childcase/childcase/internal/domain/vntime"
)

// A year of cases on real dates (2026: Tết, Reunification Day, National
// Day and their make-up days among them): reports every week in two
// communes, some of them emergencies or suspected crimes; acknowledged in
// time, late after a breach and an escalation, or never; some handed to
// the other commune and accepted or declined, some referred to the police
// with an outcome, some closed. The statistics of the year, for the city
// and for one commune, grouped by month and unit and as one total, agree
// with what the test did and with counts taken from the stored records one
// by one.
func TestStatisticsOfAYearAgreeWithTheRecords(t *testing.T) {
	w := newWorld(t, loadEnv(t))
	defer w.close()
	svc := stats.New(stats.Deps{Store: w.store, Units: w.reg, Vault: w.vault, Clock: w.clk})
	worker, chair, other := principal("worker.badinh"), principal("chair.badinh"), principal("worker.other")
	police := principal("police.badinh")
	hanoi := vntime.Location()
	must := func(c model.Case, err error) model.Case {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	fire := func(at time.Time) {
		t.Helper()
		w.clk.Set(at)
		for {
			n, err := w.eng.FireDue(w.ctx)
			if err != nil {
				t.Fatal(err)
			}
			if n == 0 {
				return
			}
		}
	}

	// What the test did, counted as it went.
	var did struct {
		reports, cases, emergencies, closed, crimeUnreferred, referrals, prosecuted int
		proposed, accepted, declined                                                int
		byMonth                                                                     map[string]int // cases opened
	}
	did.byMonth = map[string]int{}
	day := time.Date(2026, 1, 5, 9, 0, 0, 0, hanoi) // a Monday
	for i := 0; day.Year() == 2026; i, day = i+1, day.AddDate(0, 0, 7) {
		fire(day)
		commune := "00004"
		if i%5 == 3 {
			commune = "00091"
		}
		age := int32(i % 18)
		form := model.AbuseViolence
		if i%4 == 0 {
			form = model.AbuseSexual // a crime for the police
		}
		r := model.Report{
			Channel: model.Channel(1 + i%3), ReceiveTime: day.Add(-30 * time.Minute), CallType: model.CallIntervention,
			Children:  []model.Child{{FullName: "Trẻ " + fmt.Sprint(i), EstimatedAge: &age, Sex: model.Sex(1 + i%2)}},
			Narrative: "trẻ bị xâm hại", SuspectedAbuse: []model.AbuseForm{form},
			ImmediateDanger: i%6 == 2,
			Reporter:        model.Reporter{Anonymous: true},
		}
		if i%3 == 0 {
			r.SpecialCircumstances = []model.SpecialCircumstance{model.CircumstanceHarmedByViolence}
		}
		out, err := w.intake.CreateReport(w.ctx, principal("operator"), intake.CreateReportInput{Report: r, IncidentCommuneCode: commune})
		if err != nil {
			t.Fatalf("report %d on %s: %v", i, day, err)
		}
		did.reports++
		// A counselling call opens no case but is a report.
		if i%8 == 5 {
			r.CallType, r.SuspectedAbuse, r.ImmediateDanger = model.CallCounselling, nil, false
			if _, err := w.intake.CreateReport(w.ctx, principal("operator"), intake.CreateReportInput{Report: r, IncidentCommuneCode: "00004"}); err != nil {
				t.Fatal(err)
			}
			did.reports++
		}
		if out.CaseNumber == "" {
			t.Fatalf("report %d opened no case", i)
		}
		did.cases++
		did.byMonth[fmt.Sprintf("2026-%02d", int(day.Month()))]++
		if r.ImmediateDanger {
			did.emergencies++
		}
		if commune != "00004" {
			continue // the other commune never acts: its clocks run out
		}
		req := func(c model.Case) process.Request {
			return process.Request{Case: "cases/" + out.CaseNumber, Etag: c.Etag()}
		}
		c := must(stored(t, w.store, out.CaseNumber))
		switch i % 3 {
		case 0: // in time
			w.clk.Set(day.Add(10 * time.Minute))
			c = must(w.eng.Acknowledge(w.ctx, worker, req(c)))
		case 1: // late: the clock breaches and escalates first
			fire(day.Add(time.Duration(24+i) * time.Hour)) // later each time: lateness varies
			c = must(stored(t, w.store, out.CaseNumber))
			c = must(w.eng.Acknowledge(w.ctx, worker, req(c)))
		}
		now := w.clk.Now()
		if i%7 == 1 {
			w.clk.Set(now.Add(time.Hour))
			c = must(w.eng.ProposeTransfer(w.ctx, worker, req(c), unitOther, "trẻ chuyển đến nơi ở mới"))
			did.proposed++
			w.clk.Set(now.Add(2 * time.Hour))
			if i%2 == 0 {
				must(w.eng.AcceptTransfer(w.ctx, other, req(c)))
				did.accepted++
				continue // the other commune holds it now
			}
			c = must(w.eng.DeclineTransfer(w.ctx, other, req(c), "trẻ vẫn ở Ba Đình"))
			did.declined++
		}
		referred := false
		if form == model.AbuseSexual && i%8 == 0 {
			w.clk.Set(now.Add(3 * time.Hour))
			c = must(w.eng.ReferToPolice(w.ctx, worker, req(c), policeLocal, "Điều 146"))
			did.referrals++
			referred = true
			w.clk.Set(now.Add(4 * time.Hour))
			// The police step with the etag of their view.
			seen := must(w.eng.AcknowledgePoliceReferral(w.ctx, police, req(access.PoliceView(c, policeLocal)), fmt.Sprintf("CA-%d", i)))
			seen = must(w.eng.RecordPoliceForwarding(w.ctx, police, req(seen), "Cơ quan điều tra", now.Add(4*time.Hour)))
			w.clk.Set(now.Add(5 * time.Hour))
			must(w.eng.RecordPoliceOutcome(w.ctx, police, req(seen), process.PoliceProsecuted))
			did.prosecuted++
			c = must(stored(t, w.store, out.CaseNumber))
		}
		if i%5 == 1 || i%8 == 4 || (referred && i%3 == 0) {
			w.clk.Set(now.Add(6 * time.Hour))
			in := process.Closure{Ground: model.ClosureMovedAway, Reason: "gia đình chuyển đi nơi khác"}
			if form == model.AbuseSexual && !referred {
				in.NoPoliceReferralReason = "gia đình đã chuyển đi, không xác định được nơi ở"
				did.crimeUnreferred++
			}
			must(w.eng.ApproveClosure(w.ctx, chair, req(c), in))
			did.closed++
		}
	}
	asked := time.Date(2027, 1, 11, 9, 0, 0, 0, hanoi)
	fire(asked)

	year := stats.Query{From: time.Date(2026, 1, 1, 0, 0, 0, 0, hanoi), To: time.Date(2027, 1, 1, 0, 0, 0, 0, hanoi)}
	total := func(p string, q stats.Query) stats.Counts {
		t.Helper()
		res, err := svc.Compute(w.ctx, principal(p), q)
		if err != nil {
			t.Fatal(err)
		}
		if len(res.Groups) != 1 {
			t.Fatalf("%s: %d groups without grouping, want 1", p, len(res.Groups))
		}
		return res.Groups[0].Counts
	}
	got := total("city", year)
	want := recount(t, w.store, func(string) bool { return true }, year, asked)
	for _, c := range []struct {
		what      string
		got, want int
	}{
		{"reports", got.Reports, did.reports},
		{"cases opened", got.CasesOpened, did.cases},
		{"cases closed", got.CasesClosed, did.closed},
		{"cases still open", got.CasesStillOpen, did.cases - did.closed},
		{"emergencies", got.Emergencies, did.emergencies},
		{"crime closed without referral", got.CrimeClosedWithoutReferral, did.crimeUnreferred},
		{"police referrals", got.PoliceReferrals, did.referrals},
		{"prosecuted", got.PoliceOutcomes[process.PoliceProsecuted], did.prosecuted},
		{"transfers proposed", got.TransfersProposed, did.proposed},
		{"transfers accepted", got.TransfersAccepted, did.accepted},
		{"transfers declined", got.TransfersDeclined, did.declined},
	} {
		if c.got != c.want {
			t.Errorf("city, 2026: %s = %d, the test made %d", c.what, c.got, c.want)
		}
	}
	if did.closed == 0 || did.crimeUnreferred == 0 || did.accepted == 0 || did.declined == 0 || did.referrals == 0 {
		t.Fatalf("the scenario misses a kind of event: %+v", did)
	}
	compareRecount(t, "city, 2026", got, want)
	if got.Deadlines[model.DeadlineAcknowledge].Missed == 0 || got.Deadlines[model.DeadlineAcknowledge].OverdueNow == 0 || got.Escalations["city"] == 0 {
		t.Errorf("city, 2026: acknowledge %+v, escalations %v: want late, overdue and escalated ones", got.Deadlines[model.DeadlineAcknowledge], got.Escalations)
	}

	// By month: each month's cases opened are the test's.
	year.GroupBy = []stats.Dimension{stats.ByMonth}
	res, err := svc.Compute(w.ctx, principal("city"), year)
	if err != nil {
		t.Fatal(err)
	}
	months := map[string]int{}
	for _, g := range res.Groups {
		months[g.Key[0]] = g.CasesOpened
	}
	for m, n := range did.byMonth {
		if months[m] != n {
			t.Errorf("city, %s: %d cases opened, the test opened %d", m, months[m], n)
		}
	}

	// One commune, as its chair sees it, with the unit named: the cases
	// it is responsible for, and the deadlines it had to meet (those of
	// the cases it handed over too), recounted one by one.
	baDinh, _ := units.ParseKey("00004@2025-07-01")
	year.GroupBy, year.Unit = nil, baDinh
	inBaDinh := func(unit string) bool { return unit == "units/00004@2025-07-01" }
	compareRecount(t, "Ba Đình, 2026", total("chair.badinh", year), recount(t, w.store, inBaDinh, year, asked))

	// Grouped by special-circumstance group (sealed on the case): the
	// groups add up to the cases opened.
	year.Unit, year.GroupBy = units.Key{}, []stats.Dimension{stats.BySpecialCircumstance}
	res, err = svc.Compute(w.ctx, principal("city"), year)
	if err != nil {
		t.Fatal(err)
	}
	harmed := 0
	for _, g := range res.Groups {
		if g.Key[0] == "I_HARMED_BY_VIOLENCE" {
			harmed = g.CasesOpened
		}
	}
	if want := (did.cases + 2) / 3; harmed != want { // every third report, from the first
		t.Errorf("harmed by violence: %d cases, want %d", harmed, want)
	}

	// The city's statistics of whole months read the counters; a period a
	// nanosecond longer, in which nothing happened, is not whole months
	// and is counted from the records. Both say the same, grouped every
	// way the counters are kept.
	longer := stats.Query{From: year.From.Add(-time.Nanosecond), To: year.To}
	for _, by := range [][]stats.Dimension{
		nil, {stats.ByMonth}, {stats.ByUnit}, {stats.ByChannel}, {stats.ByCallType}, {stats.ByAbuseForm}, {stats.BySex},
		{stats.ByAgeBand}, {stats.ByMonth, stats.ByUnit}, {stats.ByChannel, stats.BySex, stats.ByAgeBand},
	} {
		for _, q := range []*stats.Query{&year, &longer} {
			q.Unit, q.GroupBy = units.Key{}, by
		}
		fromCells, err := svc.Compute(w.ctx, principal("city"), year)
		if err != nil {
			t.Fatal(err)
		}
		fromRecords, err := svc.Compute(w.ctx, principal("city"), longer)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(fromCells.Groups, fromRecords.Groups) {
			t.Errorf("grouped by %v, the counters say\n%s\nthe records\n%s", by, groupsString(fromCells.Groups), groupsString(fromRecords.Groups))
		}
	}

	// The city's statistics of a period of days that are not whole
	// months (such as 15 March to 20 October) come from the counters
	// too: the months between from the monthly cells, the days at either
	// end from the daily ones. A service over a store that refuses to
	// list the records answers them, and agrees with the recount and,
	// grouped every way the counters are kept, with the records counted
	// for the same period a nanosecond longer (in which nothing happened).
	fromCounters := stats.New(stats.Deps{Store: countersOnly{w.store}, Units: w.reg, Vault: w.vault, Clock: w.clk})
	on := func(m time.Month, d int) time.Time { return time.Date(2026, m, d, 0, 0, 0, 0, hanoi) }
	for _, days := range []stats.Query{
		{From: on(time.March, 15), To: on(time.October, 21)},  // days, months, days
		{From: on(time.January, 1), To: on(time.October, 21)}, // months, days
		{From: on(time.March, 15), To: year.To},               // days, months
		{From: on(time.March, 15), To: on(time.April, 10)},    // days of two months
		{From: on(time.April, 30), To: on(time.May, 2)},       // Reunification Day and Labour Day
	} {
		for _, by := range [][]stats.Dimension{
			nil, {stats.ByMonth}, {stats.ByUnit}, {stats.ByMonth, stats.ByUnit}, {stats.ByChannel}, {stats.ByCallType},
			{stats.ByMonth, stats.ByAbuseForm}, {stats.ByUnit, stats.BySex, stats.ByAgeBand},
		} {
			days.GroupBy = by
			period := fmt.Sprintf("%s to %s by %v", days.From.Format(time.DateOnly), days.To.Format(time.DateOnly), by)
			got, err := fromCounters.Compute(w.ctx, principal("city"), days)
			if err != nil {
				t.Fatalf("%s, from the counters alone: %v", period, err)
			}
			longer := days
			longer.From = longer.From.Add(-time.Nanosecond)
			want, err := svc.Compute(w.ctx, principal("city"), longer)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got.Groups, want.Groups) {
				t.Errorf("%s, the counters say\n%s\nthe records\n%s", period, groupsString(got.Groups), groupsString(want.Groups))
			}
			if by == nil {
				compareRecount(t, "city, "+period, got.Groups[0].Counts, recount(t, w.store, func(string) bool { return true }, days, asked))
			}
		}
	}

	// The police are refused; another commune asking for Ba Đình is
	// answered as if there were no such unit, not with empty counts.
	if _, err := svc.Compute(w.ctx, principal("police.badinh"), year); err == nil {
		t.Error("the police read statistics")
	}
	if res, err := svc.Compute(w.ctx, principal("worker.other"), stats.Query{From: year.From, To: year.To, Unit: baDinh}); !errors.Is(err, model.ErrNotFound) {
		t.Errorf("the other commune asking for Ba Đình: %v, %v, want not found", res, err)
	}
}

// countersOnly is a store whose read transactions refuse to list reports
// or cases: what a service over it answers, it read from the counters.
type countersOnly struct{ datastore.Store }

func (s countersOnly) View(ctx context.Context, fn func(datastore.ReadTx) error) error {
	return s.Store.View(ctx, func(tx datastore.ReadTx) error { return fn(noLists{tx}) })
}

type noLists struct{ datastore.ReadTx }

var errListed = errors.New("the records were listed")

func (noLists) ListReports(datastore.ReportQuery) ([]model.StoredReport, string, error) {
	return nil, "", errListed
}

func (noLists) ListCases(datastore.CaseQuery) ([]model.Case, string, error) {
	return nil, "", errListed
}

func groupsString(gs []stats.Group) string {
	var b strings.Builder
	for _, g := range gs {
		fmt.Fprintf(&b, "  %q %+v", g.Key, g.Counts)
		for k, d := range g.Deadlines {
			fmt.Fprintf(&b, " %s%+v", k, *d)
		}
		b.WriteString("\n")
	}
	return b.String()
}

// recount counts, one stored case at a time, what the statistics count in
// the period under the units keep selects, as the documentation of
// stats.Counts defines it: a case's opening and closure under its
// responsible unit, a deadline and its escalations under the unit that
// had to meet it (a police unit's under the case's unit).
func recount(t checker, store datastore.Store, keep func(unit string) bool, q stats.Query, now time.Time) stats.Counts {
	t.Helper()
	in := func(at time.Time) bool { return !at.Before(q.From) && at.Before(q.To) }
	want := stats.Counts{Deadlines: map[model.DeadlineKind]*stats.DeadlineCounts{}, Escalations: map[string]int{}}
	late := map[model.DeadlineKind][]int64{}
	err := store.View(context.Background(), func(tx datastore.ReadTx) error {
		for id := uint64(1); ; id++ {
			c, err := tx.CaseByID(id)
			if err != nil {
				return nil // ids are dense: the first missing one ends the cases
			}
			caseUnit := "units/" + c.ResponsibleUnit.String()
			if keep(caseUnit) && in(c.ReceiveTime) {
				want.CasesOpened++
			}
			if keep(caseUnit) && c.Status == model.StatusClosed && in(c.CloseTime) {
				want.CasesClosed++
			}
			for _, d := range c.Deadlines {
				unit := d.Unit
				if !strings.HasPrefix(unit, "units/") {
					unit = caseUnit // a police unit's deadline counts under the case's
				}
				if !keep(unit) {
					continue
				}
				dc := want.Deadlines[d.Kind]
				if dc == nil {
					dc = &stats.DeadlineCounts{}
					want.Deadlines[d.Kind] = dc
				}
				switch {
				case d.State == model.DeadlineMet && in(d.DoneTime):
					dc.Met++
				case d.State == model.DeadlineMissed && in(d.DoneTime):
					dc.Missed++
					late[d.Kind] = append(late[d.Kind], d.MinutesLate)
				case d.Open() && d.Due.Before(now) && in(d.Due):
					dc.OverdueNow++
				}
				for _, e := range d.Escalations {
					if in(e.Time) && e.To == unitCity {
						want.Escalations["city"]++
					}
				}
			}
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	// The counters keep lateness by bucket (a bounded room per cell
	// however many were late): a percentile is the exact nearest-rank
	// value rounded down to its bucket's resolution, as documented on
	// stats.DeadlineCounts.
	for kind, l := range late {
		slices.Sort(l)
		want.Deadlines[kind].MedianMinutesLate = tally.LateFloor(l[(len(l)+1)/2-1])
		want.Deadlines[kind].P90MinutesLate = tally.LateFloor(l[(9*len(l)+9)/10-1])
	}
	return want
}

// checker is a *testing.T or a *rapid.T.
type checker interface {
	Helper()
	Fatal(args ...any)
	Fatalf(format string, args ...any)
	Errorf(format string, args ...any)
}

// compareRecount fails where the statistics differ from the recount.
func compareRecount(t checker, who string, got, want stats.Counts) {
	t.Helper()
	if got.CasesOpened != want.CasesOpened || got.CasesClosed != want.CasesClosed {
		t.Errorf("%s: opened %d closed %d, the records say %d and %d", who, got.CasesOpened, got.CasesClosed, want.CasesOpened, want.CasesClosed)
	}
	for kind, w := range want.Deadlines {
		g := got.Deadlines[kind]
		if w.Met+w.Missed+w.OverdueNow == 0 {
			continue
		}
		if g == nil || g.Met != w.Met || g.Missed != w.Missed || g.OverdueNow != w.OverdueNow ||
			g.MedianMinutesLate != w.MedianMinutesLate || g.P90MinutesLate != w.P90MinutesLate {
			t.Errorf("%s: %s %+v, the records say %+v", who, kind, g, w)
		}
	}
	if got.Escalations["city"] != want.Escalations["city"] {
		t.Errorf("%s: %d escalations to the city, the records say %d", who, got.Escalations["city"], want.Escalations["city"])
	}
}

// stored returns the case as the store keeps it, for its etag.
func stored(t *testing.T, store datastore.Store, number string) (c model.Case, err error) {
	t.Helper()
	err = store.View(t.Context(), func(tx datastore.ReadTx) error {
		c, err = tx.CaseByNumber(number)
		return err
	})
	return c, err
}

// A case of 2025 in a ward that went wholly into Phường Ba Đình on 1 July
// 2025 counts for Ba Đình only with the mapping across the reform, and a
// case of a ward that went only partly into it does not count even then.
func TestStatisticsFollowTheReformMapping(t *testing.T) {
	w := newWorld(t, loadEnv(t))
	defer w.close()
	svc := stats.New(stats.Deps{Store: w.store, Units: w.reg, Vault: w.vault, Clock: w.clk})
	baDinh, _ := units.ParseKey("00004@2025-07-01")
	var whole, part string
	for _, l := range w.reg.Predecessors(baDinh) {
		if l.Full && whole == "" {
			whole = l.From.Code
		}
		if !l.Full && part == "" {
			part = l.From.Code
		}
	}
	if whole == "" || part == "" {
		t.Fatalf("Ba Đình's predecessors %v: want one whole and one partial", w.reg.Predecessors(baDinh))
	}
	receive := time.Date(2025, 5, 19, 9, 0, 0, 0, vntime.Location()) // a Monday
	w.clk.Set(receive.Add(time.Minute))
	age := int32(7)
	for _, code := range []string{whole, part} {
		_, err := w.intake.CreateReport(w.ctx, principal("operator"), intake.CreateReportInput{
			Report: model.Report{
				Channel: model.ChannelHotline111, ReceiveTime: receive, CallType: model.CallIntervention,
				Children:  []model.Child{{FullName: "Trẻ", EstimatedAge: &age, Sex: model.SexMale}},
				Narrative: "trẻ bị bỏ mặc", SuspectedAbuse: []model.AbuseForm{model.AbuseNeglect}, Reporter: model.Reporter{Anonymous: true},
			},
			IncidentCommuneCode: code,
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	q := stats.Query{Unit: baDinh, From: time.Date(2025, 1, 1, 0, 0, 0, 0, vntime.Location()), To: time.Date(2026, 1, 1, 0, 0, 0, 0, vntime.Location())}
	opened := func(q stats.Query) int {
		t.Helper()
		res, err := svc.Compute(w.ctx, principal("city"), q)
		if err != nil {
			t.Fatal(err)
		}
		return res.Groups[0].CasesOpened
	}
	if n := opened(q); n != 0 {
		t.Errorf("Ba Đình without the mapping: %d cases of 2025, want 0", n)
	}
	q.Mapped = true
	if n := opened(q); n != 1 {
		t.Errorf("Ba Đình with the mapping: %d cases of 2025, want 1 (the wholly merged ward's)", n)
	}
}

// A deadline that is open and not yet due has not happened: it makes no
// deadline count and no group of its month, whether the counters or the
// records answer (a commune's chair is answered from the records), just
// as none is made for a kind that has nothing to count.
func TestStatisticsCountNothingForADeadlineNotYetDue(t *testing.T) {
	w := newWorld(t, loadEnv(t))
	defer w.close()
	svc := stats.New(stats.Deps{Store: w.store, Units: w.reg, Vault: w.vault, Clock: w.clk})
	hanoi := vntime.Location()
	// A Saturday night: its deadlines fall due in February, after now.
	receive := time.Date(2026, 1, 31, 22, 0, 0, 0, hanoi)
	w.clk.Set(receive.Add(30 * time.Minute))
	age := int32(9)
	_, err := w.intake.CreateReport(w.ctx, principal("operator"), intake.CreateReportInput{
		Report: model.Report{
			Channel: model.ChannelHotline111, ReceiveTime: receive, CallType: model.CallIntervention,
			Children:  []model.Child{{FullName: "Trẻ", EstimatedAge: &age, Sex: model.SexMale}},
			Narrative: "trẻ bị bỏ mặc", SuspectedAbuse: []model.AbuseForm{model.AbuseNeglect}, Reporter: model.Reporter{Anonymous: true},
		},
		IncidentCommuneCode: "00004",
	})
	if err != nil {
		t.Fatal(err)
	}
	year := stats.Query{From: time.Date(2026, 1, 1, 0, 0, 0, 0, hanoi), To: time.Date(2027, 1, 1, 0, 0, 0, 0, hanoi)}
	for _, who := range []string{"city", "chair.badinh"} {
		for _, by := range [][]stats.Dimension{nil, {stats.ByMonth}, {stats.ByMonth, stats.ByAbuseForm}} {
			year.GroupBy = by
			res, err := svc.Compute(w.ctx, principal(who), year)
			if err != nil {
				t.Fatal(err)
			}
			if len(res.Groups) != 1 || res.Groups[0].CasesOpened != 1 || len(res.Groups[0].Deadlines) != 0 {
				t.Errorf("%s, by %v: %s\nwant one group, its case opened, no deadline counted", who, by, groupsString(res.Groups))
			}
		}
	}
}
