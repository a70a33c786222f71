package storagetest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/childcase/childcase/internal/domain/audit"
	"github.com/childcase/childcase/internal/domain/datastore"
	"github.com/childcase/childcase/internal/domain/model"
	"github.com/childcase/childcase/internal/storage/storekey"
)

var auditTests = []namedTest{
	{"Empty", testAuditEmpty},
	{"AppendInOneTransaction", testAuditAppendInOneTransaction},
	{"AppendAcrossTransactions", testAuditAppendAcrossTransactions},
	{"SealingIsTheStore's", testAuditSealingIsTheStores},
	{"RollbackLeavesNoEvents", testAuditRollback},
	{"EventsFrom", testAuditEventsFrom},
	{"ListFilters", testAuditListFilters},
	{"ListPaging", testAuditListPaging},
	{"ListBadCursor", testAuditListBadCursor},
	{"ListByTime", testAuditListByTime},
	{"ListByActionIsBounded", testAuditListByActionIsBounded},
}

const (
	auditCase1  = "cases/HN-2026-00001"
	auditCase12 = "cases/HN-2026-000012" // case1's resource name is a prefix of it
)

// sampleEvent returns an unsealed event with every field the caller sets.
func sampleEvent(i int, actor, caseName string, at time.Time) audit.Event {
	resource := fmt.Sprintf("reports/0190c4a2-7d3e-7c4b-8a5e-%012d", i)
	if caseName != "" {
		resource = caseName
	}
	return audit.Event{
		Time:      at,
		Actor:     actor,
		Role:      "COMMUNE_WORKER",
		Unit:      "units/" + unitA.String(),
		Action:    "case.read",
		Resource:  resource,
		Case:      caseName,
		RequestID: fmt.Sprintf("req-%03d", i),
		Reason:    fmt.Sprintf("kiểm tra hồ sơ \"%d\"\n", i),
		Outcome:   audit.OutcomeOK,
	}
}

// sameEvent compares a stored event with the sealed one, field by field:
// the time as an instant in UTC, everything else exactly.
func sameEvent(got, want audit.Event) string {
	var diffs []string
	if got.Time.Location() != time.UTC {
		diffs = append(diffs, fmt.Sprintf("Time is in %v, want UTC", got.Time.Location()))
	}
	diffs = append(diffs, timeDiffs(timePair{"Time", &got.Time, want.Time})...)
	if !reflect.DeepEqual(got, want) {
		diffs = append(diffs, fmt.Sprintf("\n got  %+v\n want %+v", got, want))
	}
	return strings.Join(diffs, "; ")
}

func appendAudit(t *testing.T, s datastore.Store, events ...audit.Event) []audit.Event {
	t.Helper()
	var sealed []audit.Event
	update(t, s, func(tx datastore.Tx) error {
		var err error
		sealed, err = tx.AppendAudit(events...)
		return err
	})
	return sealed
}

func auditHead(t *testing.T, s datastore.Store) (uint64, []byte) {
	t.Helper()
	var seq uint64
	var hash []byte
	view(t, s, func(tx datastore.ReadTx) error {
		var err error
		seq, hash, err = tx.AuditHead()
		return err
	})
	return seq, hash
}

// storedEvents reads every event through AuditEvents(from).
func storedEvents(t *testing.T, s datastore.Store, from uint64) []audit.Event {
	t.Helper()
	var out []audit.Event
	view(t, s, func(tx datastore.ReadTx) error {
		for e, err := range tx.AuditEvents(from) {
			if err != nil {
				return fmt.Errorf("AuditEvents(%d): %w", from, err)
			}
			out = append(out, e)
		}
		return nil
	})
	return out
}

func seqs(es []audit.Event) []uint64 {
	out := make([]uint64, len(es))
	for i, e := range es {
		out[i] = e.Seq
	}
	return out
}

// checkChain checks the links of sealed events that start the log: seq
// 1.., each PrevHash the Hash of the one before, each Hash its contents'.
func checkChain(t *testing.T, es []audit.Event) {
	t.Helper()
	prev := make([]byte, audit.HashSize)
	for i, e := range es {
		if e.Seq != uint64(i+1) {
			t.Errorf("event %d has Seq %d, want %d", i, e.Seq, i+1)
		}
		if !bytes.Equal(e.PrevHash, prev) {
			t.Errorf("event seq %d: PrevHash %x, want the previous Hash %x", e.Seq, e.PrevHash, prev)
		}
		if len(e.Hash) != audit.HashSize || !bytes.Equal(e.Hash, e.ComputeHash()) {
			t.Errorf("event seq %d: Hash %x does not match its contents", e.Seq, e.Hash)
		}
		prev = e.Hash
	}
}

// checkStoredLog checks that the stored log is exactly want (as sealed),
// that audit.Verify and audit.VerifyHead pass over it, and that the head
// is its last event.
func checkStoredLog(t *testing.T, s datastore.Store, want []audit.Event) {
	t.Helper()
	checkChain(t, want)
	got := storedEvents(t, s, 1)
	if len(got) != len(want) {
		t.Fatalf("AuditEvents(1) yielded seqs %v, want %v", seqs(got), seqs(want))
	}
	for i := range want {
		if d := sameEvent(got[i], want[i]); d != "" {
			t.Errorf("stored event seq %d differs from the sealed one: %s", want[i].Seq, d)
		}
	}
	seq, hash := auditHead(t, s)
	var wantSeq uint64
	var wantHash []byte
	if len(want) > 0 {
		wantSeq, wantHash = want[len(want)-1].Seq, want[len(want)-1].Hash
	}
	if seq != wantSeq || !bytes.Equal(hash, wantHash) {
		t.Errorf("AuditHead = %d, %x; want %d, %x", seq, hash, wantSeq, wantHash)
	}
	view(t, s, func(tx datastore.ReadTx) error {
		checked, problem, err := audit.Verify(tx.AuditEvents(1))
		if err != nil || problem != nil || checked != uint64(len(want)) {
			t.Errorf("audit.Verify(AuditEvents(1)) = %d, %v, %v; want %d, nil, nil", checked, problem, err, len(want))
		}
		checked, problem, err = audit.VerifyHead(tx.AuditEvents(1), wantSeq, wantHash)
		if err != nil || problem != nil || checked != uint64(len(want)) {
			t.Errorf("audit.VerifyHead(AuditEvents(1), head) = %d, %v, %v; want %d, nil, nil", checked, problem, err, len(want))
		}
		return nil
	})
}

func testAuditEmpty(t *testing.T, s datastore.Store) {
	seq, hash := auditHead(t, s)
	if seq != 0 || hash != nil {
		t.Errorf("AuditHead of an empty log = %d, %x; want 0, nil", seq, hash)
	}
	if es := storedEvents(t, s, 1); len(es) != 0 {
		t.Errorf("AuditEvents(1) of an empty log yielded %v", seqs(es))
	}
	view(t, s, func(tx datastore.ReadTx) error {
		es, next, err := tx.ListAuditEvents(datastore.AuditQuery{Limit: 10})
		if err != nil || len(es) != 0 || next != "" {
			t.Errorf("ListAuditEvents on an empty log = %v, %q, %v; want none, \"\", nil", seqs(es), next, err)
		}
		return nil
	})
	// Appending nothing changes nothing.
	if sealed := appendAudit(t, s); len(sealed) != 0 {
		t.Errorf("AppendAudit() returned %d events", len(sealed))
	}
	if seq, hash := auditHead(t, s); seq != 0 || hash != nil {
		t.Errorf("AuditHead after AppendAudit() = %d, %x; want 0, nil", seq, hash)
	}
	checkStoredLog(t, s, nil)
}

func testAuditAppendInOneTransaction(t *testing.T, s datastore.Store) {
	ict := time.FixedZone("ICT", 7*3600)
	in := []audit.Event{
		sampleEvent(1, "lan.nguyen", auditCase1, baseTime),
		sampleEvent(2, "minh.tran", "", baseTime.Add(time.Second).In(ict)),
		sampleEvent(3, "", "", baseTime.Add(2*time.Second)),
		sampleEvent(4, "lan.nguyen", auditCase12, baseTime.Add(3*time.Second)),
	}
	var sealed []audit.Event
	update(t, s, func(tx datastore.Tx) error {
		first, err := tx.AppendAudit(in[:3]...)
		if err != nil {
			return err
		}
		if len(first) != 3 {
			return fmt.Errorf("AppendAudit of 3 events returned %d", len(first))
		}
		seq, hash, err := tx.AuditHead()
		if err != nil {
			return err
		}
		if seq != 3 || !bytes.Equal(hash, first[2].Hash) {
			t.Errorf("AuditHead inside the transaction = %d, %x; want 3, %x", seq, hash, first[2].Hash)
		}
		// A second append in the same transaction continues the chain.
		second, err := tx.AppendAudit(in[3])
		if err != nil {
			return err
		}
		sealed = append(first, second...)
		got := slices.Collect(func(yield func(audit.Event) bool) {
			for e, err := range tx.AuditEvents(1) {
				if err != nil || !yield(e) {
					return
				}
			}
		})
		if !slices.Equal(seqs(got), []uint64{1, 2, 3, 4}) {
			t.Errorf("AuditEvents(1) inside the transaction yielded %v, want [1 2 3 4]", seqs(got))
		}
		return nil
	})
	// The sealed events carry the caller's contents.
	for i, e := range sealed {
		want := in[i]
		want.Seq, want.PrevHash, want.Hash, want.Time = e.Seq, e.PrevHash, e.Hash, in[i].Time.UTC()
		if d := sameEvent(e, want); d != "" {
			t.Errorf("sealed event %d lost the caller's contents: %s", i, d)
		}
	}
	checkStoredLog(t, s, sealed)
}

func testAuditAppendAcrossTransactions(t *testing.T, s datastore.Store) {
	var all []audit.Event
	for i, n := range []int{2, 1, 3, 1} {
		var batch []audit.Event
		for j := range n {
			k := len(all) + j
			batch = append(batch, sampleEvent(k, fmt.Sprintf("user-%d", i), auditCase1, baseTime.Add(time.Duration(k)*time.Minute)))
		}
		sealed := appendAudit(t, s, batch...)
		if len(sealed) != n {
			t.Fatalf("AppendAudit of %d events returned %d", n, len(sealed))
		}
		if sealed[0].Seq != uint64(len(all)+1) {
			t.Errorf("transaction %d: first seq %d, want %d", i, sealed[0].Seq, len(all)+1)
		}
		all = append(all, sealed...)
		checkStoredLog(t, s, all)
	}
}

// testAuditSealingIsTheStore's pins that the store seals with the stored
// head whatever the caller put in Seq, PrevHash and Hash, and that an event
// with invalid UTF-8 is stored as sealed (repaired), so it verifies.
func testAuditSealingIsTheStores(t *testing.T, s datastore.Store) {
	first := appendAudit(t, s, sampleEvent(1, "lan.nguyen", auditCase1, baseTime))
	forged := sampleEvent(2, "minh.tran", auditCase1, baseTime.Add(time.Minute))
	forged.Seq = 99
	forged.PrevHash = bytes.Repeat([]byte{0xab}, audit.HashSize)
	forged.Hash = bytes.Repeat([]byte{0xcd}, audit.HashSize)
	hostile := sampleEvent(3, "", "", baseTime.Add(2*time.Minute))
	hostile.Reason = "user \xff\xfe name"
	hostile.Action = "auth.fail"
	rest := appendAudit(t, s, forged, hostile)
	if rest[0].Seq != 2 || !bytes.Equal(rest[0].PrevHash, first[0].Hash) {
		t.Errorf("forged event sealed as seq %d after %x; want 2 after %x", rest[0].Seq, rest[0].PrevHash, first[0].Hash)
	}
	if !strings.Contains(rest[1].Reason, "\uFFFD") {
		t.Errorf("hostile Reason sealed as %q, want invalid bytes replaced", rest[1].Reason)
	}
	checkStoredLog(t, s, append(first, rest...))
}

func testAuditRollback(t *testing.T, s datastore.Store) {
	// On an empty log.
	err := s.Update(t.Context(), func(tx datastore.Tx) error {
		if _, err := tx.AppendAudit(sampleEvent(1, "lan.nguyen", auditCase1, baseTime)); err != nil {
			return err
		}
		return errBoom
	})
	if !errors.Is(err, errBoom) {
		t.Fatalf("Update = %v, want errBoom", err)
	}
	checkStoredLog(t, s, nil)

	kept := appendAudit(t, s,
		sampleEvent(1, "lan.nguyen", auditCase1, baseTime),
		sampleEvent(2, "minh.tran", auditCase1, baseTime.Add(time.Minute)),
	)
	err = s.Update(t.Context(), func(tx datastore.Tx) error {
		if _, err := tx.AppendAudit(
			sampleEvent(3, "hoa.le", auditCase12, baseTime.Add(2*time.Minute)),
			sampleEvent(4, "hoa.le", auditCase12, baseTime.Add(3*time.Minute)),
		); err != nil {
			return err
		}
		return errBoom
	})
	if !errors.Is(err, errBoom) {
		t.Fatalf("Update = %v, want errBoom", err)
	}
	checkStoredLog(t, s, kept)
	view(t, s, func(tx datastore.ReadTx) error {
		for _, q := range []datastore.AuditQuery{{Case: auditCase12}, {Actor: "hoa.le"}, {From: baseTime.Add(2 * time.Minute)}} {
			q.Limit = 10
			es, next, err := tx.ListAuditEvents(q)
			if err != nil || len(es) != 0 || next != "" {
				t.Errorf("after a rollback, ListAuditEvents(%+v) = %v, %q, %v; want none", q, seqs(es), next, err)
			}
		}
		return nil
	})
	// The next append continues from the committed head.
	more := appendAudit(t, s, sampleEvent(5, "hoa.le", auditCase12, baseTime.Add(4*time.Minute)))
	checkStoredLog(t, s, append(kept, more...))
}

func testAuditEventsFrom(t *testing.T, s datastore.Store) {
	var all []audit.Event
	for i := range 6 {
		all = append(all, appendAudit(t, s, sampleEvent(i, "lan.nguyen", "", baseTime.Add(time.Duration(i)*time.Second)))...)
	}
	for _, tt := range []struct {
		from uint64
		want []uint64
	}{
		{0, []uint64{1, 2, 3, 4, 5, 6}},
		{1, []uint64{1, 2, 3, 4, 5, 6}},
		{4, []uint64{4, 5, 6}},
		{6, []uint64{6}},
		{7, nil},
		{1 << 40, nil},
	} {
		got := storedEvents(t, s, tt.from)
		if !slices.Equal(seqs(got), tt.want) {
			t.Errorf("AuditEvents(%d) yielded %v, want %v", tt.from, seqs(got), tt.want)
		}
		for _, e := range got {
			if d := sameEvent(e, all[e.Seq-1]); d != "" {
				t.Errorf("AuditEvents(%d): event seq %d differs: %s", tt.from, e.Seq, d)
			}
		}
	}
	// Stopping early is allowed.
	view(t, s, func(tx datastore.ReadTx) error {
		var got []uint64
		for e, err := range tx.AuditEvents(2) {
			if err != nil {
				return err
			}
			got = append(got, e.Seq)
			if len(got) == 2 {
				break
			}
		}
		if !slices.Equal(got, []uint64{2, 3}) {
			t.Errorf("the first two of AuditEvents(2) = %v, want [2 3]", got)
		}
		return nil
	})
	// Verification from the middle: the first event links to one not
	// yielded, so Verify (which starts at seq 1) reports a gap there.
	view(t, s, func(tx datastore.ReadTx) error {
		_, problem, err := audit.Verify(tx.AuditEvents(3))
		if err != nil || problem == nil || problem.Seq != 3 {
			t.Errorf("audit.Verify(AuditEvents(3)) = %v, %v; want a problem at seq 3", problem, err)
		}
		return nil
	})
}

// auditSpecs are the events of auditSet: actor, case and time offset. The
// times are not in seq order everywhere, so a time filter must look at the
// times; "lan" and auditCase1 are prefixes of other values.
var auditSpecs = []struct {
	actor, caseName string
	at              time.Duration
}{
	{"lan.nguyen", auditCase1, 0},                    // 1
	{"minh.tran", auditCase1, time.Hour},             // 2
	{"lan", auditCase12, 2 * time.Hour},              // 3
	{"", "", 3 * time.Hour},                          // 4: anonymous
	{"lan.nguyen", auditCase12, 4 * time.Hour},       // 5
	{"lan.nguyen", "", 3*time.Hour + 30*time.Minute}, // 6
	{"minh.tran", auditCase1, 5 * time.Hour},         // 7
	{"lan.nguyen", auditCase1, 6 * time.Hour},        // 8
	{"lan", "", 7 * time.Hour},                       // 9
	{"lan.nguyen", auditCase1, 8 * time.Hour},        // 10
	{"", auditCase1, 9 * time.Hour},                  // 11
	{"minh.tran", auditCase12, 10 * time.Hour},       // 12
}

// auditDisclosures are the seqs of auditSpecs whose action is
// reporter.disclose; the others' is case.read.
var auditDisclosures = []uint64{3, 6, 10}

// auditSet appends auditSpecs, some in one transaction and some in their
// own, and returns them as sealed.
func auditSet(t *testing.T, s datastore.Store) []audit.Event {
	t.Helper()
	in := make([]audit.Event, len(auditSpecs))
	for i, sp := range auditSpecs {
		in[i] = sampleEvent(i+1, sp.actor, sp.caseName, baseTime.Add(sp.at))
		if slices.Contains(auditDisclosures, uint64(i+1)) {
			in[i].Action = "reporter.disclose"
		}
	}
	out := appendAudit(t, s, in[:5]...)
	for _, e := range in[5:] {
		out = append(out, appendAudit(t, s, e)...)
	}
	return out
}

// auditQueries are the filters the list tests run, with the seqs they
// select newest first where the result is pinned by hand (nil: computed
// only): by seq, except a time range without case or actor, which lists
// by time, then seq (event 6 comes before 5 in time).
var auditQueries = []struct {
	q    datastore.AuditQuery
	want []uint64
}{
	{datastore.AuditQuery{}, []uint64{12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1}},
	{datastore.AuditQuery{Case: auditCase1}, []uint64{11, 10, 8, 7, 2, 1}},
	{datastore.AuditQuery{Case: auditCase12}, []uint64{12, 5, 3}},
	{datastore.AuditQuery{Case: "cases/HN-2026-0000"}, []uint64{}},
	{datastore.AuditQuery{Actor: "lan.nguyen"}, []uint64{10, 8, 6, 5, 1}},
	{datastore.AuditQuery{Actor: "lan"}, []uint64{9, 3}},
	{datastore.AuditQuery{Actor: "minh.tran"}, []uint64{12, 7, 2}},
	{datastore.AuditQuery{Actor: "nobody"}, []uint64{}},
	{datastore.AuditQuery{Case: auditCase1, Actor: "lan.nguyen"}, []uint64{10, 8, 1}},
	{datastore.AuditQuery{Case: auditCase12, Actor: "lan"}, []uint64{3}},
	{datastore.AuditQuery{From: baseTime.Add(3 * time.Hour), To: baseTime.Add(6 * time.Hour)}, []uint64{7, 5, 6, 4}},
	{datastore.AuditQuery{From: baseTime.Add(3 * time.Hour)}, []uint64{12, 11, 10, 9, 8, 7, 5, 6, 4}},
	{datastore.AuditQuery{To: baseTime.Add(3 * time.Hour)}, []uint64{3, 2, 1}},
	{datastore.AuditQuery{From: baseTime.Add(time.Nanosecond), To: baseTime.Add(time.Hour)}, []uint64{}},
	{datastore.AuditQuery{Case: auditCase1, From: baseTime.Add(time.Hour), To: baseTime.Add(8 * time.Hour)}, []uint64{8, 7, 2}},
	{datastore.AuditQuery{Actor: "lan.nguyen", From: baseTime.Add(3 * time.Hour), To: baseTime.Add(4*time.Hour + 1)}, []uint64{6, 5}},
	{datastore.AuditQuery{Case: auditCase1, Actor: "minh.tran", From: baseTime.Add(2 * time.Hour)}, []uint64{7}},
	{datastore.AuditQuery{Action: "reporter.disclose"}, []uint64{10, 6, 3}},
	{datastore.AuditQuery{Action: "case.read"}, []uint64{12, 11, 9, 8, 7, 5, 4, 2, 1}},
	{datastore.AuditQuery{Action: "cases.export"}, []uint64{}},
	{datastore.AuditQuery{Action: "reporter.disclose", Actor: "lan.nguyen"}, []uint64{10, 6}},
	{datastore.AuditQuery{Action: "reporter.disclose", Case: auditCase12}, []uint64{3}},
	{datastore.AuditQuery{Action: "reporter.disclose", From: baseTime.Add(3 * time.Hour)}, []uint64{10, 6}},
}

func auditQueryName(q datastore.AuditQuery) string {
	var parts []string
	if q.Case != "" {
		parts = append(parts, "case "+q.Case)
	}
	if q.Actor != "" {
		parts = append(parts, "actor "+q.Actor)
	}
	if q.Action != "" {
		parts = append(parts, "action "+q.Action)
	}
	if !q.From.IsZero() {
		parts = append(parts, "from +"+q.From.Sub(baseTime).String())
	}
	if !q.To.IsZero() {
		parts = append(parts, "to +"+q.To.Sub(baseTime).String())
	}
	if len(parts) == 0 {
		return "all"
	}
	return strings.Join(parts, " ")
}

func listAuditSeqs(t *testing.T, s datastore.Store, q datastore.AuditQuery) []uint64 {
	t.Helper()
	q.Limit = 1000
	var got []audit.Event
	// As the audit log's List: a store may leave the entries of Batch's
	// events for later.
	if err := s.IndexAuditEvents(context.Background()); err != nil {
		t.Fatalf("IndexAuditEvents: %v", err)
	}
	view(t, s, func(tx datastore.ReadTx) error {
		var next string
		var err error
		got, next, err = tx.ListAuditEvents(q)
		if err != nil {
			return fmt.Errorf("ListAuditEvents(%s): %w", auditQueryName(q), err)
		}
		if next != "" {
			return fmt.Errorf("ListAuditEvents(%s) with a limit above the count returned cursor %q", auditQueryName(q), next)
		}
		return nil
	})
	return seqs(got)
}

func testAuditListFilters(t *testing.T, s datastore.Store) {
	events := auditSet(t, s)
	for _, tt := range auditQueries {
		if got := listAuditSeqs(t, s, tt.q); !slices.Equal(got, tt.want) {
			t.Errorf("ListAuditEvents(%s) = seqs %v, want newest first %v", auditQueryName(tt.q), got, tt.want)
		}
	}
	// Listed events are whole and exactly as sealed.
	view(t, s, func(tx datastore.ReadTx) error {
		got, _, err := tx.ListAuditEvents(datastore.AuditQuery{Case: auditCase1, Limit: 100})
		if err != nil {
			return err
		}
		for _, e := range got {
			if d := sameEvent(e, events[e.Seq-1]); d != "" {
				t.Errorf("listed event seq %d differs from the sealed one: %s", e.Seq, d)
			}
		}
		return nil
	})
}

// checkAuditPages walks the listing of q a page at a time, at every page
// size, and checks that the pages together are want (seqs).
func checkAuditPages(t *testing.T, s datastore.Store, q datastore.AuditQuery, want []uint64) {
	t.Helper()
	wantKeys := make([]string, len(want))
	for i, n := range want {
		wantKeys[i] = fmt.Sprint(n)
	}
	for _, limit := range pageSizes {
		t.Run(fmt.Sprintf("%s limit %d", auditQueryName(q), limit), func(t *testing.T) {
			got := walk(t, s, limit, len(wantKeys), func(tx datastore.ReadTx, after string) ([]string, string, error) {
				q := q
				q.After, q.Limit = after, limit
				page, next, err := tx.ListAuditEvents(q)
				keys := make([]string, len(page))
				for i, e := range page {
					keys[i] = fmt.Sprint(e.Seq)
				}
				return keys, next, err
			})
			checkWalk(t, got, wantKeys)
		})
	}
}

func testAuditListPaging(t *testing.T, s datastore.Store) {
	auditSet(t, s)
	for _, tt := range auditQueries {
		checkAuditPages(t, s, tt.q, tt.want)
	}
	// Events appended after a page was read appear on no later page: the
	// walk goes back in time.
	var cursor string
	view(t, s, func(tx datastore.ReadTx) error {
		var err error
		_, cursor, err = tx.ListAuditEvents(datastore.AuditQuery{Case: auditCase1, Limit: 2})
		return err
	})
	appendAudit(t, s, sampleEvent(13, "lan.nguyen", auditCase1, baseTime.Add(11*time.Hour)))
	view(t, s, func(tx datastore.ReadTx) error {
		es, next, err := tx.ListAuditEvents(datastore.AuditQuery{Case: auditCase1, After: cursor, Limit: 100})
		if err != nil {
			return err
		}
		if !slices.Equal(seqs(es), []uint64{8, 7, 2, 1}) || next != "" {
			t.Errorf("second page after a new event = %v, %q; want [8 7 2 1], \"\"", seqs(es), next)
		}
		return nil
	})
}

func auditCursor(t *testing.T, s datastore.Store, q datastore.AuditQuery) string {
	t.Helper()
	q.Limit = 1
	var next string
	view(t, s, func(tx datastore.ReadTx) error {
		var err error
		_, next, err = tx.ListAuditEvents(q)
		return err
	})
	if next == "" {
		t.Fatalf("ListAuditEvents(%s) returned no cursor", auditQueryName(q))
	}
	return next
}

func testAuditListBadCursor(t *testing.T, s datastore.Store) {
	auditSet(t, s)
	all := auditCursor(t, s, datastore.AuditQuery{})
	case1 := auditCursor(t, s, datastore.AuditQuery{Case: auditCase1})
	case12 := auditCursor(t, s, datastore.AuditQuery{Case: auditCase12})
	lan := auditCursor(t, s, datastore.AuditQuery{Actor: "lan"})
	lanNguyen := auditCursor(t, s, datastore.AuditQuery{Actor: "lan.nguyen"})
	for _, tt := range []struct {
		q     datastore.AuditQuery
		wrong []string
	}{
		{datastore.AuditQuery{}, []string{case1, lan}},
		{datastore.AuditQuery{Case: auditCase1}, []string{all, case12, lan, lanNguyen}},
		{datastore.AuditQuery{Case: auditCase12}, []string{case1, all}},
		{datastore.AuditQuery{Actor: "lan"}, []string{lanNguyen, all, case1}},
		{datastore.AuditQuery{Actor: "lan.nguyen"}, []string{lan, all}},
	} {
		for _, cur := range append(slices.Clone(forgedCursors), tt.wrong...) {
			q := tt.q
			q.After, q.Limit = cur, 5
			view(t, s, func(tx datastore.ReadTx) error {
				es, next, err := tx.ListAuditEvents(q)
				if !errors.Is(err, model.ErrBadCursor) {
					t.Errorf("ListAuditEvents(%s, after %q) = %v, %q, %v; want ErrBadCursor", auditQueryName(q), cur, seqs(es), next, err)
				}
				return nil
			})
		}
	}
	// Own cursors work, as a control; and a limit must be positive.
	view(t, s, func(tx datastore.ReadTx) error {
		for q, cur := range map[datastore.AuditQuery]string{{}: all, {Case: auditCase1}: case1, {Actor: "lan"}: lan} {
			q.After, q.Limit = cur, 100
			es, _, err := tx.ListAuditEvents(q)
			if err != nil || len(es) == 0 {
				t.Errorf("ListAuditEvents(%s) with its own cursor = %v, %v; want the next page", auditQueryName(q), seqs(es), err)
			}
		}
		if _, _, err := tx.ListAuditEvents(datastore.AuditQuery{Limit: 0}); err == nil {
			t.Error("ListAuditEvents(limit 0) succeeded")
		}
		return nil
	})
}

// testAuditListByTime pins the listing by time alone across pages, on a
// log whose times are out of seq order (instances sharing a store each
// stamp their own events) and share instants: newest time first, then the
// higher seq; From included, To not; a cursor of another listing refused.
func testAuditListByTime(t *testing.T, s datastore.Store) {
	at := func(m int) time.Time { return baseTime.Add(time.Duration(m) * time.Minute) }
	minutes := []int{10, 30, 20, 30, 40, 5, 30, 50, 25, 60} // seqs 1..10
	for i, m := range minutes {
		appendAudit(t, s, sampleEvent(i+1, "lan.nguyen", "", at(m)))
	}
	// A store created with the index has nothing to give entries to.
	update(t, s, func(tx datastore.Tx) error {
		n, done, err := tx.IndexAuditByTime(1)
		if err == nil && (!done || n != 0) {
			t.Errorf("IndexAuditByTime on a store created with the index = %d walked, done %v; want none, done", n, done)
		}
		return err
	})
	// And says so without a write: a start reads it to skip the duty.
	view(t, s, func(tx datastore.ReadTx) error {
		indexed, err := tx.AuditIndexedByTime()
		if err == nil && !indexed {
			t.Error("AuditIndexedByTime on a store created with the index = false, want true")
		}
		return err
	})
	for _, tt := range []struct {
		q    datastore.AuditQuery
		want []uint64
	}{
		{datastore.AuditQuery{From: at(20), To: at(50)}, []uint64{5, 7, 4, 2, 9, 3}},
		{datastore.AuditQuery{From: at(30)}, []uint64{10, 8, 5, 7, 4, 2}},
		{datastore.AuditQuery{To: at(30)}, []uint64{9, 3, 1, 6}},
		{datastore.AuditQuery{From: at(30), To: at(31)}, []uint64{7, 4, 2}},
		{datastore.AuditQuery{From: at(61)}, []uint64{}},
		{datastore.AuditQuery{To: at(5)}, []uint64{}},
	} {
		checkAuditPages(t, s, tt.q, tt.want)
	}
	// A cursor of the whole log's or an actor's listing is not one of the
	// index by time.
	byTime := datastore.AuditQuery{From: at(0)}
	for _, cur := range []string{auditCursor(t, s, datastore.AuditQuery{}), auditCursor(t, s, datastore.AuditQuery{Actor: "lan.nguyen"})} {
		q := byTime
		q.After, q.Limit = cur, 5
		view(t, s, func(tx datastore.ReadTx) error {
			if es, next, err := tx.ListAuditEvents(q); !errors.Is(err, model.ErrBadCursor) {
				t.Errorf("ListAuditEvents(%s, after %q) = %v, %q, %v; want ErrBadCursor", auditQueryName(q), cur, seqs(es), next, err)
			}
			return nil
		})
	}
}

// testAuditListByActionIsBounded: the action has no index of its own, so
// a page of one action, within whichever index the other filters choose
// (the whole log without them), passes over at most storekey.MaxSkipped
// events of other actions and ends there, empty, with a cursor to go on;
// paging on finds the event beyond them.
func testAuditListByActionIsBounded(t *testing.T, s datastore.Store) {
	at := baseTime.Add(time.Hour)
	events := []audit.Event{sampleEvent(1, "lan.nguyen", auditCase1, at)}
	events[0].Action = "reporter.disclose"
	for i := range storekey.MaxSkipped + 5 {
		events = append(events, sampleEvent(i+2, "lan.nguyen", auditCase1, at.Add(time.Duration(i+1)*time.Second)))
	}
	appendAudit(t, s, events...)
	for _, q := range []datastore.AuditQuery{
		{Action: "reporter.disclose"},
		{Action: "reporter.disclose", Case: auditCase1},
		{Action: "reporter.disclose", Actor: "lan.nguyen"},
		{Action: "reporter.disclose", From: baseTime, To: baseTime.Add(24 * time.Hour)},
	} {
		q.Limit = 5
		var found []audit.Event
		pages := 0
		for {
			var page []audit.Event
			var next string
			view(t, s, func(tx datastore.ReadTx) error {
				var err error
				page, next, err = tx.ListAuditEvents(q)
				return err
			})
			if pages == 0 && (len(page) != 0 || next == "") {
				t.Errorf("%s: the first page holds %d events, next %q; want none, with a cursor, after %d events of other actions",
					auditQueryName(q), len(page), next, storekey.MaxSkipped)
			}
			found, pages = append(found, page...), pages+1
			if next == "" || pages > 3 {
				break
			}
			q.After = next
		}
		if len(found) != 1 || found[0].Action != "reporter.disclose" {
			t.Errorf("%s: %d pages found %d events, want the one disclosure", auditQueryName(q), pages, len(found))
		}
	}
}
