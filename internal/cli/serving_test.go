package cli

import (
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestServingLineNamesTheStoreItServes: the start's "childcase serving"
// line says where the data lives. On etcd it named "db":"childcase.db",
// a file the server never opens, beside the cluster; an operator reading
// the journal looked for that file. It names the cluster and the prefix
// there, and the file on bbolt.
func TestServingLineNamesTheStoreItServes(t *testing.T) {
	mvClearEnv(t)
	_, store := mvEtcd(t)
	dir := t.TempDir()
	for _, c := range []struct {
		flags []string
		want  map[string]any
	}{
		{[]string{"--store", store, "--etcd-prefix", "/hn/"}, map[string]any{"store": store, "etcd_prefix": "/hn/"}},
		{[]string{"--db", filepath.Join(dir, "cc.db")}, map[string]any{"store": "bbolt", "db": filepath.Join(dir, "cc.db")}},
	} {
		line := servingLine(t, append([]string{"--key-file", filepath.Join(dir, "cc.key")}, c.flags...))
		for k, v := range c.want {
			if line[k] != v {
				t.Errorf("serve %v: the serving line has %s %v, want %v: %v", c.flags, k, line[k], v, line)
			}
		}
		if _, ok := line["db"]; ok && c.want["db"] == nil {
			t.Errorf("serve %v: the serving line names a db the server does not open: %v", c.flags, line)
		}
	}
}

// servingLine runs serve with flags until it logs "childcase serving",
// stops it, and returns that line's fields.
func servingLine(t *testing.T, flags []string) map[string]any {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	out := &mgBuffer{}
	exit := make(chan int, 1)
	go func() {
		exit <- Main(ctx, append([]string{"serve", "--grpc-addr", "127.0.0.1:0", "--http-addr", "127.0.0.1:0"}, flags...), out, out)
	}()
	defer func() {
		cancel()
		<-exit
	}()
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		for _, l := range strings.Split(out.String(), "\n") {
			if strings.Contains(l, `"msg":"childcase serving"`) {
				var fields map[string]any
				if err := json.Unmarshal([]byte(l), &fields); err != nil {
					t.Fatalf("serving line %q: %v", l, err)
				}
				return fields
			}
		}
		select {
		case code := <-exit:
			exit <- code
			t.Fatalf("serve exited %d before serving:\n%s", code, out.String())
		default:
		}
	}
	t.Fatalf("serve did not start in 30 s:\n%s", out.String())
	return nil
}
