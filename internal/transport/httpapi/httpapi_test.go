package httpapi

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
)

// newTestHandler builds the handler over a connection to nowhere: the routes
// tested here answer without a gRPC server, or fail as if it were down.
func newTestHandler(t *testing.T, opts ...Option) http.Handler {
	t.Helper()
	conn, err := grpc.NewClient("passthrough:///nowhere.invalid", grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	h, err := NewHandler(context.Background(), conn, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func serve(h http.Handler, method, path string, body io.Reader) *httptest.ResponseRecorder {
	rec := httptest.NewRecorder()
	req := httptest.NewRequest(method, path, body)
	req.Header.Set("Content-Type", "application/json")
	h.ServeHTTP(rec, req)
	return rec
}

func TestSecurityHeaders(t *testing.T) {
	want := map[string]string{
		"X-Content-Type-Options":  "nosniff",
		"X-Frame-Options":         "DENY",
		"Content-Security-Policy": "default-src 'none'; frame-ancestors 'none'",
		"Referrer-Policy":         "no-referrer",
		"Cache-Control":           "no-store",
	}
	tests := []struct {
		name     string
		opts     []Option
		wantHSTS string
	}{
		{"plain HTTP: no HSTS", nil, ""},
		{"TLS: HSTS", []Option{WithHSTS()}, "max-age=63072000; includeSubDomains"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newTestHandler(t, tt.opts...)
			for _, path := range []string{"/openapi.json", "/healthz", "/no/such/path"} {
				rec := serve(h, "GET", path, nil)
				hdr := rec.Result().Header
				for k, v := range want {
					if got := hdr.Get(k); got != v {
						t.Errorf("GET %s (%d): %s = %q, want %q", path, rec.Code, k, got, v)
					}
				}
				got, present := hdr["Strict-Transport-Security"]
				switch {
				case tt.wantHSTS == "" && present:
					t.Errorf("GET %s: Strict-Transport-Security = %q, want none", path, got)
				case tt.wantHSTS != "" && hdr.Get("Strict-Transport-Security") != tt.wantHSTS:
					t.Errorf("GET %s: Strict-Transport-Security = %q, want %q", path, got, tt.wantHSTS)
				}
			}
			if rec := serve(h, "GET", "/openapi.json", nil); rec.Code != http.StatusOK {
				t.Errorf("GET /openapi.json: %d", rec.Code)
			}
			// No gRPC server behind the connection: /healthz says so.
			if rec := serve(h, "GET", "/healthz", nil); rec.Code != http.StatusServiceUnavailable {
				t.Errorf("GET /healthz without a server: %d", rec.Code)
			}
		})
	}
}

func TestBodyLimit(t *testing.T) {
	h := newTestHandler(t, WithHSTS())
	body := `{"narrative": "` + strings.Repeat("a", MaxBodyBytes) + `"}`
	rec := serve(h, "POST", "/v1/reports", strings.NewReader(body))
	if rec.Code != http.StatusBadRequest || !strings.Contains(rec.Body.String(), "request body too large") {
		t.Errorf("POST of %d bytes: %d %s", len(body), rec.Code, rec.Body.String())
	}
}
