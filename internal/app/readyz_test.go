package app_test

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/childcase/childcase/internal/app"
	"github.com/childcase/childcase/internal/domain/clock"
	"github.com/childcase/childcase/internal/transport/grpcapi"
)

// /readyz is the readiness a load balancer or Kubernetes probes, apart
// from /healthz: 200 {"status":"ready"} once the server serves, with no
// token and whatever token is sent, GET and HEAD only (405 with Allow
// otherwise), nothing about the data. As a stop begins it answers 503
// (UNAVAILABLE, SHUTTING_DOWN) while the server still serves everything
// else, /healthz and the API included, so that a balancer takes it out of
// rotation before its ports close. There was no /readyz (the console's
// 404 page answered it), and /healthz went 503 only as the listeners
// closed.
func TestReadyzDrainsBeforeTheListenerCloses(t *testing.T) {
	type answer struct {
		status      int
		contentType string
		body        string
	}
	var during map[string]answer
	var ts *testServer
	// A fresh connection for each request: the listener must still take
	// new ones while draining.
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	ask := func(method, path, auth string) answer {
		t.Helper()
		req, err := http.NewRequest(method, "http://"+ts.HTTPAddr()+path, nil)
		if err != nil {
			t.Fatal(err)
		}
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Errorf("%s %s: %v", method, path, err)
			return answer{}
		}
		defer resp.Body.Close()
		raw, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Errorf("%s %s: %v", method, path, err)
		}
		return answer{resp.StatusCode, resp.Header.Get("Content-Type"), string(raw)}
	}
	ts = launch(t, testConfig(t, ""), app.Options{
		Clock: clock.NewFake(testNow),
		Draining: func() {
			operator := "Bearer " + ts.tokens.get(operatorID)
			during = map[string]answer{
				"GET /readyz":   ask("GET", "/readyz", ""),
				"HEAD /readyz":  ask("HEAD", "/readyz", ""),
				"GET /healthz":  ask("GET", "/healthz", ""),
				"GET /v1/cases": ask("GET", "/v1/cases", operator),
			}
		},
	})

	for _, auth := range []string{"", "Bearer not-a-token"} {
		if got := ask("GET", "/readyz", auth); got.status != http.StatusOK || got.contentType != "application/json" || got.body != `{"status":"ready"}`+"\n" {
			t.Errorf("GET /readyz (authorization %q) while serving: %d %s %q; want 200 application/json {\"status\":\"ready\"}", auth, got.status, got.contentType, got.body)
		}
	}
	if got := ask("HEAD", "/readyz", ""); got.status != http.StatusOK {
		t.Errorf("HEAD /readyz while serving: %d, want 200", got.status)
	}
	for _, method := range []string{"POST", "PUT", "DELETE", "OPTIONS"} {
		resp, raw := restResponse(t, ts, method, "/readyz", nil, nil)
		if resp.StatusCode != http.StatusMethodNotAllowed || resp.Header.Get("Allow") != "GET, HEAD" ||
			!strings.Contains(string(raw), `"reason":"`+grpcapi.ReasonMethodNotAllowed+`"`) {
			t.Errorf("%s /readyz: %d, Allow %q, %.200s; want 405 with Allow \"GET, HEAD\" and METHOD_NOT_ALLOWED", method, resp.StatusCode, resp.Header.Get("Allow"), raw)
		}
	}

	ts.stop()
	if during == nil {
		t.Fatal("the Draining hook was not called as the server stopped")
	}
	ready := during["GET /readyz"]
	var st struct {
		Code    int    `json:"code"`
		Message string `json:"message"`
		Details []struct {
			Reason string `json:"reason"`
		} `json:"details"`
	}
	if err := json.Unmarshal([]byte(ready.body), &st); err != nil || ready.status != http.StatusServiceUnavailable || ready.contentType != "application/json" ||
		st.Code != 14 || len(st.Details) != 1 || st.Details[0].Reason != grpcapi.ReasonShuttingDown {
		t.Errorf("GET /readyz while draining: %d %s %q; want 503, JSON, code 14 (UNAVAILABLE), SHUTTING_DOWN", ready.status, ready.contentType, ready.body)
	}
	if got := during["HEAD /readyz"]; got.status != http.StatusServiceUnavailable {
		t.Errorf("HEAD /readyz while draining: %d, want 503", got.status)
	}
	if got := during["GET /healthz"]; got.status != http.StatusOK {
		t.Errorf("GET /healthz while draining: %d %q, want 200: the server still serves", got.status, got.body)
	}
	if got := during["GET /v1/cases"]; got.status != http.StatusOK {
		t.Errorf("GET /v1/cases while draining: %d %.200q, want 200: the server still serves", got.status, got.body)
	}
}
