package cli

import (
	"crypto/x509"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"

	"github.com/childcase/childcase/internal/testpki"
)

// TestRemoteCommandsPresentAClientCertificate holds the README's "TLS and
// a reverse proxy": a server started with --client-ca for the police
// systems asks every caller for a certificate, and the nightly backup and
// keys rotate, which call it with --addr, must still work there: they
// present one with --client-cert and --client-key (or their environment
// twins, as the backup unit's backup.env sets them). Without one the
// command says what to give, not only that the connection broke.
func TestRemoteCommandsPresentAClientCertificate(t *testing.T) {
	opsClearEnv(t)
	dir := t.TempDir()
	pki := writeTestPKI(t, dir)
	grpcAddr := mgAddr(t)
	tokens := filepath.Join(dir, "demo-tokens.env")
	stopServe := startServeProcess(t, dir, "--demo", "--demo-tokens", tokens, "--grpc-addr", grpcAddr,
		"--tls-cert", pki.serverCert, "--tls-key", pki.serverKey, "--client-ca", pki.ca)
	defer stopServe()
	b, err := os.ReadFile(tokens)
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^DEMO_ADMIN='([^']+)'`).FindSubmatch(b)
	if m == nil {
		t.Fatalf("no DEMO_ADMIN in %s:\n%s", tokens, b)
	}
	admin := string(m[1])

	without := filepath.Join(dir, "without.db")
	code, _, stderr := mgRun(t, "backup", "--to", without, "--addr", grpcAddr, "--token", admin, "--ca-cert", pki.ca)
	if code != 1 || !strings.Contains(stderr, "--client-cert and --client-key") {
		t.Errorf("backup without a client certificate: exit %d, want 1 and a message naming --client-cert and --client-key:\n%s", code, stderr)
	}
	if _, err := os.Stat(without); err == nil {
		t.Errorf("a refused backup left %s", without)
	}
	if code, _, stderr := mgRun(t, "backup", "--to", without, "--addr", grpcAddr, "--token", admin, "--ca-cert", pki.ca, "--client-cert", pki.clientCert); code != 1 || !strings.Contains(stderr, "--client-cert, --client-key") {
		t.Errorf("backup with --client-cert alone: exit %d, want 1 naming both flags:\n%s", code, stderr)
	}

	// Without any TLS flag the command speaks plain text to a server that
	// serves TLS, which hangs up at once: it says to give --ca-cert, not
	// only that the server's preface could not be read.
	for _, args := range [][]string{
		{"backup", "--to", without, "--addr", grpcAddr, "--token", admin},
		{"keys", "rotate", "--addr", grpcAddr, "--token", admin},
	} {
		if code, _, stderr := mgRun(t, args...); code != 1 || !strings.Contains(stderr, "give --ca-cert") {
			t.Errorf("%s without --ca-cert against a TLS server: exit %d, want 1 and a message naming --ca-cert:\n%s", args[0], code, stderr)
		}
	}

	// The backup unit's way: every setting from the environment.
	t.Setenv("CHILDCASE_ADDR", grpcAddr)
	t.Setenv("CHILDCASE_TOKEN", admin)
	t.Setenv("CHILDCASE_CA_CERT", pki.ca)
	t.Setenv("CHILDCASE_CLIENT_CERT", pki.clientCert)
	t.Setenv("CHILDCASE_CLIENT_KEY", pki.clientKey)
	with := filepath.Join(dir, "with.db")
	if out := mgMustRun(t, "backup", "--to", with); !strings.Contains(out, "Backed up "+grpcAddr) {
		t.Errorf("backup with a client certificate said %q", out)
	}
	if out := mgMustRun(t, "keys", "rotate", "--addr", grpcAddr, "--token", admin, "--ca-cert", pki.ca,
		"--client-cert", pki.clientCert, "--client-key", pki.clientKey); !strings.Contains(out, "Rotated to master key") {
		t.Errorf("keys rotate with a client certificate said %q", out)
	}
	t.Setenv("CHILDCASE_CLIENT_CERT", "")
	t.Setenv("CHILDCASE_CLIENT_KEY", "")
	if code, _, stderr := mgRun(t, "keys", "rotate", "--addr", grpcAddr, "--token", admin, "--ca-cert", pki.ca); code != 1 || !strings.Contains(stderr, "--client-cert and --client-key") {
		t.Errorf("keys rotate without a client certificate: exit %d, want 1 and a message naming --client-cert and --client-key:\n%s", code, stderr)
	}
}

// testPKI is a CA, a server certificate for 127.0.0.1 and a client
// certificate, both signed by the CA, as PEM files.
type testPKI struct {
	ca, serverCert, serverKey, clientCert, clientKey string
}

func writeTestPKI(t *testing.T, dir string) testPKI {
	t.Helper()
	ca := testpki.NewCA(t, dir, "ca")
	server := ca.Issue(t, dir, "server", x509.ExtKeyUsageServerAuth)
	client := ca.Issue(t, dir, "client", x509.ExtKeyUsageClientAuth)
	return testPKI{ca: ca.File, serverCert: server.CertFile, serverKey: server.KeyFile, clientCert: client.CertFile, clientKey: client.KeyFile}
}

// startServeProcess runs this test binary as "childcase serve" with a
// database and key file in dir and the flags given, and waits until it
// says it is serving; the function returned stops it.
func startServeProcess(t *testing.T, dir string, flags ...string) (stop func()) {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	args := append([]string{"serve", "--db", filepath.Join(dir, "childcase.db"), "--key-file", filepath.Join(dir, "childcase.key"),
		"--http-addr", "127.0.0.1:0"}, flags...)
	cmd := exec.Command(exe, args...)
	cmd.Env = append(os.Environ(), readmeMainEnv+"=1")
	out := &mgBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	stop = func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		_ = cmd.Wait()
	}
	for deadline := time.Now().Add(30 * time.Second); !strings.Contains(out.String(), `"msg":"childcase serving"`); {
		if time.Now().After(deadline) {
			stop()
			t.Fatalf("serve did not start in 30 s:\n%s", out)
		}
		time.Sleep(50 * time.Millisecond)
	}
	return stop
}

// TestRemoteCommandsSayWhatIsWrongWithTheirTLS: backup and keys rotate
// with --addr explain a broken connection by its cause. A --ca-cert (or
// the backup unit's CHILDCASE_CA_CERT) against a server in plain text
// says that the server speaks no TLS, one against a server whose
// certificate another CA signed says that it does not verify, and a
// server nothing answers for gets no hint at all: all three were told
// that a server started with --client-ca wants a client certificate,
// sending the operator after certificates that had nothing to do with it.
func TestRemoteCommandsSayWhatIsWrongWithTheirTLS(t *testing.T) {
	opsClearEnv(t)
	dir := t.TempDir()
	pki := writeTestPKI(t, dir)
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	plain := grpc.NewServer()
	go func() { _ = plain.Serve(lis) }()
	defer plain.Stop()
	// A server whose certificate a CA other than --ca-cert's signed.
	other := testpki.NewCA(t, dir, "other")
	cert := other.Issue(t, dir, "otherserver", x509.ExtKeyUsageServerAuth).TLS
	tlsLis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	foreign := grpc.NewServer(grpc.Creds(credentials.NewServerTLSFromCert(&cert)))
	go func() { _ = foreign.Serve(tlsLis) }()
	defer foreign.Stop()
	closed := mgAddr(t)
	to := filepath.Join(dir, "b.db")
	for _, c := range []struct {
		addr, want string
	}{
		{lis.Addr().String(), "the server answers in plain text, not TLS"},
		{closed, "connection refused"},
		{tlsLis.Addr().String(), "does not verify against --ca-cert"},
	} {
		for _, args := range [][]string{
			{"backup", "--to", to, "--addr", c.addr, "--token", "cc_x", "--ca-cert", pki.ca},
			{"keys", "rotate", "--addr", c.addr, "--token", "cc_x", "--ca-cert", pki.ca},
		} {
			code, _, stderr := mgRun(t, args...)
			if code != 1 || !strings.Contains(stderr, c.want) || strings.Contains(stderr, "--client-ca") {
				t.Errorf("%s: exit %d, want 1 and a message saying %q, not naming --client-ca:\n%s", strings.Join(args, " "), code, c.want, stderr)
			}
		}
	}
	if _, err := os.Stat(to); err == nil {
		t.Errorf("a failed backup left %s", to)
	}
}
