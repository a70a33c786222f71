package app_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	pb "github.com/childcase/childcase/api/childcase/v1"
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

// TestDrainHoldsTheStopForItsDelay: --drain-delay holds the stop while a
// load balancer takes the instance out of rotation, and no test held that
// wait. The drain's wait is the test's here (Options.DrainTimer): asked
// for the configured delay, it holds the stop until the test lets it go,
// and meanwhile the API and /healthz answer, /readyz says 503 and the gRPC
// health NOT_SERVING, which stayed SERVING through the drain: a gRPC
// balancer probing it (Envoy, a Kubernetes gRPC probe, a client's own
// health checking) went on sending until the port closed.
func TestDrainHoldsTheStopForItsDelay(t *testing.T) {
	const delay = 5 * time.Second
	asked := make(chan time.Duration, 1)
	release := make(chan time.Time)
	cfg := testConfig(t, "")
	cfg.DrainDelay = delay
	ts := launch(t, cfg, app.Options{
		Clock: clock.NewFake(testNow),
		DrainTimer: func(d time.Duration) <-chan time.Time {
			asked <- d
			return release
		},
	})
	stopped := make(chan error, 1)
	go func() { stopped <- ts.Stop() }()
	select {
	case d := <-asked:
		if d != delay {
			t.Errorf("the drain waited %v, want --drain-delay's %v", d, delay)
		}
	case err := <-stopped:
		t.Fatalf("the stop ended (%v) without waiting its drain delay", err)
	}

	// Held: everything but readiness is served.
	hc, err := healthpb.NewHealthClient(ts.conn).Check(context.Background(), &healthpb.HealthCheckRequest{})
	if err != nil || hc.GetStatus() != healthpb.HealthCheckResponse_NOT_SERVING {
		t.Errorf("gRPC health while draining: %v, %v; want NOT_SERVING", hc.GetStatus(), err)
	}
	if resp, raw := restResponse(t, ts, "GET", "/readyz", nil, nil); resp.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("GET /readyz while draining: %d %s, want 503", resp.StatusCode, raw)
	}
	if resp, raw := restResponse(t, ts, "GET", "/healthz", nil, nil); resp.StatusCode != http.StatusOK {
		t.Errorf("GET /healthz while draining: %d %s, want 200: the server still serves", resp.StatusCode, raw)
	}
	if _, err := ts.cases().ListCases(context.Background(), &pb.ListCasesRequest{}); err != nil {
		t.Errorf("ListCases while draining: %v, want it served", err)
	}
	select {
	case err := <-stopped:
		t.Fatalf("the stop ended (%v) before its drain delay was over", err)
	default:
	}

	close(release)
	if err := <-stopped; err != nil {
		t.Errorf("Stop after the drain: %v", err)
	}
	ts.conn.Close()
	ts.conn = nil // stopped here: the helpers' stop has nothing left to do
}

// TestReadyzAnswersWhileAStartIsSlow: until the store was open (a
// migration, a cluster to join, the reform pass) the HTTP port took
// connections and answered none, so a probe of /readyz timed out rather
// than reading "not ready". It answers 503 at once, and so does every
// other path: nothing is served before the store is open.
func TestReadyzAnswersWhileAStartIsSlow(t *testing.T) {
	client := &http.Client{Timeout: 30 * time.Second} // not reached when the port answers
	answered := map[string]int{}
	var body string
	launch(t, testConfig(t, ""), app.Options{
		Clock: clock.NewFake(testNow),
		Opening: func(httpAddr string) {
			for _, path := range []string{"/readyz", "/healthz", "/v1/cases", "/openapi.json", "/"} {
				resp, err := client.Get("http://" + httpAddr + path)
				if err != nil {
					t.Errorf("GET %s while the store opens: %v", path, err)
					continue
				}
				raw, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				answered[path] = resp.StatusCode
				if path == "/readyz" {
					body = string(raw)
				}
			}
		},
	})
	for _, path := range []string{"/readyz", "/healthz", "/v1/cases", "/openapi.json", "/"} {
		if answered[path] != http.StatusServiceUnavailable {
			t.Errorf("GET %s while the store opens: %d, want 503", path, answered[path])
		}
	}
	var st struct {
		Code int `json:"code"`
	}
	if err := json.Unmarshal([]byte(body), &st); err != nil || st.Code != 14 {
		t.Errorf("GET /readyz while the store opens: %q, want the API's JSON error, code 14 (UNAVAILABLE)", body)
	}
}

// TestAnAPIAnswerWhileAStartIsSlowIsLoggedWithItsRequestID: the API's
// answers carry their request id in X-Request-Id and are each one
// "finished call" line of the log, the gateway's own refusals included;
// the 503 a slow start answers on /v1/ had neither, so a client's
// report of a refused call named nothing the operator could find.
// /readyz still writes no line and carries no id, as once the server
// serves.
func TestAnAPIAnswerWhileAStartIsSlowIsLoggedWithItsRequestID(t *testing.T) {
	client := &http.Client{Timeout: 30 * time.Second}
	var lines logLines
	type answer struct {
		status int
		id     string
	}
	answered := map[string]answer{}
	var during []map[string]any // logged while the store opened
	launch(t, testConfig(t, ""), app.Options{
		Clock:  clock.NewFake(testNow),
		Logger: slog.New(slog.NewJSONHandler(&lines, nil)),
		Opening: func(httpAddr string) {
			lines.take(t) // the start's own lines
			for _, path := range []string{"/v1/cases", "/readyz"} {
				req, err := http.NewRequest(http.MethodGet, "http://"+httpAddr+path, nil)
				if err != nil {
					t.Fatal(err)
				}
				req.Header.Set("X-Request-Id", "slow-start-1")
				resp, err := client.Do(req)
				if err != nil {
					t.Errorf("GET %s while the store opens: %v", path, err)
					continue
				}
				resp.Body.Close()
				answered[path] = answer{resp.StatusCode, resp.Header.Get("X-Request-Id")}
			}
			during = lines.take(t)
		},
	})
	if got := answered["/v1/cases"]; got.status != http.StatusServiceUnavailable || got.id != "slow-start-1" {
		t.Errorf("GET /v1/cases while the store opens: %d, X-Request-Id %q; want 503 with the request's id", got.status, got.id)
	}
	if got := answered["/readyz"]; got.status != http.StatusServiceUnavailable || got.id != "" {
		t.Errorf("GET /readyz while the store opens: %d, X-Request-Id %q; want 503 and no id", got.status, got.id)
	}
	var calls []map[string]any
	for _, line := range during {
		if line["msg"] == "finished call" {
			calls = append(calls, line)
		}
	}
	if len(calls) != 1 || calls[0]["request_id"] != "slow-start-1" || calls[0]["http.path"] != "/v1/cases" ||
		calls[0]["http.status"] != float64(http.StatusServiceUnavailable) || calls[0]["protocol"] != "http" ||
		calls[0]["level"] != "WARN" || calls[0]["grpc.code"] != "Unavailable" {
		t.Errorf("the log of the two requests while the store opens: %v; want one finished call, GET /v1/cases 503 slow-start-1, WARN, Unavailable", calls)
	}
}
