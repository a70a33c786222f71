package app_test

import (
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	pb "github.com/childcase/childcase/api/childcase/v1"
	"github.com/childcase/childcase/internal/domain/vntime"
)

// The intake screen (Mẫu 01): checked against the API before saving,
// saved once however often the form is sent, answered with the case
// number to read aloud.

var requestIDField = regexp.MustCompile(`name="request_id" value="([^"]+)"`)

// intakeForm opens a blank intake form and returns its CSRF token and
// request id.
func (b *browser) intakeForm() (csrf, requestID string) {
	b.t.Helper()
	resp, page := b.get("/reports/new")
	if resp.StatusCode != http.StatusOK {
		b.t.Fatalf("GET /reports/new: %s\n%s", resp.Status, page)
	}
	m := requestIDField.FindStringSubmatch(page)
	if m == nil {
		b.t.Fatalf("the intake form has no request_id:\n%s", page)
	}
	return csrfOf(b.t, page), m[1]
}

// callForm is a call about a 9-year-old girl in Phường Ba Đình, taken an
// hour before testNow, as the operator types it.
func callForm(csrf, requestID string) url.Values {
	return url.Values{
		"csrf": {csrf}, "request_id": {requestID}, "children_count": {"1"}, "caregivers_count": {"1"},
		"channel": {"CHANNEL_HOTLINE_111"}, "means": {"REPORT_MEANS_PHONE_CALL"}, "call_type": {"CALL_TYPE_INTERVENTION"},
		"receive_time":          {testNow.Add(-time.Hour).In(vntime.Location()).Format("2006-01-02T15:04")},
		"incident_commune_code": {"00004"},
		"reporter.kind":         {"anonymous"},
		"children[0].full_name": {"Trần Thị Mai"}, "children[0].age": {"9"}, "children[0].sex": {"SEX_FEMALE"},
		"suspected_abuse": {"ABUSE_FORM_VIOLENCE"},
		"narrative":       {"Hàng xóm nghe tiếng trẻ khóc và tiếng đánh đập mỗi tối."},
	}
}

// with returns a copy of a form with fields set (or removed, for "").
func with(form url.Values, kv ...string) url.Values {
	out := url.Values{}
	for k, v := range form {
		out[k] = append([]string(nil), v...)
	}
	for i := 0; i+1 < len(kv); i += 2 {
		if kv[i+1] == "" {
			out.Del(kv[i])
		} else {
			out.Set(kv[i], kv[i+1])
		}
	}
	return out
}

// invalidInput reports whether the page marks the input of an id invalid
// and shows an error text tied to it.
func invalidInput(page, id string) bool {
	input := regexp.MustCompile(`id="` + regexp.QuoteMeta(id) + `"[^>]*aria-invalid="true"[^>]*aria-describedby="[^"]*` + regexp.QuoteMeta(id) + `-err`)
	return input.MatchString(page) && strings.Contains(page, `id="`+id+`-err" class="field-error"`)
}

func countReportsOf(t *testing.T, ts *testServer, user string) int {
	t.Helper()
	resp, err := ts.reports().ListReports(ts.as(t, user), &pb.ListReportsRequest{PageSize: 500})
	if err != nil {
		t.Fatal(err)
	}
	return len(resp.GetReports())
}

func TestConsoleIntakeNamesTheFieldOfEachError(t *testing.T) {
	ts, _ := startConsole(t)
	b := newBrowser(t, ts)
	if page := b.signIn(operatorID); !strings.Contains(page, `href="/reports/new"`) {
		t.Error("the operator's navigation has no intake link")
	}
	csrf, id := b.intakeForm()

	// The schema's rules: no call type, a commune code of 2 digits, no
	// choice of the reporter's identity. Each lands on its input, and
	// everything typed comes back.
	form := with(callForm(csrf, id), "call_type", "", "incident_commune_code", "12", "reporter.kind", "")
	resp, page := b.post("/reports/new", form)
	if resp.StatusCode != http.StatusUnprocessableEntity {
		t.Fatalf("check of an invalid form: %s", resp.Status)
	}
	for _, id := range []string{"call_type", "incident_commune_code", "reporter-kind"} {
		if !invalidInput(page, id) {
			t.Errorf("the page does not mark %s invalid with its error", id)
		}
	}
	if !strings.Contains(page, `role="alert" id="errors"`) || !strings.Contains(page, `href="#incident_commune_code"`) {
		t.Error("no error summary with role=alert linking to the fields")
	}
	for _, typed := range []string{"Trần Thị Mai", "Hàng xóm nghe tiếng trẻ khóc", `value="12"`, `value="` + id + `"`} {
		if !strings.Contains(page, typed) {
			t.Errorf("the page lost what was typed: %q", typed)
		}
	}

	// The domain's rules, once the shape is right: a birth date after the
	// day of the report, given in the second child block.
	form = with(callForm(csrf, id), "children_count", "2",
		"children[1].full_name", "Trần Văn An", "children[1].birth_date", "2027-01-01", "children[1].sex", "SEX_MALE")
	resp, page = b.post("/reports/new", form)
	if resp.StatusCode != http.StatusUnprocessableEntity || !invalidInput(page, "children-1-birth_date") {
		t.Errorf("a birth date after the report: %s, second child's birth date marked invalid: %v", resp.Status, invalidInput(page, "children-1-birth_date"))
	}
	if invalidInput(page, "children-0-age") {
		t.Error("the first child is marked invalid for the second child's error")
	}
	if n := countReportsOf(t, ts, operatorID); n != 0 {
		t.Errorf("checks stored %d reports, want none", n)
	}
}

func TestConsoleIntakeAddsAChildWithoutScript(t *testing.T) {
	ts, _ := startConsole(t)
	b := newBrowser(t, ts)
	b.signIn(operatorID)
	csrf, id := b.intakeForm()
	resp, page := b.post("/reports/new", with(callForm(csrf, id), "do", "add-child"))
	if resp.StatusCode != http.StatusOK || !strings.Contains(page, `id="children-1-full_name"`) {
		t.Fatalf("add a child: %s, second child block shown: %v", resp.Status, strings.Contains(page, `id="children-1-full_name"`))
	}
	if !strings.Contains(page, "Trần Thị Mai") || !strings.Contains(page, `name="children_count" value="2"`) {
		t.Error("adding a child lost the first child or the count")
	}
}

func TestConsoleIntakeShowsCandidatesAndJoinsTheCase(t *testing.T) {
	ts, _ := startConsole(t)
	ts.addUser(t, "operator.two", pb.Role_ROLE_HOTLINE_OPERATOR, "orgs/hotline-111")
	first, err := ts.reports().CreateReport(ts.as(t, operatorID), &pb.CreateReportRequest{Report: firstCall()})
	if err != nil {
		t.Fatal(err)
	}
	number := strings.TrimPrefix(first.GetCase(), "cases/")

	// The second call, by another operator: the name without diacritics,
	// given name first, the mother's phone in E.164.
	b := newBrowser(t, ts)
	b.signIn("operator.two")
	csrf, id := b.intakeForm()
	form := with(callForm(csrf, id),
		"children[0].full_name", "Nhung Nguyen Thi Hong", "children[0].age", "9",
		"caregivers[0].full_name", "Le Thi Thu", "caregivers[0].relation", "me", "caregivers[0].phone", "+84987111222")
	resp, page := b.post("/reports/new", form)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("check: %s\n%s", resp.Status, page)
	}
	if !strings.Contains(page, `value="`+first.GetCase()+`"`) || !strings.Contains(page, "Nhập vào hồ sơ này") {
		t.Fatalf("the check does not offer to join %s:\n%s", number, page)
	}
	// The candidate as this operator may see it: status and the child's
	// age and sex, never the first call's names.
	for _, want := range []string{"Chờ tiếp nhận", "Nữ", "tên trẻ", "số điện thoại", "Mở hồ sơ mới"} {
		if !strings.Contains(page, want) {
			t.Errorf("the candidate row lacks %q", want)
		}
	}
	if strings.Contains(page, "Lê Thị Thu") || strings.Contains(page, "Hồng Nhung") {
		t.Error("the candidate row shows a name of the first call")
	}
	if n := countReportsOf(t, ts, "operator.two"); n != 0 {
		t.Fatalf("the check stored %d reports", n)
	}

	resp, _ = b.post("/reports/new", with(form, "case", first.GetCase(), "do", "save"))
	where := resp.Header.Get("Location")
	if resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(where, "/reports/") {
		t.Fatalf("save: %s to %q", resp.Status, where)
	}
	resp, page = b.get(where)
	if resp.StatusCode != http.StatusOK || !strings.Contains(page, "Đã lưu") || !strings.Contains(page, `id="case-number">`+number+`<`) {
		t.Fatalf("confirmation: %s, want Đã lưu and %s\n%s", resp.Status, number, page)
	}
	if !strings.Contains(page, "Phường Ba Đình") {
		t.Error("the confirmation does not name the case's commune")
	}
	if c := getCase(t, ts, "operator.two", first.GetCase()); len(c.GetReports()) != 2 {
		t.Errorf("the joined case has reports %v, want the first call's and the console's", c.GetReports())
	}
}

func TestConsoleIntakeRetryMakesOneReport(t *testing.T) {
	ts, _ := startConsole(t)
	b := newBrowser(t, ts)
	b.signIn(operatorID)
	csrf, id := b.intakeForm()
	form := with(callForm(csrf, id), "do", "save")

	var places []string
	for range 3 { // a double click, then "resubmit the form" after a reload
		resp, _ := b.post("/reports/new", form)
		if resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("save: %s", resp.Status)
		}
		places = append(places, resp.Header.Get("Location"))
	}
	if places[0] != places[1] || places[1] != places[2] {
		t.Errorf("the same form saved answered %v, want one report", places)
	}
	if n := countReportsOf(t, ts, operatorID); n != 1 {
		t.Errorf("%d reports after saving the same form 3 times, want 1", n)
	}
	resp, page := b.get(places[0])
	if resp.StatusCode != http.StatusOK || !strings.Contains(page, "Đã lưu") || !regexp.MustCompile(`id="case-number">HN-2026-[0-9]+<`).MatchString(page) {
		t.Fatalf("confirmation: %s\n%s", resp.Status, page)
	}
	// The first deadline, in Vietnam time: the commune acknowledges
	// within 24 hours.
	if !strings.Contains(page, "Tiếp nhận hồ sơ") || !strings.Contains(page, "/11/2026") {
		t.Error("the confirmation does not show the case's first deadline")
	}
}

// The access matrix of the intake routes: a role the roles table does
// not let call CreateReport gets no link and a refusal; a police liaison,
// who may, records a report and gets a receipt; a report or case out of
// the person's scope is not found.
func TestConsoleIntakeAccess(t *testing.T) {
	ts, _ := startConsole(t)
	ts.addUser(t, "auditor", pb.Role_ROLE_AUDITOR, "orgs/system")
	ts.addUser(t, "operator.swc", pb.Role_ROLE_HOTLINE_OPERATOR, "orgs/social-work-centre")
	ts.addUser(t, "worker.hk", pb.Role_ROLE_COMMUNE_WORKER, pHoanKiem)
	ts.addPoliceUnit(t, "ca-ba-dinh", pBaDinh)
	ts.addUser(t, "police.bd", pb.Role_ROLE_POLICE_LIAISON, "policeUnits/ca-ba-dinh")

	auditor := newBrowser(t, ts)
	_, page := auditor.get("/signin")
	if resp, _ := auditor.post("/signin", url.Values{"csrf": {csrfOf(t, page)}, "user": {"auditor"}, "password": {"pw-auditor"}}); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("auditor sign-in: %s", resp.Status)
	}
	resp, page := auditor.get("/reports/new")
	if resp.StatusCode != http.StatusForbidden || strings.Contains(page, `href="/reports/new"`) || strings.Contains(page, "request_id") {
		t.Errorf("auditor GET /reports/new: %s, intake link or form shown: %v", resp.Status, strings.Contains(page, "request_id"))
	}
	if resp, _ := auditor.post("/reports/new", with(callForm(csrfOf(t, page), "r1"), "do", "save")); resp.StatusCode != http.StatusForbidden {
		t.Errorf("auditor POST /reports/new: %s, want 403", resp.Status)
	}

	op := newBrowser(t, ts)
	op.signIn(operatorID)
	csrf, id := op.intakeForm()
	resp, _ = op.post("/reports/new", with(callForm(csrf, id), "do", "save"))
	saved := resp.Header.Get("Location")
	number := regexp.MustCompile(`HN-[0-9]{4}-[0-9]+`)
	_, page = op.get(saved)
	caseNumber := number.FindString(page)
	if caseNumber == "" {
		t.Fatalf("no case number on the confirmation:\n%s", page)
	}

	// Out of scope: another organisation's operator and another commune's
	// worker find neither the report nor its case.
	for _, user := range []string{"operator.swc", "worker.hk"} {
		o := newBrowser(t, ts)
		o.signIn(user)
		if resp, page := o.get(saved); resp.StatusCode != http.StatusNotFound || strings.Contains(page, caseNumber) {
			t.Errorf("%s GET %s: %s, want 404 without the case number", user, saved, resp.Status)
		}
		if resp, page := o.get("/reports/receipt?case=" + caseNumber); resp.StatusCode != http.StatusNotFound || strings.Contains(page, "Đã lưu") {
			t.Errorf("%s GET the receipt of %s: %s, want 404", user, caseNumber, resp.Status)
		}
	}

	// The police record a report they received and get a receipt: the
	// case, not the report.
	police := newBrowser(t, ts)
	police.signIn("police.bd")
	csrf, id = police.intakeForm()
	form := with(callForm(csrf, id), "channel", "CHANNEL_POLICE", "do", "save")
	resp, _ = police.post("/reports/new", form)
	if where := resp.Header.Get("Location"); resp.StatusCode != http.StatusSeeOther || !savedPlace.MatchString(where) {
		t.Fatalf("police save: %s to %q, want the receipt", resp.Status, where)
	}
	resp, page = police.get(resp.Header.Get("Location"))
	if resp.StatusCode != http.StatusOK || !strings.Contains(page, "Đã lưu") || number.FindString(page) == "" || strings.Contains(page, "Hàng xóm") {
		t.Errorf("police receipt: %s, want Đã lưu with the case number and nothing of the report\n%s", resp.Status, page)
	}
}

// A commune worker may record a call about a child of another commune
// (someone walks into their office): the API saves it, answers the case
// it opened there, and shows the worker their report, but not that case,
// which is the other commune's. The confirmation and the report's page
// say so, with the case number to read aloud, rather than answer "not
// found" to the person who just saved it, who would take the call for
// lost and record it again.
func TestConsoleIntakeOfAnotherCommuneIsConfirmed(t *testing.T) {
	ts, _ := startConsole(t)
	ts.addUser(t, "worker.hk", pb.Role_ROLE_COMMUNE_WORKER, pHoanKiem)
	b := newBrowser(t, ts)
	b.signIn("worker.hk")
	csrf, id := b.intakeForm()
	resp, _ := b.post("/reports/new", with(callForm(csrf, id), "channel", "CHANNEL_COMMUNE", "do", "save"))
	saved := resp.Header.Get("Location")
	if resp.StatusCode != http.StatusSeeOther || saved == "" {
		t.Fatalf("save: %s to %q", resp.Status, saved)
	}
	reports, err := ts.reports().ListReports(ts.as(t, "worker.hk"), &pb.ListReportsRequest{})
	if err != nil || len(reports.GetReports()) != 1 || reports.GetReports()[0].GetCase() == "" {
		t.Fatalf("ListReports of the worker = %v, %v; want the one report, with its case", reports.GetReports(), err)
	}
	report := reports.GetReports()[0]
	caseNumber := strings.TrimPrefix(report.GetCase(), "cases/")
	for _, path := range []string{saved, "/" + report.GetName()} {
		resp, page := b.get(path)
		if resp.StatusCode != http.StatusOK || !strings.Contains(page, `id="case-number">`+caseNumber+`<`) {
			t.Errorf("GET %s: %s, want 200 with case number %s\n%s", path, resp.Status, caseNumber, page)
		}
		// Nothing of the case the worker may not see, nor a link to it.
		if strings.Contains(page, `href="/cases/`+caseNumber+`"`) {
			t.Errorf("GET %s links the case %s, which the worker may not open", path, caseNumber)
		}
	}
	if n := countReportsOf(t, ts, "worker.hk"); n != 1 {
		t.Errorf("%d reports of the worker, want 1", n)
	}
}

// TestBrowserOperatorRecordsACall: the operator records a call in a real
// browser, checks it, saves it and reads the case number to the caller.
func TestBrowserOperatorRecordsACall(t *testing.T) {
	ts, _ := startConsole(t)
	ctx := newTab(t)
	base := "http://" + ts.HTTPAddr()
	browserSignIn(t, ctx, base, operatorID, "pw-"+operatorID)

	// The menu leads to the form. The test goes there by the link's
	// address, so that it fills the form once the page has loaded: a click
	// lets the next actions run while the browser may still be swapping
	// documents, and a node found in one is gone in the next (CI failed
	// with "Could not find node with given id" under load).
	link, err := chromedp.Run(ctx, chromedp.AttributeValue(chromedp.CSS(`nav a[href="/reports/new"]`), "href"))
	if err != nil || !link.Exists {
		t.Fatalf("the menu's link to the intake form: %v", err)
	}
	err = chromedp.Do(ctx,
		chromedp.Navigate(base+link.Value),
		chromedp.WaitVisible(chromedp.ID("narrative")),
		fillIntake(testNow.Add(-time.Hour), "Trần Thị Mai", "Hàng xóm nghe tiếng trẻ khóc và tiếng đánh đập mỗi tối."),
	)
	if err != nil {
		t.Fatalf("fill the form: %v", err)
	}
	saveScreenshot(t, ctx, "intake")
	err = chromedp.Do(ctx,
		chromedp.Click(chromedp.CSS(`.actions button[value="check"]`)),
		chromedp.WaitVisible(chromedp.CSS(`button[value="save"]`)),
	)
	if err != nil {
		t.Fatalf("check: %v", err)
	}
	if got := text(t, ctx, ".candidates"); !strings.Contains(got, "Không tìm thấy hồ sơ nào có thể trùng") {
		t.Errorf("the check says %q, want no candidates", got)
	}
	err = chromedp.Do(ctx,
		chromedp.Click(chromedp.CSS(`button[value="save"]`)),
		chromedp.WaitVisible(chromedp.ID("case-number")),
	)
	if err != nil {
		t.Fatalf("save: %v", err)
	}
	if got := text(t, ctx, "#saved-h"); got != "Đã lưu" {
		t.Errorf("the confirmation says %q, want Đã lưu", got)
	}
	if got := text(t, ctx, "#case-number"); !regexp.MustCompile(`^HN-2026-[0-9]+$`).MatchString(got) {
		t.Errorf("the case number reads %q", got)
	}
	saveScreenshot(t, ctx, "intake-saved")
}

// fillIntake fills the intake form open in the tab: an intervention call
// received at receive about a girl of 9 in Ba Đình (00004), an anonymous
// reporter, violence suspected, and the narrative.
func fillIntake(receive time.Time, child, narrative string) chromedp.Action[chromedp.Void] {
	return chromedp.Steps(
		chromedp.SetValue(chromedp.ID("receive_time"), receive.In(vntime.Location()).Format("2006-01-02T15:04")),
		chromedp.SetValue(chromedp.ID("call_type"), "CALL_TYPE_INTERVENTION"),
		chromedp.SendKeys(chromedp.ID("incident_commune_code"), "00004"),
		chromedp.Click(chromedp.CSS(`input[name="reporter.kind"][value="anonymous"]`)),
		chromedp.SendKeys(chromedp.ID("children-0-full_name"), child),
		chromedp.SendKeys(chromedp.ID("children-0-age"), "9"),
		chromedp.SetValue(chromedp.ID("children-0-sex"), "SEX_FEMALE"),
		chromedp.Click(chromedp.CSS(`input[name="suspected_abuse"][value="ABUSE_FORM_VIOLENCE"]`)),
		chromedp.SendKeys(chromedp.ID("narrative"), narrative),
	)
}
