package intake

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"github.com/google/uuid"
	"golang.org/x/text/width"
)

// typedCaseNumber is a case number once its separators are dashes: the
// sequence in any number of digits, its leading zeros read as nothing.
var typedCaseNumber = regexp.MustCompile(`^HN-([0-9]{4})-0*([0-9]{1,10})$`)

// typedSeparator is what stands between a case number's parts as people
// type it: a dash with spaces around it, or spaces alone where the dash
// is ("HN 2026 00123", as it is read out over the phone); a no-break
// space, which text pasted from a document carries, is a space.
var typedSeparator = regexp.MustCompile(`[\s\p{Zs}]*-[\s\p{Zs}]*|[\s\p{Zs}]+`)

// typedDash reads as "-" every dash a keyboard or a word processor puts
// where the number has one: the en and em dashes an editor makes of "-"
// (a number pasted from a letter), a hyphen, a non-breaking hyphen, and
// the minus sign; full-width dashes are folded before it.
var typedDash = strings.NewReplacer("\u2010", "-", "\u2011", "-", "\u2012", "-", "\u2013", "-", "\u2014", "-", "\u2015", "-",
	"\u2212", "-", "\ufe58", "-", "\ufe63", "-")

// FormatCaseNumber makes the number of the seq-th case of a year, e.g.
// HN-2026-00123: short to read aloud, digits only after the prefix so it
// cannot be misheard as letters, and distinct from internal keys.
func FormatCaseNumber(year int, seq uint64) string {
	return fmt.Sprintf("HN-%04d-%05d", year, seq)
}

// The refusals of a name say what a name is like, not what was sent: a
// worker types a case's number as the caller says it, and a child's name
// typed there must not go back in the answer, or into the log with the
// call's error.
var (
	errNotACaseName   = errors.New("is not a case name like cases/HN-2026-00123")
	errNotAReportName = errors.New("is not a report name like reports/{id}")
)

// ParseCaseName accepts "cases/HN-2026-00123" or a bare case number, in any
// case, with surrounding spaces and with spaces for or around its dashes
// (police and hotline staff type them by hand, as read out), and returns
// the canonical case number. A dash may be any a keyboard types (an en or
// em dash, a hyphen, a minus sign); a doubled dash is no typing of one.
// The sequence is a number, read as it is said: "HN-2026-123" and
// "HN-2026-000123" are HN-2026-00123. Full-width letters, digits and
// dashes, which a Vietnamese input method types, are read as their ASCII.
func ParseCaseName(name string) (string, error) {
	if n, ok := canonicalCaseNumber(name); ok {
		return n, nil
	}
	return parseTypedCaseName(name)
}

// canonicalCaseNumber returns the number of a name already as the service
// writes it, "cases/HN-2026-00123" or the bare number, which is what most
// calls send: read in place, without parseTypedCaseName's folding and
// regular expressions (some ten microseconds and a dozen allocations on
// every call that names a case).
func canonicalCaseNumber(name string) (string, bool) {
	n := strings.TrimPrefix(name, "cases/")
	const year, seq = len("HN-"), len("HN-2026-")
	if len(n) < seq+5 || len(n) > seq+10 || n[:year] != "HN-" || n[seq-1] != '-' {
		return "", false
	}
	digits := n[seq:]
	// Five digits, or more without a leading zero: FormatCaseNumber's.
	if !allDigits(n[year:seq-1]) || !allDigits(digits) || len(digits) > 5 && digits[0] == '0' {
		return "", false
	}
	return n, true
}

func allDigits(s string) bool {
	for i := range len(s) {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// parseTypedCaseName is ParseCaseName for a name as a person types it.
func parseTypedCaseName(name string) (string, error) {
	n := typedDash.Replace(width.Narrow.String(name))
	n = strings.ToUpper(strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(n), "cases/")))
	n = typedSeparator.ReplaceAllString(n, "-")
	m := typedCaseNumber.FindStringSubmatch(n)
	if m == nil {
		return "", errNotACaseName
	}
	seq, err := strconv.ParseUint(m[2], 10, 64)
	if err != nil {
		// More digits than a number holds: no case's, and not quoted
		// back, as nothing a caller typed is.
		return "", errNotACaseName
	}
	year, _ := strconv.Atoi(m[1])
	return FormatCaseNumber(year, seq), nil
}

// ParseReportName accepts "reports/{uuid}" and returns the id.
func ParseReportName(name string) (string, error) {
	id, ok := strings.CutPrefix(name, "reports/")
	if !ok {
		return "", errNotAReportName
	}
	u, err := uuid.Parse(id)
	if err != nil || u.String() != id {
		return "", errNotAReportName
	}
	return id, nil
}
