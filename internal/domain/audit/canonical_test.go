package audit

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"
)

// encodeV1 is an event's stored form as releases wrote it until schema
// version 11 (encodingV1, JSON), which Decode still reads.
func encodeV1(t testing.TB, e Event) []byte {
	w := wireEvent(e)
	w.Time = e.Time.UTC()
	body, err := json.Marshal(w)
	if err != nil {
		t.Fatal(err)
	}
	return append([]byte{encodingV1}, body...)
}

// canonicalEvents are events as Chain.Next seals them, with the fields
// decodeCanonical treats apart: the optional case and token fields, text
// json.Marshal escapes (which decodeCanonical leaves to encoding/json),
// Vietnamese text, empty strings, and times with and without a fraction.
func canonicalEvents() []Event {
	at := time.Date(2026, 2, 17, 8, 30, 0, 120000000, time.UTC)
	c := NewChain(0, nil)
	var out []Event
	for _, e := range []Event{
		{Time: at, Actor: "u-lan", Role: "caseworker", Unit: "Phường Hoàn Kiếm", Action: "case.read", Resource: "cases/HN-2026-00001", Case: "HN-2026-00001", RequestID: "req-1", Outcome: OutcomeOK},
		{Time: at.Add(time.Second).Truncate(time.Second), Action: "auth.fail", Outcome: OutcomeDenied},
		{Time: at.Add(time.Nanosecond), Actor: "u-minh", Action: "token.use", Token: "tok-1", TokenCreatedBy: "u-admin", Outcome: OutcomeOK},
		{Time: at, Actor: "u-<script>&", Reason: "\"quoted\" \\ tab\t", Outcome: OutcomeOK},
		{Time: time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC), Reason: "\u2028", Outcome: OutcomeOK},
	} {
		out = append(out, c.Next(e))
	}
	return out
}

// FuzzDecodeCanonical: what decodeCanonical accepts, encoding/json reads
// to the same event, so the fast path changes no verdict of Decode.
func FuzzDecodeCanonical(f *testing.F) {
	for _, e := range canonicalEvents() {
		f.Add(encodeV1(f, e)[1:])
	}
	for _, s := range []string{
		`{"seq":01,"time":"2026-02-17T08:30:00Z","actor":"","role":"","unit":"","action":"","resource":"","request_id":"","reason":"","outcome":"","prev_hash":"AA==","hash":"AA=="}`,
		`{"seq":1,"time":"2026-02-17T08:30:00.000Z","actor":"","role":"","unit":"","action":"","resource":"","request_id":"","reason":"","outcome":"","prev_hash":"AA==","hash":"AA=="}`,
		`{"seq":1,"time":"2026-02-17T08:30:00Z","actor":"","role":"","unit":"","action":"","resource":"","request_id":"","reason":"","outcome":"","prev_hash":"AB==","hash":"AA=="}`,
		`{"seq":1,"time":"2026-02-17T08:30:00Z","actor":"\xff","role":"","unit":"","action":"","resource":"","request_id":"","reason":"","outcome":"","prev_hash":"AA==","hash":"AA=="} `,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		var fast wireEvent
		if !decodeCanonical(body, &fast) {
			return
		}
		slow, err := decodeJSON(body)
		if err != nil {
			t.Fatalf("decodeCanonical read %q, which encoding/json refuses: %v", body, err)
		}
		if !sameWire(fast, *slow) {
			t.Fatalf("decodeCanonical read %q as\n%+v\nencoding/json as\n%+v", body, fast, *slow)
		}
	})
}

// TestDecodeCanonicalReadsWhatEncodeWrote: the events a chain sealed and
// a release before schema version 11 stored in JSON are read without
// encoding/json unless json.Marshal escaped some of their text, and Decode
// gives them back whole either way.
func TestDecodeCanonicalReadsWhatEncodeWrote(t *testing.T) {
	for i, e := range canonicalEvents() {
		b := encodeV1(t, e)
		var w wireEvent
		escaped := bytes.IndexByte(b, '\\') >= 0
		if got := decodeCanonical(b[1:], &w); got == escaped {
			t.Errorf("event %d: decodeCanonical(%q) = %v, want %v", i, b, got, !escaped)
		}
		d, err := Decode(b)
		if err != nil || !sameWire(wireEvent(d), wireEvent(e)) || d.Time.Location() != time.UTC {
			t.Errorf("event %d: Decode(%q) = %+v, %v; want %+v in UTC", i, b, d, err, e)
		}
	}
}

func sameWire(a, b wireEvent) bool {
	return a.Seq == b.Seq && a.Time.Equal(b.Time) && a.Time.Location() == b.Time.Location() &&
		a.Actor == b.Actor && a.Role == b.Role && a.Unit == b.Unit && a.Action == b.Action &&
		a.Resource == b.Resource && a.Case == b.Case && a.RequestID == b.RequestID &&
		a.Reason == b.Reason && a.Outcome == b.Outcome && a.Token == b.Token &&
		a.TokenCreatedBy == b.TokenCreatedBy &&
		bytes.Equal(a.PrevHash, b.PrevHash) && (a.PrevHash == nil) == (b.PrevHash == nil) &&
		bytes.Equal(a.Hash, b.Hash) && (a.Hash == nil) == (b.Hash == nil)
}

// TestVerifyAllocationsOfJSONEvents is TestVerifyAllocations for the events
// stored in JSON before schema version 11, which a database keeps: read
// by decodeCanonical, they cost as few allocations as the binary ones.
func TestVerifyAllocationsOfJSONEvents(t *testing.T) {
	e := canonicalEvents()[2] // with a token, its creator and a case
	e.Case = "HN-2026-00001"
	e.Hash = e.ComputeHash()
	b := encodeV1(t, e)
	allocs := testing.AllocsPerRun(100, func() {
		d, err := Decode(b)
		if err != nil || !bytes.Equal(d.ComputeHash(), d.Hash) {
			t.Fatalf("Decode(%q) = %+v, %v: its hash does not verify", b, d, err)
		}
	})
	// The text of the fields, the two hashes, the computed hash.
	if allocs > 3 {
		t.Errorf("decoding and hashing one JSON event allocates %.0f times, want at most 3", allocs)
	}
}
