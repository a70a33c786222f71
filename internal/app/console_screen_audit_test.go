package app_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	pb "github.com/childcase/childcase/api/childcase/v1"
	"github.com/childcase/childcase/internal/domain/access"
	"github.com/childcase/childcase/internal/domain/model"
)

// TestConsoleScreensRefusedForTheRoleAreAudited: the README's table of the
// console's screens says whom each is shown to, by the API method it is
// built on, and "the console's pages are API calls ... audited as those".
// Opened by a role the table refuses, every screen answers 403 and leaves
// the API's refusal on the record (auth.denied by that person, on the
// record the screen names, else on the method), as the same call made to
// the API does.
func TestConsoleScreensRefusedForTheRoleAreAudited(t *testing.T) {
	ts := startConsoleAt(t, testNow)
	ts.addPoliceUnit(t, "ca-ba-dinh", pBaDinh)
	users := map[model.Role]string{model.RoleHotlineOperator: operatorID, model.RoleAdmin: "admin"}
	for role, unit := range map[model.Role]string{
		model.RoleHotlineSupervisor: "orgs/hotline-111", model.RoleCommuneWorker: pBaDinh, model.RoleCommuneChair: pBaDinh,
		model.RoleDistrictOfficer: pDistrictBD, model.RoleCityOfficer: pCity, model.RolePoliceLiaison: "policeUnits/ca-ba-dinh",
		model.RoleAuditor: "orgs/system",
	} {
		id := strings.ToLower(strings.ReplaceAll(role.String(), "_", "-"))
		ts.addUser(t, id, pb.Role(role), unit)
		users[role] = id
	}
	name := openCase(t, ts, testNow.Add(-time.Hour), "00004")

	// The README's screens table (rendered from the console's rows).
	screens := []struct{ path, method, resource string }{
		{"/queues", "CaseService/ListCases", ""},
		{"/reports/new", "ReportService/CreateReport", ""},
		{"/dashboard", "StatisticsService/GetStatistics", ""},
		{"/audit", "AuditService/ListAuditEvents", ""},
		{"/admin", "AdminService/ListUsers", ""},
		{"/" + name, "CaseService/GetCase", name},
	}
	for _, role := range model.Roles {
		user := users[role]
		var b *browser
		for _, sc := range screens {
			if (access.Principal{Role: role}).May(sc.method) {
				continue
			}
			if b == nil {
				b = newBrowser(t, ts)
				b.signInTo(user)
			}
			_, head := newAuditEvents(t, ts, user, 0)
			resp, _ := b.get(sc.path)
			if resp.StatusCode != http.StatusForbidden {
				t.Errorf("%s opening %s: %s, want 403", role, sc.path, resp.Status)
			}
			got, _ := newAuditEvents(t, ts, user, head)
			resource := sc.resource
			if resource == "" {
				resource = "/childcase.v1." + sc.method
			}
			if !hasEvent(got, "auth.denied", resource, sc.resource, "denied") {
				t.Errorf("%s opening %s: wrote%s; want auth.denied on %s", role, sc.path, describeEvents(got), resource)
			}
		}
	}
}
