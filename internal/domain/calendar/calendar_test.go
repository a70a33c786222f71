package calendar

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/childcase/childcase/internal/domain/vntime"
)

// load returns the Calendar of the embedded data.
func load(t *testing.T) *Calendar {
	t.Helper()
	c, err := Load()
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	return c
}

// date parses a YYYY-MM-DD date written in a test.
func date(s string) vntime.Date {
	d, err := vntime.ParseDate(s)
	if err != nil {
		panic(err)
	}
	return d
}

// rawEntry is an entry of the data file, decoded independently of Parse.
type rawEntry struct {
	Date      string `json:"date"`
	Kind      string `json:"kind"`
	Name      string `json:"name"`
	Announced bool   `json:"announced"`
	Source    string `json:"source"`
}

// rawEntries decodes the embedded data file without the package's code.
func rawEntries(t *testing.T) []rawEntry {
	t.Helper()
	var entries []rawEntry
	if err := json.Unmarshal([]byte(holidaysJSON), &entries); err != nil {
		t.Fatal(err)
	}
	return entries
}

func TestLoad(t *testing.T) {
	c := load(t)
	if c.first != 2020 || c.last != 2030 {
		t.Errorf("covered years = %d-%d, want 2020-2030", c.first, c.last)
	}
	// The counts stated in data/SOURCES.md.
	counts := map[kind]int{}
	for _, k := range c.days {
		counts[k]++
	}
	want := map[kind]int{kindHoliday: 120, kindCompensatoryOff: 27, kindSwapOff: 4, kindMakeupWorkday: 4}
	if len(c.days) != 155 {
		t.Errorf("%d listed days, want 155", len(c.days))
	}
	for k, n := range want {
		if counts[k] != n {
			t.Errorf("%d days of kind %s, want %d", counts[k], k, n)
		}
	}
}

func TestVersionOfEmbeddedData(t *testing.T) {
	c := load(t)
	sum := sha256.Sum256([]byte(holidaysJSON))
	if want := "vn-holidays@" + hex.EncodeToString(sum[:])[:12]; c.Version() != want {
		t.Errorf("Version() = %q, want %q", c.Version(), want)
	}
	// Pinned on purpose: deadlines store this version, so changing the data
	// must be a deliberate act. After updating the data, update this value
	// and data/SOURCES.md.
	const pinned = "vn-holidays@ed650e041f2b"
	if c.Version() != pinned {
		t.Errorf("Version() = %q, want the pinned %q: the data changed", c.Version(), pinned)
	}
	if c2 := load(t); c2.Version() != c.Version() {
		t.Errorf("two loads give versions %q and %q", c.Version(), c2.Version())
	}
}

func TestVersion(t *testing.T) {
	parse := func(data string) string {
		t.Helper()
		c, err := Parse([]byte(data))
		if err != nil {
			t.Fatalf("Parse: %v", err)
		}
		return c.Version()
	}
	base := doc(minimalYear(2026)...)
	v := parse(base)
	if !regexp.MustCompile(`^vn-holidays@[0-9a-f]{12}$`).MatchString(v) {
		t.Errorf("Version() = %q, want vn-holidays@ and 12 hex digits", v)
	}
	if v2 := parse(base); v2 != v {
		t.Errorf("same bytes give versions %q and %q", v, v2)
	}
	// Any change to the bytes changes the version, even one that leaves the
	// calendar the same: the version identifies the file, not its meaning.
	for name, other := range map[string]string{
		"trailing newline": base + "\n",
		"other name":       strings.Replace(base, "name 2026-01-01", "Tết Dương lịch", 1),
		"extra day off":    doc(append(minimalYear(2026), entryJSON("2026-11-24", "swap_off"))...),
	} {
		if vo := parse(other); vo == v {
			t.Errorf("%s: version %q did not change", name, vo)
		}
	}
}

func TestCovers(t *testing.T) {
	c := load(t)
	tests := []struct {
		d    string
		want bool
	}{
		{"2019-12-31", false},
		{"2020-01-01", true},
		{"2026-02-16", true},
		{"2030-09-03", true},  // the last listed day
		{"2030-12-31", true},  // the rest of the last year is covered too
		{"2031-01-01", false}, // the fallback rule applies from here on
	}
	for _, tt := range tests {
		if got := c.Covers(date(tt.d)); got != tt.want {
			t.Errorf("Covers(%s) = %v, want %v", tt.d, got, tt.want)
		}
	}
	if first, last := c.Years(); first != 2020 || last != 2030 {
		t.Errorf("Years() = %d, %d, want 2020, 2030", first, last)
	}
}

// The years whose entries were not yet announced are 2027 to 2030 in the
// embedded data; a year the data do not cover is not provisional (it is
// past the data: nothing is estimated), and one whose entries are all
// announced is not either.
func TestProvisional(t *testing.T) {
	c := load(t)
	for y := 2019; y <= 2031; y++ {
		if got, want := c.Provisional(y), y >= 2027 && y <= 2030; got != want {
			t.Errorf("Provisional(%d) = %v, want %v", y, got, want)
		}
	}
}

func TestIsWorkingDay(t *testing.T) {
	c := load(t)
	tests := []struct {
		d    string
		want bool
		why  string
	}{
		// 2026, from TB 9441/TB-BNV and CV 12729/VPCP-KGVX.
		{"2025-12-31", true, "Wed before New Year"},
		{"2026-01-01", false, "Thu, Tết Dương lịch"},
		{"2026-01-02", false, "Fri, swapped for Sat 10/1"},
		{"2026-01-03", false, "Sat"},
		{"2026-01-05", true, "Mon"},
		{"2026-01-10", true, "Sat, make-up day for 2/1"},
		{"2026-01-11", false, "Sun after the make-up day"},
		{"2026-01-17", false, "ordinary Sat"},
		{"2026-02-13", true, "Fri before Tết"},
		{"2026-02-14", false, "Sat, start of the Tết break"},
		{"2026-02-15", false, "Sun"},
		{"2026-02-16", false, "Mon, Tết"},
		{"2026-02-17", false, "Tue, Tết (mùng 1)"},
		{"2026-02-18", false, "Wed, Tết"},
		{"2026-02-19", false, "Thu, Tết"},
		{"2026-02-20", false, "Fri, Tết"},
		{"2026-02-21", false, "Sat"},
		{"2026-02-22", false, "Sun, end of the Tết break"},
		{"2026-02-23", true, "Mon after Tết"},
		{"2026-04-26", false, "Sun, Giỗ Tổ"},
		{"2026-04-27", false, "Mon, compensatory for Giỗ Tổ"},
		{"2026-04-28", true, "Tue"},
		{"2026-04-30", false, "Thu, 30/4"},
		{"2026-05-01", false, "Fri, 1/5"},
		{"2026-05-04", true, "Mon"},
		{"2026-08-22", true, "Sat, make-up day for 31/8"},
		{"2026-08-31", false, "Mon, swapped for Sat 22/8"},
		{"2026-09-01", false, "Tue, Quốc khánh"},
		{"2026-09-02", false, "Wed, Quốc khánh"},
		{"2026-09-03", true, "Thu"},
		{"2026-11-24", true, "Tue, Ngày Văn hóa Việt Nam: not (yet) a holiday"},
		// Earlier years.
		{"2020-09-01", true, "Tue: 2020 had one day for Quốc khánh"},
		{"2020-09-02", false, "Wed, Quốc khánh"},
		{"2020-09-03", true, "Thu"},
		{"2023-05-02", false, "Tue, compensatory for Giỗ Tổ on Sat 29/4"},
		{"2023-09-04", false, "Mon, compensatory for 2/9 on Sat"},
		{"2024-04-29", false, "Mon, swapped for Sat 4/5"},
		{"2024-05-04", true, "Sat, make-up day"},
		{"2025-04-26", true, "Sat, make-up day"},
		{"2025-05-02", false, "Fri, swapped for Sat 26/4"},
		// Provisional years.
		{"2030-02-01", false, "Fri, Tết (provisional)"},
		{"2030-02-05", false, "Tue, compensatory for Tết on Sat 2/2 (provisional)"},
		{"2030-02-07", true, "Thu after Tết (provisional)"},
		// Outside the covered years: Mon–Fri less the fixed-date holidays.
		{"2019-04-30", false, "Tue 30/4, fixed date"},
		{"2019-09-02", false, "Mon 2/9, fixed date"},
		{"2019-12-31", true, "Tue"},
		{"2031-01-01", false, "Wed 1/1, fixed date"},
		{"2031-01-02", true, "Thu"},
		{"2031-01-04", false, "Sat"},
		{"2031-04-30", false, "Wed 30/4, fixed date"},
		{"2031-05-01", false, "Thu 1/5, fixed date"},
		{"2031-09-01", true, "Mon 1/9: the day next to 2/9 is not guessed"},
		{"2031-09-02", false, "Tue 2/9, fixed date"},
	}
	for _, tt := range tests {
		if got := c.IsWorkingDay(date(tt.d)); got != tt.want {
			t.Errorf("IsWorkingDay(%s) = %v, want %v (%s)", tt.d, got, tt.want, tt.why)
		}
	}
}

// TestIsWorkingDayMatchesData checks every day of the covered years against
// the rule of data/SOURCES.md, applied to the file decoded independently:
// working days = Mon–Fri + makeup_workday − holiday − compensatory_off −
// swap_off.
func TestIsWorkingDayMatchesData(t *testing.T) {
	c := load(t)
	kinds := map[vntime.Date]string{}
	for _, e := range rawEntries(t) {
		kinds[date(e.Date)] = e.Kind
	}
	for d := date("2020-01-01"); d.Year <= 2030; d = d.AddDays(1) {
		wd := d.Weekday()
		want := wd != time.Saturday && wd != time.Sunday
		switch kinds[d] {
		case "makeup_workday":
			want = true
		case "holiday", "compensatory_off", "swap_off":
			want = false
		}
		if got := c.IsWorkingDay(d); got != want {
			t.Errorf("IsWorkingDay(%s, %s, listed as %q) = %v, want %v", d, wd, kinds[d], got, want)
		}
	}
}

func TestWorkingDaysPerYear(t *testing.T) {
	c := load(t)
	// Counted from the data when it was copied; 2027–2030 are provisional.
	want := map[int]int{
		2020: 252, 2021: 250, 2022: 249, 2023: 249, 2024: 251, 2025: 250,
		2026: 250, 2027: 250, 2028: 249, 2029: 250, 2030: 250,
	}
	for y := 2020; y <= 2030; y++ {
		prev := vntime.Date{Year: y - 1, Month: time.December, Day: 31}
		end := vntime.Date{Year: y, Month: time.December, Day: 31}
		if got := c.WorkingDaysBetween(prev, end); got != want[y] {
			t.Errorf("working days in %d = %d, want %d", y, got, want[y])
		}
	}
}

func TestWorkingDaysBetween(t *testing.T) {
	c := load(t)
	tests := []struct {
		a, b string
		want int
	}{
		{"2026-02-12", "2026-02-26", 5}, // Fri 13, then Mon 23 – Thu 26
		{"2026-02-13", "2026-02-22", 0}, // the whole Tết break
		{"2026-02-12", "2026-02-12", 0}, // b not after a
		{"2026-02-26", "2026-02-12", 0}, // b before a
		{"2026-01-09", "2026-01-10", 1}, // the make-up Saturday
		{"2025-12-31", "2026-01-04", 0}, // New Year and the swapped Friday
		{"2030-12-30", "2031-01-02", 2}, // Tue 31/12, Thu 2/1 (fallback: 1/1 off)
	}
	for _, tt := range tests {
		if got := c.WorkingDaysBetween(date(tt.a), date(tt.b)); got != tt.want {
			t.Errorf("WorkingDaysBetween(%s, %s) = %d, want %d", tt.a, tt.b, got, tt.want)
		}
	}
}

// TestDataFollowsTheLaw checks rules that the data must follow but that Parse
// does not enforce, because a yearly notice could in principle depart from
// them; a departure should then be explained in data/SOURCES.md and here.
func TestDataFollowsTheLaw(t *testing.T) {
	entries := rawEntries(t)
	kinds := map[vntime.Date]string{}
	for _, e := range entries {
		kinds[date(e.Date)] = e.Kind
	}
	weekend := func(d vntime.Date) bool { return d.Weekday() == time.Saturday || d.Weekday() == time.Sunday }

	// Labour Code 2019 Art. 111(3) (rule C): each holiday on a weekend gives
	// a compensatory day, the next weekday not already off. Replaying the
	// rule must give exactly the listed compensatory days.
	given := map[vntime.Date]bool{}
	for _, e := range entries {
		d := date(e.Date)
		if e.Kind != "holiday" || !weekend(d) {
			continue
		}
		comp := d.AddDays(1)
		for weekend(comp) || kinds[comp] == "holiday" || kinds[comp] == "swap_off" || given[comp] {
			comp = comp.AddDays(1)
		}
		given[comp] = true
		if kinds[comp] != "compensatory_off" {
			t.Errorf("holiday %s (%s) should give compensatory day %s, which is listed as %q", d, d.Weekday(), comp, kinds[comp])
		}
	}
	for d, k := range kinds {
		if k == "compensatory_off" && !given[d] {
			t.Errorf("compensatory day %s follows no holiday on a weekend", d)
		}
	}

	// A swap gives a day off for a make-up day: they balance.
	swaps, makeups := 0, 0
	for _, k := range kinds {
		switch k {
		case "swap_off":
			swaps++
		case "makeup_workday":
			makeups++
		}
	}
	if swaps != makeups {
		t.Errorf("%d swapped days but %d make-up days", swaps, makeups)
	}

	// Each year has 11 holiday days (Art. 112(1): 1/1, 5 for Tết, Giỗ Tổ,
	// 30/4, 1/5, 2 for Quốc khánh); 2020 had 10 (2012 Code: 1 for Quốc
	// khánh).
	holidays := map[int]int{}
	for d, k := range kinds {
		if k == "holiday" {
			holidays[d.Year]++
		}
	}
	for y := 2020; y <= 2030; y++ {
		want := 11
		if y == 2020 {
			want = 10
		}
		if holidays[y] != want {
			t.Errorf("%d holiday days in %d, want %d", holidays[y], y, want)
		}
	}

	// Entries are confirmed up to 2026 and provisional from 2027, except the
	// fixed-date holidays, which need no announcement; every entry cites a
	// source.
	for _, e := range entries {
		d := date(e.Date)
		fixedDays := fixedHolidays(d.Year)
		fixed := slices.Contains(fixedDays[:], d)
		if provisional := d.Year >= 2027 && !fixed; e.Announced == provisional {
			t.Errorf("entry %s: announced = %v, want %v", e.Date, e.Announced, !provisional)
		}
		if strings.TrimSpace(e.Source) == "" || strings.TrimSpace(e.Name) == "" {
			t.Errorf("entry %s: missing name or source", e.Date)
		}
	}
}

// entryJSON returns a data-file entry for a test.
func entryJSON(d, kind string) string {
	return fmt.Sprintf(`{"date": %q, "kind": %q, "name": "name %s", "announced": true, "source": "test"}`, d, kind, d)
}

// minimalYear returns the entries of the smallest valid year: its four
// fixed-date holidays.
func minimalYear(y int) []string {
	return []string{
		entryJSON(fmt.Sprintf("%d-01-01", y), "holiday"),
		entryJSON(fmt.Sprintf("%d-04-30", y), "holiday"),
		entryJSON(fmt.Sprintf("%d-05-01", y), "holiday"),
		entryJSON(fmt.Sprintf("%d-09-02", y), "holiday"),
	}
}

// doc returns a data file made of entries.
func doc(entries ...string) string {
	return "[\n" + strings.Join(entries, ",\n") + "\n]\n"
}

// replace returns entries with entry i replaced by e.
func replace(entries []string, i int, e string) []string {
	out := append([]string(nil), entries...)
	out[i] = e
	return out
}

func TestParse(t *testing.T) {
	// 2026: the fixed-date holidays plus a compensatory day, a swap and a
	// make-up Saturday.
	data := doc(
		entryJSON("2026-01-01", "holiday"),
		entryJSON("2026-01-02", "swap_off"),
		entryJSON("2026-01-10", "makeup_workday"),
		entryJSON("2026-04-26", "holiday"),
		entryJSON("2026-04-27", "compensatory_off"),
		entryJSON("2026-04-30", "holiday"),
		entryJSON("2026-05-01", "holiday"),
		entryJSON("2026-09-02", "holiday"),
	)
	c, err := Parse([]byte(data))
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	tests := []struct {
		d          string
		covers     bool
		workingDay bool
	}{
		{"2026-01-02", true, false},
		{"2026-01-10", true, true},
		{"2026-04-27", true, false},
		{"2026-04-28", true, true},
		{"2026-02-16", true, true}, // not listed in this file
		{"2027-01-01", false, false},
		{"2027-01-04", false, true},
	}
	for _, tt := range tests {
		if got := c.Covers(date(tt.d)); got != tt.covers {
			t.Errorf("Covers(%s) = %v, want %v", tt.d, got, tt.covers)
		}
		if got := c.IsWorkingDay(date(tt.d)); got != tt.workingDay {
			t.Errorf("IsWorkingDay(%s) = %v, want %v", tt.d, got, tt.workingDay)
		}
	}
}

func TestParseRejects(t *testing.T) {
	year := minimalYear(2026) // 0: 01-01, 1: 04-30, 2: 05-01, 3: 09-02
	with := func(extra ...string) string {
		all := append(append([]string(nil), year...), extra...)
		return doc(all...)
	}
	tests := []struct {
		name    string
		data    string
		wantErr string
	}{
		{"not JSON", "holidays", "calendar: invalid character"},
		{"not an array", `{"date": "2026-01-01"}`, "calendar: json: cannot unmarshal object"},
		{"empty array", "[]", "calendar: no entries"},
		{"trailing data", with() + "[]", "unexpected data after the JSON array"},
		{"unknown field", doc(replace(year, 1, `{"date": "2026-04-30", "kind": "holiday", "name": "x", "announced": true, "source": "s", "note": "?"}`)...), `unknown field "note"`},
		{"kind not a string", doc(replace(year, 1, `{"date": "2026-04-30", "kind": 1, "name": "x", "announced": true, "source": "s"}`)...), "cannot unmarshal number"},
		{"bad kind", doc(replace(year, 1, entryJSON("2026-04-30", "holliday"))...), `entry 1 (2026-04-30): unknown kind "holliday"`},
		{"missing kind", doc(replace(year, 2, `{"date": "2026-05-01", "name": "x", "announced": true, "source": "s"}`)...), "entry 2 (2026-05-01): missing kind"},
		{"missing name", doc(replace(year, 2, `{"date": "2026-05-01", "kind": "holiday", "announced": true, "source": "s"}`)...), "entry 2 (2026-05-01): missing name"},
		{"missing source", doc(replace(year, 2, `{"date": "2026-05-01", "kind": "holiday", "name": "x", "announced": true}`)...), "entry 2 (2026-05-01): missing source"},
		{"missing announced", doc(replace(year, 2, `{"date": "2026-05-01", "kind": "holiday", "name": "x", "source": "s"}`)...), "entry 2 (2026-05-01): missing announced"},
		{"missing date", doc(replace(year, 2, `{"kind": "holiday", "name": "x", "announced": true, "source": "s"}`)...), `entry 2 (""): invalid date`},
		{"date that does not exist", with(entryJSON("2026-02-30", "swap_off")), `entry 4 ("2026-02-30"): invalid date "2026-02-30": day 30 out of range`},
		{"date in another layout", with(entryJSON("2026/11/24", "holiday")), `entry 4 ("2026/11/24"): invalid date "2026/11/24": want YYYY-MM-DD`},
		{"date with a time", with(entryJSON("2026-11-24T00:00:00+07:00", "holiday")), `entry 4 ("2026-11-24T00:00:00+07:00")`},
		{"duplicate date", doc(year[0], year[1], entryJSON("2026-04-30", "compensatory_off"), year[2], year[3]), "entry 2 (2026-04-30): duplicate date, already listed as entry 1"},
		{"out of order", doc(year[0], year[2], year[1], year[3]), "entry 2 (2026-04-30): out of order, after 2026-05-01 (entry 1)"},
		{"make-up on a weekday", with(entryJSON("2026-11-24", "makeup_workday")), "entry 4 (2026-11-24): a makeup_workday must be a Saturday or Sunday, not a Tuesday"},
		{"compensatory day on a Saturday", with(entryJSON("2026-09-05", "compensatory_off")), "entry 4 (2026-09-05): a compensatory_off must be a weekday, not a Saturday"},
		{"swap on a Sunday", with(entryJSON("2026-09-06", "swap_off")), "entry 4 (2026-09-06): a swap_off must be a weekday, not a Sunday"},
		{"fixed holiday missing", doc(year[0], year[1], year[3]), "year 2026 is covered but does not list 2026-05-01 as a holiday"},
		{"fixed holiday of another kind", doc(replace(year, 3, entryJSON("2026-09-02", "swap_off"))...), "year 2026 is covered but does not list 2026-09-02 as a holiday"},
		{"covered year missing", doc(append(minimalYear(2026), minimalYear(2028)...)...), "year 2027 is covered but does not list 2027-01-01 as a holiday"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Parse([]byte(tt.data))
			if err == nil {
				t.Fatalf("Parse succeeded (version %s), want error containing %q", c.Version(), tt.wantErr)
			}
			if !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("Parse error = %q, want it to contain %q", err, tt.wantErr)
			}
			if !strings.HasPrefix(err.Error(), "calendar: ") {
				t.Errorf("Parse error = %q, want the prefix %q", err, "calendar: ")
			}
		})
	}
}

// The embedded data are announced up to 2026: 2027 to 2030 are estimates.
func TestAnnouncedYearsOfEmbeddedData(t *testing.T) {
	if got := load(t).Announced(); got != 2026 {
		t.Errorf("Announced() = %d, want 2026 (2027 to 2030 provisional)", got)
	}
}
