package cli

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/childcase/childcase/internal/storage/boltstore"
	"github.com/childcase/childcase/internal/storage/etcdstore"
	"github.com/childcase/childcase/internal/storage/kv"
)

// The tests in this file hold the operator's tools (check, backup,
// restore, serve's first start) on an older schema, on etcd, and at the
// edges: against the golden files of every older schema and an embedded
// etcd member.

// goldenPath is the golden database file of an older schema version.
func goldenPath(version int) string {
	return fmt.Sprintf("../storage/boltstore/testdata/schema%d.bolt.golden", version)
}

// goldenOntoEtcd writes every bucket of the golden file of version, its
// keys, values and sequence, under prefix on the etcd member at
// endpoint, through the engine as the childcase of that version wrote
// its store there: what a store of that version on etcd holds when a
// newer childcase first meets it. (migrate-store and restore refuse a
// file of an older schema, so the test writes the keys itself.)
func goldenOntoEtcd(t *testing.T, endpoint, prefix string, version int) {
	t.Helper()
	db, err := bolt.Open(goldenPath(version), 0o600, &bolt.Options{ReadOnly: true, Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	e, err := etcdstore.Open(t.Context(), etcdstore.Config{Endpoints: []string{endpoint}, Prefix: prefix})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	type pair struct{ k, v []byte }
	err = db.View(func(btx *bolt.Tx) error {
		return btx.ForEach(func(name []byte, b *bolt.Bucket) error {
			var pairs []pair
			if err := b.ForEach(func(k, v []byte) error {
				pairs = append(pairs, pair{bytes.Clone(k), bytes.Clone(v)})
				return nil
			}); err != nil {
				return err
			}
			seq := b.Sequence()
			// Within the member's commit limits: a few keys a commit.
			for start := 0; start == 0 || start < len(pairs); start += 50 {
				chunk := pairs[start:min(start+50, len(pairs))]
				if err := e.Update(t.Context(), func(tx kv.Tx) error {
					kb, err := tx.CreateBucketIfNotExists(name)
					if err != nil {
						return err
					}
					for _, p := range chunk {
						if err := kb.Put(p.k, p.v); err != nil {
							return err
						}
					}
					return kb.SetSequence(seq)
				}); err != nil {
					return fmt.Errorf("bucket %s: %w", name, err)
				}
			}
			return nil
		})
	})
	if err != nil {
		t.Fatal(err)
	}
}

// etcdKeys counts the keys under prefix on the member at endpoint.
func etcdKeys(t *testing.T, endpoint, prefix string) int64 {
	t.Helper()
	e, err := etcdstore.Open(t.Context(), etcdstore.Config{Endpoints: []string{endpoint}, Prefix: prefix})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	n, err := e.Keys(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// firstEtcdSchema is the schema version of the first childcase that ran
// on etcd (commit 2c58ae6b, "etcdstore: kv.Engine over an etcd cluster",
// at schema version 7): no store of an older version was ever on etcd.
const firstEtcdSchema = 7

// TestEtcdCheckOfAnOlderSchemaStore: check --store of an etcd store of an
// older schema (one written by an earlier childcase, every golden
// version since etcd came) says what a start of this childcase on it does, and that
// answer is the start's: a store the start takes up by its version alone
// (no record rewritten) checks OLDER SCHEMA and exits 0, as check --db of
// such a file does; one the start refuses is BROKEN, exit 1, and the
// output says how to bring it over (a backup, which this childcase takes
// and migrates, moved onto an empty prefix). It printed BROKEN with the
// version as a PROBLEM line and exited 1 for every version, with no word
// of what to do. backup --store of such a store keeps its backup, which
// check calls OLDER SCHEMA and restore puts in place, and exits 0.
func TestEtcdCheckOfAnOlderSchemaStore(t *testing.T) {
	mvClearEnv(t)
	cluster, store := mvEtcd(t)
	endpoint := cluster.Endpoints()[0]
	for version := firstEtcdSchema; version < boltstore.SchemaVersion; version++ {
		t.Run(fmt.Sprintf("schema%d", version), func(t *testing.T) {
			prefix := fmt.Sprintf("/schema%d/", version)
			goldenOntoEtcd(t, endpoint, prefix, version)
			before := etcdKeys(t, endpoint, prefix)

			code, stdout, stderr := mgRun(t, "check", "--store", store, "--etcd-prefix", prefix)
			if etcdKeys(t, endpoint, prefix) != before {
				t.Errorf("check --store changed the store")
			}
			// What a start of this childcase does on the store.
			e, err := etcdstore.Open(t.Context(), etcdstore.Config{Endpoints: []string{endpoint}, Prefix: prefix})
			if err != nil {
				t.Fatal(err)
			}
			defer e.Close()
			wantRaised := fmt.Sprintf("OLDER SCHEMA: the store is sound; its schema version %d is older than this childcase's %d, and the first start on it raises it",
				version, boltstore.SchemaVersion)
			wantRefused := fmt.Sprintf("OLDER SCHEMA: the store is sound, but its schema version %d is too old for this childcase to start on", version)
			backup := filepath.Join(t.TempDir(), "backup.db")
			bcode, bout, berr := mgRun(t, "backup", "--to", backup, "--store", store, "--etcd-prefix", prefix)

			s, startErr := boltstore.OpenEngine(t.Context(), e, boltstore.EngineOptions{})
			if startErr == nil {
				s.Close()
				if code != 0 || !strings.HasPrefix(stdout, fmt.Sprintf("OK: schema version %d, ", version)) || !strings.Contains(stdout, wantRaised) ||
					strings.Contains(stdout, "PROBLEM") || strings.Contains(stdout, "BROKEN") {
					t.Errorf("check --store of a store a start takes up: exit %d, want 0 saying %q, no PROBLEM or BROKEN\nstdout:\n%s\nstderr:\n%s",
						code, wantRaised, stdout, stderr)
				}
			} else if code != 1 || !strings.Contains(stdout, "BROKEN: ") || !strings.Contains(stdout, wantRefused) ||
				!strings.Contains(stdout, "childcase backup --store") || !strings.Contains(stdout, "childcase migrate-store --from") {
				t.Errorf("check --store of a store a start refuses (%v): exit %d, want 1, BROKEN, saying %q and how to move it\nstdout:\n%s\nstderr:\n%s",
					startErr, code, wantRefused, stdout, stderr)
			}

			if bcode != 0 || !strings.Contains(bout, "OLDER SCHEMA: ") || strings.Contains(bout, "PROBLEM") {
				t.Fatalf("backup --store of a store of schema %d: exit %d, want 0 saying OLDER SCHEMA\nstdout:\n%s\nstderr:\n%s", version, bcode, bout, berr)
			}
			if out := mgMustRun(t, "check", "--db", backup); !strings.Contains(out, "OLDER SCHEMA: the file is sound") {
				t.Errorf("check of the backup of a store of schema %d:\n%s", version, out)
			}
			restored := filepath.Join(t.TempDir(), "cc.db")
			if out := mgMustRun(t, "restore", "--from", backup, "--db", restored); !strings.Contains(out, "the first start on it migrates it") {
				t.Errorf("restore of the backup of a store of schema %d:\n%s", version, out)
			}
			if startErr == nil {
				return
			}
			// The way over that the refused store's notice gives: its
			// backup moved onto an empty prefix, which a start then takes.
			moved := "/moved" + prefix
			mgMustRun(t, "migrate-store", "--from", backup, "--to", store, "--etcd-prefix", moved)
			m, err := etcdstore.Open(t.Context(), etcdstore.Config{Endpoints: []string{endpoint}, Prefix: moved})
			if err != nil {
				t.Fatal(err)
			}
			defer m.Close()
			ms, err := boltstore.OpenEngine(t.Context(), m, boltstore.EngineOptions{})
			if err != nil {
				t.Fatalf("a start on the store moved over as the notice says: %v", err)
			}
			ms.Close()
		})
	}
}

// TestOfflineBackupOfAnOlderSchemaFile: backup --db of a stopped file of
// an older schema (every golden version: a service stopped before its
// upgrade) keeps the backup, says OLDER SCHEMA as check does, and exits
// 0; check calls the backup OLDER SCHEMA and restore puts it in place. It
// printed the older version (and the counters the migration recounts) as
// PROBLEM lines and exited 1, so a nightly unit or a script stopped on a
// backup that was fine. The file backed up is left as it was.
func TestOfflineBackupOfAnOlderSchemaFile(t *testing.T) {
	opsClearEnv(t)
	for version := 2; version < boltstore.SchemaVersion; version++ {
		t.Run(fmt.Sprintf("schema%d", version), func(t *testing.T) {
			dir := t.TempDir()
			golden, err := os.ReadFile(goldenPath(version))
			if err != nil {
				t.Fatal(err)
			}
			old := filepath.Join(dir, "cc.db")
			if err := os.WriteFile(old, golden, 0o600); err != nil {
				t.Fatal(err)
			}
			backup := filepath.Join(dir, "backup.db")
			code, stdout, stderr := mgRun(t, "backup", "--to", backup, "--db", old)
			want := fmt.Sprintf("OLDER SCHEMA: the file is sound; its schema version %d is older than this childcase's %d, and the first start on it migrates it",
				version, boltstore.SchemaVersion)
			if code != 0 || !strings.HasPrefix(stdout, "Backed up ") || !strings.Contains(stdout, want) ||
				strings.Contains(stdout, "PROBLEM") || strings.Contains(stdout, "has these problems") {
				t.Errorf("backup --db of a schema-%d file: exit %d, want 0 saying %q, no PROBLEM\nstdout:\n%s\nstderr:\n%s", version, code, want, stdout, stderr)
			}
			if after, err := os.ReadFile(old); err != nil || !bytes.Equal(after, golden) {
				t.Errorf("the backup changed the file it copied (%v)", err)
			}
			if out := mgMustRun(t, "check", "--db", backup); !strings.Contains(out, want) {
				t.Errorf("check of the backup:\n%s", out)
			}
			restored := filepath.Join(dir, "restored.db")
			if out := mgMustRun(t, "restore", "--from", backup, "--db", restored); !strings.Contains(out, "the first start on it migrates it") {
				t.Errorf("restore of the backup:\n%s", out)
			}
		})
	}
}

// fullDisk mounts a tmpfs of 1 MiB, removed when the test ends, fills
// it with a ballast file, and returns its folder. It needs root (CI runs
// as root, and fails where it cannot mount; elsewhere the test skips).
func fullDisk(t *testing.T) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "full")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=1m,mode=0700", "tmpfs", dir).CombinedOutput(); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("CI runs as root and must test the full disk: mount: %v: %s", err, out)
		}
		t.Skipf("mounting a tmpfs is not permitted: %v: %s", err, out)
	}
	t.Cleanup(func() {
		if out, err := exec.Command("umount", dir).CombinedOutput(); err != nil {
			t.Errorf("umount %s: %v: %s", dir, err, out)
		}
	})
	f, err := os.Create(filepath.Join(dir, "ballast"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	chunk := make([]byte, 64<<10)
	for {
		if _, err := f.Write(chunk); err != nil {
			if !errors.Is(err, syscall.ENOSPC) {
				t.Fatal(err)
			}
			break
		}
	}
	return dir
}

// TestOfflineBackupOntoAFullDisk: backup --db onto a disk with no room
// for the copy fails, exit 1 saying so, and leaves no FILE.tmp (nor
// FILE) there, for the nightly unit's next run to meet.
func TestOfflineBackupOntoAFullDisk(t *testing.T) {
	opsClearEnv(t)
	db := opsDatabase(t, t.TempDir())
	full := fullDisk(t)
	code, stdout, stderr := mgRun(t, "backup", "--to", filepath.Join(full, "cc-1.db"), "--db", db)
	if code != 1 || !strings.Contains(stderr, "no space left on device") {
		t.Errorf("backup onto a full disk: exit %d, want 1 saying there is no space\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	if names := dirNames(t, full); !slices.Equal(names, []string{"ballast"}) {
		t.Errorf("the backup onto a full disk left %v", names)
	}
	if out := mgMustRun(t, "check", "--db", db); !strings.HasPrefix(out, "OK: ") {
		t.Errorf("the database after a backup that failed:\n%s", out)
	}
}

// TestBackupOnAFileSystemWithoutHardLinks: where the file system refuses
// hard links (some network shares), the checked copy takes its name by a
// rename: the backup is there under its name, whole, with no FILE.tmp
// beside it; and a file that took the name while the backup ran is
// still never replaced, the backup failing naming it.
func TestBackupOnAFileSystemWithoutHardLinks(t *testing.T) {
	opsClearEnv(t)
	dir := t.TempDir()
	db := opsDatabase(t, dir)
	linked := 0
	backupHooks.link = func(oldname, newname string) error {
		linked++
		return &os.LinkError{Op: "link", Old: oldname, New: newname, Err: syscall.EPERM}
	}
	t.Cleanup(func() { backupHooks.link, backupHooks.beforePublish = nil, nil })

	to := filepath.Join(dir, "backup.db")
	if out := mgMustRun(t, "backup", "--db", db, "--to", to); !strings.HasPrefix(out, "Backed up ") {
		t.Errorf("backup without hard links said:\n%s", out)
	}
	if linked != 1 {
		t.Fatalf("the backup tried %d hard links, want 1 (the fake was not used)", linked)
	}
	if _, err := os.Lstat(to + ".tmp"); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("%s.tmp is left (%v)", to, err)
	}
	if out := mgMustRun(t, "check", "--db", to); !strings.HasPrefix(out, "OK: ") {
		t.Errorf("check of the backup renamed into place:\n%s", out)
	}

	taken := filepath.Join(dir, "taken.db")
	theirs := []byte("another backup's bytes")
	backupHooks.beforePublish = func(name string) {
		if err := os.WriteFile(name, theirs, 0o600); err != nil {
			t.Error(err)
		}
	}
	code, stdout, stderr := mgRun(t, "backup", "--db", db, "--to", taken)
	if code != 1 || !strings.Contains(stderr, taken+" appeared while the backup ran: not replaced") {
		t.Errorf("backup without hard links onto a name taken at the last moment: exit %d, want 1 naming it\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	if got, err := os.ReadFile(taken); err != nil || !bytes.Equal(got, theirs) {
		t.Errorf("the file that took the name holds %d bytes (%v), want its %d as they were", len(got), err, len(theirs))
	}
	if _, err := os.Lstat(taken + ".tmp"); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("%s.tmp is left (%v)", taken, err)
	}
}
