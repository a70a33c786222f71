package intake

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/childcase/childcase/internal/domain/access"
	"github.com/childcase/childcase/internal/domain/datastore"
	"github.com/childcase/childcase/internal/domain/model"
	"github.com/childcase/childcase/internal/domain/units"
	"github.com/childcase/childcase/internal/storage/storagetest"
)

// swcWorld is a store, whose case lists count the cases they look at
// (storagetest.LookingStore), of n cases a commune holds whose ACKNOWLEDGE was
// escalated to the city (the city is among their handlers, as
// stepCtx.escalateFrom leaves it, without holding them), and among them,
// evenly spread, swcCases taken by the social work centre's operators and
// heldCases the city holds (newest first in swc and held).
type swcWorld struct {
	svc       *Service
	read      int
	city      units.Key
	swc, held []string
}

func newSWCWorld(tb testing.TB, n, swcCases, heldCases int) *swcWorld {
	tb.Helper()
	w := buildSWCWorld(tb, n, swcCases, heldCases, func(*model.Case, int, units.Key, units.Key) {})
	slices.Reverse(w.swc)
	slices.Reverse(w.held)
	return w
}

// buildSWCWorld is newSWCWorld's store, each case as shape leaves it
// (given its index i, the commune and the city), and swc and held in the order of the cases'
// ids, oldest first.
func buildSWCWorld(tb testing.TB, n, swcCases, heldCases int, shape func(c *model.Case, i int, commune, city units.Key)) *swcWorld {
	tb.Helper()
	reg, store, newService := serviceWorld(tb)
	w := &swcWorld{city: reg.List(units.Filter{Level: units.LevelCity})[0].Key}
	w.svc = newService(storagetest.LookingStore{Store: store, Looked: &w.read})
	commune := reg.List(units.Filter{Level: units.LevelCommune, AsOf: indexT0Date(2026)})[0].Key
	const batch = 500
	for from := 0; from < n; from += batch {
		err := store.Update(context.Background(), func(tx datastore.Tx) error {
			for i := from; i < min(n, from+batch); i++ {
				c := model.Case{
					Number: fmt.Sprintf("HN-2026-%05d", i+1), Status: model.StatusInitialAssessment, Revision: 1,
					ResponsibleUnit: commune, IncidentUnit: commune, Handlers: []units.Key{commune, w.city},
					IntakeUsers: []string{"operator.111"}, IntakeUnits: []string{model.OrgHotline111},
				}
				shape(&c, i, commune, w.city)
				switch {
				case swcCases > 0 && i%(n/swcCases) == 0 && len(w.swc) < swcCases:
					c.IntakeUsers, c.IntakeUnits = []string{"operator.swc"}, []string{model.OrgSocialWorkCentre}
					w.swc = append(w.swc, c.Number)
				case heldCases > 0 && i%(n/heldCases) == 1 && len(w.held) < heldCases:
					c.ResponsibleUnit = w.city // handed over to the city, which accepted it
					w.held = append(w.held, c.Number)
				}
				if err := tx.CreateCase(&c); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			tb.Fatalf("fill: %v", err)
		}
	}
	return w
}

var swcSupervisor = access.Principal{UserID: "supervisor.swc", Role: model.RoleHotlineSupervisor, Unit: model.OrgSocialWorkCentre}

// A supervisor of the social work centre, which acts for the city, sees
// the cases the centre took and those the city holds, not every case the
// city was ever escalated (access.Policy.CaseView). Its list reads those:
// among 1,000 cases escalated to the city it looks at the cases it lists,
// not at the city's history of escalations, which it read whole at each
// page before (every escalation makes the city a handler, and its list
// read the cases of every unit it acts for as handler, passing over those
// the view refused uncounted). Paged, filtered by the city or not, it
// lists the same cases, newest first.
func TestSocialWorkCentreListReadsItsOwnCases(t *testing.T) {
	ctx := context.Background()
	w := newSWCWorld(t, 1000, 3, 2)
	want := slices.Concat(w.swc, w.held)
	slices.SortFunc(want, func(a, b string) int { return strings.Compare(b, a) })
	for _, q := range []struct {
		name  string
		query datastore.CaseQuery
		want  []string
	}{
		{"every case", datastore.CaseQuery{}, want},
		{"responsible_unit the city", datastore.CaseQuery{ResponsibleUnit: w.city}, w.held},
	} {
		for _, limit := range []int{50, 2} {
			w.read = 0
			var got []string
			q.query.After = ""
			for {
				q.query.Limit = limit
				cs, next, err := w.svc.ListCases(ctx, swcSupervisor, q.query)
				if err != nil {
					t.Fatalf("%s: ListCases: %v", q.name, err)
				}
				for _, c := range cs {
					got = append(got, c.Number)
				}
				if next == "" {
					break
				}
				q.query.After = next
			}
			if !slices.Equal(got, q.want) {
				t.Errorf("%s, pages of %d: listed %v, want %v", q.name, limit, got, q.want)
			}
			// A page may look once more at a case it listed (the one its
			// cursor stops at is not read again); never at the others.
			if w.read > 2*len(q.want) {
				t.Errorf("%s, pages of %d: looked at %d cases to list %d (the store holds 1,000 escalated to the city)", q.name, limit, w.read, len(q.want))
			}
		}
	}
}

// BenchmarkSocialWorkCentrePage lists a page (50) of a social work
// centre supervisor's cases in a store of 1,000 cases escalated to the
// city and in one of 10,000 (the centre took 100 of them in both),
// alternately in the same loop, and reports the cases each page looked at
// as well as its time. The list reads the centre's own entries and the
// cases the city holds (access.Policy.ListScope), so a page looks at
// about the 50 it lists at both sizes, and the ratio of the times stays
// near 1; through the city's handler entries, as before, it looked at the
// 5,000 newest of 10,000 to find 50 of the centre's 100.
func BenchmarkSocialWorkCentrePage(b *testing.B) {
	const swcCases, page = 100, 50
	p := swcSupervisor
	type sized struct {
		w       *swcWorld
		elapsed time.Duration
		read    int
	}
	var stores []*sized
	for _, n := range []int{1000, 10000} {
		stores = append(stores, &sized{w: newSWCWorld(b, n, swcCases, 0)})
	}
	loops := 0
	for b.Loop() {
		for _, s := range stores {
			s.w.read = 0
			start := time.Now()
			cs, _, err := s.w.svc.ListCases(context.Background(), p, datastore.CaseQuery{Limit: page})
			s.elapsed += time.Since(start)
			s.read += s.w.read
			if err != nil || len(cs) != page {
				b.Fatalf("%d cases, %v; want a page of %d", len(cs), err, page)
			}
		}
		loops++
	}
	small, big := stores[0], stores[1]
	b.ReportMetric(float64(small.read)/float64(loops), "reads/page@1k")
	b.ReportMetric(float64(big.read)/float64(loops), "reads/page@10k")
	b.ReportMetric(float64(small.elapsed.Nanoseconds())/float64(loops), "ns/page@1k")
	b.ReportMetric(float64(big.elapsed.Nanoseconds())/float64(loops), "ns/page@10k")
	b.ReportMetric(float64(big.elapsed)/float64(small.elapsed), "ratio")
}
