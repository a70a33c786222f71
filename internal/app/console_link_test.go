package app_test

import (
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	pb "github.com/childcase/childcase/api/childcase/v1"
)

// An operator took a counselling call, which opens no case, and learns it
// was about a child whose case is open: they attach the report to that
// case from the report's page (LinkReport), as the API lets them. A case
// number they may not see is refused as absent, with what they typed kept.
func TestConsoleOperatorLinksAReportToACase(t *testing.T) {
	ts, number := caseConsole(t)
	counselling := validReport()
	counselling.CallType = pb.CallType_CALL_TYPE_COUNSELLING
	call, err := ts.reports().CreateReport(ts.as(t, operatorID), &pb.CreateReportRequest{Report: counselling})
	if err != nil || call.GetCase() != "" {
		t.Fatalf("counselling call: %v, case %q", err, call.GetCase())
	}
	id := strings.TrimPrefix(call.GetName(), "reports/")

	b := newBrowser(t, ts)
	b.signIn(operatorID)
	_, page := b.get("/reports/" + id)
	i := strings.Index(page, `action="/reports/`+id+`"`)
	if i < 0 {
		t.Fatalf("the page of a report in no case offers no way to attach it to a case:\n%s", page)
	}
	form := page[i : i+strings.Index(page[i:], "</form>")]
	if !regexp.MustCompile(`<label for="link-case">[^<]+</label>`).MatchString(form) {
		t.Errorf("the case number input has no label:\n%s", form)
	}
	vals := formValues(t, form)

	// Without the form's CSRF token the link is refused and nothing changes.
	forged := url.Values{"case": {number}, "request_id": vals["request_id"]}
	if resp, _ := b.post("/reports/"+id, forged); resp.StatusCode != http.StatusForbidden {
		t.Errorf("a link without the CSRF token: %s, want 403", resp.Status)
	}
	if rep, _ := ts.reports().GetReport(ts.as(t, operatorID), &pb.GetReportRequest{Name: call.GetName()}); rep.GetCase() != "" {
		t.Fatalf("a link without the CSRF token attached the report to %s", rep.GetCase())
	}

	vals.Set("case", "HN-2026-99999")
	resp, body := b.post("/reports/"+id, vals)
	if resp.StatusCode == http.StatusSeeOther || !strings.Contains(body, `value="HN-2026-99999"`) || !strings.Contains(body, `role="alert"`) {
		t.Fatalf("linking to a case that does not exist: %s; the form must say why and keep the number typed:\n%s", resp.Status, body)
	}

	vals = formValues(t, body[strings.Index(body, `action="/reports/`+id+`"`):])
	vals.Set("case", number)
	resp, body = b.post("/reports/"+id, vals)
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("link: %s\n%s", resp.Status, body)
	}
	rep, err := ts.reports().GetReport(ts.as(t, operatorID), &pb.GetReportRequest{Name: call.GetName()})
	if err != nil || rep.GetCase() != "cases/"+number {
		t.Fatalf("the report after the form: case %q, %v", rep.GetCase(), err)
	}
	// A retry of the same form answers the first result.
	if resp, _ := b.post("/reports/"+id, vals); resp.StatusCode != http.StatusSeeOther {
		t.Errorf("a retry of the same form: %s", resp.Status)
	}
	_, page = b.get(resp.Header.Get("Location"))
	if !strings.Contains(page, number) || strings.Contains(page, `action="/reports/`+id+`"`) {
		t.Errorf("the report's page after linking does not show its case, or still offers the link")
	}
}
