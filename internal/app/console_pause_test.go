package app_test

import (
	"html"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/durationpb"

	pb "github.com/childcase/childcase/api/childcase/v1"
	"github.com/childcase/childcase/internal/domain/identity"
)

// optionOf matches an option of a select: its value and its text.
var optionOf = regexp.MustCompile(`<option value="([^"]*)"[^>]*>([^<]*)</option>`)

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
	choices := choicesOf(form, "PauseDeadline", "deadline_id")
	if choices == nil {
		t.Fatalf("the pause form asks for the deadline by a number the page does not show:\n%s", form)
	}
	if got := choices[id]; !strings.Contains(got, "Tiếp nhận hồ sơ") {
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
	if got := choicesOf(form, "ResumeDeadline", "deadline_id")[id]; !strings.Contains(got, "Tiếp nhận hồ sơ") {
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

// choicesOf are the options of a step form's select of a field, value to
// text, or nil when the form has no select for it.
func choicesOf(form, step, field string) map[string]string {
	sel := regexp.MustCompile(`(?s)<select id="step-` + step + `-` + field + `" name="` + field + `"[^>]*>(.*?)</select>`).FindStringSubmatch(form)
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

// A worker refers a case to the police and proposes to hand it to
// another commune from the case page alone. The API takes the units'
// resource names ("policeUnits/ca-ba-dinh", "units/00070@2025-07-01"),
// which the page does not show: the forms offer the police units and
// the units in force by their names, and send the name of the one
// chosen.
func TestConsoleCaseWorkerChoosesThePoliceAndTheUnitByName(t *testing.T) {
	ts, number := caseConsole(t)
	name := acknowledged(t, ts, number)

	b := newBrowser(t, ts)
	b.signIn("bd.worker")
	_, page := b.get("/cases/" + number)
	form := stepForm(page, number, "ReferCaseToPolice")
	police := choicesOf(form, "ReferCaseToPolice", "police_unit")
	if police == nil || police["policeUnits/ca-ba-dinh"] == "" || strings.HasPrefix(police["policeUnits/ca-ba-dinh"], "policeUnits/") {
		t.Fatalf("the referral form does not offer Ba Đình's police by its name: %v\n%s", police, form)
	}
	vals := formValues(t, form)
	vals.Set("police_unit", "policeUnits/ca-ba-dinh")
	vals.Set("suspected_offence", "Điều 146 BLHS")
	if resp, body := b.post("/cases/"+number+"/steps/ReferCaseToPolice", vals); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("refer: %s\n%s", resp.Status, body)
	}
	if refs := getCase(t, ts, "bd.worker", name).GetPoliceReferrals(); len(refs) != 1 || refs[0].GetPoliceUnit() != "policeUnits/ca-ba-dinh" {
		t.Fatalf("referrals after the form: %v", refs)
	}

	_, page = b.get("/cases/" + number)
	form = stepForm(page, number, "ProposeTransfer")
	units := choicesOf(form, "ProposeTransfer", "to_unit")
	if got := units[pHoanKiem]; !strings.Contains(got, "Hoàn Kiếm") {
		t.Fatalf("the transfer form does not offer Hoàn Kiếm by its name (%q): %d choices\n%s", got, len(units), form)
	}
	vals = formValues(t, form)
	vals.Set("to_unit", pHoanKiem)
	vals.Set("reason", "Gia đình đã chuyển đến Hoàn Kiếm")
	if resp, body := b.post("/cases/"+number+"/steps/ProposeTransfer", vals); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("propose transfer: %s\n%s", resp.Status, body)
	}
}

// The case's referrals and transfers name their units as the rest of the
// page does, by name, not by the API's resource names.
func TestConsoleCaseSectionsNameTheirUnits(t *testing.T) {
	ts, number := caseConsole(t)
	policeCase(t, ts, number)
	name := "cases/" + number
	if _, err := ts.process().ProposeTransfer(ts.as(t, "bd.worker"), &pb.ProposeTransferRequest{Name: name, Etag: etagOf(t, ts, "bd.worker", name),
		ToUnit: pHoanKiem, Reason: "Gia đình đã chuyển đến Hoàn Kiếm"}); err != nil {
		t.Fatal(err)
	}
	b := newBrowser(t, ts)
	b.signIn("bd.worker")
	_, page := b.get("/cases/" + number)
	for _, id := range []string{"case.referrals", "case.transfers"} {
		i := strings.Index(page, `id="`+id+`"`)
		if i < 0 {
			t.Fatalf("no section %s on the page", id)
		}
		sec := page[i:]
		sec = sec[:strings.Index(sec, "</section>")]
		for _, raw := range []string{"policeUnits/", "units/"} {
			if regexp.MustCompile(`<dd[^>]*>` + raw).MatchString(sec) {
				t.Errorf("the section %s shows a unit by its resource name (%s...):\n%s", id, raw, sec)
			}
		}
	}
}

// A worker records a service's progress by choosing the service of the
// plan, not by the number the API takes; the plan's dates read as dates
// do on the rest of the page (dd/mm/yyyy).
func TestConsoleCaseWorkerChoosesTheServiceByName(t *testing.T) {
	ts, number := caseConsole(t)
	name, day := toPlanDraft(t, ts, number)
	submitPlan(t, ts, name, day)
	if _, err := ts.process().ApprovePlan(ts.as(t, "bd.chair"), &pb.ApprovePlanRequest{Name: name, Etag: etagOf(t, ts, "bd.chair", name),
		DecisionNumber: "12/QĐ-UBND", DecisionDate: day}); err != nil {
		t.Fatal(err)
	}
	b := newBrowser(t, ts)
	b.signIn("bd.worker")
	_, page := b.get("/cases/" + number)
	form := stepForm(page, number, "RecordServiceProgress")
	services := choicesOf(form, "RecordServiceProgress", "service_id")
	if !strings.Contains(services["1"], "tư vấn tâm lý") {
		t.Fatalf("the progress form does not offer the plan's service by its name: %v\n%s", services, form)
	}
	vals := formValues(t, form)
	vals.Set("service_id", "1")
	vals.Set("state", "IN_PROGRESS")
	if resp, body := b.post("/cases/"+number+"/steps/RecordServiceProgress", vals); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("progress: %s\n%s", resp.Status, stepForm(body, number, "RecordServiceProgress"))
	}
	_, page = b.get("/cases/" + number)
	i := strings.Index(page, `id="case.services"`)
	sec := page[i : i+strings.Index(page[i:], "</section>")]
	d, _ := time.Parse(time.DateOnly, day)
	if strings.Contains(sec, ">"+day+"<") || !strings.Contains(sec, ">"+d.Format("02/01/2006")+"<") {
		t.Errorf("the plan's dates do not read as dd/mm/yyyy (%s):\n%s", d.Format("02/01/2006"), sec)
	}
}

// The referral form offers the police units that take a new referral: not
// one whose every covered commune a reform ended, which the API refuses
// (TestNewReferralToAPoliceUnitWhoseCommunesEndedIsRefused), but the ward
// police of the commune in force and the city police.
func TestConsoleReferralFormLeavesOutAPoliceUnitWhoseCommunesEnded(t *testing.T) {
	ts := startConsoleAt(t, hn(2025, 6, 20, 9, 0))
	ts.addUser(t, "bd.worker", pb.Role_ROLE_COMMUNE_WORKER, pBaDinh) // a commune about to be in force
	ts.addPoliceUnit(t, "ca-truc-bach", pTrucBach2025)
	ts.addPoliceUnit(t, "ca-ba-dinh", pBaDinh)
	ts.addPoliceUnit(t, "ca-ha-noi")
	// The console signs in through the admin's token, which must outlive
	// the days to come.
	tok, err := ts.admin().CreateToken(ts.as(t, "admin"), &pb.CreateTokenRequest{Parent: "users/admin", Ttl: durationpb.New(identity.MaxTokenTTL)})
	if err != nil {
		t.Fatal(err)
	}
	ts.tokens.put(t, "admin", tok.GetSecret())
	ts.setClock(t, hn(2025, 7, 2, 9, 0)) // Trúc Bạch ended on 2025-06-30
	number := strings.TrimPrefix(openCase(t, ts, hn(2025, 7, 2, 8, 0), "00004"), "cases/")

	b := newBrowser(t, ts)
	b.signIn("bd.worker")
	_, page := b.get("/cases/" + number)
	form := stepForm(page, number, "ReferCaseToPolice")
	police := choicesOf(form, "ReferCaseToPolice", "police_unit")
	if police == nil || police["policeUnits/ca-ba-dinh"] == "" || police["policeUnits/ca-ha-noi"] == "" {
		t.Fatalf("the referral form does not offer the ward police in force and the city police: %v\n%s", police, form)
	}
	if _, ok := police["policeUnits/ca-truc-bach"]; ok {
		t.Errorf("the referral form offers the police of Trúc Bạch, which a reform ended: %v", police)
	}
}
