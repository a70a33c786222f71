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
	query   []string       // the query parameters the document lists, by name
	rpc     string         // the gRPC method it calls: /childcase.v1.CaseService/GetCase
}

// openAPIParameter is what routesOf reads of a parameter of an operation.
type openAPIParameter struct {
	Name string `json:"name"`
	In   string `json:"in"` // "path", "query" or "body"
}

// routesOf reads the routes of an OpenAPI v2 document.
func routesOf(doc []byte) ([]paramRoute, error) {
	var d struct {
		Paths map[string]map[string]struct {
			OperationID string             `json:"operationId"`
			Parameters  []openAPIParameter `json:"parameters"`
		} `json:"paths"`
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
			// No resource id holds a colon, which starts a custom verb:
			// "/v1/cases/{case}" does not take "/v1/cases/HN-2026-00001:acknowledge".
			pattern.WriteString(regexp.QuoteMeta(rest[:open]) + "([^/:]+)")
			params = append(params, rest[open+1:end])
			rest = rest[end+1:]
		}
		pattern.WriteString("$")
		re, err := regexp.Compile(pattern.String())
		if err != nil {
			return nil, fmt.Errorf("httpapi: route %s: %w", template, err)
		}
		for method, op := range methods {
			// protoc-gen-openapiv2 names an operation Service_Method.
			service, rpc, _ := strings.Cut(op.OperationID, "_")
			route := paramRoute{method: strings.ToUpper(method), pattern: re, params: params, rpc: "/childcase.v1." + service + "/" + rpc}
			for _, p := range op.Parameters {
				if p.In == "query" {
					route.query = append(route.query, p.Name)
				}
			}
			routes = append(routes, route)
		}
	}
	return routes, nil
}

// rpcOf returns the gRPC method of the route r matches, "" when it
// matches none.
func rpcOf(routes []paramRoute, r *http.Request) string {
	path := r.URL.EscapedPath()
	i := slices.IndexFunc(routes, func(route paramRoute) bool {
		return route.method == r.Method && route.pattern.MatchString(path)
	})
	if i < 0 {
		return ""
	}
	return routes[i].rpc
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

// unreadableQueryParams returns the query parameters of r that cannot be
// read at all: a key or value with an escape that is no escape (%zz), or
// a pair holding a semicolon, which Go no longer takes for a separator.
// Each is named by its key, unescaped when it can be, as typed when not.
// url.ParseQuery passes over such a pair and the gateway refuses it with
// a bare message, or, on a route that reads no query, not at all, so a
// parameter that ought to be refused as unread (a misplaced request_id)
// was dropped unseen.
func unreadableQueryParams(r *http.Request) []string {
	var bad []string
	for _, pair := range strings.Split(r.URL.RawQuery, "&") {
		key, value, _ := strings.Cut(pair, "=")
		name, keyErr := url.QueryUnescape(key)
		if keyErr != nil {
			name = key
		}
		if _, valueErr := url.QueryUnescape(value); keyErr != nil || valueErr != nil || strings.Contains(pair, ";") {
			bad = append(bad, strings.ToValidUTF8(name, "\uFFFD"))
		}
	}
	return bad
}

// namelessQueryParam says whether r's query holds a parameter with a
// value and no name (?=x, ?a=1&=2). The gateway drops it unseen, and a
// refusal of it as a parameter not read would name "" as "request". An
// empty pair (?&&) holds nothing and is no parameter.
func namelessQueryParam(r *http.Request) bool {
	for _, pair := range strings.Split(r.URL.RawQuery, "&") {
		if strings.HasPrefix(pair, "=") {
			return true
		}
	}
	return false
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

// routed says whether a route of the OpenAPI document takes r's method on
// r's path, escaped or, as the gateway may read an escaped slash, not.
// The gateway's own patterns take more than the document's: a path
// parameter's last segment runs to the end of the path, a custom verb
// included (GET /v1/cases/{case}:acknowledge, a POST's path, would be
// served as GetCase of "cases/{case}:acknowledge"), and an empty segment
// is a name (GET /v1/cases/, a trailing slash on the collection, would be
// GetCase of "cases/", a 400 "not a case name", or a 401 without a token,
// where POST /v1/cases/ is a 404). Such a request is no route's: 404, or
// 405 with Allow (routeRefusal).
func routed(routes []paramRoute, r *http.Request) bool {
	escaped := r.URL.EscapedPath()
	return slices.ContainsFunc(routes, func(route paramRoute) bool {
		return route.method == r.Method && (route.pattern.MatchString(escaped) || route.pattern.MatchString(r.URL.Path))
	})
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

// unreadQuery returns the query parameters of r that its route does not
// read, sorted, and those it reads. The gateway drops such a parameter
// without a word: a request_id sent where a POST does not read it (in the
// query of a method whose body is the whole request, or misspelt) would
// be lost, and a retry would act twice; a GET's filter misspelt would
// answer the unfiltered list as if it were the filtered one (every audit
// event for a case's trail). A parameter is read by its name in the
// document or by its JSON name, as the gateway reads it.
func unreadQuery(routes []paramRoute, r *http.Request) (unread, read []string) {
	if r.URL.RawQuery == "" {
		return nil, nil
	}
	path := r.URL.EscapedPath()
	i := slices.IndexFunc(routes, func(route paramRoute) bool {
		return route.method == r.Method && route.pattern.MatchString(path)
	})
	if i < 0 {
		return nil, nil // no route: the gateway's 404 or 405
	}
	read = routes[i].query
	query, _ := url.ParseQuery(r.URL.RawQuery) // bad escapes are the gateway's to refuse
	for k := range query {
		if !slices.ContainsFunc(read, func(name string) bool { return k == name || k == jsonName(name) }) {
			unread = append(unread, strings.ToValidUTF8(k, "\uFFFD"))
		}
	}
	sort.Strings(unread)
	return unread, read
}

// jsonName is the JSON name of a field named in snake case (request_id:
// requestId), which the gateway takes in a query as well.
func jsonName(name string) string {
	parts := strings.Split(name, "_")
	for i := 1; i < len(parts); i++ {
		if parts[i] != "" {
			parts[i] = strings.ToUpper(parts[i][:1]) + parts[i][1:]
		}
	}
	return strings.Join(parts, "")
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
