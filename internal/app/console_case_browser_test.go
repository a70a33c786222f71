package app_test

import (
	"context"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	pb "github.com/childcase/childcase/api/childcase/v1"
	"github.com/childcase/childcase/internal/browsertest"
)

// The case page in a real browser: one scenario per role of the case's
// steps, and a stale edit.

// sendStep types into a step's form on the case page (the forms of the
// steps allowed now are open), sends it and waits for the page that says
// it was saved.
func sendStep(t *testing.T, ctx context.Context, step string, fill ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	id := "step-" + step
	steps := []chromedp.Action[chromedp.Void]{
		chromedp.WaitVisible(chromedp.CSS("#" + id + " button[type=submit]")),
	}
	steps = append(steps, fill...)
	// The last step's message goes, so that the next one seen is this step's.
	steps = append(steps, chromedp.Evaluate[chromedp.Void](`document.querySelectorAll(".flash").forEach(function (e) { e.remove(); })`))
	if err := chromedp.Do(ctx, steps...); err != nil {
		t.Fatalf("fill %s: %v", step, err)
	}
	// The page that answers has loaded before anything on it is read or
	// filled: a wait for its message alone could hold nodes of a document
	// the browser then replaced ("No node with given id found").
	browsertest.ClickAndWait(t, ctx, "#"+id+" button[type=submit]")
	if err := chromedp.Do(ctx, chromedp.WaitVisible(chromedp.CSS(".flash"))); err != nil {
		t.Fatalf("send %s: %v", step, err)
	}
}

// openCasePage navigates to a case page.
func openCasePage(t *testing.T, ctx context.Context, base, number string) {
	t.Helper()
	if err := chromedp.Do(ctx, chromedp.Navigate(base+"/cases/"+number), chromedp.WaitVisible(chromedp.CSS("#case-status"))); err != nil {
		t.Fatalf("open the case page: %v", err)
	}
}

func TestBrowserWorkerAcknowledgesAndAssesses(t *testing.T) {
	ts, number := caseConsole(t)
	ctx := newTab(t)
	base := "http://" + ts.HTTPAddr()
	browserSignIn(t, ctx, base, "bd.worker", "pw-bd.worker")
	openCasePage(t, ctx, base, number)
	if s := text(t, ctx, "#case-status"); s != "Chờ tiếp nhận" {
		t.Fatalf("status on the page: %q", s)
	}
	sendStep(t, ctx, "AcknowledgeCase")
	if f, s := text(t, ctx, ".flash"), text(t, ctx, "#case-status"); f != "Đã ghi" || s != "Đánh giá ban đầu" {
		t.Fatalf("after acknowledging: flash %q, status %q", f, s)
	}
	id := "step-RecordInitialAssessment-"
	sendStep(t, ctx, "RecordInitialAssessment",
		chromedp.SetValue(chromedp.ID(id+"harm_severity"), "RISK_LEVEL_MEDIUM"),
		chromedp.SetValue(chromedp.ID(id+"abuser_access"), "RISK_LEVEL_LOW"),
		chromedp.SetValue(chromedp.ID(id+"safety_obstacles"), "RISK_LEVEL_LOW"),
		chromedp.SendKeys(chromedp.ID(id+"notes"), "Đã gặp trẻ và bà ngoại tại nhà."),
	)
	if f, s := text(t, ctx, ".flash"), text(t, ctx, "#case-status"); f != "Đã ghi" || s != "Đánh giá chi tiết" {
		t.Fatalf("after the initial assessment: flash %q, status %q", f, s)
	}
	dossier := text(t, ctx, `[id="case.dossier"]`)
	if !strings.Contains(dossier, "Đã gặp trẻ và bà ngoại tại nhà.") || !strings.Contains(dossier, "Trung bình") {
		t.Errorf("the dossier does not show the assessment:\n%s", dossier)
	}
	if tl := text(t, ctx, "#timeline tbody tr"); !strings.Contains(tl, "Đã đánh giá ban đầu") {
		t.Errorf("the newest timeline entry is %q, want the assessment", tl)
	}
	saveScreenshot(t, ctx, "case")
}

func TestBrowserChairApprovesPlan(t *testing.T) {
	ts, number := caseConsole(t)
	name, day := toPlanDraft(t, ts, number)
	submitPlan(t, ts, name, day)
	ctx := newTab(t)
	base := "http://" + ts.HTTPAddr()
	browserSignIn(t, ctx, base, "bd.chair", "pw-bd.chair")
	openCasePage(t, ctx, base, number)
	if s := text(t, ctx, `[id="case.services"]`); !strings.Contains(s, "tư vấn tâm lý") {
		t.Fatalf("the chair's page does not show the plan's service:\n%s", s)
	}
	id := "step-ApprovePlan-"
	sendStep(t, ctx, "ApprovePlan",
		chromedp.SendKeys(chromedp.ID(id+"decision_number"), "125/QĐ-UBND"),
		chromedp.SetValue(chromedp.ID(id+"decision_date"), day),
	)
	if f, s := text(t, ctx, ".flash"), text(t, ctx, "#case-status"); f != "Đã ghi" || s != "Thực hiện kế hoạch" {
		t.Fatalf("after approving: flash %q, status %q", f, s)
	}
	if d := text(t, ctx, `[id="case.dossier"]`); !strings.Contains(d, "125/QĐ-UBND") {
		t.Errorf("the dossier lacks the approval decision:\n%s", d)
	}
}

func TestBrowserPoliceView(t *testing.T) {
	ts, number := caseConsole(t)
	policeCase(t, ts, number)
	ctx := newTab(t)
	base := "http://" + ts.HTTPAddr()
	browserSignIn(t, ctx, base, "police.bd", "pw-police.bd")
	openCasePage(t, ctx, base, number)
	hidden, err := chromedp.Run(ctx, chromedp.Evaluate[bool](
		`!document.getElementById("case.dossier") && !document.getElementById("timeline") && !document.getElementById("step-AcknowledgeCase")`))
	if err != nil {
		t.Fatal(err)
	}
	if !hidden {
		t.Error("the police page has a dossier, a timeline or a social step")
	}
	if body := text(t, ctx, "main"); strings.Contains(body, "ghi chú của cán bộ xã") || strings.Contains(body, validReport().GetNarrative()) {
		t.Error("the police page shows the commune's notes or the report's narrative")
	}
	saveScreenshot(t, ctx, "police")
	sendStep(t, ctx, "AcknowledgePoliceReferral",
		chromedp.SendKeys(chromedp.ID("step-AcknowledgePoliceReferral-reference_number"), "CA-BD-2026/117"))
	if f := text(t, ctx, ".flash"); f != "Đã ghi" {
		t.Fatalf("after the police acknowledgement: flash %q", f)
	}
	if r := text(t, ctx, `[id="case.referrals"]`); !strings.Contains(r, "CA-BD-2026/117") {
		t.Errorf("the referral does not show the police reference:\n%s", r)
	}
}

func TestBrowserStaleEdit(t *testing.T) {
	ts, number := caseConsole(t)
	name := acknowledged(t, ts, number)
	ts.addUser(t, "bd.worker2", pb.Role_ROLE_COMMUNE_WORKER, pBaDinh)
	ctx := newTab(t)
	base := "http://" + ts.HTTPAddr()
	browserSignIn(t, ctx, base, "bd.worker", "pw-bd.worker")
	openCasePage(t, ctx, base, number)
	id := "step-RecordInitialAssessment-"
	fill := []chromedp.Action[chromedp.Void]{
		chromedp.SetValue(chromedp.ID(id+"harm_severity"), "RISK_LEVEL_HIGH"),
		chromedp.SetValue(chromedp.ID(id+"abuser_access"), "RISK_LEVEL_LOW"),
		chromedp.SetValue(chromedp.ID(id+"safety_obstacles"), "RISK_LEVEL_LOW"),
		chromedp.SendKeys(chromedp.ID(id+"notes"), "Trẻ kể bị đánh bằng roi."),
	}
	// The form is open and typed in when the chair names another officer.
	if err := chromedp.Do(ctx, append([]chromedp.Action[chromedp.Void]{
		chromedp.WaitVisible(chromedp.ID(id + "notes")),
	}, fill...)...); err != nil {
		t.Fatal(err)
	}
	if _, err := ts.process().AssignCase(ts.as(t, "bd.chair"), &pb.AssignCaseRequest{Name: name, Etag: etagOf(t, ts, "bd.chair", name), Officer: "users/bd.worker2"}); err != nil {
		t.Fatal(err)
	}
	if err := chromedp.Do(ctx,
		chromedp.Click(chromedp.CSS("#step-RecordInitialAssessment button[type=submit]")),
		chromedp.WaitVisible(chromedp.CSS("#step-RecordInitialAssessment .stale")),
	); err != nil {
		t.Fatalf("send the stale form: %v", err)
	}
	if e := text(t, ctx, "#step-RecordInitialAssessment .error"); !strings.Contains(e, "Hồ sơ đã được người khác cập nhật") {
		t.Errorf("the stale form says %q", e)
	}
	if s := text(t, ctx, "#step-RecordInitialAssessment .stale"); !strings.Contains(s, "Test bd.worker2") {
		t.Errorf("the stale form does not show the new officer:\n%s", s)
	}
	typed, err := chromedp.Run(ctx, chromedp.Value(chromedp.ID(id+"notes")))
	if err != nil || typed != "Trẻ kể bị đánh bằng roi." {
		t.Fatalf("the notes typed after the stale answer: %q, %v", typed, err)
	}
	saveScreenshot(t, ctx, "stale")
	if err := chromedp.Do(ctx,
		chromedp.Click(chromedp.CSS("#step-RecordInitialAssessment button[type=submit]")),
		chromedp.WaitVisible(chromedp.CSS(".flash")),
	); err != nil {
		t.Fatalf("send again: %v", err)
	}
	if s := text(t, ctx, "#case-status"); s != "Đánh giá chi tiết" {
		t.Errorf("status after the second submit: %q", s)
	}
	if got := getCase(t, ts, "bd.worker", name).GetDossier().GetInitialAssessment().GetNotes(); got != "Trẻ kể bị đánh bằng roi." {
		t.Errorf("notes recorded: %q", got)
	}
}
