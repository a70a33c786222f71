package httpapi

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"sort"
	"strings"
	"unicode/utf8"
)

// The gateway copies path and query values into the request's string
// fields as they come, and a value that is not UTF-8 (%ff) then fails to
// encode for gRPC: a 500 naming nothing. Every resource name, page token
// and filter is UTF-8, so such a value is refused before the gateway,
// with 400 naming the parameter as the OpenAPI document names it (a case
// name is the path parameter "case", though its field is "name").

// paramRoute is one REST route of the OpenAPI document.
type paramRoute struct {
	method  string
	pattern *regexp.Regexp // the escaped path; one group per parameter
	params  []string       // path parameter names, in group order
	// bodyOnly holds the fields of a route whose JSON body is the whole
	// request (google.api.http body "*"): it takes no query parameter,
	// and the gateway drops one that names a field without a word.
	bodyOnly map[string]bool
}

// openAPIOperation is what routesOf reads of an operation.
type openAPIOperation struct {
	Parameters []struct {
		Name   string `json:"name"`
		In     string `json:"in"`
		Schema struct {
			Ref string `json:"$ref"`
		} `json:"schema"`
	} `json:"parameters"`
}

// routesOf reads the routes of an OpenAPI v2 document.
func routesOf(doc []byte) ([]paramRoute, error) {
	var d struct {
		Paths       map[string]map[string]openAPIOperation `json:"paths"`
		Definitions map[string]struct {
			Properties map[string]json.RawMessage `json:"properties"`
		} `json:"definitions"`
	}
	if err := json.Unmarshal(doc, &d); err != nil {
		return nil, fmt.Errorf("httpapi: read the OpenAPI document: %w", err)
	}
	var routes []paramRoute
	for template, methods := range d.Paths {
		var pattern strings.Builder
		var params []string
		pattern.WriteString("^")
		for rest := template; rest != ""; {
			open := strings.IndexByte(rest, '{')
			end := strings.IndexByte(rest, '}')
			if open < 0 || end < open {
				pattern.WriteString(regexp.QuoteMeta(rest))
				break
			}
			pattern.WriteString(regexp.QuoteMeta(rest[:open]) + "([^/]+)")
			params = append(params, rest[open+1:end])
			rest = rest[end+1:]
		}
		pattern.WriteString("$")
		re, err := regexp.Compile(pattern.String())
		if err != nil {
			return nil, fmt.Errorf("httpapi: route %s: %w", template, err)
		}
		for method, op := range methods {
			route := paramRoute{method: strings.ToUpper(method), pattern: re, params: params}
			body, query := "", false
			for _, p := range op.Parameters {
				switch p.In {
				case "body":
					body = strings.TrimPrefix(p.Schema.Ref, "#/definitions/")
				case "query":
					query = true
				}
			}
			if body != "" && !query {
				route.bodyOnly = map[string]bool{}
				for field := range d.Definitions[body].Properties {
					// The gateway reads a query parameter by either name.
					route.bodyOnly[field] = true
					route.bodyOnly[lowerCamel(field)] = true
				}
			}
			routes = append(routes, route)
		}
	}
	return routes, nil
}

// notUTF8Params returns the parameters of r whose value is not UTF-8 once
// unescaped: path parameters by their name in the route r matches ("path"
// when it matches none), query parameters by their key, known or not.
func notUTF8Params(routes []paramRoute, r *http.Request) []string {
	var bad []string
	if !utf8.ValidString(r.URL.Path) {
		bad = append(bad, notUTF8PathParams(routes, r.Method, r.URL.EscapedPath())...)
	}
	if strings.IndexByte(r.URL.RawQuery, '%') >= 0 {
		query, _ := url.ParseQuery(r.URL.RawQuery) // bad escapes are the gateway's to refuse
		keys := make([]string, 0, len(query))
		for k, values := range query {
			for _, v := range values {
				if !utf8.ValidString(k) || !utf8.ValidString(v) {
					keys = append(keys, strings.ToValidUTF8(k, "\uFFFD"))
					break
				}
			}
		}
		sort.Strings(keys)
		bad = append(bad, keys...)
	}
	return bad
}

// escapedSlashParams returns the path parameters of r, by their name in
// the route its escaped path matches, that hold an escaped slash (%2F),
// when r's path routes nowhere with the slash read as one (the gateway
// reads it so, and answers such a path a bare "Not Found"). A path the
// gateway routes with the slash read is left to it.
func escapedSlashParams(routes []paramRoute, r *http.Request) []string {
	escaped := r.URL.EscapedPath()
	if !strings.Contains(strings.ToUpper(escaped), "%2F") {
		return nil
	}
	for _, route := range routes {
		if route.method == r.Method && route.pattern.MatchString(r.URL.Path) {
			return nil
		}
	}
	for _, route := range routes {
		if route.method != r.Method {
			continue
		}
		values := route.pattern.FindStringSubmatch(escaped)
		var bad []string
		for i := 1; i < len(values); i++ {
			if strings.Contains(strings.ToUpper(values[i]), "%2F") {
				bad = append(bad, route.params[i-1])
			}
		}
		if len(bad) > 0 {
			return bad
		}
	}
	return nil
}

// allowedMethods lists the methods of the routes that match escapedPath,
// sorted and comma-separated, for the Allow header of a 405.
func allowedMethods(routes []paramRoute, escapedPath string) string {
	var methods []string
	for _, route := range routes {
		if route.pattern.MatchString(escapedPath) && !slices.Contains(methods, route.method) {
			methods = append(methods, route.method)
		}
	}
	slices.Sort(methods)
	return strings.Join(methods, ", ")
}

func notUTF8PathParams(routes []paramRoute, method, escapedPath string) []string {
	for _, route := range routes {
		if route.method != method {
			continue
		}
		values := route.pattern.FindStringSubmatch(escapedPath)
		if values == nil {
			continue
		}
		var bad []string
		for i, raw := range values[1:] {
			if v, err := url.PathUnescape(raw); err == nil && !utf8.ValidString(v) {
				bad = append(bad, route.params[i])
			}
		}
		if len(bad) > 0 {
			return bad
		}
	}
	return []string{"path"}
}

// lowerCamel is the JSON name of a proto field name (request_id:
// requestId).
func lowerCamel(field string) string {
	parts := strings.Split(field, "_")
	for i := 1; i < len(parts); i++ {
		if parts[i] != "" {
			parts[i] = strings.ToUpper(parts[i][:1]) + parts[i][1:]
		}
	}
	return strings.Join(parts, "")
}

// queryFieldsOfBody returns, sorted, the query parameters of r that name
// fields of a route whose body is the whole request.
func queryFieldsOfBody(routes []paramRoute, r *http.Request) []string {
	if r.URL.RawQuery == "" {
		return nil
	}
	var bad []string
	for _, route := range routes {
		if route.bodyOnly == nil || route.method != r.Method || !route.pattern.MatchString(r.URL.EscapedPath()) {
			continue
		}
		for k := range r.URL.Query() {
			if route.bodyOnly[k] && !slices.Contains(bad, k) {
				bad = append(bad, k)
			}
		}
	}
	sort.Strings(bad)
	return bad
}
