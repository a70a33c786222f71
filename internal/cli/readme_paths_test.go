package cli

import (
	"encoding/json"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/childcase/childcase/api/openapi"
)

// readmeRESTPath finds the REST paths the README shows: in a curl to the
// demo server, or written out in backquotes or after a method name.
var readmeRESTPath = regexp.MustCompile("(?:localhost:8111|[`\\s\"])(/v1/[^\\s`\"'?)]+)")

// TestREADMEPathsInOpenAPI: every REST path the README shows is one the
// OpenAPI document (served at /openapi.json) documents, so a reader who
// looks a call up finds it there.
func TestREADMEPathsInOpenAPI(t *testing.T) {
	md, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Paths map[string]json.RawMessage `json:"paths"`
	}
	if err := json.Unmarshal(openapi.JSON, &doc); err != nil {
		t.Fatal(err)
	}
	// A template segment of the document matches any value of it.
	template := regexp.MustCompile(`\{[^}]+\}`)
	var documented []*regexp.Regexp
	for p := range doc.Paths {
		parts := template.Split(p, -1)
		for i := range parts {
			parts[i] = regexp.QuoteMeta(parts[i])
		}
		documented = append(documented, regexp.MustCompile("^"+strings.Join(parts, "[^/:]+")+"$"))
	}
	// The walk-through's variables stand for a case and a report.
	vars := strings.NewReplacer("$CASE", "cases/HN-2026-00005", "$NHUNG", "cases/HN-2026-00006", "$REPORT", "reports/r")
	checked := 0
	for _, m := range readmeRESTPath.FindAllStringSubmatch(string(md), -1) {
		path := strings.TrimRight(vars.Replace(m[1]), ".,;:")
		if path == "/v1/" || strings.HasSuffix(path, ":verb") || strings.HasSuffix(path, "/") {
			continue // the pattern of every step, or a prefix, not a path
		}
		path = template.ReplaceAllString(path, "x")
		found := false
		for _, re := range documented {
			if re.MatchString(path) {
				found = true
				break
			}
		}
		if !found {
			t.Errorf("README.md shows %s, which the OpenAPI document does not have", m[1])
		}
		checked++
	}
	if checked < 30 {
		t.Errorf("found only %d REST paths in the README: the pattern no longer reads it", checked)
	}
}
