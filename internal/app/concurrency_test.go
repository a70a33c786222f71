package app_test

// Many writers on the same cases: no lost update, no phantom write, and a
// history that can be explained by one order of the operations that agrees
// with real time (linearizability of each case as a register versioned by
// its etag). The check is an invariant check written for this model rather
// than a general checker such as porcupine: for a register whose every
// successful write carries the version it read and returns the next one,
// the conditions below are what a linearizable history must satisfy, and
// they are cheap to check exactly.

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	grpcstatus "google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	pb "github.com/childcase/childcase/api/childcase/v1"
)

// concOp is one operation of the history, as the client saw it.
type concOp struct {
	kind      string // "read", "note", "ack"
	worker    int
	caseIdx   int
	call, ret time.Time
	etag      uint64 // read: the etag read; write: the etag sent
	code      codes.Code
	newEtag   uint64 // a successful write: the etag answered
	text      string // a note's text
}

// parseEtag is the revision an etag counts: its number, before the dot
// and the tag of its case (the same on every etag of one case).
func parseEtag(t *testing.T, s string) uint64 {
	t.Helper()
	count, _, _ := strings.Cut(s, ".")
	n, err := strconv.ParseUint(count, 10, 64)
	if err != nil {
		t.Errorf("etag %q is not a revision number", s)
	}
	return n
}

// TestConcurrentUpdatesOfTheSameCases runs 16 workers, each reading one of
// three cases and then updating it with the etag it read (a note, or the
// acknowledgement), many times over. It then checks, for each case:
//
//   - every successful write answered the etag it sent plus one, the
//     successful writes' etags are distinct and exactly the revisions from
//     the initial one to the final one: no update was lost, and the number
//     of successful writes is the number of revisions the case moved by;
//   - real time: a write that finished before another began has the lower
//     revision; a read (or a refusal of a step the state did not allow,
//     which is decided after the etag matched) saw a revision that was
//     current at some moment within its call; an ABORTED write was sent
//     while the case was at another revision at some moment within its
//     call, never while its etag was certainly current;
//   - the state is that history: the case's notes are the successful
//     notes' texts, each once, in the order of their revisions, and no
//     refused write's text; the timeline and the audit log hold one entry
//     per successful write and none for a refused one;
//   - a retry with the same request_id answered the first result and
//     changed nothing.
func TestConcurrentUpdatesOfTheSameCases(t *testing.T) {
	const (
		workers = 16
		iters   = 30
		nCases  = 3
		users   = 4
	)
	ts := startServerAt(t, testNow, "")
	ts.addUser(t, "auditor", pb.Role_ROLE_AUDITOR, "orgs/system")
	ctxs := make([]context.Context, users)
	for u := range users {
		id := fmt.Sprintf("bd.worker%d", u)
		ts.addUser(t, id, pb.Role_ROLE_COMMUNE_WORKER, pBaDinh)
		ctxs[u] = ts.as(t, id)
	}
	names := make([]string, nCases)
	initial := make([]uint64, nCases)
	for i := range names {
		names[i] = openCase(t, ts, testNow.Add(-time.Hour), "00004")
		initial[i] = parseEtag(t, etagOf(t, ts, "bd.worker0", names[i]))
	}

	var mu sync.Mutex
	var history []concOp
	record := func(o concOp) {
		mu.Lock()
		history = append(history, o)
		mu.Unlock()
	}
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			ctx := ctxs[w%users]
			rng := rand.New(rand.NewPCG(uint64(w), 2026))
			for i := range iters {
				ci := rng.IntN(nCases)
				name := names[ci]
				call := time.Now()
				c, err := ts.cases().GetCase(ctx, &pb.GetCaseRequest{Name: name})
				ret := time.Now()
				if err != nil {
					t.Errorf("worker %d: GetCase: %v", w, err)
					return
				}
				etag := c.GetEtag()
				record(concOp{kind: "read", worker: w, caseIdx: ci, call: call, ret: ret, etag: parseEtag(t, etag), code: codes.OK})

				op := concOp{worker: w, caseIdx: ci, etag: parseEtag(t, etag)}
				reqID := fmt.Sprintf("w%02d-%03d", w, i)
				var send func() (*pb.Case, error)
				if i == 0 {
					op.kind = "ack"
					req := &pb.AcknowledgeCaseRequest{Name: name, Etag: etag, RequestId: reqID}
					send = func() (*pb.Case, error) { return ts.process().AcknowledgeCase(ctx, req) }
				} else {
					op.kind = "note"
					op.text = fmt.Sprintf("note of worker %d, step %d", w, i)
					req := &pb.AddCaseNoteRequest{Name: name, Etag: etag, RequestId: reqID, Text: op.text}
					send = func() (*pb.Case, error) { return ts.process().AddCaseNote(ctx, req) }
				}
				op.call = time.Now()
				answer, err := send()
				op.ret = time.Now()
				op.code = grpcstatus.Code(err)
				switch op.code {
				case codes.OK:
					op.newEtag = parseEtag(t, answer.GetEtag())
				case codes.Aborted, codes.FailedPrecondition:
				default:
					t.Errorf("worker %d: %s: %v", w, op.kind, err)
					return
				}
				record(op)
				// Every third success is retried at once, with the same
				// request_id and the now stale etag: the first answer.
				if op.code == codes.OK && i%3 == 0 {
					again, err := send()
					if err != nil || !proto.Equal(again, answer) {
						t.Errorf("worker %d: retried %s %s = etag %s, %v; want the first answer, etag %s",
							w, op.kind, reqID, again.GetEtag(), err, answer.GetEtag())
					}
				}
			}
		})
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	outcomes := map[string]int{}
	for _, o := range history {
		if o.kind != "read" {
			outcomes[o.code.String()]++
		}
	}
	t.Logf("writes: %v", outcomes)
	if outcomes[codes.Aborted.String()] == 0 {
		t.Error("no write was ABORTED: the test did not exercise concurrent updates")
	}

	for ci, name := range names {
		var ops, oks []concOp
		for _, o := range history {
			if o.caseIdx == ci {
				ops = append(ops, o)
				if o.kind != "read" && o.code == codes.OK {
					oks = append(oks, o)
				}
			}
		}
		final := getCase(t, ts, "bd.worker0", name)
		last := parseEtag(t, final.GetEtag())
		checkChain(t, name, initial[ci], last, ops, oks)

		// The state is the history.
		var wantNotes []string
		okAcks := 0
		for _, o := range oks {
			switch o.kind {
			case "note":
				wantNotes = append(wantNotes, o.text)
			case "ack":
				okAcks++
			}
		}
		var gotNotes []string
		for _, n := range final.GetDossier().GetNotes() {
			if n.GetKind() == "NOTE" {
				gotNotes = append(gotNotes, n.GetText())
			}
		}
		if !slices.Equal(gotNotes, wantNotes) {
			t.Errorf("%s: the notes are not the successful notes in revision order:\n got  %q\n want %q", name, gotNotes, wantNotes)
		}
		timeline := caseEvents(t, ts, "bd.worker0", name)
		if n := countEvents(timeline, "NOTE_ADDED", 0); n != len(wantNotes) {
			t.Errorf("%s: %d NOTE_ADDED events, want %d", name, n, len(wantNotes))
		}
		if n := countEvents(timeline, "ACKNOWLEDGED", 0); n != okAcks || okAcks > 1 {
			t.Errorf("%s: %d ACKNOWLEDGED events, %d successful acknowledgements; want equal, at most 1", name, n, okAcks)
		}
		audited := map[string]int{}
		token := ""
		for {
			resp, err := ts.audit().ListAuditEvents(ts.as(t, "auditor"), &pb.ListAuditEventsRequest{Case: name, PageSize: 1000, PageToken: token})
			if err != nil {
				t.Fatalf("ListAuditEvents: %v", err)
			}
			for _, e := range resp.GetEvents() {
				// A stale etag's refusal is on the trail too, as refused.
				audited[e.GetAction()+" "+e.GetOutcome()]++
			}
			if token = resp.GetNextPageToken(); token == "" {
				break
			}
		}
		if audited["case.addNote ok"] != len(wantNotes) || audited["case.acknowledge ok"] != okAcks {
			t.Errorf("%s: audited %d notes and %d acknowledgements, want %d and %d",
				name, audited["case.addNote ok"], audited["case.acknowledge ok"], len(wantNotes), okAcks)
		}
	}
}

// checkChain checks one case's history against the register model.
func checkChain(t *testing.T, name string, initial, last uint64, ops, oks []concOp) {
	t.Helper()
	// The successful writes form the chain initial -> initial+1 -> ... ->
	// last, one write per step.
	if uint64(len(oks)) != last-initial {
		t.Errorf("%s: %d successful writes, but the case moved from revision %d to %d", name, len(oks), initial, last)
	}
	producer := map[uint64]concOp{} // revision -> the write that made it
	for _, o := range oks {
		if o.newEtag != o.etag+1 {
			t.Errorf("%s: %s sent etag %d and answered %d, want %d", name, o.kind, o.etag, o.newEtag, o.etag+1)
		}
		if prev, dup := producer[o.newEtag]; dup {
			t.Errorf("%s: two writes answered etag %d (%s of worker %d, %s of worker %d): a lost update", name, o.newEtag, prev.kind, prev.worker, o.kind, o.worker)
		}
		producer[o.newEtag] = o
	}
	for r := initial + 1; r <= last; r++ {
		if _, ok := producer[r]; !ok {
			t.Errorf("%s: no successful write answered revision %d", name, r)
		}
	}
	if t.Failed() {
		return
	}
	slices.SortFunc(oks, func(a, b concOp) int { return int(a.newEtag) - int(b.newEtag) })
	// Real time: a write finished before another began has a lower revision.
	for i, a := range oks {
		for _, b := range oks[i+1:] {
			if b.ret.Before(a.call) {
				t.Errorf("%s: the write to revision %d finished before the one to %d began", name, b.newEtag, a.newEtag)
			}
		}
	}
	// When revision r was possibly current: from the call of the write that
	// made it until the return of the next; certainly current: from the
	// return of the write that made it until the call of the next.
	var never, forever time.Time // zero: the beginning of the test
	forever = time.Now().Add(time.Hour)
	possiblyFrom := func(r uint64) time.Time {
		if r == initial {
			return never
		}
		return producer[r].call
	}
	possiblyUntil := func(r uint64) time.Time {
		if r == last {
			return forever
		}
		return producer[r+1].ret
	}
	certainlyFrom := func(r uint64) time.Time {
		if r == initial {
			return never
		}
		return producer[r].ret
	}
	certainlyUntil := func(r uint64) time.Time {
		if r == last {
			return forever
		}
		return producer[r+1].call
	}
	for _, o := range ops {
		observed := o.kind == "read" || o.code == codes.FailedPrecondition
		switch {
		case o.etag < initial || o.etag > last:
			t.Errorf("%s: %s of worker %d carried etag %d, outside %d..%d", name, o.kind, o.worker, o.etag, initial, last)
		case observed && !(o.call.Before(possiblyUntil(o.etag)) && o.ret.After(possiblyFrom(o.etag))):
			t.Errorf("%s: %s of worker %d (%v) saw revision %d when it was not current", name, o.kind, o.worker, o.code, o.etag)
		case o.code == codes.Aborted && !o.call.Before(certainlyFrom(o.etag)) && !o.ret.After(certainlyUntil(o.etag)):
			t.Errorf("%s: %s of worker %d was ABORTED although its etag %d was current throughout", name, o.kind, o.worker, o.etag)
		}
	}
}
