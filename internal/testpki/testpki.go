// Package testpki makes certificate authorities and the certificates they
// issue, written as PEM files, for the tests of TLS and client
// certificates: the service's own ports, the command line's remote
// commands and an etcd cluster's members. It is for tests only; its
// certificates live an hour.
package testpki

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// CA is a certificate authority.
type CA struct {
	Cert *x509.Certificate
	Key  *ecdsa.PrivateKey
	File string // the CA certificate, PEM: what a peer trusts
}

// NewCA makes a self-signed CA called name, valid for an hour, and writes
// its certificate into dir as name.pem.
func NewCA(t testing.TB, dir, name string) CA {
	t.Helper()
	return NewCAUntil(t, dir, name, time.Now().Add(time.Hour))
}

// NewCAUntil is NewCA with a CA that expires at notAfter: a CA the
// server trusts that expires soon, for the tests of its expiry's watch.
func NewCAUntil(t testing.TB, dir, name string, notAfter time.Time) CA {
	t.Helper()
	key := newKey(t)
	tmpl := &x509.Certificate{
		SerialNumber: serial(t), Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: notAfter,
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return CA{Cert: cert, Key: key, File: writePEM(t, filepath.Join(dir, name+".pem"), "CERTIFICATE", der)}
}

// Pool returns a pool holding the CA alone.
func (ca CA) Pool() *x509.CertPool {
	p := x509.NewCertPool()
	p.AddCert(ca.Cert)
	return p
}

// Leaf is a certificate the CA issued, as files and as a tls.Certificate.
type Leaf struct {
	CertFile, KeyFile string
	TLS               tls.Certificate
}

// Issue issues a certificate called name for usage (server or client
// authentication), valid for 127.0.0.1 and localhost, and writes it and
// its key into dir as name.pem and name-key.pem.
func (ca CA) Issue(t testing.TB, dir, name string, usage x509.ExtKeyUsage) Leaf {
	t.Helper()
	return ca.issue(t, dir, name, usage, time.Now().Add(-time.Hour), time.Now().Add(time.Hour))
}

// IssueExpired is Issue of a certificate that expired a minute ago.
func (ca CA) IssueExpired(t testing.TB, dir, name string, usage x509.ExtKeyUsage) Leaf {
	t.Helper()
	return ca.issue(t, dir, name, usage, time.Now().Add(-time.Hour), time.Now().Add(-time.Minute))
}

// IssueValidFrom is Issue of a certificate that becomes valid at from.
func (ca CA) IssueValidFrom(t testing.TB, dir, name string, usage x509.ExtKeyUsage, from time.Time) Leaf {
	t.Helper()
	return ca.issue(t, dir, name, usage, from, from.Add(24*time.Hour))
}

// IssueUntil is Issue of a certificate that expires at notAfter, valid
// for a year before it: for the tests of a certificate that expires while
// the server runs, whose clock is injected.
func (ca CA) IssueUntil(t testing.TB, dir, name string, usage x509.ExtKeyUsage, notAfter time.Time) Leaf {
	t.Helper()
	return ca.issue(t, dir, name, usage, notAfter.AddDate(-1, 0, 0), notAfter)
}

func (ca CA) issue(t testing.TB, dir, name string, usage x509.ExtKeyUsage, notBefore, notAfter time.Time) Leaf {
	t.Helper()
	key := newKey(t)
	tmpl := &x509.Certificate{
		SerialNumber: serial(t), Subject: pkix.Name{CommonName: name},
		DNSNames: []string{"localhost"}, IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)},
		NotBefore: notBefore, NotAfter: notAfter,
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{usage},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.Cert, &key.PublicKey, ca.Key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return Leaf{
		CertFile: writePEM(t, filepath.Join(dir, name+".pem"), "CERTIFICATE", der),
		KeyFile:  writePEM(t, filepath.Join(dir, name+"-key.pem"), "PRIVATE KEY", keyDER),
		TLS:      tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key},
	}
}

func newKey(t testing.TB) *ecdsa.PrivateKey {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return key
}

// serial is a random serial number, so that no two certificates a client
// meets in one test share one.
func serial(t testing.TB) *big.Int {
	t.Helper()
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func writePEM(t testing.TB, path, typ string, der []byte) string {
	t.Helper()
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}
