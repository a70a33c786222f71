package cli

import (
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/childcase/childcase/internal/domain/model"
)

// readmeEtag finds an etag the README shows, sent in a request's body or
// in an answer: the field (etag or absorbed_etag) and its value, unless
// that is a shell variable, which the walk-through fills with one the
// service answered.
var readmeEtag = regexp.MustCompile(`"((?:absorbed_)?etag)":\s*"([^"$]*)"`)

// readmeCaseOfPath finds the case a request's path names, readmeAnswered
// the case an answer shows, and readmeAbsorbed the absorbed case of a
// merge.
var (
	readmeCaseOfPath = regexp.MustCompile(`/v1/cases/(HN-\d{4}-\d{5})`)
	readmeAnswered   = regexp.MustCompile(`"name":\s*"cases/(HN-\d{4}-\d{5})"`)
	readmeAbsorbed   = regexp.MustCompile(`"absorbed_case":\s*"cases/(HN-\d{4}-\d{5})"`)
	readmeRevision   = regexp.MustCompile(`^p?[0-9]+$`)
)

// TestREADMEEtagsAreOfTheirCase: every etag the README writes into a
// request or shows in an answer, in a block run or only shown, is of the
// form the service answers (the revision, "p" and the count for a police
// view, a dot and the tag of the case's number) and names its case: the
// case of the path, else of the answer, or for absorbed_etag the
// absorbed_case. An etag of the former form, the
// revision alone ("3"), is refused as stale (ETAG_MISMATCH), so an
// example that showed one would be refused exactly as typed.
func TestREADMEEtagsAreOfTheirCase(t *testing.T) {
	md, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	found := 0
	for _, b := range readmeBlocks(t, string(md)) {
		path := readmeCaseOfPath.FindStringSubmatch(b.text)
		if path == nil {
			path = readmeAnswered.FindStringSubmatch(b.text)
		}
		absorbed := readmeAbsorbed.FindStringSubmatch(b.text)
		for _, m := range readmeEtag.FindAllStringSubmatch(b.text, -1) {
			found++
			field, etag := m[1], m[2]
			number := ""
			switch {
			case field == "absorbed_etag" && absorbed != nil:
				number = absorbed[1]
			case field == "etag" && path != nil:
				number = path[1]
			default:
				t.Errorf("README.md:%d: %s %q: the block names no case it is the etag of", b.line, field, etag)
				continue
			}
			revision, _, _ := strings.Cut(etag, ".")
			want := model.Case{Number: number}.Etag()
			_, tag, _ := strings.Cut(want, ".")
			if etag != revision+"."+tag || !readmeRevision.MatchString(revision) {
				t.Errorf("README.md:%d: %s %q for case %s: want a revision, a dot and the case's tag, as %q", b.line, field, etag, number, "3."+tag)
			}
		}
	}
	if found == 0 {
		t.Error("README.md: no etag written into a request: is the pattern out of date?")
	}
}
