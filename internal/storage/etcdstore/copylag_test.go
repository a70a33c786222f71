package etcdstore_test

import (
	"path/filepath"
	"testing"

	"github.com/childcase/childcase/internal/storage/boltstore"
	"github.com/childcase/childcase/internal/storage/etcdstore"
	"github.com/childcase/childcase/internal/storage/etcdstore/etcdtest"
)

// TestCopyIntoEngineFromALaggingMember: migrate-store's copy reads each
// commit's snapshot, as every write does, with a serializable read that
// a lagging member may answer from before the copy's own first commit,
// where the layout's buckets do not exist yet. The engine re-runs a body
// that refuses such a snapshot once it knows it was stale; the copy's
// body took the buckets for granted and panicked on the missing one
// (seen in a run against a cluster whose restarted member lagged), which
// killed the command and left the part copied.
func TestCopyIntoEngineFromALaggingMember(t *testing.T) {
	src := filepath.Join(t.TempDir(), "cc.db")
	s, err := boltstore.Open(src, boltstore.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	c := etcdtest.Start(t, 1, etcdtest.WithoutFsync())
	client := c.Client(t)
	e, err := etcdstore.NewEngine(client, "/lagging/", etcdstore.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	// Every serializable snapshot is from before the copy began.
	lagging := &laggingKV{KV: client.KV, rev: revision(t, client)}
	client.KV = lagging
	if err := boltstore.CopyIntoEngine(t.Context(), src, e, boltstore.CopyLimits{MaxKeys: 4}, nil); err != nil {
		t.Fatalf("a copy whose snapshots a lagging member answers: %v", err)
	}
	if lagging.served.Load() == 0 {
		t.Fatal("no snapshot was stale: the test tests nothing")
	}
	source, err := boltstore.DigestFile(t.Context(), src)
	if err != nil {
		t.Fatal(err)
	}
	copied, err := boltstore.WriteEngineFile(t.Context(), e, filepath.Join(t.TempDir(), "copy.db"))
	if err != nil {
		t.Fatal(err)
	}
	if len(copied) != len(source) {
		t.Fatalf("%d buckets copied, %d in the source", len(copied), len(source))
	}
	for i := range source {
		if source[i] != copied[i] {
			t.Errorf("bucket %s: copied %+v, source %+v", source[i].Bucket, copied[i], source[i])
		}
	}
}
