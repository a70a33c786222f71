package boltstore_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/childcase/childcase/internal/domain/access"
	"github.com/childcase/childcase/internal/domain/datastore"
	"github.com/childcase/childcase/internal/domain/model"
	"github.com/childcase/childcase/internal/domain/units"
	"github.com/childcase/childcase/internal/domain/vntime"
	"github.com/childcase/childcase/internal/keys"
	"github.com/childcase/childcase/internal/storage/boltstore"
	"github.com/childcase/childcase/internal/storage/storekey"
)

// A file of schema version 1 (no index of idempotency records by time) is
// migrated when opened: every record it holds gets its entry, so the
// retention sweep finds the records written before the upgrade too.
func TestOpenMigratesVersion1IdempotencyIndex(t *testing.T) {
	path := filepath.Join(t.TempDir(), "childcase.db")
	old := ckT0.Add(-40 * 24 * time.Hour)
	recent := ckT0.Add(-time.Hour)
	putIdempotency(t, path,
		model.IdempotencyRecord{Key: "u:CreateReport:old", Resource: "r1", CreateTime: old},
		model.IdempotencyRecord{Key: "u:CreateReport:recent", Resource: "r2", CreateTime: recent},
	)
	// Turn it into what version 1 wrote.
	rawUpdate(t, path, func(tx *bolt.Tx) error {
		if err := boltstore.SplitIndexes(tx); err != nil {
			return err
		}
		if err := tx.DeleteBucket([]byte("idempotency_by_time")); err != nil {
			return err
		}
		return tx.Bucket([]byte("meta")).Put([]byte("schema_version"), binary.BigEndian.AppendUint32(nil, 1))
	})

	// A version 1 file can still be read as it is (backups, check).
	ro, err := boltstore.OpenReadOnly(path, boltstore.Options{})
	if err != nil {
		t.Fatalf("OpenReadOnly of a version 1 file: %v", err)
	}
	err = ro.View(context.Background(), func(tx datastore.ReadTx) error {
		_, err := tx.Idempotency("u:CreateReport:old")
		return err
	})
	if err != nil {
		t.Errorf("reading a version 1 file: %v", err)
	}
	ro.Close()

	s := open(t, path)
	var n int
	err = s.Update(context.Background(), func(tx datastore.Tx) error {
		var err error
		n, err = tx.DeleteIdempotencyBefore(ckT0.Add(-30*24*time.Hour), 100)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if n != 1 {
		t.Errorf("DeleteIdempotencyBefore after the migration = %d, want 1 (the migrated index lacks the old record)", n)
	}
	err = s.View(context.Background(), func(tx datastore.ReadTx) error {
		if _, err := tx.Idempotency("u:CreateReport:old"); !errors.Is(err, model.ErrNotFound) {
			t.Errorf("the old record: error = %v, want ErrNotFound", err)
		}
		_, err := tx.Idempotency("u:CreateReport:recent")
		return err
	})
	if err != nil {
		t.Errorf("the recent record: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	want := binary.BigEndian.AppendUint32(nil, boltstore.SchemaVersion)
	if got := readSchemaVersion(t, path); !bytes.Equal(got, want) {
		t.Errorf("schema_version after the migration = %x, want %x", got, want)
	}
	if res := mustCheck(t, path); !res.OK() {
		t.Errorf("the migrated file does not check:\n%s", problemList(res))
	}
}

// A file of schema version 2 remembered whole cases, their free text in the
// clear, as the answers of case steps. The migration to version 3 drops
// those records (storage holds no key to seal them) and keeps every other.
func TestOpenMigratesVersion2DropsClearCaseAnswers(t *testing.T) {
	path := filepath.Join(t.TempDir(), "childcase.db")
	recs := []model.IdempotencyRecord{
		{Key: "hoa.le:case.proposeTransfer:t-1", Resource: "HN-2026-00001", Result: []byte(`{"Transfers":[{"Reason":"clear"}]}`), CreateTime: ckT0},
		{Key: "hoa.le:case.addNote:n-1", Resource: "HN-2026-00001", CreateTime: ckT0},
		{Key: "admin:CreateUser:u-1", Resource: "users/lan", Result: []byte(`{"User":{}}`), CreateTime: ckT0},
		{Key: "hoa.le:CreateReport:r-1", Resource: "r1", CreateTime: ckT0},
	}
	putIdempotency(t, path, recs...)
	writeSchemaVersion(t, path, 2)

	s := open(t, path)
	err := s.View(context.Background(), func(tx datastore.ReadTx) error {
		for i, r := range recs {
			_, err := tx.Idempotency(r.Key)
			if i == 0 && !errors.Is(err, model.ErrNotFound) {
				t.Errorf("%s after the migration: error %v, want ErrNotFound", r.Key, err)
			}
			if i > 0 && err != nil {
				t.Errorf("%s after the migration: %v", r.Key, err)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	wantMigrated(t, s, path, "the index must lose the entry too")
}

// putIdempotency stores recs in a new database at path and closes it.
func putIdempotency(t *testing.T, path string, recs ...model.IdempotencyRecord) {
	t.Helper()
	s := open(t, path)
	err := s.Update(context.Background(), func(tx datastore.Tx) error {
		for _, r := range recs {
			if err := tx.PutIdempotency(r); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
}

// A file of schema version 3 has no case scope or queue index. Opening it
// builds both from every case in the opening transaction: the lists that
// read them find the cases written before the upgrade, and the file
// checks clean.
func TestOpenMigratesVersion3BuildsCaseIndexes(t *testing.T) {
	path := filepath.Join(t.TempDir(), "childcase.db")
	f := writeHealthy(t, path)
	unit := "units/00004@2025-07-01"
	rawUpdate(t, path, func(tx *bolt.Tx) error {
		if err := boltstore.SplitIndexes(tx); err != nil {
			return err
		}
		for _, name := range []string{"case_scope", "case_queue", "report_scope"} {
			if err := tx.DeleteBucket([]byte(name)); err != nil {
				return err
			}
		}
		return tx.Bucket([]byte("meta")).Put([]byte("schema_version"), binary.BigEndian.AppendUint32(nil, 3))
	})
	if res := mustCheck(t, path); res.OK() {
		t.Fatal("the version 3 file checks clean before the migration: the test would prove nothing")
	}

	s := open(t, path)
	err := s.View(context.Background(), func(tx datastore.ReadTx) error {
		inScope, _, err := tx.ListCases(datastore.CaseQuery{Scopes: []string{"incident:" + unit}, Limit: 10})
		if err != nil {
			return fmt.Errorf("ListCases in scope: %w", err)
		}
		if len(inScope) != 1 || inScope[0].ID != f.caseID {
			t.Errorf("ListCases in the scope of its commune = %v, want case id %d", inScope, f.caseID)
		}
		queued, _, err := tx.ListQueue(datastore.QueueQuery{Queue: access.QueueMyUnitOpen, Keys: []string{unit}, Limit: 10})
		if err != nil {
			return fmt.Errorf("ListQueue: %w", err)
		}
		if len(queued) != 1 || queued[0].ID != f.caseID {
			t.Errorf("ListQueue(my unit open) of its commune = %v, want case id %d", queued, f.caseID)
		}
		// The report of the case, through its case's scope; the loose
		// report (no case, no taker) is in no scope.
		reports, _, err := tx.ListReports(datastore.ReportQuery{Scopes: []string{"incident:" + unit, "taker:nobody"}, Limit: 10})
		if err != nil {
			return fmt.Errorf("ListReports in scope: %w", err)
		}
		if len(reports) != 1 || reports[0].ID != f.report.String() {
			t.Errorf("ListReports in the scope of its case's commune = %v, want report %s", reports, f.report)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	wantMigrated(t, s, path, "every case must have its entries")
}

// wantMigrated closes s and checks that the file at path has the current
// schema version and checks clean; why says what a problem would mean.
func wantMigrated(t *testing.T, s *boltstore.Store, path, why string) {
	t.Helper()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if got, want := readSchemaVersion(t, path), binary.BigEndian.AppendUint32(nil, boltstore.SchemaVersion); !bytes.Equal(got, want) {
		t.Errorf("schema_version after the migration = %x, want %x", got, want)
	}
	if res := mustCheck(t, path); !res.OK() {
		t.Errorf("the migrated file does not check (%s):\n%s", why, problemList(res))
	}
}

// A file written before data_keys_by_master existed gets it at open, with
// an entry for every data key, and the check of the master key at start
// (DataKeyPerMaster) sees every master; a read-only open answers the same
// without it.
func TestOpenBuildsMissingDataKeyIndex(t *testing.T) {
	path := filepath.Join(t.TempDir(), "childcase.db")
	writeHealthy(t, path)
	s := open(t, path)
	err := s.Update(context.Background(), func(tx datastore.Tx) error {
		return tx.PutDataKey("reports/rotated", keys.WrappedKey{MasterID: "mk2", Sealed: []byte{4}})
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	perMaster := func(s *boltstore.Store) []string {
		t.Helper()
		var got []string
		err := s.View(context.Background(), func(tx datastore.ReadTx) error {
			ks, err := tx.DataKeyPerMaster()
			for _, k := range ks {
				got = append(got, k.Wrapped.MasterID+":"+k.ID)
			}
			return err
		})
		if err != nil {
			t.Fatalf("DataKeyPerMaster: %v", err)
		}
		return got
	}
	want := []string{"mk1:cases/" + ckCase, "mk2:reports/rotated"}
	rawUpdate(t, path, func(tx *bolt.Tx) error { return tx.DeleteBucket([]byte("data_keys_by_master")) })
	if res := mustCheck(t, path); !res.OK() {
		t.Errorf("Check of a file without the index (not yet opened by this version):\n%s", problemList(res))
	}

	ro, err := boltstore.OpenReadOnly(path, boltstore.Options{})
	if err != nil {
		t.Fatalf("OpenReadOnly of a file without the index: %v", err)
	}
	if got := perMaster(ro); !slices.Equal(got, want) {
		t.Errorf("DataKeyPerMaster without the index = %v, want %v", got, want)
	}
	ro.Close()

	s = open(t, path)
	if got := perMaster(s); !slices.Equal(got, want) {
		t.Errorf("DataKeyPerMaster after the open built the index = %v, want %v", got, want)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	var entries int
	rawView(t, path, func(tx *bolt.Tx) error {
		entries = tx.Bucket([]byte("data_keys_by_master")).Stats().KeyN
		return nil
	})
	if entries != 4 {
		t.Errorf("data_keys_by_master has %d entries after the open, want 4 (one per data key)", entries)
	}
	if res := mustCheck(t, path); !res.OK() {
		t.Errorf("Check after the open built the index:\n%s", problemList(res))
	}
}

// Since 5265f1e (within schema version 10) a case keeps the police units
// its police clocks escalated to (PoliceAlerted), and its scope and queue
// indexes follow, so that the city police see it. A case escalated before
// has neither: here one whose ward police let POLICE_ACKNOWLEDGE run out,
// escalated to the city police, written as the code before that commit
// wrote it (PoliceAlerted and the entries it gives taken away, schema
// version 9); beside it a case whose only escalation went to the city,
// not to the police. Check finds that file consistent but for its older
// version. The open's migration to version 10 alerts the city police on
// the first case only: they list it through the scope index, and Check is
// clean.
func TestMigrationTo10AlertsThePoliceAClockEscalatedTo(t *testing.T) {
	const wardPolice, cityPolice = "policeUnits/ca-ba-dinh", "policeUnits/ca-ha-noi"
	path := filepath.Join(t.TempDir(), "childcase.db")
	unit := units.Key{Code: "00004", ValidFrom: vntime.Date{Year: 2025, Month: time.July, Day: 1}}
	breach := ckT0.Add(25 * time.Hour)
	police := model.Case{Number: "HN-2026-00001", Status: model.StatusAwaitingAcknowledgement, ResponsibleUnit: unit, IncidentUnit: unit,
		Handlers: []units.Key{unit}, Revision: 3,
		PoliceReferrals: []model.PoliceReferral{{PoliceUnit: wardPolice, ReferTime: ckT0, State: "ACKNOWLEDGED", AcknowledgeTime: breach}},
		Deadlines: []model.Deadline{{ID: 1, Kind: model.DeadlinePoliceAcknowledge, Ref: wardPolice, Unit: wardPolice, Start: ckT0,
			Due: ckT0.Add(24 * time.Hour), State: model.DeadlineMissed, Breached: true, DoneTime: breach, MinutesLate: 60,
			Escalations: []model.Escalation{{Time: ckT0.Add(24 * time.Hour), To: cityPolice}}}},
		PoliceAlerted: []string{cityPolice}, // as the scheduler keeps it since 5265f1e
	}
	social := model.Case{Number: "HN-2026-00002", Status: model.StatusAwaitingAcknowledgement, ResponsibleUnit: unit, IncidentUnit: unit,
		Handlers: []units.Key{unit}, Revision: 2,
		Deadlines: []model.Deadline{{ID: 1, Kind: model.DeadlineAcknowledge, Unit: "units/00004@2025-07-01", Start: ckT0,
			Due: ckT0.Add(24 * time.Hour), State: model.DeadlineMissed, Breached: true, DoneTime: breach, MinutesLate: 60,
			Escalations: []model.Escalation{{Time: ckT0.Add(24 * time.Hour), To: "units/01@2020-01-01"}}}},
	}
	s := open(t, path)
	err := s.Update(context.Background(), func(tx datastore.Tx) error {
		for _, c := range []*model.Case{&police, &social} {
			if _, err := tx.NextCaseSequence(2026); err != nil {
				return err
			}
			if err := tx.CreateCase(c); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	// What the code before 5265f1e wrote: no PoliceAlerted, and no entry
	// that gives.
	rawUpdate(t, path, func(btx *bolt.Tx) error {
		key := binary.BigEndian.AppendUint64(nil, police.ID)
		before := police
		before.PoliceAlerted = nil
		raw, err := boltstore.EncodeRecord(before)
		if err != nil {
			return err
		}
		if err := btx.Bucket([]byte("cases")).Put(key, raw); err != nil {
			return err
		}
		for _, ix := range []string{"case_scope", "case_queue"} {
			now, err := indexKeys(police, ix)
			if err != nil {
				return err
			}
			old, err := indexKeys(before, ix)
			if err != nil {
				return err
			}
			for _, k := range now {
				if !slices.ContainsFunc(old, func(o []byte) bool { return bytes.Equal(o, k) }) {
					if err := boltstore.RawKeys(btx, ix).Delete(k); err != nil {
						return err
					}
				}
			}
		}
		return btx.Bucket([]byte("meta")).Put([]byte("schema_version"), binary.BigEndian.AppendUint32(nil, 9))
	})
	for _, p := range mustCheck(t, path).Problems {
		if p.Bucket != "meta" || !strings.Contains(p.What, "version 9 is older") {
			t.Errorf("Check of the version 9 file: %s %s: %s; want only its older version", p.Bucket, p.Key, p.What)
		}
	}

	s = open(t, path)
	err = s.View(context.Background(), func(tx datastore.ReadTx) error {
		for _, want := range []struct {
			number   string
			alerted  []string
			revision uint64
		}{{police.Number, []string{cityPolice}, police.Revision}, {social.Number, nil, social.Revision}} {
			c, err := tx.CaseByNumber(want.number)
			if err != nil {
				return err
			}
			// A migration is no step of the case: its etag stays valid.
			if !slices.Equal(c.PoliceAlerted, want.alerted) || c.Revision != want.revision {
				t.Errorf("%s after the migration: alerted %v, revision %d; want %v and %d", c.Number, c.PoliceAlerted, c.Revision, want.alerted, want.revision)
			}
		}
		// The scope key of the city police's liaisons (access.Policy.Scope).
		listed, _, err := tx.ListCases(datastore.CaseQuery{Scopes: []string{"police:" + cityPolice}, Limit: 10})
		if err != nil {
			return err
		}
		if len(listed) != 1 || listed[0].Number != police.Number {
			t.Errorf("the city police list %d cases, want %s only", len(listed), police.Number)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if res := mustCheck(t, path); !res.OK() {
		t.Errorf("Check after the migration: %v", res.Problems)
	}
}

// indexKeys are the entries of c in the case index ix, case_scope or
// case_queue (storekey.CaseIndexKeys).
func indexKeys(c model.Case, ix string) ([][]byte, error) {
	scope, queue, err := storekey.CaseIndexKeys(c)
	if ix == "case_scope" {
		return scope, err
	}
	return queue, err
}
