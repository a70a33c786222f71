package app_test

import (
	"strings"
	"testing"
	"time"

	pb "github.com/childcase/childcase/api/childcase/v1"
)

// Issue 4: warnings go out at configurable fractions of a deadline's time
// (the policy's "warnings", 50% and 75% by default). A deployment that
// wants one warning at 90% gets exactly that: none at half or three
// quarters of the time, one once 90% has passed, and no more before the
// breach. On Mon 9 March 2026 a case is forwarded at 09:00 with 10 hours
// to acknowledge it; the warning falls at 18:00.
func TestPolicyWarningFractions(t *testing.T) {
	forwarded := hn(2026, 3, 9, 9, 0)
	ts := startServerAt(t, forwarded, `{"acknowledge": {"hours": 10}, "warnings": [0.9]}`)
	ts.addUser(t, "bd.worker", pb.Role_ROLE_COMMUNE_WORKER, pBaDinh)
	name := openCase(t, ts, forwarded, "00004")
	ack := findDeadline(t, getCase(t, ts, "bd.worker", name), "ACKNOWLEDGE", "")
	checkDeadline(t, ack, "OPEN", hn(2026, 3, 9, 19, 0))

	// 18:05: past 50%, 75% and 90% of the time. Only the 90% warning is
	// the policy's, and it is the only one sent.
	ts.setClock(t, hn(2026, 3, 9, 18, 5))
	events := waitEvents(t, ts, "bd.worker", name, "DEADLINE_WARNING", ack.GetId(), 1)
	var warnings []string
	for _, e := range events {
		if e.GetKind() == "DEADLINE_WARNING" && e.GetDeadlineId() == ack.GetId() {
			warnings = append(warnings, e.GetDetail())
		}
	}
	if len(warnings) != 1 || !strings.Contains(warnings[0], "90% of the time used") {
		t.Errorf("warnings at 18:05: %q, want one at 90%%", warnings)
	}

	// Past the due time: the breach, and still the one warning.
	ts.advance(t, time.Hour)
	events = waitEvents(t, ts, "bd.worker", name, "DEADLINE_BREACHED", ack.GetId(), 1)
	if n := countEvents(events, "DEADLINE_WARNING", ack.GetId()); n != 1 {
		t.Errorf("%d warnings by the breach, want 1: %v", n, kinds(events))
	}
}
