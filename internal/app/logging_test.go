package app_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"

	bolt "go.etcd.io/bbolt"
	"google.golang.org/grpc/metadata"

	pb "github.com/childcase/childcase/api/childcase/v1"
	"github.com/childcase/childcase/internal/app"
	"github.com/childcase/childcase/internal/domain/audit"
	"github.com/childcase/childcase/internal/domain/clock"
)

// logLines collects the JSON log lines of a server, safely across its
// goroutines.
type logLines struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *logLines) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

// text returns what was logged since the last take, as written.
func (l *logLines) text() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// take returns the lines logged since the last take, decoded.
func (l *logLines) take(t *testing.T) []map[string]any {
	t.Helper()
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(l.buf.String()), "\n") {
		if line == "" {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("log line is not JSON: %s", line)
		}
		out = append(out, m)
	}
	l.buf.Reset()
	return out
}

// launchLogged starts a server whose log lines the test reads, past
// those of its start-up and the test users.
func launchLogged(t *testing.T) (*testServer, *logLines) {
	t.Helper()
	var lines logLines
	ts := launch(t, testConfig(t, ""), app.Options{
		Clock:  clock.NewFake(testNow),
		Logger: slog.New(slog.NewJSONHandler(&lines, nil)),
	})
	// The scheduler's first pass logs that it caught up; a request's
	// lines are counted after it.
	ts.settle(t)
	lines.take(t)
	return ts, &lines
}

// A request is one log line, over gRPC and over REST: what the handler
// and the domain note about it (here the report and case created) joins
// the "finished call" line with the request id, the method, the code and
// the caller, instead of a line of its own.
func TestOneLogLinePerRequest(t *testing.T) {
	ts, lines := launchLogged(t)

	check := func(via, requestID string) {
		t.Helper()
		got := lines.take(t)
		if len(got) != 1 {
			t.Fatalf("%s: %d log lines for one request, want 1: %v", via, len(got), got)
		}
		line := got[0]
		want := map[string]any{
			"msg": "finished call", "request_id": requestID, "grpc.method": "CreateReport",
			"grpc.code": "OK", "actor": operatorID, "event": "report created", "by": operatorID,
		}
		for k, v := range want {
			if line[k] != v {
				t.Errorf("%s: %s = %v, want %v (line %v)", via, k, line[k], v, line)
			}
		}
		if c, _ := line["case"].(string); !strings.HasPrefix(c, "HN-2026-") {
			t.Errorf("%s: the line lacks the case the report opened: %v", via, line)
		}
		// The client, not the gateway's in-process link (peer.address
		// is "bufconn" for a REST call).
		if line["client.address"] != "127.0.0.1" {
			t.Errorf("%s: client.address = %v, want the client's 127.0.0.1 (line %v)", via, line["client.address"], line)
		}
	}

	ctx := metadata.AppendToOutgoingContext(context.Background(), "x-request-id", "log-grpc-1")
	if _, err := ts.reports().CreateReport(ctx, &pb.CreateReportRequest{Report: validReport()}); err != nil {
		t.Fatal(err)
	}
	check("gRPC", "log-grpc-1")

	code, raw := restRaw(t, ts, "POST", "/v1/reports", restReport, map[string]string{
		"Authorization": "Bearer " + ts.tokens.get(operatorID),
		"X-Request-Id":  "log-rest-1",
	})
	if code != 200 {
		t.Fatalf("REST create: %d %s", code, raw)
	}
	check("REST", "log-rest-1")
}

// A REST request the gateway refuses before it reaches the gRPC server
// (a parameter that is not UTF-8, a body that is no JSON or is too large)
// is a request too: it gets one "finished call" line, with its request
// id, which the answer carries, and its status, like any other.
func TestOneLogLinePerRefusedRESTRequest(t *testing.T) {
	ts, lines := launchLogged(t)

	for _, tc := range []struct {
		name, method, path, body string
		status                   int
	}{
		{"path not UTF-8", "GET", "/v1/cases/%ff", "", 400},
		{"query not UTF-8", "GET", "/v1/cases?page_token=%ff", "", 400},
		{"body not JSON", "POST", "/v1/reports", `{"channel":`, 400},
		{"body too large", "POST", "/v1/reports", `{"narrative": "` + strings.Repeat("x", 2<<20) + `"}`, 413},
		// Refused by the gRPC server, which logs it: still one line.
		{"not found", "GET", "/v1/cases/HN-2026-99999", "", 404},
	} {
		t.Run(tc.name, func(t *testing.T) {
			id := "log-refused-" + strings.ReplaceAll(tc.name, " ", "-")
			req, err := http.NewRequest(tc.method, "http://"+ts.HTTPAddr()+tc.path, strings.NewReader(tc.body))
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("Authorization", "Bearer "+ts.tokens.get(operatorID))
			req.Header.Set("X-Request-Id", id)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			raw, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tc.status {
				t.Fatalf("%s %s: %d %s, want %d", tc.method, tc.path, resp.StatusCode, raw, tc.status)
			}
			if got := resp.Header.Get("X-Request-Id"); got != id {
				t.Errorf("the answer's X-Request-Id is %q, want %q", got, id)
			}
			got := lines.take(t)
			if len(got) != 1 {
				t.Fatalf("%d log lines for one request, want 1: %v", len(got), got)
			}
			want := map[string]any{"msg": "finished call", "request_id": id, "protocol": "http", "http.status": float64(tc.status), "client.address": "127.0.0.1"}
			if tc.status == 404 {
				want = map[string]any{"msg": "finished call", "request_id": id, "protocol": "grpc", "grpc.code": "NotFound", "client.address": "127.0.0.1"}
			}
			for k, v := range want {
				if got[0][k] != v {
					t.Errorf("%s = %v, want %v (line %v)", k, got[0][k], v, got[0])
				}
			}
		})
	}
}

// At start the service verifies the newest audit events against the
// stored head and logs a clear warning when they do not verify; an intact
// log gets no warning.
func TestStartVerifiesAuditTail(t *testing.T) {
	ts := startServer(t, "")
	if _, err := ts.reports().CreateReport(context.Background(), &pb.CreateReportRequest{Report: validReport()}); err != nil {
		t.Fatal(err)
	}
	dbPath := ts.cfg.DBPath
	ts.stop()

	warnings := func() []map[string]any {
		t.Helper()
		var lines logLines
		ts := launch(t, testConfig(t, dbPath), app.Options{
			Clock:  clock.NewFake(testNow),
			Logger: slog.New(slog.NewJSONHandler(&lines, nil)),
		})
		ts.stop()
		var out []map[string]any
		for _, l := range lines.take(t) {
			if l["level"] == "WARN" && strings.Contains(l["msg"].(string), "audit") {
				out = append(out, l)
			}
		}
		return out
	}
	if w := warnings(); len(w) != 0 {
		t.Fatalf("an intact audit log warned at start: %v", w)
	}

	// Change one byte of the newest event, behind the service's back.
	var head uint64
	confTamper(t, dbPath, func(b *bolt.Bucket) error {
		k, v := b.Cursor().Last()
		if len(k) != 8 || v == nil {
			return errors.New("no audit event")
		}
		head = binary.BigEndian.Uint64(k)
		e, err := audit.Decode(v)
		if err != nil || e.Action == "" {
			return errors.Join(errors.New("the newest audit event has no action"), err)
		}
		e.Action = string(e.Action[0]^1) + e.Action[1:]
		raw, err := audit.Encode(e)
		if err != nil {
			return err
		}
		return b.Put(k, raw)
	})
	w := warnings()
	if len(w) != 1 {
		t.Fatalf("%d audit warnings at start after tampering, want 1: %v", len(w), w)
	}
	if w[0]["broken_seq"] != float64(head) || !strings.Contains(w[0]["problem"].(string), "hash does not match") {
		t.Errorf("warning %v, want the broken link at seq %d", w[0], head)
	}
}

// Behind a trusted proxy, client.address is the address the proxy
// forwards, as the README says and as the sign-in throttle names it, on
// every request's line: one the gateway refused named the proxy instead.
// A call without a token that the gateway refused for its input is
// logged once, by the server that refused its sign-in.
func TestOneLogLineNamesTheClientBehindATrustedProxy(t *testing.T) {
	var lines logLines
	cfg := testConfig(t, "")
	cfg.TrustedProxies = "127.0.0.1/32"
	ts := launch(t, cfg, app.Options{Clock: clock.NewFake(testNow), Logger: slog.New(slog.NewJSONHandler(&lines, nil))})
	lines.take(t)
	const client = "203.0.113.9"
	for _, tc := range []struct {
		name, body, authorization string
		want                      map[string]any
	}{
		{"created", restReport, "Bearer " + ts.tokens.get(operatorID), map[string]any{"protocol": "grpc", "grpc.code": "OK"}},
		{"body not JSON", `{"channel":`, "Bearer " + ts.tokens.get(operatorID), map[string]any{"protocol": "http", "http.status": float64(400)}},
		{"body not JSON, no token", `{"channel":`, "", map[string]any{"protocol": "grpc", "grpc.code": "Unauthenticated"}},
	} {
		headers := map[string]string{"X-Forwarded-For": client}
		if tc.authorization != "" {
			headers["Authorization"] = tc.authorization
		}
		restRaw(t, ts, "POST", "/v1/reports", tc.body, headers)
		got := lines.take(t)
		if len(got) != 1 {
			t.Errorf("%s: %d log lines for one request, want 1: %v", tc.name, len(got), got)
			continue
		}
		tc.want["msg"], tc.want["client.address"] = "finished call", client
		for k, v := range tc.want {
			if got[0][k] != v {
				t.Errorf("%s: %s = %v, want %v (line %v)", tc.name, k, got[0][k], v, got[0])
			}
		}
	}
}

// TestTrustingEveryAddressIsWarnedOf: --trusted-proxies with a range of
// every address makes every hop a proxy, so the client's own
// X-Forwarded-For names it for the sign-in throttle; the start warns of
// it, naming the range, and says nothing of a list of real proxies.
func TestTrustingEveryAddressIsWarnedOf(t *testing.T) {
	for _, tc := range []struct {
		proxies string
		warned  []string
	}{
		{"0.0.0.0/0", []string{"0.0.0.0/0"}},
		{"10.0.0.5, ::/0", []string{"::/0"}},
		{"127.0.0.1/32, 10.0.0.0/8", nil},
	} {
		t.Run(tc.proxies, func(t *testing.T) {
			var lines logLines
			cfg := testConfig(t, "")
			cfg.TrustedProxies = tc.proxies
			ts := launch(t, cfg, app.Options{Clock: clock.NewFake(testNow), Logger: slog.New(slog.NewJSONHandler(&lines, nil))})
			ts.stop()
			var warned []string
			for _, l := range lines.take(t) {
				if msg, _ := l["msg"].(string); l["level"] == "WARN" && strings.HasPrefix(msg, "trusted-proxies trusts every address") {
					warned = append(warned, fmt.Sprint(l["trusted_proxies"]))
				}
			}
			if !slices.Equal(warned, tc.warned) {
				t.Errorf("--trusted-proxies %q: warned of %q, want %q", tc.proxies, warned, tc.warned)
			}
		})
	}
}
