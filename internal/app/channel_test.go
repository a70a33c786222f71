package app_test

import (
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	pb "github.com/childcase/childcase/api/childcase/v1"
)

// Anyone may report to 111, a labour/social-affairs office, the police or
// the commune (Decree 56 Art. 25(1)): a report the city's department
// received keeps that channel, and the statistics count it under it.
func TestReportToASocialAffairsOffice(t *testing.T) {
	now := hn(2026, 6, 10, 9, 0)
	ts := startServerAt(t, now, "")
	ts.addUser(t, "city", pb.Role_ROLE_CITY_OFFICER, pCity)
	r := validReport()
	r.Channel = pb.Channel_CHANNEL_SOCIAL_AFFAIRS_OFFICE
	r.ReceiveTime = timestamppb.New(now.Add(-time.Hour))
	got, err := ts.reports().CreateReport(ts.as(t, "city"), &pb.CreateReportRequest{Report: r, RequestId: "office-1"})
	if err != nil {
		t.Fatalf("report: %v", err)
	}
	if got.GetChannel() != pb.Channel_CHANNEL_SOCIAL_AFFAIRS_OFFICE {
		t.Errorf("channel %s", got.GetChannel())
	}
	st, err := pb.NewStatisticsServiceClient(ts.conn).GetStatistics(ts.as(t, "city"),
		&pb.GetStatisticsRequest{StartDate: "2026-06-01", EndDate: "2026-06-30", GroupBy: []string{"channel"}})
	if err != nil {
		t.Fatal(err)
	}
	counted := map[string]int32{}
	for _, g := range st.GetGroups() {
		counted[g.GetKey()[0].GetValue()] += g.GetReports()
	}
	if counted["SOCIAL_AFFAIRS_OFFICE"] != 1 || len(counted) != 1 {
		t.Errorf("reports by channel %v, want SOCIAL_AFFAIRS_OFFICE: 1", counted)
	}
}
