package app

import (
	"bytes"
	"crypto/x509"
	"log/slog"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/childcase/childcase/internal/testpki"
)

// TestEtcdClientCertificateExpiryIsReadFromItsFile: the etcd client reads
// --etcd-cert at each connection, so the check does too: a client
// certificate with 10 days left (by the clock given) is warned of under
// its flag, and once renewed in place it is not, and its new expiry is the
// one the metrics serve.
func TestEtcdClientCertificateExpiryIsReadFromItsFile(t *testing.T) {
	now := time.Date(2026, 11, 28, 3, 0, 0, 0, time.UTC)
	dir := t.TempDir()
	ca := testpki.NewCA(t, dir, "ca")
	client := ca.IssueUntil(t, dir, "etcd-client", x509.ExtKeyUsageClientAuth, now.Add(10*24*time.Hour))
	cfg := Config{Store: "etcd://db1:2379", EtcdCertFile: client.CertFile, EtcdKeyFile: client.KeyFile}
	certs := certsInUse(cfg, nil)
	if len(certs) != 1 || certs[0].flag != "etcd-cert" {
		t.Fatalf("certificates in use: %+v, want the etcd client's alone", certs)
	}

	var logs bytes.Buffer
	warnOfExpiringCerts(t.Context(), slog.New(slog.NewJSONHandler(&logs, nil)), now, certs)
	if !strings.Contains(logs.String(), "tls: a certificate in use expires soon") || !strings.Contains(logs.String(), `"cert":"etcd-cert"`) ||
		!strings.Contains(logs.String(), `"days_left":10`) {
		t.Errorf("no warning of the etcd client certificate with 10 days left:\n%s", logs.String())
	}

	renewedUntil := now.Add(400 * 24 * time.Hour).Truncate(time.Second)
	renewed := ca.IssueUntil(t, t.TempDir(), "etcd-client", x509.ExtKeyUsageClientAuth, renewedUntil)
	pem, err := os.ReadFile(renewed.CertFile)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(client.CertFile, pem, 0o600); err != nil {
		t.Fatal(err)
	}
	logs.Reset()
	warnOfExpiringCerts(t.Context(), slog.New(slog.NewJSONHandler(&logs, nil)), now, certs)
	if logs.Len() > 0 {
		t.Errorf("warned after the certificate was renewed in place:\n%s", logs.String())
	}
	expiries, err := certExpiries(certs)
	if err != nil || len(expiries) != 1 || !expiries[0].NotAfter.Equal(renewedUntil) {
		t.Errorf("expiries after the renewal: %+v, %v; want the etcd-cert's at %s", expiries, err, renewedUntil)
	}
}

// TestAnExpiredClientCAIsSaidToRefuseItsClients: once the CA the server
// trusts for client certificates has expired, the error says that the
// server refuses the client certificates it signed, not the server's own
// certificate's "clients refuse it", and the server's own certificate's
// error keeps its words.
func TestAnExpiredClientCAIsSaidToRefuseItsClients(t *testing.T) {
	now := time.Date(2026, 11, 28, 3, 0, 0, 0, time.UTC)
	expired := &x509.Certificate{NotAfter: now.Add(-time.Hour)}
	certs := []certInUse{
		{flag: "tls-cert", file: "server.pem", firstToExpire: func() (*x509.Certificate, error) { return expired, nil }},
		{flag: "client-ca", file: "client-ca.pem", trusted: true, firstToExpire: func() (*x509.Certificate, error) { return expired, nil }},
	}
	var logs bytes.Buffer
	warnOfExpiringCerts(t.Context(), slog.New(slog.NewJSONHandler(&logs, nil)), now, certs)
	want := map[string]string{`"cert":"tls-cert"`: certExpired, `"cert":"client-ca"`: trustedCAExpired}
	lines := strings.Split(strings.TrimSpace(logs.String()), "\n")
	if len(lines) != len(want) {
		t.Fatalf("%d lines, want %d:\n%s", len(lines), len(want), logs.String())
	}
	for cert, msg := range want {
		found := false
		for _, line := range lines {
			found = found || strings.Contains(line, cert) && strings.Contains(line, `"level":"ERROR"`) && strings.Contains(line, `"msg":"`+msg+`"`)
		}
		if !found {
			t.Errorf("no ERROR %q for %s:\n%s", msg, cert, logs.String())
		}
	}
	if !strings.Contains(trustedCAExpired, "the server refuses the client certificates it signed") || strings.Contains(trustedCAExpired, "clients refuse it") {
		t.Errorf("the error of an expired client CA says %q", trustedCAExpired)
	}
}
