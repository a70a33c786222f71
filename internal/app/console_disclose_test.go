package app_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	pb "github.com/childcase/childcase/api/childcase/v1"
)

// TestConsoleDisclosesTheReporterWithAReason: the README's reporter rule
// ("always returned as withheld; discloseReporter with a reason reveals
// it to a hotline supervisor or a city officer, audited with the reason
// before the answer leaves") holds in the console too, where the people
// who need it work. A case's page links to its reports for those who may
// read them; a report's page says the reporter is withheld; only a hotline
// supervisor and a city officer get the form that asks for the identity,
// which needs a reason the API takes (a short one is said on the form, in
// Vietnamese, and discloses nothing), and the answer shows the identity on
// that page only, with the disclosure and its reason on the audit log
// under the person's name. A worker who posts the form anyway is refused
// (403) and sees nothing.
func TestConsoleDisclosesTheReporterWithAReason(t *testing.T) {
	ts, number := caseConsole(t)
	ts.addUser(t, "auditor", pb.Role_ROLE_AUDITOR, "orgs/system")
	ts.addUser(t, "hl.sup", pb.Role_ROLE_HOTLINE_SUPERVISOR, "orgs/hotline-111")
	ts.addUser(t, "city.test", pb.Role_ROLE_CITY_OFFICER, "units/01@2020-01-01")
	rep, err := ts.reports().ListReports(ts.as(t, operatorID), &pb.ListReportsRequest{PageSize: 1})
	if err != nil || len(rep.GetReports()) != 1 {
		t.Fatalf("the case's report: %v %v", rep, err)
	}
	report := rep.GetReports()[0].GetName()
	id := strings.TrimPrefix(report, "reports/")
	const name, phone = "Trần Thị Mai", "0912 345 678"
	form := `id="reporter-form"`

	for _, user := range []string{"bd.worker", "bd.chair", operatorID} {
		b := newBrowser(t, ts)
		b.signIn(user)
		if _, page := b.get("/cases/" + number); !strings.Contains(page, `href="/reports/`+id+`"`) {
			t.Errorf("%s: the case page does not link to its report", user)
		}
		_, page := b.get("/" + report)
		if !strings.Contains(page, `id="reporter-withheld"`) || strings.Contains(page, form) || strings.Contains(page, name) {
			t.Errorf("%s: the report page should say the reporter is withheld and offer no form to disclose it", user)
		}
		csrf := csrfOf(t, page)
		_, head := newAuditEvents(t, ts, user, 0)
		resp, page := b.post("/"+report, url.Values{"csrf": {csrf}, "do": {"disclose"}, "reason": {"Cần gọi lại người báo tin để xác minh"}})
		if resp.StatusCode != http.StatusForbidden || strings.Contains(page, name) || strings.Contains(page, phone) {
			t.Errorf("%s posts the disclosure form: %s (identity shown: %v), want 403 and nothing", user, resp.Status, strings.Contains(page, name))
		}
		got, _ := newAuditEvents(t, ts, user, head)
		refused := false
		for _, e := range got {
			refused = refused || e.GetAction() == "auth.denied" && e.GetResource() == report && e.GetCase() == "cases/"+number
		}
		if !refused {
			t.Errorf("%s: the refused disclosure is not on the case's trail:%s", user, describeEvents(got))
		}
	}

	for _, user := range []string{"hl.sup", "city.test"} {
		b := newBrowser(t, ts)
		b.signIn(user)
		_, page := b.get("/" + report)
		if !strings.Contains(page, form) || strings.Contains(page, name) {
			t.Fatalf("%s: the report page should offer the form and not the identity:\n%s", user, page)
		}
		csrf := csrfOf(t, page)
		_, head := newAuditEvents(t, ts, user, 0)

		resp, page := b.post("/"+report, url.Values{"csrf": {csrf}, "do": {"disclose"}, "reason": {"vì sao"}})
		if resp.StatusCode != http.StatusUnprocessableEntity || strings.Contains(page, name) ||
			!strings.Contains(page, `id="reporter-reason-err"`) || !strings.Contains(page, "Lý do") || !strings.Contains(page, ">vì sao</textarea>") {
			t.Errorf("%s, a short reason: %s; want 422, the reason's error in Vietnamese, the reason kept, no identity:\n%s", user, resp.Status, page)
		}
		if got, _ := newAuditEvents(t, ts, user, head); hasEvent(got, "reporter.disclose", report+"/reporter", "cases/"+number, "ok") {
			t.Errorf("%s: a refused reason disclosed:%s", user, describeEvents(got))
		}

		reason := "Cần gọi lại người báo tin để xác minh địa chỉ của trẻ"
		// Another site's page cannot make the person's browser ask for
		// the identity, even with the form's token.
		if resp := b.postCrossSite("/"+report, url.Values{"csrf": {csrf}, "do": {"disclose"}, "reason": {reason}}); resp.StatusCode != http.StatusForbidden {
			t.Errorf("%s, a cross-site post of the disclosure form: %s, want 403", user, resp.Status)
		}
		if got, _ := newAuditEvents(t, ts, user, head); hasEvent(got, "reporter.disclose", report+"/reporter", "cases/"+number, "ok") {
			t.Errorf("%s: a cross-site post disclosed:%s", user, describeEventsWithReasons(got))
		}
		resp, page = b.post("/"+report, url.Values{"csrf": {csrf}, "do": {"disclose"}, "reason": {reason}})
		if resp.StatusCode != http.StatusOK || !strings.Contains(page, `id="reporter-identity"`) || !strings.Contains(page, name) || !strings.Contains(page, phone) {
			t.Errorf("%s, with a reason: %s; want the identity on the page:\n%s", user, resp.Status, page)
		}
		// The answer that shows the identity stays in no cache (a shared
		// computer's back button) and sends no referrer from its links.
		if h := resp.Header; h.Get("Cache-Control") != "no-store" || h.Get("Referrer-Policy") != "no-referrer" {
			t.Errorf("%s: the identity's answer has Cache-Control %q and Referrer-Policy %q, want no-store and no-referrer", user, h.Get("Cache-Control"), h.Get("Referrer-Policy"))
		}
		got, _ := newAuditEvents(t, ts, user, head)
		disclosed := false
		for _, e := range got {
			disclosed = disclosed || e.GetAction() == "reporter.disclose" && e.GetResource() == report+"/reporter" &&
				e.GetCase() == "cases/"+number && e.GetOutcome() == "ok" && e.GetReason() == reason
		}
		if !disclosed {
			t.Errorf("%s: the disclosure is not on the audit log with its reason:%s", user, describeEventsWithReasons(got))
		}
		if _, page := b.get("/" + report); strings.Contains(page, name) || !strings.Contains(page, `id="reporter-withheld"`) {
			t.Errorf("%s: the identity stays on the report page after its answer", user)
		}
	}
}
