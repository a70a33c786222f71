package storagetest

import (
	"errors"
	"fmt"
	"slices"
	"testing"

	"github.com/childcase/childcase/internal/domain/access"
	"github.com/childcase/childcase/internal/domain/datastore"
	"github.com/childcase/childcase/internal/domain/model"
	"github.com/childcase/childcase/internal/domain/units"
	"github.com/childcase/childcase/internal/storage/storekey"
)

// pageSizes are the limits every paging test walks with.
var pageSizes = []int{1, 2, 3, 7, 100}

var listReportTests = []namedTest{
	{"Empty", testListReportsEmpty},
	{"NewestFirstAndFilters", testListReportsFilters},
	{"Paging", testListReportsPaging},
	{"BadCursor", testListReportsBadCursor},
	{"TakenBy", testListReportsTakenBy},
	{"TakenByPaging", testListReportsTakenByPaging},
	{"Match", testListReportsMatch},
	{"MatchNeverEndsAPage", testListReportsMatchNeverEndsAPage},
}

var listCaseTests = []namedTest{
	{"Empty", testListCasesEmpty},
	{"NewestFirstAndFilters", testListCasesFilters},
	{"Paging", testListCasesPaging},
	{"NoEmptyLastPage", testListCasesNoEmptyLastPage},
	{"CursorSurvivesMove", testListCasesCursorSurvivesMove},
	{"BadCursor", testListCasesBadCursor},
	{"Match", testListCasesMatch},
	{"Filter", testListCasesFilter},
	{"MatchSkipsMany", testListCasesMatchSkipsMany},
	{"OutOfScopeNeverEndsAPage", testListCasesOutOfScopeNeverEndsAPage},
	{"UnitWhollyInScope", testListCasesUnitWhollyInScope},
	{"HeldBy", testListCasesHeldBy},
}

// reportSet stores 10 reports with mixed call types and takers, oldest
// first, some in one transaction and some in their own, and returns them
// oldest first.
func reportSet(t *testing.T, s datastore.Store) []model.StoredReport {
	t.Helper()
	types := []model.CallType{
		model.CallIntervention, callOther, model.CallIntervention, callInfo, model.CallIntervention,
		model.CallIntervention, callOther, model.CallIntervention, callInfo, model.CallIntervention,
	}
	ids := newIDs(t, len(types))
	rs := make([]model.StoredReport, len(types))
	for i, ct := range types {
		rs[i] = minimalReport(ids[i], ct)
		rs[i].TakenBy = reportTakers[i%len(reportTakers)]
		rs[i].Private = model.Sealed{KeyID: fmt.Sprintf("dk-%d", i), Data: []byte{byte(i), 0}}
	}
	createReports(t, s, rs[:4]...)
	for _, r := range rs[4:] {
		createReports(t, s, r)
	}
	return rs
}

// caseSet stores 11 cases spread over units and statuses, oldest first, and
// returns them oldest first with their ids.
func caseSet(t *testing.T, s datastore.Store) []model.Case {
	t.Helper()
	specs := []struct {
		unit   units.Key
		status model.CaseStatus
	}{
		{unitA, model.StatusAwaitingAcknowledgement},
		{unitB, model.StatusAwaitingAcknowledgement},
		{unitA, model.StatusClosed},
		{unitAOld, model.StatusAwaitingAcknowledgement},
		{unitA, model.StatusAwaitingAcknowledgement},
		{unitB, statusInProgress},
		{unitA, statusInProgress},
		{unitA, model.StatusAwaitingAcknowledgement},
		{unitB, model.StatusAwaitingAcknowledgement},
		{unitA, model.StatusClosed},
		{unitA, model.StatusAwaitingAcknowledgement},
	}
	cs := make([]model.Case, len(specs))
	for i, sp := range specs {
		cs[i] = sampleCase(fmt.Sprintf("HN-2026-%05d", i+1), sp.unit, sp.status)
	}
	// The first three in one transaction, the rest one by one.
	update(t, s, func(tx datastore.Tx) error {
		for i := range cs[:3] {
			if err := tx.CreateCase(&cs[i]); err != nil {
				return err
			}
		}
		return nil
	})
	copy(cs[3:], createCases(t, s, cs[3:]...))
	return cs
}

var reportFilters = []model.CallType{0, model.CallIntervention, callOther, callInfo, 99}

// reportTakers are the takers of reportSet, in turn: "" is a report with no
// taker, and "lan" is a prefix of "lan.nguyen" that must not match its
// reports.
var reportTakers = []string{"lan.nguyen", "minh.tran", "", "lan"}

// takerFilters are the TakenBy values the lists are checked with.
var takerFilters = []string{"lan.nguyen", "minh.tran", "lan", "lan.nguye", "nobody"}

var caseFilters = []caseFilter{
	{units.Key{}, 0},
	{unitA, 0},
	{unitB, 0},
	{unitAOld, 0},
	{unitC, 0},
	{units.Key{}, model.StatusAwaitingAcknowledgement},
	{units.Key{}, statusInProgress},
	{units.Key{}, model.StatusClosed},
	{units.Key{}, 99},
	{unitA, model.StatusAwaitingAcknowledgement},
	{unitA, model.StatusClosed},
	{unitB, statusInProgress},
	{unitB, model.StatusClosed},
	{unitAOld, model.StatusAwaitingAcknowledgement},
}

func testListReportsEmpty(t *testing.T, s datastore.Store) {
	for _, ct := range reportFilters {
		view(t, s, func(tx datastore.ReadTx) error {
			rs, next, err := tx.ListReports(datastore.ReportQuery{CallType: ct, Limit: 10})
			if err != nil || len(rs) != 0 || next != "" {
				t.Errorf("ListReports(call type %d) on an empty store = %v, %q, %v; want none, \"\", nil", ct, rs, next, err)
			}
			return nil
		})
	}
}

func testListCasesEmpty(t *testing.T, s datastore.Store) {
	for _, f := range caseFilters {
		view(t, s, func(tx datastore.ReadTx) error {
			cs, next, err := tx.ListCases(datastore.CaseQuery{ResponsibleUnit: f.unit, Status: f.status, Limit: 10})
			if err != nil || len(cs) != 0 || next != "" {
				t.Errorf("ListCases(unit %s, status %d) on an empty store = %v, %q, %v; want none, \"\", nil", unitName(f.unit), f.status, cs, next, err)
			}
			return nil
		})
	}
}

func testListReportsFilters(t *testing.T, s datastore.Store) {
	rs := reportSet(t, s)
	for _, ct := range reportFilters {
		want := reversed(filterReports(rs, ct))
		if got := listReportIDs(t, s, ct); !slices.Equal(got, want) {
			t.Errorf("ListReports(call type %d) = %v, want newest first %v", ct, got, want)
		}
	}
	// The listed records are whole, not just ids.
	view(t, s, func(tx datastore.ReadTx) error {
		got, _, err := tx.ListReports(datastore.ReportQuery{Limit: 1})
		if err != nil {
			return err
		}
		if len(got) != 1 {
			return fmt.Errorf("ListReports(limit 1) returned %d reports", len(got))
		}
		if d := sameReport(got[0], rs[len(rs)-1]); d != "" {
			t.Errorf("listed report differs from the stored one: %s", d)
		}
		return nil
	})
}

func testListCasesFilters(t *testing.T, s datastore.Store) {
	cs := caseSet(t, s)
	for _, f := range caseFilters {
		want := reversed(filterCases(cs, f.unit, f.status))
		if got := listCaseNumbers(t, s, f.unit, f.status); !slices.Equal(got, want) {
			t.Errorf("ListCases(unit %s, status %d) = %v, want newest first %v", unitName(f.unit), f.status, got, want)
		}
	}
	view(t, s, func(tx datastore.ReadTx) error {
		got, _, err := tx.ListCases(datastore.CaseQuery{ResponsibleUnit: unitB, Limit: 1})
		if err != nil {
			return err
		}
		if len(got) != 1 {
			return fmt.Errorf("ListCases(unit B, limit 1) returned %d cases", len(got))
		}
		if d := sameCase(got[0], cs[8]); d != "" {
			t.Errorf("listed case differs from the stored one: %s", d)
		}
		return nil
	})
}

// walk pages through a list, one read transaction per page as a client
// would, and checks the shape of every page. list returns the keys of one
// page and the next cursor. It returns the keys of all pages in order.
func walk(t *testing.T, s datastore.Store, limit, total int, list func(tx datastore.ReadTx, after string) ([]string, string, error)) []string {
	t.Helper()
	var all []string
	cursor := ""
	for page := 0; ; page++ {
		if page > total+1 {
			t.Fatalf("limit %d: still paging after %d pages for %d records; cursor %q", limit, page, total, cursor)
		}
		var keys []string
		var next string
		view(t, s, func(tx datastore.ReadTx) error {
			var err error
			keys, next, err = list(tx, cursor)
			if err != nil {
				return fmt.Errorf("page %d after cursor %q: %w", page, cursor, err)
			}
			return nil
		})
		if len(keys) > limit {
			t.Errorf("limit %d: page %d has %d records", limit, page, len(keys))
		}
		if len(keys) == 0 && page > 0 {
			t.Errorf("limit %d: page %d is empty: the cursor %q of the previous page should have been \"\"", limit, page, cursor)
		}
		all = append(all, keys...)
		if next == "" {
			return all
		}
		if next == cursor {
			t.Fatalf("limit %d: page %d returned the cursor it was given, %q", limit, page, cursor)
		}
		cursor = next
	}
}

func checkWalk(t *testing.T, got, want []string) {
	t.Helper()
	seen := map[string]int{}
	for _, k := range got {
		seen[k]++
		if seen[k] == 2 {
			t.Errorf("%s listed more than once", k)
		}
	}
	for _, k := range want {
		if seen[k] == 0 {
			t.Errorf("%s never listed", k)
		}
	}
	if !slices.Equal(got, want) {
		t.Errorf("pages together = %v, want in list order %v", got, want)
	}
}

func testListReportsPaging(t *testing.T, s datastore.Store) {
	rs := reportSet(t, s)
	for _, ct := range reportFilters {
		want := reversed(filterReports(rs, ct))
		for _, limit := range pageSizes {
			t.Run(fmt.Sprintf("call type %d limit %d", ct, limit), func(t *testing.T) {
				got := walk(t, s, limit, len(want), func(tx datastore.ReadTx, after string) ([]string, string, error) {
					page, next, err := tx.ListReports(datastore.ReportQuery{CallType: ct, After: after, Limit: limit})
					return reportIDs(page), next, err
				})
				checkWalk(t, got, want)
			})
		}
	}
}

func testListCasesPaging(t *testing.T, s datastore.Store) {
	cs := caseSet(t, s)
	for _, f := range caseFilters {
		want := reversed(filterCases(cs, f.unit, f.status))
		for _, limit := range pageSizes {
			t.Run(fmt.Sprintf("unit %s status %d limit %d", unitName(f.unit), f.status, limit), func(t *testing.T) {
				got := walk(t, s, limit, len(want), func(tx datastore.ReadTx, after string) ([]string, string, error) {
					page, next, err := tx.ListCases(datastore.CaseQuery{ResponsibleUnit: f.unit, Status: f.status, After: after, Limit: limit})
					return caseNumbers(page), next, err
				})
				checkWalk(t, got, want)
			})
		}
	}
}

// testListCasesNoEmptyLastPage pins that a page ends with cursor "" when
// nothing more matches, also when the unit has older cases of another status:
// a cursor must not promise a next page that turns out empty.
func testListCasesNoEmptyLastPage(t *testing.T, s datastore.Store) {
	cs := createCases(t, s,
		sampleCase("HN-2026-00001", unitA, model.StatusClosed),
		sampleCase("HN-2026-00002", unitA, model.StatusAwaitingAcknowledgement),
		sampleCase("HN-2026-00003", unitA, model.StatusClosed),
		sampleCase("HN-2026-00004", unitA, model.StatusAwaitingAcknowledgement),
	)
	for _, tt := range []struct {
		status model.CaseStatus
		limit  int
		want   []string
	}{
		{model.StatusAwaitingAcknowledgement, 2, []string{cs[3].Number, cs[1].Number}},
		{model.StatusAwaitingAcknowledgement, 1, []string{cs[3].Number}},
		{model.StatusClosed, 2, []string{cs[2].Number, cs[0].Number}},
	} {
		view(t, s, func(tx datastore.ReadTx) error {
			got, next, err := tx.ListCases(datastore.CaseQuery{ResponsibleUnit: unitA, Status: tt.status, Limit: tt.limit})
			if err != nil {
				return err
			}
			if !slices.Equal(caseNumbers(got), tt.want) {
				t.Errorf("ListCases(unit A, status %d, limit %d) = %v, want %v", tt.status, tt.limit, caseNumbers(got), tt.want)
			}
			more := len(filterCases(cs, unitA, tt.status)) > tt.limit
			switch {
			case more && next == "":
				t.Errorf("ListCases(unit A, status %d, limit %d) cursor = \"\", want one: more cases match", tt.status, tt.limit)
			case !more && next != "":
				t.Errorf("ListCases(unit A, status %d, limit %d) cursor = %q, want \"\": no more cases match", tt.status, tt.limit, next)
			}
			return nil
		})
	}
}

// testListCasesCursorSurvivesMove pins that a cursor stays usable after the
// case it ends on leaves the filter: the next page continues with the older
// cases.
func testListCasesCursorSurvivesMove(t *testing.T, s datastore.Store) {
	cs := createCases(t, s,
		sampleCase("HN-2026-00001", unitA, model.StatusAwaitingAcknowledgement),
		sampleCase("HN-2026-00002", unitA, model.StatusAwaitingAcknowledgement),
		sampleCase("HN-2026-00003", unitA, model.StatusAwaitingAcknowledgement),
		sampleCase("HN-2026-00004", unitA, model.StatusAwaitingAcknowledgement),
	)
	for _, f := range []caseFilter{{unitA, 0}, {units.Key{}, model.StatusAwaitingAcknowledgement}, {unitA, model.StatusAwaitingAcknowledgement}} {
		t.Run(fmt.Sprintf("unit %s status %d", unitName(f.unit), f.status), func(t *testing.T) {
			q := datastore.CaseQuery{ResponsibleUnit: f.unit, Status: f.status, Limit: 1}
			var first []model.Case
			var cursor string
			view(t, s, func(tx datastore.ReadTx) error {
				var err error
				first, cursor, err = tx.ListCases(q)
				return err
			})
			if len(first) != 1 || cursor == "" {
				t.Fatalf("first page = %v, %q; want one case and a cursor", caseNumbers(first), cursor)
			}
			// The case the cursor ends on moves away.
			moved := first[0]
			moved.Revision++
			moved.ResponsibleUnit = unitC
			moved.Status = statusInProgress
			update(t, s, func(tx datastore.Tx) error { return tx.UpdateCase(moved) })

			q.After = cursor
			q.Limit = 100
			view(t, s, func(tx datastore.ReadTx) error {
				rest, next, err := tx.ListCases(q)
				if err != nil {
					return fmt.Errorf("ListCases after a cursor whose case moved: %w", err)
				}
				var want []string
				for _, c := range reversed(cs) {
					if c.ID < moved.ID {
						want = append(want, c.Number)
					}
				}
				if !slices.Equal(caseNumbers(rest), want) || next != "" {
					t.Errorf("next page = %v, %q; want %v, \"\"", caseNumbers(rest), next, want)
				}
				return nil
			})
		})
	}
}

func reportCursor(t *testing.T, s datastore.Store, q datastore.ReportQuery) string {
	t.Helper()
	q.Limit = 1
	var next string
	view(t, s, func(tx datastore.ReadTx) error {
		var err error
		_, next, err = tx.ListReports(q)
		return err
	})
	if next == "" {
		t.Fatalf("ListReports(%+v) returned no cursor", q)
	}
	return next
}

func caseCursor(t *testing.T, s datastore.Store, q datastore.CaseQuery) string {
	t.Helper()
	q.Limit = 1
	var next string
	view(t, s, func(tx datastore.ReadTx) error {
		var err error
		_, next, err = tx.ListCases(q)
		return err
	})
	if next == "" {
		t.Fatalf("ListCases(%+v) returned no cursor", q)
	}
	return next
}

// cursors collects cursors of every kind of list over the report and case
// sets, to be used where they do not belong.
type cursors struct {
	reports, reportsCT1, reportsCT2                          string
	cases, casesUnitA, casesUnitB, casesUnitAOld, casesStat1 string
	casesStat7, casesUnitAStat1                              string
}

func makeCursors(t *testing.T, s datastore.Store) cursors {
	t.Helper()
	reportSet(t, s)
	caseSet(t, s)
	// A second case in the old unit version, so it has a cursor.
	createCases(t, s, sampleCase("HN-2026-09999", unitAOld, model.StatusClosed))
	return cursors{
		reports:         reportCursor(t, s, datastore.ReportQuery{}),
		reportsCT1:      reportCursor(t, s, datastore.ReportQuery{CallType: model.CallIntervention}),
		reportsCT2:      reportCursor(t, s, datastore.ReportQuery{CallType: callOther}),
		cases:           caseCursor(t, s, datastore.CaseQuery{}),
		casesUnitA:      caseCursor(t, s, datastore.CaseQuery{ResponsibleUnit: unitA}),
		casesUnitB:      caseCursor(t, s, datastore.CaseQuery{ResponsibleUnit: unitB}),
		casesUnitAOld:   caseCursor(t, s, datastore.CaseQuery{ResponsibleUnit: unitAOld}),
		casesStat1:      caseCursor(t, s, datastore.CaseQuery{Status: model.StatusAwaitingAcknowledgement}),
		casesStat7:      caseCursor(t, s, datastore.CaseQuery{Status: model.StatusClosed}),
		casesUnitAStat1: caseCursor(t, s, datastore.CaseQuery{ResponsibleUnit: unitA, Status: model.StatusAwaitingAcknowledgement}),
	}
}

// forgedCursors are not cursors of any list.
var forgedCursors = []string{"zz", "0", "not a cursor", "00", "ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff"}

func testListReportsBadCursor(t *testing.T, s datastore.Store) {
	c := makeCursors(t, s)
	for _, tt := range []struct {
		name  string
		ct    model.CallType
		wrong []string // cursors from other lists
	}{
		{"all", 0, []string{c.reportsCT1, c.cases, c.casesStat1, c.casesUnitA}},
		{"call type 1", model.CallIntervention, []string{c.reportsCT2, c.reports, c.casesStat1, c.cases, "00000001"}},
		{"call type 2", callOther, []string{c.reportsCT1, c.reports, c.casesStat7}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			for _, cur := range append(slices.Clone(forgedCursors), tt.wrong...) {
				view(t, s, func(tx datastore.ReadTx) error {
					rs, next, err := tx.ListReports(datastore.ReportQuery{CallType: tt.ct, After: cur, Limit: 5})
					if !errors.Is(err, model.ErrBadCursor) {
						t.Errorf("ListReports(call type %d, after %q) = %d reports, %q, %v; want ErrBadCursor", tt.ct, cur, len(rs), next, err)
					}
					return nil
				})
			}
			// "" is the first page, not a bad cursor.
			view(t, s, func(tx datastore.ReadTx) error {
				rs, _, err := tx.ListReports(datastore.ReportQuery{CallType: tt.ct, After: "", Limit: 5})
				if err != nil || len(rs) == 0 {
					t.Errorf("ListReports(call type %d, after \"\") = %d reports, %v; want the first page", tt.ct, len(rs), err)
				}
				return nil
			})
		})
	}
}

func testListCasesBadCursor(t *testing.T, s datastore.Store) {
	c := makeCursors(t, s)
	for _, tt := range []struct {
		name   string
		unit   units.Key
		status model.CaseStatus
		wrong  []string // cursors from other lists
	}{
		{"all", units.Key{}, 0, []string{c.casesStat1, c.casesUnitA, c.reports, c.reportsCT1}},
		{"unit A", unitA, 0, []string{c.casesUnitB, c.casesUnitAOld, c.cases, c.casesStat1, c.reports}},
		{"unit A old", unitAOld, 0, []string{c.casesUnitA, c.casesUnitB, c.cases}},
		{"status 1", units.Key{}, model.StatusAwaitingAcknowledgement, []string{c.casesStat7, c.cases, c.casesUnitA, c.reportsCT1, "00000001"}},
		{"unit A status 1", unitA, model.StatusAwaitingAcknowledgement, []string{c.casesUnitB, c.casesStat1, c.cases}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			for _, cur := range append(slices.Clone(forgedCursors), tt.wrong...) {
				view(t, s, func(tx datastore.ReadTx) error {
					cs, next, err := tx.ListCases(datastore.CaseQuery{ResponsibleUnit: tt.unit, Status: tt.status, After: cur, Limit: 5})
					if !errors.Is(err, model.ErrBadCursor) {
						t.Errorf("ListCases(unit %s, status %d, after %q) = %d cases, %q, %v; want ErrBadCursor", unitName(tt.unit), tt.status, cur, len(cs), next, err)
					}
					return nil
				})
			}
			view(t, s, func(tx datastore.ReadTx) error {
				cs, _, err := tx.ListCases(datastore.CaseQuery{ResponsibleUnit: tt.unit, Status: tt.status, After: "", Limit: 5})
				if err != nil || len(cs) == 0 {
					t.Errorf("ListCases(unit %s, status %d, after \"\") = %d cases, %v; want the first page", unitName(tt.unit), tt.status, len(cs), err)
				}
				return nil
			})
		})
	}
	// A cursor of the same list still works, as a control for the above.
	view(t, s, func(tx datastore.ReadTx) error {
		if _, _, err := tx.ListCases(datastore.CaseQuery{ResponsibleUnit: unitA, After: c.casesUnitA, Limit: 5}); err != nil {
			t.Errorf("ListCases(unit A) with its own cursor: %v", err)
		}
		return nil
	})
}

func testListReportsTakenBy(t *testing.T, s datastore.Store) {
	rs := reportSet(t, s)
	for _, taker := range takerFilters {
		for _, ct := range reportFilters {
			want := reversed(filterReportsBy(rs, func(r model.StoredReport) bool {
				return r.TakenBy == taker && (ct == 0 || r.CallType == ct)
			}))
			view(t, s, func(tx datastore.ReadTx) error {
				got, next, err := tx.ListReports(datastore.ReportQuery{TakenBy: taker, CallType: ct, Limit: 100})
				if err != nil {
					return fmt.Errorf("ListReports(taken by %q, call type %d): %w", taker, ct, err)
				}
				if !slices.Equal(reportIDs(got), want) || next != "" {
					t.Errorf("ListReports(taken by %q, call type %d) = %v, %q; want newest first %v, \"\"", taker, ct, reportIDs(got), next, want)
				}
				return nil
			})
		}
	}
	// Sanity check of the fixture: the filters above are not all empty.
	if got := listTakerReportIDs(t, s, "lan.nguyen"); len(got) != 3 {
		t.Errorf("ListReports(taken by lan.nguyen) = %v, want 3 reports", got)
	}
	// The listed records are whole.
	view(t, s, func(tx datastore.ReadTx) error {
		got, _, err := tx.ListReports(datastore.ReportQuery{TakenBy: "minh.tran", Limit: 1})
		if err != nil {
			return err
		}
		if len(got) != 1 {
			return fmt.Errorf("ListReports(taken by minh.tran, limit 1) returned %d reports", len(got))
		}
		if d := sameReport(got[0], rs[9]); d != "" {
			t.Errorf("listed report differs from the stored one: %s", d)
		}
		return nil
	})
}

func testListReportsTakenByPaging(t *testing.T, s datastore.Store) {
	rs := reportSet(t, s)
	for _, taker := range takerFilters[:3] {
		for _, ct := range []model.CallType{0, model.CallIntervention} {
			want := reversed(filterReportsBy(rs, func(r model.StoredReport) bool {
				return r.TakenBy == taker && (ct == 0 || r.CallType == ct)
			}))
			for _, limit := range pageSizes {
				t.Run(fmt.Sprintf("taken by %s call type %d limit %d", taker, ct, limit), func(t *testing.T) {
					got := walk(t, s, limit, len(want), func(tx datastore.ReadTx, after string) ([]string, string, error) {
						page, next, err := tx.ListReports(datastore.ReportQuery{TakenBy: taker, CallType: ct, After: after, Limit: limit})
						return reportIDs(page), next, err
					})
					checkWalk(t, got, want)
				})
			}
		}
	}
	// A cursor of one taker's list is refused by another's and by the
	// unfiltered list, and the other way round.
	lan := reportCursor(t, s, datastore.ReportQuery{TakenBy: "lan.nguyen"})
	all := reportCursor(t, s, datastore.ReportQuery{})
	for _, tt := range []struct {
		q      datastore.ReportQuery
		cursor string
	}{
		{datastore.ReportQuery{TakenBy: "minh.tran"}, lan},
		{datastore.ReportQuery{TakenBy: "lan"}, lan},
		{datastore.ReportQuery{}, lan},
		{datastore.ReportQuery{CallType: model.CallIntervention}, lan},
		{datastore.ReportQuery{TakenBy: "lan.nguyen"}, all},
	} {
		tt.q.After, tt.q.Limit = tt.cursor, 5
		view(t, s, func(tx datastore.ReadTx) error {
			if _, _, err := tx.ListReports(tt.q); !errors.Is(err, model.ErrBadCursor) {
				t.Errorf("ListReports(taken by %q, call type %d) with a cursor of another list: error = %v, want ErrBadCursor", tt.q.TakenBy, tt.q.CallType, err)
			}
			return nil
		})
	}
}

// reportMatches are Match functions over reportSet (indexes oldest first),
// chosen so that long runs of reports are skipped: before the first match,
// after the last and between matches.
func reportMatches(rs []model.StoredReport) map[string]func(model.StoredReport) bool {
	ids := func(idx ...int) func(model.StoredReport) bool {
		keep := map[string]bool{}
		for _, i := range idx {
			keep[rs[i].ID] = true
		}
		return func(r model.StoredReport) bool { return keep[r.ID] }
	}
	return map[string]func(model.StoredReport) bool{
		"none":            ids(),
		"oldest":          ids(0),
		"newest":          ids(9),
		"oldest, newest":  ids(0, 9),
		"middle":          ids(4, 5),
		"every third":     ids(0, 3, 6, 9),
		"all but newest":  ids(0, 1, 2, 3, 4, 5, 6, 7, 8),
		"by sealed field": func(r model.StoredReport) bool { return len(r.Private.Data) == 2 && r.Private.Data[0]%4 == 1 },
	}
}

// testListReportsMatch pins that reports for which Match returns false are
// skipped as if absent: never listed, never counted against the limit, and
// never the reason for a cursor, so no page after the first is empty.
func testListReportsMatch(t *testing.T, s datastore.Store) {
	rs := reportSet(t, s)
	for name, match := range reportMatches(rs) {
		for _, f := range []struct {
			taker string
			ct    model.CallType
		}{{"", 0}, {"", model.CallIntervention}, {"lan.nguyen", 0}, {"minh.tran", callOther}} {
			want := reversed(filterReportsBy(rs, func(r model.StoredReport) bool {
				return match(r) && (f.taker == "" || r.TakenBy == f.taker) && (f.ct == 0 || r.CallType == f.ct)
			}))
			for _, limit := range pageSizes {
				t.Run(fmt.Sprintf("%s taken by %q call type %d limit %d", name, f.taker, f.ct, limit), func(t *testing.T) {
					got := walk(t, s, limit, len(want), func(tx datastore.ReadTx, after string) ([]string, string, error) {
						q := datastore.ReportQuery{TakenBy: f.taker, CallType: f.ct, Match: match, After: after, Limit: limit}
						page, next, err := tx.ListReports(q)
						return reportIDs(page), next, err
					})
					checkWalk(t, got, want)
				})
			}
		}
	}
	// Match sees whole records.
	view(t, s, func(tx datastore.ReadTx) error {
		var seen []string
		_, _, err := tx.ListReports(datastore.ReportQuery{Limit: 100, Match: func(r model.StoredReport) bool {
			if r.Private.KeyID == "" || len(r.Private.Data) != 2 || r.IncidentUnit != unitB {
				t.Errorf("Match was given a partial record: %+v", r)
			}
			seen = append(seen, r.ID)
			return true
		}})
		if err != nil {
			return err
		}
		slices.Sort(seen)
		if want := slices.Sorted(slices.Values(reportIDs(rs))); !slices.Equal(slices.Compact(seen), want) {
			t.Errorf("Match was called with %v, want every report %v", seen, want)
		}
		return nil
	})
}

// caseMatches are Match functions over caseSet (indexes oldest first).
func caseMatches(cs []model.Case) map[string]func(model.Case) bool {
	nums := func(idx ...int) func(model.Case) bool {
		keep := map[string]bool{}
		for _, i := range idx {
			keep[cs[i].Number] = true
		}
		return func(c model.Case) bool { return keep[c.Number] }
	}
	return map[string]func(model.Case) bool{
		"none":           nums(),
		"oldest":         nums(0),
		"newest":         nums(10),
		"oldest, newest": nums(0, 10),
		"every third":    nums(0, 3, 6, 9),
		"all but newest": nums(0, 1, 2, 3, 4, 5, 6, 7, 8, 9),
		"by handler":     func(c model.Case) bool { return slices.Contains(c.Handlers, unitB) },
	}
}

func testListCasesMatch(t *testing.T, s datastore.Store) {
	cs := caseSet(t, s)
	for name, match := range caseMatches(cs) {
		for _, f := range caseFilters {
			want := reversed(filterCasesBy(cs, func(c model.Case) bool {
				return match(c) && (f.unit.IsZero() || c.ResponsibleUnit == f.unit) && (f.status == 0 || c.Status == f.status)
			}))
			for _, limit := range []int{1, 2, 100} {
				t.Run(fmt.Sprintf("%s unit %s status %d limit %d", name, unitName(f.unit), f.status, limit), func(t *testing.T) {
					got := walk(t, s, limit, len(want), func(tx datastore.ReadTx, after string) ([]string, string, error) {
						q := datastore.CaseQuery{ResponsibleUnit: f.unit, Status: f.status, Match: match, After: after, Limit: limit}
						page, next, err := tx.ListCases(q)
						return caseNumbers(page), next, err
					})
					checkWalk(t, got, want)
				})
			}
		}
	}
}

// testListCasesFilter pins that Filter keeps what Match would, with and
// without the other filters, across pages: the cases it leaves out are
// left out as the unit and status filters leave theirs (intake leaves out
// the cases merged into another so).
func testListCasesFilter(t *testing.T, s datastore.Store) {
	cs := caseSet(t, s)
	for name, keep := range caseMatches(cs) {
		for _, f := range caseFilters {
			want := reversed(filterCasesBy(cs, func(c model.Case) bool {
				return keep(c) && (f.unit.IsZero() || c.ResponsibleUnit == f.unit) && (f.status == 0 || c.Status == f.status)
			}))
			for _, limit := range []int{1, 3, 100} {
				t.Run(fmt.Sprintf("%s unit %s status %d limit %d", name, unitName(f.unit), f.status, limit), func(t *testing.T) {
					got := walk(t, s, limit, len(want), func(tx datastore.ReadTx, after string) ([]string, string, error) {
						q := datastore.CaseQuery{ResponsibleUnit: f.unit, Status: f.status, Filter: keep, After: after, Limit: limit}
						page, next, err := tx.ListCases(q)
						return caseNumbers(page), next, err
					})
					checkWalk(t, got, want)
				})
			}
		}
	}
}

// testListCasesMatchSkipsMany lists 40 cases of which Match keeps a few,
// far apart: every page is full except the last, and the last page's
// cursor is "" although many older cases exist.
func testListCasesMatchSkipsMany(t *testing.T, s datastore.Store) {
	var cs []model.Case
	update(t, s, func(tx datastore.Tx) error {
		for i := range 40 {
			c := sampleCase(fmt.Sprintf("HN-2026-%05d", i+1), unitA, model.StatusAwaitingAcknowledgement)
			if err := tx.CreateCase(&c); err != nil {
				return err
			}
			cs = append(cs, c)
		}
		return nil
	})
	keep := map[string]bool{cs[38].Number: true, cs[25].Number: true, cs[24].Number: true, cs[20].Number: true}
	match := func(c model.Case) bool { return keep[c.Number] }
	want := []string{cs[38].Number, cs[25].Number, cs[24].Number, cs[20].Number}
	for _, limit := range []int{1, 2, 3, 4, 5} {
		for _, f := range []caseFilter{{units.Key{}, 0}, {unitA, 0}, {units.Key{}, model.StatusAwaitingAcknowledgement}, {unitA, model.StatusAwaitingAcknowledgement}} {
			t.Run(fmt.Sprintf("unit %s status %d limit %d", unitName(f.unit), f.status, limit), func(t *testing.T) {
				got := walk(t, s, limit, len(want), func(tx datastore.ReadTx, after string) ([]string, string, error) {
					page, next, err := tx.ListCases(datastore.CaseQuery{ResponsibleUnit: f.unit, Status: f.status, Match: match, After: after, Limit: limit})
					if len(page) < limit && next != "" {
						t.Errorf("limit %d: a short page (%d cases) came with a cursor", limit, len(page))
					}
					return caseNumbers(page), next, err
				})
				checkWalk(t, got, want)
			})
		}
	}
	// Exactly the matching number of cases: one page, no cursor.
	view(t, s, func(tx datastore.ReadTx) error {
		got, next, err := tx.ListCases(datastore.CaseQuery{Match: match, Limit: len(want)})
		if err != nil {
			return err
		}
		if !slices.Equal(caseNumbers(got), want) || next != "" {
			t.Errorf("ListCases(limit %d) = %v, %q; want %v, \"\"", len(want), caseNumbers(got), next, want)
		}
		return nil
	})
}

// testListCasesOutOfScopeNeverEndsAPage pins that the cases of a unit a
// caller names that lie outside the caller's scope keys are passed over as
// if they did not exist, however many: they never end a page short with a
// cursor (1000), which would tell the caller that the unit
// holds that many cases out of its scope and, in the cursor a page token
// carries, the id of one of them.
func testListCasesOutOfScopeNeverEndsAPage(t *testing.T, s datastore.Store) {
	// The oldest case of unit B was handled by unit A (in scope); every
	// later one is out of unit A's scope.
	n := storekey.MaxSkipped + 5
	mine := createManyCases(t, s, n, func(i int) model.Case {
		c := sampleCase(fmt.Sprintf("HN-2026-%05d", i+1), unitB, model.StatusAwaitingAcknowledgement)
		c.Handlers = []units.Key{unitB}
		if i == 0 {
			c.Handlers = []units.Key{unitA, unitB}
		}
		return c
	})
	scopes := []string{"handler:" + access.UnitName(unitA)}
	// Match is the caller's scope too: the cases it refuses are as absent.
	match := func(c model.Case) bool { return c.Number == mine.Number }
	for _, q := range []datastore.CaseQuery{
		{ResponsibleUnit: unitB, Scopes: scopes},
		{ResponsibleUnit: unitB, Status: model.StatusAwaitingAcknowledgement, Scopes: scopes},
		{Match: match},
		{ResponsibleUnit: unitB, Match: match},
		{Status: model.StatusAwaitingAcknowledgement, Match: match},
		{Scopes: []string{"handler:" + access.UnitName(unitB)}, Match: match},
	} {
		q.Limit = 10
		view(t, s, func(tx datastore.ReadTx) error {
			got, next, err := tx.ListCases(q)
			if err != nil {
				return err
			}
			if want := []string{mine.Number}; !slices.Equal(caseNumbers(got), want) || next != "" {
				t.Errorf("ListCases(unit %s, status %d, scopes %q, match %t) = %v, %q; want %v, \"\": the %d cases out of scope must not end the page",
					unitName(q.ResponsibleUnit), q.Status, q.Scopes, q.Match != nil, caseNumbers(got), next, want, n-1)
			}
			return nil
		})
	}
}

// testListReportsMatchNeverEndsAPage pins for reports what
// testListCasesOutOfScopeNeverEndsAPage does for cases: the reports Match
// (the caller's scope) refuses never end a page with a cursor.
func testListReportsMatchNeverEndsAPage(t *testing.T, s datastore.Store) {
	ids := newIDs(t, storekey.MaxSkipped+5)
	for from := 0; from < len(ids); from += 100 {
		var rs []model.StoredReport
		for _, id := range ids[from:min(from+100, len(ids))] {
			r := minimalReport(id, model.CallIntervention)
			r.TakenBy = "lan.nguyen"
			rs = append(rs, r)
		}
		createReports(t, s, rs...)
	}
	match := func(r model.StoredReport) bool { return r.ID == ids[0] }
	for _, q := range []datastore.ReportQuery{
		{Match: match},
		{CallType: model.CallIntervention, Match: match},
		{TakenBy: "lan.nguyen", Match: match},
		{Scopes: []string{"taker:lan.nguyen"}, Match: match},
	} {
		q.Limit = 10
		view(t, s, func(tx datastore.ReadTx) error {
			got, next, err := tx.ListReports(q)
			if err != nil {
				return err
			}
			if want := ids[:1]; !slices.Equal(reportIDs(got), want) || next != "" {
				t.Errorf("ListReports(call type %d, taken by %q, scopes %q) = %v, %q; want %v, \"\": the %d reports Match refuses must not end the page",
					q.CallType, q.TakenBy, q.Scopes, reportIDs(got), next, want, len(ids)-1)
			}
			return nil
		})
	}
}

// testListCasesUnitWhollyInScope: a caller whose scope holds a unit's
// handler key (a district officer and one of their communes) and names
// that unit reads the unit's own index: a page of its cases, not a walk
// of the caller's whole scope that passes over storekey.MaxSkipped cases
// of the other units and ends short.
func testListCasesUnitWhollyInScope(t *testing.T, s datastore.Store) {
	var want []string
	for i := range 3 { // unitA's, the oldest
		c := sampleCase(fmt.Sprintf("HN-2026-%05d", i+1), unitA, model.StatusAwaitingAcknowledgement)
		c.Handlers = []units.Key{unitA}
		createCases(t, s, c)
		want = append([]string{c.Number}, want...)
	}
	createManyCases(t, s, storekey.MaxSkipped+5, func(i int) model.Case {
		c := sampleCase(fmt.Sprintf("HN-2026-%05d", i+10), unitB, model.StatusAwaitingAcknowledgement)
		c.Handlers = []units.Key{unitB}
		return c
	})
	scopes := []string{access.HandlerScopeKey(unitA), access.HandlerScopeKey(unitB)}
	view(t, s, func(tx datastore.ReadTx) error {
		got, next, err := tx.ListCases(datastore.CaseQuery{ResponsibleUnit: unitA, Scopes: scopes, Limit: 5})
		if err != nil {
			return err
		}
		if !slices.Equal(caseNumbers(got), want) || next != "" {
			t.Errorf("ListCases(unit A, scopes of A and B) = %v, %q; want %v on one page", caseNumbers(got), next, want)
		}
		return nil
	})
}

// testListCasesHeldBy: a list with scope keys and units held
// (CaseQuery.HeldBy, a social work centre's supervisor and the city) lists
// the cases of its scope keys and those the units hold, newest first,
// each once, page by page, and reads no other: the cases a held unit
// handled without holding them (the city, escalated to) are not in it,
// and are not looked at. Filtered by a held unit, it lists that unit's
// cases.
func testListCasesHeldBy(t *testing.T, s datastore.Store) {
	const org = "org:" + model.OrgSocialWorkCentre
	// Case i is taken by the organisation (i%10 == 3), held by unit A
	// (5), both (7), or neither: escalated to unit A, which handles it
	// without holding it. mk may run more than once for a case.
	mk := func(i int) model.Case {
		c := sampleCase(fmt.Sprintf("HN-2026-%05d", i+1), unitB, model.StatusAwaitingAcknowledgement)
		c.Handlers, c.IntakeUnits = []units.Key{unitB, unitA}, []string{model.OrgHotline111}
		if i%10 == 3 || i%10 == 7 {
			c.IntakeUnits = []string{model.OrgSocialWorkCentre}
		}
		if i%10 == 5 || i%10 == 7 {
			c.ResponsibleUnit = unitA
		}
		return c
	}
	const n = 40
	createManyCases(t, s, n, mk)
	var want, held []string // newest first
	for i := n - 1; i >= 0; i-- {
		switch c := mk(i); {
		case c.ResponsibleUnit == unitA:
			held = append(held, c.Number)
			want = append(want, c.Number)
		case c.IntakeUnits[0] == model.OrgSocialWorkCentre:
			want = append(want, c.Number)
		}
	}
	for _, f := range []struct {
		unit units.Key
		want []string
	}{{units.Key{}, want}, {unitA, held}} {
		for _, limit := range []int{100, 3} {
			var got []string
			looked := 0
			q := datastore.CaseQuery{ResponsibleUnit: f.unit, Scopes: []string{org}, HeldBy: []units.Key{unitA}, Limit: limit,
				Match: func(model.Case) bool { looked++; return true }}
			for {
				var next string
				view(t, s, func(tx datastore.ReadTx) error {
					page, n, err := tx.ListCases(q)
					got, next = append(got, caseNumbers(page)...), n
					return err
				})
				if next == "" {
					break
				}
				q.After = next
			}
			if !slices.Equal(got, f.want) {
				t.Errorf("ListCases(unit %s, held by %s, pages of %d) = %v, want %v", unitName(f.unit), unitName(unitA), limit, got, f.want)
			}
			if looked > 2*len(f.want) {
				t.Errorf("ListCases(unit %s, held by %s, pages of %d) looked at %d cases to list %d", unitName(f.unit), unitName(unitA), limit, looked, len(f.want))
			}
		}
	}
}
