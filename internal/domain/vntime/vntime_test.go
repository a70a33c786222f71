package vntime

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

func TestLocation(t *testing.T) {
	loc := Location()
	if loc != Location() {
		t.Error("Location returned different pointers")
	}
	// Check both ends of the year: a zone with DST would differ.
	for _, month := range []time.Month{time.January, time.July} {
		name, offset := time.Date(2025, month, 1, 0, 0, 0, 0, loc).Zone()
		if name != "ICT" || offset != 7*60*60 {
			t.Errorf("zone in %s = %s%+d, want ICT+25200", month, name, offset)
		}
	}
}

func TestDateOf(t *testing.T) {
	tests := []struct {
		t    time.Time
		want Date
	}{
		{time.Date(2025, 6, 30, 16, 59, 59, 0, time.UTC), Date{2025, time.June, 30}},
		// 17:00 UTC is midnight in Vietnam: the next day begins.
		{time.Date(2025, 6, 30, 17, 0, 0, 0, time.UTC), Date{2025, time.July, 1}},
		{time.Date(2024, 12, 31, 23, 0, 0, 0, time.UTC), Date{2025, time.January, 1}},
		{time.Date(2025, 7, 1, 0, 0, 0, 0, Location()), Date{2025, time.July, 1}},
		// An instant given in another zone is converted first.
		{time.Date(2025, 7, 1, 1, 0, 0, 0, time.FixedZone("JST", 9*60*60)), Date{2025, time.June, 30}},
	}
	for _, tt := range tests {
		if got := DateOf(tt.t); got != tt.want {
			t.Errorf("DateOf(%v) = %v, want %v", tt.t, got, tt.want)
		}
	}
}

func TestParseDate(t *testing.T) {
	tests := []struct {
		in      string
		want    Date
		wantErr string // substring of the error; "" means no error
	}{
		{"2025-07-01", Date{2025, time.July, 1}, ""},
		{"2024-02-29", Date{2024, time.February, 29}, ""},
		{"2000-02-29", Date{2000, time.February, 29}, ""},
		{"0001-01-01", Date{1, time.January, 1}, ""},
		{"9999-12-31", Date{9999, time.December, 31}, ""},
		{"2025-02-30", Date{}, "day 30 out of range for February 2025"},
		{"2025-02-29", Date{}, "day 29 out of range"},
		{"1900-02-29", Date{}, "day 29 out of range"},
		{"2025-04-31", Date{}, "day 31 out of range"},
		{"2025-13-01", Date{}, "month 13 out of range"},
		{"2025-00-10", Date{}, "month 0 out of range"},
		{"2025-01-00", Date{}, "day 0 out of range"},
		{"0000-01-01", Date{}, "year 0 out of range"},
		{"", Date{}, "want YYYY-MM-DD"},
		{"2025-7-1", Date{}, "want YYYY-MM-DD"},
		{"2025/07/01", Date{}, "want YYYY-MM-DD"},
		{"20250701", Date{}, "want YYYY-MM-DD"},
		{"2025-07-01T00:00:00Z", Date{}, "want YYYY-MM-DD"},
		{" 2025-07-01", Date{}, "want YYYY-MM-DD"},
		{"+202-07-01", Date{}, "want YYYY-MM-DD"},
		{"2025-+7-01", Date{}, "want YYYY-MM-DD"},
		{"abcd-07-01", Date{}, "want YYYY-MM-DD"},
		{"２025-07-01", Date{}, "want YYYY-MM-DD"}, // full-width digit
	}
	for _, tt := range tests {
		got, err := ParseDate(tt.in)
		switch {
		case tt.wantErr == "" && err != nil:
			t.Errorf("ParseDate(%q): unexpected error %v", tt.in, err)
		case tt.wantErr != "" && err == nil:
			t.Errorf("ParseDate(%q) = %v, want error containing %q", tt.in, got, tt.wantErr)
		case tt.wantErr != "" && !strings.Contains(err.Error(), tt.wantErr):
			t.Errorf("ParseDate(%q) error = %q, want it to contain %q", tt.in, err, tt.wantErr)
		case got != tt.want:
			t.Errorf("ParseDate(%q) = %v, want %v", tt.in, got, tt.want)
		}
		if err == nil && got.String() != tt.in {
			t.Errorf("ParseDate(%q).String() = %q, want round trip", tt.in, got.String())
		}
	}
}

func TestString(t *testing.T) {
	tests := []struct {
		d    Date
		want string
	}{
		{Date{2025, time.July, 1}, "2025-07-01"},
		{Date{987, time.December, 31}, "0987-12-31"},
		{Date{}, "0000-00-00"},
	}
	for _, tt := range tests {
		if got := tt.d.String(); got != tt.want {
			t.Errorf("%#v.String() = %q, want %q", tt.d, got, tt.want)
		}
	}
}

func TestIsZero(t *testing.T) {
	tests := []struct {
		d    Date
		want bool
	}{
		{Date{}, true},
		{Date{2025, time.July, 1}, false},
		{Date{Year: 2025}, false},
		{Date{Day: 1}, false},
	}
	for _, tt := range tests {
		if got := tt.d.IsZero(); got != tt.want {
			t.Errorf("%#v.IsZero() = %v, want %v", tt.d, got, tt.want)
		}
	}
}

func TestCompare(t *testing.T) {
	d := func(y int, m time.Month, day int) Date { return Date{y, m, day} }
	tests := []struct {
		a, b Date
		want int
	}{
		{d(2025, 7, 1), d(2025, 7, 1), 0},
		{d(2025, 6, 30), d(2025, 7, 1), -1},
		{d(2025, 7, 1), d(2025, 6, 30), +1},
		{d(2024, 12, 31), d(2025, 1, 1), -1},
		{d(2025, 1, 2), d(2025, 1, 1), +1},
		// Month is compared before day.
		{d(2025, 2, 1), d(2025, 1, 31), +1},
		// Year is compared before month.
		{d(2024, 12, 1), d(2025, 1, 1), -1},
		{Date{}, d(1, 1, 1), -1},
	}
	for _, tt := range tests {
		if got := tt.a.Compare(tt.b); got != tt.want {
			t.Errorf("%v.Compare(%v) = %d, want %d", tt.a, tt.b, got, tt.want)
		}
		if got, want := tt.a.Before(tt.b), tt.want < 0; got != want {
			t.Errorf("%v.Before(%v) = %v, want %v", tt.a, tt.b, got, want)
		}
		if got, want := tt.a.After(tt.b), tt.want > 0; got != want {
			t.Errorf("%v.After(%v) = %v, want %v", tt.a, tt.b, got, want)
		}
	}
}

func TestAddDays(t *testing.T) {
	tests := []struct {
		d    string
		n    int
		want string
	}{
		{"2025-06-30", 1, "2025-07-01"},
		{"2025-07-01", -1, "2025-06-30"},
		{"2024-12-31", 1, "2025-01-01"},
		{"2024-02-28", 1, "2024-02-29"},
		{"2025-02-28", 1, "2025-03-01"},
		{"2025-01-01", 0, "2025-01-01"},
		{"2025-01-01", 365, "2026-01-01"},
		{"2024-01-01", 366, "2025-01-01"},
		{"2025-03-01", -1, "2025-02-28"},
	}
	for _, tt := range tests {
		d := mustParse(t, tt.d)
		if got := d.AddDays(tt.n).String(); got != tt.want {
			t.Errorf("%s.AddDays(%d) = %s, want %s", tt.d, tt.n, got, tt.want)
		}
	}
}

// A period in months ends on the corresponding day, or on the last day of
// a month that has none (Civil Code Art. 148).
func TestAddMonths(t *testing.T) {
	for _, tt := range []struct {
		d    string
		n    int
		want string
	}{
		{"2026-12-04", 2, "2027-02-04"},
		{"2026-12-04", 4, "2027-04-04"},
		{"2026-12-31", 2, "2027-02-28"},
		{"2027-12-31", 2, "2028-02-29"},
		{"2025-08-31", 1, "2025-09-30"},
		{"2025-01-15", 0, "2025-01-15"},
	} {
		if got := mustParse(t, tt.d).AddMonths(tt.n).String(); got != tt.want {
			t.Errorf("%s.AddMonths(%d) = %s, want %s", tt.d, tt.n, got, tt.want)
		}
	}
}

func TestYearsTo(t *testing.T) {
	for _, tt := range []struct {
		from, to string
		want     int
	}{
		{"2010-06-15", "2026-06-14", 15},
		{"2010-06-15", "2026-06-15", 16},
		{"2012-02-29", "2028-02-28", 15},
		{"2012-02-29", "2027-03-01", 15},
		{"2012-02-29", "2028-03-01", 16},
		{"2026-03-02", "2025-03-02", 0}, // later before from
	} {
		if got := mustParse(t, tt.from).YearsTo(mustParse(t, tt.to)); got != tt.want {
			t.Errorf("%s.YearsTo(%s) = %d, want %d", tt.from, tt.to, got, tt.want)
		}
	}
}

func TestWeekday(t *testing.T) {
	tests := []struct {
		d    string
		want time.Weekday
	}{
		{"2025-07-01", time.Tuesday},
		{"2026-02-16", time.Monday}, // Tết 2026 begins; see the holiday data.
		{"2024-05-04", time.Saturday},
		{"2020-01-01", time.Wednesday},
		{"2026-11-29", time.Sunday},
	}
	for _, tt := range tests {
		if got := mustParse(t, tt.d).Weekday(); got != tt.want {
			t.Errorf("%s.Weekday() = %v, want %v", tt.d, got, tt.want)
		}
	}
}

func TestStart(t *testing.T) {
	tests := []struct {
		d    string
		want time.Time // in UTC
	}{
		{"2025-07-01", time.Date(2025, 6, 30, 17, 0, 0, 0, time.UTC)},
		{"2025-01-01", time.Date(2024, 12, 31, 17, 0, 0, 0, time.UTC)},
	}
	for _, tt := range tests {
		d := mustParse(t, tt.d)
		got := d.Start()
		if !got.Equal(tt.want) {
			t.Errorf("%s.Start() = %v, want %v", tt.d, got, tt.want)
		}
		if got.Location() != Location() {
			t.Errorf("%s.Start() is in %v, want %v", tt.d, got.Location(), Location())
		}
		if back := DateOf(got); back != d {
			t.Errorf("DateOf(%s.Start()) = %v, want %v", tt.d, back, d)
		}
		// The last nanosecond of the previous day is still that day.
		if prev := DateOf(got.Add(-time.Nanosecond)); prev != d.AddDays(-1) {
			t.Errorf("DateOf(%s.Start() - 1ns) = %v, want %v", tt.d, prev, d.AddDays(-1))
		}
	}
}

func TestText(t *testing.T) {
	tests := []struct {
		d    Date
		text string
	}{
		{Date{2025, time.July, 1}, "2025-07-01"},
		{Date{}, ""},
	}
	for _, tt := range tests {
		b, err := tt.d.MarshalText()
		if err != nil || string(b) != tt.text {
			t.Errorf("%#v.MarshalText() = %q, %v; want %q, nil", tt.d, b, err, tt.text)
		}
		var got Date
		if err := got.UnmarshalText([]byte(tt.text)); err != nil || got != tt.d {
			t.Errorf("UnmarshalText(%q) = %#v, %v; want %#v, nil", tt.text, got, err, tt.d)
		}
	}
}

func TestTextErrors(t *testing.T) {
	if b, err := (Date{2025, 13, 1}).MarshalText(); err == nil {
		t.Errorf("MarshalText of an invalid date = %q, want error", b)
	}
	for _, text := range []string{"2025-02-30", "null", "2025-07-01 "} {
		d := Date{2020, time.January, 1}
		if err := d.UnmarshalText([]byte(text)); err == nil {
			t.Errorf("UnmarshalText(%q) = %v, want error", text, d)
		}
	}
}

func TestJSON(t *testing.T) {
	type record struct {
		Intake Date `json:"intake"`
		Closed Date `json:"closed"`
	}
	in := record{Intake: Date{2025, time.July, 1}}
	b, err := json.Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	const want = `{"intake":"2025-07-01","closed":""}`
	if string(b) != want {
		t.Errorf("json.Marshal = %s, want %s", b, want)
	}
	var out record
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	if out != in {
		t.Errorf("json round trip = %+v, want %+v", out, in)
	}
	if err := json.Unmarshal([]byte(`{"intake":"2025-02-30"}`), &out); err == nil {
		t.Error("json.Unmarshal of 2025-02-30: want error")
	}
}

func mustParse(t *testing.T, s string) Date {
	t.Helper()
	d, err := ParseDate(s)
	if err != nil {
		t.Fatal(err)
	}
	return d
}
