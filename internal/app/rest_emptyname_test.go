package app_test

import (
	"net/http"
	"regexp"
	"sort"
	"strings"
	"testing"
)

// A path of the API with a resource name left empty (/v1/cases/, a
// trailing slash on a collection; /v1/reports/:link; /v1/cases//events)
// is a path no route takes: 404 NOT_FOUND in the API's error shape,
// whoever sends it and with whatever method, as /v1/nothing is. The
// gateway's pattern takes an empty segment for a name, so GET /v1/cases/
// was GetCase of "cases/", a 400 "not a case name" to a caller with a
// token and a 401 to one without, while POST /v1/cases/ was a 404. Every
// path template of the OpenAPI document is tried with each of its names
// empty, with each method it takes.
func TestRESTEmptyNameIsNoRoute(t *testing.T) {
	ts := startServer(t, "")
	param := regexp.MustCompile(`\{[^}]+\}`)
	doc := readOpenAPI(t)
	var templates []string
	for template := range doc.Paths {
		if param.MatchString(template) {
			templates = append(templates, template)
		}
	}
	sort.Strings(templates)
	for _, template := range templates {
		names := param.FindAllString(template, -1)
		for i := range names {
			// The i-th name empty, the others a name of their form.
			n := 0
			path := param.ReplaceAllStringFunc(template, func(string) string {
				n++
				if n-1 == i {
					return ""
				}
				return "x"
			})
			for method := range doc.Paths[template] {
				method = strings.ToUpper(method)
				for _, who := range []string{"", "Bearer not-a-token", "Bearer " + ts.tokens.get(operatorID)} {
					resp, raw := requestAsWritten(t, ts.HTTPAddr(), method, path, who)
					if resp.StatusCode != http.StatusNotFound || !strings.Contains(string(raw), `"reason":"NOT_FOUND"`) ||
						resp.Header.Get("Content-Type") != "application/json" {
						t.Errorf("%s %s (authorization %.12q): %s %s %.200s; want 404 NOT_FOUND as JSON",
							method, path, who, resp.Status, resp.Header.Get("Content-Type"), raw)
					}
				}
			}
		}
	}
}
