package cli

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/binary"
	"encoding/json"
	"encoding/pem"
	"io"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/childcase/childcase/internal/app"
	"github.com/childcase/childcase/internal/domain/audit"
	"github.com/childcase/childcase/internal/keys"
)

// The tests in this file drive the management commands (users, keys, audit)
// and serve --demo through Main, against real database files in t.TempDir().

// mgTokenRE is the form of every bearer token the service issues.
var mgTokenRE = regexp.MustCompile(`cc_[0-9a-f]{16}_[A-Za-z0-9_-]{43}`)

// mgClearEnv unsets every environment twin the commands read, so that the
// developer's environment cannot change what these tests run.
func mgClearEnv(t *testing.T) {
	t.Helper()
	for _, name := range []string{
		"DB", "GRPC_ADDR", "HTTP_ADDR", "METRICS_ADDR", "SHUTDOWN_TIMEOUT", "TLS_CERT", "TLS_KEY", "CLIENT_CA", "KEY_FILE", "DEMO", "DEMO_TOKENS",
		"ID", "NAME", "ROLE", "UNIT", "PHONE", "TTL",
	} {
		t.Setenv(EnvPrefix+name, "")
	}
}

// mgRun runs one command to completion and returns its exit code and output.
func mgRun(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code = Main(context.Background(), args, &out, &errOut)
	return code, out.String(), errOut.String()
}

// mgMustRun runs a command that must exit 0.
func mgMustRun(t *testing.T, args ...string) string {
	t.Helper()
	code, stdout, stderr := mgRun(t, args...)
	if code != 0 {
		t.Fatalf("%s: exit %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), code, stdout, stderr)
	}
	return stdout
}

// mgAddr is a free loopback address for a server the test starts. The
// port is found by listening and closing, so the kernel may hand the same
// one out again at once: two calls for one server's gRPC and HTTP
// addresses then named one port, and the server failed "address already
// in use". mgPortsGiven keeps every port this test binary handed out, so
// none is given twice.
func mgAddr(t *testing.T) string {
	t.Helper()
	for {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := l.Addr().String()
		l.Close()
		if _, given := mgPortsGiven.LoadOrStore(addr, true); !given {
			return addr
		}
	}
}

var mgPortsGiven sync.Map

// mgBuffer is a bytes.Buffer safe for a writer goroutine and a reader.
type mgBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *mgBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *mgBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// mgServer is "childcase serve" running in this process.
type mgServer struct {
	t      *testing.T
	http   string
	client *http.Client
	stderr *mgBuffer // the stderr given to Main
	// osStderr is what was written to os.Stderr while the server ran: where
	// output ends up that should have gone to Main's stderr.
	osStderr *mgBuffer
	cancel   context.CancelFunc
	exit     chan int
	stopped  bool
	restore  func()
}

// mgServe starts serve on free ports with db and keyFile (and extra flags),
// and waits until /healthz answers. The server is stopped at the end of the
// test if the test does not stop it first.
func mgServe(t *testing.T, db, keyFile string, extra ...string) *mgServer {
	t.Helper()
	s := &mgServer{
		t: t, http: mgAddr(t), client: &http.Client{Timeout: 10 * time.Second},
		stderr: &mgBuffer{}, osStderr: &mgBuffer{}, exit: make(chan int, 1),
	}
	// Capture os.Stderr too: what the server prints there would otherwise
	// be lost to the test (and mixed into go test's output).
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	orig := os.Stderr
	os.Stderr = w
	copied := make(chan struct{})
	go func() { io.Copy(s.osStderr, r); close(copied) }()
	s.restore = func() {
		os.Stderr = orig
		w.Close()
		<-copied
		r.Close()
	}
	ctx, cancel := context.WithCancel(context.Background())
	s.cancel = cancel
	args := append([]string{"serve", "--db", db, "--key-file", keyFile,
		"--grpc-addr", mgAddr(t), "--http-addr", s.http, "--shutdown-timeout", "5s"}, extra...)
	go func() { s.exit <- Main(ctx, args, s.stderr, s.stderr) }()
	t.Cleanup(func() { s.stop() })

	deadline := time.Now().Add(10 * time.Second)
	for {
		resp, err := s.client.Get("http://" + s.http + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return s
			}
		}
		select {
		case code := <-s.exit:
			s.stopped = true
			s.restore()
			t.Fatalf("serve exited %d before answering\nstderr:\n%s\nos.Stderr:\n%s", code, s.stderr, s.osStderr)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("serve did not come up: %v\nstderr:\n%s\nos.Stderr:\n%s", err, s.stderr, s.osStderr)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// stop cancels serve's context and checks that Main returns 0.
func (s *mgServer) stop() {
	s.t.Helper()
	if s.stopped {
		return
	}
	s.stopped = true
	s.client.CloseIdleConnections()
	s.cancel()
	defer s.restore()
	select {
	case code := <-s.exit:
		if code != 0 {
			s.t.Errorf("serve exited %d after cancel\nstderr:\n%s", code, s.stderr)
		}
	case <-time.After(10 * time.Second):
		s.t.Fatalf("serve did not return after its context was cancelled")
	}
}

// console is everything the server printed, wherever it went.
func (s *mgServer) console() string { return s.stderr.String() + s.osStderr.String() }

// get calls GET path with the bearer token (none when empty).
func (s *mgServer) get(path, token string) (int, []byte) {
	s.t.Helper()
	req, err := http.NewRequest(http.MethodGet, "http://"+s.http+path, nil)
	if err != nil {
		s.t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := s.client.Do(req)
	if err != nil {
		s.t.Fatalf("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		s.t.Fatalf("GET %s: %v", path, err)
	}
	return resp.StatusCode, body
}

// cases lists the cases the token's user sees (one page of up to 500).
func (s *mgServer) cases(token string) []json.RawMessage {
	s.t.Helper()
	code, body := s.get("/v1/cases?page_size=500", token)
	if code != http.StatusOK {
		s.t.Fatalf("GET /v1/cases: %d %s", code, body)
	}
	var resp struct {
		Cases         []json.RawMessage `json:"cases"`
		NextPageToken string            `json:"nextPageToken"`
	}
	if err := json.Unmarshal(body, &resp); err != nil {
		s.t.Fatalf("GET /v1/cases: %v in %s", err, body)
	}
	if resp.NextPageToken != "" {
		s.t.Fatalf("GET /v1/cases: more than one page")
	}
	return resp.Cases
}

const mgAdminLine = "created the admin user"

// mgDemoRoles are the roles serve --demo must print a token for.
var mgDemoRoles = []string{
	"HOTLINE_OPERATOR", "HOTLINE_SUPERVISOR", "COMMUNE_WORKER", "COMMUNE_CHAIR",
	"DISTRICT_OFFICER", "CITY_OFFICER", "POLICE_LIAISON", "AUDITOR", "ADMIN",
}

var mgDemoLineRE = regexp.MustCompile(`(?m)^\s+([a-z][a-z0-9._-]+)\s+([A-Z_]+)\s+\S+\s+(` + mgTokenRE.String() + `)\s*$`)

// mgDemoTokens reads the demo token table the server printed: user id to
// token, and role to the first token of that role. The table must be in
// the stderr given to Main; when it went to os.Stderr instead, that is
// reported and the tokens are taken from there so the test can go on.
//
// Only when strict is the misplaced table an error: the other callers need
// the tokens, not the place they were printed to.
func mgDemoTokens(t *testing.T, s *mgServer, strict bool) (byUser, byRole map[string]string) {
	t.Helper()
	out := s.stderr.String()
	if !strings.Contains(out, "Demo users") {
		if !strict {
			out = s.osStderr.String()
		}
	}
	if !strings.Contains(out, "Demo users") {
		t.Errorf("serve --demo: the demo tokens are not in the stderr passed to Main (they went to the process's os.Stderr: %t); "+
			"cli.serve must pass Console: stderr in app.Options", strings.Contains(s.osStderr.String(), "Demo users"))
		out = s.osStderr.String()
	}
	byUser, byRole = map[string]string{}, map[string]string{}
	for _, m := range mgDemoLineRE.FindAllStringSubmatch(out, -1) {
		byUser[m[1]] = m[3]
		if _, ok := byRole[m[2]]; !ok {
			byRole[m[2]] = m[3]
		}
	}
	for _, role := range mgDemoRoles {
		if byRole[role] == "" {
			t.Errorf("no demo token printed for %s in:\n%s", role, out)
		}
	}
	if t.Failed() && len(byUser) == 0 {
		t.FailNow()
	}
	return byUser, byRole
}

// TestManageUsers covers users add, list and revoke on a new database.
func TestManageUsers(t *testing.T) {
	mgClearEnv(t)
	dir := t.TempDir()
	db := filepath.Join(dir, "cc.db")

	out := mgMustRun(t, "users", "add", "--create", "--db", db, "--id", "lan.nguyen", "--name", "Nguyễn Thị Lan",
		"--role", "COMMUNE_WORKER", "--unit", "units/00004@2025-07-01", "--phone", "0241 000 0009")
	if toks := mgTokenRE.FindAllString(out, -1); len(toks) != 1 {
		t.Errorf("users add printed %d tokens, want exactly 1:\n%s", len(toks), out)
	}
	if !regexp.MustCompile(`(?m)^` + mgTokenRE.String() + `$`).MatchString(out) {
		t.Errorf("users add: the token is not alone on its line:\n%s", out)
	}
	if strings.Contains(out, mgAdminLine) {
		t.Errorf("users add printed a bootstrap admin:\n%s", out)
	}

	list := mgMustRun(t, "users", "list", "--db", db)
	lines := strings.Split(strings.TrimSpace(list), "\n")
	if len(lines) != 2 || !strings.HasPrefix(lines[0], "USER") {
		// The bootstrap admin is created by serve on a database without
		// users, never by users add: the list holds the new user only.
		t.Fatalf("users list: want the header and exactly one user (no bootstrap admin), got:\n%s", list)
	}
	if f := strings.Fields(lines[1]); len(f) < 4 || f[0] != "lan.nguyen" || f[1] != "COMMUNE_WORKER" || f[2] != "units/00004@2025-07-01" || f[3] != "active" {
		t.Errorf("users list: row %q, want lan.nguyen COMMUNE_WORKER units/00004@2025-07-01 active", lines[1])
	}
	if !strings.Contains(lines[1], "Nguyễn Thị Lan") {
		t.Errorf("users list: row %q lacks the display name", lines[1])
	}

	// Invalid input: exit 1, naming the flag, never the API's field it
	// fills (user_id, user.display_name, token_ttl: the words of the
	// domain's errors, which a person at the command line did not type).
	// (The flag itself, "--role is required", is the person's word.)
	apiField := regexp.MustCompile(`user_id|display_name|user\.|token_ttl|(?:^|[^-])\brole is`)
	for _, tt := range []struct {
		name string
		args []string
		want *regexp.Regexp
	}{
		{"unknown role", []string{"--id", "bad.role", "--name", "X", "--role", "SHERIFF", "--unit", "orgs/system"}, regexp.MustCompile(`--role`)},
		{"missing role", []string{"--id", "no.role", "--name", "X", "--unit", "orgs/system"}, regexp.MustCompile(`--role`)},
		{"unit not a commune", []string{"--id", "bad.unit", "--name", "X", "--role", "COMMUNE_WORKER", "--unit", "units/01@2020-01-01"}, regexp.MustCompile(`--unit: a COMMUNE_WORKER belongs to a commune`)},
		{"unknown unit", []string{"--id", "bad.unit2", "--name", "X", "--role", "COMMUNE_WORKER", "--unit", "units/99999@2025-07-01"}, regexp.MustCompile(`--unit: `)},
		{"commune a reform ended", []string{"--id", "old.unit", "--name", "X", "--role", "COMMUNE_WORKER", "--unit", "units/00004@2020-01-01"}, regexp.MustCompile(`--unit: Phường Trúc Bạch \(00004@2020-01-01\) is not in force on .*went into units/00004@2025-07-01`)},
		{"unknown police unit", []string{"--id", "bad.police", "--name", "X", "--role", "POLICE_LIAISON", "--unit", "policeUnits/ca-nowhere"}, regexp.MustCompile(`--unit: police unit policeUnits/ca-nowhere does not exist`)},
		{"bad id", []string{"--id", "Bad Id!", "--name", "X", "--role", "ADMIN", "--unit", "orgs/system"}, regexp.MustCompile(`--id: a user id is 2-63 characters`)},
		{"reserved id", []string{"--id", "system", "--name", "X", "--role", "ADMIN", "--unit", "orgs/system"}, regexp.MustCompile(`--id: "system" is the service's own name`)},
		{"missing name", []string{"--id", "no.name", "--role", "ADMIN", "--unit", "orgs/system"}, regexp.MustCompile(`--name is required`)},
		{"long name", []string{"--id", "long.name", "--name", strings.Repeat("x", 201), "--role", "ADMIN", "--unit", "orgs/system"}, regexp.MustCompile(`--name is at most 200 characters`)},
		{"name of punctuation", []string{"--id", "dash.name", "--name", "--", "--role", "ADMIN", "--unit", "orgs/system"}, regexp.MustCompile(`--name needs a letter or digit`)},
		{"control in name", []string{"--id", "esc.name", "--name", "A\x1b[2J", "--role", "ADMIN", "--unit", "orgs/system"}, regexp.MustCompile(`--name: must not contain a control character`)},
		{"long phone", []string{"--id", "long.phone", "--name", "X", "--role", "ADMIN", "--unit", "orgs/system", "--phone", strings.Repeat("1", 41)}, regexp.MustCompile(`--phone: a work phone is at most 40 characters`)},
		// The police call the number: one that is none is refused as
		// intake refuses a caller's, by the same rule.
		{"phone that is a word", []string{"--id", "word.phone", "--name", "X", "--role", "ADMIN", "--unit", "orgs/system", "--phone", "call me maybe"}, regexp.MustCompile(`--phone: a work phone is a phone number: .*\[phone\.number\]|--phone: a work phone is a phone number`)},
		{"phone short of digits", []string{"--id", "short.phone", "--name", "X", "--role", "ADMIN", "--unit", "orgs/system", "--phone", "024 0000 8"}, regexp.MustCompile(`--phone: a work phone is a phone number`)},
		{"short ttl", []string{"--id", "short.ttl", "--name", "X", "--role", "ADMIN", "--unit", "orgs/system", "--ttl", "1s"}, regexp.MustCompile(`--ttl: a token lives between 1 minute and`)},
		// 0s is refused as the API refuses a ttl of "0s": it is no
		// lifetime, and the domain reads 0 as "left out", 90 days.
		{"zero ttl", []string{"--id", "zero.ttl", "--name", "X", "--role", "ADMIN", "--unit", "orgs/system", "--ttl", "0s"}, regexp.MustCompile(`--ttl: a token lives between 1 minute and 400 days`)},
		{"ttl past 400 days", []string{"--id", "long.ttl", "--name", "X", "--role", "ADMIN", "--unit", "orgs/system", "--ttl", "9600h0m1s"}, regexp.MustCompile(`--ttl: a token lives between 1 minute and 400 days`)},
		{"duplicate id", []string{"--id", "lan.nguyen", "--name", "X", "--role", "ADMIN", "--unit", "orgs/system"}, regexp.MustCompile(`lan\.nguyen`)},
	} {
		t.Run(tt.name, func(t *testing.T) {
			code, stdout, stderr := mgRun(t, append([]string{"users", "add", "--db", db}, tt.args...)...)
			if code == 0 || !tt.want.MatchString(stderr) {
				t.Errorf("exit %d, want non-zero with a message matching %s\nstdout:\n%s\nstderr:\n%s", code, tt.want, stdout, stderr)
			}
			if m := apiField.FindString(stderr); m != "" {
				t.Errorf("the error names the API's %q, not the flag:\n%s", m, stderr)
			}
			if mgTokenRE.MatchString(stdout + stderr) {
				t.Errorf("a failed users add printed a token:\n%s%s", stdout, stderr)
			}
		})
	}
	if list2 := mgMustRun(t, "users", "list", "--db", db); list2 != list {
		t.Errorf("failed adds changed the user list:\nbefore:\n%s\nafter:\n%s", list, list2)
	}

	out = mgMustRun(t, "users", "revoke", "--db", db, "--id", "lan.nguyen")
	if !strings.Contains(out, "lan.nguyen") {
		t.Errorf("users revoke: %q does not name the user", out)
	}
	list = mgMustRun(t, "users", "list", "--db", db)
	if !regexp.MustCompile(`(?m)^lan\.nguyen\s+COMMUNE_WORKER\s+\S+\s+disabled\s`).MatchString(list) {
		t.Errorf("users list after revoke: lan.nguyen is not disabled:\n%s", list)
	}
	if code, _, stderr := mgRun(t, "users", "revoke", "--db", db, "--id", "no.such.user"); code == 0 || !strings.Contains(stderr, "no.such.user") {
		t.Errorf("revoke of an unknown user: exit %d, stderr %q", code, stderr)
	}
	if code, _, _ := mgRun(t, "users", "frobnicate", "--db", db); code != 2 {
		t.Errorf("unknown users subcommand: exit %d, want 2", code)
	}
}

// TestManageUserTokenWorksWithServe checks that the token users add prints
// authenticates against a server started afterwards on the same database,
// and that such a database gets no bootstrap admin.
func TestManageUserTokenWorksWithServe(t *testing.T) {
	mgClearEnv(t)
	dir := t.TempDir()
	db, keyFile := filepath.Join(dir, "cc.db"), filepath.Join(dir, "cc.key")
	out := mgMustRun(t, "users", "add", "--create", "--db", db, "--id", "root", "--name", "Root", "--role", "ADMIN", "--unit", "orgs/system")
	token := mgTokenRE.FindString(out)
	if token == "" {
		t.Fatalf("no token in:\n%s", out)
	}

	auditorToken := mgTokenRE.FindString(mgMustRun(t, "users", "add", "--db", db, "--id", "aud", "--name", "Aud", "--role", "AUDITOR", "--unit", "orgs/system"))

	s := mgServe(t, db, keyFile)
	if code, body := s.get("/v1/units?page_size=1", token); code != http.StatusOK {
		t.Errorf("with the users add token: %d %s", code, body)
	}
	// Its calls are audited as made with a token users add created: by
	// users/system, not the user (the README's token_created_by).
	var found bool
	for range 2 { // the second listing holds the first's event
		code, body := s.get("/v1/auditEvents?page_size=50", auditorToken)
		if code != http.StatusOK {
			t.Fatalf("audit events as the auditor users add made: %d %s", code, body)
		}
		var page struct {
			Events []struct {
				Actor          string `json:"actor"`
				Token          string `json:"token"`
				TokenCreatedBy string `json:"token_created_by"`
			} `json:"events"`
		}
		if err := json.Unmarshal(body, &page); err != nil {
			t.Fatal(err)
		}
		for _, e := range page.Events {
			if e.Actor == "users/aud" {
				found = true
				if !strings.HasPrefix(e.Token, "users/aud/tokens/") || e.TokenCreatedBy != "users/system" {
					t.Errorf("an event of the auditor's call names token %q created by %q, want users/aud/tokens/... created by users/system", e.Token, e.TokenCreatedBy)
				}
			}
		}
	}
	if !found {
		t.Error("no audit event of the auditor's first listing")
	}
	if code, body := s.get("/v1/units?page_size=1", ""); code != http.StatusUnauthorized {
		t.Errorf("without a token: %d %s, want 401", code, body)
	}
	wrong := token[:len(token)-1] + "A"
	if strings.HasSuffix(token, "A") {
		wrong = token[:len(token)-1] + "B"
	}
	if code, body := s.get("/v1/units?page_size=1", wrong); code != http.StatusUnauthorized {
		t.Errorf("with a wrong secret: %d %s, want 401", code, body)
	}
	s.stop()
	if strings.Contains(s.console(), mgAdminLine) {
		t.Errorf("serve created a bootstrap admin on a database that already had a user:\n%s", s.console())
	}
	if _, err := os.Stat(keyFile); err != nil {
		t.Errorf("key file: %v", err)
	}

	// A revoked user's token stops working at the next start.
	mgMustRun(t, "users", "revoke", "--db", db, "--id", "root")
	s = mgServe(t, db, keyFile)
	if code, body := s.get("/v1/units?page_size=1", token); code != http.StatusUnauthorized {
		t.Errorf("after users revoke: %d %s, want 401", code, body)
	}
	s.stop()
}

// TestDemo starts serve --demo on a new database, checks every demo token
// and what each role sees, then starts it again with --demo.
func TestDemo(t *testing.T) {
	mgClearEnv(t)
	dir := t.TempDir()
	db, keyFile := filepath.Join(dir, "cc.db"), filepath.Join(dir, "cc.key")

	s := mgServe(t, db, keyFile, "--demo")
	byUser, byRole := mgDemoTokens(t, s, true)
	if n := strings.Count(s.console(), mgAdminLine); n != 1 {
		t.Errorf("first start: the bootstrap admin line appears %d times, want 1:\n%s", n, s.console())
	}
	if !strings.Contains(s.stderr.String(), mgAdminLine) {
		t.Errorf("first start: the bootstrap admin token is not in the stderr passed to Main (cli.serve leaves app.Options.Console unset, so it goes to os.Stderr)")
	}
	for user, tok := range byUser {
		if code, body := s.get("/v1/units/00004", tok); code != http.StatusOK {
			t.Errorf("%s: GET /v1/units/00004: %d %s", user, code, body)
		}
	}

	if tok := byRole["POLICE_LIAISON"]; tok != "" {
		cs := s.cases(tok)
		if len(cs) < 1 {
			t.Errorf("police liaison sees no case")
		}
		for _, c := range cs {
			if lc := strings.ToLower(string(c)); strings.Contains(lc, "reports") || strings.Contains(lc, "narrative") {
				t.Errorf("police liaison's case shows reports or a narrative: %s", c)
			}
		}
	}
	cityCases := -1
	if tok := byRole["CITY_OFFICER"]; tok != "" {
		cityCases = len(s.cases(tok))
		if cityCases < 4 {
			t.Errorf("city officer sees %d cases, want at least 4", cityCases)
		}
	}
	if tok := byUser["badinh.district"]; tok != "" {
		if n := len(s.cases(tok)); n < 1 {
			t.Errorf("district officer sees %d cases, want at least 1", n)
		}
	} else {
		t.Errorf("no token for badinh.district")
	}
	if tok := byRole["AUDITOR"]; tok != "" {
		if code, body := s.get("/v1/cases", tok); code != http.StatusForbidden {
			t.Errorf("auditor GET /v1/cases: %d %s, want 403", code, body)
		}
		if code, body := s.get("/v1/auditEvents", tok); code != http.StatusOK {
			t.Errorf("auditor GET /v1/auditEvents: %d %s, want 200", code, body)
		}
	}
	if tok := byRole["ADMIN"]; tok != "" {
		if code, body := s.get("/v1/cases", tok); code != http.StatusForbidden {
			t.Errorf("admin GET /v1/cases: %d %s, want 403", code, body)
		}
	}
	s.stop()

	// Again with --demo: new tokens, the old ones still valid, no new cases,
	// no new bootstrap admin.
	s = mgServe(t, db, keyFile, "--demo")
	byUser2, byRole2 := mgDemoTokens(t, s, false)
	if strings.Contains(s.console(), mgAdminLine) {
		t.Errorf("second start printed a bootstrap admin again:\n%s", s.console())
	}
	for user, tok := range byUser2 {
		if tok == byUser[user] {
			t.Errorf("%s: the second start printed the same token again", user)
		}
		if code, body := s.get("/v1/units/00004", tok); code != http.StatusOK {
			t.Errorf("%s: new token: GET /v1/units/00004: %d %s", user, code, body)
		}
	}
	if tok := byRole2["CITY_OFFICER"]; tok != "" && cityCases >= 0 {
		if n := len(s.cases(tok)); n != cityCases {
			t.Errorf("city officer sees %d cases after the second --demo start, want %d (unchanged)", n, cityCases)
		}
	}
	if tok := byRole["CITY_OFFICER"]; tok != "" {
		if code, body := s.get("/v1/units/00004", tok); code != http.StatusOK {
			t.Errorf("first start's city officer token after restart: %d %s", code, body)
		}
	}
	s.stop()
}

// TestManageKeysRotate rotates the master key of a demo database while the
// server is stopped, then serves it again with the rotated key file.
func TestManageKeysRotate(t *testing.T) {
	mgClearEnv(t)
	dir := t.TempDir()
	db, keyFile := filepath.Join(dir, "cc.db"), filepath.Join(dir, "cc.key")
	s := mgServe(t, db, keyFile, "--demo")
	byUser, _ := mgDemoTokens(t, s, false)
	s.stop()
	city := byUser["city.officer"]
	if city == "" {
		t.Fatal("no city.officer token")
	}
	old, err := keys.LoadMaster(keyFile)
	if err != nil {
		t.Fatal(err)
	}
	oldBytes, err := os.ReadFile(keyFile)
	if err != nil {
		t.Fatal(err)
	}

	out := mgMustRun(t, "keys", "rotate", "--db", db, "--key-file", keyFile)
	m := regexp.MustCompile(`Rotated to master key (\S+): (\d+) data keys? re-wrapped`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("keys rotate output: %q", out)
	}
	if m[2] == "0" {
		t.Errorf("keys rotate re-wrapped 0 data keys of a database with demo reports")
	}
	cur, err := keys.LoadMaster(keyFile)
	if err != nil {
		t.Fatalf("key file after rotation: %v", err)
	}
	if cur.ID() != m[1] || cur.ID() == old.ID() {
		t.Errorf("key file holds master %s after rotation; printed %s, old %s", cur.ID(), m[1], old.ID())
	}
	retired := keyFile + ".retired-" + old.ID()
	if !strings.Contains(out, "kept as "+retired+" for older backups") {
		t.Errorf("keys rotate does not name the retired key file %s: %q", retired, out)
	}
	if b, err := os.ReadFile(retired); err != nil || !bytes.Equal(b, oldBytes) {
		t.Errorf("retired key file %s: err %v, same content as the old key file: %t", retired, err, bytes.Equal(b, oldBytes))
	}
	if _, err := os.Stat(keyFile + ".next"); !os.IsNotExist(err) {
		t.Errorf("%s.next left behind: %v", keyFile, err)
	}
	if out := mgMustRun(t, "audit", "verify", "--db", db); !strings.HasPrefix(out, "OK") {
		t.Errorf("audit verify after rotation: %q", out)
	}

	s = mgServe(t, db, keyFile)
	cs := s.cases(city)
	if len(cs) == 0 {
		t.Fatal("city officer sees no case after rotation")
	}
	var c struct {
		Name    string   `json:"name"`
		Reports []string `json:"reports"`
	}
	if err := json.Unmarshal(cs[0], &c); err != nil || c.Name == "" || len(c.Reports) == 0 {
		t.Fatalf("case %s: %v", cs[0], err)
	}
	if code, body := s.get("/v1/"+c.Name, city); code != http.StatusOK {
		t.Errorf("GET /v1/%s after rotation: %d %s", c.Name, code, body)
	}
	// The report is sealed under a data key that the rotation re-wrapped:
	// reading it proves the new master opens it.
	code, body := s.get("/v1/"+c.Reports[0], city)
	if code != http.StatusOK || !strings.Contains(string(body), "dữ liệu demo") {
		t.Errorf("GET /v1/%s after rotation: %d %s", c.Reports[0], code, body)
	}
	s.stop()
}

// TestManageAuditVerify verifies a healthy log, then one with an event
// edited in the raw bbolt file.
func TestManageAuditVerify(t *testing.T) {
	mgClearEnv(t)
	db := filepath.Join(t.TempDir(), "cc.db")
	for _, id := range []string{"first.user", "second.user"} {
		mgMustRun(t, "users", "add", "--create", "--db", db, "--id", id, "--name", id, "--role", "AUDITOR", "--unit", "orgs/system")
	}
	out := mgMustRun(t, "audit", "verify", "--db", db)
	// Each users add appends user.create, token.create and
	// password_link.create.
	if !strings.HasPrefix(out, "OK") || !strings.Contains(out, "6 events") {
		t.Errorf("audit verify on a healthy log: %q, want OK with 6 events", out)
	}

	// Change one letter of the action of seq 2, leaving its hash.
	bdb, err := bolt.Open(db, 0o600, &bolt.Options{Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	err = bdb.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket([]byte("audit"))
		if b == nil {
			t.Fatal("no audit bucket")
		}
		key := binary.BigEndian.AppendUint64(nil, 2)
		e, err := audit.Decode(b.Get(key))
		if err != nil {
			t.Fatal(err)
		}
		if e.Action == "" || e.Action[0] < 'a' || e.Action[0] >= 'z' {
			t.Fatalf("action of seq 2 does not start with a lowercase letter: %+v", e)
		}
		e.Action = string(e.Action[0]+1) + e.Action[1:]
		edited, err := audit.Encode(e)
		if err != nil {
			t.Fatal(err)
		}
		return b.Put(key, edited)
	})
	if cerr := bdb.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		t.Fatal(err)
	}

	code, stdout, stderr := mgRun(t, "audit", "verify", "--db", db)
	if code != 1 || !strings.Contains(stdout, "BROKEN at seq 2") {
		t.Errorf("audit verify after tampering: exit %d, stdout %q, stderr %q; want 1 and BROKEN at seq 2", code, stdout, stderr)
	}
}

// TestManageRefusesADatabaseInUse runs users add while serve holds the
// database.
func TestManageRefusesADatabaseInUse(t *testing.T) {
	mgClearEnv(t)
	dir := t.TempDir()
	db := filepath.Join(dir, "cc.db")
	s := mgServe(t, db, filepath.Join(dir, "cc.key"))
	start := time.Now()
	code, stdout, stderr := mgRun(t, "users", "add", "--db", db, "--id", "late.user", "--name", "Late", "--role", "ADMIN", "--unit", "orgs/system")
	if took := time.Since(start); took > 5*time.Second {
		t.Errorf("users add took %v against a database in use", took)
	}
	if code == 0 || !strings.Contains(stderr, "in use") {
		t.Errorf("users add against a database in use: exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	if mgTokenRE.MatchString(stdout) {
		t.Errorf("printed a token: %s", stdout)
	}
	for _, args := range [][]string{{"users", "list", "--db", db}, {"audit", "verify", "--db", db}} {
		if code, _, stderr := mgRun(t, args...); code == 0 || !strings.Contains(stderr, "in use") {
			t.Errorf("%s against a database in use: exit %d, stderr %q", strings.Join(args, " "), code, stderr)
		}
	}
	s.stop()
}

// TestManageRefusesAMissingDatabase: the commands that read or write a
// database (users add, list and revoke, keys rotate without --addr, audit
// verify, stats rebuild) refuse a --db that does not exist, naming it,
// rather than create an empty database there and report on it or write
// to it: "audit verify" of a mistyped path (or on a machine whose servers
// run on etcd) said "OK: 0 events, chain intact", and "users add" of a
// mistyped path made a new database holding only that user, which the
// server on the real file never saw.
func TestManageRefusesAMissingDatabase(t *testing.T) {
	mgClearEnv(t)
	dir := t.TempDir()
	db := filepath.Join(dir, "none.db")
	for _, args := range [][]string{
		{"audit", "verify", "--db", db},
		{"stats", "rebuild", "--db", db},
		{"users", "add", "--db", db, "--id", "hoa.tran", "--name", "Trần Thị Hoa", "--role", "HOTLINE_OPERATOR", "--unit", "orgs/hotline-111"},
		{"users", "list", "--db", db},
		{"users", "revoke", "--db", db, "--id", "someone"},
		{"keys", "rotate", "--db", db, "--key-file", filepath.Join(dir, "none.key")},
	} {
		code, stdout, stderr := mgRun(t, args...)
		if code != 1 || !strings.Contains(stderr, "--db: "+db+" does not exist") || strings.Contains(stdout, "OK") || mgTokenRE.MatchString(stdout+stderr) {
			t.Errorf("%s: exit %d, want 1 naming --db\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), code, stdout, stderr)
		}
		// users add says how a database is made: by serve (with its first
		// admin) or by users add --create (with this user as the first).
		if args[1] == "add" && (!strings.Contains(stderr, "childcase serve") || !strings.Contains(stderr, "--create")) {
			t.Errorf("users add on a missing --db does not say how to create one (serve, --create):\n%s", stderr)
		}
		// Each names itself, and only the users commands are told of
		// users' etcd flags: keys rotate and audit verify were too.
		command := strings.Join(args[:2], " ")
		if !strings.Contains(stderr, command+" reads an existing bbolt file") || (args[0] != "users") == strings.Contains(stderr, "users take") {
			t.Errorf("%s on a missing --db: the refusal speaks of another command:\n%s", command, stderr)
		}
	}
	if names := dirNames(t, dir); len(names) != 0 {
		t.Errorf("the refusals left files: %v", names)
	}
	// --create is the one way users add makes a database.
	mgMustRun(t, "users", "add", "--create", "--db", db, "--id", "hoa.tran", "--name", "Trần Thị Hoa", "--role", "HOTLINE_OPERATOR", "--unit", "orgs/hotline-111")
	if list := mgMustRun(t, "users", "list", "--db", db); !strings.Contains(list, "hoa.tran") {
		t.Errorf("users add --create: the new database does not list the user:\n%s", list)
	}
	// A user --create refuses leaves no database behind: the next serve
	// would take a stray empty file for a new database.
	refused := filepath.Join(dir, "refused.db")
	if code, _, stderr := mgRun(t, "users", "add", "--create", "--db", refused, "--id", "Not An Id", "--name", "Trần Thị Hoa", "--role", "HOTLINE_OPERATOR", "--unit", "orgs/hotline-111"); code != 1 || !strings.Contains(stderr, "--id") {
		t.Errorf("users add --create of a bad id: exit %d, %s", code, stderr)
	}
	if names := dirNames(t, dir); !slices.Equal(names, []string{"none.db"}) {
		t.Errorf("a refused users add --create left %v, want only none.db", names)
	}
	// audit verify counts the events as check does (counted).
	if out := mgMustRun(t, "audit", "verify", "--db", db); !strings.HasPrefix(out, "OK: 4 events, chain intact") {
		t.Errorf("audit verify of one event: %s", out)
	}
}

// TestManageUsersAddPrintsPasswordLink checks that users add prints the
// one-time link to set the console password, on the server's HTTP address
// (https under TLS), and that the link is live for the new user.
func TestManageUsersAddPrintsPasswordLink(t *testing.T) {
	mgClearEnv(t)
	db := filepath.Join(t.TempDir(), "cc.db")
	linkRE := regexp.MustCompile(`(?m)^(https?)://([^/\s]+)/password/(pw_[0-9a-f]{16}_[A-Za-z0-9_-]{43})$`)

	out := mgMustRun(t, "users", "add", "--create", "--db", db, "--id", "lan.nguyen", "--name", "Nguyễn Thị Lan",
		"--role", "COMMUNE_WORKER", "--unit", "units/00004@2025-07-01")
	m := linkRE.FindStringSubmatch(out)
	if m == nil || m[1] != "http" || m[2] != "localhost:8111" {
		t.Fatalf("users add: want a line http://localhost:8111/password/pw_..., got:\n%s", out)
	}
	off, err := app.OpenOffline(db, "test", slog.New(slog.DiscardHandler), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	u, needsTOTP, err := off.Identity.LinkUser(context.Background(), m[3], "test")
	off.Close()
	if err != nil || u.ID != "lan.nguyen" || needsTOTP {
		t.Errorf("LinkUser of the printed link = %s, %v, %v; want lan.nguyen, false, nil", u.ID, needsTOTP, err)
	}

	t.Setenv(EnvPrefix+"HTTP_ADDR", ":8443")
	t.Setenv(EnvPrefix+"TLS_CERT", "/etc/childcase/cert.pem")
	out = mgMustRun(t, "users", "add", "--db", db, "--id", "minh.tran", "--name", "Trần Văn Minh",
		"--role", "CITY_OFFICER", "--unit", "units/01@2020-01-01")
	if m := linkRE.FindStringSubmatch(out); m == nil || m[1] != "https" || m[2] != "localhost:8443" {
		t.Errorf("users add under TLS on :8443: want https://localhost:8443/password/pw_..., got:\n%s", out)
	}

	// The production unit's server: every interface, under a certificate
	// for the name its users reach it by. A link to localhost would reach
	// nobody but the server's own machine, and fail the certificate's
	// name check even there.
	t.Setenv(EnvPrefix+"HTTP_ADDR", "0.0.0.0:8111")
	t.Setenv(EnvPrefix+"TLS_CERT", certFor(t, "*.example.vn", "childcase.example.vn"))
	out = mgMustRun(t, "users", "add", "--db", db, "--id", "hoa.le", "--name", "Lê Thị Hoa",
		"--role", "COMMUNE_WORKER", "--unit", "units/00004@2025-07-01")
	if m := linkRE.FindStringSubmatch(out); m == nil || m[1] != "https" || m[2] != "childcase.example.vn:8111" {
		t.Errorf("users add on 0.0.0.0:8111 under a certificate for childcase.example.vn: want https://childcase.example.vn:8111/password/pw_..., got:\n%s", out)
	}
}

// certFor writes a self-signed certificate for names and returns its file.
func certFor(t *testing.T, names ...string) string {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), DNSNames: names,
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "fullchain.pem")
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// A command that opens the database file, run while a server holds it,
// says what to do instead for that command: the API call that does the
// same through the server, or, for stats rebuild, which has none, to stop
// the server. Before, each said "use its AdminService API instead",
// though an audit is verified through AuditService and statistics are
// rebuilt through no API at all.
func TestOfflineCommandsOnAHeldDatabaseSayWhatToDoInstead(t *testing.T) {
	mgClearEnv(t)
	dir := t.TempDir()
	db := filepath.Join(dir, "cc.db")
	mgMustRun(t, "users", "add", "--create", "--db", db, "--id", "first.admin", "--name", "First", "--role", "ADMIN", "--unit", "orgs/system")
	bdb, err := bolt.Open(db, 0o600, &bolt.Options{Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer bdb.Close()
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"users", "list", "--db", db}, "/v1/users"},
		{[]string{"users", "revoke", "--db", db, "--id", "first.admin"}, "/v1/users"},
		{[]string{"users", "add", "--db", db, "--id", "second.admin", "--name", "S", "--role", "ADMIN", "--unit", "orgs/system"}, "/v1/users"},
		{[]string{"audit", "verify", "--db", db}, "/v1/auditEvents:verify"},
		{[]string{"keys", "rotate", "--db", db, "--key-file", filepath.Join(dir, "cc.key")}, "keys rotate --addr"},
		{[]string{"stats", "rebuild", "--db", db}, "stop the server"},
		// A backup holds the file to write its audit event, so a second
		// command may be what holds it.
		{[]string{"backup", "--db", db, "--to", filepath.Join(dir, "copy.db")}, "a server or another command (a backup, check or restore) holds it; if a server runs on it, back up through it with --addr"},
	} {
		code, _, stderr := mgRun(t, tt.args...)
		if code != 1 || !strings.Contains(stderr, "in use by another process") || !strings.Contains(stderr, tt.want) || strings.Contains(stderr, "AdminService API") {
			t.Errorf("%s on a held database: exit %d, stderr %q; want 1 saying %q", strings.Join(tt.args[:2], " "), code, stderr, tt.want)
		}
	}
}

// TestUsersAddTakesTheRoleAsTyped: --role in lower case, or as the API
// spells it (ROLE_COMMUNE_WORKER), names the role; one that is none is a
// usage error (exit 2), as a flag's bad value is, naming the flag and the
// roles it takes, which the refusal left to -h.
func TestUsersAddTakesTheRoleAsTyped(t *testing.T) {
	mgClearEnv(t)
	db := filepath.Join(t.TempDir(), "cc.db")
	mgMustRun(t, "users", "add", "--create", "--db", db, "--id", "first.admin", "--name", "Admin", "--role", "ADMIN", "--unit", "orgs/system")
	for id, role := range map[string]string{"lower.case": "hotline_operator", "api.name": "ROLE_HOTLINE_OPERATOR", "mixed.case": " Hotline_Operator "} {
		if out := mgMustRun(t, "users", "add", "--db", db, "--id", id, "--name", "X", "--role", role, "--unit", "orgs/hotline-111"); !strings.Contains(out, "(HOTLINE_OPERATOR, orgs/hotline-111)") {
			t.Errorf("users add --role %q: %s", role, out)
		}
	}
	code, _, stderr := mgRun(t, "users", "add", "--db", db, "--id", "bad.role", "--name", "X", "--role", "sheriff", "--unit", "orgs/system")
	if code != 2 || !strings.Contains(stderr, `--role: "sheriff" is not a role: one of HOTLINE_OPERATOR, HOTLINE_SUPERVISOR, `) || !strings.Contains(stderr, "ADMIN") {
		t.Errorf("users add --role sheriff: exit %d, want 2 naming --role and the roles:\n%s", code, stderr)
	}
}
