package app

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/childcase/childcase/internal/domain/clock"
	"github.com/childcase/childcase/internal/domain/vntime"
	"github.com/childcase/childcase/internal/transport/metrics"
)

// certExpiryWarning is how long before a certificate in use expires the
// server warns of it: a month leaves the operator time to have a new one
// issued (a unit's CA is rarely a click away) before clients, or the etcd
// members, refuse the old.
const certExpiryWarning = 30 * 24 * time.Hour

// certCheckEvery is how often the certificates in use are checked again
// after the start: a server runs for months, and a certificate that had
// years left at its start expires while it runs.
const certCheckEvery = 24 * time.Hour

// certInUse is a certificate the server presents, under the flag that
// names its file.
type certInUse struct {
	flag, file string
	// leaf returns the certificate presented now.
	leaf func() (*x509.Certificate, error)
}

// certsInUse are the certificates the server presents: its own TLS
// certificate (--tls-cert), loaded once at the start, and the etcd client
// certificate (--etcd-cert), which the etcd client reads from its file at
// each connection, so a renewal in place is seen at the next check.
func certsInUse(cfg Config, serverTLS *tls.Config) []certInUse {
	var certs []certInUse
	if serverTLS != nil && len(serverTLS.Certificates) > 0 {
		pair := serverTLS.Certificates[0]
		certs = append(certs, certInUse{flag: "tls-cert", file: cfg.TLSCert, leaf: func() (*x509.Certificate, error) {
			if pair.Leaf != nil {
				return pair.Leaf, nil
			}
			return x509.ParseCertificate(pair.Certificate[0])
		}})
	}
	if _, onEtcd := cfg.etcdEndpoints(); onEtcd && cfg.EtcdCertFile != "" {
		file := cfg.EtcdCertFile
		certs = append(certs, certInUse{flag: "etcd-cert", file: file, leaf: func() (*x509.Certificate, error) { return leafOfFile(file) }})
	}
	return certs
}

// leafOfFile parses the first certificate of a PEM file, the leaf of its
// chain.
func leafOfFile(path string) (*x509.Certificate, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	for {
		var block *pem.Block
		block, data = pem.Decode(data)
		if block == nil {
			return nil, fmt.Errorf("%s: no PEM certificate", path)
		}
		if block.Type == "CERTIFICATE" {
			return x509.ParseCertificate(block.Bytes)
		}
	}
}

// certExpiries are the expiries of certs, for the metrics; one whose
// certificate cannot be read is left out, its error joined.
func certExpiries(certs []certInUse) ([]metrics.CertExpiry, error) {
	var out []metrics.CertExpiry
	var errs []error
	for _, c := range certs {
		leaf, err := c.leaf()
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", c.flag, err))
			continue
		}
		out = append(out, metrics.CertExpiry{Cert: c.flag, NotAfter: leaf.NotAfter})
	}
	return out, errors.Join(errs...)
}

// warnOfExpiringCerts logs a warning for each certificate of certs that
// expires within certExpiryWarning of now (or has expired), and an error
// for one that cannot be read.
func warnOfExpiringCerts(ctx context.Context, log *slog.Logger, now time.Time, certs []certInUse) {
	for _, c := range certs {
		leaf, err := c.leaf()
		if err != nil {
			log.ErrorContext(ctx, "tls: cannot read a certificate in use to check its expiry", "cert", c.flag, "file", c.file, "err", err)
			continue
		}
		left := leaf.NotAfter.Sub(now)
		if left > certExpiryWarning {
			continue
		}
		log.WarnContext(ctx, "tls: a certificate in use expires soon: renew it before clients refuse it",
			"cert", c.flag, "file", c.file, "subject", leaf.Subject.CommonName,
			"not_after", leaf.NotAfter.In(vntime.Location()).Format(time.RFC3339),
			"days_left", int(left.Hours()/24))
	}
}

// watchCertExpiry warns of the certificates in use that expire soon
// every interval (certCheckEvery unless set), until ctx ends; the start
// checks them once itself, before it serves. Time is the injected clock's:
// the ticker only says when to look.
func watchCertExpiry(ctx context.Context, log *slog.Logger, clk clock.Clock, every time.Duration, certs []certInUse) {
	if len(certs) == 0 {
		return
	}
	if every <= 0 {
		every = certCheckEvery
	}
	ticking(ctx, every, func(ctx context.Context) bool {
		warnOfExpiringCerts(ctx, log, clk.Now(), certs)
		return false
	})
}
