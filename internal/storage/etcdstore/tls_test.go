package etcdstore_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/childcase/childcase/internal/domain/datastore"
	"github.com/childcase/childcase/internal/storage/boltstore"
	"github.com/childcase/childcase/internal/storage/etcdstore"
	"github.com/childcase/childcase/internal/storage/etcdstore/etcdtest"
)

// TestTLSWithClientCertificates: a member that serves TLS and requires
// client certificates is reached with the CA, certificate and key files
// of Config (the --etcd-ca, --etcd-cert and --etcd-key of serve), and the
// stored layout works over it; without a client certificate, or trusting
// another CA, Open is refused.
func TestTLSWithClientCertificates(t *testing.T) {
	dir := t.TempDir()
	ca, caKey, caFile := newCA(t, dir, "ca")
	server := issue(t, dir, "member", ca, caKey, x509.ExtKeyUsageServerAuth)
	client := issue(t, dir, "childcase", ca, caKey, x509.ExtKeyUsageClientAuth)
	otherCACert, otherCAKey, otherCA := newCA(t, dir, "other-ca")
	cluster := etcdtest.Start(t, 1, etcdtest.WithoutFsync(), etcdtest.WithClientTLS(etcdtest.TLSFiles{
		CertFile: server[0], KeyFile: server[1], ClientCAFile: caFile}))

	ctx := context.Background()
	good := etcdstore.Config{Endpoints: cluster.Endpoints(), CAFile: caFile, CertFile: client[0], KeyFile: client[1],
		DialTimeout: 3 * time.Second}
	e, err := etcdstore.Open(ctx, good)
	if err != nil {
		t.Fatalf("Open with the client certificate: %v", err)
	}
	s, err := boltstore.OpenEngine(ctx, e, boltstore.EngineOptions{})
	if err != nil {
		t.Fatalf("OpenEngine over TLS: %v", err)
	}
	defer s.Close()
	if err := s.Update(ctx, func(tx datastore.Tx) error { _, err := tx.NextCaseSequence(2026); return err }); err != nil {
		t.Fatalf("a write over TLS: %v", err)
	}

	// Each refusal names the setting to change, rather than only that
	// the cluster did not answer within the dial timeout.
	plain := make([]string, len(cluster.Endpoints()))
	for i, ep := range cluster.Endpoints() {
		plain[i] = "http://" + strings.TrimPrefix(ep, "https://")
	}
	stranger := issue(t, dir, "stranger", otherCACert, otherCAKey, x509.ExtKeyUsageClientAuth)
	for name, tt := range map[string]struct {
		cfg             etcdstore.Config
		field, inReason string
	}{
		"no client certificate": {etcdstore.Config{Endpoints: cluster.Endpoints(), CAFile: caFile, DialTimeout: time.Second},
			"CertFile, KeyFile", "asks for a client certificate"},
		"a client certificate of another CA": {etcdstore.Config{Endpoints: cluster.Endpoints(), CAFile: caFile, CertFile: stranger[0], KeyFile: stranger[1], DialTimeout: time.Second},
			"CertFile, KeyFile", "refused the client certificate " + stranger[0]},
		"another CA trusted": {etcdstore.Config{Endpoints: cluster.Endpoints(), CAFile: otherCA, CertFile: client[0], KeyFile: client[1], DialTimeout: time.Second},
			"CAFile", "does not verify against " + otherCA},
		"no TLS": {etcdstore.Config{Endpoints: plain, DialTimeout: time.Second},
			"CAFile", "serves TLS on its client port"},
	} {
		e, err := etcdstore.Open(ctx, tt.cfg)
		if err == nil {
			e.Close()
			t.Errorf("%s: Open succeeded", name)
			continue
		}
		var ce *etcdstore.ConfigError
		if !errors.As(err, &ce) || ce.Field != tt.field || !strings.Contains(ce.Rule, tt.inReason) {
			t.Errorf("%s: Open = %v, want a ConfigError of %s saying %q", name, err, tt.field, tt.inReason)
		}
	}
}

// newCA writes a self-signed CA certificate into dir and returns it, its
// key and its file.
func newCA(t *testing.T, dir, name string) (*x509.Certificate, *ecdsa.PrivateKey, string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(dir, name+".pem")
	writePEM(t, file, "CERTIFICATE", der)
	return cert, key, file
}

// issue writes a certificate for 127.0.0.1 signed by ca, and its key,
// into dir, and returns their files.
func issue(t *testing.T, dir, name string, ca *x509.Certificate, caKey *ecdsa.PrivateKey, usage x509.ExtKeyUsage) [2]string {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{usage},
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	files := [2]string{filepath.Join(dir, name+".pem"), filepath.Join(dir, name+"-key.pem")}
	writePEM(t, files[0], "CERTIFICATE", der)
	writePEM(t, files[1], "PRIVATE KEY", keyDER)
	return files
}

func writePEM(t *testing.T, file, kind string, der []byte) {
	t.Helper()
	if err := os.WriteFile(file, pem.EncodeToMemory(&pem.Block{Type: kind, Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
}
