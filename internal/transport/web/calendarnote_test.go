package web

import (
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	pb "github.com/childcase/childcase/api/childcase/v1"
)

// A timeline line of a deadline counted on provisional holiday data, or
// past them, carries a note in the API's detail (process.calendarNotes);
// the console, which says a deadline's line from the deadline itself,
// says that note too, in the page's language, and so does a
// LATE_RECORDING line whose late_recording limit was so counted. A line
// without a note gets none.
func TestTimelineSaysTheHolidayDataNote(t *testing.T) {
	c := testConsole(t)
	due := time.Date(2031, 1, 3, 17, 0, 0, 0, time.UTC)
	deadlines := []*pb.Deadline{{Id: 1, Kind: "ACKNOWLEDGE", DueTime: timestamppb.New(due), Unit: "units/00004@2025-07-01"}}
	names := func(s string) string { return s }
	const (
		noData      = "; counted without holiday data for 2031: only weekends and 1/1, 30/4, 1/5 and 2/9 are days off then, so it may end earlier than that year's notices would make it"
		provisional = "; counted on provisional holiday data for 2030: that year's days off are estimates, not yet announced, without the swaps and make-up Saturdays its notice will add, so it may end earlier or later than the notice will make it"
		lateNoData  = "; the late_recording limit counted without holiday data for 2031: only weekends and 1/1, 30/4, 1/5 and 2/9 are days off then, so it may end earlier than that year's notices would make it"
	)
	tests := []struct {
		name string
		e    *pb.CaseEvent
		want map[string][]string // by language, what the line says
		not  []string
	}{
		{"started past the data", &pb.CaseEvent{Kind: "DEADLINE_STARTED", DeadlineId: 1, Detail: "ACKNOWLEDGE due 2031-01-04T00:00:00+07:00" + provisional + noData},
			map[string][]string{
				"vi": {"Tiếp nhận hồ sơ", "dữ liệu ngày nghỉ dự kiến năm 2030", "không có dữ liệu ngày nghỉ năm 2031"},
				"en": {"counted on provisional holiday data for 2030", "counted without holiday data for 2031"},
			}, nil},
		{"resumed on provisional data", &pb.CaseEvent{Kind: "DEADLINE_RESUMED", DeadlineId: 1, Detail: "ACKNOWLEDGE due 2031-01-04T00:00:00+07:00" + provisional},
			map[string][]string{"vi": {"dữ liệu ngày nghỉ dự kiến năm 2030"}}, []string{"không có dữ liệu ngày nghỉ"}},
		{"late recording past the data", &pb.CaseEvent{Kind: "LATE_RECORDING", Detail: "emergency measures applied 2030-12-31T10:00:00+07:00, recorded 8640 minutes later" + lateNoData},
			map[string][]string{
				"vi": {"Biện pháp khẩn cấp áp dụng lúc", "ghi sau 8640 phút", "giới hạn ghi nhận muộn", "không có dữ liệu ngày nghỉ năm 2031"},
				"en": {"Emergency measures applied", "the late_recording limit counted without holiday data for 2031"},
			}, nil},
		{"started on announced data", &pb.CaseEvent{Kind: "DEADLINE_STARTED", DeadlineId: 1, Detail: "ACKNOWLEDGE due 2026-12-10T00:00:00+07:00"},
			map[string][]string{"vi": {"Tiếp nhận hồ sơ"}}, []string{"dữ liệu ngày nghỉ", ";"}},
	}
	for _, tt := range tests {
		for lang, wants := range tt.want {
			got := c.eventDetail(lang, tt.e, deadlines, names)
			for _, want := range wants {
				if !strings.Contains(got, want) {
					t.Errorf("%s, %s: %q does not say %q", tt.name, lang, got, want)
				}
			}
			for _, not := range tt.not {
				if strings.Contains(got, not) {
					t.Errorf("%s, %s: %q says %q", tt.name, lang, got, not)
				}
			}
			if lang == "vi" && strings.Contains(got, "holiday data") {
				t.Errorf("%s: the Vietnamese line %q is in the API's English", tt.name, got)
			}
		}
	}
	// The domain still writes the notes the console reads.
	src := domainSources(t)
	for _, part := range []string{"counted on provisional holiday data for %s: ", "counted without holiday data for %s: ", `"the late_recording limit"`} {
		if !strings.Contains(src, part) {
			t.Errorf("the domain no longer writes %q", part)
		}
	}
}
