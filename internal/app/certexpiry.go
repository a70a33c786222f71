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

// certInUse is a certificate the server presents, or trusts to sign the
// certificates clients present, under the flag that names its file.
type certInUse struct {
	flag, file string
	// firstToExpire returns the certificate of the chain presented now
	// that expires first: a peer refuses the chain once any of it has
	// expired, an intermediate CA's as much as the leaf's.
	firstToExpire func() (*x509.Certificate, error)
	// trusted is set for a CA the server trusts (--client-ca), which no
	// client refuses: it is the server that refuses the certificates it
	// signed, and the warnings say so.
	trusted bool
}

// The warnings of a certificate in use that expires soon or has expired,
// and their words for a CA the server trusts (certInUse.trusted). Each
// begins as the README quotes it.
const (
	certExpiresSoon      = "tls: a certificate in use expires soon: renew it before clients refuse it"
	certExpired          = "tls: a certificate in use has expired: clients refuse it; renew it"
	trustedCAExpiresSoon = "tls: a certificate in use expires soon: renew it before the server refuses the client certificates it signed"
	trustedCAExpired     = "tls: a certificate in use has expired: the server refuses the client certificates it signed; renew it"
)

// certsInUse are the certificates the server presents, each with its
// chain: its own TLS certificate (--tls-cert), loaded once at the start,
// and the etcd client certificate (--etcd-cert), which the etcd client
// reads from its file at each connection, so a renewal in place is seen
// at the next check; and the CAs client certificates must chain to
// (--client-ca), loaded once at the start too, whose expiry makes every
// client certificate they signed refused: the file's first CA to expire
// ends them.
func certsInUse(cfg Config, serverTLS *tls.Config) []certInUse {
	var certs []certInUse
	if serverTLS != nil && len(serverTLS.Certificates) > 0 {
		// Loaded once: its chain is read once.
		first, err := firstToExpire(serverTLS.Certificates[0].Certificate)
		certs = append(certs, certInUse{flag: "tls-cert", file: cfg.TLSCert, firstToExpire: func() (*x509.Certificate, error) {
			return first, err
		}})
	}
	if serverTLS != nil && cfg.ClientCA != "" {
		// Loaded once, into the server's pool: read once.
		chain, err := chainOfFile(cfg.ClientCA)
		var first *x509.Certificate
		if err == nil {
			first, err = firstToExpire(chain)
		}
		certs = append(certs, certInUse{flag: "client-ca", file: cfg.ClientCA, trusted: true, firstToExpire: func() (*x509.Certificate, error) {
			return first, err
		}})
	}
	if _, onEtcd := cfg.etcdEndpoints(); onEtcd && cfg.EtcdCertFile != "" {
		file := cfg.EtcdCertFile
		certs = append(certs, certInUse{flag: "etcd-cert", file: file, firstToExpire: func() (*x509.Certificate, error) {
			chain, err := chainOfFile(file)
			if err != nil {
				return nil, err
			}
			return firstToExpire(chain)
		}})
	}
	return certs
}

// chainOfFile is every certificate of a PEM file, in its order: the
// chain a TLS client presents from it, leaf first.
func chainOfFile(path string) ([][]byte, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var chain [][]byte
	for {
		var block *pem.Block
		block, data = pem.Decode(data)
		if block == nil {
			break
		}
		if block.Type == "CERTIFICATE" {
			chain = append(chain, block.Bytes)
		}
	}
	if len(chain) == 0 {
		return nil, fmt.Errorf("%s: no PEM certificate", path)
	}
	return chain, nil
}

// firstToExpire parses a chain (DER, leaf first) and returns its
// certificate that expires first, the leaf when none expires before it.
func firstToExpire(chain [][]byte) (*x509.Certificate, error) {
	var first *x509.Certificate
	for i, der := range chain {
		c, err := x509.ParseCertificate(der)
		if err != nil {
			return nil, fmt.Errorf("certificate %d of the chain: %w", i+1, err)
		}
		if first == nil || c.NotAfter.Before(first.NotAfter) {
			first = c
		}
	}
	if first == nil {
		return nil, errors.New("no certificate")
	}
	return first, nil
}

// certExpiries are the expiries of certs (each chain's first to expire),
// for the metrics; one whose certificate cannot be read is left out, its
// error joined.
func certExpiries(certs []certInUse) ([]metrics.CertExpiry, error) {
	var out []metrics.CertExpiry
	var errs []error
	for _, c := range certs {
		first, err := c.firstToExpire()
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", c.flag, err))
			continue
		}
		out = append(out, metrics.CertExpiry{Cert: c.flag, NotAfter: first.NotAfter})
	}
	return out, errors.Join(errs...)
}

// warnOfExpiringCerts logs a warning for each certificate of certs whose
// chain expires within certExpiryWarning of now (or has expired), naming
// the subject of its first certificate to expire, and an error for one
// that cannot be read.
func warnOfExpiringCerts(ctx context.Context, log *slog.Logger, now time.Time, certs []certInUse) {
	for _, c := range certs {
		first, err := c.firstToExpire()
		if err != nil {
			log.ErrorContext(ctx, "tls: cannot read a certificate in use to check its expiry", "cert", c.flag, "file", c.file, "err", err)
			continue
		}
		left := first.NotAfter.Sub(now)
		if left > certExpiryWarning {
			continue
		}
		attrs := []any{"cert", c.flag, "file", c.file, "subject", first.Subject.CommonName,
			"not_after", first.NotAfter.In(vntime.Location()).Format(time.RFC3339)}
		soon, expired := certExpiresSoon, certExpired
		if c.trusted {
			soon, expired = trustedCAExpiresSoon, trustedCAExpired
		}
		if left <= 0 {
			// Not "soon": the peers refuse it now, and the journal of
			// refused connections must say why.
			log.ErrorContext(ctx, expired, attrs...)
			continue
		}
		log.WarnContext(ctx, soon, append(attrs, "days_left", int(left.Hours()/24))...)
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
