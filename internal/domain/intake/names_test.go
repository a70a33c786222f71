package intake

import (
	"strings"
	"testing"
)

func TestCaseNames(t *testing.T) {
	if got := FormatCaseNumber(2026, 123); got != "HN-2026-00123" {
		t.Errorf("FormatCaseNumber = %s", got)
	}
	if got := FormatCaseNumber(2026, 123456); got != "HN-2026-123456" {
		t.Errorf("FormatCaseNumber past five digits = %s", got)
	}
	tests := []struct {
		in, want string
		ok       bool
	}{
		{"cases/HN-2026-00123", "HN-2026-00123", true},
		{"HN-2026-00123", "HN-2026-00123", true},
		{" hn-2026-00123 ", "HN-2026-00123", true},
		{"cases/ hn-2026-00123", "HN-2026-00123", true},
		{"HN-2026-123456", "HN-2026-123456", true},
		{"HN 2026 00123", "HN-2026-00123", true},
		{"hn - 2026 - 00123", "HN-2026-00123", true},
		{"cases/HN  2026-00123 ", "HN-2026-00123", true},
		{"HN\t2026\u00a000123", "HN-2026-00123", true},
		// Typed by a Vietnamese input method, in full width.
		{"ＨＮ－２０２６－００１２３", "HN-2026-00123", true},
		{"hn ２０２６ ００１２３", "HN-2026-00123", true},
		{"cases/ＨＮ-2026-００１２３", "HN-2026-00123", true},
		// A dash as a word processor or a phone's keyboard types it: an
		// en dash, an em dash, a hyphen, a non-breaking hyphen, a minus.
		{"HN\u20132026\u201300123", "HN-2026-00123", true},
		{"hn \u2014 2026 \u2014 00123", "HN-2026-00123", true},
		{"HN\u20102026\u201100123", "HN-2026-00123", true},
		{"HN\u22122026\u221200123", "HN-2026-00123", true},
		// The sequence as it is read out, "case one two three": its
		// leading zeros left out, or one too many, name the same case.
		{"HN-2026-123", "HN-2026-00123", true},
		{"hn 2026 0123", "HN-2026-00123", true},
		{"HN-2026-1", "HN-2026-00001", true},
		{"HN-2026-000123", "HN-2026-00123", true},
		{"HN-2026-0000123456", "HN-2026-123456", true},
		{"HN--2026-00123", "", false},
		{"HN\u2013\u20132026-00123", "", false},
		{"HN 2026 - - 00123", "", false},
		{"HN2026 00123", "", false},
		{"HN-2026-", "", false},
		{"HN-2026-12a", "", false},
		{"HN-2026-" + strings.Repeat("9", 20), "", false},
		{"HN-26-00123", "", false},
		{"HCM-2026-00123", "", false},
		{"cases/", "", false},
		{"", "", false},
	}
	for _, tt := range tests {
		got, err := ParseCaseName(tt.in)
		if (err == nil) != tt.ok || got != tt.want {
			t.Errorf("ParseCaseName(%q) = %q, %v; want %q, ok=%v", tt.in, got, err, tt.want, tt.ok)
		}
	}
}

func TestReportNames(t *testing.T) {
	tests := []struct {
		in string
		ok bool
	}{
		{"reports/0192f7a0-0000-7000-8000-000000000000", true},
		{"reports/0192F7A0-0000-7000-8000-000000000000", false}, // one spelling per report
		{"reports/{0192f7a0-0000-7000-8000-000000000000}", false},
		{"0192f7a0-0000-7000-8000-000000000000", false},
		{"reports/42", false},
		{"cases/HN-2026-00001", false},
	}
	for _, tt := range tests {
		if _, err := ParseReportName(tt.in); (err == nil) != tt.ok {
			t.Errorf("ParseReportName(%q): err %v, want ok=%v", tt.in, err, tt.ok)
		}
	}
}

// TestCanonicalCaseNameIsReadWithoutAllocating: a name as the service
// writes it, which every call naming a case sends (the console's links,
// the REST client's saved names), is read without the typed-name path's
// folding and regular expressions, which allocate.
func TestCanonicalCaseNameIsReadWithoutAllocating(t *testing.T) {
	for _, name := range []string{"cases/HN-2026-00123", "HN-2026-00123", "cases/HN-2026-123456"} {
		if allocs := testing.AllocsPerRun(100, func() { _, _ = ParseCaseName(name) }); allocs != 0 {
			t.Errorf("ParseCaseName(%q) makes %.0f allocations, want none", name, allocs)
		}
	}
}

// FuzzCanonicalCaseNumber: whatever the fast path takes as already
// canonical, the typed-name path reads as the same number.
func FuzzCanonicalCaseNumber(f *testing.F) {
	for _, s := range []string{"cases/HN-2026-00123", "HN-2026-00000", "HN-2026-123456", "HN-2026-0123456",
		"HN-2026-0000000001", "HN-2026-99999999999", "cases/hn-2026-00123", "HN-20a6-00123", "HN-2026-0012", "cases/cases/HN-2026-00123"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, name string) {
		fast, ok := canonicalCaseNumber(name)
		if !ok {
			return
		}
		slow, err := parseTypedCaseName(name)
		if err != nil || slow != fast {
			t.Errorf("%q: canonical %q, typed %q, %v", name, fast, slow, err)
		}
	})
}
