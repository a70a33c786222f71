package grpcapi

import (
	"regexp"
	"slices"
	"testing"

	"buf.build/gen/go/bufbuild/protovalidate/protocolbuffers/go/buf/validate"
	"google.golang.org/genproto/googleapis/api/annotations"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// TestFieldsRefusedEmptyAreRequired: a request field whose rules refuse
// it left out (required; a string's min_len, or a pattern the empty string
// does not match; an integer that must be over 0; a list with min_items)
// must be sent, so the schema marks it REQUIRED, and the OpenAPI document
// generated from it lists it among the required fields. Without the mark
// the document calls it optional and a client that leaves it out learns
// otherwise from a 400 (a report's children's sex, a plan's services and
// their start_date and expected_end_date, the service_id of service
// progress and the deadline_id of a pause or resumption did this).
func TestFieldsRefusedEmptyAreRequired(t *testing.T) {
	n := 0
	eachRequestField(func(path string, fd protoreflect.FieldDescriptor) {
		if fd.IsMap() || outputOnly(fd) || (fd.HasPresence() && fd.Message() == nil) {
			return
		}
		rules, _ := proto.GetExtension(fd.Options(), validate.E_Field).(*validate.FieldRules)
		if rules.GetIgnore() == validate.Ignore_IGNORE_IF_ZERO_VALUE {
			return
		}
		refusesEmpty := rules.GetRequired()
		switch {
		case fd.IsList():
			refusesEmpty = refusesEmpty || rules.GetRepeated().GetMinItems() > 0
		case fd.Kind() == protoreflect.StringKind:
			s := rules.GetString()
			refusesEmpty = refusesEmpty || s.GetMinLen() > 0 || s.GetMinBytes() > 0
			if p := s.GetPattern(); p != "" && !regexp.MustCompile(p).MatchString("") {
				refusesEmpty = true
			}
		case fd.Kind() == protoreflect.EnumKind:
			e := rules.GetEnum()
			refusesEmpty = refusesEmpty || slices.Contains(e.GetNotIn(), 0) || (len(e.GetIn()) > 0 && !slices.Contains(e.GetIn(), 0))
		case fd.Kind() == protoreflect.Int32Kind:
			i := rules.GetInt32()
			refusesEmpty = refusesEmpty || (i.HasGt() && i.GetGt() >= 0) || (i.HasGte() && i.GetGte() > 0)
		case fd.Kind() == protoreflect.Int64Kind:
			i := rules.GetInt64()
			refusesEmpty = refusesEmpty || (i.HasGt() && i.GetGt() >= 0) || (i.HasGte() && i.GetGte() > 0)
		}
		if !refusesEmpty {
			return
		}
		n++
		behaviors, _ := proto.GetExtension(fd.Options(), annotations.E_FieldBehavior).([]annotations.FieldBehavior)
		if !slices.Contains(behaviors, annotations.FieldBehavior_REQUIRED) {
			t.Errorf("%s: refused when left out, but not marked (google.api.field_behavior) = REQUIRED", path)
		}
	})
	if n < 50 {
		t.Fatalf("found only %d request fields refused when left out", n)
	}
}
