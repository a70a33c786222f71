package app_test

import (
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	pb "github.com/childcase/childcase/api/childcase/v1"
)

// Vietnamese first for what the API says: the case page's timeline says
// each event's detail in the page's language, and a refused step says why
// in the catalog's words, the API's own sentence kept below in small.

// timelineOf is the timeline table of a case page.
func timelineOf(t *testing.T, page string) string {
	t.Helper()
	i := strings.Index(page, `id="timeline"`)
	if i < 0 {
		t.Fatalf("the page has no timeline:\n%s", page)
	}
	tl := page[i:]
	return tl[:strings.Index(tl, "</table>")]
}

// englishDetails are the domain's generated English details, as the API
// gives them (process/*.go): none may show on a Vietnamese page.
var englishDetails = []string{
	"due ", "forwarded to", "emergency:", "escalated", "overdue", "is now responsible", "from units/", " to units/",
	"% of the time used", "ACKNOWLEDGE", "INITIAL_ASSESSMENT", "POLICE_ACKNOWLEDGE", "TRANSFER_ACCEPT", "was due",
}

func TestConsoleTimelineDetailsInThePagesLanguage(t *testing.T) {
	ts := startConsoleAt(t, testNow)
	ts.addUser(t, "bd.worker", pb.Role_ROLE_COMMUNE_WORKER, pBaDinh)
	ts.addUser(t, "hk.worker", pb.Role_ROLE_COMMUNE_WORKER, pHoanKiem)
	ts.addUser(t, "city", pb.Role_ROLE_CITY_OFFICER, pCity)
	ts.addPoliceUnit(t, "ca-ba-dinh", pBaDinh)
	p := ts.process()
	bd, hk := ts.as(t, "bd.worker"), ts.as(t, "hk.worker")

	// A case walked through acknowledgement, the initial assessment, a
	// police referral and a transfer to Hoàn Kiếm.
	name := openCase(t, ts, testNow.Add(-time.Hour), "00004", pb.AbuseForm_ABUSE_FORM_SEXUAL_ABUSE)
	c, err := p.AcknowledgeCase(bd, &pb.AcknowledgeCaseRequest{Name: name, Etag: etagOf(t, ts, "bd.worker", name)})
	if err != nil {
		t.Fatalf("acknowledge: %v", err)
	}
	c, err = p.RecordInitialAssessment(bd, &pb.RecordInitialAssessmentRequest{Name: name, Etag: c.GetEtag(),
		HarmSeverity: low(), AbuserAccess: low(), SafetyObstacles: low()})
	if err != nil {
		t.Fatalf("initial assessment: %v", err)
	}
	c, err = p.ReferCaseToPolice(bd, &pb.ReferCaseToPoliceRequest{Name: name, Etag: c.GetEtag(),
		PoliceUnit: "policeUnits/ca-ba-dinh", SuspectedOffence: "Điều 146 BLHS"})
	if err != nil {
		t.Fatalf("refer: %v", err)
	}
	if _, err = p.ProposeTransfer(bd, &pb.ProposeTransferRequest{Name: name, Etag: c.GetEtag(), ToUnit: pHoanKiem, Reason: "trẻ sống ở Hoàn Kiếm"}); err != nil {
		t.Fatalf("propose: %v", err)
	}
	if _, err = p.AcceptTransfer(hk, &pb.AcceptTransferRequest{Name: name, Etag: etagOf(t, ts, "hk.worker", name)}); err != nil {
		t.Fatalf("accept: %v", err)
	}
	// Another case nobody acknowledges: the scheduler warns, finds it
	// overdue and escalates it to the city.
	late := openCase(t, ts, testNow.Add(-time.Hour), "00004")
	ack := findDeadline(t, getCase(t, ts, "city", late), "ACKNOWLEDGE", "")
	ts.advance(t, 25*time.Hour)
	waitEvents(t, ts, "city", late, "ESCALATED", ack.GetId(), 1)
	ack = findDeadline(t, getCase(t, ts, "city", late), "ACKNOWLEDGE", "")

	b := newBrowser(t, ts)
	b.signIn("city")
	number := strings.TrimPrefix(name, "cases/")
	resp, page := b.get("/cases/" + number)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("case page: %s", resp.Status)
	}
	tl := timelineOf(t, page)
	_, latePage := b.get("/" + late)
	lateTl := timelineOf(t, latePage)
	for _, en := range englishDetails {
		if strings.Contains(tl, en) || strings.Contains(lateTl, en) {
			t.Errorf("the Vietnamese timeline shows the API's English %q:\n%s\n%s", en, tl, lateTl)
		}
	}
	due := ack.GetDueTime().AsTime().In(hanoi).Format("02/01/2006 15:04")
	for _, want := range []string{
		"Chuyển đến Phường Ba Đình",              // FORWARDED
		"Khẩn cấp: Không",                        // INITIAL_ASSESSMENT_RECORDED
		"Từ Phường Ba Đình đến Phường Hoàn Kiếm", // TRANSFER_PROPOSED
		"Phường Hoàn Kiếm nay phụ trách hồ sơ",   // TRANSFER_ACCEPTED
		"<td>Công an ca-ba-dinh</td>",            // POLICE_REFERRAL: the police unit by its name, no more
		"Tiếp nhận hồ sơ, hạn ",                  // DEADLINE_STARTED, DEADLINE_MET
	} {
		if !strings.Contains(tl, want) {
			t.Errorf("the timeline lacks %q:\n%s", want, tl)
		}
	}
	for _, want := range []string{
		"Tiếp nhận hồ sơ, hạn " + due + ", đã báo cáo Thành phố Hà Nội", // ESCALATED
		"Tiếp nhận hồ sơ, hạn " + due + ", đơn vị Phường Ba Đình</td>",  // DEADLINE_BREACHED, before the escalation
	} {
		if !strings.Contains(lateTl, want) {
			t.Errorf("the overdue case's timeline lacks %q:\n%s", want, lateTl)
		}
	}

	// The English page says it in English.
	b.get("/lang/en?back=/")
	_, page = b.get("/cases/" + number)
	tl = timelineOf(t, page)
	for _, want := range []string{"Forwarded to Phường Ba Đình", "Emergency: No", "From Phường Ba Đình to Phường Hoàn Kiếm", "Acknowledgement, due "} {
		if !strings.Contains(tl, want) {
			t.Errorf("the English timeline lacks %q:\n%s", want, tl)
		}
	}
	_, latePage = b.get("/" + late)
	if want := "Acknowledgement, due " + due + ", escalated to Thành phố Hà Nội"; !strings.Contains(timelineOf(t, latePage), want) {
		t.Errorf("the English timeline lacks %q", want)
	}
}

// alertOf is the text of a form's alert, tags stripped.
var alertOf = regexp.MustCompile(`<p class="error" role="alert">(.*?)</p>`)

// TestConsoleRefusalsInThePagesLanguage: a refused step says why in the
// catalog's Vietnamese, for each kind of refusal: a precondition by its
// reason (the API's sentence kept below it), a field by its rule.
func TestConsoleRefusalsInThePagesLanguage(t *testing.T) {
	ts, number := caseConsole(t)

	// FAILED_PRECONDITION WRONG_STEP: a review of a case not acknowledged,
	// posted from a page of another time (the page now offers only the
	// steps allowed now, so the form's hidden fields come from another).
	b, form := openStep(t, ts, "bd.worker", number, "AcknowledgeCase")
	resp, page := b.post("/cases/"+number+"/steps/StartReview", form)
	if resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("a review of a case not acknowledged: %s, want 400", resp.Status)
	}
	m := alertOf.FindStringSubmatch(stepForm(page, number, "StartReview"))
	if m == nil || !strings.HasPrefix(m[1], "Chưa ghi: Bước này không áp dụng ở giai đoạn hiện tại của hồ sơ.<br><small>case ") {
		t.Errorf("WRONG_STEP is not said in Vietnamese with the API's words below: %q", m)
	}

	// The same refusal on the English page is English.
	en := newBrowser(t, ts)
	en.signIn("bd.worker")
	en.get("/lang/en?back=/")
	form = openStepAs(t, en, number, "AcknowledgeCase")
	_, page = en.post("/cases/"+number+"/steps/StartReview", form)
	if m := alertOf.FindStringSubmatch(stepForm(page, number, "StartReview")); m == nil || !strings.HasPrefix(m[1], "Not saved: This step does not apply at the case") {
		t.Errorf("WRONG_STEP on the English page: %q", m)
	}

	// INVALID_ARGUMENT: a field's rule, beside the field, in Vietnamese.
	name := acknowledged(t, ts, number)
	form = openStepAs(t, b, number, "RecordInitialAssessment")
	form.Set("abuser_access", "RISK_LEVEL_HIGH")
	form.Set("safety_obstacles", "RISK_LEVEL_LOW")
	_, page = b.post("/cases/"+number+"/steps/RecordInitialAssessment", form)
	if f := stepForm(page, number, "RecordInitialAssessment"); !strings.Contains(f, `id="step-RecordInitialAssessment-harm_severity-err" role="alert">Hãy chọn một giá trị.</p>`) {
		t.Errorf("harm_severity's rule is not said in Vietnamese beside it:\n%s", f)
	}

	// FAILED_PRECONDITION ALREADY_REFERRED: a second referral to the same
	// police unit, which only the request names (a case with a transfer
	// pending has no transfer form to refuse).
	if _, err := ts.process().ReferCaseToPolice(ts.as(t, "bd.worker"), &pb.ReferCaseToPoliceRequest{Name: name, Etag: etagOf(t, ts, "bd.worker", name),
		PoliceUnit: "policeUnits/ca-ba-dinh", SuspectedOffence: "Điều 146 BLHS"}); err != nil {
		t.Fatal(err)
	}
	form = openStepAs(t, b, number, "ReferCaseToPolice")
	form.Set("police_unit", "policeUnits/ca-ba-dinh")
	form.Set("suspected_offence", "lại")
	_, page = b.post("/cases/"+number+"/steps/ReferCaseToPolice", form)
	m = alertOf.FindStringSubmatch(stepForm(page, number, "ReferCaseToPolice"))
	if m == nil || !strings.HasPrefix(m[1], "Chưa ghi: Hồ sơ đã được chuyển cơ quan công an này.<br><small>") {
		t.Errorf("ALREADY_REFERRED is not said in Vietnamese: %q", m)
	}
}

// TestConsoleRefusalPageInThePagesLanguage: a refusal answered as a page
// of its own (an admin disabling their own user) is said in the
// catalog's Vietnamese, the API's sentence below it in small.
func TestConsoleRefusalPageInThePagesLanguage(t *testing.T) {
	ts, _ := startConsole(t)
	ts.addUser(t, "admin.test", pb.Role_ROLE_ADMIN, "orgs/system")
	b := newBrowser(t, ts)
	b.signInTo("admin.test")
	_, page := b.get("/admin/users/admin.test/disable")
	resp, page := b.post("/admin/users/admin.test/disable", url.Values{"csrf": {csrfOf(t, page)}, "request_id": {"web-self"}})
	if resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("an admin disabling their own user: %s, want 400", resp.Status)
	}
	want := `<p class="error" role="alert">Quản trị viên không thể tự khóa tài khoản của mình; hãy nhờ quản trị viên khác.<br><small>an admin cannot disable their own user; ask another admin</small></p>`
	if !strings.Contains(page, want) {
		t.Errorf("SELF_DISABLE is not said in Vietnamese with the API's words below:\n%s", page)
	}
}

// openStepAs opens a case page in a signed-in browser and returns the
// hidden fields of a step's form on it.
func openStepAs(t *testing.T, b *browser, number, step string) url.Values {
	t.Helper()
	_, page := b.get("/cases/" + number)
	return formValues(t, stepForm(page, number, step))
}
