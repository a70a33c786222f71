package httpapi

import (
	"bytes"
	"encoding/json"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"
)

// decoderPosition is where protojson says it stopped: "(line 3:19)", the
// column counted in runes.
var decoderPosition = regexp.MustCompile(`\(line ([0-9]+):([0-9]+)\)`)

// bodyPathAt returns the path, as the schema names it, of the place a
// protojson refusal names: "children[1]" for an item of the wrong kind,
// "reporter.identified" for a message that is a number,
// "children[0].estimated_age_years" for a value of the wrong type (a
// child's age, not the reporter's or a caregiver's, which protojson's
// leaf name cannot tell apart). When the place is a member's key (an
// unknown or repeated field), the path is of the object holding it and
// atKey is set. It returns ok false when the refusal names no place or
// the body is no JSON up to it.
func bodyPathAt(body []byte, refusal string) (path string, atKey, ok bool) {
	m := decoderPosition.FindStringSubmatch(refusal)
	if m == nil {
		return "", false, false
	}
	line, _ := strconv.Atoi(m[1])
	column, _ := strconv.Atoi(m[2])
	target, found := byteOffset(body, line, column)
	if !found || tokenStart(body, target) >= len(body) {
		return "", false, false // a body cut short is broken JSON, not a field's value
	}
	// The open objects and arrays down to the place: an object's key is
	// the member whose value is being read when wantKey is false, an
	// array's index the item's.
	type frame struct {
		object  bool
		wantKey bool
		key     string
		index   int
	}
	var stack []frame
	valueDone := func() {
		if n := len(stack); n > 0 {
			if stack[n-1].object {
				stack[n-1].wantKey = true
			} else {
				stack[n-1].index++
			}
		}
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	for {
		if tokenStart(body, int(dec.InputOffset())) >= target {
			break
		}
		tok, err := dec.Token()
		if err != nil {
			return "", false, false // not JSON before the place (or it was the end)
		}
		switch tok {
		case json.Delim('{'):
			stack = append(stack, frame{object: true, wantKey: true})
			continue
		case json.Delim('['):
			stack = append(stack, frame{})
			continue
		case json.Delim('}'), json.Delim(']'):
			if len(stack) > 0 {
				stack = stack[:len(stack)-1]
			}
			valueDone()
			continue
		}
		if n := len(stack); n > 0 && stack[n-1].object && stack[n-1].wantKey {
			key, _ := tok.(string)
			stack[n-1].key, stack[n-1].wantKey = key, false
			continue
		}
		valueDone()
	}
	var b strings.Builder
	for _, f := range stack {
		switch {
		case f.object && f.wantKey:
			atKey = true
		case f.object:
			if b.Len() > 0 {
				b.WriteByte('.')
			}
			b.WriteString(protoName(f.key))
		default:
			fmt.Fprintf(&b, "[%d]", f.index)
		}
	}
	return b.String(), atKey, len(stack) > 0
}

// byteOffset is the offset in body of a line and a column counted in
// runes, both from 1.
func byteOffset(body []byte, line, column int) (int, bool) {
	off := 0
	for l := 1; l < line; l++ {
		i := bytes.IndexByte(body[off:], '\n')
		if i < 0 {
			return 0, false
		}
		off += i + 1
	}
	for c := 1; c < column; c++ {
		if off >= len(body) || body[off] == '\n' {
			return 0, false
		}
		_, size := utf8.DecodeRune(body[off:])
		off += size
	}
	return off, true
}

// tokenStart is where the next token begins at or after off: past white
// space and the separators that json.Decoder reads with the next token.
func tokenStart(body []byte, off int) int {
	for off < len(body) {
		switch body[off] {
		case ' ', '\t', '\r', '\n', ',', ':':
			off++
		default:
			return off
		}
	}
	return off
}
