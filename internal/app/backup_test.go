package app_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
	"google.golang.org/grpc/codes"

	pb "github.com/childcase/childcase/api/childcase/v1"
	"github.com/childcase/childcase/internal/app"
	"github.com/childcase/childcase/internal/domain/datastore"
	"github.com/childcase/childcase/internal/storage/boltstore"
)

// backupOverGRPC reads a whole BackupDatabase stream.
func backupOverGRPC(ctx context.Context, ts *testServer) ([]byte, error) {
	stream, err := ts.admin().BackupDatabase(ctx, &pb.BackupDatabaseRequest{})
	if err != nil {
		return nil, err
	}
	var data []byte
	for {
		chunk, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			return data, nil
		}
		if err != nil {
			return nil, err
		}
		data = append(data, chunk.GetData()...)
	}
}

// restoreTo writes a backup where a restore would put it and checks it.
func restoreTo(t *testing.T, data []byte, path string) boltstore.CheckResult {
	t.Helper()
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	res, err := boltstore.Check(context.Background(), path)
	if err != nil {
		t.Fatalf("check the backup: %v", err)
	}
	for _, p := range res.Problems {
		t.Errorf("the backup: %s", p)
	}
	return res
}

// TestBackupWhileWriting takes a hot backup through the RPC while
// operators keep recording reports: the backup passes the check, holds
// every report acknowledged before it began and its own audit event, and
// a server started on it serves those reports.
func TestBackupWhileWriting(t *testing.T) {
	ts := startServer(t, "")
	ts.addUser(t, "auditor", pb.Role_ROLE_AUDITOR, "orgs/system")
	ctx := context.Background()

	var mu sync.Mutex
	var acked []string // reports whose CreateReport has returned
	create := func() error {
		r, err := ts.reports().CreateReport(ctx, &pb.CreateReportRequest{Report: validReport()})
		if err != nil {
			return err
		}
		mu.Lock()
		acked = append(acked, r.GetName())
		mu.Unlock()
		return nil
	}
	// Enough reports for a backup of several chunks.
	for range 60 {
		if err := create(); err != nil {
			t.Fatal(err)
		}
	}

	stop := make(chan struct{})
	var during atomic.Int64 // reports acknowledged while the backup ran
	var backingUp atomic.Bool
	var wg sync.WaitGroup
	started := make(chan struct{}, 4)
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 200; i++ {
				select {
				case <-stop:
					return
				default:
				}
				if err := create(); err != nil {
					t.Error(err)
					return
				}
				if i == 0 {
					started <- struct{}{}
				}
				if backingUp.Load() {
					during.Add(1)
				}
			}
		}()
	}
	for range 4 {
		<-started // every writer is under way
	}

	mu.Lock()
	before := slices.Clone(acked)
	mu.Unlock()
	backingUp.Store(true)
	data, err := backupOverGRPC(ts.as(t, "admin"), ts)
	backingUp.Store(false)
	close(stop)
	wg.Wait()
	if err != nil {
		t.Fatalf("BackupDatabase: %v", err)
	}
	t.Logf("backup of %d bytes; %d reports before it, %d acknowledged while it ran", len(data), len(before), during.Load())
	if len(data) <= 256<<10 {
		t.Errorf("the backup is %d bytes: too small to come in several chunks", len(data))
	}

	dir := t.TempDir()
	restored := filepath.Join(dir, "restored.db")
	res := restoreTo(t, data, restored)
	if res.Reports < len(before) {
		t.Errorf("the backup holds %d reports, fewer than the %d acknowledged before it", res.Reports, len(before))
	}
	store, err := boltstore.OpenReadOnly(restored, boltstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	err = store.View(ctx, func(tx datastore.ReadTx) error {
		for _, name := range before {
			if _, err := tx.Report(name[len("reports/"):]); err != nil {
				t.Errorf("the backup lacks %s, acknowledged before it began: %v", name, err)
			}
		}
		events, _, err := tx.ListAuditEvents(datastore.AuditQuery{Actor: "admin", Limit: 1})
		if err != nil {
			return err
		}
		if len(events) != 1 || events[0].Action != "database.backup" {
			t.Errorf("the backup's last event of the admin is %+v, want its own database.backup", events)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	store.Close()

	// The live log has the event too.
	evs, err := ts.audit().ListAuditEvents(ts.as(t, "auditor"), &pb.ListAuditEventsRequest{Actor: "users/admin", PageSize: 5})
	if err != nil {
		t.Fatal(err)
	}
	if len(evs.GetEvents()) == 0 || evs.GetEvents()[0].GetAction() != "database.backup" || evs.GetEvents()[0].GetOutcome() != "ok" {
		t.Errorf("the admin's last audit event: %v, want database.backup ok", evs.GetEvents())
	}

	// A server started on the restored copy, with the master key file and
	// the tokens of the original, serves every report acknowledged before
	// the backup.
	for _, suffix := range []string{".key", ".tokens.json"} {
		raw, err := os.ReadFile(ts.cfg.DBPath + suffix)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(restored+suffix, raw, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	again := startServer(t, restored)
	served := map[string]bool{}
	page := ""
	for {
		resp, err := again.reports().ListReports(ctx, &pb.ListReportsRequest{PageSize: 500, PageToken: page})
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range resp.GetReports() {
			served[r.GetName()] = true
		}
		if page = resp.GetNextPageToken(); page == "" {
			break
		}
	}
	for _, name := range before {
		if !served[name] {
			t.Errorf("the server on the restored backup does not serve %s", name)
		}
	}
	// The restored log goes on from the backup's head: the events of the
	// reads above extend a chain that verifies from the first event.
	v, err := again.audit().VerifyAuditLog(again.as(t, "auditor"), &pb.VerifyAuditLogRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if !v.GetIntact() || v.GetCheckedEvents() != v.GetHeadSeq() || v.GetHeadSeq() <= uint64(res.AuditEvents) {
		t.Errorf("the restored log after the reads: %v, want intact past the backup's %d events", v, res.AuditEvents)
	}
}

// TestBackupOverREST downloads a backup with GET /v1/database:backup: the
// body is the raw database file (no delimiters between the chunks), and
// only admins may have it.
func TestBackupOverREST(t *testing.T) {
	ts := startServer(t, "")
	for range 60 {
		if _, err := ts.reports().CreateReport(context.Background(), &pb.CreateReportRequest{Report: validReport()}); err != nil {
			t.Fatal(err)
		}
	}
	get := func(token string) (*http.Response, []byte) {
		t.Helper()
		req, err := http.NewRequest(http.MethodGet, "http://"+ts.HTTPAddr()+"/v1/database:backup", nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		return resp, body
	}

	resp, body := get(ts.tokens.get("admin"))
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "application/octet-stream" {
		t.Fatalf("GET /v1/database:backup as admin: %d %q", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	if len(body) <= 256<<10 {
		t.Errorf("the backup is %d bytes: too small to come in several chunks", len(body))
	}
	path := filepath.Join(t.TempDir(), "download.db")
	res := restoreTo(t, body, path)
	if res.Reports != 60 {
		t.Errorf("the download holds %d reports, want 60", res.Reports)
	}
	// bbolt writes whole pages: a byte added between chunks would show.
	db, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true, Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	pageSize := db.Info().PageSize
	db.Close()
	if len(body)%pageSize != 0 {
		t.Errorf("the download is %d bytes, not a whole number of %d-byte pages", len(body), pageSize)
	}

	resp, body = get(ts.tokens.get(operatorID))
	if resp.StatusCode != http.StatusForbidden {
		t.Errorf("GET /v1/database:backup as an operator: %d %s", resp.StatusCode, body)
	}
	_, err = backupOverGRPC(ts.as(t, operatorID), ts)
	wantCode(t, err, codes.PermissionDenied)
}

// A backup is the whole database in an admin's hands, and of no use
// without the master key file, which is not in it: neither the key (as
// bytes or as the key file's text), nor a token's or a set-password
// link's secret (only their hashes are stored), nor a child's name in the
// clear.
func TestBackupHoldsNoKeyNorSecret(t *testing.T) {
	ts := startServer(t, "")
	r := validReport()
	r.Children[0].FullName = "Nguyễn Văn Bí Mật"
	if _, err := ts.reports().CreateReport(context.Background(), &pb.CreateReportRequest{Report: r}); err != nil {
		t.Fatal(err)
	}
	created, err := ts.admin().CreateUser(ts.as(t, "admin"), &pb.CreateUserRequest{UserId: "lan.nguyen",
		User: &pb.User{DisplayName: "Nguyễn Thị Lan", Role: pb.Role_ROLE_HOTLINE_OPERATOR, Unit: "orgs/hotline-111"}})
	if err != nil {
		t.Fatal(err)
	}
	backup, err := backupOverGRPC(ts.as(t, "admin"), ts)
	if err != nil {
		t.Fatal(err)
	}
	keyFile, err := os.ReadFile(ts.cfg.KeyFile)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(keyFile)), "\n")
	if len(lines) != 3 {
		t.Fatalf("key file of %d lines; the test reads the v1 format", len(lines))
	}
	key, err := base64.StdEncoding.DecodeString(lines[2])
	if err != nil || len(key) != 32 {
		t.Fatalf("key file's key %q: %v", lines[2], err)
	}
	_, tokenSecret, _ := strings.Cut(strings.TrimPrefix(created.GetToken().GetSecret(), "cc_"), "_")
	_, linkSecret, _ := strings.Cut(strings.TrimPrefix(created.GetPasswordLinkSecret(), "pw_"), "_")
	for what, secret := range map[string][]byte{
		"the master key": key, "the key file's key line": []byte(lines[2]),
		"a token's secret": []byte(tokenSecret), "a set-password link's secret": []byte(linkSecret),
		"a child's name": []byte("Bí Mật"),
	} {
		if len(secret) < 8 {
			t.Fatalf("%s is %q: the test needs it whole", what, secret)
		}
		if bytes.Contains(backup, secret) {
			t.Errorf("the backup holds %s", what)
		}
	}
}

// TestBackupWithoutRoomForItsCopy: the server copies the database beside
// it before it streams the copy, and that needs as much free space there
// as the database takes. Without it the backup fails, and must say why: a
// backup on a disk with room for writes but not for a second copy of the
// database answered "the database is full: ... writes are refused", reason
// DATABASE_FULL, and logged "database full: a write was refused", while
// writes went on. An operator (or the nightly backup job) was sent after
// the wrong problem.
func TestBackupWithoutRoomForItsCopy(t *testing.T) {
	dir := smallDisk(t, 8<<20)
	ctx := context.Background()
	dbPath := filepath.Join(dir, "childcase.db")
	ts := startServerWith(t, dbPath, func(c *app.Config) { c.DBReserve = 1 << 20 })
	defer ts.stop()
	for i := 0; allocated(t, dbPath) < 3<<19; i++ {
		if i == 5000 {
			t.Fatalf("%d reports and the database holds only %d bytes", i, allocated(t, dbPath))
		}
		if _, err := ts.reports().CreateReport(ctx, &pb.CreateReportRequest{Report: validReport()}); err != nil {
			t.Fatalf("report %d: %v", i, err)
		}
	}
	// Room for writes, not for a copy of the database.
	fillDiskLeaving(t, dir, 512<<10)

	_, err := backupOverGRPC(ts.as(t, "admin"), ts)
	st := wantCode(t, err, codes.ResourceExhausted)
	if errorReason(st) != "NO_ROOM_FOR_BACKUP" || strings.Contains(st.Message(), "database is full") || !strings.Contains(st.Message(), "free space") {
		t.Errorf("a backup without room for its copy: reason %q, message %q; want NO_ROOM_FOR_BACKUP, saying what room it needs and not that the database is full", errorReason(st), st.Message())
	}
	// As the answer says, writes go on.
	if _, err := ts.reports().CreateReport(ctx, &pb.CreateReportRequest{Report: validReport()}); err != nil {
		t.Errorf("a write after the refused backup: %v", err)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if strings.Contains(e.Name(), "snapshot") {
			t.Errorf("the refused backup left %s beside the database", e.Name())
		}
	}
}
