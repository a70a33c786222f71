package app_test

import (
	"net/http"
	"regexp"
	"strings"
	"testing"
)

// TestConsoleTooLongTextSaysTheLimit: a note pasted past its limit (8,000
// characters) is refused on its field with the limit, in the page's
// language, so that the person knows how much to cut; "Quá dài." alone
// left them to guess, send after send. Nothing is written.
func TestConsoleTooLongTextSaysTheLimit(t *testing.T) {
	ts, number := caseConsole(t)
	name := "cases/" + number
	before := etagOf(t, ts, "bd.worker", name)
	worker, note := openStep(t, ts, "bd.worker", number, "AddCaseNote")
	fieldError := regexp.MustCompile(`(?s)id="step-AddCaseNote-text-err"[^>]*>(.*?)</`)
	for _, c := range []struct{ lang, want string }{
		{"vi", "tối đa 8000 ký tự"},
		{"en", "at most 8000 characters"},
	} {
		if c.lang == "en" {
			worker.get("/lang/en?back=/")
			note = openStepAs(t, worker, number, "AddCaseNote")
		}
		note.Set("text", strings.Repeat("Ghi chú. ", 1000)) // 9,000 characters
		resp, page := worker.post("/cases/"+number+"/steps/AddCaseNote", note)
		if resp.StatusCode == http.StatusSeeOther {
			t.Fatalf("%s: a note of 9,000 characters was saved", c.lang)
		}
		m := fieldError.FindStringSubmatch(page)
		if m == nil {
			t.Fatalf("%s: no error on the note's field:\n%s", c.lang, page)
		}
		if !strings.Contains(m[1], c.want) {
			t.Errorf("%s: the note's field says %q, want it to say %q", c.lang, m[1], c.want)
		}
	}
	if after := etagOf(t, ts, "bd.worker", name); after != before {
		t.Error("a refused note changed the case")
	}
}
