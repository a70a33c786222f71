package boltstore_test

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/childcase/childcase/internal/domain/datastore"
	"github.com/childcase/childcase/internal/domain/model"
	"github.com/childcase/childcase/internal/domain/units"
	"github.com/childcase/childcase/internal/domain/vntime"
	"github.com/childcase/childcase/internal/storage/boltstore"
)

// A write that leaves a record's index entries as they were (a process
// step that keeps the case's unit, status and scope, a report updated
// without a new call type) writes no page of the index bucket: bbolt
// copies the leaf of every key put, the same or not, and the branch pages
// above it, so putting the unchanged entries again cost a process step a
// dozen pages on a loaded database.
func TestUnchangedEntriesWriteNoPage(t *testing.T) {
	ctx := context.Background()
	s := open(t, filepath.Join(t.TempDir(), "childcase.db"))
	unit := units.Key{Code: "00004", ValidFrom: vntime.Date{Year: 2025, Month: time.July, Day: 1}}
	when := time.Date(2026, time.March, 16, 9, 0, 0, 0, time.UTC)
	// Enough cases that the index bucket has pages of its own (a small
	// bucket lives inline in its parent's page).
	var last model.Case
	var lastReport model.StoredReport
	for i := range 40 {
		id, err := uuid.NewV7()
		if err != nil {
			t.Fatal(err)
		}
		r := model.StoredReport{ID: id.String(), CallType: model.CallIntervention, IncidentUnit: unit, ReceiveTime: when, TakenBy: "lan.nguyen",
			CaseNumber: fmt.Sprintf("HN-2026-%05d", i+1), Private: model.Sealed{KeyID: "dk-1", Data: []byte{1}}}
		c := model.Case{Number: r.CaseNumber, Status: model.StatusAwaitingAcknowledgement, ResponsibleUnit: unit,
			ReportIDs: []string{r.ID}, CreateTime: when, Revision: 1}
		err = s.Update(ctx, func(tx datastore.Tx) error {
			if err := tx.CreateCase(&c); err != nil {
				return err
			}
			return tx.CreateReport(r)
		})
		if err != nil {
			t.Fatal(err)
		}
		last, lastReport = c, r
	}
	roots := func() (index, cases, reports uint64) {
		t.Helper()
		err := s.View(ctx, func(tx datastore.ReadTx) error {
			index, cases, reports = boltstore.BucketRoot(tx, "index"), boltstore.BucketRoot(tx, "cases"), boltstore.BucketRoot(tx, "reports")
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		return index, cases, reports
	}
	index, cases, reports := roots()
	if index == 0 {
		t.Fatal("the index bucket is inline: the test needs more cases")
	}
	last.Revision++
	err := s.Update(ctx, func(tx datastore.Tx) error {
		if err := tx.UpdateCase(last); err != nil {
			return err
		}
		return tx.UpdateReport(lastReport)
	})
	if err != nil {
		t.Fatal(err)
	}
	afterIndex, afterCases, afterReports := roots()
	if afterCases == cases || afterReports == reports {
		t.Fatalf("the update wrote no page of cases (root %d, %d) or reports (root %d, %d)", cases, afterCases, reports, afterReports)
	}
	if afterIndex != index {
		t.Errorf("the index bucket's root moved from page %d to %d: its unchanged entries were written again", index, afterIndex)
	}

	// A change of status still moves the case's entries.
	last.Revision++
	last.Status = model.StatusClosed
	if err := s.Update(ctx, func(tx datastore.Tx) error { return tx.UpdateCase(last) }); err != nil {
		t.Fatal(err)
	}
	if moved, _, _ := roots(); moved == afterIndex {
		t.Error("a change of status wrote no page of the index bucket")
	}
	err = s.View(ctx, func(tx datastore.ReadTx) error {
		got, _, err := tx.ListCases(datastore.CaseQuery{Status: model.StatusClosed, Limit: 10})
		if err != nil {
			return err
		}
		if len(got) != 1 || got[0].Number != last.Number {
			t.Errorf("closed cases %v, want %s alone", got, last.Number)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
