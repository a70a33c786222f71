package app_test

import (
	"net/http"
	"strings"
	"testing"
)

// A browser sends each field of the console's forms once, but for the
// check boxes of a group and a multiple select. A form with a field sent
// twice has been made by hand: taking one of the values and dropping the
// other would write what nobody can tell was meant (the note is the first
// text, the etag the first one). It is refused, naming the field, and
// nothing is written; the groups still take their several values.
func TestConsoleRepeatedFieldIsRefusedByName(t *testing.T) {
	ts, number := caseConsole(t)
	name := "cases/" + number
	before := etagOf(t, ts, "bd.worker", name)
	worker, note := openStep(t, ts, "bd.worker", number, "AddCaseNote")
	op := newBrowser(t, ts)
	op.signIn(operatorID)
	opCSRF, requestID := op.intakeForm()
	reports := countReportsOf(t, ts, operatorID)

	twice := func(form map[string][]string, field, other string) map[string][]string {
		out := map[string][]string{}
		for k, v := range form {
			out[k] = append([]string(nil), v...)
		}
		out[field] = append(out[field], other)
		return out
	}
	note.Set("text", "Ghi chú thứ nhất")
	for _, c := range []struct {
		name, path, field string
		b                 *browser
		form              map[string][]string
	}{
		{"a note's text", "/cases/" + number + "/steps/AddCaseNote", "text", worker, twice(note, "text", "Ghi chú thứ hai")},
		{"a step's etag", "/cases/" + number + "/steps/AddCaseNote", "etag", worker, twice(note, "etag", "1")},
		{"a step's request id", "/cases/" + number + "/steps/AddCaseNote", "request_id", worker, twice(note, "request_id", "web-000000000000000000000000")},
		{"a report's narrative", "/reports/new", "narrative", op, twice(with(callForm(opCSRF, requestID), "do", "save"), "narrative", "Một câu chuyện khác.")},
		{"a child's name", "/reports/new", "children[0].full_name", op, twice(with(callForm(opCSRF, requestID), "do", "save"), "children[0].full_name", "Lê Văn Nam")},
	} {
		resp, page := c.b.post(c.path, c.form)
		if resp.StatusCode != http.StatusBadRequest {
			t.Errorf("%s sent twice: %s, want 400", c.name, resp.Status)
			continue
		}
		if !strings.Contains(page, c.field) {
			t.Errorf("%s sent twice: the refusal does not name %q:\n%s", c.name, c.field, page)
		}
	}
	if after := etagOf(t, ts, "bd.worker", name); after != before {
		t.Error("a form with a field sent twice changed the case")
	}
	if n := countReportsOf(t, ts, operatorID); n != reports {
		t.Errorf("intake forms with a field sent twice saved %d reports", n-reports)
	}

	// Check boxes of one group are one field of several values.
	opCSRF, requestID = op.intakeForm()
	form := with(callForm(opCSRF, requestID), "do", "save")
	form["suspected_abuse"] = []string{"ABUSE_FORM_VIOLENCE", "ABUSE_FORM_NEGLECT"}
	if resp, page := op.post("/reports/new", form); resp.StatusCode != http.StatusSeeOther {
		t.Errorf("a report with two forms of abuse checked: %s\n%s", resp.Status, page)
	}
	if resp, page := worker.post("/cases/"+number+"/steps/AddCaseNote", note); resp.StatusCode != http.StatusSeeOther {
		t.Errorf("the note sent once: %s\n%s", resp.Status, page)
	}
}
