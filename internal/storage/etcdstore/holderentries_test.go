package etcdstore_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/childcase/childcase/internal/domain/access"
	"github.com/childcase/childcase/internal/domain/datastore"
	"github.com/childcase/childcase/internal/domain/model"
	"github.com/childcase/childcase/internal/domain/units"
	"github.com/childcase/childcase/internal/storage/boltstore"
)

// caseQueueTag is the tag of case_queue in the index bucket (boltstore's
// keyspace.go): the test lowers a store to schema version 13 by deleting
// its entries under a holder's key.
const caseQueueTag = 7

// TestEtcdStoreTakesUpSchema13: an etcd store of schema version 13 (its
// cases with an open deadline without their queue entries under a
// holder's key) is brought to version 14 by the first open, which puts
// the entries in the one commit that raises the version, as the index of
// users by unit was (TestEtcdStoreBuildsUsersByUnitAtOpen); an open whose
// commit may not hold an entry for every such case is refused, naming the
// flag to raise, and leaves the store at version 13, whole, for an open
// with the room. After it the holder's list by due time is a prefix scan.
func TestEtcdStoreTakesUpSchema13(t *testing.T) {
	ctx := context.Background()
	openEngine := enginesOf(t, startEtcd(t), "/holder-entries/")
	unit, err := units.ParseKey("00004@2025-07-01")
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Date(2026, 12, 7, 3, 0, 0, 0, time.UTC)
	const n = 40
	s, err := boltstore.OpenEngine(ctx, openEngine(0), boltstore.EngineOptions{})
	if err != nil {
		t.Fatal(err)
	}
	err = s.Update(ctx, func(tx datastore.Tx) error {
		for i := range n {
			due := t0.Add(time.Duration(i) * time.Minute)
			c := model.Case{
				Number: fmt.Sprintf("HN-2026-%05d", i+1), Status: model.StatusAwaitingAcknowledgement, Revision: 1,
				ResponsibleUnit: unit, IncidentUnit: unit, Handlers: []units.Key{unit},
				Deadlines: []model.Deadline{{ID: 1, Kind: model.DeadlineAcknowledge, Unit: access.UnitName(unit), Start: t0, Due: due, State: model.DeadlineOpen}},
			}
			if err := tx.CreateCase(&c); err != nil {
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
	// Version 13: no entries under a holder's key, the older version number.
	holder := append([]byte{caseQueueTag}, access.HolderQueueKey(unit)...)
	backToOlderVersion(t, openEngine, holder, n, 13)

	s, err = boltstore.OpenEngine(ctx, openEngine(0), boltstore.EngineOptions{})
	if err != nil {
		t.Fatalf("OpenEngine of the version-13 store: %v", err)
	}
	defer s.Close()
	var got []string
	q := datastore.QueueQuery{Queue: access.QueueNone, Keys: []string{access.HolderQueueKey(unit)}, Until: t0.Add(24 * time.Hour), Limit: 15}
	for {
		var next string
		err := s.View(ctx, func(tx datastore.ReadTx) error {
			cs, nx, err := tx.ListQueue(q)
			for _, c := range cs {
				got = append(got, c.Number)
			}
			next = nx
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		if next == "" {
			break
		}
		q.After = next
	}
	if len(got) != n || got[0] != "HN-2026-00001" || got[n-1] != fmt.Sprintf("HN-2026-%05d", n) {
		t.Errorf("the unit's held cases by due time after the migration: %v, want HN-2026-00001 to HN-2026-%05d", got, n)
	}
	if v := engineVersion(t, openEngine); v != boltstore.SchemaVersion {
		t.Errorf("schema version after the open: %d, want %d", v, boltstore.SchemaVersion)
	}
}
