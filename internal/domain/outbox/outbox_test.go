package outbox

import (
	"context"
	"testing"
	"time"

	"github.com/childcase/childcase/internal/domain/audit"
	"github.com/childcase/childcase/internal/domain/datastore"
	"github.com/childcase/childcase/internal/domain/model"
	"github.com/childcase/childcase/internal/storage/memstore"
)

func appendN(t *testing.T, s datastore.Store, n int) {
	t.Helper()
	ns := make([]model.Notification, n)
	for i := range ns {
		ns[i] = model.Notification{Time: time.Date(2026, 3, 14, 2, 0, 0, 0, time.UTC), Kind: "BREACH", Case: "cases/HN-2026-00001", DeadlineID: i + 1}
	}
	err := s.Update(context.Background(), func(tx datastore.Tx) error {
		_, err := tx.AppendNotifications(ns...)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}

func seqs(ns []model.Notification) []uint64 {
	out := make([]uint64, len(ns))
	for i, n := range ns {
		out[i] = n.Seq
	}
	return out
}

func TestStartAtTheEndThenResume(t *testing.T) {
	ctx := context.Background()
	s := memstore.New()
	ob := New(s)
	appendN(t, s, 3)

	// A deliverer the store has never seen does not replay history.
	cur, err := ob.Start(ctx, "ops")
	if err != nil || cur != 3 {
		t.Fatalf("first Start = %d, %v; want 3 (the end of the outbox)", cur, err)
	}
	appendN(t, s, 2)
	got, err := ob.Read(ctx, cur, 10)
	if err != nil || len(got) != 2 || got[0].Seq != 4 || got[1].Seq != 5 {
		t.Fatalf("Read after %d = seqs %v, %v; want [4 5]", cur, seqs(got), err)
	}
	if got, err := ob.Read(ctx, 0, 2); err != nil || len(got) != 2 || got[0].Seq != 1 {
		t.Fatalf("Read(0, 2) = seqs %v, %v; want [1 2]", seqs(got), err)
	}
	if err := ob.Acknowledge(ctx, "ops", got[0]); err != nil {
		t.Fatal(err)
	}
	// A restart resumes after the last acknowledged seq.
	if cur, err := ob.Start(ctx, "ops"); err != nil || cur != 4 {
		t.Fatalf("Start after acknowledging 4 = %d, %v; want 4", cur, err)
	}
	// Another deliverer has its own cursor.
	if cur, err := ob.Start(ctx, "audit-sink"); err != nil || cur != 5 {
		t.Fatalf("Start of a second deliverer = %d, %v; want 5", cur, err)
	}
}

// A deliverer registered while the outbox was empty has cursor 0; after a
// restart it must still get what was appended meanwhile, not be taken for
// a new one and start at the end.
func TestRegisteredOnAnEmptyOutboxKeepsItsPlace(t *testing.T) {
	ctx := context.Background()
	s := memstore.New()
	ob := New(s)
	if cur, err := ob.Start(ctx, "ops"); err != nil || cur != 0 {
		t.Fatalf("Start on an empty outbox = %d, %v; want 0", cur, err)
	}
	appendN(t, s, 2)
	if cur, err := ob.Start(ctx, "ops"); err != nil || cur != 0 {
		t.Fatalf("Start again = %d, %v; want 0 (nothing was acknowledged)", cur, err)
	}
}

// A delivery is audited before it is sent: the notification leaves the
// service, so its case's trail shows to which webhook; its acknowledgement
// moves the cursor and writes nothing more.
func TestSendingAuditsTheDelivery(t *testing.T) {
	ctx := context.Background()
	s := memstore.New()
	ob := New(s)
	appendN(t, s, 2)
	if _, err := ob.Start(ctx, "so-y-te"); err != nil {
		t.Fatal(err)
	}
	ns, err := ob.Read(ctx, 0, 10)
	if err != nil || len(ns) != 2 {
		t.Fatalf("Read: %v, %v", seqs(ns), err)
	}
	at := time.Date(2026, 12, 5, 3, 0, 0, 0, time.UTC)
	if err := ob.Sending(ctx, "so-y-te", ns[1], at); err != nil {
		t.Fatal(err)
	}
	if err := ob.Acknowledge(ctx, "so-y-te", ns[1]); err != nil {
		t.Fatal(err)
	}
	var events []audit.Event
	err = s.View(ctx, func(tx datastore.ReadTx) error {
		for e, err := range tx.AuditEvents(1) {
			if err != nil {
				return err
			}
			events = append(events, e)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(events) != 1 {
		t.Fatalf("%d audit events after one delivery, want 1: %+v", len(events), events)
	}
	e := events[0]
	if e.Action != "notification.deliver" || e.Resource != "notifications/2" || e.Case != ns[1].Case ||
		e.Reason != "to webhook so-y-te" || e.Outcome != audit.OutcomeOK || !e.Time.Equal(at) {
		t.Errorf("the delivery's audit event: %+v", e)
	}
}

// Leadership can overlap for a moment on a shared store: an instance that
// lost it without knowing may still acknowledge a notification that the
// new leader delivered and acknowledged past. Its older acknowledgement
// does not move the cursor back, which would have the next leader deliver
// again everything in between.
func TestAcknowledgeNeverMovesTheCursorBack(t *testing.T) {
	ctx := context.Background()
	s := memstore.New()
	ob := New(s)
	if _, err := ob.Start(ctx, "ops"); err != nil {
		t.Fatal(err)
	}
	appendN(t, s, 5)
	got, err := ob.Read(ctx, 0, 5)
	if err != nil || len(got) != 5 {
		t.Fatalf("Read = %v, %v", seqs(got), err)
	}
	for _, n := range []model.Notification{got[4], got[1]} { // the new leader's, then the old one's
		if err := ob.Acknowledge(ctx, "ops", n); err != nil {
			t.Fatal(err)
		}
	}
	if cur, err := ob.Start(ctx, "ops"); err != nil || cur != 5 {
		t.Fatalf("Start after acknowledging 5, then 2 = %d, %v; want 5", cur, err)
	}
}
