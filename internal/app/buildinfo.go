package app

import (
	"fmt"
	"runtime"
	"runtime/debug"
	"strings"
)

// BuildInfo is what the binary knows of its own build: the module version,
// the VCS revision it was built from and whether that tree had changes, and
// the Go that built it. It goes to the operator (childcase version and the
// start-up log), never to anonymous callers: a version tells an attacker
// which known vulnerabilities to try.
type BuildInfo struct {
	Module  string // main module path; "" when the binary has no build information
	Version string // "v1.2.0", a pseudo-version, "(devel)" or "unknown"
	// VCS is false when the build stamped no VCS information (go run, go
	// test, or -buildvcs=false, which GOFLAGS may set): then Revision,
	// RevisionTime and Modified are not known.
	VCS          bool
	Revision     string
	RevisionTime string
	Modified     bool
	GoVersion    string
}

// ReadBuildInfo reads the running binary's build information.
func ReadBuildInfo() BuildInfo { return BuildInfoFrom(debug.ReadBuildInfo()) }

// BuildInfoFrom extracts a BuildInfo from what debug.ReadBuildInfo returned.
func BuildInfoFrom(bi *debug.BuildInfo, ok bool) BuildInfo {
	if !ok || bi == nil {
		return BuildInfo{Version: "unknown", GoVersion: runtime.Version()}
	}
	out := BuildInfo{Module: bi.Main.Path, Version: bi.Main.Version, GoVersion: bi.GoVersion}
	if out.Version == "" {
		out.Version = "unknown"
	}
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			out.Revision, out.VCS = s.Value, true
		case "vcs.time":
			out.RevisionTime = s.Value
		case "vcs.modified":
			out.Modified = s.Value == "true"
		}
	}
	return out
}

func (b BuildInfo) revision() string {
	if !b.VCS {
		return "unknown"
	}
	return b.Revision
}

func (b BuildInfo) module() string {
	if b.Module == "" {
		return "unknown"
	}
	return b.Module
}

func (b BuildInfo) revisionTime() string {
	if !b.VCS || b.RevisionTime == "" {
		return "unknown"
	}
	return b.RevisionTime
}

func (b BuildInfo) modified() string {
	if !b.VCS {
		return "unknown"
	}
	return fmt.Sprint(b.Modified)
}

// String is what childcase version prints: "childcase VERSION" and one
// "key: value" line for each of the rest.
func (b BuildInfo) String() string {
	var s strings.Builder
	module, revision := b.module(), b.revision()
	if !b.VCS {
		revision += " (built without VCS information)"
	}
	fmt.Fprintf(&s, "childcase %s\nmodule: %s\nrevision: %s\n", b.Version, module, revision)
	if b.RevisionTime != "" {
		fmt.Fprintf(&s, "revision time: %s\n", b.RevisionTime)
	}
	fmt.Fprintf(&s, "modified: %s\ngo: %s\n", b.modified(), b.GoVersion)
	return s.String()
}

// logAttrs are the start-up log's attributes of the build: the fields
// childcase version prints, so that a journal names the build as fully.
func (b BuildInfo) logAttrs() []any {
	return []any{"version", b.Version, "module", b.module(), "revision", b.revision(), "revision_time", b.revisionTime(),
		"modified", b.modified(), "go", b.GoVersion}
}
