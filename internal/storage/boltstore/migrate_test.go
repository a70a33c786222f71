package boltstore_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/childcase/childcase/internal/domain/access"
	"github.com/childcase/childcase/internal/domain/datastore"
	"github.com/childcase/childcase/internal/domain/model"
	"github.com/childcase/childcase/internal/keys"
	"github.com/childcase/childcase/internal/storage/boltstore"
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
