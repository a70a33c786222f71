package cli

import (
	"bytes"
	"runtime"
	"strings"
	"testing"

	"github.com/childcase/childcase/internal/app"
)

// childcase version prints what the binary knows of its build, as
// app.BuildInfo formats it; under go test that is the test binary's.
func TestVersionCommand(t *testing.T) {
	var stdout, stderr bytes.Buffer
	if code := Main(t.Context(), []string{"version"}, &stdout, &stderr); code != 0 {
		t.Fatalf("version exited %d: %s", code, stderr.String())
	}
	if got, want := stdout.String(), app.ReadBuildInfo().String(); got != want {
		t.Errorf("version printed\n%s\nwant\n%s", got, want)
	}
	if !strings.HasPrefix(stdout.String(), "childcase ") || !strings.Contains(stdout.String(), "\ngo: "+runtime.Version()+"\n") {
		t.Errorf("version printed %q: want a first line \"childcase VERSION\" and the Go version", stdout.String())
	}
	for _, flag := range []string{"--version", "-version"} {
		var out bytes.Buffer
		if code := Main(t.Context(), []string{flag}, &out, &stderr); code != 0 || out.String() != stdout.String() {
			t.Errorf("%s exited %d and printed %q, want what version prints", flag, code, out.String())
		}
	}
	if code := Main(t.Context(), []string{"version", "extra"}, &stdout, &stderr); code != 2 {
		t.Errorf("version with an argument exited %d, want 2", code)
	}
}
