package app_test

// The new methods of issues 11-13 seen by a caller probing beyond their
// scope: what they name outside it must look exactly like what does not
// exist, and the attempt must be on the record of what they named.

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	pb "github.com/childcase/childcase/api/childcase/v1"
	"github.com/childcase/childcase/internal/app"
	"github.com/childcase/childcase/internal/transport/grpcapi"
)

// A chair naming as officer a worker of another commune, a disabled worker
// of their own or a user who does not exist gets one answer, that name
// aside: the chair cannot tell who exists, or who was disabled, elsewhere.
func TestAssignOfficerDoesNotRevealUsers(t *testing.T) {
	ts := startServerAt(t, testNow, "")
	ts.addUser(t, "bd.worker", pb.Role_ROLE_COMMUNE_WORKER, pBaDinh)
	ts.addUser(t, "bd.gone", pb.Role_ROLE_COMMUNE_WORKER, pBaDinh)
	ts.addUser(t, "bd.chair", pb.Role_ROLE_COMMUNE_CHAIR, pBaDinh)
	ts.addUser(t, "hk.worker", pb.Role_ROLE_COMMUNE_WORKER, pHoanKiem)
	if _, err := ts.admin().DisableUser(ts.as(t, "admin"), &pb.DisableUserRequest{Name: "users/bd.gone"}); err != nil {
		t.Fatalf("disable: %v", err)
	}
	name := openCase(t, ts, testNow.Add(-time.Hour), "00004")
	etag := etagOf(t, ts, "bd.chair", name)

	answer := func(officer string) (codes.Code, string, []string) {
		_, err := ts.process().AssignCase(ts.as(t, "bd.chair"), &pb.AssignCaseRequest{Name: name, Etag: etag, Officer: officer})
		st := wantCode(t, err, codes.InvalidArgument)
		return st.Code(), strings.ReplaceAll(st.Message(), officer, "{officer}"), badFields(st)
	}
	code, msg, fields := answer("users/nobody")
	if !slices.Equal(fields, []string{"officer"}) {
		t.Fatalf("an absent officer: fields %v, want officer", fields)
	}
	for _, probe := range []string{"users/hk.worker", "users/bd.gone"} {
		if c, m, f := answer(probe); c != code || m != msg || !slices.Equal(f, fields) {
			t.Errorf("assign %s answers %v %q %v; an absent user %v %q %v", probe, c, m, f, code, msg, fields)
		}
	}
}

// A chair merging into their own case a case of another commune is told
// "not found", as for a number that does not exist, and the attempt is on
// the audit trail of the case they named, where an auditor looks for it.
func TestMergeOutOfScopeAbsorbedIsAudited(t *testing.T) {
	ts := startServerAt(t, testNow, "")
	ts.addUser(t, "bd.chair", pb.Role_ROLE_COMMUNE_CHAIR, pBaDinh)
	ts.addUser(t, "auditor", pb.Role_ROLE_AUDITOR, "orgs/system")
	mine := openCase(t, ts, testNow.Add(-2*time.Hour), "00004")
	theirs := openCase(t, ts, testNow.Add(-time.Hour), "00070")
	etag := etagOf(t, ts, "bd.chair", mine)
	merge := func(absorbed string) error {
		_, err := ts.process().MergeCase(ts.as(t, "bd.chair"), &pb.MergeCaseRequest{Name: mine, Etag: etag, AbsorbedCase: absorbed,
			AbsorbedEtag: "1", Reason: "cùng một trẻ"})
		return err
	}
	absent := wantCode(t, merge("cases/HN-2026-09999"), codes.NotFound)
	hidden := wantCode(t, merge(theirs), codes.NotFound)
	if absent.Message() != hidden.Message() || errorReason(absent) != errorReason(hidden) {
		t.Errorf("an out-of-scope absorbed case answers %q (%s), an absent one %q (%s)",
			hidden.Message(), errorReason(hidden), absent.Message(), errorReason(absent))
	}
	ev, err := ts.audit().ListAuditEvents(ts.as(t, "auditor"), &pb.ListAuditEventsRequest{Case: theirs, PageSize: 1000})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.ContainsFunc(ev.GetEvents(), func(e *pb.AuditEvent) bool {
		return e.GetAction() == "case.merge" && e.GetOutcome() == "not_found" && e.GetActor() == "users/bd.chair"
	}) {
		t.Errorf("no refused case.merge by the Ba Đình chair on %s's trail: %v", theirs, ev.GetEvents())
	}
}

// A query parameter the gateway cannot read into its field (a number out
// of range, an enum value that does not exist, two values for one, under
// one name or under its name and its JSON name) is
// INVALID_ARGUMENT naming the field and the rule, as every other bad
// input is, on the new GET methods as on the old.
func TestRESTQueryParameterNamesFieldAndRule(t *testing.T) {
	ts := startServerAt(t, testNow, "")
	ts.addUser(t, "city", pb.Role_ROLE_CITY_OFFICER, pCity)
	for _, tc := range []struct{ path, field string }{
		{"/v1/statistics:actionMonthReport?year=99999999999", "year"},
		{"/v1/statistics:periodicReport?start_date=2026-01-01&end_date=2026-06-30&external=maybe", "external"},
		{"/v1/statistics?start_date=2026-01-01&start_date=2026-02-01&end_date=2026-06-30", "start_date"},
		{"/v1/cases:export?format=EXPORT_FORMAT_PDF", "format"},
		{"/v1/cases:export?format=EXPORT_FORMAT_CSV&status=99", "status"},
		{"/v1/cases:search?child_name=An&page_size=99999999999", "page_size"},
		{"/v1/cases?page_size=lots", "page_size"},
		// One field under its name and its JSON name: two values for one.
		{"/v1/cases?page_size=1&pageSize=2", "page_size"},
		{"/v1/cases?responsible_unit=" + pBaDinh + "&responsibleUnit=" + pHoanKiem, "responsible_unit"},
		{"/v1/statistics?start_date=2026-01-01&startDate=2026-02-01&end_date=2026-06-30", "start_date"},
	} {
		code, body := restRaw(t, ts, "GET", tc.path, "", map[string]string{"Authorization": "Bearer " + ts.tokens.get("city")})
		if grpcCode, named := restViolations(t, body); code != 400 || grpcCode != 3 || !slices.Equal(named, []string{tc.field}) {
			t.Errorf("%s: %d %s, want 400 INVALID_ARGUMENT naming %s and a rule", tc.path, code, body, tc.field)
		}
	}
}

// TestRESTQueryParameterRefusalsInTheProductsWords: a query parameter
// that cannot be read is described in the product's words, what the field
// takes, not in Go's ("strconv.ParseInt: parsing \"lots\": invalid
// syntax", "parsing time ... as \"2006-01-02T15:04:05...\"").
func TestRESTQueryParameterRefusalsInTheProductsWords(t *testing.T) {
	ts := startServerAt(t, testNow, "")
	ts.addUser(t, "city", pb.Role_ROLE_CITY_OFFICER, pCity)
	ts.addUser(t, "auditor", pb.Role_ROLE_AUDITOR, "orgs/system")
	goWords := regexp.MustCompile(`strconv|Parse(Int|Uint|Bool|Float)|invalid syntax|value out of range|2006|parsing`)
	for _, tc := range []struct{ user, path, want string }{
		{"city", "/v1/cases?page_size=lots", `page_size: is not a whole number`},
		{"city", "/v1/cases?page_size=1.5", `page_size: is not a whole number`},
		{"city", "/v1/statistics:actionMonthReport?year=99999999999", `year: is too large or too small a number`},
		{"city", "/v1/statistics:periodicReport?start_date=2026-01-01&end_date=2026-06-30&external=maybe", `external: is not true or false`},
		{"city", "/v1/cases?due_before=yesterday", `due_before: is not a time such as 2026-11-28T09:00:00+07:00 (RFC 3339)`},
		{"auditor", "/v1/auditEvents?start_time=2026-13-01T00:00:00Z", `start_time: is not a time such as 2026-11-28T09:00:00+07:00 (RFC 3339)`},
		// A parameter sent twice: the gateway's refusal is its values
		// alone ("1, 2"), which say nothing of what is wrong (and are not
		// quoted back: TestRESTRefusalsNeverQuoteTheValueSent).
		{"city", "/v1/cases?page_size=1&page_size=2", `page_size: is given more than once: send it once`},
		{"city", "/v1/cases?status=CASE_STATUS_CLOSED&status=CASE_STATUS_REVIEW", `status: is given more than once: send it once`},
	} {
		code, body := restRaw(t, ts, "GET", tc.path, "", map[string]string{"Authorization": "Bearer " + ts.tokens.get(tc.user)})
		var answer struct {
			Message string `json:"message"`
			Details []struct {
				FieldViolations []struct{ Field, Description string } `json:"field_violations"`
			} `json:"details"`
		}
		if err := json.Unmarshal(body, &answer); err != nil || code != 400 {
			t.Fatalf("%s: %d %s (%v)", tc.path, code, body, err)
		}
		var said []string
		for _, d := range answer.Details {
			for _, v := range d.FieldViolations {
				said = append(said, v.Field+": "+v.Description)
			}
		}
		if !slices.Equal(said, []string{tc.want}) {
			t.Errorf("%s: the violations say %q, want %q", tc.path, said, tc.want)
		}
		if m := goWords.FindString(answer.Message); m != "" {
			t.Errorf("%s: the message says %q: %s", tc.path, m, answer.Message)
		}
	}
}

// restViolations reads a REST error answer: its gRPC code and the fields
// its violations name with a rule.
func restViolations(t *testing.T, body []byte) (code int, named []string) {
	t.Helper()
	var answer struct {
		Code int `json:"code"`
	}
	if err := json.Unmarshal(body, &answer); err != nil {
		t.Fatalf("%s: %v", body, err)
	}
	for _, v := range restFieldViolations(body) {
		if v.Reason != "" {
			named = append(named, v.Field)
		}
	}
	return answer.Code, named
}

// restFieldViolation is a field violation of a REST error answer: the
// field, and the rule that refused it.
type restFieldViolation struct{ Field, Reason string }

// restFieldViolations returns the field violations of a REST error
// answer's BadRequest details; none when the answer is no JSON.
func restFieldViolations(body []byte) []restFieldViolation {
	var answer struct {
		Details []struct {
			FieldViolations []restFieldViolation `json:"field_violations"`
		} `json:"details"`
	}
	_ = json.Unmarshal(body, &answer)
	var out []restFieldViolation
	for _, d := range answer.Details {
		out = append(out, d.FieldViolations...)
	}
	return out
}

// A resource name's parts are path segments of their own, so a slash
// escaped inside one (%2F: a client that escaped "cases/HN-2026-00001"
// whole, or ..%2F) is no name of anything: it answers 400 naming the path
// parameter and the rule, not the gateway's bare "Not Found" that names
// nothing and reads as "no such case". A path the gateway routes once the
// slash is read as one is served as before.
func TestRESTEscapedSlashInANameNamesTheParameter(t *testing.T) {
	ts := startServerAt(t, testNow, "")
	ts.addUser(t, "bd.worker", pb.Role_ROLE_COMMUNE_WORKER, pBaDinh)
	name := openCase(t, ts, testNow, "00004")
	headers := map[string]string{"Content-Type": "application/json", "Authorization": "Bearer " + ts.tokens.get("bd.worker")}
	for _, tc := range []struct{ method, path, field string }{
		{"GET", "/v1/cases/cases%2F" + strings.TrimPrefix(name, "cases/"), "case"},
		{"GET", "/v1/cases/..%2Fx", "case"},
		{"GET", "/v1/" + name + "%2F..", "case"},
		{"GET", "/v1/cases/reports%2F01a222d5-bea0-7bea-bf64-debef56d112a", "case"},
		{"POST", "/v1/cases/cases%2f" + strings.TrimPrefix(name, "cases/") + ":addNote", "case"},
		{"GET", "/v1/units/00004%2F2025-07-01", "unit"},
	} {
		code, body := restRaw(t, ts, tc.method, tc.path, `{"etag": "1", "text": "x"}`, headers)
		if grpcCode, named := restViolations(t, body); code != 400 || grpcCode != 3 || !slices.Equal(named, []string{tc.field}) || !strings.Contains(string(body), "path.segment") {
			t.Errorf("%s %s: %d %s, want 400 INVALID_ARGUMENT naming %s and the rule path.segment", tc.method, tc.path, code, body, tc.field)
		}
	}
	if code, body := restRaw(t, ts, "GET", "/v1/"+name+"%2Fevents", "", headers); code != http.StatusOK {
		t.Errorf("the events with the slash escaped: %d %s, want them as before", code, body)
	}
}

// A resource name in a REST path that breaks its rule (a case number too
// short, a report id that is no UUID) is refused naming the path
// parameter as the OpenAPI document names it ({case}, {report}), as an
// escaped slash or a value that is not UTF-8 in it is, and as the
// ErrorInfo's metadata says: the gRPC request's field (name, parent) is
// no parameter of the REST operation, and a client mapping the
// violation to what it sent found nothing.
func TestRESTMalformedNameNamesThePathParameter(t *testing.T) {
	ts := startServerAt(t, testNow, "")
	ts.addUser(t, "bd.worker", pb.Role_ROLE_COMMUNE_WORKER, pBaDinh)
	headers := map[string]string{"Content-Type": "application/json", "Authorization": "Bearer " + ts.tokens.get("bd.worker")}
	for _, tc := range []struct{ method, path, body, field, rule string }{
		{"GET", "/v1/cases/HN-26-1", "", "case", "case.name"},
		{"GET", "/v1/cases/HN-26-1/events", "", "case", "case.name"},
		{"POST", "/v1/cases/HN-26-1:addNote", `{"etag": "1", "text": "x"}`, "case", "case.name"},
		{"GET", "/v1/reports/not-a-uuid", "", "report", "report.name"},
		{"POST", "/v1/reports/not-a-uuid:link", `{"case": "cases/HN-2026-00001"}`, "report", "report.name"},
	} {
		code, body := restRaw(t, ts, tc.method, tc.path, tc.body, headers)
		grpcCode, named := restViolations(t, body)
		var answer struct {
			Message string `json:"message"`
			Details []struct {
				Type     string            `json:"@type"`
				Metadata map[string]string `json:"metadata"`
			} `json:"details"`
		}
		_ = json.Unmarshal(body, &answer)
		var info map[string]string
		for _, d := range answer.Details {
			if d.Type == "type.googleapis.com/google.rpc.ErrorInfo" {
				info = d.Metadata
			}
		}
		if code != 400 || grpcCode != 3 || !slices.Equal(named, []string{tc.field}) || info["field"] != tc.field || info["rule"] != tc.rule ||
			!strings.HasPrefix(answer.Message, "invalid request: "+tc.field+": ") {
			t.Errorf("%s %s: %d %s, want 400 INVALID_ARGUMENT naming %s (message, BadRequest, ErrorInfo) and the rule %s", tc.method, tc.path, code, body, tc.field, tc.rule)
		}
	}
}

// A method whose REST body is the whole request (every case step, the
// admin's verbs) reads none of its fields from the query: the gateway
// dropped a request_id given there without a word, so a client that put
// it in the query, as CreateReport takes it, had a "retry-safe" request
// applied twice, and an etag there was reported missing. Such a field in
// the query is refused naming it and the rule (query.unexpected, as any
// query parameter a POST does not read), and nothing is written.
func TestRESTBodyFieldInTheQueryIsRefused(t *testing.T) {
	ts := startServerAt(t, testNow, "")
	ts.addUser(t, "bd.worker", pb.Role_ROLE_COMMUNE_WORKER, pBaDinh)
	name := openCase(t, ts, testNow, "00004")
	etag := etagOf(t, ts, "bd.worker", name)
	headers := map[string]string{"Content-Type": "application/json", "Authorization": "Bearer " + ts.tokens.get("bd.worker")}
	for _, tc := range []struct{ query, body, field string }{
		{"?request_id=note-1", `{"etag": "` + etag + `", "text": "gọi lại cho mẹ"}`, "request_id"},
		{"?requestId=note-1", `{"etag": "` + etag + `", "text": "gọi lại cho mẹ"}`, "requestId"},
		{"?etag=" + etag, `{"text": "gọi lại cho mẹ"}`, "etag"},
	} {
		for range 2 { // the retry
			code, body := restRaw(t, ts, "POST", "/v1/"+name+":addNote"+tc.query, tc.body, headers)
			if grpcCode, named := restViolations(t, body); code != 400 || grpcCode != 3 || !slices.Equal(named, []string{tc.field}) || !strings.Contains(string(body), "query.unexpected") {
				t.Errorf("addNote%s: %d %s, want 400 INVALID_ARGUMENT naming %s and the rule query.unexpected", tc.query, code, body, tc.field)
			}
		}
	}
	if got := etagOf(t, ts, "bd.worker", name); got != etag {
		t.Errorf("the refused notes changed the case: etag %s, was %s", got, etag)
	}
	code, body := restRaw(t, ts, "POST", "/v1/users/bd.worker:disable?request_id=off-1", `{}`, map[string]string{"Content-Type": "application/json", "Authorization": "Bearer " + ts.tokens.get("admin")})
	if grpcCode, named := restViolations(t, body); code != 400 || grpcCode != 3 || !slices.Equal(named, []string{"request_id"}) {
		t.Errorf("disable?request_id: %d %s, want 400 INVALID_ARGUMENT naming request_id and a rule", code, body)
	}
	if _, err := ts.cases().GetCase(ts.as(t, "bd.worker"), &pb.GetCaseRequest{Name: name}); err != nil {
		t.Errorf("the refused disable disabled the worker: %v", err)
	}
}

// A district reassigning a case to a commune of another district, to a
// district, or to a unit that does not exist gets one answer, that name
// aside: what is beyond the caller's reach looks like what is not there.
func TestReassignTargetOutOfReachLooksAbsent(t *testing.T) {
	start := hn(2024, 6, 3, 9, 0) // Monday
	ts := startServerAt(t, start, "")
	ts.addUser(t, "district.bd", pb.Role_ROLE_DISTRICT_OFFICER, pDistrictBD)
	name := openCase(t, ts, start.Add(-30*time.Minute), "00004") // Trúc Bạch, 2020 set
	etag := etagOf(t, ts, "district.bd", name)
	answer := func(to string) (string, []string) {
		_, err := ts.process().ReassignCase(ts.as(t, "district.bd"), &pb.ReassignCaseRequest{Name: name, Etag: etag, ToUnit: to, Reason: "trẻ chuyển nhà"})
		st := wantCode(t, err, codes.InvalidArgument)
		return strings.ReplaceAll(st.Message(), to, "{unit}"), badFields(st)
	}
	msg, fields := answer("units/99999@2020-01-01")
	if !slices.Equal(fields, []string{"to_unit"}) {
		t.Fatalf("an absent unit: fields %v, want to_unit", fields)
	}
	for _, to := range []string{"units/00070@2020-01-01", "units/002@2020-01-01"} {
		if m, f := answer(to); m != msg || !slices.Equal(f, fields) {
			t.Errorf("reassign to %s answers %q %v; to an absent unit %q %v", to, m, f, msg, fields)
		}
	}
}

// A search that shows a case is on that case's audit trail, as a list
// that shows it is: an auditor asking who touched the case sees the
// search, and still no query text in clear anywhere.
func TestSearchHitIsOnTheCaseTrail(t *testing.T) {
	ts := startServerAt(t, testNow, "")
	ts.addUser(t, "bd.worker", pb.Role_ROLE_COMMUNE_WORKER, pBaDinh)
	ts.addUser(t, "auditor", pb.Role_ROLE_AUDITOR, "orgs/system")
	name := openCase(t, ts, testNow.Add(-time.Hour), "00004")
	resp, err := ts.cases().SearchCases(ts.as(t, "bd.worker"), &pb.SearchCasesRequest{ChildName: "Nguyen Thi Lan"})
	if err != nil {
		t.Fatal(err)
	}
	if c := resp.GetCandidates(); len(c) == 0 || c[0].GetCase().GetName() != name {
		t.Fatalf("the search found %v, want %s first", c, name)
	}
	ev, err := ts.audit().ListAuditEvents(ts.as(t, "auditor"), &pb.ListAuditEventsRequest{Case: name, PageSize: 1000})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.ContainsFunc(ev.GetEvents(), func(e *pb.AuditEvent) bool {
		return e.GetAction() == "case.search" && e.GetActor() == "users/bd.worker" && e.GetResource() == name && e.GetOutcome() == "ok"
	}) {
		t.Errorf("no case.search by the Ba Đình worker on %s's trail: %v", name, ev.GetEvents())
	}
	all, err := ts.audit().ListAuditEvents(ts.as(t, "auditor"), &pb.ListAuditEventsRequest{PageSize: 1000})
	if err != nil {
		t.Fatal(err)
	}
	// Word by word: a sealed value's base64 may hold the letters "Lan"
	// by chance (it did, "yUWLanSWw"), never the word.
	for _, e := range all.GetEvents() {
		words := strings.FieldsFunc(strings.ToLower(e.String()), func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsDigit(r) })
		if slices.Contains(words, "lan") || slices.Contains(words, "nguyen") {
			t.Errorf("an audit event shows the query in clear: %v", e)
		}
	}
}

// A commune chair asking the statistics or an export of another commune
// that has cases gets none of them: the statistics of a unit out of reach
// are not found (TestStatisticsOfAUnitOutOfReachIsNotFound), never empty
// counts that would pass for its own; an export, filtered like the list
// by the cases' responsible unit, holds only the caller's cases.
func TestOtherCommuneCountsStayHidden(t *testing.T) {
	ts := startServerAt(t, testNow, "")
	ts.addUser(t, "bd.chair", pb.Role_ROLE_COMMUNE_CHAIR, pBaDinh)
	openCase(t, ts, testNow.Add(-2*time.Hour), "00070")
	openCase(t, ts, testNow.Add(-time.Hour), "00070")
	chair := ts.as(t, "bd.chair")
	start, end := testNow.AddDate(0, -1, 0).In(hanoi).Format("2006-01-02"), testNow.In(hanoi).Format("2006-01-02")
	resp, err := pb.NewStatisticsServiceClient(ts.conn).GetStatistics(chair, &pb.GetStatisticsRequest{
		StartDate: start, EndDate: end, Unit: pHoanKiem, GroupBy: []string{"unit"}})
	if status.Code(err) != codes.NotFound {
		t.Errorf("Ba Đình's chair asking for Hoàn Kiếm's statistics: %v, %v, want not found", resp, err)
	}
	code, body := restRaw(t, ts, "GET", "/v1/cases:export?format=EXPORT_FORMAT_CSV&responsible_unit="+pHoanKiem, "",
		map[string]string{"Authorization": "Bearer " + ts.tokens.get("bd.chair")})
	if lines := strings.Count(strings.TrimSpace(string(body)), "\n"); code != 200 || lines != 0 {
		t.Errorf("Ba Đình's chair exports Hoàn Kiếm: %d %s", code, body)
	}
}

// validate_only checks the case a report would join as the create does:
// a malformed name, a case that does not exist and a case out of the
// caller's scope are refused naming report.case, the last two alike.
func TestValidateOnlyChecksTheJoinedCase(t *testing.T) {
	ts := startServerAt(t, testNow, "")
	ts.addUser(t, "hk.worker", pb.Role_ROLE_COMMUNE_WORKER, pHoanKiem)
	theirs := openCase(t, ts, testNow.Add(-time.Hour), "00004") // Ba Đình's
	validate := func(caseName string, create bool) error {
		r := validReport()
		r.IncidentCommuneCode = "00070"
		r.Case = caseName
		_, err := ts.reports().CreateReport(ts.as(t, "hk.worker"), &pb.CreateReportRequest{Report: r, ValidateOnly: !create})
		return err
	}
	for _, create := range []bool{false, true} {
		if st := wantCode(t, validate("cases/nonsense", create), codes.InvalidArgument); !slices.Equal(badFields(st), []string{"report.case"}) {
			t.Errorf("create %v, a malformed case name: fields %v", create, badFields(st))
		}
		absent := wantCode(t, validate("cases/HN-2026-09999", create), codes.InvalidArgument)
		hidden := wantCode(t, validate(theirs, create), codes.InvalidArgument)
		if a, h := strings.ReplaceAll(absent.Message(), "HN-2026-09999", "{n}"), strings.ReplaceAll(hidden.Message(), strings.TrimPrefix(theirs, "cases/"), "{n}"); a != h || !slices.Equal(badFields(absent), []string{"report.case"}) {
			t.Errorf("create %v: an absent case answers %q %v, one out of scope %q", create, a, badFields(absent), h)
		}
	}
}

// A watch of one case names that case as a read does: a case out of the
// caller's scope is "not found" exactly as a number that does not exist,
// at once rather than as a stream that stays silent, and the attempt is
// on the audit trail of the case named. A case in scope streams its
// notifications, and the watch is on its trail too.
func TestWatchOfOneCaseOutOfScopeIsNotFound(t *testing.T) {
	ts := startServerAt(t, testNow, "")
	ts.addUser(t, "bd.worker", pb.Role_ROLE_COMMUNE_WORKER, pBaDinh)
	ts.addUser(t, "hk.worker", pb.Role_ROLE_COMMUNE_WORKER, pHoanKiem)
	ts.addUser(t, "auditor", pb.Role_ROLE_AUDITOR, "orgs/system")
	openCase(t, ts, testNow.Add(-2*time.Hour), "00070")         // the outbox's first entry: a watch resumes after it
	theirs := openCase(t, ts, testNow.Add(-time.Hour), "00004") // Ba Đình's
	watchOne := func(user, caseName string) (*pb.Notification, error) {
		ctx, cancel := context.WithTimeout(ts.as(t, user), 5*time.Second)
		defer cancel()
		stream, err := ts.process().WatchEvents(ctx, &pb.WatchEventsRequest{AfterSeq: 1, Case: caseName})
		if err != nil {
			return nil, err
		}
		return stream.Recv()
	}
	absent := func() *status.Status {
		_, err := watchOne("hk.worker", "cases/HN-2026-09999")
		return wantCode(t, err, codes.NotFound)
	}()
	_, err := watchOne("hk.worker", theirs)
	hidden := wantCode(t, err, codes.NotFound)
	if absent.Message() != hidden.Message() || errorReason(absent) != errorReason(hidden) {
		t.Errorf("a watch of an out-of-scope case answers %q (%s), of an absent one %q (%s)",
			hidden.Message(), errorReason(hidden), absent.Message(), errorReason(absent))
	}
	n, err := watchOne("bd.worker", theirs)
	if err != nil || n.GetCase() != theirs {
		t.Fatalf("the Ba Đình worker's watch of %s: %v, %v", theirs, n, err)
	}
	ev, err := ts.audit().ListAuditEvents(ts.as(t, "auditor"), &pb.ListAuditEventsRequest{Case: theirs, PageSize: 1000})
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []struct{ actor, outcome string }{{"users/hk.worker", "not_found"}, {"users/bd.worker", "ok"}} {
		if !slices.ContainsFunc(ev.GetEvents(), func(e *pb.AuditEvent) bool {
			return e.GetAction() == "case.watch" && e.GetActor() == want.actor && e.GetOutcome() == want.outcome && e.GetResource() == theirs
		}) {
			t.Errorf("no case.watch by %s with outcome %s on %s's trail: %v", want.actor, want.outcome, theirs, ev.GetEvents())
		}
	}
}

// A string that carries a control character (NUL, escape sequences, any
// C0 or C1 control but tab and line breaks) or a bidirectional override
// (which makes a name or a number read otherwise than it is stored) is
// refused naming each such field and the rule, and nothing is written;
// tabs and line breaks in a narrative are text. The same holds for a REST
// query parameter.
func TestControlCharactersAreRefusedNamingTheField(t *testing.T) {
	ts := startServerAt(t, testNow, "")
	count := func() int {
		resp, err := ts.reports().ListReports(ts.as(t, operatorID), &pb.ListReportsRequest{PageSize: 100})
		if err != nil {
			t.Fatal(err)
		}
		return len(resp.GetReports())
	}
	r := validReport()
	r.Children[0].FullName = "Nguyễn\x00 Thị Lan"
	r.Narrative = "Hàng xóm nghe \x1b[2Jtiếng khóc."
	r.Caregivers[0].FullName = "Nguyễn \u202eVăn Hùng"
	r.Children[0].Condition = "bầm tím\u0085ở tay"
	_, err := ts.reports().CreateReport(ts.as(t, operatorID), &pb.CreateReportRequest{Report: r})
	st := wantCode(t, err, codes.InvalidArgument)
	want := []string{"report.children[0].full_name", "report.children[0].condition", "report.caregivers[0].full_name", "report.narrative"}
	got := badFields(st)
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("fields %v, want %v (%v)", got, want, st.Message())
	}
	for _, d := range st.Details() {
		if br, ok := d.(*errdetails.BadRequest); ok {
			for _, v := range br.GetFieldViolations() {
				if v.GetReason() != "string.no_control" {
					t.Errorf("%s: rule %q, want string.no_control", v.GetField(), v.GetReason())
				}
			}
		}
	}
	if n := count(); n != 0 {
		t.Errorf("a refused report was written: %d reports", n)
	}

	ok := validReport()
	// A soft line break and a page break pasted from a word processor
	// (vertical tab, form feed) are line breaks too.
	ok.Narrative = "Dòng một.\r\nDòng hai,\tcó tab.\vDòng ba.\fTrang hai."
	if _, err := ts.reports().CreateReport(ts.as(t, operatorID), &pb.CreateReportRequest{Report: ok}); err != nil {
		t.Fatalf("a narrative with line breaks and a tab: %v", err)
	}

	code, body := restRaw(t, ts, "GET", "/v1/cases:search?child_name=Lan%1B%5B2J", "", map[string]string{"Authorization": "Bearer " + ts.tokens.get(operatorID)})
	if code != 400 || !strings.Contains(string(body), `"field":"child_name"`) || !strings.Contains(string(body), "string.no_control") {
		t.Errorf("a query parameter with an escape sequence: %d %s", code, body)
	}
}

// A REST path called with a method it does not take (PUT, DELETE,
// OPTIONS, TRACE, PATCH, or HEAD on a GET route) is the caller's mistake,
// not the server's: 405 with the Allow header of the methods it does take
// (RFC 9110 15.5.6), logged as an INFO line. A 501 here put an ERROR line
// in the journal for every such request, which anyone without a token can
// send by the thousand, and "What to watch" sends the operator to every
// ERROR line. The gateway's own ways round a route's method are closed
// too: a form-encoded POST to a GET route was served as the GET, with the
// form as its query (and a value that is not UTF-8 there, which the
// query's check never saw, failed as a 500), and X-HTTP-Method-Override
// turned such a POST into any method.
func TestRESTWrongMethodIsMethodNotAllowed(t *testing.T) {
	ts, lines := launchLogged(t)
	const form = "application/x-www-form-urlencoded"
	for _, tc := range []struct {
		name, method, path, allow string
		contentType, override     string
		body                      string
	}{
		{name: "PUT", method: "PUT", path: "/v1/cases/HN-2026-00001", allow: "GET"},
		{name: "DELETE", method: "DELETE", path: "/v1/cases/HN-2026-99999", allow: "GET"},
		{name: "HEAD", method: "HEAD", path: "/v1/cases", allow: "GET"},
		{name: "OPTIONS", method: "OPTIONS", path: "/v1/reports", allow: "GET, POST"},
		{name: "TRACE", method: "TRACE", path: "/v1/auditEvents:verify", allow: "POST"},
		{name: "PATCH", method: "PATCH", path: "/v1/users/lan.nguyen", allow: "GET"},
		{name: "form POST to a GET route", method: "POST", path: "/v1/cases:search", allow: "GET",
			contentType: form, body: "child_name=%ffNguyen"},
		{name: "method override", method: "POST", path: "/v1/cases", allow: "GET",
			contentType: form, override: "GET", body: "page_size=1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req, err := http.NewRequest(tc.method, "http://"+ts.HTTPAddr()+tc.path, strings.NewReader(tc.body))
			if err != nil {
				t.Fatal(err)
			}
			if tc.contentType != "" {
				req.Header.Set("Content-Type", tc.contentType)
			}
			if tc.override != "" {
				req.Header.Set("X-HTTP-Method-Override", tc.override)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			raw, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusMethodNotAllowed || resp.Header.Get("Allow") != tc.allow {
				t.Errorf("%s %s: %d, Allow %q, %s; want 405, Allow %q", tc.method, tc.path, resp.StatusCode, resp.Header.Get("Allow"), raw, tc.allow)
			}
			got := lines.take(t)
			if len(got) != 1 || got[0]["level"] != "INFO" || got[0]["http.status"] != float64(http.StatusMethodNotAllowed) || got[0]["grpc.code"] != "Unimplemented" {
				t.Errorf("log lines %v, want one INFO line with http.status 405 and grpc.code Unimplemented", got)
			}
		})
	}
}

// The paths beside the API, /healthz and /openapi.json, take GET (and
// HEAD, which a load balancer's check may send) and nothing else: any
// other method is 405 with their Allow header and the API's JSON error,
// logged as the caller's mistake, as on a /v1/ path. They answered the
// console's HTML 404 page, the console taking every path and method the
// API's routes do not, which told a client the health check was not
// there. A path no documented route takes is 404 whatever the method:
// POST /v1/cases/ (an empty case number) was 405 with an empty Allow.
// The metrics listener (Go's own mux) says 405 with its Allow too.
func TestWrongMethodBesideTheAPIIsMethodNotAllowed(t *testing.T) {
	ts, lines := launchLogged(t)
	for _, path := range []string{"/healthz", "/openapi.json"} {
		for _, method := range []string{"POST", "PUT", "DELETE", "PATCH", "OPTIONS"} {
			resp, raw := restResponse(t, ts, method, path, strings.NewReader(`{}`), map[string]string{"Content-Type": "application/json"})
			var body struct {
				Code    int `json:"code"`
				Details []struct {
					Reason string `json:"reason"`
				} `json:"details"`
			}
			_ = json.Unmarshal(raw, &body)
			if resp.StatusCode != http.StatusMethodNotAllowed || resp.Header.Get("Allow") != "GET, HEAD" ||
				body.Code != int(codes.Unimplemented) || len(body.Details) != 1 || body.Details[0].Reason != grpcapi.ReasonMethodNotAllowed {
				t.Errorf("%s %s: %d, Allow %q, %.200s; want 405, Allow \"GET, HEAD\", METHOD_NOT_ALLOWED", method, path, resp.StatusCode, resp.Header.Get("Allow"), raw)
			}
			got := lines.take(t)
			if len(got) != 1 || got[0]["level"] != "INFO" || got[0]["http.status"] != float64(http.StatusMethodNotAllowed) {
				t.Errorf("%s %s: log lines %v, want one INFO line with http.status 405", method, path, got)
			}
		}
		for _, method := range []string{"GET", "HEAD"} {
			if resp, raw := restResponse(t, ts, method, path, nil, nil); resp.StatusCode != http.StatusOK {
				t.Errorf("%s %s: %d %.200s, want 200", method, path, resp.StatusCode, raw)
			}
		}
		lines.take(t)
	}
	auth := map[string]string{"Authorization": "Bearer " + ts.tokens.get(operatorID), "Content-Type": "application/json"}
	for _, method := range []string{"POST", "PUT", "DELETE"} {
		resp, raw := restResponse(t, ts, method, "/v1/cases/", strings.NewReader(`{}`), auth)
		if resp.StatusCode != http.StatusNotFound || !strings.Contains(string(raw), `"reason":"NOT_FOUND"`) {
			t.Errorf("%s /v1/cases/: %d, Allow %q, %.200s; want 404 NOT_FOUND", method, resp.StatusCode, resp.Header.Get("Allow"), raw)
		}
	}

	withMetrics := startServerWith(t, "", func(cfg *app.Config) { cfg.MetricsAddr = "127.0.0.1:0" })
	req, err := http.NewRequest("POST", "http://"+withMetrics.MetricsAddr()+"/metrics", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed || resp.Header.Get("Allow") != "GET, HEAD" {
		t.Errorf("POST /metrics: %d, Allow %q; want 405, Allow \"GET, HEAD\"", resp.StatusCode, resp.Header.Get("Allow"))
	}
}

// An API path that is not in its clean form (a doubled slash, a "." or
// ".." segment) is 404 NOT_FOUND like any path no route takes: Go's mux
// answered it with a 307 to the cleaned path, which a client following
// redirects took, with its token, to another resource than the one it
// named (/v1/cases/HN-2026-00001/../HN-2026-00002 is the second case),
// and which let a console path (/static/../v1/cases) send a browser into
// the API. /v1 alone was redirected to /v1/. No redirect names the API.
func TestUncleanAPIPathIsNotFoundNotRedirected(t *testing.T) {
	ts := startServer(t, "")
	for _, tc := range []struct{ method, path string }{
		{"GET", "//v1/cases"},
		{"GET", "/v1//cases"},
		{"GET", "/v1/./cases"},
		{"GET", "/v1/cases/./HN-2026-00001"},
		{"GET", "/v1/cases/HN-2026-00001/../HN-2026-00002"},
		{"POST", "/v1/cases/HN-2026-00001/../HN-2026-00002:acknowledge"},
		{"GET", "/v1/reports/"},
		{"GET", "/v1"},
		{"GET", "//healthz"},
		{"GET", "/./openapi.json"},
		{"GET", "/static/../v1/cases"},
		{"GET", "/x/../healthz"},
	} {
		resp, raw := requestAsWritten(t, ts.HTTPAddr(), tc.method, tc.path, "Bearer "+ts.tokens.get(operatorID))
		if resp.StatusCode != http.StatusNotFound || !strings.Contains(string(raw), `"reason":"NOT_FOUND"`) || resp.Header.Get("Location") != "" {
			t.Errorf("%s %s: %d, Location %q, %.200s; want 404 NOT_FOUND and no redirect", tc.method, tc.path, resp.StatusCode, resp.Header.Get("Location"), raw)
		}
	}
}

// requestAsWritten sends one request with its target exactly as written
// (Go's client would read "//v1/cases" as a host) and returns the answer.
func requestAsWritten(t *testing.T, addr, method, target, auth string) (*http.Response, []byte) {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	const body = `{}`
	if _, err := fmt.Fprintf(conn, "%s %s HTTP/1.1\r\nHost: %s\r\nAuthorization: %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s",
		method, target, addr, auth, len(body), body); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	return resp, raw
}

// A case merged into another still answers to its old number, with the
// survivor: a read, or a step refused on a case the caller sees, through
// that number is an access to the survivor and is on the survivor's audit
// trail, as a step that goes through is; an auditor asking who touched
// the child's case must not have to know every number it had.
func TestOldNumberAccessIsOnTheSurvivorsTrail(t *testing.T) {
	ts := startServerAt(t, testNow, "")
	ts.addUser(t, "bd.worker", pb.Role_ROLE_COMMUNE_WORKER, pBaDinh)
	ts.addUser(t, "auditor", pb.Role_ROLE_AUDITOR, "orgs/system")
	old, survivor := mergedCases(t, ts)
	if got := getCase(t, ts, "bd.worker", old); got.GetName() != survivor {
		t.Fatalf("the old number %s answers %s, want the survivor %s", old, got.GetName(), survivor)
	}
	_, err := ts.process().AddCaseNote(ts.as(t, "bd.worker"), &pb.AddCaseNoteRequest{Name: old, Etag: "999", Text: "ghi chú"})
	wantCode(t, err, codes.Aborted)

	ev, err := ts.audit().ListAuditEvents(ts.as(t, "auditor"), &pb.ListAuditEventsRequest{Case: survivor, PageSize: 1000})
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []struct{ action, outcome string }{{"case.read", "ok"}, {"case.addNote", "refused"}} {
		if !slices.ContainsFunc(ev.GetEvents(), func(e *pb.AuditEvent) bool {
			return e.GetAction() == want.action && e.GetActor() == "users/bd.worker" && e.GetOutcome() == want.outcome && e.GetCase() == survivor && e.GetResource() == old
		}) {
			t.Errorf("no %s (%s) by the Ba Đình worker through %s (its resource) on %s's trail", want.action, want.outcome, old, survivor)
		}
	}
}

// The last day a date can name, 9999-12-31, ends a period as any other
// day does: the city's counters, keyed by four-digit years, were read up
// to "10000-01", which sorts before every month they hold, so a period
// through that day counted nothing, in the statistics and in the report
// filed from them alike, while the day before counted everything.
func TestStatisticsThroughTheLastDayADateCanName(t *testing.T) {
	ts := startServerAt(t, testNow, "")
	ts.addUser(t, "city", pb.Role_ROLE_CITY_OFFICER, pCity)
	openCase(t, ts, testNow.Add(-time.Hour), "00004")
	openCase(t, ts, testNow.Add(-time.Hour), "00070")
	stats := pb.NewStatisticsServiceClient(ts.conn)
	reports := func(start, end string) int32 {
		resp, err := stats.GetStatistics(ts.as(t, "city"), &pb.GetStatisticsRequest{StartDate: start, EndDate: end})
		if err != nil {
			t.Fatalf("%s to %s: %v", start, end, err)
		}
		var n int32
		for _, g := range resp.GetGroups() {
			n += g.GetReports()
		}
		return n
	}
	for _, start := range []string{"2026-01-01", "9999-12-01"} {
		want := reports(start, "9999-12-30")
		if got := reports(start, "9999-12-31"); got != want {
			t.Errorf("reports from %s through 9999-12-31: %d, through 9999-12-30: %d", start, got, want)
		}
	}
	if n := reports("2026-01-01", "9999-12-31"); n != 2 {
		t.Errorf("reports from 2026 through 9999-12-31: %d, want the 2 received", n)
	}
	code, body := restRaw(t, ts, "GET", "/v1/statistics:periodicReport?start_date=2026-01-01&end_date=9999-12-31&format=csv", "",
		map[string]string{"Authorization": "Bearer " + ts.tokens.get("city")})
	if code != 200 || !strings.Contains(string(body), "Tổng cộng,,2,2,") {
		t.Errorf("the periodic report through 9999-12-31: %d %s, want a total of 2 reports and 2 cases", code, body)
	}
}

// A time bound at the first instant a timestamp can name
// (0001-01-01T00:00:00Z) bounds a list as any other: due_before lists the
// cases due before it, and an audit list's end_time the events before
// it, which are none. The queries took that instant, Go's zero time, for
// no bound at all, and answered the whole queue or log, or, for a list
// without a queue, that due_before was missing.
func TestTheFirstInstantBoundsAListAsAnyOther(t *testing.T) {
	ts := startServerAt(t, testNow, "")
	ts.addUser(t, "bd.worker", pb.Role_ROLE_COMMUNE_WORKER, pBaDinh)
	ts.addUser(t, "auditor", pb.Role_ROLE_AUDITOR, "orgs/system")
	openCase(t, ts, testNow.Add(-time.Hour), "00004")
	first := timestamppb.New(time.Time{})
	for _, queue := range []pb.CaseQueue{pb.CaseQueue_CASE_QUEUE_MY_UNIT_OPEN, pb.CaseQueue_CASE_QUEUE_UNSPECIFIED} {
		resp, err := ts.cases().ListCases(ts.as(t, "bd.worker"), &pb.ListCasesRequest{Queue: queue, DueBefore: first})
		if err != nil || len(resp.GetCases()) != 0 {
			t.Errorf("%v due before %v: %d cases, %v; want none", queue, first.AsTime(), len(resp.GetCases()), err)
		}
	}
	resp, err := ts.audit().ListAuditEvents(ts.as(t, "auditor"), &pb.ListAuditEventsRequest{EndTime: first, PageSize: 1000})
	if err != nil || len(resp.GetEvents()) != 0 {
		t.Errorf("audit events before %v: %d, %v; want none", first.AsTime(), len(resp.GetEvents()), err)
	}
}

// A police forwarding dated at the first instant a timestamp can name
// (0001-01-01T00:00:00Z) is refused naming forward_time, as any time
// before the acknowledgement is: that instant, Go's zero time, was taken
// for a forward_time left out and recorded as now.
func TestPoliceForwardingAtTheFirstInstantIsRefused(t *testing.T) {
	ts := startServerAt(t, testNow, "")
	ts.addPoliceUnit(t, "ca-ba-dinh", pBaDinh)
	ts.addUser(t, "bd.worker", pb.Role_ROLE_COMMUNE_WORKER, pBaDinh)
	ts.addUser(t, "police.bd", pb.Role_ROLE_POLICE_LIAISON, "policeUnits/ca-ba-dinh")
	p := ts.process()
	name := openCase(t, ts, testNow.Add(-time.Hour), "00004", pb.AbuseForm_ABUSE_FORM_SEXUAL_ABUSE)
	if _, err := p.ReferCaseToPolice(ts.as(t, "bd.worker"), &pb.ReferCaseToPoliceRequest{Name: name, Etag: etagOf(t, ts, "bd.worker", name),
		PoliceUnit: "policeUnits/ca-ba-dinh", SuspectedOffence: "Điều 146 BLHS"}); err != nil {
		t.Fatalf("refer: %v", err)
	}
	police := ts.as(t, "police.bd")
	if _, err := p.AcknowledgePoliceReferral(police, &pb.AcknowledgePoliceReferralRequest{Name: name, Etag: etagOf(t, ts, "police.bd", name), ReferenceNumber: "CA-BD-2026/301"}); err != nil {
		t.Fatalf("police acknowledge: %v", err)
	}
	_, err := p.RecordPoliceForwarding(police, &pb.RecordPoliceForwardingRequest{Name: name, Etag: etagOf(t, ts, "police.bd", name),
		InvestigationAgency: "Cơ quan CSĐT", ForwardTime: timestamppb.New(time.Time{})})
	if st := wantCode(t, err, codes.InvalidArgument); !slices.Equal(badFields(st), []string{"forward_time"}) {
		t.Errorf("fields %v, want forward_time (%s)", badFields(st), st.Message())
	}
}

// A step's time given as the first instant a timestamp can name
// (0001-01-01T00:00:00Z) is refused for lying before the case was
// received, as any such time is, not as a time left out ("required").
func TestStepTimeAtTheFirstInstantIsBeforeTheCase(t *testing.T) {
	ts := startServerAt(t, testNow, "")
	ts.addUser(t, "bd.chair", pb.Role_ROLE_COMMUNE_CHAIR, pBaDinh)
	name := reportEmergency(t, ts, testNow.Add(-time.Hour), "00004", "", true, false)
	byItsRule := func(err error, field string) {
		t.Helper()
		st := wantCode(t, err, codes.InvalidArgument)
		for _, d := range st.Details() {
			if br, ok := d.(*errdetails.BadRequest); ok {
				for _, v := range br.GetFieldViolations() {
					if v.GetField() != field || v.GetReason() == "required" {
						t.Errorf("%s [%s]: %s; want %s by a rule of its time, not as left out", v.GetField(), v.GetReason(), v.GetDescription(), field)
					}
				}
			}
		}
		if f := badFields(st); len(f) != 1 {
			t.Errorf("fields %v, want %s (%s)", f, field, st.Message())
		}
	}
	first := timestamppb.New(time.Time{})
	_, err := ts.process().RecordEmergencyMeasures(ts.as(t, "bd.chair"), &pb.RecordEmergencyMeasuresRequest{Name: name, Etag: etagOf(t, ts, "bd.chair", name),
		Measures: "đưa trẻ đến nơi an toàn", AppliedBy: "Chủ tịch UBND phường", AppliedTime: first})
	byItsRule(err, "applied_time")
	_, err = ts.process().StartSeparation(ts.as(t, "bd.chair"), &pb.StartSeparationRequest{Name: name, Etag: etagOf(t, ts, "bd.chair", name),
		StartTime: first, Place: "Làng trẻ em SOS Hà Nội", Carer: "mẹ SOS Nguyễn Thị Hoa",
		Ground: "cha dượng là người xâm hại trẻ (Điều 32(1))", DecisionNumber: "30/QĐ-UBND"})
	byItsRule(err, "start_time")

	// The meeting of a specific assessment, on a case acknowledged and
	// assessed.
	ts.addUser(t, "bd.worker", pb.Role_ROLE_COMMUNE_WORKER, pBaDinh)
	p, worker := ts.process(), ts.as(t, "bd.worker")
	assessed := openCase(t, ts, testNow.Add(-time.Hour), "00004")
	c, err := p.AcknowledgeCase(worker, &pb.AcknowledgeCaseRequest{Name: assessed, Etag: etagOf(t, ts, "bd.worker", assessed)})
	if err != nil {
		t.Fatalf("acknowledge: %v", err)
	}
	if c, err = p.RecordInitialAssessment(worker, &pb.RecordInitialAssessmentRequest{Name: assessed, Etag: c.GetEtag(),
		HarmSeverity: pb.RiskLevel_RISK_LEVEL_MEDIUM, AbuserAccess: low(), SafetyObstacles: low()}); err != nil {
		t.Fatalf("initial assessment: %v", err)
	}
	_, err = p.RecordSpecificAssessment(worker, &pb.RecordSpecificAssessmentRequest{Name: assessed, Etag: c.GetEtag(),
		Needs: "hỗ trợ tâm lý", ChildViews: "muốn đi học", MeetingRecord: "biên bản họp", MeetingTime: first, MeetingChair: chairAttendee()})
	byItsRule(err, "meeting_time")
}

// A token asked to live 0s is refused naming the field, as one asked to
// live a second is: a zero given was taken for a ttl left out, and the
// token lived the default 90 days.
func TestTokenOfZeroLifetimeIsRefused(t *testing.T) {
	ts := startServerAt(t, testNow, "")
	ts.addUser(t, "bd.worker", pb.Role_ROLE_COMMUNE_WORKER, pBaDinh)
	_, err := ts.admin().CreateToken(ts.as(t, "admin"), &pb.CreateTokenRequest{Parent: "users/bd.worker", Ttl: durationpb.New(0)})
	wantField(t, err, "ttl")
	_, err = ts.admin().CreateUser(ts.as(t, "admin"), &pb.CreateUserRequest{UserId: "bd.worker2", TokenTtl: durationpb.New(0),
		User: &pb.User{DisplayName: "Nguyễn Văn Hai", Role: pb.Role_ROLE_COMMUNE_WORKER, Unit: pBaDinh}})
	wantField(t, err, "token_ttl")
}

// The city police is the police unit that covers no unit (the API's
// PoliceUnit.covers: "empty for the city police"), the top of the police
// chain that an overdue referral escalates to, and which then sees the
// case. A second unit registered without covers made that top ambiguous:
// the city police's own overdue clocks escalated to it, so a ward police
// registered carelessly came to see cases of every commune. It is refused,
// naming the field, and nothing of it is stored.
func TestOnlyOneCityPolice(t *testing.T) {
	ts := startServerAt(t, testNow, "")
	admin := ts.as(t, "admin")
	ts.addPoliceUnit(t, "ca-ha-noi")
	_, err := ts.admin().CreatePoliceUnit(admin, &pb.CreatePoliceUnitRequest{
		PoliceUnitId: "ca-phuong-x", PoliceUnit: &pb.PoliceUnit{DisplayName: "Công an phường X"},
	})
	wantField(t, err, "police_unit.covers")
	if _, err := pb.NewPoliceUnitServiceClient(ts.conn).GetPoliceUnit(admin, &pb.GetPoliceUnitRequest{Name: "policeUnits/ca-phuong-x"}); status.Code(err) != codes.NotFound {
		t.Errorf("GetPoliceUnit of the refused unit = %v, want NotFound", err)
	}
	// A unit that names what it covers is still welcome.
	ts.addPoliceUnit(t, "ca-phuong-x", pBaDinh)
}

// The city police covers the whole city by covering no unit by name. A
// police unit registered as covering the city itself (units/01@...), as
// an admin might register the city police, was accepted as a unit like a
// ward's: it was no city police, so the police chain had no top (an
// overdue referral escalated to no one) or, once the real one was
// registered beside it, two units held themselves the city's. It is
// refused, naming the cover and the rule, and nothing of it is stored;
// the city police without covers, and a ward police covering its
// communes, are still welcome.
func TestPoliceUnitCoversNoCity(t *testing.T) {
	ts := startServerAt(t, testNow, "")
	admin := ts.as(t, "admin")
	const city = "units/01@2020-01-01"
	for _, covers := range [][]string{{city}, {pBaDinh, city}} {
		_, err := ts.admin().CreatePoliceUnit(admin, &pb.CreatePoliceUnitRequest{
			PoliceUnitId: "ca-thanh-pho", PoliceUnit: &pb.PoliceUnit{DisplayName: "Công an thành phố Hà Nội", Covers: covers},
		})
		field := fmt.Sprintf("police_unit.covers[%d]", len(covers)-1)
		if v := fieldViolation(wantCode(t, err, codes.InvalidArgument), field); v == nil || v.GetReason() != "police_unit.covers_city" {
			t.Errorf("CreatePoliceUnit covering %v: %v, want %s refused with police_unit.covers_city", covers, err, field)
		}
		if _, err := pb.NewPoliceUnitServiceClient(ts.conn).GetPoliceUnit(admin, &pb.GetPoliceUnitRequest{Name: "policeUnits/ca-thanh-pho"}); status.Code(err) != codes.NotFound {
			t.Errorf("GetPoliceUnit of the refused unit = %v, want NotFound", err)
		}
	}
	ts.addPoliceUnit(t, "ca-thanh-pho")
	ts.addPoliceUnit(t, "ca-phuong-ba-dinh", pBaDinh)
	ts.addUser(t, "police.city", pb.Role_ROLE_POLICE_LIAISON, "policeUnits/ca-thanh-pho")
}

// "system" is the service's own name on the record: the actor of its
// audit events (users/system: the first start's token, the webhook's
// deliveries, the offline commands, token_created_by of the tokens they
// issue) and of the automatic lines of a case's timeline (actor
// "system", not a users/ name). A user of that id acted under it: an
// admin named system issued tokens an auditor would take for the first
// start's, and a worker named system wrote timeline lines no one could
// tell from the scheduler's. It is refused as a user id, naming the
// field, through the API as through "users add" (the same rule).
func TestSystemIsNoUserID(t *testing.T) {
	ts := startServerAt(t, testNow, "")
	admin := ts.as(t, "admin")
	for _, tt := range []struct {
		role pb.Role
		unit string
	}{{pb.Role_ROLE_ADMIN, "orgs/system"}, {pb.Role_ROLE_COMMUNE_WORKER, pBaDinh}} {
		_, err := ts.admin().CreateUser(admin, &pb.CreateUserRequest{UserId: "system",
			User: &pb.User{DisplayName: "Hệ thống", Role: tt.role, Unit: tt.unit}})
		wantField(t, err, "user_id")
	}
	if _, err := ts.admin().GetUser(admin, &pb.GetUserRequest{Name: "users/system"}); status.Code(err) != codes.NotFound {
		t.Errorf("GetUser(users/system) = %v, want NotFound: the refused user was stored", err)
	}
}

// The texts of a user and of a police unit have length bounds as a
// report's have (issue 2: sane length limits on text fields): a display
// name, phone, unit or covered unit too long is 400 naming the field and
// the rule, nothing is created, and the answer to a value of 300 KB stays
// small (issue 9: the error message is capped) and names its field.
func TestRESTLongTextsOfUsersAndPoliceUnitsRefused(t *testing.T) {
	ts := startServerAt(t, testNow, "")
	admin := map[string]string{"Authorization": "Bearer " + ts.tokens.get("admin")}
	long := func(n int) string { return strings.Repeat("a", n) }
	body := func(v map[string]any) string {
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	user := func(name, unit, phone string) string {
		return body(map[string]any{"display_name": name, "role": "ROLE_COMMUNE_WORKER", "unit": unit, "phone": phone})
	}
	for _, tc := range []struct {
		name, path, body, field, created string
	}{
		{"display name", "/v1/users?user_id=long.name", user(long(201), pBaDinh, ""), "user.display_name", "/v1/users/long.name"},
		{"phone", "/v1/users?user_id=long.phone", user("Lan", pBaDinh, long(41)), "user.phone", "/v1/users/long.phone"},
		{"unit of 300 KB", "/v1/users?user_id=long.unit", user("Lan", long(300_000), ""), "user.unit", "/v1/users/long.unit"},
		{"police unit display name", "/v1/policeUnits?police_unit_id=ca-long-name",
			body(map[string]any{"display_name": long(201), "covers": []string{pBaDinh}}), "police_unit.display_name", "/v1/policeUnits/ca-long-name"},
		{"covered unit of 300 KB", "/v1/policeUnits?police_unit_id=ca-long-covers",
			body(map[string]any{"display_name": "CA X", "covers": []string{long(300_000)}}), "police_unit.covers[0]", "/v1/policeUnits/ca-long-covers"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, answer := restRaw(t, ts, "POST", tc.path, tc.body, admin)
			if grpcCode, named := restViolations(t, answer); code != 400 || grpcCode != 3 || !slices.Equal(named, []string{tc.field}) {
				t.Fatalf("%d %.300s, want 400 INVALID_ARGUMENT naming %s alone", code, answer, tc.field)
			}
			if !bytes.Contains(answer, []byte(tc.field+": ")) || !bytes.Contains(answer, []byte("[string.max_len]")) {
				t.Errorf("the message does not name %s and string.max_len: %.300s", tc.field, answer)
			}
			if len(answer) > 8<<10 {
				t.Errorf("an answer of %d bytes to a bad value, want at most 8 KiB", len(answer))
			}
			if code, answer := restRaw(t, ts, "GET", tc.created, "", admin); code != 404 {
				t.Errorf("GET %s after the refusal: %d %.200s, want 404", tc.created, code, answer)
			}
		})
	}
}

// A free text a step requires (a note, the reason a legal clock is
// paused, a transfer proposed) must say something: one of nothing but
// invisible characters (a zero-width space, a word joiner) is refused
// naming the field, as an empty one is, and as a disclosure's reason or a
// display name of no letter or digit is, rather than recorded as the
// reason nobody can read. Nothing is written.
func TestInvisibleTextIsNoRequiredText(t *testing.T) {
	ts := startServerAt(t, testNow, "")
	ts.addUser(t, "bd.worker", pb.Role_ROLE_COMMUNE_WORKER, pBaDinh)
	name := openCase(t, ts, testNow.Add(-time.Hour), "00004")
	worker := ts.as(t, "bd.worker")
	etag := etagOf(t, ts, "bd.worker", name)
	deadline := getCase(t, ts, "bd.worker", name).GetDeadlines()[0].GetId()
	const invisible = "\u200b\u2060\u200b"
	for _, tc := range []struct {
		field string
		call  func() error
	}{
		{"text", func() error {
			_, err := ts.process().AddCaseNote(worker, &pb.AddCaseNoteRequest{Name: name, Etag: etag, Text: invisible})
			return err
		}},
		{"reason", func() error {
			_, err := ts.process().PauseDeadline(worker, &pb.PauseDeadlineRequest{Name: name, Etag: etag, DeadlineId: deadline, Reason: invisible})
			return err
		}},
		{"reason", func() error {
			_, err := ts.process().ProposeTransfer(worker, &pb.ProposeTransferRequest{Name: name, Etag: etag, ToUnit: pHoanKiem, Reason: " " + invisible + " "})
			return err
		}},
	} {
		st := wantCode(t, tc.call(), codes.InvalidArgument)
		if fields := badFields(st); !slices.Equal(fields, []string{tc.field}) {
			t.Errorf("fields %v, want %s (%s)", fields, tc.field, st.Message())
		}
	}
	if got := etagOf(t, ts, "bd.worker", name); got != etag {
		t.Errorf("the refused steps wrote the case: etag %s, then %s", etag, got)
	}
	// A word of any script is something said.
	if _, err := ts.process().AddCaseNote(worker, &pb.AddCaseNoteRequest{Name: name, Etag: etag, Text: "\u200bĐã gọi"}); err != nil {
		t.Errorf("a note with a word: %v", err)
	}
}

// A user id may be 63 characters long, and some cursors hold the id (an
// operator's reports are read from their own index, an auditor's list of
// one actor's events from that actor's): every page token the server
// issues for such a user is one it takes back, whatever the schema's
// limit on page_token.
func TestPageTokensOfTheLongestUserIDAreTakenBack(t *testing.T) {
	ts := startServer(t, "")
	long := "o" + strings.Repeat("p", 62)
	ts.addUser(t, long, pb.Role_ROLE_HOTLINE_OPERATOR, "orgs/hotline-111")
	ts.addUser(t, "auditor", pb.Role_ROLE_AUDITOR, "orgs/system")
	for range 3 {
		if _, err := ts.reports().CreateReport(ts.as(t, long), &pb.CreateReportRequest{Report: validReport()}); err != nil {
			t.Fatal(err)
		}
	}
	follow := func(what string, list func(token string) (string, error)) {
		t.Helper()
		token, err := list("")
		for pages := 1; err == nil && token != "" && pages < 3; pages++ {
			token, err = list(token)
		}
		if err != nil {
			t.Errorf("%s: the next page with the token the server gave: %v", what, err)
		}
	}
	follow("ListReports", func(token string) (string, error) {
		resp, err := ts.reports().ListReports(ts.as(t, long), &pb.ListReportsRequest{PageSize: 1, PageToken: token})
		return resp.GetNextPageToken(), err
	})
	follow("ListCases", func(token string) (string, error) {
		resp, err := ts.cases().ListCases(ts.as(t, long), &pb.ListCasesRequest{PageSize: 1, PageToken: token})
		return resp.GetNextPageToken(), err
	})
	follow("ListAuditEvents of the actor", func(token string) (string, error) {
		resp, err := ts.audit().ListAuditEvents(ts.as(t, "auditor"), &pb.ListAuditEventsRequest{Actor: "users/" + long, PageSize: 1, PageToken: token})
		return resp.GetNextPageToken(), err
	})
	follow("ListUsers", func(token string) (string, error) {
		resp, err := ts.admin().ListUsers(ts.as(t, "admin"), &pb.ListUsersRequest{PageSize: 1, PageToken: token})
		return resp.GetNextPageToken(), err
	})
}
