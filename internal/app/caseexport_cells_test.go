package app_test

import (
	"bytes"
	"encoding/csv"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/xuri/excelize/v2"
	"golang.org/x/text/unicode/norm"

	pb "github.com/childcase/childcase/api/childcase/v1"
)

// Every cell of a case export, CSV and XLSX alike, is what the API
// answers for that case: a city officer exports cases of two communes,
// one acknowledged, one overdue and escalated, one merged into another
// (which keeps its row, with merged_into), and each row is checked,
// column by column, against GetCase; times are Vietnam's (+07:00 in the
// CSV, Hanoi's wall clock in a date cell of the XLSX), and every text is
// NFC.
func TestCaseExportCellsAreTheAPIsAnswer(t *testing.T) {
	start := hn(2026, 3, 16, 9, 0) // a Monday
	ts := startServerAt(t, start, "")
	ts.addUser(t, "city", pb.Role_ROLE_CITY_OFFICER, pCity)
	ts.addUser(t, "bd.chair", pb.Role_ROLE_COMMUNE_CHAIR, pBaDinh)
	acked := openCase(t, ts, start.Add(-2*time.Hour), "00004")
	late := openCase(t, ts, start.Add(-90*time.Minute), "00070", pb.AbuseForm_ABUSE_FORM_SEXUAL_ABUSE)
	survivor := openCase(t, ts, start.Add(-time.Hour), "00004")
	absorbed := openCase(t, ts, start.Add(-30*time.Minute), "00004")
	if _, err := ts.process().AcknowledgeCase(ts.as(t, "bd.chair"), &pb.AcknowledgeCaseRequest{Name: acked, Etag: etagOf(t, ts, "bd.chair", acked)}); err != nil {
		t.Fatal(err)
	}
	if err := mergeAs(t, ts, "bd.chair", survivor, absorbed); err != nil {
		t.Fatal(err)
	}
	ts.setClock(t, start.Add(3*24*time.Hour+37*time.Second)) // the unacknowledged breach and escalate

	want := map[string][]string{} // case number -> the cells the API gives
	for _, name := range []string{acked, late, survivor} {
		want[strings.TrimPrefix(name, "cases/")] = apiCells(getCase(t, ts, "city", name))
	}
	// The case merged away, which the API answers with its survivor,
	// has its own row: only its number and merged_into are checked.
	merged := strings.TrimPrefix(absorbed, "cases/")

	data, _, err := exportCases(t, ts, "city", &pb.ExportCasesRequest{Format: pb.ExportFormat_EXPORT_FORMAT_CSV})
	if err != nil {
		t.Fatal(err)
	}
	records, err := csv.NewReader(bytes.NewReader(bytes.TrimPrefix(data, []byte("\uFEFF")))).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	checkExportRows(t, "CSV", records, want, merged, strings.TrimPrefix(survivor, "cases/"), func(cells []string) []string { return cells })

	data, _, err = exportCases(t, ts, "city", &pb.ExportCasesRequest{Format: pb.ExportFormat_EXPORT_FORMAT_XLSX})
	if err != nil {
		t.Fatal(err)
	}
	book, err := excelize.OpenReader(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	defer book.Close()
	sheet := book.GetSheetName(0)
	rows, err := book.GetRows(sheet, excelize.Options{RawCellValue: true})
	if err != nil {
		t.Fatal(err)
	}
	// A date cell's raw value is a serial day number: read back as the
	// wall clock it shows, and written as the CSV writes a time.
	timeCols := map[int]bool{5: true, 6: true, 7: true, 12: true}
	checkExportRows(t, "XLSX", rows, want, merged, strings.TrimPrefix(survivor, "cases/"), func(cells []string) []string {
		out := make([]string, len(cells))
		for i, v := range cells {
			out[i] = v
			if timeCols[i] && v != "" {
				var serial float64
				if _, err := fmt.Sscan(v, &serial); err != nil {
					t.Errorf("XLSX column %d: %q is no date cell", i, v)
					continue
				}
				wall, err := excelize.ExcelDateToTime(serial, false)
				if err != nil {
					t.Errorf("XLSX column %d: %v", i, err)
					continue
				}
				wall = wall.Round(time.Second)
				out[i] = time.Date(wall.Year(), wall.Month(), wall.Day(), wall.Hour(), wall.Minute(), wall.Second(), 0, hanoi).Format(time.RFC3339)
			}
			if v == "TRUE" || v == "FALSE" {
				out[i] = strings.ToLower(v)
			}
			if i == 2 && (v == "1" || v == "0") { // a boolean cell's raw value
				out[i] = map[string]string{"1": "true", "0": "false"}[v]
			}
		}
		return out
	})
}

// checkExportRows checks an export's header and that each row, as read
// (as), is the API's answer for its case, and that every case is there;
// the row of merged names survivor in merged_into.
func checkExportRows(t *testing.T, format string, rows [][]string, want map[string][]string, merged, survivor string, as func([]string) []string) {
	t.Helper()
	header := []string{"case_number", "status", "immediate_danger", "responsible_unit", "incident_unit",
		"receive_time", "create_time", "update_time", "children", "suspected_abuse",
		"open_deadlines", "breached_deadlines", "next_due_time", "police_referrals", "merged_into"}
	if len(rows) == 0 || strings.Join(rows[0], ",") != strings.Join(header, ",") {
		t.Fatalf("%s header %q, want %q", format, rows[:min(1, len(rows))], header)
	}
	seen := map[string]bool{}
	for _, row := range rows[1:] {
		got := as(append(row, make([]string, len(header)-min(len(row), len(header)))...)[:len(header)])
		if got[0] == merged {
			seen[merged] = true
			if got[14] != survivor {
				t.Errorf("%s %s merged_into %q, want %q", format, merged, got[14], survivor)
			}
			continue
		}
		w, ok := want[got[0]]
		if !ok {
			t.Errorf("%s row of a case not made here: %q", format, row)
			continue
		}
		seen[got[0]] = true
		for i := range header {
			if got[i] != w[i] {
				t.Errorf("%s %s %s: %q, the API says %q", format, got[0], header[i], got[i], w[i])
			}
			if !norm.NFC.IsNormalString(got[i]) {
				t.Errorf("%s %s %s: %q is not NFC", format, got[0], header[i], got[i])
			}
		}
	}
	for _, number := range append(slices.Collect(maps.Keys(want)), merged) {
		if !seen[number] {
			t.Errorf("%s has no row for %s", format, number)
		}
	}
}

// apiCells are an export's cells for c, made from the API's answer as a
// reader of the README would: enum names without their prefix, Vietnam
// times, the open deadlines and those of them breached, the nearest due.
func apiCells(c *pb.Case) []string {
	at := func(ts interface{ AsTime() time.Time }, set bool) string {
		if !set {
			return ""
		}
		return ts.AsTime().In(hanoi).Format(time.RFC3339)
	}
	var children, abuse []string
	for _, ch := range c.GetChildren() {
		children = append(children, fmt.Sprintf("%d %s", ch.GetAgeYears(), strings.TrimPrefix(ch.GetSex().String(), "SEX_")))
	}
	for _, a := range c.GetSuspectedAbuse() {
		abuse = append(abuse, strings.TrimPrefix(a.String(), "ABUSE_FORM_"))
	}
	open, breached := 0, 0
	var next time.Time
	for _, d := range c.GetDeadlines() {
		if d.GetState() != "OPEN" {
			continue
		}
		open++
		if d.GetBreached() {
			breached++
		}
		if due := d.GetDueTime().AsTime(); next.IsZero() || due.Before(next) {
			next = due
		}
	}
	nextCell := ""
	if !next.IsZero() {
		nextCell = next.In(hanoi).Format(time.RFC3339)
	}
	return []string{
		c.GetCaseNumber(), strings.TrimPrefix(c.GetStatus().String(), "CASE_STATUS_"), fmt.Sprint(c.GetImmediateDanger()),
		c.GetResponsibleUnit(), c.GetIncidentUnit(),
		at(c.GetReceiveTime(), c.GetReceiveTime() != nil), at(c.GetCreateTime(), c.GetCreateTime() != nil), at(c.GetUpdateTime(), c.GetUpdateTime() != nil),
		strings.Join(children, "; "), strings.Join(abuse, "; "),
		fmt.Sprint(open), fmt.Sprint(breached), nextCell, fmt.Sprint(len(c.GetPoliceReferrals())), strings.TrimPrefix(c.GetMergedInto(), "cases/"),
	}
}
