package calendar

import (
	"fmt"
	"time"

	"github.com/childcase/childcase/internal/domain/vntime"
)

// AddHours returns the deadline h hours after start, by the wall clock:
// nights, weekends and holidays all count, because an hour limit starts at
// the moment itself (Civil Code Art. 147(1)). Use it for limits such as the
// 12 hours to apply emergency measures (D3) or the 24 hours for the police
// to forward a crime report (D13). Vietnam has no daylight saving time, so h
// hours of elapsed time and h hours of the clock are the same.
//
// AddHours panics if h is negative: a negative limit is a programming or
// configuration error.
func (c *Calendar) AddHours(start time.Time, h int) time.Time {
	if h < 0 {
		panic(fmt.Sprintf("calendar: AddHours: negative limit %d", h))
	}
	return start.Add(time.Duration(h) * time.Hour).In(vntime.Location())
}

// AddCalendarDays returns the deadline of a limit of n calendar days from
// the event at start (Civil Code Arts. 147(2) and 148): the count starts on
// the day after the event, in Vietnam, and the limit ends at 24:00 of the
// nth day, returned as 00:00 of the following day in [vntime.Location].
// Events at 00:05 and at 23:30 of the same day have the same deadline.
//
// Civil Code Art. 148 would move a limit that ends on a day off to the
// end of the next working day; [Calendar.AddCalendarDaysToWorkingDay] does
// that. AddCalendarDays does not, for a maximum that protects a child (a
// separation lasts at most 15 days, D4): extending it over a holiday would
// prolong the very situation the limit bounds, as a detention's limit is
// not extended either. A deadline from AddCalendarDays may therefore end on
// a day off.
//
// AddCalendarDays panics if n is less than 1.
func (c *Calendar) AddCalendarDays(start time.Time, n int) time.Time {
	if n < 1 {
		panic(fmt.Sprintf("calendar: AddCalendarDays: limit %d is not positive", n))
	}
	return vntime.DateOf(start).AddDays(n + 1).Start()
}

// AddCalendarDaysToWorkingDay returns the deadline of a limit of n
// calendar days from the event at start as [Calendar.AddCalendarDays]
// counts it, but when its last day is a day off the limit ends at 24:00 of
// the next working day instead (Civil Code Art. 148): the investigators'
// 20 days to decide on a crime report (D16) whose 20th day is New Year's
// Day end with the Monday after it. Use it for every calendar-day limit
// that is not a maximum protecting the child.
//
// AddCalendarDaysToWorkingDay panics if n is less than 1.
func (c *Calendar) AddCalendarDaysToWorkingDay(start time.Time, n int) time.Time {
	return c.EndOfLastDay(vntime.DateOf(c.AddCalendarDays(start, n)).AddDays(-1))
}

// EndOfLastDay returns the end of a limit counted in days or months whose
// last day is last: 24:00 of last, or, if last is a day off, of the next
// working day (Civil Code Art. 148), returned as 00:00 of the following
// day in [vntime.Location].
func (c *Calendar) EndOfLastDay(last vntime.Date) time.Time {
	for !c.IsWorkingDay(last) {
		last = last.AddDays(1)
	}
	return last.AddDays(1).Start()
}

// AddWorkingDays returns the deadline of a limit of n working days from the
// event at start: the count starts on the day after the event, in Vietnam;
// only working days (see [Calendar.IsWorkingDay]) count; and the limit ends
// at 24:00 of the nth working day, returned as 00:00 of the following day in
// [vntime.Location]. Because the last counted day is a working day, the
// deadline never falls at the end of a day off, which is what Civil Code
// Art. 148 requires of a limit whose last day would be a day off. An event
// on a day off counts from the next working day all the same.
//
// The result may be 00:00 of a day off, for example of the Saturday after a
// Friday that ends the limit: that instant is the end of the Friday.
//
// AddWorkingDays panics if n is less than 1.
func (c *Calendar) AddWorkingDays(start time.Time, n int) time.Time {
	if n < 1 {
		panic(fmt.Sprintf("calendar: AddWorkingDays: limit %d is not positive", n))
	}
	d := vntime.DateOf(start)
	for counted := 0; counted < n; {
		d = d.AddDays(1)
		if c.IsWorkingDay(d) {
			counted++
		}
	}
	return d.AddDays(1).Start()
}

// ResumeWorkingDays returns the new deadline of a working-day limit that
// was due at due, paused at paused and is resumed at resumed. The limit
// keeps the working days it had left when it was paused, those after the
// day of the pause up to its last day, and counts them from the day after
// the resumption, as [Calendar.AddWorkingDays] counts from an event: so it
// ends again at 24:00 of a working day (Civil Code Arts. 147-148), never
// on the day off a pause by the wall clock would reach. What was left of
// the day of the pause counts as used, and what is left of the day of the
// resumption is given back, so a pause within one day changes nothing.
// With no day left (paused on its last day) it ends at 24:00 of the day of
// the resumption, or of the next working day if that is a day off.
func (c *Calendar) ResumeWorkingDays(due, paused, resumed time.Time) time.Time {
	last := vntime.DateOf(due)
	if due.Equal(last.Start()) {
		last = last.AddDays(-1) // due at 00:00: the limit's last day is the day before
	}
	if left := c.WorkingDaysBetween(vntime.DateOf(paused), last); left > 0 {
		return c.AddWorkingDays(resumed, left)
	}
	return c.EndOfLastDay(vntime.DateOf(resumed))
}

// ResumeCalendarDays returns the new deadline of a limit of calendar
// days that was due at due, paused at paused and is resumed at resumed,
// as [Calendar.ResumeWorkingDays] does for working days: the limit keeps
// the days it had left when it was paused, those after the day of the
// pause up to its last day, and counts them from the day after the
// resumption (the investigators' time to decide "continues from the
// decision to resume", Criminal Procedure Code Art. 147(4)), so it ends
// again at 24:00 of a day, as a day count does (Civil Code Arts.
// 147-148), not at whatever hour a shift by the length of the pause
// reaches. What was left of the day of the pause counts as used, and
// what is left of the day of the resumption is given back, so a pause
// within one day changes nothing; with no day left (paused on its last
// day) it ends at 24:00 of the day of the resumption. The new last day,
// if a day off, runs on to the end of the next working day (Art. 148),
// unless endsOnLastDay: a maximum that protects the child or a date a
// plan set ends on its last day whatever it is ([Calendar.AddCalendarDays]).
func (c *Calendar) ResumeCalendarDays(due, paused, resumed time.Time, endsOnLastDay bool) time.Time {
	last := vntime.DateOf(due)
	if due.Equal(last.Start()) {
		last = last.AddDays(-1) // due at 00:00: the limit's last day is the day before
	}
	left := max(0, int(last.Start().Sub(vntime.DateOf(paused).Start())/(24*time.Hour)))
	end := vntime.DateOf(resumed).AddDays(left)
	if endsOnLastDay {
		return end.AddDays(1).Start()
	}
	return c.EndOfLastDay(end)
}

// WorkingDaysPoint returns the instant x working days into the last m
// working days of a day count that ends at due (00:00 after its last
// day), as a warning at a fraction of a working-day limit falls: a
// working day is 00:00-24:00 of a working day, as the count's days are
// (Civil Code Arts. 147-148), so the instant is (x - ⌊x⌋) × 24 hours after
// 00:00 of the (⌊x⌋+1)th of those days, which is a working day. A whole x
// is the start of the next day counted, not 24:00 of the one before,
// which may be the start of a day off. x is taken as 0 below 0 and as just
// under m from m on: the point lies within the count.
//
// WorkingDaysPoint panics if m is less than 1.
func (c *Calendar) WorkingDaysPoint(due time.Time, m int, x float64) time.Time {
	if m < 1 {
		panic(fmt.Sprintf("calendar: WorkingDaysPoint: count %d is not positive", m))
	}
	x = max(x, 0)
	day := int(x)
	part := x - float64(day) // of the day the point falls in
	if day >= m {
		day, part = m-1, 1-1e-9
	}
	// The (day+1)th of the last m working days is the (m-day)th counted
	// back from the last day.
	d := vntime.DateOf(due.Add(-time.Nanosecond))
	for back := m - day; ; d = d.AddDays(-1) {
		if c.IsWorkingDay(d) {
			if back--; back == 0 {
				break
			}
		}
	}
	return d.Start().Add(time.Duration(part * float64(24*time.Hour)))
}
