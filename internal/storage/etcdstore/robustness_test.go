package etcdstore_test

import (
	"context"
	"encoding/binary"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/childcase/childcase/internal/domain/datastore"
	"github.com/childcase/childcase/internal/storage/boltstore"
	"github.com/childcase/childcase/internal/storage/etcdstore"
	"github.com/childcase/childcase/internal/storage/etcdstore/etcdtest"
	"github.com/childcase/childcase/internal/storage/kv"
)

// TestWriteGivesUpWhenTheClusterIsGone: a write on a store whose cluster
// cannot be reached fails within the store's commit bound instead of
// waiting for ever (and holding every later write and the shutdown).
func TestWriteGivesUpWhenTheClusterIsGone(t *testing.T) {
	c := etcdtest.Start(t, 1, etcdtest.WithoutFsync())
	ctx := context.Background()
	e, err := etcdstore.Open(ctx, etcdstore.Config{Endpoints: c.Endpoints(), Prefix: "/gone/"})
	if err != nil {
		t.Fatal(err)
	}
	s, err := boltstore.OpenEngine(ctx, e, boltstore.EngineOptions{CommitTimeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	c.Kill(0)
	done := make(chan error, 1)
	go func() {
		done <- s.Update(ctx, func(tx datastore.Tx) error {
			_, err := tx.CaseByID(1)
			return err
		})
	}()
	select {
	case err := <-done:
		if err == nil {
			t.Fatal("a write on a cluster that is gone succeeded")
		}
	case <-time.After(20 * time.Second):
		t.Fatal("a write on a cluster that is gone still waits after 20 s (commit bound 1 s)")
	}
}

// TestOpenOutlivesItsContext: the engine's client lives until Close, not
// until the context Open was given ends (a start's, which SIGTERM ends):
// the election can still be joined, and left cleanly, after it.
func TestOpenOutlivesItsContext(t *testing.T) {
	c := etcdtest.Start(t, 1, etcdtest.WithoutFsync())
	openCtx, cancelOpen := context.WithCancel(context.Background())
	e, err := etcdstore.Open(openCtx, etcdstore.Config{Endpoints: c.Endpoints(), Prefix: "/outlive/"})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	cancelOpen()
	if _, err := e.Client().Put(context.Background(), "/outlive/x", "v"); err != nil {
		t.Fatalf("a put after Open's context ended: %v", err)
	}
	leadCtx, stop := context.WithCancel(context.Background())
	defer stop()
	runs := make(chan struct{}, 1)
	go etcdstore.Lead(leadCtx, e.Client(), "/outlive/", "a", time.Second, nil, func(ctx context.Context) { runs <- struct{}{}; <-ctx.Done() })
	select {
	case <-runs:
	case <-time.After(10 * time.Second):
		t.Fatal("never led after Open's context ended")
	}
}

// TestWriteEngineFileKeepsAFileItRefuses: a backup onto an existing file
// is refused and leaves the file as it was.
func TestWriteEngineFileKeepsAFileItRefuses(t *testing.T) {
	c := etcdtest.Start(t, 1, etcdtest.WithoutFsync())
	ctx := context.Background()
	e, err := etcdstore.Open(ctx, etcdstore.Config{Endpoints: c.Endpoints(), Prefix: "/keep/"})
	if err != nil {
		t.Fatal(err)
	}
	s, err := boltstore.OpenEngine(ctx, e, boltstore.EngineOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	p := filepath.Join(t.TempDir(), "keep.db")
	if err := os.WriteFile(p, []byte("precious"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := boltstore.WriteEngineFile(ctx, e, p); err == nil {
		t.Fatal("WriteEngineFile wrote over an existing file")
	}
	if b, err := os.ReadFile(p); err != nil || string(b) != "precious" {
		t.Errorf("the existing file after the refusal: %q, %v", b, err)
	}
}

// TestOpenRefusesAPrefixInsideADeployment: "/cc/cases/" is a key range of
// the bucket cases of the deployment at "/cc/": Open refuses it, so that
// neither deployment reads the other's records.
func TestOpenRefusesAPrefixInsideADeployment(t *testing.T) {
	c := etcdtest.Start(t, 1, etcdtest.WithoutFsync())
	ctx := context.Background()
	deployAt(t, c, "/cc/")
	inner, err := etcdstore.Open(ctx, etcdstore.Config{Endpoints: c.Endpoints(), Prefix: "/cc/cases/"})
	if err == nil {
		inner.Close()
		t.Fatal("Open accepted a prefix inside another deployment's keys")
	}
	if !strings.Contains(err.Error(), `"/cc/"`) {
		t.Errorf("the refusal does not name the outer deployment: %v", err)
	}
	deployAt(t, c, "/cc-staging/") // beside it
}

// deployAt opens a deployment at prefix on c and writes its first
// transaction (a bucket cases), which makes it one; it is closed at the
// end of the test.
func deployAt(t *testing.T, c *etcdtest.Cluster, prefix string) {
	t.Helper()
	e, err := etcdstore.Open(t.Context(), etcdstore.Config{Endpoints: c.Endpoints(), Prefix: prefix})
	if err != nil {
		t.Fatalf("a deployment at %s: %v", prefix, err)
	}
	t.Cleanup(func() { e.Close() })
	if err := e.Update(t.Context(), func(tx kv.Tx) error { _, err := tx.CreateBucketIfNotExists([]byte("cases")); return err }); err != nil {
		t.Fatal(err)
	}
}

// TestOpenRefusesAPrefixAroundADeployment: a deployment at "/cc/cases/"
// lies in the key range of the bucket cases of a deployment at "/cc/":
// Open refuses the outer prefix when the inner deployment came first, as
// it refuses the inner one when the outer came first, and a prefix that
// holds another program's keys.
func TestOpenRefusesAPrefixAroundADeployment(t *testing.T) {
	c := etcdtest.Start(t, 1, etcdtest.WithoutFsync())
	ctx := context.Background()
	deployAt(t, c, "/cc/cases/")
	if _, err := c.Client(t).Put(ctx, "/other/program/key", "v"); err != nil {
		t.Fatal(err)
	}
	for _, prefix := range []string{"/cc/", "/other/"} {
		outer, err := etcdstore.Open(ctx, etcdstore.Config{Endpoints: c.Endpoints(), Prefix: prefix})
		if err == nil {
			outer.Close()
			t.Errorf("Open accepted %s, around keys it does not own", prefix)
			continue
		}
		if !strings.Contains(err.Error(), "etcd Prefix") || !strings.Contains(err.Error(), "beside") {
			t.Errorf("the refusal of %s does not name the prefix and what to do: %v", prefix, err)
		}
	}
	resp, err := c.Client(t).Get(ctx, "/cc/", clientv3.WithPrefix(), clientv3.WithKeysOnly())
	if err != nil {
		t.Fatal(err)
	}
	for _, kv := range resp.Kvs {
		if !strings.HasPrefix(string(kv.Key), "/cc/cases/") {
			t.Errorf("a refused Open wrote %q", kv.Key)
		}
	}
	deployAt(t, c, "/cc-staging/") // beside it
}

// TestSeekCopiesItsKey: a cursor does not keep the caller's Seek slice,
// which the caller may rewrite for its next Seek.
func TestSeekCopiesItsKey(t *testing.T) {
	c := etcdtest.Start(t, 1, etcdtest.WithoutFsync())
	ctx := context.Background()
	e, err := etcdstore.Open(ctx, etcdstore.Config{Endpoints: c.Endpoints(), Prefix: "/seek/"})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	if err := e.Update(ctx, func(tx kv.Tx) error {
		b, err := tx.CreateBucketIfNotExists([]byte("b"))
		if err != nil {
			return err
		}
		for i := uint64(1); i <= 10; i++ {
			if err := b.Put(binary.BigEndian.AppendUint64(nil, i), []byte("v")); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	err = e.View(ctx, func(tx kv.Tx) error {
		cur := tx.Bucket([]byte("b")).Cursor()
		buf := binary.BigEndian.AppendUint64(nil, 7)
		if k, _ := cur.Seek(buf); binary.BigEndian.Uint64(k) != 7 {
			t.Errorf("Seek(7) = %x", k)
		}
		binary.BigEndian.PutUint64(buf, 2)
		if k, _ := cur.Seek(buf); k == nil || binary.BigEndian.Uint64(k) != 2 {
			t.Errorf("Seek(2) with the same slice rewritten = %x, want 2", k)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
