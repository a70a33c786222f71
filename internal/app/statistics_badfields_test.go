package app_test

import (
	"strings"
	"testing"

	"google.golang.org/grpc/codes"

	pb "github.com/childcase/childcase/api/childcase/v1"
)

// A statistics request or a report that breaks several rules is refused
// naming each field and rule at once (README, "Trying it with curl"), not
// only the first one a check meets: a malformed field and one the domain
// refuses (a unit that does not exist, a year out of range, an unknown
// dimension) alike.
func TestStatisticsAndReportsNameEveryBadField(t *testing.T) {
	ts := startServerAt(t, hn(2026, 7, 2, 9, 0), "")
	ts.addUser(t, "city", pb.Role_ROLE_CITY_OFFICER, pCity)
	client := pb.NewStatisticsServiceClient(ts.conn)
	ctx := ts.as(t, "city")
	const nowhere = "units/99999@2025-07-01" // well formed, no such unit
	for _, tc := range []struct {
		name string
		call func() error
		want []string
	}{
		{"statistics", func() error {
			_, err := client.GetStatistics(ctx, &pb.GetStatisticsRequest{StartDate: "2026-13-01", EndDate: "2026-06-30", Unit: nowhere, GroupBy: []string{"month", "colour"}})
			return err
		}, []string{"start_date", "unit", "group_by"}},
		{"statistics, dates right", func() error {
			_, err := client.GetStatistics(ctx, &pb.GetStatisticsRequest{StartDate: "2026-06-01", EndDate: "2026-06-30", Unit: nowhere, GroupBy: []string{"colour"}})
			return err
		}, []string{"unit", "group_by"}},
		{"Action Month", func() error {
			_, err := client.GetActionMonthReport(ctx, &pb.GetActionMonthReportRequest{Year: 2019, Unit: nowhere, Format: "pdf"})
			return err
		}, []string{"year", "unit", "format"}},
		{"Action Month, malformed unit", func() error {
			_, err := client.GetActionMonthReport(ctx, &pb.GetActionMonthReportRequest{Year: 2101, Unit: "bogus", Format: "pdf"})
			return err
		}, []string{"year", "unit", "format"}},
		{"periodic", func() error {
			_, err := client.GetPeriodicReport(ctx, &pb.GetPeriodicReportRequest{StartDate: "2026-06-01", EndDate: "someday", Unit: nowhere, Format: "pdf"})
			return err
		}, []string{"end_date", "unit", "format"}},
	} {
		st := wantCode(t, tc.call(), codes.InvalidArgument)
		if got := badFields(st); strings.Join(got, ", ") != strings.Join(tc.want, ", ") {
			t.Errorf("%s: the violations name %q (%q), want %q", tc.name, got, st.Message(), tc.want)
		}
	}
}
