package app_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	pb "github.com/childcase/childcase/api/childcase/v1"
)

// A read made with a token an admin created for someone else could have
// been the admin's (the admin was shown its secret): its audit event names
// the token and who created it, for the auditor to tell the two apart
// (a console session, the user's own, names no creator: see
// identity.TestTokenPrincipalNamesAnotherCreator).
func TestAuditNamesTheCreatorOfAnotherUsersToken(t *testing.T) {
	ts := startConsoleAt(t, testNow)
	ts.addUser(t, "auditor", pb.Role_ROLE_AUDITOR, "orgs/system")
	ts.addUser(t, "bd.worker", pb.Role_ROLE_COMMUNE_WORKER, pBaDinh)
	caseName := openCase(t, ts, testNow.Add(-time.Hour), "00004")
	tok, err := ts.admin().CreateToken(ts.as(t, "admin"), &pb.CreateTokenRequest{Parent: "users/bd.worker"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ts.cases().GetCase(withToken(context.Background(), tok.GetSecret()), &pb.GetCaseRequest{Name: caseName}); err != nil {
		t.Fatal(err)
	}

	var read *pb.AuditEvent
	for _, e := range auditedBy(t, ts, "auditor", "bd.worker") {
		if e.GetAction() == "case.read" && e.GetResource() == caseName {
			read = e
		}
	}
	if read == nil {
		t.Fatal("no case.read event of bd.worker")
	}
	if read.GetToken() != tok.GetName() || read.GetTokenCreatedBy() != "users/admin" {
		t.Errorf("the read names token %q created by %q, want %q created by users/admin", read.GetToken(), read.GetTokenCreatedBy(), tok.GetName())
	}

	// The auditor's console shows it on the event's row.
	b := newBrowser(t, ts)
	b.signInTo("auditor")
	resp, page := b.get("/audit?actor=bd.worker")
	if resp.StatusCode != http.StatusOK || !strings.Contains(page, "bằng mã truy cập do users/admin tạo") {
		t.Errorf("the console's audit page (%s) does not name the token's creator:\n%s", resp.Status, page)
	}
	// The creator, not the token: the page says who could have made the
	// call (the README's audit section).
	if strings.Contains(page, tok.GetName()) {
		t.Errorf("the console's audit page shows the token %s", tok.GetName())
	}
}

// A token shows who created it, and so was shown its secret: the answer
// that creates it and ListTokens name the admin, and users/system for the
// tokens of the first start and the offline commands. An admin could
// read the creator only in the audit events of calls made with it.
func TestTokenNamesItsCreator(t *testing.T) {
	ts := startServerAt(t, testNow, "")
	ts.addUser(t, "bd.worker", pb.Role_ROLE_COMMUNE_WORKER, pBaDinh)
	admin := ts.as(t, "admin")
	tok, err := ts.admin().CreateToken(admin, &pb.CreateTokenRequest{Parent: "users/bd.worker"})
	if err != nil {
		t.Fatal(err)
	}
	if tok.GetCreator() != "users/admin" {
		t.Errorf("CreateToken's answer names the creator %q, want users/admin", tok.GetCreator())
	}
	list, err := ts.admin().ListTokens(admin, &pb.ListTokensRequest{Parent: "users/bd.worker"})
	if err != nil {
		t.Fatal(err)
	}
	creators := map[string]string{}
	for _, l := range list.GetTokens() {
		creators[l.GetName()] = l.GetCreator()
	}
	// Both bd.worker's tokens, the one CreateUser answered with and this
	// one, were created by the admin.
	if len(creators) != 2 || creators[tok.GetName()] != "users/admin" {
		t.Errorf("ListTokens of bd.worker: creators %v; want two tokens, both created by users/admin", creators)
	}
	for name, c := range creators {
		if c != "users/admin" {
			t.Errorf("token %s names the creator %q, want users/admin", name, c)
		}
	}
	// The admin's own token came with the first start.
	own, err := ts.admin().ListTokens(admin, &pb.ListTokensRequest{Parent: "users/admin"})
	if err != nil {
		t.Fatal(err)
	}
	if len(own.GetTokens()) == 0 {
		t.Fatal("the admin has no token")
	}
	for _, l := range own.GetTokens() {
		if l.GetCreator() != "users/system" {
			t.Errorf("the admin's token %s names the creator %q, want users/system (the first start)", l.GetName(), l.GetCreator())
		}
	}
}
