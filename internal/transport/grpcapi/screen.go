package grpcapi

import (
	"bytes"
	"strings"
	"sync"
	"unicode/utf8"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/encoding"
	protocodec "google.golang.org/grpc/encoding/proto"
	"google.golang.org/grpc/mem"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// screeningCodec is the server's codec: the standard protobuf codec, with
// each request's wire bytes screened before they are decoded, for two
// things the decoder handles badly.
//
//   - A list longer than its max_items is cut to max_items+1 elements:
//     decoding two million empty children (4 MiB) costs more than a second
//     and hundreds of megabytes before any interceptor runs. The validator
//     then refuses the list, which is still over its limit.
//   - A string that is not UTF-8 makes the decoder fail, which gRPC
//     answers as Internal before any interceptor runs, naming no field.
//     It is emptied and its field path noted in the message,
//     in an unknown field (utf8NoteField), so that the validator, after
//     authentication, refuses the request with INVALID_ARGUMENT naming
//     the field. No handler sees such a message.
//
// Screening is one linear walk over the bytes; it changes nothing in a
// request that has neither problem.
type screeningCodec struct {
	base  encoding.CodecV2
	lists sync.Map // protoreflect.FullName of a list field -> max_items (0: none)
}

func newScreeningCodec() *screeningCodec {
	return &screeningCodec{base: encoding.GetCodecV2(protocodec.Name)}
}

// Name implements encoding.CodecV2.
func (c *screeningCodec) Name() string { return protocodec.Name }

// Marshal implements encoding.CodecV2: answers are not screened.
func (c *screeningCodec) Marshal(v any) (mem.BufferSlice, error) { return c.base.Marshal(v) }

// Unmarshal implements encoding.CodecV2.
func (c *screeningCodec) Unmarshal(data mem.BufferSlice, v any) error {
	m, ok := v.(proto.Message)
	if !ok {
		return c.base.Unmarshal(data, v)
	}
	buf := data.MaterializeToBuffer(mem.DefaultBufferPool())
	defer buf.Free()
	// The decoder checks UTF-8 itself: the screen looks for bad strings
	// only when it has refused them, so good text is read twice, not
	// three times.
	s := screening{codec: c}
	b, _ := s.message(buf.ReadOnlyData(), m.ProtoReflect().Descriptor(), "", 0)
	err := proto.Unmarshal(b, m)
	if err == nil {
		return nil
	}
	s = screening{codec: c, checkUTF8: true}
	b, _ = s.message(buf.ReadOnlyData(), m.ProtoReflect().Descriptor(), "", 0)
	if len(s.notUTF8) > 0 {
		for _, path := range s.notUTF8 {
			b = appendNote(b, path)
		}
		proto.Reset(m)
		if proto.Unmarshal(b, m) == nil {
			return nil
		}
		// Strings that are not UTF-8 in bytes that are no protobuf
		// encoding either (the screen empties the strings, and leaves
		// the rest as it found it): malformed, below.
	}
	// Not a protobuf encoding of the request at all: gRPC would answer
	// Internal. The request is refused as a whole instead, by the
	// validator, after authentication, and no handler sees it.
	proto.Reset(m)
	return proto.Unmarshal(appendNote(nil, malformedNote), m)
}

// appendNote appends a note of the codec's (see utf8NoteField) to the
// encoding b.
func appendNote(b []byte, note string) []byte {
	b = protowire.AppendTag(b, utf8NoteField, protowire.BytesType)
	return protowire.AppendString(b, note)
}

// malformedNote is the note of a request that is not a protobuf encoding
// of its message; it cannot be a field path.
const malformedNote = "\x00malformed"

// utf8NoteField is the field number, unknown to every message of the
// schema (it is the largest a field can have), under which the codec notes
// the paths of strings that were not UTF-8. A client that sends it itself
// only has its own request refused.
const utf8NoteField protowire.Number = protowire.MaxValidNumber

// maxScreenDepth bounds the nesting the screen follows; deeper messages
// are passed to the decoder as they are (it has its own limit).
const maxScreenDepth = 32

type screening struct {
	codec     *screeningCodec
	checkUTF8 bool     // look for strings that are not UTF-8
	notUTF8   []string // their field paths, at most maxViolations+1
}

// message screens the encoding b of a message of type md at path. It
// returns b itself when nothing needs changing, or a new encoding.
func (s *screening) message(b []byte, md protoreflect.MessageDescriptor, path string, depth int) ([]byte, bool) {
	if depth > maxScreenDepth {
		return b, false
	}
	var out []byte                      // nil until something changes
	var counts map[protowire.Number]int // items of each list so far
	var dropping protowire.Number       // a list over its limit: its further items go
	for rest := b; len(rest) > 0; {
		num, typ, n := protowire.ConsumeTag(rest)
		if n < 0 {
			return b, false // malformed: the decoder will say so
		}
		vn := protowire.ConsumeFieldValue(num, typ, rest[n:])
		if vn < 0 {
			return b, false
		}
		field, value := rest[:n+vn], rest[n:n+vn]
		rest = rest[n+vn:]
		if num == dropping {
			// out is not nil. Items of a list millions long come one after
			// the other: skip them without decoding each tag.
			if typ == protowire.BytesType {
				rest = skipRun(rest, field[:n])
			}
			continue
		}

		fd := md.Fields().ByNumber(num)
		var keep []byte // the field's new encoding, when changed
		changed := false
		if fd != nil && fd.IsList() {
			if counts == nil {
				counts = map[protowire.Number]int{}
			}
			if typ != protowire.BytesType || isScalar(fd) {
				// Unpacked scalars are counted here; packed ones by packed.
				if typ == protowire.BytesType {
					keep, changed = s.packed(num, value, field[:n:n], counts, s.codec.maxItems(fd))
				} else if limit := s.codec.maxItems(fd); limit > 0 && uint64(counts[num]) > limit {
					changed, dropping = true, num
				} else {
					counts[num]++
				}
			} else if limit := s.codec.maxItems(fd); limit > 0 && uint64(counts[num]) > limit {
				changed, dropping = true, num
			} else {
				keep, changed = s.field(fd, value, field[:n:n], indexed(join(path, fd), counts[num]), depth)
				counts[num]++
			}
		} else if fd != nil && typ == protowire.BytesType && !fd.IsMap() {
			keep, changed = s.field(fd, value, field[:n:n], join(path, fd), depth)
		}
		if changed && out == nil {
			out = append(make([]byte, 0, len(b)-len(rest)+len(keep)), b[:len(b)-len(rest)-len(field)]...)
		}
		switch {
		case changed:
			out = append(out, keep...)
		case out != nil:
			out = append(out, field...)
		}
	}
	if out == nil {
		return b, false
	}
	return out, true
}

// skipRun skips the length-delimited fields at the start of b that carry
// exactly the tag bytes tag.
func skipRun(b, tag []byte) []byte {
	if len(tag) == 1 {
		// The common case, a one-byte tag and items shorter than 128
		// bytes, at a few nanoseconds an item.
		for t := tag[0]; len(b) >= 2 && b[0] == t && b[1] < 0x80 && len(b) >= 2+int(b[1]); {
			b = b[2+int(b[1]):]
		}
	}
	for bytes.HasPrefix(b, tag) {
		size, n := protowire.ConsumeVarint(b[len(tag):])
		if n < 0 || uint64(len(b)-len(tag)-n) < size {
			return b // malformed: left to the decoder
		}
		b = b[len(tag)+n+int(size):]
	}
	return b
}

func join(path string, fd protoreflect.FieldDescriptor) string {
	if path == "" {
		return string(fd.Name())
	}
	return path + "." + string(fd.Name())
}

func isScalar(fd protoreflect.FieldDescriptor) bool {
	return fd.Message() == nil && fd.Kind() != protoreflect.StringKind && fd.Kind() != protoreflect.BytesKind
}

// field screens one length-delimited value (a string, a message, or one
// item of a list of them) named name: tag is its tag, value its length
// and payload. It returns the field's new encoding and true, or false
// when it stays as it is.
func (s *screening) field(fd protoreflect.FieldDescriptor, value, tag []byte, name string, depth int) ([]byte, bool) {
	payload, _ := protowire.ConsumeBytes(value)
	switch {
	case fd.Kind() == protoreflect.StringKind:
		if !s.checkUTF8 || utf8.Valid(payload) {
			return nil, false
		}
		if len(s.notUTF8) <= maxViolations {
			s.notUTF8 = append(s.notUTF8, name)
		}
		// Emptied: the request is refused for it, so its content matters
		// to nobody, and repairing megabytes would cost more than reading.
		return protowire.AppendString(tag, ""), true
	case fd.Message() != nil:
		sub, changed := s.message(payload, fd.Message(), name, depth+1)
		if !changed {
			return nil, false
		}
		return protowire.AppendBytes(tag, sub), true
	}
	return nil, false
}

// packed cuts a packed list of varints (enums, integers) to limit+1
// elements, counting those of earlier chunks.
func (s *screening) packed(num protowire.Number, value, tag []byte, counts map[protowire.Number]int, limit uint64) ([]byte, bool) {
	if limit == 0 {
		return nil, false
	}
	payload, _ := protowire.ConsumeBytes(value)
	var kept int
	for rest := payload; len(rest) > 0; {
		_, n := protowire.ConsumeVarint(rest)
		if n < 0 {
			return nil, false // not varints, or malformed: left to the decoder
		}
		if uint64(counts[num]) > limit {
			return protowire.AppendBytes(tag, payload[:kept]), true
		}
		counts[num]++
		kept += n
		rest = rest[n:]
	}
	return nil, false
}

// maxItems is the max_items rule of a list field, cached.
func (c *screeningCodec) maxItems(fd protoreflect.FieldDescriptor) uint64 {
	if !fd.IsList() {
		return 0
	}
	if n, ok := c.lists.Load(fd.FullName()); ok {
		return n.(uint64)
	}
	n := maxItems(fd)
	c.lists.Store(fd.FullName(), n)
	return n
}

// notUTF8Violations returns the violations the codec noted in m: the
// strings that were not UTF-8, or a request that was not protobuf at all.
func notUTF8Violations(m protoreflect.Message) []*errdetails.BadRequest_FieldViolation {
	var out []*errdetails.BadRequest_FieldViolation
	for rest := []byte(m.GetUnknown()); len(rest) > 0; {
		num, typ, n := protowire.ConsumeTag(rest)
		if n < 0 {
			return out
		}
		vn := protowire.ConsumeFieldValue(num, typ, rest[n:])
		if vn < 0 {
			return out
		}
		if num == utf8NoteField && typ == protowire.BytesType {
			path, _ := protowire.ConsumeBytes(rest[n:])
			if len(out) == maxViolations {
				out = append(out, truncatedViolations(1))
				return out
			}
			if string(path) == malformedNote {
				out = append(out, fieldViolation("request", "is not a protobuf encoding of "+string(m.Descriptor().FullName()), "request.malformed"))
			} else {
				out = append(out, notUTF8Violation(strings.ToValidUTF8(string(path), "\uFFFD")))
			}
		}
		rest = rest[n+vn:]
	}
	return out
}

func notUTF8Violation(field string) *errdetails.BadRequest_FieldViolation {
	return fieldViolation(field, "is not valid UTF-8", "string.utf8")
}

// NotUTF8 is INVALID_ARGUMENT naming fields (or REST parameters) whose
// value is not UTF-8, as the server names such strings in a request. The
// REST gateway refuses a path or query value with it, before it would
// fail to encode the request for gRPC.
func NotUTF8(fields ...string) error {
	violations := make([]*errdetails.BadRequest_FieldViolation, 0, len(fields))
	for _, f := range fields {
		violations = append(violations, notUTF8Violation(f))
	}
	return invalidArgument(violations)
}

// QueryNotRead is INVALID_ARGUMENT naming REST query parameters that the
// method does not read (read are those it does; none when it takes its
// whole request in the JSON body, or in its path); body tells a method
// with a JSON body (a POST) from one without (a GET): the gateway would
// drop them, and a request_id or etag dropped is a retry that acts twice
// or a stale write that goes through, a filter dropped a list that is not
// the one asked for.
func QueryNotRead(body bool, read []string, params ...string) error {
	var description string
	switch {
	case body && len(read) == 0:
		description = "is a query parameter, but this method takes its request, this field included, in the JSON body"
	case body:
		description = "is no query parameter of this method, which reads " + strings.Join(read, ", ") + " in the query and the rest in the JSON body"
	case len(read) == 0:
		description = "is no query parameter of this method, which takes none"
	default:
		description = "is no query parameter of this method, which reads " + strings.Join(read, ", ")
	}
	violations := make([]*errdetails.BadRequest_FieldViolation, 0, min(len(params), maxViolations+1))
	for i, p := range params {
		if i == maxViolations {
			violations = append(violations, truncatedViolations(len(params)-i))
			break
		}
		violations = append(violations, fieldViolation(p, description, "query.unexpected"))
	}
	return invalidArgument(violations)
}

// BodyNotRead is INVALID_ARGUMENT naming the body of a REST GET, which
// reads its request from its path and query only: the gateway would drop
// the body without a word, and a filter written in it would be answered
// as if it had been applied.
func BodyNotRead() error {
	return invalidArgument([]*errdetails.BadRequest_FieldViolation{fieldViolation("body",
		"is sent with a GET, which reads its request from the path and the query only: send the filters as query parameters", "body.unexpected")})
}

// BadQueryParameter is INVALID_ARGUMENT naming a REST query parameter that
// the gateway could not read into its field (a number out of range, an
// enum value that does not exist, a repeated singular field): the gateway
// says so in a bare message, and a client must get the field and the rule
// as for every other bad input.
func BadQueryParameter(field, description string) error {
	return invalidArgument([]*errdetails.BadRequest_FieldViolation{fieldViolation(field, description, "query.parse")})
}

// BadBody is INVALID_ARGUMENT naming the field of a REST body that could
// not be read into the request (an enum name that does not exist, a
// number out of range, an unknown field), or "body" when the body is no
// JSON value of it: the gateway says so in a bare message, and a client
// must get the field and the rule as for every other bad input.
func BadBody(field, description string) error {
	return invalidArgument([]*errdetails.BadRequest_FieldViolation{fieldViolation(field, description, "body.parse")})
}

// EscapedSlashInPath is INVALID_ARGUMENT naming REST path parameters that
// hold an escaped slash (%2F): a resource name's parts are path segments
// of their own, so such a value names nothing, and the gateway would
// answer a bare "Not Found" that names no parameter.
func EscapedSlashInPath(fields ...string) error {
	return restParameters("path.segment", "holds an escaped slash (%2F): send each part of a resource name as a path segment of its own, e.g. /v1/cases/HN-2026-00123", fields)
}

// UnreadableQuery is INVALID_ARGUMENT naming REST query parameters that
// cannot be read: an escape that is no escape, or a semicolon.
func UnreadableQuery(fields ...string) error {
	return restParameters("query.parse", "cannot be read: it holds a % that begins no escape (write % as %25) or a semicolon (separate parameters with &)", fields)
}

// restParameters is INVALID_ARGUMENT naming REST parameters refused for
// one rule.
func restParameters(rule, description string, fields []string) error {
	violations := make([]*errdetails.BadRequest_FieldViolation, 0, len(fields))
	for _, f := range fields {
		violations = append(violations, fieldViolation(f, description, rule))
	}
	return invalidArgument(violations)
}
