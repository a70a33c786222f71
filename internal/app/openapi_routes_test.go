package app_test

import (
	"net/http"
	"regexp"
	"slices"
	"strings"
	"testing"

	"google.golang.org/genproto/googleapis/api/annotations"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/childcase/childcase/internal/transport/grpcapi"
)

// TestOpenAPIMatchesTheGatewayRoutes holds the OpenAPI document to what
// the REST gateway serves, both ways: every operation it documents is a
// route the gateway takes (a call without a token is 401, or 429 once
// throttled, never the 404
// of a path no route takes or a 405), each rule of the schema is
// documented (TestOpenAPIDocumentsEveryRoute), and every field of a
// request that the gateway reads from the query (neither in the path nor
// in the body) is a documented query parameter of its operation, and no
// other is: a client generated from the document can send every filter
// the method takes, and none it would be refused for.
func TestOpenAPIMatchesTheGatewayRoutes(t *testing.T) {
	ts := startServer(t, "")
	doc := readOpenAPI(t)
	param := regexp.MustCompile(`\{[^}]+\}`)
	operations := 0
	for tmpl, ops := range doc.Paths {
		for method := range ops {
			operations++
			path := param.ReplaceAllString(tmpl, "x1")
			code, raw := restRaw(t, ts, strings.ToUpper(method), path, "{}", map[string]string{"Content-Type": "application/json"})
			// Past a few such calls from one client, the refusal is 429
			// (TOO_MANY_FAILED_AUTHENTICATIONS), as routed as a 401.
			reason, _ := restErrorInfo(t, raw)
			if !(code == http.StatusUnauthorized && reason == grpcapi.ReasonUnauthenticated) && !(code == http.StatusTooManyRequests && reason == grpcapi.ReasonThrottled) {
				t.Errorf("%s %s (documented as %s): %d %.200s, want 401: the gateway has no such route", strings.ToUpper(method), path, tmpl, code, raw)
			}
		}
	}
	if operations < 50 {
		t.Errorf("the document has %d operations; the API has more than 50", operations)
	}
	for _, m := range childcaseMethods(t) {
		method, path := httpRule(t, m)
		op, ok := doc.Paths[path][strings.ToLower(method)]
		if !ok {
			continue // TestOpenAPIDocumentsEveryRoute says so
		}
		var documented []string
		for _, p := range op.Parameters {
			if p.In == "query" {
				documented = append(documented, p.Name)
			}
		}
		want := queryFields(m)
		slices.Sort(documented)
		if !slices.Equal(documented, want) {
			t.Errorf("%s %s (%s): query parameters documented %v, the gateway reads %v", method, path, m.Name(), documented, want)
		}
	}
}

// queryFields are the request fields of m that the gateway reads from a
// query: those neither bound by its path nor in its body, by their
// path in the request (a message's fields as "message.field", a
// well-known type, a time, as one value), sorted.
func queryFields(m protoreflect.MethodDescriptor) []string {
	rule := proto.GetExtension(m.Options(), annotations.E_Http).(*annotations.HttpRule)
	if rule.GetBody() == "*" {
		return nil
	}
	var pattern string
	switch p := rule.GetPattern().(type) {
	case *annotations.HttpRule_Get:
		pattern = p.Get
	case *annotations.HttpRule_Post:
		pattern = p.Post
	}
	bound := map[string]bool{rule.GetBody(): true}
	for _, v := range regexp.MustCompile(`\{([a-z_.]+)`).FindAllStringSubmatch(pattern, -1) {
		bound[v[1]] = true
	}
	var out []string
	var walk func(fields protoreflect.FieldDescriptors, prefix string)
	walk = func(fields protoreflect.FieldDescriptors, prefix string) {
		for i := range fields.Len() {
			f := fields.Get(i)
			name := prefix + string(f.Name())
			if bound[name] {
				continue
			}
			if f.Message() != nil && !strings.HasPrefix(string(f.Message().FullName()), "google.") && !f.IsList() {
				walk(f.Message().Fields(), name+".")
				continue
			}
			out = append(out, name)
		}
	}
	walk(m.Input().Fields(), "")
	slices.Sort(out)
	return out
}
