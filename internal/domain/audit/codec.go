package audit

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"
	"unicode/utf8"
)

// encodingV1 is the first byte of every stored event. A version byte lets a
// later release change the stored form while still reading old events, and
// lets an old release refuse events it would misread.
const encodingV1 = 0x01

// ErrUnknownVersion is returned (wrapped) by Decode for a stored event whose
// version byte this release does not know, typically one written by a newer
// release.
var ErrUnknownVersion = errors.New("audit: unknown event encoding version")

// wireEvent is the stored JSON form. It is separate from Event so that
// renaming a Go field cannot silently change what is on disk.
type wireEvent struct {
	Seq       uint64    `json:"seq"`
	Time      time.Time `json:"time"`
	Actor     string    `json:"actor"`
	Role      string    `json:"role"`
	Unit      string    `json:"unit"`
	Action    string    `json:"action"`
	Resource  string    `json:"resource"`
	Case      string    `json:"case,omitempty"`
	RequestID string    `json:"request_id"`
	Reason    string    `json:"reason"`
	Outcome   string    `json:"outcome"`
	// Absent from events without a token, as from every event written
	// before tokens were recorded.
	Token          string `json:"token,omitempty"`
	TokenCreatedBy string `json:"token_created_by,omitempty"`
	PrevHash       []byte `json:"prev_hash"`
	Hash           []byte `json:"hash"`
}

// Encode returns the stored form of e: the version byte 0x01 followed by a
// JSON object. JSON keeps the log readable with ordinary tools during an
// investigation; hashes are base64 and Time is RFC 3339 with nanoseconds in
// UTC, so decoding gives back the exact values that were hashed.
//
// Encode fails for a string field that is not valid UTF-8 and for a Time
// that JSON cannot represent (a year outside 0 to 9999). JSON would silently
// replace invalid bytes, the stored event would no longer match its hash,
// and Verify would later report tampering that never happened; failing here
// makes the caller see the problem at once. Events sealed by [Chain.Next]
// always have valid UTF-8.
func Encode(e Event) ([]byte, error) {
	for _, f := range e.stringFields() {
		if !utf8.ValidString(*f.value) {
			return nil, fmt.Errorf("audit: encode event %d: %s is not valid UTF-8", e.Seq, f.name)
		}
	}
	w := wireEvent{
		Seq:       e.Seq,
		Time:      e.Time.UTC(),
		Actor:     e.Actor,
		Role:      e.Role,
		Unit:      e.Unit,
		Action:    e.Action,
		Resource:  e.Resource,
		Case:      e.Case,
		RequestID: e.RequestID,
		Reason:    e.Reason,
		Outcome:   e.Outcome,
		PrevHash:  e.PrevHash,
		Hash:      e.Hash,

		Token: e.Token, TokenCreatedBy: e.TokenCreatedBy,
	}
	body, err := json.Marshal(w)
	if err != nil {
		return nil, fmt.Errorf("audit: encode event %d: %w", e.Seq, err)
	}
	out := make([]byte, 0, 1+len(body))
	out = append(out, encodingV1)
	return append(out, body...), nil
}

// Decode parses the stored form written by Encode. It rejects unknown
// versions (wrapping ErrUnknownVersion), unknown JSON fields and trailing
// data: such input was not written by this release, and fields it dropped
// would not be covered by the hash.
//
// Decode does not check the hashes. A well-formed but tampered event must
// reach [Verify], which reports it as a broken link at its seq, instead of
// stopping verification with a read error.
func Decode(b []byte) (Event, error) {
	if len(b) == 0 {
		return Event{}, errors.New("audit: decode event: empty input")
	}
	if b[0] != encodingV1 {
		return Event{}, fmt.Errorf("%w: 0x%02x", ErrUnknownVersion, b[0])
	}
	// What Encode wrote is read without reflection; anything else takes
	// encoding/json's path (decodeCanonical).
	var w wireEvent
	if !decodeCanonical(b[1:], &w) {
		slow, err := decodeJSON(b[1:])
		if err != nil {
			return Event{}, err
		}
		w = *slow
	}
	// Encode writes times in UTC, years 0 to 9999. A time with an offset
	// can be in range as written and out of it in UTC; Encode could not
	// write such an event back, so it was not written by Encode.
	if y := w.Time.UTC().Year(); y < 0 || y > 9999 {
		return Event{}, errors.New("audit: decode event: time is outside the years 0 to 9999 in UTC")
	}
	return Event{
		Seq:       w.Seq,
		Time:      w.Time.UTC(),
		Actor:     w.Actor,
		Role:      w.Role,
		Unit:      w.Unit,
		Action:    w.Action,
		Resource:  w.Resource,
		Case:      w.Case,
		RequestID: w.RequestID,
		Reason:    w.Reason,
		Outcome:   w.Outcome,
		PrevHash:  w.PrevHash,
		Hash:      w.Hash,

		Token: w.Token, TokenCreatedBy: w.TokenCreatedBy,
	}, nil
}

// decodeJSON reads any JSON object encoding/json takes for a wireEvent,
// strictly: no unknown fields, no null, nothing after the object.
func decodeJSON(body []byte) (*wireEvent, error) {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	// A pointer so that a stored JSON null is rejected rather than read as
	// an empty event.
	var w *wireEvent
	if err := dec.Decode(&w); err != nil {
		return nil, fmt.Errorf("audit: decode event: %w", err)
	}
	if w == nil {
		return nil, errors.New("audit: decode event: not a JSON object")
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("audit: decode event: trailing data after JSON object")
	}
	return w, nil
}
