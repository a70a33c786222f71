package app_test

import (
	"net/http"
	"strings"
	"testing"

	pb "github.com/childcase/childcase/api/childcase/v1"
)

// TestConsoleAdminShowsUnitsByName: the admin's pages name each user's
// unit and each police unit's communes as people know them (the unit's
// Vietnamese full name, its type before its name, since "Ba Đình" alone
// is the ward's and the old district's; an organisation's from the
// catalogs), with the id small beside it, not by the id alone ("units/00004@2020-01-01" said nothing
// to an admin checking whom they gave which commune). A unit that is no
// longer in force keeps its name.
func TestConsoleAdminShowsUnitsByName(t *testing.T) {
	ts := startConsoleAt(t, hn(2024, 5, 6, 9, 0)) // before the 2025 reform: Trúc Bạch and the district are in force
	ts.addUser(t, "tb.worker", pb.Role_ROLE_COMMUNE_WORKER, pTrucBach)
	ts.addUser(t, "bd.district", pb.Role_ROLE_DISTRICT_OFFICER, pDistrictBD)
	ts.addUser(t, "op", pb.Role_ROLE_HOTLINE_OPERATOR, "orgs/hotline-111")
	ts.addPoliceUnit(t, "ca-truc-bach", pTrucBach)
	b := newBrowser(t, ts)
	b.signInTo("admin")

	named := func(name, id string) string { return name + ` <small class="unit-id">` + id + `</small>` }
	resp, page := b.get("/admin")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("/admin: %s", resp.Status)
	}
	for _, want := range []string{
		"<td>" + named("Phường Trúc Bạch", pTrucBach) + "</td>",
		"<td>" + named("Quận Ba Đình", pDistrictBD) + "</td>",
		"<td>" + named("Tổng đài 111", "orgs/hotline-111") + "</td>",
	} {
		if !strings.Contains(page, want) {
			t.Errorf("/admin: no %q in the users list:\n%s", want, page)
		}
	}
	if strings.Contains(page, "<td>units/") || strings.Contains(page, "<td>orgs/") {
		t.Errorf("/admin: a unit shown by its id alone:\n%s", page)
	}

	_, page = b.get("/admin/users/tb.worker")
	if want := "<dd>" + named("Phường Trúc Bạch", pTrucBach) + "</dd>"; !strings.Contains(page, want) {
		t.Errorf("/admin/users/tb.worker: no %q:\n%s", want, page)
	}

	_, page = b.get("/admin/police")
	if want := "<td>" + named("Phường Trúc Bạch", pTrucBach) + "</td>"; !strings.Contains(page, want) {
		t.Errorf("/admin/police: the communes covered are not named (%q):\n%s", want, page)
	}
}

// TestConsoleAdminPoliceFormOffersNoCity: the police unit form's list of
// units to cover offers the communes (or, before the 2025 reform, the
// districts) but not the city itself, which the service refuses as a
// cover (police_unit.covers_city: the city police covers the city by
// covering none, as the form's help says); an admin who chose it was
// sure to be refused.
func TestConsoleAdminPoliceFormOffersNoCity(t *testing.T) {
	ts, _ := startConsole(t)
	b := newBrowser(t, ts)
	b.signInTo("admin")
	resp, page := b.get("/admin/police")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("/admin/police: %s", resp.Status)
	}
	_, covers, _ := strings.Cut(page, `<select id="covers"`)
	covers, _, _ = strings.Cut(covers, "</select>")
	if !strings.Contains(covers, `<option value="`+pBaDinh+`"`) {
		t.Fatalf("/admin/police: the covers list has no option for %s:\n%s", pBaDinh, covers)
	}
	if strings.Contains(covers, `<option value="units/01@`) {
		t.Errorf("/admin/police: the covers list offers the city, which no police unit may cover:\n%s", covers)
	}
}
