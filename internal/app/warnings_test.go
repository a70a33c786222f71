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

// A warning says the fraction of the policy that fired it. The fraction
// was read as int(f × 100), which truncates the float product: 0.29 ×
// 100 is 28.999999999999996, so a deployment warned at 29% and 58% of the
// time was told "28%" and "57%", through WatchEvents and on the timeline
// alike. On Mon 9 March 2026 a case is forwarded at 09:00 with 100 hours
// to acknowledge it: 29% falls at 14:00 on Tue 10, 58% at 19:00 on Wed
// 11, and each is said as the policy gives it, once.
func TestWarningSaysThePolicysFraction(t *testing.T) {
	forwarded := hn(2026, 3, 9, 9, 0)
	ts := startServerAt(t, forwarded, `{"acknowledge": {"hours": 100}, "warnings": [0.29, 0.58]}`)
	ts.addUser(t, "bd.worker", pb.Role_ROLE_COMMUNE_WORKER, pBaDinh)
	w := watch(t, ts, "bd.worker", 0)
	name := openCase(t, ts, forwarded, "00004")
	ack := findDeadline(t, getCase(t, ts, "bd.worker", name), "ACKNOWLEDGE", "")
	checkDeadline(t, ack, "OPEN", hn(2026, 3, 13, 13, 0))

	for i, step := range []struct {
		at   time.Time
		want string
	}{
		{hn(2026, 3, 10, 14, 0), "ACKNOWLEDGE: 29% of the time used, due 2026-03-13T13:00:00+07:00"},
		{hn(2026, 3, 11, 19, 0), "ACKNOWLEDGE: 58% of the time used, due 2026-03-13T13:00:00+07:00"},
	} {
		ts.setClock(t, step.at)
		if got := w.waitForN(t, "DEADLINE_WARNING", name, i+1).GetDetail(); got != step.want {
			t.Errorf("WatchEvents: warning %d says %q, want %q", i+1, got, step.want)
		}
		events := waitEvents(t, ts, "bd.worker", name, "DEADLINE_WARNING", ack.GetId(), i+1)
		var said []string
		for _, e := range events {
			if e.GetKind() == "DEADLINE_WARNING" && e.GetDeadlineId() == ack.GetId() {
				said = append(said, e.GetDetail())
			}
		}
		if len(said) != i+1 || said[i] != step.want {
			t.Errorf("timeline at %s: warnings %q, want %d, the last saying %q", step.at, said, i+1, step.want)
		}
	}
}
