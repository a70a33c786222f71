package boltstore

import (
	"bytes"
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/childcase/childcase/internal/domain/audit"
	"github.com/childcase/childcase/internal/domain/datastore"
	"github.com/childcase/childcase/internal/domain/model"
	"github.com/childcase/childcase/internal/storage/boltstore/damagetest"
	"github.com/childcase/childcase/internal/storage/storagetest"
)

// TestDamagedPageFailsOnlyItsRequests damages one leaf page of the reports
// while the store is open, as a disk fault under a running server would:
// bbolt panics when a transaction reads that page, and the store answers
// that read, and a write that reaches the page, with an error wrapping
// model.ErrDamaged that names the file and childcase check; the process
// goes on, the write lock is free again, and the reports on other pages
// are read and written as before.
func TestDamagedPageFailsOnlyItsRequests(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "cc.db")
	s, err := Open(path, Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	newReport := func() model.StoredReport {
		id, err := uuid.NewV7()
		if err != nil {
			t.Fatal(err)
		}
		return model.StoredReport{ID: id.String(), CallType: model.CallIntervention, TakenBy: "lan.nguyen",
			Private: model.Sealed{KeyID: "dk-1", Data: bytes.Repeat([]byte{0xab}, 200)}}
	}
	for range 10 {
		err := s.Update(ctx, func(tx datastore.Tx) error {
			for range 30 {
				if err := tx.CreateReport(newReport()); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}

	leaves := damagetest.Leaves(t, path, string(bucketReports))
	if len(leaves) < 3 {
		t.Fatalf("the reports fill %d leaf pages, want at least 3", len(leaves))
	}
	// A page in the middle: new reports (UUIDv7, in time order) go to the
	// last one.
	bad, good := leaves[len(leaves)/2], leaves[0]
	damagedID, healthyID := uuid.UUID(bad.Keys[0]).String(), uuid.UUID(good.Keys[0]).String()
	damagetest.Garble(t, path, bad.ID)

	readReport := func(id string) error {
		return s.View(ctx, func(tx datastore.ReadTx) error {
			_, err := tx.Report(id)
			return err
		})
	}
	wantDamaged := func(what string, err error) {
		t.Helper()
		if !errors.Is(err, model.ErrDamaged) || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), "childcase check") {
			t.Errorf("%s: %v, want model.ErrDamaged naming %s and childcase check", what, err, path)
		}
	}
	wantDamaged("a read of a report on the damaged page", readReport(damagedID))
	if err := readReport(healthyID); err != nil {
		t.Errorf("a read of a report on a sound page: %v", err)
	}
	// A write that reaches the damaged page fails alone; bbolt rolled its
	// transaction back and released the write lock, so the next writes
	// commit.
	wantDamaged("an update of a report on the damaged page", s.Update(ctx, func(tx datastore.Tx) error {
		r, err := tx.Report(damagedID)
		if err != nil {
			return err
		}
		return tx.UpdateReport(r)
	}))
	// The writes that share a group commit with one that reaches the page
	// are committed without it: its failure ends the shared pass, and the
	// others run again together.
	queued := make([]model.StoredReport, 8)
	for i := range queued {
		queued[i] = newReport()
	}
	errs := storagetest.UpdatesBehindACommit(t, s, len(queued), func(tx datastore.Tx, i int) error {
		if i == 3 {
			_, err := tx.Report(damagedID)
			return err
		}
		return tx.CreateReport(queued[i])
	})
	for i, err := range errs {
		if i == 3 {
			wantDamaged("a read of the damaged page in a group commit", err)
		} else if err != nil {
			t.Errorf("a write in a group commit with a read of the damaged page: %v", err)
		} else if err := readReport(queued[i].ID); err != nil {
			t.Errorf("reading the report of a write in that group back: %v", err)
		}
	}
	fresh := newReport()
	if err := s.Update(ctx, func(tx datastore.Tx) error { return tx.CreateReport(fresh) }); err != nil {
		t.Errorf("a new report after the failed write: %v", err)
	}
	if err := readReport(fresh.ID); err != nil {
		t.Errorf("reading the new report back: %v", err)
	}
	ev := audit.Event{Action: "report.get", Actor: "lan.nguyen", Resource: "reports/" + healthyID, Outcome: audit.OutcomeOK}
	if err := s.Batch(ctx, func(tx datastore.Tx) error { _, err := tx.AppendAudit(ev); return err }); err != nil {
		t.Errorf("an audit event after the failed write: %v", err)
	}
	wantDamaged("the damaged report read again", readReport(damagedID))
}

// TestPanicsOutsideBboltStillPanic: only a panic bbolt raises is taken
// for damage; one in the caller's own function (a bug) goes on up, as
// before, to the server's recovery.
func TestPanicsOutsideBboltStillPanic(t *testing.T) {
	s, err := Open(filepath.Join(t.TempDir(), "cc.db"), Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for name, run := range map[string]func() error{
		"View": func() error {
			return s.View(context.Background(), func(datastore.ReadTx) error { panic("a bug") })
		},
		"Update": func() error {
			return s.Update(context.Background(), func(datastore.Tx) error { panic("a bug") })
		},
	} {
		got := func() (v any) {
			defer func() { v = recover() }()
			return run()
		}()
		if got != "a bug" {
			t.Errorf("%s with a function that panics: %v, want the panic \"a bug\"", name, got)
		}
	}
	// And the store goes on.
	if err := s.Update(context.Background(), func(tx datastore.Tx) error { return nil }); err != nil {
		t.Errorf("an update after the panics: %v", err)
	}
}
