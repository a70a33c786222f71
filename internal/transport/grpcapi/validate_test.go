package grpcapi

import (
	"context"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"buf.build/gen/go/bufbuild/protovalidate/protocolbuffers/go/buf/validate"
	"golang.org/x/text/unicode/norm"
	"google.golang.org/genproto/googleapis/api/annotations"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	pb "github.com/childcase/childcase/api/childcase/v1"
)

// validReport is a report the schema's rules accept.
func validReport() *pb.Report {
	return &pb.Report{
		Channel:             pb.Channel_CHANNEL_HOTLINE_111,
		ReceiveTime:         timestamppb.New(time.Date(2026, 11, 28, 2, 0, 0, 0, time.UTC)),
		IncidentCommuneCode: "00004",
		CallType:            pb.CallType_CALL_TYPE_INTERVENTION,
		Children: []*pb.Child{{
			FullName: "Nguyễn Thị Lan", Age: &pb.Child_EstimatedAgeYears{EstimatedAgeYears: 9},
			Sex: pb.Sex_SEX_FEMALE, Condition: "bầm tím ở tay",
		}},
		Caregivers:     []*pb.Caregiver{{FullName: "Nguyễn Văn Hùng", Relation: "bố dượng", SuspectedAbuser: true}},
		Narrative:      "Hàng xóm nghe tiếng trẻ khóc.",
		SuspectedAbuse: []pb.AbuseForm{pb.AbuseForm_ABUSE_FORM_VIOLENCE},
		Reporter: &pb.Reporter{Identity: &pb.Reporter_Identified{Identified: &pb.IdentifiedReporter{
			Consent: true, FullName: "Trần Thị Mai", Phone: "0912 345 678",
		}}},
	}
}

func validCreateReport() *pb.CreateReportRequest {
	return &pb.CreateReportRequest{Report: validReport()}
}

// withEmptyChildren is a valid report plus n children with nothing filled
// in, each of which breaks several rules.
func withEmptyChildren(n int) *pb.CreateReportRequest {
	req := validCreateReport()
	for range n {
		req.Report.Children = append(req.Report.Children, &pb.Child{})
	}
	return req
}

func violationsOf(t *testing.T, err error) (*status.Status, []*errdetails.BadRequest_FieldViolation) {
	t.Helper()
	st, _ := status.FromError(err)
	if st.Code() != codes.InvalidArgument {
		t.Fatalf("got %v, want INVALID_ARGUMENT", err)
	}
	for _, d := range st.Details() {
		if br, ok := d.(*errdetails.BadRequest); ok {
			return st, br.GetFieldViolations()
		}
	}
	t.Fatalf("no BadRequest details in %v", err)
	return nil, nil
}

// A repeated field over its max_items is refused by that rule alone: its
// items are not validated one by one, so the answer stays small however
// many items came (gRPC's 4 MiB fit about two million empty children).
func TestValidatorRefusesOversizedListBeforeItsItems(t *testing.T) {
	v, err := newValidator(slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range []int{20, 4_000, 100_000} {
		err := v.check(context.Background(), withEmptyChildren(n))
		st, viols := violationsOf(t, err)
		if len(viols) != 1 || viols[0].GetField() != "report.children" || viols[0].GetReason() != "repeated.max_items" {
			t.Errorf("%d children: violations %v, want report.children [repeated.max_items] alone", n+1, viols)
		}
		if !strings.Contains(st.Message(), "report.children") || !strings.Contains(st.Message(), "20") {
			t.Errorf("%d children: message %q does not name the field and its limit", n+1, st.Message())
		}
	}
	// Nested and top-level lists, and lists of scalars, alike.
	req := validCreateReport()
	for range 17 {
		req.Report.SuspectedAbuse = append(req.Report.SuspectedAbuse, pb.AbuseForm_ABUSE_FORM_VIOLENCE)
	}
	if _, viols := violationsOf(t, v.check(context.Background(), req)); len(viols) != 1 || viols[0].GetField() != "report.suspected_abuse" {
		t.Errorf("17 abuse forms: %v", viols)
	}
	plan := &pb.SubmitPlanRequest{}
	for range 5_000 {
		plan.Services = append(plan.Services, &pb.PlanServiceInput{})
	}
	if _, viols := violationsOf(t, v.check(context.Background(), plan)); len(viols) != 1 || viols[0].GetField() != "services" {
		t.Errorf("5000 plan services: %v", viols)
	}
}

// However many rules a request breaks within its limits, the answer names
// at most maxViolations of them, says how many more there were, and its
// message stays under maxViolationMessage bytes.
func TestValidatorBoundsTheAnswer(t *testing.T) {
	v, err := newValidator(slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	req := withEmptyChildren(19) // 20 children, the most allowed
	req.Report.Caregivers = nil
	for range 10 {
		req.Report.Caregivers = append(req.Report.Caregivers, &pb.Caregiver{FullName: strings.Repeat("x", 1000)})
	}
	st, viols := violationsOf(t, v.check(context.Background(), req))
	if len(viols) != maxViolations+1 {
		t.Fatalf("%d violations, want %d and one saying how many more", len(viols), maxViolations+1)
	}
	last := viols[len(viols)-1]
	if last.GetField() != "request" || last.GetReason() != "violations.truncated" || !strings.Contains(last.GetDescription(), "more") {
		t.Errorf("last violation %v does not say that more were cut", last)
	}
	if !strings.Contains(st.Message(), "more") {
		t.Errorf("message %q does not say that more were cut", st.Message())
	}
	if len(st.Message()) > maxViolationMessage {
		t.Errorf("message is %d bytes, over %d", len(st.Message()), maxViolationMessage)
	}
	if size := proto.Size(st.Proto()); size > 2*maxViolationMessage+maxViolations*(maxFieldBytes+maxDescriptionBytes+64) {
		t.Errorf("status is %d bytes", size)
	}
	if !slices.ContainsFunc(viols, func(v *errdetails.BadRequest_FieldViolation) bool {
		return v.GetField() == "report.children[1].age"
	}) {
		t.Errorf("the first violations are not reported: %v", viols)
	}
}

// A call whose context has ended is not validated: its client has gone or
// its deadline passed, and nobody will read the answer.
func TestValidatorStopsWhenTheCallEnds(t *testing.T) {
	v, err := newValidator(slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if st, _ := status.FromError(v.check(ctx, withEmptyChildren(19))); st.Code() != codes.Canceled {
		t.Errorf("cancelled call: %v, want CANCELED", st)
	}
	ctx, cancel = context.WithDeadline(context.Background(), time.Unix(0, 0))
	defer cancel()
	if st, _ := status.FromError(v.check(ctx, validCreateReport())); st.Code() != codes.DeadlineExceeded {
		t.Errorf("expired call: %v, want DEADLINE_EXCEEDED", st)
	}
}

// Every list a request can carry has a max_items rule, so that the
// validator's work and answer are bounded by the schema (maps have no
// such pre-check, so requests carry none). A new list without a limit
// fails here.
func TestRequestListsHaveLimits(t *testing.T) {
	n := 0
	eachRequestField(func(path string, fd protoreflect.FieldDescriptor) {
		n++
		switch {
		case fd.IsMap():
			t.Errorf("%s: a request carries a map", path)
		case fd.IsList() && maxItems(fd) == 0:
			t.Errorf("%s: a list without (buf.validate.field).repeated.max_items", path)
		}
	})
	if n < 100 {
		t.Fatalf("found only %d request fields", n)
	}
	if got := LargestListLimit(); got != 600 {
		t.Errorf("largest list limit %d, want 600 (police unit covers)", got)
	}
}

// Every string a request can carry has a length bound in the schema
// (max_len, max_bytes, a fixed set, or an anchored pattern of bounded
// repeats), so that no text field takes more than a sane amount however
// large the message: issue 2's "text fields have sane length limits",
// held mechanically as the list limits are above. Output-only fields are
// not read from a request.
func TestRequestStringsHaveLimits(t *testing.T) {
	n := 0
	eachRequestField(func(path string, fd protoreflect.FieldDescriptor) {
		if fd.Kind() != protoreflect.StringKind || outputOnly(fd) {
			return
		}
		n++
		rules, _ := proto.GetExtension(fd.Options(), validate.E_Field).(*validate.FieldRules)
		s := rules.GetString()
		if fd.IsList() {
			s = rules.GetRepeated().GetItems().GetString()
		}
		if s.GetMaxLen() == 0 && s.GetMaxBytes() == 0 && !s.HasLen() && len(s.GetIn()) == 0 && !boundedPattern(s.GetPattern()) {
			t.Errorf("%s: a string without a length bound (max_len, max_bytes, len, in or an anchored bounded pattern)", path)
		}
	})
	if n < 100 {
		t.Fatalf("found only %d request strings", n)
	}
}

// Every enum a request can carry admits only its defined values
// (defined_only): the API's enums map to the domain's by name, a value
// without a twin to UNSPECIFIED (enumMap), so an undefined number would
// otherwise reach the domain as a value left out, and be refused as
// missing ("role is required" for a role of 99) or taken as "any" (a
// filter). Output-only fields are not read from a request.
func TestRequestEnumsAreDefinedOnly(t *testing.T) {
	n := 0
	eachRequestField(func(path string, fd protoreflect.FieldDescriptor) {
		if fd.Kind() != protoreflect.EnumKind || outputOnly(fd) {
			return
		}
		n++
		rules, _ := proto.GetExtension(fd.Options(), validate.E_Field).(*validate.FieldRules)
		e := rules.GetEnum()
		if fd.IsList() {
			e = rules.GetRepeated().GetItems().GetEnum()
		}
		if !e.GetDefinedOnly() && len(e.GetIn()) == 0 {
			t.Errorf("%s: an enum that admits undefined values (no defined_only or in)", path)
		}
	})
	if n < 20 {
		t.Fatalf("found only %d request enums", n)
	}
}

// outputOnly reports whether the schema marks fd OUTPUT_ONLY.
func outputOnly(fd protoreflect.FieldDescriptor) bool {
	behaviors, _ := proto.GetExtension(fd.Options(), annotations.E_FieldBehavior).([]annotations.FieldBehavior)
	return slices.Contains(behaviors, annotations.FieldBehavior_OUTPUT_ONLY)
}

// boundedPattern reports whether every alternative of pattern is anchored
// at both ends and repeats nothing without bound.
func boundedPattern(pattern string) bool {
	if pattern == "" || strings.ContainsAny(pattern, "*+") || strings.Contains(pattern, ",}") {
		return false
	}
	for alt := range strings.SplitSeq(pattern, "|") {
		if !strings.HasPrefix(alt, "^") || !strings.HasSuffix(alt, "$") {
			return false
		}
	}
	return true
}

// Control characters but tab and line breaks, C1 included, and the
// bidirectional embeddings, overrides and isolates are refused in every
// string; marks that only set a direction (U+200E, U+200F) and ordinary
// Vietnamese are text. An answer names at most maxViolations of the
// strings and says how many more there were.
func TestValidatorRefusesControlCharacters(t *testing.T) {
	for r, want := range map[rune]bool{
		0x00: true, 0x07: true, 0x1b: true, 0x7f: true, 0x85: true, 0x9f: true,
		0x202a: true, 0x202e: true, 0x2066: true, 0x2069: true,
		'\t': false, '\n': false, '\r': false, '\v': false, '\f': false, ' ': false, 0xa0: false, 0x200e: false, 0x200f: false,
		0x2029: false, 0x2065: false, 0x206a: false, 'ễ': false,
	} {
		if got := isControl(r); got != want {
			t.Errorf("isControl(%U) = %v, want %v", r, got, want)
		}
	}
	v, err := newValidator(slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	req := validCreateReport()
	req.Report.Narrative = "dòng một\r\ndòng hai\tvà tab"
	if err := v.check(context.Background(), req); err != nil {
		t.Fatalf("line breaks and a tab: %v", err)
	}
	req.Report.Children = nil
	for i := range 20 {
		req.Report.Children = append(req.Report.Children, &pb.Child{
			FullName: "Lan\x00", Condition: "\u202e" + strconv.Itoa(i), Age: &pb.Child_EstimatedAgeYears{EstimatedAgeYears: 9}})
	}
	_, viols := violationsOf(t, v.check(context.Background(), req))
	if len(viols) != maxViolations+1 {
		t.Fatalf("%d violations, want %d and one saying how many more: %v", len(viols), maxViolations+1, viols)
	}
	if first := viols[0]; first.GetField() != "report.children[0].full_name" || first.GetReason() != "string.no_control" {
		t.Errorf("first violation %v, want report.children[0].full_name [string.no_control]", first)
	}
	if last := viols[maxViolations]; last.GetReason() != "violations.truncated" || !strings.Contains(last.GetDescription(), "and 20 more") {
		t.Errorf("last violation %v, want one saying 20 more", last)
	}
}

// A text's limits are those of the text as it is stored, composed (NFC):
// a name typed on a keyboard that sends Vietnamese decomposed (NFD, three
// code points for "ệ") is held to its 200 characters, not to 200 code
// points; and a text that composition makes longer (U+0958 composes to
// two code points) is refused at its limit rather than stored at twice
// it. The handler is given the composed text.
func TestValidatorCountsTheComposedText(t *testing.T) {
	v, err := newValidator(slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	composed := strings.Repeat("ệ", 200)
	req := validCreateReport()
	req.Report.Children[0].FullName = norm.NFD.String(composed)
	if err := v.check(context.Background(), req); err != nil {
		t.Fatalf("a name of 200 characters, sent decomposed: %v", err)
	}
	if got := req.Report.Children[0].GetFullName(); got != composed {
		t.Errorf("the handler is given the name as %d code points, want it composed (200)", utf8.RuneCountInString(got))
	}

	req = validCreateReport()
	req.Report.Children[0].FullName = strings.Repeat("\u0958", 200)
	_, viols := violationsOf(t, v.check(context.Background(), req))
	if len(viols) != 1 || viols[0].GetField() != "report.children[0].full_name" || viols[0].GetReason() != "string.max_len" {
		t.Errorf("a name of 400 code points once composed: %v, want report.children[0].full_name [string.max_len]", viols)
	}
}

// An enum a request must set, left unset (or sent as its UNSPECIFIED
// value), is described by the values it takes, not in protovalidate's
// words ("must not be in list [0]"): the caller of GET /v1/cases:export
// without format, or of an assessment without harm_severity, learns what
// to send. The rule stays enum.not_in, which clients may switch on.
func TestUnsetRequiredEnumNamesItsValues(t *testing.T) {
	v, err := newValidator(slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	_, viols := violationsOf(t, v.check(context.Background(), &pb.ExportCasesRequest{}))
	if len(viols) != 1 || viols[0].GetField() != "format" || viols[0].GetReason() != "enum.not_in" ||
		!strings.Contains(viols[0].GetDescription(), "EXPORT_FORMAT_CSV") || !strings.Contains(viols[0].GetDescription(), "EXPORT_FORMAT_XLSX") ||
		strings.Contains(viols[0].GetDescription(), "UNSPECIFIED") || strings.Contains(viols[0].GetDescription(), "[0]") {
		t.Errorf("an export without format: %v, want format [enum.not_in] naming EXPORT_FORMAT_CSV and EXPORT_FORMAT_XLSX", viols)
	}
	// An item of a list of enums, sent as UNSPECIFIED.
	req := validCreateReport()
	req.Report.SuspectedAbuse = []pb.AbuseForm{pb.AbuseForm_ABUSE_FORM_UNSPECIFIED}
	_, viols = violationsOf(t, v.check(context.Background(), req))
	if len(viols) != 1 || viols[0].GetField() != "report.suspected_abuse[0]" || viols[0].GetReason() != "enum.not_in" ||
		!strings.Contains(viols[0].GetDescription(), "ABUSE_FORM_VIOLENCE") || strings.Contains(viols[0].GetDescription(), "[0]") {
		t.Errorf("an abuse form UNSPECIFIED: %v, want report.suspected_abuse[0] [enum.not_in] naming the forms", viols)
	}
}

// A request that leaves out several of its REQUIRED fields is told of
// every one at once, as the README promises ("its google.rpc.BadRequest
// lists every one"), not of the first that a handler happened to check:
// a CreateUser with an empty user named its display_name only, and a
// statistics read without a period its start_date only.
func TestMissingRequiredFieldsAreNamedTogether(t *testing.T) {
	v, err := newValidator(slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		req  proto.Message
		want []string
	}{
		{&pb.CreateUserRequest{UserId: "lan.nguyen", User: &pb.User{}}, []string{"user.display_name", "user.role", "user.unit"}},
		{&pb.CreatePoliceUnitRequest{PoliceUnitId: "ca-x", PoliceUnit: &pb.PoliceUnit{}}, []string{"police_unit.display_name"}},
		{&pb.GetStatisticsRequest{}, []string{"start_date", "end_date"}},
		{&pb.GetPeriodicReportRequest{}, []string{"start_date", "end_date"}},
		{&pb.GetActionMonthReportRequest{}, []string{"year"}},
	} {
		err := v.check(context.Background(), tt.req)
		if err == nil {
			t.Errorf("%T with its required fields left out passed the validator", tt.req)
			continue
		}
		_, viols := violationsOf(t, err)
		var got []string
		for _, viol := range viols {
			if viol.GetReason() == "required" {
				got = append(got, viol.GetField())
			}
		}
		if !slices.Equal(got, tt.want) {
			t.Errorf("%T with its required fields left out: required violations %v, want %v (all: %v)", tt.req, got, tt.want, viols)
		}
	}
}

// TestEmptyRequiredStringSaysAValueIsRequired: a REQUIRED string left out
// is refused by its min_len rule, whose id the answer keeps
// (string.min_len, as the README's example of an etag left out shows),
// but not in protovalidate's words, "must be at least 1 characters",
// which is not English and does not tell the caller that the field was
// left out. A string sent too short keeps protovalidate's description.
func TestEmptyRequiredStringSaysAValueIsRequired(t *testing.T) {
	v, err := newValidator(slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	_, viols := violationsOf(t, v.check(context.Background(), &pb.AcknowledgePoliceReferralRequest{Name: "cases/HN-2026-00001"}))
	var got []string
	for _, viol := range viols {
		got = append(got, viol.GetField()+": "+viol.GetDescription()+" ["+viol.GetReason()+"]")
	}
	want := []string{"etag: a value is required [string.min_len]", "reference_number: a value is required [string.min_len]"}
	if !slices.Equal(got, want) {
		t.Errorf("a police acknowledgement with its etag and reference number left out: %q, want %q", got, want)
	}
	// A longer minimum says it, left out or too short.
	_, viols = violationsOf(t, v.check(context.Background(), &pb.DiscloseReporterRequest{Name: "reports/01a24a39-4195-78f5-b4b7-07e50c6f77a1"}))
	if len(viols) != 1 || viols[0].GetField() != "reason" || viols[0].GetReason() != "string.min_len" ||
		viols[0].GetDescription() != "a value is required, of at least 10 characters" {
		t.Errorf("a disclosure without its reason: %v, want reason: a value is required, of at least 10 characters [string.min_len]", viols)
	}
	_, viols = violationsOf(t, v.check(context.Background(), &pb.DiscloseReporterRequest{Name: "reports/01a24a39-4195-78f5-b4b7-07e50c6f77a1", Reason: "short"}))
	if len(viols) != 1 || viols[0].GetField() != "reason" || viols[0].GetDescription() != "must be at least 10 characters" {
		t.Errorf("a disclosure with a short reason: %v, want reason: must be at least 10 characters [string.min_len]", viols)
	}
}

// A google.protobuf.Timestamp or Duration that is no valid one (nanos out
// of their range, a Duration's seconds and nanos of opposite signs, a time
// after 9999 or before year 1) can be sent over gRPC, though no REST body
// can write it: it is refused naming the field, as the gateway refuses
// what it cannot read, rather than read as some other instant (a
// receive_time of 1.999999999 seconds past a second was stored a second
// later, and a retry of the same instant written validly was another
// request) or as a date of the year 146138514283 in the answer.
func TestInvalidTimestampsAndDurationsAreRefusedNamingTheField(t *testing.T) {
	v, err := newValidator(slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 11, 28, 2, 0, 0, 0, time.UTC).Unix()
	report := func(ts *timestamppb.Timestamp) proto.Message {
		req := validCreateReport()
		req.Report.ReceiveTime = ts
		return req
	}
	for _, tc := range []struct {
		name       string
		req        proto.Message
		field, rul string
	}{
		{"nanos over a second", report(&timestamppb.Timestamp{Seconds: at, Nanos: 1_999_999_999}), "report.receive_time", "timestamp.valid"},
		{"negative nanos", report(&timestamppb.Timestamp{Seconds: at, Nanos: -5}), "report.receive_time", "timestamp.valid"},
		{"after 9999", report(&timestamppb.Timestamp{Seconds: 1 << 62}), "report.receive_time", "timestamp.valid"},
		{"before year 1", &pb.ListAuditEventsRequest{StartTime: &timestamppb.Timestamp{Seconds: -(1 << 62)}}, "start_time", "timestamp.valid"},
		{"signs apart", &pb.CreateTokenRequest{Parent: "users/lan", Ttl: &durationpb.Duration{Seconds: 3600, Nanos: -999_999_999}}, "ttl", "duration.valid"},
		{"nanos over a second of a duration", &pb.CreateTokenRequest{Parent: "users/lan", Ttl: &durationpb.Duration{Seconds: 3600, Nanos: 2_000_000_000}}, "ttl", "duration.valid"},
	} {
		_, viols := violationsOf(t, v.check(context.Background(), tc.req))
		if len(viols) != 1 || viols[0].GetField() != tc.field || viols[0].GetReason() != tc.rul {
			t.Errorf("%s: violations %v, want %s [%s]", tc.name, viols, tc.field, tc.rul)
		}
	}
	for _, ok := range []proto.Message{
		report(&timestamppb.Timestamp{Seconds: at, Nanos: 999_999_999}),
		&pb.CreateTokenRequest{Parent: "users/lan", Ttl: &durationpb.Duration{Seconds: -3600, Nanos: -5}},
	} {
		if err := v.check(context.Background(), ok); err != nil {
			t.Errorf("%v: %v", ok, err)
		}
	}
}

// A text is held to its limit as it is stored: trimmed of the spaces
// around it (intake.NormalizeText), so a name of 200 characters pasted with
// a space and a line break around it is taken, and handed on trimmed, while
// 201 characters that say something are still refused.
func TestValidatorCountsTheTrimmedText(t *testing.T) {
	v, err := newValidator(slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	name := strings.Repeat("ệ", 200)
	req := validCreateReport()
	req.Report.Children[0].FullName = " \t" + name + " \n"
	if err := v.check(context.Background(), req); err != nil {
		t.Fatalf("a name of 200 characters with spaces around it: %v", err)
	}
	if got := req.Report.Children[0].GetFullName(); got != name {
		t.Errorf("the handler is given the name as %q..., want it trimmed", got[:8])
	}

	req = validCreateReport()
	req.Report.Children[0].FullName = " " + name + "x "
	_, viols := violationsOf(t, v.check(context.Background(), req))
	if len(viols) != 1 || viols[0].GetField() != "report.children[0].full_name" || viols[0].GetReason() != "string.max_len" {
		t.Errorf("a name of 201 characters once trimmed: %v, want report.children[0].full_name [string.max_len]", viols)
	}
}

// TestStackedMarksAreRefused: a letter under a tower of combining marks
// ("Zalgo" text) draws over the lines above it wherever it is shown, the
// notes of a case on the console among them, and no language the service
// takes needs more than a few marks on a letter (Vietnamese, decomposed,
// two: "ặ" is a, a dot below and a breve). A run of more than four is
// refused naming the field, as a control character is; four pass, in
// either normal form.
func TestStackedMarksAreRefused(t *testing.T) {
	v, err := newValidator(slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	req := validCreateReport()
	req.Report.Narrative = norm.NFD.String("Trẻ bị bỏ đói, ặ ệ ỗ") + " a\u0301\u0302\u0303\u0323"
	if err := v.check(context.Background(), req); err != nil {
		t.Fatalf("Vietnamese decomposed and four marks on a letter: %v", err)
	}
	req.Report.Narrative = "ghi chú a" + strings.Repeat("\u0301", 300)
	_, viols := violationsOf(t, v.check(context.Background(), req))
	if len(viols) != 1 || viols[0].GetField() != "report.narrative" || viols[0].GetReason() != "string.stacked_marks" {
		t.Errorf("300 marks on a letter: violations %v, want report.narrative [string.stacked_marks]", viols)
	}
}

// TestStackedMarksAreRefusedThroughInvisibleCharacters: a character that
// draws nothing (a zero-width space or non-joiner, a word joiner, a soft
// hyphen, a left-to-right mark: the format characters) between combining
// marks does not end the tower they draw: Chromium stacks "a" and fifteen
// runs of four marks, each closed by one of them, as high as sixty marks
// on the "a". The run of marks is ended by a character that is drawn (a
// letter, a digit, a space), not by one that is not; a string of four
// marks on a letter and an invisible character after them still passes.
func TestStackedMarksAreRefusedThroughInvisibleCharacters(t *testing.T) {
	v, err := newValidator(slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	const four = "\u0301\u0302\u0303\u0304"
	for name, invisible := range map[string]string{
		"zero-width space":      "\u200b",
		"zero-width non-joiner": "\u200c",
		"word joiner":           "\u2060",
		"byte order mark":       "\ufeff",
		"soft hyphen":           "\u00ad",
		"left-to-right mark":    "\u200e",
		"function application":  "\u2061",
	} {
		req := validCreateReport()
		req.Report.Narrative = "ghi chú a" + strings.Repeat(four+invisible, 15)
		_, viols := violationsOf(t, v.check(context.Background(), req))
		if len(viols) != 1 || viols[0].GetField() != "report.narrative" || viols[0].GetReason() != "string.stacked_marks" {
			t.Errorf("a letter under fifteen runs of four marks, each closed by a %s: violations %v, want report.narrative [string.stacked_marks]", name, viols)
		}
		req.Report.Narrative = "a" + four + invisible + "b" + four + invisible + " " + four
		if err := v.check(context.Background(), req); err != nil {
			t.Errorf("four marks on each of three characters, a %s after each: %v", name, err)
		}
	}
}
