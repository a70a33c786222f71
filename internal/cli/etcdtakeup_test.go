package cli

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"testing"

	"github.com/childcase/childcase/internal/app"
	"github.com/childcase/childcase/internal/domain/datastore"
	"github.com/childcase/childcase/internal/domain/model"
	"github.com/childcase/childcase/internal/storage/boltstore"
	"github.com/childcase/childcase/internal/storage/etcdstore"
	"github.com/childcase/childcase/internal/storage/kv"
)

// usersByUnitIndexTag is the tag of users_by_unit in the index bucket
// (boltstore's keyspace.go): the test lowers a store to schema version
// 11 by deleting the entries under it, as an older childcase left it.
const usersByUnitIndexTag = 13

// TestEtcdCheckSaysWhenTheTakeUpCommitIsTooLarge: check --store of an etcd
// store of schema version 11 says what a start with the same --etcd-*
// flags does with it. The start raises it in one commit that also puts an
// entry of users_by_unit for every active user, which a store of more
// users than --etcd-max-txn-ops lets one commit hold cannot take: the
// start is refused, naming the flag, and check says so (BROKEN, exit 1).
// It said OK, "the first start on it raises it", and the start then
// refused the store it had just called sound. With room for the commit it
// is OLDER SCHEMA, exit 0, as before. check writes nothing either way.
func TestEtcdCheckSaysWhenTheTakeUpCommitIsTooLarge(t *testing.T) {
	mvClearEnv(t)
	cluster, store := mvEtcd(t)
	endpoint := cluster.Endpoints()[0]
	const prefix = "/takeup/"
	ops := app.MinEtcdMaxTxnOps()
	users := ops + 5 // one entry each in the commit of the take-up, beside its version and guard

	open := func(maxOps int) *etcdstore.Engine {
		t.Helper()
		e, err := etcdstore.Open(t.Context(), etcdstore.Config{Endpoints: []string{endpoint}, Prefix: prefix, MaxTxnOps: maxOps})
		if err != nil {
			t.Fatal(err)
		}
		return e
	}
	e := open(0)
	s, err := boltstore.OpenEngine(t.Context(), e, boltstore.EngineOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for i := range users {
		if err := s.Update(t.Context(), func(tx datastore.Tx) error {
			return tx.CreateUser(model.User{ID: fmt.Sprintf("worker%03d", i), Role: model.RoleCommuneWorker, Unit: "units/00004@2025-07-01"})
		}); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	// Version 11: the users without their entries.
	e = open(0)
	if err := e.Update(t.Context(), func(tx kv.Tx) error {
		ix := tx.Bucket([]byte("index"))
		var doomed [][]byte
		c := ix.Cursor()
		for k, _ := c.Seek([]byte{usersByUnitIndexTag}); k != nil && k[0] == usersByUnitIndexTag; k, _ = c.Next() {
			doomed = append(doomed, bytes.Clone(k))
		}
		if len(doomed) != users {
			return fmt.Errorf("%d entries in users_by_unit, want %d", len(doomed), users)
		}
		for _, k := range doomed {
			if err := ix.Delete(k); err != nil {
				return err
			}
		}
		return tx.Bucket([]byte("meta")).Put([]byte("schema_version"), binary.BigEndian.AppendUint32(nil, 11))
	}); err != nil {
		t.Fatal(err)
	}
	e.Close()
	before := etcdKeys(t, endpoint, prefix)

	// What a start with room for ops operations a commit does.
	small := open(ops)
	_, startErr := boltstore.OpenEngine(t.Context(), small, boltstore.EngineOptions{})
	small.Close()
	if !errors.Is(startErr, kv.ErrTooLarge) {
		t.Fatalf("a start with --etcd-max-txn-ops %d on %d users of schema version 11: %v, want it refused as too large", ops, users, startErr)
	}

	code, stdout, stderr := mgRun(t, "check", "--store", store, "--etcd-prefix", prefix, "--etcd-max-txn-ops", strconv.Itoa(ops))
	if code != 1 || !strings.Contains(stdout, "BROKEN: ") || !strings.Contains(stdout, "--etcd-max-txn-ops") ||
		strings.Contains(stdout, "the first start on it raises it") {
		t.Errorf("check --store --etcd-max-txn-ops %d of a store whose take-up is too large for that: exit %d, want 1, BROKEN, naming --etcd-max-txn-ops, not that a start raises it\nstdout:\n%s\nstderr:\n%s",
			ops, code, stdout, stderr)
	}
	code, stdout, stderr = mgRun(t, "check", "--store", store, "--etcd-prefix", prefix)
	if code != 0 || !strings.Contains(stdout, "OLDER SCHEMA: ") || !strings.Contains(stdout, "the first start on it raises it") {
		t.Errorf("check --store with room for the take-up: exit %d, want 0 saying the first start raises it\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	if after := etcdKeys(t, endpoint, prefix); after != before {
		t.Errorf("check --store changed the store: %d keys, %d before", after, before)
	}
}
