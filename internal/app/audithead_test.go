package app_test

import (
	"encoding/hex"
	"errors"
	"io"
	"log/slog"
	"strings"
	"testing"

	bolt "go.etcd.io/bbolt"

	pb "github.com/childcase/childcase/api/childcase/v1"
	"github.com/childcase/childcase/internal/app"
	"github.com/childcase/childcase/internal/domain/audit"
	"github.com/childcase/childcase/internal/domain/clock"
)

// The service's log is a second place for the audit log's head, out of
// the database: the head at every start and at every stop, after the
// last event of the run (the refused calls counted at the stop
// included). Events cut from the end while the service is stopped, with
// the stored head set back, leave a whole chain; the head the stop logged
// is what an auditor gives a verification to find them (README, "Audit").
func TestStartAndStopLogTheAuditHead(t *testing.T) {
	var logs logLines
	opts := app.Options{Clock: clock.NewFake(testNow), Logger: slog.New(slog.NewJSONHandler(&logs, nil))}
	ts := launch(t, testConfig(t, ""), opts)
	if _, err := ts.reports().CreateReport(ts.as(t, operatorID), &pb.CreateReportRequest{Report: validReport()}); err != nil {
		t.Fatal(err)
	}
	ts.stop()
	first := logged(t, logs.take(t), "audit log: the head at stop")
	again := launch(t, ts.cfg, opts)
	started := logged(t, logs.take(t), "audit log: the newest events verify")
	if started["head_seq"] != first["head_seq"] || started["head_hash"] != first["head_hash"] {
		t.Errorf("the start logged head %v %v, the stop before it %v %v", started["head_seq"], started["head_hash"], first["head_seq"], first["head_hash"])
	}
	if _, err := again.cases().GetCase(again.as(t, operatorID), &pb.GetCaseRequest{Name: "cases/HN-2026-00001"}); err != nil {
		t.Fatal(err)
	}
	again.stop()
	stopped := logged(t, logs.take(t), "audit log: the head at stop")

	off, err := app.OpenOffline(ts.cfg.DBPath, "audit verify", slog.New(slog.DiscardHandler), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	defer off.Close()
	res, err := off.Audit.Verify(t.Context())
	if err != nil || res.Problem != nil {
		t.Fatalf("verify: %+v, %v", res, err)
	}
	if stopped["head_seq"] != float64(res.HeadSeq) || stopped["head_hash"] != hex.EncodeToString(res.HeadHash) || len(res.HeadHash) == 0 {
		t.Errorf("the stop logged head %v %v; the database's is %d %x", stopped["head_seq"], stopped["head_hash"], res.HeadSeq, res.HeadHash)
	}
	if seq, _ := first["head_seq"].(float64); seq == 0 || seq >= float64(res.HeadSeq) {
		t.Errorf("the first stop logged head %v, want one before the second stop's %d", first["head_seq"], res.HeadSeq)
	}
}

// logged returns the line of lines whose msg is msg, failing without one.
func logged(t *testing.T, lines []map[string]any, msg string) map[string]any {
	t.Helper()
	for _, l := range lines {
		if l["msg"] == msg {
			return l
		}
	}
	t.Fatalf("no log line %q in %v", msg, lines)
	return nil
}

// The hole a noted head closes, end to end: while the service is
// stopped, its last events are cut from the file and the stored head set
// back to the last event kept. The restarted service verifies its tail
// and answers VerifyAuditLog "intact", and the log grows again over the
// cut; the head the stop logged, given to VerifyAuditLog, finds it.
func TestVerifyAuditLogFindsACutTailWithTheHeadTheStopLogged(t *testing.T) {
	var logs logLines
	opts := app.Options{Clock: clock.NewFake(testNow), Logger: slog.New(slog.NewJSONHandler(&logs, nil))}
	ts := launch(t, testConfig(t, ""), opts)
	ts.addUser(t, "auditor", pb.Role_ROLE_AUDITOR, "orgs/system")
	created, err := ts.reports().CreateReport(ts.as(t, operatorID), &pb.CreateReportRequest{Report: validReport()})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ts.cases().GetCase(ts.as(t, operatorID), &pb.GetCaseRequest{Name: created.GetCase()}); err != nil {
		t.Fatal(err)
	}
	ts.stop()
	stopped := logged(t, logs.take(t), "audit log: the head at stop")
	seq, _ := stopped["head_seq"].(float64)
	hash, _ := stopped["head_hash"].(string)
	last := uint64(seq)

	// The case.read and the event before it cut; the head set back.
	confRawUpdate(t, ts.cfg.DBPath, func(tx *bolt.Tx) error {
		b := tx.Bucket([]byte("audit"))
		kept, err := audit.Decode(b.Get(confSeqKey(last - 2)))
		if err != nil {
			return err
		}
		return errors.Join(b.Delete(confSeqKey(last)), b.Delete(confSeqKey(last-1)),
			tx.Bucket([]byte("meta")).Put([]byte("audit_head"), append(confSeqKey(last-2), kept.Hash...)))
	})

	again := launch(t, ts.cfg, opts)
	auditor := again.as(t, "auditor")
	if v, err := again.audit().VerifyAuditLog(auditor, &pb.VerifyAuditLogRequest{}); err != nil || !v.GetIntact() {
		t.Fatalf("VerifyAuditLog without a noted head = %v, %v; the cut this test is about is found otherwise now: revisit it", v, err)
	}
	v, err := again.audit().VerifyAuditLog(auditor, &pb.VerifyAuditLogRequest{NotedHeadSeq: last, NotedHeadHash: hash})
	if err != nil {
		t.Fatal(err)
	}
	if v.GetIntact() || v.GetBrokenSeq() > last || !strings.Contains(v.GetProblem(), "noted") {
		t.Errorf("VerifyAuditLog against the head the stop logged (seq %d) = %v, want broken at or before it", last, v)
	}
}
