// Package calendar is the Vietnamese public-sector working-day calendar and
// the deadline arithmetic of the law.
//
// State agencies work Monday to Friday (QĐ 188/1999/QĐ-TTg). The public
// holidays of the Labour Code (2019 Art. 112, 2012 Art. 115 for 2020), the
// compensatory days off for holidays that fall on a weekend (Art. 111(3)) and
// the days swapped by the yearly notices are days off; the make-up Saturdays
// of those notices are working days. Those days are data, not code: they are
// read from an embedded file, described with its sources in data/SOURCES.md,
// and a [Calendar] records a [Calendar.Version] of it so that every deadline
// can say which calendar computed it.
//
// Deadlines follow the domain reference (sections 4 and 5) and the Civil Code
// 2015, Arts. 147-148: an hour limit runs from the moment itself; a day limit
// starts counting on the day after the event and ends at 24:00 of its last
// day. Days are those of Vietnam (Asia/Ho_Chi_Minh, UTC+7, see package
// vntime), whatever the zone of the instants passed in; returned deadlines
// are instants in [vntime.Location].
//
// The package does no I/O beyond reading its embedded file and holds no
// mutable state: a Calendar never changes once built and is safe for
// concurrent use.
package calendar

import (
	"bytes"
	"crypto/sha256"
	_ "embed"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/childcase/childcase/internal/domain/vntime"
)

// holidaysJSON is the embedded data file. It is a string so that nobody can
// modify it.
//
//go:embed data/vn-public-holidays.json
var holidaysJSON string

// A kind is the kind of a listed day, as written in the data file.
type kind string

// The kinds of listed days.
const (
	kindHoliday         kind = "holiday"          // statutory holiday, listed even on a weekend
	kindCompensatoryOff kind = "compensatory_off" // nghỉ bù: a weekday off for a holiday on a weekend
	kindSwapOff         kind = "swap_off"         // nghỉ hoán đổi: a weekday off by yearly decision
	kindMakeupWorkday   kind = "makeup_workday"   // làm bù: a weekend day worked in exchange
)

// versionPrefix starts every [Calendar.Version].
const versionPrefix = "vn-holidays@"

// A Calendar tells working days from days off and computes legal deadlines.
// Build one with [Load] (or [Parse]), once, and share it.
type Calendar struct {
	// days holds the listed days of the covered years; any other day of
	// those years is a working day if and only if it is Monday to Friday.
	days map[vntime.Date]kind
	// first and last are the covered years: every year from the first to
	// the last listed date.
	first, last int
	// provisional holds the covered years with an entry not yet
	// announced (announced: false): their days off are estimates.
	provisional map[int]bool
	version     string
}

// entry is a listed day as written in the data file.
type entry struct {
	Date      string `json:"date"`
	Kind      kind   `json:"kind"`
	Name      string `json:"name"`
	Announced *bool  `json:"announced"`
	Source    string `json:"source"`
}

// Load parses and validates the embedded calendar data (see [Parse] for the
// checks). It fails only if the embedded file is broken, which the package's
// tests rule out; callers should load once at start-up and share the result.
func Load() (*Calendar, error) {
	return Parse([]byte(holidaysJSON))
}

// Parse builds a Calendar from data in the format of the embedded file: a
// JSON array of entries {"date", "kind", "name", "announced", "source"}.
// It rejects, with an error naming the entry by position and date:
//   - unknown fields, missing fields, and trailing data after the array;
//   - a date that is not a real date in the form YYYY-MM-DD;
//   - a date listed twice, or entries not in ascending date order;
//   - a kind other than holiday, compensatory_off, swap_off, makeup_workday;
//   - a makeup_workday that is not a Saturday or Sunday, or a
//     compensatory_off or swap_off that is not a weekday (a holiday may fall
//     on any day: the data lists statutory holidays even on weekends);
//   - a covered year that lacks one of the fixed-date statutory holidays
//     (1/1, 30/4, 1/5, 2/9), which would mean the year is incomplete.
//
// The covered years are all years from that of the first entry to that of
// the last one; an empty array is an error.
func Parse(data []byte) (*Calendar, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var entries []entry
	if err := dec.Decode(&entries); err != nil {
		return nil, fmt.Errorf("calendar: %w", err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, errors.New("calendar: unexpected data after the JSON array")
	}
	if len(entries) == 0 {
		return nil, errors.New("calendar: no entries")
	}

	c := &Calendar{days: make(map[vntime.Date]kind, len(entries)), provisional: map[int]bool{}}
	index := make(map[vntime.Date]int, len(entries)) // entry number of each date
	var prev vntime.Date
	for i, e := range entries {
		d, err := e.check(i)
		if err != nil {
			return nil, err
		}
		if j, dup := index[d]; dup {
			return nil, fmt.Errorf("calendar: entry %d (%s): duplicate date, already listed as entry %d", i, d, j)
		}
		if i > 0 && d.Before(prev) {
			return nil, fmt.Errorf("calendar: entry %d (%s): out of order, after %s (entry %d)", i, d, prev, i-1)
		}
		index[d] = i
		c.days[d] = e.Kind
		if !*e.Announced {
			c.provisional[d.Year] = true
		}
		prev = d
	}

	first, err := vntime.ParseDate(entries[0].Date)
	if err != nil {
		return nil, err // unreachable: checked above
	}
	c.first, c.last = first.Year, prev.Year
	for y := c.first; y <= c.last; y++ {
		for _, d := range fixedHolidays(y) {
			if c.days[d] != kindHoliday {
				return nil, fmt.Errorf("calendar: year %d is covered but does not list %s as a holiday: the fixed-date holidays 1/1, 30/4, 1/5 and 2/9 must be listed for every year from %d to %d", y, d, c.first, c.last)
			}
		}
	}

	sum := sha256.Sum256(data)
	c.version = versionPrefix + hex.EncodeToString(sum[:])[:12]
	return c, nil
}

// check validates the entry number i on its own and returns its date.
func (e *entry) check(i int) (vntime.Date, error) {
	d, err := vntime.ParseDate(e.Date)
	if err != nil {
		return vntime.Date{}, fmt.Errorf("calendar: entry %d (%q): %w", i, e.Date, err)
	}
	fail := func(format string, args ...any) (vntime.Date, error) {
		return vntime.Date{}, fmt.Errorf("calendar: entry %d (%s): %s", i, d, fmt.Sprintf(format, args...))
	}
	weekend := isWeekend(d)
	switch e.Kind {
	case kindHoliday:
	case kindCompensatoryOff, kindSwapOff:
		if weekend {
			return fail("a %s must be a weekday, not a %s", e.Kind, d.Weekday())
		}
	case kindMakeupWorkday:
		if !weekend {
			return fail("a %s must be a Saturday or Sunday, not a %s", e.Kind, d.Weekday())
		}
	case "":
		return fail("missing kind")
	default:
		return fail("unknown kind %q (want %s, %s, %s or %s)", e.Kind,
			kindHoliday, kindCompensatoryOff, kindSwapOff, kindMakeupWorkday)
	}
	switch {
	case e.Name == "":
		return fail("missing name")
	case e.Source == "":
		return fail("missing source")
	case e.Announced == nil:
		return fail("missing announced")
	}
	return d, nil
}

// fixedHolidays returns the statutory holidays of year y that fall on the same
// date every year: New Year (1/1), Reunification Day (30/4), Labour Day (1/5)
// and National Day (2/9).
func fixedHolidays(y int) [4]vntime.Date {
	return [4]vntime.Date{
		{Year: y, Month: time.January, Day: 1},
		{Year: y, Month: time.April, Day: 30},
		{Year: y, Month: time.May, Day: 1},
		{Year: y, Month: time.September, Day: 2},
	}
}

// isWeekend reports whether d is a Saturday or a Sunday.
func isWeekend(d vntime.Date) bool {
	wd := d.Weekday()
	return wd == time.Saturday || wd == time.Sunday
}

// Version identifies the data the Calendar was built from: "vn-holidays@"
// followed by the first 12 hexadecimal digits of the SHA-256 of the data
// bytes. Store it with every computed deadline, so that a deadline can be
// explained later even after the data have been updated.
func (c *Calendar) Version() string { return c.version }

// Covers reports whether the data cover the year of d, 2020 to 2030 for the
// embedded data. Within the covered years the Calendar knows every holiday,
// compensatory day, swap and make-up day; outside them it falls back to the
// rule described at [Calendar.IsWorkingDay].
func (c *Calendar) Covers(d vntime.Date) bool {
	return d.Year >= c.first && d.Year <= c.last
}

// Years returns the first and the last year the data cover (see
// [Calendar.Covers]): 2020 and 2030 for the embedded data.
func (c *Calendar) Years() (first, last int) { return c.first, c.last }

// Provisional reports whether the data list days of year y that were not
// yet announced (announced: false, 2027 to 2030 for the embedded data):
// estimates from the rules in data/SOURCES.md, without the swaps and
// make-up Saturdays the year's notice will add, so a count across that
// year may end earlier or later than the notice will make it.
func (c *Calendar) Provisional(y int) bool { return c.provisional[y] }

// Announced returns the last year up to which the data hold only
// announced days: the year before the first provisional one (2026 for
// the embedded data), or the last covered year if none is provisional.
// A count of days that reaches past it rests on estimates or on no data
// at all, so the year's notice must be added before counts reach it.
func (c *Calendar) Announced() int {
	for y := c.first; y <= c.last; y++ {
		if c.provisional[y] {
			return y - 1
		}
	}
	return c.last
}

// IsWorkingDay reports whether state agencies work on d.
//
// In the covered years (see [Calendar.Covers]) the working days are Monday
// to Friday, except the listed days off (holidays, compensatory days and
// swapped days), plus the listed make-up days, which fall on a weekend.
//
// Outside the covered years, where the data say nothing, the working days
// are Monday to Friday except the fixed-date statutory holidays 1/1, 30/4,
// 1/5 and 2/9. Tết, the Hùng Kings' day and the day next to 2/9 move every
// year, compensatory days depend on the weekday and swaps are decided
// yearly, so none of them is guessed: such a day counts as a working day,
// and a working-day deadline computed across it may be a day or more
// earlier than the true one. Extend the data before relying on those years.
func (c *Calendar) IsWorkingDay(d vntime.Date) bool {
	if !c.Covers(d) {
		for _, h := range fixedHolidays(d.Year) {
			if d == h {
				return false
			}
		}
		return !isWeekend(d)
	}
	switch c.days[d] {
	case kindMakeupWorkday:
		return true
	case kindHoliday, kindCompensatoryOff, kindSwapOff:
		return false
	default: // not listed
		return !isWeekend(d)
	}
}

// WorkingDaysBetween returns the number of working days after a up to and
// including b: the days a day count starting on the day after a would count
// by the end of b. It returns 0 if b is not after a.
func (c *Calendar) WorkingDaysBetween(a, b vntime.Date) int {
	n := 0
	for d := a.AddDays(1); !d.After(b); d = d.AddDays(1) {
		if c.IsWorkingDay(d) {
			n++
		}
	}
	return n
}
