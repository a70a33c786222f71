package app_test

import (
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	pb "github.com/childcase/childcase/api/childcase/v1"
)

// Every list pages (AIP-158): a user's tokens and the police units too,
// which answered everything at once. A user's tokens grow with every
// console sign-in (each a session token, left out of the list), and a
// list of them read all of them at each call.
func TestTokensAndPoliceUnitsArePaged(t *testing.T) {
	ts := startServerAt(t, testNow, "")
	admin := ts.as(t, "admin")
	ts.addUser(t, "bd.worker", pb.Role_ROLE_COMMUNE_WORKER, pBaDinh) // with one token
	for range 3 {
		if _, err := ts.admin().CreateToken(admin, &pb.CreateTokenRequest{Parent: "users/bd.worker"}); err != nil {
			t.Fatal(err)
		}
	}
	whole, err := ts.admin().ListTokens(admin, &pb.ListTokensRequest{Parent: "users/bd.worker"})
	if err != nil || len(whole.GetTokens()) != 4 || whole.GetNextPageToken() != "" {
		t.Fatalf("ListTokens = %d tokens, next %q, %v; want 4 on one page", len(whole.GetTokens()), whole.GetNextPageToken(), err)
	}
	var want, got []string
	for _, tok := range whole.GetTokens() {
		want = append(want, tok.GetName())
	}
	req := &pb.ListTokensRequest{Parent: "users/bd.worker", PageSize: 3}
	var sizes []int
	for range 5 {
		page, err := ts.admin().ListTokens(admin, req)
		if err != nil {
			t.Fatal(err)
		}
		sizes = append(sizes, len(page.GetTokens()))
		for _, tok := range page.GetTokens() {
			got = append(got, tok.GetName())
		}
		if req.PageToken = page.GetNextPageToken(); req.PageToken == "" {
			break
		}
		// A page token is the list's it came from: another user's tokens
		// are not listed with it.
		_, err = ts.admin().ListTokens(admin, &pb.ListTokensRequest{Parent: "users/admin", PageSize: 3, PageToken: req.PageToken})
		if status.Code(err) != codes.InvalidArgument {
			t.Errorf("bd.worker's page token used for users/admin: %v, want InvalidArgument", err)
		}
	}
	if !slices.Equal(got, want) || !slices.Equal(sizes, []int{3, 1}) {
		t.Errorf("ListTokens in pages of 3 = %v (pages %v), want %v in pages [3 1]", got, sizes, want)
	}
	_, err = ts.admin().ListTokens(admin, &pb.ListTokensRequest{Parent: "users/bd.worker", PageSize: 501})
	wantField(t, err, "page_size")

	ts.addPoliceUnit(t, "ca-ha-noi")
	ts.addPoliceUnit(t, "ca-phuong-ba-dinh", pBaDinh)
	ts.addPoliceUnit(t, "ca-phuong-a", pBaDinh)
	police := pb.NewPoliceUnitServiceClient(ts.conn)
	var units []string
	preq := &pb.ListPoliceUnitsRequest{PageSize: 2}
	pages := 0
	for ; pages < 5; pages++ {
		page, err := police.ListPoliceUnits(admin, preq)
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range page.GetPoliceUnits() {
			units = append(units, p.GetName())
		}
		if preq.PageToken = page.GetNextPageToken(); preq.PageToken == "" {
			break
		}
	}
	if want := []string{"policeUnits/ca-ha-noi", "policeUnits/ca-phuong-a", "policeUnits/ca-phuong-ba-dinh"}; !slices.Equal(units, want) || pages != 1 {
		t.Errorf("ListPoliceUnits in pages of 2 = %v after %d more pages, want %v after 1", units, pages, want)
	}

	// The same over REST, as the OpenAPI document names the parameters.
	auth := map[string]string{"Authorization": "Bearer " + ts.tokens.get("admin")}
	code, raw := restRaw(t, ts, "GET", "/v1/users/bd.worker/tokens?page_size=3", "", auth)
	var resp struct {
		Tokens        []json.RawMessage `json:"tokens"`
		NextPageToken string            `json:"next_page_token"`
	}
	if code != http.StatusOK || json.Unmarshal(raw, &resp) != nil || len(resp.Tokens) != 3 || resp.NextPageToken == "" {
		t.Fatalf("GET tokens?page_size=3: %d %s; want 3 tokens and a next_page_token", code, raw)
	}
	code, raw = restRaw(t, ts, "GET", "/v1/users/bd.worker/tokens?page_size=3&page_token="+resp.NextPageToken, "", auth)
	resp.Tokens, resp.NextPageToken = nil, ""
	if code != http.StatusOK || json.Unmarshal(raw, &resp) != nil || len(resp.Tokens) != 1 || resp.NextPageToken != "" {
		t.Errorf("GET tokens, the second page: %d %s; want 1 token and no next_page_token", code, raw)
	}
}

// A page that ends on a police unit of the longest id the service takes
// (63 characters) gives a next_page_token that the next request takes:
// the token grows with the id (its cursor is the id's hex), and a token
// over page_token's limit could not be sent back, so the list could not
// go on past that unit.
func TestPoliceUnitPagesGoOnAfterTheLongestID(t *testing.T) {
	ts := startServerAt(t, testNow, "")
	admin := ts.as(t, "admin")
	long := "ca-" + strings.Repeat("x", 60) // 63 characters, policeIDPattern's most
	ts.addPoliceUnit(t, "ca-ha-noi")
	ts.addPoliceUnit(t, long, pBaDinh)
	ts.addPoliceUnit(t, "cz-phuong-ba-dinh", pBaDinh)
	police := pb.NewPoliceUnitServiceClient(ts.conn)
	var units []string
	req := &pb.ListPoliceUnitsRequest{PageSize: 1}
	for pages := 0; pages < 5; pages++ {
		page, err := police.ListPoliceUnits(admin, req)
		if err != nil {
			t.Fatalf("ListPoliceUnits after %v (page_token of %d characters): %v", units, len(req.PageToken), err)
		}
		for _, p := range page.GetPoliceUnits() {
			units = append(units, p.GetName())
		}
		if req.PageToken = page.GetNextPageToken(); req.PageToken == "" {
			break
		}
	}
	if want := []string{"policeUnits/ca-ha-noi", "policeUnits/" + long, "policeUnits/cz-phuong-ba-dinh"}; !slices.Equal(units, want) {
		t.Errorf("ListPoliceUnits in pages of 1 = %v, want %v", units, want)
	}
}

// The same for users: a page that ends on a user id of 63 characters
// (the most CreateUser takes) gives a page token the next request takes.
func TestUserPagesGoOnAfterTheLongestID(t *testing.T) {
	ts := startServerAt(t, testNow, "")
	admin := ts.as(t, "admin")
	long := "a" + strings.Repeat("x", 62)
	ts.addUser(t, long, pb.Role_ROLE_COMMUNE_WORKER, pBaDinh)
	var users []string
	req := &pb.ListUsersRequest{PageSize: 1}
	for pages := 0; pages < 100; pages++ {
		page, err := ts.admin().ListUsers(admin, req)
		if err != nil {
			t.Fatalf("ListUsers after %v (page_token of %d characters): %v", users, len(req.PageToken), err)
		}
		for _, u := range page.GetUsers() {
			users = append(users, u.GetName())
		}
		if req.PageToken = page.GetNextPageToken(); req.PageToken == "" {
			break
		}
	}
	if !slices.Contains(users, "users/"+long) || !slices.IsSorted(users) || users[len(users)-1] == "users/"+long {
		t.Errorf("ListUsers in pages of 1 = %v, want every user in order, %s not the last", users, long)
	}
}
