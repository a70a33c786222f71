package app_test

import (
	"net/http"
	"regexp"
	"strconv"
	"testing"

	pb "github.com/childcase/childcase/api/childcase/v1"
	"github.com/childcase/childcase/internal/domain/stats"
)

var actionMonthYearInput = regexp.MustCompile(`<input type="number" id="am-year"[^>]* min="(\d+)" max="(\d+)"`)

// TestConsoleActionMonthYearFieldTakesTheYearsTheReportIsMadeFor: the
// dashboard's Action Month year field let the browser send 2000 to 2199,
// while the report is made for 2020 to 2100 only: a supervisor who typed
// 2019 sent it and came back to the dashboard with a refusal. The field's
// bounds are now the report's own (stats.FirstActionMonthYear,
// LastActionMonthYear), so the browser says so before sending; the server
// takes both ends and refuses a year past either.
func TestConsoleActionMonthYearFieldTakesTheYearsTheReportIsMadeFor(t *testing.T) {
	ts, _ := startConsole(t)
	ts.addUser(t, "city", pb.Role_ROLE_CITY_OFFICER, pCity)
	b := newBrowser(t, ts)
	b.signInTo("city")
	resp, page := b.get("/dashboard")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("dashboard: %s", resp.Status)
	}
	m := actionMonthYearInput.FindStringSubmatch(page)
	if m == nil {
		t.Fatal("the dashboard has no Action Month year field with min and max")
	}
	lo, _ := strconv.Atoi(m[1])
	hi, _ := strconv.Atoi(m[2])
	if lo != stats.FirstActionMonthYear || hi != stats.LastActionMonthYear {
		t.Errorf("the year field takes %d to %d, want the report's %d to %d", lo, hi, stats.FirstActionMonthYear, stats.LastActionMonthYear)
	}
	for year, want := range map[int]int{
		stats.FirstActionMonthYear - 1: http.StatusBadRequest,
		stats.FirstActionMonthYear:     http.StatusOK,
		stats.LastActionMonthYear:      http.StatusOK,
		stats.LastActionMonthYear + 1:  http.StatusBadRequest,
	} {
		if resp, _ := b.get("/dashboard/reports/action-month?format=csv&year=" + strconv.Itoa(year)); resp.StatusCode != want {
			t.Errorf("the Action Month report of %d: %s, want %d", year, resp.Status, want)
		}
	}
}
