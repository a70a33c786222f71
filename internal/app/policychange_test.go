package app_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	pb "github.com/childcase/childcase/api/childcase/v1"
)

// A policy changed by a restart applies to the deadlines started after it;
// an open deadline keeps the limit and the warning points it was started
// with, so that its due time, which its unit was told when it started,
// does not move under it. On Mon 9 March 2026 a case is forwarded at
// 09:00 under a policy of 10 hours to acknowledge, warned at half the
// time; the server restarts with 30 hours, warned at 90%. The first case
// is still due at 19:00 and warned at 14:00; a case forwarded after the
// restart is due at 15:00 the next day.
func TestPolicyChangeKeepsTheDeadlinesOfOpenCases(t *testing.T) {
	forwarded := hn(2026, 3, 9, 9, 0)
	ts := startServerAt(t, forwarded, `{"acknowledge": {"hours": 10}, "warnings": [0.5]}`)
	ts.addUser(t, "bd.worker", pb.Role_ROLE_COMMUNE_WORKER, pBaDinh)
	before := openCase(t, ts, forwarded, "00004")
	ack := findDeadline(t, getCase(t, ts, "bd.worker", before), "ACKNOWLEDGE", "")
	checkDeadline(t, ack, "OPEN", hn(2026, 3, 9, 19, 0))
	cfg, clk := ts.cfg, ts.clock
	ts.stop()

	cfg.PolicyFile = filepath.Join(t.TempDir(), "policy.json")
	if err := os.WriteFile(cfg.PolicyFile, []byte(`{"acknowledge": {"hours": 30}, "warnings": [0.9]}`), 0o600); err != nil {
		t.Fatal(err)
	}
	ts = startWithClock(t, cfg, clk)
	checkDeadline(t, findDeadline(t, getCase(t, ts, "bd.worker", before), "ACKNOWLEDGE", ""), "OPEN", hn(2026, 3, 9, 19, 0))
	after := openCase(t, ts, forwarded, "00004")
	checkDeadline(t, findDeadline(t, getCase(t, ts, "bd.worker", after), "ACKNOWLEDGE", ""), "OPEN", hn(2026, 3, 10, 15, 0))

	ts.setClock(t, hn(2026, 3, 9, 14, 5))
	events := waitEvents(t, ts, "bd.worker", before, "DEADLINE_WARNING", ack.GetId(), 1)
	for _, e := range events {
		if e.GetKind() == "DEADLINE_WARNING" && !strings.Contains(e.GetDetail(), "50% of the time used") {
			t.Errorf("warning %q, want the one at 50%% the deadline started with", e.GetDetail())
		}
	}
}

// checkWarningTimes fails t unless the API shows d's warning times as
// want.
func checkWarningTimes(t *testing.T, what string, d *pb.Deadline, want ...time.Time) {
	t.Helper()
	var got []time.Time
	for _, w := range d.GetWarningTimes() {
		got = append(got, w.AsTime().In(hanoi))
	}
	if len(got) != len(want) {
		t.Fatalf("%s: warning_times %v, want %v", what, got, want)
	}
	for i := range want {
		if !got[i].Equal(want[i]) {
			t.Errorf("%s: warning_times[%d] = %v, want %v", what, i, got[i], want[i])
		}
	}
}

// The API shows a deadline's own warning times, those the scheduler
// fires, and a restart with another policy does not move them. A case
// forwarded at 15:00 on Fri 6 March 2026 under 2 working days to
// acknowledge, warned at 50% and 75%, counts Mon 9 and Tue 10: warned at
// 00:00 and 12:00 on Tue 10, on working time (on the wall clock, 19:30 on
// Sunday and 21:45 on Monday). After a restart with 10 hours warned at
// 90%, it shows the same; a case forwarded then at 15:00 on Mon 9 shows
// its one warning at 00:00 on Tue 10, 90% of its 10 hours.
func TestDeadlineWarningTimesAreTheDeadlinesOwn(t *testing.T) {
	forwarded := hn(2026, 3, 6, 15, 0)
	ts := startServerAt(t, forwarded, `{"acknowledge": {"working_days": 2}, "warnings": [0.5, 0.75]}`)
	ts.addUser(t, "bd.worker", pb.Role_ROLE_COMMUNE_WORKER, pBaDinh)
	before := openCase(t, ts, forwarded, "00004")
	ack := findDeadline(t, getCase(t, ts, "bd.worker", before), "ACKNOWLEDGE", "")
	checkDeadline(t, ack, "OPEN", hn(2026, 3, 11, 0, 0))
	checkWarningTimes(t, "a working-day clock from Friday", ack, hn(2026, 3, 10, 0, 0), hn(2026, 3, 10, 12, 0))
	cfg, clk := ts.cfg, ts.clock
	ts.stop()

	cfg.PolicyFile = filepath.Join(t.TempDir(), "policy.json")
	if err := os.WriteFile(cfg.PolicyFile, []byte(`{"acknowledge": {"hours": 10}, "warnings": [0.9]}`), 0o600); err != nil {
		t.Fatal(err)
	}
	ts = startWithClock(t, cfg, clk)
	checkWarningTimes(t, "after a restart with another policy", findDeadline(t, getCase(t, ts, "bd.worker", before), "ACKNOWLEDGE", ""),
		hn(2026, 3, 10, 0, 0), hn(2026, 3, 10, 12, 0))
	ts.setClock(t, hn(2026, 3, 9, 15, 0))
	after := openCase(t, ts, hn(2026, 3, 9, 15, 0), "00004")
	checkWarningTimes(t, "an hours clock", findDeadline(t, getCase(t, ts, "bd.worker", after), "ACKNOWLEDGE", ""), hn(2026, 3, 10, 0, 0))
}
