package tally

import (
	"testing"
	"time"

	"github.com/childcase/childcase/internal/domain/vntime"
)

// Lateness is exact to the minute below 64 minutes and within 1/32 of the
// value above (the resolution the API documents), and a bucket's floor
// is its least value.
func TestLateBuckets(t *testing.T) {
	for _, c := range []struct{ minutes, floor int64 }{
		{-5, 0}, {0, 0}, {1, 1}, {63, 63}, {64, 64}, {65, 64}, {66, 66}, {127, 126},
		{128, 128}, {131, 128}, {132, 132}, {1024, 1024}, {1055, 1024}, {1056, 1056}, {2047, 2016},
	} {
		if got := LateFloor(c.minutes); got != c.floor {
			t.Errorf("LateFloor(%d) = %d, want %d", c.minutes, got, c.floor)
		}
	}
	prev := int64(-1)
	for m := int64(0); m < 1<<20; m++ {
		f := LateFloor(m)
		if f > m || (m >= 64 && float64(m-f) >= float64(m)/32) {
			t.Fatalf("LateFloor(%d) = %d: beyond the resolution", m, f)
		}
		if f < prev {
			t.Fatalf("LateFloor(%d) = %d after %d: not monotone", m, f, prev)
		}
		prev = f
	}
}

// Percentile is the nearest rank of the bucketed values.
func TestPercentile(t *testing.T) {
	late := map[int]int64{}
	for _, m := range []int64{10, 20, 30, 40, 1500} {
		late[LateBucket(m)]++
	}
	if got := Percentile(late, 50); got != 30 {
		t.Errorf("median = %d, want 30", got)
	}
	if got := Percentile(late, 90); got != LateFloor(1500) {
		t.Errorf("p90 = %d, want %d", got, LateFloor(1500))
	}
	if got := Percentile(nil, 50); got != 0 {
		t.Errorf("median of none = %d, want 0", got)
	}
}

// A daily cell's day is the date as vntime writes it, and its monthly
// cell's month the first seven characters, every day from 2020 to 2030.
func TestDayAndMonthNames(t *testing.T) {
	for d := (vntime.Date{Year: 2020, Month: time.January, Day: 1}); d.Year < 2031; d = d.AddDays(1) {
		if got := dayName(d); got != d.String() {
			t.Fatalf("dayName(%v) = %q", d, got)
		}
		a := Cells{}.adder(Facts{})
		a.add(d.Start().Add(13*time.Hour), func(*Tally) {})
		if a.month != monthName(d) {
			t.Fatalf("the month of %v = %q, want %q", d, a.month, monthName(d))
		}
	}
}
