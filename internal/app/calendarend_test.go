package app_test

import (
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/childcase/childcase/internal/app"
	"github.com/childcase/childcase/internal/domain/clock"
)

// The holiday data end with 2030; a deadline counted past them is counted
// without the year's movable holidays and swapped days (README,
// Deadlines). Whoever runs the server is told at start, by the clock's
// now, when the data end within a year, naming the last year they cover,
// so that the next year's notices are added before deadlines reach it;
// on a clock far from the end nothing is said.
func TestStartWarnsWhenTheHolidayDataEndWithinAYear(t *testing.T) {
	const warning = "the holiday data end"
	tests := []struct {
		name string
		now  time.Time
		warn bool
	}{
		{"years before the end", testNow, false},
		{"a day more than a year before the end", time.Date(2029, 12, 30, 16, 0, 0, 0, time.UTC), false}, // 23:00 on 30 Dec 2029 in Hanoi
		{"within the last year", time.Date(2030, 3, 1, 3, 0, 0, 0, time.UTC), true},
		{"past the data", time.Date(2031, 2, 1, 3, 0, 0, 0, time.UTC), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			found := startWarning(t, tt.now, warning)
			if (found != nil) != tt.warn {
				t.Fatalf("at %s, the start-up warning %v; want one: %v", tt.now, found, tt.warn)
			}
			if found != nil && (found["level"] != "WARN" || found["last_year"] != float64(2030)) {
				t.Errorf("the warning %v, want WARN naming last_year 2030", found)
			}
		})
	}
}

// The holiday data for 2027 to 2030 are estimates (README, Deadlines).
// Whoever runs the server is told at start when the first of those years
// begins within a year, naming it, so that its notice replaces them
// before working-day counts reach it; a count made on 7 December 2026
// already may.
func TestStartWarnsWhenProvisionalHolidayDataComeWithinAYear(t *testing.T) {
	const warning = "the holiday data for 2027 are provisional"
	tests := []struct {
		name string
		now  time.Time
		warn bool
	}{
		{"more than a year before 2027", time.Date(2025, 12, 31, 16, 0, 0, 0, time.UTC), false}, // 23:00 on 31 Dec 2025 in Hanoi
		{"a year before 2027", time.Date(2025, 12, 31, 17, 0, 0, 0, time.UTC), true},            // 00:00 on 1 Jan 2026 in Hanoi
		{"weeks before 2027", time.Date(2026, 12, 7, 2, 0, 0, 0, time.UTC), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			found := startWarning(t, tt.now, warning)
			if (found != nil) != tt.warn {
				t.Fatalf("at %s, the start-up warning %v; want one: %v", tt.now, found, tt.warn)
			}
			if found != nil && (found["level"] != "WARN" || found["provisional_year"] != float64(2027)) {
				t.Errorf("the warning %v, want WARN naming provisional_year 2027", found)
			}
		})
	}
}

// startWarning starts a server at now and returns its start's log line
// whose message begins with warning, or nil when there is none.
func startWarning(t *testing.T, now time.Time, warning string) map[string]any {
	t.Helper()
	var logs logLines
	launch(t, testConfig(t, ""), app.Options{Clock: clock.NewFake(now), Logger: slog.New(slog.NewJSONHandler(&logs, nil))})
	var found map[string]any
	for _, l := range logs.take(t) {
		if msg, _ := l["msg"].(string); strings.HasPrefix(msg, warning) {
			found = l
		}
	}
	return found
}
