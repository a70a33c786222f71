package app_test

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/childcase/childcase/internal/app"
	"github.com/childcase/childcase/internal/domain/access"
	"github.com/childcase/childcase/internal/domain/audit"
	"github.com/childcase/childcase/internal/domain/auditlog"
	"github.com/childcase/childcase/internal/domain/model"
	"github.com/childcase/childcase/internal/storage/boltstore"
)

// TestOfflineBackupOnAFullDiskTakesItsEventFromTheReserve: a backup --db
// of a stopped server's database on a full disk, the reserve file the
// server kept beside it whole, writes its audit event as a hot backup
// does, from the reserve, which is there for the events of reads; the
// copy goes to another disk. It opened the file without the reserve, so
// its event found no room and the backup said NOT AUDITED, while a hot
// backup of the same database was audited. An offline backup makes no
// reserve file where there is none.
func TestOfflineBackupOnAFullDiskTakesItsEventFromTheReserve(t *testing.T) {
	dir := smallDisk(t, 8<<20)
	db := filepath.Join(dir, "childcase.db")
	const reserve = 1 << 20
	s, err := boltstore.Open(db, boltstore.Options{Reserve: reserve})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	ballast := fillDisk(t, dir)
	fillFileOnFullDisk(t, db)

	cfg := app.DefaultConfig()
	cfg.DBPath = db
	dest := filepath.Join(t.TempDir(), "backup.db")
	var copied bytes.Buffer
	rec, err := app.BackupStore(t.Context(), cfg, time.Second, dest, &copied)
	if err != nil {
		t.Fatalf("backup --db on a full disk: %v", err)
	}
	if rec.Seq == 0 || rec.Unaudited != "" {
		t.Errorf("backup --db on a full disk with its reserve whole: %+v, want its event written", rec)
	}
	if copied.Len() == 0 {
		t.Error("backup --db on a full disk copied nothing")
	}

	// Without a reserve file, none is made.
	if err := os.Remove(ballast); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(db + ".reserve"); err != nil {
		t.Fatal(err)
	}
	copied.Reset()
	if _, err := app.BackupStore(t.Context(), cfg, time.Second, dest, &copied); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Lstat(db + ".reserve"); !os.IsNotExist(err) {
		t.Errorf("backup --db made a reserve file beside the database (%v)", err)
	}
}

// fillFileOnFullDisk appends audit events to the database at db, opened
// without its reserve, until the full disk refuses one: the file then
// has no free page left for another.
func fillFileOnFullDisk(t *testing.T, db string) {
	t.Helper()
	s, err := boltstore.Open(db, boltstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	log := auditlog.New(s)
	for range 1_000_000 {
		e := access.System("test").Event(time.Now(), "test.fill", "database", "", audit.OutcomeOK)
		if err := log.Record(t.Context(), e); err != nil {
			if !errors.Is(err, model.ErrFull) {
				t.Fatalf("an event on the full disk: %v, want the database full", err)
			}
			return
		}
	}
	t.Fatal("a million events fitted on the full disk")
}
