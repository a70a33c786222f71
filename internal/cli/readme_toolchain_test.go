package cli

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// The project builds with Go 1.27.3 (issue 16), and a machine here starts
// on an older Go that ignores go.mod's toolchain line: every go command a
// reader copies from the README, and every CI script that runs go, must
// set GOTOOLCHAIN=go1.27.3 itself, or it fails (go.mod's go line refuses
// the older Go) or, worse, a script quietly runs another toolchain.
const projectToolchain = "GOTOOLCHAIN=go1.27.3"

// goCommand finds a go command where a shell would run one: at the start
// of a command (after a separator, a subshell's parenthesis, a $( or a
// run of VAR=value assignments), followed by one of the go command's
// verbs. The assignments before it, if any, are group 1.
var goCommand = regexp.MustCompile(`(?m)(?:^|[;&|(]|\$\()\s*((?:[A-Za-z_][A-Za-z0-9_]*=\S*\s+)*)go\s+(?:build|clean|doc|env|fix|fmt|generate|get|install|list|mod|run|test|tool|version|vet|work)\b`)

// shellCommands returns a code block's text with each line continuation
// joined, so that a command split over lines is one line.
func shellCommands(text string) string {
	return strings.ReplaceAll(text, "\\\n", " ")
}

// withoutComments blanks a script's comment lines, which may quote
// commands that do not run.
func withoutComments(text string) string {
	lines := strings.Split(text, "\n")
	for i, l := range lines {
		if strings.HasPrefix(strings.TrimSpace(l), "#") {
			lines[i] = ""
		}
	}
	return strings.Join(lines, "\n")
}

// TestREADMEGoCommandsCarryTheToolchain: every go command in the README's
// code blocks (sh, run by TestREADME, and console, copied by hand) carries
// GOTOOLCHAIN=go1.27.3 among its assignments.
func TestREADMEGoCommandsCarryTheToolchain(t *testing.T) {
	md, err := os.ReadFile(readmePath)
	if err != nil {
		t.Fatal(err)
	}
	found := 0
	for _, b := range readmeBlocks(t, string(md)) {
		text := shellCommands(b.text)
		for _, m := range goCommand.FindAllStringSubmatchIndex(text, -1) {
			found++
			if !strings.Contains(" "+text[m[2]:m[3]], " "+projectToolchain+" ") {
				line := b.line + 1 + strings.Count(b.text[:min(m[0], len(b.text))], "\n")
				t.Errorf("README.md:~%d (```%s block): %q runs go without %s", line, b.lang, strings.TrimSpace(text[m[0]:m[1]]), projectToolchain)
			}
		}
	}
	// The two commands at the top alone are go commands: finding fewer
	// means the pattern no longer sees them.
	if found < 2 {
		t.Fatalf("found %d go commands in the README's code blocks; the pattern is broken", found)
	}
}

// TestCIScriptsSetTheToolchain: each script under .ci that runs go exports
// GOTOOLCHAIN=go1.27.3 before its first go command (or gives it to that
// command), so CI builds, tests and scans with the toolchain go.mod asks
// for.
func TestCIScriptsSetTheToolchain(t *testing.T) {
	scripts, err := filepath.Glob("../../.ci/*")
	if err != nil || len(scripts) == 0 {
		t.Fatalf("no scripts under .ci: %v", err)
	}
	checked := 0
	for _, p := range scripts {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		text := shellCommands(withoutComments(string(b)))
		m := goCommand.FindStringSubmatchIndex(text)
		if m == nil {
			continue
		}
		checked++
		exported := strings.Index(text, "export "+projectToolchain+"\n")
		if !(exported >= 0 && exported < m[0]) && !strings.Contains(" "+text[m[2]:m[3]], " "+projectToolchain+" ") {
			t.Errorf(".ci/%s runs go (%q) before it exports %s", filepath.Base(p), strings.TrimSpace(text[m[0]:m[1]]), projectToolchain)
		}
	}
	if checked == 0 {
		t.Fatal("no script under .ci runs go; the pattern is broken")
	}
}

// inlineCode is a code span of the README's text, which may wrap a line.
var inlineCode = regexp.MustCompile("`([^`]+)`")

// TestREADMEInlineGoCommandsCarryTheToolchain: a whole go command quoted
// in the README's text, one that names a package of the project (./...),
// is copied as readily as a code block's, so it carries GOTOOLCHAIN too
// (issue 16: "every command in the README"). A verb or flag named in
// passing (`go test -c`, `go vet`) is no command to copy.
func TestREADMEInlineGoCommandsCarryTheToolchain(t *testing.T) {
	md, err := os.ReadFile(readmePath)
	if err != nil {
		t.Fatal(err)
	}
	// The text outside code blocks, blank lines where the blocks were, so
	// that line numbers stay the file's.
	lines := strings.Split(string(md), "\n")
	inBlock := false
	for i, l := range lines {
		fence := strings.HasPrefix(strings.TrimSpace(l), "```")
		if inBlock || fence {
			lines[i] = ""
		}
		if fence {
			inBlock = !inBlock
		}
	}
	text := strings.Join(lines, "\n")
	found := 0
	for _, m := range inlineCode.FindAllStringSubmatchIndex(text, -1) {
		span := shellCommands(text[m[2]:m[3]])
		for _, c := range goCommand.FindAllStringSubmatchIndex(span, -1) {
			if !strings.Contains(span[c[1]:], " ./") {
				continue
			}
			found++
			if !strings.Contains(" "+span[c[2]:c[3]], " "+projectToolchain+" ") {
				t.Errorf("README.md:%d: `%s` runs go without %s", 1+strings.Count(text[:m[0]], "\n"), span, projectToolchain)
			}
		}
	}
	// Key rotation and the audit check are quoted this way: finding none
	// means the pattern no longer sees them.
	if found < 2 {
		t.Fatalf("found %d go commands in the README's text; the pattern is broken", found)
	}
}

// TestCIRunInstallsWhatTheTestCommandNeeds: the README's test command
// needs a C compiler (-race builds with cgo) and, in CI, curl, jq,
// Chromium, systemd-analyze and nginx, "where .ci/run installs them". On
// a fresh machine without gcc, go test -race stops at once ("-race
// requires cgo"), so .ci/run installs each of these Debian packages
// before it runs the tests.
func TestCIRunInstallsWhatTheTestCommandNeeds(t *testing.T) {
	b, err := os.ReadFile("../../.ci/run")
	if err != nil {
		t.Fatal(err)
	}
	text := shellCommands(withoutComments(string(b)))
	tests := strings.Index(text, "go test -race")
	if tests < 0 {
		t.Fatal(".ci/run runs no go test -race; the pattern is broken")
	}
	installed := map[string]bool{}
	install := regexp.MustCompile(`apt-get install ([^\n;&|]*)`)
	for _, m := range install.FindAllStringSubmatchIndex(text[:tests], -1) {
		for _, word := range strings.Fields(text[m[2]:m[3]]) {
			installed[word] = true
		}
	}
	for _, pkg := range []string{"gcc", "libc6-dev", "curl", "jq", "chromium", "systemd", "nginx-light"} {
		if !installed[pkg] {
			t.Errorf(".ci/run does not install %s before the tests (apt-get install lines: %v)", pkg, installed)
		}
	}
}
