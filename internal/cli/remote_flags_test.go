package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestRemoteAndOfflineFlagsAreNotMixed: backup and keys rotate work either
// through a running server (--addr) or on a file, and a flag of the other
// way given on the command line is refused, naming it, rather than
// silently dropped. "keys rotate --addr ... --key-file K" rotated the
// server's key file and left K as it was, while the operator believed K
// rotated; "keys rotate --token T" (a forgotten --addr) rotated
// ./childcase.db offline, and "backup --to F --token T" copied
// ./childcase.db. Environment twins do not count: a backup.env may hold
// CHILDCASE_TOKEN whichever way the command runs.
func TestRemoteAndOfflineFlagsAreNotMixed(t *testing.T) {
	opsClearEnv(t)
	dir := t.TempDir()
	db := opsDatabase(t, dir)
	key := filepath.Join(dir, "cc.key")
	if err := os.WriteFile(filepath.Join(dir, "ca.pem"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	to := filepath.Join(dir, "b.db")
	unreachable := mgAddr(t)
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"backup", "--to", to, "--db", db, "--token", "cc_x"}, "--token: with --addr only"},
		{[]string{"backup", "--to", to, "--db", db, "--ca-cert", filepath.Join(dir, "ca.pem")}, "--ca-cert: with --addr only"},
		{[]string{"keys", "rotate", "--db", db, "--key-file", key, "--token", "cc_x"}, "--token: with --addr only"},
		{[]string{"keys", "rotate", "--db", db, "--key-file", key, "--client-cert", "c.pem", "--client-key", "k.pem"}, "--client-cert, --client-key: with --addr only"},
		{[]string{"keys", "rotate", "--addr", unreachable, "--token", "cc_x", "--key-file", key}, "--addr, --key-file: "},
		{[]string{"keys", "rotate", "--addr", unreachable, "--token", "cc_x", "--db", db, "--key-file", key}, "--addr, --db, --key-file: "},
		{[]string{"backup", "--to", to, "--addr", unreachable, "--token", "cc_x", "--db", db}, "--addr, --db: "},
		{[]string{"backup", "--to", to, "--addr", unreachable, "--token", "cc_x", "--store", "etcd://" + unreachable}, "--addr, --store: "},
	} {
		// How the command was given, as a flag of the other store is
		// (TestAFlagOfTheOtherStoreIsRefused): a usage error, exit 2,
		// which a script tells from a backup that failed (exit 1).
		code, _, stderr := mgRun(t, c.args...)
		if code != 2 || !strings.Contains(stderr, c.want) || strings.Contains(stderr, "connection refused") {
			t.Errorf("%s: exit %d, want 2 and %q before anything is done:\n%s", strings.Join(c.args, " "), code, c.want, stderr)
		}
	}
	if _, err := os.Stat(to); err == nil {
		t.Errorf("a refused backup wrote %s", to)
	}
	if retired, _ := filepath.Glob(key + ".retired-*"); len(retired) > 0 {
		t.Errorf("a refused keys rotate rotated %s: %v", key, retired)
	}

	// An address from the environment is named as such: the operator did
	// not type --addr.
	t.Setenv(EnvPrefix+"ADDR", unreachable)
	for _, args := range [][]string{
		{"keys", "rotate", "--db", db, "--key-file", key},
		{"backup", "--to", to, "--db", db, "--token", "cc_x"},
	} {
		if code, _, stderr := mgRun(t, args...); code != 2 || !strings.Contains(stderr, "CHILDCASE_ADDR (--addr), --") {
			t.Errorf("%s with CHILDCASE_ADDR set: exit %d, want 2 naming CHILDCASE_ADDR:\n%s", strings.Join(args, " "), code, stderr)
		}
	}
	t.Setenv(EnvPrefix+"ADDR", "")

	// The twins in the environment leave the offline commands alone.
	t.Setenv(EnvPrefix+"TOKEN", "cc_x")
	mgMustRun(t, "backup", "--to", to, "--db", db)
	if out := mgMustRun(t, "keys", "rotate", "--db", db, "--key-file", key); !strings.Contains(out, "Rotated to master key") {
		t.Errorf("keys rotate with CHILDCASE_TOKEN in the environment said %q", out)
	}
}
