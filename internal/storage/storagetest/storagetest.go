// Package storagetest is the conformance suite for datastore.Store: every
// implementation runs RunAll to prove it keeps the contract.
package storagetest

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/childcase/childcase/internal/domain/datastore"
	"github.com/childcase/childcase/internal/domain/model"
	"github.com/childcase/childcase/internal/domain/units"
	"github.com/childcase/childcase/internal/domain/vntime"
)

// RunAll runs the whole suite. newStore must return a new, empty store each
// time it is called; it should arrange (with t.Cleanup) for the store to be
// closed. Every subtest gets its own store.
func RunAll(t *testing.T, newStore func(t *testing.T) datastore.Store) {
	t.Helper()
	groups := []struct {
		name  string
		tests []namedTest
	}{
		{"Report", reportTests},
		{"CaseSequence", sequenceTests},
		{"Case", caseTests},
		{"ListReports", listReportTests},
		{"ListCases", listCaseTests},
		{"CaseIndexes", caseIndexTests},
		{"Idempotency", idempotencyTests},
		{"Transactions", transactionTests},
		{"User", userTests},
		{"Token", tokenTests},
		{"PoliceUnit", policeUnitTests},
		{"DataKey", dataKeyTests},
		{"Audit", auditTests},
		{"Batch", batchTests},
		{"UpdateGroupCommit", updateGroupTests},
		{"CaseByID", caseByIDTests},
		{"CaseEvents", caseEventTests},
		{"Timers", timerTests},
		{"Outbox", outboxTests},
		{"Cursors", cursorTests},
		{"ProcessTransactions", processTxTests},
		{"SearchIndex", searchIndexTests},
		{"Stats", statsTests},
	}
	for _, g := range groups {
		t.Run(g.name, func(t *testing.T) {
			for _, tt := range g.tests {
				t.Run(tt.name, func(t *testing.T) {
					tt.fn(t, newStore(t))
				})
			}
		})
	}
}

type namedTest struct {
	name string
	fn   func(t *testing.T, s datastore.Store)
}

// ---------------------------------------------------------------------------
// Fixtures

var (
	// unitA and unitAOld share a code but are different versions of a unit,
	// so the store must tell them apart by the whole key.
	unitA    = units.Key{Code: "00004", ValidFrom: vntime.Date{Year: 2025, Month: time.July, Day: 1}}
	unitAOld = units.Key{Code: "00004", ValidFrom: vntime.Date{Year: 2025, Month: time.January, Day: 1}}
	unitB    = units.Key{Code: "00007", ValidFrom: vntime.Date{Year: 2025, Month: time.July, Day: 1}}
	unitC    = units.Key{Code: "00008", ValidFrom: vntime.Date{Year: 2025, Month: time.July, Day: 1}}
)

const (
	callOther model.CallType = 2
	callInfo  model.CallType = 3

	statusInProgress model.CaseStatus = 3
)

// baseTime is a UTC instant with nanoseconds, so that a store that loses
// precision or the zone is caught.
var baseTime = time.Date(2026, time.March, 14, 2, 26, 53, 589793238, time.UTC)

// newIDs returns n report ids (UUIDv7) in strictly increasing order, so the
// later an id comes the newer its report is.
func newIDs(t *testing.T, n int) []string {
	t.Helper()
	ids := make([]string, n)
	for i := range ids {
		u, err := uuid.NewV7()
		if err != nil {
			t.Fatalf("uuid.NewV7: %v", err)
		}
		ids[i] = u.String()
		if i > 0 && ids[i] <= ids[i-1] {
			t.Fatalf("uuid.NewV7 returned %s after %s: not increasing", ids[i], ids[i-1])
		}
	}
	return ids
}

func newID(t *testing.T) string { return newIDs(t, 1)[0] }

// fullReport returns a report with every field set. The sealed blobs hold
// bytes that are not valid UTF-8 and contain NULs, so a store that keeps
// them as text is caught.
func fullReport(id string) model.StoredReport {
	return model.StoredReport{
		ID:           id,
		Channel:      2,
		Means:        model.MeansLetter,
		ReceiveTime:  baseTime,
		IncidentUnit: unitA,
		CallType:     model.CallIntervention,
		Children: []model.ChildSummary{
			{AgeYears: 10, Sex: 1},
			{AgeYears: 9, AgeEstimated: true, Sex: 2},
		},
		SuspectedAbuse:       []model.AbuseForm{1, 4},
		SpecialCircumstances: []model.SpecialCircumstance{3},
		ImmediateDanger:      true,
		CaseNumber:           "HN-2026-00001",
		CreateTime:           baseTime.Add(1500 * time.Millisecond),
		TakenBy:              "lan.nguyen",
		TakerUnit:            model.OrgHotline111,
		Private: model.Sealed{
			KeyID: "dk-case-HN-2026-00001",
			Data:  []byte{0x01, 0x00, 0xff, 0xfe, 'p', 'r', 'i', 0x00, 0x80, 0xc3, 0x28},
		},
		Reporter: model.Sealed{
			KeyID: "dk-reporter-" + id,
			Data:  []byte{0x01, 0xde, 0xad, 0x00, 0xbe, 0xef, 0xff, 0x7f},
		},
	}
}

// minimalReport returns a report with only an id, a unit, a call type and
// times: no taker and nothing sealed.
func minimalReport(id string, ct model.CallType) model.StoredReport {
	return model.StoredReport{
		ID:           id,
		ReceiveTime:  baseTime,
		IncidentUnit: unitB,
		CallType:     ct,
		CreateTime:   baseTime,
	}
}

func sampleCase(number string, unit units.Key, status model.CaseStatus) model.Case {
	return model.Case{
		Number:          number,
		Status:          status,
		ResponsibleUnit: unit,
		IncidentUnit:    unitC,
		ReportIDs:       []string{"0190c4a2-7d3e-7c4b-8a5e-0123456789ab", "0190c4a2-7d3e-7c4b-8a5e-0123456789ac"},
		ReceiveTime:     baseTime,
		ImmediateDanger: true,
		CreateTime:      baseTime.Add(time.Second),
		UpdateTime:      baseTime.Add(2 * time.Second),
		Revision:        1,
		Children: []model.ChildSummary{
			{AgeYears: 10, Sex: 1},
			{AgeYears: 9, AgeEstimated: true, Sex: 2},
		},
		SuspectedAbuse:       []model.AbuseForm{1, 4},
		SpecialCircumstances: []model.SpecialCircumstance{9, 11},
		Handlers:             []units.Key{unitAOld, unit},
		IntakeUsers:          []string{"lan.nguyen", "minh.tran"},
		IntakeUnits:          []string{model.OrgHotline111, model.OrgSocialWorkCentre},
		ResponsibleOfficer:   "hoa.le",
		PoliceReferrals: []model.PoliceReferral{
			{
				PoliceUnit: model.PoliceUnitName("ca-phuong-ba-dinh"), SuspectedOffence: "Điều 140", ReferTime: baseTime.Add(time.Hour), ReferredBy: "hoa.le",
				State: model.PoliceDecided, ReferenceNumber: "CA-BD/2026/117", AcknowledgeTime: baseTime.Add(90 * time.Minute),
				ForwardTime: baseTime.Add(20 * time.Hour), ForwardRecordTime: baseTime.Add(45*time.Hour + 3), ForwardLateRecording: true,
				Investigators: "CQĐT Công an quận Ba Đình",
				Outcome:       "PROSECUTED", OutcomeTime: baseTime.Add(19 * 24 * time.Hour),
				Decisions: []model.PoliceDecision{
					{Kind: model.PoliceSuspension, Number: "3/QĐ-TĐC", Reason: "chờ giám định", Time: baseTime.Add(3 * 24 * time.Hour), RecordedBy: "ca.lien"},
					{Kind: model.PoliceExtension, Number: "12/QĐ-CSĐT", Reason: "xác minh nhiều nơi", UntilDate: "2026-03-01", Time: baseTime.Add(5*24*time.Hour + 7), RecordedBy: "ca.lien"},
				},
			},
			{PoliceUnit: model.PoliceUnitName("ca-ha-noi"), SuspectedOffence: "Điều 146", ReferTime: baseTime.Add(2 * time.Hour), ReferredBy: "chair.pham", State: model.PoliceReferred},
		},

		Emergency:         true,
		EmergencyReason:   model.EmergencyCaregiverIsAbuser,
		EmergencyMeasured: baseTime.Add(11*time.Hour + 59*time.Minute + 7),
		SeparationStart:   baseTime.Add(12 * time.Hour),
		SeparationEnd:     baseTime.Add(14*24*time.Hour + 3),
		PlanState:         model.PlanSubmitted,
		PlanCycle:         2,
		Services: []model.PlanService{
			{ID: 1, StartDate: "2026-03-20", ExpectedEndDate: "2026-06-30", CostEstimateVND: 12_500_000, State: "IN_PROGRESS"},
			// 2^53+1: a store that passes numbers through a float64 loses it.
			{ID: 2, StartDate: "2026-04-01", ExpectedEndDate: "2026-09-30", CostEstimateVND: 1<<53 + 1, State: "PLANNED"},
		},
		ClosureProposed:   true,
		AwaitingSuccessor: true,
		PoliceAlerted:     []string{"policeUnits/ca-ha-noi"},
		PoliceViews:       []model.PoliceViewStamp{{PoliceUnit: "policeUnits/ca-ha-noi", Revision: 3, Time: baseTime.Add(27 * time.Hour)}, {PoliceUnit: "policeUnits/ca-phuong-ba-dinh", Revision: 7, Time: baseTime.Add(25 * time.Hour), CaseEtag: true}},
		LateRecordings:    []model.LateRecording{{RecordTime: baseTime.Add(26 * time.Hour), Unit: "units/00004@2025-07-01"}},
		MergedInto:        "HN-2026-00900",
		MergedFrom:        []string{"HN-2025-00017", "HN-2026-00003"},
		FirstReportID:     "0190c4a2-7d3e-7c4b-8a5e-0000000000ff",
		CloseTime:         baseTime.Add(200*24*time.Hour + 11),
		Reopened:          []time.Time{baseTime.Add(150*24*time.Hour + 13), baseTime.Add(180*24*time.Hour + 17)},
		Deadlines: []model.Deadline{
			{
				ID: 1, Kind: model.DeadlineEmergencyMeasures, Clock: model.ClockHours, Length: 12 * time.Hour,
				Unit: "units/00004", Start: baseTime, Due: baseTime.Add(12 * time.Hour),
				WarnAt: []float64{0.5}, WarningsSent: 1,
				State: model.DeadlineMet, DoneTime: baseTime.Add(11*time.Hour + 59*time.Minute + 7),
			},
			{
				ID: 7, Kind: model.DeadlinePlanDraft, Ref: "services/2", Clock: model.ClockWorkingDays, Days: 5,
				Unit: "units/00007", Start: baseTime.Add(3 * 24 * time.Hour),
				// Another zone: the instant must survive, whatever zone comes back.
				Due:             baseTime.Add(10*24*time.Hour + 13).In(time.FixedZone("ICT", 7*3600)),
				CalendarVersion: "vn-2026.2",
				Pausable:        true,
				PausedAt:        baseTime.Add(4*24*time.Hour + 17),
				PauseReason:     "child in hospital",
				Paused:          36*time.Hour + 19,
				WarnAt:          []float64{0.5, 1.0 / 3, 0.9},
				WarnTimes:       []time.Time{baseTime.Add(5*24*time.Hour + 41), baseTime.Add(6*24*time.Hour + 43), baseTime.Add(8*24*time.Hour + 47)},
				WarningsSent:    2,
				State:           model.DeadlineMissed,
				Breached:        true,
				DoneTime:        baseTime.Add(12*24*time.Hour + 23),
				MinutesLate:     2*24*60 + 1,
				Escalations: []model.Escalation{
					{Time: baseTime.Add(10*24*time.Hour + 29), To: "units/00001", MinutesLate: 1},
					{Time: baseTime.Add(11*24*time.Hour + 31), To: "units/01", MinutesLate: 24 * 60},
				},
				NextFire: baseTime.Add(13*24*time.Hour + 37),
			},
		},
		Transfers: []model.Transfer{
			{
				ID: 1, From: "units/00004", To: "units/00007", Reason: "the family moved", ProposedBy: "hoa.le",
				ProposeTime: baseTime.Add(40 * time.Hour), State: model.TransferDeclined, DecidedBy: "chair.vu",
				DecideTime: baseTime.Add(41*time.Hour + 41), DeclineNote: "the address is not in our commune",
			},
			{ID: 2, From: "units/00004", To: "units/00008", Reason: "second try", ProposedBy: "hoa.le", ProposeTime: baseTime.Add(50 * time.Hour), State: model.TransferProposed},
		},
		Dossier: model.Sealed{
			KeyID: "dk-case-" + number,
			Data:  []byte{0x02, 0x00, 0xff, 0xc3, 0x28, 'd', 'o', 's', 0x00, 0x80},
		},
		Texts: model.Sealed{
			KeyID: "dk-case-" + number,
			Data:  []byte{0x02, 0x01, 0xfe, 't', 'x', 't', 0x00, 0x81},
		},
	}
}

// ---------------------------------------------------------------------------
// Helpers

func update(t *testing.T, s datastore.Store, fn func(datastore.Tx) error) {
	t.Helper()
	if err := s.Update(context.Background(), fn); err != nil {
		t.Fatalf("Update: %v", err)
	}
}

func view(t *testing.T, s datastore.Store, fn func(datastore.ReadTx) error) {
	t.Helper()
	if err := s.View(context.Background(), fn); err != nil {
		t.Fatalf("View: %v", err)
	}
}

func createReports(t *testing.T, s datastore.Store, rs ...model.StoredReport) {
	t.Helper()
	update(t, s, func(tx datastore.Tx) error {
		for _, r := range rs {
			if err := tx.CreateReport(r); err != nil {
				return fmt.Errorf("CreateReport(%s): %w", r.ID, err)
			}
		}
		return nil
	})
}

// createCases stores the cases one transaction each and returns them with
// their assigned ids.
func createCases(t *testing.T, s datastore.Store, cs ...model.Case) []model.Case {
	t.Helper()
	out := make([]model.Case, len(cs))
	for i, c := range cs {
		update(t, s, func(tx datastore.Tx) error {
			if err := tx.CreateCase(&c); err != nil {
				return fmt.Errorf("CreateCase(%s): %w", c.Number, err)
			}
			return nil
		})
		out[i] = c
	}
	return out
}

// createManyCases stores n cases, made by mk(i) for i from 0, a hundred a
// transaction, and returns the first as stored (with its id).
func createManyCases(t *testing.T, s datastore.Store, n int, mk func(i int) model.Case) model.Case {
	t.Helper()
	var first model.Case
	for from := 0; from < n; from += 100 {
		update(t, s, func(tx datastore.Tx) error {
			for i := from; i < min(from+100, n); i++ {
				c := mk(i)
				if err := tx.CreateCase(&c); err != nil {
					return fmt.Errorf("CreateCase(%s): %w", c.Number, err)
				}
				if i == 0 {
					first = c
				}
			}
			return nil
		})
	}
	return first
}

// readOne runs read in a read transaction and returns its result and error.
func readOne[T any](t *testing.T, s datastore.Store, read func(datastore.ReadTx) (T, error)) (T, error) {
	t.Helper()
	var v T
	var rerr error
	view(t, s, func(tx datastore.ReadTx) error {
		v, rerr = read(tx)
		return nil
	})
	return v, rerr
}

func getReport(t *testing.T, s datastore.Store, id string) (model.StoredReport, error) {
	t.Helper()
	return readOne(t, s, func(tx datastore.ReadTx) (model.StoredReport, error) { return tx.Report(id) })
}

func getCase(t *testing.T, s datastore.Store, number string) (model.Case, error) {
	t.Helper()
	return readOne(t, s, func(tx datastore.ReadTx) (model.Case, error) { return tx.CaseByNumber(number) })
}

func mustReport(t *testing.T, s datastore.Store, id string) model.StoredReport {
	t.Helper()
	r, err := getReport(t, s, id)
	if err != nil {
		t.Fatalf("Report(%s): %v", id, err)
	}
	return r
}

func mustCase(t *testing.T, s datastore.Store, number string) model.Case {
	t.Helper()
	c, err := getCase(t, s, number)
	if err != nil {
		t.Fatalf("CaseByNumber(%s): %v", number, err)
	}
	return c
}

func wantErr(t *testing.T, what string, err, want error) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Errorf("%s: error = %v, want errors.Is(err, %v)", what, err, want)
	}
}

// listReportIDs lists the ids of every report of call type ct (0 for any) in
// one call.
func listReportIDs(t *testing.T, s datastore.Store, ct model.CallType) []string {
	t.Helper()
	var ids []string
	view(t, s, func(tx datastore.ReadTx) error {
		rs, next, err := tx.ListReports(datastore.ReportQuery{CallType: ct, Limit: 1000})
		if err != nil {
			return fmt.Errorf("ListReports(call type %d): %w", ct, err)
		}
		if next != "" {
			return fmt.Errorf("ListReports(call type %d) with a limit above the count returned cursor %q", ct, next)
		}
		for _, r := range rs {
			ids = append(ids, r.ID)
		}
		return nil
	})
	return ids
}

// listTakerReportIDs lists the ids of every report the user took, in one
// call.
func listTakerReportIDs(t *testing.T, s datastore.Store, takenBy string) []string {
	t.Helper()
	var ids []string
	view(t, s, func(tx datastore.ReadTx) error {
		rs, next, err := tx.ListReports(datastore.ReportQuery{TakenBy: takenBy, Limit: 1000})
		if err != nil {
			return fmt.Errorf("ListReports(taken by %q): %w", takenBy, err)
		}
		if next != "" {
			return fmt.Errorf("ListReports(taken by %q) with a limit above the count returned cursor %q", takenBy, next)
		}
		ids = reportIDs(rs)
		return nil
	})
	return ids
}

// listCaseNumbers lists every case matching the filter in one call.
func listCaseNumbers(t *testing.T, s datastore.Store, unit units.Key, status model.CaseStatus) []string {
	t.Helper()
	var nums []string
	view(t, s, func(tx datastore.ReadTx) error {
		cs, next, err := tx.ListCases(datastore.CaseQuery{ResponsibleUnit: unit, Status: status, Limit: 1000})
		if err != nil {
			return fmt.Errorf("ListCases(unit %s, status %d): %w", unitName(unit), status, err)
		}
		if next != "" {
			return fmt.Errorf("ListCases(unit %s, status %d) with a limit above the count returned cursor %q", unitName(unit), status, next)
		}
		for _, c := range cs {
			nums = append(nums, c.Number)
		}
		return nil
	})
	return nums
}

// sameReport reports how got differs from want, or "" if they are equal:
// times must be the same instant, nil and empty slices count as equal, and
// every other field must be equal.
func sameReport(got, want model.StoredReport) string {
	diffs := timeDiffs(
		timePair{"ReceiveTime", &got.ReceiveTime, want.ReceiveTime},
		timePair{"CreateTime", &got.CreateTime, want.CreateTime},
	)
	if !reflect.DeepEqual(normReport(got), normReport(want)) {
		diffs = append(diffs, fmt.Sprintf("\n got  %+v\n want %+v", got, want))
	}
	return strings.Join(diffs, "; ")
}

// timePair is a time field of a record read back (got, which timeDiffs
// overwrites with want once compared) and the value written (want).
type timePair struct {
	name string
	got  *time.Time
	want time.Time
}

// timeDiffs compares times as instants (a store may change their location)
// and then makes got's fields equal to want's, so the rest of the record can
// be compared with reflect.DeepEqual.
func timeDiffs(pairs ...timePair) []string {
	var diffs []string
	for _, p := range pairs {
		if !p.got.Equal(p.want) {
			diffs = append(diffs, fmt.Sprintf("%s = %v, want %v", p.name, *p.got, p.want))
		}
		*p.got = p.want
	}
	return diffs
}

func normReport(r model.StoredReport) model.StoredReport {
	r.Children = nilIfEmpty(r.Children)
	r.SuspectedAbuse = nilIfEmpty(r.SuspectedAbuse)
	r.SpecialCircumstances = nilIfEmpty(r.SpecialCircumstances)
	r.Private.Data = nilIfEmpty(r.Private.Data)
	r.Reporter.Data = nilIfEmpty(r.Reporter.Data)
	return r
}

// sameCase reports how got differs from want, or "" if they are equal:
// every field, nested ones included, must be equal, times as instants, nil
// and empty slices counting as equal.
func sameCase(got, want model.Case) string {
	return fieldDiffs(canonical(got), canonical(want))
}

// fieldDiffs names the top-level fields in which two structs of one type
// differ, with both values, or returns "" if they are deeply equal.
func fieldDiffs[T any](got, want T) string {
	if reflect.DeepEqual(got, want) {
		return ""
	}
	g, w := reflect.ValueOf(got), reflect.ValueOf(want)
	if g.Kind() != reflect.Struct {
		return fmt.Sprintf("got %+v, want %+v", got, want)
	}
	var diffs []string
	for i := range g.NumField() {
		if !g.Type().Field(i).IsExported() {
			continue
		}
		if gf, wf := g.Field(i).Interface(), w.Field(i).Interface(); !reflect.DeepEqual(gf, wf) {
			diffs = append(diffs, fmt.Sprintf("%s = %+v, want %+v", g.Type().Field(i).Name, gf, wf))
		}
	}
	if len(diffs) == 0 {
		return fmt.Sprintf("\n got  %+v\n want %+v", got, want)
	}
	return strings.Join(diffs, "; ")
}

var timeType = reflect.TypeFor[time.Time]()

// canonical returns a deep copy of v in which every time (nested ones
// included) is in UTC without a monotonic reading and every empty slice or
// map is nil, so that reflect.DeepEqual compares instants and contents: a
// store may change a time's location or an empty slice into nil.
func canonical[T any](v T) T {
	return canonicalValue(reflect.ValueOf(&v).Elem()).Interface().(T)
}

func canonicalValue(v reflect.Value) reflect.Value {
	if v.Type() == timeType {
		return reflect.ValueOf(v.Interface().(time.Time).Round(0).UTC())
	}
	out := reflect.New(v.Type()).Elem()
	switch v.Kind() {
	case reflect.Struct:
		out.Set(v) // unexported fields as they are
		for i := range v.NumField() {
			if v.Type().Field(i).IsExported() {
				out.Field(i).Set(canonicalValue(v.Field(i)))
			}
		}
	case reflect.Slice:
		if v.Len() == 0 {
			return out
		}
		out.Set(reflect.MakeSlice(v.Type(), v.Len(), v.Len()))
		for i := range v.Len() {
			out.Index(i).Set(canonicalValue(v.Index(i)))
		}
	case reflect.Map:
		if v.Len() == 0 {
			return out
		}
		out.Set(reflect.MakeMapWithSize(v.Type(), v.Len()))
		for it := v.MapRange(); it.Next(); {
			out.SetMapIndex(it.Key(), canonicalValue(it.Value()))
		}
	case reflect.Pointer:
		if v.IsNil() {
			return out
		}
		out.Set(reflect.New(v.Type().Elem()))
		out.Elem().Set(canonicalValue(v.Elem()))
	default:
		out.Set(v)
	}
	return out
}

// unsetFields returns the paths of the exported fields that are zero in
// every one of vals (values of one struct type), looking into struct
// fields, pointers and the elements of slices: a fixture that leaves a
// field unset cannot show that a store keeps it.
func unsetFields(path string, vals []reflect.Value) []string {
	typ := vals[0].Type()
	var out []string
	for i := range typ.NumField() {
		f := typ.Field(i)
		if !f.IsExported() || f.Tag.Get("store") == "-" {
			continue // a field of a view, never stored
		}
		p := path + "." + f.Name
		var inner []reflect.Value
		set := false
		for _, v := range vals {
			fv := v.Field(i)
			if fv.IsZero() {
				continue
			}
			set = true
			switch fv.Kind() {
			case reflect.Struct:
				inner = append(inner, fv)
			case reflect.Pointer:
				inner = append(inner, fv.Elem())
			case reflect.Slice:
				for j := range fv.Len() {
					inner = append(inner, fv.Index(j))
				}
			}
		}
		if !set {
			out = append(out, p)
			continue
		}
		if len(inner) > 0 && inner[0].Kind() == reflect.Struct && inner[0].Type() != timeType {
			out = append(out, unsetFields(p, inner)...)
		}
	}
	return out
}

func sameIdempotency(got, want model.IdempotencyRecord) string {
	var diffs []string
	if !got.CreateTime.Equal(want.CreateTime) {
		diffs = append(diffs, fmt.Sprintf("CreateTime = %v, want %v", got.CreateTime, want.CreateTime))
	}
	got.CreateTime = want.CreateTime
	got.Fingerprint, want.Fingerprint = nilIfEmpty(got.Fingerprint), nilIfEmpty(want.Fingerprint)
	if !reflect.DeepEqual(got, want) {
		diffs = append(diffs, fmt.Sprintf("\n got  %+v\n want %+v", got, want))
	}
	return strings.Join(diffs, "; ")
}

func nilIfEmpty[S ~[]E, E any](s S) S {
	if len(s) == 0 {
		return nil
	}
	return s
}

func reportIDs(rs []model.StoredReport) []string {
	ids := make([]string, len(rs))
	for i, r := range rs {
		ids[i] = r.ID
	}
	return ids
}

func caseNumbers(cs []model.Case) []string {
	nums := make([]string, len(cs))
	for i, c := range cs {
		nums[i] = c.Number
	}
	return nums
}

// reversed returns a reversed copy of s: fixtures are built oldest first and
// lists return newest first.
func reversed[S ~[]E, E any](s S) S {
	out := slices.Clone(s)
	slices.Reverse(out)
	return out
}

// filterReports returns the ids of the reports (oldest first) with call type
// ct, or all of them for 0.
func filterReports(rs []model.StoredReport, ct model.CallType) []string {
	return filterReportsBy(rs, func(r model.StoredReport) bool { return ct == 0 || r.CallType == ct })
}

// filterReportsBy returns the ids of the reports (oldest first) for which
// keep returns true.
func filterReportsBy(rs []model.StoredReport, keep func(model.StoredReport) bool) []string {
	var ids []string
	for _, r := range rs {
		if keep(r) {
			ids = append(ids, r.ID)
		}
	}
	return ids
}

// filterCases returns the numbers of the cases (oldest first) that match.
func filterCases(cs []model.Case, unit units.Key, status model.CaseStatus) []string {
	return filterCasesBy(cs, func(c model.Case) bool {
		return (unit.IsZero() || c.ResponsibleUnit == unit) && (status == 0 || c.Status == status)
	})
}

// filterCasesBy returns the numbers of the cases (oldest first) for which
// keep returns true.
func filterCasesBy(cs []model.Case, keep func(model.Case) bool) []string {
	var nums []string
	for _, c := range cs {
		if keep(c) {
			nums = append(nums, c.Number)
		}
	}
	return nums
}

// unitName names a unit filter in messages.
func unitName(k units.Key) string {
	if k.IsZero() {
		return "any"
	}
	return k.String()
}
