package app_test

import (
	"net/http"
	"strings"
	"testing"

	pb "github.com/childcase/childcase/api/childcase/v1"
)

// "Đã ghi" (saved) and "Đã gắn báo cáo vào hồ sơ" (attached) are said
// after this session's own step or link only, as the intake's "Đã lưu"
// is: a link someone sends (…?done=CloseCase) must not make the page say
// a step was recorded that nobody took, nor may another session's page
// say it.
func TestConsoleSavedSaysOnlyWhatThisSessionDid(t *testing.T) {
	ts, number := caseConsole(t)
	const saved, attached = "Đã ghi", "Đã gắn báo cáo vào hồ sơ"
	flash := func(page string) string {
		i := strings.Index(page, `class="flash"`)
		if i < 0 {
			return ""
		}
		return page[i : i+strings.Index(page[i:], "</p>")]
	}

	b := newBrowser(t, ts)
	b.signIn("bd.worker")
	for _, done := range []string{"AcknowledgeCase", "CloseCase", "1"} {
		if _, page := b.get("/cases/" + number + "?done=" + done); strings.Contains(flash(page), saved) {
			t.Errorf("a link with done=%s says %q, though nothing was saved", done, saved)
		}
	}
	_, page := b.get("/cases/" + number)
	resp, _ := b.post("/cases/"+number+"/steps/AcknowledgeCase", formValues(t, stepForm(page, number, "AcknowledgeCase")))
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("acknowledge: %s", resp.Status)
	}
	after := resp.Header.Get("Location")
	if _, page := b.get(after); !strings.Contains(flash(page), saved) {
		t.Errorf("the page after acknowledging does not say %q", saved)
	}
	other := newBrowser(t, ts)
	other.signIn("bd.worker")
	if _, page := other.get(after); strings.Contains(flash(page), saved) {
		t.Errorf("another session's page at %s says %q", after, saved)
	}

	// A report attached to a case through the API: a link to its page
	// with done=link does not say the console attached it.
	counselling := validReport()
	counselling.CallType = pb.CallType_CALL_TYPE_COUNSELLING
	call, err := ts.reports().CreateReport(ts.as(t, operatorID), &pb.CreateReportRequest{Report: counselling})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ts.reports().LinkReport(ts.as(t, operatorID), &pb.LinkReportRequest{Name: call.GetName(), Case: "cases/" + number}); err != nil {
		t.Fatalf("link through the API: %v", err)
	}
	op := newBrowser(t, ts)
	op.signIn(operatorID)
	if _, page := op.get("/" + call.GetName() + "?done=link"); strings.Contains(flash(page), attached) {
		t.Errorf("a link with done=link says %q, though this session attached nothing", attached)
	}

	// Attached in the console, the page says so.
	call, err = ts.reports().CreateReport(ts.as(t, operatorID), &pb.CreateReportRequest{Report: counselling})
	if err != nil {
		t.Fatal(err)
	}
	_, page = op.get("/" + call.GetName())
	i := strings.Index(page, `action="/`+call.GetName()+`"`)
	if i < 0 {
		t.Fatal("no link form on a report in no case")
	}
	vals := formValues(t, page[i:i+strings.Index(page[i:], "</form>")])
	vals.Set("case", number)
	resp, body := op.post("/"+call.GetName(), vals)
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("link: %s\n%s", resp.Status, body)
	}
	if _, page := op.get(resp.Header.Get("Location")); !strings.Contains(flash(page), attached) {
		t.Errorf("the page after attaching does not say %q", attached)
	}
}
