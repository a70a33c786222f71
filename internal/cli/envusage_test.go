package cli

import (
	"errors"
	"flag"
	"io"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestABadEnvironmentValueIsAUsageErrorLikeItsFlag: a value a flag
// cannot read is a usage error (exit 2) on the command line; the same
// value in the flag's CHILDCASE_ twin exited 1, as if the command had
// run and failed, so a unit or a script telling the two apart by the
// code took a mistyped environment for a failed backup or start. Every
// command's every flag with a twin that the flag package refuses a
// value of (a number, a size, a duration, true or false: those that
// refuse "bogus", found from each command's -h, not from a list) is
// refused the same way from either place, exit 2, the environment's
// refusal naming the variable and the rule the flag's names.
func TestABadEnvironmentValueIsAUsageErrorLikeItsFlag(t *testing.T) {
	opsClearEnv(t)
	flagLine := regexp.MustCompile(`(?m)^  -([a-z][a-z0-9-]*)[^\n]*\n((?:    \t[^\n]*\n)+)`)
	twin := regexp.MustCompile(`\(env (` + EnvPrefix + `[A-Z0-9_]+)\)`)
	const bad = "bogus"
	type twinned struct {
		command   []string
		flag, env string
	}
	var all []twinned
	for _, c := range everyCommand {
		code, help, _ := mgRun(t, append(append([]string(nil), c...), "-h")...)
		if code != 0 {
			t.Fatalf("childcase %s -h: exit %d", strings.Join(c, " "), code)
		}
		for _, m := range flagLine.FindAllStringSubmatch(help, -1) {
			if e := twin.FindStringSubmatch(m[2]); e != nil {
				all = append(all, twinned{c, m[1], e[1]})
				t.Setenv(e[1], "") // none from the machine's environment
			}
		}
	}
	checked := 0
	for _, tw := range all {
		name := strings.Join(tw.command, " ") + " --" + tw.flag
		// The unknown flag after it stops a flag that takes any text
		// (a file, an address) before the command runs.
		args := append(append([]string(nil), tw.command...), "--"+tw.flag+"="+bad, "--no-such-flag")
		code, _, stderr := mgRun(t, args...)
		refusal := regexp.MustCompile(`invalid (?:boolean )?value "` + bad + `" for (?:flag )?-` + regexp.QuoteMeta(tw.flag) + `: ([^\n]+)`).FindStringSubmatch(stderr)
		if refusal == nil {
			continue // a flag of text: it reads "bogus" as well as anything
		}
		checked++
		rule := strings.TrimPrefix(refusal[1], `"`+bad+`" is `)
		if code != 2 {
			t.Errorf("%s=%s: exit %d, want 2", name, bad, code)
		}
		t.Setenv(tw.env, bad)
		code, _, stderr = mgRun(t, tw.command...)
		t.Setenv(tw.env, "")
		if code != 2 || !strings.Contains(stderr, tw.env+": ") || !strings.Contains(stderr, rule) {
			t.Errorf("%s=%s for childcase %s: exit %d, want 2 like --%s=%s, naming %s and %q:\n%s",
				tw.env, bad, strings.Join(tw.command, " "), code, tw.flag, bad, tw.env, rule, firstLines(stderr, 3))
		}
	}
	if checked < 20 {
		t.Errorf("checked %d flags with a twin that refuse %q, want serve's twenty and more", checked, bad)
	}
}

// TestTheCommandLineWinsOverABadEnvironmentValue: a flag given on the
// command line wins over its environment twin (README, Configuration),
// so a twin the flag could not read is no refusal when the command line
// gives that flag: a unit's stale CHILDCASE_SHUTDOWN_TIMEOUT=soon with
// --shutdown-timeout 30s on its command line starts with 30s, where it
// was refused. The twin of a flag the command line leaves out is still
// refused, naming the variable.
func TestTheCommandLineWinsOverABadEnvironmentValue(t *testing.T) {
	newSet := func() (*flag.FlagSet, *time.Duration, *time.Duration) {
		fs := flag.NewFlagSet("serve", flag.ContinueOnError)
		fs.SetOutput(io.Discard)
		var shutdown, drain time.Duration
		durationFlag(fs, &shutdown, "shutdown-timeout", "how long a stop waits")
		durationFlag(fs, &drain, "drain-delay", "how long a drain waits")
		return fs, &shutdown, &drain
	}
	t.Setenv(EnvPrefix+"SHUTDOWN_TIMEOUT", "soon")
	t.Setenv(EnvPrefix+"DRAIN_DELAY", "")

	fs, shutdown, _ := newSet()
	if err := parse(fs, []string{"--shutdown-timeout", "30s"}); err != nil {
		t.Errorf("a bad twin of a flag the command line gives: %v, want none", err)
	}
	if *shutdown != 30*time.Second {
		t.Errorf("--shutdown-timeout 30s over a bad twin: %v, want 30s", *shutdown)
	}

	fs, _, _ = newSet()
	err := parse(fs, []string{"--drain-delay", "5s"})
	var usage usageError
	if !errors.As(err, &usage) || !strings.Contains(err.Error(), EnvPrefix+"SHUTDOWN_TIMEOUT: ") {
		t.Errorf("a bad twin of a flag the command line leaves out: %v, want a usage error naming %sSHUTDOWN_TIMEOUT", err, EnvPrefix)
	}
}
