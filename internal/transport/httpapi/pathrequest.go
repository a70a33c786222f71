package httpapi

import (
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"unicode/utf8"

	"google.golang.org/genproto/googleapis/api/annotations"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/known/emptypb"
)

// pathRequest is the request of method (a gRPC full method name) with
// the fields its route's path sets (name, parent) as r's path gives
// them, and nothing else: what the gateway sends the server for a
// request whose input it refused (authenticationRefusal), so that the
// server's audit of the call names the record, and its case, as it
// names them for the same call refused for its input over gRPC. The
// body and query, refused, are left out. An empty request when the
// path sets no field, or gives a value that is not UTF-8 (which no
// request can carry).
func pathRequest(method string, r *http.Request) proto.Message {
	d, err := protoregistry.GlobalFiles.FindDescriptorByName(protoreflect.FullName(strings.ReplaceAll(strings.TrimPrefix(method, "/"), "/", ".")))
	md, ok := d.(protoreflect.MethodDescriptor)
	if err != nil || !ok {
		return &emptypb.Empty{}
	}
	rule, _ := proto.GetExtension(md.Options(), annotations.E_Http).(*annotations.HttpRule)
	fields, pattern := pathTemplate(routeTemplate(rule, r.Method))
	if len(fields) == 0 {
		return &emptypb.Empty{}
	}
	values := pattern.FindStringSubmatch(r.URL.EscapedPath())
	mt, err := protoregistry.GlobalTypes.FindMessageByName(md.Input().FullName())
	if values == nil || err != nil {
		return &emptypb.Empty{}
	}
	req := mt.New()
	for i, field := range fields {
		fd := req.Descriptor().Fields().ByName(protoreflect.Name(field))
		v, err := url.PathUnescape(values[i+1])
		if fd == nil || fd.Kind() != protoreflect.StringKind || fd.IsList() || err != nil || !utf8.ValidString(v) {
			return &emptypb.Empty{}
		}
		req.Set(fd, protoreflect.ValueOfString(v))
	}
	return req.Interface()
}

// routeTemplate is the path template of rule for an HTTP method, "" when
// the rule has none for it.
func routeTemplate(rule *annotations.HttpRule, method string) string {
	switch method {
	case http.MethodGet:
		return rule.GetGet()
	case http.MethodPost:
		return rule.GetPost()
	case http.MethodPut:
		return rule.GetPut()
	case http.MethodPatch:
		return rule.GetPatch()
	case http.MethodDelete:
		return rule.GetDelete()
	}
	return ""
}

// templateVariable matches a variable of a path template and what it
// matches: "{name=cases/*}", or "{name}" for a segment.
var templateVariable = regexp.MustCompile(`\{([a-z_]+)(?:=([^}]+))?\}`)

// pathTemplate returns the top-level fields a path template's variables
// set, and the pattern of the escaped paths it takes, one group per
// variable ("/v1/{name=cases/*}:acknowledge" sets name, and takes
// "/v1/cases/HN-2026-00001:acknowledge"); no fields for a template that
// has no variable or sets a nested field.
func pathTemplate(template string) ([]string, *regexp.Regexp) {
	var fields []string
	var b strings.Builder
	b.WriteString("^")
	prev := 0
	for _, m := range templateVariable.FindAllStringSubmatchIndex(template, -1) {
		field, segments := template[m[2]:m[3]], "*"
		if m[4] >= 0 {
			segments = template[m[4]:m[5]]
		}
		if strings.Contains(field, ".") {
			return nil, nil
		}
		fields = append(fields, field)
		var group []string
		for _, s := range strings.Split(segments, "/") {
			switch s {
			case "*":
				group = append(group, "[^/]+")
			case "**":
				group = append(group, ".+")
			default:
				group = append(group, regexp.QuoteMeta(s))
			}
		}
		b.WriteString(regexp.QuoteMeta(template[prev:m[0]]) + "(" + strings.Join(group, "/") + ")")
		prev = m[1]
	}
	b.WriteString(regexp.QuoteMeta(template[prev:]) + "$")
	pattern, err := regexp.Compile(b.String())
	if len(fields) == 0 || err != nil {
		return nil, nil
	}
	return fields, pattern
}
