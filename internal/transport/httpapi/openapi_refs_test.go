package httpapi

import (
	"encoding/json"
	"net/http"
	"regexp"
	"slices"
	"testing"
)

// definitionRef is a reference to one of the document's definitions.
var definitionRef = regexp.MustCompile(`"#/definitions/([^"]+)"`)

// TestOpenAPIDefinesOnlyWhatAPathUses: the served /openapi.json held
// definitions no path used (HttpBody, the export's answer, which the
// document types as a file; CaseQueue and ExportFormat, enums whose
// values the query parameters list in place), which a newcomer reads as
// types of the API. Every definition is reached from a path, through the
// definitions that reach it.
func TestOpenAPIDefinesOnlyWhatAPathUses(t *testing.T) {
	rec := serve(newTestHandler(t), "GET", "/openapi.json", nil)
	if rec.Code != http.StatusOK {
		t.Fatalf("GET /openapi.json: %d", rec.Code)
	}
	var doc map[string]json.RawMessage
	if err := json.Unmarshal(rec.Body.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	var defs map[string]json.RawMessage
	if err := json.Unmarshal(doc["definitions"], &defs); err != nil {
		t.Fatal(err)
	}
	if len(defs) < 20 {
		t.Fatalf("%d definitions; the API has more", len(defs))
	}
	reached := map[string]bool{}
	var reach func(raw []byte)
	reach = func(raw []byte) {
		for _, m := range definitionRef.FindAllSubmatch(raw, -1) {
			if name := string(m[1]); !reached[name] {
				reached[name] = true
				reach(defs[name])
			}
		}
	}
	reach(doc["paths"])
	var unused []string
	for name := range defs {
		if !reached[name] {
			unused = append(unused, name)
		}
	}
	slices.Sort(unused)
	if len(unused) > 0 {
		t.Errorf("definitions no path uses: %v", unused)
	}
	for name := range reached {
		if _, ok := defs[name]; !ok {
			t.Errorf("a path uses %q, which the document does not define", name)
		}
	}
}
