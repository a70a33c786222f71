package boltstore_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"

	"github.com/childcase/childcase/internal/domain/datastore"
	"github.com/childcase/childcase/internal/domain/model"
	"github.com/childcase/childcase/internal/domain/units"
	"github.com/childcase/childcase/internal/domain/vntime"
	"github.com/childcase/childcase/internal/storage/boltstore"
	"github.com/childcase/childcase/internal/storage/storagetest"
)

func TestConformance(t *testing.T) {
	storagetest.RunAll(t, func(t *testing.T) datastore.Store {
		return open(t, filepath.Join(t.TempDir(), "childcase.db"))
	})
}

// open opens a store for the test and closes it when the test ends.
func open(t *testing.T, path string) *boltstore.Store {
	t.Helper()
	s, err := boltstore.Open(path, boltstore.Options{NoSync: true})
	if err != nil {
		t.Fatalf("Open(%s): %v", path, err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil && !errors.Is(err, berrors.ErrDatabaseNotOpen) {
			t.Errorf("Close: %v", err)
		}
	})
	return s
}

func TestReopenKeepsData(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "childcase.db")
	if _, err := os.Stat(path); err == nil {
		t.Fatalf("%s exists before Open", path)
	}
	s, err := boltstore.Open(path, boltstore.Options{})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	if _, err := os.Stat(path); err != nil {
		t.Errorf("Open did not create %s: %v", path, err)
	}

	id, err := uuid.NewV7()
	if err != nil {
		t.Fatal(err)
	}
	unit := units.Key{Code: "00004", ValidFrom: vntime.Date{Year: 2025, Month: time.July, Day: 1}}
	when := time.Date(2026, time.March, 14, 2, 26, 53, 123456789, time.UTC)
	r := model.StoredReport{
		ID: id.String(), CallType: model.CallIntervention, IncidentUnit: unit, ReceiveTime: when, TakenBy: "lan.nguyen",
		Private: model.Sealed{KeyID: "dk-1", Data: []byte{0, 1, 0xff}},
	}
	c := model.Case{Number: "HN-2026-00001", Status: model.StatusAwaitingAcknowledgement, ResponsibleUnit: unit, ReportIDs: []string{r.ID}, CreateTime: when, Revision: 1}
	idem := model.IdempotencyRecord{Key: "CreateReport/abc", Fingerprint: []byte{1, 2, 3}, Resource: r.ID, CreateTime: when}
	err = s.Update(ctx, func(tx datastore.Tx) error {
		if err := tx.CreateReport(r); err != nil {
			return err
		}
		if _, err := tx.NextCaseSequence(2026); err != nil {
			return err
		}
		if err := tx.CreateCase(&c); err != nil {
			return err
		}
		return tx.PutIdempotency(idem)
	})
	if err != nil {
		t.Fatalf("Update: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}

	s = open(t, path)
	err = s.View(ctx, func(tx datastore.ReadTx) error {
		got, err := tx.Report(r.ID)
		if err != nil {
			return err
		}
		if !bytes.Equal(got.Private.Data, r.Private.Data) || got.IncidentUnit != unit || !got.ReceiveTime.Equal(when) {
			t.Errorf("reopened report = %+v, want %+v", got, r)
		}
		gc, err := tx.CaseByNumber(c.Number)
		if err != nil {
			return err
		}
		if gc.ID != c.ID || gc.ResponsibleUnit != unit || gc.Revision != 1 || len(gc.ReportIDs) != 1 {
			t.Errorf("reopened case = %+v, want %+v", gc, c)
		}
		byUnit, _, err := tx.ListCases(datastore.CaseQuery{ResponsibleUnit: unit, Limit: 10})
		if err != nil {
			return err
		}
		if len(byUnit) != 1 || byUnit[0].Number != c.Number {
			t.Errorf("reopened ListCases(unit) = %+v, want [%s]", byUnit, c.Number)
		}
		gi, err := tx.Idempotency(idem.Key)
		if err != nil {
			return err
		}
		if gi.Resource != r.ID || !bytes.Equal(gi.Fingerprint, idem.Fingerprint) {
			t.Errorf("reopened idempotency record = %+v, want %+v", gi, idem)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("View after reopen: %v", err)
	}
	// Sequences and case ids carry on where they were.
	err = s.Update(ctx, func(tx datastore.Tx) error {
		n, err := tx.NextCaseSequence(2026)
		if err != nil {
			return err
		}
		if n != 2 {
			t.Errorf("NextCaseSequence(2026) after reopen = %d, want 2", n)
		}
		c2 := model.Case{Number: "HN-2026-00002", ResponsibleUnit: unit, Revision: 1}
		if err := tx.CreateCase(&c2); err != nil {
			return err
		}
		if c2.ID == c.ID || c2.ID == 0 {
			t.Errorf("CreateCase after reopen assigned ID %d; the first case has %d", c2.ID, c.ID)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("Update after reopen: %v", err)
	}
}

// writeSchemaVersion sets the schema version of a closed database file
// directly.
func writeSchemaVersion(t *testing.T, path string, v uint32) {
	t.Helper()
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	err = db.Update(func(tx *bolt.Tx) error {
		b, err := tx.CreateBucketIfNotExists([]byte("meta"))
		if err != nil {
			return err
		}
		if v < 6 && tx.Bucket([]byte("index")) != nil {
			if err := boltstore.SplitIndexes(tx); err != nil {
				return err
			}
		}
		return b.Put([]byte("schema_version"), binary.BigEndian.AppendUint32(nil, v))
	})
	if err != nil {
		t.Fatal(err)
	}
}

func readSchemaVersion(t *testing.T, path string) []byte {
	t.Helper()
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: time.Second, ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var v []byte
	err = db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket([]byte("meta"))
		if b == nil {
			return errors.New("no meta bucket")
		}
		v = bytes.Clone(b.Get([]byte("schema_version")))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func TestOpenWritesSchemaVersion(t *testing.T) {
	path := filepath.Join(t.TempDir(), "childcase.db")
	s := open(t, path)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	want := binary.BigEndian.AppendUint32(nil, boltstore.SchemaVersion)
	if got := readSchemaVersion(t, path); !bytes.Equal(got, want) {
		t.Errorf("schema_version of a new file = %x, want %x", got, want)
	}
}

func TestOpenRefusesNewerSchema(t *testing.T) {
	path := filepath.Join(t.TempDir(), "childcase.db")
	// A real file of this version, then bumped as a newer binary would.
	s := open(t, path)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	newer := uint32(boltstore.SchemaVersion + 1)
	writeSchemaVersion(t, path, newer)

	s, err := boltstore.Open(path, boltstore.Options{Timeout: 100 * time.Millisecond})
	if err == nil {
		s.Close()
		t.Fatal("Open of a file with a newer schema succeeded")
	}
	if !errors.Is(err, datastore.ErrSchemaTooNew) {
		t.Errorf("Open error = %v, want errors.Is(err, datastore.ErrSchemaTooNew)", err)
	}
	// The message names both versions (the path is removed first so its
	// digits cannot match).
	msg := strings.ReplaceAll(err.Error(), path, "PATH")
	for _, v := range []uint32{newer, boltstore.SchemaVersion} {
		if !regexp.MustCompile(fmt.Sprintf(`\b%d\b`, v)).MatchString(msg) {
			t.Errorf("Open error %q does not name version %d", msg, v)
		}
	}
	// Refusing did not touch the file, and the lock was released.
	if got, want := readSchemaVersion(t, path), binary.BigEndian.AppendUint32(nil, newer); !bytes.Equal(got, want) {
		t.Errorf("schema_version after the refused Open = %x, want %x", got, want)
	}
}

func TestOpenRefusesDamagedSchemaVersion(t *testing.T) {
	path := filepath.Join(t.TempDir(), "childcase.db")
	s := open(t, path)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		return tx.Bucket([]byte("meta")).Put([]byte("schema_version"), []byte{1})
	})
	db.Close()
	if err != nil {
		t.Fatal(err)
	}
	if s, err := boltstore.Open(path, boltstore.Options{}); err == nil {
		s.Close()
		t.Fatal("Open of a file with a damaged schema version succeeded")
	}
}

// layoutBuckets are the buckets of schema version 6, as documented at the
// top of boltstore.go, and layoutIndexes the indexes in its bucket index.
var (
	layoutBuckets = []string{
		"audit", "case_events", "case_numbers", "case_sequences", "cases",
		"cursors", "data_keys", "data_keys_by_master", "idempotency", "idempotency_by_time", "index", "meta", "outbox", "police_units",
		"reports", "search_by_case", "search_pending", "search_tokens", "stats", "tokens", "users",
	}
	layoutIndexes = []string{
		"audit_by_actor", "audit_by_case", "case_queue", "case_scope", "cases_by_status", "cases_by_unit",
		"report_scope", "reports_by_call_type", "reports_by_taker", "timers", "tokens_by_user",
	}
)

func TestOpenCreatesEveryBucket(t *testing.T) {
	path := filepath.Join(t.TempDir(), "childcase.db")
	s := open(t, path)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	var names []string
	rawView(t, path, func(tx *bolt.Tx) error {
		return tx.ForEach(func(name []byte, _ *bolt.Bucket) error {
			names = append(names, string(name))
			return nil
		})
	})
	if !slices.Equal(names, layoutBuckets) {
		t.Errorf("buckets of a new file = %v, want %v", names, layoutBuckets)
	}
}

func TestOpenRefusesMissingBucket(t *testing.T) {
	for _, name := range layoutBuckets {
		if name == "meta" {
			continue // without meta the file is not a childcase one
		}
		if name == "data_keys_by_master" {
			continue // rebuilt (TestOpenBuildsMissingDataKeyIndex)
		}
		if name == "search_by_case" || name == "search_tokens" || name == "search_pending" {
			continue // created empty, and filled by the search service (TestGoldenFilesOpen)
		}
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "childcase.db")
			s := open(t, path)
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			rawUpdate(t, path, func(tx *bolt.Tx) error { return tx.DeleteBucket([]byte(name)) })
			s, err := boltstore.Open(path, boltstore.Options{})
			if err == nil {
				s.Close()
				t.Fatal("Open of a file missing a bucket succeeded")
			}
			if !strings.Contains(err.Error(), name) {
				t.Errorf("Open error %q does not name the missing bucket", err)
			}
		})
	}
}

// rawUpdate changes a closed database file directly, as an intruder or a
// broken tool would.
func rawUpdate(t *testing.T, path string, fn func(tx *bolt.Tx) error) {
	t.Helper()
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.Update(fn); err != nil {
		t.Fatal(err)
	}
}

// rawView reads a closed database file directly.
func rawView(t *testing.T, path string, fn func(tx *bolt.Tx) error) {
	t.Helper()
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: time.Second, ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.View(fn); err != nil {
		t.Fatal(err)
	}
}

func TestOpenRefusesForeignBoltFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "other.db")
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		b, err := tx.CreateBucket([]byte("sessions"))
		if err != nil {
			return err
		}
		return b.Put([]byte("k"), []byte("v"))
	})
	db.Close()
	if err != nil {
		t.Fatal(err)
	}

	s, err := boltstore.Open(path, boltstore.Options{Timeout: 100 * time.Millisecond})
	if err == nil {
		s.Close()
		t.Fatal("Open of a foreign bbolt file succeeded")
	}
	if !strings.Contains(err.Error(), path) {
		t.Errorf("Open error %q does not name the file", err)
	}
	// The foreign file was left alone: no childcase bucket was created.
	db, err = bolt.Open(path, 0o600, &bolt.Options{Timeout: time.Second, ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	err = db.View(func(tx *bolt.Tx) error {
		var names []string
		if err := tx.ForEach(func(name []byte, _ *bolt.Bucket) error {
			names = append(names, string(name))
			return nil
		}); err != nil {
			return err
		}
		if len(names) != 1 || names[0] != "sessions" {
			t.Errorf("buckets after the refused Open = %v, want [sessions]", names)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestOpenWhileOpenTimesOut(t *testing.T) {
	path := filepath.Join(t.TempDir(), "childcase.db")
	first := open(t, path)

	const timeout = 100 * time.Millisecond
	start := time.Now()
	s, err := boltstore.Open(path, boltstore.Options{Timeout: timeout})
	elapsed := time.Since(start)
	if err == nil {
		s.Close()
		t.Fatal("a second Open of a file in use succeeded")
	}
	// bbolt polls the lock every 50ms and gives up within the timeout; allow
	// generous slack for a loaded machine, but not the default one second.
	if elapsed > 8*timeout {
		t.Errorf("second Open took %v with a %v timeout", elapsed, timeout)
	}
	t.Logf("second Open failed after %v", elapsed)
	if !strings.Contains(err.Error(), "in use") || !strings.Contains(err.Error(), path) {
		t.Errorf("Open error %q should say that the file %s is in use", err, path)
	}

	// The first store is unharmed, and once it is closed the file opens.
	if err := first.View(context.Background(), func(datastore.ReadTx) error { return nil }); err != nil {
		t.Errorf("View on the first store: %v", err)
	}
	if err := first.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	open(t, path)
}

func TestOpenRefusesGarbage(t *testing.T) {
	for _, tt := range []struct {
		name string
		data []byte
	}{
		{"short text", []byte("this is not a database\n")},
		{"text over a page", bytes.Repeat([]byte("not a database. "), 2048)},
		{"zeros", make([]byte, 64<<10)},
		{"sqlite header", append([]byte("SQLite format 3\x00"), make([]byte, 8192)...)},
	} {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "childcase.db")
			if err := os.WriteFile(path, tt.data, 0o600); err != nil {
				t.Fatal(err)
			}
			s, err := boltstore.Open(path, boltstore.Options{Timeout: 100 * time.Millisecond})
			if err == nil {
				s.Close()
				t.Fatal("Open of a garbage file succeeded")
			}
			if !strings.Contains(err.Error(), path) {
				t.Errorf("Open error %q does not name the file", err)
			}
			got, rerr := os.ReadFile(path)
			if rerr != nil {
				t.Fatal(rerr)
			}
			if !bytes.Equal(got, tt.data) {
				t.Errorf("the refused Open changed the file (%d bytes, was %d)", len(got), len(tt.data))
			}
		})
	}
}

// A database file that group or others may read gives away what the
// store keeps in the clear (the audit log's who-did-what, the cases'
// units, statuses and dates, the users): bbolt creates the file 0600, but
// one put in place by cp or an editor under umask 022 is 0644. Opening it
// for writing makes it the service user's alone again.
func TestOpenMakesTheDatabaseFilePrivate(t *testing.T) {
	path := filepath.Join(t.TempDir(), "childcase.db")
	s, err := boltstore.Open(path, boltstore.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	for _, mode := range []os.FileMode{0o644, 0o640, 0o604, 0o666} {
		if err := os.Chmod(path, mode); err != nil {
			t.Fatal(err)
		}
		s := open(t, path)
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if got := fi.Mode().Perm(); got != 0o600 {
			t.Errorf("a database file of mode %o is %o once opened, want 600", mode, got)
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
	}
}

// TestOpenNamesTheFileOnce: a file bbolt cannot open (its folder missing,
// or one its user cannot write in) was refused as "open X: open X:
// permission denied", the path twice, as bbolt's own error names it too;
// the refusal names it once, and is still the file system's error.
func TestOpenNamesTheFileOnce(t *testing.T) {
	path := filepath.Join(t.TempDir(), "none", "childcase.db")
	_, err := boltstore.Open(path, boltstore.Options{NoSync: true})
	if err == nil {
		t.Fatalf("Open(%s) in a folder that does not exist: no error", path)
	}
	if n := strings.Count(err.Error(), path); n != 1 || !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Open(%s) in a folder that does not exist: %q names the file %d times (want once) and is ErrNotExist: %v",
			path, err, n, errors.Is(err, fs.ErrNotExist))
	}
}
