package cli

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/childcase/childcase/internal/storage/etcdstore/etcdtest"
)

// The tests in this file drive migrate-store, and backup, restore and
// check on etcd, through Main, against real files and an embedded etcd
// member.

// mvClearEnv is opsClearEnv plus the twins of the store flags.
func mvClearEnv(t *testing.T) {
	t.Helper()
	opsClearEnv(t)
	for _, name := range []string{"STORE", "ETCD_PREFIX", "ETCD_CA", "ETCD_CERT", "ETCD_KEY", "ETCD_MAX_TXN_OPS", "ETCD_MAX_REQUEST_BYTES"} {
		t.Setenv(EnvPrefix+name, "")
	}
}

// mvEtcd starts one embedded etcd member and returns its store URL.
func mvEtcd(t *testing.T) (*etcdtest.Cluster, string) {
	t.Helper()
	c := etcdtest.Start(t, 1, etcdtest.WithoutFsync())
	return c, "etcd://" + strings.TrimPrefix(c.Endpoints()[0], "http://")
}

// mvDump reads every bucket of a bbolt file, with its keys, values and
// sequence, through bbolt itself, so that a comparison of two files does
// not rest on the code under test.
func mvDump(t *testing.T, path string) map[string]string {
	t.Helper()
	db, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true, Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	out := map[string]string{}
	err = db.View(func(tx *bolt.Tx) error {
		return tx.ForEach(func(name []byte, b *bolt.Bucket) error {
			var sb strings.Builder
			fmt.Fprintf(&sb, "sequence %d\n", b.Sequence())
			err := b.ForEach(func(k, v []byte) error {
				fmt.Fprintf(&sb, "%x=%x\n", k, v)
				return nil
			})
			out[string(name)] = sb.String()
			return err
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// mvSameBuckets fails unless the two files hold the same buckets, keys,
// values and sequences.
func mvSameBuckets(t *testing.T, want, got string) {
	t.Helper()
	mvSameBucketsBut(t, want, got)
}

// mvHoldsWithItsOwnEvents fails unless got holds what want holds, and
// its audit log want's whole log and n events more (of the copies that
// made got, each on its source's trail before it copied).
func mvHoldsWithItsOwnEvents(t *testing.T, want, got string, n int) {
	t.Helper()
	mvSameBucketsBut(t, want, got, "audit", "index", "meta")
	m := regexp.MustCompile(`OK: (\d+) events.*--noted-head (\d+:[0-9a-f]{64})\)`).FindStringSubmatch(mgMustRun(t, "audit", "verify", "--db", want))
	if m == nil {
		t.Fatalf("audit verify of %s printed no head", want)
	}
	events, _ := strconv.Atoi(m[1])
	if out := mgMustRun(t, "audit", "verify", "--db", got, "--noted-head", m[2]); !strings.HasPrefix(out, fmt.Sprintf("OK: %d events", events+n)) {
		t.Errorf("the log of %s against the head of %s's: %q, want %d events", got, want, out, events+n)
	}
}

// mvSameBucketsBut is mvSameBuckets but for the buckets named, which
// differ on purpose (a copy's own audit event).
func mvSameBucketsBut(t *testing.T, want, got string, differ ...string) {
	t.Helper()
	a, b := mvDump(t, want), mvDump(t, got)
	for _, name := range differ {
		delete(a, name)
		delete(b, name)
	}
	if len(a) == 0 {
		t.Fatalf("%s has no buckets", want)
	}
	for name, content := range a {
		if b[name] != content {
			t.Errorf("bucket %s differs: %d bytes of dump in %s, %d in %s", name, len(content), want, len(b[name]), got)
		}
	}
	for name := range b {
		if _, ok := a[name]; !ok {
			t.Errorf("bucket %s is in %s only", name, got)
		}
	}
}

// TestMigrateStoreRoundTrip moves a database onto etcd and back: each
// move ends with the check and the bucket comparison printed, and the
// file that comes back holds exactly the buckets of the one that went,
// but for the event of the copy back on the store's trail.
func TestMigrateStoreRoundTrip(t *testing.T) {
	mvClearEnv(t)
	_, store := mvEtcd(t)
	dir := t.TempDir()
	db := opsDatabase(t, dir)

	out := mgMustRun(t, "migrate-store", "--from", db, "--to", store, "--etcd-prefix", "/hn/")
	for _, want := range []string{"Copied " + db + " to " + store + " (prefix /hn/)", "2 users", "every bucket the same as the source's"} {
		if !strings.Contains(out, want) {
			t.Errorf("migrate-store into etcd said\n%s\nwant %q", out, want)
		}
	}
	if !strings.Contains(out, "users ") || strings.Contains(out, "DIFFERENT") {
		t.Errorf("migrate-store into etcd printed no clean comparison:\n%s", out)
	}

	back := filepath.Join(dir, "back.db")
	out = mgMustRun(t, "migrate-store", "--from", store, "--to", back, "--etcd-prefix", "/hn/")
	if !strings.Contains(out, "OK: ") || !strings.Contains(out, "every bucket the same") {
		t.Errorf("migrate-store out of etcd said\n%s", out)
	}
	mvHoldsWithItsOwnEvents(t, db, back, 1)
	if names := dirNames(t, dir); strings.Contains(strings.Join(names, " "), "migrating") {
		t.Errorf("a temporary file was left: %v", names)
	}
}

// TestMigrateStoreRefusals: a target that holds data, a source a server
// holds, two files, a missing source: each is refused with a message that
// says why, and nothing is written.
func TestMigrateStoreRefusals(t *testing.T) {
	mvClearEnv(t)
	c, store := mvEtcd(t)
	dir := t.TempDir()
	db := opsDatabase(t, dir)
	mgMustRun(t, "migrate-store", "--from", db, "--to", store, "--etcd-prefix", "/taken/")
	existing := filepath.Join(dir, "existing.db")
	if err := os.WriteFile(existing, []byte("keep me"), 0o600); err != nil {
		t.Fatal(err)
	}
	// An empty source (a wrong name, a file cut to nothing) is no
	// database: it must not be made one and moved as an empty deployment.
	empty := filepath.Join(dir, "zero.db")
	if err := os.WriteFile(empty, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	// What a migrate-store out of etcd killed half-way leaves.
	if err := os.WriteFile(filepath.Join(dir, "cut.db.migrating"), []byte("half"), 0o600); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name string
		args []string
		hold bool // a server holds db
		want string
	}{
		{"non-empty etcd target", []string{"--from", db, "--to", store, "--etcd-prefix", "/taken/"}, false, "is not empty"},
		{"existing target file", []string{"--from", store, "--to", existing, "--etcd-prefix", "/taken/"}, false, existing + " exists"},
		{"source a server holds", []string{"--from", db, "--to", store, "--etcd-prefix", "/held/"}, true, "stop the server"},
		{"two files", []string{"--from", db, "--to", filepath.Join(dir, "other.db")}, false, "one side must be a bbolt file"},
		{"missing source", []string{"--from", filepath.Join(dir, "none.db"), "--to", store, "--etcd-prefix", "/none/"}, false, "--from: " + filepath.Join(dir, "none.db") + " does not exist"},
		{"target in a missing folder", []string{"--from", store, "--to", filepath.Join(dir, "nowhere", "x.db"), "--etcd-prefix", "/taken/"}, false, "--to: the folder " + filepath.Join(dir, "nowhere") + " does not exist"},
		{"leftover of a copy cut short", []string{"--from", store, "--to", filepath.Join(dir, "cut.db"), "--etcd-prefix", "/taken/"}, false, "cut.db.migrating is left from a copy cut short"},
		{"empty source file", []string{"--from", empty, "--to", store, "--etcd-prefix", "/none/"}, false, "it is not a database"},
		{"bad etcd endpoint", []string{"--from", db, "--to", "etcd://db1"}, false, "config: store:"},
		{"empty etcd source", []string{"--from", store, "--to", filepath.Join(dir, "empty.db"), "--etcd-prefix", "/empty/"}, false, "holds no childcase database"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.hold {
				bdb, err := bolt.Open(db, 0o600, &bolt.Options{Timeout: time.Second})
				if err != nil {
					t.Fatal(err)
				}
				defer bdb.Close()
			}
			code, stdout, stderr := mgRun(t, append([]string{"migrate-store"}, tt.args...)...)
			if code != 1 || !strings.Contains(stderr, tt.want) {
				t.Errorf("exit %d, want 1 with %q\nstdout:\n%s\nstderr:\n%s", code, tt.want, stdout, stderr)
			}
		})
	}
	if got, err := os.ReadFile(existing); err != nil || string(got) != "keep me" {
		t.Errorf("the existing target file was changed: %q, %v", got, err)
	}
	for _, prefix := range []string{"/held/", "/none/", "/empty/"} {
		resp, err := c.Client(t).Get(t.Context(), prefix, clientv3.WithPrefix(), clientv3.WithCountOnly())
		if err != nil || resp.Count != 0 {
			t.Errorf("a refused migrate-store wrote %d keys under %s (%v)", resp.Count, prefix, err)
		}
	}
	if got, err := os.ReadFile(empty); err != nil || len(got) != 0 {
		t.Errorf("the empty source file was changed: %d bytes, %v", len(got), err)
	}
	if names := dirNames(t, dir); strings.Join(names, " ") != "cc.db cut.db.migrating existing.db zero.db" {
		t.Errorf("the refusals left files: %v", names)
	}
}

// TestEtcdBackupCheckRestore: check and an offline backup read one
// revision of an etcd store; the backup restores onto another, empty,
// prefix and onto a file, both holding what the store held, and a restore
// onto a prefix that holds data is refused.
func TestEtcdBackupCheckRestore(t *testing.T) {
	mvClearEnv(t)
	_, store := mvEtcd(t)
	dir := t.TempDir()
	db := opsDatabase(t, dir)
	mgMustRun(t, "migrate-store", "--from", db, "--to", store)

	if out := mgMustRun(t, "check", "--store", store); !strings.Contains(out, "OK: ") || !strings.Contains(out, "2 users") {
		t.Errorf("check of the etcd store said %q", out)
	}
	backup := filepath.Join(dir, "etcd-backup.db")
	if out := mgMustRun(t, "backup", "--to", backup, "--store", store); !strings.Contains(out, "Backed up "+store) || strings.Contains(out, "NOT AUDITED") {
		t.Errorf("backup of the etcd store said %q", out)
	}
	// The backup is on the store's trail, before its copy.
	mvHoldsWithItsOwnEvents(t, db, backup, 1)

	out := mgMustRun(t, "restore", "--from", backup, "--store", store, "--etcd-prefix", "/restored/")
	if !strings.Contains(out, "Restored "+backup) || !strings.Contains(out, "every bucket the same") {
		t.Errorf("restore onto etcd said\n%s", out)
	}
	again := filepath.Join(dir, "again.db")
	mgMustRun(t, "migrate-store", "--from", store, "--to", again, "--etcd-prefix", "/restored/")
	mvHoldsWithItsOwnEvents(t, backup, again, 1)

	code, _, stderr := mgRun(t, "restore", "--from", backup, "--store", store, "--etcd-prefix", "/restored/")
	// The refusal speaks of what the operator ran: restore, not the
	// migrate-store it shares its copy with.
	if code != 1 || !strings.Contains(stderr, "is not empty") || strings.Contains(stderr, "migrate-store") ||
		strings.Contains(stderr, "did not finish") { // a whole store is no copy cut short
		t.Errorf("restore onto a prefix that holds data: exit %d, stderr %q", code, stderr)
	}

	onFile := filepath.Join(dir, "restored.db")
	mgMustRun(t, "restore", "--from", backup, "--db", onFile)
	mvSameBuckets(t, backup, onFile)

	// A prefix that holds no deployment (a typo of --etcd-prefix) is
	// named in the refusal, so that the operator sees which one was read.
	for _, args := range [][]string{
		{"check", "--store", store, "--etcd-prefix", "/typo/"},
		{"backup", "--to", filepath.Join(dir, "typo.db"), "--store", store, "--etcd-prefix", "/typo/"},
	} {
		code, _, stderr := mgRun(t, args...)
		if code != 1 || !strings.Contains(stderr, store+" (prefix /typo/): ") || !strings.Contains(stderr, "holds no childcase database") {
			t.Errorf("%s of an empty prefix: exit %d, stderr %q, want the store and its prefix named", args[0], code, stderr)
		}
	}
}

// TestMigrateStoreOfABrokenDatabase: a file whose audit chain is broken is
// copied onto etcd, but the copy fails the check at the end: the command
// exits 1 naming the problem, and the copy is marked unfinished, so that
// nothing reads it as a database (a server would refuse to start on it).
func TestMigrateStoreOfABrokenDatabase(t *testing.T) {
	mvClearEnv(t)
	_, store := mvEtcd(t)
	dir := t.TempDir()
	db := opsDatabase(t, dir)
	opsTamperAudit(t, db)

	code, stdout, stderr := mgRun(t, "migrate-store", "--from", db, "--to", store)
	if code != 1 || !strings.Contains(stdout, "PROBLEM audit seq 2") || !strings.Contains(stdout, "BROKEN") {
		t.Errorf("migrate-store of a broken database: exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	code, _, stderr = mgRun(t, "check", "--store", store)
	if code != 1 || !strings.Contains(stderr, "has not finished") {
		t.Errorf("check of the copy that failed its check: exit %d, stderr %q", code, stderr)
	}
	// serve refuses it too, saying why, before it listens.
	code, _, stderr = mgRun(t, "serve", "--store", store, "--key-file", filepath.Join(dir, "cc.key"),
		"--grpc-addr", mgAddr(t), "--http-addr", mgAddr(t))
	if code != 1 || !strings.Contains(stderr, "childcase migrate-store) has not finished") {
		t.Errorf("serve on the copy that failed its check: exit %d, stderr %q", code, stderr)
	}
}

// TestOfflineStoreFlagRefusesUnknownStores: backup, check and restore
// refuse a --store that is neither bbolt nor etcd://, naming the flag,
// rather than falling back to the file at --db.
func TestOfflineStoreFlagRefusesUnknownStores(t *testing.T) {
	mvClearEnv(t)
	dir := t.TempDir()
	db := opsDatabase(t, dir)
	for _, args := range [][]string{
		{"check", "--db", db, "--store", "postgres://db:5432"},
		{"backup", "--to", filepath.Join(dir, "b.db"), "--db", db, "--store", "postgres://db:5432"},
		{"restore", "--from", db, "--db", filepath.Join(dir, "r.db"), "--store", "postgres://db:5432"},
	} {
		code, stdout, stderr := mgRun(t, args...)
		if code != 1 || !strings.Contains(stderr, "config: store:") {
			t.Errorf("%s: exit %d, want 1 naming the store\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), code, stdout, stderr)
		}
	}
	if names := dirNames(t, dir); strings.Join(names, " ") != "cc.db" {
		t.Errorf("the refusals left files: %v", names)
	}
}

// TestFileOrEtcdFromTheEnvironment: with the servers' CHILDCASE_STORE
// naming etcd in the environment, check, backup and restore given a --db
// on the command line refuse, naming both, rather than work on the
// cluster and say nothing of the file: a usage error, exit 2
// (TestAFlagOfTheOtherStoreIsRefused).
func TestFileOrEtcdFromTheEnvironment(t *testing.T) {
	mvClearEnv(t)
	dir := t.TempDir()
	db := opsDatabase(t, dir)
	t.Setenv(EnvPrefix+"STORE", "etcd://127.0.0.1:1")
	for _, args := range [][]string{
		{"check", "--db", db},
		{"backup", "--to", filepath.Join(dir, "b.db"), "--db", db},
		{"restore", "--from", db, "--db", filepath.Join(dir, "r.db")},
	} {
		code, stdout, stderr := mgRun(t, args...)
		if code != 2 || !strings.Contains(stderr, "--db applies to a bbolt store only, and the store here is etcd://127.0.0.1:1 (from CHILDCASE_STORE)") {
			t.Errorf("%s: exit %d, want 2 naming --db and CHILDCASE_STORE\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), code, stdout, stderr)
		}
	}
	if names := dirNames(t, dir); strings.Join(names, " ") != "cc.db" {
		t.Errorf("the refusals left files: %v", names)
	}
	// --store bbolt on the command line wins over the environment.
	if out := mgMustRun(t, "check", "--db", db, "--store", "bbolt"); !strings.Contains(out, "OK: ") {
		t.Errorf("check --store bbolt said %q", out)
	}
}

// TestEtcdRestoreRefusesAnOlderSchema: a backup of an older schema is not
// restored onto etcd (an engine is never migrated, and the restore must
// not change the backup): it is refused naming the schema, the file is
// left as it was, and the prefix stays empty for a restore of a current
// backup.
func TestEtcdRestoreRefusesAnOlderSchema(t *testing.T) {
	mvClearEnv(t)
	_, store := mvEtcd(t)
	dir := t.TempDir()
	golden, err := os.ReadFile("../storage/boltstore/testdata/schema9.bolt.golden")
	if err != nil {
		t.Fatal(err)
	}
	old := filepath.Join(dir, "schema9.db")
	if err := os.WriteFile(old, golden, 0o600); err != nil {
		t.Fatal(err)
	}
	code, stdout, stderr := mgRun(t, "restore", "--from", old, "--store", store)
	if code != 1 || !strings.Contains(stdout, "version 9 is older") || !strings.Contains(stderr, "not restored") {
		t.Errorf("restore of a schema-9 backup onto etcd: exit %d, want 1 naming the older schema\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	if after, err := os.ReadFile(old); err != nil || string(after) != string(golden) {
		t.Errorf("the refused backup changed: %v", err)
	}
	current := filepath.Join(dir, "cc.db")
	mgMustRun(t, "users", "add", "--create", "--db", current, "--id", "first.user", "--name", "First", "--role", "AUDITOR", "--unit", "orgs/system")
	if out := mgMustRun(t, "restore", "--from", current, "--store", store); !strings.Contains(out, "every bucket the same") {
		t.Errorf("restore of a current backup onto the prefix the refusal left: %s", out)
	}
}

// TestCopyOntoEtcdInterruptedLeavesThePrefixEmpty: Ctrl-C (or SIGTERM)
// while migrate-store, or restore onto etcd, copies into a prefix stops
// the copy and removes what it copied, as a copy the cluster refused is
// removed, so the same command runs again. Without a handler the
// signal killed the process in the middle of the copy: the prefix kept
// the part copied under its meta key migrating, and the next run was
// refused as a prefix that holds keys.
func TestCopyOntoEtcdInterruptedLeavesThePrefixEmpty(t *testing.T) {
	if !onUnix {
		t.Skip("a process cannot send itself SIGINT on " + runtime.GOOS)
	}
	mvClearEnv(t)
	cluster, store := mvEtcd(t)
	db := filepath.Join(t.TempDir(), "cc.db")
	mgMustRun(t, "load", "--db", db, "--cases", "30", "--seed", "3")
	// The test keeps the signal from killing it, whatever the command
	// under test does with it.
	caught := make(chan os.Signal, 1)
	signal.Notify(caught, syscall.SIGINT)
	defer signal.Stop(caught)
	client := cluster.Client(t)
	for _, tt := range []struct {
		prefix string
		args   []string
	}{
		{"/moved/", []string{"migrate-store", "--from", db, "--to", store}},
		{"/restored/", []string{"restore", "--from", db, "--store", store}},
	} {
		// Small commits make the copy long enough to be interrupted: the
		// signal goes when the first keys are there.
		args := append(tt.args, "--etcd-prefix", tt.prefix, "--etcd-max-txn-ops", "24")
		ctx, cancel := context.WithCancel(t.Context())
		started := client.Watch(ctx, tt.prefix, clientv3.WithPrefix())
		go func() {
			if _, ok := <-started; ok {
				_ = signalSelf(syscall.SIGINT)
			}
		}()
		code, stdout, stderr := mgRun(t, args...)
		cancel()
		if code != 1 || !strings.Contains(stderr, "nothing of it is left in "+store+" (prefix "+tt.prefix+")") {
			t.Errorf("%s interrupted: exit %d\nstdout:\n%s\nstderr:\n%s\nwant exit 1 saying nothing of the copy is left", tt.args[0], code, stdout, stderr)
		}
		resp, err := client.Get(t.Context(), tt.prefix, clientv3.WithPrefix(), clientv3.WithCountOnly())
		if err != nil {
			t.Fatal(err)
		}
		if resp.Count != 0 {
			t.Errorf("%s interrupted left %d keys under %s", tt.args[0], resp.Count, tt.prefix)
		}
		// And the same command runs again, to the end.
		if code, stdout, stderr := mgRun(t, args...); code != 0 || !strings.Contains(stdout, "every bucket the same as the source's") {
			t.Errorf("%s again after the interruption: exit %d\nstdout:\n%s\nstderr:\n%s", tt.args[0], code, stdout, stderr)
		}
	}
}

// TestCopyOntoEtcdKilledIsRefusedEverywhere: a migrate-store onto etcd
// killed outright (SIGKILL, a power cut) in the middle of its copy
// cannot remove what it copied. The part copied holds the meta key
// migrating, so nothing takes it for a database: a server refuses to
// start on it, check, backup, users and a move back to a file refuse it
// saying the copy has not finished, and the same migrate-store is refused
// as a target that is not empty, saying that what it holds is a copy that
// did not finish and how to empty it, until the prefix is emptied (the
// README's etcdctl del --prefix), after which it runs to the end.
func TestCopyOntoEtcdKilledIsRefusedEverywhere(t *testing.T) {
	mvClearEnv(t)
	cluster, store := mvEtcd(t)
	dir := t.TempDir()
	db := filepath.Join(dir, "cc.db")
	mgMustRun(t, "load", "--db", db, "--cases", "30", "--seed", "3")
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	client := cluster.Client(t)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	started := client.Watch(ctx, "/killed/", clientv3.WithPrefix())
	move := []string{"migrate-store", "--from", db, "--to", store, "--etcd-prefix", "/killed/", "--etcd-max-txn-ops", "24"}
	cmd := exec.Command(exe, move...)
	cmd.Env = append(os.Environ(), readmeMainEnv+"=1")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	if _, ok := <-started; !ok {
		t.Fatal("the watch of the prefix ended before the copy began")
	}
	_ = cmd.Process.Kill()
	_ = cmd.Wait()
	cancel()
	resp, err := client.Get(t.Context(), "/killed/", clientv3.WithPrefix(), clientv3.WithCountOnly())
	if err != nil {
		t.Fatal(err)
	}
	if resp.Count == 0 {
		t.Fatal("the killed copy left nothing: it was killed before its first commit")
	}
	t.Logf("the killed copy left %d keys", resp.Count)

	etcd := []string{"--store", store, "--etcd-prefix", "/killed/"}
	for _, tt := range []struct {
		args []string
		want string
	}{
		{append([]string{"serve", "--key-file", filepath.Join(dir, "cc.key"), "--grpc-addr", mgAddr(t), "--http-addr", mgAddr(t)}, etcd...), "has not finished"},
		{append([]string{"check"}, etcd...), "has not finished"},
		{append([]string{"backup", "--to", filepath.Join(dir, "b.db")}, etcd...), "has not finished"},
		{append([]string{"users", "add", "--id", "x.admin", "--name", "X", "--role", "ADMIN", "--unit", "orgs/system"}, etcd...), "has not finished"},
		{[]string{"migrate-store", "--from", store, "--to", filepath.Join(dir, "back.db"), "--etcd-prefix", "/killed/"}, "has not finished"},
		{move, "is not empty ("},
		{move, "holds the part of a copy into it that did not finish"},
		{move, "etcdctl del --prefix /killed/"},
	} {
		code, stdout, stderr := mgRun(t, tt.args...)
		if code != 1 || !strings.Contains(stderr, tt.want) {
			t.Errorf("%s on the part a killed copy left: exit %d, want 1 saying %q\nstdout:\n%s\nstderr:\n%s", tt.args[0], code, tt.want, stdout, stderr)
		}
	}
	if _, err := client.Delete(t.Context(), "/killed/", clientv3.WithPrefix()); err != nil {
		t.Fatal(err)
	}
	if out := mgMustRun(t, move...); !strings.Contains(out, "every bucket the same as the source's") {
		t.Errorf("migrate-store again on the emptied prefix:\n%s", out)
	}
}

// TestStatsRebuildOfAnEtcdStore follows the README's way to rebuild the
// statistics counters of a store on etcd, where stats rebuild does not
// reach: migrate-store out of etcd, stats rebuild --db the copy,
// migrate-store it back under a new --etcd-prefix; the store there
// passes the check.
func TestStatsRebuildOfAnEtcdStore(t *testing.T) {
	mvClearEnv(t)
	_, store := mvEtcd(t)
	dir := t.TempDir()
	db := filepath.Join(dir, "cc.db")
	mgMustRun(t, "load", "--db", db, "--cases", "5", "--seed", "3")
	mgMustRun(t, "migrate-store", "--from", db, "--to", store)

	copied := filepath.Join(dir, "copy.db")
	mgMustRun(t, "migrate-store", "--from", store, "--to", copied)
	if out := mgMustRun(t, "stats", "rebuild", "--db", copied); out == "" {
		t.Error("stats rebuild printed nothing")
	}
	mgMustRun(t, "migrate-store", "--from", copied, "--to", store, "--etcd-prefix", "/rebuilt/")
	if out := mgMustRun(t, "check", "--store", store, "--etcd-prefix", "/rebuilt/"); !strings.Contains(out, "OK: ") || !strings.Contains(out, "5 cases") {
		t.Errorf("check of the rebuilt store: %s", out)
	}
}
