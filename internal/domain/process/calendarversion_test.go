package process_test

import (
	"bytes"
	"os"
	"testing"
	"time"

	"github.com/childcase/childcase/internal/domain/calendar"
	"github.com/childcase/childcase/internal/domain/model"
	"github.com/childcase/childcase/internal/domain/policy"
	"github.com/childcase/childcase/internal/domain/process"
)

// A deadline keeps the version of the calendar that computed its due time
// (domain reference section 5), so that a breach stays explainable. A
// working-day deadline resumed after the holiday data were updated is
// counted again with the new data, so it records the new version.
func TestResumedDeadlineRecordsTheCalendarThatMovedIt(t *testing.T) {
	e := loadEnv(t)
	data, err := os.ReadFile("../calendar/data/vn-public-holidays.json")
	if err != nil {
		t.Fatal(err)
	}
	// The same days under another version, as after a notice's wording
	// was corrected.
	updated, err := calendar.Parse(bytes.Replace(data, []byte("Tết Dương lịch (1/1)"), []byte("Tết Dương lịch (1/1) "), 1))
	if err != nil {
		t.Fatal(err)
	}
	if updated.Version() == e.cal.Version() {
		t.Fatal("the updated data have the same version")
	}
	pol := e.pol
	pol.Acknowledge = policy.Limit{WorkingDays: 3}
	w := newWorld(t, e)
	defer w.close()
	w.rewire(pol, e.log)

	c := w.openCaseAt(t, start, false, model.AbuseViolence)
	ack := c.OpenDeadline(model.DeadlineAcknowledge, "")
	if ack == nil || ack.Clock != model.ClockWorkingDays || ack.CalendarVersion != e.cal.Version() {
		t.Fatalf("acknowledgement %+v", ack)
	}
	worker := principal("worker.badinh")
	w.clk.Advance(time.Hour)
	c, err = w.eng.PauseDeadline(w.ctx, worker, process.Request{Case: "cases/" + c.Number, Etag: c.Etag()}, ack.ID, "chờ xác minh địa chỉ")
	if err != nil {
		t.Fatalf("pause: %v", err)
	}
	w.clk.Advance(24 * time.Hour)
	after := process.New(process.Deps{Store: w.store, Units: e.reg, Policy: pol, Calendar: updated, Vault: e.vault, Clock: w.clk, Log: e.log})
	c, err = after.ResumeDeadline(w.ctx, worker, process.Request{Case: "cases/" + c.Number, Etag: c.Etag()}, ack.ID)
	if err != nil {
		t.Fatalf("resume: %v", err)
	}
	if got := c.Deadline(ack.ID).CalendarVersion; got != updated.Version() {
		t.Errorf("resumed with %s, the deadline says %s", updated.Version(), got)
	}
}
