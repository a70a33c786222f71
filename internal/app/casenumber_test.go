package app_test

import (
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	pb "github.com/childcase/childcase/api/childcase/v1"
)

// Case numbers HN-{year}-{sequence} count per year in Vietnam time, as the
// README's "The API" says: the first case opened after midnight in Hanoi
// on New Year's night is number 1 of the new year, while it is still the
// old year in UTC (17:30Z on 31 December is 00:30 on 1 January in Hanoi).
func TestCaseNumbersCountPerVietnamYear(t *testing.T) {
	lastEvening := time.Date(2026, 12, 31, 16, 0, 0, 0, time.UTC) // 23:00 in Hanoi
	ts := startServerAt(t, lastEvening, "")
	open := func() string {
		t.Helper()
		r := validReport()
		r.ReceiveTime = timestamppb.New(ts.clock.Now().Add(-10 * time.Minute))
		got, err := ts.reports().CreateReport(ts.as(t, operatorID), &pb.CreateReportRequest{Report: r})
		if err != nil {
			t.Fatalf("CreateReport: %v", err)
		}
		return got.GetCase()
	}
	for _, want := range []string{"cases/HN-2026-00001", "cases/HN-2026-00002"} {
		if got := open(); got != want {
			t.Errorf("at 23:00 on 31 December in Hanoi the case opened is %s, want %s", got, want)
		}
	}
	ts.advance(t, 90*time.Minute) // 00:30 on 1 January in Hanoi, 17:30Z on 31 December
	for _, want := range []string{"cases/HN-2027-00001", "cases/HN-2027-00002"} {
		if got := open(); got != want {
			t.Errorf("at 00:30 on 1 January in Hanoi the case opened is %s, want %s", got, want)
		}
	}
}
