// Package tally defines the statistics counters storage keeps with the
// records (issue 13): what each case and each report contributes to the
// counts of package stats, cell by cell. Like the scope index of package
// access, a contribution is a pure function of the records, defined here
// beside the rules it serves; storage computes a record's contribution
// before and after every write and applies the difference in the same
// transaction (the "fact delta"), so that the stored counters always equal
// what Recount gives from the records, whatever step, merge or reform
// wrote them. Check compares the two; a rebuild replaces the first by the
// second.
//
// A cell is a month (Vietnam time, of the event counted; for the daily
// kinds, a day) and a unit, and for the cells of kind Full and DayFull the
// values of the other dimensions but the special-circumstance group, which a case keeps sealed and a counter
// would store in the clear. What changes with the clock alone (a deadline
// overdue now) is kept as the open deadlines by due time, which a reader
// compares with its now. This package must not read or write storage,
// and holds no case number or personal data.
package tally

import (
	"cmp"
	"errors"
	"fmt"
	"iter"
	"maps"
	"math/bits"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/childcase/childcase/internal/domain/model"
	"github.com/childcase/childcase/internal/domain/vntime"
)

// Kind is which cells a key belongs to: every contribution is counted in
// one cell of each kind, so that a question that groups by month and unit
// at most reads only the few cells of kind Total.
type Kind byte

// Kinds. The numbers are stored: never renumber or reuse one.
const (
	Total Kind = 1 // month and unit
	Full  Kind = 2 // month, unit and every other dimension but the sealed one
	// DayTotal and DayFull are Total and Full by day instead of month
	// (schema version 8): a period that does not start or end on the
	// first of a month reads its whole months from the monthly cells and
	// the days at its ends from the daily ones.
	DayTotal Kind = 3
	DayFull  Kind = 4
)

// Daily reports whether the cells of k are by day, not by month.
func (k Kind) Daily() bool { return k == DayTotal || k == DayFull }

// HasDimensions reports whether the cells of k hold every dimension but
// the sealed one, not the unit alone.
func (k Kind) HasDimensions() bool { return k == Full || k == DayFull }

// Key names a cell. The sets (abuse forms, sexes, age bands) are sorted
// names joined by commas: a record with two forms of abuse counts once in
// a cell of both, which a question grouping by the form counts in each.
type Key struct {
	Kind Kind
	// Month is the period of the cell: the month, "2026-06", or for a
	// daily kind the day, "2026-06-15".
	Month    string
	Unit     string // units.Key.String() of the case's responsible unit, of the report's incident commune
	Channel  string // of a case, its first report's
	CallType string
	Abuse    string
	Sex      string
	Age      string
}

// DeadlineTally counts the deadlines of one kind done in a cell's month,
// and those due in it that are still open.
type DeadlineTally struct {
	Met, Missed int64
	// Late counts the missed deadlines by LateBucket of their lateness.
	Late map[int]int64
	// OpenDue counts the open deadlines by due time (Unix nanoseconds):
	// those before the time of asking are overdue now. Its room follows
	// the open deadlines, which the work keeps few, not the cases.
	OpenDue map[int64]int64
}

// Tally is the counts of one cell, as package stats defines them. Maps
// hold no zero values.
type Tally struct {
	Reports, CasesOpened, CasesStillOpen, CasesClosed, CrimeClosedWithoutReferral int64
	TransfersProposed, TransfersAccepted, TransfersDeclined, PoliceReferrals      int64
	Emergencies                                                                   int64
	// LateRecordings are the records of emergency measures, of a
	// separation or of a police forwarding made later than the policy
	// allows (model.LateRecording).
	LateRecordings int64
	Deadlines      map[model.DeadlineKind]*DeadlineTally
	// Escalations by the unit escalated to (its resource name): its level
	// is the registry's, read when asked.
	Escalations    map[string]int64
	PoliceOutcomes map[string]int64
	// EmergencyD3 counts the emergency cases opened in the month by the
	// state of their D3 deadline (CaseD3) when it is done (MET, MISSED,
	// CANCELLED), NONE without one; D3OpenDue those whose D3 is open,
	// by its due time (Unix nanoseconds): OVERDUE before the time of
	// asking, OPEN after.
	EmergencyD3 map[string]int64
	D3OpenDue   map[int64]int64
}

// Add adds sign times o to t.
func (t *Tally) Add(o *Tally, sign int64) {
	t.Reports += sign * o.Reports
	t.CasesOpened += sign * o.CasesOpened
	t.CasesStillOpen += sign * o.CasesStillOpen
	t.CasesClosed += sign * o.CasesClosed
	t.CrimeClosedWithoutReferral += sign * o.CrimeClosedWithoutReferral
	t.TransfersProposed += sign * o.TransfersProposed
	t.TransfersAccepted += sign * o.TransfersAccepted
	t.TransfersDeclined += sign * o.TransfersDeclined
	t.PoliceReferrals += sign * o.PoliceReferrals
	t.Emergencies += sign * o.Emergencies
	t.LateRecordings += sign * o.LateRecordings
	for kind, od := range o.Deadlines {
		d := t.Deadline(kind)
		d.Met += sign * od.Met
		d.Missed += sign * od.Missed
		for b, n := range od.Late {
			addTo(&d.Late, b, sign*n)
		}
		for due, n := range od.OpenDue {
			addTo(&d.OpenDue, due, sign*n)
		}
		if d.Met == 0 && d.Missed == 0 && len(d.Late) == 0 && len(d.OpenDue) == 0 {
			delete(t.Deadlines, kind)
		}
	}
	for k, n := range o.Escalations {
		addTo(&t.Escalations, k, sign*n)
	}
	for k, n := range o.PoliceOutcomes {
		addTo(&t.PoliceOutcomes, k, sign*n)
	}
	for k, n := range o.EmergencyD3 {
		addTo(&t.EmergencyD3, k, sign*n)
	}
	for due, n := range o.D3OpenDue {
		addTo(&t.D3OpenDue, due, sign*n)
	}
}

// addTo adds n to m[k], creating the map on first use and deleting a
// value that comes to zero.
func addTo[K comparable](m *map[K]int64, k K, n int64) {
	if n == 0 {
		return
	}
	if *m == nil {
		*m = map[K]int64{}
	}
	if v := (*m)[k] + n; v != 0 {
		(*m)[k] = v
	} else {
		delete(*m, k)
	}
}

// Deadline returns the tally of a kind, created on first use.
func (t *Tally) Deadline(kind model.DeadlineKind) *DeadlineTally {
	if t.Deadlines == nil {
		t.Deadlines = map[model.DeadlineKind]*DeadlineTally{}
	}
	d := t.Deadlines[kind]
	if d == nil {
		d = &DeadlineTally{}
		t.Deadlines[kind] = d
	}
	return d
}

// IsZero reports whether t counts nothing.
func (t *Tally) IsZero() bool { return t.Equal(&Tally{}) }

// Equal reports whether t and o hold the same counts.
func (t *Tally) Equal(o *Tally) bool {
	if t.Reports != o.Reports || t.CasesOpened != o.CasesOpened || t.CasesStillOpen != o.CasesStillOpen ||
		t.CasesClosed != o.CasesClosed || t.CrimeClosedWithoutReferral != o.CrimeClosedWithoutReferral ||
		t.TransfersProposed != o.TransfersProposed || t.TransfersAccepted != o.TransfersAccepted ||
		t.TransfersDeclined != o.TransfersDeclined || t.PoliceReferrals != o.PoliceReferrals || t.Emergencies != o.Emergencies ||
		t.LateRecordings != o.LateRecordings {
		return false
	}
	if !maps.Equal(t.Escalations, o.Escalations) || !maps.Equal(t.PoliceOutcomes, o.PoliceOutcomes) ||
		!maps.Equal(t.EmergencyD3, o.EmergencyD3) || !maps.Equal(t.D3OpenDue, o.D3OpenDue) {
		return false
	}
	return maps.EqualFunc(t.Deadlines, o.Deadlines, func(a, b *DeadlineTally) bool {
		return a.Met == b.Met && a.Missed == b.Missed && maps.Equal(a.Late, b.Late) && maps.Equal(a.OpenDue, b.OpenDue)
	})
}

// A Count is one count of a tally that is not zero (EachCount).
type Count struct {
	// Field tells the counts of a tally apart: each field of Tally, and
	// of DeadlineTally, has a number of its own. The numbers are not
	// stored.
	Field byte
	Kind  model.DeadlineKind // of a count by deadline kind
	Name  string             // the key of a count kept by name: an escalation's unit, an outcome, a D3 state
	Num   int64              // the key of a count kept by number: a lateness bucket, a due time
	N     int64
}

// EachCount calls fn with every count of t that is not zero, and with
// those of zero that t keeps in a map (Field 11 for a deadline kind that
// counts nothing), which a tally made by Add holds none of. Two tallies
// without those are Equal exactly when they have the same counts, and a
// sum of tallies has the sums of their counts: a check compares the stored
// counters with a recount by a keyed hash of every count, weighted by N
// and summed on both sides, without keeping a tally per cell. A field
// added to Tally must be given here too (TestEachCountCoversTally).
func (t *Tally) EachCount(fn func(Count)) {
	for i, n := range [...]int64{t.Reports, t.CasesOpened, t.CasesStillOpen, t.CasesClosed, t.CrimeClosedWithoutReferral,
		t.TransfersProposed, t.TransfersAccepted, t.TransfersDeclined, t.PoliceReferrals, t.Emergencies} {
		if n != 0 {
			fn(Count{Field: byte(1 + i), N: n})
		}
	}
	for kind, d := range t.Deadlines {
		if d.Met != 0 || (d.Missed == 0 && len(d.Late) == 0 && len(d.OpenDue) == 0) {
			fn(Count{Field: 11, Kind: kind, N: d.Met})
		}
		if d.Missed != 0 {
			fn(Count{Field: 12, Kind: kind, N: d.Missed})
		}
		for b, n := range d.Late {
			fn(Count{Field: 13, Kind: kind, Num: int64(b), N: n})
		}
		for due, n := range d.OpenDue {
			fn(Count{Field: 14, Kind: kind, Num: due, N: n})
		}
	}
	for _, m := range [...]struct {
		field byte
		m     map[string]int64
	}{{15, t.Escalations}, {16, t.PoliceOutcomes}, {17, t.EmergencyD3}} {
		for name, n := range m.m {
			fn(Count{Field: m.field, Name: name, N: n})
		}
	}
	for due, n := range t.D3OpenDue {
		fn(Count{Field: 18, Num: due, N: n})
	}
	if t.LateRecordings != 0 {
		fn(Count{Field: 19, N: t.LateRecordings})
	}
}

// String shows the counts, for check's problems.
func (t *Tally) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "reports %d, opened %d (still open %d), closed %d (crime unreferred %d), transfers %d/%d/%d, referrals %d, emergencies %d, late recordings %d",
		t.Reports, t.CasesOpened, t.CasesStillOpen, t.CasesClosed, t.CrimeClosedWithoutReferral,
		t.TransfersProposed, t.TransfersAccepted, t.TransfersDeclined, t.PoliceReferrals, t.Emergencies, t.LateRecordings)
	for _, kind := range slices.Sorted(maps.Keys(t.Deadlines)) {
		d := t.Deadlines[kind]
		fmt.Fprintf(&b, ", %s met %d missed %d open %d", kind, d.Met, d.Missed, sumValues(d.OpenDue))
	}
	for _, m := range []struct {
		name string
		m    map[string]int64
	}{{"escalations", t.Escalations}, {"police outcomes", t.PoliceOutcomes}, {"D3", t.EmergencyD3}} {
		if len(m.m) > 0 {
			fmt.Fprintf(&b, ", %s %v", m.name, m.m)
		}
	}
	if len(t.D3OpenDue) > 0 {
		fmt.Fprintf(&b, ", D3 open %d", sumValues(t.D3OpenDue))
	}
	return b.String()
}

func sumValues[K comparable](m map[K]int64) int64 {
	var n int64
	for _, v := range m {
		n += v
	}
	return n
}

// String names a cell in a readable form, for check's problems.
func (k Key) String() string {
	switch k.Kind {
	case Total:
		return fmt.Sprintf("total %s unit %s", k.Month, k.Unit)
	case DayTotal:
		return fmt.Sprintf("day total %s unit %s", k.Month, k.Unit)
	}
	kind := "full"
	if k.Kind == DayFull {
		kind = "day full"
	}
	return fmt.Sprintf("%s %s unit %s channel %s call %s abuse %s sex %s age %s",
		kind, k.Month, k.Unit, k.Channel, k.CallType, k.Abuse, k.Sex, k.Age)
}

// Cells are counts by cell: a record's contribution, or a sum of them.
type Cells map[Key]*Tally

// Add adds sign times o to c, dropping the cells that come to zero.
func (c Cells) Add(o Cells, sign int64) {
	for k, t := range o {
		mine := c[k]
		if mine == nil {
			mine = &Tally{}
			c[k] = mine
		}
		mine.Add(t, sign)
		if mine.IsZero() {
			delete(c, k)
		}
	}
}

// Delta returns after minus before: what a write that turns a record's
// contribution from before into after changes, cells that do not change
// left out.
func Delta(before, after Cells) Cells {
	d := Cells{}
	d.Add(after, 1)
	d.Add(before, -1)
	return d
}

// Facts are the values of a record for each dimension of a cell but the
// month.
type Facts struct {
	Unit, Channel, CallType string
	Abuse, Sex, Age         []string
}

// Counter takes the contribution of a record one event at a time: inc
// adds the event to the tally of each of the cells keys, one of each
// kind. Cells.Count sums them; a check, which recounts millions of
// records, hashes them instead of keeping a tally per cell (see
// EachCount). keys is valid during the call only.
type Counter func(keys []Key, inc func(*Tally))

// Count is the Counter that adds the events to c.
func (c Cells) Count(keys []Key, inc func(*Tally)) {
	for _, k := range keys {
		t := c[k]
		if t == nil {
			t = &Tally{}
			c[k] = t
		}
		inc(t)
	}
}

// adder counts the events of one record in the cells of its facts. It
// names the sets once, and the month once for events of the same month: a
// check recounts every record, and pays each allocation per event
// millions of times.
type adder struct {
	count      Counter
	key        Key // the full cell's, without its month
	date       vntime.Date
	month, day string
	keys       [4]Key // add's
}

func newAdder(f Facts, count Counter) *adder {
	return &adder{count: count, key: Key{Kind: Full, Unit: f.Unit, Channel: f.Channel, CallType: f.CallType,
		Abuse: strings.Join(f.Abuse, ","), Sex: strings.Join(f.Sex, ","), Age: strings.Join(f.Age, ",")}}
}

// add counts inc in the cells of each kind of the month, or the day, of
// at, under unit ("" for the record's own); a zero time is no event.
func (a *adder) add(at time.Time, unit string, inc func(*Tally)) {
	if at.IsZero() {
		return
	}
	if d := vntime.DateOf(at); d != a.date {
		a.date, a.day = d, dayName(d)
		a.month = a.day[:len("2006-01")] // the same bytes: no allocation
	}
	full, dayFull := a.key, a.key
	if unit != "" {
		full.Unit, dayFull.Unit = unit, unit
	}
	full.Month, dayFull.Kind, dayFull.Month = a.month, DayFull, a.day
	a.keys = [4]Key{{Kind: Total, Month: a.month, Unit: full.Unit}, full, {Kind: DayTotal, Month: a.day, Unit: full.Unit}, dayFull}
	a.count(a.keys[:], inc)
}

// Month names the month of t in Vietnam time, "2026-06".
func Month(t time.Time) string { return monthName(vntime.DateOf(t)) }

func monthName(d vntime.Date) string { return fmt.Sprintf("%04d-%02d", d.Year, int(d.Month)) }

// dayName names a day, "2026-06-15", as vntime.Date.String does but in
// one allocation: a check names the days of every event of every record.
func dayName(d vntime.Date) string {
	b := []byte("0000-00-00")
	for i, n := 3, d.Year; i >= 0; i, n = i-1, n/10 {
		b[i] = byte('0' + n%10)
	}
	b[5], b[6] = byte('0'+int(d.Month)/10), byte('0'+int(d.Month)%10)
	b[8], b[9] = byte('0'+d.Day/10), byte('0'+d.Day%10)
	return string(b)
}

// OfReport is what a report contributes: itself, in the cell of its
// incident commune and the month it was received.
func OfReport(r model.StoredReport) Cells {
	c := Cells{}
	c.AddReport(r)
	return c
}

// AddReport adds the contribution of r to c (OfReport).
func (c Cells) AddReport(r model.StoredReport) { CountReport(r, c.Count) }

// CountReport gives the contribution of r to count.
func CountReport(r model.StoredReport, count Counter) {
	f := Facts{Unit: r.IncidentUnit.String(), Channel: ChannelName(r.Channel), CallType: CallTypeName(r.CallType), Abuse: AbuseNames(r.SuspectedAbuse)}
	f.Sex, f.Age = Children(r.Children)
	newAdder(f, count).add(r.ReceiveTime, "", func(t *Tally) { t.Reports++ })
}

// CaseFacts are the values of a case for each dimension of a cell; first
// is its first report, nil when it is not stored (yet): a case takes
// its channel and call type from it.
func CaseFacts(c model.Case, first *model.StoredReport) Facts {
	f := Facts{Unit: c.ResponsibleUnit.String(), Abuse: AbuseNames(c.SuspectedAbuse)}
	f.Sex, f.Age = Children(c.Children)
	if first != nil {
		f.Channel, f.CallType = ChannelName(first.Channel), CallTypeName(first.CallType)
	}
	return f
}

// OfCase is what a case contributes: every event of it (CaseEvents)
// counted in the month it happened and in the cells of the case's facts
// as they are now (CaseFacts).
func OfCase(c model.Case, first *model.StoredReport) Cells {
	out := Cells{}
	out.AddCase(c, first)
	return out
}

// AddCase adds the contribution of c to cells (OfCase).
func (cells Cells) AddCase(c model.Case, first *model.StoredReport) { CountCase(c, first, cells.Count) }

// CountCase gives the contribution of c to count (OfCase).
func CountCase(c model.Case, first *model.StoredReport, count Counter) {
	CaseEvents(c, newAdder(CaseFacts(c, first), count).add)
}

// CaseEvents calls add with every event of c that the statistics count,
// with when it happened (zero for no event), the unit it counts under
// ("" for the case's responsible unit) and what it adds: its opening, its
// closure, its emergency and D3, each deadline met or missed, or open (at
// its due time), each escalation, transfer, police referral and outcome,
// and each late recording.
//
// A deadline, met, missed or open, and its escalations count under the
// unit that had to meet it (Deadline.Unit, when a unit of the tree), and
// a transfer, proposed and decided, under the unit that proposed it: a
// commune's delays and hand-overs stay its own after the case has moved
// on, and its rate of transfers accepted is of the transfers it proposed.
// A late recording counts, in the month it was recorded, under the unit
// that recorded it, for the same reason (a police unit's, as its clocks,
// under the case's responsible unit).
func CaseEvents(c model.Case, add func(at time.Time, unit string, inc func(*Tally))) {
	closed := c.Status == model.StatusClosed
	add(c.ReceiveTime, "", func(t *Tally) {
		t.CasesOpened++
		if !closed {
			t.CasesStillOpen++
		}
	})
	if closed {
		// A case merged into another was not closed on its merits: the
		// child's case goes on in the survivor, which takes its forms of
		// abuse and may still be referred. Counting it would report a
		// cover-up that did not happen.
		crimeUnreferred := model.CrimeSuspected(c.SuspectedAbuse) && len(c.PoliceReferrals) == 0 && c.MergedInto == ""
		add(c.CloseTime, "", func(t *Tally) {
			t.CasesClosed++
			if crimeUnreferred {
				t.CrimeClosedWithoutReferral++
			}
		})
	}
	if c.Emergency {
		d3, ok := CaseD3(c)
		add(c.ReceiveTime, "", func(t *Tally) {
			t.Emergencies++
			switch {
			case !ok:
				addTo(&t.EmergencyD3, "NONE", 1)
			case d3.Open():
				addTo(&t.D3OpenDue, d3.Due.UnixNano(), 1)
			default:
				addTo(&t.EmergencyD3, string(d3.State), 1)
			}
		})
	}
	for _, d := range c.Deadlines {
		unit := unitOf(d.Unit)
		if d.Open() {
			add(d.Due, unit, func(t *Tally) { addTo(&t.Deadline(d.Kind).OpenDue, d.Due.UnixNano(), 1) })
		}
		if d.State == model.DeadlineMet || d.State == model.DeadlineMissed {
			add(d.DoneTime, unit, func(t *Tally) {
				dt := t.Deadline(d.Kind)
				if d.State == model.DeadlineMet {
					dt.Met++
				} else {
					dt.Missed++
					addTo(&dt.Late, LateBucket(d.MinutesLate), 1)
				}
			})
		}
		for _, e := range d.Escalations {
			add(e.Time, unit, func(t *Tally) { addTo(&t.Escalations, e.To, 1) })
		}
	}
	for _, tr := range c.Transfers {
		from := unitOf(tr.From)
		add(tr.ProposeTime, from, func(t *Tally) { t.TransfersProposed++ })
		if tr.State != model.TransferProposed {
			accepted := tr.State == model.TransferAccepted
			add(tr.DecideTime, from, func(t *Tally) {
				if accepted {
					t.TransfersAccepted++
				} else {
					t.TransfersDeclined++
				}
			})
		}
	}
	for _, l := range c.LateRecordings {
		add(l.RecordTime, unitOf(l.Unit), func(t *Tally) { t.LateRecordings++ })
	}
	for _, r := range c.PoliceReferrals {
		add(r.ReferTime, "", func(t *Tally) { t.PoliceReferrals++ })
		if r.Outcome != "" {
			add(r.OutcomeTime, "", func(t *Tally) { addTo(&t.PoliceOutcomes, r.Outcome, 1) })
		}
	}
}

// unitOf returns the key of a unit of the tree a resource name names
// ("units/00004@2025-07-01" gives "00004@2025-07-01"), or "" for any other
// name (a police unit's, or none): its event then counts under the case's
// responsible unit.
func unitOf(name string) string {
	k, ok := strings.CutPrefix(name, "units/")
	if !ok {
		return ""
	}
	return k
}

// CaseD3 returns the D3 deadline an emergency case counts by: its last
// one of the cycle before the case was first reopened, which is the last
// one done by then (a closure cancels the social clocks still running).
// A reopening is new information with a D3 of its own (counted with the
// deadlines, in its month), and leaves the count of the case as it was;
// so does a D3 that a merge brings after it, however early it started. A
// case that had no D3 before a reopening counts by its last.
func CaseD3(c model.Case) (model.Deadline, bool) {
	var last, firstCycle model.Deadline
	found, inFirstCycle := false, false
	for _, d := range c.Deadlines {
		if d.Kind != model.DeadlineEmergencyMeasures {
			continue
		}
		last, found = d, true
		if len(c.Reopened) == 0 || (!d.Open() && !d.DoneTime.After(c.Reopened[0])) {
			firstCycle, inFirstCycle = d, true
		}
	}
	if inFirstCycle {
		return firstCycle, true
	}
	return last, found
}

// Lateness is kept by bucket, so that a cell's lateness takes a bounded
// room however many deadlines were missed in it: exact to the minute up
// to an hour, then 32 buckets to each doubling (a bucket spans at most
// 1/32, about 3%, of the values in it). A percentile read from buckets
// is the lower bound of the bucket of the exact value (LateFloor).
const (
	lateExact = 64 // minutes below this are their own bucket
	lateSteps = 32 // buckets per doubling above
)

// LateBucket returns the bucket of a lateness in minutes (none below 0).
func LateBucket(minutes int64) int {
	if minutes < lateExact {
		return int(max(minutes, 0))
	}
	e := 63 - bits.LeadingZeros64(uint64(minutes)) // 2^e <= minutes < 2^(e+1), e >= 6
	sub := int(minutes>>(e-5)) & (lateSteps - 1)
	return lateExact + (e-6)*lateSteps + sub
}

// LateBucketFloor returns the least lateness of a bucket.
func LateBucketFloor(b int) int64 {
	if b < lateExact {
		return int64(b)
	}
	e := (b-lateExact)/lateSteps + 6
	sub := int64((b - lateExact) % lateSteps)
	return (lateSteps + sub) << (e - 5)
}

// LateFloor rounds a lateness down to the resolution of its bucket: what
// a percentile of the buckets reports for it.
func LateFloor(minutes int64) int64 { return LateBucketFloor(LateBucket(minutes)) }

// Percentile returns the nearest-rank p-th percentile of the lateness
// counted in buckets, rounded down to its bucket (LateFloor); 0 for none.
func Percentile(late map[int]int64, p int) int64 {
	var n int64
	for _, c := range late {
		n += c
	}
	if n == 0 {
		return 0
	}
	rank := max((int64(p)*n+99)/100, 1) // ceil(p/100 * n)
	for _, b := range slices.Sorted(maps.Keys(late)) {
		if rank -= late[b]; rank <= 0 {
			return LateBucketFloor(b)
		}
	}
	return 0
}

// Children returns the distinct sexes and age bands of the children.
func Children(cs []model.ChildSummary) (sex, age []string) {
	for _, c := range cs {
		sex = append(sex, sexNames[c.Sex])
		age = append(age, AgeBand(c.AgeYears))
	}
	slices.Sort(sex)
	slices.Sort(age)
	return slices.Compact(sex), slices.Compact(age)
}

// AgeBand names the band of an age in whole years: the bands of the
// child-protection reports, 0-5, 6-10, 11-15 and 16-17.
func AgeBand(years int32) string {
	switch {
	case years < 0:
		return ""
	case years <= 5:
		return "0-5"
	case years <= 10:
		return "6-10"
	case years <= 15:
		return "11-15"
	}
	return "16-17"
}

// ChannelName, CallTypeName, AbuseNames and CircumstanceNames name the
// values as a group's key shows them.
func ChannelName(c model.Channel) string       { return channelNames[c] }
func CallTypeName(c model.CallType) string     { return callTypeNames[c] }
func AbuseNames(vs []model.AbuseForm) []string { return names(vs, abuseNames) }
func CircumstanceNames(vs []model.SpecialCircumstance) []string {
	return names(vs, circumstanceNames)
}

func names[E ~int32](vs []E, table map[E]string) []string {
	out := make([]string, 0, len(vs))
	for _, v := range vs {
		n, ok := table[v]
		if !ok {
			n = strconv.Itoa(int(v))
		}
		out = append(out, n)
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// FirstReportDelta is Delta(OfCase(c, before), OfCase(c, after)): what
// changes in c's contribution when its first report becomes after, from
// before (nil: none stored yet, as when intake writes a new case before
// its report). A first report gives its case only a channel and a call
// type (CaseFacts), which the cells of kinds with dimensions hold and
// those of kind Total and DayTotal do not: these cancel, and are not
// counted. Every report of a new case changes its case's first report,
// and the difference of the case's two whole contributions was a tenth of
// what such a write allocated.
func FirstReportDelta(c model.Case, before, after *model.StoredReport) Cells {
	d := Cells{}
	if firstFacts(before) == firstFacts(after) {
		return d
	}
	// after first: its counts are added in place, and before's through
	// a tally of each event taken away.
	CountCase(c, after, d.countDimensioned(1))
	CountCase(c, before, d.countDimensioned(-1))
	return d
}

// firstFacts are the facts a case takes from its first report.
func firstFacts(first *model.StoredReport) [2]string {
	if first == nil {
		return [2]string{}
	}
	return [2]string{ChannelName(first.Channel), CallTypeName(first.CallType)}
}

// countDimensioned is the Counter that adds sign times each event to the
// cells of c of kinds with dimensions only, dropping a cell that comes to
// zero.
func (c Cells) countDimensioned(sign int64) Counter {
	return func(keys []Key, inc func(*Tally)) {
		for _, k := range keys {
			if !k.Kind.HasDimensions() {
				continue
			}
			mine := c[k]
			if mine == nil {
				mine = &Tally{}
				c[k] = mine
			}
			if sign == 1 {
				inc(mine)
			} else {
				var one Tally
				inc(&one)
				mine.Add(&one, sign)
			}
			if mine.IsZero() {
				delete(c, k)
			}
		}
	}
}

// FirstReport returns the first report of c through report, nil when it
// is not stored (yet: intake writes a new case before its report). A case
// merged into another keeps the report that opened it (FirstReportID)
// after the merge moved its reports.
func FirstReport(c model.Case, report func(id string) (model.StoredReport, error)) (*model.StoredReport, error) {
	id := FirstReportID(c)
	if id == "" {
		return nil, nil
	}
	r, err := report(id)
	if errors.Is(err, model.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return &r, nil
}

// FirstReportID is the id of the report c takes its channel and call
// type from (FirstReport): its first linked report, else, for a case
// merged into another, the one that opened it; "" for none.
func FirstReportID(c model.Case) string {
	if len(c.ReportIDs) > 0 {
		return c.ReportIDs[0]
	}
	return c.FirstReportID
}

// Recount sums the contribution of every report and case: what the
// stored counters must hold. first returns a case's first report, nil
// when it is not stored.
func Recount(reports iter.Seq2[model.StoredReport, error], cases iter.Seq2[model.Case, error], first func(model.Case) (*model.StoredReport, error)) (Cells, error) {
	sum := Cells{}
	for r, err := range reports {
		if err != nil {
			return nil, err
		}
		sum.AddReport(r)
	}
	for c, err := range cases {
		if err != nil {
			return nil, err
		}
		r, err := first(c)
		if err != nil {
			return nil, err
		}
		sum.AddCase(c, r)
	}
	return sum, nil
}

// InRange reports whether k is of kind and its period (month, or day) in
// [from, to).
func (k Key) InRange(kind Kind, from, to string) bool {
	return k.Kind == kind && k.Month >= from && k.Month < to
}

// Compare orders keys as storage orders its cells: by kind, month, unit,
// then the other dimensions.
func Compare(a, b Key) int {
	return cmp.Or(cmp.Compare(a.Kind, b.Kind), cmp.Compare(a.Month, b.Month), cmp.Compare(a.Unit, b.Unit),
		cmp.Compare(a.Channel, b.Channel), cmp.Compare(a.CallType, b.CallType), cmp.Compare(a.Abuse, b.Abuse),
		cmp.Compare(a.Sex, b.Sex), cmp.Compare(a.Age, b.Age))
}
