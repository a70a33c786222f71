package app_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"mime"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/reflect/protoreflect"

	pb "github.com/childcase/childcase/api/childcase/v1"
	"github.com/childcase/childcase/api/openapi"
)

// apiContract is the OpenAPI document as a client generator reads it:
// the operations by path template and method, and the schemas of what
// they answer.
type apiContract struct {
	doc         map[string]any
	paths       map[string]any
	definitions map[string]any
}

func readContract(t *testing.T) *apiContract {
	t.Helper()
	var doc map[string]any
	if err := json.Unmarshal(openapi.JSON, &doc); err != nil {
		t.Fatal(err)
	}
	return &apiContract{doc: doc, paths: doc["paths"].(map[string]any), definitions: doc["definitions"].(map[string]any)}
}

// operation returns the documented operation that takes method on path
// (its query left off), and its path template.
func (c *apiContract) operation(method, path string) (string, map[string]any) {
	path, _, _ = strings.Cut(path, "?")
	for tmpl, ops := range c.paths {
		pattern := "^" + regexp.MustCompile(`\\\{[^}]+\\\}`).ReplaceAllString(regexp.QuoteMeta(tmpl), `[^/:]+`) + "$"
		if !regexp.MustCompile(pattern).MatchString(path) {
			continue
		}
		if op, ok := ops.(map[string]any)[strings.ToLower(method)].(map[string]any); ok {
			return tmpl, op
		}
	}
	return "", nil
}

// resolve follows a schema's $ref (and a lone allOf, the generator's way
// of describing a field that refers to a message).
func (c *apiContract) resolve(s map[string]any) map[string]any {
	for {
		if ref, ok := s["$ref"].(string); ok {
			s, _ = c.definitions[strings.TrimPrefix(ref, "#/definitions/")].(map[string]any)
			continue
		}
		if all, ok := s["allOf"].([]any); ok && len(all) == 1 {
			s = all[0].(map[string]any)
			continue
		}
		return s
	}
}

var (
	rfc3339    = regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$`)
	int64Text  = regexp.MustCompile(`^-?[0-9]+$`)
	uint64Text = regexp.MustCompile(`^[0-9]+$`)
)

// check returns how the JSON value v (as encoding/json decodes it into
// an any) departs from schema s: a field the schema does not name, a
// value of another type (an int64 is a string of digits, a timestamp is
// RFC 3339, an enum one of its names), a required field missing.
func (c *apiContract) check(at string, v any, s map[string]any) []string {
	s = c.resolve(s)
	if s == nil {
		return []string{at + ": the schema refers to no definition"}
	}
	var bad []string
	switch typ, _ := s["type"].(string); {
	case typ == "object" || s["properties"] != nil:
		obj, ok := v.(map[string]any)
		if !ok {
			return []string{fmt.Sprintf("%s: %s, want an object", at, short(v))}
		}
		props, _ := s["properties"].(map[string]any)
		keys := make([]string, 0, len(obj))
		for k := range obj {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			switch p, ok := props[k].(map[string]any); {
			case ok:
				bad = append(bad, c.check(at+"."+k, obj[k], p)...)
			case s["additionalProperties"] != nil:
				if ap, ok := s["additionalProperties"].(map[string]any); ok && len(ap) > 0 {
					bad = append(bad, c.check(at+"["+k+"]", obj[k], ap)...)
				}
			default:
				bad = append(bad, fmt.Sprintf("%s: field %q (%s) is not in the schema", at, k, short(obj[k])))
			}
		}
		required, _ := s["required"].([]any)
		for _, r := range required {
			if _, ok := obj[r.(string)]; !ok {
				bad = append(bad, fmt.Sprintf("%s: required field %q is missing", at, r))
			}
		}
	case typ == "array":
		arr, ok := v.([]any)
		if !ok {
			return []string{fmt.Sprintf("%s: %s, want an array", at, short(v))}
		}
		items, _ := s["items"].(map[string]any)
		for i, x := range arr {
			bad = append(bad, c.check(fmt.Sprintf("%s[%d]", at, i), x, items)...)
		}
	case typ == "string":
		str, ok := v.(string)
		if !ok {
			return []string{fmt.Sprintf("%s: %s, want a string (%v)", at, short(v), s["format"])}
		}
		if enum, ok := s["enum"].([]any); ok && !slices.Contains(enum, any(str)) {
			bad = append(bad, fmt.Sprintf("%s: %q is none of the enum's values", at, str))
		}
		switch s["format"] {
		case "date-time":
			if !rfc3339.MatchString(str) {
				bad = append(bad, fmt.Sprintf("%s: %q is not an RFC 3339 time", at, str))
			}
		case "int64":
			if !int64Text.MatchString(str) {
				bad = append(bad, fmt.Sprintf("%s: %q is not an int64", at, str))
			}
		case "uint64":
			if !uint64Text.MatchString(str) {
				bad = append(bad, fmt.Sprintf("%s: %q is not a uint64", at, str))
			}
		}
	case typ == "integer":
		if n, ok := v.(float64); !ok || n != float64(int64(n)) {
			bad = append(bad, fmt.Sprintf("%s: %s, want an integer", at, short(v)))
		}
	case typ == "number":
		if _, ok := v.(float64); !ok {
			bad = append(bad, fmt.Sprintf("%s: %s, want a number", at, short(v)))
		}
	case typ == "boolean":
		if _, ok := v.(bool); !ok {
			bad = append(bad, fmt.Sprintf("%s: %s, want a boolean", at, short(v)))
		}
	default:
		bad = append(bad, fmt.Sprintf("%s: the schema %v says nothing of what is sent (%s)", at, s, short(v)))
	}
	return bad
}

func short(v any) string {
	b, _ := json.Marshal(v)
	if len(b) > 80 {
		return string(b[:80]) + "..."
	}
	return string(b)
}

// documentedHeaders are the headers of an error answer a client acts
// on, by status: the challenge of a 401, the methods a path takes (405),
// how long to wait before a retry (429).
var documentedHeaders = map[int][]string{
	http.StatusUnauthorized:     {"WWW-Authenticate"},
	http.StatusMethodNotAllowed: {"Allow"},
	http.StatusTooManyRequests:  {"Retry-After"},
}

// answer checks one REST answer against the document: the operation
// taking the method and path, the status among its responses, and the
// body against that response's schema (each line of a JSON stream; a
// file's media type among those the operation produces).
func (c *apiContract) answer(t *testing.T, method, path string, resp *http.Response, body []byte) {
	t.Helper()
	at := fmt.Sprintf("%s %s: %d", method, path, resp.StatusCode)
	tmpl, op := c.operation(method, path)
	if op == nil && resp.StatusCode == http.StatusMethodNotAllowed {
		// A method the path does not take: its answer is documented on
		// the methods it does take.
		for _, m := range []string{"GET", "POST"} {
			if tmpl, op = c.operation(m, path); op != nil {
				break
			}
		}
	}
	if op == nil {
		t.Errorf("%s: the document has no operation for it", at)
		return
	}
	at = fmt.Sprintf("%s %s (%s): %d", method, tmpl, op["operationId"], resp.StatusCode)
	responses := op["responses"].(map[string]any)
	r, ok := responses[strconv.Itoa(resp.StatusCode)].(map[string]any)
	if !ok {
		t.Errorf("%s: the status is not among the operation's responses", at)
		r = responses["default"].(map[string]any)
	}
	headers, _ := r["headers"].(map[string]any)
	for name := range headers {
		if resp.Header.Get(name) == "" {
			t.Errorf("%s: the response documents the header %s, which the server does not send", at, name)
		}
	}
	// protoc-gen-openapiv2 drops the headers of the document's own
	// responses (those of every operation), so a header is documented in
	// the response's description, by name.
	for _, name := range documentedHeaders[resp.StatusCode] {
		if _, ok := headers[name]; !ok && !strings.Contains(r["description"].(string), name+" header") {
			t.Errorf("%s: the server sends %s: %q, which the response does not document", at, name, resp.Header.Get(name))
		}
	}
	schema, _ := r["schema"].(map[string]any)
	if len(schema) == 0 {
		t.Errorf("%s: the response documents no schema, but the server sends a body: %.120s", at, body)
		return
	}
	media, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	produces, ok := op["produces"].([]any)
	if !ok {
		produces, _ = c.doc["produces"].([]any)
	}
	if !slices.Contains(produces, any(media)) {
		t.Errorf("%s: answers %s, which the operation does not produce (%v)", at, media, produces)
	}
	if s := c.resolve(schema); s["format"] == "binary" {
		return // a file: its bytes are its own
	}
	if media != "application/json" {
		t.Errorf("%s: the response's schema is JSON, but the server sends %s: %.60q", at, media, body)
		return
	}
	values := [][]byte{body}
	if strings.Contains(r["description"].(string), "(streaming responses)") {
		values = nil
		for _, line := range strings.Split(strings.TrimSpace(string(body)), "\n") {
			values = append(values, []byte(line))
		}
	}
	for _, raw := range values {
		var v any
		if err := json.Unmarshal(raw, &v); err != nil {
			t.Errorf("%s: body not JSON: %.120s", at, raw)
			continue
		}
		for _, bad := range c.check("body", v, schema) {
			t.Errorf("%s: %s", at, bad)
		}
	}
}

// Every REST answer is what the OpenAPI document says of it, to the
// letter, for the hotline's client and the police system's integration,
// which are generated from the document: each field the server sends is
// in the schema under that JSON name and with that type (an int64 as a
// string, an enum by its name, a timestamp in RFC 3339), no required
// field is missing, the status is among the operation's responses, and an
// error's body is the google.rpc.Status the document describes. A file
// (a statistical report, an export, a backup) is documented as one, in
// the media type the server sends.
func TestRESTAnswersAreWhatTheOpenAPIDocumentSays(t *testing.T) {
	ts := startServer(t, "")
	ts.addUser(t, "supervisor", pb.Role_ROLE_HOTLINE_SUPERVISOR, "orgs/hotline-111")
	ts.addUser(t, "bd.worker", pb.Role_ROLE_COMMUNE_WORKER, pBaDinh)
	ts.addUser(t, "bd.chair", pb.Role_ROLE_COMMUNE_CHAIR, pBaDinh)
	ts.addUser(t, "city", pb.Role_ROLE_CITY_OFFICER, "units/01@2020-01-01")
	ts.addUser(t, "auditor", pb.Role_ROLE_AUDITOR, "orgs/system")
	ts.addPoliceUnit(t, "ca-ba-dinh", pBaDinh)
	ts.addUser(t, "police.bd", pb.Role_ROLE_POLICE_LIAISON, "policeUnits/ca-ba-dinh")
	contract := readContract(t)

	// A case far along its process, so that its answer holds deadlines,
	// assessments, a plan and a review; and one referred to the police.
	walked := openCase(t, ts, testNow.Add(-time.Hour), "00004")
	walkToReview(t, ts, "bd.worker", "bd.chair", walked)

	rest := func(user, method, path, body string) map[string]any {
		t.Helper()
		headers := map[string]string{}
		if user != "" {
			headers["Authorization"] = "Bearer " + ts.tokens.get(user)
		}
		if body != "" {
			headers["Content-Type"] = "application/json"
		}
		resp, raw := restResponse(t, ts, method, path, strings.NewReader(body), headers)
		contract.answer(t, method, path, resp, raw)
		var v map[string]any
		_ = json.Unmarshal(raw, &v)
		return v
	}

	report := rest(operatorID, "POST", "/v1/reports?request_id=schema-1", strings.Replace(restReport, `"reporter": {"anonymous": true}`,
		`"caregivers": [{"full_name": "Lê Thị Thu", "relation": "mẹ", "phone": "0987 111 222", "suspected_abuser": true}],
		 "reporter": {"identified": {"consent": true, "full_name": "Trần Thị Mai", "phone": "0912 345 678"}}`, 1))
	caseName, _ := report["case"].(string)
	if caseName == "" {
		t.Fatalf("the report opened no case: %v", report)
	}
	rest(operatorID, "GET", "/v1/"+report["name"].(string), "")
	rest(operatorID, "GET", "/v1/reports?page_size=1", "")
	rest("supervisor", "POST", "/v1/reports?validate_only=true", restReport)
	rest(operatorID, "GET", "/v1/"+caseName, "")
	rest(operatorID, "GET", "/v1/cases?page_size=1", "")
	rest("supervisor", "GET", "/v1/cases:search?commune_code=00004&birth_year=2019", "")
	c := rest("bd.worker", "GET", "/v1/"+caseName, "")
	c = rest("bd.worker", "POST", "/v1/"+caseName+":acknowledge", fmt.Sprintf(`{"etag": %q}`, c["etag"]))
	rest("bd.worker", "POST", "/v1/"+caseName+":referToPolice",
		fmt.Sprintf(`{"etag": %q, "police_unit": "policeUnits/ca-ba-dinh", "suspected_offence": "Điều 140 BLHS"}`, c["etag"]))
	rest("police.bd", "GET", "/v1/"+caseName, "")
	rest("police.bd", "GET", "/v1/cases", "")
	rest("bd.worker", "GET", "/v1/"+walked, "")
	rest("bd.worker", "GET", "/v1/"+walked+"/events?order_by=seq%20desc", "")
	rest("bd.worker", "GET", "/v1/cases?queue=CASE_QUEUE_MY_UNIT_OPEN", "")
	rest("bd.chair", "GET", "/v1/cases:export?format=EXPORT_FORMAT_CSV", "")
	rest(operatorID, "GET", "/v1/units/00004?as_of_date=2024-06-01", "")
	rest(operatorID, "GET", "/v1/units?parent=units/001@2020-01-01&page_size=2", "")
	rest(operatorID, "GET", "/v1/policeUnits", "")
	rest(operatorID, "GET", "/v1/policeUnits/ca-ba-dinh", "")
	rest("city", "GET", "/v1/statistics?start_date=2026-01-01&end_date=2026-12-31&group_by=month&group_by=unit", "")
	rest("city", "GET", "/v1/statistics:actionMonthReport?year=2026&format=csv", "")
	rest("city", "GET", "/v1/statistics:periodicReport?start_date=2026-01-01&end_date=2026-11-28&format=html", "")
	rest("auditor", "GET", "/v1/auditEvents?page_size=20", "")
	rest("auditor", "POST", "/v1/auditEvents:verify", `{}`)
	rest("admin", "GET", "/v1/users?page_size=3", "")
	rest("admin", "GET", "/v1/users/"+operatorID, "")
	rest("admin", "POST", "/v1/users/"+operatorID+"/tokens", `{"request_id": "schema-token"}`)
	rest("admin", "GET", "/v1/users/"+operatorID+"/tokens", "")
	rest("admin", "GET", "/v1/database:backup", "")
	rest("admin", "POST", "/v1/users?user_id=schema.user&token_ttl=3600s", `{"display_name": "Người thử", "role": "ROLE_COMMUNE_WORKER", "unit": "`+pBaDinh+`"}`)
	token := rest("admin", "POST", "/v1/users/schema.user/tokens", `{"ttl": "7200s"}`)
	rest("admin", "POST", "/v1/"+token["name"].(string)+":revoke", `{}`)
	rest("admin", "POST", "/v1/users/schema.user:resetPassword", `{}`)
	rest("admin", "POST", "/v1/users/schema.user:disable", `{}`)
	rest("admin", "POST", "/v1/policeUnits?police_unit_id=ca-hoan-kiem", `{"display_name": "Công an phường Hoàn Kiếm", "covers": ["`+pHoanKiem+`"]}`)
	counselling := rest(operatorID, "POST", "/v1/reports", strings.Replace(restReport, "CALL_TYPE_INTERVENTION", "CALL_TYPE_COUNSELLING", 1))
	rest(operatorID, "POST", "/v1/"+counselling["name"].(string)+":link", `{"case": "`+caseName+`"}`)
	rest("supervisor", "POST", "/v1/"+report["name"].(string)+":discloseReporter", `{"reason": "cần gọi lại người báo tin"}`)
	watchLine(t, contract, ts, "bd.worker")

	// The errors: each a google.rpc.Status, as the document's responses say.
	rest("", "GET", "/v1/cases", "")
	rest(operatorID, "GET", "/v1/users", "")
	rest(operatorID, "GET", "/v1/cases/HN-2026-00099", "")
	rest(operatorID, "DELETE", "/v1/cases", "")
	rest(operatorID, "POST", "/v1/reports", `{"channel": "CHANNEL_HOTLINE_111", "incident_commune_code": "4"}`)
	rest("bd.worker", "POST", "/v1/"+caseName+":addNote", `{"etag": "1", "text": "ghi chú"}`)
	rest(operatorID, "POST", "/v1/reports", `{"narrative": "`+strings.Repeat("a", 1<<20)+`"}`)
	rest("city", "GET", "/v1/statistics:actionMonthReport?year=1999", "")
	rest("bd.worker", "GET", "/v1/cases:export?format=EXPORT_FORMAT_CSV", "")
	// Failed sign-ins, until the client is made to wait (429).
	ts.tokens.put(t, "nobody", "cc_0000000000000000_"+strings.Repeat("A", 43))
	for i := 0; ; i++ {
		if v := rest("nobody", "GET", "/v1/cases", ""); v["code"] == float64(8) {
			break
		}
		if i == 50 {
			t.Fatal("50 failed authentications, and no 429")
		}
	}
}

// watchLine checks the first line of a watch replayed after the first
// against the document's schema of the stream's lines.
func watchLine(t *testing.T, contract *apiContract, ts *testServer, user string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	const path = "/v1/notifications:watch?after_seq=1" // replayed: what came after the first
	req, err := http.NewRequestWithContext(ctx, "GET", "http://"+ts.HTTPAddr()+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+ts.tokens.get(user))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	line, err := bufio.NewReader(resp.Body).ReadBytes('\n')
	if err != nil {
		t.Fatalf("watch: %d, no line: %v", resp.StatusCode, err)
	}
	contract.answer(t, "GET", path, resp, line)
}

// Each operation a client generator makes a function of has an
// operationId of its own and one tag the document describes (the
// generator's class), so that no two functions take one name and none
// lands in a class of no description.
func TestOpenAPIOperationIDsAndTags(t *testing.T) {
	contract := readContract(t)
	tags := map[string]bool{}
	for _, tag := range contract.doc["tags"].([]any) {
		tag := tag.(map[string]any)
		if d, _ := tag["description"].(string); d == "" {
			t.Errorf("tag %v has no description", tag["name"])
		}
		tags[tag["name"].(string)] = true
	}
	ids := map[string]string{}
	for path, ops := range contract.paths {
		for method, op := range ops.(map[string]any) {
			op := op.(map[string]any)
			at := strings.ToUpper(method) + " " + path
			id, _ := op["operationId"].(string)
			if id == "" {
				t.Errorf("%s: no operationId", at)
			} else if other, ok := ids[id]; ok {
				t.Errorf("%s and %s share the operationId %s", at, other, id)
			}
			ids[id] = at
			opTags, _ := op["tags"].([]any)
			if len(opTags) != 1 || !tags[opTags[0].(string)] {
				t.Errorf("%s: tags %v, want one of the document's tags", at, opTags)
			}
		}
	}
	if len(ids) < 60 {
		t.Errorf("%d operations; the API has more than 60", len(ids))
	}
}

// A google.protobuf.Duration is, in JSON, a number of seconds with an "s"
// ("7776000s"); the OpenAPI document types it as a bare string, so each
// one's description must show the form, or a client writes "90d" or
// "PT2H" (the ISO 8601 form many generators use for a duration) and is
// refused. Each Duration field of the API is found where the document
// has it (a body's property, a query parameter) and its description
// checked.
func TestOpenAPIDurationsSayTheirForm(t *testing.T) {
	contract := readContract(t)
	form := regexp.MustCompile(`"[0-9]+s"`)
	var walk func(md protoreflect.MessageDescriptor)
	seen := map[protoreflect.FullName]bool{}
	durations := 0
	walk = func(md protoreflect.MessageDescriptor) {
		if seen[md.FullName()] || md.ParentFile().Package() != "childcase.v1" {
			return
		}
		seen[md.FullName()] = true
		for i := 0; i < md.Fields().Len(); i++ {
			f := md.Fields().Get(i)
			if f.Message() == nil {
				continue
			}
			if f.Message().FullName() != "google.protobuf.Duration" {
				walk(f.Message())
				continue
			}
			durations++
			var docs []string
			for _, def := range []string{string(md.Name()), strings.TrimSuffix(string(md.Name()), "Request") + "Body"} {
				if d, ok := contract.definitions[def].(map[string]any); ok {
					if p, ok := d["properties"].(map[string]any)[string(f.Name())].(map[string]any); ok {
						docs = append(docs, p["description"].(string))
					}
				}
			}
			for _, ops := range contract.paths {
				for _, op := range ops.(map[string]any) {
					params, _ := op.(map[string]any)["parameters"].([]any)
					for _, p := range params {
						if p := p.(map[string]any); p["name"] == string(f.Name()) && p["in"] == "query" {
							docs = append(docs, p["description"].(string))
						}
					}
				}
			}
			if len(docs) == 0 {
				t.Errorf("%s: a Duration the document does not show", f.FullName())
			}
			for _, d := range docs {
				if !form.MatchString(d) {
					t.Errorf("%s: %q does not show a duration's form (seconds and s, e.g. \"3600s\")", f.FullName(), d)
				}
			}
		}
	}
	for _, m := range childcaseMethods(t) {
		walk(m.Input())
		walk(m.Output())
	}
	if durations < 2 {
		t.Errorf("found %d Duration fields; the API has 2 at least (token_ttl, ttl)", durations)
	}
}

// Every field of every schema the API answers is described in the
// OpenAPI document, as every field a client sends is
// (TestOpenAPIDescribesEveryRequestField): a client generated from the
// document shows the description as the field's doc, and the hotline's
// and the police system's integrations act on what they read. A
// notification's seq (what a watch resumes after), a referral's
// investigation_agency or a deadline's overdue were bare. So were the
// fields of Status, the body of every error answer: it was left out of
// this walk as "described by the generator", which gives google.rpc's
// Status no words, and a newcomer met "code": 3 on a 400 with nothing to
// say that it is the gRPC code, not the HTTP status.
func TestOpenAPIDescribesEveryAnswerField(t *testing.T) {
	doc := readOpenAPI(t)
	fields := 0
	for name, def := range doc.Definitions {
		for field, p := range def.Properties {
			fields++
			if p.Description == "" && p.Title == "" {
				t.Errorf("%s.%s has no description", name, field)
			}
		}
	}
	if fields < 300 {
		t.Errorf("found %d fields in the document's schemas; it has more than 300", fields)
	}
}

// Each path answers only the methods the OpenAPI document lists for it:
// any other is 405 METHOD_NOT_ALLOWED with an Allow header naming exactly
// those. A custom verb's path (/v1/cases/{case}:acknowledge, POST) was
// taken by GET for the resource's own GET, its name "cases/…:acknowledge"
// (a 400 on the case name), and its 405s offered "GET, POST".
func TestRESTPathsTakeTheDocumentedMethodsOnly(t *testing.T) {
	ts := startServer(t, "")
	contract := readContract(t)
	param := regexp.MustCompile(`\{[^}]+\}`)
	headers := map[string]string{"Authorization": "Bearer " + ts.tokens.get(operatorID), "Content-Type": "application/json"}
	paths := 0
	for tmpl, ops := range contract.paths {
		paths++
		path := param.ReplaceAllString(tmpl, "x1")
		var want []string
		for method := range ops.(map[string]any) {
			want = append(want, strings.ToUpper(method))
		}
		sort.Strings(want)
		for _, method := range []string{"GET", "POST", "PATCH", "PUT", "DELETE"} {
			if slices.Contains(want, method) {
				continue
			}
			resp, raw := restResponse(t, ts, method, path, strings.NewReader(`{}`), headers)
			var body struct {
				Details []struct {
					Reason string `json:"reason"`
				} `json:"details"`
			}
			_ = json.Unmarshal(raw, &body)
			if resp.StatusCode != http.StatusMethodNotAllowed || len(body.Details) == 0 || body.Details[0].Reason != "METHOD_NOT_ALLOWED" {
				t.Errorf("%s %s: %d %.160s; want 405 METHOD_NOT_ALLOWED", method, path, resp.StatusCode, raw)
				continue
			}
			if allow := resp.Header.Get("Allow"); allow != strings.Join(want, ", ") {
				t.Errorf("%s %s: Allow %q, want %q as documented", method, path, allow, strings.Join(want, ", "))
			}
		}
	}
	if paths < 50 {
		t.Errorf("%d paths in the document; it has more than 50", paths)
	}
}

// TestOpenAPISaysHowNamesRetriesAndEtagsWork: a client written from the
// OpenAPI document alone learned no case number's form (its {case}
// parameter is a bare string: the generator drops the field's comment
// when it expands cases/* into the path), nor what request_id and etag
// do, nor that fields are snake_case and enums names. The document's
// description says so, and what it says holds: the enum it names is
// one, the fields it names are the document's, and a case number typed
// as it says names the case.
func TestOpenAPISaysHowNamesRetriesAndEtagsWork(t *testing.T) {
	contract := readContract(t)
	desc, _ := contract.doc["info"].(map[string]any)["description"].(string)
	for _, want := range []string{
		"cases/{case_number}", "HN-{year}-{sequence}", "HN-2026-00123", "hn 2026 123", "rule case.name",
		"request_id", "REQUEST_ID_REUSED", "etag", "ETAG_MISMATCH", "next_page_token",
		"receive_time", "page_size", "CASE_STATUS_AWAITING_ACKNOWLEDGEMENT", "64-bit integers as strings", "RFC 3339",
	} {
		if !strings.Contains(desc, want) {
			t.Errorf("the OpenAPI document's description does not say %q:\n%s", want, desc)
		}
	}
	status := contract.resolve(contract.definitions["Case"].(map[string]any)["properties"].(map[string]any)["status"].(map[string]any))
	if status["type"] != "string" || !slices.Contains(status["enum"].([]any), any("CASE_STATUS_AWAITING_ACKNOWLEDGEMENT")) {
		t.Errorf("the case's status is documented as %v, want a string enum holding CASE_STATUS_AWAITING_ACKNOWLEDGEMENT", status)
	}
	if _, ok := contract.definitions["Report"].(map[string]any)["properties"].(map[string]any)["receive_time"]; !ok {
		t.Error("the document's Report has no receive_time, which its description names")
	}

	ts := startServer(t, "")
	created, err := ts.reports().CreateReport(context.Background(), &pb.CreateReportRequest{Report: validReport()})
	if err != nil {
		t.Fatal(err)
	}
	number := strings.TrimPrefix(created.GetCase(), "cases/") // HN-2026-00001
	typed := "hn 2026 " + strings.TrimLeft(number[len("HN-2026-"):], "0")
	auth := map[string]string{"Authorization": "Bearer " + ts.tokens.get(operatorID)}
	code, raw := restRaw(t, ts, "GET", "/v1/cases/"+url.PathEscape(typed), "", auth)
	if code != 200 || !strings.Contains(string(raw), `"name":"`+created.GetCase()+`"`) && !strings.Contains(string(raw), `"name": "`+created.GetCase()+`"`) {
		t.Errorf("GET /v1/cases/%s, typed as the document says: %d %.300s, want %s", typed, code, raw, created.GetCase())
	}
	if code, raw := restRaw(t, ts, "GET", "/v1/cases/HN-26-1", "", auth); code != 400 || !strings.Contains(string(raw), "case.name") {
		t.Errorf("GET /v1/cases/HN-26-1: %d %.300s, want 400 naming case.name", code, raw)
	}
}
