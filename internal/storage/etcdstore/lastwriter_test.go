package etcdstore_test

import (
	"testing"

	"github.com/childcase/childcase/internal/storage/etcdstore"
	"github.com/childcase/childcase/internal/storage/kv"
)

// TestDeleteAllIfLastWriter: an engine deletes the keys under its prefix
// only while its own last commit is the prefix's last: not before it
// committed anything, not once another engine committed after it, and
// then every key (a refused first start takes back the store it made,
// never one another instance has written to meanwhile).
func TestDeleteAllIfLastWriter(t *testing.T) {
	endpoint := startEtcd(t)
	open := func() *etcdstore.Engine {
		e, err := etcdstore.Open(t.Context(), etcdstore.Config{Endpoints: []string{endpoint}, Prefix: "/lastwriter/"})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { e.Close() })
		return e
	}
	put := func(e *etcdstore.Engine, key string) {
		t.Helper()
		if err := e.Update(t.Context(), func(tx kv.Tx) error {
			b, err := tx.CreateBucketIfNotExists([]byte("b"))
			if err != nil {
				return err
			}
			return b.Put([]byte(key), []byte("v"))
		}); err != nil {
			t.Fatal(err)
		}
	}
	keys := func(e *etcdstore.Engine) int64 {
		t.Helper()
		n, err := e.Keys(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	mine, theirs := open(), open()
	put(theirs, "a")
	if deleted, err := mine.DeleteAllIfLastWriter(t.Context()); err != nil || deleted {
		t.Fatalf("an engine that committed nothing deleted (%v, %v)", deleted, err)
	}
	put(mine, "b")
	put(theirs, "c")
	before := keys(mine)
	if deleted, err := mine.DeleteAllIfLastWriter(t.Context()); err != nil || deleted {
		t.Fatalf("an engine another committed after deleted (%v, %v)", deleted, err)
	}
	if n := keys(mine); n != before || n == 0 {
		t.Fatalf("after a refused delete %d keys, want the %d there were", n, before)
	}
	put(mine, "d")
	if deleted, err := mine.DeleteAllIfLastWriter(t.Context()); err != nil || !deleted {
		t.Fatalf("the last writer did not delete (%v, %v)", deleted, err)
	}
	if n := keys(mine); n != 0 {
		t.Errorf("%d keys left under the prefix, want none", n)
	}
}
