package app_test

import (
	"context"
	"testing"
	"time"

	"google.golang.org/grpc/codes"

	pb "github.com/childcase/childcase/api/childcase/v1"
	"github.com/childcase/childcase/internal/app"
	"github.com/childcase/childcase/internal/domain/clock"
)

// TestTheLeaderPrunesTheOutbox: the outbox did not stop growing, every
// notification ever made stayed. With --outbox-retention of two days, the
// leader's duty prunes the notifications made more than two days ago,
// the metrics show the oldest kept (childcase_outbox_tail_seq), and a
// watch resumed before it is refused naming after_seq and the rule
// after_seq.pruned, rather than skipping the pruned ones without a word.
func TestTheLeaderPrunesTheOutbox(t *testing.T) {
	start := hn(2026, 3, 16, 9, 0) // a Monday
	cfg := testConfig(t, "")
	cfg.MetricsAddr = "127.0.0.1:0"
	cfg.OutboxRetention = 48 * time.Hour
	ts := launch(t, cfg, app.Options{Clock: clock.NewFake(start), NoSync: true, SchedulerPoll: 5 * time.Millisecond,
		WatchPoll: time.Hour, OutboxPruneEvery: 20 * time.Millisecond})
	ts.addUser(t, "bd.worker", pb.Role_ROLE_COMMUNE_WORKER, pBaDinh)
	first := openCase(t, ts, start.Add(-time.Hour), "00004")
	openCase(t, ts, start.Add(-time.Hour), "00004")
	if tail, ok := sample(scrape(t, ts), "childcase_outbox_tail_seq", nil); !ok || tail != 1 {
		t.Fatalf("childcase_outbox_tail_seq = %v (present %v) before any prune, want 1", tail, ok)
	}
	// A watch after seq 1 is taken while 2 is kept.
	watch(t, ts, "bd.worker", 1)

	// Three days on, the cases' clocks have warned, breached and
	// escalated (new notifications); the two new cases' are two days old.
	ts.setClock(t, start.Add(3*24*time.Hour))
	waitEvents(t, ts, "bd.worker", first, "ESCALATED", 0, 1)
	var tail float64
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if tail, _ = sample(scrape(t, ts), "childcase_outbox_tail_seq", nil); tail > 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("childcase_outbox_tail_seq is still %v 10 s after the notifications were older than the retention", tail)
		}
	}
	head, _ := sample(scrape(t, ts), "childcase_outbox_head_seq", nil)
	if tail > head {
		t.Errorf("childcase_outbox_tail_seq %v is past the head %v", tail, head)
	}

	ctx, cancel := context.WithTimeout(ts.as(t, "bd.worker"), 5*time.Second)
	defer cancel()
	stream, err := ts.process().WatchEvents(ctx, &pb.WatchEventsRequest{AfterSeq: 1})
	if err == nil {
		_, err = stream.Recv()
	}
	st := wantCode(t, err, codes.InvalidArgument)
	if v := fieldViolation(st, "after_seq"); v == nil || v.GetReason() != "after_seq.pruned" {
		t.Errorf("a watch after seq 1 once pruned: %v (%s); want after_seq refused by after_seq.pruned", v, st.Message())
	}
	// Resumed just before the oldest kept, it is taken.
	watch(t, ts, "bd.worker", uint64(tail)-1)
}
