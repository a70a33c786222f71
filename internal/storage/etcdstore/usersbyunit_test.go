package etcdstore_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/childcase/childcase/internal/domain/datastore"
	"github.com/childcase/childcase/internal/domain/model"
	"github.com/childcase/childcase/internal/storage/boltstore"
	"github.com/childcase/childcase/internal/storage/etcdstore"
	"github.com/childcase/childcase/internal/storage/kv"
)

// usersByUnitTag is the tag of users_by_unit in the index bucket
// (boltstore's keyspace.go): the test lowers a store to schema version
// 11 by deleting the entries under it.
const usersByUnitTag = 13

// TestEtcdStoreBuildsUsersByUnitAtOpen: an etcd store of schema version 11
// (its users without entries in users_by_unit) is brought to version 12
// by the first open, which builds the index in the one commit that raises
// the version; an open whose commit may not hold an entry for every user
// is refused, naming the flag to raise, and leaves the store at version
// 11, whole, for an open with the room.
func TestEtcdStoreBuildsUsersByUnitAtOpen(t *testing.T) {
	ctx := context.Background()
	openEngine := enginesOf(t, startEtcd(t), "/users-by-unit/")
	const unit = "units/00004@2025-07-01"
	const workers = 40
	s, err := boltstore.OpenEngine(ctx, openEngine(0), boltstore.EngineOptions{})
	if err != nil {
		t.Fatal(err)
	}
	err = s.Update(ctx, func(tx datastore.Tx) error {
		for i := range workers {
			if err := tx.CreateUser(model.User{ID: fmt.Sprintf("worker%02d", i), Role: model.RoleCommuneWorker, Unit: unit}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	// Version 11: no entries, the older version number.
	backToOlderVersion(t, openEngine, []byte{usersByUnitTag}, workers, 11)

	s, err = boltstore.OpenEngine(ctx, openEngine(0), boltstore.EngineOptions{})
	if err != nil {
		t.Fatalf("OpenEngine of the version-11 store: %v", err)
	}
	defer s.Close()
	var got []string
	for after := ""; ; {
		var next string
		err := s.View(ctx, func(tx datastore.ReadTx) error {
			us, n, err := tx.ListActiveUsersOf([]datastore.UnitRole{{Unit: unit, Role: model.RoleCommuneWorker}}, after, 15)
			for _, u := range us {
				got = append(got, u.ID)
			}
			next = n
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		if next == "" {
			break
		}
		after = next
	}
	if len(got) != workers || got[0] != "worker00" || got[workers-1] != fmt.Sprintf("worker%02d", workers-1) {
		t.Errorf("the unit's workers after the migration: %v, want worker00 to worker%02d", got, workers-1)
	}
	if v := engineVersion(t, openEngine); v != boltstore.SchemaVersion {
		t.Errorf("schema version after the open: %d, want %d", v, boltstore.SchemaVersion)
	}
}

// backToOlderVersion takes a store that openEngine opens back to schema
// version older, as a release of it left it: it deletes the index entries
// under prefix that version had not yet (want of them, or it fails), and
// sets the version. Then it checks that a start with room for only half
// of them a commit is refused naming --etcd-max-txn-ops and leaves the
// store at older: the migration's one commit that puts them is refused
// whole, never written in part.
func backToOlderVersion(t *testing.T, openEngine func(maxOps int) kv.Engine, prefix []byte, want int, older uint32) {
	t.Helper()
	ctx := context.Background()
	e := openEngine(0)
	err := e.Update(ctx, func(tx kv.Tx) error {
		ix := tx.Bucket([]byte("index"))
		var doomed [][]byte
		c := ix.Cursor()
		for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
			doomed = append(doomed, bytes.Clone(k))
		}
		if len(doomed) != want {
			return fmt.Errorf("%d index entries under %q, want %d", len(doomed), prefix, want)
		}
		for _, k := range doomed {
			if err := ix.Delete(k); err != nil {
				return err
			}
		}
		return tx.Bucket([]byte("meta")).Put([]byte("schema_version"), binary.BigEndian.AppendUint32(nil, older))
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	small := openEngine(want / 2)
	if _, err := boltstore.OpenEngine(ctx, small, boltstore.EngineOptions{}); !errors.Is(err, kv.ErrTooLarge) || !strings.Contains(err.Error(), "--etcd-max-txn-ops") {
		t.Errorf("OpenEngine with room for %d operations a commit: %v; want ErrTooLarge naming --etcd-max-txn-ops", want/2, err)
	}
	small.Close()
	if v := engineVersion(t, openEngine); v != older {
		t.Fatalf("schema version after the refused open: %d, want %d as before", v, older)
	}
}

// engineVersion is the schema version of the store openEngine opens.
func engineVersion(t *testing.T, openEngine func(maxOps int) kv.Engine) uint32 {
	t.Helper()
	e := openEngine(0)
	defer e.Close()
	v, err := boltstore.EngineSchemaVersion(context.Background(), e)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// enginesOf returns what opens, on the etcd at endpoint, an engine of
// the store under prefix, whose commits hold at most maxOps operations
// (0: the default).
func enginesOf(t *testing.T, endpoint, prefix string) func(maxOps int) kv.Engine {
	return func(maxOps int) kv.Engine {
		t.Helper()
		e, err := etcdstore.Open(context.Background(), etcdstore.Config{Endpoints: []string{endpoint}, Prefix: prefix, MaxTxnOps: maxOps})
		if err != nil {
			t.Fatal(err)
		}
		return e
	}
}
