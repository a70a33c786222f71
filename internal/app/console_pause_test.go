package app_test

import (
	"html"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// optionOf matches an option of a select: its value and its text.
var optionOf = regexp.MustCompile(`<option value="([^"]*)"[^>]*>([^<]*)</option>`)

// deadlineChoices are the options of a step form's deadline select, value
// to text, or nil when the form asks for the deadline otherwise.
func deadlineChoices(form, step string) map[string]string {
	sel := regexp.MustCompile(`(?s)<select id="step-` + step + `-deadline_id" name="deadline_id"[^>]*>(.*?)</select>`).FindStringSubmatch(form)
	if sel == nil {
		return nil
	}
	out := map[string]string{}
	for _, o := range optionOf.FindAllStringSubmatch(sel[1], -1) {
		if o[1] != "" {
			out[o[1]] = html.UnescapeString(o[2])
		}
	}
	return out
}

// A worker pauses a case's clock (the child cannot be reached) and
// resumes it from the case page alone. The API takes the deadline's id,
// which the page shows nowhere: the form offers the case's open
// deadlines by what they are, and sends the id of the one chosen.
func TestConsoleCaseWorkerPausesAndResumesAClock(t *testing.T) {
	ts, number := caseConsole(t)
	name := "cases/" + number
	ack := findDeadline(t, getCase(t, ts, "bd.worker", name), "ACKNOWLEDGE", "")
	id := strconv.Itoa(int(ack.GetId()))

	b := newBrowser(t, ts)
	b.signIn("bd.worker")
	_, page := b.get("/cases/" + number)
	form := stepForm(page, number, "PauseDeadline")
	choices := deadlineChoices(form, "PauseDeadline")
	if choices == nil {
		t.Fatalf("the pause form asks for the deadline by a number the page does not show:\n%s", form)
	}
	if got := choices[id]; !strings.Contains(got, "Tiếp nhận (24 giờ)") {
		t.Fatalf("the pause form's choice for the acknowledgement deadline (id %s) reads %q; choices %v", id, got, choices)
	}
	vals := formValues(t, form)
	vals.Set("deadline_id", id)
	vals.Set("reason", "Không liên lạc được với gia đình")
	if resp, body := b.post("/cases/"+number+"/steps/PauseDeadline", vals); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("pause: %s\n%s", resp.Status, body)
	}
	if d := findDeadline(t, getCase(t, ts, "bd.worker", name), "ACKNOWLEDGE", ""); !d.GetPaused() {
		t.Fatal("the acknowledgement deadline is not paused after the form")
	}

	_, page = b.get("/cases/" + number)
	form = stepForm(page, number, "ResumeDeadline")
	if got := deadlineChoices(form, "ResumeDeadline")[id]; !strings.Contains(got, "Tiếp nhận (24 giờ)") {
		t.Fatalf("the resume form does not offer the paused deadline (id %s): %q", id, got)
	}
	vals = formValues(t, form)
	vals.Set("deadline_id", id)
	if resp, body := b.post("/cases/"+number+"/steps/ResumeDeadline", vals); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("resume: %s\n%s", resp.Status, body)
	}
	if d := findDeadline(t, getCase(t, ts, "bd.worker", name), "ACKNOWLEDGE", ""); d.GetPaused() {
		t.Fatal("the acknowledgement deadline is still paused after the resume form")
	}
}
