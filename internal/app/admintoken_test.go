package app_test

import (
	"context"
	"testing"

	pb "github.com/childcase/childcase/api/childcase/v1"
	"github.com/childcase/childcase/internal/domain/identity"
	"github.com/childcase/childcase/internal/domain/model"
)

// TestTokenOfASecondFactorRoleIsAuditedAsSuch: a token asks for no second
// factor, so one an admin makes of a city officer, a hotline supervisor
// or another admin acts as them without the factor their role signs in
// with. It is still made (the city's reporting system needs one, and an
// etcd deployment has no other way), but its token.create says so in its
// reason, for the auditor; the admin's own tokens and those of other
// roles say nothing.
func TestTokenOfASecondFactorRoleIsAuditedAsSuch(t *testing.T) {
	ts := startServer(t, "")
	ts.addUser(t, "auditor", pb.Role_ROLE_AUDITOR, "orgs/system")
	ts.addUser(t, "bd.worker", pb.Role_ROLE_COMMUNE_WORKER, "units/00004@2025-07-01")
	ts.addUser(t, "city.test", pb.Role_ROLE_CITY_OFFICER, "units/01@2020-01-01")
	admin := ts.admin()
	ctx := ts.as(t, "admin")
	_, head := newAuditEvents(t, ts, "admin", 0)

	created, err := admin.CreateUser(ctx, &pb.CreateUserRequest{UserId: "sup.new",
		User: &pb.User{DisplayName: "Trần Văn Minh", Role: pb.Role_ROLE_HOTLINE_SUPERVISOR, Unit: "orgs/hotline-111"}})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{created.GetToken().GetName(): identity.SecondFactorTokenReason(model.RoleHotlineSupervisor)}
	for user, reason := range map[string]string{
		"city.test": identity.SecondFactorTokenReason(model.RoleCityOfficer),
		"admin":     "", // the admin's own
		"bd.worker": "", // a role without a second factor
	} {
		tok, err := admin.CreateToken(ctx, &pb.CreateTokenRequest{Parent: "users/" + user})
		if err != nil {
			t.Fatalf("an admin's token for %s: %v", user, err)
		}
		want[tok.GetName()] = reason
	}
	got, _ := newAuditEvents(t, ts, "admin", head)
	seen := 0
	for _, e := range got {
		reason, ok := want[e.GetResource()]
		if e.GetAction() != "token.create" || !ok {
			continue
		}
		seen++
		if e.GetReason() != reason {
			t.Errorf("token.create %s: reason %q, want %q", e.GetResource(), e.GetReason(), reason)
		}
	}
	if seen != len(want) {
		t.Errorf("%d token.create events of the %d tokens made:%s", seen, len(want), describeEvents(got))
	}
}

// TestAnAdminsTokenAsksNoSecondFactor: the README says plainly that an
// admin's token, unlike the admin's console sign-in, asks for no second
// factor, and this holds it: a new admin who never set a password nor
// enrolled an authenticator does, with the first token alone, what the
// role may (make a user, a city officer's token, a reset link, a backup).
func TestAnAdminsTokenAsksNoSecondFactor(t *testing.T) {
	ts := startServer(t, "")
	ts.addUser(t, "city.test", pb.Role_ROLE_CITY_OFFICER, "units/01@2020-01-01")
	secret := ts.addUser(t, "admin2", pb.Role_ROLE_ADMIN, "orgs/system")
	ctx := withToken(context.Background(), secret)
	admin := ts.admin()
	if _, err := admin.CreateUser(ctx, &pb.CreateUserRequest{UserId: "op.new",
		User: &pb.User{DisplayName: "Nguyễn Văn Tư", Role: pb.Role_ROLE_HOTLINE_OPERATOR, Unit: "orgs/hotline-111"}}); err != nil {
		t.Errorf("CreateUser with an admin's token alone: %v", err)
	}
	if _, err := admin.CreateToken(ctx, &pb.CreateTokenRequest{Parent: "users/city.test"}); err != nil {
		t.Errorf("CreateToken of a city officer with an admin's token alone: %v", err)
	}
	if _, err := admin.ResetPassword(ctx, &pb.ResetPasswordRequest{Name: "users/city.test"}); err != nil {
		t.Errorf("ResetPassword with an admin's token alone: %v", err)
	}
	stream, err := admin.BackupDatabase(ctx, &pb.BackupDatabaseRequest{})
	if err == nil {
		_, err = stream.Recv()
	}
	if err != nil {
		t.Errorf("BackupDatabase with an admin's token alone: %v", err)
	}
}
