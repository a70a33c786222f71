package process_test

import (
	"testing"
	"time"

	"github.com/childcase/childcase/internal/domain/model"
)

// Case numbers count per year of Hanoi's calendar: the year rolls at
// 00:00 on 1 January in Hanoi, 17:00 UTC on 31 December, to the
// nanosecond: a case opened the instant before is the old year's next
// number, one opened at that instant the new year's first.
func TestCaseNumberYearRollsAtHanoiMidnightToTheInstant(t *testing.T) {
	newYear := hn(2027, 1, 1, 0, 0)
	if newYear.UTC() != time.Date(2026, 12, 31, 17, 0, 0, 0, time.UTC) {
		t.Fatalf("00:00 on 1 January 2027 in Hanoi is %v, want 17:00Z the day before", newYear.UTC())
	}
	w := newWorldAt(t, loadEnv(t), newYear.Add(-time.Hour))
	defer w.close()
	for _, tc := range []struct {
		at   time.Time
		want string
	}{
		{newYear.Add(-time.Hour), "HN-2026-00001"},
		{newYear.Add(-time.Nanosecond), "HN-2026-00002"},
		{newYear, "HN-2027-00001"},
		{newYear.Add(time.Nanosecond), "HN-2027-00002"},
	} {
		w.clk.Set(tc.at)
		if c := w.openCaseAt(t, tc.at.Add(-time.Minute), false, model.AbuseNeglect); c.Number != tc.want {
			t.Errorf("the case opened at %v (Hanoi) is %s, want %s", tc.at.In(hn(2027, 1, 1, 0, 0).Location()), c.Number, tc.want)
		}
	}
}
