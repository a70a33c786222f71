package etcdstore_test

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/childcase/childcase/internal/domain/access"
	"github.com/childcase/childcase/internal/domain/datastore"
	"github.com/childcase/childcase/internal/domain/model"
	"github.com/childcase/childcase/internal/domain/units"
	"github.com/childcase/childcase/internal/domain/vntime"
)

// A caller with scope keys who names a unit (a commune worker's
// ?responsible_unit= of another commune) reads the entries of their own
// scope, filtered by that unit, not the unit's index: its cases out of
// the caller's scope are passed over as absent and never end a page, so
// reading them there cost every case of the unit at each request, a busy
// commune's whole history for an empty answer. And every walk of an
// index prefix tells the etcd cursor where the prefix ends, both ways:
// a scope's or a queue's walk counted, on the member, every entry of the
// index after its own. The member's count of keys read shows both; the
// answers are the same either way (the storage conformance suite holds
// them on every store).
func TestScopedListOfAUnitReadsTheCallersScope(t *testing.T) {
	e, s := layoutOnEtcd(t)
	july := vntime.Date{Year: 2025, Month: time.July, Day: 1}
	mine, busy := units.Key{Code: "00004", ValidFrom: july}, units.Key{Code: "00007", ValidFrom: july}
	const others = 300
	var handedOver, ownNumber string
	err := s.Update(t.Context(), func(tx datastore.Tx) error {
		for i := range others + 1 {
			c := model.Case{Number: fmt.Sprintf("HN-2026-%05d", i+1), Status: model.StatusAwaitingAcknowledgement, Revision: 1,
				ResponsibleUnit: busy, Handlers: []units.Key{busy}, CreateTime: time.Date(2026, time.March, 12, 3, 0, 0, 0, time.UTC)}
			if i == 0 { // the one case of the busy commune that the caller's commune handled once
				c.Handlers = []units.Key{mine, busy}
				handedOver = c.Number
			}
			if err := tx.CreateCase(&c); err != nil {
				return err
			}
		}
		// The caller's commune's own open case, in its queue.
		own := model.Case{Number: fmt.Sprintf("HN-2026-%05d", others+2), Status: model.StatusAwaitingAcknowledgement, Revision: 1,
			ResponsibleUnit: mine, Handlers: []units.Key{mine}, CreateTime: time.Date(2026, time.March, 12, 3, 0, 0, 0, time.UTC)}
		ownNumber = own.Number
		return tx.CreateCase(&own)
	})
	if err != nil {
		t.Fatal(err)
	}
	// read lists in a transaction of its own, after its first read, and
	// returns the cases' numbers and the keys the member counted for the
	// list.
	read := func(list func(tx datastore.ReadTx) ([]model.Case, string, error)) (got []string, scanned int64) {
		t.Helper()
		err := s.View(t.Context(), func(tx datastore.ReadTx) error {
			if _, err := tx.CaseByNumber(handedOver); err != nil { // takes the snapshot
				return err
			}
			start := e.Stats().Scanned
			cases, next, err := list(tx)
			scanned = e.Stats().Scanned - start
			if next != "" {
				t.Errorf("next = %q, want none", next)
			}
			for _, c := range cases {
				got = append(got, c.Number)
			}
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		return got, scanned
	}
	got, scanned := read(func(tx datastore.ReadTx) ([]model.Case, string, error) {
		return tx.ListCases(datastore.CaseQuery{ResponsibleUnit: busy, Scopes: []string{"handler:" + access.UnitName(mine)}, Limit: 10})
	})
	if !slices.Equal(got, []string{handedOver}) {
		t.Errorf("the caller's cases of the busy commune = %v, want [%s]", got, handedOver)
	}
	if scanned > 20 {
		t.Errorf("the list made the member count %d keys: it read the busy commune's %d cases, not the caller's scope", scanned, others+1)
	}
	// The caller's own queue sorts before the busy commune's in the
	// index: a walk forwards from it must stop at its end.
	got, scanned = read(func(tx datastore.ReadTx) ([]model.Case, string, error) {
		return tx.ListQueue(datastore.QueueQuery{Queue: access.QueueMyUnitOpen, Keys: []string{access.UnitName(mine)}, Limit: 10})
	})
	if !slices.Equal(got, []string{ownNumber}) {
		t.Errorf("the caller's queue = %v, want [%s]", got, ownNumber)
	}
	if scanned > 20 {
		t.Errorf("the queue made the member count %d keys: it counted the busy commune's queue after its own", scanned)
	}
}
