package etcdstore_test

import (
	"context"
	"crypto/x509"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/childcase/childcase/internal/domain/datastore"
	"github.com/childcase/childcase/internal/storage/boltstore"
	"github.com/childcase/childcase/internal/storage/etcdstore"
	"github.com/childcase/childcase/internal/storage/etcdstore/etcdtest"
	"github.com/childcase/childcase/internal/testpki"
)

// TestTLSWithClientCertificates: a member that serves TLS and requires
// client certificates is reached with the CA, certificate and key files
// of Config (the --etcd-ca, --etcd-cert and --etcd-key of serve), and the
// stored layout works over it; without a client certificate, or trusting
// another CA, Open is refused.
func TestTLSWithClientCertificates(t *testing.T) {
	dir := t.TempDir()
	ca := testpki.NewCA(t, dir, "ca")
	caFile := ca.File
	server := ca.Issue(t, dir, "member", x509.ExtKeyUsageServerAuth)
	client := ca.Issue(t, dir, "childcase", x509.ExtKeyUsageClientAuth)
	other := testpki.NewCA(t, dir, "other-ca")
	otherCA := other.File
	cluster := etcdtest.Start(t, 1, etcdtest.WithoutFsync(), etcdtest.WithClientTLS(etcdtest.TLSFiles{
		CertFile: server.CertFile, KeyFile: server.KeyFile, ClientCAFile: caFile}))

	ctx := context.Background()
	good := etcdstore.Config{Endpoints: cluster.Endpoints(), CAFile: caFile, CertFile: client.CertFile, KeyFile: client.KeyFile,
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
	stranger := other.Issue(t, dir, "stranger", x509.ExtKeyUsageClientAuth)
	for name, tt := range map[string]struct {
		cfg             etcdstore.Config
		field, inReason string
	}{
		"no client certificate": {etcdstore.Config{Endpoints: cluster.Endpoints(), CAFile: caFile, DialTimeout: time.Second},
			"CertFile, KeyFile", "asks for a client certificate"},
		"a client certificate of another CA": {etcdstore.Config{Endpoints: cluster.Endpoints(), CAFile: caFile, CertFile: stranger.CertFile, KeyFile: stranger.KeyFile, DialTimeout: time.Second},
			"CertFile, KeyFile", "refused the client certificate " + stranger.CertFile},
		"another CA trusted": {etcdstore.Config{Endpoints: cluster.Endpoints(), CAFile: otherCA, CertFile: client.CertFile, KeyFile: client.KeyFile, DialTimeout: time.Second},
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

// TestTLSToAPlainMemberNamesTheCAFile: the other side of "TLS on one side
// only". A member without TLS on its client port closes a TLS handshake
// at once, without a TLS record the client could read; Open was then
// refused only as a cluster that "does not answer", after the whole dial
// timeout, where the README promises the flag to change (--etcd-ca).
func TestTLSToAPlainMemberNamesTheCAFile(t *testing.T) {
	dir := t.TempDir()
	ca := testpki.NewCA(t, dir, "ca")
	client := ca.Issue(t, dir, "childcase", x509.ExtKeyUsageClientAuth)
	cluster := etcdtest.Start(t, 1, etcdtest.WithoutFsync())
	tlsEndpoints := make([]string, len(cluster.Endpoints()))
	for i, ep := range cluster.Endpoints() {
		tlsEndpoints[i] = "https://" + strings.TrimPrefix(ep, "http://")
	}
	for name, cfg := range map[string]etcdstore.Config{
		"a CA file":            {Endpoints: tlsEndpoints, CAFile: ca.File, DialTimeout: time.Second},
		"a client certificate": {Endpoints: tlsEndpoints, CAFile: ca.File, CertFile: client.CertFile, KeyFile: client.KeyFile, DialTimeout: time.Second},
	} {
		e, err := etcdstore.Open(context.Background(), cfg)
		if err == nil {
			e.Close()
			t.Errorf("%s: Open of a member without TLS succeeded", name)
			continue
		}
		var ce *etcdstore.ConfigError
		if !errors.As(err, &ce) || ce.Field != "CAFile" || !strings.Contains(ce.Rule, "does not serve TLS on its client port") {
			t.Errorf("%s: Open = %v, want a ConfigError of CAFile saying the member does not serve TLS", name, err)
		}
	}
}

// TestTLSExpiredCertificates: an expired client certificate is refused
// before any connection is tried, naming its file and when it expired
// (the member refused it only after the dial timeout, and the refusal
// said to take one its --trusted-ca-file signed, which it was); a member
// whose certificate expired is refused saying so.
func TestTLSExpiredCertificates(t *testing.T) {
	dir := t.TempDir()
	ca := testpki.NewCA(t, dir, "ca")
	server := ca.Issue(t, dir, "member", x509.ExtKeyUsageServerAuth)
	client := ca.Issue(t, dir, "childcase", x509.ExtKeyUsageClientAuth)
	expired := ca.IssueExpired(t, dir, "expired", x509.ExtKeyUsageClientAuth)
	cluster := etcdtest.Start(t, 1, etcdtest.WithoutFsync(), etcdtest.WithClientTLS(etcdtest.TLSFiles{
		CertFile: server.CertFile, KeyFile: server.KeyFile, ClientCAFile: ca.File}))

	cfg := etcdstore.Config{Endpoints: cluster.Endpoints(), CAFile: ca.File, CertFile: expired.CertFile, KeyFile: expired.KeyFile,
		DialTimeout: 3 * time.Second}
	_, err := cfg.TLS()
	var ce *etcdstore.ConfigError
	if !errors.As(err, &ce) || ce.Field != "CertFile" || !strings.Contains(ce.Rule, expired.CertFile) || !strings.Contains(ce.Rule, "expired") {
		t.Errorf("TLS() of an expired client certificate = %v, want a ConfigError of CertFile naming the file and saying it expired", err)
	}
	start := time.Now()
	if e, err := etcdstore.Open(context.Background(), cfg); err == nil {
		e.Close()
		t.Error("Open with an expired client certificate succeeded")
	} else if !errors.As(err, &ce) || ce.Field != "CertFile" {
		t.Errorf("Open with an expired client certificate = %v, want a ConfigError of CertFile", err)
	}
	if took := time.Since(start); took >= cfg.DialTimeout {
		t.Errorf("Open with an expired client certificate took %v, the dial timeout: it should not try the cluster", took)
	}

	// A certificate valid from an hour on is refused, saying from when;
	// one a CA whose clock runs a minute ahead has just issued is not:
	// the members judge it by their own clocks.
	future := ca.IssueValidFrom(t, dir, "future", x509.ExtKeyUsageClientAuth, time.Now().Add(time.Hour))
	if _, err := (etcdstore.Config{Endpoints: cluster.Endpoints(), CAFile: ca.File, CertFile: future.CertFile, KeyFile: future.KeyFile}).TLS(); !errors.As(err, &ce) || ce.Field != "CertFile" || !strings.Contains(ce.Rule, "is valid from") {
		t.Errorf("TLS() of a certificate valid from an hour on = %v, want a ConfigError of CertFile saying from when it is valid", err)
	}
	fresh := ca.IssueValidFrom(t, dir, "fresh", x509.ExtKeyUsageClientAuth, time.Now().Add(time.Minute))
	if _, err := (etcdstore.Config{Endpoints: cluster.Endpoints(), CAFile: ca.File, CertFile: fresh.CertFile, KeyFile: fresh.KeyFile}).TLS(); err != nil {
		t.Errorf("TLS() of a certificate valid from a minute on (a CA's clock a minute ahead) = %v, want it taken", err)
	}

	old := ca.IssueExpired(t, dir, "old-member", x509.ExtKeyUsageServerAuth)
	stale := etcdtest.Start(t, 1, etcdtest.WithoutFsync(), etcdtest.WithClientTLS(etcdtest.TLSFiles{
		CertFile: old.CertFile, KeyFile: old.KeyFile, ClientCAFile: ca.File}))
	e, err := etcdstore.Open(context.Background(), etcdstore.Config{Endpoints: stale.Endpoints(), CAFile: ca.File,
		CertFile: client.CertFile, KeyFile: client.KeyFile, DialTimeout: time.Second})
	if err == nil {
		e.Close()
		t.Fatal("Open of a member whose certificate expired succeeded")
	}
	if !errors.As(err, &ce) || !strings.Contains(ce.Rule, "expired") {
		t.Errorf("Open of a member whose certificate expired = %v, want a ConfigError saying it expired", err)
	}
	t.Logf("a member's expired certificate: %v", err)
}
