package app_test

import (
	"html"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	pb "github.com/childcase/childcase/api/childcase/v1"
	"github.com/childcase/childcase/internal/domain/access"
	"github.com/childcase/childcase/internal/domain/model"
)

// The console's case page: the case as the API answers the person, and
// the forms of the steps they may take now (GetCase's allowed_steps),
// each a call to the API.

// caseConsole starts a console with a Ba Đình worker and chair, a Hoàn
// Kiếm worker, and a police liaison of Ba Đình's police, and opens an
// ordinary case in Ba Đình.
func caseConsole(t *testing.T) (*testServer, string) {
	t.Helper()
	ts, _ := startConsole(t)
	ts.addUser(t, "bd.worker", pb.Role_ROLE_COMMUNE_WORKER, pBaDinh)
	ts.addUser(t, "bd.chair", pb.Role_ROLE_COMMUNE_CHAIR, pBaDinh)
	ts.addUser(t, "hk.worker", pb.Role_ROLE_COMMUNE_WORKER, pHoanKiem)
	ts.addPoliceUnit(t, "ca-ba-dinh", pBaDinh)
	ts.addUser(t, "police.bd", pb.Role_ROLE_POLICE_LIAISON, "policeUnits/ca-ba-dinh")
	name := openCase(t, ts, testNow.Add(-time.Hour), "00004", pb.AbuseForm_ABUSE_FORM_SEXUAL_ABUSE)
	return ts, strings.TrimPrefix(name, "cases/")
}

// acknowledged has the Ba Đình worker acknowledge a case through the API
// and returns its name.
func acknowledged(t *testing.T, ts *testServer, number string) string {
	t.Helper()
	name := "cases/" + number
	if _, err := ts.process().AcknowledgeCase(ts.as(t, "bd.worker"), &pb.AcknowledgeCaseRequest{Name: name, Etag: etagOf(t, ts, "bd.worker", name)}); err != nil {
		t.Fatalf("acknowledge %s: %v", name, err)
	}
	return name
}

// openStep signs a browser in as user, opens a case page and returns
// the browser and the hidden fields of a step's form on it.
func openStep(t *testing.T, ts *testServer, user, number, step string) (*browser, url.Values) {
	t.Helper()
	b := newBrowser(t, ts)
	b.signIn(user)
	_, page := b.get("/cases/" + number)
	return b, formValues(t, stepForm(page, number, step))
}

// stepForm returns the HTML of a step's form on a case page, or "".
func stepForm(page, number, step string) string {
	i := strings.Index(page, `action="/cases/`+number+`/steps/`+step+`"`)
	if i < 0 {
		return ""
	}
	j := strings.Index(page[i:], "</form>")
	return page[i : i+j]
}

var hiddenField = regexp.MustCompile(`<input type="hidden" name="([^"]+)" value="([^"]*)">`)

// formValues are the hidden fields of a form (csrf, etag, request_id and
// what a stale edit compares), as a browser would send them.
func formValues(t *testing.T, form string) url.Values {
	t.Helper()
	if form == "" {
		t.Fatal("no such form on the page")
	}
	v := url.Values{}
	for _, m := range hiddenField.FindAllStringSubmatch(form, -1) {
		v.Add(html.UnescapeString(m[1]), html.UnescapeString(m[2]))
	}
	return v
}

func TestConsoleCasePageShowsDeadlines(t *testing.T) {
	ts, number := caseConsole(t)
	b := newBrowser(t, ts)
	b.signIn("bd.worker")
	resp, page := b.get("/cases/" + number)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("case page: %s\n%s", resp.Status, page)
	}
	c := getCase(t, ts, "bd.worker", "cases/"+number)
	ack := findDeadline(t, c, "ACKNOWLEDGE", "")
	due := ack.GetDueTime().AsTime().In(hanoi).Format("02/01/2006 15:04")
	table := page[strings.Index(page, `id="deadlines"`):]
	table = table[:strings.Index(table, "</table>")]
	for _, want := range []string{
		"Tiếp nhận hồ sơ",     // the kind
		"Giờ (tính liên tục)", // its clock, in words
		ack.GetCalendarVersion(),
		due, // in Vietnam time
		`datetime="` + ack.GetDueTime().AsTime().UTC().Format(time.RFC3339) + `"`,
		`class="countdown `,
		"Đang chạy",
	} {
		if want == "" || !strings.Contains(table, want) {
			t.Errorf("the deadlines table lacks %q:\n%s", want, table)
		}
	}
	if !strings.Contains(page, "Chờ tiếp nhận") || !strings.Contains(page, "Xâm hại tình dục") || !strings.Contains(page, "9 tuổi") {
		t.Error("the header lacks the status, the suspected abuse or the child's age")
	}
	// The worker reads the timeline, newest first.
	if !strings.Contains(page, `id="timeline"`) {
		t.Error("the worker's case page has no timeline")
	}
}

// TestConsoleAcknowledgeIsNotNamedForTwentyFourHours: the acknowledgement's
// time is the policy's (acknowledge, or acknowledge_emergency, 2 hours by
// default, for an emergency), so its name on the console states no hours:
// the README's walk-through opens an emergency whose acknowledgement is due
// in 2 hours, which the case page, the queues and the timeline called
// "Tiếp nhận (24 giờ)".
func TestConsoleAcknowledgeIsNotNamedForTwentyFourHours(t *testing.T) {
	ts, _ := startConsole(t)
	ts.addUser(t, "bd.worker", pb.Role_ROLE_COMMUNE_WORKER, pBaDinh)
	r := validReport()
	r.Caregivers[0].SuspectedAbuser = true // an emergency (Art. 31(1))
	created, err := ts.reports().CreateReport(ts.as(t, operatorID), &pb.CreateReportRequest{Report: r})
	if err != nil {
		t.Fatal(err)
	}
	ack := findDeadline(t, getCase(t, ts, "bd.worker", created.GetCase()), "ACKNOWLEDGE", "")
	if got := ack.GetDueTime().AsTime().Sub(ack.GetStartTime().AsTime()); got != 2*time.Hour {
		t.Fatalf("the emergency's ACKNOWLEDGE runs %v, want acknowledge_emergency's 2h", got)
	}
	b := newBrowser(t, ts)
	b.signIn("bd.worker")
	paths := []string{"/cases/" + strings.TrimPrefix(created.GetCase(), "cases/"), "/queues"}
	for _, lang := range []struct{ wrong, name string }{{"24 giờ", "Tiếp nhận hồ sơ"}, {"24 h", "Acknowledgement"}} {
		if lang.wrong == "24 h" {
			b.get("/lang/en?back=/")
		}
		for _, path := range paths {
			_, page := b.get(path)
			if strings.Contains(page, lang.wrong) {
				t.Errorf("%s names a deadline of %s, but the case's acknowledgement is due in 2 hours:\n%s", path, lang.wrong, page)
			}
			if !strings.Contains(page, lang.name) {
				t.Errorf("%s does not name the ACKNOWLEDGE deadline %q:\n%s", path, lang.name, page)
			}
		}
	}
}

func TestConsoleCaseWorkerAcknowledges(t *testing.T) {
	ts, number := caseConsole(t)
	b := newBrowser(t, ts)
	b.signIn("bd.worker")
	_, page := b.get("/cases/" + number)
	form := formValues(t, stepForm(page, number, "AcknowledgeCase"))
	resp, _ := b.post("/cases/"+number+"/steps/AcknowledgeCase", form)
	if resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(resp.Header.Get("Location"), "/cases/"+number) {
		t.Fatalf("acknowledge: %s to %q", resp.Status, resp.Header.Get("Location"))
	}
	if got := getCase(t, ts, "bd.worker", "cases/"+number).GetStatus(); got != pb.CaseStatus_CASE_STATUS_INITIAL_ASSESSMENT {
		t.Fatalf("status after the form: %v, want INITIAL_ASSESSMENT", got)
	}
	_, page = b.get(resp.Header.Get("Location"))
	if !strings.Contains(page, `class="flash"`) || !strings.Contains(page, "Đã ghi") || !strings.Contains(page, "Đánh giá ban đầu") {
		t.Error("the page after acknowledging says neither Đã ghi nor the new status")
	}
	// The timeline, newest first, says in words what happened.
	tl := page[strings.Index(page, `id="timeline"`):]
	if !regexp.MustCompile(`<tbody><tr><td><time [^>]+>[^<]+</time></td><td>Đã tiếp nhận</td><td>users/bd.worker</td>`).MatchString(tl) {
		t.Errorf("the timeline's newest entry is not the acknowledgement, in words:\n%s", tl)
	}
	// The same form sent again (a retry) answers the first result.
	if resp, _ := b.post("/cases/"+number+"/steps/AcknowledgeCase", form); resp.StatusCode != http.StatusSeeOther {
		t.Errorf("a retry of the same form: %s, want the first result", resp.Status)
	}
}

func TestConsoleCaseInvalidInputKeepsWhatWasTyped(t *testing.T) {
	ts, number := caseConsole(t)
	name := acknowledged(t, ts, number)
	b, form := openStep(t, ts, "bd.worker", number, "RecordInitialAssessment")
	form.Set("notes", "Trẻ ở với bà ngoại <tạm thời>")
	form.Set("abuser_access", "RISK_LEVEL_HIGH")
	form.Set("safety_obstacles", "RISK_LEVEL_LOW")
	// harm_severity is left out: the API requires it.
	resp, page := b.post("/cases/"+number+"/steps/RecordInitialAssessment", form)
	if resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("an assessment without harm_severity: %s, want 400", resp.Status)
	}
	f := stepForm(page, number, "RecordInitialAssessment")
	if !strings.Contains(f, "Trẻ ở với bà ngoại &lt;tạm thời&gt;</textarea>") {
		t.Errorf("the notes typed are not kept:\n%s", f)
	}
	if !regexp.MustCompile(`<option value="RISK_LEVEL_HIGH" selected>`).MatchString(f) {
		t.Error("the abuser_access chosen is not kept")
	}
	if !regexp.MustCompile(`name="harm_severity"[^>]*aria-invalid="true"`).MatchString(f) ||
		!regexp.MustCompile(`id="step-RecordInitialAssessment-harm_severity-err" role="alert">Hãy chọn một giá trị.<`).MatchString(f) {
		t.Errorf("the form does not name harm_severity and its rule beside the field:\n%s", f)
	}
	if got := getCase(t, ts, "bd.worker", name).GetStatus(); got != pb.CaseStatus_CASE_STATUS_INITIAL_ASSESSMENT {
		t.Errorf("status after a refused form: %v", got)
	}
	// A time that is no time is the console's to say, beside its field,
	// before the API is asked (the step is not yet allowed: its form is
	// posted as a hand-made request would be).
	form = formValues(t, stepForm(page, number, "RecordInitialAssessment"))
	form.Set("request_id", "web-specific-1")
	form.Set("meeting_time", "hôm qua")
	form.Set("needs", "tư vấn tâm lý")
	resp, page = b.post("/cases/"+number+"/steps/RecordSpecificAssessment", form)
	if resp.StatusCode != http.StatusBadRequest || !strings.Contains(page, "Nhập ngày và giờ (giờ Việt Nam).") || !strings.Contains(page, `value="hôm qua"`) {
		t.Errorf("a bad time: %s, want 400 naming the field with what was typed kept", resp.Status)
	}

	// Switching language from the refused form's page goes back to the case.
	if r, _ := b.get("/lang/en?back=/cases/" + number + "/steps/RecordInitialAssessment"); r.StatusCode == http.StatusSeeOther {
		if r, _ := b.get(r.Header.Get("Location")); r.StatusCode != http.StatusSeeOther || r.Header.Get("Location") != "/cases/"+number {
			t.Errorf("GET of a step's path: %s to %q, want the case page", r.Status, r.Header.Get("Location"))
		}
	} else {
		t.Errorf("language switch: %s", r.Status)
	}
}

func TestConsoleCaseStaleEdit(t *testing.T) {
	ts, number := caseConsole(t)
	name := acknowledged(t, ts, number)
	b, form := openStep(t, ts, "bd.worker", number, "RecordInitialAssessment")
	// While the form is open, the chair names another officer.
	ts.addUser(t, "bd.worker2", pb.Role_ROLE_COMMUNE_WORKER, pBaDinh)
	if _, err := ts.process().AssignCase(ts.as(t, "bd.chair"), &pb.AssignCaseRequest{Name: name, Etag: etagOf(t, ts, "bd.chair", name), Officer: "users/bd.worker2"}); err != nil {
		t.Fatal(err)
	}
	form.Set("notes", "Đã gặp trẻ tại trường")
	for _, f := range []string{"harm_severity", "abuser_access", "safety_obstacles"} {
		form.Set(f, "RISK_LEVEL_MEDIUM")
	}
	resp, page := b.post("/cases/"+number+"/steps/RecordInitialAssessment", form)
	if resp.StatusCode != http.StatusConflict {
		t.Fatalf("a stale form: %s, want 409", resp.Status)
	}
	f := stepForm(page, number, "RecordInitialAssessment")
	if !strings.Contains(f, "Hồ sơ đã được người khác cập nhật") || !strings.Contains(f, "Đã gặp trẻ tại trường</textarea>") {
		t.Fatalf("the stale form lacks the message or what was typed:\n%s", f)
	}
	// What changed: the officer in the header, and the assignment on the timeline.
	if !strings.Contains(f, "Test bd.worker2") || !strings.Contains(f, "Đã phân công cán bộ phụ trách") {
		t.Errorf("the stale form does not show what changed:\n%s", f)
	}
	again := formValues(t, f)
	newEtag := etagOf(t, ts, "bd.worker", name)
	if again.Get("etag") != newEtag || again.Get("etag") == form.Get("etag") {
		t.Fatalf("the stale form's etag %q, want the case's new one %q", again.Get("etag"), newEtag)
	}
	for k, v := range form {
		if _, hidden := again[k]; !hidden {
			again[k] = v
		}
	}
	resp, _ = b.post("/cases/"+number+"/steps/RecordInitialAssessment", again)
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("the second submit with the new etag: %s", resp.Status)
	}
	c := getCase(t, ts, "bd.worker", name)
	if c.GetStatus() != pb.CaseStatus_CASE_STATUS_SPECIFIC_ASSESSMENT || c.GetDossier().GetInitialAssessment().GetNotes() != "Đã gặp trẻ tại trường" {
		t.Errorf("after the second submit: status %v, notes %q", c.GetStatus(), c.GetDossier().GetInitialAssessment().GetNotes())
	}
}

func TestConsoleCaseOutOfScopeIsNotFound(t *testing.T) {
	ts, number := caseConsole(t)
	b := newBrowser(t, ts)
	b.signIn("hk.worker")
	resp, page := b.get("/cases/" + number)
	if resp.StatusCode != http.StatusNotFound || strings.Contains(page, `id="deadlines"`) || strings.Contains(page, "Xâm hại tình dục") {
		t.Errorf("another commune's worker on the case page: %s, want not found and nothing of the case", resp.Status)
	}
	_, unknown := b.get("/cases/HN-2026-99999")
	if strings.ReplaceAll(unknown, "HN-2026-99999", "N") != strings.ReplaceAll(page, number, "N") {
		t.Error("an out-of-scope case and an unknown one answer different pages")
	}
	_, own := b.get("/queues")
	resp, _ = b.post("/cases/"+number+"/steps/AcknowledgeCase", url.Values{"csrf": {csrfOf(t, own)}, "etag": {"x"}})
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("another commune's worker acknowledging: %s, want not found", resp.Status)
	}
	if c := getCase(t, ts, "bd.worker", "cases/"+number); c.GetStatus() != pb.CaseStatus_CASE_STATUS_AWAITING_ACKNOWLEDGEMENT {
		t.Errorf("status after an out-of-scope form: %v", c.GetStatus())
	}
}

// policeCase refers the console's case to Ba Đình's police.
func policeCase(t *testing.T, ts *testServer, number string) {
	t.Helper()
	name := acknowledged(t, ts, number)
	if _, err := ts.process().RecordInitialAssessment(ts.as(t, "bd.worker"), &pb.RecordInitialAssessmentRequest{Name: name, Etag: etagOf(t, ts, "bd.worker", name),
		HarmSeverity: low(), AbuserAccess: low(), SafetyObstacles: low(), Notes: "ghi chú của cán bộ xã"}); err != nil {
		t.Fatal(err)
	}
	if _, err := ts.process().ReferCaseToPolice(ts.as(t, "bd.worker"), &pb.ReferCaseToPoliceRequest{Name: name, Etag: etagOf(t, ts, "bd.worker", name),
		PoliceUnit: "policeUnits/ca-ba-dinh", SuspectedOffence: "Điều 146 BLHS"}); err != nil {
		t.Fatal(err)
	}
}

// reportName matches a report's resource name ("reports/{uuid}").
var reportName = regexp.MustCompile(`reports/[0-9a-f]{8}-[0-9a-f]{4}-`)

func TestConsoleCasePoliceView(t *testing.T) {
	ts, number := caseConsole(t)
	policeCase(t, ts, number)
	b := newBrowser(t, ts)
	b.signIn("police.bd")
	resp, page := b.get("/cases/" + number)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("the police case page: %s", resp.Status)
	}
	report := validReport()
	for _, secret := range []string{"ghi chú của cán bộ xã", report.GetNarrative(), report.GetReporter().GetIdentified().GetFullName(),
		report.GetChildren()[0].GetFullName(), `id="case.dossier"`, `id="timeline"`, "Đánh giá ban đầu"} {
		if strings.Contains(page, secret) {
			t.Errorf("the police page shows %q", secret)
		}
	}
	if name := reportName.FindString(page); name != "" {
		t.Errorf("the police page names a report: %s", name)
	}
	// The referral's state is a code of the API, said in the page's words.
	if strings.Contains(page, ">REFERRED<") || !strings.Contains(page, ">Đã chuyển<") {
		t.Error("the police page shows the referral's state as the API's code, not in Vietnamese")
	}
	if !strings.Contains(page, "Điều 146 BLHS") || !strings.Contains(page, "Công an tiếp nhận") {
		t.Error("the police page lacks the referral or its deadline")
	}
	// The referral awaits the police's acknowledgement: that is their
	// step now (TestConsoleStepsPoliceFollowTheirReferral follows it on).
	if stepForm(page, number, "AcknowledgePoliceReferral") == "" {
		t.Error("the police page has no AcknowledgePoliceReferral form")
	}
	for _, step := range []string{"AcknowledgeCase", "RecordInitialAssessment", "SubmitPlan", "AddCaseNote"} {
		if stepForm(page, number, step) != "" {
			t.Errorf("the police page has the social step %s", step)
		}
	}
	form := formValues(t, stepForm(page, number, "AcknowledgePoliceReferral"))
	form.Set("reference_number", "CA-BD-2026/117")
	if resp, _ := b.post("/cases/"+number+"/steps/AcknowledgePoliceReferral", form); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("police acknowledge: %s", resp.Status)
	}
	if r := getCase(t, ts, "bd.worker", "cases/"+number).GetPoliceReferrals()[0]; r.GetState() != "ACKNOWLEDGED" || r.GetReferenceNumber() != "CA-BD-2026/117" {
		t.Errorf("the referral after the police form: %v", r)
	}
}

// TestConsoleCaseAccessMatrix: for each role, the case page offers exactly
// the step forms GetCase allows the person now, never one the roles table
// does not let the role call, and a step posted by a role that may not
// take it changes nothing and shows no case. A role that may not call
// GetCase gets no case page.
func TestConsoleCaseAccessMatrix(t *testing.T) {
	ts, number := caseConsole(t)
	policeCase(t, ts, number)
	ts.addUser(t, "auditor", pb.Role_ROLE_AUDITOR, "orgs/system")
	users := map[string]model.Role{"bd.worker": model.RoleCommuneWorker, "bd.chair": model.RoleCommuneChair,
		"police.bd": model.RolePoliceLiaison, operatorID: model.RoleHotlineOperator, "auditor": model.RoleAuditor, "admin": model.RoleAdmin}
	steps := pb.File_childcase_v1_process_service_proto.Services().ByName("CaseProcessService").Methods()
	for user, role := range users {
		p := access.Principal{UserID: user, Role: role}
		b := newBrowser(t, ts)
		_, signin := b.get("/signin")
		if resp, _ := b.post("/signin", url.Values{"csrf": {csrfOf(t, signin)}, "user": {user}, "password": {"pw-" + user}}); resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("sign in as %s: %s", user, resp.Status)
		}
		resp, page := b.get("/cases/" + number)
		if !p.May("CaseService/GetCase") {
			if resp.StatusCode == http.StatusOK || strings.Contains(page, "Điều 146") {
				t.Errorf("%s (%s) may not call GetCase but gets the case page: %s", user, role, resp.Status)
			}
			continue
		}
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("%s: case page %s", user, resp.Status)
		}
		before := etagOf(t, ts, "bd.worker", "cases/"+number)
		allowed := getCase(t, ts, user, "cases/"+number).GetAllowedSteps()
		for i := range steps.Len() {
			step := string(steps.Get(i).Name())
			method := "CaseProcessService/" + step
			rule, _ := access.RuleFor(method)
			if rule.Step == "" {
				continue // a read (the timeline, the officers, the watch): no form
			}
			may := p.May(method)
			has := stepForm(page, number, step) != ""
			if has && !may {
				t.Errorf("%s (%s): form %s shown, the roles table refuses it", user, role, step)
			}
			if now := rule.Step != "" && slices.Contains(allowed, rule.Step); has != now {
				t.Errorf("%s (%s): form %s shown %v, GetCase's allowed_steps %v", user, role, step, has, allowed)
			}
			if !may {
				resp, body := b.post("/cases/"+number+"/steps/"+step, url.Values{"csrf": {csrfOf(t, page)}, "etag": {before}})
				if resp.StatusCode != http.StatusForbidden || strings.Contains(body, "Điều 146") {
					t.Errorf("%s (%s) posting %s: %s, want 403 with no case", user, role, step, resp.Status)
				}
			}
		}
		if after := etagOf(t, ts, "bd.worker", "cases/"+number); after != before {
			t.Errorf("%s's refused steps changed the case", user)
		}
	}
}

// TestConsoleCaseStepThatDoesNotApplyNow: the page does not offer a step
// the case's state does not allow; posted anyway (a page older than the
// case, a hand-made request), the API refuses it, and its reason shows in
// the form with what was typed.
func TestConsoleCaseStepThatDoesNotApplyNow(t *testing.T) {
	ts, number := caseConsole(t)
	b, form := openStep(t, ts, "bd.worker", number, "AcknowledgeCase")
	if _, page := b.get("/cases/" + number); stepForm(page, number, "StartReview") != "" {
		t.Error("the page offers StartReview on a case not acknowledged")
	}
	form.Set("request_id", "web-review-1")
	resp, page := b.post("/cases/"+number+"/steps/StartReview", form)
	if resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("a review of a case not acknowledged: %s, want 400", resp.Status)
	}
	f := stepForm(page, number, "StartReview")
	if !regexp.MustCompile(`<p class="error" role="alert">Chưa ghi: [^<]+<br><small>[^<]+</small></p>`).MatchString(f) {
		t.Errorf("the form does not say why the step was refused:\n%s", f)
	}
	if got := getCase(t, ts, "bd.worker", "cases/"+number).GetStatus(); got != pb.CaseStatus_CASE_STATUS_AWAITING_ACKNOWLEDGEMENT {
		t.Errorf("status after a refused step: %v", got)
	}
}
