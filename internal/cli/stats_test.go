package cli

import (
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// stats rebuild recomputes the counters of a stopped database from its
// records: the cells it writes are those check recounts (check stays OK),
// and the rebuild is audited. (That it repairs a damaged counter is
// boltstore's TestStatsCountersFollowWrites: only storage may write the
// file's bytes.)
func TestStatsRebuild(t *testing.T) {
	mgClearEnv(t)
	db := filepath.Join(t.TempDir(), "scale.db")
	mgMustRun(t, "load", "--db", db, "--cases", "30", "--seed", "3")
	before := mgMustRun(t, "check", "--db", db)
	out := mgMustRun(t, "stats", "rebuild", "--db", db)
	if !regexp.MustCompile(`^Rebuilt the statistics counters of .+: [1-9][0-9]* cells\.\n$`).MatchString(out) {
		t.Errorf("stats rebuild said %q", out)
	}
	after := mgMustRun(t, "check", "--db", db)
	if !strings.HasPrefix(after, "OK:") {
		t.Fatalf("check after the rebuild:\n%s", after)
	}
	// The rebuild's audit event is the one thing added.
	audits := regexp.MustCompile(`(\d+) audit events`)
	b, a := audits.FindStringSubmatch(before), audits.FindStringSubmatch(after)
	if b == nil || a == nil || b[1] == a[1] {
		t.Errorf("audit events before %v, after %v: want one more", b, a)
	}
	for _, args := range [][]string{{"stats"}, {"stats", "recount"}} {
		if code, _, stderr := mgRun(t, args...); code != 2 || !strings.Contains(stderr, "stats rebuild") {
			t.Errorf("%s: exit %d, want 2 and the usage\n%s", strings.Join(args, " "), code, stderr)
		}
	}
}
