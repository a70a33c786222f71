package crashtest

// SIGKILLs of the first start on a database of an older schema: the
// migration at open, and the start-time writes that follow it (clear text
// sealed, deadlines due fired, indexes built), cut at random moments. The
// README: a migration is one transaction with its audit event, done whole
// or not at all, so a start after any kill migrates the file and the
// result is the one of a start never killed.

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/childcase/childcase/internal/domain/datastore"
	"github.com/childcase/childcase/internal/storage/boltstore"
)

// goldenDir holds the database files of each older schema, with their
// master keys.
const goldenDir = "../storage/boltstore/testdata"

// copyGolden copies the golden database and master key of schema name
// into dir, under a name of its own, and returns their paths.
func copyGolden(t *testing.T, name, dir, as string) (db, key string) {
	t.Helper()
	db, key = filepath.Join(dir, as+".db"), filepath.Join(dir, as+".key")
	for src, dst := range map[string]string{name + ".bolt.golden": db, name + ".masterkey.golden": key} {
		raw, err := os.ReadFile(filepath.Join(goldenDir, src))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(dst, raw, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return db, key
}

// TestKillDuringMigration starts the server on a copy of each older
// schema's golden file and SIGKILLs it at random moments of its start
// (within the time an uninterrupted start took to answer SERVING) and
// once just after it answered; then starts it to the end and stops it.
// The file must pass `check`, be of the current schema, hold what the
// file of an uninterrupted start holds, and its audit log must record the
// migration once. CHILDCASE_MIGRATE_KILLS sets the kills within the start
// (default 6).
func TestKillDuringMigration(t *testing.T) {
	requireChild(t)
	kills := 6
	if s := os.Getenv("CHILDCASE_MIGRATE_KILLS"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 {
			t.Fatalf("CHILDCASE_MIGRATE_KILLS=%q: want a positive number", s)
		}
		kills = n
	}
	for _, name := range []string{"schema2", "schema6", "schema9"} {
		t.Run(name, func(t *testing.T) { killDuringMigration(t, name, kills) })
	}
}

func killDuringMigration(t *testing.T, name string, kills int) {
	h := newHarness(t, uint64(time.Now().UnixNano()), 0)
	// The shipped policy: the golden cases' deadlines fire alike in both
	// starts.
	if err := os.WriteFile(h.policyFile, []byte("{}"), 0o600); err != nil {
		t.Fatal(err)
	}

	// A start never killed, for reference and to time a start.
	h.db, h.keyFile = copyGolden(t, name, h.dir, "reference")
	h.storeArgs = []string{"--db", h.db}
	began := time.Now()
	h.srv = h.start()
	took := time.Since(began)
	h.srv.awaitCaughtUp(t)
	if err := h.srv.stop(); err != nil {
		t.Fatalf("stop the reference: %v", err)
	}
	h.srv = nil
	want := h.migratedFile("the reference")

	h.db, h.keyFile = copyGolden(t, name, h.dir, "killed")
	h.storeArgs = []string{"--db", h.db}
	for k := 0; k <= kills; k++ {
		c, err := h.spawn()
		if err != nil {
			t.Fatal(err)
		}
		at := "just after it answered SERVING"
		if k < kills {
			// Half the kills in the first quarter of the start, where the
			// process opens and migrates the file.
			span := took
			if k%2 == 0 {
				span = took / 4
			}
			wait := time.Duration(h.rng.Int64N(int64(span)))
			at = fmt.Sprintf("%s into its start", wait.Round(time.Millisecond))
			time.Sleep(wait)
		} else if err := c.awaitServing(startTimeout); err != nil {
			c.kill()
			t.Fatalf("start after %d kills: %v; log:\n%s", kills, err, tail(c.logPath, 30))
		}
		if exitedEarly := c.kill(); exitedEarly {
			t.Fatalf("the server exited on its own (log %s):\n%s", c.logPath, tail(c.logPath, 30))
		}
		t.Logf("killed %s (an uninterrupted start took %s): %s", at, took.Round(time.Millisecond), h.schemaOf(h.db))
	}
	h.srv = h.start()
	h.srv.awaitCaughtUp(t)
	if err := h.srv.stop(); err != nil {
		t.Fatalf("graceful stop after the kills: %v", err)
	}
	h.srv = nil
	got := h.migratedFile("the file started after the kills")
	if got.summary != want.summary {
		t.Errorf("after the kills the file holds %+v; an uninterrupted start's %+v", got.summary, want.summary)
	}
	for _, action := range slices.Sorted(maps.Keys(want.once)) {
		if got.once[action] != want.once[action] {
			t.Errorf("after the kills the audit log holds %d %s events; an uninterrupted start's %d",
				got.once[action], action, want.once[action])
		}
	}
}

// migrated is what a migrated file holds: its records' counts and the
// audit events a start writes once per database, by action.
type migrated struct {
	summary struct {
		schema                                                          uint32
		reports, cases, caseEvents, users, tokens, dataKeys, notifcount int
	}
	once map[string]int
}

// onceActions are the audit actions a migration or a first start writes
// once for the database, however many starts it took.
var onceActions = []string{"database.migrate"}

// migratedFile checks the stopped server's file: `childcase check`
// passes, and it is of the schema of the binary.
func (h *harness) migratedFile(what string) migrated {
	t := h.t
	t.Helper()
	if code, out := runTool(t, "check", "--db", h.db); code != 0 {
		t.Fatalf("%s: childcase check: exit %d:\n%s", what, code, out)
	}
	res, err := boltstore.Check(context.Background(), h.db)
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	var m migrated
	m.summary.schema = res.SchemaVersion
	m.summary.reports, m.summary.cases, m.summary.caseEvents = res.Reports, res.Cases, res.CaseEvents
	m.summary.users, m.summary.tokens, m.summary.dataKeys, m.summary.notifcount = res.Users, res.Tokens, res.DataKeys, res.Notifications
	m.once = map[string]int{}
	for _, a := range onceActions {
		m.once[a] = 0
	}
	st, err := boltstore.OpenReadOnly(h.db, boltstore.Options{})
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	defer st.Close()
	err = st.View(context.Background(), func(tx datastore.ReadTx) error {
		for e, err := range tx.AuditEvents(1) {
			if err != nil {
				return err
			}
			if _, ok := m.once[e.Action]; ok {
				m.once[e.Action]++
			}
		}
		return nil
	})
	if err != nil {
		t.Fatalf("%s: the audit log: %v", what, err)
	}
	if m.once["database.migrate"] != 1 {
		t.Errorf("%s: %d database.migrate events, want 1", what, m.once["database.migrate"])
	}
	return m
}

// schemaOf tells, for the log, the schema version of the file at path.
func (h *harness) schemaOf(path string) string {
	res, err := boltstore.Check(context.Background(), path)
	if err != nil {
		return fmt.Sprintf("cannot check: %v", err)
	}
	return fmt.Sprintf("schema version %d, %d problems", res.SchemaVersion, len(res.Problems)+res.Omitted)
}

// caughtUpLine is what the server logs once its deadline scheduler has
// fired what fell due before it ran (process.Engine.Run).
const caughtUpLine = "deadline scheduler: caught up on what fell due before it ran"

// awaitCaughtUp waits until the server's log says its scheduler has
// fired the golden cases' deadlines, due long ago. SERVING comes before
// that: a server stopped at once keeps a part of them, or none, and the
// files of two starts would differ by where the stop cut the firings, on
// a loaded machine more than on an idle one.
func (c *child) awaitCaughtUp(t *testing.T) {
	t.Helper()
	deadline := time.Now().Add(startTimeout)
	for {
		raw, err := os.ReadFile(c.logPath)
		if err != nil {
			t.Fatal(err)
		}
		for line := range strings.Lines(string(raw)) {
			var l struct {
				Msg string `json:"msg"`
			}
			if json.Unmarshal([]byte(line), &l) == nil && l.Msg == caughtUpLine {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s after the start, the server has not logged %q:\n%s", startTimeout, caughtUpLine, tail(c.logPath, 20))
		}
		time.Sleep(20 * time.Millisecond)
	}
}
