package app_test

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/childcase/childcase/internal/app"
	"github.com/childcase/childcase/internal/domain/clock"
	"github.com/childcase/childcase/internal/domain/datastore"
	"github.com/childcase/childcase/internal/storage/boltstore"
)

// TestStartIndexesAnOlderAuditLogByTime: a database written before the
// audit log's index by time (the schema-8 golden file) gets the entries
// of its events from a duty of the start, in the background, and the
// index is then complete in the file.
func TestStartIndexesAnOlderAuditLogByTime(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "childcase.db")
	for src, dst := range map[string]string{"schema8.bolt.golden": db, "schema8.masterkey.golden": db + ".key"} {
		raw, err := os.ReadFile(filepath.Join("..", "storage", "boltstore", "testdata", src))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(dst, raw, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	var logs logLines
	srv, err := app.Start(context.Background(), testConfig(t, db), app.Options{Clock: clock.NewFake(testNow),
		Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	const done = "the events written before its index by time have their entries"
	for deadline := time.Now().Add(time.Minute); !strings.Contains(logs.text(), done); {
		if time.Now().After(deadline) {
			_ = srv.Stop()
			t.Fatalf("no duty indexed the audit log by time in a minute; the log says:\n%s", logs.text())
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err := srv.Stop(); err != nil {
		t.Fatal(err)
	}
	s, err := boltstore.Open(db, boltstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	err = s.Update(t.Context(), func(tx datastore.Tx) error {
		n, done, err := tx.IndexAuditByTime(1)
		if err == nil && (n != 0 || !done) {
			t.Errorf("after the start's duty, IndexAuditByTime walked %d events, done %v; want a complete index", n, done)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}
