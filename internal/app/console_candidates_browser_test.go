package app_test

import (
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/childcase/childcase/internal/browsertest"
)

// TestBrowserOperatorSeesDuplicateCandidates: a second call about a child
// who already has an open case. "Kiểm tra" offers that case to join
// before anything is saved (nothing is saved by the check), the operator
// joins it with the keyboard's choice and "Lưu" saves the report into it.
func TestBrowserOperatorSeesDuplicateCandidates(t *testing.T) {
	ts, _ := startConsole(t)
	existing := openCaseIn(t, ts, "00004") // Nguyễn Thị Lan, 9, in Ba Đình
	ctx := newTab(t)
	base := "http://" + ts.HTTPAddr()
	browserSignIn(t, ctx, base, operatorID, "pw-"+operatorID)
	err := chromedp.Do(ctx,
		chromedp.Navigate(base+"/reports/new"),
		chromedp.WaitVisible(chromedp.ID("narrative")),
		fillIntake(ts.clock.Now().Add(-time.Minute), "Nguyễn Thị Lan", "Cô giáo thấy bé Lan có vết bầm ở tay."),
	)
	if err != nil {
		t.Fatalf("fill the form: %v", err)
	}
	browsertest.ClickAndWait(t, ctx, `.actions button[value="check"]`)
	if err := chromedp.Do(ctx, chromedp.WaitVisible(chromedp.CSS(".candidates table"))); err != nil {
		t.Fatalf("the check offers no candidate: %v (%s)", err, text(t, ctx, ".candidates"))
	}
	if c := text(t, ctx, ".candidates tbody"); !strings.Contains(c, existing) {
		t.Fatalf("the candidates %q do not list the open case %s", c, existing)
	}
	if b := text(t, ctx, "main"); strings.Contains(b, "Đã lưu") {
		t.Fatal("the check says Đã lưu: it must save nothing")
	}
	if h := text(t, ctx, ".actions"); !strings.Contains(h, "Lưu") {
		t.Fatalf("no save button after the check: %q", h)
	}
	// Join with the keyboard: focus the case's choice and press Space.
	if err := chromedp.Do(ctx, chromedp.Focus(chromedp.ID("join-"+existing)), chromedp.KeyEvent(" ")); err != nil {
		t.Fatal(err)
	}
	if on, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`document.getElementById("join-`+existing+`").checked`)); err != nil || !on {
		t.Fatalf("Space on the candidate's choice did not choose it (%v)", err)
	}
	browsertest.ClickAndWait(t, ctx, `button[value="save"]`)
	if got := text(t, ctx, "#saved-h"); got != "Đã lưu" {
		t.Fatalf("the save says %q, want Đã lưu", got)
	}
	if got := text(t, ctx, "#case-number"); got != existing {
		t.Errorf("the report joined %q, want the open case %s", got, existing)
	}
}
