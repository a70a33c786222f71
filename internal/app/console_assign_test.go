package app_test

import (
	"net/http"
	"regexp"
	"slices"
	"strings"
	"testing"

	pb "github.com/childcase/childcase/api/childcase/v1"
)

var selectOption = regexp.MustCompile(`<option value="([^"]*)"`)

// officerChoices are the values of the officer select of a case page's
// assignment form, and whether the field is a select at all.
func officerChoices(t *testing.T, form string) ([]string, bool) {
	t.Helper()
	i := strings.Index(form, `name="officer"`)
	if i < 0 {
		t.Fatalf("the assignment form has no officer field:\n%s", form)
	}
	start := strings.LastIndex(form[:i], "<")
	if !strings.HasPrefix(form[start:], "<select") {
		return nil, false
	}
	end := strings.Index(form[start:], "</select>")
	var out []string
	for _, m := range selectOption.FindAllStringSubmatch(form[start:start+end], -1) {
		if m[1] != "" {
			out = append(out, m[1])
		}
	}
	return out, true
}

// TestConsoleChairAssignsAnOfficerFromAList: a chair names the officer
// responsible for a case by choosing among the people who may take it
// (the unit's active workers), by name, not by typing "users/..." they
// would have to know. Someone of another commune, a disabled account, the
// unit's police and the chair themself (who takes no worker's step) are
// not offered. A hand-made form naming someone out of the unit is still
// refused with the catalog's words, and nothing changes.
func TestConsoleChairAssignsAnOfficerFromAList(t *testing.T) {
	ts, number := caseConsole(t)
	name := acknowledged(t, ts, number)
	ts.addUser(t, "bd.worker2", pb.Role_ROLE_COMMUNE_WORKER, pBaDinh)
	ts.addUser(t, "bd.gone", pb.Role_ROLE_COMMUNE_WORKER, pBaDinh)
	if _, err := ts.admin().DisableUser(ts.as(t, "admin"), &pb.DisableUserRequest{Name: "users/bd.gone"}); err != nil {
		t.Fatal(err)
	}

	b, _ := openStep(t, ts, "bd.chair", number, "AssignCase")
	_, page := b.get("/cases/" + number)
	form := stepForm(page, number, "AssignCase")
	got, isSelect := officerChoices(t, form)
	if want := []string{"users/bd.worker", "users/bd.worker2"}; !isSelect || !slices.Equal(got, want) {
		t.Fatalf("the officer field: select %v offering %v, want a select of %v:\n%s", isSelect, got, want, form)
	}
	if !strings.Contains(form, ">Test bd.worker2 (bd.worker2)</option>") {
		t.Errorf("an officer is not offered by their name:\n%s", form)
	}
	// The list is the API's answer to the chair, on the case's trail as
	// any page's calls are: once for each of the two loads of the page
	// (openStep's and this one).
	if got := officersAudited(t, ts, "bd.chair", name); !slices.Equal(got, []string{"ok", "ok"}) {
		t.Errorf("the case page's officer lists on the trail: %v, want two case.officers.list ok", got)
	}

	// Choosing one assigns them.
	vals := formValues(t, form)
	vals.Set("officer", "users/bd.worker2")
	if resp, page := b.post("/cases/"+number+"/steps/AssignCase", vals); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("assign the chosen officer: %s\n%s", resp.Status, page)
	}
	if got := getCase(t, ts, "bd.chair", name).GetResponsibleOfficer().GetDisplayName(); got != "Test bd.worker2" {
		t.Fatalf("the responsible officer after the assignment: %q", got)
	}

	// A form made by hand that names a worker of another commune is
	// refused in the catalog's words, and the officer stays.
	_, page = b.get("/cases/" + number)
	vals = formValues(t, stepForm(page, number, "AssignCase"))
	vals.Set("officer", "users/hk.worker")
	resp, page := b.post("/cases/"+number+"/steps/AssignCase", vals)
	if resp.StatusCode != http.StatusBadRequest || !strings.Contains(page, "Người này không phải cán bộ đang làm việc của đơn vị.") {
		t.Errorf("assign a worker of another commune: %s, want 400 with the catalog's words:\n%s", resp.Status, stepForm(page, number, "AssignCase"))
	}
	if got := getCase(t, ts, "bd.chair", name).GetResponsibleOfficer().GetDisplayName(); got != "Test bd.worker2" {
		t.Errorf("the responsible officer after a refused assignment: %q", got)
	}
}
