package grpcapi

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"

	"buf.build/gen/go/bufbuild/protovalidate/protocolbuffers/go/buf/validate"
	"buf.build/go/protovalidate"
	"golang.org/x/text/unicode/norm"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/childcase/childcase/internal/domain/model"
)

// The bounds of an INVALID_ARGUMENT answer. A request within the size
// limits can break thousands of rules; naming the first few is enough to
// fix it, and the answer must not cost more than the request did.
const (
	// maxViolations is how many violations an answer names; one more
	// entry says how many were left out.
	maxViolations = 20
	// maxViolationMessage caps the status message, in bytes.
	maxViolationMessage = 4096
	// maxFieldBytes and maxDescriptionBytes cap each violation's field
	// path and description, in bytes.
	maxFieldBytes       = 200
	maxDescriptionBytes = 300
)

// validator checks every request against the protovalidate rules in the
// schema before a handler sees it. Its work is bounded by the schema, not
// by the request: lists are held to their max_items before any of their
// items is looked at, and the answer names at most maxViolations.
type validator struct {
	v   protovalidate.Validator
	log *slog.Logger

	// listLimits caches, per message type, its list fields with their
	// max_items (0: none) and the message fields to look into.
	listLimits sync.Map // protoreflect.FullName -> []fieldLimit
	// maxLens caches, per string field, its max_len (0: none).
	maxLens sync.Map // protoreflect.FieldDescriptor -> uint64
}

type fieldLimit struct {
	fd       protoreflect.FieldDescriptor
	maxItems uint64 // lists only; 0: no limit
}

// newValidator compiles the rules of every request of the API
// (requestDescriptors) before the server serves: compiled on first use,
// the first requests of a kind after a start each waited for one build
// under the validator's lock, which 64 hotline calls at once paid in turn.
func newValidator(log *slog.Logger) (*validator, error) {
	v, err := protovalidate.New(protovalidate.WithMessageDescriptors(requestDescriptors()...))
	if err != nil {
		return nil, err
	}
	return &validator{v: v, log: log}, nil
}

// requestDescriptors are the request messages of the methods of the API's
// services (package childcase.v1).
func requestDescriptors() []protoreflect.MessageDescriptor {
	var out []protoreflect.MessageDescriptor
	protoregistry.GlobalFiles.RangeFilesByPackage("childcase.v1", func(f protoreflect.FileDescriptor) bool {
		for i := range f.Services().Len() {
			methods := f.Services().Get(i).Methods()
			for j := range methods.Len() {
				out = append(out, methods.Get(j).Input())
			}
		}
		return true
	})
	return out
}

func (v *validator) check(ctx context.Context, msg any) error {
	m, ok := msg.(proto.Message)
	if !ok {
		return nil
	}
	if err := ctx.Err(); err != nil {
		return toStatus(ctx, v.log, err)
	}
	// Strings that were not UTF-8, as the codec found them: the rest of
	// the request was decoded with them replaced, so only they are named.
	if viols := notUTF8Violations(m.ProtoReflect()); len(viols) > 0 {
		return invalidArgument(viols)
	}
	if viols := v.checkListLimits(ctx, m.ProtoReflect(), ""); len(viols) > 0 {
		return invalidArgument(viols)
	}
	// Lists are within their limits now: the walk is bounded.
	if viols := controlViolations(m.ProtoReflect()); len(viols) > 0 {
		return invalidArgument(viols)
	}
	if viols := timeViolations(m.ProtoReflect(), ""); len(viols) > 0 {
		return invalidArgument(viols)
	}
	v.composeStrings(m.ProtoReflect())
	narrowNumbers(m.ProtoReflect())
	if err := ctx.Err(); err != nil {
		return toStatus(ctx, v.log, err)
	}
	// The filter skips what is left once the call has ended: nobody
	// will read the answer.
	err := v.v.Validate(m, protovalidate.WithFilter(protovalidate.FilterFunc(
		func(protoreflect.Message, protoreflect.Descriptor) bool { return ctx.Err() == nil })))
	if ctxErr := ctx.Err(); ctxErr != nil {
		return toStatus(ctx, v.log, ctxErr)
	}
	if err == nil {
		return nil
	}
	var verr *protovalidate.ValidationError
	if !errors.As(err, &verr) {
		// A rule that cannot be compiled is our bug, not the caller's.
		return toStatus(ctx, v.log, fmt.Errorf("protovalidate: %w", err))
	}
	violations := make([]*errdetails.BadRequest_FieldViolation, 0, min(len(verr.Violations), maxViolations+1))
	for _, viol := range verr.Violations {
		if len(violations) == maxViolations {
			violations = append(violations, truncatedViolations(len(verr.Violations)-maxViolations))
			break
		}
		field := protovalidate.FieldPathString(viol.Proto.GetField())
		if sub := messageRuleField[viol.Proto.GetRuleId()]; sub != "" {
			field = strings.TrimPrefix(field+"."+sub, ".")
		}
		description := viol.Proto.GetMessage()
		if d := unsetEnum(m.ProtoReflect().Descriptor(), viol); d != "" {
			description = d
		} else if d := emptyString(viol); d != "" {
			description = d
		}
		violations = append(violations, fieldViolation(field, description, viol.Proto.GetRuleId()))
	}
	return invalidArgument(violations)
}

// unsetEnum describes an enum left at its UNSPECIFIED 0 where the schema
// refuses it (not_in: [0]) by the values it takes, rather than in
// protovalidate's words ("must not be in list [0]"), which tell the caller
// neither that the field is required nor what to send. It is "" for any
// other violation.
func unsetEnum(md protoreflect.MessageDescriptor, viol *protovalidate.Violation) string {
	if viol.Proto.GetRuleId() != "enum.not_in" {
		return ""
	}
	fd := viol.FieldDescriptor
	if fd == nil { // an item of a list: found by the violation's path
		for _, el := range viol.Proto.GetField().GetElements() {
			if md == nil {
				return ""
			}
			fd = md.Fields().ByNumber(protoreflect.FieldNumber(el.GetFieldNumber()))
			if fd == nil {
				return ""
			}
			md = fd.Message()
		}
	}
	if fd == nil || fd.Enum() == nil || !viol.FieldValue.IsValid() {
		return ""
	}
	if n, ok := viol.FieldValue.Interface().(protoreflect.EnumNumber); !ok || n != 0 {
		return ""
	}
	values := fd.Enum().Values()
	var names []string
	size := 0
	for i := range values.Len() {
		if values.Get(i).Number() == 0 {
			continue
		}
		name := string(values.Get(i).Name())
		if size+len(name) > 220 { // the description's bound is 300 bytes
			return fmt.Sprintf("a value is required: one of %s, or %d more of %s", strings.Join(names, ", "),
				values.Len()-1-len(names), fd.Enum().FullName())
		}
		names = append(names, name)
		size += len(name) + 2
	}
	return "a value is required: one of " + strings.Join(names, ", ")
}

// emptyString describes a string left empty where the schema asks for at
// least some characters (min_len) as a value that is required, rather than
// in protovalidate's words ("must be at least 1 characters"), which do not
// tell the caller that the field was left out; the rule keeps its id. It
// is "" for any other violation, a string sent too short among them.
func emptyString(viol *protovalidate.Violation) string {
	if viol.Proto.GetRuleId() != "string.min_len" || !viol.FieldValue.IsValid() {
		return ""
	}
	if s, ok := viol.FieldValue.Interface().(string); !ok || s != "" {
		return ""
	}
	if n, ok := viol.RuleValue.Interface().(uint64); viol.RuleValue.IsValid() && ok && n > 1 {
		return fmt.Sprintf("a value is required, of at least %d characters", n)
	}
	return "a value is required"
}

// checkListLimits holds every list of m, and of the messages in it, to its
// max_items rule, before protovalidate looks at a single item: protovalidate
// validates every item of a list that is too long as well, so two million
// empty children (4 MiB) would each be checked and named. A list over its
// limit is not looked into. Only the lists' lengths are read, and items of
// lists within their limits: the work is bounded by the schema.
func (v *validator) checkListLimits(ctx context.Context, m protoreflect.Message, path string) []*errdetails.BadRequest_FieldViolation {
	var out []*errdetails.BadRequest_FieldViolation
	for _, f := range v.limitsOf(m.Descriptor()) {
		if !m.Has(f.fd) {
			continue
		}
		name := string(f.fd.Name())
		if path != "" {
			name = path + "." + name
		}
		switch {
		case f.fd.IsList():
			list := m.Get(f.fd).List()
			if f.maxItems > 0 && uint64(list.Len()) > f.maxItems {
				out = append(out, fieldViolation(name,
					fmt.Sprintf("must contain no more than %d item(s)", f.maxItems),
					"repeated.max_items"))
				continue
			}
			if f.fd.Message() == nil {
				continue
			}
			for i := range list.Len() {
				if ctx.Err() != nil {
					return out
				}
				out = append(out, v.checkListLimits(ctx, list.Get(i).Message(), indexed(name, i))...)
			}
		case f.fd.IsMap():
			// No request carries a map (TestRequestListsHaveLimits); were
			// one added, protovalidate's max_pairs still applies.
		default:
			out = append(out, v.checkListLimits(ctx, m.Get(f.fd).Message(), name)...)
		}
		if len(out) > maxViolations {
			return out[:maxViolations]
		}
	}
	return out
}

// controlViolations names the strings of m, and of the messages in it,
// that hold a control character other than tab and line breaks, or a
// bidirectional embedding, override or isolate (string.no_control), or
// that stack more than maxStackedMarks combining marks on a character
// (string.stacked_marks). No field of a request needs either; a NUL or
// an escape sequence stored in a name reaches every terminal and file
// that shows it later, a bidirectional override makes a name or a number
// read otherwise than it is stored, and a tower of marks ("Zalgo" text)
// draws over the lines around it wherever it is shown. Like every answer
// it names at most maxViolations and says how many more there were. Its
// walk is bounded by the lists' limits, checked before.
func controlViolations(m protoreflect.Message) []*errdetails.BadRequest_FieldViolation {
	var out []*errdetails.BadRequest_FieldViolation
	more := 0
	eachControlString(m, "", func(field, rule string) {
		if len(out) == maxViolations {
			more++
			return
		}
		description := "must not contain a control character (other than tab and line breaks) or a bidirectional override"
		if rule == ruleStackedMarks {
			description = fmt.Sprintf("must not stack more than %d combining marks on a character", maxStackedMarks)
		}
		out = append(out, fieldViolation(field, description, rule))
	})
	if more > 0 {
		out = append(out, truncatedViolations(more))
	}
	return out
}

// The rules of refusedText.
const (
	ruleNoControl    = "string.no_control"
	ruleStackedMarks = "string.stacked_marks"
)

// maxStackedMarks is the most combining marks a string may stack on one
// character (model.StacksMarks).
const maxStackedMarks = model.MaxStackedMarks

// refusedText returns the rule s breaks, "" for none.
func refusedText(s string) string {
	switch {
	case strings.ContainsFunc(s, isControl):
		return ruleNoControl
	case model.StacksMarks(s):
		return ruleStackedMarks
	}
	return ""
}

// eachControlString calls found with the path of every string of m, and
// of the messages in it, that refusedText refuses, and the rule.
func eachControlString(m protoreflect.Message, path string, found func(field, rule string)) {
	m.Range(func(fd protoreflect.FieldDescriptor, val protoreflect.Value) bool {
		name := string(fd.Name())
		if path != "" {
			name = path + "." + name
		}
		check := func(name string, v protoreflect.Value) {
			switch {
			case fd.Kind() == protoreflect.StringKind:
				if rule := refusedText(v.String()); rule != "" {
					found(name, rule)
				}
			case fd.Message() != nil:
				eachControlString(v.Message(), name, found)
			}
		}
		switch {
		case fd.IsMap(): // no request carries a map (TestRequestListsHaveLimits)
		case fd.IsList():
			list := val.List()
			for i := range list.Len() {
				check(indexed(name, i), list.Get(i))
			}
		default:
			check(name, val)
		}
		return true
	})
}

// timeViolations names the timestamps and durations of m, and of the
// messages in it, that are no valid google.protobuf.Timestamp or Duration:
// nanos outside their range, a duration's seconds and nanos of opposite
// signs, a time before year 1 or after 9999. No REST body can write one
// (the gateway refuses it as it reads the body), but a gRPC client can
// send it, and read as it is it named another instant than it says: a
// receive_time a second later than its seconds, or a year that no answer
// can write. Its walk is bounded by the lists' limits, checked before.
func timeViolations(m protoreflect.Message, path string) []*errdetails.BadRequest_FieldViolation {
	var out []*errdetails.BadRequest_FieldViolation
	m.Range(func(fd protoreflect.FieldDescriptor, val protoreflect.Value) bool {
		if fd.Message() == nil || fd.IsMap() { // no request carries a map (TestRequestListsHaveLimits)
			return true
		}
		name := string(fd.Name())
		if path != "" {
			name = path + "." + name
		}
		check := func(name string, v protoreflect.Message) {
			if viol := invalidTime(name, v); viol != nil {
				out = append(out, viol)
				return
			}
			out = append(out, timeViolations(v, name)...)
		}
		if fd.IsList() {
			for i := range val.List().Len() {
				check(indexed(name, i), val.List().Get(i).Message())
			}
		} else {
			check(name, val.Message())
		}
		return len(out) < maxViolations
	})
	return out
}

// invalidTime is the violation of v, the field named name, when it is a
// Timestamp or a Duration that is no valid one; nil otherwise.
func invalidTime(name string, v protoreflect.Message) *errdetails.BadRequest_FieldViolation {
	fields := v.Descriptor().Fields()
	seconds, nanos := fields.ByName("seconds"), fields.ByName("nanos")
	if seconds == nil || nanos == nil {
		return nil
	}
	s, n := v.Get(seconds).Int(), int32(v.Get(nanos).Int())
	switch v.Descriptor().FullName() {
	case "google.protobuf.Timestamp":
		if (&timestamppb.Timestamp{Seconds: s, Nanos: n}).CheckValid() != nil {
			return fieldViolation(name, "is not a valid timestamp: a time from 0001-01-01 to 9999-12-31 (UTC), its nanos from 0 to 999999999", "timestamp.valid")
		}
	case "google.protobuf.Duration":
		if (&durationpb.Duration{Seconds: s, Nanos: n}).CheckValid() != nil {
			return fieldViolation(name, "is not a valid duration: its nanos from -999999999 to 999999999, of the sign of its seconds, and at most 10,000 years", "duration.valid")
		}
	}
	return nil
}

// numberFields are the string fields that hold a number, a code or a
// date typed in digits, of any request: a commune's code, a birth date,
// the police's reference number. (A phone is read by intake, which
// folds its digits as it checks it: search.PhoneNumber.)
var numberFields = []protoreflect.Name{"incident_commune_code", "commune_code", "birth_date", "reference_number"}

// narrowNumbers folds the full-width forms (U+FF01 to U+FF5E: digits,
// signs, Latin letters) in the number fields of m, and of the messages in
// it, to their ASCII (NFKC), before the schema's patterns read them: a
// Vietnamese input method types "００００４" for the commune 00004, which
// was refused as no code, and a reference number typed so was stored
// unlike the same typed in ASCII. The handler is given the folded text,
// so a retry typed in the other width is the same request.
func narrowNumbers(m protoreflect.Message) {
	eachMessage(m, func(m protoreflect.Message) {
		m.Range(func(fd protoreflect.FieldDescriptor, val protoreflect.Value) bool {
			if fd.Kind() == protoreflect.StringKind && !fd.IsList() && slices.Contains(numberFields, fd.Name()) {
				if s := val.String(); strings.ContainsFunc(s, isFullWidth) {
					m.Set(fd, protoreflect.ValueOfString(strings.Map(narrow, s)))
				}
			}
			return true
		})
	})
}

// isFullWidth reports whether r is the full-width form of an ASCII
// character.
func isFullWidth(r rune) bool { return r >= '\uff01' && r <= '\uff5e' }

// narrow is r's ASCII when r is a full-width form, else r.
func narrow(r rune) rune {
	if isFullWidth(r) {
		return r - '\uff01' + '!'
	}
	return r
}

// composeStrings puts every string of m, and of the messages in it, in
// Unicode NFC, the form the service stores text in, before the schema's
// rules count it: a keyboard that sends Vietnamese decomposed (NFD, "ệ"
// in three code points) would otherwise meet a name's 200-character limit
// at some 70 characters, and a text that composition lengthens (U+0958
// composes to two code points, some to three) would pass its limit and be
// stored beyond it. The handler is given the composed text, so a retry
// typed in the other form is the same request. Its walk is bounded by the
// lists' limits, checked before.
//
// In the same walk it trims the spaces around a string that only they
// take over its field's max_len, so that the limit holds what is stored:
// the domain keeps text trimmed (intake.NormalizeText), and a name of 200
// characters pasted with a line break after it was refused as longer than
// 200. A string within its limit is left as it came (the domain trims it
// all the same), and one still too long once trimmed is left to the rule
// to refuse. Only a string with a space at either end is counted here: the
// others cost a look at their two ends.
func (v *validator) composeStrings(m protoreflect.Message) {
	mapStrings(m, func(fd protoreflect.FieldDescriptor, s string) string {
		if !norm.NFC.IsNormalString(s) {
			s = norm.NFC.String(s)
		}
		if !spaceAround(s) {
			return s
		}
		limit := v.maxLen(fd)
		if limit == 0 || uint64(utf8.RuneCountInString(s)) <= limit {
			return s
		}
		if t := strings.TrimSpace(s); uint64(utf8.RuneCountInString(t)) <= limit {
			return t
		}
		return s
	})
}

// spaceAround reports whether s begins or ends with a space (as
// strings.TrimSpace sees one).
func spaceAround(s string) bool {
	if s == "" {
		return false
	}
	first, _ := utf8.DecodeRuneInString(s)
	last, _ := utf8.DecodeLastRuneInString(s)
	return unicode.IsSpace(first) || unicode.IsSpace(last)
}

// maxLen is the max_len of a string field (of its items, for a list), 0
// for none, read from the schema once per field: reading the rules'
// extension costs allocations at every call.
func (v *validator) maxLen(fd protoreflect.FieldDescriptor) uint64 {
	// Keyed by the descriptor itself: an interface already, it is stored
	// without the allocation its name, a string, would cost as a key.
	if n, ok := v.maxLens.Load(fd); ok {
		return n.(uint64)
	}
	rules, _ := proto.GetExtension(fd.Options(), validate.E_Field).(*validate.FieldRules)
	n := rules.GetString().GetMaxLen()
	if fd.IsList() {
		n = rules.GetRepeated().GetItems().GetString().GetMaxLen()
	}
	v.maxLens.Store(fd, n)
	return n
}

// mapStrings replaces every string of m, and of the messages and lists in
// it, by f of its field and it, where f changes it.
func mapStrings(m protoreflect.Message, f func(fd protoreflect.FieldDescriptor, s string) string) {
	eachMessage(m, func(m protoreflect.Message) {
		m.Range(func(fd protoreflect.FieldDescriptor, val protoreflect.Value) bool {
			switch {
			case fd.Kind() != protoreflect.StringKind || fd.IsMap():
			case fd.IsList():
				list := val.List()
				for i := range list.Len() {
					if s := list.Get(i).String(); f(fd, s) != s {
						list.Set(i, protoreflect.ValueOfString(f(fd, s)))
					}
				}
			default:
				if s := val.String(); f(fd, s) != s {
					m.Set(fd, protoreflect.ValueOfString(f(fd, s)))
				}
			}
			return true
		})
	})
}

// eachMessage calls visit on m, then on every message in its fields and
// lists, those of a message after visit has seen it (visit may set or
// clear the fields of the message it is given). No request carries a map
// (TestRequestListsHaveLimits), so none is walked.
func eachMessage(m protoreflect.Message, visit func(protoreflect.Message)) {
	visit(m)
	m.Range(func(fd protoreflect.FieldDescriptor, val protoreflect.Value) bool {
		switch {
		case fd.Message() == nil || fd.IsMap():
		case fd.IsList():
			for i := range val.List().Len() {
				eachMessage(val.List().Get(i).Message(), visit)
			}
		default:
			eachMessage(val.Message(), visit)
		}
		return true
	})
}

// isControl reports whether r is a control character other than tab and
// the line breaks text pasted from a word processor carries (line feed,
// carriage return, and the vertical tab and form feed of a soft line
// break and a page break) (Unicode's Cc, C1 included), or one of the
// bidirectional embeddings, overrides and isolates (U+202A-U+202E,
// U+2066-U+2069).
func isControl(r rune) bool { return model.IsRefusedControl(r) }

// limitsOf returns the fields of md that checkListLimits looks at: its
// lists and maps, and its message fields.
func (v *validator) limitsOf(md protoreflect.MessageDescriptor) []fieldLimit {
	if cached, ok := v.listLimits.Load(md.FullName()); ok {
		return cached.([]fieldLimit)
	}
	var limits []fieldLimit
	fields := md.Fields()
	for i := range fields.Len() {
		fd := fields.Get(i)
		if fd.IsList() || fd.IsMap() || fd.Message() != nil {
			limits = append(limits, fieldLimit{fd: fd, maxItems: maxItems(fd)})
		}
	}
	v.listLimits.Store(md.FullName(), limits)
	return limits
}

// maxItems is the max_items rule of a list field in the schema, 0 when it
// has none.
func maxItems(fd protoreflect.FieldDescriptor) uint64 {
	if !fd.IsList() {
		return 0
	}
	rules, _ := proto.GetExtension(fd.Options(), validate.E_Field).(*validate.FieldRules)
	return rules.GetRepeated().GetMaxItems()
}

// messageRuleField names, by rule id, the field a message-level rule of the
// schema is about, relative to the message it is declared on.
var messageRuleField = map[string]string{
	"report.children_required": "children",
}

// fieldViolation is one BadRequest entry, its field and description cut to
// their bounds.
func fieldViolation(field, description, rule string) *errdetails.BadRequest_FieldViolation {
	if field == "" {
		field = "request"
	}
	return &errdetails.BadRequest_FieldViolation{
		Field:       truncateUTF8(field, maxFieldBytes),
		Description: truncateUTF8(description, maxDescriptionBytes),
		Reason:      rule,
	}
}

// truncatedViolations is the entry that stands for the violations an
// answer leaves out.
func truncatedViolations(n int) *errdetails.BadRequest_FieldViolation {
	return fieldViolation("request",
		fmt.Sprintf("and %d more violation(s) not listed; correct these and send the request again", n),
		"violations.truncated")
}

// truncateUTF8 cuts s to at most n bytes without splitting a character,
// marking the cut with "…".
func truncateUTF8(s string, n int) string {
	if len(s) <= n {
		return s
	}
	const ellipsis = "…"
	cut := n - len(ellipsis)
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + ellipsis
}

// eachRequestField calls fn for every field reachable from the request
// message of a childcase method, with its path from that message
// ("CreateReportRequest.report.children"); a message type that contains
// itself is followed once.
func eachRequestField(fn func(path string, fd protoreflect.FieldDescriptor)) {
	var walk func(md protoreflect.MessageDescriptor, path string, seen map[protoreflect.FullName]bool)
	walk = func(md protoreflect.MessageDescriptor, path string, seen map[protoreflect.FullName]bool) {
		if seen[md.FullName()] {
			return
		}
		seen[md.FullName()] = true
		defer delete(seen, md.FullName())
		for i := range md.Fields().Len() {
			fd := md.Fields().Get(i)
			name := path + "." + string(fd.Name())
			fn(name, fd)
			if fd.Message() != nil && !fd.IsMap() {
				walk(fd.Message(), name, seen)
			}
		}
	}
	for _, in := range requestDescriptors() {
		walk(in, string(in.Name()), map[protoreflect.FullName]bool{})
	}
}

// LargestListLimit is the largest max_items of any list a request can
// carry. The REST gateway reads no more than one item over it from a JSON
// array, so that a list too long is refused by its rule without the rest
// being decoded.
func LargestListLimit() uint64 {
	var largest uint64
	eachRequestField(func(_ string, fd protoreflect.FieldDescriptor) {
		largest = max(largest, maxItems(fd))
	})
	return largest
}
