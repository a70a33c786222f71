package cli

import (
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/childcase/childcase/internal/domain/model"
)

var (
	// readmeEtag finds an etag the README shows in JSON: a request's
	// etag or absorbed_etag, or an answer's.
	readmeEtag = regexp.MustCompile(`"(?:absorbed_)?etag": ?"([^"$]*)"`)
	// readmeCaseNumber finds a case number the README shows.
	readmeCaseNumber = regexp.MustCompile(`HN-[0-9]{4}-[0-9]{5}`)
	// etagForm is an etag as the service writes one: the revision ("p"
	// and the count for the police view), a dot and the case's tag.
	etagForm = regexp.MustCompile(`^p?[1-9][0-9]*\.([a-z2-7]{6})$`)
)

// TestREADMEEtagsAreOfTheCurrentForm: every etag the README shows, sent
// or answered, is of the form the service writes, its revision and the
// tag of a case the same block names; one of the form before the tag (a
// number alone) is refused as stale, so a reader who copies an example
// would be told ETAG_MISMATCH for a case that has not moved.
func TestREADMEEtagsAreOfTheCurrentForm(t *testing.T) {
	md, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	for i, block := range strings.Split(string(md), "```") {
		if i%2 == 0 {
			continue // prose between the fenced blocks
		}
		tags := map[string]string{}
		for _, number := range readmeCaseNumber.FindAllString(block, -1) {
			_, tag, _ := strings.Cut(model.Case{Number: number, Revision: 1}.Etag(), ".")
			tags[tag] = number
		}
		for _, m := range readmeEtag.FindAllStringSubmatch(block, -1) {
			form := etagForm.FindStringSubmatch(m[1])
			switch {
			case form == nil:
				t.Errorf("the README shows %s: not an etag of the service's form (revision, a dot, the case's tag)", m[0])
			case tags[form[1]] == "":
				t.Errorf("the README shows %s, whose tag is of no case its block names", m[0])
			}
		}
	}
}
