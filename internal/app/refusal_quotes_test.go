package app_test

import (
	"bytes"
	"cmp"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strings"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	pb "github.com/childcase/childcase/api/childcase/v1"
	"github.com/childcase/childcase/internal/app"
	"github.com/childcase/childcase/internal/domain/clock"
)

// TestRESTRefusalsNeverQuoteTheValueSent: a REST body or query value the
// gateway cannot read is refused naming the field, what it takes and,
// for a body, the place, but never the value sent. The decoder's words
// quoted it ("invalid value for enum field channel: \"Nguyễn Văn An\"",
// "unexpected token \"Trần Thị Mai\""), and so did the refusal of a
// query parameter ("\"Nguyễn\" is not a whole number", a search's
// child_name sent twice "came as" both names): a child's or a
// reporter's name sent in the wrong field went back into the answer,
// which the client's logs and proxies keep. Neither the answer nor the
// server's log holds it.
func TestRESTRefusalsNeverQuoteTheValueSent(t *testing.T) {
	ts, lines := launchDebugLogged(t)
	ts.addUser(t, "sup.111", pb.Role_ROLE_HOTLINE_SUPERVISOR, "orgs/hotline-111")
	ts.addUser(t, "city", pb.Role_ROLE_CITY_OFFICER, pCity)
	ts.addUser(t, "auditor", pb.Role_ROLE_AUDITOR, "orgs/system")
	const name = "Quarkname"
	withValue := func(old, value string) string { return strings.Replace(restReport, old, value, 1) }
	search := func(q url.Values) string { return "/v1/cases:search?" + q.Encode() }
	for _, tc := range []struct{ what, user, method, path, body string }{
		{"a name as the channel", operatorID, "POST", "/v1/reports", withValue(`"CHANNEL_HOTLINE_111"`, `"Nguyễn `+name+`"`)},
		{"a name as the age", operatorID, "POST", "/v1/reports", withValue(`"estimated_age_years": 7`, `"estimated_age_years": "`+name+`"`)},
		{"a name as the age, unquoted", operatorID, "POST", "/v1/reports", withValue(`"estimated_age_years": 7`, `"estimated_age_years": `+name)},
		{"a name as the reporter", operatorID, "POST", "/v1/reports", withValue(`{"anonymous": true}`, `"Trần `+name+`"`)},
		{"a name as the children", operatorID, "POST", "/v1/reports", withValue(`[{"estimated_age_years": 7, "sex": "SEX_MALE", "condition": "bỏ đói"}]`, `"`+name+`"`)},
		{"a name as the time", operatorID, "POST", "/v1/reports", withValue(`"2026-11-28T02:00:00Z"`, `"`+name+`"`)},
		{"a name as the danger", operatorID, "POST", "/v1/reports", withValue(`"CALL_TYPE_INTERVENTION"`, `"CALL_TYPE_INTERVENTION", "immediate_danger": "`+name+`"`)},
		{"a narrative unquoted", operatorID, "POST", "/v1/reports", withValue(`"CALL_TYPE_INTERVENTION"`, `"CALL_TYPE_INTERVENTION", "narrative": Bé `+name)},
		{"a narrative after a string", operatorID, "POST", "/v1/reports", withValue(`"bỏ đói"`, `"bỏ đói" "`+name+`"`)},
		{"a name as the body", operatorID, "POST", "/v1/reports", name + " Nguyễn"},
		{"a name as the birth year", "sup.111", "GET", search(url.Values{"child_name": {"An"}, "birth_year": {name}}), ""},
		{"a name as the page size", "sup.111", "GET", search(url.Values{"child_name": {"An"}, "page_size": {name}}), ""},
		{"a child's name twice", "sup.111", "GET", search(url.Values{"child_name": {"Nguyễn " + name, "An"}}), ""},
		{"a phone twice", "sup.111", "GET", search(url.Values{"child_name": {"An"}, "phone": {"0912 345 678", name}}), ""},
		{"a name as the status", "city", "GET", "/v1/cases?status=" + name, ""},
		{"a name as the due time", "city", "GET", "/v1/cases?due_before=" + name, ""},
		{"a name as a time", "auditor", "GET", "/v1/auditEvents?start_time=" + name, ""},
		// A name where a parameter's or a member's name belongs: the
		// refusal names the field it refuses, and no field is called so.
		{"a query of a name alone", "sup.111", "GET", "/v1/cases:search?" + url.PathEscape("Nguyễn "+name), ""},
		{"a body keyed by a name", operatorID, "POST", "/v1/reports", withValue(`"CALL_TYPE_INTERVENTION"`, `"CALL_TYPE_INTERVENTION", "Nguyễn `+name+`": 1`)},
	} {
		code, raw := restRaw(t, ts, tc.method, tc.path, tc.body, map[string]string{"Authorization": "Bearer " + ts.tokens.get(tc.user)})
		if code != http.StatusBadRequest || len(restFieldViolations(raw)) == 0 {
			t.Errorf("%s: %d %s, want 400 naming the field", tc.what, code, raw)
			continue
		}
		if strings.Contains(string(raw), name) {
			t.Errorf("%s: the answer quotes the value sent: %s", tc.what, raw)
		}
	}
	if log := lines.text(); strings.Contains(log, name) {
		t.Errorf("the log holds the value sent: %s", lineOf(log, name))
	}
	// Nor does the audit trail, in the clear, which names each refusal's
	// field and rule.
	for _, user := range []string{operatorID, "sup.111", "city", "auditor"} {
		for _, e := range auditedBy(t, ts, "auditor", user) {
			if strings.Contains(fmt.Sprint(e), name) {
				t.Errorf("the trail holds the value sent: %v", e)
			}
		}
	}
}

// TestRefusedNamesAreNotQuotedBack: a name that is no record's name (a
// case, a report, a unit, a user, a token, a police unit), a date, a
// dimension or a format that is none is refused naming the field and
// what it takes, without quoting what was sent. A case's number is where
// a worker types what the caller says, and a child's name typed there
// ("cases/Nguyễn Văn An is not a case name") was sent back in the answer
// and written to the service's log with the call's error.
func TestRefusedNamesAreNotQuotedBack(t *testing.T) {
	ts, lines := launchDebugLogged(t)
	ts.addUser(t, "city", pb.Role_ROLE_CITY_OFFICER, pCity)
	ts.addUser(t, "bd.chair", pb.Role_ROLE_COMMUNE_CHAIR, pBaDinh)
	ts.addUser(t, "bd.worker", pb.Role_ROLE_COMMUNE_WORKER, pBaDinh)
	ts.addUser(t, "auditor", pb.Role_ROLE_AUDITOR, "orgs/system")
	created, err := ts.reports().CreateReport(ts.as(t, operatorID), &pb.CreateReportRequest{Report: validReport()})
	if err != nil {
		t.Fatal(err)
	}
	c := created.GetCase()
	if _, err := ts.process().AcknowledgeCase(ts.as(t, "bd.worker"), &pb.AcknowledgeCaseRequest{Name: c, Etag: etagOf(t, ts, "bd.worker", c)}); err != nil {
		t.Fatal(err)
	}
	const name = "Quarkname"
	typed := "Nguyễn " + name
	city, chair, worker, auditor, admin := ts.as(t, "city"), ts.as(t, "bd.chair"), ts.as(t, "bd.worker"), ts.as(t, "auditor"), ts.as(t, "admin")
	period := func(r *pb.GetStatisticsRequest) *pb.GetStatisticsRequest {
		r.StartDate = cmp.Or(r.StartDate, "2026-01-01")
		r.EndDate = cmp.Or(r.EndDate, "2026-06-30")
		return r
	}
	for _, tc := range []struct {
		what string
		call func() error
	}{
		{"a case", func() error {
			_, err := ts.cases().GetCase(city, &pb.GetCaseRequest{Name: "cases/" + typed})
			return err
		}},
		{"a bare case number", func() error { _, err := ts.cases().GetCase(city, &pb.GetCaseRequest{Name: typed}); return err }},
		{"a report", func() error {
			_, err := ts.reports().GetReport(city, &pb.GetReportRequest{Name: "reports/" + typed})
			return err
		}},
		{"a case's events", func() error {
			_, err := ts.process().ListCaseEvents(city, &pb.ListCaseEventsRequest{Parent: "cases/" + typed})
			return err
		}},
		{"a case to merge", func() error {
			_, err := ts.process().MergeCase(chair, &pb.MergeCaseRequest{Name: c, Etag: etagOf(t, ts, "bd.chair", c), AbsorbedCase: "cases/" + typed})
			return err
		}},
		{"the officer", func() error {
			_, err := ts.process().AssignCase(chair, &pb.AssignCaseRequest{Name: c, Etag: etagOf(t, ts, "bd.chair", c), Officer: "users/" + typed})
			return err
		}},
		{"the unit of a transfer", func() error {
			_, err := ts.process().ProposeTransfer(worker, &pb.ProposeTransferRequest{Name: c, Etag: etagOf(t, ts, "bd.worker", c), ToUnit: "units/" + typed, Reason: "gia đình chuyển nhà"})
			return err
		}},
		{"the police unit", func() error {
			_, err := ts.process().ReferCaseToPolice(worker, &pb.ReferCaseToPoliceRequest{Name: c, Etag: etagOf(t, ts, "bd.worker", c), PoliceUnit: "policeUnits/" + typed})
			return err
		}},
		{"the responsible unit", func() error {
			_, err := ts.cases().ListCases(city, &pb.ListCasesRequest{ResponsibleUnit: "units/" + typed})
			return err
		}},
		{"a unit", func() error {
			_, err := ts.units().GetUnit(city, &pb.GetUnitRequest{Name: "units/" + typed})
			return err
		}},
		// A search's commune code takes up to 10 characters of anything:
		// a name, or a phone, typed into it.
		{"the search's commune", func() error {
			_, err := ts.cases().SearchCases(ts.as(t, operatorID), &pb.SearchCasesRequest{ChildName: "An", CommuneCode: name})
			return err
		}},
		{"the audit's case", func() error {
			_, err := ts.audit().ListAuditEvents(auditor, &pb.ListAuditEventsRequest{Case: "cases/" + typed})
			return err
		}},
		{"the audit's actor", func() error {
			_, err := ts.audit().ListAuditEvents(auditor, &pb.ListAuditEventsRequest{Actor: "users/" + typed})
			return err
		}},
		{"the statistics' unit", func() error {
			_, err := pb.NewStatisticsServiceClient(ts.conn).GetStatistics(city, period(&pb.GetStatisticsRequest{Unit: "units/" + typed}))
			return err
		}},
		{"the statistics' start", func() error {
			_, err := pb.NewStatisticsServiceClient(ts.conn).GetStatistics(city, period(&pb.GetStatisticsRequest{StartDate: typed}))
			return err
		}},
		{"the statistics' grouping", func() error {
			_, err := pb.NewStatisticsServiceClient(ts.conn).GetStatistics(city, period(&pb.GetStatisticsRequest{GroupBy: []string{typed}}))
			return err
		}},
		{"a user", func() error {
			_, err := ts.admin().GetUser(admin, &pb.GetUserRequest{Name: "users/" + typed})
			return err
		}},
		{"a token", func() error {
			_, err := ts.admin().RevokeToken(admin, &pb.RevokeTokenRequest{Name: "users/" + operatorID + "/tokens/" + typed})
			return err
		}},
	} {
		// A unit, a user or a token of a name that cannot be one is not
		// found, as any other: refused all the same.
		err := tc.call()
		st, _ := status.FromError(err)
		if code := st.Code(); code != codes.InvalidArgument && code != codes.NotFound {
			t.Errorf("%s: %v, want INVALID_ARGUMENT or NOT_FOUND", tc.what, err)
			continue
		}
		if said := fmt.Sprint(st.Proto()); strings.Contains(said, name) {
			t.Errorf("%s: the refusal quotes what was sent: %s", tc.what, st.Message())
		}
	}
	if log := lines.text(); strings.Contains(log, name) {
		t.Errorf("the log holds what was sent: %s", lineOf(log, name))
	}
}

// TestANameThatCanBeNoRecordsIsNotKeptOnTheTrail: a refused call is on
// the audit trail on the record it named, but a name that can be no
// record's (a child's name typed where a case's number belongs) was kept
// there as typed, in the clear, on disk and in every backup, and shown to
// the auditors, who see no case content. The method stands in for it,
// whether the call was refused for its input (over gRPC, or by the REST
// gateway) or for the caller's role; the refusal is on the trail all the
// same.
func TestANameThatCanBeNoRecordsIsNotKeptOnTheTrail(t *testing.T) {
	ts := startServer(t, "")
	ts.addUser(t, "city", pb.Role_ROLE_CITY_OFFICER, pCity)
	ts.addUser(t, "bd.worker", pb.Role_ROLE_COMMUNE_WORKER, pBaDinh)
	ts.addUser(t, "auditor", pb.Role_ROLE_AUDITOR, "orgs/system")
	const name = "Quarkname"
	typed := "cases/Nguyễn " + name
	if _, err := ts.cases().GetCase(ts.as(t, "city"), &pb.GetCaseRequest{Name: typed}); status.Code(err) != codes.InvalidArgument {
		t.Fatalf("GetCase %q: %v, want INVALID_ARGUMENT", typed, err)
	}
	if _, err := ts.cases().GetCase(ts.as(t, "auditor"), &pb.GetCaseRequest{Name: typed}); status.Code(err) != codes.PermissionDenied {
		t.Fatalf("an auditor's GetCase: %v, want PERMISSION_DENIED", err)
	}
	path := "/v1/cases/" + url.PathEscape("Nguyễn "+name)
	if code, raw := restRaw(t, ts, "GET", path+"?bogus=1", "", map[string]string{"Authorization": "Bearer " + ts.tokens.get("city")}); code != http.StatusBadRequest {
		t.Fatalf("GET %s?bogus=1: %d %s", path, code, raw)
	}
	if code, raw := restRaw(t, ts, "POST", path+":addNote", "{bad", map[string]string{"Authorization": "Bearer " + ts.tokens.get("bd.worker")}); code != http.StatusBadRequest {
		t.Fatalf("POST %s:addNote: %d %s", path, code, raw)
	}
	for _, want := range []struct{ user, action, resource, reason string }{
		{"city", "case.read", "/childcase.v1.CaseService/GetCase", "name case.name"},
		{"auditor", "auth.denied", "/childcase.v1.CaseService/GetCase", ""},
		{"city", "case.read", "/childcase.v1.CaseService/GetCase", "bogus query.unexpected"},
		{"bd.worker", "case.addNote", "/childcase.v1.CaseProcessService/AddCaseNote", "body body.parse"},
	} {
		events := auditedBy(t, ts, "auditor", want.user)
		if !slices.ContainsFunc(events, func(e *pb.AuditEvent) bool {
			return e.GetAction() == want.action && e.GetResource() == want.resource && e.GetReason() == want.reason
		}) {
			t.Errorf("no %s on %s (%q) by %s: %v", want.action, want.resource, want.reason, want.user, events)
		}
		for _, e := range events {
			if strings.Contains(fmt.Sprint(e), name) {
				t.Errorf("the trail keeps what %s typed: %v", want.user, e)
			}
		}
	}
	stoppedDatabaseHoldsNot(t, ts, name)
}

// TestAPathIsLoggedAndAuditedWithoutWhatCanBeNoRecords: the log line of a
// REST request the gateway refuses, and the audit event of one no route
// takes, named the path as sent: a client that put what the caller said
// where a case's number belongs (/v1/cases/Nguyễn%20Văn%20An), or in a
// path that routes nowhere, left a child's name in the log and in the
// audit trail, which is in the clear. Such a segment is written "*"; the
// path's other segments, a case's number among them, are kept.
func TestAPathIsLoggedAndAuditedWithoutWhatCanBeNoRecords(t *testing.T) {
	ts, lines := launchDebugLogged(t)
	ts.addUser(t, "city", pb.Role_ROLE_CITY_OFFICER, pCity)
	ts.addUser(t, "auditor", pb.Role_ROLE_AUDITOR, "orgs/system")
	const name = "Quarkname"
	typed := url.PathEscape("Nguyễn " + name)
	auth := map[string]string{"Authorization": "Bearer " + ts.tokens.get("city")}
	for _, tc := range []struct {
		path    string
		headers map[string]string
		status  int
	}{
		{"/v1/cases/" + typed + "?bogus=1", auth, http.StatusBadRequest},
		{"/v1/casess/" + typed, auth, http.StatusNotFound},
		{"/v1/cases/HN-2026-00001/" + typed, auth, http.StatusNotFound},
		{"/v1/casess/" + typed, nil, http.StatusNotFound},
	} {
		if code, raw := restRaw(t, ts, "GET", tc.path, "", tc.headers); code != tc.status {
			t.Fatalf("GET %s: %d %s, want %d", tc.path, code, raw, tc.status)
		}
	}
	log := lines.text()
	for _, want := range []string{`"http.path":"/v1/cases/*"`, `"http.path":"/v1/casess/*"`, `"http.path":"/v1/cases/HN-2026-00001/*"`} {
		if !strings.Contains(log, want) {
			t.Errorf("no log line with %s:\n%s", want, log)
		}
	}
	if strings.Contains(log, name) {
		t.Errorf("the log holds the path as sent: %s", lineOf(log, name))
	}
	events := allAuditEvents(t, ts, "auditor", &pb.ListAuditEventsRequest{})
	for _, want := range []string{"/v1/casess/*", "/v1/cases/HN-2026-00001/*"} {
		if !slices.ContainsFunc(events, func(e *pb.AuditEvent) bool {
			return e.GetAction() == "http.no_route" && e.GetResource() == want
		}) {
			t.Errorf("no http.no_route on %s: %v", want, events)
		}
	}
	for _, e := range events {
		if strings.Contains(fmt.Sprint(e), name) {
			t.Errorf("the trail keeps the path as sent: %v", e)
		}
	}
	stoppedDatabaseHoldsNot(t, ts, name)
}

// TestACallRefusedOnACaseNumberAsTypedIsOnTheCasesTrail: a case's number
// is read as typed (any dash, spaces for dashes, lower case, full-width,
// missing or extra leading zeros, without "cases/"), and a call refused
// for the caller's role on one was kept on the trail as typed: the event
// named "cases/hn 2026 1" or "HN-2026-000001" rather than the case, and a
// bare number was on no case's trail at all, so an auditor listing the
// case's events (?case=) did not see that it was probed. Every such
// attempt is on the case's trail, naming it as its other events do.
func TestACallRefusedOnACaseNumberAsTypedIsOnTheCasesTrail(t *testing.T) {
	ts := startServer(t, "")
	ts.addUser(t, "auditor", pb.Role_ROLE_AUDITOR, "orgs/system")
	created, err := ts.reports().CreateReport(ts.as(t, operatorID), &pb.CreateReportRequest{Report: validReport()})
	if err != nil {
		t.Fatal(err)
	}
	c := created.GetCase()
	if c != "cases/HN-2026-00001" {
		t.Fatalf("the case is %s, want cases/HN-2026-00001", c)
	}
	typed := []string{"cases/HN–2026–1", "cases/hn 2026 1", "HN-2026-000001", "hn-2026-1", "cases/ＨＮ－２０２６－１"}
	for _, name := range typed {
		if _, err := ts.cases().GetCase(ts.as(t, "auditor"), &pb.GetCaseRequest{Name: name}); status.Code(err) != codes.PermissionDenied {
			t.Fatalf("an auditor's GetCase of %q: %v, want PERMISSION_DENIED", name, err)
		}
	}
	// Over REST too, the number in the path as typed.
	if code, raw := restRaw(t, ts, "GET", "/v1/cases/HN%202026%20001", "", map[string]string{"Authorization": "Bearer " + ts.tokens.get("auditor")}); code != http.StatusForbidden {
		t.Fatalf("an auditor's GET of /v1/cases/HN%%202026%%20001: %d %s, want 403", code, raw)
	}
	denied := 0
	for _, e := range allAuditEvents(t, ts, "auditor", &pb.ListAuditEventsRequest{Case: "HN–2026–1"}) {
		if e.GetAction() != "auth.denied" {
			continue
		}
		denied++
		if e.GetResource() != c || e.GetCase() != c {
			t.Errorf("an attempt is on %q of case %q, want both %s", e.GetResource(), e.GetCase(), c)
		}
	}
	if want := len(typed) + 1; denied != want {
		t.Errorf("the case's trail holds %d refused attempts, want %d", denied, want)
	}
}

// TestARefusedCallIsLoggedWithItsFieldsAndRulesOnly: the log line of a
// call refused as INVALID_ARGUMENT carried the whole refusal, which is
// written for the caller and could, by a slip, quote what was sent (a
// search's commune_code did: a name or a phone typed there went into the
// log). Its grpc.error names each field and rule alone, as the audit
// trail does, so that the log, kept and shipped elsewhere, does not
// depend on every refusal's words.
func TestARefusedCallIsLoggedWithItsFieldsAndRulesOnly(t *testing.T) {
	ts, lines := launchDebugLogged(t)
	ts.addUser(t, "city", pb.Role_ROLE_CITY_OFFICER, pCity)
	city := ts.as(t, "city")
	if _, err := ts.cases().GetCase(city, &pb.GetCaseRequest{Name: "cases/Nguyễn Văn An"}); status.Code(err) != codes.InvalidArgument {
		t.Fatalf("GetCase of a name: %v, want INVALID_ARGUMENT", err)
	}
	if _, err := pb.NewStatisticsServiceClient(ts.conn).GetStatistics(city, &pb.GetStatisticsRequest{StartDate: "2026-02-30", EndDate: "2026-13-01"}); status.Code(err) != codes.InvalidArgument {
		t.Fatalf("GetStatistics of no dates: %v, want INVALID_ARGUMENT", err)
	}
	want := map[string]string{
		"GetCase":       "rpc error: code = InvalidArgument desc = invalid request: name case.name",
		"GetStatistics": "rpc error: code = InvalidArgument desc = invalid request: start_date date.valid; end_date date.valid",
	}
	for _, l := range lines.take(t) {
		method, _ := l["grpc.method"].(string)
		w, ok := want[method]
		if !ok || l["grpc.code"] != "InvalidArgument" {
			continue
		}
		delete(want, method)
		if l["grpc.error"] != w {
			t.Errorf("%s is logged with grpc.error %q, want %q", method, l["grpc.error"], w)
		}
	}
	for method := range want {
		t.Errorf("no line of the refused %s", method)
	}
}

// TestAPathsCaseNumberAsTypedIsLoggedAsItsCase: a path segment of more
// than ASCII letters and digits is written "*" in the log and on the
// trail, and so was a case's number typed with an en dash or spaces
// (/v1/cases/HN–2026–1/...), which the API reads as the case: the
// auditor reading what a token probed, and the operator reading the log,
// lost which case it was. Such a segment is written as the case's number.
func TestAPathsCaseNumberAsTypedIsLoggedAsItsCase(t *testing.T) {
	ts, lines := launchDebugLogged(t)
	ts.addUser(t, "city", pb.Role_ROLE_CITY_OFFICER, pCity)
	ts.addUser(t, "auditor", pb.Role_ROLE_AUDITOR, "orgs/system")
	auth := map[string]string{"Authorization": "Bearer " + ts.tokens.get("city")}
	for _, tc := range []struct {
		path   string
		status int
	}{
		{"/v1/cases/" + url.PathEscape("HN–2026–1") + "?bogus=1", http.StatusBadRequest},
		{"/v1/cases/HN%202026%2000007/secrets", http.StatusNotFound},
		{"/v1/cases/" + url.PathEscape("hn – 2026 – 8") + ":bogus", http.StatusNotFound},
	} {
		if code, raw := restRaw(t, ts, "GET", tc.path, "", auth); code != tc.status {
			t.Fatalf("GET %s: %d %s, want %d", tc.path, code, raw, tc.status)
		}
	}
	log := lines.text()
	for _, want := range []string{`"http.path":"/v1/cases/HN-2026-00001"`, `"http.path":"/v1/cases/HN-2026-00007/secrets"`, `"http.path":"/v1/cases/HN-2026-00008:bogus"`} {
		if !strings.Contains(log, want) {
			t.Errorf("no log line with %s:\n%s", want, log)
		}
	}
	events := auditedBy(t, ts, "auditor", "city")
	for _, want := range []string{"/v1/cases/HN-2026-00007/secrets", "/v1/cases/HN-2026-00008:bogus"} {
		if !slices.ContainsFunc(events, func(e *pb.AuditEvent) bool {
			return e.GetAction() == "http.no_route" && e.GetResource() == want
		}) {
			t.Errorf("no http.no_route on %s: %v", want, events)
		}
	}
}

// TestAPathTriedUnderACaseIsOnItsTrail: a REST path that routes nowhere
// is on its user's trail (http.no_route), but was on no case's, so an
// auditor listing a case's events (?case=) did not see the paths a token
// tried under it (/v1/cases/HN-2026-00001/secrets). It is on the case's
// trail, as a refused call naming the case is.
func TestAPathTriedUnderACaseIsOnItsTrail(t *testing.T) {
	ts := startServer(t, "")
	ts.addUser(t, "city", pb.Role_ROLE_CITY_OFFICER, pCity)
	ts.addUser(t, "auditor", pb.Role_ROLE_AUDITOR, "orgs/system")
	created, err := ts.reports().CreateReport(ts.as(t, operatorID), &pb.CreateReportRequest{Report: validReport()})
	if err != nil {
		t.Fatal(err)
	}
	c := created.GetCase()
	auth := map[string]string{"Authorization": "Bearer " + ts.tokens.get("city")}
	paths := []string{"/v1/cases/HN-2026-00001/secrets", "/v1/cases/HN%202026%201:bogus", "/v1/" + created.GetName() + "/secrets"}
	for _, p := range paths {
		if code, raw := restRaw(t, ts, "GET", p, "", auth); code != http.StatusNotFound {
			t.Fatalf("GET %s: %d %s, want 404", p, code, raw)
		}
	}
	n := 0
	for _, e := range allAuditEvents(t, ts, "auditor", &pb.ListAuditEventsRequest{Case: c}) {
		if e.GetAction() == "http.no_route" && e.GetActor() == "users/city" {
			n++
		}
	}
	if n != len(paths) {
		t.Errorf("the case's trail holds %d of the %d paths tried under it", n, len(paths))
	}
}

// launchDebugLogged starts a server whose every log line, debug ones
// included, the test reads.
func launchDebugLogged(t *testing.T) (*testServer, *logLines) {
	t.Helper()
	var lines logLines
	ts := launch(t, testConfig(t, ""), app.Options{Clock: clock.NewFake(testNow),
		Logger: slog.New(slog.NewJSONHandler(&lines, &slog.HandlerOptions{Level: slog.LevelDebug}))})
	return ts, &lines
}

// stoppedDatabaseHoldsNot stops ts and fails if its database file holds
// value in the clear anywhere (a record, an index, a free page).
func stoppedDatabaseHoldsNot(t *testing.T, ts *testServer, value string) {
	t.Helper()
	ts.stop()
	raw, err := os.ReadFile(ts.cfg.DBPath)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(raw, []byte(value)) {
		t.Errorf("the database holds %q in the clear", value)
	}
}
