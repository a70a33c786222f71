package app_test

import (
	"encoding/json"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	pb "github.com/childcase/childcase/api/childcase/v1"
)

// A POST whose body is the whole request (every :verb method, and
// CreateToken) reads no query parameter: the gateway would drop one
// without a word, so a request_id or etag put there, as CreateReport
// takes its request_id, would be lost and a retry would act twice. Such a
// parameter is refused, 400 naming it, and nothing is done; so is one a
// POST does not read, misspelt.
func TestRESTQueryThatAPOSTDoesNotReadIsRefused(t *testing.T) {
	ts := startServer(t, "")
	admin := map[string]string{"Content-Type": "application/json", "Authorization": "Bearer " + ts.tokens.get("admin")}
	tokens := func() int {
		t.Helper()
		resp, err := ts.admin().ListTokens(ts.as(t, "admin"), &pb.ListTokensRequest{Parent: "users/" + operatorID})
		if err != nil {
			t.Fatalf("ListTokens: %v", err)
		}
		return len(resp.GetTokens())
	}
	before := tokens()
	for range 2 { // a client's retry
		code, raw := restRaw(t, ts, "POST", "/v1/users/"+operatorID+"/tokens?request_id=token-1", `{}`, admin)
		named := namesUnreadQuery(t, raw, "request_id")
		if code != http.StatusBadRequest || !named {
			t.Errorf("POST with ?request_id= on a body-only route: %d %s; want 400 naming request_id, rule query.unexpected", code, raw)
		}
	}
	if after := tokens(); after != before {
		t.Errorf("the refused requests made %d tokens", after-before)
	}
	// In the body, as the OpenAPI document has it, the same request_id
	// makes one token however often it is sent.
	for range 2 {
		if code, raw := restRaw(t, ts, "POST", "/v1/users/"+operatorID+"/tokens", `{"request_id": "token-1"}`, admin); code != http.StatusOK {
			t.Fatalf("POST with request_id in the body: %d %s", code, raw)
		}
	}
	if after := tokens(); after != before+1 {
		t.Errorf("two sends of one request_id in the body made %d tokens, want 1", after-before)
	}
	// A route whose body is a field of the request reads the others in
	// the query, as the OpenAPI document lists them or by their JSON names
	// (as the gateway reads them); one it does not read, misspelt, is
	// refused the same way and nothing is recorded.
	operator := map[string]string{"Content-Type": "application/json", "Authorization": "Bearer " + ts.tokens.get(operatorID)}
	for _, query := range []string{"request_id=call-1&validate_only=true", "requestId=call-2&validateOnly=true"} {
		if code, raw := restRaw(t, ts, "POST", "/v1/reports?"+query, restReport, operator); code != http.StatusOK {
			t.Errorf("CreateReport with ?%s: %d %s", query, code, raw)
		}
	}
	reports := restReportCount(t, ts)
	code, raw := restRaw(t, ts, "POST", "/v1/reports?requestid=call-3", restReport, operator)
	if code != http.StatusBadRequest || !namesUnreadQuery(t, raw, "requestid") {
		t.Errorf("CreateReport with ?requestid= (misspelt): %d %s; want 400 naming requestid, rule query.unexpected", code, raw)
	}
	if after := restReportCount(t, ts); after != reports {
		t.Errorf("the refused report was recorded (%d reports, then %d)", reports, after)
	}
}

// namesUnreadQuery reports whether a REST answer refuses the query
// parameter param as one the method does not read.
func namesUnreadQuery(t *testing.T, raw []byte, param string) bool {
	t.Helper()
	if !json.Valid(raw) {
		t.Fatalf("answer not JSON: %s", raw)
	}
	return slices.Contains(restFieldViolations(raw), restFieldViolation{Field: param, Reason: "query.unexpected"})
}

// A GET reads only the query parameters the OpenAPI document lists for it
// (by their names or their JSON names): the gateway would drop any other
// without a word, and the answer would be that of a query without it. A
// misspelt filter (?case_name= for ?case=, ?statuss=) then answers the
// whole scope as if it were the filtered one: the auditor takes every
// event for a case's trail, an export holds every case of the scope. Such
// a parameter is refused, 400 naming it, rule query.unexpected, and
// nothing is read.
func TestRESTQueryThatAGETDoesNotReadIsRefused(t *testing.T) {
	ts := startServer(t, "")
	ts.addUser(t, "auditor", pb.Role_ROLE_AUDITOR, "orgs/system")
	caseName := openCase(t, ts, testNow.Add(-time.Hour), "00004")
	auditor := map[string]string{"Authorization": "Bearer " + ts.tokens.get("auditor")}
	operator := map[string]string{"Authorization": "Bearer " + ts.tokens.get(operatorID)}
	for _, tc := range []struct {
		path, param string
		headers     map[string]string
	}{
		{"/v1/auditEvents?case_name=" + caseName, "case_name", auditor},
		{"/v1/auditEvents?user=users/" + operatorID + "&page_size=5", "user", auditor},
		{"/v1/cases?statuss=CASE_STATUS_CLOSED", "statuss", operator},
		{"/v1/" + caseName + "?etag=1", "etag", operator},
	} {
		code, raw := restRaw(t, ts, "GET", tc.path, "", tc.headers)
		if code != http.StatusBadRequest || !namesUnreadQuery(t, raw, tc.param) {
			t.Errorf("GET %s: %d %s; want 400 naming %s, rule query.unexpected", tc.path, code, raw, tc.param)
		}
	}
	// What the document lists is read, by its name or its JSON name.
	for _, path := range []string{"/v1/auditEvents?case=" + caseName + "&page_size=5", "/v1/auditEvents?pageSize=5"} {
		if code, raw := restRaw(t, ts, "GET", path, "", auditor); code != http.StatusOK {
			t.Errorf("GET %s: %d %s", path, code, raw)
		}
	}
	if code, raw := restRaw(t, ts, "GET", "/v1/cases?status=CASE_STATUS_CLOSED&pageSize=5", "", operator); code != http.StatusOK {
		t.Errorf("GET /v1/cases with its own parameters: %d %s", code, raw)
	}
}

// A query that cannot be read (an escape that is no escape, %zz, or a
// semicolon, which Go no longer takes for a separator) is refused naming
// the parameter and the rule, and nothing is done. It answered the
// gateway's bare "invalid URL escape" on a GET, and on a POST that reads
// no query the parameter was dropped unseen: a misplaced request_id with
// a bad escape in it made a note without its retry protection, where the
// same request_id well escaped is refused (query.unexpected).
func TestRESTQueryThatCannotBeReadIsRefused(t *testing.T) {
	ts := startServer(t, "")
	ts.addUser(t, "city", pb.Role_ROLE_CITY_OFFICER, pCity)
	city := map[string]string{"Content-Type": "application/json", "Authorization": "Bearer " + ts.tokens.get("city")}
	name := openCase(t, ts, testNow.Add(-time.Hour), "00004")
	etag := etagOf(t, ts, "city", name)
	for _, tc := range []struct{ method, path, body, field string }{
		{"GET", "/v1/cases?page_size=%zz", "", "page_size"},
		{"GET", "/v1/cases?page_size=1;status=2", "", "page_size"},
		{"GET", "/v1/cases?%zz=1", "", "%zz"},
		{"POST", "/v1/" + name + ":addNote?request_id=note%zz1", `{"etag":"` + etag + `","text":"ghi chú"}`, "request_id"},
	} {
		code, body := restRaw(t, ts, tc.method, tc.path, tc.body, city)
		if grpcCode, named := restViolations(t, body); code != 400 || grpcCode != 3 || !slices.Equal(named, []string{tc.field}) {
			t.Errorf("%s %s: %d %s, want 400 INVALID_ARGUMENT naming %s and a rule", tc.method, tc.path, code, body, tc.field)
		}
	}
	if now := etagOf(t, ts, "city", name); now != etag {
		t.Errorf("the refused note was made: the case's etag went from %s to %s", etag, now)
	}
}

// A GET reads its request from its path and query: a body sent with one
// (a filter written as JSON, as a POST takes it) was dropped by the
// gateway without a word, and the list answered unfiltered as if it were
// the filtered one, as a query parameter the GET does not read would be
// (query.unexpected). It is refused, 400 naming body with the rule
// body.unexpected, sent with a Content-Length or chunked; a GET whose
// body says nothing (empty, or {}, which some clients send with every
// request) is a GET. Without a token it is 401 first, as every refusal
// of input is.
func TestRESTBodyOnAGETIsRefused(t *testing.T) {
	ts := startServer(t, "")
	operator := map[string]string{"Authorization": "Bearer " + ts.tokens.get(operatorID)}
	openCase(t, ts, testNow.Add(-time.Hour), "00004")
	const filter = `{"status":"CASE_STATUS_CLOSED"}`
	for _, tc := range []struct {
		name string
		body io.Reader
	}{
		{"with a Content-Length", strings.NewReader(filter)},
		{"chunked", io.MultiReader(strings.NewReader(filter))},
	} {
		code, raw := restRawFrom(t, ts, "GET", "/v1/cases", tc.body, operator)
		grpcCode, named := restViolations(t, raw)
		if code != http.StatusBadRequest || grpcCode != 3 || !slices.Equal(named, []string{"body"}) || !strings.Contains(string(raw), "body.unexpected") {
			t.Errorf("GET /v1/cases with a body %s: %d %s, want 400 naming body, rule body.unexpected", tc.name, code, raw)
		}
	}
	if code, raw := restRawFrom(t, ts, "GET", "/v1/cases", strings.NewReader(filter), nil); code != http.StatusUnauthorized {
		t.Errorf("GET /v1/cases with a body and no token: %d %s, want 401", code, raw)
	}
	for _, body := range []io.Reader{strings.NewReader(""), io.MultiReader(), strings.NewReader(" {} "), io.MultiReader(strings.NewReader("{}"))} {
		if code, raw := restRawFrom(t, ts, "GET", "/v1/cases", body, operator); code != http.StatusOK {
			t.Errorf("GET /v1/cases with an empty body: %d %s", code, raw)
		}
	}
}
