package calendar

import (
	"testing"
	"time"

	"github.com/childcase/childcase/internal/domain/vntime"
)

// hanoi returns the instant of a wall-clock time in Vietnam.
func hanoi(y int, m time.Month, d, hh, mm int) time.Time {
	return time.Date(y, m, d, hh, mm, 0, 0, vntime.Location())
}

// checkDeadline reports a deadline that is not the wanted instant or is not
// expressed in Vietnam's zone.
func checkDeadline(t *testing.T, call string, got, want time.Time) {
	t.Helper()
	if !got.Equal(want) {
		t.Errorf("%s = %s, want %s", call, got, want)
	}
	if got.Location() != vntime.Location() {
		t.Errorf("%s is in zone %s, want %s", call, got.Location(), vntime.Location())
	}
}

func TestAddWorkingDays(t *testing.T) {
	c := load(t)
	tests := []struct {
		name  string
		start time.Time
		n     int
		want  time.Time
	}{
		// Tết 2026: Mon 16/2 – Fri 20/2 off, weekends 14–15 and 21–22.
		// Fri 13 (1), Mon 23 (2), Tue 24 (3), Wed 25 (4), Thu 26 (5).
		{"D6 across Tết 2026", hanoi(2026, 2, 12, 10, 0), 5, hanoi(2026, 2, 27, 0, 0)},
		{"last day before Tết", hanoi(2026, 2, 13, 9, 0), 1, hanoi(2026, 2, 24, 0, 0)},
		{"event during Tết", hanoi(2026, 2, 18, 9, 0), 1, hanoi(2026, 2, 24, 0, 0)},

		// The day of the event never counts, whatever its time in Vietnam.
		{"Friday 23:30 counts from Saturday", hanoi(2026, 3, 6, 23, 30), 1, hanoi(2026, 3, 10, 0, 0)},
		{"Friday 00:00 counts from Saturday", hanoi(2026, 3, 6, 0, 0), 1, hanoi(2026, 3, 10, 0, 0)},
		{"Thursday 23:59:59 counts from Friday", time.Date(2026, 3, 5, 23, 59, 59, 999999999, vntime.Location()), 1, hanoi(2026, 3, 7, 0, 0)},
		{"event on a Saturday", hanoi(2026, 3, 7, 10, 0), 1, hanoi(2026, 3, 10, 0, 0)},
		// 17:30 UTC on 12/2 is 00:30 on Fri 13/2 in Hanoi: the count starts
		// on Sat 14, so Fri 13 does not count and the 5th day is Fri 27.
		{"UTC evening already the next day in Hanoi", time.Date(2026, 2, 12, 17, 30, 0, 0, time.UTC), 5, hanoi(2026, 2, 28, 0, 0)},
		{"UTC instant still the same day in Hanoi", time.Date(2026, 2, 12, 16, 59, 59, 0, time.UTC), 5, hanoi(2026, 2, 27, 0, 0)},
		{"instant given in another zone", time.Date(2026, 2, 13, 1, 30, 0, 0, time.FixedZone("JST", 9*3600)), 5, hanoi(2026, 2, 27, 0, 0)},

		// New Year 2026: Thu 1/1 holiday, Fri 2/1 swapped, Sat 10/1 worked.
		{"over New Year 2026", hanoi(2025, 12, 31, 16, 0), 1, hanoi(2026, 1, 6, 0, 0)},
		{"over New Year 2026, 5 days end Fri 9/1", hanoi(2025, 12, 31, 16, 0), 5, hanoi(2026, 1, 10, 0, 0)},
		{"over New Year 2026, 6th day is make-up Sat 10/1", hanoi(2025, 12, 31, 16, 0), 6, hanoi(2026, 1, 11, 0, 0)},
		{"make-up Sat 10/1 counts", hanoi(2026, 1, 9, 14, 0), 1, hanoi(2026, 1, 11, 0, 0)},
		{"event on make-up Sat 10/1 counts from Sunday", hanoi(2026, 1, 10, 10, 0), 1, hanoi(2026, 1, 13, 0, 0)},

		// Quốc khánh 2026: Sat 22/8 worked, Mon 31/8 swapped, 1–2/9 off.
		{"make-up Sat 22/8 counts", hanoi(2026, 8, 21, 15, 0), 1, hanoi(2026, 8, 23, 0, 0)},
		{"swap Mon 31/8 and Quốc khánh off", hanoi(2026, 8, 28, 15, 0), 2, hanoi(2026, 9, 5, 0, 0)},

		// Giỗ Tổ 2026 on Sun 26/4: compensatory Mon 27/4; then 30/4 – 1/5.
		{"compensatory Mon 27/4 off", hanoi(2026, 4, 24, 11, 0), 1, hanoi(2026, 4, 29, 0, 0)},
		{"30/4 and 1/5 off", hanoi(2026, 4, 28, 11, 0), 2, hanoi(2026, 5, 5, 0, 0)},

		// 2024: Mon 29/4 swapped, 30/4 – 1/5 off, Sat 4/5 worked.
		{"2024 swap, 1 day", hanoi(2024, 4, 26, 10, 0), 1, hanoi(2024, 5, 3, 0, 0)},
		{"2024 swap, 3rd day is make-up Sat 4/5", hanoi(2024, 4, 26, 10, 0), 3, hanoi(2024, 5, 5, 0, 0)},
		// 2020: Quốc khánh was one day, Wed 2/9.
		{"2020 Quốc khánh one day", hanoi(2020, 9, 1, 10, 0), 1, hanoi(2020, 9, 4, 0, 0)},

		// The edges of the covered years.
		{"from 2019 into the data", hanoi(2019, 12, 31, 10, 0), 1, hanoi(2020, 1, 3, 0, 0)},
		{"from the data into 2031 (fallback: 1/1 off)", hanoi(2030, 12, 31, 10, 0), 1, hanoi(2031, 1, 3, 0, 0)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			checkDeadline(t, "AddWorkingDays", c.AddWorkingDays(tt.start, tt.n), tt.want)
		})
	}
}

// TestPlanDeadlines chains D6 (plan drafted within 5 working days of the
// needs being established) and D7 (plan approved within 2 working days of
// its submission) across Tết 2026 and a weekend.
func TestPlanDeadlines(t *testing.T) {
	c := load(t)
	needs := hanoi(2026, 2, 12, 10, 0) // Thu
	d6 := c.AddWorkingDays(needs, 5)
	checkDeadline(t, "D6", d6, hanoi(2026, 2, 27, 0, 0)) // end of Thu 26/2

	tests := []struct {
		name      string
		submitted time.Time
		want      time.Time
	}{
		// Fri 27/2 (1), Mon 2/3 (2).
		{"submitted in the last minute of D6", d6.Add(-time.Minute), hanoi(2026, 3, 3, 0, 0)},
		// Counting starts on Sat 28/2: Mon 2/3 (1), Tue 3/3 (2).
		{"submitted at the D6 deadline itself", d6, hanoi(2026, 3, 4, 0, 0)},
		{"submitted on Friday afternoon", hanoi(2026, 2, 27, 16, 0), hanoi(2026, 3, 4, 0, 0)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			checkDeadline(t, "D7", c.AddWorkingDays(tt.submitted, 2), tt.want)
		})
	}
}

func TestAddCalendarDays(t *testing.T) {
	c := load(t)
	tests := []struct {
		name  string
		start time.Time
		n     int
		want  time.Time
	}{
		// Day 1 is Wed 11/2, day 15 is Wed 25/2: Tết changes nothing.
		{"D4 separation across Tết", hanoi(2026, 2, 10, 15, 0), 15, hanoi(2026, 2, 26, 0, 0)},
		// Day 15 is Thu 30/4, a holiday: no extension to the next working day.
		{"D4 ending on a holiday is not extended", hanoi(2026, 4, 15, 9, 0), 15, hanoi(2026, 5, 1, 0, 0)},
		// Day 15 is Sun 22/3: no extension either.
		{"D4 ending on a Sunday is not extended", hanoi(2026, 3, 7, 9, 0), 15, hanoi(2026, 3, 23, 0, 0)},
		{"D4 across the year boundary", hanoi(2025, 12, 20, 10, 0), 15, hanoi(2026, 1, 5, 0, 0)},
		{"late evening counts from the next day", hanoi(2025, 12, 31, 23, 30), 1, hanoi(2026, 1, 2, 0, 0)},
		{"midnight counts from the next day", hanoi(2025, 12, 31, 0, 0), 1, hanoi(2026, 1, 2, 0, 0)},
		// 17:30 UTC on 31/12 is 00:30 on 1/1 in Hanoi.
		{"UTC evening already the next day in Hanoi", time.Date(2025, 12, 31, 17, 30, 0, 0, time.UTC), 1, hanoi(2026, 1, 3, 0, 0)},
		{"D16 crime report, 20 days", hanoi(2026, 8, 20, 8, 0), 20, hanoi(2026, 9, 10, 0, 0)},
		// 2028 is a leap year: 21–29/2 are days 1–9, 1–6/3 days 10–15.
		{"across 29 February", hanoi(2028, 2, 20, 12, 0), 15, hanoi(2028, 3, 7, 0, 0)},
		{"outside the covered years", hanoi(2031, 12, 25, 12, 0), 15, hanoi(2032, 1, 10, 0, 0)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			checkDeadline(t, "AddCalendarDays", c.AddCalendarDays(tt.start, tt.n), tt.want)
		})
	}
}

// A day-counted limit other than a maximum that protects the child ends,
// when its last day is a day off, at the end of the next working day
// (Civil Code Art. 148; domain reference section 5): D16 and the policy's
// limits in days.
func TestAddCalendarDaysToWorkingDay(t *testing.T) {
	c := load(t)
	tests := []struct {
		name  string
		start time.Time
		n     int
		want  time.Time
	}{
		{"last day a working day is kept", hanoi(2026, 8, 20, 8, 0), 20, hanoi(2026, 9, 10, 0, 0)},
		// Day 20 is Sat 19/12/2026: the end of Mon 21/12.
		{"last day a Saturday", hanoi(2026, 11, 29, 8, 0), 20, hanoi(2026, 12, 22, 0, 0)},
		// Day 20 is Fri 1/1/2027, New Year: the end of Mon 4/1/2027.
		{"last day New Year 2027", hanoi(2026, 12, 12, 10, 0), 20, hanoi(2027, 1, 5, 0, 0)},
		// Day 20 is Sat 6/2/2027, mùng 1 Tết; off until Wed 10/2 (nghỉ bù):
		// the end of Thu 11/2/2027.
		{"last day in Tết 2027", hanoi(2027, 1, 17, 9, 0), 20, hanoi(2027, 2, 12, 0, 0)},
		// Day 1 is Sat 10/1/2026, a make-up working Saturday: kept.
		{"last day a make-up Saturday", hanoi(2026, 1, 9, 14, 0), 1, hanoi(2026, 1, 11, 0, 0)},
		// Day 1 is Fri 2/1/2026, a swapped day off, then the weekend.
		{"last day a swapped day off", hanoi(2026, 1, 1, 9, 0), 1, hanoi(2026, 1, 6, 0, 0)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			checkDeadline(t, "AddCalendarDaysToWorkingDay", c.AddCalendarDaysToWorkingDay(tt.start, tt.n), tt.want)
		})
	}
}

func TestAddHours(t *testing.T) {
	c := load(t)
	tests := []struct {
		name  string
		start time.Time
		h     int
		want  time.Time
	}{
		{"D3 12 h across midnight into Tết", hanoi(2026, 2, 15, 18, 0), 12, hanoi(2026, 2, 16, 6, 0)},
		{"D3 from a UTC instant", time.Date(2026, 2, 15, 11, 0, 0, 0, time.UTC), 12, hanoi(2026, 2, 16, 6, 0)},
		{"D13 24 h into a holiday", hanoi(2026, 4, 29, 20, 0), 24, hanoi(2026, 4, 30, 20, 0)},
		{"D13 48 h (remote) across New Year", hanoi(2025, 12, 31, 8, 15), 48, hanoi(2026, 1, 2, 8, 15)},
		{"minutes and seconds are kept", time.Date(2026, 2, 13, 23, 59, 30, 500, vntime.Location()), 12, time.Date(2026, 2, 14, 11, 59, 30, 500, vntime.Location())},
		{"zero hours is the moment itself", hanoi(2026, 2, 17, 3, 0), 0, hanoi(2026, 2, 17, 3, 0)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			checkDeadline(t, "AddHours", c.AddHours(tt.start, tt.h), tt.want)
		})
	}
}

func TestInvalidLimitsPanic(t *testing.T) {
	c := load(t)
	start := hanoi(2026, 2, 12, 10, 0)
	tests := []struct {
		name string
		call func()
	}{
		{"AddHours -1", func() { c.AddHours(start, -1) }},
		{"AddCalendarDays 0", func() { c.AddCalendarDays(start, 0) }},
		{"AddCalendarDays -15", func() { c.AddCalendarDays(start, -15) }},
		{"AddWorkingDays 0", func() { c.AddWorkingDays(start, 0) }},
		{"AddWorkingDays -5", func() { c.AddWorkingDays(start, -5) }},
		{"WorkingDaysPoint of 0 days", func() { c.WorkingDaysPoint(start, 0, 0) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			defer func() {
				if recover() == nil {
					t.Errorf("%s did not panic", tt.name)
				}
			}()
			tt.call()
		})
	}
}

// TestAddWorkingDaysProperties checks, for an event at the first and at the
// last instant of every day of the covered years and for limits of 1 to 10
// working days, that the deadline is 00:00 in Vietnam just after a working
// day and that exactly n working days lie between the event's day and it.
func TestAddWorkingDaysProperties(t *testing.T) {
	c := load(t)
	for day := date("2020-01-01"); day.Year <= 2030; day = day.AddDays(1) {
		first := day.Start()
		last := day.AddDays(1).Start().Add(-time.Nanosecond)
		var prev time.Time
		for n := 1; n <= 10; n++ {
			due := c.AddWorkingDays(first, n)
			if other := c.AddWorkingDays(last, n); !other.Equal(due) {
				t.Fatalf("%s, %d days: deadline %s from 00:00 but %s from 23:59:59.999999999", day, n, due, other)
			}
			if other := c.AddWorkingDays(first.UTC(), n); !other.Equal(due) {
				t.Fatalf("%s, %d days: deadline %s from a Hanoi instant but %s from the same UTC instant", day, n, due, other)
			}
			dueDay := vntime.DateOf(due)
			if !due.Equal(dueDay.Start()) || due.Location() != vntime.Location() {
				t.Fatalf("%s, %d days: deadline %s is not 00:00 in Vietnam", day, n, due)
			}
			lastDay := dueDay.AddDays(-1)
			if !c.IsWorkingDay(lastDay) {
				t.Fatalf("%s, %d days: deadline %s ends %s, a day off", day, n, due, lastDay)
			}
			counted := 0
			for d := day.AddDays(1); d.Before(dueDay); d = d.AddDays(1) {
				if c.IsWorkingDay(d) {
					counted++
				}
			}
			if counted != n {
				t.Fatalf("%s, %d days: deadline %s, but %d working days lie in between", day, n, due, counted)
			}
			if got := c.WorkingDaysBetween(day, lastDay); got != n {
				t.Fatalf("%s, %d days: WorkingDaysBetween(%s, %s) = %d", day, n, day, lastDay, got)
			}
			if n > 1 && !due.After(prev) {
				t.Fatalf("%s: deadline for %d days %s is not after that for %d days %s", day, n, due, n-1, prev)
			}
			prev = due
		}
	}
}

// A paused working-day limit, resumed, is due after the working days it
// had left when paused (those after the day of the pause, to its last
// day), counted from the day after its resumption: it ends at 24:00 of a
// working day again, whatever days off the pause spanned, and a pause
// within one day changes nothing.
func TestResumeWorkingDays(t *testing.T) {
	c := load(t)
	// D6 from a meeting on Thu 12/2/2026: 5 working days across Tết
	// (16–22/2 off) end with Thu 26/2.
	d6 := c.AddWorkingDays(hanoi(2026, 2, 12, 10, 0), 5)
	checkDeadline(t, "D6", d6, hanoi(2026, 2, 27, 0, 0))
	// D7 from Tue 25/8/2026: Wed 26 and Thu 27/8; then Sat 22/8 was
	// worked, Mon 31/8 swapped off, 1–2/9 Quốc khánh.
	d7 := c.AddWorkingDays(hanoi(2026, 8, 25, 10, 0), 2)
	checkDeadline(t, "D7", d7, hanoi(2026, 8, 28, 0, 0))
	tests := []struct {
		name            string
		due             time.Time
		paused, resumed time.Time
		want            time.Time
	}{
		// 5 left (13/2, 23–26/2); from Tue 24/2: 24, 25, 26, 27/2, 2/3.
		{"paused on the meeting's day, resumed after Tết", d6, hanoi(2026, 2, 12, 11, 0), hanoi(2026, 2, 23, 9, 0), hanoi(2026, 3, 3, 0, 0)},
		// 4 left (23–26/2); Tết gives them all back.
		{"paused on the last day before Tết, resumed in Tết", d6, hanoi(2026, 2, 13, 15, 0), hanoi(2026, 2, 18, 10, 0), hanoi(2026, 2, 27, 0, 0)},
		{"paused and resumed the same day", d6, hanoi(2026, 2, 23, 8, 0), hanoi(2026, 2, 23, 17, 0), d6},
		// None left: the rest of a day is given back, the next working
		// day's end, not the Sunday the wall clock would give.
		{"paused on the last day, resumed on a Saturday", d6, hanoi(2026, 2, 26, 10, 0), hanoi(2026, 2, 28, 10, 0), hanoi(2026, 3, 3, 0, 0)},
		{"paused on the last day, resumed on a working day", d6, hanoi(2026, 2, 26, 10, 0), hanoi(2026, 3, 2, 10, 0), hanoi(2026, 3, 3, 0, 0)},
		// 1 left (Thu 27/8); resumed Sat 29/8: 31/8, 1/9 and 2/9 are off,
		// so Thu 3/9 (the wall clock would end it on Sun 30/8 at 14:00).
		{"resumed before Quốc khánh", d7, hanoi(2026, 8, 26, 20, 0), hanoi(2026, 8, 29, 10, 0), hanoi(2026, 9, 4, 0, 0)},
		{"resumed on the swapped-off Monday", d7, hanoi(2026, 8, 26, 20, 0), hanoi(2026, 8, 31, 10, 0), hanoi(2026, 9, 4, 0, 0)},
		// 1 left, resumed on Fri 21/8: the make-up Saturday 22/8 counts.
		{"a make-up Saturday counts", hanoi(2026, 8, 22, 0, 0), hanoi(2026, 8, 20, 9, 0), hanoi(2026, 8, 21, 9, 0), hanoi(2026, 8, 23, 0, 0)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			checkDeadline(t, "ResumeWorkingDays", c.ResumeWorkingDays(tt.due, tt.paused, tt.resumed), tt.want)
		})
	}
}

// A calendar-day limit resumed after a pause keeps the days it had left
// after the day of the pause and counts them from the day after the
// resumption, ending at 24:00 as a day count does (Civil Code Arts.
// 147-148); its last day, if a day off, runs on to the next working day,
// unless the limit ends on its last day whatever it is (D4, D8). D16
// from Tue 3/3/2026 ends with Mon 23/3; paused on Fri 6/3 it has 17 days
// left (7-23/3).
func TestResumeCalendarDays(t *testing.T) {
	c := load(t)
	d16 := c.AddCalendarDaysToWorkingDay(hanoi(2026, 3, 3, 10, 0), 20)
	checkDeadline(t, "D16", d16, hanoi(2026, 3, 24, 0, 0))
	paused := hanoi(2026, 3, 6, 9, 0)
	tests := []struct {
		name          string
		due           time.Time
		paused        time.Time
		resumed       time.Time
		endsOnLastDay bool
		want          time.Time
	}{
		// 12-28/3: Sat 28 is a day off, so Mon 30 (the wall clock: Sun 29, 06:00).
		{"last day a Saturday", d16, paused, hanoi(2026, 3, 11, 15, 0), false, hanoi(2026, 3, 31, 0, 0)},
		{"last day a Saturday, a maximum", d16, paused, hanoi(2026, 3, 11, 15, 0), true, hanoi(2026, 3, 29, 0, 0)},
		{"last day a Friday", d16, paused, hanoi(2026, 3, 10, 15, 0), false, hanoi(2026, 3, 28, 0, 0)},
		{"paused and resumed the same day", d16, paused, hanoi(2026, 3, 6, 15, 0), false, d16},
		// None left: the day of the resumption; a Saturday runs on to Mon 30/3.
		{"paused on the last day, resumed on a Saturday", d16, hanoi(2026, 3, 23, 10, 0), hanoi(2026, 3, 28, 10, 0), false, hanoi(2026, 3, 31, 0, 0)},
		{"paused on the last day, resumed on a working day", d16, hanoi(2026, 3, 23, 10, 0), hanoi(2026, 3, 25, 10, 0), false, hanoi(2026, 3, 26, 0, 0)},
		// A limit ending with Sat 29/8/2026, paused on Fri 28/8: 1 day
		// left. Resumed Sat 29/8, the day counted is Sun 30/8, and 31/8
		// (swapped off), 1/9 and 2/9 are off too, so it ends with Thu 3/9.
		{"resumed before Quốc khánh", hanoi(2026, 8, 30, 0, 0), hanoi(2026, 8, 28, 9, 0), hanoi(2026, 8, 29, 10, 0), false, hanoi(2026, 9, 4, 0, 0)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			checkDeadline(t, "ResumeCalendarDays", c.ResumeCalendarDays(tt.due, tt.paused, tt.resumed, tt.endsOnLastDay), tt.want)
		})
	}
}

// Tết 2027 (provisional): Thu 4 - Mon 8 Feb are the five days, mùng 1 and
// mùng 2 fall on Sat 6 and Sun 7, so Tue 9 and Wed 10 are compensatory
// days off (Labour Code 2019 Art. 111(3)); Thu 11 Feb is the first
// working day.
func TestWorkingDaysAcrossTet2027(t *testing.T) {
	c := load(t)
	for d := 4; d <= 10; d++ {
		if day := (vntime.Date{Year: 2027, Month: time.February, Day: d}); c.IsWorkingDay(day) {
			t.Errorf("%s is a working day, want Tết or its compensatory day off", day)
		}
	}
	tests := []struct {
		name  string
		start time.Time
		n     int
		want  time.Time
	}{
		{"D6 from the eve of Tết", hanoi(2027, 2, 3, 10, 0), 5, hanoi(2027, 2, 18, 0, 0)},
		{"received at 23:59 on the eve of Tết", hanoi(2027, 2, 3, 23, 59), 1, hanoi(2027, 2, 12, 0, 0)},
		{"received at 00:00 of the first day of Tết", hanoi(2027, 2, 4, 0, 0), 1, hanoi(2027, 2, 12, 0, 0)},
		{"received on a compensatory day off", hanoi(2027, 2, 10, 23, 59), 2, hanoi(2027, 2, 13, 0, 0)},
		{"D7 submitted the Friday before Tết's week", hanoi(2027, 1, 29, 16, 0), 2, hanoi(2027, 2, 3, 0, 0)},
		{"D7 submitted on the last working day before Tết", hanoi(2027, 2, 3, 16, 0), 2, hanoi(2027, 2, 13, 0, 0)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			checkDeadline(t, "AddWorkingDays", c.AddWorkingDays(tt.start, tt.n), tt.want)
		})
	}
	// D6 paused on the eve of Tết with four working days left, resumed on
	// the first working day after it.
	checkDeadline(t, "ResumeWorkingDays", c.ResumeWorkingDays(hanoi(2027, 2, 17, 0, 0), hanoi(2027, 2, 3, 15, 0), hanoi(2027, 2, 11, 9, 0)), hanoi(2027, 2, 18, 0, 0))
}

// WorkingDaysPoint places a point of a working-day count on its working
// days, 00:00-24:00 each: D7 due at 24:00 of Tue 8 Dec 2026 counts Mon 7
// and Tue 8; D6 due at 24:00 of Wed 17 Feb 2027 counts Thu 11, Fri 12,
// Mon 15, Tue 16 and Wed 17 across Tết. A whole number of days is 00:00 of
// the next day counted (Monday, not the Saturday after a Friday), and a
// point outside the count is taken at its edge.
func TestWorkingDaysPoint(t *testing.T) {
	c := load(t)
	d7, d6 := hanoi(2026, 12, 9, 0, 0), hanoi(2027, 2, 18, 0, 0)
	tests := []struct {
		name string
		due  time.Time
		m    int
		x    float64
		want time.Time
	}{
		{"D7 at 0", d7, 2, 0, hanoi(2026, 12, 7, 0, 0)},
		{"D7 at 50%", d7, 2, 1, hanoi(2026, 12, 8, 0, 0)},
		{"D7 at 75%", d7, 2, 1.5, hanoi(2026, 12, 8, 12, 0)},
		{"D6 at 50% across Tết", d6, 5, 2.5, hanoi(2027, 2, 15, 12, 0)},
		{"D6 at 75% across Tết", d6, 5, 3.75, hanoi(2027, 2, 16, 18, 0)},
		{"D6 after its first two days: Monday, not Saturday", d6, 5, 2, hanoi(2027, 2, 15, 0, 0)},
		{"the last 4 of D6", d6, 4, 1.5, hanoi(2027, 2, 15, 12, 0)},
		{"before the count: its first day's start", d6, 5, -0.5, hanoi(2027, 2, 11, 0, 0)},
		{"at its end: within its last day", d6, 5, 5, hanoi(2027, 2, 18, 0, 0).Add(-86400 * time.Nanosecond)},
	}
	for _, tt := range tests {
		got := c.WorkingDaysPoint(tt.due, tt.m, tt.x)
		if !got.Equal(tt.want) {
			t.Errorf("%s: WorkingDaysPoint(%v, %d, %v) = %v, want %v", tt.name, tt.due, tt.m, tt.x, got, tt.want)
		}
		if !c.IsWorkingDay(vntime.DateOf(got)) {
			t.Errorf("%s: %v is a day off", tt.name, got)
		}
	}
}
