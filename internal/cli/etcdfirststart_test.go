package cli

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestARefusedFirstStartOnEtcdMakesNothing: a first start on an empty
// etcd prefix refused after it opened the store (a key file others can
// read, or that is no key file) leaves the prefix empty, as it found it,
// as a refused first start on a file leaves no file
// (TestARefusedFirstStartMakesNothing). It left the layout and schema
// version it wrote, which the next start, with the right key file, took
// for a store already made, and a migrate-store or restore onto the
// prefix refused as one that holds keys. A refused start on a store in
// use keeps every key.
func TestARefusedFirstStartOnEtcdMakesNothing(t *testing.T) {
	mvClearEnv(t)
	cluster, store := mvEtcd(t)
	endpoint := cluster.Endpoints()[0]
	for i, tc := range []struct {
		name string
		key  string
		perm os.FileMode
		want string
	}{
		{"key file others can read", "x\n", 0o644, "lets group or others access it"},
		{"key file that is none", "short\n", 0o600, "malformed key file"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			key := filepath.Join(dir, "cc.key")
			writeFileMode(t, key, tc.key, tc.perm)
			prefix := fmt.Sprintf("/refused%d/", i)
			code, _, stderr := mgRun(t, "serve", "--store", store, "--etcd-prefix", prefix, "--key-file", key,
				"--grpc-addr", "127.0.0.1:0", "--http-addr", "127.0.0.1:0")
			if code != 1 || !strings.Contains(stderr, tc.want) {
				t.Fatalf("exit %d, want 1 saying %q:\n%s", code, tc.want, stderr)
			}
			if n := etcdKeys(t, endpoint, prefix); n != 0 {
				t.Errorf("the refused first start left %d keys under the prefix, which was empty", n)
			}
			if names := dirNames(t, dir); !slices.Equal(names, []string{"cc.key"}) {
				t.Errorf("the refused first start left %v in the folder", names)
			}
		})
	}

	// On a store in use the same refusal keeps every key.
	prefix := "/inuse/"
	db := filepath.Join(t.TempDir(), "cc.db")
	mgMustRun(t, "users", "add", "--create", "--db", db, "--id", "lan.nguyen", "--name", "Lan", "--role", "ADMIN", "--unit", "orgs/system")
	mgMustRun(t, "migrate-store", "--from", db, "--to", store, "--etcd-prefix", prefix)
	before := etcdKeys(t, endpoint, prefix)
	key := filepath.Join(t.TempDir(), "cc.key")
	writeFileMode(t, key, "x\n", 0o644)
	if code, _, stderr := mgRun(t, "serve", "--store", store, "--etcd-prefix", prefix, "--key-file", key,
		"--grpc-addr", "127.0.0.1:0", "--http-addr", "127.0.0.1:0"); code != 1 {
		t.Fatalf("a start with a key file others can read: exit %d, want 1:\n%s", code, stderr)
	}
	if after := etcdKeys(t, endpoint, prefix); after != before {
		t.Errorf("a refused start on a store in use left %d keys of its %d", after, before)
	}
}
