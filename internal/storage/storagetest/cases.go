package storagetest

import (
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/childcase/childcase/internal/domain/datastore"
	"github.com/childcase/childcase/internal/domain/model"
	"github.com/childcase/childcase/internal/domain/units"
)

var sequenceTests = []namedTest{
	{"StartsAtOneAndIncrements", testSequenceIncrements},
	{"PerYear", testSequencePerYear},
}

func nextSeq(t *testing.T, s datastore.Store, year int) uint64 {
	t.Helper()
	var n uint64
	update(t, s, func(tx datastore.Tx) error {
		var err error
		n, err = tx.NextCaseSequence(year)
		return err
	})
	return n
}

func testSequenceIncrements(t *testing.T, s datastore.Store) {
	for want := uint64(1); want <= 3; want++ {
		if got := nextSeq(t, s, 2026); got != want {
			t.Fatalf("NextCaseSequence(2026) call %d = %d, want %d", want, got, want)
		}
	}
	// Several calls in one transaction.
	update(t, s, func(tx datastore.Tx) error {
		for want := uint64(4); want <= 6; want++ {
			got, err := tx.NextCaseSequence(2026)
			if err != nil {
				return err
			}
			if got != want {
				t.Errorf("NextCaseSequence(2026) in one transaction = %d, want %d", got, want)
			}
		}
		return nil
	})
	if got := nextSeq(t, s, 2026); got != 7 {
		t.Errorf("NextCaseSequence(2026) after the batch = %d, want 7", got)
	}
}

func testSequencePerYear(t *testing.T, s datastore.Store) {
	steps := []struct {
		year int
		want uint64
	}{
		{2025, 1},
		{2025, 2},
		{2026, 1},
		{2025, 3},
		{2026, 2},
		{2024, 1},
		{2027, 1},
		{2026, 3},
	}
	for i, st := range steps {
		if got := nextSeq(t, s, st.year); got != st.want {
			t.Errorf("step %d: NextCaseSequence(%d) = %d, want %d", i, st.year, got, st.want)
		}
	}
}

var caseTests = []namedTest{
	{"CreateAssignsIDs", testCaseCreateAssignsIDs},
	{"RoundTrip", testCaseRoundTrip},
	{"DuplicateNumber", testCaseDuplicateNumber},
	{"NotFound", testCaseNotFound},
	{"Update", testCaseUpdate},
	{"UpdateRevision", testCaseUpdateRevision},
	{"UpdateUnknown", testCaseUpdateUnknown},
	{"UpdateMovesIndexes", testCaseUpdateMovesIndexes},
	{"NewStoreHoldsNoClearText", testCaseNewStoreHoldsNoClearText},
}

// testCaseNewStoreHoldsNoClearText pins ClearTextPending on a store created
// by this version: no case of it ever held free text in the clear, so a
// start has none to look for, before and after ClearTextSealed.
func testCaseNewStoreHoldsNoClearText(t *testing.T, s datastore.Store) {
	createCases(t, s, sampleCase("HN-2026-00001", unitA, model.StatusAwaitingAcknowledgement))
	pending := func() bool {
		t.Helper()
		p, err := readOne(t, s, func(tx datastore.ReadTx) (bool, error) { return tx.ClearTextPending() })
		if err != nil {
			t.Fatalf("ClearTextPending: %v", err)
		}
		return p
	}
	if pending() {
		t.Error("ClearTextPending on a new store = true, want false")
	}
	update(t, s, func(tx datastore.Tx) error { return tx.ClearTextSealed() })
	if pending() {
		t.Error("ClearTextPending after ClearTextSealed = true, want false")
	}
}

func testCaseCreateAssignsIDs(t *testing.T, s datastore.Store) {
	var cs []model.Case
	// Some cases in their own transactions, some sharing one.
	cs = append(cs, createCases(t, s,
		sampleCase("HN-2026-00001", unitA, model.StatusAwaitingAcknowledgement),
		sampleCase("HN-2026-00002", unitB, model.StatusAwaitingAcknowledgement),
	)...)
	var shared []model.Case
	update(t, s, func(tx datastore.Tx) error {
		shared = shared[:0] // a store may run the body again
		for _, n := range []string{"HN-2026-00003", "HN-2026-00004", "HN-2026-00005"} {
			c := sampleCase(n, unitA, model.StatusClosed)
			if err := tx.CreateCase(&c); err != nil {
				return err
			}
			shared = append(shared, c)
		}
		return nil
	})
	cs = append(cs, shared...)
	seen := map[uint64]string{}
	for _, c := range cs {
		if c.ID == 0 {
			t.Errorf("CreateCase(%s) left ID 0", c.Number)
		}
		if prev, ok := seen[c.ID]; ok {
			t.Errorf("CreateCase gave %s and %s the same ID %d", prev, c.Number, c.ID)
		}
		seen[c.ID] = c.Number
		if got := mustCase(t, s, c.Number); got.ID != c.ID {
			t.Errorf("CaseByNumber(%s).ID = %d, want the assigned %d", c.Number, got.ID, c.ID)
		}
	}
}

func testCaseRoundTrip(t *testing.T, s datastore.Store) {
	want := sampleCase("HN-2026-00001", unitA, model.StatusAwaitingAcknowledgement)
	update(t, s, func(tx datastore.Tx) error {
		if err := tx.CreateCase(&want); err != nil {
			return err
		}
		got, err := tx.CaseByNumber(want.Number)
		if err != nil {
			t.Errorf("CaseByNumber in the creating transaction: %v", err)
		} else if d := sameCase(got, want); d != "" {
			t.Errorf("CaseByNumber in the creating transaction differs: %s", d)
		}
		return nil
	})
	got := mustCase(t, s, want.Number)
	if d := sameCase(got, want); d != "" {
		t.Errorf("CaseByNumber after commit differs: %s", d)
	}
	if got.ID == 0 || got.Revision != 1 || got.ResponsibleUnit != unitA || len(got.ReportIDs) != 2 {
		t.Errorf("case did not round-trip: %+v", got)
	}
}

func testCaseDuplicateNumber(t *testing.T, s datastore.Store) {
	first := createCases(t, s, sampleCase("HN-2026-00001", unitA, model.StatusAwaitingAcknowledgement))[0]

	dup := sampleCase(first.Number, unitB, model.StatusClosed)
	update(t, s, func(tx datastore.Tx) error {
		wantErr(t, "CreateCase with a taken number", tx.CreateCase(&dup), model.ErrAlreadyExists)
		return nil // commit whatever the failed call may have written
	})
	if d := sameCase(mustCase(t, s, first.Number), first); d != "" {
		t.Errorf("a refused CreateCase changed the stored case: %s", d)
	}
	for _, f := range []struct {
		unit   units.Key
		status model.CaseStatus
		want   []string
	}{
		{units.Key{}, 0, []string{first.Number}},
		{unitA, 0, []string{first.Number}},
		{unitB, 0, nil},
		{units.Key{}, model.StatusClosed, nil},
		{units.Key{}, model.StatusAwaitingAcknowledgement, []string{first.Number}},
	} {
		if got := listCaseNumbers(t, s, f.unit, f.status); !slices.Equal(got, f.want) {
			t.Errorf("after a refused CreateCase, ListCases(unit %s, status %d) = %v, want %v", unitName(f.unit), f.status, got, f.want)
		}
	}
	// Another number is still accepted.
	other := createCases(t, s, sampleCase("HN-2026-00002", unitB, model.StatusClosed))[0]
	if other.ID == first.ID {
		t.Errorf("the second case got the first case's ID %d", first.ID)
	}
}

func testCaseNotFound(t *testing.T, s datastore.Store) {
	createCases(t, s, sampleCase("HN-2026-00001", unitA, model.StatusAwaitingAcknowledgement))
	for _, n := range []string{"HN-2026-00002", "", "HN-2026-0000", "hn-2026-00001", "HN-2026-00001 "} {
		_, err := getCase(t, s, n)
		wantErr(t, fmt.Sprintf("CaseByNumber(%q)", n), err, model.ErrNotFound)
	}
}

func testCaseUpdate(t *testing.T, s datastore.Store) {
	cs := createCases(t, s,
		sampleCase("HN-2026-00001", unitA, model.StatusAwaitingAcknowledgement),
		sampleCase("HN-2026-00002", unitA, model.StatusAwaitingAcknowledgement),
	)
	c := cs[0]
	c.Revision++
	c.ReportIDs = append(slices.Clone(c.ReportIDs), "0190c4a2-7d3e-7c4b-8a5e-0123456789ad")
	c.ImmediateDanger = false
	c.UpdateTime = c.UpdateTime.Add(time.Hour)
	update(t, s, func(tx datastore.Tx) error { return tx.UpdateCase(c) })
	if d := sameCase(mustCase(t, s, c.Number), c); d != "" {
		t.Errorf("case after UpdateCase differs: %s", d)
	}
	if d := sameCase(mustCase(t, s, cs[1].Number), cs[1]); d != "" {
		t.Errorf("UpdateCase changed another case: %s", d)
	}
	// Unchanged unit and status: still listed exactly once.
	want := []string{cs[1].Number, cs[0].Number}
	for _, f := range []struct {
		unit   units.Key
		status model.CaseStatus
	}{
		{units.Key{}, 0},
		{unitA, 0},
		{units.Key{}, model.StatusAwaitingAcknowledgement},
		{unitA, model.StatusAwaitingAcknowledgement},
	} {
		if got := listCaseNumbers(t, s, f.unit, f.status); !slices.Equal(got, want) {
			t.Errorf("ListCases(unit %s, status %d) = %v, want %v", unitName(f.unit), f.status, got, want)
		}
	}
}

func testCaseUpdateRevision(t *testing.T, s datastore.Store) {
	stored := createCases(t, s, sampleCase("HN-2026-00001", unitA, model.StatusAwaitingAcknowledgement))[0]
	// Bring the stored revision to 3.
	for range 2 {
		stored.Revision++
		update(t, s, func(tx datastore.Tx) error { return tx.UpdateCase(stored) })
	}
	if got := mustCase(t, s, stored.Number).Revision; got != 3 {
		t.Fatalf("stored revision = %d, want 3", got)
	}

	for _, rev := range []uint64{0, 1, 2, 3, 5, 100} {
		t.Run(fmt.Sprintf("revision %d", rev), func(t *testing.T) {
			c := stored
			c.Revision = rev
			c.ResponsibleUnit = unitB
			c.Status = model.StatusClosed
			c.ImmediateDanger = false
			update(t, s, func(tx datastore.Tx) error {
				wantErr(t, fmt.Sprintf("UpdateCase from revision %d over stored 3", rev), tx.UpdateCase(c), model.ErrConflict)
				return nil // commit whatever the failed call may have written
			})
			if d := sameCase(mustCase(t, s, stored.Number), stored); d != "" {
				t.Errorf("a refused UpdateCase changed the case: %s", d)
			}
			checkCaseLists(t, s, map[caseFilter][]string{
				{unitA, 0}:                   {stored.Number},
				{unitB, 0}:                   nil,
				{units.Key{}, stored.Status}: {stored.Number},
				{units.Key{}, c.Status}:      nil,
				{units.Key{}, 0}:             {stored.Number},
			})
		})
	}

	c := stored
	c.Revision = 4
	update(t, s, func(tx datastore.Tx) error { return tx.UpdateCase(c) })
	if got := mustCase(t, s, c.Number).Revision; got != 4 {
		t.Errorf("after UpdateCase to revision 4, stored revision = %d", got)
	}
	// The same update again is now stale.
	if err := s.Update(t.Context(), func(tx datastore.Tx) error { return tx.UpdateCase(c) }); !errors.Is(err, model.ErrConflict) {
		t.Errorf("repeating UpdateCase to revision 4: error = %v, want ErrConflict", err)
	}
}

func testCaseUpdateUnknown(t *testing.T, s datastore.Store) {
	stored := createCases(t, s, sampleCase("HN-2026-00001", unitA, model.StatusAwaitingAcknowledgement))[0]
	for _, tt := range []struct {
		name string
		id   uint64
	}{
		{"zero ID", 0},
		{"next ID", stored.ID + 1},
		{"huge ID", 1<<63 + 5},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c := sampleCase("HN-2026-00009", unitB, model.StatusClosed)
			c.ID = tt.id
			c.Revision = 2
			update(t, s, func(tx datastore.Tx) error {
				wantErr(t, "UpdateCase of an unknown case", tx.UpdateCase(c), model.ErrNotFound)
				return nil
			})
			if _, err := getCase(t, s, c.Number); !errors.Is(err, model.ErrNotFound) {
				t.Errorf("after a refused UpdateCase, CaseByNumber(%s) error = %v, want ErrNotFound", c.Number, err)
			}
			checkCaseLists(t, s, map[caseFilter][]string{
				{units.Key{}, 0}:                  {stored.Number},
				{unitB, 0}:                        nil,
				{units.Key{}, model.StatusClosed}: nil,
			})
		})
	}
}

func testCaseUpdateMovesIndexes(t *testing.T, s datastore.Store) {
	cs := createCases(t, s,
		sampleCase("HN-2026-00001", unitA, model.StatusAwaitingAcknowledgement),
		sampleCase("HN-2026-00002", unitA, model.StatusAwaitingAcknowledgement),
		sampleCase("HN-2026-00003", unitB, statusInProgress),
	)
	n1, n2, n3 := cs[0].Number, cs[1].Number, cs[2].Number
	checkCaseLists(t, s, map[caseFilter][]string{
		{units.Key{}, 0}: {n3, n2, n1},
		{unitA, 0}:       {n2, n1},
		{unitB, 0}:       {n3},
		{unitAOld, 0}:    nil,
		{units.Key{}, model.StatusAwaitingAcknowledgement}: {n2, n1},
		{units.Key{}, statusInProgress}:                    {n3},
		{unitA, model.StatusAwaitingAcknowledgement}:       {n2, n1},
	})

	// Move the oldest case to another unit and status.
	c := cs[0]
	c.Revision++
	c.ResponsibleUnit = unitB
	c.Status = statusInProgress
	update(t, s, func(tx datastore.Tx) error { return tx.UpdateCase(c) })
	cs[0] = c
	checkCaseLists(t, s, map[caseFilter][]string{
		{units.Key{}, 0}: {n3, n2, n1},
		{unitA, 0}:       {n2},
		{unitB, 0}:       {n3, n1},
		{units.Key{}, model.StatusAwaitingAcknowledgement}: {n2},
		{units.Key{}, statusInProgress}:                    {n3, n1},
		{unitA, model.StatusAwaitingAcknowledgement}:       {n2},
		{unitA, statusInProgress}:                          nil,
		{unitB, statusInProgress}:                          {n3, n1},
		{unitB, model.StatusAwaitingAcknowledgement}:       nil,
	})

	// Only the status changes.
	c.Revision++
	c.Status = model.StatusClosed
	update(t, s, func(tx datastore.Tx) error { return tx.UpdateCase(c) })
	cs[0] = c
	checkCaseLists(t, s, map[caseFilter][]string{
		{unitB, 0}:                        {n3, n1},
		{units.Key{}, statusInProgress}:   {n3},
		{units.Key{}, model.StatusClosed}: {n1},
		{unitB, model.StatusClosed}:       {n1},
		{unitB, statusInProgress}:         {n3},
	})

	// Only the unit changes, to a unit with the same code but another
	// version.
	c.Revision++
	c.ResponsibleUnit = unitAOld
	update(t, s, func(tx datastore.Tx) error { return tx.UpdateCase(c) })
	cs[0] = c
	checkCaseLists(t, s, map[caseFilter][]string{
		{unitB, 0}:                        {n3},
		{unitA, 0}:                        {n2},
		{unitAOld, 0}:                     {n1},
		{unitAOld, model.StatusClosed}:    {n1},
		{unitA, model.StatusClosed}:       nil,
		{units.Key{}, model.StatusClosed}: {n1},
		{units.Key{}, 0}:                  {n3, n2, n1},
	})

	// Two changes in one transaction, ending back in unit A.
	before := c
	update(t, s, func(tx datastore.Tx) error {
		c = before // a store may run the body again
		c.Revision++
		c.ResponsibleUnit = unitC
		if err := tx.UpdateCase(c); err != nil {
			return err
		}
		c.Revision++
		c.ResponsibleUnit = unitA
		c.Status = model.StatusAwaitingAcknowledgement
		return tx.UpdateCase(c)
	})
	checkCaseLists(t, s, map[caseFilter][]string{
		{unitA, 0}:                        {n2, n1},
		{unitAOld, 0}:                     nil,
		{unitC, 0}:                        nil,
		{units.Key{}, model.StatusClosed}: nil,
		{units.Key{}, model.StatusAwaitingAcknowledgement}: {n2, n1},
	})
	if d := sameCase(mustCase(t, s, c.Number), c); d != "" {
		t.Errorf("case after the updates differs: %s", d)
	}
}

type caseFilter struct {
	unit   units.Key
	status model.CaseStatus
}

func checkCaseLists(t *testing.T, s datastore.Store, want map[caseFilter][]string) {
	t.Helper()
	for f, nums := range want {
		if got := listCaseNumbers(t, s, f.unit, f.status); !slices.Equal(got, nums) {
			t.Errorf("ListCases(unit %s, status %d) = %v, want %v", unitName(f.unit), f.status, got, nums)
		}
	}
}
