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

// TestStringsRefusedEmptyAreRequired: a request string whose rules refuse
// the empty string (min_len, or a pattern the empty string does not match)
// must be sent, so the schema marks it REQUIRED, and the OpenAPI document
// generated from it lists it among the required fields. Without the mark
// the document calls it optional and a client that leaves it out learns
// otherwise from a 400 (a plan's services' start_date and
// expected_end_date did this).
func TestStringsRefusedEmptyAreRequired(t *testing.T) {
	n := 0
	eachRequestField(func(path string, fd protoreflect.FieldDescriptor) {
		if fd.Kind() != protoreflect.StringKind || fd.IsList() || fd.IsMap() || outputOnly(fd) || fd.HasPresence() {
			return
		}
		rules, _ := proto.GetExtension(fd.Options(), validate.E_Field).(*validate.FieldRules)
		if rules.GetIgnore() == validate.Ignore_IGNORE_IF_ZERO_VALUE {
			return
		}
		s := rules.GetString()
		refusesEmpty := rules.GetRequired() || s.GetMinLen() > 0 || s.GetMinBytes() > 0
		if p := s.GetPattern(); p != "" && !regexp.MustCompile(p).MatchString("") {
			refusesEmpty = true
		}
		if !refusesEmpty {
			return
		}
		n++
		behaviors, _ := proto.GetExtension(fd.Options(), annotations.E_FieldBehavior).([]annotations.FieldBehavior)
		if !slices.Contains(behaviors, annotations.FieldBehavior_REQUIRED) {
			t.Errorf("%s: refused when empty, but not marked (google.api.field_behavior) = REQUIRED", path)
		}
	})
	if n < 50 {
		t.Fatalf("found only %d request strings refused when empty", n)
	}
}
