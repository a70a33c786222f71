package process_test

import (
	"errors"
	"testing"

	"github.com/childcase/childcase/internal/domain/model"
	"github.com/childcase/childcase/internal/domain/process"
)

// A service of a child's plan lies within 18 years of today, either way:
// nobody is a child for longer. A service dated 9999-12-31 was taken, and
// its D8 deadline was stored due in 1816 (the instant, past 2262, is no
// Unix nanosecond count), so that the case read as overdue since then;
// one dated in year 1000 likewise. Such a plan is refused naming the
// date, and nothing is written; the dates at the bound are taken.
func TestPlanServiceDatesLieWithinAChildhood(t *testing.T) {
	w := newWorldAt(t, loadEnv(t), hn(2026, 12, 7, 8, 0))
	defer w.close()
	worker := principal("worker.badinh")
	step := stepOK(t)
	c := w.openCaseAt(t, hn(2026, 12, 7, 7, 0), false, model.AbuseNeglect)
	name := "cases/" + c.Number
	req := func() process.Request { return process.Request{Case: name, Etag: c.Etag()} }
	c = step(w.eng.Acknowledge(w.ctx, worker, req()))
	c = step(w.eng.RecordInitialAssessment(w.ctx, worker, req(), process.InitialAssessment{
		HarmSeverity: model.LevelMedium, AbuserAccess: model.LevelLow, SafetyObstacles: model.LevelLow,
	}))
	c = step(w.eng.RecordSpecificAssessment(w.ctx, worker, req(), process.SpecificAssessment{
		Needs: "hỗ trợ tâm lý", ChildViews: "muốn đi học", MeetingRecord: "biên bản họp",
		MeetingTime: hn(2026, 12, 7, 8, 0), MeetingChair: model.Attendee{FullName: "Chủ tịch UBND phường"},
	}))
	service := func(start, end string) []process.Service {
		return []process.Service{{Name: "tư vấn", Owner: "trung tâm công tác xã hội", CommuneAssignee: "cán bộ phường", StartDate: start, ExpectedEndDate: end}}
	}
	for _, tc := range []struct{ start, end, field string }{
		{"2026-12-14", "9999-12-31", "services[0].expected_end_date"},
		{"2026-12-14", "2044-12-08", "services[0].expected_end_date"},
		{"1000-01-01", "2027-03-31", "services[0].start_date"},
		{"2008-12-06", "2027-03-31", "services[0].start_date"},
	} {
		_, err := w.eng.SubmitPlan(w.ctx, worker, req(), service(tc.start, tc.end))
		var fe *model.FieldError
		if !errors.As(err, &fe) || fe.Field != tc.field || fe.Rule != "plan.dates_within" {
			t.Errorf("a service from %s to %s: %v, want %s refused (plan.dates_within)", tc.start, tc.end, err, tc.field)
		}
	}
	if now := w.caseAs(t, worker, name); now.Etag() != c.Etag() {
		t.Fatalf("the refused plans wrote the case: etag %s, then %s", c.Etag(), now.Etag())
	}
	c = step(w.eng.SubmitPlan(w.ctx, worker, req(), service("2008-12-07", "2044-12-07")))
	if len(c.Services) != 1 || c.Services[0].ExpectedEndDate != "2044-12-07" {
		t.Errorf("the plan at the bounds: services %+v", c.Services)
	}
}
