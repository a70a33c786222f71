package storagetest

import (
	"bytes"
	"errors"
	"slices"
	"testing"

	"github.com/childcase/childcase/internal/domain/datastore"
	"github.com/childcase/childcase/internal/domain/model"
)

var reportTests = []namedTest{
	{"RoundTrip", testReportRoundTrip},
	{"RoundTripMinimal", testReportRoundTripMinimal},
	{"DuplicateID", testReportDuplicateID},
	{"NotFound", testReportNotFound},
	{"Update", testReportUpdate},
	{"UpdateMissing", testReportUpdateMissing},
	{"UpdateMovesCallType", testReportUpdateMovesCallType},
	{"UpdateKeepsTaker", testReportUpdateKeepsTaker},
}

func testReportRoundTrip(t *testing.T, s datastore.Store) {
	want := fullReport(newID(t))
	update(t, s, func(tx datastore.Tx) error {
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
	if len(got.Children) != 2 || got.Children[1] != (model.ChildSummary{AgeYears: 9, AgeEstimated: true, Sex: 2}) {
		t.Errorf("children did not round-trip: %+v", got.Children)
	}
	if got.TakenBy != "lan.nguyen" || got.TakerUnit != model.OrgHotline111 {
		t.Errorf("taker did not round-trip: %q, %q", got.TakenBy, got.TakerUnit)
	}
	if !bytes.Equal(got.Private.Data, want.Private.Data) || got.Private.KeyID != want.Private.KeyID ||
		!bytes.Equal(got.Reporter.Data, want.Reporter.Data) || got.Reporter.KeyID != want.Reporter.KeyID {
		t.Errorf("sealed blobs did not round-trip: Private %+v, Reporter %+v", got.Private, got.Reporter)
	}
	if got.ReceiveTime.Nanosecond() != baseTime.Nanosecond() {
		t.Errorf("ReceiveTime lost precision: %v, want %v", got.ReceiveTime, baseTime)
	}
	// The caller's value is not aliased by the store.
	want.Children[1].AgeYears = 11
	want.Private.Data[0] ^= 0xff
	want.Reporter.Data[0] ^= 0xff
	again := mustReport(t, s, want.ID)
	if again.Children[1].AgeYears != 9 || again.Private.Data[0] != 0x01 || again.Reporter.Data[0] != 0x01 {
		t.Errorf("stored report changed with the caller's value: %+v", again)
	}
	// Nor is a value read back aliased by the store.
	got.Private.Data[1] = 0x42
	if again := mustReport(t, s, want.ID); again.Private.Data[1] != 0x00 {
		t.Errorf("stored report changed with a value read back: Private.Data = %x", again.Private.Data)
	}
}

func testReportRoundTripMinimal(t *testing.T, s datastore.Store) {
	want := minimalReport(newID(t), callOther)
	createReports(t, s, want)
	if d := sameReport(mustReport(t, s, want.ID), want); d != "" {
		t.Errorf("Report differs: %s", d)
	}
}

func testReportDuplicateID(t *testing.T, s datastore.Store) {
	first := fullReport(newID(t))
	createReports(t, s, first)

	second := minimalReport(first.ID, callOther)
	update(t, s, func(tx datastore.Tx) error {
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

func testReportNotFound(t *testing.T, s datastore.Store) {
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

func testReportUpdate(t *testing.T, s datastore.Store) {
	r := fullReport(newID(t))
	other := minimalReport(newID(t), callOther)
	createReports(t, s, r, other)

	r.CaseNumber = "HN-2026-00042"
	r.Children = r.Children[:1]
	r.SpecialCircumstances = nil
	r.ImmediateDanger = false
	r.TakerUnit = "units/00004@2025-07-01"
	// Sealing the report under its case's key replaces both blobs.
	r.Private = model.Sealed{KeyID: "dk-case-HN-2026-00042", Data: []byte{0x02, 0x00, 0x99}}
	r.Reporter = model.Sealed{KeyID: "dk-reporter-2", Data: []byte{0xff}}
	r.ReceiveTime = r.ReceiveTime.Add(-48 * 3600e9)
	update(t, s, func(tx datastore.Tx) error { return tx.UpdateReport(r) })

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

func testReportUpdateMissing(t *testing.T, s datastore.Store) {
	stored := fullReport(newID(t))
	createReports(t, s, stored)
	for _, tt := range []struct{ name, id string }{
		{"unknown UUID", newID(t)},
		{"not a UUID", "not-a-uuid"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := fullReport(tt.id)
			update(t, s, func(tx datastore.Tx) error {
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

func testReportUpdateMovesCallType(t *testing.T, s datastore.Store) {
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
	update(t, s, func(tx datastore.Tx) error { return tx.UpdateReport(a) })
	check("after moving the oldest to another type", map[model.CallType][]string{
		0:                      {c.ID, b.ID, a.ID},
		model.CallIntervention: {c.ID},
		callOther:              {b.ID},
		callInfo:               {a.ID},
	})

	b.CallType = model.CallIntervention
	update(t, s, func(tx datastore.Tx) error { return tx.UpdateReport(b) })
	check("after moving the middle one to intervention", map[model.CallType][]string{
		0:                      {c.ID, b.ID, a.ID},
		model.CallIntervention: {c.ID, b.ID},
		callOther:              nil,
		callInfo:               {a.ID},
	})

	// Moving there and back in one transaction ends where it started.
	update(t, s, func(tx datastore.Tx) error {
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

// testReportUpdateKeepsTaker pins that the taker of a report cannot change
// (to another user, to none, or from none) and that a refused update leaves
// the record and the taker index as they were.
func testReportUpdateKeepsTaker(t *testing.T, s datastore.Store) {
	r := fullReport(newID(t))
	anon := minimalReport(newID(t), callOther)
	createReports(t, s, r, anon)

	for _, tt := range []struct {
		name    string
		stored  model.StoredReport
		takenBy string
	}{
		{"another user", r, "minh.tran"},
		{"none", r, ""},
		{"from none", anon, "lan.nguyen"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			changed := tt.stored
			changed.TakenBy = tt.takenBy
			changed.CaseNumber = "HN-2026-00099"
			update(t, s, func(tx datastore.Tx) error {
				if err := tx.UpdateReport(changed); err == nil {
					t.Errorf("UpdateReport changing the taker from %q to %q succeeded", tt.stored.TakenBy, tt.takenBy)
				}
				return nil // commit whatever the failed call may have written
			})
			if d := sameReport(mustReport(t, s, tt.stored.ID), tt.stored); d != "" {
				t.Errorf("a refused UpdateReport changed the report: %s", d)
			}
			if got := listTakerReportIDs(t, s, "lan.nguyen"); !slices.Equal(got, []string{r.ID}) {
				t.Errorf("ListReports(taken by lan.nguyen) = %v, want [%s]", got, r.ID)
			}
			if got := listTakerReportIDs(t, s, "minh.tran"); len(got) != 0 {
				t.Errorf("ListReports(taken by minh.tran) = %v, want none", got)
			}
		})
	}
	// Changing everything else keeps the report listed under its taker.
	r.CallType = callInfo
	r.CaseNumber = "HN-2026-00007"
	update(t, s, func(tx datastore.Tx) error { return tx.UpdateReport(r) })
	if got := listTakerReportIDs(t, s, "lan.nguyen"); !slices.Equal(got, []string{r.ID}) {
		t.Errorf("after an update, ListReports(taken by lan.nguyen) = %v, want [%s]", got, r.ID)
	}
	if d := sameReport(mustReport(t, s, r.ID), r); d != "" {
		t.Errorf("report after UpdateReport differs: %s", d)
	}
}
