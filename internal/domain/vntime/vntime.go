// Package vntime handles time in Vietnam: the Asia/Ho_Chi_Minh zone and
// civil dates.
//
// Legal deadlines, intake dates and the validity of administrative units are
// all stated as calendar days in Vietnam, so they are modelled as a [Date]
// rather than as a [time.Time], which would carry an instant and a zone.
package vntime

import (
	"cmp"
	"fmt"
	"time"
)

// ict is Indochina Time, UTC+7.
//
// Vietnam has used UTC+7 all year round since 1975 and observes no daylight
// saving time, so a fixed zone gives the same answers as the IANA zone
// Asia/Ho_Chi_Minh for every date this service handles. Using
// [time.FixedZone] rather than [time.LoadLocation] also means the service
// does not depend on the host's tzdata, which minimal containers often lack.
// The pointer is created once and never modified, so sharing it is safe.
var ict = time.FixedZone("ICT", 7*60*60)

// Location returns the time zone of Vietnam: a fixed zone named "ICT" at
// UTC+7.
func Location() *time.Location { return ict }

// A Date is a civil date (a calendar day) in Vietnam, with no time of day
// and no zone. The zero Date means "no date"; see [Date.IsZero].
//
// Dates are comparable with == when they are valid, as returned by
// [DateOf], [ParseDate] and [Date.AddDays].
type Date struct {
	Year  int
	Month time.Month
	Day   int
}

// DateOf returns the date in Vietnam of the instant t.
func DateOf(t time.Time) Date {
	y, m, d := t.In(ict).Date()
	return Date{y, m, d}
}

// ParseDate parses a date in the strict form YYYY-MM-DD, as in "2025-07-01".
// It rejects other layouts and dates that do not exist, such as 2025-02-30.
func ParseDate(s string) (Date, error) {
	if len(s) != len("2006-01-02") || s[4] != '-' || s[7] != '-' {
		return Date{}, fmt.Errorf("invalid date %q: want YYYY-MM-DD", s)
	}
	y, ok1 := atoi(s[0:4])
	m, ok2 := atoi(s[5:7])
	d, ok3 := atoi(s[8:10])
	if !ok1 || !ok2 || !ok3 {
		return Date{}, fmt.Errorf("invalid date %q: want YYYY-MM-DD", s)
	}
	date := Date{y, time.Month(m), d}
	if err := date.check(); err != nil {
		return Date{}, fmt.Errorf("invalid date %q: %w", s, err)
	}
	return date, nil
}

// atoi parses a string of ASCII digits only; unlike strconv.Atoi it
// rejects signs, so that "+202-01-01" is not a date.
func atoi(s string) (int, bool) {
	n := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	return n, true
}

// check reports why d is not a real date between years 1 and 9999, if it
// is not one.
func (d Date) check() error {
	switch {
	case d.Year < 1 || d.Year > 9999:
		return fmt.Errorf("year %d out of range", d.Year)
	case d.Month < time.January || d.Month > time.December:
		return fmt.Errorf("month %d out of range", int(d.Month))
	case d.Day < 1 || d.Day > daysIn(d.Year, d.Month):
		return fmt.Errorf("day %d out of range for %s %d", d.Day, d.Month, d.Year)
	}
	return nil
}

// daysIn returns the number of days in month m of year y.
func daysIn(y int, m time.Month) int {
	// Day 0 of the next month is the last day of this one.
	return time.Date(y, m+1, 0, 0, 0, 0, 0, time.UTC).Day()
}

// AddMonths returns the date n months later: the same day of that month,
// or its last day when it has no such day (Civil Code Art. 148: a period
// in months ends on the corresponding day of its last month).
func (d Date) AddMonths(n int) Date {
	first := time.Date(d.Year, d.Month+time.Month(n), 1, 0, 0, 0, 0, time.UTC)
	y, m := first.Year(), first.Month()
	return Date{y, m, min(d.Day, daysIn(y, m))}
}

// String returns the date as YYYY-MM-DD. The zero Date gives "0000-00-00".
func (d Date) String() string {
	return fmt.Sprintf("%04d-%02d-%02d", d.Year, int(d.Month), d.Day)
}

// IsZero reports whether d is the zero Date, meaning "no date".
func (d Date) IsZero() bool { return d == Date{} }

// Compare returns -1 if d is before o, +1 if d is after o, and 0 if they are
// the same date.
func (d Date) Compare(o Date) int {
	switch {
	case d.Year != o.Year:
		return cmp.Compare(d.Year, o.Year)
	case d.Month != o.Month:
		return cmp.Compare(d.Month, o.Month)
	default:
		return cmp.Compare(d.Day, o.Day)
	}
}

// Before reports whether d is before o.
func (d Date) Before(o Date) bool { return d.Compare(o) < 0 }

// After reports whether d is after o.
func (d Date) After(o Date) bool { return d.Compare(o) > 0 }

// AddDays returns the date n days after d (before d if n is negative).
func (d Date) AddDays(n int) Date {
	// Calendar arithmetic in UTC, where every day has 24 hours; the zone
	// plays no part in counting days.
	y, m, dd := time.Date(d.Year, d.Month, d.Day+n, 0, 0, 0, 0, time.UTC).Date()
	return Date{y, m, dd}
}

// YearsTo returns the whole years from d to later, as an age is counted:
// a year is complete on the day of the same month and day (for 29
// February, on 1 March of a common year); 0 when later is before d.
func (d Date) YearsTo(later Date) int {
	years := later.Year - d.Year
	if later.Month < d.Month || (later.Month == d.Month && later.Day < d.Day) {
		years--
	}
	return max(years, 0)
}

// Weekday returns the day of the week of d.
func (d Date) Weekday() time.Weekday {
	return time.Date(d.Year, d.Month, d.Day, 0, 0, 0, 0, time.UTC).Weekday()
}

// Start returns the instant at which d begins in Vietnam: midnight at the
// start of that day, in [Location].
func (d Date) Start() time.Time {
	return time.Date(d.Year, d.Month, d.Day, 0, 0, 0, 0, ict)
}

// MarshalText implements [encoding.TextMarshaler]. It returns YYYY-MM-DD, or
// an empty text for the zero Date, so that "no date" encodes as "" in JSON.
func (d Date) MarshalText() ([]byte, error) {
	if d.IsZero() {
		return []byte{}, nil
	}
	if err := d.check(); err != nil {
		return nil, fmt.Errorf("vntime: cannot marshal date %s: %w", d, err)
	}
	return []byte(d.String()), nil
}

// UnmarshalText implements [encoding.TextUnmarshaler]. It accepts the form
// written by [Date.MarshalText]: YYYY-MM-DD, or an empty text for the zero
// Date.
func (d *Date) UnmarshalText(text []byte) error {
	if len(text) == 0 {
		*d = Date{}
		return nil
	}
	parsed, err := ParseDate(string(text))
	if err != nil {
		return err
	}
	*d = parsed
	return nil
}
