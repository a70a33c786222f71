package app_test

import (
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/types/known/timestamppb"

	pb "github.com/childcase/childcase/api/childcase/v1"
)

// A caller after the 2025 reform may still name the commune they knew:
// the report is refused on its incident_commune_code, as a unit not in
// force that day (a case keeps the unit in force on its intake date, so
// none is guessed), and the message says when that commune ended and which
// communes of the reform took it over, so the operator can name the right
// one. A reused code (00004, Trúc Bạch until 2025-06-30) is the new unit.
func TestReportNamingAnOldCommune(t *testing.T) {
	now := hn(2026, 12, 5, 9, 0)
	ts := startServerAt(t, now, "")
	ctx := ts.as(t, operatorID)
	for _, tt := range []struct {
		code string
		want []string // in the message
	}{
		// Quán Thánh went wholly into Phường Ba Đình.
		{"00013", []string{"Phường Quán Thánh ended on 2025-06-30 and went into units/00004@2025-07-01 (Phường Ba Đình)"}},
		// Ngọc Hà was split between Ba Đình and Ngọc Hà.
		{"00016", []string{"Ngọc Hà", "units/00004@2025-07-01 (Phường Ba Đình)", "Phường Ngọc Hà"}},
		// Nguyễn Trung Trực ended with the 2025-01-01 rearrangement, which
		// the reference data do not map to its successors: the message
		// says so rather than ending on the date, as if none took it over.
		{"00010", []string{"Phường Nguyễn Trung Trực ended on 2024-12-31", "the reference data do not say which communes took it over"}},
	} {
		r := validReport()
		r.ReceiveTime = timestamppb.New(now.Add(-time.Hour))
		r.IncidentCommuneCode = tt.code
		_, err := ts.reports().CreateReport(ctx, &pb.CreateReportRequest{Report: r, RequestId: "old-" + tt.code})
		st := wantCode(t, err, codes.InvalidArgument)
		if got := badFields(st); len(got) != 1 || got[0] != "report.incident_commune_code" {
			t.Errorf("%s: error names %v", tt.code, got)
		}
		for _, w := range tt.want {
			if !strings.Contains(st.Message(), w) {
				t.Errorf("%s: message %q does not say %q", tt.code, st.Message(), w)
			}
		}
	}
}
