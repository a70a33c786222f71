package app_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"runtime"
	"runtime/debug"
	"strings"
	"testing"

	"google.golang.org/grpc/health/grpc_health_v1"

	"github.com/childcase/childcase/internal/app"
	"github.com/childcase/childcase/internal/domain/clock"
)

func TestBuildInfoFromReadBuildInfo(t *testing.T) {
	vcs := func(rev, modified string) []debug.BuildSetting {
		return []debug.BuildSetting{
			{Key: "-buildmode", Value: "exe"},
			{Key: "vcs", Value: "git"},
			{Key: "vcs.revision", Value: rev},
			{Key: "vcs.time", Value: "2026-12-04T18:00:00Z"},
			{Key: "vcs.modified", Value: modified},
		}
	}
	tests := []struct {
		name string
		bi   *debug.BuildInfo
		ok   bool
		want app.BuildInfo
		text string
	}{
		{"release build from a clean tree",
			&debug.BuildInfo{GoVersion: "go1.27.3", Main: debug.Module{Path: "github.com/childcase/childcase", Version: "v1.2.0"},
				Settings: vcs("40acad7c0ffee0000000000000000000000000001", "false")},
			true,
			app.BuildInfo{Module: "github.com/childcase/childcase", Version: "v1.2.0", Revision: "40acad7c0ffee0000000000000000000000000001",
				RevisionTime: "2026-12-04T18:00:00Z", Modified: false, VCS: true, GoVersion: "go1.27.3"},
			"childcase v1.2.0\nmodule: github.com/childcase/childcase\nrevision: 40acad7c0ffee0000000000000000000000000001\nrevision time: 2026-12-04T18:00:00Z\nmodified: false\ngo: go1.27.3\n"},
		{"a modified tree",
			&debug.BuildInfo{GoVersion: "go1.27.3", Main: debug.Module{Path: "github.com/childcase/childcase", Version: "v0.0.0-20261204180000-40acad7c0ffe+dirty"},
				Settings: vcs("40acad7c0ffee0000000000000000000000000001", "true")},
			true,
			app.BuildInfo{Module: "github.com/childcase/childcase", Version: "v0.0.0-20261204180000-40acad7c0ffe+dirty", Revision: "40acad7c0ffee0000000000000000000000000001",
				RevisionTime: "2026-12-04T18:00:00Z", Modified: true, VCS: true, GoVersion: "go1.27.3"},
			"childcase v0.0.0-20261204180000-40acad7c0ffe+dirty\nmodule: github.com/childcase/childcase\nrevision: 40acad7c0ffee0000000000000000000000000001\nrevision time: 2026-12-04T18:00:00Z\nmodified: true\ngo: go1.27.3\n"},
		{"built without VCS information (-buildvcs=false, go run)",
			&debug.BuildInfo{GoVersion: "go1.27.3", Main: debug.Module{Path: "github.com/childcase/childcase", Version: "(devel)"},
				Settings: []debug.BuildSetting{{Key: "-buildvcs", Value: "false"}}},
			true,
			app.BuildInfo{Module: "github.com/childcase/childcase", Version: "(devel)", GoVersion: "go1.27.3"},
			"childcase (devel)\nmodule: github.com/childcase/childcase\nrevision: unknown (built without VCS information)\nmodified: unknown\ngo: go1.27.3\n"},
		{"no build information at all",
			nil, false,
			app.BuildInfo{Version: "unknown", GoVersion: runtime.Version()},
			"childcase unknown\nmodule: unknown\nrevision: unknown (built without VCS information)\nmodified: unknown\ngo: " + runtime.Version() + "\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := app.BuildInfoFrom(tt.bi, tt.ok)
			if got != tt.want {
				t.Errorf("BuildInfoFrom = %+v, want %+v", got, tt.want)
			}
			if s := got.String(); s != tt.text {
				t.Errorf("String() =\n%s\nwant\n%s", s, tt.text)
			}
		})
	}
}

// The test binary has build information too (no VCS stamp: go test never
// adds one); ReadBuildInfo must report the Go that built it.
func TestReadBuildInfoInTest(t *testing.T) {
	bi := app.ReadBuildInfo()
	if bi.GoVersion != runtime.Version() {
		t.Errorf("GoVersion = %q, want %q", bi.GoVersion, runtime.Version())
	}
	if bi.Version == "" {
		t.Errorf("Version is empty: %+v", bi)
	}
}

// The start-up log says which build is running, before anything else, so
// even a start that fails names its build.
func TestStartLogsBuild(t *testing.T) {
	var logs, console bytes.Buffer
	srv, err := app.Start(context.Background(), testConfig(t, ""), app.Options{
		Clock:   clock.NewFake(testNow),
		Logger:  slog.New(slog.NewJSONHandler(&logs, nil)),
		Console: &console,
	})
	if err != nil {
		t.Fatalf("start: %v", err)
	}
	if err := srv.Stop(); err != nil {
		t.Errorf("stop: %v", err)
	}
	want := app.ReadBuildInfo()
	first, _, _ := strings.Cut(logs.String(), "\n")
	var line map[string]any
	if err := json.Unmarshal([]byte(first), &line); err != nil {
		t.Fatalf("first log line %q: %v", first, err)
	}
	revision, revisionTime, modified := "unknown", "unknown", "unknown" // go test stamps no VCS information
	if want.VCS {
		revision, revisionTime, modified = want.Revision, want.RevisionTime, fmt.Sprint(want.Modified)
	}
	module := want.Module
	if module == "" {
		module = "unknown"
	}
	// The README: "The service logs the same fields at every start" as
	// childcase version prints.
	for key, v := range map[string]any{
		"msg": "childcase build", "version": want.Version, "module": module, "revision": revision,
		"revision_time": revisionTime, "modified": modified, "go": want.GoVersion,
	} {
		if line[key] != v {
			t.Errorf("first log line %s = %v, want %v (line %s)", key, line[key], v, first)
		}
	}
}

// Anonymous callers learn only that the service is up: neither /healthz
// nor the gRPC health check names the build (a version tells an attacker
// which known vulnerabilities to try).
func TestHealthDoesNotExposeBuild(t *testing.T) {
	ts := startServer(t, "")
	resp, err := http.Get("http://" + ts.HTTPAddr() + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || string(body) != "ok\n" {
		t.Errorf("/healthz = %d %q, want 200 \"ok\\n\"", resp.StatusCode, body)
	}
	bi := app.ReadBuildInfo()
	// exposed returns the first of the build's fields that s contains.
	exposed := func(s string) string {
		for _, field := range []string{bi.Version, bi.GoVersion, bi.Revision} {
			if field != "" && strings.Contains(s, field) {
				return field
			}
		}
		return ""
	}
	var headers bytes.Buffer
	if err := resp.Header.Write(&headers); err != nil {
		t.Fatal(err)
	}
	if f := exposed(headers.String() + string(body)); f != "" {
		t.Errorf("/healthz exposes %q: headers %q body %q", f, headers.String(), body)
	}
	hc, err := grpc_health_v1.NewHealthClient(ts.conn).Check(context.Background(), &grpc_health_v1.HealthCheckRequest{})
	if err != nil {
		t.Fatalf("gRPC health check: %v", err)
	}
	if hc.GetStatus() != grpc_health_v1.HealthCheckResponse_SERVING {
		t.Errorf("gRPC health = %v", hc.GetStatus())
	}
	if f := exposed(hc.String()); f != "" {
		t.Errorf("gRPC health exposes %q: %v", f, hc)
	}
}

// TestRefusedStartLogsBuild: a start refused for its configuration (here
// a --max-db-size below the least a database works in) names its build
// too. The build line came after the configuration's check, so such a
// start logged the configuration and the refusal but not which binary
// refused it.
func TestRefusedStartLogsBuild(t *testing.T) {
	var logs bytes.Buffer
	cfg := testConfig(t, "")
	cfg.MaxDBSize = 512 << 10
	_, err := app.Start(context.Background(), cfg, app.Options{
		Clock:  clock.NewFake(testNow),
		Logger: slog.New(slog.NewJSONHandler(&logs, nil)),
	})
	if err == nil || !strings.Contains(err.Error(), "max-db-size") {
		t.Fatalf("start with --max-db-size 512KiB: %v, want a refusal naming max-db-size", err)
	}
	if !strings.Contains(logs.String(), `"msg":"childcase build"`) {
		t.Errorf("the refused start logged no build line:\n%s", logs.String())
	}
}
