package app

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/childcase/childcase/internal/testpki"
)

// TestACertificateChainExpiresWithItsFirstCertificate: a --tls-cert or
// --etcd-cert file holds the chain, leaf first, and the server presents
// all of it; a peer refuses the chain once any certificate in it has
// expired. The check read the leaf alone, so an intermediate CA with 10
// days left, under a leaf with 400, was neither warned of nor served as
// the expiry, and the peers' refusal came unannounced. The chain's first
// certificate to expire is the one warned of, by its subject, and its
// expiry the one served.
func TestACertificateChainExpiresWithItsFirstCertificate(t *testing.T) {
	now := time.Date(2026, 11, 28, 3, 0, 0, 0, time.UTC)
	dir := t.TempDir()
	ca := testpki.NewCA(t, dir, "ca")
	intermediateUntil := now.Add(10 * 24 * time.Hour).Truncate(time.Second)
	// The expiry is all the check reads: the intermediate here need not
	// have signed the leaf.
	intermediate := ca.IssueUntil(t, dir, "intermediate", x509.ExtKeyUsageServerAuth, intermediateUntil)
	chain := func(name string, usage x509.ExtKeyUsage) (certFile, keyFile string) {
		leaf := ca.IssueUntil(t, dir, name, usage, now.Add(400*24*time.Hour))
		var pem []byte
		for _, f := range []string{leaf.CertFile, intermediate.CertFile} {
			b, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			pem = append(pem, b...)
		}
		certFile = filepath.Join(dir, name+"-chain.pem")
		if err := os.WriteFile(certFile, pem, 0o600); err != nil {
			t.Fatal(err)
		}
		return certFile, leaf.KeyFile
	}

	serverCert, serverKey := chain("server", x509.ExtKeyUsageServerAuth)
	pair, err := tls.LoadX509KeyPair(serverCert, serverKey)
	if err != nil {
		t.Fatal(err)
	}
	etcdCert, etcdKey := chain("etcd-client", x509.ExtKeyUsageClientAuth)
	cfg := Config{TLSCert: serverCert, TLSKey: serverKey, Store: "etcd://db1:2379", EtcdCertFile: etcdCert, EtcdKeyFile: etcdKey}
	certs := certsInUse(cfg, &tls.Config{Certificates: []tls.Certificate{pair}})

	var logs bytes.Buffer
	warnOfExpiringCerts(t.Context(), slog.New(slog.NewJSONHandler(&logs, nil)), now, certs)
	for _, flag := range []string{"tls-cert", "etcd-cert"} {
		warned := false
		for _, line := range strings.Split(strings.TrimSpace(logs.String()), "\n") {
			warned = warned || strings.Contains(line, `"cert":"`+flag+`"`) && strings.Contains(line, `"days_left":10`) &&
				strings.Contains(line, `"subject":"intermediate"`)
		}
		if !warned {
			t.Errorf("%s: no warning of its chain's intermediate with 10 days left:\n%s", flag, logs.String())
		}
	}
	expiries, err := certExpiries(certs)
	if err != nil || len(expiries) != 2 {
		t.Fatalf("expiries: %+v, %v; want tls-cert's and etcd-cert's", expiries, err)
	}
	for _, e := range expiries {
		if !e.NotAfter.Equal(intermediateUntil) {
			t.Errorf("%s expires at %s, want its chain's first to expire, %s", e.Cert, e.NotAfter, intermediateUntil)
		}
	}
}

// TestAnExpiredCertificateIsSaidExpired: a certificate in use whose
// expiry has passed (a server left running over it) was logged as one
// that "expires soon", at WARN, with days_left 0 or less: an operator
// who reads the journal for the cause of refused connections must read
// that it has expired, at ERROR.
func TestAnExpiredCertificateIsSaidExpired(t *testing.T) {
	now := time.Date(2026, 11, 28, 3, 0, 0, 0, time.UTC)
	dir := t.TempDir()
	ca := testpki.NewCA(t, dir, "ca")
	leaf := ca.IssueUntil(t, dir, "server", x509.ExtKeyUsageServerAuth, now.Add(-2*24*time.Hour))
	pair, err := tls.LoadX509KeyPair(leaf.CertFile, leaf.KeyFile)
	if err != nil {
		t.Fatal(err)
	}
	cfg := Config{TLSCert: leaf.CertFile, TLSKey: leaf.KeyFile}
	var logs bytes.Buffer
	warnOfExpiringCerts(t.Context(), slog.New(slog.NewJSONHandler(&logs, nil)), now, certsInUse(cfg, &tls.Config{Certificates: []tls.Certificate{pair}}))
	line := strings.TrimSpace(logs.String())
	if !strings.Contains(line, `"level":"ERROR"`) || !strings.Contains(line, "tls: a certificate in use has expired") ||
		!strings.Contains(line, `"cert":"tls-cert"`) || strings.Contains(line, "expires soon") {
		t.Errorf("a certificate expired two days ago was logged:\n%s\nwant one ERROR line saying it has expired", logs.String())
	}
}
