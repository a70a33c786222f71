package app_test

import (
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	pb "github.com/childcase/childcase/api/childcase/v1"
)

// A chair merges two cases of one child from the surviving case's page.
// The API takes the absorbed case's etag, which the console shows
// nowhere: the form asks for the case number only, shows the case it
// names for the chair to check, and merges on the second send, with the
// etag of the version shown.
func TestConsoleChairMergesTwoCasesOfOneChild(t *testing.T) {
	ts, number := caseConsole(t)
	other := strings.TrimPrefix(openCase(t, ts, testNow.Add(-30*time.Minute), "00004", pb.AbuseForm_ABUSE_FORM_SEXUAL_ABUSE), "cases/")

	b := newBrowser(t, ts)
	b.signIn("bd.chair")
	_, page := b.get("/cases/" + number)
	form := stepForm(page, number, "MergeCase")
	if form == "" {
		t.Fatal("the chair's case page has no merge form")
	}
	if regexp.MustCompile(`<(input|textarea)[^>]+name="absorbed_etag"[^>]*>`).MatchString(form) && !strings.Contains(form, `type="hidden" name="absorbed_etag"`) {
		t.Fatalf("the merge form asks the chair for the other case's etag, which the console shows nowhere:\n%s", form)
	}
	vals := formValues(t, form)
	vals.Set("absorbed_case", "HN-2026-99999")
	vals.Set("reason", "Cùng một trẻ, hai cuộc gọi")
	if resp, body := b.post("/cases/"+number+"/steps/MergeCase", vals); resp.StatusCode != http.StatusBadRequest ||
		!strings.Contains(stepForm(body, number, "MergeCase"), `value="HN-2026-99999"`) || !strings.Contains(body, "step-MergeCase-absorbed_case-err") {
		t.Fatalf("a merge with a case that does not exist: %s; the form must say so on the field and keep the number", resp.Status)
	}
	vals.Set("absorbed_case", other)
	vals.Set("reason", "Cùng một trẻ, hai cuộc gọi")
	resp, body := b.post("/cases/"+number+"/steps/MergeCase", vals)
	if resp.StatusCode == http.StatusSeeOther {
		t.Fatal("the merge was made before the chair saw the case it absorbs")
	}
	form = stepForm(body, number, "MergeCase")
	if !strings.Contains(form, `id="merge-check"`) || !strings.Contains(form, other) {
		t.Fatalf("the merge form does not show the case it would absorb (%s): %s\n%s", other, resp.Status, form)
	}
	if got := getCase(t, ts, "bd.chair", "cases/"+other).GetCaseNumber(); got != other {
		t.Fatalf("merged after the first send: %s leads to %s", other, got)
	}
	vals = formValues(t, form)
	if vals.Get("absorbed_etag") == "" {
		t.Fatalf("the checked form carries no etag of the case shown:\n%s", form)
	}
	vals.Set("absorbed_case", other)
	vals.Set("reason", "Cùng một trẻ, hai cuộc gọi")
	if resp, body := b.post("/cases/"+number+"/steps/MergeCase", vals); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("merge: %s\n%s", resp.Status, stepForm(body, number, "MergeCase"))
	}
	// The absorbed number now leads to the surviving case.
	if got := getCase(t, ts, "bd.chair", "cases/"+other).GetCaseNumber(); got != number {
		t.Fatalf("%s leads to %q after the merge, want %s", other, got, number)
	}
}
