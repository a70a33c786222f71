package tally

import (
	"reflect"
	"testing"
	"time"

	"github.com/childcase/childcase/internal/domain/model"
	"github.com/childcase/childcase/internal/domain/vntime"
)

// Lateness is exact to the minute below 64 minutes and within 1/32 of the
// value above (the resolution the API documents), and a bucket's floor
// is its least value.
func TestLateBuckets(t *testing.T) {
	for _, c := range []struct{ minutes, floor int64 }{
		{-5, 0}, {0, 0}, {1, 1}, {63, 63}, {64, 64}, {65, 64}, {66, 66}, {127, 126},
		{128, 128}, {131, 128}, {132, 132}, {1024, 1024}, {1055, 1024}, {1056, 1056}, {2047, 2016},
	} {
		if got := LateFloor(c.minutes); got != c.floor {
			t.Errorf("LateFloor(%d) = %d, want %d", c.minutes, got, c.floor)
		}
	}
	prev := int64(-1)
	for m := int64(0); m < 1<<20; m++ {
		f := LateFloor(m)
		if f > m || (m >= 64 && float64(m-f) >= float64(m)/32) {
			t.Fatalf("LateFloor(%d) = %d: beyond the resolution", m, f)
		}
		if f < prev {
			t.Fatalf("LateFloor(%d) = %d after %d: not monotone", m, f, prev)
		}
		prev = f
	}
}

// Percentile is the nearest rank of the bucketed values.
func TestPercentile(t *testing.T) {
	late := map[int]int64{}
	for _, m := range []int64{10, 20, 30, 40, 1500} {
		late[LateBucket(m)]++
	}
	if got := Percentile(late, 50); got != 30 {
		t.Errorf("median = %d, want 30", got)
	}
	if got := Percentile(late, 90); got != LateFloor(1500) {
		t.Errorf("p90 = %d, want %d", got, LateFloor(1500))
	}
	if got := Percentile(nil, 50); got != 0 {
		t.Errorf("median of none = %d, want 0", got)
	}
}

// A daily cell's day is the date as vntime writes it, and its monthly
// cell's month the first seven characters, every day from 2020 to 2030.
func TestDayAndMonthNames(t *testing.T) {
	for d := (vntime.Date{Year: 2020, Month: time.January, Day: 1}); d.Year < 2031; d = d.AddDays(1) {
		if got := dayName(d); got != d.String() {
			t.Fatalf("dayName(%v) = %q", d, got)
		}
		a := newAdder(Facts{}, Cells{}.Count)
		a.add(d.Start().Add(13*time.Hour), "", func(*Tally) {})
		if a.month != monthName(d) {
			t.Fatalf("the month of %v = %q, want %q", d, a.month, monthName(d))
		}
	}
}

// Every count a Tally holds, in a field of its own or of a deadline
// kind's, is given by EachCount, under a Count no other count has: a
// field added to Tally and not to EachCount would let check miss damage
// to it (a field of a kind this test cannot fill fails it too).
func TestEachCountCoversTally(t *testing.T) {
	fill := func(v reflect.Value) bool { // v holds one count of 1
		switch v.Kind() {
		case reflect.Int64:
			v.SetInt(1)
		case reflect.Map:
			if v.Type().Elem().Kind() != reflect.Int64 {
				return false
			}
			m := reflect.MakeMap(v.Type())
			m.SetMapIndex(reflect.New(v.Type().Key()).Elem(), reflect.ValueOf(int64(1)))
			v.Set(m)
		default:
			return false
		}
		return true
	}
	var tallies []Tally
	tt := reflect.TypeFor[Tally]()
	for i := range tt.NumField() {
		if tt.Field(i).Name == "Deadlines" {
			dt := reflect.TypeFor[DeadlineTally]()
			for j := range dt.NumField() {
				var d DeadlineTally
				if !fill(reflect.ValueOf(&d).Elem().Field(j)) {
					t.Fatalf("DeadlineTally.%s: a field this test cannot fill", dt.Field(j).Name)
				}
				tallies = append(tallies, Tally{Deadlines: map[model.DeadlineKind]*DeadlineTally{"D1": &d}})
			}
			continue
		}
		var x Tally
		if !fill(reflect.ValueOf(&x).Elem().Field(i)) {
			t.Fatalf("Tally.%s: a field this test cannot fill", tt.Field(i).Name)
		}
		tallies = append(tallies, x)
	}
	seen := map[Count]int{}
	for i, x := range tallies {
		var got []Count
		x.EachCount(func(c Count) { got = append(got, c) })
		if len(got) != 1 || got[0].N != 1 {
			t.Errorf("tally %d (%s): counts %+v, want one of 1", i, &x, got)
			continue
		}
		if j, dup := seen[got[0]]; dup {
			t.Errorf("tallies %d and %d give the same count %+v", j, i, got[0])
		}
		seen[got[0]] = i
	}
	// A deadline kind that counts nothing, which Add never leaves, is given
	// with N zero.
	empty := Tally{Deadlines: map[model.DeadlineKind]*DeadlineTally{"D1": {}}}
	var got []Count
	empty.EachCount(func(c Count) { got = append(got, c) })
	if len(got) != 1 || got[0].N != 0 {
		t.Errorf("a deadline kind that counts nothing: %+v, want one count of zero", got)
	}
}

// An emergency case counts by the D3 of its first cycle: a reopening's D3
// (new information) counts with the deadlines, in its own month, and
// leaves the emergency case's count as it was; a case whose first cycle
// had no D3 counts by the reopening's.
func TestCaseD3OfAReopenedCase(t *testing.T) {
	at := func(month time.Month, day int) time.Time {
		return time.Date(2026, month, day, 8, 0, 0, 0, vntime.Location())
	}
	first := model.Deadline{ID: 1, Kind: model.DeadlineEmergencyMeasures, Start: at(3, 2), Due: at(3, 2).Add(12 * time.Hour),
		State: model.DeadlineMet, DoneTime: at(3, 2).Add(time.Hour)}
	again := model.Deadline{ID: 2, Kind: model.DeadlineEmergencyMeasures, Start: at(5, 4), Due: at(5, 4).Add(12 * time.Hour),
		State: model.DeadlineMissed, DoneTime: at(5, 4).Add(12 * time.Hour)}
	for _, tt := range []struct {
		name      string
		deadlines []model.Deadline
		reopened  []time.Time
		want      string // the emergency case's D3 state
	}{
		{"never reopened", []model.Deadline{first}, nil, "MET"},
		{"reopened, its D3 missed", []model.Deadline{first, again}, []time.Time{at(5, 4)}, "MET"},
		{"no D3 before the reopening", []model.Deadline{again}, []time.Time{at(5, 4)}, "MISSED"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c := model.Case{Number: "HN-2026-00001", ReceiveTime: at(3, 2), Emergency: true, Deadlines: tt.deadlines, Reopened: tt.reopened}
			if d3, ok := CaseD3(c); !ok || string(d3.State) != tt.want {
				t.Errorf("CaseD3 = %v %v, want a %s one", d3, ok, tt.want)
			}
			byMonth := map[time.Month]*Tally{}
			CaseEvents(c, func(when time.Time, _ string, inc func(*Tally)) {
				m := when.In(vntime.Location()).Month()
				if byMonth[m] == nil {
					byMonth[m] = &Tally{}
				}
				inc(byMonth[m])
			})
			if got := byMonth[time.March]; got == nil || got.Emergencies != 1 || got.EmergencyD3[tt.want] != 1 || len(got.EmergencyD3) != 1 {
				t.Errorf("March: the emergency case counts %+v, want one, by its %s D3", got, tt.want)
			}
			if len(tt.deadlines) == 2 {
				if may := byMonth[time.May]; may == nil || may.Deadline(model.DeadlineEmergencyMeasures).Missed != 1 {
					t.Errorf("May: the reopening's missed D3 is not counted with the deadlines: %+v", may)
				}
			}
		})
	}
}

// What a report changes in its case's contribution by becoming, or
// ceasing to be, its first report is the difference of the case's two
// whole contributions, for a case with every kind of event, new or
// closed: FirstReportDelta counts only the cells that can differ.
func TestFirstReportDeltaIsTheDifference(t *testing.T) {
	at := func(month time.Month, day int) time.Time {
		return time.Date(2026, month, day, 8, 0, 0, 0, vntime.Location())
	}
	unit := "units/00004@2025-07-01"
	newCase := model.Case{Number: "HN-2026-00001", Status: model.StatusAwaitingAcknowledgement, ReceiveTime: at(3, 2),
		ReportIDs: []string{"r1"}, SuspectedAbuse: []model.AbuseForm{model.AbuseSexual},
		Children:  []model.ChildSummary{{AgeYears: 9, Sex: model.SexFemale}},
		Deadlines: []model.Deadline{{ID: 1, Kind: "D1", Unit: unit, Start: at(3, 2), Due: at(3, 3), State: model.DeadlineOpen}}}
	worked := newCase
	worked.Status, worked.Emergency, worked.CloseTime = model.StatusClosed, true, at(6, 30)
	worked.Deadlines = []model.Deadline{
		{ID: 1, Kind: "D1", Unit: unit, Start: at(3, 2), Due: at(3, 3), State: model.DeadlineMet, DoneTime: at(3, 2)},
		{ID: 2, Kind: model.DeadlineEmergencyMeasures, Start: at(3, 2), Due: at(3, 3), State: model.DeadlineMissed, DoneTime: at(4, 9), MinutesLate: 900,
			Escalations: []model.Escalation{{Time: at(3, 4), To: "units/00001@2025-07-01", MinutesLate: 60}}},
		{ID: 3, Kind: "D5", Unit: unit, Start: at(5, 2), Due: at(5, 20), State: model.DeadlineOpen},
	}
	worked.Transfers = []model.Transfer{{ID: 1, From: unit, To: "units/00007@2025-07-01", ProposeTime: at(4, 1), State: model.TransferAccepted, DecideTime: at(4, 2)}}
	worked.LateRecordings = []model.LateRecording{{RecordTime: at(4, 3), Unit: unit}}
	worked.PoliceReferrals = []model.PoliceReferral{{PoliceUnit: "policeUnits/p1", ReferTime: at(3, 5), Outcome: "PROSECUTED", OutcomeTime: at(6, 1)}}

	hotline := &model.StoredReport{ID: "r1", Channel: model.ChannelHotline111, CallType: model.CallIntervention}
	walkIn := &model.StoredReport{ID: "r1", Channel: model.ChannelWalkIn, CallType: model.CallIntervention}
	sameFacts := &model.StoredReport{ID: "r1", Channel: model.ChannelHotline111, CallType: model.CallIntervention, Private: model.Sealed{KeyID: "dk-2"}}
	for _, c := range []model.Case{newCase, worked} {
		for _, tt := range []struct {
			name          string
			before, after *model.StoredReport
		}{
			{"the first report stored", nil, hotline},
			{"its channel changed", hotline, walkIn},
			{"rewritten with the same facts", hotline, sameFacts},
			{"no longer its first", walkIn, nil},
			{"none either side", nil, nil},
		} {
			want := Delta(OfCase(c, tt.before), OfCase(c, tt.after))
			got := FirstReportDelta(c, tt.before, tt.after)
			if !reflect.DeepEqual(got, want) {
				t.Errorf("%s, case of status %d: FirstReportDelta = %d cells, want the difference of its contributions, %d cells:\ngot  %v\nwant %v",
					tt.name, c.Status, len(got), len(want), got, want)
			}
			if (tt.before == nil) != (tt.after == nil) && len(want) == 0 {
				t.Errorf("%s: the difference is empty; the case gives this test nothing to check", tt.name)
			}
		}
	}
}
