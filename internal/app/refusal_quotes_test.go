package app_test

import (
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"testing"

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
	var lines logLines
	ts := launch(t, testConfig(t, ""), app.Options{Clock: clock.NewFake(testNow),
		Logger: slog.New(slog.NewJSONHandler(&lines, &slog.HandlerOptions{Level: slog.LevelDebug}))})
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
}
