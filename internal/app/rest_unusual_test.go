package app_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/childcase/childcase/internal/transport/grpcapi"
)

// The paths beside the API with a trailing slash (/healthz/, /readyz/,
// /openapi.json/) are paths no route takes, answered as the API answers
// one, 404 NOT_FOUND in JSON, not with the console's HTML page, which a
// probe or a client reads nothing from.
func TestPathsBesideTheAPIWithATrailingSlashAreNotFound(t *testing.T) {
	ts := startServer(t, "")
	for _, path := range []string{"/healthz/", "/readyz/", "/openapi.json/"} {
		for _, method := range []string{"GET", "HEAD", "POST"} {
			resp, raw := requestAsWritten(t, ts.HTTPAddr(), method, path, "")
			if resp.StatusCode != http.StatusNotFound || resp.Header.Get("Content-Type") != "application/json" ||
				(method != "HEAD" && !strings.Contains(string(raw), `"reason":"NOT_FOUND"`)) {
				t.Errorf("%s %s: %s %s %.200s; want 404 NOT_FOUND as JSON", method, path, resp.Status, resp.Header.Get("Content-Type"), raw)
			}
		}
	}
}

// A query parameter with no name (?=x) is refused naming the query, rule
// query.parse, after authentication like every refusal of input: it was
// refused as a parameter the method does not read, named "request", the
// name of the whole request, which told the client nothing of what to
// mend. An empty pair (?&&) holds no parameter and is no refusal.
func TestRESTNamelessQueryParameterIsNamed(t *testing.T) {
	ts := startServer(t, "")
	operator := "Bearer " + ts.tokens.get(operatorID)
	for _, tc := range []struct{ method, path string }{
		{"GET", "/v1/cases?=x"},
		{"GET", "/v1/cases?page_size=1&="},
		{"POST", "/v1/reports?=call-1"},
		{"POST", "/v1/reports/01a222d5-bea0-7bea-bf64-debef56d112a:link?=x"},
	} {
		resp, raw := restResponse(t, ts, tc.method, tc.path, strings.NewReader(`{}`), map[string]string{"Authorization": operator, "Content-Type": "application/json"})
		var body struct {
			Details []struct {
				Metadata map[string]string `json:"metadata"`
			} `json:"details"`
		}
		_ = json.Unmarshal(raw, &body)
		if resp.StatusCode != http.StatusBadRequest || len(body.Details) == 0 || body.Details[0].Metadata["field"] != "query" ||
			body.Details[0].Metadata["rule"] != "query.parse" || !strings.Contains(string(raw), "without a name") {
			t.Errorf("%s %s: %d %.300s; want 400 naming the field query, rule query.parse", tc.method, tc.path, resp.StatusCode, raw)
		}
		if resp, raw := restResponse(t, ts, tc.method, tc.path, strings.NewReader(`{}`), nil); resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("%s %s without a token: %d %.200s; want 401", tc.method, tc.path, resp.StatusCode, raw)
		}
	}
	if resp, raw := restResponse(t, ts, "GET", "/v1/cases?&&", nil, map[string]string{"Authorization": operator}); resp.StatusCode != http.StatusOK {
		t.Errorf("GET /v1/cases?&&: %d %.200s; want 200", resp.StatusCode, raw)
	}
}

// The API answers no cross-origin request: a CORS preflight (OPTIONS with
// Origin and Access-Control-Request-Method) is 405 with Allow like any
// OPTIONS, and no answer, a preflight's or a GET's with an Origin, carries
// an Access-Control-Allow-* header, so a page of another origin cannot
// read the API with the token a user gave it.
func TestRESTAnswersNoCrossOriginRequest(t *testing.T) {
	ts := startServer(t, "")
	preflight := map[string]string{
		"Origin": "https://evil.example", "Access-Control-Request-Method": "GET",
		"Access-Control-Request-Headers": "authorization",
	}
	for _, path := range []string{"/v1/cases", "/v1/reports", "/v1/cases/HN-2026-00001:acknowledge", "/healthz", "/readyz", "/openapi.json"} {
		resp, raw := restResponse(t, ts, "OPTIONS", path, nil, preflight)
		if resp.StatusCode != http.StatusMethodNotAllowed || resp.Header.Get("Allow") == "" ||
			!strings.Contains(string(raw), `"reason":"`+grpcapi.ReasonMethodNotAllowed+`"`) {
			t.Errorf("OPTIONS %s (a preflight): %d, Allow %q, %.200s; want 405 with Allow", path, resp.StatusCode, resp.Header.Get("Allow"), raw)
		}
		for k := range resp.Header {
			if strings.HasPrefix(k, "Access-Control-") {
				t.Errorf("OPTIONS %s (a preflight): %s: %q", path, k, resp.Header.Get(k))
			}
		}
	}
	resp, raw := restResponse(t, ts, "GET", "/v1/cases", nil, map[string]string{
		"Origin": "https://evil.example", "Authorization": "Bearer " + ts.tokens.get(operatorID),
	})
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /v1/cases with an Origin: %d %.200s", resp.StatusCode, raw)
	}
	for k := range resp.Header {
		if strings.HasPrefix(k, "Access-Control-") {
			t.Errorf("GET /v1/cases with an Origin: %s: %q", k, resp.Header.Get(k))
		}
	}
}
