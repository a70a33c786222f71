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
