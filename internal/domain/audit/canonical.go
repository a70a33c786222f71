package audit

import (
	"encoding/base64"
	"strings"
	"time"
	"unicode/utf8"
)

// decodeCanonical reads body into w when body is exactly what Encode
// writes for an event sealed by a Chain (json.Marshal of a wireEvent: its
// keys in order, no spaces, strings without escapes, hashes in padded
// base64, the time in RFC 3339 in UTC as time.Time writes it), and
// reports whether it did. It reads without the reflection of
// encoding/json, which was most of the time `childcase check` spent on a
// log of millions of events. Anything else (an escape, a null, a space, a
// key out of order) makes it return false and Decode take encoding/json's
// path, so it only makes Decode faster: what it accepts, encoding/json
// reads to the same event (FuzzDecodeCanonical), and what it refuses,
// encoding/json judges as before.
func decodeCanonical(body []byte, w *wireEvent) bool {
	r := canonicalReader{b: body}
	if !r.lit(`{"seq":`) || !r.uint(&w.Seq) ||
		!r.lit(`,"time":`) || !r.str(textTime) ||
		!r.lit(`,"actor":`) || !r.str(textActor) ||
		!r.lit(`,"role":`) || !r.str(textRole) ||
		!r.lit(`,"unit":`) || !r.str(textUnit) ||
		!r.lit(`,"action":`) || !r.str(textAction) ||
		!r.lit(`,"resource":`) || !r.str(textResource) {
		return false
	}
	if r.lit(`,"case":`) && !r.str(textCase) { // omitempty
		return false
	}
	if !r.lit(`,"request_id":`) || !r.str(textRequestID) ||
		!r.lit(`,"reason":`) || !r.str(textReason) ||
		!r.lit(`,"outcome":`) || !r.str(textOutcome) {
		return false
	}
	if r.lit(`,"token":`) && !r.str(textToken) { // omitempty
		return false
	}
	if r.lit(`,"token_created_by":`) && !r.str(textTokenCreatedBy) { // omitempty
		return false
	}
	// Both hashes in one array: one allocation, not two.
	hashes := make([]byte, 0, 2*HashSize)
	if !r.lit(`,"prev_hash":`) || !r.bytes(&hashes, &w.PrevHash) ||
		!r.lit(`,"hash":`) || !r.bytes(&hashes, &w.Hash) ||
		!r.lit(`}`) || r.at != len(r.b) {
		return false
	}
	t := r.strings()
	w.Actor, w.Role, w.Unit, w.Action, w.Resource = t[textActor], t[textRole], t[textUnit], t[textAction], t[textResource]
	w.Case, w.RequestID, w.Reason, w.Outcome = t[textCase], t[textRequestID], t[textReason], t[textOutcome]
	w.Token, w.TokenCreatedBy = t[textToken], t[textTokenCreatedBy]
	return parseCanonicalTime(t[textTime], &w.Time)
}

// The strings of an event, as decodeCanonical's reader numbers them.
const (
	textTime = iota
	textActor
	textRole
	textUnit
	textAction
	textResource
	textCase
	textRequestID
	textReason
	textOutcome
	textToken
	textTokenCreatedBy
	numTexts
)

// canonicalReader walks decodeCanonical's input b from at, noting where
// the text of each string is (texts: from, to; both 0 for an omitted one).
type canonicalReader struct {
	b     []byte
	at    int
	texts [numTexts][2]int
}

// lit takes lit if the input goes on with it.
func (r *canonicalReader) lit(lit string) bool {
	if len(r.b)-r.at < len(lit) || string(r.b[r.at:r.at+len(lit)]) != lit {
		return false
	}
	r.at += len(lit)
	return true
}

// uint takes a number in the form json.Marshal writes a uint64 (no sign,
// no leading zero, no fraction); 19 digits always fit a uint64.
func (r *canonicalReader) uint(v *uint64) bool {
	n := 0
	for r.at+n < len(r.b) && r.b[r.at+n] >= '0' && r.b[r.at+n] <= '9' {
		n++
	}
	if n == 0 || n > 19 || (n > 1 && r.b[r.at] == '0') {
		return false
	}
	var x uint64
	for _, d := range r.b[r.at : r.at+n] {
		x = x*10 + uint64(d-'0')
	}
	*v, r.at = x, r.at+n
	return true
}

// raw takes a JSON string without escapes or control characters and
// returns where its text starts and ends; the text is valid UTF-8, which
// encoding/json would otherwise replace.
func (r *canonicalReader) raw() (from, to int, ok bool) {
	if r.at >= len(r.b) || r.b[r.at] != '"' {
		return 0, 0, false
	}
	from = r.at + 1
	for to = from; to < len(r.b); to++ {
		switch c := r.b[to]; {
		case c == '"':
			if !utf8.Valid(r.b[from:to]) {
				return 0, 0, false
			}
			r.at = to + 1
			return from, to, true
		case c == '\\' || c < 0x20:
			return 0, 0, false
		}
	}
	return 0, 0, false
}

// str takes a string, the text number i (strings).
func (r *canonicalReader) str(i int) bool {
	from, to, ok := r.raw()
	if ok {
		r.texts[i] = [2]int{from, to}
	}
	return ok
}

// strings returns the texts str took, made from one string that holds
// them alone: one allocation an event, not eleven, and not the whole
// input, whose keys and hashes are half of it.
func (r *canonicalReader) strings() (texts [numTexts]string) {
	size := 0
	for _, t := range r.texts {
		size += t[1] - t[0]
	}
	var all strings.Builder
	all.Grow(size)
	for _, t := range r.texts {
		all.Write(r.b[t[0]:t[1]])
	}
	s, start := all.String(), 0
	for i, t := range r.texts {
		end := start + t[1] - t[0]
		texts[i], start = s[start:end], end
	}
	return texts
}

// parseCanonicalTime reads a time as time.Time's MarshalJSON writes one
// in UTC: the text must be exactly what formatting the time read gives
// back, so encoding/json's stricter parser reads the same instant.
func parseCanonicalTime(text string, v *time.Time) bool {
	if !strings.HasSuffix(text, "Z") {
		return false
	}
	t, err := time.Parse(time.RFC3339Nano, text)
	if err != nil {
		return false
	}
	var buf [len(time.RFC3339Nano)]byte
	if string(t.AppendFormat(buf[:0], time.RFC3339Nano)) != text {
		return false
	}
	*v = t
	return true
}

// bytes takes a non-empty padded standard base64 string, as json.Marshal
// writes a []byte, decoding it onto the end of buf.
func (r *canonicalReader) bytes(buf *[]byte, v *[]byte) bool {
	from, to, ok := r.raw()
	if !ok || to == from {
		return false
	}
	// raw refused the line breaks a base64 decoder skips, and the strict
	// decoder refuses any other byte outside the alphabet and padding.
	start := len(*buf)
	out, err := strictBase64.AppendDecode(*buf, r.b[from:to])
	if err != nil {
		return false
	}
	*buf = out
	*v = out[start:len(out):len(out)]
	return true
}

// strictBase64 is the standard encoding refusing non-zero padding bits;
// made once, as Strict copies the encoding. It is never changed.
var strictBase64 = base64.StdEncoding.Strict()
