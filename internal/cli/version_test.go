package cli

import (
	"bytes"
	"runtime"
	"runtime/debug"
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

// TestREADMEVersionBlockIsTheFormat holds "Build and install" to the
// letter: the lines the README shows under ./childcase version are what
// a build with those VCS settings prints, line for line, and a build
// without VCS information says what the README says it says.
func TestREADMEVersionBlockIsTheFormat(t *testing.T) {
	section := readmeSection(t, "Running it in production")
	_, block, ok := strings.Cut(section, "./childcase version\n")
	if !ok {
		t.Fatal(`README.md's "Running it in production" shows no ./childcase version`)
	}
	block, _, _ = strings.Cut(block, "```")
	var shown []string
	fields := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(block), "\n") {
		line = strings.TrimPrefix(line, "# ")
		shown = append(shown, line)
		if k, v, ok := strings.Cut(line, ": "); ok {
			fields[k] = v
		}
	}
	if len(shown) == 0 || !strings.HasPrefix(shown[0], "childcase ") {
		t.Fatalf("README.md's version block: %q", shown)
	}
	bi := &debug.BuildInfo{
		GoVersion: fields["go"],
		Main:      debug.Module{Path: fields["module"], Version: strings.TrimPrefix(shown[0], "childcase ")},
		Settings: []debug.BuildSetting{
			{Key: "vcs", Value: "git"}, {Key: "vcs.revision", Value: fields["revision"]},
			{Key: "vcs.time", Value: fields["revision time"]}, {Key: "vcs.modified", Value: fields["modified"]},
		},
	}
	if got, want := app.BuildInfoFrom(bi, true).String(), strings.Join(shown, "\n")+"\n"; got != want {
		t.Errorf("a build of the README's revision prints\n%s\nthe README shows\n%s", got, want)
	}
	bi.Settings = nil
	got := app.BuildInfoFrom(bi, true).String()
	prose := strings.Join(strings.Fields(section), " ")
	for _, want := range []string{"\nrevision: unknown (built without VCS information)\n", "\nmodified: unknown\n"} {
		if !strings.Contains(got, want) || !strings.Contains(prose, "`"+strings.Trim(want, "\n")+"`") {
			t.Errorf("a build without VCS information prints\n%s\nwant %q, as the README says", got, want)
		}
	}
}
