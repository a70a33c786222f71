package audit_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"iter"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/childcase/childcase/internal/domain/audit"
)

var t0 = time.Date(2026, 3, 14, 8, 30, 0, 123456789, time.UTC)

// sealed returns a chain of n events with distinct contents, sealed from an
// empty log.
func sealed(t testing.TB, n int) []audit.Event {
	t.Helper()
	c := audit.NewChain(0, nil)
	out := make([]audit.Event, 0, n)
	for i := range n {
		out = append(out, c.Next(audit.Event{
			Time:      t0.Add(time.Duration(i) * time.Minute),
			Actor:     "u-" + string(rune('a'+i)),
			Role:      "caseworker",
			Unit:      "Phường Hoàn Kiếm",
			Action:    "case.read",
			Resource:  "cases/HN-2026-0000" + string(rune('1'+i)),
			RequestID: "req-" + string(rune('1'+i)),
			Reason:    "",
			Outcome:   audit.OutcomeOK,
		}))
	}
	return out
}

// all yields events in slice order with no read errors, as storage would.
func all(events []audit.Event) iter.Seq2[audit.Event, error] {
	return func(yield func(audit.Event, error) bool) {
		for _, e := range events {
			if !yield(e, nil) {
				return
			}
		}
	}
}

func TestChainOfFiveVerifies(t *testing.T) {
	events := sealed(t, 5)
	checked, problem, err := audit.Verify(all(events))
	if err != nil || problem != nil || checked != 5 {
		t.Fatalf("Verify = (%d, %v, %v), want (5, nil, nil)", checked, problem, err)
	}
	// The links are what Verify relies on; check them directly too.
	if !bytes.Equal(events[0].PrevHash, make([]byte, 32)) {
		t.Errorf("event 1 PrevHash = %x, want 32 zero bytes", events[0].PrevHash)
	}
	for i, e := range events {
		if e.Seq != uint64(i+1) {
			t.Errorf("event %d Seq = %d", i+1, e.Seq)
		}
		if len(e.Hash) != audit.HashSize {
			t.Errorf("event %d Hash length = %d", i+1, len(e.Hash))
		}
		if i > 0 && !bytes.Equal(e.PrevHash, events[i-1].Hash) {
			t.Errorf("event %d PrevHash does not equal event %d Hash", i+1, i)
		}
	}
}

func TestVerifyEmpty(t *testing.T) {
	checked, problem, err := audit.Verify(all(nil))
	if checked != 0 || problem != nil || err != nil {
		t.Fatalf("Verify(empty) = (%d, %v, %v), want (0, nil, nil)", checked, problem, err)
	}
}

func TestVerifyTamperedField(t *testing.T) {
	tests := []struct {
		field  string
		tamper func(*audit.Event)
	}{
		{"Actor", func(e *audit.Event) { e.Actor = "someone-else" }},
		{"Actor emptied", func(e *audit.Event) { e.Actor = "" }},
		{"Role", func(e *audit.Event) { e.Role = "admin" }},
		{"Unit", func(e *audit.Event) { e.Unit = "Phường Ba Đình" }},
		{"Action", func(e *audit.Event) { e.Action = "case.update" }},
		{"Resource", func(e *audit.Event) { e.Resource = "cases/HN-2026-00099" }},
		{"Case", func(e *audit.Event) { e.Case = "cases/HN-2026-00099" }},
		{"Time", func(e *audit.Event) { e.Time = e.Time.Add(time.Nanosecond) }},
		{"Reason", func(e *audit.Event) { e.Reason = "court order" }},
		{"Outcome", func(e *audit.Event) { e.Outcome = audit.OutcomeDenied }},
		{"RequestID", func(e *audit.Event) { e.RequestID = "req-x" }},
		{"Token added", func(e *audit.Event) { e.Token = "7f3a9c01d2e4b5a6" }},
		{"TokenCreatedBy added", func(e *audit.Event) { e.TokenCreatedBy = "admin" }},
		{"Seq", func(e *audit.Event) { e.Seq = 30 }},
		{"Hash", func(e *audit.Event) { e.Hash = bytes.Repeat([]byte{1}, 32) }},
	}
	for _, tt := range tests {
		t.Run(tt.field, func(t *testing.T) {
			events := sealed(t, 5)
			tt.tamper(&events[2])
			checked, problem, err := audit.Verify(all(events))
			if err != nil {
				t.Fatal(err)
			}
			want := audit.Problem{Seq: 3, Reason: "hash does not match contents"}
			if tt.field == "Seq" {
				// An event that fails its hash is not believed about its
				// own seq: the problem is where the walk found it, seq 3,
				// not at the intact place its edited field names.
				want.Reason += ", and the event in the place of seq 3 says it is seq 30"
			}
			if problem == nil || *problem != want {
				t.Fatalf("problem = %v, want %v", problem, &want)
			}
			if checked != 2 {
				t.Errorf("checked = %d, want 2 (the events before the broken one)", checked)
			}
		})
	}
}

func TestVerifyStructuralDamage(t *testing.T) {
	tests := []struct {
		name    string
		damage  func([]audit.Event) []audit.Event
		want    audit.Problem
		checked uint64
	}{
		{
			name:    "delete event 3",
			damage:  func(es []audit.Event) []audit.Event { return slices.Delete(es, 2, 3) },
			want:    audit.Problem{Seq: 4, Reason: "sequence gap: expected 3, found 4"},
			checked: 2,
		},
		{
			name:    "delete event 1",
			damage:  func(es []audit.Event) []audit.Event { return es[1:] },
			want:    audit.Problem{Seq: 2, Reason: "sequence gap: expected 1, found 2"},
			checked: 0,
		},
		{
			// The walk meets event 3 where event 2 belongs. Looking at one
			// event at a time it cannot tell a swap from a deleted event 2,
			// so the first broken link is reported at seq 3, as a gap.
			name: "swap events 2 and 3",
			damage: func(es []audit.Event) []audit.Event {
				es[1], es[2] = es[2], es[1]
				return es
			},
			want:    audit.Problem{Seq: 3, Reason: "sequence gap: expected 2, found 3"},
			checked: 1,
		},
		{
			name:    "replay event 3 after event 4",
			damage:  func(es []audit.Event) []audit.Event { return slices.Insert(es, 4, es[2]) },
			want:    audit.Problem{Seq: 3, Reason: "sequence out of order"},
			checked: 4,
		},
		{
			// A forger who cannot know the previous hash links event 3 to a
			// made-up one and re-seals it: event 3 is self-consistent, but
			// its link is wrong.
			name: "event 3 PrevHash changed and Hash recomputed",
			damage: func(es []audit.Event) []audit.Event {
				es[2].PrevHash = bytes.Repeat([]byte{0xab}, 32)
				es[2].Hash = es[2].ComputeHash()
				return es
			},
			want:    audit.Problem{Seq: 3, Reason: "prev_hash does not match the previous event"},
			checked: 2,
		},
		{
			// Re-sealing an edited event passes that event; the break shows
			// at the next one, whose PrevHash still names the original.
			name: "event 3 edited and Hash recomputed",
			damage: func(es []audit.Event) []audit.Event {
				es[2].Actor = "someone-else"
				es[2].Hash = es[2].ComputeHash()
				return es
			},
			want:    audit.Problem{Seq: 4, Reason: "prev_hash does not match the previous event"},
			checked: 3,
		},
		{
			name: "event 1 PrevHash nil instead of zeros",
			damage: func(es []audit.Event) []audit.Event {
				es[0].PrevHash = nil
				es[0].Hash = es[0].ComputeHash()
				return es
			},
			want:    audit.Problem{Seq: 1, Reason: "prev_hash does not match the previous event"},
			checked: 0,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			events := tt.damage(sealed(t, 5))
			checked, problem, err := audit.Verify(all(events))
			if err != nil {
				t.Fatal(err)
			}
			if problem == nil || *problem != tt.want {
				t.Fatalf("problem = %v, want %v", problem, &tt.want)
			}
			if checked != tt.checked {
				t.Errorf("checked = %d, want %d", checked, tt.checked)
			}
		})
	}
}

// Truncation leaves a whole chain: only the separately stored head shows
// that events are missing.
func TestTruncationNeedsHead(t *testing.T) {
	events := sealed(t, 5)
	headSeq, headHash := uint64(5), events[4].Hash // as storage recorded it
	truncated := events[:4]

	checked, problem, err := audit.Verify(all(truncated))
	if checked != 4 || problem != nil || err != nil {
		t.Fatalf("Verify(truncated) = (%d, %v, %v); the chain alone is expected not to detect truncation", checked, problem, err)
	}

	tests := []struct {
		name     string
		events   []audit.Event
		wantSeq  uint64
		wantHash []byte
		want     *audit.Problem
		checked  uint64
	}{
		{"intact", events, headSeq, headHash, nil, 5},
		{"empty log, empty head", nil, 0, nil, nil, 0},
		{"empty log, empty head as zeros", nil, 0, make([]byte, 32), nil, 0},
		{"last event removed", truncated, headSeq, headHash,
			&audit.Problem{Seq: 5, Reason: "log ends at seq 4, but the recorded head is seq 5"}, 4},
		{"all events removed", nil, headSeq, headHash,
			&audit.Problem{Seq: 1, Reason: "log ends at seq 0, but the recorded head is seq 5"}, 0},
		{"event beyond head", events, 4, events[3].Hash,
			&audit.Problem{Seq: 5, Reason: "log continues past the recorded head seq 4, to seq 5"}, 5},
		{"head hash differs", events, headSeq, bytes.Repeat([]byte{7}, 32),
			&audit.Problem{Seq: 5, Reason: "last event hash does not match the recorded head"}, 5},
		{"chain problem reported first", slices.Delete(slices.Clone(events), 2, 3), headSeq, headHash,
			&audit.Problem{Seq: 4, Reason: "sequence gap: expected 3, found 4"}, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			checked, problem, err := audit.VerifyHead(all(tt.events), tt.wantSeq, tt.wantHash)
			if err != nil {
				t.Fatal(err)
			}
			switch {
			case tt.want == nil && problem != nil:
				t.Fatalf("problem = %v, want nil", problem)
			case tt.want != nil && (problem == nil || *problem != *tt.want):
				t.Fatalf("problem = %v, want %v", problem, tt.want)
			}
			if checked != tt.checked {
				t.Errorf("checked = %d, want %d", checked, tt.checked)
			}
		})
	}
}

func TestVerifyReadError(t *testing.T) {
	events := sealed(t, 5)
	readErr := errors.New("disk on fire")
	seq := func(yield func(audit.Event, error) bool) {
		for _, e := range events[:2] {
			if !yield(e, nil) {
				return
			}
		}
		if !yield(audit.Event{}, readErr) {
			return
		}
		t.Error("iteration continued after a read error")
	}
	for name, verify := range map[string]func(iter.Seq2[audit.Event, error]) (uint64, *audit.Problem, error){
		"Verify": audit.Verify,
		"VerifyHead": func(s iter.Seq2[audit.Event, error]) (uint64, *audit.Problem, error) {
			return audit.VerifyHead(s, 5, events[4].Hash)
		},
	} {
		t.Run(name, func(t *testing.T) {
			checked, problem, err := verify(seq)
			if !errors.Is(err, readErr) {
				t.Fatalf("err = %v, want %v", err, readErr)
			}
			if problem != nil || checked != 2 {
				t.Errorf("checked, problem = %d, %v; want 2, nil", checked, problem)
			}
		})
	}
}

func TestVerifyStopsAtFirstProblem(t *testing.T) {
	events := sealed(t, 5)
	events[1].Actor = "x"
	yielded := 0
	seq := func(yield func(audit.Event, error) bool) {
		for _, e := range events {
			yielded++
			if !yield(e, nil) {
				return
			}
		}
	}
	if _, problem, _ := audit.Verify(seq); problem == nil || problem.Seq != 2 {
		t.Fatalf("problem = %v, want seq 2", problem)
	}
	if yielded != 2 {
		t.Errorf("iterator yielded %d events, want 2: Verify should stop reading at the first problem", yielded)
	}
}

// Bytes must not be able to move between neighbouring fields without
// changing the hash.
func TestFieldBoundaries(t *testing.T) {
	tests := []struct {
		name string
		a, b audit.Event
	}{
		{"Actor/Role", audit.Event{Actor: "ab", Role: "c"}, audit.Event{Actor: "a", Role: "bc"}},
		{"Role/Unit", audit.Event{Role: "a", Unit: "bc"}, audit.Event{Role: "ab", Unit: "c"}},
		{"Resource/RequestID", audit.Event{Resource: "cases/1", RequestID: "2"}, audit.Event{Resource: "cases/", RequestID: "12"}},
		{"Reason/Outcome", audit.Event{Reason: "x", Outcome: "ok"}, audit.Event{Reason: "xok"}},
		{"field moved to the next", audit.Event{Actor: "a"}, audit.Event{Role: "a"}},
		{"Outcome/Token", audit.Event{Outcome: "ok", Token: "7f"}, audit.Event{Outcome: "ok7f"}},
		{"Token/TokenCreatedBy", audit.Event{Token: "ab", TokenCreatedBy: "c"}, audit.Event{Token: "a", TokenCreatedBy: "bc"}},
		{"token moved to its creator", audit.Event{Token: "a"}, audit.Event{TokenCreatedBy: "a"}},
		{"PrevHash one zero byte vs nil", audit.Event{PrevHash: []byte{0}}, audit.Event{PrevHash: nil}},
		{"PrevHash/Seq", audit.Event{PrevHash: []byte{0, 0, 0, 0, 0, 0, 0, 1}, Seq: 2}, audit.Event{PrevHash: nil, Seq: 1}},
		{"same wall clock, other zone", audit.Event{Time: time.Date(2026, 1, 1, 8, 0, 0, 0, time.UTC)},
			audit.Event{Time: time.Date(2026, 1, 1, 8, 0, 0, 0, time.FixedZone("ICT", 7*3600))}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if bytes.Equal(tt.a.ComputeHash(), tt.b.ComputeHash()) {
				t.Fatalf("%+v and %+v hash alike", tt.a, tt.b)
			}
		})
	}
}

// canonical builds the encoding exactly as ComputeHash documents it,
// independently of the package, so the documentation and the code cannot
// drift apart.
func canonical(e audit.Event) []byte {
	var b []byte
	b = append(b, "childcase.audit.event.v1\x00"...)
	b = binary.BigEndian.AppendUint64(b, uint64(len(e.PrevHash)))
	b = append(b, e.PrevHash...)
	b = binary.BigEndian.AppendUint64(b, e.Seq)
	b = binary.BigEndian.AppendUint64(b, uint64(e.Time.UnixNano()))
	strs := []string{e.Actor, e.Role, e.Unit, e.Action, e.Resource, e.Case, e.RequestID, e.Reason, e.Outcome}
	if e.Token != "" || e.TokenCreatedBy != "" {
		strs = append(strs, e.Token, e.TokenCreatedBy)
	}
	for _, s := range strs {
		b = binary.BigEndian.AppendUint64(b, uint64(len(s)))
		b = append(b, s...)
	}
	return b
}

func TestComputeHashMatchesDocumentedEncoding(t *testing.T) {
	e := audit.Event{
		Seq:       42,
		Time:      t0,
		Actor:     "u-7",
		Role:      "supervisor",
		Unit:      "Xã Sóc Sơn",
		Action:    "reporter.disclose",
		Resource:  "cases/HN-2026-00001/reporter",
		Case:      "cases/HN-2026-00001",
		RequestID: "req-1",
		Reason:    "police request 12/CV",
		Outcome:   "ok",
		PrevHash:  bytes.Repeat([]byte{0x5a}, 32),
		Hash:      []byte("ignored"),
	}
	sum := sha256.Sum256(canonical(e))
	if got := e.ComputeHash(); !bytes.Equal(got, sum[:]) {
		t.Fatalf("ComputeHash = %x, documented encoding gives %x", got, sum)
	}
	// Frozen value: stored chains depend on it, so any change to the
	// encoding must be a new version, not an edit.
	const golden = "0769cfe51010106bf0a2a5ec15075e9c5adbea61745e78de1e1cc559482b1e83"
	if got := hex.EncodeToString(e.ComputeHash()); got != golden {
		t.Errorf("ComputeHash = %s, want frozen %s", got, golden)
	}
	// An event made with a token hashes its token and creator too; one
	// without (every event written before they were recorded) hashes as
	// it always did, the frozen value above.
	withToken := e
	withToken.Token, withToken.TokenCreatedBy = "7f3a9c01d2e4b5a6", "admin"
	sum = sha256.Sum256(canonical(withToken))
	if got := withToken.ComputeHash(); !bytes.Equal(got, sum[:]) {
		t.Fatalf("ComputeHash with a token = %x, documented encoding gives %x", got, sum)
	}
	const goldenWithToken = "7f190cad24d20cca1c7bef2330cc02e340b1e7a3a39ec3a1aa260d068cecff98"
	if got := hex.EncodeToString(withToken.ComputeHash()); got != goldenWithToken {
		t.Errorf("ComputeHash with a token = %s, want frozen %s", got, goldenWithToken)
	}
	// Hash itself is not hashed, and the zone is not part of the instant.
	e2 := e
	e2.Hash = nil
	e2.Time = e.Time.In(time.FixedZone("ICT", 7*3600))
	if !bytes.Equal(e.ComputeHash(), e2.ComputeHash()) {
		t.Error("hash depends on Hash or on the time zone")
	}
}

func TestChainResume(t *testing.T) {
	events := sealed(t, 5)
	first := audit.NewChain(0, nil)
	var got []audit.Event
	for _, e := range events[:3] {
		got = append(got, first.Next(e))
	}
	seq, hash := first.Head()
	if seq != 3 || !bytes.Equal(hash, got[2].Hash) {
		t.Fatalf("Head = (%d, %x), want (3, %x)", seq, hash, got[2].Hash)
	}
	// Storage reads the head back in a later transaction.
	second := audit.NewChain(seq, hash)
	hash[0] ^= 0xff // NewChain and Head must have copied
	for _, e := range events[3:] {
		got = append(got, second.Next(e))
	}
	checked, problem, err := audit.VerifyHead(all(got), 5, got[4].Hash)
	if checked != 5 || problem != nil || err != nil {
		t.Fatalf("VerifyHead(resumed) = (%d, %v, %v), want (5, nil, nil)", checked, problem, err)
	}
	// Same contents sealed in one go give the same hashes.
	for i := range events {
		if !bytes.Equal(events[i].Hash, got[i].Hash) {
			t.Errorf("event %d: resumed hash differs from one-go hash", i+1)
		}
	}
}

func TestNewChainEmpty(t *testing.T) {
	for _, lastHash := range [][]byte{nil, {1, 2, 3}} {
		c := audit.NewChain(0, lastHash)
		seq, hash := c.Head()
		if seq != 0 || !bytes.Equal(hash, make([]byte, 32)) {
			t.Errorf("NewChain(0, %x).Head() = (%d, %x), want (0, zeros)", lastHash, seq, hash)
		}
		e := c.Next(audit.Event{Time: t0})
		if e.Seq != 1 || !bytes.Equal(e.PrevHash, make([]byte, 32)) {
			t.Errorf("first event Seq=%d PrevHash=%x", e.Seq, e.PrevHash)
		}
	}
}

func TestNextOverridesAndIsolates(t *testing.T) {
	c := audit.NewChain(0, nil)
	ict := time.FixedZone("ICT", 7*3600)
	e1 := c.Next(audit.Event{
		Seq: 99, PrevHash: []byte("forged"), Hash: []byte("forged"),
		Time: time.Date(2026, 1, 1, 15, 0, 0, 0, ict), Actor: "u-1",
	})
	if e1.Seq != 1 || !bytes.Equal(e1.PrevHash, make([]byte, 32)) || !bytes.Equal(e1.Hash, e1.ComputeHash()) {
		t.Fatalf("Next kept caller-set link fields: %+v", e1)
	}
	if e1.Time.Location() != time.UTC || !e1.Time.Equal(time.Date(2026, 1, 1, 8, 0, 0, 0, time.UTC)) {
		t.Errorf("Time = %v, want 2026-01-01 08:00 UTC", e1.Time)
	}
	// Scribbling on a returned event must not change the chain.
	e1.Hash[0] ^= 0xff
	e2 := c.Next(audit.Event{Time: t0})
	if _, h := c.Head(); !bytes.Equal(e2.Hash, h) {
		t.Error("Head differs from the last event's hash")
	}
	e1.Hash[0] ^= 0xff
	if !bytes.Equal(e2.PrevHash, e1.Hash) {
		t.Error("caller's change to a returned Hash leaked into the chain")
	}
}

func TestNextReplacesInvalidUTF8(t *testing.T) {
	c := audit.NewChain(0, nil)
	e := c.Next(audit.Event{Time: t0, Actor: "bad\xff\xfeuser", RequestID: "ok"})
	if e.Actor != "bad\uFFFDuser" || e.RequestID != "ok" {
		t.Fatalf("Actor, RequestID = %q, %q", e.Actor, e.RequestID)
	}
	b, err := audit.Encode(e)
	if err != nil {
		t.Fatal(err)
	}
	d, err := audit.Decode(b)
	if err != nil {
		t.Fatal(err)
	}
	if checked, problem, err := audit.Verify(all([]audit.Event{d})); checked != 1 || problem != nil || err != nil {
		t.Fatalf("Verify(decoded) = (%d, %v, %v)", checked, problem, err)
	}
}

func TestEncodeDecodeRoundTrip(t *testing.T) {
	events := sealed(t, 3)
	c := audit.NewChain(3, events[2].Hash)
	events = append(events,
		c.Next(audit.Event{
			Time:      time.Date(2026, 12, 31, 23, 59, 59, 999999999, time.UTC),
			Actor:     "u-9",
			Role:      "chủ tịch UBND",
			Unit:      "Phường Cửa Nam",
			Action:    "reporter.disclose",
			Resource:  "cases/HN-2026-00001/reporter",
			RequestID: "7f3c<&>\"\\",
			Reason:    "Công văn số 12/CV-CA\nline two",
			Outcome:   audit.OutcomeOK,
		}),
		c.Next(audit.Event{Time: t0, Action: "auth.fail", Outcome: audit.OutcomeDenied}), // anonymous
		c.Next(audit.Event{Time: t0, Actor: "u-1", Action: "case.read", Outcome: audit.OutcomeOK,
			Token: "7f3a9c01d2e4b5a6", TokenCreatedBy: "admin"}),
		// Case is Resource, stored once.
		c.Next(audit.Event{Time: t0, Actor: "u-1", Action: "case.read", Resource: "cases/HN-2026-00001",
			Case: "cases/HN-2026-00001", Outcome: audit.OutcomeOK}),
		// Before 1970, as a time can be.
		c.Next(audit.Event{Time: time.Date(1969, 12, 31, 23, 59, 59, 5, time.UTC), Action: "x", Case: "cases/HN-2026-00002"}),
	)
	var decoded []audit.Event
	for _, e := range events {
		b, err := audit.Encode(e)
		if err != nil {
			t.Fatal(err)
		}
		if b[0] != 0x02 {
			t.Fatalf("version byte = %#x, want 0x02", b[0])
		}
		d, err := audit.Decode(b)
		if err != nil {
			t.Fatalf("Decode(%s): %v", b, err)
		}
		if !sameEvent(e, d) {
			t.Errorf("round trip changed the event:\n got %+v\nwant %+v", d, e)
		}
		if d.Time.Location() != time.UTC {
			t.Errorf("decoded Time location = %v, want UTC", d.Time.Location())
		}
		decoded = append(decoded, d)
	}
	checked, problem, err := audit.Verify(all(decoded))
	if checked != 8 || problem != nil || err != nil {
		t.Fatalf("Verify(decoded) = (%d, %v, %v), want (8, nil, nil)", checked, problem, err)
	}
}

// storedV1 is an event as releases before schema version 11 stored it
// (encodingV1, JSON): a read of a loaded database's case, with a token.
const storedV1 = "\x01" + `{"seq":120001,"time":"2024-04-23T10:27:05.222422536Z","actor":"worker.10324.20200101",` +
	`"role":"COMMUNE_WORKER","unit":"units/10324@2020-01-01","action":"case.read","resource":"cases/HN-2024-00734",` +
	`"case":"cases/HN-2024-00734","request_id":"f620854b79c47396616bcf62","reason":"","outcome":"ok",` +
	`"token":"df8a00a5da7e6a68","token_created_by":"loader.admin",` +
	`"prev_hash":"vQMze7gQ19s8/F63ifOP3/USUWosnyAt55IRgZ2hWAg=","hash":"lBxyBM4AiOv+G7sRoliNzYIyy8Bcpw6xxWYuo/lAv2E="}`

// TestEncodeHalvesTheStoredEvent: the audit log was the largest part of a
// loaded database (about 30 events a case, 443 bytes each in JSON), so an
// event is stored in a binary form of less than half the bytes; events
// stored before in JSON still decode to what was hashed.
func TestEncodeHalvesTheStoredEvent(t *testing.T) {
	e, err := audit.Decode([]byte(storedV1))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(e.ComputeHash(), e.Hash) {
		t.Fatalf("the JSON event decodes to %+v, which is not what was hashed", e)
	}
	b, err := audit.Encode(e)
	if err != nil {
		t.Fatal(err)
	}
	if len(b) > len(storedV1)/2 {
		t.Errorf("Encode stores the event in %d bytes, want at most half its %d of JSON", len(b), len(storedV1))
	}
	d, err := audit.Decode(b)
	if err != nil {
		t.Fatal(err)
	}
	if !sameEvent(e, d) {
		t.Errorf("round trip changed the event:\n got %+v\nwant %+v", d, e)
	}
}

func sameEvent(a, b audit.Event) bool {
	return a.Seq == b.Seq && a.Time.Equal(b.Time) && a.Actor == b.Actor && a.Role == b.Role &&
		a.Unit == b.Unit && a.Action == b.Action && a.Resource == b.Resource &&
		a.Case == b.Case && a.RequestID == b.RequestID && a.Reason == b.Reason && a.Outcome == b.Outcome &&
		a.Token == b.Token && a.TokenCreatedBy == b.TokenCreatedBy &&
		bytes.Equal(a.PrevHash, b.PrevHash) && bytes.Equal(a.Hash, b.Hash)
}

func TestEncodeRejects(t *testing.T) {
	tests := []struct {
		name string
		e    audit.Event
	}{
		{"invalid UTF-8 in Reason", audit.Event{Time: t0, Reason: "\xff"}},
		{"invalid UTF-8 in Outcome", audit.Event{Time: t0, Outcome: "o\xc3"}},
		{"year beyond 9999", audit.Event{Time: time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if b, err := audit.Encode(tt.e); err == nil {
				t.Fatalf("Encode = %q, want error", b)
			}
		})
	}
}

func TestDecodeRejects(t *testing.T) {
	good, err := audit.Encode(sealed(t, 1)[0])
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name        string
		in          []byte
		wantVersion bool // whether the error must be ErrUnknownVersion
	}{
		{"empty", nil, false},
		{"version 0", append([]byte{0x00}, good[1:]...), true},
		{"version 3", append([]byte{0x03}, good[1:]...), true},
		{"JSON without version byte", []byte(storedV1[1:]), true},
		{"JSON as version 2", append([]byte{0x02}, storedV1[1:]...), false},
		{"version 1 not JSON", []byte("\x01not json"), false},
		{"version 1 binary", append([]byte{0x01}, good[1:]...), false},
		{"JSON null", []byte("\x01null"), false},
		{"JSON array", []byte("\x01[]"), false},
		{"unknown field", []byte(`` + "\x01" + `{"seq":1,"extra":"x"}`), false},
		{"JSON trailing data", append([]byte(storedV1), []byte(`{"seq":2}`)...), false},
		{"JSON truncated", []byte(storedV1[:len(storedV1)-5]), false},
		{"trailing data", append(slices.Clone(good), 0), false},
		{"truncated", good[:len(good)-5], false},
		{"version byte only", []byte{0x02}, false},
		{"seq in a longer varint", slices.Concat([]byte{0x02, 0x81, 0x00}, good[2:]), false},
		{"unknown flag", flagged(good, 0x02), false},
		{"Case written when it is Resource", caseWrittenTwice(t), false},
		{"invalid UTF-8", invalidActor(t, good), false},
		{"bad base64 hash", []byte("\x01" + `{"hash":"!!!"}`), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, err := audit.Decode(tt.in)
			if err == nil {
				t.Fatalf("Decode = %+v, want error", e)
			}
			if got := errors.Is(err, audit.ErrUnknownVersion); got != tt.wantVersion {
				t.Errorf("errors.Is(%v, ErrUnknownVersion) = %v, want %v", err, got, tt.wantVersion)
			}
		})
	}
	// Sanity: the good input does decode, so the rejections above are about
	// the damage.
	if _, err := audit.Decode(good); err != nil {
		t.Fatalf("Decode(good) = %v", err)
	}
}

// flagged returns a copy of good, a stored event of seq 1 whose Case is
// not its Resource, with its flags byte set to flags.
func flagged(good []byte, flags byte) []byte {
	out := slices.Clone(good)
	// version, seq 1, seconds (5 bytes from 2026), nanoseconds (5 bytes).
	i := 1 + 1
	_, n := binary.Varint(out[i:])
	i += n
	_, n = binary.Uvarint(out[i:])
	i += n
	if out[i] != 0 {
		panic(fmt.Sprintf("flags byte at %d is %#x", i, out[i]))
	}
	out[i] = flags
	return out
}

// caseWrittenTwice is the stored event of a case's own read with its Case
// written beside its Resource and no flag: not the form Encode writes.
func caseWrittenTwice(t *testing.T) []byte {
	t.Helper()
	e := sealed(t, 1)[0]
	e.Case = "cases/HN-2026-00009"
	b, err := audit.Encode(e)
	if err != nil {
		t.Fatal(err)
	}
	// The same length: the Case written is Resource's.
	return bytes.Replace(b, []byte("cases/HN-2026-00009"), []byte(e.Resource), 1)
}

// invalidActor is good with the first byte of its Actor made invalid UTF-8.
func invalidActor(t *testing.T, good []byte) []byte {
	t.Helper()
	i := bytes.Index(good, []byte("u-a"))
	if i < 0 {
		t.Fatal("no actor in the stored event")
	}
	out := slices.Clone(good)
	out[i] = 0xff
	return out
}

// Decode must not check hashes: tampered but well-formed events go to
// Verify, which can say where the chain breaks.
func TestDecodeLeavesTamperingToVerify(t *testing.T) {
	events := sealed(t, 3)
	events[1].Reason = "edited"
	var decoded []audit.Event
	for _, e := range events {
		b, err := audit.Encode(e)
		if err != nil {
			t.Fatal(err)
		}
		d, err := audit.Decode(b)
		if err != nil {
			t.Fatalf("Decode of a tampered event failed: %v", err)
		}
		decoded = append(decoded, d)
	}
	_, problem, err := audit.Verify(all(decoded))
	if err != nil || problem == nil || problem.Seq != 2 || !strings.Contains(problem.Reason, "hash does not match") {
		t.Fatalf("Verify = (%v, %v), want hash problem at seq 2", problem, err)
	}
}

func TestProblemString(t *testing.T) {
	p := &audit.Problem{Seq: 4, Reason: "sequence gap: expected 3, found 4"}
	if got, want := p.String(), "seq 4: sequence gap: expected 3, found 4"; got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
}

func BenchmarkChainNext(b *testing.B) {
	c := audit.NewChain(0, nil)
	e := audit.Event{
		Time:      t0,
		Actor:     "u-123",
		Role:      "caseworker",
		Unit:      "Phường Hoàn Kiếm",
		Action:    "case.read",
		Resource:  "cases/HN-2026-00001",
		RequestID: "0f8e7c2a-5b1d-4c3e-9a7f-2d6b8e1f4a90",
		Outcome:   audit.OutcomeOK,
	}
	b.ReportAllocs()
	for b.Loop() {
		c.Next(e)
	}
}

// TestVerifyAllocations bounds what decoding and checking one stored event
// allocates, a count a busy machine does not change: `childcase check`
// decodes and hashes every event of the log, tens of millions at a
// million cases, and encoding/json's reflection with a hash.Hash that
// copied each field made that most of its time (14 allocations an
// event before the canonical form was read directly; 20 for the binary
// form as first written, a string and a slice a field). The JSON form of
// older events: TestVerifyAllocationsOfJSONEvents.
func TestVerifyAllocations(t *testing.T) {
	e := sealed(t, 1)[0]
	e.Case, e.Token, e.TokenCreatedBy = "HN-2026-00001", "tok-1", "u-admin"
	e.Hash = e.ComputeHash()
	b, err := audit.Encode(e)
	if err != nil {
		t.Fatal(err)
	}
	allocs := testing.AllocsPerRun(100, func() {
		d, err := audit.Decode(b)
		if err != nil || !bytes.Equal(d.ComputeHash(), d.Hash) {
			t.Fatalf("Decode(%q) = %+v, %v: its hash does not verify", b, d, err)
		}
	})
	// The text of the fields, the two hashes, the computed hash.
	if allocs > 3 {
		t.Errorf("decoding and hashing one event allocates %.0f times, want at most 3", allocs)
	}
}

// TestVerifyHeadAllocatesNothingPerEvent: verifying the chain allocates
// nothing per event beyond what decoding it does (TestVerifyAllocations):
// the hash computed for each event was an allocation of its own, one
// in fifteen of all a check of loaded cases made.
func TestVerifyHeadAllocatesNothingPerEvent(t *testing.T) {
	const n = 200
	events := sealed(t, n)
	head := events[n-1]
	allocs := testing.AllocsPerRun(10, func() {
		checked, problem, err := audit.VerifyHead(all(events), head.Seq, head.Hash)
		if checked != n || problem != nil || err != nil {
			t.Fatalf("VerifyHead = %d, %v, %v; want %d events, no problem", checked, problem, err, n)
		}
	})
	if allocs >= n/10 {
		t.Errorf("verifying %d events allocates %.0f times, want fewer than %d", n, allocs, n/10)
	}
}
