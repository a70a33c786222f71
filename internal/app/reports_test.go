package app_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/csv"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/xuri/excelize/v2"

	pb "github.com/childcase/childcase/api/childcase/v1"
	"github.com/childcase/childcase/internal/domain/stats"
	"github.com/childcase/childcase/internal/transport/reportfile"
)

// The Action Month report of 2026 as XLSX opens with excelize: its
// headings are Vietnamese, its counts are number cells that match the
// statistics of June, its dates are date cells.
// A commune's copy leaves the city level: its counts from 1 to 4 are
// withheld, and so is a further count wherever a withheld one could be
// worked out by subtraction from a total (secondary suppression), and the
// report says why. CSV and the printable page come over REST; a bad
// format names the field; making a report is audited.
func TestActionMonthReport(t *testing.T) {
	ts := startServerAt(t, hn(2026, 7, 2, 9, 0), "")
	ts.addUser(t, "city", pb.Role_ROLE_CITY_OFFICER, pCity)
	ts.addUser(t, "bd.chair", pb.Role_ROLE_COMMUNE_CHAIR, pBaDinh)
	ts.addUser(t, "auditor", pb.Role_ROLE_AUDITOR, "orgs/system")
	openCase(t, ts, hn(2026, 5, 31, 20, 0), "00004") // May: not counted
	for _, day := range []int{1, 2, 15, 30} {
		openCase(t, ts, hn(2026, 6, day, 10, 0), "00004")
	}
	for _, day := range []int{3, 4, 5, 8, 9, 10} {
		openCase(t, ts, hn(2026, 6, day, 10, 0), "00091", pb.AbuseForm_ABUSE_FORM_NEGLECT)
	}
	client := pb.NewStatisticsServiceClient(ts.conn)
	june, err := client.GetStatistics(ts.as(t, "city"), &pb.GetStatisticsRequest{StartDate: "2026-06-01", EndDate: "2026-06-30"})
	if err != nil {
		t.Fatal(err)
	}
	want := june.GetGroups()[0]
	if want.GetCasesOpened() != 10 {
		t.Fatalf("June: %d cases opened, want 10", want.GetCasesOpened())
	}

	body, err := client.GetActionMonthReport(ts.as(t, "city"), &pb.GetActionMonthReportRequest{Year: 2026})
	if err != nil {
		t.Fatal(err)
	}
	if body.GetContentType() != reportfile.XLSX.ContentType() {
		t.Errorf("content type %q", body.GetContentType())
	}
	rows := readXLSX(t, body.GetData())
	if rows["Từ ngày"] != "01/06/2026" || rows["Đến ngày"] != "30/06/2026" {
		t.Errorf("dates: from %q, to %q", rows["Từ ngày"], rows["Đến ngày"])
	}
	for label, n := range map[string]int32{
		"Số tin báo, cuộc gọi tiếp nhận":              want.GetReports(),
		"Số vụ việc mở":                               want.GetCasesOpened(),
		"Số vụ việc mở trong kỳ còn đang xử lý":       want.GetCasesStillOpen(),
		"Vụ việc mở theo hình thức xâm hại: NEGLECT":  6,
		"Vụ việc mở theo hình thức xâm hại: VIOLENCE": 4,
		"Tin báo theo kênh tiếp nhận: HOTLINE_111":    10,
		"Số thời hạn đang quá hạn":                    overdue(want),
	} {
		if got := rows[label]; got != strconv.Itoa(int(n)) {
			t.Errorf("%s: %q in the XLSX, the statistics say %d", label, got, n)
		}
	}
	if rows["suppressed"] != "" {
		t.Errorf("the city's own report withholds counts: %q", rows["suppressed"])
	}
	for label, v := range rows {
		if v == stats.Withheld {
			t.Errorf("the city's own report withholds %s", label)
		}
	}

	// The commune's copy withholds its 4 cases.
	body, err = client.GetActionMonthReport(ts.as(t, "bd.chair"), &pb.GetActionMonthReportRequest{Year: 2026})
	if err != nil {
		t.Fatal(err)
	}
	rows = readXLSX(t, body.GetData())
	if rows["Số vụ việc mở"] != stats.Withheld || rows["suppressed"] == "" {
		t.Errorf("commune's report: %q cases opened, note %q; want %q and the note", rows["Số vụ việc mở"], rows["suppressed"], stats.Withheld)
	}
	wantNoSubtraction(t, "commune's XLSX", rows)
	// So does the city's copy for outside the service: the 4 cases of
	// violence, and the 6 of neglect with them, since the 10 cases opened
	// less 6 would give the 4.
	body, err = client.GetActionMonthReport(ts.as(t, "city"), &pb.GetActionMonthReportRequest{Year: 2026, External: true})
	if err != nil {
		t.Fatal(err)
	}
	rows = readXLSX(t, body.GetData())
	if rows["Vụ việc mở theo hình thức xâm hại: VIOLENCE"] != stats.Withheld || rows["Vụ việc mở theo hình thức xâm hại: NEGLECT"] != stats.Withheld || rows["Số vụ việc mở"] != "10" {
		t.Errorf("external: violence %q, neglect %q, cases opened %q", rows["Vụ việc mở theo hình thức xâm hại: VIOLENCE"], rows["Vụ việc mở theo hình thức xâm hại: NEGLECT"], rows["Số vụ việc mở"])
	}
	wantNoSubtraction(t, "external XLSX", rows)

	token := "Bearer " + ts.tokens.get("city")
	code, csv := confREST(t, ts, "GET", "/v1/statistics:actionMonthReport?year=2026&format=csv", token)
	if code != http.StatusOK || !bytes.HasPrefix(csv, []byte("\ufeffBáo cáo kết quả Tháng hành động vì trẻ em năm 2026")) || !bytes.Contains(csv, []byte("Số vụ việc mở,10")) {
		t.Errorf("CSV: %d %s", code, csv)
	}
	code, csv = confREST(t, ts, "GET", "/v1/statistics:actionMonthReport?year=2026&format=csv&external=true", token)
	if code != http.StatusOK {
		t.Fatalf("external CSV: %d %s", code, csv)
	}
	wantNoSubtraction(t, "external CSV", readCSV(t, csv))
	// The periodic report's units add up to its total, column by column:
	// Ba Đình's 4 reports and 4 cases are withheld, and Phường 00091's 6
	// with them, the total of 10 shown.
	code, csv = confREST(t, ts, "GET", "/v1/statistics:periodicReport?start_date=2026-06-01&end_date=2026-06-30&format=csv&external=true", token)
	if code != http.StatusOK {
		t.Fatalf("external periodic CSV: %d %s", code, csv)
	}
	wantColumnsProtected(t, csv)
	code, page := confREST(t, ts, "GET", "/v1/statistics:periodicReport?start_date=2026-06-01&end_date=2026-06-30&format=html", token)
	if code != http.StatusOK || !bytes.HasPrefix(page, []byte("<!DOCTYPE html>")) || !bytes.Contains(page, []byte("Phường Ba Đình")) || bytes.Contains(page, []byte("<script")) || bytes.Contains(page, []byte("http")) {
		t.Errorf("HTML: %d %s", code, page)
	}
	_, err = client.GetActionMonthReport(ts.as(t, "city"), &pb.GetActionMonthReportRequest{Year: 2026, Format: "pdf"})
	wantBadField(t, err, "format")
	_, err = client.GetActionMonthReport(ts.as(t, "city"), &pb.GetActionMonthReportRequest{Year: 1999})
	wantBadField(t, err, "year")

	events, err := ts.audit().ListAuditEvents(ts.as(t, "auditor"), &pb.ListAuditEventsRequest{Actor: "users/city"})
	if err != nil {
		t.Fatal(err)
	}
	made := map[string]int{}
	for _, e := range events.GetEvents() {
		if e.GetAction() == "statistics.report" {
			made[e.GetResource()]++
		}
	}
	if made["statistics:actionMonthReport"] != 4 || made["statistics:periodicReport"] != 2 {
		t.Errorf("reports audited: %v, want 4 Action Month and 2 periodic", made)
	}
}

func overdue(g *pb.StatisticsGroup) int32 {
	var n int32
	for _, d := range g.GetDeadlines() {
		n += d.GetOverdueNow()
	}
	return n
}

// readXLSX opens a report's XLSX and returns the value of column B (as
// formatted) for each label of column A, or column C for a numbered

// The Action Month report says when and to whom a unit sends it, as
// Circular 28/2019 has it (domain reference section 8): a commune before
// 10 July, to its district while districts exist and to the city from the
// 2025 reform; a district to the city before 20 July. The city, which
// receives them, is given no such date. Every report, the city's too,
// gives the day the city's plan asks the results by: 15 July (issue 13).
func TestActionMonthReportSentBefore(t *testing.T) {
	ts := startServerAt(t, hn(2026, 7, 2, 9, 0), "")
	ts.addUser(t, "city", pb.Role_ROLE_CITY_OFFICER, pCity)
	ts.addUser(t, "bd.chair", pb.Role_ROLE_COMMUNE_CHAIR, pBaDinh)
	// Staff of a commune and a district the reforms ended, who keep
	// working after them.
	ts.addFormerUser(t, "tb.chair", pb.Role_ROLE_COMMUNE_CHAIR, pTrucBach)
	ts.addFormerUser(t, "bd.district", pb.Role_ROLE_DISTRICT_OFFICER, pDistrictBD)
	client := pb.NewStatisticsServiceClient(ts.conn)
	for _, tt := range []struct {
		user   string
		year   int32
		before string
		sentTo string
	}{
		{"bd.chair", 2026, "10/07/2026", "cấp thành phố"},
		{"tb.chair", 2024, "10/07/2024", "cấp huyện"},
		{"bd.district", 2024, "20/07/2024", "cấp thành phố"},
		{"city", 2026, "", ""},
	} {
		body, err := client.GetActionMonthReport(ts.as(t, tt.user), &pb.GetActionMonthReportRequest{Year: tt.year})
		if err != nil {
			t.Fatalf("%s: %v", tt.user, err)
		}
		rows := readXLSX(t, body.GetData())
		due := fmt.Sprintf("15/07/%d", tt.year)
		if rows["Gửi trước ngày"] != tt.before || rows["Gửi đến"] != tt.sentTo || rows["Hạn gửi kết quả"] != due {
			t.Errorf("%s's report of %d: sent to %q before %q (results due %q), want to %q before %q (results due %s)",
				tt.user, tt.year, rows["Gửi đến"], rows["Gửi trước ngày"], rows["Hạn gửi kết quả"], tt.sentTo, tt.before, due)
		}
	}
}

// indicator row; "suppressed" holds the note on withheld counts.
func readXLSX(t *testing.T, data []byte) map[string]string {
	t.Helper()
	f, err := excelize.OpenReader(bytes.NewReader(data))
	if err != nil {
		t.Fatalf("open the XLSX: %v", err)
	}
	defer f.Close()
	rows, err := f.GetRows(reportfile.Sheet)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for i, r := range rows {
		switch {
		case len(r) >= 3 && r[0] != "" && r[0] != "STT":
			out[r[1]] = r[2]
			// A count is a number cell.
			cell := "C" + strconv.Itoa(i+1)
			if typ, _ := f.GetCellType(reportfile.Sheet, cell); r[2] != stats.Withheld && typ != excelize.CellTypeNumber && typ != excelize.CellTypeUnset {
				t.Errorf("%s (%s) is a cell of type %v, not a number", cell, r[1], typ)
			}
		case len(r) == 2:
			out[r[0]] = r[1]
		case len(r) == 1 && strings.Contains(r[0], "từ 1 đến 4"):
			out["suppressed"] = r[0]
		}
	}
	return out
}

// csvRecords reads a report's CSV, its byte-order mark left out.
func csvRecords(t *testing.T, data []byte) [][]string {
	t.Helper()
	r := csv.NewReader(bytes.NewReader(bytes.TrimPrefix(data, []byte("\ufeff"))))
	r.FieldsPerRecord = -1 // the title, the fields and the table differ
	records, err := r.ReadAll()
	if err != nil {
		t.Fatalf("read the CSV: %v", err)
	}
	return records
}

// readCSV returns the count of each numbered indicator row of a report's
// CSV, by its label.
func readCSV(t *testing.T, data []byte) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, rec := range csvRecords(t, data) {
		if len(rec) == 3 && rec[0] != "STT" {
			out[rec[1]] = rec[2]
		}
	}
	return out
}

// wantColumnsProtected checks a periodic report's CSV (a row per unit,
// then the total) as a reader who subtracts would: no count from 1 to 4
// is shown, and no column holds exactly one withheld count.
func wantColumnsProtected(t *testing.T, data []byte) {
	t.Helper()
	var table [][]string
	for _, rec := range csvRecords(t, data) {
		switch {
		case len(rec) > 2 && rec[0] == "Đơn vị":
			table = [][]string{}
		case table != nil && len(rec) > 2:
			table = append(table, rec)
		}
	}
	if len(table) != 3 || table[2][0] != "Tổng cộng" {
		t.Fatalf("want two units and the total: %q", table)
	}
	for col := 2; col < len(table[0]); col++ {
		withheld := 0
		for _, rec := range table {
			n, err := strconv.Atoi(rec[col])
			switch {
			case err != nil:
				withheld++
			case n >= 1 && n < 5:
				t.Errorf("%s shows %d in column %d", rec[0], n, col)
			}
		}
		if withheld == 1 {
			t.Errorf("column %d holds one withheld count: %q", col, table)
		}
	}
	if table[2][2] != "10" || table[0][2] != stats.Withheld || table[1][2] != stats.Withheld {
		t.Errorf("reports: %q, want both units withheld and the total 10", table)
	}
}

// wantNoSubtraction checks the Action Month report's indicators (label to
// count) as a reader who subtracts would: no count from 1 to 4 is shown,
// and no group of counts that adds up to a shown total (reports by
// channel, cases by form of abuse, the D3 of emergencies, transfers
// decided) holds exactly one withheld count, which the total less the
// others would give.
func wantNoSubtraction(t *testing.T, what string, rows map[string]string) {
	t.Helper()
	count := func(label string) (int, bool) {
		n, err := strconv.Atoi(rows[label])
		return n, err == nil
	}
	indicators := 0
	for label := range rows {
		if strings.HasPrefix(label, "Số ") || strings.HasPrefix(label, "Vụ việc ") || strings.HasPrefix(label, "Tin báo ") {
			indicators++
			if n, ok := count(label); ok && n >= 1 && n < 5 {
				t.Errorf("%s: %s shows %d", what, label, n)
			}
		}
	}
	if indicators < 17 {
		t.Fatalf("%s: %d indicators read, want 17 at least: %v", what, indicators, rows)
	}
	groups := map[string][]string{
		"Số tin báo, cuộc gọi tiếp nhận": {"Tin báo theo kênh tiếp nhận: "},
		"Số vụ việc mở":                  {"Vụ việc mở theo hình thức xâm hại: "},
		"Số vụ việc khẩn cấp":            {"Vụ việc khẩn cấp: "},
		"Số đề nghị chuyển giao vụ việc": {"Số chuyển giao được chấp nhận", "Số chuyển giao bị từ chối"},
	}
	for total, parts := range groups {
		members := []string{total}
		for label := range rows {
			for _, p := range parts {
				if strings.HasPrefix(label, p) {
					members = append(members, label)
				}
			}
		}
		withheld := 0
		for _, m := range members {
			if _, ok := count(m); !ok {
				withheld++
			}
		}
		if withheld == 1 {
			t.Errorf("%s: one withheld count among %v, the total less the others gives it: %v", what, members, rows)
		}
	}
}

// The printable report over REST is styled: its answer's
// Content-Security-Policy lets in its one inline style element by that
// element's hash (as a browser computes it, over the element's text), and
// nothing else; the API's own policy (default-src 'none') would print it
// unstyled. The other formats keep the API's policy.
func TestPrintableReportIsStyledUnderItsPolicy(t *testing.T) {
	ts := startServerAt(t, hn(2026, 7, 2, 9, 0), "")
	token := ts.addUser(t, "city", pb.Role_ROLE_CITY_OFFICER, pCity)
	auth := map[string]string{"Authorization": "Bearer " + token}
	const path = "/v1/statistics:periodicReport?start_date=2026-06-01&end_date=2026-06-30&format="

	resp, page := restResponse(t, ts, "GET", path+"html", nil, auth)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("HTML: %d %s", resp.StatusCode, page)
	}
	_, rest, ok := bytes.Cut(page, []byte("<style>"))
	style, _, closed := bytes.Cut(rest, []byte("</style>"))
	if !ok || !closed || bytes.Count(page, []byte("<style")) != 1 || bytes.Contains(page, []byte(" style=")) {
		t.Fatalf("the page has not exactly one style element and no style attribute:\n%s", page)
	}
	sum := sha256.Sum256(style)
	want := "default-src 'none'; style-src 'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) + "'; frame-ancestors 'none'"
	if got := resp.Header.Get("Content-Security-Policy"); got != want {
		t.Errorf("Content-Security-Policy = %q, want %q", got, want)
	}
	for _, f := range []string{"csv", "xlsx"} {
		resp, body := restResponse(t, ts, "GET", path+f, nil, auth)
		if got := resp.Header.Get("Content-Security-Policy"); resp.StatusCode != http.StatusOK || got != "default-src 'none'; frame-ancestors 'none'" {
			t.Errorf("%s: %d, Content-Security-Policy = %q (%.200s)", f, resp.StatusCode, got, body)
		}
	}
}

// TestStatisticsReportsNameWhatTheyHoldOnTheTrail: a report is a file
// that leaves the service, so its event (statistics.report) says what
// it holds, in the API's names: the period, the records of mapped units
// and the external flag when asked for, and how many rows it has.
func TestStatisticsReportsNameWhatTheyHoldOnTheTrail(t *testing.T) {
	ts := startServerAt(t, hn(2026, 7, 2, 9, 0), "")
	ts.addUser(t, "city", pb.Role_ROLE_CITY_OFFICER, pCity)
	ts.addUser(t, "auditor", pb.Role_ROLE_AUDITOR, "orgs/system")
	openCase(t, ts, hn(2026, 6, 2, 10, 0), "00004")
	client := pb.NewStatisticsServiceClient(ts.conn)
	if _, err := client.GetActionMonthReport(ts.as(t, "city"), &pb.GetActionMonthReportRequest{Year: 2026, External: true}); err != nil {
		t.Fatal(err)
	}
	if _, err := client.GetPeriodicReport(ts.as(t, "city"), &pb.GetPeriodicReportRequest{StartDate: "2026-06-01", EndDate: "2026-06-30", IncludeMapped: true, Format: "csv"}); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range auditedBy(t, ts, "auditor", "city") {
		if e.GetAction() == "statistics.report" {
			got = append(got, e.GetResource()+": "+e.GetReason())
		}
	}
	slices.Sort(got)
	want := []*regexp.Regexp{
		regexp.MustCompile(`^statistics:actionMonthReport: year=2026; external=true; \d+ rows$`),
		regexp.MustCompile(`^statistics:periodicReport: start_date=2026-06-01; end_date=2026-06-30; include_mapped=true; \d+ rows$`),
	}
	if len(got) != len(want) {
		t.Fatalf("the reports' events: %q", got)
	}
	for i, re := range want {
		if !re.MatchString(got[i]) {
			t.Errorf("a report's event says %q, want it to match %s", got[i], re)
		}
	}
}
