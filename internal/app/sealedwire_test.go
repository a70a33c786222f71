package app_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	pb "github.com/childcase/childcase/api/childcase/v1"
	"github.com/childcase/childcase/internal/domain/search"
)

// sentTexts remembers the texts the test clients sent, by the field that
// carried them, so that a test server's database can be searched for
// them once it stops. Every test that starts a server through launch is
// so a test that free text is stored sealed: a text a caller sent appears
// in the clear in the database file only if its field is on the reviewed
// list of clearRequestFields.
type sentTexts struct {
	mu     sync.Mutex
	fields map[string]string // text -> the field that carried it
	clear  []string          // texts of clearRequestFields, kept in the clear by right
	off    bool              // nothing is recorded or checked
}

// newSentTexts records what t's clients send, unless t is a benchmark
// (whose timings a walk of every request would change).
func newSentTexts(t testing.TB) *sentTexts {
	_, bench := t.(*testing.B)
	return &sentTexts{off: bench}
}

// ignore stops the check for a server whose database was filled by other
// clients (app.Load's staff, whose names the loaded reports may repeat).
func (s *sentTexts) ignore() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.off = true
}

// minSealedCheckLen is the shortest text looked for: shorter ones (a
// sex, a code) can appear in a file of sealed bytes by chance.
const minSealedCheckLen = 12

// clearRequestFields are the string fields of requests whose values
// storage may keep in the clear: names of records, codes, ids, dates,
// staff names and units. A key is a field's name, for that field in any
// message, or Message.field where the same name elsewhere is free text
// (a plan service's name, a caregiver's phone). The reviewed list of
// stored fields is in internal/domain/vault
// (TestEveryStoredStringIsSealedOrReviewed); this one holds the same
// review at the API's edge.
var clearRequestFields = map[string]string{
	"etag":                  "an etag",
	"absorbed_etag":         "an etag",
	"request_id":            "the caller's request id, kept with its answer",
	"page_token":            "a page token",
	"parent":                "a resource name",
	"case":                  "a case's resource name",
	"absorbed_case":         "a case's resource name",
	"incident_commune_code": "an administrative unit's code",
	"to_unit":               "a unit's resource name",
	"unit":                  "a unit's resource name",
	"responsible_unit":      "a unit's resource name (a filter)",
	"police_unit":           "a police unit's resource name",
	"police_unit_id":        "a police unit id chosen by an admin",
	"covers":                "unit resource names",
	"user_id":               "a user id chosen by an admin",
	"officer":               "a user id",
	"responsible_officer":   "a user id",
	"user":                  "a user id",
	"actor":                 "a user id in an audit query",
	"until_date":            "a date",
	"start_date":            "a date",
	"expected_end_date":     "a date",
	"outcome":               "a code, checked on input",
	"state":                 "a code, checked on input",
	"noted_head_hash":       "an audit event's hash, as the listing shows it, in the audit.verify event's reason",

	"ListAuditEventsRequest.action": "an audit action's name in an audit query, checked on input",

	"User.name":               "a user's resource name",
	"User.display_name":       "a member of staff's name: the staff directory, not case data",
	"User.phone":              "a member of staff's work phone",
	"PoliceUnit.name":         "a police unit's resource name",
	"PoliceUnit.display_name": "a police unit's name",
}

// clearJSONField is clearField for a REST body's member, whose message
// the test does not know: a name kept in the clear in any message is.
func clearJSONField(field string) bool {
	for k := range clearRequestFields {
		if k == field || strings.HasSuffix(k, "."+field) {
			return true
		}
	}
	return false
}

// clearField reports whether the field of message msg is on
// clearRequestFields; a request's own name is the resource it acts on.
func clearField(msg, field string) bool {
	if _, ok := clearRequestFields[msg+"."+field]; ok {
		return true
	}
	if field == "name" {
		return strings.HasSuffix(msg, "Request")
	}
	_, ok := clearRequestFields[field]
	return ok
}

func (s *sentTexts) record(m proto.Message) {
	if m == nil {
		return
	}
	s.recording(func() { s.walk(m.ProtoReflect()) })
}

// recording runs walk under the lock, unless recording is off.
func (s *sentTexts) recording(walk func()) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.off {
		return
	}
	if s.fields == nil {
		s.fields = map[string]string{}
	}
	walk()
}

func (s *sentTexts) walk(m protoreflect.Message) {
	m.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		path := string(fd.ContainingMessage().Name()) + "." + string(fd.Name())
		switch {
		case fd.IsList():
			l := v.List()
			for i := range l.Len() {
				s.value(fd, path, l.Get(i))
			}
		case fd.IsMap():
			v.Map().Range(func(_ protoreflect.MapKey, mv protoreflect.Value) bool {
				s.value(fd.MapValue(), path, mv)
				return true
			})
		default:
			s.value(fd, path, v)
		}
		return true
	})
}

func (s *sentTexts) value(fd protoreflect.FieldDescriptor, path string, v protoreflect.Value) {
	switch fd.Kind() {
	case protoreflect.MessageKind, protoreflect.GroupKind:
		s.walk(v.Message())
	case protoreflect.StringKind:
		if clearField(string(fd.ContainingMessage().Name()), string(fd.Name())) {
			s.clear = append(s.clear, v.String())
			return
		}
		if text := v.String(); len(text) >= minSealedCheckLen {
			s.fields[text] = path
		}
		s.recordStoredPhone(string(fd.Name()), v.String(), path)
	}
}

// recordStoredPhone records, for a phone sent in free text, its E.164
// form (search.Phone), the form the index and a search read it in, which
// the file must not hold in the clear either: a phone typed "0912 345 678"
// must not lie in it as "+84912345678".
func (s *sentTexts) recordStoredPhone(field, text, path string) {
	if field != "phone" {
		return
	}
	if e164 := search.Phone(text); len(e164) >= minSealedCheckLen {
		s.fields[e164] = path + " (in E.164)"
	}
}

// recordJSON records the strings of a REST body, by their JSON names
// (the proto's, or their lowerCamelCase forms). A body that is not JSON
// records nothing.
func (s *sentTexts) recordJSON(body string) {
	var v any
	if json.Unmarshal([]byte(body), &v) != nil {
		return
	}
	s.recording(func() { s.walkJSON("body", v) })
}

func (s *sentTexts) walkJSON(key string, v any) {
	switch v := v.(type) {
	case map[string]any:
		for k, x := range v {
			s.walkJSON(k, x)
		}
	case []any:
		for _, x := range v {
			s.walkJSON(key, x)
		}
	case string:
		if clearJSONField(snakeCase(key)) {
			s.clear = append(s.clear, v)
		} else if len(v) >= minSealedCheckLen {
			s.fields[v] = "REST JSON " + key
		}
	}
}

// snakeCase turns a lowerCamelCase JSON name into the proto's name.
func snakeCase(name string) string {
	var b strings.Builder
	for _, r := range name {
		if 'A' <= r && r <= 'Z' {
			b.WriteByte('_')
			r += 'a' - 'A'
		}
		b.WriteRune(r)
	}
	return b.String()
}

// leaks returns the texts sent that appear in db in the clear. A text
// that is part of one sent in a field kept in the clear (a test that
// names a member of staff as it names a child) proves nothing and is
// skipped.
func (s *sentTexts) leaks(db []byte) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var found []string
	for text, path := range s.fields {
		if slices.ContainsFunc(s.clear, func(c string) bool { return strings.Contains(c, text) }) {
			continue
		}
		if bytes.Contains(db, []byte(text)) {
			i := bytes.Index(db, []byte(text))
			found = append(found, fmt.Sprintf("%s: %q, stored as %q", path, text, db[max(0, i-32):min(len(db), i+len(text)+32)]))
		}
	}
	slices.Sort(found)
	return found
}

// checkSealed fails t if a text the test sent is in the clear in the
// database file at path (when there is one: etcd tests have none).
func (s *sentTexts) checkSealed(t testing.TB, path string) {
	s.mu.Lock()
	off := s.off
	s.mu.Unlock()
	if off {
		return
	}
	db, err := os.ReadFile(path)
	if err != nil {
		return
	}
	if leaks := s.leaks(db); len(leaks) > 0 {
		t.Errorf("free text sent by the test is in the clear in %s:\n%s", path, joinLines(leaks))
	}
}

func joinLines(lines []string) string {
	var b bytes.Buffer
	for _, l := range lines {
		b.WriteString("  " + l + "\n")
	}
	return b.String()
}

// The check finds a text sent in a free-text field wherever it lies in
// the file, and only there: not a code or name of the reviewed list, not
// a text that a field of that list carried too, not a text too short to
// tell.
func TestSentTextsFindsFreeTextInTheClear(t *testing.T) {
	s := newSentTexts(t)
	s.record(&pb.AddCaseNoteRequest{Name: "cases/HN-2026-00001", Etag: "etag-of-the-case", RequestId: "note-request-1", Text: "mẹ cháu gọi lại lúc 9 giờ"})
	s.record(&pb.CreateUserRequest{UserId: "lan.nguyen", User: &pb.User{DisplayName: "Nguyễn Thị Lan (cán bộ)"}})
	s.record(&pb.CreateReportRequest{Report: &pb.Report{Narrative: "short", Children: []*pb.Child{{FullName: "Nguyễn Thị Lan"}}}})
	db := []byte("\x00\x01cases/HN-2026-00001 etag-of-the-case note-request-1 lan.nguyen Nguyễn Thị Lan (cán bộ) short\x00")
	if leaks := s.leaks(db); len(leaks) != 0 {
		t.Errorf("leaks in a file without free text: %q", leaks)
	}
	db = append(db, "…sealed…mẹ cháu gọi lại lúc 9 giờ…"...)
	if leaks := s.leaks(db); len(leaks) != 1 || !strings.HasPrefix(leaks[0], `AddCaseNoteRequest.text: "mẹ cháu gọi lại lúc 9 giờ"`) {
		t.Errorf("leaks %q, want the note's text", leaks)
	}

	// A field's name alone does not make it clear: a plan service's name
	// and a caregiver's phone are free text, a request's name and a
	// member of staff's phone are not.
	named := newSentTexts(t)
	named.record(&pb.SubmitPlanRequest{Name: "cases/HN-2026-00001", Services: []*pb.PlanServiceInput{{Name: "tư vấn tâm lý cho trẻ"}}})
	named.record(&pb.CreateReportRequest{Report: &pb.Report{Caregivers: []*pb.Caregiver{{Phone: "0912 000 111 22"}}}})
	named.record(&pb.CreateUserRequest{User: &pb.User{Phone: "024 3333 4444 5"}})
	if leaks := named.leaks([]byte("cases/HN-2026-00001 tư vấn tâm lý cho trẻ 0912 000 111 22 024 3333 4444 5")); len(leaks) != 2 ||
		!strings.HasPrefix(leaks[0], "Caregiver.phone") || !strings.HasPrefix(leaks[1], "PlanServiceInput.name") {
		t.Errorf("leaks %q, want the caregiver's phone and the plan service's name", leaks)
	}

	// A phone's E.164 form, which the index reads it in, is looked for too.
	phone := newSentTexts(t)
	phone.record(&pb.CreateReportRequest{Report: &pb.Report{Caregivers: []*pb.Caregiver{{Phone: "0987 111 222"}}}})
	phone.record(&pb.CreateReportRequest{Report: &pb.Report{Reporter: &pb.Reporter{Identity: &pb.Reporter_Identified{
		Identified: &pb.IdentifiedReporter{Consent: true, Phone: "0966.135.792"}}}}})
	if leaks := phone.leaks([]byte("x+84987111222x+84966135792x")); len(leaks) != 2 {
		t.Errorf("leaks %q, want the caregiver's and the reporter's phones in E.164", leaks)
	}

	rest := newSentTexts(t)
	rest.recordJSON(`{"incidentCommuneCode": "00004-clear-code", "children": [{"full_name": "Lê Văn Bình An"}]}`)
	if leaks := rest.leaks([]byte("00004-clear-code")); len(leaks) != 0 {
		t.Errorf("leaks of a code sent over REST: %q", leaks)
	}
	if leaks := rest.leaks([]byte("x Lê Văn Bình An x")); len(leaks) != 1 || !strings.HasPrefix(leaks[0], `REST JSON full_name: "Lê Văn Bình An"`) {
		t.Errorf("leaks %q, want the child's name sent over REST", leaks)
	}
}
