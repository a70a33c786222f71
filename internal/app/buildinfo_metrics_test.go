package app_test

import (
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/childcase/childcase/internal/app"
)

// TestMetricsDoNotExposeBuild: the README says anonymous callers never see
// the build, and the metrics are served without a token (to Prometheus,
// but to anyone else who reaches their address too). Go's collector would
// name the Go version (go_info), which tells an attacker which of the
// standard library's known vulnerabilities to try, as the module version
// and revision would; the operator reads them from childcase version and
// the start-up log instead.
func TestMetricsDoNotExposeBuild(t *testing.T) {
	ts := metricsServer(t, testNow)
	resp, err := http.Get("http://" + ts.MetricsAddr() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /metrics: %s, %v", resp.Status, err)
	}
	page := string(body)
	if !strings.Contains(page, "\ngo_goroutines ") {
		t.Fatalf("the metrics lack Go's own (go_goroutines); is this the page?\n%.500s", page)
	}
	bi := app.ReadBuildInfo()
	for _, field := range []string{bi.GoVersion, bi.Revision, bi.Version} {
		if field != "" && field != "unknown" && field != "(devel)" && strings.Contains(page, field) {
			t.Errorf("the metrics name the build's %q", field)
		}
	}
	if strings.Contains(page, "go_info") {
		t.Error("the metrics serve go_info, which names the Go version")
	}
}
