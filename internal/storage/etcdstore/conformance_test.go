package etcdstore_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/childcase/childcase/internal/domain/datastore"
	"github.com/childcase/childcase/internal/storage/boltstore"
	"github.com/childcase/childcase/internal/storage/etcdstore"
	"github.com/childcase/childcase/internal/storage/etcdstore/etcdtest"
	"github.com/childcase/childcase/internal/storage/storagetest"
)

// TestConformance runs the storage conformance suite on the stored layout
// over etcd: the same suite bbolt and memstore pass. One embedded member
// serves every subtest, each under a key prefix of its own, so each
// starts from an empty store.
func TestConformance(t *testing.T) {
	cluster := etcdtest.Start(t, 1, etcdtest.WithoutFsync())
	var n atomic.Int64
	storagetest.RunAll(t, func(t *testing.T) datastore.Store {
		ctx := context.Background()
		e, err := etcdstore.Open(ctx, etcdstore.Config{
			Endpoints: cluster.Endpoints(),
			Prefix:    fmt.Sprintf("/conformance-%d/", n.Add(1)),
		})
		if err != nil {
			t.Fatalf("Open: %v", err)
		}
		s, err := boltstore.OpenEngine(ctx, e, boltstore.EngineOptions{})
		if err != nil {
			e.Close()
			t.Fatalf("OpenEngine: %v", err)
		}
		t.Cleanup(func() {
			if err := s.Close(); err != nil {
				t.Errorf("Close: %v", err)
			}
		})
		return s
	})
}
