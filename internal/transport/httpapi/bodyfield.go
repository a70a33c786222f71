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

// loneSurrogateAt returns where the first string of body that holds an
// escaped UTF-16 surrogate without its other half ("\ud83d" alone)
// begins, as protojson's refusals say a place ("(line 1:14)"); ok false
// when there is none. protojson refuses such a string, which encodes no
// character, with a bare "unexpected EOF" that names no place, though
// the body is whole: a client that cut a text in the middle of an emoji
// (JavaScript counts UTF-16 units) sends one.
func loneSurrogateAt(body []byte) (place string, ok bool) {
	inString, start := false, 0
	for i := 0; i < len(body); i++ {
		c := body[i]
		switch {
		case !inString:
			if c == '"' {
				inString, start = true, i
			}
		case c == '"':
			inString = false
		case c == '\\' && i+1 < len(body) && body[i+1] == 'u':
			unit, found := escapedUnit(body, i)
			if !found {
				i++
				continue
			}
			switch {
			case unit >= 0xDC00 && unit <= 0xDFFF:
				return positionOf(body, start), true // a low half with no high one before it
			case unit >= 0xD800 && unit <= 0xDBFF:
				if low, found := escapedUnit(body, i+6); !found || low < 0xDC00 || low > 0xDFFF {
					return positionOf(body, start), true
				}
				i += 6 // the pair's low half
			}
			i += 5
		case c == '\\':
			i++ // the escaped character
		}
	}
	return "", false
}

// loneSurrogatePath is the path in the body of the first string value
// that holds half a surrogate pair alone (loneSurrogateAt); "" when
// there is none, or it is a member's name.
func loneSurrogatePath(body []byte) string {
	place, ok := loneSurrogateAt(body)
	if !ok {
		return ""
	}
	path, atKey, ok := bodyPathAt(body, place)
	if !ok || atKey {
		return ""
	}
	return path
}

// escapedUnit reads the UTF-16 unit of a \uXXXX escape at body[i:].
func escapedUnit(body []byte, i int) (uint64, bool) {
	if i+6 > len(body) || body[i] != '\\' || body[i+1] != 'u' {
		return 0, false
	}
	unit, err := strconv.ParseUint(string(body[i+2:i+6]), 16, 16)
	return unit, err == nil
}

// positionOf says the place of byte offset off in body as protojson
// does: "(line L:C)", the column counted in runes, both from 1.
func positionOf(body []byte, off int) string {
	line := 1 + bytes.Count(body[:off], []byte("\n"))
	lineStart := bytes.LastIndexByte(body[:off], '\n') + 1
	return fmt.Sprintf("(line %d:%d)", line, 1+utf8.RuneCount(body[lineStart:off]))
}
