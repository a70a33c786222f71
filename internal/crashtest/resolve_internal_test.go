package crashtest

import (
	"strings"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// TestResolveAcceptsAReportRefusedForItsClosedCase pins the crash test's
// judgement of a report in doubt at a kill once its retries are done. A
// report joining a case that was closed before the retry (by a closure
// acknowledged, or applied while in doubt, before the kill) is refused
// FAILED_PRECONDITION when it was not stored: the service keeps its
// promise, and the crash test failed on it as "not recorded by its retry"
// (seen under load: c6-w5-3, seed 1796637067426915263). A report still
// in doubt, or refused without joining a case, is a problem, and its
// message says what the retries got.
func TestResolveAcceptsAReportRefusedForItsClosedCase(t *testing.T) {
	closed := status.Error(codes.FailedPrecondition, "case HN-2026-00003 is closed; reopen it before adding reports")
	down := status.Error(codes.Unavailable, "connection refused")
	for _, tc := range []struct {
		name  string
		e     reportEntry
		sends int
		last  error
		want  []string // in the problem; none: no problem
	}{
		{"acknowledged by its retry", reportEntry{rid: "c1-w1-1", state: acked}, 1, nil, nil},
		{"joining a case closed since, refused", reportEntry{rid: "c6-w5-3", joins: "cases/HN-2026-00003", state: refused}, 1, closed, nil},
		{"still in doubt after every retry", reportEntry{rid: "c14-w4-3", state: inDoubt}, 21, down,
			[]string{"c14-w4-3", "still in doubt after 21 sends", "Unavailable"}},
		{"joining, still in doubt", reportEntry{rid: "c2-w3-4", joins: "cases/HN-2026-00007", state: inDoubt}, 21, down,
			[]string{"joining cases/HN-2026-00007", "still in doubt"}},
		{"refused without joining a case", reportEntry{rid: "c3-w0-2", state: refused}, 1, closed,
			[]string{"c3-w0-2", "refused after 1 sends", "FailedPrecondition"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := unresolvedReport(&tc.e, tc.sends, tc.last)
			if len(tc.want) == 0 {
				if got != "" {
					t.Errorf("a problem where there is none: %s", got)
				}
				return
			}
			if got == "" {
				t.Fatalf("no problem; want one saying %q", tc.want)
			}
			for _, w := range tc.want {
				if !strings.Contains(got, w) {
					t.Errorf("the problem %q does not say %q", got, w)
				}
			}
		})
	}
}
