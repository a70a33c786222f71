package app_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"testing"

	pb "github.com/childcase/childcase/api/childcase/v1"
	"github.com/childcase/childcase/internal/app"
	"github.com/childcase/childcase/internal/cli"
	"github.com/childcase/childcase/internal/domain/audit"
	"github.com/childcase/childcase/internal/domain/clock"
	"github.com/childcase/childcase/internal/domain/datastore"
	"github.com/childcase/childcase/internal/storage/boltstore"
	"github.com/childcase/childcase/internal/storage/etcdstore/etcdtest"
)

// An upgrade rewrites what the database holds (re-encoded records,
// rebuilt indexes and counters, sealed text): the migration is on the
// record, as an event of its own by users/system in the transaction that
// migrates, naming the versions, and the chain still verifies after it.
// Opened again, the file migrates nothing and records nothing more.
func TestMigrationIsAudited(t *testing.T) {
	for version := 2; version < int(boltstore.SchemaVersion); version++ {
		t.Run(fmt.Sprintf("schema%d", version), func(t *testing.T) {
			db := filepath.Join(t.TempDir(), "childcase.db")
			copyGolden(t, version, db)
			// The odd schemas are migrated by the start, the even ones by
			// an offline command; then both open the file once more and
			// find nothing to migrate.
			openedBy := "start"
			if version%2 == 0 {
				openedBy = "users list"
				off, err := app.OpenOffline(db, openedBy, slog.New(slog.DiscardHandler), io.Discard)
				if err != nil {
					t.Fatal(err)
				}
				if err := off.Close(); err != nil {
					t.Fatal(err)
				}
			}
			for range 2 {
				srv, err := app.Start(context.Background(), testConfig(t, db), app.Options{Clock: clock.NewFake(testNow), Logger: slog.New(slog.DiscardHandler)})
				if err != nil {
					t.Fatal(err)
				}
				if err := srv.Stop(); err != nil {
					t.Fatal(err)
				}
			}
			res, err := boltstore.Check(context.Background(), db)
			if err != nil {
				t.Fatal(err)
			}
			for _, p := range res.Problems {
				t.Errorf("after the migration: %s", p)
			}
			var migrations []audit.Event
			s, err := boltstore.Open(db, boltstore.Options{})
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			if err := s.View(t.Context(), func(tx datastore.ReadTx) error {
				for e, err := range tx.AuditEvents(1) {
					if err != nil {
						return err
					}
					if e.Action == "database.migrate" {
						migrations = append(migrations, e)
					}
				}
				return nil
			}); err != nil {
				t.Fatal(err)
			}
			want := fmt.Sprintf("schema version %d to %d", version, boltstore.SchemaVersion)
			if len(migrations) != 1 || migrations[0].Actor != "system" || migrations[0].RequestID != openedBy ||
				migrations[0].Reason != want || migrations[0].Outcome != audit.OutcomeOK {
				t.Fatalf("migration events %+v, want one by system for %q, reason %q", migrations, openedBy, want)
			}
			if openedBy == "start" && !migrations[0].Time.Equal(testNow) {
				t.Errorf("the start's migration at %s, want the clock's %s", migrations[0].Time, testNow)
			}
		})
	}
}

// auditActions returns the actions of the events after seq in the file at
// db, as "action by actor for request_id", and the head seq.
func auditActions(t *testing.T, db string, after uint64) ([]string, uint64) {
	t.Helper()
	s, err := boltstore.Open(db, boltstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var out []string
	head := after
	if err := s.View(t.Context(), func(tx datastore.ReadTx) error {
		for e, err := range tx.AuditEvents(after + 1) {
			if err != nil {
				return err
			}
			out = append(out, e.Action+" by "+e.Actor+" for "+e.RequestID)
			head = e.Seq
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return out, head
}

// The offline commands, as the README's "Audit" says of them: those that
// change users, keys or counters are audited in the database they open,
// by users/system for the command, and so is a backup, which copies every
// child's data (database.backup, before the copy, so that the backup
// holds it); those that only read the file (check, audit verify) write
// nothing in it, and a restore puts the backup's log in place as it is.
func TestOfflineCommandsAudit(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "childcase.db")
	ts := startServer(t, db)
	if _, err := ts.reports().CreateReport(ts.as(t, operatorID), &pb.CreateReportRequest{Report: validReport()}); err != nil {
		t.Fatal(err)
	}
	ts.stop()
	backup := filepath.Join(dir, "backup.db")
	_, head := auditActions(t, db, 0)
	for _, step := range []struct {
		args []string
		want []string
	}{
		{[]string{"users", "add", "--db", db, "--id", "hoa.tran", "--name", "Trần Thị Hoa", "--role", "HOTLINE_OPERATOR", "--unit", "orgs/hotline-111"},
			[]string{"user.create by system for users add", "token.create by system for users add", "password_link.create by system for users add"}},
		{[]string{"users", "list", "--db", db},
			[]string{"user.list by system for users list"}},
		{[]string{"users", "revoke", "--db", db, "--id", "hoa.tran"},
			[]string{"user.disable by system for users revoke", "token.revoke by system for users revoke"}},
		{[]string{"keys", "rotate", "--db", db, "--key-file", db + ".key"},
			[]string{"keys.rotate by system for keys rotate"}},
		{[]string{"stats", "rebuild", "--db", db},
			[]string{"statistics.rebuild by system for stats rebuild"}},
		{[]string{"audit", "verify", "--db", db}, nil},
		{[]string{"check", "--db", db}, nil},
		{[]string{"backup", "--db", db, "--to", backup}, []string{"database.backup by system for backup"}},
	} {
		var out, errOut bytes.Buffer
		if code := cli.Main(context.Background(), step.args, &out, &errOut); code != 0 {
			t.Fatalf("%v: exit %d\n%s%s", step.args, code, out.String(), errOut.String())
		}
		var got []string
		got, head = auditActions(t, db, head)
		slices.Sort(got)
		got = slices.Compact(got)
		want := slices.Sorted(slices.Values(step.want))
		if !slices.Equal(got, want) {
			t.Errorf("%v audited %q, want %q", step.args[:2], got, want)
		}
	}
	// A restore puts the backup in place as it is: its log, nothing added.
	restored := filepath.Join(dir, "restored.db")
	var out, errOut bytes.Buffer
	if code := cli.Main(context.Background(), []string{"restore", "--from", backup, "--db", restored}, &out, &errOut); code != 0 {
		t.Fatalf("restore: exit %d\n%s%s", code, out.String(), errOut.String())
	}
	if got, restoredHead := auditActions(t, restored, head); len(got) != 0 || restoredHead != head {
		t.Errorf("the restored file's log goes on to seq %d with %q, want the backup's, to seq %d", restoredHead, got, head)
	}
}

// migrate-store of a file of an older schema migrates it first, audited
// as migrate-store's, and the chain verifies on etcd and on the file it
// comes back to.
func TestMigrateStoreAuditsTheMigration(t *testing.T) {
	cluster := etcdtest.Start(t, 1, etcdtest.WithoutFsync())
	dir := t.TempDir()
	db := filepath.Join(dir, "childcase.db")
	raw, err := os.ReadFile(filepath.Join("..", "storage", "boltstore", "testdata", "schema9.bolt.golden"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(db, raw, 0o600); err != nil {
		t.Fatal(err)
	}
	moveInto(t, db, cluster.Endpoints(), "/from-schema9/", app.MoveOptions{}) // checks the chain on etcd
	from, to := app.DefaultConfig(), app.DefaultConfig()
	from.Store, from.EtcdPrefix = etcdStoreOf(cluster.Endpoints()), "/from-schema9/"
	to.DBPath = filepath.Join(dir, "back.db")
	res, err := app.MigrateStore(context.Background(), from, to, app.MoveOptions{})
	if err != nil || !res.OK() {
		t.Fatalf("back from etcd: %v, check %v", err, res.Check.Problems)
	}
	// Each copy takes every child's data away, as a backup does, and is
	// on its source's trail before it copies, so that the copy holds it:
	// the file holds the copy onto etcd, the file back from etcd both.
	for file, copies := range map[string]int{db: 1, to.DBPath: 2} {
		events, _ := auditActions(t, file, 0)
		if n := len(slices.DeleteFunc(slices.Clone(events), func(e string) bool { return e != "database.migrate by system for migrate-store" })); n != 1 {
			t.Errorf("%s holds %d migrations by migrate-store, want 1", filepath.Base(file), n)
		}
		if n := len(slices.DeleteFunc(events, func(e string) bool { return e != "database.copy by system for migrate-store" })); n != copies {
			t.Errorf("%s holds %d copies by migrate-store, want %d", filepath.Base(file), n, copies)
		}
	}
	if res.Audit.Unaudited != "" || res.Audit.Seq == 0 {
		t.Errorf("the copy back from etcd says it is not on the store's trail: %q", res.Audit.Unaudited)
	}
}
