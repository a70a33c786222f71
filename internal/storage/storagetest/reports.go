package storagetest

import (
	"errors"
	"slices"
	"testing"

	"github.com/childcase/childcase/internal/domain/model"
	"github.com/childcase/childcase/internal/storage"
)

var reportTests = []namedTest{
	{"RoundTrip", testReportRoundTrip},
	{"RoundTripMinimal", testReportRoundTripMinimal},
	{"DuplicateID", testReportDuplicateID},
	{"NotFound", testReportNotFound},
	{"Update", testReportUpdate},
	{"UpdateMissing", testReportUpdateMissing},
	{"UpdateMovesCallType", testReportUpdateMovesCallType},
}

func testReportRoundTrip(t *testing.T, s storage.Store) {
	want := fullReport(newID(t))
	update(t, s, func(tx storage.Tx) error {
		if err := tx.CreateReport(want); err != nil {
			return err
		}
		// A transaction reads its own writes.
		got, err := tx.Report(want.ID)
		if err != nil {
			t.Errorf("Report in the creating transaction: %v", err)
		} else if d := sameReport(got, want); d != "" {
			t.Errorf("Report in the creating transaction differs: %s", d)
		}
		return nil
	})
	got := mustReport(t, s, want.ID)
	if d := sameReport(got, want); d != "" {
		t.Errorf("Report after commit differs: %s", d)
	}
	// Spot checks, so a broken comparison cannot hide a lost field.
	if len(got.Children) != 2 || got.Children[0].BirthDate != want.Children[0].BirthDate ||
		got.Children[1].EstimatedAge == nil || *got.Children[1].EstimatedAge != 9 ||
		got.Children[0].EstimatedAge != nil || !got.Children[1].BirthDate.IsZero() {
		t.Errorf("children did not round-trip: %+v", got.Children)
	}
	if got.ReceiveTime.Nanosecond() != baseTime.Nanosecond() {
		t.Errorf("ReceiveTime lost precision: %v, want %v", got.ReceiveTime, baseTime)
	}
	// The caller's value is not aliased by the store.
	*want.Children[1].EstimatedAge = 10
	want.Caregivers[0].FullName = "changed"
	again := mustReport(t, s, want.ID)
	if *again.Children[1].EstimatedAge != 9 || again.Caregivers[0].FullName == "changed" {
		t.Errorf("stored report changed with the caller's value: %+v", again)
	}
}

func testReportRoundTripMinimal(t *testing.T, s storage.Store) {
	want := minimalReport(newID(t), callOther)
	createReports(t, s, want)
	if d := sameReport(mustReport(t, s, want.ID), want); d != "" {
		t.Errorf("Report differs: %s", d)
	}
}

func testReportDuplicateID(t *testing.T, s storage.Store) {
	first := fullReport(newID(t))
	createReports(t, s, first)

	second := minimalReport(first.ID, callOther)
	update(t, s, func(tx storage.Tx) error {
		wantErr(t, "CreateReport with a taken id", tx.CreateReport(second), model.ErrAlreadyExists)
		return nil // commit whatever the failed call may have written
	})
	if d := sameReport(mustReport(t, s, first.ID), first); d != "" {
		t.Errorf("a refused CreateReport changed the stored report: %s", d)
	}
	if ids := listReportIDs(t, s, callOther); len(ids) != 0 {
		t.Errorf("a refused CreateReport left index entries: ListReports(call type %d) = %v", callOther, ids)
	}
	if ids := listReportIDs(t, s, 0); len(ids) != 1 {
		t.Errorf("ListReports = %v, want one report", ids)
	}
}

func testReportNotFound(t *testing.T, s storage.Store) {
	stored := fullReport(newID(t))
	createReports(t, s, stored)
	for _, tt := range []struct{ name, id string }{
		{"unknown UUID", newID(t)},
		{"empty", ""},
		{"not a UUID", "not-a-uuid"},
		{"short hex", "0190c4a2"},
		{"UUID with junk", stored.ID + "x"},
		{"path", "../" + stored.ID},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := getReport(t, s, tt.id)
			wantErr(t, "Report("+tt.id+")", err, model.ErrNotFound)
		})
	}
}

func testReportUpdate(t *testing.T, s storage.Store) {
	r := fullReport(newID(t))
	other := minimalReport(newID(t), callOther)
	createReports(t, s, r, other)

	r.CaseNumber = "HN-2026-00042"
	r.Narrative = "updated"
	r.Children = r.Children[:1]
	r.Caregivers = nil
	r.ImmediateDanger = false
	r.ReceiveTime = r.ReceiveTime.Add(-48 * 3600e9)
	update(t, s, func(tx storage.Tx) error { return tx.UpdateReport(r) })

	if d := sameReport(mustReport(t, s, r.ID), r); d != "" {
		t.Errorf("Report after UpdateReport differs: %s", d)
	}
	if d := sameReport(mustReport(t, s, other.ID), other); d != "" {
		t.Errorf("UpdateReport changed another report: %s", d)
	}
	// Same call type: still listed exactly once.
	if got := listReportIDs(t, s, r.CallType); len(got) != 1 || got[0] != r.ID {
		t.Errorf("ListReports(call type %d) = %v, want [%s]", r.CallType, got, r.ID)
	}
	if got := listReportIDs(t, s, 0); len(got) != 2 {
		t.Errorf("ListReports = %v, want two reports", got)
	}
}

func testReportUpdateMissing(t *testing.T, s storage.Store) {
	stored := fullReport(newID(t))
	createReports(t, s, stored)
	for _, tt := range []struct{ name, id string }{
		{"unknown UUID", newID(t)},
		{"not a UUID", "not-a-uuid"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := fullReport(tt.id)
			update(t, s, func(tx storage.Tx) error {
				wantErr(t, "UpdateReport of a missing report", tx.UpdateReport(r), model.ErrNotFound)
				return nil
			})
			if _, err := getReport(t, s, tt.id); !errors.Is(err, model.ErrNotFound) {
				t.Errorf("after a refused UpdateReport, Report(%q) error = %v, want ErrNotFound", tt.id, err)
			}
			if got := listReportIDs(t, s, 0); len(got) != 1 || got[0] != stored.ID {
				t.Errorf("after a refused UpdateReport, ListReports = %v, want [%s]", got, stored.ID)
			}
			if got := listReportIDs(t, s, r.CallType); len(got) != 1 || got[0] != stored.ID {
				t.Errorf("after a refused UpdateReport, ListReports(call type %d) = %v, want [%s]", r.CallType, got, stored.ID)
			}
		})
	}
}

func testReportUpdateMovesCallType(t *testing.T, s storage.Store) {
	ids := newIDs(t, 3)
	a := minimalReport(ids[0], model.CallIntervention)
	b := minimalReport(ids[1], callOther)
	c := minimalReport(ids[2], model.CallIntervention)
	createReports(t, s, a, b, c)

	check := func(step string, want map[model.CallType][]string) {
		t.Helper()
		for ct, ids := range want {
			got := listReportIDs(t, s, ct)
			if !slices.Equal(got, ids) {
				t.Errorf("%s: ListReports(call type %d) = %v, want %v", step, ct, got, ids)
			}
		}
	}
	check("before", map[model.CallType][]string{
		0:                      {c.ID, b.ID, a.ID},
		model.CallIntervention: {c.ID, a.ID},
		callOther:              {b.ID},
		callInfo:               nil,
	})

	a.CallType = callInfo
	update(t, s, func(tx storage.Tx) error { return tx.UpdateReport(a) })
	check("after moving the oldest to another type", map[model.CallType][]string{
		0:                      {c.ID, b.ID, a.ID},
		model.CallIntervention: {c.ID},
		callOther:              {b.ID},
		callInfo:               {a.ID},
	})

	b.CallType = model.CallIntervention
	update(t, s, func(tx storage.Tx) error { return tx.UpdateReport(b) })
	check("after moving the middle one to intervention", map[model.CallType][]string{
		0:                      {c.ID, b.ID, a.ID},
		model.CallIntervention: {c.ID, b.ID},
		callOther:              nil,
		callInfo:               {a.ID},
	})

	// Moving there and back in one transaction ends where it started.
	update(t, s, func(tx storage.Tx) error {
		b.CallType = callOther
		if err := tx.UpdateReport(b); err != nil {
			return err
		}
		b.CallType = model.CallIntervention
		return tx.UpdateReport(b)
	})
	check("after a round trip in one transaction", map[model.CallType][]string{
		model.CallIntervention: {c.ID, b.ID},
		callOther:              nil,
	})
}
