package app_test

import (
	"encoding/json"
	"net/http"
	"slices"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	pb "github.com/childcase/childcase/api/childcase/v1"
)

// officersAudited are the case.officers.list events of user on a case, as
// "outcome" strings.
func officersAudited(t *testing.T, ts *testServer, user, caseName string) []string {
	t.Helper()
	if ts.tokens.get("auditor") == "" {
		ts.addUser(t, "auditor", pb.Role_ROLE_AUDITOR, "orgs/system")
	}
	var out []string
	for _, e := range auditedBy(t, ts, "auditor", user) {
		if e.GetAction() == "case.officers.list" && e.GetCase() == caseName {
			out = append(out, e.GetOutcome())
		}
	}
	return out
}

// TestListAssignableOfficers: a chair asks the API whom they may make
// responsible for a case of their commune, over gRPC and REST, and gets
// the people AssignCase accepts (its active workers, not a disabled one,
// another commune's, its police or the chair), by name, display name and
// unit, page by page; another commune's chair gets NotFound, as for every
// case method, and a worker, whom the roles table does not let call it,
// PermissionDenied. Every call is on the case's trail.
func TestListAssignableOfficers(t *testing.T) {
	ts, number := caseConsole(t)
	name := acknowledged(t, ts, number)
	ts.addUser(t, "bd.worker2", pb.Role_ROLE_COMMUNE_WORKER, pBaDinh)
	ts.addUser(t, "bd.gone", pb.Role_ROLE_COMMUNE_WORKER, pBaDinh)
	ts.addUser(t, "hk.chair", pb.Role_ROLE_COMMUNE_CHAIR, pHoanKiem)
	if _, err := ts.admin().DisableUser(ts.as(t, "admin"), &pb.DisableUserRequest{Name: "users/bd.gone"}); err != nil {
		t.Fatal(err)
	}
	want := []*pb.AssignableOfficer{
		{Name: "users/bd.worker", DisplayName: "Test bd.worker", Unit: pBaDinh},
		{Name: "users/bd.worker2", DisplayName: "Test bd.worker2", Unit: pBaDinh},
	}
	same := func(a, b *pb.AssignableOfficer) bool {
		return a.GetName() == b.GetName() && a.GetDisplayName() == b.GetDisplayName() && a.GetUnit() == b.GetUnit()
	}

	// gRPC, one officer a page.
	var got []*pb.AssignableOfficer
	pages := 0
	for token := ""; ; {
		pages++
		resp, err := ts.process().ListAssignableOfficers(ts.as(t, "bd.chair"), &pb.ListAssignableOfficersRequest{Name: name, PageSize: 1, PageToken: token})
		if err != nil {
			t.Fatalf("the chair lists the officers: %v", err)
		}
		got = append(got, resp.GetOfficers()...)
		if token = resp.GetNextPageToken(); token == "" {
			break
		}
	}
	if !slices.EqualFunc(got, want, same) {
		t.Errorf("the officers over gRPC: %v, want %v", got, want)
	}
	// A page token is the case's: another case's list refuses it.
	first, err := ts.process().ListAssignableOfficers(ts.as(t, "bd.chair"), &pb.ListAssignableOfficersRequest{Name: name, PageSize: 1})
	if err != nil || first.GetNextPageToken() == "" {
		t.Fatalf("a first page of one: %v, %v", first, err)
	}
	other := openCase(t, ts, testNow.Add(-time.Hour), "00004", pb.AbuseForm_ABUSE_FORM_NEGLECT)
	if _, err := ts.process().ListAssignableOfficers(ts.as(t, "bd.chair"), &pb.ListAssignableOfficersRequest{Name: other, PageToken: first.GetNextPageToken()}); status.Code(err) != codes.InvalidArgument {
		t.Errorf("another case's page token: %v, want InvalidArgument", err)
	}

	// REST.
	path := "/v1/" + name + ":listAssignableOfficers"
	as := func(user string) map[string]string {
		return map[string]string{"Authorization": "Bearer " + ts.tokens.get(user)}
	}
	code, raw := restRaw(t, ts, http.MethodGet, path, "", as("bd.chair"))
	var rest struct {
		Officers []struct {
			Name        string `json:"name"`
			DisplayName string `json:"display_name"`
			Unit        string `json:"unit"`
		} `json:"officers"`
		NextPageToken string `json:"next_page_token"`
	}
	if err := json.Unmarshal(raw, &rest); code != http.StatusOK || err != nil {
		t.Fatalf("GET %s as the chair: %d %s", path, code, raw)
	}
	var restGot []*pb.AssignableOfficer
	for _, o := range rest.Officers {
		restGot = append(restGot, &pb.AssignableOfficer{Name: o.Name, DisplayName: o.DisplayName, Unit: o.Unit})
	}
	if !slices.EqualFunc(restGot, want, same) || rest.NextPageToken != "" {
		t.Errorf("the officers over REST: %s", raw)
	}

	// Another commune's chair: as a case that does not exist.
	if _, err := ts.process().ListAssignableOfficers(ts.as(t, "hk.chair"), &pb.ListAssignableOfficersRequest{Name: name}); status.Code(err) != codes.NotFound {
		t.Errorf("another commune's chair over gRPC: %v, want NotFound", err)
	}
	if code, raw := restRaw(t, ts, http.MethodGet, path, "", as("hk.chair")); code != http.StatusNotFound {
		t.Errorf("another commune's chair over REST: %d %s, want 404", code, raw)
	}
	// A worker names no officer.
	if _, err := ts.process().ListAssignableOfficers(ts.as(t, "bd.worker"), &pb.ListAssignableOfficersRequest{Name: name}); status.Code(err) != codes.PermissionDenied {
		t.Errorf("a worker over gRPC: %v, want PermissionDenied", err)
	}
	if code, raw := restRaw(t, ts, http.MethodGet, path, "", as("bd.worker")); code != http.StatusForbidden {
		t.Errorf("a worker over REST: %d %s, want 403", code, raw)
	}

	// On the case's trail: each of the chair's reads (the pages, the
	// first page again, REST), the other chair's two as absent.
	if got, want := officersAudited(t, ts, "bd.chair", name), slices.Repeat([]string{"ok"}, pages+2); !slices.Equal(got, want) {
		t.Errorf("the chair's officer lists on the trail: %v, want %v", got, want)
	}
	if got, want := officersAudited(t, ts, "hk.chair", name), []string{"not_found", "not_found"}; !slices.Equal(got, want) {
		t.Errorf("the other chair's officer lists on the trail: %v, want %v", got, want)
	}
}
