package process_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/childcase/childcase/internal/domain/access"
	"github.com/childcase/childcase/internal/domain/audit"
	"github.com/childcase/childcase/internal/domain/auditlog"
	"github.com/childcase/childcase/internal/domain/clock"
	"github.com/childcase/childcase/internal/domain/datastore"
	"github.com/childcase/childcase/internal/domain/intake"
	"github.com/childcase/childcase/internal/domain/model"
	"github.com/childcase/childcase/internal/domain/process"
	"github.com/childcase/childcase/internal/storage/boltstore"
	"github.com/childcase/childcase/internal/storage/memstore"
)

// replayWorld is an engine over store whose outbox holds, after its seq
// from, n notifications of the commune worker's cases seen (round robin)
// and, with others, as many of a case of another commune, which the
// worker may not see, in turn with them.
type replayWorld struct {
	eng   *process.Engine
	store datastore.Store
	clk   *clock.Fake
	seen  []string // the worker's cases, "cases/{number}"
	other string   // a case of another commune
	from  uint64   // the outbox head before the n notifications
}

// replay watches from the world's first notification as the Ba Đình
// worker until n notifications have come, and returns them.
func (w *replayWorld) replay(t *testing.T, n int) []model.Notification {
	t.Helper()
	got := make([]model.Notification, 0, n)
	errDone := errors.New("done")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	err := w.eng.Watch(ctx, principal("worker.badinh"), w.from, "", nil, func(nt model.Notification) error {
		got = append(got, nt)
		if len(got) == n {
			return errDone
		}
		return nil
	})
	if !errors.Is(err, errDone) {
		t.Fatalf("the replay ended with %v after %d notifications", err, len(got))
	}
	return got
}

func newReplayWorld(t *testing.T, store datastore.Store, cases, n int, others bool) *replayWorld {
	t.Helper()
	e := loadEnv(t)
	ctx := context.Background()
	clk := clock.NewFake(start)
	w := &replayWorld{store: store, clk: clk}
	w.eng = process.New(process.Deps{Store: store, Units: e.reg, Policy: e.pol, Calendar: e.cal, Vault: e.vault, Clock: clk, Log: e.log})
	in := intake.New(intake.Deps{Store: store, Units: e.reg, Vault: e.vault, Clock: clk, Log: e.log, Cases: w.eng})
	open := func(code string) string {
		age := int32(9)
		out, err := in.CreateReport(ctx, principal("operator"), intake.CreateReportInput{
			Report: model.Report{
				Channel: 1, ReceiveTime: start.Add(-time.Hour), CallType: model.CallIntervention,
				Children:  []model.Child{{FullName: "Nguyễn Văn An", EstimatedAge: &age, Sex: 1}},
				Narrative: "trẻ bị đánh", SuspectedAbuse: []model.AbuseForm{1}, Reporter: model.Reporter{Anonymous: true},
			},
			IncidentCommuneCode: code,
		})
		if err != nil {
			t.Fatal(err)
		}
		return access.CaseResource(out.CaseNumber)
	}
	for range cases {
		w.seen = append(w.seen, open("00004"))
	}
	w.other = open("00091")
	if err := store.View(ctx, func(tx datastore.ReadTx) (err error) {
		w.from, err = tx.OutboxHead()
		return err
	}); err != nil {
		t.Fatal(err)
	}
	// Written in pages, as steps write them: a few per commit.
	for done := 0; done < n; {
		var ns []model.Notification
		for ; done < n && len(ns) < 100; done++ {
			c := w.seen[done%len(w.seen)]
			ns = append(ns, model.Notification{Time: start, Kind: "WARNING", Case: c, Units: []string{unitBaDinh}, DeadlineID: 1, Detail: "half of the time to acknowledge has passed"})
			if others {
				ns = append(ns, model.Notification{Time: start, Kind: "WARNING", Case: w.other, Units: []string{unitOther}, DeadlineID: 1, Detail: "half of the time to acknowledge has passed"})
			}
		}
		err := store.Update(ctx, func(tx datastore.Tx) error {
			_, err := tx.AppendNotifications(ns...)
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	return w
}

// notificationReads lists, through the audit listing by q, the
// notification.read events.
func notificationReads(t *testing.T, store datastore.Store, q auditlog.Query) []audit.Event {
	t.Helper()
	// A read's events wait for their index entries until a later commit
	// or a listing (auditlog.List writes them first, as this must).
	if err := store.IndexAuditEvents(context.Background()); err != nil {
		t.Fatal(err)
	}
	var out []audit.Event
	for {
		q.Limit = 1000
		var page []audit.Event
		var next string
		err := store.View(context.Background(), func(tx datastore.ReadTx) (err error) {
			page, next, err = tx.ListAuditEvents(q)
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range page {
			if e.Action == "notification.read" {
				out = append(out, e)
			}
		}
		if next == "" {
			return out
		}
		q.After = next
	}
}

// seqsOf returns the notification seqs an event of a watch says it
// delivered: its resource's, and those its reason lists.
func seqsOf(e audit.Event) []uint64 {
	var seqs []uint64
	var first uint64
	if _, err := fmt.Sscanf(e.Resource, "notifications/%d", &first); err == nil {
		seqs = append(seqs, first)
	}
	if _, list, ok := strings.Cut(e.Reason, "seq "); ok {
		for f := range strings.SplitSeq(list, ", ") {
			var s uint64
			if _, err := fmt.Sscanf(f, "%d", &s); err == nil && !slices.Contains(seqs, s) {
				seqs = append(seqs, s)
			}
		}
	}
	return seqs
}

// replayBound is how many events a replay that sent ns may write: one per
// case per 200 of its notifications.
func replayBound(ns []model.Notification) int {
	perCase := map[string]int{}
	for _, n := range ns {
		perCase[n.Case]++
	}
	bound := 0
	for _, k := range perCase {
		bound += (k + 199) / 200
	}
	return bound
}

// A replay of many notifications of a few cases writes one audit event per
// case (per 200 of its notifications), not one per notification: after_seq
// up to process.MaxWatchReplay back let any signed-in user write 10,000
// events with one call, reads that may draw on the space kept for reads
// on a full disk. Each event still names the notifications of its case it
// stands for (the first in its resource, all in its reason), is on its
// case's trail and the user's, and no event is written for a case the
// user was not told of.
func TestAReplayAuditsEachCaseOncePerBatch(t *testing.T) {
	const cases, n = 3, 1000
	w := newReplayWorld(t, memstore.New(), cases, n, true)
	got := w.replay(t, n)
	byActor := notificationReads(t, w.store, auditlog.Query{Actor: "worker.badinh"})
	if bound := replayBound(got); len(byActor) > bound {
		t.Errorf("a replay of %d notifications of %d cases wrote %d notification.read events, want at most %d (one per case per 200 of its notifications)", n, cases, len(byActor), bound)
	}
	told := map[uint64]string{} // seq: case, as the events say
	for _, e := range byActor {
		if !slices.Contains(w.seen, e.Case) || e.Outcome != audit.OutcomeOK {
			t.Errorf("an event of a notification the worker was not sent: %+v", e)
		}
		for _, s := range seqsOf(e) {
			if c, twice := told[s]; twice {
				t.Errorf("notification %d (%s) is named by two events", s, c)
			}
			told[s] = e.Case
		}
	}
	for _, nt := range got {
		if told[nt.Seq] != nt.Case {
			t.Errorf("notification %d of %s was sent, but no event on its case names it (events name it on %q)", nt.Seq, nt.Case, told[nt.Seq])
		}
	}
	if len(told) != len(got) {
		t.Errorf("the events name %d notifications, %d were sent", len(told), len(got))
	}
	// The listing by case finds each case's events, the same as by actor.
	for _, c := range w.seen {
		var want []uint64
		for _, e := range byActor {
			if e.Case == c {
				want = append(want, e.Seq)
			}
		}
		var have []uint64
		for _, e := range notificationReads(t, w.store, auditlog.Query{Case: c}) {
			have = append(have, e.Seq)
		}
		if len(want) == 0 || !slices.Equal(have, want) {
			t.Errorf("the audit listing of %s holds the watch's events %v, by actor %v", c, have, want)
		}
	}
	if other := notificationReads(t, w.store, auditlog.Query{Case: w.other}); len(other) != 0 {
		t.Errorf("events of a case the worker may not see: %+v", other)
	}
}

// A live watch still audits each case it delivers, before it sends: one
// notification alone is named by its own resource, as before.
func TestALiveWatchAuditsEachCaseItDelivers(t *testing.T) {
	w := newReplayWorld(t, memstore.New(), 2, 0, false)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	sent := make(chan model.Notification)
	done := make(chan error, 1)
	live := make(chan struct{})
	go func() {
		done <- w.eng.Watch(ctx, principal("worker.badinh"), 0, "", func(uint64) error { close(live); return nil }, func(n model.Notification) error {
			// Its event is on the record before it is sent.
			for _, e := range notificationReads(t, w.store, auditlog.Query{Case: n.Case}) {
				if e.Resource == access.NotificationResource(n.Seq) {
					sent <- n
					return nil
				}
			}
			return fmt.Errorf("notification %d of %s sent before its event was written", n.Seq, n.Case)
		})
	}()
	<-live
	for _, c := range w.seen {
		if err := w.store.Update(ctx, func(tx datastore.Tx) error {
			_, err := tx.AppendNotifications(model.Notification{Time: start, Kind: "WARNING", Case: c, Units: []string{unitBaDinh}, DeadlineID: 1})
			return err
		}); err != nil {
			t.Fatal(err)
		}
		select {
		case n := <-sent:
			if n.Case != c {
				t.Errorf("sent a notification of %s, want %s", n.Case, c)
			}
		case err := <-done:
			t.Fatalf("the watch ended: %v", err)
		case <-time.After(10 * time.Second):
			t.Fatalf("the notification of %s was not sent", c)
		}
		events := notificationReads(t, w.store, auditlog.Query{Actor: "worker.badinh"})
		if len(events) == 0 || events[0].Case != c || events[0].Reason != "" {
			t.Errorf("after a notification of %s, the worker's newest notification.read is %+v, want one on %s naming it alone", c, events, c)
		}
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("the watch ended with %v", err)
	}
}

// The figures README ("Audit") gives for a replay: audit events written
// and database bytes (bbolt's high-water mark) for a replay of
// process.MaxWatchReplay notifications of 1, 10 and 200 cases in turn, on
// bbolt. The bound is that of TestAReplayAuditsEachCaseOncePerBatch; the
// test logs the figures.
func TestAReplaysAuditCostOnDisk(t *testing.T) {
	if testing.Short() {
		t.Skip("writes and replays 10,000 notifications")
	}
	for _, cases := range []int{1, 10, 200} {
		t.Run(fmt.Sprint(cases), func(t *testing.T) {
			s, err := boltstore.Open(filepath.Join(t.TempDir(), "db"), boltstore.Options{NoSync: true})
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			n := process.MaxWatchReplay
			w := newReplayWorld(t, s, cases, n, false)
			before, err := s.Gauges()
			if err != nil {
				t.Fatal(err)
			}
			got := w.replay(t, n)
			after, err := s.Gauges()
			if err != nil {
				t.Fatal(err)
			}
			events := notificationReads(t, s, auditlog.Query{Actor: "worker.badinh"})
			t.Logf("a replay of %d notifications of %d cases: %d notification.read events, %d commits, database %d -> %d bytes (+%d)",
				n, cases, len(events), after.Commits-before.Commits, before.SizeBytes, after.SizeBytes, after.SizeBytes-before.SizeBytes)
			if bound := replayBound(got); len(events) > bound {
				t.Errorf("%d events, want at most %d", len(events), bound)
			}
		})
	}
}

// A replay of notifications of as many cases writes as many events: they
// are committed at most 200 at a time, as a live watch's batch, so that a
// replay of 10,000 notifications of 10,000 cases does not make one commit
// of megabytes, past etcd's bound on a request.
func TestAReplayOfManyCasesCommitsItsEventsAPageAtATime(t *testing.T) {
	s, err := boltstore.Open(filepath.Join(t.TempDir(), "db"), boltstore.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	const cases = 450
	w := newReplayWorld(t, s, cases, cases, false)
	before, err := s.Gauges()
	if err != nil {
		t.Fatal(err)
	}
	w.replay(t, cases)
	after, err := s.Gauges()
	if err != nil {
		t.Fatal(err)
	}
	events := notificationReads(t, s, auditlog.Query{Actor: "worker.badinh"})
	if len(events) != cases {
		t.Errorf("a replay of one notification of each of %d cases wrote %d events, want one each", cases, len(events))
	}
	// The opening's commit, then one per 200 events.
	if commits := after.Commits - before.Commits; commits < 1+(cases+199)/200 {
		t.Errorf("%d events were written in %d commits, the opening's among them; want at most 200 in each", len(events), commits)
	}
}
