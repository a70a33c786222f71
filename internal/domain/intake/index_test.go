package intake

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/childcase/childcase/internal/domain/access"
	"github.com/childcase/childcase/internal/domain/clock"
	"github.com/childcase/childcase/internal/domain/datastore"
	"github.com/childcase/childcase/internal/domain/model"
	"github.com/childcase/childcase/internal/domain/units"
	"github.com/childcase/childcase/internal/domain/vault"
	"github.com/childcase/childcase/internal/domain/vntime"
	"github.com/childcase/childcase/internal/keys"
	"github.com/childcase/childcase/internal/storage/boltstore"
	"github.com/childcase/childcase/internal/storage/storagetest"
)

var indexT0 = time.Date(2026, 3, 2, 1, 0, 0, 0, time.UTC)

// indexWorld is a store of random cases and the units, users and police
// units they name.
type indexWorld struct {
	svc       *Service
	store     datastore.Store
	communes  []units.Key // of two districts, and after 2025-07-01
	districts []units.Key
	city      units.Key
	users     []string
	police    []string
	// quiet is a commune none of the random cases names; it has cases of
	// its own spread evenly among them (quietCases, newest first).
	quiet      units.Key
	quietCases []string
}

// newIndexWorld stores n cases: quiet of them of the quiet commune, the
// others random.
func newIndexWorld(t testing.TB, n, quiet int, seed uint64) *indexWorld {
	t.Helper()
	reg, store, newService := serviceWorld(t)
	w := &indexWorld{
		store:  store,
		svc:    newService(store),
		users:  []string{"lan.nguyen", "minh.tran", "hoa.le", "duc.pham"},
		police: []string{"policeUnits/pa01", "policeUnits/ba-dinh", "policeUnits/hoan-kiem"},
	}
	for _, u := range reg.List(units.Filter{Level: units.LevelDistrict, AsOf: indexT0Date(2024)})[:2] {
		w.districts = append(w.districts, u.Key)
		for _, c := range reg.List(units.Filter{Parent: u.Key})[:3] {
			w.communes = append(w.communes, c.Key)
		}
	}
	for _, c := range reg.List(units.Filter{Level: units.LevelCommune, AsOf: indexT0Date(2026)})[:3] {
		w.communes = append(w.communes, c.Key)
	}
	w.city = reg.List(units.Filter{Level: units.LevelCity})[0].Key
	for _, u := range reg.List(units.Filter{Level: units.LevelCommune, AsOf: indexT0Date(2026)}) {
		if !slices.Contains(w.communes, u.Key) {
			w.quiet = u.Key
			break
		}
	}
	w.fill(t, n, quiet, seed)
	return w
}

func indexT0Date(year int) vntime.Date {
	return vntime.DateOf(time.Date(year, 1, 1, 12, 0, 0, 0, time.UTC))
}

// fill stores n cases, quiet of them (evenly spread) of the quiet commune
// and the others random, then changes a third of the random ones, so that
// the indexes must also drop entries a case no longer has. It writes 500
// cases a transaction: bbolt splits nodes only at commit, so one huge
// transaction of random index entries would be quadratic.
func (w *indexWorld) fill(t testing.TB, n, quiet int, seed uint64) {
	t.Helper()
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	const batch = 500
	for from := 0; from < n; from += batch {
		to := min(n, from+batch)
		err := w.store.Update(context.Background(), func(tx datastore.Tx) error {
			for i := from; i < to; i++ {
				number := fmt.Sprintf("HN-2026-%05d", i+1)
				c := w.randomCase(rng, number)
				if quiet > 0 && i%(n/quiet) == 0 && len(w.quietCases) < quiet {
					c = w.quietCase(number, len(w.quietCases))
					w.quietCases = append([]string{number}, w.quietCases...)
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
	}
	w.changeSome(t, rng, n)
}

// changeSome replaces a third of the n random cases by other random ones
// (keeping their reports), 500 a transaction.
func (w *indexWorld) changeSome(t testing.TB, rng *rand.Rand, n int) {
	t.Helper()
	const batch = 500
	for from := 0; from < n; from += batch {
		to := min(n, from+batch)
		err := w.store.Update(context.Background(), func(tx datastore.Tx) error {
			for id := uint64(from + 1); id <= uint64(to); id++ {
				if rng.IntN(3) != 0 {
					continue
				}
				old, err := tx.CaseByID(id)
				if err != nil {
					return err
				}
				if old.ResponsibleUnit == w.quiet {
					continue
				}
				c := w.randomCase(rng, old.Number)
				c.ID, c.Revision, c.ReportIDs = old.ID, old.Revision+1, old.ReportIDs
				if err := tx.UpdateCase(c); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			t.Fatalf("fill: %v", err)
		}
	}
}

// addReports records one or two reports for each of the n cases and n/4
// loose ones, then links half the loose ones to random cases, as
// LinkReport does (the case first, then the report), and changes some
// cases again, so that their reports' entries must follow.
func (w *indexWorld) addReports(t testing.TB, n int, seed uint64) {
	t.Helper()
	rng := rand.New(rand.NewPCG(seed, 0x5eed))
	orgs := []string{model.OrgHotline111, model.OrgSocialWorkCentre, access.UnitName(w.communes[0])}
	var loose []string
	err := w.store.Update(context.Background(), func(tx datastore.Tx) error {
		seal := func(caseNumber string) (model.StoredReport, error) {
			r := model.Report{
				ID: uuid.Must(uuid.NewV7()).String(), CallType: model.CallType(1 + rng.IntN(2)),
				TakenBy: pick(rng, w.users), TakerUnit: pick(rng, orgs), CaseNumber: caseNumber,
			}
			stored, err := w.svc.vault.SealReport(tx, r)
			if err != nil {
				return stored, err
			}
			return stored, tx.CreateReport(stored)
		}
		for id := uint64(1); id <= uint64(n); id++ {
			c, err := tx.CaseByID(id)
			if err != nil {
				return err
			}
			for range 1 + rng.IntN(2) {
				r, err := seal(c.Number)
				if err != nil {
					return err
				}
				c.ReportIDs = append(c.ReportIDs, r.ID)
			}
			c.Revision++
			if err := tx.UpdateCase(c); err != nil {
				return err
			}
		}
		for range n / 4 {
			r, err := seal("")
			if err != nil {
				return err
			}
			loose = append(loose, r.ID)
		}
		for _, id := range loose[:len(loose)/2] {
			c, err := tx.CaseByID(1 + rng.Uint64N(uint64(n)))
			if err != nil {
				return err
			}
			c.ReportIDs = append(c.ReportIDs, id)
			c.Revision++
			if err := tx.UpdateCase(c); err != nil {
				return err
			}
			r, err := tx.Report(id)
			if err != nil {
				return err
			}
			r.CaseNumber = c.Number
			if err := tx.UpdateReport(r); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatalf("add reports: %v", err)
	}
	w.changeSome(t, rng, n)
}

func pick[T any](rng *rand.Rand, from []T) T { return from[rng.IntN(len(from))] }

func (w *indexWorld) unitNames() []string {
	var names []string
	for _, k := range append(append(slices.Clone(w.communes), w.districts...), w.city) {
		names = append(names, access.UnitName(k))
	}
	return names
}

func (w *indexWorld) randomCase(rng *rand.Rand, number string) model.Case {
	// Few distinct due times, so that ties (newest first) are common.
	due := func() time.Time { return indexT0.Add(time.Duration(rng.IntN(6)) * time.Hour) }
	c := model.Case{
		Number:          number,
		Status:          model.CaseStatus(1 + rng.IntN(7)),
		ResponsibleUnit: pick(rng, w.communes),
		IncidentUnit:    pick(rng, w.communes),
		ReceiveTime:     indexT0,
		CreateTime:      indexT0,
		Revision:        1,
	}
	if rng.IntN(8) == 0 {
		c.ResponsibleUnit = pick(rng, w.districts)
	}
	c.Handlers = []units.Key{c.ResponsibleUnit}
	for range rng.IntN(3) {
		c.Handlers = append(c.Handlers, pick(rng, append(slices.Clone(w.communes), w.districts...)))
	}
	for range 1 + rng.IntN(2) {
		c.IntakeUsers = append(c.IntakeUsers, pick(rng, w.users))
		c.IntakeUnits = append(c.IntakeUnits, pick(rng, []string{model.OrgHotline111, model.OrgSocialWorkCentre, access.UnitName(pick(rng, w.communes))}))
	}
	unitsAndPolice := append(w.unitNames(), w.police...)
	for i := range rng.IntN(4) {
		d := model.Deadline{ID: i + 1, Unit: pick(rng, unitsAndPolice), Due: due(), State: model.DeadlineOpen, Breached: rng.IntN(2) == 0}
		if rng.IntN(4) == 0 {
			d.State = model.DeadlineMet
		}
		if rng.IntN(3) == 0 {
			d.Breached = true // the scheduler escalates only an overdue deadline
			d.Escalations = []model.Escalation{{To: pick(rng, unitsAndPolice)}}
			if to := d.Escalations[0].To; strings.HasPrefix(to, "policeUnits/") && !slices.Contains(c.PoliceAlerted, to) {
				c.PoliceAlerted = append(c.PoliceAlerted, to) // as the scheduler's escalation keeps it
			}
		}
		c.Deadlines = append(c.Deadlines, d)
	}
	if rng.IntN(3) == 0 {
		state := pick(rng, []string{model.TransferProposed, model.TransferAccepted, model.TransferDeclined})
		c.Transfers = []model.Transfer{{ID: 1, From: access.UnitName(c.ResponsibleUnit), To: pick(rng, w.unitNames()), State: state}}
	}
	for range rng.IntN(3) {
		state := pick(rng, []string{model.PoliceReferred, model.PoliceAcknowledged, model.PoliceDecided})
		c.PoliceReferrals = append(c.PoliceReferrals, model.PoliceReferral{PoliceUnit: pick(rng, w.police), State: state})
	}
	// A police unit's clock runs while its referral awaits an outcome,
	// which meets the last of them.
	for i, d := range c.Deadlines {
		if strings.HasPrefix(d.Unit, "policeUnits/") && d.Open() && !d.Breached && !slices.ContainsFunc(c.PoliceReferrals, func(r model.PoliceReferral) bool {
			return r.PoliceUnit == d.Unit && r.State != model.PoliceDecided
		}) {
			c.Deadlines[i].State = model.DeadlineMet
		}
	}
	return c
}

// principals returns one principal of every role for each unit, user and
// police unit of the world.
func (w *indexWorld) principals() []access.Principal {
	var ps []access.Principal
	for _, u := range w.users {
		ps = append(ps, access.Principal{UserID: u, Role: model.RoleHotlineOperator, Unit: model.OrgHotline111})
	}
	for _, org := range []string{model.OrgHotline111, model.OrgSocialWorkCentre} {
		ps = append(ps, access.Principal{UserID: "sup", Role: model.RoleHotlineSupervisor, Unit: org})
	}
	for _, k := range w.communes {
		ps = append(ps,
			access.Principal{UserID: "worker", Role: model.RoleCommuneWorker, Unit: access.UnitName(k)},
			access.Principal{UserID: "chair", Role: model.RoleCommuneChair, Unit: access.UnitName(k)})
	}
	for _, k := range w.districts {
		ps = append(ps, access.Principal{UserID: "district", Role: model.RoleDistrictOfficer, Unit: access.UnitName(k)})
	}
	ps = append(ps, access.Principal{UserID: "city", Role: model.RoleCityOfficer, Unit: access.UnitName(w.city)})
	for _, p := range w.police {
		ps = append(ps, access.Principal{UserID: "liaison", Role: model.RolePoliceLiaison, Unit: p})
	}
	return ps
}

func numbers(cs []model.Case) []string {
	out := make([]string, 0, len(cs))
	for _, c := range cs {
		out = append(out, c.Number)
	}
	return out
}

// fullScanCases is how ListCases found a principal's cases before the
// scope index: every case, in the store's order, kept by CaseView.
func (w *indexWorld) fullScanCases(t *testing.T, p access.Principal, q datastore.CaseQuery) []string {
	t.Helper()
	q.Match = func(c model.Case) bool { return w.svc.policy.CaseView(p, c) != access.ViewNone }
	q.Limit = 1 << 20
	var got []model.Case
	err := w.store.View(context.Background(), func(tx datastore.ReadTx) error {
		var err error
		got, _, err = tx.ListCases(q)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return numbers(got)
}

// fullScanReports is how ListReports found a principal's reports before
// the report scope index: a hotline operator's through the taker index,
// everyone else's by walking every report, kept by CanSeeReport.
func (w *indexWorld) fullScanReports(t *testing.T, p access.Principal, ct model.CallType) []string {
	t.Helper()
	var ids []string
	err := w.store.View(context.Background(), func(tx datastore.ReadTx) error {
		q := datastore.ReportQuery{CallType: ct, Limit: 1 << 20}
		if p.Role == model.RoleHotlineOperator {
			q.TakenBy = p.UserID
		}
		var matchErr error
		q.Match = func(r model.StoredReport) bool {
			c, err := w.svc.caseOf(tx, r)
			if err != nil {
				matchErr = err
			}
			return err == nil && w.svc.policy.CanSeeReport(p, r, c)
		}
		// Every page: one may end short after storekey.MaxSkipped
		// reports left out.
		for {
			rs, next, err := tx.ListReports(q)
			for _, r := range rs {
				ids = append(ids, r.ID)
			}
			if err = errors.Join(err, matchErr); err != nil || next == "" {
				return err
			}
			q.After = next
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	return ids
}

// fullScanQueue is ListQueue as it was before the queue index: every case
// in scope and in the queue, sorted in memory by the nearest due time that
// counts for the queue (none last), stably from newest first.
func (w *indexWorld) fullScanQueue(t *testing.T, p access.Principal, q QueueQuery) []string {
	t.Helper()
	var all []model.Case
	err := w.store.View(context.Background(), func(tx datastore.ReadTx) error {
		cq := datastore.CaseQuery{
			Match: func(c model.Case) bool {
				return w.svc.policy.CaseView(p, c) != access.ViewNone && oldInQueue(p, c, q)
			},
			Limit: 1 << 20,
		}
		// Every page: one may end short after storekey.MaxSkipped cases
		// left out.
		for {
			page, next, err := tx.ListCases(cq)
			all = append(all, page...)
			if err != nil || next == "" {
				return err
			}
			cq.After = next
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	slices.SortStableFunc(all, func(a, b model.Case) int {
		da, db := oldNearestDue(p, a, q), oldNearestDue(p, b, q)
		switch {
		case da.IsZero() && db.IsZero():
			return 0
		case da.IsZero():
			return 1
		case db.IsZero():
			return -1
		}
		return da.Compare(db)
	})
	return numbers(all)
}

// oldInQueue and oldNearestDue are the queue rules as ListQueue applied
// them before the index, kept here as the reference.
func oldInQueue(p access.Principal, c model.Case, q QueueQuery) bool {
	if !q.DueBefore.IsZero() && oldNearestDue(p, c, QueueQuery{}).IsZero() {
		return false
	}
	if !q.DueBefore.IsZero() && !oldNearestDue(p, c, QueueQuery{}).Before(q.DueBefore) {
		return false
	}
	switch q.Queue {
	case QueueMyUnitOpen:
		if p.Role == model.RolePoliceLiaison {
			for _, r := range c.PoliceReferrals {
				if r.PoliceUnit == p.Unit && r.State != model.PoliceDecided {
					return true
				}
			}
			return false
		}
		return c.Status != model.StatusClosed && access.UnitName(c.ResponsibleUnit) == p.Unit
	case QueueOverdue:
		for _, d := range c.Deadlines {
			if d.Open() && d.Breached && oldConcerns(d, p.Unit) {
				return true
			}
		}
		return false
	case QueueAwaitingMyAccept:
		t := c.PendingTransfer()
		return t != nil && t.To == p.Unit
	}
	return true
}

func oldConcerns(d model.Deadline, unit string) bool {
	if d.Unit == unit {
		return true
	}
	for _, e := range d.Escalations {
		if e.To == unit {
			return true
		}
	}
	return false
}

func oldNearestDue(p access.Principal, c model.Case, q QueueQuery) time.Time {
	// The police view shows only the unit's own clocks and those
	// escalated to it: its lists count no other.
	own := (q.Queue != QueueNone && q.Queue != QueueAwaitingMyAccept) || p.Role == model.RolePoliceLiaison
	var best time.Time
	for _, d := range c.Deadlines {
		if !d.Open() || (own && !oldConcerns(d, p.Unit)) {
			continue
		}
		if best.IsZero() || d.Due.Before(best) {
			best = d.Due
		}
	}
	return best
}

// pages reads every page of a list with a page size, checking that no
// cursor leads to an empty page.
func pages(t *testing.T, what string, limit int, list func(after string, limit int) ([]model.Case, string, error)) []string {
	t.Helper()
	var got []string
	after := ""
	for range 10000 {
		page, next, err := list(after, limit)
		if err != nil {
			t.Fatalf("%s after %q: %v", what, after, err)
		}
		if after != "" && len(page) == 0 {
			t.Fatalf("%s: cursor %q led to an empty page", what, after)
		}
		if len(page) > limit {
			t.Fatalf("%s: %d cases on a page of %d", what, len(page), limit)
		}
		got = append(got, numbers(page)...)
		if next == "" {
			return got
		}
		after = next
	}
	t.Fatalf("%s: too many pages", what)
	return nil
}

// The indexed lists give exactly what the full scans gave, in the same
// order, for every role, filter, queue and page size, on random stores.
func TestIndexedListsMatchFullScan(t *testing.T) {
	ctx := context.Background()
	found := map[string]int{} // cases each kind of list found, so the test cannot pass on empty lists
	for seed := range uint64(2) {
		w := newIndexWorld(t, 150, 0, seed)
		w.addReports(t, 150, seed)
		for _, p := range w.principals() {
			name := fmt.Sprintf("seed %d, %s of %s", seed, p.Role, p.Unit)
			if p.Role == model.RoleHotlineOperator {
				name = fmt.Sprintf("seed %d, %s %s", seed, p.Role, p.UserID)
			}
			for _, q := range []datastore.CaseQuery{
				{}, {Status: model.StatusClosed}, {Status: model.StatusPlanning},
				{ResponsibleUnit: w.communes[0]}, {ResponsibleUnit: w.communes[1], Status: model.StatusReview},
			} {
				want := w.fullScanCases(t, p, q)
				found[fmt.Sprintf("%s, ListCases(unit %v, status %d)", p.Role, !q.ResponsibleUnit.IsZero(), q.Status)] += len(want)
				for _, limit := range []int{3, 500} {
					got := pages(t, name, limit, func(after string, limit int) ([]model.Case, string, error) {
						q.After, q.Limit = after, limit
						return w.svc.ListCases(ctx, p, q)
					})
					if !slices.Equal(got, want) {
						t.Errorf("%s: ListCases(unit %v, status %d, pages of %d) =\n%v\nwant (full scan)\n%v", name, q.ResponsibleUnit, q.Status, limit, got, want)
					}
				}
			}
			for _, ct := range []model.CallType{0, 2} {
				if !p.May("ReportService/ListReports") {
					break
				}
				want := w.fullScanReports(t, p, ct)
				found[fmt.Sprintf("%s, ListReports(call type %d)", p.Role, ct)] += len(want)
				for _, limit := range []int{3, 500} {
					var got []string
					after := ""
					for range 1000 {
						page, next, err := w.svc.ListReports(ctx, p, datastore.ReportQuery{CallType: ct, After: after, Limit: limit})
						if err != nil {
							t.Fatalf("%s: ListReports: %v", name, err)
						}
						if after != "" && len(page) == 0 {
							t.Fatalf("%s: ListReports cursor %q led to an empty page", name, after)
						}
						for _, r := range page {
							got = append(got, r.ID)
						}
						if after = next; next == "" {
							break
						}
					}
					if !slices.Equal(got, want) {
						t.Errorf("%s: ListReports(call type %d, pages of %d) =\n%v\nwant (full scan)\n%v", name, ct, limit, got, want)
					}
				}
			}
			for _, q := range []QueueQuery{
				{Queue: QueueMyUnitOpen}, {Queue: QueueOverdue}, {Queue: QueueAwaitingMyAccept},
				{Queue: QueueNone, DueBefore: indexT0.Add(3 * time.Hour)},
				{Queue: QueueNone, DueBefore: indexT0.Add(100 * time.Hour)},
				{Queue: QueueMyUnitOpen, DueBefore: indexT0.Add(2 * time.Hour)},
				{Queue: QueueOverdue, DueBefore: indexT0.Add(4 * time.Hour)},
			} {
				want := w.fullScanQueue(t, p, q)
				found[fmt.Sprintf("%s, ListQueue(queue %d, due before %v)", p.Role, q.Queue, !q.DueBefore.IsZero())] += len(want)
				for _, limit := range []int{2, 500} {
					got := pages(t, name, limit, func(after string, limit int) ([]model.Case, string, error) {
						q.After, q.Limit = after, limit
						return w.svc.ListQueue(ctx, p, q)
					})
					if !slices.Equal(got, want) {
						t.Errorf("%s: ListQueue(queue %d, due before %v, pages of %d) =\n%v\nwant (full scan)\n%v", name, q.Queue, q.DueBefore, limit, got, want)
					}
				}
			}
		}
	}
	for list, n := range found {
		// Hotline units are in no queue; commune and district units are
		// in every kind of list in stores this size.
		if n == 0 && (strings.HasPrefix(list, "COMMUNE") || strings.HasPrefix(list, "DISTRICT")) {
			t.Errorf("%s found no case in any store: the comparison proves nothing there", list)
		}
	}
}

// A quiet commune's lists look at its own cases, not the city's: the
// case list and each of its queues read the commune's index entries. Its
// cases are spread through the store's history, as a commune's are.
func TestQuietCommuneListsLookAtItsOwnCases(t *testing.T) {
	ctx := context.Background()
	w := newIndexWorld(t, 1003, 3, 7)
	w.addReports(t, 1003, 7)
	p := access.Principal{UserID: "worker", Role: model.RoleCommuneWorker, Unit: access.UnitName(w.quiet)}
	ownReports := len(w.fullScanReports(t, p, 0))
	var looked int
	w.svc.store = storagetest.LookingStore{Store: w.store, Looked: &looked}
	for _, list := range []struct {
		name string
		want int // records listed
		run  func() (int, error)
	}{
		{"ListCases", len(w.quietCases), func() (int, error) {
			cs, _, err := w.svc.ListCases(ctx, p, datastore.CaseQuery{Limit: 50})
			return len(cs), err
		}},
		{"ListQueue(my unit open)", len(w.quietCases), func() (int, error) {
			cs, _, err := w.svc.ListQueue(ctx, p, QueueQuery{Queue: QueueMyUnitOpen, Limit: 50})
			return len(cs), err
		}},
		{"ListQueue(overdue)", len(w.quietCases), func() (int, error) {
			cs, _, err := w.svc.ListQueue(ctx, p, QueueQuery{Queue: QueueOverdue, Limit: 50})
			return len(cs), err
		}},
		{"ListQueue(due before)", len(w.quietCases), func() (int, error) {
			cs, _, err := w.svc.ListQueue(ctx, p, QueueQuery{DueBefore: indexT0.Add(24 * time.Hour), Limit: 50})
			return len(cs), err
		}},
		{"ListReports", ownReports, func() (int, error) {
			rs, _, err := w.svc.ListReports(ctx, p, datastore.ReportQuery{Limit: 50})
			return len(rs), err
		}},
	} {
		looked = 0
		got, err := list.run()
		if err != nil {
			t.Fatalf("%s: %v", list.name, err)
		}
		if got != list.want || got == 0 {
			t.Errorf("%s listed %d, want the commune's %d", list.name, got, list.want)
		}
		if looked > list.want {
			t.Errorf("%s looked at %d records to list the commune's %d (the store holds 1003 cases and their reports)", list.name, looked, list.want)
		}
	}
}

// quietCase is the i-th case of the quiet commune, with an overdue
// deadline of the commune due i hours after the first's.
func (w *indexWorld) quietCase(number string, i int) model.Case {
	return model.Case{
		Number: number, Status: model.StatusInitialAssessment, Revision: 1,
		ResponsibleUnit: w.quiet, IncidentUnit: w.quiet, Handlers: []units.Key{w.quiet},
		Deadlines: []model.Deadline{{ID: 1, Unit: access.UnitName(w.quiet), Due: indexT0.Add(time.Duration(i) * time.Hour), State: model.DeadlineOpen, Breached: true}},
	}
}

// BenchmarkQuietCommunePage lists a page (50) of a quiet commune's cases
// and of its open-cases queue in a store of 1,000 cases and in one of
// 20,000 (the commune has 100 cases in both, spread through the store's
// history), alternately in the same loop, and reports the ratio of the
// two: with the indexes a page costs the same however large the city, so
// the ratio stays near 1.
func BenchmarkQuietCommunePage(b *testing.B) {
	const quietCases, page = 100, 50
	for _, list := range []struct {
		name string
		run  func(w *indexWorld, p access.Principal) (int, error)
	}{
		{"cases", func(w *indexWorld, p access.Principal) (int, error) {
			cs, _, err := w.svc.ListCases(context.Background(), p, datastore.CaseQuery{Limit: page})
			return len(cs), err
		}},
		{"queue=my-unit-open", func(w *indexWorld, p access.Principal) (int, error) {
			cs, _, err := w.svc.ListQueue(context.Background(), p, QueueQuery{Queue: QueueMyUnitOpen, Limit: page})
			return len(cs), err
		}},
	} {
		b.Run("list="+list.name, func(b *testing.B) {
			type sized struct {
				w       *indexWorld
				p       access.Principal
				elapsed time.Duration
			}
			var stores []*sized
			for _, n := range []int{1000, 20000} {
				w := newIndexWorld(b, n, quietCases, 11)
				stores = append(stores, &sized{w: w, p: access.Principal{UserID: "worker", Role: model.RoleCommuneWorker, Unit: access.UnitName(w.quiet)}})
			}
			loops := 0
			for b.Loop() {
				for _, s := range stores {
					start := time.Now()
					got, err := list.run(s.w, s.p)
					s.elapsed += time.Since(start)
					if err != nil || got != page {
						b.Fatalf("%s: %d cases, %v; want a page of %d", list.name, got, err, page)
					}
				}
				loops++
			}
			small, big := stores[0].elapsed, stores[1].elapsed
			b.ReportMetric(float64(small.Nanoseconds())/float64(loops), "ns/page@1k")
			b.ReportMetric(float64(big.Nanoseconds())/float64(loops), "ns/page@20k")
			b.ReportMetric(float64(big)/float64(small), "ratio")
		})
	}
}

// serviceWorld opens a store in a new file and returns the units, the
// store, and what makes a service over it (or over a wrapper of it, as
// storagetest.LookingStore), with a master key of its own and the clock at indexT0.
func serviceWorld(tb testing.TB) (*units.Registry, datastore.Store, func(datastore.Store) *Service) {
	tb.Helper()
	reg, err := units.Load()
	if err != nil {
		tb.Fatalf("units.Load: %v", err)
	}
	store, err := boltstore.Open(filepath.Join(tb.TempDir(), "childcase.db"), boltstore.Options{NoSync: true})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { store.Close() })
	master, err := keys.GenerateMaster()
	if err != nil {
		tb.Fatal(err)
	}
	return reg, store, func(s datastore.Store) *Service {
		return New(Deps{
			Store: s, Units: reg, Vault: vault.New(keys.NewKeyring(master)),
			Clock: clock.NewFake(indexT0), Log: slog.New(slog.NewTextHandler(io.Discard, nil)),
		})
	}
}
