package app_test

import (
	"context"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/reflect/protoreflect"

	pb "github.com/childcase/childcase/api/childcase/v1"
)

// A user's role and unit are set when the user is made and never change:
// no call of the API but CreateUser takes a user's fields. A person who
// moves to another commune (or role) is given a new user, and the old one
// is disabled: its tokens stop at once, and the new user sees the new
// commune's cases, not the old one's. The trail keeps each act under the
// role and unit it was done with.
func TestAPersonWhoMovesIsANewUser(t *testing.T) {
	methods := pb.File_childcase_v1_admin_proto.Services().ByName("AdminService").Methods()
	for i := range methods.Len() {
		m := methods.Get(i)
		if m.Name() == "CreateUser" {
			continue
		}
		fields := m.Input().Fields()
		for j := range fields.Len() {
			if f := fields.Get(j); f.Kind() == protoreflect.MessageKind && f.Message().FullName() == "childcase.v1.User" {
				t.Errorf("%s takes a user (%s): the README says no call changes a user's role or unit", m.Name(), f.Name())
			}
		}
	}

	ts := startServer(t, "")
	baDinh := openCase(t, ts, testNow.Add(-time.Hour), "00004")
	old := ts.addUser(t, "hoa.le", pb.Role_ROLE_COMMUNE_WORKER, pBaDinh)
	if _, err := ts.cases().GetCase(withToken(context.Background(), old), &pb.GetCaseRequest{Name: baDinh}); err != nil {
		t.Fatalf("the Ba Đình worker reads a Ba Đình case: %v", err)
	}

	moved := ts.addUser(t, "hoa.le.hk", pb.Role_ROLE_COMMUNE_WORKER, pHoanKiem)
	if _, err := ts.admin().DisableUser(ts.as(t, "admin"), &pb.DisableUserRequest{Name: "users/hoa.le"}); err != nil {
		t.Fatal(err)
	}
	_, err := ts.cases().GetCase(withToken(context.Background(), old), &pb.GetCaseRequest{Name: baDinh})
	wantCode(t, err, codes.Unauthenticated)
	_, err = ts.cases().GetCase(withToken(context.Background(), moved), &pb.GetCaseRequest{Name: baDinh})
	wantCode(t, err, codes.NotFound)

	// Each act stays on the trail under the unit it was done in.
	ts.addUser(t, "auditor", pb.Role_ROLE_AUDITOR, "orgs/system")
	for user, unit := range map[string]string{"hoa.le": pBaDinh, "hoa.le.hk": pHoanKiem} {
		events := auditedBy(t, ts, "auditor", user)
		if len(events) == 0 {
			t.Errorf("no events of %s", user)
		}
		for _, e := range events {
			if e.GetUnit() != unit || e.GetRole() == "" {
				t.Errorf("%s's %s is on the trail under unit %q, role %q; want %s and the role it had", user, e.GetAction(), e.GetUnit(), e.GetRole(), unit)
			}
		}
	}
}

// A retry by request_id of a user disabled since is not answered: the
// token is refused before any replay is looked up, so the first answer
// (a report with a child's name) is not shown again and nothing is read
// or written for it.
func TestARetryAfterTheUserIsDisabledReplaysNothing(t *testing.T) {
	ts := startServer(t, "")
	ts.addUser(t, "auditor", pb.Role_ROLE_AUDITOR, "orgs/system")
	secret := ts.addUser(t, "op.gone", pb.Role_ROLE_HOTLINE_OPERATOR, "orgs/hotline-111")
	ctx := withToken(context.Background(), secret)
	create := &pb.CreateReportRequest{Report: validReport(), RequestId: "before-leaving-1"}
	if _, err := ts.reports().CreateReport(ctx, create); err != nil {
		t.Fatal(err)
	}
	before := len(auditedBy(t, ts, "auditor", "op.gone"))
	if _, err := ts.admin().DisableUser(ts.as(t, "admin"), &pb.DisableUserRequest{Name: "users/op.gone"}); err != nil {
		t.Fatal(err)
	}
	got, err := ts.reports().CreateReport(ctx, create)
	wantCode(t, err, codes.Unauthenticated)
	if got != nil {
		t.Errorf("the retry was answered %v", got)
	}
	if after := auditedBy(t, ts, "auditor", "op.gone"); len(after) != before {
		t.Errorf("the refused retry left %d events of op.gone: %v", len(after)-before, after[before:])
	}
}
