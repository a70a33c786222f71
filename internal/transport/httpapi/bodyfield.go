package httpapi

import (
	"bytes"
	"encoding/json"
	"regexp"
	"strconv"
	"unicode/utf8"
)

// decoderPosition is where protojson says it stopped: "(line 3:19)", the
// column counted in runes.
var decoderPosition = regexp.MustCompile(`\(line ([0-9]+):([0-9]+)\)`)

// bodyFieldAt returns the JSON name of the field whose value holds the
// place a protojson refusal names (a timestamp that is no time, a string
// where a list or a message belongs, an item of a list of the wrong
// kind): protojson names the field only for scalars. It returns "" when
// the refusal names no place or the body is no JSON up to it.
func bodyFieldAt(body []byte, refusal string) string {
	m := decoderPosition.FindStringSubmatch(refusal)
	if m == nil {
		return ""
	}
	line, _ := strconv.Atoi(m[1])
	column, _ := strconv.Atoi(m[2])
	target, ok := byteOffset(body, line, column)
	if !ok || tokenStart(body, target) >= len(body) {
		return "" // a body cut short is broken JSON, not a field's value
	}
	// The open objects and arrays down to the place; an object's key is
	// the field whose value is being read when wantKey is false.
	type frame struct {
		object  bool
		wantKey bool
		key     string
	}
	var stack []frame
	valueDone := func() {
		if n := len(stack); n > 0 && stack[n-1].object {
			stack[n-1].wantKey = true
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
			return "" // not JSON before the place (or it was the end)
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
	for i := len(stack) - 1; i >= 0; i-- {
		if stack[i].object && !stack[i].wantKey {
			return stack[i].key
		}
	}
	return ""
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
