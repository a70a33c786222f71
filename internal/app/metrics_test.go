package app_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	pmodel "github.com/prometheus/common/model"
	"google.golang.org/grpc/codes"

	pb "github.com/childcase/childcase/api/childcase/v1"
	"github.com/childcase/childcase/internal/domain/clock"
	"github.com/childcase/childcase/internal/domain/model"
	"github.com/childcase/childcase/internal/domain/process"
	"github.com/childcase/childcase/internal/transport/metrics"
)

// metricsServer starts a server that serves metrics on a local address of
// its own, with a webhook whose receiver always fails, at start on the
// fake clock.
func metricsServer(t *testing.T, start time.Time) *testServer {
	t.Helper()
	receiver := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusServiceUnavailable)
	}))
	t.Cleanup(receiver.Close)
	t.Setenv("CHILDCASE_TEST_HOOK_SECRET", "a-webhook-secret-of-some-length")
	policyFile := filepath.Join(t.TempDir(), "policy.json")
	policyJSON := `{"webhooks": [{"name": "so-y-te", "url": "` + receiver.URL + `", "secret_env": "CHILDCASE_TEST_HOOK_SECRET"}]}`
	if err := os.WriteFile(policyFile, []byte(policyJSON), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := testConfig(t, "")
	cfg.PolicyFile = policyFile
	cfg.MetricsAddr = "127.0.0.1:0"
	return startWithClock(t, cfg, clock.NewFake(start))
}

// scrape reads the metrics endpoint as Prometheus would.
func scrape(t *testing.T, ts *testServer) map[string]*dto.MetricFamily {
	t.Helper()
	if ts.MetricsAddr() == "" {
		t.Fatal("the server serves no metrics")
	}
	resp, err := http.Get("http://" + ts.MetricsAddr() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /metrics: %s", resp.Status)
	}
	parser := expfmt.NewTextParser(pmodel.UTF8Validation)
	families, err := parser.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("parse the scrape: %v", err)
	}
	return families
}

// sample returns the value of the series of family name whose labels
// include want, and whether there is one.
func sample(families map[string]*dto.MetricFamily, name string, want map[string]string) (float64, bool) {
	f := families[name]
	if f == nil {
		return 0, false
	}
	for _, m := range f.GetMetric() {
		labels := map[string]string{}
		for _, l := range m.GetLabel() {
			labels[l.GetName()] = l.GetValue()
		}
		ok := true
		for k, v := range want {
			ok = ok && labels[k] == v
		}
		if !ok {
			continue
		}
		switch {
		case m.Counter != nil:
			return m.GetCounter().GetValue(), true
		case m.Gauge != nil:
			return m.GetGauge().GetValue(), true
		case m.Untyped != nil:
			return m.GetUntyped().GetValue(), true
		case m.Histogram != nil:
			return float64(m.GetHistogram().GetSampleCount()), true
		case m.Summary != nil:
			return float64(m.GetSummary().GetSampleCount()), true
		}
	}
	return 0, false
}

var numberLabel = regexp.MustCompile(`^(\+Inf|-?[0-9.]+(e[+-]?[0-9]+)?)$`)

// closedLabels says, for every label name the scrape may carry, whether a
// value is in its closed set. A label name not here fails the test: a new
// label must be shown to be bounded before it ships.
var closedLabels = map[string]func(string) bool{
	"kind": func(v string) bool {
		return slices.Contains(process.DeadlineKinds(), model.DeadlineKind(v))
	},
	"state":   func(v string) bool { return slices.Contains([]string{"running", "paused", "overdue"}, v) },
	"webhook": func(v string) bool { return v == "so-y-te" }, // the policy's own names
	"source":  func(v string) bool { return slices.Contains([]string{"deadlines", "outbox", "store", "audit"}, v) },
	"grpc_service": func(v string) bool {
		return regexp.MustCompile(`^(childcase\.v1\.[A-Za-z]+Service|grpc\.health\.v1\.Health|grpc\.reflection\.v1(alpha)?\.ServerReflection|unknown)$`).MatchString(v)
	},
	"grpc_method": regexp.MustCompile(`^([A-Z][A-Za-z]+|unknown)$`).MatchString, // unknown: a method no service has
	"grpc_type": func(v string) bool {
		return slices.Contains([]string{"unary", "server_stream", "client_stream", "bidi_stream"}, v)
	},
	"grpc_code": func(v string) bool {
		for c := codes.OK; c <= codes.Unauthenticated; c++ {
			if c.String() == v {
				return true
			}
		}
		return false
	},
	"cause":    func(v string) bool { return v == "encoding" || v == "gathering" }, // promhttp's own errors
	"le":       numberLabel.MatchString,
	"quantile": numberLabel.MatchString,
}

// TestMetricsScrape runs a realistic workload (reports, a step, failed
// sign-ins until the throttle refuses, a deadline left to warn, breach and
// escalate, a webhook that fails) and scrapes the metrics: the numbers
// show the workload, each at least what the test did, and no label
// carries a case number, a user id, a unit or anything else outside a
// closed set.
func TestMetricsScrape(t *testing.T) {
	start := hn(2026, 3, 16, 9, 0) // a Monday
	ts := metricsServer(t, start)
	ts.addUser(t, "bd.worker", pb.Role_ROLE_COMMUNE_WORKER, pBaDinh)
	acked := openCase(t, ts, start.Add(-time.Hour), "00004")
	left := openCase(t, ts, start.Add(-30*time.Minute), "00004")
	if _, err := ts.process().AcknowledgeCase(ts.as(t, "bd.worker"), &pb.AcknowledgeCaseRequest{
		Name: acked, Etag: etagOf(t, ts, "bd.worker", acked)}); err != nil {
		t.Fatalf("acknowledge: %v", err)
	}
	// A client with a bad token: refused ten times, then throttled.
	bad := withToken(t.Context(), "cc_0000000000000000_not-a-token-at-all-000000000000000000000")
	for range 10 {
		_, err := ts.cases().GetCase(bad, &pb.GetCaseRequest{Name: left})
		wantCode(t, err, codes.Unauthenticated)
	}
	_, err := ts.cases().GetCase(bad, &pb.GetCaseRequest{Name: left})
	wantCode(t, err, codes.ResourceExhausted)
	// The unacknowledged case's clock warns at half its 24 hours, then
	// breaches and escalates.
	ts.setClock(t, start.Add(13*time.Hour))
	waitEvents(t, ts, "bd.worker", left, "DEADLINE_WARNING", 0, 1)
	ts.setClock(t, start.Add(3*24*time.Hour))
	waitEvents(t, ts, "bd.worker", left, "ESCALATED", 0, 1)
	// The webhook's receiver refuses every delivery: wait for the first
	// refusal to be counted.
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if v, _ := sample(scrape(t, ts), "childcase_webhook_failures_total", map[string]string{"webhook": "so-y-te"}); v >= 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no failed webhook delivery counted in 10 s")
		}
	}

	families := scrape(t, ts)

	for _, c := range []struct {
		name   string
		labels map[string]string
		min    float64
	}{
		{"childcase_open_deadlines", map[string]string{"kind": "ACKNOWLEDGE", "state": "overdue"}, 1},
		{"childcase_overdue_deadlines", nil, 1},
		{"childcase_signin_failures_total", nil, 10},
		{"childcase_signin_throttled_total", nil, 1},
		{"childcase_audit_events_total", nil, 1},
		{"childcase_db_commits_total", nil, 1},
		{"childcase_db_fsyncs_total", nil, 0}, // the tests run without fsync
		{"childcase_db_commit_seconds", nil, 1},
		{"childcase_db_size_bytes", nil, 1},
		{"childcase_db_reserve_bytes", nil, 1},
		{"childcase_db_reserve_free_bytes", nil, 1},
		{"childcase_outbox_head_seq", nil, 5}, // two new cases, a warning, a breach, an escalation
		// The receiver acknowledged nothing: every notification waits.
		{"childcase_outbox_lag", map[string]string{"webhook": "so-y-te"}, 5},
		{"childcase_webhook_failures_total", map[string]string{"webhook": "so-y-te"}, 1},
		{"childcase_deadline_warnings_total", nil, 1},
		{"childcase_deadline_breaches_total", nil, 1},
		{"childcase_escalations_total", nil, 1},
		{"grpc_server_handled_total", map[string]string{"grpc_method": "CreateReport", "grpc_code": "OK"}, 2},
		{"grpc_server_handled_total", map[string]string{"grpc_method": "GetCase", "grpc_code": "Unauthenticated"}, 1},
		{"grpc_server_handling_seconds", map[string]string{"grpc_method": "AcknowledgeCase"}, 1},
	} {
		v, ok := sample(families, c.name, c.labels)
		if !ok || v < c.min {
			t.Errorf("%s%v = %v (present %v), want at least %v", c.name, c.labels, v, ok, c.min)
		}
	}
	if v, _ := sample(families, "childcase_open_deadlines", map[string]string{"kind": "ACKNOWLEDGE", "state": "running"}); v != 0 {
		t.Errorf("an ACKNOWLEDGE deadline still counts as running three days on: %v", v)
	}

	// Every metric the README's "What to watch" table names is served,
	// with the labels it names: a childcase metric with those and no
	// other, an RPC metric with those among the provider's own.
	for _, m := range readmeMetrics(t) {
		f, ok := families[m.name]
		if !ok && m.name == "childcase_tls_cert_expiry_seconds" {
			continue // served with a certificate alone: TestExpiringCertificateIsWarnedOfAtStart
		}
		if !ok {
			t.Errorf("README.md's What to watch names %s, which the scrape does not have", m.name)
			continue
		}
		for _, series := range f.GetMetric() {
			var got []string
			for _, l := range series.GetLabel() {
				got = append(got, l.GetName())
			}
			slices.Sort(got)
			missing := slices.DeleteFunc(slices.Clone(m.labels), func(l string) bool { return slices.Contains(got, l) })
			if len(missing) > 0 || strings.HasPrefix(m.name, "childcase_") && !slices.Equal(got, m.labels) {
				t.Errorf("%s has the labels %v; README.md's What to watch says %v", m.name, got, m.labels)
				break
			}
		}
	}

	// Every label value from a closed set; nothing that names a case, a
	// person or a unit.
	leaks := regexp.MustCompile(`HN-\d{4}-\d+|cases/|units/|orgs/|users/|policeUnits/|operator|bd\.worker|admin|Nguyễn|Trần`)
	for name, f := range families {
		for _, m := range f.GetMetric() {
			for _, l := range m.GetLabel() {
				closed, known := closedLabels[l.GetName()]
				switch {
				case !known:
					t.Errorf("%s: label %s=%q is not one of the closed sets the test knows", name, l.GetName(), l.GetValue())
				case !closed(l.GetValue()):
					t.Errorf("%s: label %s=%q is outside its closed set", name, l.GetName(), l.GetValue())
				case leaks.MatchString(l.GetValue()):
					t.Errorf("%s: label %s=%q names a case, a person or a unit", name, l.GetName(), l.GetValue())
				}
			}
		}
	}
}

// TestMetricsNotOnPublicPort: the public HTTP port does not serve the
// metrics, and a server without --metrics-addr serves none at all.
func TestMetricsNotOnPublicPort(t *testing.T) {
	ts := metricsServer(t, testNow)
	plain := startServer(t, "")
	for _, s := range []*testServer{ts, plain} {
		resp, err := http.Get("http://" + s.HTTPAddr() + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusNotFound || strings.Contains(string(body), "childcase_") {
			t.Errorf("public GET /metrics: %s %.200s, want 404 without metrics", resp.Status, body)
		}
	}
	if plain.MetricsAddr() != "" {
		t.Errorf("without a metrics address the server serves metrics on %s", plain.MetricsAddr())
	}
	resp, err := http.Get("http://" + ts.MetricsAddr() + "/v1/cases")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("the metrics address answers the API: GET /v1/cases %s", resp.Status)
	}
}

// TestGrafanaDashboardQueriesExist: every metric the dashboard queries is
// in a scrape of a server that has done some work.
func TestGrafanaDashboardQueriesExist(t *testing.T) {
	var dash struct {
		Panels []struct {
			Title   string `json:"title"`
			Targets []struct {
				Expr string `json:"expr"`
			} `json:"targets"`
		} `json:"panels"`
	}
	if err := json.Unmarshal(metrics.Dashboard, &dash); err != nil {
		t.Fatalf("the dashboard is not JSON: %v", err)
	}
	ts := metricsServer(t, testNow)
	openCase(t, ts, testNow.Add(-time.Hour), "00004")
	families := scrape(t, ts)
	name := regexp.MustCompile(`\b(childcase_[a-z_]+|grpc_server_[a-z_]+)\b`)
	queried := 0
	for _, p := range dash.Panels {
		if len(p.Targets) == 0 {
			t.Errorf("panel %q queries nothing", p.Title)
		}
		for _, target := range p.Targets {
			for _, n := range name.FindAllString(target.Expr, -1) {
				queried++
				family := n
				for _, suffix := range []string{"_bucket", "_sum", "_count"} {
					if base, ok := strings.CutSuffix(n, suffix); ok && families[base] != nil &&
						(families[base].GetType() == dto.MetricType_HISTOGRAM || families[base].GetType() == dto.MetricType_SUMMARY) {
						family = base
					}
				}
				if families[family] == nil {
					t.Errorf("panel %q queries %s, which no scrape shows", p.Title, n)
				}
			}
		}
	}
	if queried < 10 {
		t.Errorf("the dashboard queries %d metrics; the test found too few to be reading it right", queried)
	}
}

// readmeMetric is a metric the README's "What to watch" table names,
// with the labels it gives it in braces, sorted (none when it gives none).
type readmeMetric struct {
	name   string
	labels []string
}

// readmeMetrics reads the metrics of the README's "What to watch"
// table: each name in the first column, with its labels.
func readmeMetrics(t *testing.T) []readmeMetric {
	t.Helper()
	md, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	section := string(md)
	start := strings.Index(section, "\n### What to watch\n")
	if start < 0 {
		t.Fatal("README.md has no What to watch section")
	}
	section = section[start:]
	table := section[strings.Index(section, "\n| metric | what |"):]
	table = table[:strings.Index(table, "\n\n")]
	name := regexp.MustCompile("`([a-z_]+)(?:\\{([a-z_,]*)\\})?`")
	var metrics []readmeMetric
	for _, row := range strings.Split(table, "\n")[3:] {
		first := strings.SplitN(row, "|", 3)[1]
		for _, m := range name.FindAllStringSubmatch(first, -1) {
			var labels []string
			if m[2] != "" {
				labels = strings.Split(m[2], ",")
				slices.Sort(labels)
			}
			metrics = append(metrics, readmeMetric{name: m[1], labels: labels})
		}
	}
	if len(metrics) < 15 {
		t.Fatalf("read only %d metrics from README.md's What to watch: %v", len(metrics), metrics)
	}
	return metrics
}

// The metrics port takes the public HTTP server's bound on a request's
// headers (64 KiB), not Go's default megabyte.
func TestMetricsPortBoundsHeaders(t *testing.T) {
	ts := metricsServer(t, time.Date(2026, 12, 6, 9, 0, 0, 0, time.UTC))
	req, err := http.NewRequest("GET", "http://"+ts.MetricsAddr()+"/metrics", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("X-Padding", strings.Repeat("a", 100<<10))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
		t.Errorf("a scrape with 100 KiB of headers: %s, want 431", resp.Status)
	}
	scrape(t, ts) // a scrape within the bound is still served
}

// The metrics say how long the holiday data last, for an alert before
// working-day counts reach estimated or missing years: on 7 December
// 2026 the announced data end in 24 days (2027 is provisional), all of
// them with 2030.
func TestMetricsSayHowLongTheHolidayDataLast(t *testing.T) {
	ts := metricsServer(t, hn(2026, 12, 7, 9, 0))
	families := scrape(t, ts)
	for name, want := range map[string]float64{
		"childcase_holiday_data_announced_days_left": 24,
		"childcase_holiday_data_days_left":           1485,
	} {
		if got, ok := sample(families, name, nil); !ok || got != want {
			t.Errorf("%s = %v (served: %v), want %v", name, got, ok, want)
		}
	}
}
