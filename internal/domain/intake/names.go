package intake

import (
	"errors"
	"fmt"
	"regexp"
	"strings"

	"github.com/google/uuid"
	"golang.org/x/text/width"
)

var caseNumberPattern = regexp.MustCompile(`^HN-([0-9]{4})-([0-9]{5,})$`)

// typedSeparator is what stands between a case number's parts as people
// type it: a dash with spaces around it, or spaces alone where the dash
// is ("HN 2026 00123", as it is read out over the phone); a no-break
// space, which text pasted from a document carries, is a space.
var typedSeparator = regexp.MustCompile(`[\s\p{Zs}]*-[\s\p{Zs}]*|[\s\p{Zs}]+`)

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
// the canonical case number. A doubled dash is no typing of one. Full-width
// letters, digits and dashes, which a Vietnamese input method types, are
// read as their ASCII.
func ParseCaseName(name string) (string, error) {
	n := width.Narrow.String(name)
	n = strings.ToUpper(strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(n), "cases/")))
	n = typedSeparator.ReplaceAllString(n, "-")
	if !caseNumberPattern.MatchString(n) {
		return "", errNotACaseName
	}
	return n, nil
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
