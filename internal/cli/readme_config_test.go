package cli

import (
	"bytes"
	"errors"
	"flag"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestREADMEConfigurationTable holds the README's Configuration table to
// serve's flags both ways: every flag of serve has its row, and every row
// names a flag of serve, with the flag's environment twin and its default.
func TestREADMEConfigurationTable(t *testing.T) {
	flags := serveFlagHelp(t)

	section := readmeSection(t, "Configuration")
	row := regexp.MustCompile("(?m)^\\| `--([a-z-]+)` \\| `([A-Z_]+)` \\| ([^|]+) \\|")
	seen := map[string]bool{}
	for _, m := range row.FindAllStringSubmatch(section, -1) {
		flagName, envName, readmeDef := m[1], m[2], strings.TrimSpace(m[3])
		seen[flagName] = true
		h, ok := flags[flagName]
		if !ok {
			t.Errorf("README.md's Configuration table names --%s, which serve does not have", flagName)
			continue
		}
		if envName != h.env {
			t.Errorf("--%s: README.md says %s, serve -h %s", flagName, envName, h.env)
		}
		if !sameDefault(readmeDef, h.def) {
			t.Errorf("--%s: README.md's default is %s, serve -h says %q", flagName, readmeDef, h.def)
		}
	}
	for f := range flags {
		if !seen[f] {
			t.Errorf("serve has --%s, which README.md's Configuration table lacks", f)
		}
	}
}

// readmeSection is the README's section of that heading ("## " and the
// title), its subsections included, up to the next section.
func readmeSection(t *testing.T, title string) string {
	t.Helper()
	md, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	section := string(md)
	start := strings.Index(section, "\n## "+title+"\n")
	if start < 0 {
		t.Fatalf("README.md has no section %q", title)
	}
	section = section[start+1:]
	if end := strings.Index(section, "\n## "); end >= 0 {
		section = section[:end]
	}
	return section
}

// flagHelp is what serve -h says of a flag: its environment twin, its
// default ("" when it has none) and the name of its value ("" for a bool).
type flagHelp struct{ env, def, typ string }

// serveFlagHelp reads serve -h: every flag of serve, by name.
func serveFlagHelp(t *testing.T) map[string]flagHelp {
	t.Helper()
	var help bytes.Buffer
	if _, err := serveConfig([]string{"-h"}, &help); !errors.Is(err, flag.ErrHelp) {
		t.Fatalf("serve -h: %v", err)
	}
	// The help names each flag on one line and describes it on the next.
	flags := map[string]flagHelp{}
	lines := strings.Split(help.String(), "\n")
	name := regexp.MustCompile(`^  -([a-z-]+)(?: (\S+))?`)
	env := regexp.MustCompile(`\(env ([A-Z_]+)\)`)
	def := regexp.MustCompile(`\(default "?([^")]*)"?\)|\(0: ([^)]*)\)`)
	for i, line := range lines {
		m := name.FindStringSubmatch(line)
		if m == nil || i+1 == len(lines) {
			continue
		}
		h := flagHelp{typ: m[2]}
		if e := env.FindStringSubmatch(lines[i+1]); e != nil {
			h.env = e[1]
		}
		if d := def.FindStringSubmatch(lines[i+1]); d != nil {
			h.def = d[1] + d[2]
		}
		flags[m[1]] = h
	}
	if len(flags) < 20 {
		t.Fatalf("read only %d flags from serve -h:\n%s", len(flags), help.String())
	}
	return flags
}

// sameDefault reports whether a default as the README's table writes it
// (`15m`, none, `0` (no cap)) is the one serve -h shows (15m0s, "", no cap).
func sameDefault(readme, help string) bool {
	if i := strings.Index(readme, "`"); i >= 0 {
		if j := strings.Index(readme[i+1:], "`"); j >= 0 {
			inner := readme[i+1 : i+1+j]
			if inner == "0" && strings.Contains(readme, "no cap") {
				return help == "no cap"
			}
			if inner == "false" {
				return help == "" || help == "false"
			}
			if a, err := time.ParseDuration(inner); err == nil {
				b, err := time.ParseDuration(help)
				return err == nil && a == b
			}
			return inner == help
		}
	}
	// none, shipped defaults: the flag has no default value.
	return help == ""
}

// TestREADMEEveryFlagHasAnEnvironmentTwin holds Configuration's first
// promise for every flag of serve, not only those the other tests name:
// its environment twin sets what the flag sets, and the flag given on the
// command line wins over it.
func TestREADMEEveryFlagHasAnEnvironmentTwin(t *testing.T) {
	flags := serveFlagHelp(t)
	for _, h := range flags {
		t.Setenv(h.env, "")
	}
	// Two values of each kind, both unlike the defaults; a bool has one.
	values := func(typ string) (string, string) {
		switch typ {
		case "":
			return "true", "false"
		case "duration":
			return "7s", "9s"
		case "int":
			return "7", "9"
		case "size":
			return "7KiB", "9KiB"
		default:
			return "/x/7", "/x/9"
		}
	}
	def, err := serveConfig(nil, &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	for name, h := range flags {
		t.Run(name, func(t *testing.T) {
			if strings.HasPrefix(name, "etcd-") {
				// A setting of etcd is for an etcd store only
				// (TestAFlagOfTheOtherStoreIsRefused).
				t.Setenv(EnvPrefix+"STORE", "etcd://db1:2379")
			}
			envValue, flagValue := values(h.typ)
			byFlag, err := serveConfig([]string{"--" + name + "=" + envValue}, &bytes.Buffer{})
			if err != nil {
				t.Fatal(err)
			}
			t.Setenv(h.env, envValue)
			byEnv, err := serveConfig(nil, &bytes.Buffer{})
			if err != nil {
				t.Fatalf("%s=%s: %v", h.env, envValue, err)
			}
			if byEnv == def || byEnv != byFlag {
				t.Errorf("%s=%s sets %+v, want what --%s=%s sets, %+v", h.env, envValue, byEnv, name, envValue, byFlag)
			}
			want, err := serveConfig([]string{"--" + name + "=" + flagValue}, &bytes.Buffer{})
			if err != nil {
				t.Fatal(err)
			}
			t.Setenv(h.env, envValue)
			both, err := serveConfig([]string{"--" + name + "=" + flagValue}, &bytes.Buffer{})
			if err != nil {
				t.Fatal(err)
			}
			if both != want || both == byEnv {
				t.Errorf("--%s=%s with %s=%s gives %+v, want the flag's %+v", name, flagValue, h.env, envValue, both, want)
			}
		})
	}
}

// TestREADMEEtcdLimitRanges holds the ranges the Configuration table gives
// the etcd store's limits, "(at least 24)" operations (a new store's first
// commit) and commits "(4 KiB to 1 GiB)": with an etcd store, serve takes
// the bounds and refuses a value past them naming the flag.
func TestREADMEEtcdLimitRanges(t *testing.T) {
	section := readmeSection(t, "Configuration")
	for _, rule := range []string{"most operations in one commit (at least 24, a new store's first commit)", "the largest commit (4 KiB to 1 GiB)"} {
		if !strings.Contains(section, rule) {
			t.Errorf("README.md's Configuration no longer says %q", rule)
		}
	}
	for _, tt := range []struct {
		flag, value string
		ok          bool
	}{
		{"etcd-max-txn-ops", "24", true},
		{"etcd-max-txn-ops", "23", false},
		{"etcd-max-request-bytes", "4KiB", true},
		{"etcd-max-request-bytes", "4095", false},
		{"etcd-max-request-bytes", "1GiB", true},
		{"etcd-max-request-bytes", "1073741825", false},
	} {
		t.Setenv(envName(tt.flag), "")
		cfg, err := serveConfig([]string{"--store", "etcd://127.0.0.1:2379", "--" + tt.flag, tt.value}, &bytes.Buffer{})
		if err != nil {
			t.Fatal(err)
		}
		err = cfg.Validate()
		if tt.ok && err != nil {
			t.Errorf("--%s %s: %v, want it taken", tt.flag, tt.value, err)
		}
		if !tt.ok && (err == nil || !strings.Contains(err.Error(), "config: "+tt.flag+": ")) {
			t.Errorf("--%s %s: %v, want a refusal naming --%s", tt.flag, tt.value, err, tt.flag)
		}
	}
}
