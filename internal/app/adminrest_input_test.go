package app_test

import (
	"net/http"
	"strings"
	"testing"

	pb "github.com/childcase/childcase/api/childcase/v1"
)

// TestRESTAdminCallRefusedForItsInputIsAudited: an admin's REST call
// whose input the gateway refuses itself (a body that is no JSON, a
// query parameter the method does not read, a body over 1 MiB) has its
// token accepted by the server first, so it is an admin's call refused
// after authentication, which the README puts on the trail as over gRPC:
// its action, outcome refused, the field and its rule (or the refusal's
// code) as its reason, with the call's request id. The gateway's
// authentication call answered before the audit of admin refusals ran,
// so such a call left no trace.
func TestRESTAdminCallRefusedForItsInputIsAudited(t *testing.T) {
	ts := startServer(t, "")
	ts.addUser(t, "auditor", pb.Role_ROLE_AUDITOR, "orgs/system")
	tests := []struct {
		name, method, path, body string
		status                   int
		action, resource, reason string
	}{
		// On the record the path names, as over gRPC.
		{"body no JSON", "POST", "/v1/users/ghost/tokens", `{"ttl": `, http.StatusBadRequest, "token.create", "users/ghost", " body.parse"},
		{"unread query parameter", "POST", "/v1/users?user_id=new.one&bogus=1", `{}`, http.StatusBadRequest, "user.create", pb.AdminService_CreateUser_FullMethodName, "bogus query.unexpected"},
		{"body over 1 MiB", "POST", "/v1/policeUnits?police_unit_id=ca-x", `{"display_name": "` + strings.Repeat("a", 1<<20) + `"}`, http.StatusRequestEntityTooLarge, "police_unit.create", pb.AdminService_CreatePoliceUnit_FullMethodName, "BODY_TOO_LARGE"},
		{"rotation body no JSON", "POST", "/v1/masterKey:rotate", `{`, http.StatusBadRequest, "keys.rotate", "masterKey", " body.parse"},
		// A stream: the backup, its handler never run.
		{"backup unread query parameter", "GET", "/v1/database:backup?bogus=1", ``, http.StatusBadRequest, "database.backup", pb.AdminService_BackupDatabase_FullMethodName, "bogus query.unexpected"},
	}
	_, head := newAuditEvents(t, ts, "admin", 0)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			requestID := "refused-admin-input-" + strings.ReplaceAll(tc.name, " ", "-")
			resp, raw := restResponse(t, ts, tc.method, tc.path, strings.NewReader(tc.body), map[string]string{
				"Authorization": "Bearer " + ts.tokens.get("admin"), "X-Request-Id": requestID,
			})
			if resp.StatusCode != tc.status {
				t.Fatalf("%s %s: %s %s, want %d", tc.method, tc.path, resp.Status, raw, tc.status)
			}
			var got []*pb.AuditEvent
			got, head = newAuditEvents(t, ts, "admin", head)
			if len(got) != 1 || got[0].GetAction() != tc.action || got[0].GetResource() != tc.resource || got[0].GetOutcome() != "refused" ||
				!strings.HasSuffix(got[0].GetReason(), tc.reason) || got[0].GetRequestId() != requestID || got[0].GetRole() != "ADMIN" {
				t.Fatalf("wrote%s (reasons %q)\nwant exactly %s %s refused, reason ending %q, request id %s",
					describeEvents(got), reasonsOf(got), tc.action, tc.resource, tc.reason, requestID)
			}
		})
	}
	// Without an X-Request-Id of the client's, the event carries the
	// request id the answer names, as the log line does.
	t.Run("request id given by the service", func(t *testing.T) {
		resp, raw := restResponse(t, ts, "POST", "/v1/users?user_id=new.two&bogus=1", strings.NewReader(`{}`), map[string]string{
			"Authorization": "Bearer " + ts.tokens.get("admin"),
		})
		if resp.StatusCode != http.StatusBadRequest {
			t.Fatalf("%s %s, want 400", resp.Status, raw)
		}
		var got []*pb.AuditEvent
		got, head = newAuditEvents(t, ts, "admin", head)
		answered := resp.Header.Get("X-Request-Id")
		if len(got) != 1 || answered == "" || got[0].GetRequestId() != answered {
			t.Fatalf("wrote%s with request id %q; the answer's X-Request-Id is %q", describeEvents(got), requestIDsOf(got), answered)
		}
	})
}

func requestIDsOf(events []*pb.AuditEvent) []string {
	var out []string
	for _, e := range events {
		out = append(out, e.GetRequestId())
	}
	return out
}
