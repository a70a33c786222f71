package cli

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/childcase/childcase/internal/app"
	"github.com/childcase/childcase/internal/domain/datastore"
	"github.com/childcase/childcase/internal/storage/boltstore"
	"github.com/childcase/childcase/internal/storage/etcdstore/etcdtest"
	"github.com/childcase/childcase/internal/testpki"
)

// The README's addresses and files of "Running on etcd", rewritten to the
// test's.
var (
	readmeEtcdMembers = []string{"10.0.0.11:2379", "10.0.0.12:2379", "10.0.0.13:2379"}
	readmeEtcdApps    = []struct{ grpc, http string }{{"10.0.0.21:9111", "10.0.0.21:8111"}, {"10.0.0.22:9111", "10.0.0.22:8111"}}
)

// readmeSubsection is the README's subsection of that heading ("### "
// and the title), up to the next heading of its level or above.
func readmeSubsection(t *testing.T, md, title string) string {
	t.Helper()
	start := strings.Index(md, "\n### "+title+"\n")
	if start < 0 {
		t.Fatalf("README.md has no subsection %q", title)
	}
	section := md[start+1:]
	if end := regexp.MustCompile(`\n###? `).FindStringIndex(section[1:]); end != nil {
		section = section[:end[0]+1]
	}
	return section
}

// readmeCommands returns the commands of a console block: its lines that
// are not comments, with the lines a backslash continues joined.
func readmeCommands(text string) []string {
	var cmds []string
	var cur strings.Builder
	for _, line := range strings.Split(text, "\n") {
		if cur.Len() == 0 && (strings.HasPrefix(line, "#") || strings.TrimSpace(line) == "") {
			continue
		}
		if body, more := strings.CutSuffix(line, "\\"); more {
			cur.WriteString(body)
			continue
		}
		cur.WriteString(line)
		cmds = append(cmds, strings.Join(strings.Fields(cur.String()), " "))
		cur.Reset()
	}
	return cmds
}

// TestREADMEEtcdBlocks runs the childcase commands of the README's
// "Running on etcd" as a newcomer types them, against a three-member
// cluster embedded in the test that serves TLS and asks for client
// certificates, with the README's own file names (etcd-ca.pem,
// etcd-client.pem, ...): the move onto etcd and back, the two instances
// of "A three-member cluster" (their serve lines as written, on the
// moved store), and the backups, check and restore through them and
// offline. The console blocks are no walk-through the README test runs,
// so a flag gone or renamed there, or an output that no longer looks as
// shown, went unseen. Only etcd's own lines are not run.
func TestREADMEEtcdBlocks(t *testing.T) {
	readmeNeed(t, "bash")
	mvClearEnv(t)
	md, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	blocks := func(section string) []string {
		var cmds []string
		for _, b := range readmeBlocks(t, readmeSubsection(t, string(md), section)) {
			if b.lang == "console" {
				cmds = append(cmds, readmeCommands(b.text)...)
			}
		}
		if len(cmds) == 0 {
			t.Fatalf("README.md: no command in %q", section)
		}
		return cmds
	}
	cluster, move, backups := blocks("A three-member cluster"), blocks("Moving a database onto etcd and back"), blocks("Backups, check and restore on etcd")

	dir := t.TempDir()
	etcdCA := testpki.NewCA(t, dir, "etcd-ca")
	member := etcdCA.Issue(t, dir, "etcd-member", x509.ExtKeyUsageServerAuth)
	etcdCA.Issue(t, dir, "etcd-client", x509.ExtKeyUsageClientAuth)
	serverCA := testpki.NewCA(t, dir, "ca") // the instances' TLS: ca.pem, as the README's backup line trusts
	serving := serverCA.Issue(t, dir, "fullchain", x509.ExtKeyUsageServerAuth)
	members := etcdtest.Start(t, 3, etcdtest.WithoutFsync(), etcdtest.WithClientTLS(etcdtest.TLSFiles{
		CertFile: member.CertFile, KeyFile: member.KeyFile, ClientCAFile: etcdCA.File}))

	pairs := []string{readmeGoRun, "childcase", "/etc/childcase/tls/fullchain.pem", serving.CertFile,
		"/etc/childcase/tls/privkey.pem", serving.KeyFile, "/etc/childcase/", dir + "/"}
	for i, ep := range members.Endpoints() {
		pairs = append(pairs, readmeEtcdMembers[i], strings.TrimPrefix(ep, "https://"))
	}
	var apps [][2]string
	for _, a := range readmeEtcdApps {
		grpcAddr, httpAddr := mgAddr(t), mgAddr(t)
		apps = append(apps, [2]string{grpcAddr, httpAddr})
		pairs = append(pairs, a.grpc, grpcAddr, a.http, httpAddr)
	}
	rewrite := strings.NewReplacer(pairs...)

	// "The server on childcase.db stopped": a database made by a server's
	// command, moved onto etcd and back as the README shows.
	mgMustRun(t, "users", "add", "--create", "--db", filepath.Join(dir, "childcase.db"), "--id", "first.user", "--name", "First user",
		"--role", "AUDITOR", "--unit", "orgs/system")
	out := readmeEtcdRun(t, dir, "", rewrite, move)
	for _, shown := range []string{
		"Copied childcase.db to etcd://" + strings.TrimPrefix(members.Endpoints()[0], "https://") + ",",
		" (prefix /childcase/).\n",
		"bucket                           keys   sequence  sha256           source\n",
		fmt.Sprintf("OK: schema version %d, ", app.SchemaVersion),
		"; every bucket the same as the source's\n",
	} {
		if !strings.Contains(out, shown) {
			t.Errorf("the README's move onto etcd and back does not print %q:\n%s", shown, out)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "childcase-from-etcd.db")); err != nil {
		t.Errorf("the move back to a file: %v", err)
	}

	// The two instances of "A three-member cluster", their serve lines as
	// written, on the store just moved.
	started := 0
	for _, line := range cluster {
		args, ok := strings.CutPrefix(rewrite.Replace(line), "childcase ")
		if !ok {
			continue // etcd's own
		}
		started++
		readmeEtcdServe(t, strings.Fields(args), apps[started-1][1], serverCA.File)
	}
	if started != 2 {
		t.Fatalf("README.md: %d childcase serve lines in A three-member cluster, want app1's and app2's", started)
	}

	added := mgMustRun(t, "users", "add", "--store", "etcd://"+strings.TrimPrefix(members.Endpoints()[0], "https://"),
		"--etcd-ca", etcdCA.File, "--etcd-cert", filepath.Join(dir, "etcd-client.pem"), "--etcd-key", filepath.Join(dir, "etcd-client-key.pem"),
		"--id", "backup.admin", "--name", "Backup admin", "--role", "ADMIN", "--unit", "orgs/system")
	admin := regexp.MustCompile(`(?m)^cc_\S+$`).FindString(added)
	if admin == "" {
		t.Fatalf("users add --store printed no token:\n%s", added)
	}
	out = readmeEtcdRun(t, dir, admin, rewrite, backups)
	for _, shown := range []string{"Backed up ", fmt.Sprintf("OK: schema version %d, ", app.SchemaVersion), "Restored backups/childcase-2026-12-05.db to etcd://"} {
		if !strings.Contains(out, shown) {
			t.Errorf("the README's backups on etcd do not print %q:\n%s", shown, out)
		}
	}
	// Each backup holds its own event, the hot one's by the admin, the
	// offline one's by the system (the README once said that the offline
	// commands on etcd wrote none).
	for name, want := range map[string]string{
		"childcase-2026-12-05.db":  "database.backup by backup.admin",
		"childcase-2026-12-05b.db": "database.backup by system",
	} {
		path := filepath.Join(dir, "backups", name)
		if out := mgMustRun(t, "check", "--db", path); !strings.Contains(out, "OK: ") {
			t.Errorf("check of the README's backup %s: %s", name, out)
		}
		if got := readmeNewestEvent(t, path); got != want {
			t.Errorf("the newest audit event of the README's backup %s: %s, want %s", name, got, want)
		}
	}
}

// readmeNewestEvent is the action and actor of the newest audit event of
// the database file at path.
func readmeNewestEvent(t *testing.T, path string) string {
	t.Helper()
	s, err := boltstore.OpenReadOnly(path, boltstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var newest string
	err = s.View(t.Context(), func(tx datastore.ReadTx) error {
		head, _, err := tx.AuditHead()
		if err != nil || head == 0 {
			return fmt.Errorf("audit head %d: %v", head, err)
		}
		for e, err := range tx.AuditEvents(head) {
			if err != nil {
				return err
			}
			newest = e.Action + " by " + e.Actor
		}
		return nil
	})
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return newest
}

// readmeEtcdRun runs commands in one bash session in dir, with set -euo
// pipefail, childcase the test binary and $ADMIN admin, and returns
// what they printed; the test fails at the first that fails.
func readmeEtcdRun(t *testing.T, dir, admin string, rewrite *strings.Replacer, commands []string) string {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	var script strings.Builder
	fmt.Fprintf(&script, "set -euo pipefail\ncd %q\nchildcase() { %s=1 %q \"$@\"; }\n", dir, readmeMainEnv, exe)
	for _, c := range commands {
		fmt.Fprintf(&script, "echo '==> %s'\n%s\n", strings.ReplaceAll(c, "'", ""), rewrite.Replace(c))
	}
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", "-c", script.String())
	cmd.Env = append(os.Environ(), "ADMIN="+admin)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("the README's commands failed (%v); the last started is the last '==>' line:\n%s", err, out)
	}
	return string(out)
}

// readmeEtcdServe runs serve with args until the test ends, and waits
// until it answers /readyz at httpAddr over TLS under the CA in caFile.
func readmeEtcdServe(t *testing.T, args []string, httpAddr, caFile string) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	out := &mgBuffer{}
	exit := make(chan int, 1)
	go func() { exit <- Main(ctx, append(args, "--shutdown-timeout", "5s"), out, out) }()
	t.Cleanup(func() {
		cancel()
		<-exit
	})
	pem, err := os.ReadFile(caFile)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pem)
	client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	for end := time.Now().Add(time.Minute); ; {
		select {
		case code := <-exit:
			t.Fatalf("childcase %s exited %d:\n%s", strings.Join(args, " "), code, out.String())
		case <-time.After(50 * time.Millisecond):
		}
		if resp, err := client.Get("https://" + httpAddr + "/readyz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		if time.Now().After(end) {
			t.Fatalf("childcase %s is not ready after a minute:\n%s", strings.Join(args, " "), out.String())
		}
	}
}
