package storagetest

import (
	"context"
	"errors"
	"fmt"
	"math"
	"reflect"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/childcase/childcase/internal/domain/datastore"
	"github.com/childcase/childcase/internal/domain/model"
)

// The process records: case timelines, scheduler timers, the outbox and
// delivery cursors.

var caseByIDTests = []namedTest{
	{"FixtureFillsEveryField", testCaseFixtureIsFull},
	{"RoundTrip", testCaseByIDRoundTrip},
	{"NotFound", testCaseByIDNotFound},
	{"LastCaseID", testLastCaseID},
}

var caseEventTests = []namedTest{
	{"AppendAssignsSeqs", testCaseEventsAppend},
	{"RoundTrip", testCaseEventsRoundTrip},
	{"PerCase", testCaseEventsPerCase},
	{"Paging", testCaseEventsPaging},
	{"NewestFirst", testCaseEventsNewestFirst},
	{"UnknownCase", testCaseEventsUnknownCase},
}

var timerTests = []namedTest{
	{"PutAndNext", testTimerPutAndNext},
	{"RoundTripInUTC", testTimerRoundTrip},
	{"DueBoundaries", testTimerDueBoundaries},
	{"SameInstant", testTimerSameInstant},
	{"PutIsIdempotent", testTimerPutIdempotent},
	{"Delete", testTimerDelete},
	{"RefusesOutOfRange", testTimerRefusesOutOfRange},
}

var outboxTests = []namedTest{
	{"AppendAssignsSeqs", testOutboxAppend},
	{"RoundTrip", testOutboxRoundTrip},
	{"Paging", testOutboxPaging},
	{"Prune", testOutboxPrune},
	{"PruneKeepsTheHead", testOutboxPruneKeepsTheHead},
	{"PruneRollsBack", testOutboxPruneRollsBack},
}

var cursorTests = []namedTest{
	{"RoundTrip", testCursorRoundTrip},
	{"RefusesBadNames", testCursorBadNames},
}

var processTxTests = []namedTest{
	{"RollbackLeavesNothing", testProcessRollback},
	{"RollbackOfTheFirstEntries", testProcessRollbackFromEmpty},
	{"BatchFailuresLeaveNoGaps", testProcessBatchNoGaps},
}

// ---------------------------------------------------------------------------
// Fixtures and helpers

func sampleCaseEvent(i int) model.CaseEvent {
	return model.CaseEvent{
		Time:       baseTime.Add(time.Duration(i)*time.Minute + time.Duration(i)),
		Actor:      fmt.Sprintf("user-%d", i),
		Kind:       fmt.Sprintf("KIND_%d", i),
		Detail:     fmt.Sprintf("detail %d: Điều %d", i, 140+i),
		DeadlineID: i,
	}
}

func sampleCaseEvents(from, n int) []model.CaseEvent {
	out := make([]model.CaseEvent, n)
	for i := range out {
		out[i] = sampleCaseEvent(from + i)
	}
	return out
}

func sampleNotification(i int) model.Notification {
	return model.Notification{
		Time:       baseTime.Add(time.Duration(i)*time.Second + time.Duration(i)),
		Kind:       fmt.Sprintf("KIND_%d", i),
		Case:       fmt.Sprintf("cases/HN-2026-%05d", i),
		Units:      []string{"units/00004", fmt.Sprintf("units/%05d", 100+i)},
		DeadlineID: i,
		Detail:     fmt.Sprintf("notification %d", i),
	}
}

func sampleNotifications(from, n int) []model.Notification {
	out := make([]model.Notification, n)
	for i := range out {
		out[i] = sampleNotification(from + i)
	}
	return out
}

// eventsWithSeqs returns a copy of the events with Seq set from first on.
func eventsWithSeqs(es []model.CaseEvent, first uint64) []model.CaseEvent {
	out := slices.Clone(es)
	for i := range out {
		out[i].Seq = first + uint64(i)
	}
	return out
}

func notificationsWithSeqs(ns []model.Notification, first uint64) []model.Notification {
	out := slices.Clone(ns)
	for i := range out {
		out[i].Seq = first + uint64(i)
	}
	return out
}

// sameList reports how two lists of records differ, comparing them as
// canonical (times as instants, nil and empty slices alike), or "".
func sameList[T any](got, want []T) string {
	if len(got) != len(want) {
		return fmt.Sprintf("%d entries, want %d:\n got  %+v\n want %+v", len(got), len(want), got, want)
	}
	for i := range got {
		if d := fieldDiffs(canonical(got[i]), canonical(want[i])); d != "" {
			return fmt.Sprintf("entry %d: %s", i, d)
		}
	}
	return ""
}

func appendEvents(t *testing.T, s datastore.Store, caseID uint64, es ...model.CaseEvent) []model.CaseEvent {
	t.Helper()
	var out []model.CaseEvent
	update(t, s, func(tx datastore.Tx) error {
		var err error
		out, err = tx.AppendCaseEvents(caseID, es...)
		return err
	})
	return out
}

func readEvents(t *testing.T, s datastore.Store, caseID, after uint64, limit int) []model.CaseEvent {
	t.Helper()
	es, err := readOne(t, s, func(tx datastore.ReadTx) ([]model.CaseEvent, error) { return tx.CaseEvents(caseID, after, limit) })
	if err != nil {
		t.Fatalf("CaseEvents(%d, %d, %d): %v", caseID, after, limit, err)
	}
	return es
}

func eventSeqs(es []model.CaseEvent) []uint64 {
	out := make([]uint64, len(es))
	for i, e := range es {
		out[i] = e.Seq
	}
	return out
}

func appendNotifications(t *testing.T, s datastore.Store, ns ...model.Notification) []model.Notification {
	t.Helper()
	var out []model.Notification
	update(t, s, func(tx datastore.Tx) error {
		var err error
		out, err = tx.AppendNotifications(ns...)
		return err
	})
	return out
}

func readNotifications(t *testing.T, s datastore.Store, after uint64, limit int) []model.Notification {
	t.Helper()
	ns, err := readOne(t, s, func(tx datastore.ReadTx) ([]model.Notification, error) { return tx.Notifications(after, limit) })
	if err != nil {
		t.Fatalf("Notifications(%d, %d): %v", after, limit, err)
	}
	return ns
}

func notificationSeqs(ns []model.Notification) []uint64 {
	out := make([]uint64, len(ns))
	for i, n := range ns {
		out[i] = n.Seq
	}
	return out
}

func outboxHead(t *testing.T, s datastore.Store) uint64 {
	t.Helper()
	h, err := readOne(t, s, func(tx datastore.ReadTx) (uint64, error) { return tx.OutboxHead() })
	if err != nil {
		t.Fatalf("OutboxHead: %v", err)
	}
	return h
}

func seqRange(first, last uint64) []uint64 {
	var out []uint64
	for s := first; s <= last; s++ {
		out = append(out, s)
	}
	return out
}

func putTimers(t *testing.T, s datastore.Store, ts ...model.Timer) {
	t.Helper()
	update(t, s, func(tx datastore.Tx) error {
		for _, tm := range ts {
			if err := tx.PutTimer(tm); err != nil {
				return fmt.Errorf("PutTimer(%+v): %w", tm, err)
			}
		}
		return nil
	})
}

func dueTimers(t *testing.T, s datastore.Store, until time.Time, limit int) []model.Timer {
	t.Helper()
	ts, err := readOne(t, s, func(tx datastore.ReadTx) ([]model.Timer, error) { return tx.DueTimers(until, limit) })
	if err != nil {
		t.Fatalf("DueTimers(%v, %d): %v", until, limit, err)
	}
	return ts
}

// allTimers returns every stored timer, earliest first.
func allTimers(t *testing.T, s datastore.Store) []model.Timer {
	t.Helper()
	return dueTimers(t, s, time.Unix(0, math.MaxInt64), 10000)
}

func nextTimer(t *testing.T, s datastore.Store) (model.Timer, bool) {
	t.Helper()
	var tm model.Timer
	var ok bool
	view(t, s, func(tx datastore.ReadTx) error {
		var err error
		tm, ok, err = tx.NextTimer()
		return err
	})
	return tm, ok
}

// sameTimers reports how got differs from want, or "": a timer comes back
// with the same instant, to the nanosecond, in UTC.
func sameTimers(got, want []model.Timer) string {
	if len(got) != len(want) {
		return fmt.Sprintf("%d timers, want %d:\n got  %v\n want %v", len(got), len(want), got, want)
	}
	for i := range got {
		if d := sameTimer(got[i], want[i]); d != "" {
			return fmt.Sprintf("timer %d: %s", i, d)
		}
	}
	return ""
}

func sameTimer(got, want model.Timer) string {
	switch {
	case !got.At.Equal(want.At):
		return fmt.Sprintf("At = %s, want %s", got.At.Format(time.RFC3339Nano), want.At.UTC().Format(time.RFC3339Nano))
	case got.At.Location() != time.UTC:
		return fmt.Sprintf("At = %v is in %v, want UTC", got.At, got.At.Location())
	case got.CaseID != want.CaseID || got.DeadlineID != want.DeadlineID:
		return fmt.Sprintf("got case %d deadline %d, want case %d deadline %d", got.CaseID, got.DeadlineID, want.CaseID, want.DeadlineID)
	}
	return ""
}

func cursor(t *testing.T, s datastore.Store, name string) uint64 {
	t.Helper()
	v, err := readOne(t, s, func(tx datastore.ReadTx) (uint64, error) { return tx.Cursor(name) })
	if err != nil {
		t.Fatalf("Cursor(%q): %v", name, err)
	}
	return v
}

// ---------------------------------------------------------------------------
// CaseByID

func testCaseFixtureIsFull(t *testing.T, _ datastore.Store) {
	c := sampleCase("HN-2026-00001", unitA, model.StatusAwaitingAcknowledgement)
	unset := unsetFields("Case", []reflect.Value{reflect.ValueOf(c)})
	// ID is assigned by the store; EtagView marks a police view of a
	// case, never stored (a case read back must show its own etag).
	unset = slices.DeleteFunc(unset, func(p string) bool { return p == "Case.ID" || p == "Case.EtagView" })
	if len(unset) > 0 {
		t.Errorf("sampleCase leaves fields unset, so the suite cannot see a store lose them: %v", unset)
	}
	if unset := unsetFields("CaseEvent", []reflect.Value{reflect.ValueOf(sampleCaseEvent(1))}); !slices.Equal(unset, []string{"CaseEvent.Seq"}) {
		t.Errorf("sampleEvent leaves fields unset besides Seq: %v", unset)
	}
	if unset := unsetFields("Notification", []reflect.Value{reflect.ValueOf(sampleNotification(1))}); !slices.Equal(unset, []string{"Notification.Seq"}) {
		t.Errorf("sampleNotification leaves fields unset besides Seq: %v", unset)
	}
}

// testLastCaseID: LastCaseID is 0 before the first case, then the id of
// the newest, from which a walk down by id meets every case.
func testLastCaseID(t *testing.T, s datastore.Store) {
	last := func() uint64 {
		t.Helper()
		var id uint64
		if err := s.View(context.Background(), func(tx datastore.ReadTx) (err error) { id, err = tx.LastCaseID(); return err }); err != nil {
			t.Fatal(err)
		}
		return id
	}
	if id := last(); id != 0 {
		t.Errorf("LastCaseID of an empty store = %d, want 0", id)
	}
	cs := createCases(t, s,
		sampleCase("HN-2026-00001", unitA, model.StatusAwaitingAcknowledgement),
		sampleCase("HN-2026-00002", unitB, model.StatusClosed),
	)
	if id := last(); id != cs[1].ID || cs[0].ID >= cs[1].ID || cs[0].ID < 1 {
		t.Errorf("LastCaseID after cases of ids %d and %d = %d, want the second", cs[0].ID, cs[1].ID, id)
	}
}

func testCaseByIDRoundTrip(t *testing.T, s datastore.Store) {
	cs := createCases(t, s,
		sampleCase("HN-2026-00001", unitA, model.StatusAwaitingAcknowledgement),
		sampleCase("HN-2026-00002", unitB, model.StatusClosed),
	)
	for _, c := range cs {
		got, err := readOne(t, s, func(tx datastore.ReadTx) (model.Case, error) { return tx.CaseByID(c.ID) })
		if err != nil {
			t.Fatalf("CaseByID(%d): %v", c.ID, err)
		}
		if d := sameCase(got, c); d != "" {
			t.Errorf("CaseByID(%d) differs: %s", c.ID, d)
		}
	}

	// An update, seen in its transaction and after.
	c := cs[0]
	c.Revision++
	c.Deadlines = slices.Clone(c.Deadlines)
	c.Deadlines[1].State = model.DeadlineOpen
	c.Deadlines[1].Escalations = nil
	c.Dossier.Data = []byte{0x03, 0x00}
	update(t, s, func(tx datastore.Tx) error {
		if err := tx.UpdateCase(c); err != nil {
			return err
		}
		got, err := tx.CaseByID(c.ID)
		if err != nil {
			return fmt.Errorf("CaseByID in the updating transaction: %w", err)
		}
		if d := sameCase(got, c); d != "" {
			t.Errorf("CaseByID in the updating transaction differs: %s", d)
		}
		return nil
	})
	got, err := readOne(t, s, func(tx datastore.ReadTx) (model.Case, error) { return tx.CaseByID(c.ID) })
	if err != nil {
		t.Fatalf("CaseByID(%d) after the update: %v", c.ID, err)
	}
	if d := sameCase(got, c); d != "" {
		t.Errorf("CaseByID(%d) after the update differs: %s", c.ID, d)
	}
}

func testCaseByIDNotFound(t *testing.T, s datastore.Store) {
	c := createCases(t, s, sampleCase("HN-2026-00001", unitA, model.StatusAwaitingAcknowledgement))[0]
	for _, id := range []uint64{0, c.ID + 1, c.ID << 8, 1<<63 + c.ID, math.MaxUint64} {
		_, err := readOne(t, s, func(tx datastore.ReadTx) (model.Case, error) { return tx.CaseByID(id) })
		wantErr(t, fmt.Sprintf("CaseByID(%d)", id), err, model.ErrNotFound)
	}
}

// ---------------------------------------------------------------------------
// Case timelines

func testCaseEventsAppend(t *testing.T, s datastore.Store) {
	c := createCases(t, s, sampleCase("HN-2026-00001", unitA, model.StatusAwaitingAcknowledgement))[0]
	if got := readEvents(t, s, c.ID, 0, 10); len(got) != 0 {
		t.Errorf("CaseEvents of a new case = %v, want none", got)
	}

	in := sampleCaseEvents(1, 3)
	in[0].Seq = 99 // the store assigns seqs whatever the caller says
	got := appendEvents(t, s, c.ID, in...)
	want := eventsWithSeqs(sampleCaseEvents(1, 3), 1)
	if d := sameList(got, want); d != "" {
		t.Errorf("AppendCaseEvents returned: %s", d)
	}

	// Two calls in one transaction, reading its own writes.
	update(t, s, func(tx datastore.Tx) error {
		got, err := tx.AppendCaseEvents(c.ID, sampleCaseEvent(4))
		if err != nil {
			return err
		}
		if d := sameList(got, eventsWithSeqs(sampleCaseEvents(4, 1), 4)); d != "" {
			t.Errorf("second AppendCaseEvents returned: %s", d)
		}
		got, err = tx.AppendCaseEvents(c.ID, sampleCaseEvents(5, 2)...)
		if err != nil {
			return err
		}
		if seqs := eventSeqs(got); !slices.Equal(seqs, []uint64{5, 6}) {
			t.Errorf("third AppendCaseEvents in one transaction assigned %v, want [5 6]", seqs)
		}
		all, err := tx.CaseEvents(c.ID, 0, 100)
		if err != nil {
			return err
		}
		if seqs := eventSeqs(all); !slices.Equal(seqs, seqRange(1, 6)) {
			t.Errorf("CaseEvents inside the transaction = %v, want 1..6", seqs)
		}
		return nil
	})
	if d := sameList(readEvents(t, s, c.ID, 0, 100), eventsWithSeqs(sampleCaseEvents(1, 6), 1)); d != "" {
		t.Errorf("CaseEvents after the appends: %s", d)
	}

	// Appending nothing changes nothing.
	update(t, s, func(tx datastore.Tx) error {
		got, err := tx.AppendCaseEvents(c.ID)
		if err != nil || len(got) != 0 {
			t.Errorf("AppendCaseEvents with no events = %v, %v; want none, nil", got, err)
		}
		return nil
	})
	if got := appendEvents(t, s, c.ID, sampleCaseEvent(7)); !slices.Equal(eventSeqs(got), []uint64{7}) {
		t.Errorf("AppendCaseEvents after an empty append assigned %v, want [7]", eventSeqs(got))
	}
}

func testCaseEventsRoundTrip(t *testing.T, s datastore.Store) {
	c := createCases(t, s, sampleCase("HN-2026-00001", unitA, model.StatusAwaitingAcknowledgement))[0]
	vn := time.FixedZone("ICT", 7*3600)
	es := []model.CaseEvent{
		{Time: baseTime.In(vn), Actor: "hoa.le", Kind: "ACKNOWLEDGED", Detail: "nhận ca \x00 ✓", DeadlineID: 3},
		{Time: baseTime.Add(time.Nanosecond), Actor: "system", Kind: "DEADLINE_WARNING"},
		{}, // nothing but a seq
	}
	appendEvents(t, s, c.ID, es...)
	if d := sameList(readEvents(t, s, c.ID, 0, 10), eventsWithSeqs(es, 1)); d != "" {
		t.Errorf("CaseEvents: %s", d)
	}
}

// testCaseEventsPerCase numbers each case's events on its own, the later
// case first, so a store that looks at the last event of another case is
// caught.
func testCaseEventsPerCase(t *testing.T, s datastore.Store) {
	cs := createCases(t, s,
		sampleCase("HN-2026-00001", unitA, model.StatusAwaitingAcknowledgement),
		sampleCase("HN-2026-00002", unitA, model.StatusAwaitingAcknowledgement),
		sampleCase("HN-2026-00003", unitA, model.StatusAwaitingAcknowledgement),
	)
	a, b, c := cs[0].ID, cs[1].ID, cs[2].ID
	steps := []struct {
		caseID uint64
		n      int
		want   []uint64
	}{
		{b, 3, []uint64{1, 2, 3}},
		{a, 1, []uint64{1}},
		{c, 2, []uint64{1, 2}},
		{b, 1, []uint64{4}},
		{a, 2, []uint64{2, 3}},
	}
	for i, st := range steps {
		got := appendEvents(t, s, st.caseID, sampleCaseEvents(10*i, st.n)...)
		if seqs := eventSeqs(got); !slices.Equal(seqs, st.want) {
			t.Errorf("step %d: AppendCaseEvents(case %d) assigned %v, want %v", i, st.caseID, seqs, st.want)
		}
	}
	// Two cases in one transaction.
	update(t, s, func(tx datastore.Tx) error {
		for _, st := range []struct {
			caseID uint64
			want   uint64
		}{{c, 3}, {a, 4}, {c, 4}} {
			got, err := tx.AppendCaseEvents(st.caseID, sampleCaseEvent(int(st.want)))
			if err != nil {
				return err
			}
			if seqs := eventSeqs(got); !slices.Equal(seqs, []uint64{st.want}) {
				t.Errorf("AppendCaseEvents(case %d) in a shared transaction assigned %v, want [%d]", st.caseID, seqs, st.want)
			}
		}
		return nil
	})
	for _, w := range []struct {
		caseID uint64
		kinds  []string
	}{
		{a, []string{"KIND_10", "KIND_40", "KIND_41", "KIND_4"}},
		{b, []string{"KIND_0", "KIND_1", "KIND_2", "KIND_30"}},
		{c, []string{"KIND_20", "KIND_21", "KIND_3", "KIND_4"}},
	} {
		got := readEvents(t, s, w.caseID, 0, 100)
		var kinds []string
		for _, e := range got {
			kinds = append(kinds, e.Kind)
		}
		if !slices.Equal(kinds, w.kinds) || !slices.Equal(eventSeqs(got), seqRange(1, 4)) {
			t.Errorf("CaseEvents(case %d) = seqs %v kinds %v, want 1..4 %v", w.caseID, eventSeqs(got), kinds, w.kinds)
		}
	}
	if got := readEvents(t, s, c+1, 0, 100); len(got) != 0 {
		t.Errorf("CaseEvents of a case with no events = %v, want none", got)
	}
}

func testCaseEventsPaging(t *testing.T, s datastore.Store) {
	cs := createCases(t, s,
		sampleCase("HN-2026-00001", unitA, model.StatusAwaitingAcknowledgement),
		sampleCase("HN-2026-00002", unitA, model.StatusAwaitingAcknowledgement),
	)
	id := cs[0].ID
	appendEvents(t, s, id, sampleCaseEvents(1, 7)...)
	appendEvents(t, s, cs[1].ID, sampleCaseEvents(100, 3)...) // after it in key order
	for _, tt := range []struct {
		after uint64
		limit int
		want  []uint64
	}{
		{0, 3, []uint64{1, 2, 3}},
		{3, 3, []uint64{4, 5, 6}},
		{6, 3, []uint64{7}},
		{7, 3, nil},
		{0, 7, seqRange(1, 7)},
		{0, 1000, seqRange(1, 7)},
		{2, 1, []uint64{3}},
		{5, 100, []uint64{6, 7}},
		{8, 10, nil},
		{1 << 40, 10, nil},
		{math.MaxUint64, 10, nil},
	} {
		got := readEvents(t, s, id, tt.after, tt.limit)
		if seqs := eventSeqs(got); !slices.Equal(seqs, tt.want) {
			t.Errorf("CaseEvents(after %d, limit %d) = %v, want %v", tt.after, tt.limit, seqs, tt.want)
		}
		if d := sameList(got, eventsWithSeqs(sampleCaseEvents(int(tt.after)+1, len(tt.want)), tt.after+1)); len(tt.want) > 0 && d != "" {
			t.Errorf("CaseEvents(after %d, limit %d): %s", tt.after, tt.limit, d)
		}
	}
	for _, limit := range []int{0, -1} {
		_, err := readOne(t, s, func(tx datastore.ReadTx) ([]model.CaseEvent, error) { return tx.CaseEvents(id, 0, limit) })
		if err == nil {
			t.Errorf("CaseEvents with limit %d succeeded, want an error", limit)
		}
	}
}

// testCaseEventsNewestFirst pages a timeline backwards, with the cases
// before and after it in key order holding events of their own.
func testCaseEventsNewestFirst(t *testing.T, s datastore.Store) {
	cs := createCases(t, s,
		sampleCase("HN-2026-00001", unitA, model.StatusAwaitingAcknowledgement),
		sampleCase("HN-2026-00002", unitA, model.StatusAwaitingAcknowledgement),
		sampleCase("HN-2026-00003", unitA, model.StatusAwaitingAcknowledgement),
	)
	id := cs[1].ID
	appendEvents(t, s, cs[0].ID, sampleCaseEvents(200, 4)...) // before it in key order
	appendEvents(t, s, id, sampleCaseEvents(1, 7)...)
	appendEvents(t, s, cs[2].ID, sampleCaseEvents(100, 3)...) // after it
	for _, tt := range []struct {
		before uint64
		limit  int
		want   []uint64
	}{
		{0, 3, []uint64{7, 6, 5}},
		{5, 3, []uint64{4, 3, 2}},
		{2, 3, []uint64{1}},
		{1, 3, nil},
		{0, 1000, []uint64{7, 6, 5, 4, 3, 2, 1}},
		{8, 2, []uint64{7, 6}},
		{1 << 40, 1, []uint64{7}},
		{math.MaxUint64, 1, []uint64{7}},
	} {
		es, err := readOne(t, s, func(tx datastore.ReadTx) ([]model.CaseEvent, error) {
			return tx.CaseEventsNewestFirst(id, tt.before, tt.limit)
		})
		if err != nil {
			t.Fatalf("CaseEventsNewestFirst(before %d, limit %d): %v", tt.before, tt.limit, err)
		}
		if seqs := eventSeqs(es); !slices.Equal(seqs, tt.want) {
			t.Errorf("CaseEventsNewestFirst(before %d, limit %d) = %v, want %v", tt.before, tt.limit, seqs, tt.want)
		}
		for _, e := range es {
			if want := fmt.Sprintf("KIND_%d", e.Seq); e.Kind != want {
				t.Errorf("CaseEventsNewestFirst(before %d): event %d is %s, want %s", tt.before, e.Seq, e.Kind, want)
			}
		}
	}
	es, err := readOne(t, s, func(tx datastore.ReadTx) ([]model.CaseEvent, error) {
		return tx.CaseEventsNewestFirst(cs[2].ID+1, 0, 10)
	})
	if err != nil || len(es) != 0 {
		t.Errorf("CaseEventsNewestFirst of a case with no events = %v, %v; want none", es, err)
	}
	if _, err := readOne(t, s, func(tx datastore.ReadTx) ([]model.CaseEvent, error) { return tx.CaseEventsNewestFirst(id, 0, 0) }); err == nil {
		t.Error("CaseEventsNewestFirst with limit 0 succeeded, want an error")
	}
}

func testCaseEventsUnknownCase(t *testing.T, s datastore.Store) {
	c := createCases(t, s, sampleCase("HN-2026-00001", unitA, model.StatusAwaitingAcknowledgement))[0]
	next := c.ID + 1 // the id the next case will get, if ids are sequential
	for _, id := range []uint64{0, next, math.MaxUint64} {
		update(t, s, func(tx datastore.Tx) error {
			_, err := tx.AppendCaseEvents(id, sampleCaseEvent(1))
			wantErr(t, fmt.Sprintf("AppendCaseEvents(unknown case %d)", id), err, model.ErrNotFound)
			return nil // commit whatever the failed call may have written
		})
		if got := readEvents(t, s, id, 0, 10); len(got) != 0 {
			t.Errorf("after a refused AppendCaseEvents, CaseEvents(%d) = %v, want none", id, got)
		}
	}
	c2 := createCases(t, s, sampleCase("HN-2026-00002", unitA, model.StatusAwaitingAcknowledgement))[0]
	if got := readEvents(t, s, c2.ID, 0, 10); len(got) != 0 {
		t.Errorf("a new case has events %v left from a refused append", got)
	}
	if got := appendEvents(t, s, c2.ID, sampleCaseEvent(1)); !slices.Equal(eventSeqs(got), []uint64{1}) {
		t.Errorf("the first event of a new case got seq %v, want [1]", eventSeqs(got))
	}
}

// ---------------------------------------------------------------------------
// Scheduler timers

func testTimerPutAndNext(t *testing.T, s datastore.Store) {
	if tm, ok := nextTimer(t, s); ok {
		t.Errorf("NextTimer of an empty store = %+v, true; want false", tm)
	}
	if got := allTimers(t, s); len(got) != 0 {
		t.Errorf("DueTimers of an empty store = %v, want none", got)
	}
	epoch := time.Unix(0, 0).UTC()
	// Instants of very different magnitudes, put out of order: they must
	// sort as times, not as text or as the digits of a number.
	ts := []model.Timer{
		{At: baseTime, CaseID: 3, DeadlineID: 1},
		{At: time.Date(2100, time.January, 1, 0, 0, 0, 5, time.UTC), CaseID: 1, DeadlineID: 2},
		{At: epoch.Add(time.Nanosecond), CaseID: 9, DeadlineID: 0},
		{At: baseTime.Add(-time.Nanosecond), CaseID: 4, DeadlineID: 7},
		{At: epoch, CaseID: 10, DeadlineID: 3},
		{At: time.Date(2262, time.April, 11, 0, 0, 0, 0, time.UTC), CaseID: 1, DeadlineID: 1},
		{At: baseTime.Add(9 * time.Second), CaseID: 2, DeadlineID: 1 << 20},
	}
	putTimers(t, s, ts[:4]...)
	if tm, ok := nextTimer(t, s); !ok || sameTimer(tm, ts[2]) != "" {
		t.Errorf("NextTimer = %+v, %v; want %+v", tm, ok, ts[2])
	}
	putTimers(t, s, ts[4:]...)
	if tm, ok := nextTimer(t, s); !ok || sameTimer(tm, ts[4]) != "" {
		t.Errorf("NextTimer after a timer at the epoch = %+v, %v; want %+v", tm, ok, ts[4])
	}
	want := []model.Timer{ts[4], ts[2], ts[3], ts[0], ts[6], ts[1], ts[5]}
	if d := sameTimers(allTimers(t, s), want); d != "" {
		t.Errorf("DueTimers(all): %s", d)
	}
	// A limit takes the earliest.
	if d := sameTimers(dueTimers(t, s, ts[5].At, 3), want[:3]); d != "" {
		t.Errorf("DueTimers(limit 3): %s", d)
	}
	for _, limit := range []int{0, -1} {
		_, err := readOne(t, s, func(tx datastore.ReadTx) ([]model.Timer, error) { return tx.DueTimers(ts[5].At, limit) })
		if err == nil {
			t.Errorf("DueTimers with limit %d succeeded, want an error", limit)
		}
	}
}

func testTimerRoundTrip(t *testing.T, s datastore.Store) {
	vn := time.FixedZone("ICT", 7*3600)
	local := time.Date(2026, time.March, 14, 9, 26, 53, 589793238, vn)
	ts := []model.Timer{
		{At: baseTime, CaseID: 1, DeadlineID: 1},
		{At: local.Add(time.Nanosecond), CaseID: 2, DeadlineID: 2}, // given in another zone
		{At: time.Now(), CaseID: 3, DeadlineID: 3},                 // with a monotonic reading
		{At: baseTime.Add(time.Hour), CaseID: math.MaxUint64, DeadlineID: math.MaxInt32},
	}
	putTimers(t, s, ts...)
	got := allTimers(t, s)
	want := slices.Clone(ts)
	slices.SortFunc(want, func(a, b model.Timer) int { return a.At.Compare(b.At) })
	if d := sameTimers(got, want); d != "" {
		t.Errorf("DueTimers: %s", d)
	}
	for i, tm := range got {
		if tm.At != want[i].At.Round(0).UTC() {
			t.Errorf("timer %d: At = %#v, want exactly %#v", i, tm.At, want[i].At.Round(0).UTC())
		}
	}
	// The returned timer deletes the stored one.
	update(t, s, func(tx datastore.Tx) error {
		for _, tm := range got {
			if err := tx.DeleteTimer(tm); err != nil {
				return err
			}
		}
		return nil
	})
	if left := allTimers(t, s); len(left) != 0 {
		t.Errorf("after deleting the timers DueTimers returned, %v are left", left)
	}
}

func testTimerDueBoundaries(t *testing.T, s datastore.Store) {
	at := baseTime
	ts := []model.Timer{
		{At: at.Add(-time.Nanosecond), CaseID: 1, DeadlineID: 1},
		{At: at, CaseID: 2, DeadlineID: 1},
		{At: at.Add(time.Nanosecond), CaseID: 3, DeadlineID: 1},
		{At: at.Add(time.Hour), CaseID: 4, DeadlineID: 1},
	}
	putTimers(t, s, ts...)
	for _, tt := range []struct {
		name  string
		until time.Time
		want  []model.Timer
	}{
		{"before all", at.Add(-2 * time.Nanosecond), nil},
		{"at the first", at.Add(-time.Nanosecond), ts[:1]},
		{"exactly at one", at, ts[:2]},
		{"exactly at one, in another zone", at.In(time.FixedZone("ICT", 7*3600)), ts[:2]},
		{"one nanosecond later", at.Add(time.Nanosecond), ts[:3]},
		{"just before the last", at.Add(time.Hour - time.Nanosecond), ts[:3]},
		{"at the last", at.Add(time.Hour), ts},
		{"far later", time.Date(2200, time.January, 1, 0, 0, 0, 0, time.UTC), ts},
		{"after 2262", time.Date(3000, time.January, 1, 0, 0, 0, 0, time.UTC), ts},
		{"before 1970", time.Date(1969, time.December, 31, 23, 59, 59, 999999999, time.UTC), nil},
		{"the zero time", time.Time{}, nil},
	} {
		if d := sameTimers(dueTimers(t, s, tt.until, 100), tt.want); d != "" {
			t.Errorf("DueTimers(%s): %s", tt.name, d)
		}
	}
	if d := sameTimers(dueTimers(t, s, at.Add(time.Hour), 2), ts[:2]); d != "" {
		t.Errorf("DueTimers(limit 2): %s", d)
	}
}

// testTimerSameInstant stores many timers at one instant, for different
// cases and deadlines: none may hide another, and they come in order of
// case, then deadline.
func testTimerSameInstant(t *testing.T, s datastore.Store) {
	at := baseTime.Add(24 * time.Hour)
	caseIDs := []uint64{1, 2, 255, 256, 1 << 32, math.MaxUint64}
	deadlineIDs := []int{0, 1, 255, 256, 70000}
	var want []model.Timer
	for _, c := range caseIDs {
		for _, d := range deadlineIDs {
			want = append(want, model.Timer{At: at, CaseID: c, DeadlineID: d})
		}
	}
	// Store them in a scrambled order, over two transactions, with a
	// timer just before and one just after.
	in := slices.Clone(want)
	for i := range in {
		j := (i*7 + 3) % len(in)
		in[i], in[j] = in[j], in[i]
	}
	before := model.Timer{At: at.Add(-time.Nanosecond), CaseID: math.MaxUint64, DeadlineID: 70000}
	after := model.Timer{At: at.Add(time.Nanosecond), CaseID: 0, DeadlineID: 0}
	putTimers(t, s, append(in[:10:10], after)...)
	putTimers(t, s, append(in[10:], before)...)

	if d := sameTimers(dueTimers(t, s, at, 1000), append([]model.Timer{before}, want...)); d != "" {
		t.Errorf("DueTimers(the instant): %s", d)
	}
	if d := sameTimers(dueTimers(t, s, at, 8), append([]model.Timer{before}, want[:7]...)); d != "" {
		t.Errorf("DueTimers(the instant, limit 8): %s", d)
	}
	if d := sameTimers(allTimers(t, s), append(append([]model.Timer{before}, want...), after)); d != "" {
		t.Errorf("DueTimers(all): %s", d)
	}

	// Deleting one leaves its neighbours.
	gone := model.Timer{At: at, CaseID: 256, DeadlineID: 255}
	update(t, s, func(tx datastore.Tx) error { return tx.DeleteTimer(gone) })
	rest := slices.DeleteFunc(slices.Clone(want), func(tm model.Timer) bool { return tm == gone })
	if len(rest) != len(want)-1 {
		t.Fatalf("fixture: %+v is not among the timers", gone)
	}
	if d := sameTimers(dueTimers(t, s, at, 1000), append([]model.Timer{before}, rest...)); d != "" {
		t.Errorf("DueTimers after deleting one: %s", d)
	}
}

func testTimerPutIdempotent(t *testing.T, s datastore.Store) {
	tm := model.Timer{At: baseTime, CaseID: 5, DeadlineID: 2}
	other := model.Timer{At: baseTime.Add(time.Second), CaseID: 5, DeadlineID: 2}
	putTimers(t, s, tm, tm, other)
	putTimers(t, s, tm)
	// The same instant given in another zone is the same timer.
	putTimers(t, s, model.Timer{At: baseTime.In(time.FixedZone("ICT", 7*3600)), CaseID: 5, DeadlineID: 2})
	if d := sameTimers(allTimers(t, s), []model.Timer{tm, other}); d != "" {
		t.Errorf("after storing a timer several times: %s", d)
	}
	// One delete removes it.
	update(t, s, func(tx datastore.Tx) error { return tx.DeleteTimer(tm) })
	if d := sameTimers(allTimers(t, s), []model.Timer{other}); d != "" {
		t.Errorf("after one DeleteTimer of a timer stored several times: %s", d)
	}
}

func testTimerDelete(t *testing.T, s datastore.Store) {
	ts := []model.Timer{
		{At: baseTime, CaseID: 1, DeadlineID: 1},
		{At: baseTime, CaseID: 1, DeadlineID: 2},
		{At: baseTime, CaseID: 2, DeadlineID: 1},
		{At: baseTime.Add(time.Minute), CaseID: 1, DeadlineID: 1},
	}
	putTimers(t, s, ts...)
	absent := []model.Timer{
		{At: baseTime.Add(time.Nanosecond), CaseID: 1, DeadlineID: 1}, // another instant
		{At: baseTime, CaseID: 3, DeadlineID: 1},                      // another case
		{At: baseTime, CaseID: 1, DeadlineID: 3},                      // another deadline
		{At: baseTime, CaseID: 1, DeadlineID: 0},
		{CaseID: 1, DeadlineID: 1}, // a zero time, as a deadline with no timer set has
		{},
	}
	update(t, s, func(tx datastore.Tx) error {
		for _, tm := range absent {
			if err := tx.DeleteTimer(tm); err != nil {
				t.Errorf("DeleteTimer of an absent timer %+v: %v", tm, err)
			}
		}
		return nil
	})
	if d := sameTimers(allTimers(t, s), ts); d != "" {
		t.Errorf("after deleting absent timers: %s", d)
	}

	update(t, s, func(tx datastore.Tx) error {
		if err := tx.DeleteTimer(ts[1]); err != nil {
			return err
		}
		// Gone inside the transaction, and a second delete is harmless.
		if d := sameTimers(mustDue(tx, ts[3].At), []model.Timer{ts[0], ts[2], ts[3]}); d != "" {
			t.Errorf("inside the deleting transaction: %s", d)
		}
		return tx.DeleteTimer(ts[1])
	})
	if d := sameTimers(allTimers(t, s), []model.Timer{ts[0], ts[2], ts[3]}); d != "" {
		t.Errorf("after DeleteTimer: %s", d)
	}
	update(t, s, func(tx datastore.Tx) error { return tx.DeleteTimer(ts[1]) })
	update(t, s, func(tx datastore.Tx) error {
		for _, tm := range []model.Timer{ts[0], ts[2], ts[3]} {
			if err := tx.DeleteTimer(tm); err != nil {
				return err
			}
		}
		return nil
	})
	if got := allTimers(t, s); len(got) != 0 {
		t.Errorf("after deleting every timer, DueTimers = %v", got)
	}
	if tm, ok := nextTimer(t, s); ok {
		t.Errorf("after deleting every timer, NextTimer = %+v, true", tm)
	}
}

func mustDue(tx datastore.ReadTx, until time.Time) []model.Timer {
	ts, err := tx.DueTimers(until, 1000)
	if err != nil {
		return []model.Timer{{DeadlineID: -1}}
	}
	return ts
}

// testTimerRefusesOutOfRange refuses timers a store keyed by Unix
// nanoseconds cannot order: before 1970 (the zero time included), and
// negative deadline ids. Nothing of a refused timer is kept.
func testTimerRefusesOutOfRange(t *testing.T, s datastore.Store) {
	for _, tm := range []model.Timer{
		{At: time.Unix(0, -1), CaseID: 1, DeadlineID: 1},
		{At: time.Date(1969, time.July, 20, 20, 17, 0, 0, time.UTC), CaseID: 1, DeadlineID: 1},
		{At: time.Time{}, CaseID: 1, DeadlineID: 1},
		{At: baseTime, CaseID: 1, DeadlineID: -1},
		{At: baseTime, CaseID: 1, DeadlineID: math.MinInt32},
	} {
		update(t, s, func(tx datastore.Tx) error {
			if err := tx.PutTimer(tm); err == nil {
				t.Errorf("PutTimer(%+v) succeeded, want an error", tm)
			}
			return nil // commit whatever the failed call may have written
		})
	}
	if got := allTimers(t, s); len(got) != 0 {
		t.Errorf("after refused PutTimer calls, DueTimers = %v, want none", got)
	}
	if tm, ok := nextTimer(t, s); ok {
		t.Errorf("after refused PutTimer calls, NextTimer = %+v, true", tm)
	}
	// The epoch itself is in range.
	epoch := model.Timer{At: time.Unix(0, 0), CaseID: 1, DeadlineID: 0}
	putTimers(t, s, epoch)
	if d := sameTimers(allTimers(t, s), []model.Timer{epoch}); d != "" {
		t.Errorf("a timer at the epoch: %s", d)
	}
}

// ---------------------------------------------------------------------------
// Outbox

func testOutboxAppend(t *testing.T, s datastore.Store) {
	if h := outboxHead(t, s); h != 0 {
		t.Errorf("OutboxHead of an empty store = %d, want 0", h)
	}
	if got := readNotifications(t, s, 0, 10); len(got) != 0 {
		t.Errorf("Notifications of an empty store = %v, want none", got)
	}
	in := sampleNotifications(1, 2)
	in[1].Seq = 77 // the store assigns seqs whatever the caller says
	got := appendNotifications(t, s, in...)
	if d := sameList(got, notificationsWithSeqs(sampleNotifications(1, 2), 1)); d != "" {
		t.Errorf("AppendNotifications returned: %s", d)
	}
	if h := outboxHead(t, s); h != 2 {
		t.Errorf("OutboxHead = %d, want 2", h)
	}

	update(t, s, func(tx datastore.Tx) error {
		got, err := tx.AppendNotifications(sampleNotifications(3, 3)...)
		if err != nil {
			return err
		}
		if seqs := notificationSeqs(got); !slices.Equal(seqs, []uint64{3, 4, 5}) {
			t.Errorf("second AppendNotifications assigned %v, want [3 4 5]", seqs)
		}
		got, err = tx.AppendNotifications(sampleNotification(6))
		if err != nil {
			return err
		}
		if seqs := notificationSeqs(got); !slices.Equal(seqs, []uint64{6}) {
			t.Errorf("AppendNotifications again in one transaction assigned %v, want [6]", seqs)
		}
		if h, err := tx.OutboxHead(); err != nil || h != 6 {
			t.Errorf("OutboxHead inside the transaction = %d, %v; want 6", h, err)
		}
		if none, err := tx.AppendNotifications(); err != nil || len(none) != 0 {
			t.Errorf("AppendNotifications with nothing = %v, %v; want none, nil", none, err)
		}
		return nil
	})
	if h := outboxHead(t, s); h != 6 {
		t.Errorf("OutboxHead = %d, want 6", h)
	}
	if d := sameList(readNotifications(t, s, 0, 100), notificationsWithSeqs(sampleNotifications(1, 6), 1)); d != "" {
		t.Errorf("Notifications: %s", d)
	}
	if got := appendNotifications(t, s, sampleNotification(7)); !slices.Equal(notificationSeqs(got), []uint64{7}) {
		t.Errorf("AppendNotifications after an empty append assigned %v, want [7]", notificationSeqs(got))
	}
}

func testOutboxRoundTrip(t *testing.T, s datastore.Store) {
	vn := time.FixedZone("ICT", 7*3600)
	ns := []model.Notification{
		{Time: baseTime.In(vn), Kind: "BREACH", Case: "cases/HN-2026-00001", Units: []string{"units/00004", "policeUnits/ca-ha-noi", "units/00004"}, DeadlineID: 7, Detail: "quá hạn \x00"},
		{Time: baseTime.Add(time.Nanosecond), Kind: "TRANSFER_PROPOSED", Units: []string{}},
		{},
	}
	appendNotifications(t, s, ns...)
	if d := sameList(readNotifications(t, s, 0, 10), notificationsWithSeqs(ns, 1)); d != "" {
		t.Errorf("Notifications: %s", d)
	}
}

func testOutboxPaging(t *testing.T, s datastore.Store) {
	appendNotifications(t, s, sampleNotifications(1, 4)...)
	appendNotifications(t, s, sampleNotifications(5, 3)...)
	for _, tt := range []struct {
		after uint64
		limit int
		want  []uint64
	}{
		{0, 3, []uint64{1, 2, 3}},
		{3, 3, []uint64{4, 5, 6}},
		{6, 3, []uint64{7}},
		{7, 3, nil},
		{0, 7, seqRange(1, 7)},
		{0, 1000, seqRange(1, 7)},
		{4, 1, []uint64{5}},
		{8, 10, nil},
		{1 << 40, 10, nil},
		{math.MaxUint64, 10, nil},
	} {
		got := readNotifications(t, s, tt.after, tt.limit)
		if seqs := notificationSeqs(got); !slices.Equal(seqs, tt.want) {
			t.Errorf("Notifications(after %d, limit %d) = %v, want %v", tt.after, tt.limit, seqs, tt.want)
		}
		if d := sameList(got, notificationsWithSeqs(sampleNotifications(int(tt.after)+1, len(tt.want)), tt.after+1)); len(tt.want) > 0 && d != "" {
			t.Errorf("Notifications(after %d, limit %d): %s", tt.after, tt.limit, d)
		}
	}
	for _, limit := range []int{0, -1} {
		_, err := readOne(t, s, func(tx datastore.ReadTx) ([]model.Notification, error) { return tx.Notifications(0, limit) })
		if err == nil {
			t.Errorf("Notifications with limit %d succeeded, want an error", limit)
		}
	}
}

// ---------------------------------------------------------------------------
// Delivery cursors

func testCursorRoundTrip(t *testing.T, s datastore.Store) {
	names := []string{"webhook/a", "webhook/ab", "webhook/", "w", "Webhook/a"}
	for _, n := range names {
		if v := cursor(t, s, n); v != 0 {
			t.Errorf("Cursor(%q) never set = %d, want 0", n, v)
		}
	}
	update(t, s, func(tx datastore.Tx) error {
		if err := tx.PutCursor("webhook/a", 5); err != nil {
			return err
		}
		if v, err := tx.Cursor("webhook/a"); err != nil || v != 5 {
			t.Errorf("Cursor inside the transaction = %d, %v; want 5", v, err)
		}
		return tx.PutCursor("webhook/ab", 1<<40+3)
	})
	want := map[string]uint64{"webhook/a": 5, "webhook/ab": 1<<40 + 3}
	for _, n := range names {
		if v := cursor(t, s, n); v != want[n] {
			t.Errorf("Cursor(%q) = %d, want %d", n, v, want[n])
		}
	}
	// A cursor may move either way, to 0 and to the largest seq.
	for _, v := range []uint64{3, 0, math.MaxUint64, 4} {
		update(t, s, func(tx datastore.Tx) error { return tx.PutCursor("webhook/a", v) })
		if got := cursor(t, s, "webhook/a"); got != v {
			t.Errorf("Cursor after PutCursor(%d) = %d", v, got)
		}
	}
	if v := cursor(t, s, "webhook/ab"); v != 1<<40+3 {
		t.Errorf("Cursor(webhook/ab) changed to %d by another cursor's updates", v)
	}
}

func testCursorBadNames(t *testing.T, s datastore.Store) {
	for _, n := range []string{"", "a\x00b", "\x00"} {
		update(t, s, func(tx datastore.Tx) error {
			if err := tx.PutCursor(n, 9); err == nil {
				t.Errorf("PutCursor(%q) succeeded, want an error", n)
			}
			return nil
		})
	}
	for _, n := range []string{"", "a", "a\x00b"} {
		if v := cursor(t, s, n); v != 0 {
			t.Errorf("after refused PutCursor calls, Cursor(%q) = %d, want 0", n, v)
		}
	}
}

// ---------------------------------------------------------------------------
// Transactions

// testProcessRollback rolls back appends, timers and a cursor over
// committed ones: nothing of it is kept, and the seqs that follow continue
// from the last committed ones, with no gap left by the rollback.
func testProcessRollback(t *testing.T, s datastore.Store) {
	c := createCases(t, s, sampleCase("HN-2026-00001", unitA, model.StatusAwaitingAcknowledgement))[0]
	kept := model.Timer{At: baseTime, CaseID: c.ID, DeadlineID: 1}
	appendEvents(t, s, c.ID, sampleCaseEvents(1, 2)...)
	appendNotifications(t, s, sampleNotifications(1, 2)...)
	putTimers(t, s, kept)
	update(t, s, func(tx datastore.Tx) error { return tx.PutCursor("webhook/a", 1) })

	added := []model.Timer{
		{At: baseTime.Add(-time.Hour), CaseID: c.ID, DeadlineID: 2},
		{At: baseTime, CaseID: c.ID, DeadlineID: 3},
	}
	err := s.Update(context.Background(), func(tx datastore.Tx) error {
		if _, err := tx.AppendCaseEvents(c.ID, sampleCaseEvents(3, 3)...); err != nil {
			return err
		}
		if _, err := tx.AppendNotifications(sampleNotifications(3, 3)...); err != nil {
			return err
		}
		for _, tm := range added {
			if err := tx.PutTimer(tm); err != nil {
				return err
			}
		}
		if err := tx.DeleteTimer(kept); err != nil {
			return err
		}
		if err := tx.PutCursor("webhook/a", 5); err != nil {
			return err
		}
		if err := tx.PutCursor("webhook/b", 5); err != nil {
			return err
		}
		// Visible inside the transaction.
		if es, err := tx.CaseEvents(c.ID, 0, 100); err != nil || !slices.Equal(eventSeqs(es), seqRange(1, 5)) {
			return fmt.Errorf("inside the transaction, CaseEvents = %v, %v", eventSeqs(es), err)
		}
		if h, err := tx.OutboxHead(); err != nil || h != 5 {
			return fmt.Errorf("inside the transaction, OutboxHead = %d, %v", h, err)
		}
		if d := sameTimers(mustDue(tx, baseTime), added); d != "" {
			return fmt.Errorf("inside the transaction, DueTimers: %s", d)
		}
		return errBoom
	})
	if !errors.Is(err, errBoom) {
		t.Fatalf("Update error = %v, want the error fn returned", err)
	}

	if got := eventSeqs(readEvents(t, s, c.ID, 0, 100)); !slices.Equal(got, []uint64{1, 2}) {
		t.Errorf("after rollback, CaseEvents = %v, want [1 2]", got)
	}
	if got := notificationSeqs(readNotifications(t, s, 0, 100)); !slices.Equal(got, []uint64{1, 2}) {
		t.Errorf("after rollback, Notifications = %v, want [1 2]", got)
	}
	if h := outboxHead(t, s); h != 2 {
		t.Errorf("after rollback, OutboxHead = %d, want 2", h)
	}
	if d := sameTimers(allTimers(t, s), []model.Timer{kept}); d != "" {
		t.Errorf("after rollback, DueTimers: %s", d)
	}
	if tm, ok := nextTimer(t, s); !ok || sameTimer(tm, kept) != "" {
		t.Errorf("after rollback, NextTimer = %+v, %v; want %+v", tm, ok, kept)
	}
	for name, want := range map[string]uint64{"webhook/a": 1, "webhook/b": 0} {
		if v := cursor(t, s, name); v != want {
			t.Errorf("after rollback, Cursor(%s) = %d, want %d", name, v, want)
		}
	}

	// The next seqs follow the committed ones: readers see no gap.
	if got := appendEvents(t, s, c.ID, sampleCaseEvent(3)); !slices.Equal(eventSeqs(got), []uint64{3}) {
		t.Errorf("AppendCaseEvents after the rollback assigned %v, want [3]", eventSeqs(got))
	}
	if got := appendNotifications(t, s, sampleNotification(3)); !slices.Equal(notificationSeqs(got), []uint64{3}) {
		t.Errorf("AppendNotifications after the rollback assigned %v, want [3]", notificationSeqs(got))
	}
	if d := sameList(readEvents(t, s, c.ID, 0, 100), eventsWithSeqs(sampleCaseEvents(1, 3), 1)); d != "" {
		t.Errorf("CaseEvents at the end: %s", d)
	}
	if d := sameList(readNotifications(t, s, 0, 100), notificationsWithSeqs(sampleNotifications(1, 3), 1)); d != "" {
		t.Errorf("Notifications at the end: %s", d)
	}
}

// testProcessRollbackFromEmpty rolls back the first event of a case and
// the first outbox entry: the next ones still start at 1.
func testProcessRollbackFromEmpty(t *testing.T, s datastore.Store) {
	var id uint64
	err := s.Update(context.Background(), func(tx datastore.Tx) error {
		c := sampleCase("HN-2026-00001", unitA, model.StatusAwaitingAcknowledgement)
		if err := tx.CreateCase(&c); err != nil {
			return err
		}
		id = c.ID
		if _, err := tx.AppendCaseEvents(c.ID, sampleCaseEvents(1, 2)...); err != nil {
			return err
		}
		if _, err := tx.AppendNotifications(sampleNotifications(1, 2)...); err != nil {
			return err
		}
		if err := tx.PutTimer(model.Timer{At: baseTime, CaseID: c.ID, DeadlineID: 1}); err != nil {
			return err
		}
		return errBoom
	})
	if !errors.Is(err, errBoom) {
		t.Fatalf("Update error = %v, want the error fn returned", err)
	}
	if got := readEvents(t, s, id, 0, 10); len(got) != 0 {
		t.Errorf("after rollback, CaseEvents = %v, want none", got)
	}
	if got := readNotifications(t, s, 0, 10); len(got) != 0 {
		t.Errorf("after rollback, Notifications = %v, want none", got)
	}
	if h := outboxHead(t, s); h != 0 {
		t.Errorf("after rollback, OutboxHead = %d, want 0", h)
	}
	if got := allTimers(t, s); len(got) != 0 {
		t.Errorf("after rollback, DueTimers = %v, want none", got)
	}

	c := createCases(t, s, sampleCase("HN-2026-00001", unitA, model.StatusAwaitingAcknowledgement))[0]
	if got := appendEvents(t, s, c.ID, sampleCaseEvent(1)); !slices.Equal(eventSeqs(got), []uint64{1}) {
		t.Errorf("the first event after the rollback got %v, want [1]", eventSeqs(got))
	}
	if got := appendNotifications(t, s, sampleNotification(1)); !slices.Equal(notificationSeqs(got), []uint64{1}) {
		t.Errorf("the first outbox entry after the rollback got %v, want [1]", notificationSeqs(got))
	}
}

// testProcessBatchNoGaps appends from many concurrent Update calls (the
// write path of process steps, group-committed), some of which fail after
// appending: a failure rolls back a shared transaction
// and the others run again, and readers must still see seqs 1..n, each
// entry of a call that succeeded exactly once.
func testProcessBatchNoGaps(t *testing.T, s datastore.Store) {
	c := createCases(t, s, sampleCase("HN-2026-00001", unitA, model.StatusAwaitingAcknowledgement))[0]
	const n = 30
	ids := make([]string, n)
	for i := range ids {
		ids[i] = fmt.Sprintf("call-%02d", i)
	}
	fails := func(i int) bool { return i%4 == 1 }
	var mu sync.Mutex
	runs := map[string]int{}
	errs := runBatches(s.Update, ids, func(tx datastore.Tx, id string, i int) error {
		mu.Lock()
		runs[id]++
		mu.Unlock()
		if _, err := tx.AppendCaseEvents(c.ID, model.CaseEvent{Time: baseTime, Actor: id, Kind: "BATCH"}); err != nil {
			return err
		}
		if _, err := tx.AppendNotifications(model.Notification{Time: baseTime, Kind: "BATCH", Detail: id}); err != nil {
			return err
		}
		if err := tx.PutTimer(model.Timer{At: baseTime, CaseID: c.ID, DeadlineID: i}); err != nil {
			return err
		}
		if fails(i) {
			return errBoom
		}
		return nil
	})
	var want []string
	var wantTimers []model.Timer
	for i, err := range errs {
		switch {
		case fails(i) && !errors.Is(err, errBoom):
			t.Errorf("Batch %d = %v, want the error fn returned", i, err)
		case !fails(i) && err != nil:
			t.Errorf("Batch %d: %v", i, err)
		case !fails(i):
			want = append(want, ids[i])
			wantTimers = append(wantTimers, model.Timer{At: baseTime, CaseID: c.ID, DeadlineID: i})
		}
	}
	t.Logf("%d Batch calls ran fn %d times", n, func() (sum int) {
		for _, r := range runs {
			sum += r
		}
		return
	}())

	es := readEvents(t, s, c.ID, 0, 1000)
	ns := readNotifications(t, s, 0, 1000)
	if got := eventSeqs(es); !slices.Equal(got, seqRange(1, uint64(len(want)))) {
		t.Errorf("CaseEvents seqs = %v, want 1..%d", got, len(want))
	}
	if got := notificationSeqs(ns); !slices.Equal(got, seqRange(1, uint64(len(want)))) {
		t.Errorf("Notifications seqs = %v, want 1..%d", got, len(want))
	}
	if h := outboxHead(t, s); h != uint64(len(want)) {
		t.Errorf("OutboxHead = %d, want %d", h, len(want))
	}
	var actors, details []string
	for _, e := range es {
		actors = append(actors, e.Actor)
	}
	for _, nt := range ns {
		details = append(details, nt.Detail)
	}
	slices.Sort(actors)
	slices.Sort(details)
	if !slices.Equal(actors, want) {
		t.Errorf("events were appended by %v, want once by each successful call %v", actors, want)
	}
	if !slices.Equal(details, want) {
		t.Errorf("outbox entries came from %v, want once from each successful call %v", details, want)
	}
	slices.SortFunc(wantTimers, func(a, b model.Timer) int { return a.DeadlineID - b.DeadlineID })
	if d := sameTimers(allTimers(t, s), wantTimers); d != "" {
		t.Errorf("DueTimers: %s", d)
	}
}

func outboxTail(t *testing.T, s datastore.Store) uint64 {
	t.Helper()
	tail, err := readOne(t, s, func(tx datastore.ReadTx) (uint64, error) { return tx.OutboxTail() })
	if err != nil {
		t.Fatalf("OutboxTail: %v", err)
	}
	return tail
}

func pruneNotifications(t *testing.T, s datastore.Store, through uint64, limit int) int {
	t.Helper()
	var n int
	update(t, s, func(tx datastore.Tx) error {
		var err error
		n, err = tx.PruneNotifications(through, limit)
		return err
	})
	return n
}

// testOutboxPrune: a prune removes the oldest entries, a batch at a time,
// none past through; what is kept reads as before, and the seqs go on
// from the head, never reusing a pruned one.
func testOutboxPrune(t *testing.T, s datastore.Store) {
	if got := outboxTail(t, s); got != 0 {
		t.Errorf("OutboxTail of an empty outbox = %d, want 0", got)
	}
	if n := pruneNotifications(t, s, 10, 10); n != 0 {
		t.Errorf("PruneNotifications of an empty outbox removed %d, want 0", n)
	}
	appendNotifications(t, s, sampleNotifications(1, 10)...)
	if got := outboxTail(t, s); got != 1 {
		t.Errorf("OutboxTail before a prune = %d, want 1", got)
	}
	if n := pruneNotifications(t, s, 6, 4); n != 4 {
		t.Errorf("PruneNotifications(through 6, limit 4) removed %d, want 4 (the limit)", n)
	}
	if got := outboxTail(t, s); got != 5 {
		t.Errorf("OutboxTail after pruning 1-4 = %d, want 5", got)
	}
	if n := pruneNotifications(t, s, 6, 100); n != 2 {
		t.Errorf("PruneNotifications(through 6, limit 100) removed %d, want 2 (5 and 6)", n)
	}
	if n := pruneNotifications(t, s, 6, 100); n != 0 {
		t.Errorf("PruneNotifications(through 6) again removed %d, want 0", n)
	}
	if got := outboxTail(t, s); got != 7 {
		t.Errorf("OutboxTail after pruning through 6 = %d, want 7", got)
	}
	if got, want := notificationSeqs(readNotifications(t, s, 0, 100)), seqRange(7, 10); !slices.Equal(got, want) {
		t.Errorf("Notifications(after 0) after the prune = %v, want %v", got, want)
	}
	if got, want := notificationSeqs(readNotifications(t, s, 3, 2)), []uint64{7, 8}; !slices.Equal(got, want) {
		t.Errorf("Notifications(after 3, limit 2) after the prune = %v, want %v", got, want)
	}
	got := readNotifications(t, s, 8, 100)
	if d := sameList(got, notificationsWithSeqs(sampleNotifications(9, 2), 9)); d != "" {
		t.Errorf("Notifications(after 8) after the prune: %s", d)
	}
	if h := outboxHead(t, s); h != 10 {
		t.Errorf("OutboxHead after the prune = %d, want 10", h)
	}
	added := appendNotifications(t, s, sampleNotifications(11, 1)...)
	if len(added) != 1 || added[0].Seq != 11 {
		t.Errorf("AppendNotifications after the prune assigned %v, want seq 11", notificationSeqs(added))
	}
	for _, limit := range []int{0, -1} {
		err := s.Update(context.Background(), func(tx datastore.Tx) error {
			_, err := tx.PruneNotifications(100, limit)
			return err
		})
		if err == nil {
			t.Errorf("PruneNotifications with limit %d succeeded, want an error", limit)
		}
	}
}

// testOutboxPruneKeepsTheHead: even told to prune everything, the newest
// entry stays, so that the head (and a watch's "from now") is not taken
// back to 0 and the next seq is not reused.
func testOutboxPruneKeepsTheHead(t *testing.T, s datastore.Store) {
	appendNotifications(t, s, sampleNotifications(1, 3)...)
	if n := pruneNotifications(t, s, math.MaxUint64, 100); n != 2 {
		t.Errorf("PruneNotifications(through max) removed %d, want 2 (all but the head)", n)
	}
	if h, tail := outboxHead(t, s), outboxTail(t, s); h != 3 || tail != 3 {
		t.Errorf("after pruning everything: head %d, tail %d; want 3 and 3", h, tail)
	}
	if got := notificationSeqs(readNotifications(t, s, 0, 10)); !slices.Equal(got, []uint64{3}) {
		t.Errorf("Notifications after pruning everything = %v, want [3]", got)
	}
	if n := pruneNotifications(t, s, math.MaxUint64, 100); n != 0 {
		t.Errorf("PruneNotifications of the head alone removed %d, want 0", n)
	}
}

// testOutboxPruneRollsBack: a prune in a transaction that fails removes
// nothing.
func testOutboxPruneRollsBack(t *testing.T, s datastore.Store) {
	appendNotifications(t, s, sampleNotifications(1, 5)...)
	errBoom := errors.New("boom")
	err := s.Update(context.Background(), func(tx datastore.Tx) error {
		if _, err := tx.PruneNotifications(4, 10); err != nil {
			return err
		}
		return errBoom
	})
	if !errors.Is(err, errBoom) {
		t.Fatalf("Update = %v, want %v", err, errBoom)
	}
	if tail := outboxTail(t, s); tail != 1 {
		t.Errorf("OutboxTail after a rolled back prune = %d, want 1", tail)
	}
	if got := notificationSeqs(readNotifications(t, s, 0, 10)); !slices.Equal(got, seqRange(1, 5)) {
		t.Errorf("Notifications after a rolled back prune = %v, want 1-5", got)
	}
}
