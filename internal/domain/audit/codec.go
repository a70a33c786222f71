package audit

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"
	"unicode/utf8"
)

// The first byte of every stored event is its encoding's version. A
// version byte lets a later release change the stored form while still
// reading old events, and lets an old release refuse events it would
// misread. encodingV1 (JSON) was written until schema version 10 of the
// bbolt layout; encodingV2 (binary) is written since, as it takes half
// the bytes, and the audit log is the largest part of a database.
const (
	encodingV1 = 0x01
	encodingV2 = 0x02
)

// ErrUnknownVersion is returned (wrapped) by Decode for a stored event whose
// version byte this release does not know, typically one written by a newer
// release.
var ErrUnknownVersion = errors.New("audit: unknown event encoding version")

// wireEvent is the stored JSON form of encodingV1. It is separate from
// Event so that renaming a Go field cannot silently change what is on
// disk.
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

// caseIsResource is the one flag of encodingV2: the event's Case equals
// its Resource (an event on a case itself, most of the log), so Case is
// not written again.
const caseIsResource = 0x01

// Encode returns the stored form of e: the version byte 0x02 followed by
//
//	Seq                  uvarint
//	Time                 varint seconds since 1970 UTC, uvarint nanoseconds
//	flags                one byte: caseIsResource or 0
//	the strings of e     each its length (uvarint) and its bytes, in the
//	                     order of ComputeHash (Case left out when the
//	                     flag says it is Resource), then Token and
//	                     TokenCreatedBy
//	PrevHash, Hash       each its length (uvarint) and its bytes
//
// Every field has one place and carries its length, so the form is one to
// one, and Decode accepts exactly what Encode writes. The strings are
// stored as they are hashed.
//
// Encode fails for a string field that is not valid UTF-8 and for a Time
// outside the years 0 to 9999 in UTC, which encodingV1 (JSON) could not
// hold: JSON would silently replace invalid bytes, the stored event would
// no longer match its hash, and Verify would later report tampering that
// never happened; refusing them in both forms keeps every event that was
// ever stored writable again. Events sealed by [Chain.Next] always have
// valid UTF-8.
func Encode(e Event) ([]byte, error) {
	if err := e.encodable(); err != nil {
		return nil, fmt.Errorf("audit: encode event %d: %w", e.Seq, err)
	}
	return e.appendV2(make([]byte, 0, e.sizeV2())), nil
}

// encodable reports why e cannot be stored, or nil.
func (e *Event) encodable() error {
	for _, f := range e.stringFields() {
		if !utf8.ValidString(*f.value) {
			return fmt.Errorf("%s is not valid UTF-8", f.name)
		}
	}
	if y := e.Time.UTC().Year(); y < 0 || y > 9999 {
		return fmt.Errorf("time %v is outside the years 0 to 9999", e.Time)
	}
	return nil
}

// sizeV2 is an upper bound of the length of e's encodingV2.
func (e Event) sizeV2() int {
	n := 1 + 3*binary.MaxVarintLen64 + 1
	for _, f := range e.stringFields() {
		n += binary.MaxVarintLen64 + len(*f.value)
	}
	return n + 2*binary.MaxVarintLen64 + len(e.PrevHash) + len(e.Hash)
}

// appendV2 appends e's encodingV2 to out.
func (e Event) appendV2(out []byte) []byte {
	t := e.Time.UTC()
	out = append(out, encodingV2)
	out = binary.AppendUvarint(out, e.Seq)
	out = binary.AppendVarint(out, t.Unix())
	out = binary.AppendUvarint(out, uint64(t.Nanosecond()))
	flags := byte(0)
	if e.Case == e.Resource {
		flags |= caseIsResource
	}
	out = append(out, flags)
	for _, f := range e.stringFields() {
		if f.value == &e.Case && flags&caseIsResource != 0 {
			continue
		}
		out = binary.AppendUvarint(out, uint64(len(*f.value)))
		out = append(out, *f.value...)
	}
	for _, b := range [][]byte{e.PrevHash, e.Hash} {
		out = binary.AppendUvarint(out, uint64(len(b)))
		out = append(out, b...)
	}
	return out
}

// Decode parses a stored event of either form: encodingV2, as Encode
// writes it, or encodingV1 (JSON), as releases before it did. It rejects
// unknown versions (wrapping ErrUnknownVersion), unknown JSON fields,
// trailing data and a binary form other than the one Encode writes: such
// input was not written by a release, and fields it dropped would not be
// covered by the hash.
//
// Decode does not check the hashes. A well-formed but tampered event must
// reach [Verify], which reports it as a broken link at its seq, instead of
// stopping verification with a read error.
func Decode(b []byte) (Event, error) {
	if len(b) == 0 {
		return Event{}, errors.New("audit: decode event: empty input")
	}
	switch b[0] {
	case encodingV1:
	case encodingV2:
		return decodeV2(b)
	default:
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

// decodeV2 parses an event of encodingV2 (b includes the version byte).
func decodeV2(b []byte) (Event, error) {
	in := b[1:]
	fail := func(what string) (Event, error) {
		return Event{}, fmt.Errorf("audit: decode event: %s", what)
	}
	uvarint := func() (uint64, bool) {
		v, n := binary.Uvarint(in)
		if n <= 0 {
			return 0, false
		}
		in = in[n:]
		return v, true
	}
	field := func() ([]byte, bool) {
		n, ok := uvarint()
		if !ok || n > uint64(len(in)) {
			return nil, false
		}
		v := in[:n]
		in = in[n:]
		return v, true
	}
	var e Event
	var ok bool
	if e.Seq, ok = uvarint(); !ok {
		return fail("bad seq")
	}
	sec, n := binary.Varint(in)
	if n <= 0 {
		return fail("bad time")
	}
	in = in[n:]
	nsec, ok := uvarint()
	if !ok || nsec >= uint64(time.Second) {
		return fail("bad time")
	}
	e.Time = time.Unix(sec, int64(nsec)).UTC()
	if len(in) == 0 || in[0]&^caseIsResource != 0 {
		return fail("bad flags")
	}
	flags := in[0]
	in = in[1:]
	// The texts are read into one string, and both hashes into one
	// array: `childcase check` decodes every event of the log, and an
	// allocation per field was most of that.
	fields := e.stringFields()
	var texts [len(fields)][]byte
	total := 0
	for i, f := range fields {
		if f.value == &e.Case && flags&caseIsResource != 0 {
			continue
		}
		v, ok := field()
		if !ok {
			return fail(f.name + " is cut short")
		}
		if !utf8.Valid(v) {
			return fail(f.name + " is not valid UTF-8")
		}
		texts[i] = v
		total += len(v)
	}
	prev, okPrev := field()
	hash, okHash := field()
	if !okPrev || !okHash {
		return fail("a hash is cut short")
	}
	if len(in) != 0 {
		return fail("trailing data after the event")
	}
	var all strings.Builder
	all.Grow(total)
	for _, v := range texts {
		all.Write(v)
	}
	text, at := all.String(), 0
	for i, f := range fields {
		*f.value = text[at : at+len(texts[i])]
		at += len(texts[i])
	}
	if flags&caseIsResource != 0 {
		e.Case = e.Resource
	}
	hashes := make([]byte, 0, len(prev)+len(hash))
	hashes = append(hashes, prev...)
	e.PrevHash = hashes[:len(prev):len(prev)]
	e.Hash = append(hashes, hash...)[len(prev):]
	// One form per event: what Encode would not write back byte for byte
	// (invalid UTF-8, above; a time out of range, a longer varint, Case
	// written when it is Resource) was not written by Encode. (The checks
	// of encodable, made here without its pointers to e, which would put
	// e on the heap.)
	if y := e.Time.Year(); y < 0 || y > 9999 {
		return fail("time is outside the years 0 to 9999")
	}
	var again [512]byte // most events fit: no allocation to compare
	if !bytes.Equal(e.appendV2(again[:0]), b) {
		return fail("not in the form Encode writes")
	}
	return e, nil
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
