package app_test

import (
	"context"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	pb "github.com/childcase/childcase/api/childcase/v1"
	"github.com/childcase/childcase/internal/app"
	"github.com/childcase/childcase/internal/domain/clock"
	"github.com/childcase/childcase/internal/storage/boltstore/damagetest"
)

// TestDamagedPageWhileServing: a page of the file damaged under a running
// server (a disk fault: one leaf page of the reports overwritten) fails
// the calls that read it with DATA_LOSS, reason DATABASE_DAMAGED, saying
// nothing of what bbolt found there, and logs at ERROR what failed; the
// server goes on serving the rest: the reports on other pages, new
// reports, its health check. A damaged page of the cases, which the
// deadline scheduler reads in its own goroutine when their deadlines fall
// due, is logged and stops nothing either. bbolt panics reading such a
// page: in a call it was answered INTERNAL, but in the scheduler's
// goroutine it ended the process.
func TestDamagedPageWhileServing(t *testing.T) {
	var logs logLines
	ts := launch(t, testConfig(t, ""), app.Options{Clock: clock.NewFake(testNow), Logger: slog.New(slog.NewJSONHandler(&logs, nil))})
	for range 60 {
		if code, body := restCall(t, ts, "POST", "/v1/reports", restReport); code != http.StatusOK {
			t.Fatalf("create: %d %v", code, body)
		}
	}
	leaves := damagetest.Leaves(t, ts.cfg.DBPath, "reports")
	if len(leaves) < 3 {
		t.Fatalf("the reports fill %d leaf pages, want at least 3", len(leaves))
	}
	// A page in the middle: new reports (UUIDv7, in time order) go to the
	// last one.
	bad, good := leaves[len(leaves)/2], leaves[0]
	damagetest.Garble(t, ts.cfg.DBPath, bad.ID)
	damaged, healthy := uuid.UUID(bad.Keys[0]).String(), uuid.UUID(good.Keys[0]).String()

	for round := range 2 { // and again: the first failure changed nothing
		code, body := restCall(t, ts, "GET", "/v1/reports/"+damaged, "")
		if details, _ := body["details"].([]any); code != http.StatusInternalServerError || body["code"] != float64(codes.DataLoss) ||
			len(details) != 1 || details[0].(map[string]any)["reason"] != "DATABASE_DAMAGED" {
			t.Errorf("round %d: GET of a report on the damaged page: %d %v, want 500, DATA_LOSS, DATABASE_DAMAGED", round, code, body)
		}
		if msg, _ := body["message"].(string); strings.Contains(msg, "bbolt") || strings.Contains(msg, "page") {
			t.Errorf("round %d: the answer tells the client what bbolt found: %q", round, msg)
		}
		_, err := ts.reports().GetReport(context.Background(), &pb.GetReportRequest{Name: "reports/" + damaged})
		st := status.Convert(err)
		if info, _ := errorInfo(st); st.Code() != codes.DataLoss || info.GetReason() != "DATABASE_DAMAGED" {
			t.Errorf("round %d: gRPC GetReport of a report on the damaged page: %v, want DATA_LOSS with DATABASE_DAMAGED", round, err)
		}
		if code, body := restCall(t, ts, "GET", "/v1/reports/"+healthy, ""); code != http.StatusOK {
			t.Errorf("round %d: GET of a report on a sound page: %d %v", round, code, body)
		}
		code, body = restCall(t, ts, "POST", "/v1/reports", restReport)
		if code != http.StatusOK {
			t.Errorf("round %d: a new report: %d %v", round, code, body)
		} else if code, body := restCall(t, ts, "GET", "/v1/"+body["name"].(string), ""); code != http.StatusOK {
			t.Errorf("round %d: the new report read back: %d %v", round, code, body)
		}
		wantHealthy(t, ts)
	}
	if text := logs.text(); !strings.Contains(text, `"level":"ERROR","msg":"the database file is damaged: a transaction failed","db":"`+ts.cfg.DBPath+`","doing":"a read"`) {
		t.Errorf("the failed reads are not logged at ERROR with the file and what was done:\n%s", text)
	}

	cases := damagetest.Leaves(t, ts.cfg.DBPath, "cases")
	if len(cases) < 3 {
		t.Fatalf("the cases fill %d leaf pages, want at least 3", len(cases))
	}
	damagetest.Garble(t, ts.cfg.DBPath, cases[len(cases)/2].ID)
	// Past every case's first deadline; the wait is a bound for a loaded
	// CI machine, not a measure.
	ts.advance(t, 30*24*time.Hour)
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		if strings.Contains(logs.text(), `"msg":"deadline scheduler","err":"`) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the scheduler logged no failure on the damaged cases:\n%s", logs.text())
		}
	}
	if code, body := restCall(t, ts, "GET", "/v1/reports/"+healthy, ""); code != http.StatusOK {
		t.Errorf("GET of a report on a sound page after the scheduler met the damage: %d %v", code, body)
	}
	wantHealthy(t, ts)
}

// wantHealthy fails t unless ts answers its health check.
func wantHealthy(t *testing.T, ts *testServer) {
	t.Helper()
	if code, body := restRaw(t, ts, "GET", "/healthz", "", nil); code != http.StatusOK {
		t.Errorf("/healthz: %d %s", code, body)
	}
}

// errorInfo returns the ErrorInfo of st, if it has one.
func errorInfo(st *status.Status) (*errdetails.ErrorInfo, bool) {
	for _, d := range st.Details() {
		if info, ok := d.(*errdetails.ErrorInfo); ok {
			return info, true
		}
	}
	return nil, false
}
