package cli

import (
	"bytes"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// everyCommand is every command and subcommand of the usage, as a
// newcomer types it (TestEveryCommandAnswersHelp holds it to the usage).
var everyCommand = [][]string{
	{"serve"}, {"users"}, {"users", "add"}, {"users", "list"}, {"users", "revoke"},
	{"keys"}, {"keys", "rotate"}, {"audit"}, {"audit", "verify"},
	{"backup"}, {"restore"}, {"check"}, {"migrate-store"},
	{"stats"}, {"stats", "rebuild"}, {"load"}, {"version"}, {"totp"},
}

// TestEveryCommandAnswersHelp: "childcase --help" sends a newcomer to
// each command's -h, so every command the usage lists answers -h, --help
// and "childcase help CMD" (which printed the general usage) with its
// usage and exit 0, and reads neither as an argument: totp
// took -h for a secret to decode (exit 1, "Decoding of secret as base32
// failed") and version refused it as an argument (exit 2). The usage
// asked for goes to stdout, nothing to stderr, so that "childcase serve
// -h | grep tls" finds it: the flags' usage went to stderr, and the
// pipe showed nothing.
func TestEveryCommandAnswersHelp(t *testing.T) {
	opsClearEnv(t)
	commands := everyCommand
	// Every command of the usage is among them.
	for _, line := range strings.Split(usage, "\n") {
		f := strings.Fields(line)
		if len(f) < 2 || f[0] != "childcase" || strings.HasPrefix(f[1], "-") {
			continue
		}
		found := false
		for _, c := range commands {
			found = found || c[0] == f[1]
		}
		if !found {
			t.Errorf("the usage lists %q, which this test does not ask for help", f[1])
		}
	}
	for _, c := range commands {
		// "childcase help CMD" is CMD's -h.
		var viaHelp, direct bytes.Buffer
		if code := Main(t.Context(), []string{"help", c[0]}, &viaHelp, &viaHelp); code != 0 || Main(t.Context(), []string{c[0], "-h"}, &direct, &direct) != 0 || viaHelp.String() != direct.String() {
			t.Errorf("childcase help %s: exit %d and\n%s\nwant what %s -h prints:\n%s", c[0], code, viaHelp.String(), c[0], direct.String())
		}
		for _, h := range []string{"-h", "--help"} {
			args := append(append([]string(nil), c...), h)
			var stdout, stderr bytes.Buffer
			code := Main(t.Context(), args, &stdout, &stderr)
			if code != 0 || !strings.Contains(stdout.String(), "Usage") || stderr.Len() != 0 {
				t.Errorf("childcase %s: exit %d, want 0 and its usage on stdout alone:\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), code, stdout.String(), stderr.String())
			}
		}
	}
}

// TestAPositionalFileSaysWhichFlagTakesIt: "childcase check backup.db" was
// refused with "unexpected arguments: backup.db" alone; the refusal says
// that the file goes with its flag and where the flags are listed, and
// that flags after the argument were not read.
func TestAPositionalFileSaysWhichFlagTakesIt(t *testing.T) {
	opsClearEnv(t)
	for _, args := range [][]string{
		{"check", "backup.db"},
		{"audit", "verify", "childcase.db"},
		{"serve", "extra", "--grpc-addr", "127.0.0.1:0"},
	} {
		var stdout, stderr bytes.Buffer
		code := Main(t.Context(), args, &stdout, &stderr)
		name := strings.Join(args[:len(args)-1], " ")
		if args[0] == "serve" {
			name = "serve"
		}
		for _, want := range []string{"unexpected arguments: ", "with its flag, such as --db FILE", "reads none after the first argument", `"childcase ` + name + ` -h" lists them`} {
			if code != 2 || !strings.Contains(stderr.String(), want) {
				t.Errorf("childcase %s: exit %d, want 2 and %q:\n%s", strings.Join(args, " "), code, want, stderr.String())
			}
		}
	}
}

// TestLayoutNamesEveryCommand: the README's Layout lists the subcommands
// internal/cli holds; they are the commands of the usage, no more, no
// fewer.
func TestLayoutNamesEveryCommand(t *testing.T) {
	section := readmeSection(t, "Layout")
	_, line, ok := strings.Cut(section, "\ninternal/cli ")
	if !ok {
		t.Fatal("README.md's Layout has no line for internal/cli")
	}
	line, _, _ = strings.Cut(line, "\n")
	_, list, ok := strings.Cut(line, "subcommands (")
	list, _, ok2 := strings.Cut(list, ")")
	if !ok || !ok2 {
		t.Fatalf("README.md's Layout line of internal/cli lists no subcommands: %q", line)
	}
	var listed []string
	for _, c := range strings.Split(list, ",") {
		listed = append(listed, strings.TrimSpace(c))
	}
	var commands []string
	for _, l := range strings.Split(usage, "\n") {
		if f := strings.Fields(l); len(f) > 1 && f[0] == "childcase" && !strings.HasPrefix(f[1], "-") && !slices.Contains(commands, f[1]) {
			commands = append(commands, f[1])
		}
	}
	slices.Sort(listed)
	slices.Sort(commands)
	if !slices.Equal(listed, commands) {
		t.Errorf("README.md's Layout lists the subcommands %v; the usage has %v", listed, commands)
	}
}

// TestMissingRequiredFlagsAreUsageErrors: a flag a command cannot do
// without, left out, is named with the usage and exit 2, as backup's --to
// always was, before anything is opened: users revoke without --id
// opened the database to answer `user "": not found` (exit 1), users add
// without its flags said only that "" is not a role, and --addr without
// --token exited 1.
func TestMissingRequiredFlagsAreUsageErrors(t *testing.T) {
	opsClearEnv(t)
	dir := t.TempDir()
	db := opsDatabase(t, dir)
	before := mgMustRun(t, "audit", "verify", "--db", db)
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"users", "add", "--db", db}, "users add: --id, --name, --role, --unit are required"},
		{[]string{"users", "add", "--db", db, "--id", "x.y", "--role", "AUDITOR"}, "users add: --name, --unit are required"},
		{[]string{"users", "revoke", "--db", db}, "users revoke: --id is required"},
		{[]string{"keys", "rotate", "--addr", "127.0.0.1:1"}, "keys rotate: --token is required with --addr"},
		{[]string{"backup", "--to", filepath.Join(dir, "b.db"), "--addr", "127.0.0.1:1"}, "backup: --token is required with --addr"},
	} {
		code, stdout, stderr := mgRun(t, c.args...)
		if code != 2 || !strings.Contains(stderr, c.want) || !strings.Contains(stderr, "Usage:") {
			t.Errorf("childcase %s: exit %d, want 2, %q and the usage:\nstdout:\n%s\nstderr:\n%s", strings.Join(c.args, " "), code, c.want, stdout, stderr)
		}
	}
	if after := mgMustRun(t, "audit", "verify", "--db", db); after != before {
		t.Errorf("the refused commands wrote to the database: audit verify said\n%s\nbefore, and now\n%s", before, after)
	}
}

// TestHelpIsPrintedDespiteABadEnvironmentValue: with CHILDCASE_MAX_DB_SIZE
// mistyped, "childcase serve -h" exited 1 with the environment's error
// instead of printing the usage the operator asked for, perhaps to find
// that very flag. The bad value is still refused when the command runs.
func TestHelpIsPrintedDespiteABadEnvironmentValue(t *testing.T) {
	opsClearEnv(t)
	t.Setenv("CHILDCASE_MAX_DB_SIZE", "abc")
	var stdout, stderr bytes.Buffer
	if code := Main(t.Context(), []string{"serve", "-h"}, &stdout, &stderr); code != 0 || !strings.Contains(stdout.String(), "--max-db-size") {
		t.Errorf("serve -h with a bad CHILDCASE_MAX_DB_SIZE: exit %d, want 0 and the usage:\nstdout:\n%s\nstderr:\n%s", code, stdout.String(), stderr.String())
	}
	stdout.Reset()
	stderr.Reset()
	dir := t.TempDir()
	args := []string{"serve", "--db", filepath.Join(dir, "cc.db"), "--key-file", filepath.Join(dir, "cc.key"), "--grpc-addr", "127.0.0.1:0", "--http-addr", "127.0.0.1:0"}
	if code := Main(t.Context(), args, &stdout, &stderr); code == 0 || !strings.Contains(stderr.String(), "CHILDCASE_MAX_DB_SIZE") {
		t.Errorf("serve with a bad CHILDCASE_MAX_DB_SIZE: exit %d, want a refusal naming it:\n%s", code, stderr.String())
	}
	if made, _ := filepath.Glob(filepath.Join(dir, "*")); len(made) > 0 {
		t.Errorf("the refused start made %v", made)
	}
}

// TestUsageSaysEveryCommandHasItsHelp: the usage's last words tell a
// newcomer how to ask any command for its flags, as every command answers
// -h (TestEveryCommandAnswersHelp); they named five of them, as if the
// others had none.
func TestUsageSaysEveryCommandHasItsHelp(t *testing.T) {
	if !strings.Contains(usage, `"childcase COMMAND -h"`) || !strings.Contains(usage, "of any command") {
		t.Errorf("the usage does not say that every command answers -h:\n%s", usage)
	}
}
