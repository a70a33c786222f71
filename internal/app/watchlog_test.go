package app_test

import (
	"log/slog"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/childcase/childcase/internal/app"
	"github.com/childcase/childcase/internal/domain/clock"
)

// TestWhatToWatchNamesTheLogLineOfAFullDatabase: the README's "What to
// watch" tells an operator which journal line says that writes are being
// refused for want of room. An alert built on those words must fire: the
// README's fragments are looked for in the JSON log of a server whose
// --max-db-size is reached. It named "msg":"database full: a write was
// refused", but that record is folded into the refused call's one
// "finished call" line (see grpcapi.NewRequestLineHandler), where it is
// the "event"; no line had such a msg, and an alert on it never fired.
func TestWhatToWatchNamesTheLogLineOfAFullDatabase(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	text := string(readme)
	start := strings.Index(text, "\n### What to watch\n")
	end := strings.Index(text, "\n## Running on etcd\n")
	if start < 0 || end < start {
		t.Fatal("README.md: no section What to watch before Running on etcd")
	}
	// The backticked JSON fragments of the journal's bullet that speak of
	// a full database, such as `"event":"database full: ..."`.
	fragments := regexp.MustCompile("`(\"[a-z_.]+\":\"[^\"`]*database full[^\"`]*\")`").FindAllStringSubmatch(text[start:end], -1)
	if len(fragments) == 0 {
		t.Fatal("the README's What to watch names no log field of a full database")
	}

	var logs logLines
	cfg := testConfig(t, "")
	cfg.MaxDBSize = 2 << 20
	ts := launch(t, cfg, app.Options{Clock: clock.NewFake(testNow), NoSync: true, Logger: slog.New(slog.NewJSONHandler(&logs, nil))})
	defer ts.stop()
	fillUntilFull(t, ts)

	for _, f := range fragments {
		found := false
		for line := range strings.Lines(logs.text()) {
			if strings.Contains(line, f[1]) && strings.Contains(line, `"level":"ERROR"`) {
				found = true
				break
			}
		}
		if !found {
			t.Errorf("the README says to watch the journal for %s at ERROR; a refused write on a full database logged no such line:\n%s",
				f[1], lastLines(logs.text(), 5))
		}
	}
}

// lastLines returns the last n lines of s.
func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}
