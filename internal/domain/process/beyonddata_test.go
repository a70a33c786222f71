package process_test

import (
	"strings"
	"testing"
	"time"

	"github.com/childcase/childcase/internal/domain/intake"
	"github.com/childcase/childcase/internal/domain/model"
	"github.com/childcase/childcase/internal/domain/policy"
	"github.com/childcase/childcase/internal/domain/process"
)

// The holiday data end with 2030. A working-day deadline whose count
// reaches 2031 is still counted (a child's case is never refused for want
// of a calendar), on the weekends and the fixed-date holidays alone, so it
// may end earlier than the year's notices would make it, never later; but
// not silently: its calendar_version and the DEADLINE_STARTED line of the
// timeline say that the data did not cover it. One counted within the
// data says nothing of the kind.
func TestDeadlinePastTheHolidayDataSaysSo(t *testing.T) {
	e := loadEnv(t)
	pol := e.pol
	pol.Acknowledge = policy.Limit{WorkingDays: 3}
	tests := []struct {
		name     string
		received time.Time
		due      time.Time
		beyond   bool
	}{
		// Tue 31 Dec (1), Wed 1 Jan a holiday, Thu 2 (2), Fri 3 (3).
		{"into 2031", hn(2030, 12, 30, 10, 0), hn(2031, 1, 4, 0, 0), true},
		// Mon 23, Tue 24, Wed 25 Dec: all within the data.
		{"within 2030", hn(2030, 12, 20, 10, 0), hn(2030, 12, 26, 0, 0), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := newWorldAt(t, e, tt.received)
			defer w.close()
			w.eng = process.New(process.Deps{Store: w.store, Units: e.reg, Policy: pol, Calendar: e.cal, Vault: e.vault, Clock: w.clk, Log: e.log})
			w.intake = intake.New(intake.Deps{Store: w.store, Units: e.reg, Vault: e.vault, Clock: w.clk, Log: e.log, Cases: w.eng})
			c := w.openCaseAt(t, tt.received, false, model.AbuseNeglect)
			ack := openDeadline(t, c, model.DeadlineAcknowledge)
			checkDue(t, ack, tt.due)
			var started string
			for _, ev := range w.timeline(t, c, ack.ID) {
				if ev.Kind == "DEADLINE_STARTED" {
					started = ev.Detail
				}
			}
			said := strings.Contains(started, "holiday data") && strings.Contains(started, "2031")
			flagged := ack.CalendarVersion != e.cal.Version() && strings.HasPrefix(ack.CalendarVersion, e.cal.Version()) && strings.Contains(ack.CalendarVersion, "2031")
			if said != tt.beyond || flagged != tt.beyond {
				t.Errorf("calendar_version %q, DEADLINE_STARTED %q: want past the data said %v", ack.CalendarVersion, started, tt.beyond)
			}
			if !tt.beyond && ack.CalendarVersion != e.cal.Version() {
				t.Errorf("calendar_version %q, want %q", ack.CalendarVersion, e.cal.Version())
			}
		})
	}
}

// A working-day deadline counted again on its resumption is marked by the
// same rule: paused the day it began within 2030 and resumed on Fri 27
// Dec, its three working days left are Mon 30, Tue 31 Dec and Thu 2 Jan
// 2031.
func TestDeadlineResumedPastTheHolidayDataSaysSo(t *testing.T) {
	e := loadEnv(t)
	pol := e.pol
	pol.Acknowledge = policy.Limit{WorkingDays: 3}
	received := hn(2030, 12, 20, 10, 0)
	w := newWorldAt(t, e, received)
	defer w.close()
	w.eng = process.New(process.Deps{Store: w.store, Units: e.reg, Policy: pol, Calendar: e.cal, Vault: e.vault, Clock: w.clk, Log: e.log})
	w.intake = intake.New(intake.Deps{Store: w.store, Units: e.reg, Vault: e.vault, Clock: w.clk, Log: e.log, Cases: w.eng})
	c := w.openCaseAt(t, received, false, model.AbuseNeglect)
	ack := openDeadline(t, c, model.DeadlineAcknowledge)
	worker, step := principal("worker.badinh"), stepOK(t)
	req := func() process.Request { return process.Request{Case: "cases/" + c.Number, Etag: c.Etag()} }
	w.clk.Set(received.Add(time.Hour))
	c = step(w.eng.PauseDeadline(w.ctx, worker, req(), ack.ID, "chờ xác minh địa chỉ"))
	w.clk.Set(hn(2030, 12, 27, 9, 0))
	c = step(w.eng.ResumeDeadline(w.ctx, worker, req(), ack.ID))
	ack = *c.Deadline(ack.ID)
	checkDue(t, ack, hn(2031, 1, 3, 0, 0))
	var resumed string
	for _, ev := range w.timeline(t, c, ack.ID) {
		if ev.Kind == "DEADLINE_RESUMED" {
			resumed = ev.Detail
		}
	}
	if ack.CalendarVersion != e.cal.Version()+"+no-data-2031" || !strings.Contains(resumed, "holiday data for 2031") {
		t.Errorf("calendar_version %q, DEADLINE_RESUMED %q: want the count past the data said", ack.CalendarVersion, resumed)
	}
}
