package app_test

import (
	"net/http"
	"strings"
	"testing"
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
