package web

import (
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	pb "github.com/childcase/childcase/api/childcase/v1"
)

// A deadline's timeline line is said from the deadline (its name, its due
// time), but some lines say why as well: a deadline cancelled (the case
// handed to another commune before the first acknowledged it, closed, an
// emergency), an acknowledgement missed by a hand-over, an escalation
// past a level no longer in force. The console said the deadline's name
// alone there, and the why was lost to a reader of the page. Each why
// the domain writes is said in the page's language.
func TestDeadlineLinesSayWhy(t *testing.T) {
	c := testConsole(t)
	const from, to, city = "units/00004@2025-07-01", "units/00091@2025-07-01", "units/01@2020-01-01"
	names := map[string]string{from: "Phường Ba Đình", to: "Phường Hoàn Kiếm", city: "Thành phố Hà Nội"}
	due := time.Date(2026, 12, 1, 3, 0, 0, 0, time.UTC)
	deadlines := []*pb.Deadline{{Id: 1, Kind: "ACKNOWLEDGE", DueTime: timestamppb.New(due), Unit: from}}
	for _, tt := range []struct {
		e  *pb.CaseEvent
		vi string
	}{
		{&pb.CaseEvent{Kind: "DEADLINE_CANCELLED", DeadlineId: 1, Detail: "ACKNOWLEDGE: the case went from " + from + " to " + to + " before " + from + " acknowledged it"},
			"hồ sơ đã chuyển từ Phường Ba Đình sang Phường Hoàn Kiếm trước khi Phường Ba Đình tiếp nhận"},
		{&pb.CaseEvent{Kind: "DEADLINE_MISSED", DeadlineId: 1, Detail: "ACKNOWLEDGE: the case went from " + from + " to " + to + " 90 minutes late, not acknowledged"},
			"hồ sơ đã chuyển từ Phường Ba Đình sang Phường Hoàn Kiếm muộn 90 phút, chưa được tiếp nhận"},
		{&pb.CaseEvent{Kind: "ESCALATED", DeadlineId: 1, Detail: "ACKNOWLEDGE overdue by 90 minutes, escalated from " + to + " to " + city + ": " + to + " is no longer in force"},
			"Phường Hoàn Kiếm không còn hiệu lực"},
		{&pb.CaseEvent{Kind: "DEADLINE_CANCELLED", DeadlineId: 1, Detail: "ACKNOWLEDGE: case closed"}, "hồ sơ đã kết thúc"},
		{&pb.CaseEvent{Kind: "DEADLINE_CANCELLED", DeadlineId: 1, Detail: "ACKNOWLEDGE: merged: the referral from case HN-2026-00005 counts"}, "HN-2026-00005"},
	} {
		got := c.eventDetail("vi", tt.e, deadlines, func(n string) string { return names[n] })
		if !strings.Contains(got, tt.vi) || !strings.HasPrefix(got, "Tiếp nhận hồ sơ") {
			t.Errorf("%s %q reads %q, want the deadline and %q", tt.e.Kind, tt.e.Detail, got, tt.vi)
		}
		if en := c.eventDetail("en", tt.e, deadlines, func(n string) string { return names[n] }); en == c.eventDetail("en", &pb.CaseEvent{Kind: tt.e.Kind, DeadlineId: 1}, deadlines, func(n string) string { return names[n] }) {
			t.Errorf("%s %q reads %q in English, without why", tt.e.Kind, tt.e.Detail, en)
		}
	}
	// A line without a why says none.
	if got := c.eventDetail("vi", &pb.CaseEvent{Kind: "DEADLINE_MISSED", DeadlineId: 1, Detail: "ACKNOWLEDGE done 5 minutes late"}, deadlines, func(n string) string { return names[n] }); strings.Contains(got, ";") {
		t.Errorf("a deadline missed by a step reads %q", got)
	}
}

// Every why the domain gives a cancelled deadline (stepCtx.cancel), and
// the hand-over's and the escalation's, is one the console says: a new
// one in the domain fails here until a catalog says it.
func TestDeadlineReasonsOfTheDomainAreSaid(t *testing.T) {
	src := domainSources(t)
	calls := regexp.MustCompile(`\.cancel\([^\n]*\)\n`).FindAllString(src, -1)
	if len(calls) < 5 {
		t.Fatalf("found only %d cancelled deadlines in the domain's sources", len(calls))
	}
	literal := regexp.MustCompile(`"([^"]*)"`)
	for _, call := range calls {
		for _, m := range literal.FindAllStringSubmatch(call, -1) {
			if m[1] == "" {
				continue // a deadline of no ref
			}
			if !slices.ContainsFunc(deadlineReasons, func(f detailForm) bool { return strings.Contains(f.format, m[1]) }) {
				t.Errorf("the domain cancels a deadline with %q, which no reason form says: %s", m[1], strings.TrimSpace(call))
			}
		}
	}
	for _, f := range deadlineReasons {
		for _, part := range formatLiterals.Split(f.format, -1) {
			if !strings.Contains(src, part) {
				t.Errorf("%s: the domain no longer writes %q (reason form %q)", f.kind, part, f.format)
			}
		}
		for _, lang := range languages {
			if _, ok := testConsole(t).catalogs[lang][f.key]; !ok {
				t.Errorf("%s has no text for %s", lang, f.key)
			}
		}
	}
}
