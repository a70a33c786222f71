package cli

import (
	"context"
	"io"
	"net/http"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestUsersOnAnEtcdStore: no users command reached an etcd store, so an
// admin of one who held no token (the sole admin, once admins needed a
// second factor they had not enrolled) had no way back in, where on a
// file "users add --db" makes a new admin. users add, list and revoke
// take --store etcd://... and the etcd flags of serve, while a server
// runs on the store; what they do is audited as on a file (by
// users/system, the command named), the token made works at once on the
// running server, and a prefix that holds no store is refused and left
// empty.
func TestUsersOnAnEtcdStore(t *testing.T) {
	mvClearEnv(t)
	_, store := mvEtcd(t)
	dir := t.TempDir()
	mgMustRun(t, "migrate-store", "--from", opsDatabase(t, dir), "--to", store)

	// A server runs on the store meanwhile.
	httpAddr := mgAddr(t)
	ctx, cancel := context.WithCancel(t.Context())
	out := &mgBuffer{}
	exit := make(chan int, 1)
	go func() {
		exit <- Main(ctx, []string{"serve", "--store", store, "--key-file", filepath.Join(dir, "cc.key"),
			"--grpc-addr", mgAddr(t), "--http-addr", httpAddr, "--shutdown-timeout", "5s"}, out, out)
	}()
	defer func() {
		cancel()
		<-exit
	}()
	client := &http.Client{Timeout: 10 * time.Second}
	get := func(path, token string) (int, string) {
		t.Helper()
		req, err := http.NewRequest(http.MethodGet, "http://"+httpAddr+path, nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := client.Do(req)
		if err != nil {
			return 0, err.Error()
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(body)
	}
	for ready := false; !ready; {
		select {
		case code := <-exit:
			t.Fatalf("serve on %s exited %d:\n%s", store, code, out.String())
		case <-time.After(50 * time.Millisecond):
			code, _ := get("/readyz", "")
			ready = code == http.StatusOK
		}
	}

	token := regexp.MustCompile(`(?m)^cc_\S+$`)
	added := mgMustRun(t, "users", "add", "--store", store, "--id", "rescue.admin", "--name", "Rescue admin", "--role", "ADMIN", "--unit", "orgs/system")
	admin := token.FindString(added)
	auditor := token.FindString(mgMustRun(t, "users", "add", "--store", store, "--id", "rescue.auditor", "--name", "Rescue auditor", "--role", "AUDITOR", "--unit", "orgs/system"))
	if admin == "" || auditor == "" {
		t.Fatalf("users add --store printed no token:\n%s", added)
	}
	if code, body := get("/v1/users", admin); code != http.StatusOK || !strings.Contains(body, "users/first.user") {
		t.Errorf("GET /v1/users with the token users add --store made: %d %.300s, want 200 and the store's users", code, body)
	}
	if list := mgMustRun(t, "users", "list", "--store", store); !strings.Contains(list, "rescue.admin") || !strings.Contains(list, "first.user") {
		t.Errorf("users list --store:\n%s", list)
	}
	mgMustRun(t, "users", "revoke", "--store", store, "--id", "rescue.admin")
	if code, _ := get("/v1/users", admin); code != http.StatusUnauthorized {
		t.Errorf("GET /v1/users with a token users revoke --store revoked: %d, want 401", code)
	}

	code, body := get("/v1/auditEvents?actor=users/system&page_size=1000", auditor)
	body = strings.NewReplacer(", ", ",", `": `, `":`).Replace(body) // protojson's spacing varies on purpose
	for _, want := range []string{`"action":"user.create","resource":"users/rescue.admin","request_id":"users add"`, `"action":"user.disable","resource":"users/rescue.admin"`} {
		if code != http.StatusOK || !strings.Contains(body, want) {
			t.Errorf("the audit trail of users/system: %d, want %s in\n%.2000s", code, want, body)
		}
	}
	// A prefix with no store in it is no store to add a user to.
	code, _, stderr := mgRun(t, "users", "add", "--store", store, "--etcd-prefix", "/nothing/", "--id", "x.admin", "--name", "X", "--role", "ADMIN", "--unit", "orgs/system")
	if code != 1 || !strings.Contains(stderr, "holds no childcase store") {
		t.Errorf("users add on an empty prefix: exit %d, want 1 saying it holds no store:\n%s", code, stderr)
	}
	if code, stdout, _ := mgRun(t, "check", "--store", store, "--etcd-prefix", "/nothing/"); code == 0 {
		t.Errorf("check found a store under the prefix users add was refused on:\n%s", stdout)
	}
}
