// Package openapi embeds the OpenAPI document generated from the protos, so
// the server can serve it at /openapi.json. Only this file is hand-written.
package openapi

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"regexp"
)

// generated is the document as protoc-gen-openapiv2 writes it.
//
//go:embed childcase.swagger.json
var generated []byte

// JSON is the OpenAPI v2 document of the REST API: the generated one
// without the definitions no path uses (see usedOnly).
var JSON = usedOnly(generated)

// definitionRef is a reference to one of a document's definitions.
var definitionRef = regexp.MustCompile(`"#/definitions/([^"]+)"`)

// usedOnly returns doc without the definitions its paths do not reach.
// The generator defines every message and enum a method names, also
// where the document then uses none: an enum only a query parameter
// takes (its values are listed in the parameter itself, as Swagger 2.0
// has no schema for a query parameter), and google.api.HttpBody, the
// export's answer, which the document types as a file. A client
// generator, or a newcomer, would take them for types of the API; the
// generator has no option to leave them out. A document that cannot be
// read is returned as it is (the tests read it, and fail).
func usedOnly(doc []byte) []byte {
	var top map[string]json.RawMessage
	if err := json.Unmarshal(doc, &top); err != nil {
		return doc
	}
	var defs map[string]json.RawMessage
	if err := json.Unmarshal(top["definitions"], &defs); err != nil {
		return doc
	}
	used := map[string]bool{}
	var reach func(raw []byte)
	reach = func(raw []byte) {
		for _, m := range definitionRef.FindAllSubmatch(raw, -1) {
			if name := string(m[1]); !used[name] {
				used[name] = true
				reach(defs[name])
			}
		}
	}
	for key, raw := range top {
		if key != "definitions" {
			reach(raw)
		}
	}
	for name := range defs {
		if !used[name] {
			delete(defs, name)
		}
	}
	kept := make(map[string]any, len(top))
	for key, raw := range top {
		kept[key] = raw
	}
	kept["definitions"] = defs
	// The generator's words as it wrote them: "<" kept, not "\u003c".
	var out bytes.Buffer
	enc := json.NewEncoder(&out)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(kept); err != nil {
		return doc
	}
	return out.Bytes()
}
