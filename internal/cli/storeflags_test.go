package cli

import (
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestAFlagOfTheOtherStoreIsRefused: a setting of one store given to a
// command whose store is the other did nothing, silently: an
// --etcd-max-request-bytes on a bbolt file, a --max-db-size on etcd. The
// operator believed it in force. Every flag of a command with --store
// that applies to one store only (its help begins "with an etcd store"
// or "with a bbolt store", found from the command's -h, not a list) is
// refused for the other as a usage error (exit 2), naming the flag and
// the store it is for; for serve, its environment twin too (the offline
// commands read the servers' environment on purpose, see
// TestFileOrEtcdFromTheEnvironment).
func TestAFlagOfTheOtherStoreIsRefused(t *testing.T) {
	mvClearEnv(t)
	dir := t.TempDir()
	file := filepath.Join(dir, "none.db")
	// What each command needs besides its store; a serve that took the
	// flag stops at its address, before opening anything.
	needs := map[string][]string{
		"serve":   {"--grpc-addr", "nohostport", "--key-file", filepath.Join(dir, "cc.key")},
		"backup":  {"--to", filepath.Join(dir, "b.db")},
		"restore": {"--from", file},
	}
	onFile := [][]string{{"--db", file}, {"--store", "bbolt", "--db", file}}
	onEtcd := [][]string{{"--store", "etcd://127.0.0.1:1"}}
	flagLine := regexp.MustCompile(`(?m)^  -([a-z][a-z0-9-]*)( [a-z]+)?\n    \t([^\n]*)`)
	twin := regexp.MustCompile(`\(env (` + EnvPrefix + `[A-Z0-9_]+)\)`)
	checked := map[string]bool{}
	for _, c := range everyCommand {
		_, help, _ := mgRun(t, append(append([]string(nil), c...), "-h")...)
		if !strings.Contains(help, "\n  -store ") {
			continue
		}
		for _, m := range flagLine.FindAllStringSubmatch(help, -1) {
			name, kind, usage := m[1], strings.TrimSpace(m[2]), m[3]
			stores, want := onFile, "an etcd store"
			switch {
			case strings.HasPrefix(usage, "with an etcd store"):
			case strings.HasPrefix(usage, "with a bbolt store"):
				stores, want = onEtcd, "a bbolt store"
			default:
				continue
			}
			checked[name] = true
			value := map[string]string{"": "true", "int": "100", "size": "64MiB", "prefix": "/hn/"}[kind] // "": a bool
			if value == "" {
				value = filepath.Join(dir, "x") // a file, never read
			}
			env := twin.FindStringSubmatch(usage)
			for _, store := range stores {
				args := append(append(append([]string(nil), c...), needs[c[0]]...), store...)
				given := append(append([]string(nil), args...), "--"+name+"="+value)
				code, _, stderr := mgRun(t, given...)
				if code != 2 || !strings.Contains(stderr, "--"+name+" applies to "+want+" only") {
					t.Errorf("childcase %s: exit %d, want 2 naming --%s and %s:\n%s", strings.Join(given, " "), code, name, want, firstLines(stderr, 3))
				}
				if c[0] != "serve" || env == nil || name == "db" {
					continue // --db's twin: the default's place of the file
				}
				t.Setenv(env[1], value)
				code, _, stderr = mgRun(t, args...)
				t.Setenv(env[1], "")
				if code != 2 || !strings.Contains(stderr, env[1]+" (--"+name+") applies to "+want+" only") {
					t.Errorf("%s=%s childcase %s: exit %d, want 2 naming %s, --%s and %s:\n%s", env[1], value, strings.Join(args, " "), code, env[1], name, want, firstLines(stderr, 3))
				}
			}
		}
	}
	// restore --force replaces a file, and users add --create makes one:
	// on etcd they would do nothing, and were refused (--force) as a
	// failed run, exit 1, not as the usage error the others are.
	for _, name := range []string{"etcd-prefix", "etcd-ca", "etcd-cert", "etcd-key", "etcd-max-txn-ops", "etcd-max-request-bytes", "db", "max-db-size", "force", "create"} {
		if !checked[name] {
			t.Errorf("no command's -h says --%s applies to one store only", name)
		}
	}
	if names := dirNames(t, dir); len(names) > 0 {
		t.Errorf("the refusals made %v", names)
	}
}
