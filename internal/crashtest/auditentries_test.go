package crashtest

import (
	"context"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	pb "github.com/childcase/childcase/api/childcase/v1"
	"github.com/childcase/childcase/internal/storage/boltstore"
)

// TestKillBeforeReadsAuditEntries SIGKILLs the server right after it
// answered a run of GetCase calls, whose audit events a file store commits
// without their index entries (by case, by actor, by time), leaving those
// for a later commit. The file must hold every read's event, `check` must
// pass it (naming the events that wait), and after the restart a listing
// by case, by actor and by time must show every read, with `check` of
// the stopped server then finding none waiting.
func TestKillBeforeReadsAuditEntries(t *testing.T) {
	h := newOpsHarness(t)
	book := &opsBook{}
	h.seedCases(book, 3)
	const reads = 40
	began := time.Now().Add(-time.Second)
	cl := h.dial()
	perCase := map[string]int{}
	for i := range reads {
		c := book.cases[i%len(book.cases)]
		if _, err := cl.cases.GetCase(h.as(context.Background(), userCity), &pb.GetCaseRequest{Name: c.caseName}); err != nil {
			t.Fatalf("GetCase %s: %v", c.caseName, err)
		}
		perCase[c.caseName]++
	}
	cl.close()
	h.srv.kill()
	h.srv = nil

	res, err := boltstore.Check(context.Background(), h.db)
	if err != nil {
		t.Fatalf("boltstore.Check after the kill: %v", err)
	}
	if !res.OK() {
		t.Fatalf("check after the kill: %v", res.Problems)
	}
	// Nothing but the reads wrote after them: their events, or at least
	// the last ones, still wait for their entries, or the test tested
	// nothing.
	if res.AuditUnindexed == 0 {
		t.Fatalf("after %d reads and a kill, no audit event waits for its index entries: the reads' commits wrote them", reads)
	}
	if code, out := runTool(t, "check", "--db", h.db); code != 0 || !strings.Contains(out, "awaiting their index entries") {
		t.Fatalf("childcase check after the kill: exit %d, want 0 and the events awaiting their entries named:\n%s", code, out)
	}
	t.Logf("after the kill, %d audit events of %d wait for their index entries", res.AuditUnindexed, res.AuditEvents)

	h.srv = h.start()
	cl = h.dial()
	ctx := h.as(context.Background(), userAuditor)
	count := func(req *pb.ListAuditEventsRequest) int {
		t.Helper()
		req.Action, req.PageSize = "case.read", 1000
		resp, err := cl.audit.ListAuditEvents(ctx, req)
		if err != nil {
			t.Fatalf("ListAuditEvents %v: %v", req, err)
		}
		return len(resp.GetEvents())
	}
	for name, want := range perCase {
		if got := count(&pb.ListAuditEventsRequest{Case: name}); got != want {
			t.Errorf("after the restart, a listing by case %s shows %d of its %d reads", name, got, want)
		}
	}
	if got := count(&pb.ListAuditEventsRequest{Actor: "users/" + userCity}); got != reads {
		t.Errorf("after the restart, a listing by actor shows %d of the %d reads", got, reads)
	}
	if got := count(&pb.ListAuditEventsRequest{StartTime: timestamppb.New(began)}); got != reads {
		t.Errorf("after the restart, a listing by time shows %d of the %d reads", got, reads)
	}
	cl.close()
	if err := h.srv.stop(); err != nil {
		t.Fatalf("stop the server: %v", err)
	}
	h.srv = nil
	res, err = boltstore.Check(context.Background(), h.db)
	if err != nil || !res.OK() || res.AuditUnindexed != 0 {
		t.Errorf("check of the stopped server: err %v, problems %v, %d events waiting for their entries; want none", err, res.Problems, res.AuditUnindexed)
	}
}
