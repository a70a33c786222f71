package storagetest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/childcase/childcase/internal/domain/access"
	"github.com/childcase/childcase/internal/domain/datastore"
	"github.com/childcase/childcase/internal/domain/model"
	"github.com/childcase/childcase/internal/domain/units"
	"github.com/childcase/childcase/internal/storage/storekey"
)

// The scope and queue lists: ListCases with Scopes and ListQueue read the
// cases whose access.ScopeKeys and access.QueueEntries match, ListReports
// with Scopes the reports whose access.ReportScopeKeys do, and they must
// follow a case through its updates.
var caseIndexTests = []namedTest{
	{"ScopesNewestFirstEachOnce", testScopesNewestFirst},
	{"ScopesPaging", testScopesPaging},
	{"ScopesFollowUpdates", testScopesFollowUpdates},
	{"QueueOrder", testQueueOrder},
	{"QueuePagingAndUntil", testQueuePaging},
	{"QueueFollowsUpdates", testQueueFollowsUpdates},
	{"QueueByHolderFollowsTheHolder", testQueueByHolder},
	{"QueueBadCursor", testQueueBadCursor},
	{"QueueMatchNeverEndsAPage", testQueueMatchNeverEndsAPage},
	{"ReportScopes", testReportScopes},
	{"IndexKeysWithNULRefused", testIndexKeysWithNUL},
}

var (
	unitAName = access.UnitName(unitA)
	unitBName = access.UnitName(unitB)
)

// scopedCases stores six cases: the odd ones handled by unit A, those
// divisible by three recorded by lan.nguyen, and returns them oldest first.
func scopedCases(t *testing.T, s datastore.Store) []model.Case {
	t.Helper()
	cs := make([]model.Case, 6)
	for i := range cs {
		c := sampleCase(fmt.Sprintf("HN-2026-%05d", i+1), unitB, statusInProgress)
		c.Handlers = []units.Key{unitB}
		c.IntakeUsers = []string{"minh.tran"}
		if i%2 == 1 {
			c.Handlers = append(c.Handlers, unitA)
		}
		if i%3 == 0 {
			c.IntakeUsers = append(c.IntakeUsers, "lan.nguyen")
		}
		cs[i] = c
	}
	return createCases(t, s, cs...)
}

func listScoped(t *testing.T, s datastore.Store, q datastore.CaseQuery) []string {
	t.Helper()
	var got []model.Case
	view(t, s, func(tx datastore.ReadTx) error {
		var err error
		got, _, err = tx.ListCases(q)
		return err
	})
	return caseNumbers(got)
}

func testScopesNewestFirst(t *testing.T, s datastore.Store) {
	cs := scopedCases(t, s)
	num := func(i ...int) []string { return numbersAt(cs, i...) }
	for _, tt := range []struct {
		scopes []string
		status model.CaseStatus
		want   []string
	}{
		{[]string{"handler:" + unitAName}, 0, num(5, 3, 1)},
		{[]string{"user:lan.nguyen"}, 0, num(3, 0)},
		// A case under two of the keys is listed once.
		{[]string{"handler:" + unitAName, "user:lan.nguyen"}, 0, num(5, 3, 1, 0)},
		{[]string{"user:lan"}, 0, nil}, // a prefix of another key matches nothing
		{[]string{}, 0, nil},
		{[]string{"handler:" + unitAName}, model.StatusClosed, nil},
		{[]string{"handler:" + unitAName}, statusInProgress, num(5, 3, 1)},
	} {
		if got := listScoped(t, s, datastore.CaseQuery{Scopes: tt.scopes, Status: tt.status, Limit: 100}); !slices.Equal(got, tt.want) {
			t.Errorf("ListCases(scopes %q, status %d) = %v, want %v", tt.scopes, tt.status, got, tt.want)
		}
	}
	// With a unit, the scope still applies.
	if got := listScoped(t, s, datastore.CaseQuery{ResponsibleUnit: unitB, Scopes: []string{"user:lan.nguyen"}, Limit: 100}); !slices.Equal(got, num(3, 0)) {
		t.Errorf("ListCases(unit B, scope lan.nguyen) = %v, want %v", got, num(3, 0))
	}
}

func testScopesPaging(t *testing.T, s datastore.Store) {
	cs := scopedCases(t, s)
	q := datastore.CaseQuery{Scopes: []string{"handler:" + unitAName, "user:lan.nguyen"}}
	want := []string{cs[5].Number, cs[3].Number, cs[1].Number, cs[0].Number}
	for _, limit := range []int{1, 2, 3, 4} {
		var got []string
		q.After = ""
		for range 10 {
			var page []model.Case
			var next string
			view(t, s, func(tx datastore.ReadTx) error {
				var err error
				q.Limit = limit
				page, next, err = tx.ListCases(q)
				return err
			})
			if q.After != "" && len(page) == 0 {
				t.Fatalf("limit %d: cursor %q led to an empty page", limit, q.After)
			}
			got = append(got, caseNumbers(page)...)
			if next == "" {
				break
			}
			q.After = next
		}
		if !slices.Equal(got, want) {
			t.Errorf("ListCases(scopes, pages of %d) = %v, want %v", limit, got, want)
		}
	}
}

func testScopesFollowUpdates(t *testing.T, s datastore.Store) {
	cs := scopedCases(t, s)
	c := cs[1]
	c.Revision++
	c.Handlers = []units.Key{unitB} // unit A no longer handled it (a repair)
	c.Transfers = []model.Transfer{{ID: 1, From: unitBName, To: "units/00099@2025-07-01", State: model.TransferProposed}}
	update(t, s, func(tx datastore.Tx) error { return tx.UpdateCase(c) })
	if got, want := listScoped(t, s, datastore.CaseQuery{Scopes: []string{"handler:" + unitAName}, Limit: 100}), []string{cs[5].Number, cs[3].Number}; !slices.Equal(got, want) {
		t.Errorf("after the update, ListCases(handler A) = %v, want %v", got, want)
	}
	if got, want := listScoped(t, s, datastore.CaseQuery{Scopes: []string{"offered:units/00099@2025-07-01"}, Limit: 100}), []string{c.Number}; !slices.Equal(got, want) {
		t.Errorf("after the update, ListCases(offered to 00099) = %v, want %v", got, want)
	}
}

// queuedCases stores five open cases of unit A: due at +2h, none, +1h,
// +2h, +1h (cases 0..4), and a closed one due at +0h.
func queuedCases(t *testing.T, s datastore.Store) []model.Case {
	t.Helper()
	dues := []time.Duration{2, -1, 1, 2, 1, 0}
	cs := make([]model.Case, len(dues))
	for i, h := range dues {
		c := sampleCase(fmt.Sprintf("HN-2026-%05d", i+1), unitA, statusInProgress)
		c.Handlers = []units.Key{unitA}
		c.Deadlines = nil
		if h >= 0 {
			c.Deadlines = []model.Deadline{{ID: 1, Unit: unitAName, State: model.DeadlineOpen, Due: baseTime.Add(h * time.Hour)}}
		}
		if i == len(dues)-1 {
			c.Status = model.StatusClosed
		}
		cs[i] = c
	}
	return createCases(t, s, cs...)
}

// listQueue lists q's page, and checks that QueueCaseIDs answers the same
// cases and cursor for it (Match and Filter aside, which it does not take).
func listQueue(t *testing.T, s datastore.Store, q datastore.QueueQuery) ([]string, string) {
	t.Helper()
	var got []model.Case
	var next string
	view(t, s, func(tx datastore.ReadTx) error {
		var err error
		got, next, err = tx.ListQueue(q)
		return err
	})
	if q.Match == nil && q.Filter == nil {
		var ids []uint64
		var idsNext string
		view(t, s, func(tx datastore.ReadTx) error {
			var err error
			ids, idsNext, err = tx.QueueCaseIDs(q)
			return err
		})
		var want []uint64
		for _, c := range got {
			want = append(want, c.ID)
		}
		if !slices.Equal(ids, want) || idsNext != next {
			t.Errorf("QueueCaseIDs(queue %d, keys %q, after %q) = %v, %q; want %v, %q as ListQueue", q.Queue, q.Keys, q.After, ids, idsNext, want, next)
		}
	}
	return caseNumbers(got), next
}

func testQueueOrder(t *testing.T, s datastore.Store) {
	cs := queuedCases(t, s)
	n := func(i ...int) []string { return numbersAt(cs, i...) }
	for _, tt := range []struct {
		q    datastore.QueueQuery
		want []string
	}{
		// Nearest due first, newest first among equals, none last; the
		// closed case is in no unit's open queue.
		{datastore.QueueQuery{Queue: access.QueueMyUnitOpen, Keys: []string{unitAName}, Limit: 100}, n(4, 2, 3, 0, 1)},
		{datastore.QueueQuery{Queue: access.QueueMyUnitOpen, Keys: []string{unitBName}, Limit: 100}, nil},
		{datastore.QueueQuery{Queue: access.QueueOverdue, Keys: []string{unitAName}, Limit: 100}, nil},
		{datastore.QueueQuery{Queue: access.QueueMyUnitOpen, Keys: nil, Limit: 100}, nil},
		// QueueNone holds the cases with an open deadline under each scope
		// key, the closed one too; a case under two keys comes once.
		{datastore.QueueQuery{Queue: access.QueueNone, Keys: []string{"handler:" + unitAName, access.ScopeAll}, Limit: 100}, n(5, 4, 2, 3, 0)},
		{datastore.QueueQuery{Queue: access.QueueMyUnitOpen, Keys: []string{unitAName}, Limit: 100,
			Match: func(c model.Case) bool { return c.Number != cs[2].Number }}, n(4, 3, 0, 1)},
	} {
		if got, _ := listQueue(t, s, tt.q); !slices.Equal(got, tt.want) {
			t.Errorf("ListQueue(queue %d, keys %q) = %v, want %v", tt.q.Queue, tt.q.Keys, got, tt.want)
		}
	}
	// Also merges more queues of the keys in one order: case 2, overdue
	// now, is in the open and the overdue queue at the same due time, and
	// comes once.
	c := cs[2]
	c.Revision++
	c.Deadlines[0].Breached = true
	update(t, s, func(tx datastore.Tx) error { return tx.UpdateCase(c) })
	q := datastore.QueueQuery{Queue: access.QueueOverdue, Also: []access.Queue{access.QueueMyUnitOpen}, Keys: []string{unitAName}, Limit: 100}
	if got, _ := listQueue(t, s, q); !slices.Equal(got, n(4, 2, 3, 0, 1)) {
		t.Errorf("ListQueue(overdue, also open, unit A) = %v, want %v", got, n(4, 2, 3, 0, 1))
	}
	q.Also = nil
	if got, _ := listQueue(t, s, q); !slices.Equal(got, n(2)) {
		t.Errorf("ListQueue(overdue, unit A) = %v, want %v", got, n(2))
	}
}

func testQueuePaging(t *testing.T, s datastore.Store) {
	cs := queuedCases(t, s)
	want := []string{cs[4].Number, cs[2].Number, cs[3].Number, cs[0].Number, cs[1].Number}
	for _, limit := range []int{1, 2, 4, 5} {
		q := datastore.QueueQuery{Queue: access.QueueMyUnitOpen, Keys: []string{unitAName}, Limit: limit}
		var got []string
		for range 10 {
			page, next := listQueue(t, s, q)
			if q.After != "" && len(page) == 0 {
				t.Fatalf("limit %d: cursor %q led to an empty page", limit, q.After)
			}
			got = append(got, page...)
			if next == "" {
				break
			}
			q.After = next
		}
		if !slices.Equal(got, want) {
			t.Errorf("ListQueue(pages of %d) = %v, want %v", limit, got, want)
		}
	}
	// Until ends the list before the first case due at or after it, and
	// then there is no next page.
	q := datastore.QueueQuery{Queue: access.QueueNone, Keys: []string{"handler:" + unitAName}, Until: baseTime.Add(2 * time.Hour), Limit: 3}
	if got, next := listQueue(t, s, q); !slices.Equal(got, []string{cs[5].Number, cs[4].Number, cs[2].Number}) || next != "" {
		t.Errorf("ListQueue(until +2h, limit 3) = %v, %q; want [%s %s %s], \"\"", got, next, cs[5].Number, cs[4].Number, cs[2].Number)
	}
	// An Until before 1970, where no key's time can lie (a due_before of
	// 0001-01-01T00:00:00Z reaches it), ends the list before every case:
	// it was read as no bound, and the list walked the whole queue.
	q.Until, q.Limit = time.Time{}.Add(time.Nanosecond), 100
	if got, next := listQueue(t, s, q); len(got) != 0 || next != "" {
		t.Errorf("ListQueue(until 0001-01-01) = %v, %q; want none", got, next)
	}
}

func testQueueFollowsUpdates(t *testing.T, s datastore.Store) {
	cs := queuedCases(t, s)
	c := cs[0]
	c.Revision++
	c.Deadlines[0].Due = baseTime.Add(-time.Hour) // now the nearest
	c.Deadlines[0].Breached = true
	update(t, s, func(tx datastore.Tx) error { return tx.UpdateCase(c) })
	q := datastore.QueueQuery{Queue: access.QueueMyUnitOpen, Keys: []string{unitAName}, Limit: 100}
	if got, want := func() []string { g, _ := listQueue(t, s, q); return g }(), []string{cs[0].Number, cs[4].Number, cs[2].Number, cs[3].Number, cs[1].Number}; !slices.Equal(got, want) {
		t.Errorf("after a due time moved, ListQueue = %v, want %v", got, want)
	}
	q.Queue = access.QueueOverdue
	if got, _ := listQueue(t, s, q); !slices.Equal(got, []string{cs[0].Number}) {
		t.Errorf("after a deadline was breached, ListQueue(overdue) = %v, want [%s]", got, cs[0].Number)
	}
	c.Revision++
	c.Status = model.StatusClosed
	c.Deadlines[0].State = model.DeadlineMet
	update(t, s, func(tx datastore.Tx) error { return tx.UpdateCase(c) })
	q.Queue = access.QueueMyUnitOpen
	if got, _ := listQueue(t, s, q); slices.Contains(got, c.Number) {
		t.Errorf("after closing, ListQueue(my unit open) = %v still holds %s", got, c.Number)
	}
	q.Queue = access.QueueOverdue
	if got, _ := listQueue(t, s, q); len(got) != 0 {
		t.Errorf("after the deadline was met, ListQueue(overdue) = %v, want none", got)
	}
}

// testQueueByHolder: QueueNone's entries under a holder's key
// (access.HolderQueueKey, schema version 14) hold the cases with an open
// deadline that the unit holds, nearest first, the closed one too, not
// those it only handled; a case handed over moves to its new holder's,
// and one whose deadlines are all met leaves them.
func testQueueByHolder(t *testing.T, s datastore.Store) {
	cs := queuedCases(t, s)
	// Case 3 handed to unit B, unit A still among its handlers.
	c := cs[3]
	c.Revision++
	c.ResponsibleUnit = unitB
	c.Handlers = []units.Key{unitA, unitB}
	update(t, s, func(tx datastore.Tx) error { return tx.UpdateCase(c) })
	n := func(i ...int) []string { return numbersAt(cs, i...) }
	byHolder := func(u units.Key) []string {
		got, _ := listQueue(t, s, datastore.QueueQuery{Queue: access.QueueNone, Keys: []string{access.HolderQueueKey(u)}, Limit: 100})
		return got
	}
	if got, want := byHolder(unitA), n(5, 4, 2, 0); !slices.Equal(got, want) {
		t.Errorf("ListQueue(none, holder A) = %v, want %v (not case 3, handed to B; not case 1, no deadline)", got, want)
	}
	if got, want := byHolder(unitB), n(3); !slices.Equal(got, want) {
		t.Errorf("ListQueue(none, holder B) = %v, want %v", got, want)
	}
	if got, want := listScopedQueue(t, s, "handler:"+unitAName), n(5, 4, 2, 3, 0); !slices.Equal(got, want) {
		t.Errorf("ListQueue(none, handler A) = %v, want %v (the handler's key keeps case 3)", got, want)
	}
	c.Revision++
	c.Deadlines[0].State = model.DeadlineMet
	update(t, s, func(tx datastore.Tx) error { return tx.UpdateCase(c) })
	if got := byHolder(unitB); len(got) != 0 {
		t.Errorf("after its deadline was met, ListQueue(none, holder B) = %v, want none", got)
	}
}

// listScopedQueue lists QueueNone's entries under one key.
func listScopedQueue(t *testing.T, s datastore.Store, key string) []string {
	t.Helper()
	got, _ := listQueue(t, s, datastore.QueueQuery{Queue: access.QueueNone, Keys: []string{key}, Limit: 100})
	return got
}

func testQueueBadCursor(t *testing.T, s datastore.Store) {
	queuedCases(t, s)
	for _, cur := range []string{"zz", "00", "0102"} {
		err := s.View(t.Context(), func(tx datastore.ReadTx) error {
			_, _, err := tx.ListQueue(datastore.QueueQuery{Queue: access.QueueMyUnitOpen, Keys: []string{unitAName}, After: cur, Limit: 5})
			return err
		})
		if !errors.Is(err, model.ErrBadCursor) {
			t.Errorf("ListQueue(after %q): error = %v, want ErrBadCursor", cur, err)
		}
	}
}

// numbersAt returns the numbers of the cases at those positions.
func numbersAt(cs []model.Case, at ...int) []string {
	out := make([]string, 0, len(at))
	for _, i := range at {
		out = append(out, cs[i].Number)
	}
	return out
}

// testReportScopes pins the report scope list: a report is listed under
// its taker's and its taker's organisation's keys, and under its case's
// scope keys while it names the case, following the case's changes.
func testReportScopes(t *testing.T, s datastore.Store) {
	ids := newIDs(t, 3)
	c := sampleCase("HN-2026-00001", unitA, statusInProgress)
	c.Handlers = []units.Key{unitA}
	c.ReportIDs = ids[:2]
	c = createCases(t, s, c)[0]
	rs := make([]model.StoredReport, 3)
	for i := range rs {
		rs[i] = minimalReport(ids[i], model.CallIntervention)
		rs[i].TakenBy, rs[i].TakerUnit = "lan.nguyen", model.OrgHotline111
	}
	rs[0].CaseNumber, rs[1].CaseNumber = c.Number, c.Number
	rs[2].TakenBy, rs[2].TakerUnit = "minh.tran", model.OrgSocialWorkCentre
	createReports(t, s, rs...)
	list := func(scopes ...string) []string {
		t.Helper()
		var got []string
		view(t, s, func(tx datastore.ReadTx) error {
			found, _, err := tx.ListReports(datastore.ReportQuery{Scopes: scopes, Limit: 100})
			for _, r := range found {
				got = append(got, r.ID)
			}
			return err
		})
		return got
	}
	for _, tt := range []struct {
		scopes []string
		want   []string
	}{
		{[]string{"taker:lan.nguyen"}, []string{ids[1], ids[0]}},
		{[]string{"takerorg:" + model.OrgSocialWorkCentre}, []string{ids[2]}},
		{[]string{"handler:" + unitAName}, []string{ids[1], ids[0]}},
		{[]string{"handler:" + unitAName, "taker:minh.tran"}, []string{ids[2], ids[1], ids[0]}},
		{[]string{"handler:" + unitBName}, nil},
		{[]string{}, nil},
	} {
		if got := list(tt.scopes...); !slices.Equal(got, tt.want) {
			t.Errorf("ListReports(scopes %q) = %v, want %v", tt.scopes, got, tt.want)
		}
	}
	// The case is handed to unit B; its reports follow.
	c.Revision++
	c.Handlers = []units.Key{unitB}
	c.ResponsibleUnit = unitB
	update(t, s, func(tx datastore.Tx) error { return tx.UpdateCase(c) })
	if got := list("handler:" + unitAName); len(got) != 0 {
		t.Errorf("after the case left unit A, ListReports(handler A) = %v, want none", got)
	}
	if got, want := list("handler:"+unitBName), []string{ids[1], ids[0]}; !slices.Equal(got, want) {
		t.Errorf("after the case went to unit B, ListReports(handler B) = %v, want %v", got, want)
	}
	// The loose report joins the case as LinkReport does it: the case,
	// then the report.
	c.Revision++
	c.ReportIDs = append(c.ReportIDs, ids[2])
	update(t, s, func(tx datastore.Tx) error {
		if err := tx.UpdateCase(c); err != nil {
			return err
		}
		r := rs[2]
		r.CaseNumber = c.Number
		return tx.UpdateReport(r)
	})
	if got, want := list("handler:"+unitBName), []string{ids[2], ids[1], ids[0]}; !slices.Equal(got, want) {
		t.Errorf("after a report joined the case, ListReports(handler B) = %v, want %v", got, want)
	}
}

// testIndexKeysWithNUL pins that every store refuses a case or report whose
// scope or queue keys contain 0x00, which ends a key's prefix in the
// indexes: such a key could match the entries of another.
func testIndexKeysWithNUL(t *testing.T, s datastore.Store) {
	ctx := context.Background()
	bad := sampleCase("HN-2026-00001", unitA, statusInProgress)
	bad.IntakeUsers = []string{"lan\x00x"}
	if err := s.Update(ctx, func(tx datastore.Tx) error { return tx.CreateCase(&bad) }); err == nil {
		t.Error("CreateCase with intake user \"lan\\x00x\" succeeded, want an error")
	}
	if _, err := getCase(t, s, bad.Number); !errors.Is(err, model.ErrNotFound) {
		t.Errorf("the refused case: CaseByNumber error = %v, want ErrNotFound", err)
	}

	c := createCases(t, s, sampleCase("HN-2026-00002", unitA, statusInProgress))[0]
	referred := c
	referred.Revision++
	referred.PoliceReferrals = []model.PoliceReferral{{PoliceUnit: "policeUnits/ca\x00x", State: "REFERRED"}}
	if err := s.Update(ctx, func(tx datastore.Tx) error { return tx.UpdateCase(referred) }); err == nil {
		t.Error("UpdateCase referring to police unit \"policeUnits/ca\\x00x\" succeeded, want an error")
	}
	if diff := sameCase(mustCase(t, s, c.Number), c); diff != "" {
		t.Errorf("after the refused update the stored case changed: %s", diff)
	}

	r := minimalReport(newID(t), model.CallIntervention)
	r.TakenBy, r.TakerUnit = "lan.nguyen", "orgs/hotline\x00x"
	if err := s.Update(ctx, func(tx datastore.Tx) error { return tx.CreateReport(r) }); err == nil {
		t.Error("CreateReport with taker unit \"orgs/hotline\\x00x\" succeeded, want an error")
	}
	if _, err := getReport(t, s, r.ID); !errors.Is(err, model.ErrNotFound) {
		t.Errorf("the refused report: Report error = %v, want ErrNotFound", err)
	}
}

// testQueueMatchNeverEndsAPage pins for a queue what
// OutOfScopeNeverEndsAPage does for ListCases: the cases Match (the
// caller's scope) refuses are passed over as absent and never end a page
// with a cursor, while those Filter leaves out do, after
// storekey.MaxSkipped of them.
func testQueueMatchNeverEndsAPage(t *testing.T, s datastore.Store) {
	n := storekey.MaxSkipped + 5
	mine := createManyCases(t, s, n, func(i int) model.Case { // the first due last
		c := sampleCase(fmt.Sprintf("HN-2026-%05d", i+1), unitA, statusInProgress)
		c.Handlers = []units.Key{unitA}
		c.Deadlines = []model.Deadline{{ID: 1, Unit: unitAName, State: model.DeadlineOpen, Due: baseTime.Add(time.Duration(n-i) * time.Minute)}}
		return c
	})
	only := func(c model.Case) bool { return c.Number == mine.Number }
	for _, q := range []datastore.QueueQuery{
		{Queue: access.QueueMyUnitOpen, Keys: []string{unitAName}, Match: only},
		{Queue: access.QueueNone, Keys: []string{"handler:" + unitAName}, Until: baseTime.Add(24 * time.Hour), Match: only},
	} {
		q.Limit = 10
		got, next := listQueue(t, s, q)
		if want := []string{mine.Number}; !slices.Equal(got, want) || next != "" {
			t.Errorf("ListQueue(queue %d, keys %q, Match) = %v, %q; want %v, \"\": the %d cases Match refuses must not end the page", q.Queue, q.Keys, got, next, want, n-1)
		}
		// The same cases left out by Filter end the page, with a cursor
		// that goes on to the one it keeps.
		q.Match, q.Filter = nil, only
		var all []string
		for pages := 0; ; pages++ {
			if pages > 3 {
				t.Fatalf("ListQueue(queue %d, Filter): still paging after %d pages", q.Queue, pages)
			}
			got, next := listQueue(t, s, q)
			if pages == 0 && next == "" {
				t.Errorf("ListQueue(queue %d, Filter) read past %d cases it left out without ending the page", q.Queue, n-1)
			}
			all = append(all, got...)
			if next == "" {
				break
			}
			q.After = next
		}
		if want := []string{mine.Number}; !slices.Equal(all, want) {
			t.Errorf("ListQueue(queue %d, Filter) pages together = %v, want %v", q.Queue, all, want)
		}
	}
}
