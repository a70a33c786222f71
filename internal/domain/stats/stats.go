// Package stats counts what the records say, for the statistics API and the
// reports units file (issue 13): reports, cases opened, closed and still
// open, deadlines met and missed with their lateness, escalations,
// transfers, police referrals, crime-type closures without a referral and
// emergencies, for a unit and its children, over a period, grouped by any
// of its dimensions.
//
// Whoever sees every case (the city) is answered from the counters storage
// keeps with the records (package tally), for a period of whole days (the
// whole months in it from the monthly cells, the days at its ends from
// the daily ones): the cost follows the cells of the period (months, days
// at the ends, units and the combinations of the grouped dimensions
// present) and the deadlines still open in it, not the cases. Any other
// question (a scope narrower than the city's, or a grouping by the sealed
// special-circumstance group) is computed from the records in scope at
// the time of asking, through the scope index the case list reads. Both count each case's events as tally.CaseEvents
// defines them, inside one read transaction, and give the same numbers.
// The special-circumstance groups of a case are sealed; they are opened in
// memory only when that grouping is asked for, and only counts leave the
// package. It must not write anything but the audit event of the read,
// and must not return case numbers or any personal data.
package stats

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/childcase/childcase/internal/domain/access"
	"github.com/childcase/childcase/internal/domain/audit"
	"github.com/childcase/childcase/internal/domain/auditlog"
	"github.com/childcase/childcase/internal/domain/clock"
	"github.com/childcase/childcase/internal/domain/datastore"
	"github.com/childcase/childcase/internal/domain/model"
	"github.com/childcase/childcase/internal/domain/stats/tally"
	"github.com/childcase/childcase/internal/domain/units"
	"github.com/childcase/childcase/internal/domain/vault"
	"github.com/childcase/childcase/internal/domain/vntime"
)

// Method is the row of the access table that statistics are read under.
const Method = "StatisticsService/GetStatistics"

// Dimension is what counts can be grouped by.
type Dimension string

// Dimensions. A record with several values of a dimension (a case with two
// forms of abuse, or two children) counts once in each of their groups, so
// the groups of such a dimension may add up to more than the total.
const (
	ByMonth               Dimension = "month"                // "2026-06", Vietnam time, of the event counted
	ByUnit                Dimension = "unit"                 // the case's responsible unit; a report's incident commune; a deadline's unit; a transfer's proposer (tally.CaseEvents)
	ByChannel             Dimension = "channel"              // a case takes its first report's
	ByCallType            Dimension = "call_type"            // a case takes its first report's
	ByAbuseForm           Dimension = "abuse_form"           // the suspected forms of abuse
	BySpecialCircumstance Dimension = "special_circumstance" // the groups of Child Law Art. 10
	BySex                 Dimension = "sex"                  // of each child
	ByAgeBand             Dimension = "age_band"             // of each child on the day of the report
)

// Dimensions lists every dimension, in the order a group's key names them.
var Dimensions = []Dimension{ByMonth, ByUnit, ByChannel, ByCallType, ByAbuseForm, BySpecialCircumstance, BySex, ByAgeBand}

// Query selects what to count.
type Query struct {
	// Unit, if set, counts only the records of this unit and the units
	// under it (every version of them); zero counts all the caller sees.
	Unit units.Key
	// Mapped adds, for each commune counted, the communes of before the
	// 2025 reform that went wholly into it (a partial link is not
	// followed: it does not say which records went where).
	Mapped bool
	// From and To bound the period, [From, To): an event counts when it
	// happened in it.
	From, To time.Time
	// GroupBy are the dimensions to group by; none gives one total.
	GroupBy []Dimension
}

// DeadlineCounts are the counts of one deadline kind.
type DeadlineCounts struct {
	Met    int // done in time in the period
	Missed int // done late in the period
	// OverdueNow are the deadlines due in the period, still open and past
	// due at the time of asking.
	OverdueNow int
	// MedianMinutesLate and P90MinutesLate are the median and 90th
	// percentile (nearest rank) of the lateness of the missed deadlines,
	// rounded down to the resolution the counters keep it at
	// (tally.LateFloor: to the minute below an hour, then within 1/32 of
	// the value); 0 when none was missed.
	MedianMinutesLate int64
	P90MinutesLate    int64

	late map[int]int64 // by tally.LateBucket
}

// Counts are the numbers of one group.
type Counts struct {
	Reports     int // reports received in the period
	CasesOpened int // cases whose information was received in the period
	CasesClosed int // cases closed in the period
	// CasesStillOpen are the cases opened in the period that are not
	// closed at the time of asking.
	CasesStillOpen int
	Deadlines      map[model.DeadlineKind]*DeadlineCounts
	// Escalations by the level of the unit escalated to ("district",
	// "city", or "police" for the city police), in the period.
	Escalations       map[string]int
	TransfersProposed int
	TransfersAccepted int // decided in the period
	TransfersDeclined int // decided in the period
	PoliceReferrals   int
	// PoliceOutcomes by outcome (PROSECUTED, NOT_PROSECUTED, SUSPENDED),
	// decided in the period.
	PoliceOutcomes map[string]int
	// CrimeClosedWithoutReferral are the closures in the period of cases
	// of a suspected crime (model.CrimeSuspected) never referred to the
	// police. A case merged into another is none: it goes on in the
	// survivor.
	CrimeClosedWithoutReferral int
	// Emergencies are the emergency cases opened in the period, and
	// EmergencyD3 their D3 deadlines by state (MET, MISSED, OPEN,
	// CANCELLED), OVERDUE for an open one past due.
	Emergencies int
	EmergencyD3 map[string]int
	// LateRecordings are the records of emergency measures, of a
	// separation or of a police forwarding made in the period later than
	// the policy's late_recording after the time they give, under the
	// unit that recorded them, a police unit's under the case's
	// responsible unit (tally.CaseEvents).
	LateRecordings int
}

// AcceptedRate is the share of the transfers decided in the period that
// were accepted, 0 when none was decided.
func (c Counts) AcceptedRate() float64 {
	if n := c.TransfersAccepted + c.TransfersDeclined; n > 0 {
		return float64(c.TransfersAccepted) / float64(n)
	}
	return 0
}

// DeclinedRate is the share of the decided transfers that were declined.
func (c Counts) DeclinedRate() float64 {
	if n := c.TransfersAccepted + c.TransfersDeclined; n > 0 {
		return float64(c.TransfersDeclined) / float64(n)
	}
	return 0
}

// Group is the counts of one combination of the grouped dimensions.
type Group struct {
	// Key holds the value of each grouped dimension, in the order of
	// Query.GroupBy.
	Key []string
	Counts
}

// Result is the answer to a query: one group per combination that has a
// count, in order of key; without grouping, the one total.
type Result struct {
	AsOf   time.Time // the time of asking, which "now" counts refer to
	Groups []Group
}

// Service answers statistics queries.
type Service struct {
	store  datastore.Store
	units  *units.Registry
	policy *access.Policy
	vault  *vault.Vault
	audit  *auditlog.Log
	clock  clock.Clock
}

// Deps are what the service needs.
type Deps struct {
	Store datastore.Store
	Units *units.Registry
	Vault *vault.Vault
	Clock clock.Clock
}

// New returns the service.
func New(d Deps) *Service {
	return &Service{store: d.Store, units: d.Units, policy: access.New(d.Units), vault: d.Vault, audit: auditlog.New(d.Store), clock: d.Clock}
}

// listPage is how many records one read of the lists returns.
const listPage = 1000

// Compute counts the records p may see (the scope of the case list)
// that q selects. The read is audited, without case numbers: statistics
// name none.
func (s *Service) Compute(ctx context.Context, p access.Principal, q Query) (Result, error) {
	if !p.May(Method) {
		return Result{}, model.ErrPermissionDenied
	}
	if err := s.inReach(ctx, p, q.Unit, "statistics.read", resource("statistics", q.Unit)); err != nil {
		return Result{}, err
	}
	res, err := s.compute(ctx, p, q)
	if err != nil {
		return Result{}, err
	}
	if err := s.audit.Record(ctx, p.Event(res.AsOf, "statistics.read", resource("statistics", q.Unit), "", audit.OutcomeOK)); err != nil {
		return Result{}, err
	}
	return res, nil
}

// inReach refuses a unit outside p's scope (access.Policy.UnitInReach) as
// model.ErrNotFound, as a record outside it is: an empty answer would pass
// for the other unit's numbers. The refusal is on the trail as other reads
// out of scope are, action on res with outcome not_found. No unit (the
// whole of p's scope) is always in reach.
func (s *Service) inReach(ctx context.Context, p access.Principal, unit units.Key, action, res string) error {
	if unit.IsZero() || s.policy.UnitInReach(p, unit) {
		return nil
	}
	if err := s.audit.Record(ctx, p.Event(s.clock.Now(), action, res, "", audit.OutcomeNotFound)); err != nil {
		return err
	}
	return fmt.Errorf("statistics of unit %s: %w", unit, model.ErrNotFound)
}

// resource names what a read of statistics concerned, for its audit event.
func resource(what string, unit units.Key) string {
	if unit.IsZero() {
		return what
	}
	return what + "/" + access.UnitName(unit)
}

// compute counts without auditing: its callers audit what they answer.
func (s *Service) compute(ctx context.Context, p access.Principal, q Query) (Result, error) {
	if err := s.check(&q); err != nil {
		return Result{}, err
	}
	now := s.clock.Now()
	agg := newAggregator(q, now)
	inUnit := s.unitFilter(q)
	_, all := s.policy.Scope(p)
	err := s.store.View(ctx, func(tx datastore.ReadTx) error {
		if ranges, ok := cellRanges(q); all && ok {
			return s.countCells(tx, agg, inUnit, ranges)
		}
		if err := s.countReports(tx, p, agg, inUnit); err != nil {
			return err
		}
		return s.countCases(tx, p, agg, inUnit)
	})
	if err != nil {
		return Result{}, err
	}
	return Result{AsOf: now, Groups: agg.groups()}, nil
}

// check validates q, naming the field and the rule of what is wrong.
func (s *Service) check(q *Query) error {
	if q.From.IsZero() || q.To.IsZero() {
		return model.InvalidField("period", "period.required", "a period needs a start and an end")
	}
	if !q.From.Before(q.To) {
		return model.InvalidField("period", "period.order", "the period must start before it ends")
	}
	return s.CheckFields(q.Unit, q.GroupBy)
}

// CheckFields validates what a query or a report names besides its
// period: that unit, if any, exists, and that each dimension is known and
// named once. Every field it refuses is named at once, so that a handler
// can add them to those it refused itself and the caller mends them all
// in one go.
func (s *Service) CheckFields(unit units.Key, groupBy []Dimension) error {
	var bad []error
	if !unit.IsZero() {
		if _, ok := s.units.Get(unit); !ok {
			bad = append(bad, model.InvalidField("unit", "unit.exists", "no unit %s", unit))
		}
	}
	seen := map[Dimension]bool{}
	for _, d := range groupBy {
		switch {
		case !slices.Contains(Dimensions, d):
			bad = append(bad, model.InvalidField("group_by", "group_by.known", "names no dimension; one of %v", Dimensions))
		case seen[d]:
			bad = append(bad, model.InvalidField("group_by", "group_by.unique", "%q is named twice", d))
		}
		seen[d] = true
	}
	return errors.Join(bad...)
}

// unitFilter returns whether a unit (units.Key.String()) is counted:
// every unit when q names none, else q.Unit and the units under it, with
// their wholly mapped predecessors when q.Mapped.
func (s *Service) unitFilter(q Query) func(string) bool {
	if q.Unit.IsZero() {
		return func(string) bool { return true }
	}
	set := map[units.Key]bool{q.Unit: true}
	frontier := []units.Key{q.Unit}
	for len(frontier) > 0 {
		k := frontier[0]
		frontier = frontier[1:]
		next := []units.Key{}
		for _, u := range s.units.List(units.Filter{Parent: k}) {
			next = append(next, u.Key)
		}
		if q.Mapped {
			for _, l := range s.units.Predecessors(k) {
				if l.Full {
					next = append(next, l.From)
				}
			}
		}
		for _, n := range next {
			if !set[n] {
				set[n] = true
				frontier = append(frontier, n)
			}
		}
	}
	names := map[string]bool{}
	for k := range set {
		names[k.String()] = true
	}
	return func(k string) bool { return names[k] }
}

// maxCellYear is the last year a cell's key can name: its period is
// named with a four-digit year ("2026-06"), and keys are read in order.
const maxCellYear = 9999

// afterEveryCell sorts after the period of every cell, a month's
// ("9999-12") or a day's ("9999-12-31"): the end of a range of cells
// past maxCellYear.
const afterEveryCell = "9999-99"

// cellEnd is name, the name of the month or day d that ends a range of
// cells; past maxCellYear, a name after every cell's. A period through
// 9999-12-31 ends on 10000-01-01, whose name sorts before every cell's.
func cellEnd(d vntime.Date, name string) string {
	if d.Year > maxCellYear {
		return afterEveryCell
	}
	return name
}

// cellRange is a range of the counters' cells: those of a kind whose
// period (a month, or a day) is in [from, to).
type cellRange struct {
	kind     tally.Kind
	from, to string
}

// cellRanges returns the cells that count q's period, or false when the
// counters cannot answer q: a grouping by the sealed special-circumstance
// group, which no counter keeps, or a period that is not whole days
// (Vietnam time). The whole months of the period are read from the
// monthly cells, the days before the first and after the last from the
// daily ones: of the kinds Total and DayTotal when q groups by month and
// unit at most, else Full and DayFull.
func cellRanges(q Query) ([]cellRange, bool) {
	monthly, daily := tally.Total, tally.DayTotal
	for _, d := range q.GroupBy {
		switch d {
		case ByMonth, ByUnit:
		case BySpecialCircumstance:
			return nil, false
		default:
			monthly, daily = tally.Full, tally.DayFull
		}
	}
	first, end := vntime.DateOf(q.From), vntime.DateOf(q.To)
	if !first.Start().Equal(q.From) || !end.Start().Equal(q.To) {
		return nil, false
	}
	// [months, endMonths) are the whole months of the period, if any.
	months, endMonths := vntime.Date{Year: first.Year, Month: first.Month, Day: 1}, vntime.Date{Year: end.Year, Month: end.Month, Day: 1}
	if months != first {
		months = months.AddMonths(1)
	}
	var out []cellRange
	days := func(from, to vntime.Date) {
		if from.Before(to) {
			out = append(out, cellRange{daily, from.String(), cellEnd(to, to.String())})
		}
	}
	if months.Before(endMonths) {
		days(first, months)
		out = append(out, cellRange{monthly, tally.Month(months.Start()), cellEnd(endMonths, tally.Month(endMonths.Start()))})
		days(endMonths, end)
	} else {
		days(first, end)
	}
	return out, true
}

// countCells adds up the counters of the cells of ranges and of q's units.
func (s *Service) countCells(tx datastore.ReadTx, agg *aggregator, inUnit func(string) bool, ranges []cellRange) error {
	for _, r := range ranges {
		err := tx.StatCells(r.kind, r.from, r.to, func(k tally.Key, t *tally.Tally) error {
			if !inUnit(k.Unit) {
				return nil
			}
			f := facts{Facts: tally.Facts{
				Unit: k.Unit, Channel: k.Channel, CallType: k.CallType,
				Abuse: splitSet(k.Abuse), Sex: splitSet(k.Sex), Age: splitSet(k.Age),
			}}
			month := k.Month[:len("2006-01")] // of a daily cell too
			agg.add(month, f, func(c *Counts) { c.addTally(t, s.levelOf, agg.now) })
			return nil
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// splitSet returns the names of a set of a cell's key.
func splitSet(set string) []string {
	if set == "" {
		return nil
	}
	return strings.Split(set, ",")
}

// addTally adds a cell's counters to c, the open deadlines due before now
// as overdue now; one not yet due counts nowhere.
func (c *Counts) addTally(t *tally.Tally, levelOf func(string) string, now time.Time) {
	c.Reports += int(t.Reports)
	c.CasesOpened += int(t.CasesOpened)
	c.CasesStillOpen += int(t.CasesStillOpen)
	c.CasesClosed += int(t.CasesClosed)
	c.CrimeClosedWithoutReferral += int(t.CrimeClosedWithoutReferral)
	c.TransfersProposed += int(t.TransfersProposed)
	c.TransfersAccepted += int(t.TransfersAccepted)
	c.TransfersDeclined += int(t.TransfersDeclined)
	c.PoliceReferrals += int(t.PoliceReferrals)
	c.Emergencies += int(t.Emergencies)
	c.LateRecordings += int(t.LateRecordings)
	for kind, d := range t.Deadlines {
		overdue := 0
		for due, n := range d.OpenDue {
			if due < now.UnixNano() {
				overdue += int(n)
			}
		}
		if d.Met == 0 && d.Missed == 0 && overdue == 0 {
			continue
		}
		dc := c.deadline(kind)
		dc.Met += int(d.Met)
		dc.Missed += int(d.Missed)
		dc.OverdueNow += overdue
		for b, n := range d.Late {
			dc.late[b] += n
		}
	}
	for to, n := range t.Escalations {
		c.Escalations[levelOf(to)] += int(n)
	}
	for k, n := range t.PoliceOutcomes {
		c.PoliceOutcomes[k] += int(n)
	}
	for k, n := range t.EmergencyD3 {
		c.EmergencyD3[k] += int(n)
	}
	for due, n := range t.D3OpenDue {
		if due < now.UnixNano() {
			c.EmergencyD3["OVERDUE"] += int(n)
		} else {
			c.EmergencyD3[string(model.DeadlineOpen)] += int(n)
		}
	}
}

// countReports counts the reports p may see (as ListReports reads them).
// The city, which sees the report of every case, counts every report,
// those that opened no case too (counselling, information, silent
// calls): the hotline's figures are the city's, and a count names no one.
func (s *Service) countReports(tx datastore.ReadTx, p access.Principal, agg *aggregator, inUnit func(string) bool) error {
	q := datastore.ReportQuery{Limit: listPage}
	keys, all := s.policy.ReportScope(p)
	if !all {
		q.Scopes = append([]string{}, keys...)
	}
	var matchErr error
	q.Match = func(r model.StoredReport) bool {
		if all {
			return true
		}
		var c *model.Case
		if r.CaseNumber != "" {
			found, err := tx.CaseByNumber(r.CaseNumber)
			if err != nil {
				matchErr = err
				return false
			}
			c = &found
		}
		return s.policy.CanSeeReport(p, r, c)
	}
	for {
		page, next, err := tx.ListReports(q)
		if err != nil {
			return err
		}
		if matchErr != nil {
			return matchErr
		}
		for _, r := range page {
			if inUnit(r.IncidentUnit.String()) && agg.in(r.ReceiveTime) {
				agg.add(monthOf(r.ReceiveTime), reportFacts(r), func(c *Counts) { c.Reports++ })
			}
		}
		if next == "" {
			return nil
		}
		q.After = next
	}
}

// countCases counts the cases p may see, read as ListCases reads them
// (access.Policy.ListScope): a social work centre's supervisor's through
// the centre's entries and the cases the city holds, not through every
// case ever escalated to the city, which it does not see.
func (s *Service) countCases(tx datastore.ReadTx, p access.Principal, agg *aggregator, inUnit func(string) bool) error {
	q := datastore.CaseQuery{Limit: listPage}
	if keys, held, all := s.policy.ListScope(p); !all {
		q.Scopes = append([]string{}, keys...) // not nil: no keys, no cases
		q.HeldBy = held
	}
	q.Match = func(c model.Case) bool { return s.policy.View(p, Method, c) == access.ViewFull }
	for {
		page, next, err := tx.ListCases(q)
		if err != nil {
			return err
		}
		for _, c := range page {
			if !countsIn(c, inUnit) {
				continue
			}
			f, err := s.caseFacts(tx, c, agg.wants(BySpecialCircumstance), agg.wants(ByChannel) || agg.wants(ByCallType))
			if err != nil {
				return err
			}
			s.countCase(agg, c, f, inUnit)
		}
		if next == "" {
			return nil
		}
		q.After = next
	}
}

// caseFacts returns the values of c for each dimension. It opens the sealed
// groups only when asked to (circumstances), and reads the first report
// only for its channel and call type (firstReport).
func (s *Service) caseFacts(tx datastore.ReadTx, c model.Case, circumstances, firstReport bool) (facts, error) {
	var first *model.StoredReport
	if id := tally.FirstReportID(c); firstReport && id != "" {
		r, err := tx.Report(id)
		if err != nil {
			return facts{}, fmt.Errorf("statistics of a case: first report: %w", err)
		}
		first = &r
	}
	f := facts{Facts: tally.CaseFacts(c, first)}
	if circumstances {
		opened, err := s.vault.OpenCase(tx, c)
		if err != nil {
			return facts{}, fmt.Errorf("statistics of a case: %w", err)
		}
		f.circumstances = tally.CircumstanceNames(opened.SpecialCircumstances)
	}
	return f, nil
}

// countsIn reports whether any event of c may count under a unit inUnit
// keeps: its responsible unit's, or those of the units that had its
// deadlines or proposed its transfers (tally.CaseEvents).
func countsIn(c model.Case, inUnit func(string) bool) bool {
	found := false
	tally.CaseEvents(c, func(_ time.Time, unit string, _ func(*tally.Tally)) {
		found = found || inUnit(cmp.Or(unit, c.ResponsibleUnit.String()))
	})
	return found
}

// countCase adds the events of one case that fall in the period and
// count under a unit inUnit keeps, as the counters count them
// (tally.CaseEvents).
func (s *Service) countCase(agg *aggregator, c model.Case, f facts, inUnit func(string) bool) {
	tally.CaseEvents(c, func(at time.Time, unit string, inc func(*tally.Tally)) {
		ef := f
		if unit != "" {
			ef.Unit = unit
		}
		if agg.in(at) && inUnit(ef.Unit) {
			agg.add(monthOf(at), ef, func(n *Counts) {
				var t tally.Tally
				inc(&t)
				n.addTally(&t, s.levelOf, agg.now)
			})
		}
	})
}

// levelOf names the level of the unit an escalation went to: a level of
// the administrative units, or "police" for the city police, where the
// police clocks escalate.
func (s *Service) levelOf(unit string) string {
	if u, ok := s.unitNamed(unit); ok {
		return u.Level.String()
	}
	if strings.HasPrefix(unit, "policeUnits/") {
		return "police"
	}
	return "other"
}

// unitNamed returns the unit a resource name ("units/{code}@{valid_from}")
// names, if it is one.
func (s *Service) unitNamed(name string) (units.Unit, bool) {
	key, ok := strings.CutPrefix(name, "units/")
	if !ok {
		return units.Unit{}, false
	}
	k, err := units.ParseKey(key)
	if err != nil {
		return units.Unit{}, false
	}
	return s.units.Get(k)
}

// zero reports whether c counts nothing.
func (c *Counts) zero() bool {
	return c.Reports == 0 && c.CasesOpened == 0 && c.CasesClosed == 0 && c.CasesStillOpen == 0 &&
		len(c.Deadlines) == 0 && len(c.Escalations) == 0 && c.TransfersProposed == 0 && c.TransfersAccepted == 0 &&
		c.TransfersDeclined == 0 && c.PoliceReferrals == 0 && len(c.PoliceOutcomes) == 0 &&
		c.CrimeClosedWithoutReferral == 0 && c.Emergencies == 0 && len(c.EmergencyD3) == 0 && c.LateRecordings == 0
}

// deadline returns the counts of a kind, created on first use.
func (c *Counts) deadline(kind model.DeadlineKind) *DeadlineCounts {
	dc := c.Deadlines[kind]
	if dc == nil {
		dc = &DeadlineCounts{late: map[int]int64{}}
		c.Deadlines[kind] = dc
	}
	return dc
}

// facts are the values of a record for each dimension but the month:
// those the counters keep, and the sealed special-circumstance groups,
// which they do not.
type facts struct {
	tally.Facts
	circumstances []string
}

// values returns the values of f for d ("" when unknown), month given.
func (f facts) values(d Dimension, month string) []string {
	var v []string
	switch d {
	case ByMonth:
		return []string{month}
	case ByUnit:
		return []string{f.Unit}
	case ByChannel:
		return []string{f.Channel}
	case ByCallType:
		return []string{f.CallType}
	case ByAbuseForm:
		v = f.Abuse
	case BySpecialCircumstance:
		v = f.circumstances
	case BySex:
		v = f.Sex
	case ByAgeBand:
		v = f.Age
	}
	if len(v) == 0 {
		return []string{""}
	}
	return v
}

func reportFacts(r model.StoredReport) facts {
	f := facts{
		Facts: tally.Facts{
			Unit: r.IncidentUnit.String(), Channel: tally.ChannelName(r.Channel), CallType: tally.CallTypeName(r.CallType),
			Abuse: tally.AbuseNames(r.SuspectedAbuse),
		},
		circumstances: tally.CircumstanceNames(r.SpecialCircumstances),
	}
	f.Sex, f.Age = tally.Children(r.Children)
	return f
}

// monthOf names the month of t in Vietnam time, as a group's key shows it.
func monthOf(t time.Time) string { return tally.Month(t) }

// aggregator sums counts by group.
type aggregator struct {
	q      Query
	now    time.Time
	wanted map[Dimension]bool
	byKey  map[string]*Group
}

func newAggregator(q Query, now time.Time) *aggregator {
	a := &aggregator{q: q, now: now, wanted: map[Dimension]bool{}, byKey: map[string]*Group{}}
	for _, d := range q.GroupBy {
		a.wanted[d] = true
	}
	return a
}

func (a *aggregator) wants(d Dimension) bool { return a.wanted[d] }

// in reports whether t falls in the period.
func (a *aggregator) in(t time.Time) bool {
	return !t.IsZero() && !t.Before(a.q.From) && t.Before(a.q.To)
}

// add applies inc to every group the record falls in in month.
func (a *aggregator) add(month string, f facts, inc func(*Counts)) {
	keys := [][]string{{}}
	for _, dim := range a.q.GroupBy {
		var next [][]string
		for _, k := range keys {
			for _, v := range f.values(dim, month) {
				next = append(next, append(slices.Clone(k), v))
			}
		}
		keys = next
	}
	for _, k := range keys {
		id := strings.Join(k, "\x00")
		g := a.byKey[id]
		if g == nil {
			g = &Group{Key: k, Counts: Counts{
				Deadlines: map[model.DeadlineKind]*DeadlineCounts{}, Escalations: map[string]int{},
				PoliceOutcomes: map[string]int{}, EmergencyD3: map[string]int{},
			}}
			a.byKey[id] = g
		}
		inc(&g.Counts)
	}
}

// groups returns the groups in order of key, their lateness summarised.
// Without grouping there is always the one total, zeros if nothing counted.
func (a *aggregator) groups() []Group {
	if len(a.q.GroupBy) == 0 && len(a.byKey) == 0 {
		a.add(monthOf(a.q.From), facts{}, func(*Counts) {})
	}
	out := make([]Group, 0, len(a.byKey))
	for _, id := range slices.Sorted(maps.Keys(a.byKey)) {
		g := a.byKey[id]
		if len(a.q.GroupBy) > 0 && g.zero() {
			continue // only open deadlines not yet due fell in it
		}
		for _, dc := range g.Deadlines {
			dc.MedianMinutesLate, dc.P90MinutesLate = tally.Percentile(dc.late, 50), tally.Percentile(dc.late, 90)
			dc.late = nil
		}
		out = append(out, *g)
	}
	return out
}
