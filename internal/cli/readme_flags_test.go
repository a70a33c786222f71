package cli

import (
	"bytes"
	"os"
	"regexp"
	"strings"
	"testing"
)

// TestREADMECommandsUseFlagsTheyHave: every childcase command the README
// shows, in a block or inline, whether run by the README test or only
// read by an operator (the etcd cluster's, the drill's, the units'),
// names only flags its command has, as that command's -h lists them. A
// flag renamed or mistyped in a block no test runs would otherwise be
// found by the operator who copies it, as "flag provided but not
// defined".
func TestREADMECommandsUseFlagsTheyHave(t *testing.T) {
	opsClearEnv(t)
	md, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	// A command continued over lines is one line.
	text := regexp.MustCompile(`\\\n\s*`).ReplaceAllString(string(md), " ")
	cmd := regexp.MustCompile("(?:^|[\\s`'(/])childcase ((?:users|keys|audit|stats) [a-z]+|serve|backup|restore|check|migrate-store|load|version|totp)\\b([^`\\n#|;&)]*)")
	flagName := regexp.MustCompile(`(?:^|\s)--([a-z][a-z0-9-]*)`)
	known := map[string]map[string]bool{}
	seen := 0
	for _, m := range cmd.FindAllStringSubmatch(text, -1) {
		name, rest := m[1], m[2]
		if known[name] == nil {
			known[name] = commandFlags(t, strings.Fields(name))
		}
		for _, f := range flagName.FindAllStringSubmatch(rest, -1) {
			seen++
			if !known[name][f[1]] {
				t.Errorf("README.md: childcase %s%s: --%s is no flag of %s", name, rest, f[1], name)
			}
		}
	}
	if seen < 100 {
		t.Errorf("found %d flags on childcase commands in README.md, want the sections' hundred and more", seen)
	}
}

// commandFlags is the set of flags that command's -h lists.
func commandFlags(t *testing.T, command []string) map[string]bool {
	t.Helper()
	var out bytes.Buffer
	if code := Main(t.Context(), append(command, "-h"), &out, &out); code != 0 {
		t.Fatalf("childcase %s -h: exit %d:\n%s", strings.Join(command, " "), code, out.String())
	}
	flags := map[string]bool{}
	for _, m := range regexp.MustCompile(`(?m)^  -([a-z][a-z0-9-]*)`).FindAllStringSubmatch(out.String(), -1) {
		flags[m[1]] = true
	}
	return flags
}
