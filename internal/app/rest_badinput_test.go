package app_test

import (
	"bytes"
	"compress/gzip"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"

	pb "github.com/childcase/childcase/api/childcase/v1"
	"github.com/childcase/childcase/internal/app"
	"github.com/childcase/childcase/internal/transport/grpcapi"
	"github.com/childcase/childcase/internal/transport/httpapi"
)

// Bad input over REST: every request below answers 4xx with a JSON
// message, never 5xx, and writes nothing.
func TestRESTBadInput(t *testing.T) {
	ts := startServer(t, "")
	// One report, so that list calls have something to page over.
	if code, body := restCall(t, ts, "POST", "/v1/reports", restReport); code != http.StatusOK {
		t.Fatalf("create: %d %v", code, body)
	}
	code, first := restCall(t, ts, "GET", "/v1/reports?page_size=1", "")
	if code != http.StatusOK {
		t.Fatalf("list: %d %v", code, first)
	}

	// A page token this service issued, for other filters, and damaged.
	if code, body := restCall(t, ts, "POST", "/v1/reports", restReport); code != http.StatusOK {
		t.Fatalf("create: %d %v", code, body)
	}
	code, page := restCall(t, ts, "GET", "/v1/reports?page_size=1", "")
	token, _ := page["next_page_token"].(string)
	if code != http.StatusOK || token == "" {
		t.Fatalf("no page token: %d %v", code, page)
	}
	raw, err := base64.RawURLEncoding.DecodeString(token)
	if err != nil {
		t.Fatalf("page token %q: %v", token, err)
	}
	mangled := []byte(token)
	mangled[len(mangled)/2] ^= 1
	forged := base64.RawURLEncoding.EncodeToString([]byte(strings.Replace(string(raw), ".", ".x", 1)))
	before := restReportCount(t, ts)

	deep := strings.Repeat("[", 100_000) + strings.Repeat("]", 100_000)
	big := `{"narrative": "` + strings.Repeat("x", 10<<20) + `"}`
	tests := []struct {
		name, method, path, body string
	}{
		{"malformed JSON", "POST", "/v1/reports", `{"channel": "CHANNEL_HOTLINE_111",`},
		{"not an object", "POST", "/v1/reports", `"a report"`},
		{"trailing garbage", "POST", "/v1/reports", restReport + `}}`},
		{"two objects", "POST", "/v1/reports", restReport + restReport},
		{"wrong type: string for number", "POST", "/v1/reports", strings.Replace(restReport, `"estimated_age_years": 7`, `"estimated_age_years": "seven"`, 1)},
		{"wrong type: object for string", "POST", "/v1/reports", strings.Replace(restReport, `"00004"`, `{"code": "00004"}`, 1)},
		{"wrong type: number for repeated", "POST", "/v1/reports", strings.Replace(restReport, `["ABUSE_FORM_NEGLECT"]`, `7`, 1)},
		{"number out of range", "POST", "/v1/reports", strings.Replace(restReport, `"estimated_age_years": 7`, `"estimated_age_years": 1e99`, 1)},
		{"bad timestamp", "POST", "/v1/reports", strings.Replace(restReport, `"2026-11-28T02:00:00Z"`, `"28/11/2026"`, 1)},
		{"unknown enum name", "POST", "/v1/reports", strings.Replace(restReport, "CHANNEL_HOTLINE_111", "CHANNEL_CARRIER_PIGEON", 1)},
		{"unknown enum number", "POST", "/v1/reports", strings.Replace(restReport, `"CHANNEL_HOTLINE_111"`, `4242`, 1)},
		{"invalid UTF-8 in a string", "POST", "/v1/reports", strings.Replace(restReport, "bỏ đói", "b\xff\xfe đói", 1)},
		{"lone surrogate escape", "POST", "/v1/reports", strings.Replace(restReport, "bỏ đói", `b\ud800`, 1)},
		{"10 MB body", "POST", "/v1/reports", big},
		{"deeply nested JSON", "POST", "/v1/reports", deep},
		{"deeply nested in a field", "POST", "/v1/reports", `{"narrative": ` + deep + `}`},
		{"unknown field", "POST", "/v1/reports", strings.Replace(restReport, `"channel"`, `"colour": "red", "channel"`, 1)},
		{"unknown nested field", "POST", "/v1/reports", strings.Replace(restReport, `"sex": "SEX_MALE"`, `"sex": "SEX_MALE", "shoe_size": 30`, 1)},
		{"output-only reporter", "POST", "/v1/reports", strings.Replace(restReport, `{"anonymous": true}`, `{"withheld": true}`, 1)},
		{"empty body", "POST", "/v1/reports", ``},
		{"page_size 1000000", "GET", "/v1/reports?page_size=1000000", ""},
		{"page_size negative", "GET", "/v1/reports?page_size=-1", ""},
		{"page_size not a number", "GET", "/v1/reports?page_size=lots", ""},
		{"page_size over int32", "GET", "/v1/reports?page_size=99999999999", ""},
		{"page token not base64", "GET", "/v1/reports?page_token=%21%21%21", ""},
		{"page token mangled", "GET", "/v1/reports?page_token=" + url.QueryEscape(string(mangled)), ""},
		{"page token forged", "GET", "/v1/reports?page_token=" + forged, ""},
		{"page token of other filters", "GET", "/v1/reports?call_type=CALL_TYPE_COUNSELLING&page_token=" + token, ""},
		{"page token of another list", "GET", "/v1/cases?page_token=" + token, ""},
		{"huge page token", "GET", "/v1/reports?page_token=" + strings.Repeat("A", 40_000), ""},
		{"bad report name", "GET", "/v1/reports/not-a-uuid", ""},
		{"bad case name", "GET", "/v1/cases/HN-2026-" + strings.Repeat("9", 300), ""},
		{"link with malformed JSON", "POST", "/v1/reports/01a222d5-bea0-7bea-bf64-debef56d112a:link", `{"case":`},
	}
	// The README's Reliability table gives the size of this table.
	if readme, err := os.ReadFile("../../README.md"); err != nil {
		t.Fatal(err)
	} else if says := fmt.Sprintf("%d-case REST table (`TestRESTBadInput`)", len(tests)); !strings.Contains(string(readme), says) {
		t.Errorf("the README's Reliability table does not say %q", says)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, raw := restRaw(t, ts, tt.method, tt.path, tt.body, map[string]string{
				"Content-Type":  "application/json",
				"Authorization": "Bearer " + ts.tokens.get(operatorID),
			})
			var answer struct {
				Code    *int   `json:"code"`
				Message string `json:"message"`
			}
			if err := json.Unmarshal(raw, &answer); err != nil || answer.Message == "" {
				t.Errorf("%d, answer is not a JSON message (%v): %.300q", code, err, raw)
			}
			if code < 400 || code >= 500 {
				t.Errorf("%d %.300s, want 4xx", code, raw)
			}
			if reason, domain := restErrorInfo(t, raw); reason == "" || domain != grpcapi.ErrorDomain {
				t.Errorf("no ErrorInfo with a reason and domain %q: %.300s", grpcapi.ErrorDomain, raw)
			}
			// A 400 names the field (or "body") and the rule, as every
			// refusal of bad input does; a 413 names the limit instead.
			if code == http.StatusBadRequest {
				named := false
				for _, v := range restFieldViolations(raw) {
					named = named || v.Field != "" && v.Reason != "" && strings.Contains(answer.Message, v.Field)
				}
				if !named {
					t.Errorf("400 without a BadRequest naming a field and its rule in the message: %.300s", raw)
				}
			}
		})
	}
	if after := restReportCount(t, ts); after != before {
		t.Errorf("refused requests changed the reports from %d to %d", before, after)
	}
}

// restReportCount counts the operator's reports over REST.
func restReportCount(t *testing.T, ts *testServer) int {
	t.Helper()
	code, list := restCall(t, ts, "GET", "/v1/reports?page_size=500", "")
	if code != http.StatusOK {
		t.Fatalf("list: %d %v", code, list)
	}
	if list["next_page_token"] != nil {
		t.Fatal("more than one page of reports")
	}
	reports, _ := list["reports"].([]any)
	return len(reports)
}

// A REST body over the gateway's 1 MiB limit answers 413 (Content Too
// Large) with the gateway's JSON error (code, a message naming the limit,
// ErrorInfo reason BODY_TOO_LARGE), whether its length was announced or
// it came chunked, and writes nothing: the body is a valid report padded
// with white space, which would be recorded if it were read whole.
func TestRESTBodyOverLimit(t *testing.T) {
	ts := startServer(t, "")
	before := restReportCount(t, ts)
	padded := restReport + strings.Repeat(" ", httpapi.MaxBodyBytes)
	for _, chunked := range []bool{false, true} {
		var body io.Reader = strings.NewReader(padded)
		if chunked {
			// No length known: the client sends it chunked, and the
			// server learns its size only by reading it.
			body = io.MultiReader(body)
		}
		code, raw := restRawFrom(t, ts, "POST", "/v1/reports", body, map[string]string{
			"Content-Type":  "application/json",
			"Authorization": "Bearer " + ts.tokens.get(operatorID),
		})
		type detail struct {
			Reason string `json:"reason"`
		}
		var answer struct {
			Code    int      `json:"code"`
			Message string   `json:"message"`
			Details []detail `json:"details"`
		}
		if err := json.Unmarshal(raw, &answer); err != nil {
			t.Errorf("chunked %v: the answer is not JSON (%v): %.300q", chunked, err, raw)
		}
		if code != http.StatusRequestEntityTooLarge || answer.Code != int(codes.InvalidArgument) || !strings.Contains(answer.Message, "1 MiB") {
			t.Errorf("chunked %v: %d %s, want 413 with code 3 and a message naming the 1 MiB limit", chunked, code, raw)
		}
		if !slices.Contains(answer.Details, detail{Reason: "BODY_TOO_LARGE"}) {
			t.Errorf("chunked %v: no ErrorInfo reason BODY_TOO_LARGE in %s", chunked, raw)
		}
	}
	// What the README shows a client: the status line (Go
	// names 413 by RFC 7231's words, not RFC 9110's "Content Too Large")
	// and the JSON error.
	resp, raw := restResponse(t, ts, "POST", "/v1/reports", strings.NewReader(padded),
		map[string]string{"Authorization": "Bearer " + ts.tokens.get(operatorID)})
	const readmeAnswer = `{"code":3,"message":"the request body is over the limit of 1 MiB (1048576 bytes): nothing was done","details":[{"@type":"type.googleapis.com/google.rpc.ErrorInfo","reason":"BODY_TOO_LARGE","domain":"childcase","metadata":{"limit_bytes":"1048576"}},{"@type":"type.googleapis.com/google.rpc.BadRequest","field_violations":[{"field":"body","description":"is over the limit of 1 MiB (1048576 bytes)","reason":"body.max_size"}]}]}`
	// protojson varies its spacing from build to build, so the bytes are
	// compared without it.
	var compact bytes.Buffer
	if err := json.Compact(&compact, raw); err != nil {
		t.Errorf("the answer is not JSON (%v): %.300q", err, raw)
	}
	if resp.Status != "413 Request Entity Too Large" || compact.String() != readmeAnswer {
		t.Errorf("the README's answer: got %s\n%s\nwant 413 Request Entity Too Large\n%s", resp.Status, raw, readmeAnswer)
	}
	if after := restReportCount(t, ts); after != before {
		t.Errorf("the refused bodies changed the reports from %d to %d", before, after)
	}
	// The same report within the limit is recorded: what was refused was
	// the size alone.
	if code, body := restCall(t, ts, "POST", "/v1/reports", restReport+strings.Repeat(" ", 1000)); code != http.StatusOK {
		t.Errorf("the report padded within the limit: %d %v", code, body)
	}
}

// A request body in a content coding (gzip, br, ...) is refused with
// 415, naming the header and what it takes, in the JSON error every
// refusal has: the gateway read the compressed bytes as JSON and answered
// "not JSON" (body.parse), which sent a client looking for a fault in
// its JSON. Nothing is done; identity is the body as it is, and passes.
func TestRESTContentEncodingIsRefused(t *testing.T) {
	ts := startServer(t, "")
	before := restReportCount(t, ts)
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	if _, err := zw.Write([]byte(restReport)); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	auth := "Bearer " + ts.tokens.get(operatorID)
	for _, tc := range []struct {
		name, method, path, encoding string
		body                         []byte
	}{
		{"gzip report", "POST", "/v1/reports?request_id=gz-1", "gzip", gz.Bytes()},
		{"gzip in capitals", "POST", "/v1/reports?request_id=gz-2", "GZIP", gz.Bytes()},
		{"br", "POST", "/v1/reports?request_id=gz-3", "br", gz.Bytes()},
		{"identity then gzip", "POST", "/v1/reports?request_id=gz-4", "identity, gzip", gz.Bytes()},
		{"gzip on a GET", "GET", "/v1/reports", "gzip", nil},
		{"a coding of 10 KB", "POST", "/v1/reports?request_id=gz-7", strings.Repeat("x", 10<<10), gz.Bytes()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, raw := restResponse(t, ts, tc.method, tc.path, bytes.NewReader(tc.body), map[string]string{
				"Content-Type": "application/json", "Content-Encoding": tc.encoding, "Authorization": auth,
			})
			var answer struct {
				Code    int    `json:"code"`
				Message string `json:"message"`
				Details []struct {
					Reason   string            `json:"reason"`
					Metadata map[string]string `json:"metadata"`
				} `json:"details"`
			}
			if err := json.Unmarshal(raw, &answer); err != nil {
				t.Fatalf("the answer is not JSON (%v): %.300q", err, raw)
			}
			if got := resp.Header.Get("Accept-Encoding"); got != "identity" {
				t.Errorf("Accept-Encoding %q on the 415, want identity (RFC 7694)", got)
			}
			if len(answer.Message) > 400 {
				t.Errorf("the message quotes %d bytes of the header: %.200q", len(answer.Message), answer.Message)
			}
			if resp.StatusCode != http.StatusUnsupportedMediaType || answer.Code != int(codes.InvalidArgument) ||
				!strings.Contains(answer.Message, "Content-Encoding") || !strings.Contains(answer.Message, "identity") {
				t.Errorf("%d %s; want 415 with code 3 and a message naming Content-Encoding and identity", resp.StatusCode, raw)
			}
			if len(answer.Details) != 2 || answer.Details[0].Reason != grpcapi.ReasonUnsupportedContentEncoding ||
				answer.Details[0].Metadata["header"] != "Content-Encoding" || answer.Details[0].Metadata["accepted"] != "identity" ||
				!strings.Contains(string(raw), `"field":"body"`) {
				t.Errorf("details %+v; want an ErrorInfo %s with header and accepted, and a BadRequest naming body", answer.Details, grpcapi.ReasonUnsupportedContentEncoding)
			}
		})
	}
	if after := restReportCount(t, ts); after != before {
		t.Errorf("the refused bodies changed the reports from %d to %d", before, after)
	}
	// Without a token, authentication comes first, as for every other
	// refusal of a request's input.
	if code, raw := restRawFrom(t, ts, "POST", "/v1/reports?request_id=gz-5", bytes.NewReader(gz.Bytes()), map[string]string{
		"Content-Type": "application/json", "Content-Encoding": "gzip",
	}); code != http.StatusUnauthorized {
		t.Errorf("without a token: %d %s, want 401", code, raw)
	}
	// identity is the body as sent.
	if code, raw := restRawFrom(t, ts, "POST", "/v1/reports?request_id=gz-6", strings.NewReader(restReport), map[string]string{
		"Content-Type": "application/json", "Content-Encoding": "identity", "Authorization": auth,
	}); code != http.StatusOK {
		t.Errorf("Content-Encoding: identity: %d %s, want 200", code, raw)
	}
}

// A REST body that cannot be read into the request (an enum name that
// does not exist, a number out of range, an unknown field, broken JSON)
// is INVALID_ARGUMENT naming the field and the rule, as a bad query
// parameter is (TestRESTQueryParameterNamesFieldAndRule) and as issue 2
// asks of every violation, not a bare message that a program cannot
// read: the field as the schema names it when the decoder names one,
// else the body.
func TestRESTBodyDecodeErrorNamesFieldAndRule(t *testing.T) {
	ts := startServer(t, "")
	before := restReportCount(t, ts)
	// The report with one more field, or with a field's value replaced.
	withField := func(field, value string) string {
		return strings.Replace(restReport, "{", "{"+`"`+field+`": `+value+", ", 1)
	}
	withValue := func(old, value string) string { return strings.Replace(restReport, old, value, 1) }
	for _, tc := range []struct{ name, body, field string }{
		{"enum name that does not exist", withValue(`"CALL_TYPE_INTERVENTION"`, `"CALL_TYPE_INTERVENTION_NEEDED"`), "report.call_type"},
		{"number out of range", withValue(`"estimated_age_years": 7`, `"estimated_age_years": 1e400`), "report.children[0].estimated_age_years"},
		{"bool that is a number", withField("immediate_danger", "5"), "report.immediate_danger"},
		{"unknown field", withField("nope", "1"), "report.nope"},
		{"unknown field of a child", withValue(`"sex": "SEX_MALE"`, `"sex": "SEX_MALE", "shoe_size": 30`), "report.children[0].shoe_size"},
		// A field sent twice, once by its JSON name: it is a field of the
		// schema, named as the schema names it, not as the body wrote it.
		{"field sent twice under its two names", withValue(`"receive_time": "2026-11-28T02:00:00Z"`, `"receive_time": "2026-11-28T02:00:00Z", "receiveTime": "2026-11-28T02:00:00Z"`), "report.receive_time"},
		// A second member of a oneof: the reporter is anonymous or
		// identified, and protojson names no field for it.
		{"reporter both anonymous and identified", withValue(`{"anonymous": true}`, `{"anonymous": true, "identified": {"consent": true}}`), "report.reporter.identified"},
		{"field of a child sent twice under its two names", withValue(`"estimated_age_years": 7`, `"estimated_age_years": 7, "estimatedAgeYears": 7`), "report.children[0].estimated_age_years"},
		// protojson names only the leaf of a value of the wrong type
		// (full_name of a child, a caregiver or the reporter alike), and
		// no field when a value is of the wrong JSON kind for a message,
		// a list or a timestamp: the field is the one whose value starts
		// where the decoder stopped, by its path in the request.
		{"string that is a number, deep", withValue(`"condition": "bỏ đói"`, `"condition": 5`), "report.children[0].condition"},
		{"timestamp that is no time", withValue(`"2026-11-28T02:00:00Z"`, `"yesterday"`), "report.receive_time"},
		{"list that is a string", withValue(`[{"estimated_age_years": 7, "sex": "SEX_MALE", "condition": "bỏ đói"}]`, `"bỏ đói"`), "report.children"},
		{"message that is a number", withValue(`{"anonymous": true}`, `5`), "report.reporter"},
		{"item of a list that is a string", withValue(`[{"estimated_age_years": 7, "sex": "SEX_MALE", "condition": "bỏ đói"}]`, `[{"estimated_age_years": 7}, "bỏ đói"]`), "report.children[1]"},
		// A child's age given twice, as estimated and by birth date: the
		// decoder refuses the second member of the oneof, which is the
		// field to fix, written as the schema or as JSON names it.
		{"second member of a oneof", withValue(`"estimated_age_years": 7`, `"estimated_age_years": 7, "birth_date": "2019-05-01"`), "report.children[0].birth_date"},
		{"second member of a oneof by its JSON name", withValue(`"estimated_age_years": 7`, `"birthDate": "2019-05-01", "estimatedAgeYears": 7`), "report.children[0].estimated_age_years"},
		{"not JSON", `{"channel": `, "body"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, raw := restRaw(t, ts, "POST", "/v1/reports", tc.body, map[string]string{"Authorization": "Bearer " + ts.tokens.get(operatorID)})
			grpcCode, _ := restViolations(t, raw)
			var got []string
			for _, v := range restFieldViolations(raw) {
				got = append(got, v.Field+" ["+v.Reason+"]")
			}
			if want := []string{tc.field + " [body.parse]"}; code != http.StatusBadRequest || grpcCode != int(codes.InvalidArgument) || !slices.Equal(got, want) {
				t.Errorf("%d %s: violations %v, want 400 INVALID_ARGUMENT naming %v", code, raw, got, want)
			}
		})
	}
	if after := restReportCount(t, ts); after != before {
		t.Errorf("%d reports after the refusals, want %d", after, before)
	}
}

// TestRESTBodyValueOfTheWrongKindSaysWhatTheFieldTakes: protojson's
// refusal of a value of the wrong JSON kind says what it found
// ("unexpected token \"bỏ đói\""), not what the field wants, so a
// newcomer who sent a string for an object was told of a syntax error.
// The refusal now begins with what the field takes, in JSON terms: an
// object and the fields a request may set in it (not the output-only
// ones), a list, a time, the names of an enum, true or false, a whole
// number.
func TestRESTBodyValueOfTheWrongKindSaysWhatTheFieldTakes(t *testing.T) {
	ts := startServer(t, "")
	withValue := func(old, value string) string { return strings.Replace(restReport, old, value, 1) }
	for _, tc := range []struct{ name, body, field, takes string }{
		{"object that is a number", withValue(`{"anonymous": true}`, `5`), "report.reporter", `takes a JSON object {"anonymous", "identified"}; `},
		{"list that is a string", withValue(`[{"estimated_age_years": 7, "sex": "SEX_MALE", "condition": "bỏ đói"}]`, `"bỏ đói"`), "report.children", `takes a JSON list, each item a JSON object {"full_name", `},
		{"time that is no time", withValue(`"2026-11-28T02:00:00Z"`, `"yesterday"`), "report.receive_time", `takes a time such as "2026-11-28T09:00:00+07:00" (RFC 3339); `},
		{"enum name that does not exist", withValue(`"CALL_TYPE_INTERVENTION"`, `"INTERVENTION"`), "report.call_type", `takes one of the names CALL_TYPE_INTERVENTION, `},
		{"bool that is a string", withValue(`"CALL_TYPE_INTERVENTION"`, `"CALL_TYPE_INTERVENTION", "immediate_danger": "yes"`), "report.immediate_danger", `takes true or false; `},
		{"number that is a word", withValue(`"estimated_age_years": 7`, `"estimated_age_years": "seven"`), "report.children[0].estimated_age_years", `takes a whole number; `},
		{"string that is a number, in a list's item", withValue(`"condition": "bỏ đói"`, `"condition": 5`), "report.children[0].condition", `takes a JSON string; `},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, raw := restRaw(t, ts, "POST", "/v1/reports", tc.body, map[string]string{"Authorization": "Bearer " + ts.tokens.get(operatorID)})
			var answer struct {
				Details []struct {
					FieldViolations []struct{ Field, Description string } `json:"field_violations"`
				} `json:"details"`
			}
			_ = json.Unmarshal(raw, &answer)
			var got []string
			for _, d := range answer.Details {
				for _, v := range d.FieldViolations {
					got = append(got, v.Field+": "+v.Description)
				}
			}
			if code != http.StatusBadRequest || len(got) != 1 || !strings.HasPrefix(got[0], tc.field+": "+tc.takes) {
				t.Errorf("%d, violations %q; want 400 with one, %q", code, got, tc.field+": "+tc.takes+"...")
			}
		})
	}
}

// TestRESTQueryEnumNameThatDoesNotExistSaysTheNames: a newcomer who
// filters the list by the status the case export shows
// (?status=AWAITING_ACKNOWLEDGEMENT, without its CASE_STATUS_ prefix)
// was told "status: is not a valid value", and not which names the
// parameter takes, though the same mistake in a body lists them
// (TestRESTBodyValueOfTheWrongKindSaysWhatTheFieldTakes). A query's enum
// refusal now begins with the names it takes too (and still quotes no
// value: TestRESTRefusalsNeverQuoteTheValueSent).
func TestRESTQueryEnumNameThatDoesNotExistSaysTheNames(t *testing.T) {
	ts := startServer(t, "")
	ts.addUser(t, "city", pb.Role_ROLE_CITY_OFFICER, pCity)
	for _, tc := range []struct{ path, field, takes string }{
		{"/v1/cases?status=AWAITING_ACKNOWLEDGEMENT", "status", "takes one of the names CASE_STATUS_AWAITING_ACKNOWLEDGEMENT, CASE_STATUS_INITIAL_ASSESSMENT, "},
		{"/v1/cases?queue=ACKNOWLEDGE", "queue", "takes one of the names CASE_QUEUE_"},
		{"/v1/reports?call_type=COUNSELLING", "call_type", "takes one of the names CALL_TYPE_INTERVENTION, "},
		{"/v1/cases:export?format=CSV", "format", "takes one of the names EXPORT_FORMAT_CSV, EXPORT_FORMAT_XLSX"},
	} {
		code, raw := restRaw(t, ts, "GET", tc.path, "", map[string]string{"Authorization": "Bearer " + ts.tokens.get("city")})
		got := violationLines(raw)
		if want := tc.field + " [query.parse]: " + tc.takes; code != http.StatusBadRequest || len(got) != 1 || !strings.HasPrefix(got[0], want) {
			t.Errorf("GET %s: %d, violations %q; want 400 with one, %q...", tc.path, code, got, want)
		}
	}
}

// TestRESTWithoutATokenIsUnauthenticatedWhateverTheInput: a call without
// a bearer token is 401, as the README says, however malformed the rest
// of it. The gateway's own refusals (a body it cannot decode, a query
// parameter the method does not read, a value that is not UTF-8, a body
// over the limit) came before the server's authentication, so a client
// with no token was told about its body or query instead, 400 or 413.
func TestRESTWithoutATokenIsUnauthenticatedWhateverTheInput(t *testing.T) {
	// Each call from a client of its own (behind a trusted proxy): more
	// than 10 from one would be throttled (429), as any refused sign-ins.
	ts := startServerWith(t, "", func(c *app.Config) { c.TrustedProxies = "127.0.0.1/32" })
	before := restReportCount(t, ts)
	big := `{"narrative": "` + strings.Repeat("a", 2<<20) + `"}`
	for i, tc := range []struct{ method, path, body, authorization string }{
		{"POST", "/v1/reports", `{"channel": `, ""},
		{"POST", "/v1/reports", `{"shoe_size": 1}`, ""},
		{"POST", "/v1/reports?requestid=call-1", restReport, ""},
		{"POST", "/v1/reports", big, ""},
		{"GET", "/v1/cases?statuss=CASE_STATUS_CLOSED", "", ""},
		{"GET", "/v1/cases?page_size=lots", "", ""},
		{"GET", "/v1/cases/%ff", "", ""},
		{"GET", "/v1/cases?x=%zz", "", ""},
		{"POST", "/v1/cases/HN-2026-00001:addNote", `{"etag": 1}`, ""},
		// The streaming routes.
		{"GET", "/v1/notifications:watch?after_seqq=1", "", ""},
		{"GET", "/v1/database:backup?x=1", "", ""},
		{"GET", "/v1/cases:export?format=EXPORT_FORMAT_CSV&statuss=1", "", ""},
		// Not a bearer token either.
		{"POST", "/v1/reports", `{"channel": `, "Basic YWRtaW46YWRtaW4="},
		{"POST", "/v1/reports", `{"channel": `, "Bearer "},
	} {
		headers := map[string]string{"X-Forwarded-For": fmt.Sprintf("203.0.113.%d", i+1)}
		if tc.authorization != "" {
			headers["Authorization"] = tc.authorization
		}
		resp, raw := restResponse(t, ts, tc.method, tc.path, strings.NewReader(tc.body), headers)
		var answer struct {
			Code    int `json:"code"`
			Details []struct {
				Reason string `json:"reason"`
			} `json:"details"`
		}
		_ = json.Unmarshal(raw, &answer)
		reason := ""
		if len(answer.Details) > 0 {
			reason = answer.Details[0].Reason
		}
		if resp.StatusCode != http.StatusUnauthorized || answer.Code != int(codes.Unauthenticated) || reason != "UNAUTHENTICATED" ||
			resp.Header.Get("WWW-Authenticate") != `Bearer realm="childcase"` {
			t.Errorf("%s %s (authorization %q): %d %q %.200s; want 401 UNAUTHENTICATED with its Bearer challenge",
				tc.method, tc.path, tc.authorization, resp.StatusCode, resp.Header.Get("WWW-Authenticate"), raw)
		}
	}
	if after := restReportCount(t, ts); after != before {
		t.Errorf("%d reports after the refusals, want %d", after, before)
	}
}

// TestRESTCaseNumberTypedWithSpacesNamesTheCase: the README says a case
// name may be typed in lower case and with spaces. A number read out over
// the phone is typed with spaces where the dashes are ("HN 2026 00001"),
// and was refused (case.name) where only spaces around it passed; it
// names the case in a path, in a report that joins it, and so in a retry
// of that report.
func TestRESTCaseNumberTypedWithSpacesNamesTheCase(t *testing.T) {
	ts := startServer(t, "")
	auth := map[string]string{"Authorization": "Bearer " + ts.tokens.get(operatorID)}
	code, raw := restRaw(t, ts, "POST", "/v1/reports", restReport, auth)
	var first struct{ Case string }
	if err := json.Unmarshal(raw, &first); err != nil || code != 200 || first.Case == "" {
		t.Fatalf("%d %s (%v)", code, raw, err)
	}
	number := strings.TrimPrefix(first.Case, "cases/")
	for i, typed := range []string{
		strings.ReplaceAll(number, "-", " "),
		strings.ToLower(strings.ReplaceAll(number, "-", " - ")),
		" " + strings.Replace(number, "-", "  ", 1) + " ",
		// Pasted from a letter whose editor made its dashes en dashes,
		// and its sequence said aloud without the leading zeros.
		strings.ReplaceAll(number, "-", "\u2013"),
		strings.ToLower(number[:len("HN-2026-")]) + strings.TrimLeft(number[len("HN-2026-"):], "0"),
	} {
		code, raw := restRaw(t, ts, "GET", "/v1/cases/"+url.PathEscape(typed), "", auth)
		var got struct{ Name string }
		if err := json.Unmarshal(raw, &got); err != nil || code != 200 || got.Name != first.Case {
			t.Errorf("GET the case typed %q: %d %.300s, want %s", typed, code, raw, first.Case)
		}
		joining := strings.Replace(restReport, "{", `{"case": "`+typed+`", `, 1)
		path := fmt.Sprintf("/v1/reports?request_id=join-%d", i)
		code, raw = restRaw(t, ts, "POST", path, joining, auth)
		var joined struct{ Name, Case string }
		if err := json.Unmarshal(raw, &joined); err != nil || code != 200 || joined.Case != first.Case {
			t.Fatalf("a report joining the case typed %q: %d %.300s, want it in %s", typed, code, raw, first.Case)
		}
		retry := strings.Replace(restReport, "{", `{"case": "`+first.Case+`", `, 1)
		code, raw = restRaw(t, ts, "POST", path, retry, auth)
		var again struct{ Name string }
		if err := json.Unmarshal(raw, &again); err != nil || code != 200 || again.Name != joined.Name {
			t.Errorf("its retry naming %s: %d %.300s, want the first answer %s", first.Case, code, raw, joined.Name)
		}
	}
	// Dashes doubled are no typing of a case number.
	if code, raw := restRaw(t, ts, "GET", "/v1/cases/"+strings.Replace(number, "-", "--", 1), "", auth); code != 400 {
		t.Errorf("a number with a doubled dash: %d %.300s, want 400 (case.name)", code, raw)
	}
}

// TestRESTLoneSurrogateNamesTheField: a client that cuts a text in the
// middle of an emoji (JavaScript counts UTF-16 units) sends half of a
// surrogate pair alone, "\ud83d". protojson refused it with a bare
// "unexpected EOF" when the string ended the body, so the refusal named
// "body", as for JSON cut short, and elsewhere with an "invalid escape
// code" that was not in the body. It names the field, and says why.
func TestRESTLoneSurrogateNamesTheField(t *testing.T) {
	ts := startServer(t, "")
	before := restReportCount(t, ts)
	last := strings.TrimSuffix(strings.TrimSpace(restReport), "}")
	for _, tc := range []struct{ name, body, field string }{
		{"high half ending the body", last + `, "narrative": "Bé bị đánh \ud83d"}`, "report.narrative"},
		{"low half ending the body", last + `, "narrative": "\ude00"}`, "report.narrative"},
		{"high half within the body", strings.Replace(restReport, `"condition": "bỏ đói"`, `"condition": "bỏ đói \ud83d"`, 1), "report.children[0].condition"},
		{"two high halves", last + `, "narrative": "\ud83d\ud83d"}`, "report.narrative"},
	} {
		code, raw := restRaw(t, ts, "POST", "/v1/reports", tc.body, map[string]string{"Authorization": "Bearer " + ts.tokens.get(operatorID)})
		var got []string
		for _, v := range restFieldViolations(raw) {
			got = append(got, v.Field+" ["+v.Reason+"]")
		}
		if want := []string{tc.field + " [body.parse]"}; code != http.StatusBadRequest || !slices.Equal(got, want) || !bytes.Contains(raw, []byte("surrogate")) {
			t.Errorf("%s: %d %s: violations %v, want 400 naming %v and saying why", tc.name, code, raw, got, want)
		}
	}
	// A whole pair is an emoji, and passes.
	whole := last + `, "narrative": "Bé bị đánh \ud83d\ude22"}`
	if code, raw := restRaw(t, ts, "POST", "/v1/reports", whole, map[string]string{"Authorization": "Bearer " + ts.tokens.get(operatorID)}); code != http.StatusOK {
		t.Errorf("a whole surrogate pair: %d %s, want 200", code, raw)
	}
	if after := restReportCount(t, ts); after != before+1 {
		t.Errorf("%d reports after the refusals and one report, want %d", after, before+1)
	}
}

// TestRESTWithoutATokenIsASignInRefusalWhateverTheInput: a REST call
// without a token that the gateway refuses for its input answers 401, as
// the README says; that 401 is a refused sign-in like any other. It was
// made up by the gateway, out of the server's sight: not counted toward
// the address's throttle, nor audited, nor in
// childcase_signin_failures_total, so an address could send any number
// of them unseen, and a throttled address was answered 401, not 429.
func TestRESTWithoutATokenIsASignInRefusalWhateverTheInput(t *testing.T) {
	ts := startServer(t, "")
	ts.addUser(t, "auditor", pb.Role_ROLE_AUDITOR, "orgs/system")
	_, _, refusedBefore := signInAudit(t, ts)
	const malformed = `{"channel": `
	for i := range 10 {
		// Half with a body that is no JSON, half with a grpc-timeout the
		// gateway cannot read (which it refused a second time when it
		// asked the server, and then answered 401 itself).
		body, headers := malformed, map[string]string(nil)
		if i%2 == 1 {
			body, headers = restReport, map[string]string{"Grpc-Timeout": "soon"}
		}
		resp, raw := restResponse(t, ts, "POST", "/v1/reports", strings.NewReader(body), headers)
		if resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("call %d without a token (%v): %d %.200s, want 401", i+1, headers, resp.StatusCode, raw)
		}
	}
	// The address has failed 10 times: it is throttled, whatever it sends.
	for _, tc := range []struct{ method, path, body string }{
		{"POST", "/v1/reports", malformed},
		{"GET", "/v1/cases", ""},
		{"GET", "/v1/cases?statuss=CASE_STATUS_CLOSED", ""},
	} {
		resp, raw := restResponse(t, ts, tc.method, tc.path, strings.NewReader(tc.body), nil)
		if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") == "" {
			t.Errorf("%s %s without a token from a throttled address: %d (Retry-After %q) %.200s, want 429 with Retry-After",
				tc.method, tc.path, resp.StatusCode, resp.Header.Get("Retry-After"), raw)
		}
	}
	if _, events, refused := signInAudit(t, ts); refused-refusedBefore != 13 {
		t.Errorf("the audit accounts for %d refused sign-ins, want the 13 calls without a token: %v", refused-refusedBefore, events)
	}
}

// A body that begins with a byte order mark (as an editor saving "UTF-8
// with BOM", or a script reading such a file, sends it) is no JSON sent
// over a network (RFC 8259 8.1), and is read as strictly as any other
// body: refused naming body with the rule body.parse, and nothing is
// written. The answer says what is wrong, which protojson's words,
// "invalid value" and the invisible mark itself, did not.
func TestRESTBodyWithAByteOrderMarkSaysSo(t *testing.T) {
	ts := startServer(t, "")
	code, raw := restRaw(t, ts, "POST", "/v1/reports", "\ufeff"+restReport, map[string]string{
		"Content-Type": "application/json", "Authorization": "Bearer " + ts.tokens.get(operatorID)})
	grpcCode, named := restViolations(t, raw)
	if code != http.StatusBadRequest || grpcCode != 3 || !slices.Equal(named, []string{"body"}) ||
		!strings.Contains(string(raw), "byte order mark") || strings.Contains(string(raw), "\ufeff") {
		t.Errorf("a body with a byte order mark: %d %s, want 400 naming body and saying it begins with a byte order mark", code, raw)
	}
	if code, list := restCall(t, ts, "GET", "/v1/reports", ""); code != http.StatusOK || list["reports"] != nil {
		t.Errorf("after the refusal: %d %v, want no report", code, list)
	}
}

// TestRESTPathNoRouteTakesSaysSo: a newcomer who misspelt a step
// (/v1/cases/HN-2026-00001:acknowlege) or a collection (/v1/case) on a
// case that exists was answered "not found", the words of a case that
// does not exist, and went looking for the case. A path no route takes
// is still 404 NOT_FOUND, but its message says that no route takes it
// and where the paths are; it tells nothing of any record, since the
// route is judged on the path's form alone, and a case that does not
// exist keeps its "not found".
func TestRESTPathNoRouteTakesSaysSo(t *testing.T) {
	ts := startServer(t, "")
	name := openCase(t, ts, testNow.Add(-time.Hour), "00004")
	headers := map[string]string{"Authorization": "Bearer " + ts.tokens.get(operatorID), "Content-Type": "application/json"}
	for _, tc := range []struct{ method, path, body, message string }{
		{"POST", "/v1/" + name + ":acknowlege", `{}`, "no route takes this path: the API's paths are in /openapi.json"},
		{"GET", "/v1/case", "", "no route takes this path: the API's paths are in /openapi.json"},
		{"GET", "/v1/cases/HN-2026-99999", "", "not found"},
	} {
		code, raw := restRaw(t, ts, tc.method, tc.path, tc.body, headers)
		var answer struct {
			Message string `json:"message"`
		}
		_ = json.Unmarshal(raw, &answer)
		reason, _ := restErrorInfo(t, raw)
		if code != http.StatusNotFound || reason != grpcapi.ReasonNotFound || answer.Message != tc.message {
			t.Errorf("%s %s: %d %s; want 404 NOT_FOUND saying %q", tc.method, tc.path, code, raw, tc.message)
		}
	}
}

// TestRESTBodyThatIsNoJSONSaysWhatTheBodyTakes: a newcomer who sent a
// form (curl -d 'channel=CHANNEL_HOTLINE_111', or --data-urlencode) or
// XML was told "body: proto: syntax error (line 1:1): invalid value",
// which says neither that the body must be JSON nor what it holds. A body
// that does not begin as JSON now says what it takes, as a field of the
// wrong kind does (TestRESTBodyValueOfTheWrongKindSaysWhatTheFieldTakes):
// the report's object for CreateReport, the request's fields but those
// of the path for a step, whatever the Content-Type.
func TestRESTBodyThatIsNoJSONSaysWhatTheBodyTakes(t *testing.T) {
	ts := startServer(t, "")
	ts.addUser(t, "bd.worker", pb.Role_ROLE_COMMUNE_WORKER, pBaDinh)
	for _, tc := range []struct{ user, path, contentType, body, takes string }{
		{operatorID, "/v1/reports", "application/x-www-form-urlencoded", "channel=CHANNEL_HOTLINE_111", `body [body.parse]: takes a JSON object {"channel", "receive_time", `},
		{operatorID, "/v1/reports", "application/xml", "<report/>", `body [body.parse]: takes a JSON object {"channel", `},
		{"bd.worker", "/v1/cases/HN-2026-00001:acknowledge", "application/x-www-form-urlencoded", "etag=1.xd6giq", `body [body.parse]: takes a JSON object {"etag", "request_id"}, whatever its Content-Type; `},
	} {
		code, raw := restRaw(t, ts, "POST", tc.path, tc.body, map[string]string{"Authorization": "Bearer " + ts.tokens.get(tc.user), "Content-Type": tc.contentType})
		got := violationLines(raw)
		if code != http.StatusBadRequest || len(got) != 1 || !strings.HasPrefix(got[0], tc.takes) {
			t.Errorf("POST %s (%s): %d, violations %q; want 400 with one, %q...", tc.path, tc.contentType, code, got, tc.takes)
		}
	}
}

// violationLines returns the field violations of a REST error body, each
// as "field [reason]: description".
func violationLines(raw []byte) []string {
	var answer struct {
		Details []struct {
			FieldViolations []struct{ Field, Description, Reason string } `json:"field_violations"`
		} `json:"details"`
	}
	_ = json.Unmarshal(raw, &answer)
	var lines []string
	for _, d := range answer.Details {
		for _, v := range d.FieldViolations {
			lines = append(lines, v.Field+" ["+v.Reason+"]: "+v.Description)
		}
	}
	return lines
}
