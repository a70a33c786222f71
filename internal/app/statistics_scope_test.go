package app_test

import (
	"net/http"
	"net/url"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	pb "github.com/childcase/childcase/api/childcase/v1"
)

// A unit outside the caller's scope, named in the statistics or a report,
// answers NotFound over gRPC and 404 over REST, as a record outside it
// does: the same answer whether the other unit has records or none, never
// 200 with empty groups that would pass for its numbers. The refusal is on
// the trail (outcome not_found). The caller's own unit, one their commune
// wholly succeeds, a district's commune, and any unit for the city and a
// hotline supervisor are answered.
func TestStatisticsOfAUnitOutOfReachIsNotFound(t *testing.T) {
	ts := startServer(t, "")
	ts.addUser(t, "bd.worker", pb.Role_ROLE_COMMUNE_WORKER, pBaDinh)
	ts.addUser(t, "hk.chair", pb.Role_ROLE_COMMUNE_CHAIR, pHoanKiem)
	ts.addUser(t, "city", pb.Role_ROLE_CITY_OFFICER, pCity)
	ts.addUser(t, "sup.111", pb.Role_ROLE_HOTLINE_SUPERVISOR, "orgs/hotline-111")
	ts.addUser(t, "auditor", pb.Role_ROLE_AUDITOR, "orgs/system")
	ts.addFormerUser(t, "district.bd", pb.Role_ROLE_DISTRICT_OFFICER, pDistrictBD)
	// Hoàn Kiếm has a case; Phường Cửa Nam (00082) none.
	r := validReport()
	r.IncidentCommuneCode = "00070"
	if _, err := ts.reports().CreateReport(ts.as(t, operatorID), &pb.CreateReportRequest{Report: r}); err != nil {
		t.Fatal(err)
	}
	const cuaNam = "units/00082@2025-07-01"
	stats := pb.NewStatisticsServiceClient(ts.conn)
	day := testNow.Format("2006-01-02")
	ask := func(user, unit string) error {
		_, err := stats.GetStatistics(ts.as(t, user), &pb.GetStatisticsRequest{StartDate: day, EndDate: day, Unit: unit, GroupBy: []string{"unit"}})
		return err
	}
	rest := func(user, path string, q url.Values) int {
		code, _ := restRaw(t, ts, http.MethodGet, path+"?"+q.Encode(), "", map[string]string{"Authorization": "Bearer " + ts.tokens.get(user)})
		return code
	}
	var first *status.Status
	for _, tt := range []struct{ user, unit string }{
		{"bd.worker", pHoanKiem},   // another commune, with a case
		{"bd.worker", cuaNam},      // another commune, without one
		{"bd.worker", pCity},       // the level above
		{"bd.worker", pDistrictBD}, // the district of its predecessor
		{"hk.chair", pBaDinh},
		{"district.bd", pHoanKiem}, // a commune of no district
		{"district.bd", pCity},
	} {
		st := wantCode(t, ask(tt.user, tt.unit), codes.NotFound)
		if first == nil {
			first = st
		} else if st.Message() != first.Message() || errorReason(st) != errorReason(first) {
			t.Errorf("%s asking for %s: %q (%s), want the same answer as every unit out of reach: %q (%s)",
				tt.user, tt.unit, st.Message(), errorReason(st), first.Message(), errorReason(first))
		}
		if code := rest(tt.user, "/v1/statistics", url.Values{"start_date": {day}, "end_date": {day}, "unit": {tt.unit}}); code != http.StatusNotFound {
			t.Errorf("GET /v1/statistics as %s for %s: %d, want 404", tt.user, tt.unit, code)
		}
		_, err := stats.GetPeriodicReport(ts.as(t, tt.user), &pb.GetPeriodicReportRequest{StartDate: day, EndDate: day, Unit: tt.unit, Format: "csv"})
		wantCode(t, err, codes.NotFound)
		if code := rest(tt.user, "/v1/statistics:periodicReport", url.Values{"start_date": {day}, "end_date": {day}, "unit": {tt.unit}, "format": {"csv"}}); code != http.StatusNotFound {
			t.Errorf("GET /v1/statistics:periodicReport as %s for %s: %d, want 404", tt.user, tt.unit, code)
		}
		_, err = stats.GetActionMonthReport(ts.as(t, tt.user), &pb.GetActionMonthReportRequest{Year: 2026, Unit: tt.unit, Format: "csv"})
		wantCode(t, err, codes.NotFound)
		if code := rest(tt.user, "/v1/statistics:actionMonthReport", url.Values{"year": {"2026"}, "unit": {tt.unit}, "format": {"csv"}}); code != http.StatusNotFound {
			t.Errorf("GET /v1/statistics:actionMonthReport as %s for %s: %d, want 404", tt.user, tt.unit, code)
		}
	}

	for _, tt := range []struct{ user, unit string }{
		{"bd.worker", pBaDinh},
		{"bd.worker", pTrucBach2025}, // Trúc Bạch went wholly into Ba Đình
		{"bd.worker", pTrucBach},     // the same Trúc Bạch, before the data listed it anew
		{"hk.chair", pHoanKiem},
		{"district.bd", pDistrictBD},
		{"district.bd", pTrucBach}, // a commune of the district
		{"city", pHoanKiem},
		{"sup.111", pHoanKiem},
	} {
		if err := ask(tt.user, tt.unit); err != nil {
			t.Errorf("%s asking for %s: %v, want an answer", tt.user, tt.unit, err)
		}
		if code := rest(tt.user, "/v1/statistics", url.Values{"start_date": {day}, "end_date": {day}, "unit": {tt.unit}}); code != http.StatusOK {
			t.Errorf("GET /v1/statistics as %s for %s: %d, want 200", tt.user, tt.unit, code)
		}
		if code := rest(tt.user, "/v1/statistics:periodicReport", url.Values{"start_date": {day}, "end_date": {day}, "unit": {tt.unit}, "format": {"csv"}}); code != http.StatusOK {
			t.Errorf("GET /v1/statistics:periodicReport as %s for %s: %d, want 200", tt.user, tt.unit, code)
		}
	}
	// Hoàn Kiếm's chair counts the case there; what the city counts too.
	for _, user := range []string{"hk.chair", "city"} {
		resp, err := stats.GetStatistics(ts.as(t, user), &pb.GetStatisticsRequest{StartDate: day, EndDate: day, Unit: pHoanKiem})
		if err != nil || len(resp.GetGroups()) != 1 || resp.GetGroups()[0].GetCasesOpened() != 1 {
			t.Errorf("statistics of Hoàn Kiếm as %s: %v, %v, want the one case", user, resp, err)
		}
	}

	// The refusals are on the trail, naming what was asked for.
	refused := map[string]int{}
	page, err := ts.audit().ListAuditEvents(ts.as(t, "auditor"), &pb.ListAuditEventsRequest{Actor: "users/bd.worker", PageSize: 500})
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range page.GetEvents() {
		if e.GetOutcome() == "not_found" {
			refused[e.GetAction()+" "+e.GetResource()]++
		}
	}
	for _, want := range []string{
		"statistics.read statistics/" + pHoanKiem,
		"statistics.report statistics:periodicReport/" + pHoanKiem,
		"statistics.report statistics:actionMonthReport/" + pHoanKiem,
	} {
		if refused[want] != 2 { // over gRPC and REST
			t.Errorf("audit events %q with outcome not_found: %d, want 2; refused: %v", want, refused[want], refused)
		}
	}
}
