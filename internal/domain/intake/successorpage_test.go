package intake

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/childcase/childcase/internal/domain/access"
	"github.com/childcase/childcase/internal/domain/datastore"
	"github.com/childcase/childcase/internal/domain/model"
	"github.com/childcase/childcase/internal/domain/units"
	"github.com/childcase/childcase/internal/storage/storagetest"
)

// A commune that wholly took over an old one in the 2025 reform (Phường
// Ba Đình, of Trúc Bạch) sees the cases the old commune holds, not those
// it handed to another commune before the reform (access.CaseView), and
// its list reads those: among 1,000 cases Trúc Bạch handed to Hoàn Kiếm,
// its worker's pages look at the cases they list, where they read all
// 1,000 through the old commune's handler entries
// (access.Policy.ListScope). Filtered by the old commune, it lists that
// commune's cases.
func TestSuccessorCommuneListReadsTheCasesItInherits(t *testing.T) {
	ctx := context.Background()
	_, store, newService := serviceWorld(t)
	read := 0
	svc := newService(storagetest.LookingStore{Store: store, Looked: &read})
	baDinh, trucBach, hoanKiem := reformCommunes(t)
	const n = 1000
	var inherited, own []string // newest first
	err := store.Update(ctx, func(tx datastore.Tx) error {
		inherited, own = nil, nil // an update may run more than once
		for i := range n {
			c := model.Case{
				Number: fmt.Sprintf("HN-2026-%05d", i+1), Status: model.StatusInitialAssessment, Revision: 1,
				ResponsibleUnit: hoanKiem, IncidentUnit: hoanKiem, Handlers: []units.Key{trucBach, hoanKiem},
				IntakeUsers: []string{"operator.111"}, IntakeUnits: []string{model.OrgHotline111},
			}
			switch i % 300 {
			case 7: // Trúc Bạch's still
				c.ResponsibleUnit, c.IncidentUnit, c.Handlers = trucBach, trucBach, []units.Key{trucBach}
				inherited = append([]string{c.Number}, inherited...)
			case 11: // Ba Đình's own
				c.ResponsibleUnit, c.IncidentUnit, c.Handlers = baDinh, baDinh, []units.Key{baDinh}
				own = append([]string{c.Number}, own...)
			}
			if err := tx.CreateCase(&c); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatalf("fill: %v", err)
	}
	all := slices.Concat(inherited, own)
	slices.Sort(all)
	slices.Reverse(all)
	worker := access.Principal{UserID: "badinh.worker", Role: model.RoleCommuneWorker, Unit: access.UnitName(baDinh)}
	for _, q := range []struct {
		name string
		unit units.Key
		want []string
	}{{"every case", units.Key{}, all}, {"responsible_unit Trúc Bạch", trucBach, inherited}} {
		for _, limit := range []int{50, 2} {
			read = 0
			var got []string
			query := datastore.CaseQuery{ResponsibleUnit: q.unit, Limit: limit}
			for {
				cs, next, err := svc.ListCases(ctx, worker, query)
				if err != nil {
					t.Fatalf("%s: ListCases: %v", q.name, err)
				}
				for _, c := range cs {
					got = append(got, c.Number)
				}
				if next == "" {
					break
				}
				query.After = next
			}
			if !slices.Equal(got, q.want) {
				t.Errorf("%s, pages of %d: listed %v, want %v", q.name, limit, got, q.want)
			}
			if read > 2*len(q.want) {
				t.Errorf("%s, pages of %d: looked at %d cases to list %d (Trúc Bạch handed 1,000 to Hoàn Kiếm)", q.name, limit, read, len(q.want))
			}
		}
	}
}

// So with its list by due time (QueueNone, due_before): among 1,000
// cases with an open deadline that Trúc Bạch handed to Hoàn Kiếm, Ba
// Đình's worker lists the cases Trúc Bạch still holds and its own,
// nearest first, and each page looks at no more than its cases and the
// one after, where it read all 1,000 through the old commune's handler
// entries: it reads the entries of the cases Trúc Bạch holds
// (access.HolderQueueKey).
func TestSuccessorCommuneDueListReadsTheCasesItInherits(t *testing.T) {
	ctx := context.Background()
	_, store, newService := serviceWorld(t)
	read := 0
	svc := newService(storagetest.LookingStore{Store: store, Looked: &read})
	baDinh, trucBach, hoanKiem := reformCommunes(t)
	const n = 1000
	var want []string // nearest due first: the oldest case
	err := store.Update(ctx, func(tx datastore.Tx) error {
		want = nil // an update may run more than once
		for i := range n {
			due := indexT0.Add(-time.Duration(n-i) * time.Minute)
			c := model.Case{
				Number: fmt.Sprintf("HN-2026-%05d", i+1), Status: model.StatusInitialAssessment, Revision: 1,
				ResponsibleUnit: hoanKiem, IncidentUnit: hoanKiem, Handlers: []units.Key{trucBach, hoanKiem},
				IntakeUsers: []string{"operator.111"}, IntakeUnits: []string{model.OrgHotline111},
			}
			switch i % 300 {
			case 7: // Trúc Bạch's still
				c.ResponsibleUnit, c.IncidentUnit, c.Handlers = trucBach, trucBach, []units.Key{trucBach}
				want = append(want, c.Number)
			case 11: // Ba Đình's own
				c.ResponsibleUnit, c.IncidentUnit, c.Handlers = baDinh, baDinh, []units.Key{baDinh}
				want = append(want, c.Number)
			}
			c.Deadlines = []model.Deadline{{
				ID: 1, Kind: model.DeadlineAcknowledge, Clock: model.ClockHours, Length: time.Hour,
				Unit: access.UnitName(c.ResponsibleUnit), Start: due.Add(-time.Hour), Due: due, State: model.DeadlineOpen,
			}}
			if err := tx.CreateCase(&c); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatalf("fill: %v", err)
	}
	worker := access.Principal{UserID: "badinh.worker", Role: model.RoleCommuneWorker, Unit: access.UnitName(baDinh)}
	for _, limit := range []int{50, 2} {
		read = 0
		var got []string
		q := QueueQuery{DueBefore: indexT0, Limit: limit}
		pages := 0
		for {
			cs, next, err := svc.ListQueue(ctx, worker, q)
			if err != nil {
				t.Fatalf("ListQueue: %v", err)
			}
			pages++
			for _, c := range cs {
				got = append(got, c.Number)
			}
			if next == "" {
				break
			}
			q.After = next
		}
		if !slices.Equal(got, want) {
			t.Errorf("pages of %d: listed %v, want %v", limit, got, want)
		}
		if most := pages * (limit + 1); read > most {
			t.Errorf("pages of %d: looked at %d cases in %d pages to list %d, want at most %d (Trúc Bạch handed 1,000 to Hoàn Kiếm)",
				limit, read, pages, len(want), most)
		}
	}
}

// reformCommunes are Phường Ba Đình, which wholly took over Phường Trúc
// Bạch on 2025-07-01, Trúc Bạch, and Phường Hoàn Kiếm.
func reformCommunes(t *testing.T) (baDinh, trucBach, hoanKiem units.Key) {
	t.Helper()
	key := func(s string) units.Key {
		k, err := units.ParseKey(s)
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	return key("00004@2025-07-01"), key("00004@2025-01-01"), key("00070@2025-07-01")
}
