package process_test

import (
	"context"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/childcase/childcase/internal/domain/model"
	"github.com/childcase/childcase/internal/domain/policy"
	"github.com/childcase/childcase/internal/domain/process"
	"github.com/childcase/childcase/internal/domain/units"
	"github.com/childcase/childcase/internal/domain/vntime"
)

// The holiday data end with 2030, and their days off of 2027 to 2030 are
// estimates (announced: false). A working-day deadline whose count
// reaches 2031 is still counted (a child's case is never refused for want
// of a calendar), on the weekends and the fixed-date holidays alone, so it
// may end earlier than the year's notices would make it, never later; one
// whose count reaches a provisional year may end earlier or later than
// that year's notice will make it. Neither is silent: its
// calendar_version and the DEADLINE_STARTED line of the timeline say so.
// One counted on announced data (2026) says nothing of the kind.
func TestDeadlinePastTheHolidayDataSaysSo(t *testing.T) {
	e := loadEnv(t)
	pol := e.pol
	pol.Acknowledge = policy.Limit{WorkingDays: 3}
	tests := []struct {
		name     string
		received time.Time
		due      time.Time
		marks    string   // what follows the calendar's version
		said     []string // in the DEADLINE_STARTED line
	}{
		// Tue 31 Dec (1), Wed 1 Jan a holiday, Thu 2 (2), Fri 3 (3).
		{"into 2031", hn(2030, 12, 30, 10, 0), hn(2031, 1, 4, 0, 0), "+provisional-2030+no-data-2031",
			[]string{"provisional holiday data for 2030", "without holiday data for 2031"}},
		// Mon 23, Tue 24, Wed 25 Dec 2030: within the data, provisional.
		{"within 2030", hn(2030, 12, 20, 10, 0), hn(2030, 12, 26, 0, 0), "+provisional-2030",
			[]string{"provisional holiday data for 2030"}},
		// Thu 31 Dec 2026, Fri 1 Jan 2027 a holiday, Mon 4, Tue 5 Jan.
		{"into 2027", hn(2026, 12, 30, 10, 0), hn(2027, 1, 6, 0, 0), "+provisional-2027",
			[]string{"provisional holiday data for 2027"}},
		// Mon 7, Tue 8, Wed 9 Dec 2026: announced data only.
		{"within 2026", hn(2026, 12, 4, 10, 0), hn(2026, 12, 10, 0, 0), "", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := newWorldAt(t, e, tt.received)
			defer w.close()
			w.rewire(pol, e.log)
			c := w.openCaseAt(t, tt.received, false, model.AbuseNeglect)
			ack := openDeadline(t, c, model.DeadlineAcknowledge)
			checkDue(t, ack, tt.due)
			var started string
			for _, ev := range w.timeline(t, c, ack.ID) {
				if ev.Kind == "DEADLINE_STARTED" {
					started = ev.Detail
				}
			}
			if want := e.cal.Version() + tt.marks; ack.CalendarVersion != want {
				t.Errorf("calendar_version %q, want %q", ack.CalendarVersion, want)
			}
			for _, want := range tt.said {
				if !strings.Contains(started, want) {
					t.Errorf("DEADLINE_STARTED %q does not say %q", started, want)
				}
			}
			if tt.said == nil && strings.Contains(started, "holiday data") {
				t.Errorf("DEADLINE_STARTED %q speaks of the holiday data of a count on announced data", started)
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
	w.rewire(pol, e.log)
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
	if ack.CalendarVersion != e.cal.Version()+"+provisional-2030+no-data-2031" || !strings.Contains(resumed, "holiday data for 2031") {
		t.Errorf("calendar_version %q, DEADLINE_RESUMED %q: want the count past the data said", ack.CalendarVersion, resumed)
	}
}

// A record made later than late_recording after what it records is
// flagged; a late_recording limit in working days is counted on the
// holiday data, and stored with no calendar version of its own, so the
// LATE_RECORDING line says when its count reached provisional data or went
// past them, as a deadline's calendar_version does.
func TestLateRecordingCountedPastTheHolidayDataSaysSo(t *testing.T) {
	e := loadEnv(t)
	pol := e.pol
	pol.LateRecording = policy.Limit{WorkingDays: 1}
	tests := []struct {
		name              string
		applied, recorded time.Time
		said              string // in the LATE_RECORDING line; "" for nothing of the data
	}{
		// Wed 1 Jan 2031 is off in the fallback; the day counted is Thu 2.
		{"into 2031", hn(2030, 12, 31, 10, 0), hn(2031, 1, 6, 10, 0), "the late_recording limit counted without holiday data for 2031"},
		// Tết 2027 (provisional): the day counted is Thu 11 Feb.
		{"across Tết 2027", hn(2027, 2, 3, 10, 0), hn(2027, 2, 12, 10, 0), "the late_recording limit counted on provisional holiday data for 2027"},
		// Tue 8 Dec 2026: announced data.
		{"within 2026", hn(2026, 12, 7, 10, 0), hn(2026, 12, 10, 10, 0), ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			received := tt.applied.Add(-time.Hour)
			w := newWorldAt(t, e, received)
			defer w.close()
			w.rewire(pol, e.log)
			step := stepOK(t)
			c := w.openCaseAt(t, received, true, model.AbuseNeglect)
			req := func() process.Request { return process.Request{Case: "cases/" + c.Number, Etag: c.Etag()} }
			c = step(w.eng.Acknowledge(w.ctx, principal("worker.badinh"), req()))
			w.clk.Set(tt.recorded)
			c = step(w.eng.RecordEmergencyMeasures(w.ctx, principal("chair.badinh"), req(),
				process.EmergencyMeasures{Measures: "đưa trẻ đến nhà bà ngoại", AppliedBy: "Chủ tịch UBND phường", AppliedTime: tt.applied}))
			var late []string
			for _, ev := range w.timeline(t, c, 0) {
				if ev.Kind == "LATE_RECORDING" {
					late = append(late, ev.Detail)
				}
			}
			if len(late) != 1 {
				t.Fatalf("LATE_RECORDING lines %q, want one", late)
			}
			if tt.said != "" && !strings.Contains(late[0], tt.said) {
				t.Errorf("LATE_RECORDING %q does not say %q", late[0], tt.said)
			}
			if tt.said == "" && strings.Contains(late[0], "holiday data") {
				t.Errorf("LATE_RECORDING %q speaks of the holiday data of a count on announced data", late[0])
			}
		})
	}
}

// An overdue deadline escalates once more when the level it went to lets
// the escalation step pass; that step is counted only from a level with
// one above it. Since the reform of 2025-07-01 none has (commune -> city,
// police unit -> the city police, the top), so the step is never counted
// on the provisional holiday data (2027 to 2030) or past them, and the
// line of such an escalation needs no note of the data, as a
// LATE_RECORDING line may (README, Deadlines). Should the reference data
// bring back a level in between, this fails: mark the step's count then.
func TestEscalationStepIsCountedOnlyBeforeTheReform(t *testing.T) {
	e := loadEnv(t)
	for _, day := range []vntime.Date{{Year: 2025, Month: 7, Day: 1}, {Year: 2027, Month: 1, Day: 1}, {Year: 2031, Month: 1, Day: 1}} {
		for _, u := range e.reg.List(units.Filter{AsOf: day}) {
			above, ok := e.reg.Above(u.Key, day)
			if !ok {
				continue
			}
			if top, ok := e.reg.Above(above.Key, day); ok {
				t.Errorf("on %s, %s escalates to %s and then to %s: an escalation step is counted then", day, u, above, top)
			}
		}
	}
	// Before the reform it is: a commune's deadline went to its district,
	// and on to the city.
	day := vntime.Date{Year: 2025, Month: 6, Day: 30}
	n := 0
	for _, u := range e.reg.List(units.Filter{AsOf: day, Level: units.LevelCommune}) {
		if above, ok := e.reg.Above(u.Key, day); ok {
			if _, ok := e.reg.Above(above.Key, day); ok {
				n++
			}
		}
	}
	if n == 0 {
		t.Error("on 2025-06-30 no commune escalates twice: the check above proves nothing")
	}
}

// lines is a log handler that keeps the messages it is given.
type lines struct {
	mu   sync.Mutex
	msgs []string
}

func (h *lines) Enabled(context.Context, slog.Level) bool { return true }
func (h *lines) Handle(_ context.Context, r slog.Record) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.msgs = append(h.msgs, r.Message)
	return nil
}
func (h *lines) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h *lines) WithGroup(string) slog.Handler      { return h }

// count returns how many messages contain s.
func (h *lines) count(s string) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	n := 0
	for _, m := range h.msgs {
		if strings.Contains(m, s) {
			n++
		}
	}
	return n
}

// A deadline counted past the holiday data is logged once, when what
// counted it is committed: a transaction's body may run more than once
// (memstore runs each twice), and a body that logged as it ran logged the
// warning twice for one deadline, and once for a step that was then
// refused and recorded nothing.
func TestPastTheHolidayDataIsLoggedOncePerDeadline(t *testing.T) {
	e := loadEnv(t)
	pol := e.pol
	pol.Acknowledge = policy.Limit{WorkingDays: 3}
	received := hn(2030, 12, 30, 10, 0)
	w := newWorldAt(t, e, received)
	defer w.close()
	logged := &lines{}
	log := slog.New(logged)
	w.rewire(pol, log)
	const warning = "counted past the holiday data"

	// Opened by intake: its acknowledgement counted into 2031.
	c := w.openCaseAt(t, received, false, model.AbuseNeglect)
	if n := logged.count(warning); n != 1 {
		t.Errorf("a case opened with one deadline counted past the data: %d warnings, want 1", n)
	}
	// Paused, then resumed by a step: counted again, logged again, once.
	ack := openDeadline(t, c, model.DeadlineAcknowledge)
	worker, step := principal("worker.badinh"), stepOK(t)
	req := func() process.Request { return process.Request{Case: "cases/" + c.Number, Etag: c.Etag()} }
	w.clk.Set(received.Add(time.Hour))
	c = step(w.eng.PauseDeadline(w.ctx, worker, req(), ack.ID, "chờ xác minh địa chỉ"))
	w.clk.Set(hn(2030, 12, 31, 9, 0))
	c = step(w.eng.ResumeDeadline(w.ctx, worker, req(), ack.ID))
	if n := logged.count(warning); n != 2 {
		t.Errorf("after the deadline was resumed: %d warnings, want 2", n)
	}
	// A transfer refused once its TRANSFER_ACCEPT was counted (past the
	// data: Thu 2 and Fri 3 Jan 2031), for the case is full, keeps
	// nothing, and logs nothing.
	c = step(w.eng.Acknowledge(w.ctx, worker, req()))
	full := process.New(process.Deps{Store: w.store, Units: e.reg, Policy: pol, Calendar: e.cal, Vault: e.vault, Clock: w.clk, Log: log, MaxCaseTextBytes: 1})
	_, err := full.ProposeTransfer(w.ctx, worker, req(), unitOther, "trẻ sống ở phường khác")
	wantPrecondition(t, err, "CASE_FULL")
	if n := logged.count(warning); n != 2 {
		t.Errorf("after a refused transfer: %d warnings, want 2", n)
	}
	// Taken, it is logged once.
	step(w.eng.ProposeTransfer(w.ctx, worker, req(), unitOther, "trẻ sống ở phường khác"))
	if n := logged.count(warning); n != 3 {
		t.Errorf("after a transfer: %d warnings, want 3", n)
	}
}

// A clock that counts no days off keeps the bare calendar version across
// the provisional years: hours (an emergency's acknowledgement, D3) and
// D4, a separation's maximum, which ends on its last day whatever it is.
func TestClocksWithoutDaysOffKeepTheBareVersion(t *testing.T) {
	e := loadEnv(t)
	received := hn(2027, 2, 3, 10, 0) // the eve of Tết 2027 (provisional)
	w := newWorldAt(t, e, received)
	defer w.close()
	step := stepOK(t)
	c := w.openCaseAt(t, received, true, model.AbuseNeglect)
	req := func() process.Request { return process.Request{Case: "cases/" + c.Number, Etag: c.Etag()} }
	c = step(w.eng.Acknowledge(w.ctx, principal("worker.badinh"), req()))
	w.clk.Set(received.Add(time.Hour))
	c = step(w.eng.StartSeparation(w.ctx, principal("chair.badinh"), req(), process.Separation{
		Start: w.clk.Now(), Place: "nhà tạm lánh", Carer: "bà ngoại", Ground: "Điều 32(1)", DecisionNumber: "12/QĐ-UBND",
	}))
	seen := map[model.DeadlineKind]bool{}
	for _, d := range c.Deadlines {
		seen[d.Kind] = true
		if d.CalendarVersion != e.cal.Version() {
			t.Errorf("%s (%s) has calendar_version %q, want %q", d.Kind, d.Clock, d.CalendarVersion, e.cal.Version())
		}
	}
	for _, kind := range []model.DeadlineKind{model.DeadlineAcknowledge, model.DeadlineEmergencyMeasures, model.DeadlineSeparationReview} {
		if !seen[kind] {
			t.Errorf("no %s among %+v", kind, c.Deadlines)
		}
	}
}
