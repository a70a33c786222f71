package app_test

import (
	"net/http"
	"strings"
	"testing"
)

// TestRESTBadInputOnAPathNoRouteTakesIsARoutingRefusal: a request the
// gateway refuses for its input (a query value that is not UTF-8, a
// Content-Encoding) to a path no route takes, or with a method the path
// does not take, is answered as that path and method are with clean
// input, whoever sends it: 404, or 405 with Allow. The route is judged
// before the input, as no token changes it. Without a token such a
// request was answered 400 or 415, describing its input, unauthenticated
// and out of sight of the throttle, which the README promises no request
// without a valid token is.
func TestRESTBadInputOnAPathNoRouteTakesIsARoutingRefusal(t *testing.T) {
	ts := startServer(t, "")
	tests := []struct {
		name, method, path string
		headers            map[string]string
		status             int
		allow              string
	}{
		{"a query not UTF-8 on no route", "GET", "/v1/nothing?x=%ff", nil, http.StatusNotFound, ""},
		{"a path not UTF-8 that no route takes", "GET", "/v1/no-such-route/%ff", nil, http.StatusNotFound, ""},
		{"a Content-Encoding on no route", "POST", "/v1/nothing", map[string]string{"Content-Encoding": "gzip"}, http.StatusNotFound, ""},
		{"a query not UTF-8 with a method the path does not take", "DELETE", "/v1/cases?x=%ff", nil, http.StatusMethodNotAllowed, "GET"},
	}
	for _, tc := range tests {
		for _, who := range []string{"", "Bearer not-a-token", "Bearer " + ts.tokens.get(operatorID)} {
			headers := map[string]string{"Authorization": who}
			for k, v := range tc.headers {
				headers[k] = v
			}
			resp, raw := restResponse(t, ts, tc.method, tc.path, strings.NewReader("{}"), headers)
			if resp.StatusCode != tc.status || !strings.Contains(resp.Header.Get("Allow"), tc.allow) {
				t.Errorf("%s, authorization %.20q: %s (Allow %q) %s, want %d (Allow with %q)",
					tc.name, who, resp.Status, resp.Header.Get("Allow"), raw, tc.status, tc.allow)
			}
		}
	}
}
