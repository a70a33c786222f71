package app_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"google.golang.org/genproto/googleapis/api/annotations"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	pb "github.com/childcase/childcase/api/childcase/v1"
	"github.com/childcase/childcase/api/openapi"
	"github.com/childcase/childcase/internal/transport/grpcapi"
)

// restCall sends a JSON request as the operator and decodes the JSON answer.
func restCall(t *testing.T, ts *testServer, method, path, body string) (int, map[string]any) {
	t.Helper()
	code, raw := restRaw(t, ts, method, path, body, map[string]string{
		"Content-Type":  "application/json",
		"Authorization": "Bearer " + ts.tokens.get(operatorID),
	})
	var out map[string]any
	if err := json.Unmarshal(raw, &out); err != nil {
		t.Fatalf("%s %s: %d, body not JSON: %s", method, path, code, raw)
	}
	return code, out
}

// restRaw sends a request with the given headers and returns the status
// and the raw body.
func restRaw(t *testing.T, ts interface{ HTTPAddr() string }, method, path, body string, headers map[string]string) (int, []byte) {
	t.Helper()
	if s, ok := ts.(*testServer); ok {
		s.sent.recordJSON(body)
	}
	return restRawFrom(t, ts, method, path, strings.NewReader(body), headers)
}

// restRawFrom is restRaw with the body read from r: a reader whose length
// the client cannot know beforehand (not a strings.Reader, bytes.Reader or
// bytes.Buffer) is sent chunked.
func restRawFrom(t *testing.T, ts interface{ HTTPAddr() string }, method, path string, r io.Reader, headers map[string]string) (int, []byte) {
	t.Helper()
	resp, raw := restResponse(t, ts, method, path, r, headers)
	return resp.StatusCode, raw
}

// restResponse is restRawFrom with the whole response, for its status
// line and headers; its body is read and closed.
func restResponse(t *testing.T, ts interface{ HTTPAddr() string }, method, path string, r io.Reader, headers map[string]string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, "http://"+ts.HTTPAddr()+path, r)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, raw
}

const restReport = `{
  "channel": "CHANNEL_HOTLINE_111",
  "receive_time": "2026-11-28T02:00:00Z",
  "incident_commune_code": "00004",
  "call_type": "CALL_TYPE_INTERVENTION",
  "children": [{"estimated_age_years": 7, "sex": "SEX_MALE", "condition": "bỏ đói"}],
  "suspected_abuse": ["ABUSE_FORM_NEGLECT"],
  "reporter": {"anonymous": true}
}`

func TestRESTIntakeToCase(t *testing.T) {
	ts := startServer(t, "")

	code, rep := restCall(t, ts, "POST", "/v1/reports?request_id=rest-1", restReport)
	if code != http.StatusOK {
		t.Fatalf("create: %d %v", code, rep)
	}
	caseName, _ := rep["case"].(string)
	if caseName != "cases/HN-2026-00001" {
		t.Fatalf("case = %q", caseName)
	}
	// Retry: same report, no second case.
	if code, again := restCall(t, ts, "POST", "/v1/reports?request_id=rest-1", restReport); code != 200 || again["name"] != rep["name"] {
		t.Fatalf("retry: %d %v", code, again)
	}

	code, c := restCall(t, ts, "GET", "/v1/"+caseName, "")
	if code != 200 || c["case_number"] != "HN-2026-00001" || c["status"] != "CASE_STATUS_AWAITING_ACKNOWLEDGEMENT" {
		t.Fatalf("get case: %d %v", code, c)
	}
	code, r := restCall(t, ts, "GET", "/v1/"+rep["name"].(string), "")
	if code != 200 || r["case"] != caseName {
		t.Fatalf("get report: %d %v", code, r)
	}

	// Link a counselling call through REST.
	counselling := strings.Replace(restReport, "CALL_TYPE_INTERVENTION", "CALL_TYPE_COUNSELLING", 1)
	code, call := restCall(t, ts, "POST", "/v1/reports", counselling)
	if code != 200 || call["case"] != nil {
		t.Fatalf("counselling: %d %v", code, call)
	}
	code, linked := restCall(t, ts, "POST", "/v1/"+call["name"].(string)+":link", `{"case": "`+caseName+`"}`)
	if code != 200 || linked["case"] != caseName {
		t.Fatalf("link: %d %v", code, linked)
	}

	code, list := restCall(t, ts, "GET", "/v1/cases?responsible_unit=units/00004@2025-07-01&status=CASE_STATUS_AWAITING_ACKNOWLEDGEMENT&page_size=10", "")
	if cases, _ := list["cases"].([]any); code != 200 || len(cases) != 1 {
		t.Fatalf("list cases: %d %v", code, list)
	}
	code, reports := restCall(t, ts, "GET", "/v1/reports", "")
	if rs, _ := reports["reports"].([]any); code != 200 || len(rs) != 2 {
		t.Fatalf("list reports: %d %v", code, reports)
	}

	code, missing := restCall(t, ts, "GET", "/v1/cases/HN-2026-00077", "")
	if code != http.StatusNotFound {
		t.Errorf("missing case: %d %v", code, missing)
	}
}

func TestRESTInvalidBodyNamesField(t *testing.T) {
	ts := startServer(t, "")
	tests := []struct {
		name, body, wantInMessage string
	}{
		{"bad commune code", strings.Replace(restReport, `"00004"`, `"4"`, 1), "report.incident_commune_code"},
		{"unknown commune", strings.Replace(restReport, `"00004"`, `"99999"`, 1), "report.incident_commune_code"},
		// The field, not the value sent (TestRESTRefusalsNeverQuoteTheValueSent).
		{"unknown enum name", strings.Replace(restReport, "CHANNEL_HOTLINE_111", "CHANNEL_CARRIER_PIGEON", 1), "report.channel: takes one of the names"},
		{"wrong type", strings.Replace(restReport, `"estimated_age_years": 7`, `"estimated_age_years": "seven"`, 1), "estimatedAgeYears"},
		{"not JSON", `{"channel":`, "unexpected"},
		{"no reporter", strings.Replace(restReport, `"reporter": {"anonymous": true}`, `"narrative": ""`, 1), "report.reporter"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, body := restCall(t, ts, "POST", "/v1/reports", tt.body)
			msg, _ := body["message"].(string)
			if code != http.StatusBadRequest || !strings.Contains(msg, tt.wantInMessage) {
				t.Errorf("got %d %q, want 400 naming %q", code, msg, tt.wantInMessage)
			}
		})
	}
	// Nothing was written by any refused request.
	_, list := restCall(t, ts, "GET", "/v1/reports", "")
	if rs, _ := list["reports"].([]any); len(rs) != 0 {
		t.Errorf("refused requests left %d reports", len(rs))
	}
}

func TestOpenAPIDocumentsEveryRoute(t *testing.T) {
	ts := startServer(t, "")
	resp, err := http.Get("http://" + ts.HTTPAddr() + "/openapi.json")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var doc struct {
		Paths map[string]map[string]any `json:"paths"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&doc); err != nil {
		t.Fatal(err)
	}
	// Every HTTP rule in the schema must be in the document, and every
	// childcase method must have one.
	want := map[string]string{}
	methods := 0
	for _, m := range childcaseMethods(t) {
		method, path := httpRule(t, m)
		want[method+" "+path] = string(m.Name())
		methods++
	}
	for route, rpc := range want {
		method, path, _ := strings.Cut(route, " ")
		if _, ok := doc.Paths[path][strings.ToLower(method)]; !ok {
			t.Errorf("openapi.json lacks %s (%s)", route, rpc)
		}
	}
	if len(want) != methods || methods < 20 {
		t.Errorf("found %d distinct HTTP rules for %d methods", len(want), methods)
	}

	health, err := http.Get("http://" + ts.HTTPAddr() + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(health.Body)
	health.Body.Close()
	if health.StatusCode != 200 || !bytes.HasPrefix(b, []byte("ok")) {
		t.Errorf("healthz: %d %q", health.StatusCode, b)
	}
}

// httpRule returns the method and the OpenAPI path of an RPC's HTTP rule,
// with "{name=reports/*}" written as "reports/{report}" as in the document.
func httpRule(t *testing.T, m protoreflect.MethodDescriptor) (string, string) {
	t.Helper()
	rule, ok := proto.GetExtension(m.Options(), annotations.E_Http).(*annotations.HttpRule)
	if !ok || rule == nil {
		t.Fatalf("%s has no HTTP rule", m.FullName())
	}
	var method, path string
	switch p := rule.GetPattern().(type) {
	case *annotations.HttpRule_Get:
		method, path = "GET", p.Get
	case *annotations.HttpRule_Post:
		method, path = "POST", p.Post
	case *annotations.HttpRule_Patch:
		method, path = "PATCH", p.Patch
	case *annotations.HttpRule_Delete:
		method, path = "DELETE", p.Delete
	default:
		t.Fatalf("%s: unexpected rule %v", m.FullName(), rule)
	}
	// "{name=users/*/tokens/*}" becomes "users/{user}/tokens/{token}".
	variable := regexp.MustCompile(`\{[a-z_]+=([^}]+)\}`)
	segment := regexp.MustCompile(`([A-Za-z]+)s/\*`)
	return method, variable.ReplaceAllStringFunc(path, func(v string) string {
		pattern := variable.FindStringSubmatch(v)[1]
		return segment.ReplaceAllString(pattern, "${1}s/{${1}}")
	})
}

// openAPIDoc is what the tests read of the OpenAPI document: its
// operations and their parameters and responses, and its schemas.
type openAPIDoc struct {
	Paths map[string]map[string]struct {
		OperationID string `json:"operationId"`
		Summary     string `json:"summary"`
		Description string `json:"description"`
		Parameters  []struct {
			Name        string `json:"name"`
			In          string `json:"in"`
			Description string `json:"description"`
			Schema      struct {
				Ref string `json:"$ref"`
			} `json:"schema"`
		} `json:"parameters"`
		Responses map[string]struct {
			Description string `json:"description"`
		} `json:"responses"`
	} `json:"paths"`
	Definitions map[string]struct {
		Description string                     `json:"description"`
		Properties  map[string]openAPIProperty `json:"properties"`
	} `json:"definitions"`
}

// openAPIProperty is a schema's property.
type openAPIProperty struct {
	Description string         `json:"description"`
	Title       string         `json:"title"`
	Ref         string         `json:"$ref"`
	Items       map[string]any `json:"items"`
	ReadOnly    bool           `json:"readOnly"`
}

// readOpenAPI reads the OpenAPI document the server serves.
func readOpenAPI(t *testing.T) openAPIDoc {
	t.Helper()
	var doc openAPIDoc
	if err := json.Unmarshal(openapi.JSON, &doc); err != nil {
		t.Fatal(err)
	}
	return doc
}

// The OpenAPI document, which the hotline's client developers read, says
// what today's additions mean: a body over the limit (413 on every
// operation), the closure ground TURNED_16 and its refusal, and the token
// fields of an audit event; and each description is its own (the closure
// grounds' once began with the deadline's "A clock running on a case").
func TestOpenAPIDocumentsLimitsGroundsAndTokens(t *testing.T) {
	doc := readOpenAPI(t)
	tooLarge := doc.Paths["/v1/reports"]["post"].Responses["413"].Description
	for _, want := range []string{"1 MiB", "BODY_TOO_LARGE", "nothing was done"} {
		if !strings.Contains(tooLarge, want) {
			t.Errorf("POST /v1/reports: the 413 response %q does not say %q", tooLarge, want)
		}
	}
	encoded := doc.Paths["/v1/reports"]["post"].Responses["415"].Description
	for _, want := range []string{"Content-Encoding", "identity", grpcapi.ReasonUnsupportedContentEncoding, "nothing was done"} {
		if !strings.Contains(encoded, want) {
			t.Errorf("POST /v1/reports: the 415 response %q does not say %q", encoded, want)
		}
	}
	ground := doc.Definitions["ClosureGround"].Description
	if !strings.HasPrefix(ground, "The lawful ground on which a case closes.") {
		t.Errorf("ClosureGround's description does not begin with what it is: %q", ground)
	}
	for _, want := range []string{"CLOSURE_GROUND_TURNED_16: Every child", "FAILED_PRECONDITION", "CHILD_UNDER_16", "CLOSURE_GROUND_TURNED_18"} {
		if !strings.Contains(ground, want) {
			t.Errorf("ClosureGround's description lacks %q: %q", want, ground)
		}
	}
	if d := doc.Definitions["Deadline"].Description; !strings.HasPrefix(d, "A clock running on a case.") {
		t.Errorf("Deadline's description = %q, want it to begin with what a deadline is", d)
	}
	event := doc.Definitions["AuditEvent"].Properties
	for field, want := range map[string]string{"token": "users/{user}/tokens/{token}", "token_created_by": "users/system"} {
		if !strings.Contains(event[field].Description, want) {
			t.Errorf("AuditEvent.%s: description %q does not say %q", field, event[field].Description, want)
		}
	}
}

// Every status the REST gateway answers for an error the service gives
// is a response of every operation in the OpenAPI document, whose
// description names the ErrorInfo reasons behind it: a client generated
// from the document must not meet a 400 (a field's rule, a step the
// case's state does not allow), a 409 (a stale etag, a reused
// request_id), a 405 or a 503 that it does not list, nor take every 429
// for too many failed sign-ins when the database may be full. The
// statuses come from the gateway's own mapping of the gRPC codes.
func TestOpenAPIDocumentsEveryErrorStatus(t *testing.T) {
	doc := readOpenAPI(t)
	for _, tt := range []struct {
		code    codes.Code
		reasons []string
	}{
		{codes.InvalidArgument, []string{grpcapi.ReasonInvalidField, "BadRequest"}},
		{codes.FailedPrecondition, []string{"FAILED_PRECONDITION"}},
		{codes.Unauthenticated, []string{grpcapi.ReasonUnauthenticated}},
		{codes.PermissionDenied, []string{grpcapi.ReasonPermissionDenied}},
		{codes.NotFound, []string{grpcapi.ReasonNotFound, "outside the caller's scope"}},
		{codes.AlreadyExists, []string{grpcapi.ReasonRequestIDReused, grpcapi.ReasonAlreadyExists}},
		{codes.Aborted, []string{grpcapi.ReasonEtagMismatch}},
		{codes.ResourceExhausted, []string{grpcapi.ReasonThrottled, grpcapi.ReasonDatabaseFull, grpcapi.ReasonCommitTooLarge, grpcapi.ReasonTooManyStreams}},
		{codes.Unavailable, []string{grpcapi.ReasonUnavailable, grpcapi.ReasonOutcomeUnknown, "request_id"}},
	} {
		status := strconv.Itoa(runtime.HTTPStatusFromCode(tt.code))
		for path, ops := range doc.Paths {
			for method, op := range ops {
				d, ok := op.Responses[status]
				if !ok {
					t.Errorf("%s %s: no %s response (%s)", method, path, status, tt.code)
					continue
				}
				for _, want := range tt.reasons {
					if !strings.Contains(d.Description, want) {
						t.Errorf("%s %s: the %s response does not name %s: %q", method, path, status, want, d.Description)
					}
				}
			}
		}
	}
	if d := doc.Paths["/v1/reports"]["post"].Responses["405"].Description; !strings.Contains(d, grpcapi.ReasonMethodNotAllowed) || !strings.Contains(d, "Allow") {
		t.Errorf("POST /v1/reports: the 405 response %q does not name METHOD_NOT_ALLOWED and the Allow header", d)
	}
}

// The OpenAPI document describes what a client sends: every operation,
// every query parameter and every field of a request body, down through
// the messages it holds (a path parameter the generator names from the
// path, {case}, carries no description of its own; the operation's says
// what it is). A field a client must fill in without a word on what it
// means, as the reason of a step or a child's sex was, is guessed.
func TestOpenAPIDescribesEveryRequestField(t *testing.T) {
	doc := readOpenAPI(t)
	seen := map[string]bool{}
	var walk func(ref, at string)
	walk = func(ref, at string) {
		name := strings.TrimPrefix(ref, "#/definitions/")
		if name == "" || seen[name] {
			return
		}
		seen[name] = true
		for field, p := range doc.Definitions[name].Properties {
			if p.ReadOnly {
				continue
			}
			if p.Description == "" && p.Title == "" {
				t.Errorf("%s: field %s.%s has no description", at, name, field)
			}
			walk(p.Ref, at)
			if r, ok := p.Items["$ref"].(string); ok {
				walk(r, at)
			}
		}
	}
	for path, ops := range doc.Paths {
		for method, op := range ops {
			at := strings.ToUpper(method) + " " + path
			if op.Summary == "" && op.Description == "" {
				t.Errorf("%s: the operation has no description", at)
			}
			for _, p := range op.Parameters {
				switch p.In {
				case "query":
					if p.Description == "" {
						t.Errorf("%s: query parameter %s has no description", at, p.Name)
					}
				case "body":
					walk(p.Schema.Ref, at)
				}
			}
		}
	}
}

// Every list's next_page_token says, in the OpenAPI document, what
// AIP-158 has a client rely on: only an empty one ends the list, and a
// page may hold fewer than page_size, even none, with a token to go on.
// Four lists said nothing of it, and a client stopping at a short page
// would miss the rest.
func TestOpenAPISaysHowEveryListEnds(t *testing.T) {
	doc := readOpenAPI(t)
	lists := 0
	for name, def := range doc.Definitions {
		next, ok := def.Properties["next_page_token"]
		if !ok {
			continue
		}
		lists++
		for _, want := range []string{"Empty on the last page", "fewer than page_size"} {
			if !strings.Contains(next.Description, want) {
				t.Errorf("%s.next_page_token: %q does not say %q", name, next.Description, want)
			}
		}
	}
	if lists < 8 {
		t.Errorf("found %d list responses; the API has at least 8", lists)
	}
}

// TestOpenAPIDocumentsTheTokenLifetimeBounds: a token's lifetime is
// refused below 1 minute, "0s" too, and the OpenAPI document said only
// "default 90 days, at most 400 days", so a client written from it sent a
// lifetime it believed allowed and was refused. Each bound the document
// gives holds at the server, over REST.
func TestOpenAPIDocumentsTheTokenLifetimeBounds(t *testing.T) {
	doc := readOpenAPI(t)
	descriptions := map[string]string{
		"ttl": doc.Definitions["CreateTokenBody"].Properties["ttl"].Description,
	}
	for _, p := range doc.Paths["/v1/users"]["post"].Parameters {
		if p.Name == "token_ttl" {
			descriptions[p.Name] = p.Description
		}
	}
	for _, field := range []string{"ttl", "token_ttl"} {
		descriptions[field] = strings.Join(strings.Fields(descriptions[field]), " ") // the comment's line breaks
		for _, want := range []string{"90 days when left out", "at least 1 minute", "at most 400 days", `"0s" is refused`} {
			if !strings.Contains(descriptions[field], want) {
				t.Errorf("the document's %s does not say %q: %q", field, want, descriptions[field])
			}
		}
	}

	ts := startServer(t, "")
	ts.addUser(t, "admin.test", pb.Role_ROLE_ADMIN, "orgs/system")
	ts.addUser(t, "lan.nguyen", pb.Role_ROLE_HOTLINE_OPERATOR, "orgs/hotline-111")
	auth := map[string]string{"Authorization": "Bearer " + ts.tokens.get("admin.test")}
	for _, tc := range []struct {
		ttl  string
		code int
	}{{`"0s"`, 400}, {`"59s"`, 400}, {`"60s"`, 200}, {`"34560000s"`, 200}, {`"34560001s"`, 400}} {
		code, raw := restRaw(t, ts, "POST", "/v1/users/lan.nguyen/tokens", `{"ttl": `+tc.ttl+`}`, auth)
		if code != tc.code {
			t.Errorf("ttl %s: %d %.300s, want %d as the document says", tc.ttl, code, raw, tc.code)
		}
	}
}
