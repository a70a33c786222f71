package cli

import (
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/childcase/childcase/internal/app"
)

// TestREADMEQuotesTheCurrentSchemaVersion: the README quotes what check,
// restore and backup print of a file, and in those quotes the schema
// version of this childcase is the current one. A schema bump left
// "older than this childcase's 13" in the restore and etcd check quotes
// after the binary said 14, for an operator comparing the output of the
// restore drill with the README.
func TestREADMEQuotesTheCurrentSchemaVersion(t *testing.T) {
	md, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	// Quotes are wrapped over lines: one space for every run of blanks.
	text := regexp.MustCompile(`\s+`).ReplaceAllString(string(md), " ")
	current := regexp.MustCompile(`this childcase's (\d+)\b|awaiting its migration to schema version (\d+)\b|OK: schema version (\d+), \d+ bytes`)
	quotes := 0
	for _, m := range current.FindAllStringSubmatch(text, -1) {
		quotes++
		n, _ := strconv.Atoi(m[1] + m[2] + m[3])
		if n != app.SchemaVersion {
			t.Errorf("README.md quotes %q with schema version %d; this childcase's is %d", m[0], n, app.SchemaVersion)
		}
	}
	// The restore's, check's and etcd check's quotes, the summaries of
	// Operations and of migrate-store.
	if quotes < 5 {
		t.Errorf("found %d quotes of the current schema version in README.md, want 5 at least:\n%s", quotes,
			strings.Join(current.FindAllString(text, -1), "\n"))
	}
}
