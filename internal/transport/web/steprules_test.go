package web

import (
	"maps"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"buf.build/gen/go/bufbuild/protovalidate/protocolbuffers/go/buf/validate"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/descriptorpb"

	pb "github.com/childcase/childcase/api/childcase/v1"
)

// A step form is checked by the API, which names each broken field's rule
// by its id ("string.min_len"). The case page says the rule in the page's
// language from "rule.ID"; a rule without a text shows in the API's English
// ("a value is required", "must be at least 10 characters") on a
// Vietnamese page. Every rule a step request's fields or messages carry
// has a text in every catalog.
func TestStepFormRulesAreInTheCatalogs(t *testing.T) {
	cats, err := loadCatalogs(files)
	if err != nil {
		t.Fatal(err)
	}
	ids := map[string][]string{} // rule id -> where it is
	seen := map[protoreflect.FullName]bool{}
	var walk func(md protoreflect.MessageDescriptor)
	walk = func(md protoreflect.MessageDescriptor) {
		if seen[md.FullName()] || md.FullName() == "google.protobuf.Timestamp" {
			return
		}
		seen[md.FullName()] = true
		if mr, ok := proto.GetExtension(md.Options(), validate.E_Message).(*validate.MessageRules); ok {
			for _, c := range mr.GetCel() {
				ids[c.GetId()] = append(ids[c.GetId()], string(md.FullName()))
			}
		}
		for i := range md.Fields().Len() {
			fd := md.Fields().Get(i)
			if fr, ok := proto.GetExtension(fd.Options(), validate.E_Field).(*validate.FieldRules); ok {
				for _, id := range fieldRuleIDs(fr) {
					ids[id] = append(ids[id], string(fd.FullName()))
				}
			}
			if fd.Kind() == protoreflect.MessageKind {
				walk(fd.Message())
			}
		}
	}
	for _, m := range caseSteps() {
		walk(m.Input())
	}
	if len(ids) == 0 {
		t.Fatal("no rule found on the step requests")
	}
	for _, id := range slices.Sorted(maps.Keys(ids)) {
		for _, lang := range languages {
			if _, ok := cats[lang]["rule."+id]; !ok {
				t.Errorf("%s has no text for the rule %s (rule.%s), which %s carries", lang, id, id, ids[id][0])
			}
		}
	}
}

// fieldRuleIDs are the rule ids protovalidate reports for a field's rules:
// "required", the CEL rules' ids, and "TYPE.RULE" for each standard rule,
// a numeric range's two bounds making one ("int32.gte_lte").
func fieldRuleIDs(fr *validate.FieldRules) []string {
	var out []string
	if fr.GetRequired() {
		out = append(out, "required")
	}
	for _, c := range fr.GetCel() {
		out = append(out, c.GetId())
	}
	m := fr.ProtoReflect()
	oneof := m.Descriptor().Oneofs().ByName("type")
	if oneof == nil {
		return out
	}
	fd := m.WhichOneof(oneof)
	if fd == nil {
		return out
	}
	kind := string(fd.Name())
	typed := m.Get(fd).Message()
	var lower, upper string
	typed.Range(func(f protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		switch name := string(f.Name()); {
		case name == "example":
		case name == "items" && kind == "repeated":
			out = append(out, fieldRuleIDs(v.Message().Interface().(*validate.FieldRules))...)
		case name == "gt" || name == "gte":
			lower = name
		case name == "lt" || name == "lte":
			upper = name
		default:
			out = append(out, kind+"."+name)
		}
		return true
	})
	switch {
	case lower != "" && upper != "":
		out = append(out, kind+"."+lower+"_"+upper)
	case lower != "":
		out = append(out, kind+"."+lower)
	case upper != "":
		out = append(out, kind+"."+upper)
	}
	return out
}

// A refusal of what was typed names the field as the page names it, not
// by the API's field path ("end_date: ..." on a Vietnamese page).
func TestRefusalsNameTheFieldInThePagesLanguage(t *testing.T) {
	cats, err := loadCatalogs(files)
	if err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{"end_date", "user_id", "services[0].commune_assignee", "police_unit_id", "police_unit.covers", "year", "page_token"} {
		st, err := status.New(codes.InvalidArgument, "invalid").WithDetails(&errdetails.BadRequest{FieldViolations: []*errdetails.BadRequest_FieldViolation{
			{Field: path, Description: "must be at least 1 characters", Reason: "string.min_len"},
		}})
		if err != nil {
			t.Fatal(err)
		}
		for _, lang := range languages {
			said, ok := cats.refused(lang, st.Err())
			if !ok || strings.Contains(said.Text, path) || strings.Contains(said.Text, "must be") {
				t.Errorf("%s: a refusal of %s reads %q", lang, path, said.Text)
			}
		}
	}
}

// The step fields whose values are codes the API documents (a review's
// outcome, a service's state, the police's outcome) are choices among
// those codes, in words, not a text box where the code must be typed as
// the API spells it.
func TestStepCodeFieldsAreChoices(t *testing.T) {
	cats, err := loadCatalogs(files)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string][]string{
		"RecordReview":          {"NEW_PLAN_CYCLE", "PROPOSE_CLOSURE"},
		"RecordServiceProgress": {"IN_PROGRESS", "COMPLETED", "CANCELLED"},
		"EndSeparation":         {"RETURNED_HOME", "ALTERNATIVE_CARE"},
		"RecordCourtDecision":   {"RETURNED_HOME", "ALTERNATIVE_CARE"},
		"RecordPoliceOutcome":   {"PROSECUTED", "NOT_PROSECUTED", "SUSPENDED"},
	}
	field := map[string]string{"RecordServiceProgress": "state"}
	for step, codes := range want {
		m, ok := stepMethod(step)
		if !ok {
			t.Fatalf("no step %s", step)
		}
		name := "outcome"
		if f, ok := field[step]; ok {
			name = f
		}
		var got *formField
		for _, f := range buildFields("f", m.Input(), "", nil, nil, nil) {
			if f.Name == name {
				got = &f
			}
		}
		if got == nil || got.Kind != "select" {
			t.Errorf("%s.%s is not a choice: %+v", step, name, got)
			continue
		}
		var values []string
		for _, o := range got.Options {
			values = append(values, o.Value)
			for _, lang := range languages {
				if _, ok := cats[lang][o.Key]; !ok {
					t.Errorf("%s: no text for %s.%s's choice %s (%s)", lang, step, name, o.Value, o.Key)
				}
			}
		}
		if !slices.Equal(values, codes) {
			t.Errorf("%s.%s offers %v, want %v", step, name, values, codes)
		}
	}
}

// Every field the service names in a refusal (the domain's and grpcapi's
// literal field paths, and every field of the requests the console's
// screens other than the steps send: the audit filter, the dashboard, the
// admin's forms, a report's link and disclosure, the lists) is named in
// the page's language: a refusal said "actor: ..." or "end_time: ..." on
// a Vietnamese audit page.
func TestRefusedFieldsAreNamedInThePagesLanguage(t *testing.T) {
	cats, err := loadCatalogs(files)
	if err != nil {
		t.Fatal(err)
	}
	src := domainSources(t) + sourcesOf(t, filepath.Join("..", "grpcapi"))
	paths := map[string]bool{}
	for _, m := range literalField.FindAllStringSubmatch(src, -1) {
		paths[m[1]] = true
	}
	var walk func(md protoreflect.MessageDescriptor, prefix string, depth int)
	walk = func(md protoreflect.MessageDescriptor, prefix string, depth int) {
		for i := range md.Fields().Len() {
			fd := md.Fields().Get(i)
			if fd.Options().(*descriptorpb.FieldOptions).GetDeprecated() {
				continue
			}
			path := prefix + string(fd.Name())
			paths[path] = true
			if fd.Kind() == protoreflect.MessageKind && !strings.HasPrefix(string(fd.Message().FullName()), "google.protobuf.") && depth < 2 {
				walk(fd.Message(), path+".", depth+1)
			}
		}
	}
	for _, m := range []proto.Message{
		&pb.ListAuditEventsRequest{}, &pb.GetStatisticsRequest{}, &pb.GetActionMonthReportRequest{}, &pb.GetPeriodicReportRequest{},
		&pb.CreateUserRequest{}, &pb.CreatePoliceUnitRequest{}, &pb.LinkReportRequest{}, &pb.DiscloseReporterRequest{}, &pb.ListCasesRequest{},
	} {
		walk(m.ProtoReflect().Descriptor(), "", 0)
	}
	for _, path := range slices.Sorted(maps.Keys(paths)) {
		for _, lang := range languages {
			name := cats.fieldName(lang, path)
			if name == path || strings.Contains(name, "_") {
				t.Errorf("%s names the field %s %q", lang, path, name)
			}
		}
	}
}

// model.InvalidField("field.path", ...)
var literalField = regexp.MustCompile(`InvalidField\(\s*"([a-z_.]+)"`)

// A refusal of several fields reads as one sentence in the page's
// language, its fields apart by "; ": not "Cần điền mục này.; Tên đăng
// nhập: ..." as the admin's user form said, each rule's full stop left
// before the separator. Its end keeps the last rule's full stop.
func TestRefusalOfSeveralFieldsReadsAsOneSentence(t *testing.T) {
	cats, err := loadCatalogs(files)
	if err != nil {
		t.Fatal(err)
	}
	st, err := status.New(codes.InvalidArgument, "invalid request").WithDetails(&errdetails.BadRequest{FieldViolations: []*errdetails.BadRequest_FieldViolation{
		{Field: "user.display_name", Description: "value is required", Reason: "required"},
		{Field: "user_id", Description: "does not match", Reason: "string.pattern"},
	}})
	if err != nil {
		t.Fatal(err)
	}
	for _, lang := range languages {
		said, ok := cats.refused(lang, st.Err())
		if !ok || !strings.Contains(said.Text, "; ") {
			t.Fatalf("%s: two fields refused read %q (%v)", lang, said.Text, ok)
		}
		if strings.Contains(said.Text, ".;") || !strings.HasSuffix(said.Text, ".") {
			t.Errorf("%s: two fields refused read %q: a full stop before \";\", or none at the end", lang, said.Text)
		}
	}
}
