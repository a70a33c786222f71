package httpapi

// cutLongArrays returns the JSON value b with every array cut to its
// first keep items (b itself when none is longer). protojson decodes
// every item of a list before the validator can refuse the list: a
// megabyte of empty children (350,000) took half a second. With keep
// above every max_items of the schema, a list too long still breaks its
// rule, and the validator names it. One pass over the bytes; what is not
// JSON is returned as it is, for the decoder to refuse.
func cutLongArrays(b []byte, keep int) []byte {
	var out []byte // nil until the first cut
	copied := 0    // b[:copied] is accounted for in out
	type level struct {
		array bool
		items int // commas seen at this level, for arrays
	}
	var stack []level
	skipDepth := -1 // while cutting: the depth of the array being cut
	inString, escaped := false, false
	for i, c := range b {
		if inString {
			switch {
			case escaped:
				escaped = false
			case c == '\\':
				escaped = true
			case c == '"':
				inString = false
			}
			continue
		}
		switch c {
		case '"':
			inString = true
		case '[', '{':
			stack = append(stack, level{array: c == '['})
		case ']', '}':
			if len(stack) == 0 {
				return b // not JSON: left to the decoder to refuse
			}
			if len(stack) == skipDepth {
				copied, skipDepth = i, -1 // resume with the closing bracket
			}
			stack = stack[:len(stack)-1]
		case ',':
			if len(stack) == 0 {
				return b
			}
			top := &stack[len(stack)-1]
			if !top.array || skipDepth >= 0 {
				continue
			}
			if top.items++; top.items == keep {
				// The comma before item keep+1: drop from here to the
				// array's closing bracket.
				out = append(out, b[copied:i]...)
				skipDepth = len(stack)
			}
		}
	}
	if out == nil {
		return b
	}
	return append(out, b[copied:]...)
}
