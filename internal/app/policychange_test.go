package app_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

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
