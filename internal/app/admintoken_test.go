package app_test

import (
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	pb "github.com/childcase/childcase/api/childcase/v1"
)

// TestAdminMakesNoTokenForASecondFactorRole: a token is a bearer
// credential, and whoever is shown its secret acts as its user without
// the second factor the person signs in with. An admin who made a city
// officer a token read every case, the officer none the wiser. So an
// admin makes no token of a user whose role needs a second factor (a
// city officer, a hotline supervisor, another admin): FAILED_PRECONDITION
// SECOND_FACTOR_ROLE, nothing made, the refusal on the trail; a new user
// of such a role gets the password link and no token. An admin still
// makes their own tokens, and those of every other role.
func TestAdminMakesNoTokenForASecondFactorRole(t *testing.T) {
	ts := startServer(t, "")
	ts.addUser(t, "auditor", pb.Role_ROLE_AUDITOR, "orgs/system")
	ts.addUser(t, "bd.worker", pb.Role_ROLE_COMMUNE_WORKER, "units/00004@2025-07-01")
	admin := ts.admin()
	ctx := ts.as(t, "admin")

	created := map[string]*pb.CreateUserResponse{}
	for id, u := range map[string]*pb.User{
		"city.new":  {DisplayName: "Hoàng Thị Thu", Role: pb.Role_ROLE_CITY_OFFICER, Unit: "units/01@2020-01-01"},
		"sup.new":   {DisplayName: "Trần Văn Minh", Role: pb.Role_ROLE_HOTLINE_SUPERVISOR, Unit: "orgs/hotline-111"},
		"admin.new": {DisplayName: "Quản trị viên", Role: pb.Role_ROLE_ADMIN, Unit: "orgs/system"},
	} {
		resp, err := admin.CreateUser(ctx, &pb.CreateUserRequest{UserId: id, User: u})
		if err != nil {
			t.Fatalf("create %s: %v", id, err)
		}
		if resp.GetToken() != nil || resp.GetPasswordLinkSecret() == "" {
			t.Errorf("CreateUser of %s (%s) answered token %v and link %q; want no token and a password link", id, u.GetRole(), resp.GetToken(), resp.GetPasswordLinkSecret())
		}
		created[id] = resp
	}
	_, head := newAuditEvents(t, ts, "admin", 0)
	for id := range created {
		_, err := admin.CreateToken(ctx, &pb.CreateTokenRequest{Parent: "users/" + id})
		if st := status.Convert(err); st.Code() != codes.FailedPrecondition || errorReason(st) != "SECOND_FACTOR_ROLE" {
			t.Errorf("an admin's token for %s: %v, want FAILED_PRECONDITION SECOND_FACTOR_ROLE", id, err)
		}
		toks, err := admin.ListTokens(ctx, &pb.ListTokensRequest{Parent: "users/" + id})
		if err != nil {
			t.Fatal(err)
		}
		if len(toks.GetTokens()) != 0 {
			t.Errorf("%s has tokens %v after an admin's CreateUser and refused CreateToken; want none", id, toks.GetTokens())
		}
		var got []*pb.AuditEvent
		got, head = newAuditEvents(t, ts, "admin", head)
		refused := 0
		for _, e := range got {
			if e.GetAction() == "token.create" && e.GetResource() == "users/"+id && e.GetOutcome() == "refused" && e.GetReason() == "SECOND_FACTOR_ROLE" {
				refused++
			}
		}
		if refused != 1 {
			t.Errorf("the refused token of %s wrote%s\nwant one token.create users/%s refused SECOND_FACTOR_ROLE", id, describeEvents(got), id)
		}
	}
	for _, id := range []string{"admin", "bd.worker"} {
		tok, err := admin.CreateToken(ctx, &pb.CreateTokenRequest{Parent: "users/" + id})
		if err != nil || tok.GetSecret() == "" {
			t.Errorf("an admin's token for %s: %v, %v; want one", id, tok, err)
		}
	}
}
