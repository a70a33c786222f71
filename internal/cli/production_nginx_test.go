package cli

import (
	"fmt"
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/childcase/childcase/internal/domain/identity"
	"github.com/childcase/childcase/internal/transport/httpapi"
)

// nginxBlock matches the README's nginx location block, which an operator
// pastes into the server block that serves childcase.example.vn.
var nginxBlock = regexp.MustCompile("(?s)```nginx\n(.*?)```")

// csrfValue is the CSRF field of the sign-in form.
var csrfValue = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// TestProductionNginxProxiesTheConsole runs the README's nginx block as
// written in front of serve (with TLS, as the README's unit runs it, and
// --trusted-proxies), and signs in to the console through it as a browser
// that sends Origin but not Sec-Fetch-Site does (Safari before 16.4,
// Firefox before 90): the console's cross-origin check compares Origin
// with the Host the proxy passes on, so the block must pass the client's
// Host, or every such sign-in is refused 403. The test needs nginx; CI
// installs it (Debian's nginx-light), so there it must not skip.
func TestProductionNginxProxiesTheConsole(t *testing.T) {
	nginx, err := exec.LookPath("nginx")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("nginx is missing; .ci/run installs it (apt-get install nginx-light)")
		}
		t.Skip("nginx is not installed (Debian: apt-get install nginx-light)")
	}
	readme, err := os.ReadFile(readmePath)
	if err != nil {
		t.Fatal(err)
	}
	// The README's blocks: what goes in nginx's http context (a file in
	// /etc/nginx/conf.d/), and the location block of the server.
	var httpConf, location string
	for _, m := range nginxBlock.FindAllSubmatch(readme, -1) {
		if strings.Contains(string(m[1]), "location / {") {
			location = string(m[1])
		} else {
			httpConf += string(m[1])
		}
	}
	if location == "" {
		t.Fatal("README has no ```nginx block with the location")
	}

	dir := t.TempDir()
	cert, key := writeSelfSigned(t, dir)
	tokens := filepath.Join(dir, "demo-tokens")
	n := startNewcomer(t, "--tls-cert", cert, "--tls-key", key, "--trusted-proxies", "127.0.0.1/32", "--demo-tokens", tokens)
	upstream, err := url.Parse(n.url)
	if err != nil || upstream.Scheme != "https" {
		t.Fatalf("serve with --tls-cert printed the console at %q (%v), want https", n.url, err)
	}
	// The README's block, pointed at this server and this test's
	// certificate instead of the system's CA bundle.
	for old, repl := range map[string]string{
		"proxy_pass https://127.0.0.1:8111;": "proxy_pass https://" + upstream.Host + ";",
		"/etc/ssl/certs/ca-certificates.crt": cert,
	} {
		if !strings.Contains(location, old) {
			t.Fatalf("the README's nginx block no longer has %q:\n%s", old, location)
		}
		location = strings.ReplaceAll(location, old, repl)
	}
	// Logs go where the README puts them, here under the test's folder.
	httpConf = strings.ReplaceAll(httpConf, "/var/log/nginx/", dir+"/")
	location = strings.ReplaceAll(location, "/var/log/nginx/", dir+"/")
	front := mgAddr(t)
	user := ""
	if os.Geteuid() == 0 {
		user = "user root;" // the workers read this test's temporary files
	}
	conf := fmt.Sprintf(`%s
daemon off;
worker_processes 1;
pid %[2]s/nginx.pid;
error_log %[2]s/error.log;
events {}
http {
	# Debian's nginx.conf logs every request, query string included.
	access_log %[2]s/access.log;
	%[5]s
	client_body_temp_path %[2]s/body;
	proxy_temp_path %[2]s/proxy;
	fastcgi_temp_path %[2]s/fastcgi;
	uwsgi_temp_path %[2]s/uwsgi;
	scgi_temp_path %[2]s/scgi;
	server {
		listen %[3]s;
		%[4]s
	}
}
`, user, dir, front, location, httpConf)
	confFile := filepath.Join(dir, "nginx.conf")
	if err := os.WriteFile(confFile, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	// nginx's output goes to a file, not a pipe: its worker inherits the
	// file, and a pipe a worker still holds would keep Wait waiting.
	out, err := os.Create(filepath.Join(dir, "nginx.out"))
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	cmd := exec.Command(nginx, "-e", filepath.Join(dir, "error.log"), "-p", dir, "-c", confFile)
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		// SIGTERM: the master stops its worker, then itself.
		_ = cmd.Process.Signal(syscall.SIGTERM)
		_ = cmd.Wait()
	})

	base := "http://" + front
	// A browser of its own for each person, signed in through nginx.
	// code is the second factor's, for a role that needs one.
	signIn := func(user, code string) *http.Client {
		t.Helper()
		jar, err := cookiejar.New(nil)
		if err != nil {
			t.Fatal(err)
		}
		client := &http.Client{Jar: jar, Timeout: 30 * time.Second,
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
		var page string
		for deadline := time.Now().Add(20 * time.Second); ; {
			resp, err := client.Get(base + "/signin")
			if err == nil {
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				page = string(b)
				if resp.StatusCode == http.StatusOK {
					break
				}
				err = fmt.Errorf("%s", resp.Status)
			}
			if time.Now().After(deadline) {
				output, _ := os.ReadFile(out.Name())
				errLog, _ := os.ReadFile(filepath.Join(dir, "error.log"))
				t.Fatalf("the console through nginx: %v\nnginx: %s%s", err, output, errLog)
			}
			time.Sleep(50 * time.Millisecond)
		}
		resp, body := postForm(t, client, base, "/signin", page, url.Values{"user": {user}, "password": {n.password}, "code": {code}, "next": {"/"}})
		if resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("%s signs in through the README's nginx block: %s to %q, want 303\n%s", user, resp.Status, resp.Header.Get("Location"), body)
		}
		return client
	}

	client := signIn("badinh.worker", "")

	// A search carries the child's name, birth date and phone in its
	// query string (GET /v1/cases:search): the proxy's access log must
	// not keep them, though it logs the request.
	const child, phone = "Searchmarker Ngoc", "0987123450"
	search := base + "/v1/cases:search?" + url.Values{"child_name": {child}, "phone": {phone}, "birth_date": {"2016-04-05"}}.Encode()
	if resp, err := client.Get(search); err != nil {
		t.Fatal(err)
	} else {
		resp.Body.Close()
	}
	logged := accessLogs(t, dir, "/v1/cases:search")
	if !strings.Contains(logged, "/v1/cases:search") {
		t.Errorf("nginx logged no search; its access logs:\n%s", logged)
	}
	for _, secret := range []string{"Searchmarker", phone, "2016-04-05"} {
		if strings.Contains(logged, secret) {
			t.Errorf("nginx's access log keeps a search's %q:\n%s", secret, logged)
		}
	}
	// A body over the API's limit is refused by childcase, with its JSON
	// error naming the limit, not by nginx with a page of its own: nginx's
	// default client_max_body_size is the API's limit, 1 MiB, and a
	// client that switches on the reason read nginx's HTML.
	bodyOverLimit(t, base, demoToken(t, tokens, "HOTLINE_OPERATOR"))

	resp, err := client.Get(base + "/queues")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("the queues through nginx after signing in: %s", resp.Status)
	}

	// An admin's new one-time link names the address people reach the
	// console at, the proxy's, not the one nginx connects to.
	code, err := identity.TOTPCode(n.secret, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	admin := signIn("demo.admin", code)
	resp, err = admin.Get(base + "/admin/users/badinh.worker")
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	resp, body := postForm(t, admin, base, "/admin/users/badinh.worker/reset-password", string(page), url.Values{"request_id": {"nginx-reset"}})
	link := resetLink.FindStringSubmatch(body)
	if resp.StatusCode != http.StatusOK || link == nil {
		t.Fatalf("reset badinh.worker's password through nginx: %s\n%s", resp.Status, body)
	}
	u, err := url.Parse(html.UnescapeString(link[1]))
	if err != nil || u.Host != front || !strings.HasPrefix(u.Path, "/password/pw_") {
		t.Fatalf("the one-time link through nginx is %q, want one on the proxy's address %s", link[1], front)
	}

	// Its person opens it: the access log shows the page, not the
	// secret, which would let whoever reads the log set their password
	// first.
	if resp, err := http.Get(base + u.Path); err != nil {
		t.Fatal(err)
	} else {
		resp.Body.Close()
	}
	secret := strings.TrimPrefix(u.Path, "/password/")
	logged = accessLogs(t, dir, "/password/")
	if !strings.Contains(logged, "GET /password/") {
		t.Errorf("nginx logged no opening of the link; its access logs:\n%s", logged)
	}
	if strings.Contains(logged, secret) {
		t.Errorf("nginx's access log keeps a one-time link's secret:\n%s", logged)
	}
}

// accessLogs returns nginx's access logs in dir once they hold want (nginx
// logs a request after answering it), or after 5 seconds.
func accessLogs(t *testing.T, dir, want string) string {
	t.Helper()
	var logged strings.Builder
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		logged.Reset()
		logs, _ := filepath.Glob(filepath.Join(dir, "*.log"))
		for _, f := range logs {
			if filepath.Base(f) != "error.log" {
				b, _ := os.ReadFile(f)
				logged.Write(b)
			}
		}
		if strings.Contains(logged.String(), want) || time.Now().After(deadline) {
			return logged.String()
		}
	}
}

// resetLink is the one-time link on the admin's page after a reset.
var resetLink = regexp.MustCompile(`<input id="link" readonly value="([^"]+)"`)

// postForm posts a form of a console page as a browser that sends Origin
// but not Sec-Fetch-Site does, with the page's CSRF token, and returns
// the answer and its body.
func postForm(t *testing.T, client *http.Client, base, path, page string, form url.Values) (*http.Response, string) {
	t.Helper()
	csrf := csrfValue.FindStringSubmatch(page)
	if csrf == nil {
		t.Fatalf("the page before %s has no CSRF field:\n%s", path, page)
	}
	form.Set("csrf", html.UnescapeString(csrf[1]))
	req, err := http.NewRequest(http.MethodPost, base+path, strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", base) // the page's own origin, as the browser names it
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	return resp, string(body)
}

// bodyOverLimit posts a report of one byte over the API's body limit
// through the proxy at base, with a Content-Length and chunked, and fails
// unless each is answered 413 with the API's BODY_TOO_LARGE error.
func bodyOverLimit(t *testing.T, base, token string) {
	t.Helper()
	body := `{"report":{"narrative":"` + strings.Repeat("a", httpapi.MaxBodyBytes) + `"}}`
	for _, chunked := range []bool{false, true} {
		var r io.Reader = strings.NewReader(body)
		if chunked {
			r = io.MultiReader(r) // no length known: sent chunked
		}
		req, err := http.NewRequest(http.MethodPost, base+"/v1/reports", r)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Authorization", "Bearer "+token)
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		answer, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusRequestEntityTooLarge || !strings.Contains(string(answer), `"reason":"BODY_TOO_LARGE"`) {
			t.Errorf("a body over the limit (chunked %v) through the README's nginx block: %s, want 413 with the API's BODY_TOO_LARGE error:\n%.300s",
				chunked, resp.Status, answer)
		}
	}
}

// demoToken reads the token of a demo user's shell variable (name) from
// the file --demo-tokens wrote.
func demoToken(t *testing.T, file, name string) string {
	t.Helper()
	raw, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile("(?m)^" + name + "='([^']+)'$").FindSubmatch(raw)
	if m == nil {
		t.Fatalf("%s has no %s", file, name)
	}
	return string(m[1])
}
