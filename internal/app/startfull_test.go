package app_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	pb "github.com/childcase/childcase/api/childcase/v1"
	"github.com/childcase/childcase/internal/app"
	"github.com/childcase/childcase/internal/domain/access"
	"github.com/childcase/childcase/internal/domain/clock"
	"github.com/childcase/childcase/internal/domain/datastore"
	"github.com/childcase/childcase/internal/domain/idempotency"
	"github.com/childcase/childcase/internal/domain/identity"
	"github.com/childcase/childcase/internal/domain/model"
	"github.com/childcase/childcase/internal/domain/units"
	"github.com/childcase/childcase/internal/domain/vault"
	"github.com/childcase/childcase/internal/storage/boltstore"
)

// Every duty of a start that writes, run on a full disk with that duty
// pending: the server starts and answers reads, logs what it could not do,
// and does it later; or, for a migration (which rewrites the file), refuses
// to start saying it needs room, and leaves the file as it was.

// copyGolden puts the golden database of schema version and its key file
// at db.
func copyGolden(t *testing.T, version int, db string) {
	t.Helper()
	for src, dst := range map[string]string{"bolt": db, "masterkey": db + ".key"} {
		raw, err := os.ReadFile(filepath.Join("..", "storage", "boltstore", "testdata", fmt.Sprintf("schema%d.%s.golden", version, src)))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(dst, raw, 0o600); err != nil {
			t.Fatal(err)
		}
	}
}

// drawOnReserve leaves the reserve file of the database at db half
// used, as reads on a full disk leave it: ordinary writes are refused
// until it is whole again, and it cannot be while the disk is full.
func drawOnReserve(t *testing.T, db string, reserve int64) {
	t.Helper()
	if err := os.Truncate(db+".reserve", reserve/2); err != nil {
		t.Fatal(err)
	}
}

// waitForLog waits up to 10 s for what to be logged.
func waitForLog(t *testing.T, logs *logLines, what string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(logs.text(), what) {
		if time.Now().After(deadline) {
			t.Fatalf("not logged within 10 s: %q; the log:\n%s", what, logs.text())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// A database migrated by an offline command (which does not seal) keeps
// its older cases' free text in the clear until a start seals it. A start
// on a full disk could not, and exited: every restart failed the same way,
// reads included, until space was freed. It now starts, answers reads
// (the cases open in the clear as they did before the upgrade), logs that
// it could not seal, and seals once there is room, without a restart.
func TestStartOnAFullDiskLeavesTheSealOfClearTextForLater(t *testing.T) {
	dir := smallDisk(t, 8<<20)
	ctx := context.Background()
	db := filepath.Join(dir, "childcase.db")
	copyGolden(t, 2, db)
	off, err := app.OpenOffline(db, "users list", slog.New(slog.DiscardHandler), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if err := off.Close(); err != nil {
		t.Fatal(err)
	}
	// The reserve file, as a server that ran before the disk filled left
	// it, a token for the golden hotline operator, and the file filled
	// as the disk is.
	const reserve = 2 << 20
	s, err := boltstore.Open(db, boltstore.Options{Reserve: reserve})
	if err != nil {
		t.Fatal(err)
	}
	reg, err := units.Load()
	if err != nil {
		t.Fatal(err)
	}
	ids := identity.New(s, reg, clock.NewFake(testNow), slog.New(slog.DiscardHandler))
	tokens := map[string]string{} // by the name the test calls them
	for as, user := range map[string]string{operatorID: "hotline.operator", "badinh.worker": "badinh.worker"} {
		tok, err := ids.CreateToken(ctx, access.System("test"), user, 24*time.Hour, idempotency.Request{})
		if err != nil {
			t.Fatal(err)
		}
		tokens[as] = tok.Secret
	}
	book, _ := json.Marshal(tokens)
	if err := os.WriteFile(db+".tokens.json", book, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	pending, inClear := clearText(t, db)
	if !pending || len(inClear) == 0 {
		t.Fatalf("the migrated golden file: clear text pending %v, cases in the clear %v; want some to seal", pending, inClear)
	}

	drawOnReserve(t, db, reserve)
	ballast := fillDisk(t, dir)
	var logs logLines
	cfg := testConfig(t, db)
	cfg.DBReserve = reserve
	ts := launch(t, cfg, app.Options{Clock: clock.NewFake(testNow), NoSync: true, SearchCatchUpEvery: 50 * time.Millisecond,
		Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	defer ts.stop()
	resp, err := ts.reports().ListReports(ctx, &pb.ListReportsRequest{PageSize: 50})
	if err != nil || len(resp.GetReports()) == 0 {
		t.Fatalf("a read on the full disk: %d reports, %v", len(resp.GetReports()), err)
	}
	if text := logs.text(); !strings.Contains(text, "the free text older versions stored in the clear cannot be sealed: the database is full") {
		t.Errorf("the start did not log that it left the clear text unsealed:\n%s", text)
	}
	// The cases left in the clear open, as they did before the upgrade.
	for _, number := range inClear {
		if _, err := ts.cases().GetCase(ts.as(t, "badinh.worker"), &pb.GetCaseRequest{Name: "cases/" + number}); err != nil {
			t.Errorf("a read of %s, in the clear, on the full disk: %v", number, err)
		}
	}

	if err := os.Remove(ballast); err != nil {
		t.Fatal(err)
	}
	waitForLog(t, &logs, "sealed the free text older versions stored in the clear")
	ts.stop()
	if pending, inClear := clearText(t, db); pending || len(inClear) != 0 {
		t.Errorf("after space was freed: clear text pending %v, cases still in the clear %v", pending, inClear)
	}
	checkFile(t, db)
}

// clearText reports whether the file at db has the seal of clear text
// pending, and the numbers of its cases that hold free text in the clear.
func clearText(t *testing.T, db string) (pending bool, inClear []string) {
	t.Helper()
	s, err := boltstore.OpenReadOnly(db, boltstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	err = s.View(context.Background(), func(tx datastore.ReadTx) error {
		var err error
		if pending, err = tx.ClearTextPending(); err != nil {
			return err
		}
		cs, _, err := tx.ListCases(datastore.CaseQuery{Limit: 1000, Match: func(c model.Case) bool { return len(c.Texts.Data) == 0 && vault.HasClearText(c) }})
		for _, c := range cs {
			inClear = append(inClear, c.Number)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return pending, inClear
}

// A webhook added to the policy registers at start, at the end of the
// outbox, so that it is delivered what comes after. On a full disk that
// write was refused and the server exited, reads and the other webhooks
// with it, until space was freed. It now starts, logs that the webhook
// is not registered yet, and, once there is room, registers it where the
// outbox ended at the start: a notification written after the start, as
// soon as writes go through again, is delivered to it, and none of
// before the start.
func TestStartOnAFullDiskLeavesANewWebhooksRegistrationForLater(t *testing.T) {
	dir := smallDisk(t, 8<<20)
	ctx := context.Background()
	db := filepath.Join(dir, "childcase.db")
	cfg := testConfig(t, db)
	cfg.DBReserve = 2 << 20
	clk := clock.NewFake(testNow)
	ts := launch(t, cfg, app.Options{Clock: clk, NoSync: true})
	before, err := ts.reports().CreateReport(ctx, &pb.CreateReportRequest{Report: validReport()})
	if err != nil {
		t.Fatal(err)
	}
	ts.stop()

	receiver := newWebhookReceiver(t)
	delivered := func(caseName string) bool {
		for _, b := range receiver.bodies() {
			if strings.Contains(b, strings.TrimPrefix(caseName, "cases/")) {
				return true
			}
		}
		return false
	}
	t.Setenv("CHILDCASE_TEST_HOOK_SECRET", "a-webhook-secret-of-some-length")
	cfg.PolicyFile = filepath.Join(t.TempDir(), "policy.json")
	policyJSON := `{"webhooks": [{"name": "so-y-te", "url": "` + receiver.url + `", "secret_env": "CHILDCASE_TEST_HOOK_SECRET"}]}`
	if err := os.WriteFile(cfg.PolicyFile, []byte(policyJSON), 0o600); err != nil {
		t.Fatal(err)
	}

	drawOnReserve(t, db, cfg.DBReserve)
	ballast := fillDisk(t, dir)
	var logs logLines
	ts = launch(t, cfg, app.Options{Clock: clk, NoSync: true, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	defer ts.stop()
	if _, err := ts.reports().GetReport(ctx, &pb.GetReportRequest{Name: before.GetName()}); err != nil {
		t.Fatalf("a read on the full disk: %v", err)
	}
	if text := logs.text(); !strings.Contains(text, "webhook so-y-te cannot be registered yet: the database is full") {
		t.Errorf("the start did not log that it left the webhook unregistered:\n%s", text)
	}

	if err := os.Remove(ballast); err != nil {
		t.Fatal(err)
	}
	var after *pb.Report
	deadline := time.Now().Add(10 * time.Second)
	for after == nil {
		r, err := ts.reports().CreateReport(ctx, &pb.CreateReportRequest{Report: validReport(), RequestId: "after-space-freed"})
		switch {
		case err == nil:
			after = r
		case time.Now().After(deadline):
			t.Fatalf("space was freed 10 s ago, and a write is still refused: %v", err)
		default:
			time.Sleep(20 * time.Millisecond)
		}
	}
	// The deliverer waits out its backoff before it tries again: up to a
	// few seconds after the start's failures.
	deadline = time.Now().Add(20 * time.Second)
	for !delivered(after.GetCase()) {
		if time.Now().After(deadline) {
			t.Fatalf("the case %s opened once space was freed was not delivered to the webhook in 20 s; the log:\n%s", after.GetCase(), logs.text())
		}
		time.Sleep(50 * time.Millisecond)
	}
	if delivered(before.GetCase()) {
		t.Errorf("the case %s opened before the webhook was added was delivered to it", before.GetCase())
	}
}

// An older schema is migrated at start, in one transaction with its audit
// event. On a full disk a migration that needs room cannot be done: the
// start is refused saying so, and the file is left as it was (its
// version, and whole), to be migrated by the next start with room. A
// migration that fits in the file's free pages may go through; either
// way nothing is half migrated.
func TestStartOnAFullDiskMigratesWholeOrNotAtAll(t *testing.T) {
	for version := 2; version < int(boltstore.SchemaVersion); version++ {
		t.Run(fmt.Sprintf("schema%d", version), func(t *testing.T) {
			dir := smallDisk(t, 4<<20)
			db := filepath.Join(dir, "childcase.db")
			copyGolden(t, version, db)
			ballast := fillDisk(t, dir)
			cfg := testConfig(t, db)
			cfg.DBReserve = 1 << 20
			srv, err := app.Start(context.Background(), cfg, app.Options{Clock: clock.NewFake(testNow), NoSync: true,
				Logger: slog.New(slog.DiscardHandler), Console: io.Discard})
			if err == nil {
				t.Logf("schema %d migrated on the full disk", version)
				if err := srv.Stop(); err != nil {
					t.Fatal(err)
				}
			} else {
				msg := err.Error()
				for _, want := range []string{fmt.Sprintf("schema version %d", version), "full", "free space"} {
					if !strings.Contains(msg, want) {
						t.Errorf("the refused start does not say %q: %s", want, msg)
					}
				}
				res, err := boltstore.Check(context.Background(), db)
				if err != nil {
					t.Fatal(err)
				}
				if res.SchemaVersion != uint32(version) || !res.OK() {
					t.Errorf("after the refused migration the file has schema version %d (want %d), problems %v", res.SchemaVersion, version, res.Problems)
				}
			}
			if err := os.Remove(ballast); err != nil {
				t.Fatal(err)
			}
			srv, err = app.Start(context.Background(), cfg, app.Options{Clock: clock.NewFake(testNow), NoSync: true,
				Logger: slog.New(slog.DiscardHandler), Console: io.Discard})
			if err != nil {
				t.Fatalf("the start once there is room: %v", err)
			}
			if err := srv.Stop(); err != nil {
				t.Fatal(err)
			}
			res, err := boltstore.Check(context.Background(), db)
			if err != nil {
				t.Fatal(err)
			}
			if res.SchemaVersion != boltstore.SchemaVersion || !res.OK() {
				t.Errorf("after the start with room: schema version %d, problems %v", res.SchemaVersion, res.Problems)
			}
		})
	}
}

// Deadlines that fell due while the server was down are fired by the
// scheduler as it starts. On a full disk a firing cannot be written: the
// server starts and answers reads, and the scheduler fires each of them
// once there is room, once, without a restart.
func TestStartOnAFullDiskFiresTheDeadlinesDueOnceThereIsRoom(t *testing.T) {
	dir := smallDisk(t, 8<<20)
	db := filepath.Join(dir, "childcase.db")
	cfg := testConfig(t, db)
	cfg.DBReserve = 2 << 20
	clk := clock.NewFake(testNow)
	opts := app.Options{Clock: clk, NoSync: true, SchedulerPoll: 50 * time.Millisecond}
	ts := launch(t, cfg, opts)
	ts.addUser(t, "bd.worker", pb.Role_ROLE_COMMUNE_WORKER, "units/00004@2025-07-01")
	name := openCase(t, ts, clk.Now(), "00004")
	ts.stop()

	// Down for a month: the acknowledgement and every deadline after it
	// fell due meanwhile.
	clk.Set(testNow.Add(30 * 24 * time.Hour))
	drawOnReserve(t, db, cfg.DBReserve)
	ballast := fillDisk(t, dir)
	var logs logLines
	opts.Logger = slog.New(slog.NewTextHandler(&logs, nil))
	ts = launch(t, cfg, opts)
	defer ts.stop()
	getCase(t, ts, "bd.worker", name)
	time.Sleep(300 * time.Millisecond) // a few passes of the scheduler, all refused
	if n := countEvents(caseEvents(t, ts, "bd.worker", name), "DEADLINE_BREACHED", 0); n != 0 {
		t.Fatalf("%d breaches written on the full disk: the firing was not refused, so this test shows nothing", n)
	}
	if !strings.Contains(logs.text(), "deadline scheduler") {
		t.Errorf("the scheduler's refused firings were not logged:\n%s", logs.text())
	}

	if err := os.Remove(ballast); err != nil {
		t.Fatal(err)
	}
	ack := findDeadline(t, getCase(t, ts, "bd.worker", name), "ACKNOWLEDGE", "").GetId()
	waitEvents(t, ts, "bd.worker", name, "DEADLINE_BREACHED", ack, 1)
	time.Sleep(300 * time.Millisecond) // more passes: none may fire it again
	events := caseEvents(t, ts, "bd.worker", name)
	seen := map[int32]int{}
	for _, e := range events {
		if e.GetKind() == "DEADLINE_BREACHED" {
			seen[e.GetDeadlineId()]++
		}
	}
	for id, n := range seen {
		if n != 1 {
			t.Errorf("deadline %d breached %d times, want once", id, n)
		}
	}
}

// serve --demo issues new tokens and passwords to its demo users at every
// start. On a full disk it cannot: the demo starts all the same, says
// that those of its last start still work, and answers reads with them.
func TestDemoStartsOnAFullDisk(t *testing.T) {
	dir := smallDisk(t, 16<<20)
	db := filepath.Join(dir, "childcase.db")
	cfg := testConfig(t, db)
	cfg.DBReserve, cfg.Demo = 2<<20, true
	start := func() (*app.Server, string, error) {
		var console strings.Builder
		srv, err := app.Start(context.Background(), cfg, app.Options{Clock: clock.NewFake(testNow), NoSync: true,
			Logger: slog.New(slog.DiscardHandler), Console: &console})
		return srv, console.String(), err
	}
	srv, printed, err := start()
	if err != nil {
		t.Fatal(err)
	}
	var operator string
	for _, m := range demoTokenLine.FindAllStringSubmatch(printed, -1) {
		if m[1] == "hotline.operator" {
			operator = m[2]
		}
	}
	if err := srv.Stop(); err != nil || operator == "" {
		t.Fatalf("the first demo start: %v, no operator token in:\n%s", err, printed)
	}

	drawOnReserve(t, db, cfg.DBReserve)
	fillDisk(t, dir)
	srv, printed, err = start()
	if err != nil {
		t.Fatalf("a demo start on a full disk: %v", err)
	}
	defer srv.Stop()
	if !strings.Contains(printed, "the database is full") {
		t.Errorf("the demo start on a full disk did not say why it issued no new tokens:\n%s", printed)
	}
	conn, err := grpc.NewClient(srv.GRPCAddr(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	resp, err := pb.NewReportServiceClient(conn).ListReports(withToken(context.Background(), operator), &pb.ListReportsRequest{PageSize: 10})
	if err != nil || len(resp.GetReports()) == 0 {
		t.Errorf("a read with the last start's token on the full disk: %d reports, %v", len(resp.GetReports()), err)
	}
}
