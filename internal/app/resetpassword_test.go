package app_test

import (
	"encoding/json"
	"path/filepath"
	"regexp"
	"testing"
	"time"

	pb "github.com/childcase/childcase/api/childcase/v1"
)

var linkSecretPattern = regexp.MustCompile(`^pw_[0-9a-f]{16}_[A-Za-z0-9_-]{43}$`)

// CreateUser answers a set-password link, and POST
// /v1/users/{user}:resetPassword answers a new one to an admin, retries
// included; the old link's secret is never shown again.
func TestResetPasswordOverREST(t *testing.T) {
	ts := startServer(t, filepath.Join(t.TempDir(), "cc.db"))
	created, err := ts.admin().CreateUser(ts.as(t, "admin"), &pb.CreateUserRequest{UserId: "lan.nguyen",
		User: &pb.User{DisplayName: "Nguyễn Thị Lan", Role: pb.Role_ROLE_COMMUNE_WORKER, Unit: "units/00004@2025-07-01"}})
	if err != nil {
		t.Fatal(err)
	}
	if !linkSecretPattern.MatchString(created.GetPasswordLinkSecret()) ||
		!created.GetPasswordLinkExpireTime().AsTime().Equal(testNow.Add(72*time.Hour)) {
		t.Errorf("CreateUser's link: %q expiring %v", created.GetPasswordLinkSecret(), created.GetPasswordLinkExpireTime().AsTime())
	}

	code, raw := restRaw(t, ts, "POST", "/v1/users/lan.nguyen:resetPassword", `{"request_id": "reset-1"}`, map[string]string{
		"Content-Type": "application/json", "Authorization": "Bearer " + ts.tokens.get("admin"),
	})
	var out struct {
		Secret string    `json:"password_link_secret"`
		Expire time.Time `json:"password_link_expire_time"`
	}
	if err := json.Unmarshal(raw, &out); err != nil || code != 200 {
		t.Fatalf(":resetPassword: %d %s", code, raw)
	}
	if !linkSecretPattern.MatchString(out.Secret) || out.Secret == created.GetPasswordLinkSecret() || !out.Expire.Equal(testNow.Add(72*time.Hour)) {
		t.Errorf(":resetPassword answered %s", raw)
	}
	// A retry answers the first link's expiry, without its secret.
	code, raw = restRaw(t, ts, "POST", "/v1/users/lan.nguyen:resetPassword", `{"request_id": "reset-1"}`, map[string]string{
		"Content-Type": "application/json", "Authorization": "Bearer " + ts.tokens.get("admin"),
	})
	out.Secret = ""
	if err := json.Unmarshal(raw, &out); err != nil || code != 200 || out.Secret != "" || !out.Expire.Equal(testNow.Add(72*time.Hour)) {
		t.Errorf("retry of :resetPassword: %d %s", code, raw)
	}
	if code, _ := restCall(t, ts, "POST", "/v1/users/lan.nguyen:resetPassword", `{}`); code != 403 {
		t.Errorf(":resetPassword by an operator: %d, want 403", code)
	}
	code, raw = restRaw(t, ts, "POST", "/v1/users/nobody:resetPassword", `{}`, map[string]string{
		"Content-Type": "application/json", "Authorization": "Bearer " + ts.tokens.get("admin"),
	})
	if code != 404 {
		t.Errorf(":resetPassword of an unknown user: %d %s, want 404", code, raw)
	}
}
