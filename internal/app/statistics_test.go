package app_test

import (
	"encoding/json"
	"net/http"
	"testing"

	"google.golang.org/grpc/codes"

	pb "github.com/childcase/childcase/api/childcase/v1"
)

// GetStatistics over gRPC and REST: a city officer counts the cases of two
// communes by month and unit, a commune chair only its own; the police are
// refused; a bad period or dimension is INVALID_ARGUMENT naming the field;
// the read is audited without a case.
func TestStatisticsAPI(t *testing.T) {
	ts := startServerAt(t, hn(2026, 6, 15, 9, 0), "")
	ts.addUser(t, "city", pb.Role_ROLE_CITY_OFFICER, pCity)
	ts.addUser(t, "bd.chair", pb.Role_ROLE_COMMUNE_CHAIR, pBaDinh)
	ts.addUser(t, "auditor", pb.Role_ROLE_AUDITOR, "orgs/system")
	ts.addPoliceUnit(t, "ca-ba-dinh")
	ts.addUser(t, "police", pb.Role_ROLE_POLICE_LIAISON, "policeUnits/ca-ba-dinh")
	openCase(t, ts, hn(2026, 5, 29, 16, 0), "00004") // Friday before the Action Month
	openCase(t, ts, hn(2026, 6, 1, 8, 0), "00004")   // Children's Day
	openCase(t, ts, hn(2026, 6, 2, 8, 0), "00091")
	stats := pb.NewStatisticsServiceClient(ts.conn)

	june := &pb.GetStatisticsRequest{StartDate: "2026-06-01", EndDate: "2026-06-30", GroupBy: []string{"month", "unit"}}
	got, err := stats.GetStatistics(ts.as(t, "city"), june)
	if err != nil {
		t.Fatal(err)
	}
	byUnit := map[string]int32{}
	for _, g := range got.GetGroups() {
		if g.GetKey()[0].GetValue() != "2026-06" {
			t.Errorf("a group of month %s in June", g.GetKey()[0].GetValue())
		}
		byUnit[g.GetKey()[1].GetValue()] = g.GetCasesOpened()
	}
	if byUnit["00004@2025-07-01"] != 1 || byUnit["00091@2025-07-01"] != 1 || len(byUnit) != 2 {
		t.Errorf("city, June, by unit: %v, want one case in each commune", byUnit)
	}
	mine, err := stats.GetStatistics(ts.as(t, "bd.chair"), &pb.GetStatisticsRequest{StartDate: "2026-05-01", EndDate: "2026-06-30"})
	if err != nil {
		t.Fatal(err)
	}
	if n := mine.GetGroups()[0].GetCasesOpened(); n != 2 {
		t.Errorf("Ba Đình's chair counts %d cases, want its 2", n)
	}

	_, err = stats.GetStatistics(ts.as(t, "police"), june)
	wantCode(t, err, codes.PermissionDenied)
	for field, req := range map[string]*pb.GetStatisticsRequest{
		"start_date": {StartDate: "2026-02-30", EndDate: "2026-06-30"},
		"end_date":   {StartDate: "2026-06-30", EndDate: "2026-06-01"},
		"unit":       {StartDate: "2026-06-01", EndDate: "2026-06-30", Unit: "units/99999@2025-07-01"},
		"group_by":   {StartDate: "2026-06-01", EndDate: "2026-06-30", GroupBy: []string{"reporter"}},
	} {
		_, err := stats.GetStatistics(ts.as(t, "city"), req)
		wantBadField(t, err, field)
	}

	code, body := confREST(t, ts, "GET", "/v1/statistics?start_date=2026-06-01&end_date=2026-06-30&group_by=unit", "Bearer "+ts.tokens.get("city"))
	if code != http.StatusOK {
		t.Fatalf("REST: %d %s", code, body)
	}
	var rest struct {
		Groups []struct {
			CasesOpened int `json:"cases_opened"`
		} `json:"groups"`
	}
	if err := json.Unmarshal(body, &rest); err != nil || len(rest.Groups) != 2 || rest.Groups[0].CasesOpened != 1 {
		t.Errorf("REST: %s (%v), want two units of one case each", body, err)
	}

	events, err := ts.audit().ListAuditEvents(ts.as(t, "auditor"), &pb.ListAuditEventsRequest{Actor: "users/city"})
	if err != nil {
		t.Fatal(err)
	}
	reads := 0
	for _, e := range events.GetEvents() {
		if e.GetAction() == "statistics.read" {
			reads++
			if e.GetCase() != "" {
				t.Errorf("a statistics read audited on case %s", e.GetCase())
			}
		}
	}
	if reads != 2 {
		t.Errorf("%d statistics reads audited for the city, want its 2 answered ones", reads)
	}
}
