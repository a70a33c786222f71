package app_test

import (
	"crypto/x509"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/childcase/childcase/internal/app"
	"github.com/childcase/childcase/internal/domain/clock"
	"github.com/childcase/childcase/internal/testpki"
)

// certExpiryLine is the warning of a certificate in use that expires soon.
const certExpiryLine = "tls: a certificate in use expires soon"

// TestExpiringCertificateIsWarnedOfAtStart: a server whose own TLS
// certificate expires in 10 days (by the injected clock) started silently,
// and nothing told the operator until clients refused it. The start logs
// a warning naming the flag and the days left, and the metrics address
// serves the certificate's expiry as a Unix time.
func TestExpiringCertificateIsWarnedOfAtStart(t *testing.T) {
	dir := t.TempDir()
	notAfter := testNow.Add(10 * 24 * time.Hour).Truncate(time.Second)
	server := testpki.NewCA(t, dir, "ca").IssueUntil(t, dir, "server", x509.ExtKeyUsageServerAuth, notAfter)
	cfg := testConfig(t, "")
	cfg.TLSCert, cfg.TLSKey = server.CertFile, server.KeyFile
	ts, logs := startWithCertificates(t, cfg)

	if !strings.Contains(logs.text(), certExpiryLine) {
		t.Fatalf("the start did not warn of the certificate:\n%s", logs.text())
	}
	for _, want := range []string{`"cert":"tls-cert"`, `"days_left":10`, `"file":"` + server.CertFile + `"`} {
		if !strings.Contains(logs.text(), want) {
			t.Errorf("the warning does not say %s:\n%s", want, logs.text())
		}
	}
	got, ok := sample(scrape(t, ts), "childcase_tls_cert_expiry_seconds", map[string]string{"cert": "tls-cert"})
	if !ok || got != float64(notAfter.Unix()) {
		t.Errorf("childcase_tls_cert_expiry_seconds{cert=\"tls-cert\"} = %v (served: %v), want %d", got, ok, notAfter.Unix())
	}
}

// TestCertificateIsCheckedDailyWhileRunning: a certificate with 40 days
// left at the start is not warned of; once the injected clock has moved 30
// days on, the next daily check warns of it, without a restart.
func TestCertificateIsCheckedDailyWhileRunning(t *testing.T) {
	dir := t.TempDir()
	server := testpki.NewCA(t, dir, "ca").IssueUntil(t, dir, "server", x509.ExtKeyUsageServerAuth, testNow.Add(40*24*time.Hour))
	cfg := testConfig(t, "")
	cfg.TLSCert, cfg.TLSKey = server.CertFile, server.KeyFile
	var logs logLines
	clk := clock.NewFake(testNow)
	srv, err := app.Start(t.Context(), cfg, app.Options{Clock: clk, Logger: slog.New(slog.NewJSONHandler(&logs, nil)), Console: io.Discard, CertCheckEvery: 10 * time.Millisecond})
	if err != nil {
		t.Fatalf("start: %v", err)
	}
	t.Cleanup(func() { _ = srv.Stop() })
	if strings.Contains(logs.text(), certExpiryLine) {
		t.Fatalf("warned of a certificate with 40 days left:\n%s", logs.text())
	}
	clk.Advance(30 * 24 * time.Hour)
	waitForLog(t, &logs, certExpiryLine)
	if !strings.Contains(logs.text(), `"days_left":10`) {
		t.Errorf("the warning does not say 10 days are left:\n%s", logs.text())
	}
}

// TestExpiringClientCAIsWarnedOf: the CA that client certificates must
// chain to (--client-ca) expiring in 10 days started silently, as the
// server's own certificate once did, and every client certificate would
// be refused once it had expired. It is watched as --tls-cert is: the start
// warns of it, naming the flag, the file and the CA, and the metrics
// address serves its expiry.
func TestExpiringClientCAIsWarnedOf(t *testing.T) {
	dir := t.TempDir()
	server := testpki.NewCA(t, dir, "ca").IssueUntil(t, dir, "server", x509.ExtKeyUsageServerAuth, testNow.Add(400*24*time.Hour))
	notAfter := testNow.Add(10 * 24 * time.Hour).Truncate(time.Second)
	clientCA := testpki.NewCAUntil(t, dir, "client-ca", notAfter)
	cfg := testConfig(t, "")
	cfg.TLSCert, cfg.TLSKey, cfg.ClientCA = server.CertFile, server.KeyFile, clientCA.File
	ts, logs := startWithCertificates(t, cfg)

	warned := false
	for _, line := range strings.Split(logs.text(), "\n") {
		if !strings.Contains(line, `"cert":"client-ca"`) {
			continue
		}
		warned = warned || strings.Contains(line, certExpiryLine) &&
			strings.Contains(line, `"days_left":10`) && strings.Contains(line, `"file":"`+clientCA.File+`"`) && strings.Contains(line, `"subject":"client-ca"`)
		// The server refuses the client certificates the CA signed: the
		// line said "before clients refuse it", the server's own
		// certificate's words, which sent its reader to --tls-cert.
		if !strings.Contains(line, "the server refuses the client certificates it signed") || strings.Contains(line, "clients refuse it") {
			t.Errorf("the warning of the client CA does not say that the server will refuse the client certificates it signed: %s", line)
		}
	}
	if !warned {
		t.Errorf("the start did not warn of the client CA that expires in 10 days:\n%s", logs.text())
	}
	got, ok := sample(scrape(t, ts), "childcase_tls_cert_expiry_seconds", map[string]string{"cert": "client-ca"})
	if !ok || got != float64(notAfter.Unix()) {
		t.Errorf("childcase_tls_cert_expiry_seconds{cert=\"client-ca\"} = %v (served: %v), want %d", got, ok, notAfter.Unix())
	}
}

// startWithCertificates starts cfg at testNow with a metrics address,
// stopped at the test's end, and returns it with its JSON log lines.
func startWithCertificates(t *testing.T, cfg app.Config) (*testServer, *logLines) {
	t.Helper()
	cfg.MetricsAddr = "127.0.0.1:0"
	logs := &logLines{}
	srv, err := app.Start(t.Context(), cfg, app.Options{Clock: clock.NewFake(testNow), Logger: slog.New(slog.NewJSONHandler(logs, nil)), Console: io.Discard})
	if err != nil {
		t.Fatalf("start: %v", err)
	}
	t.Cleanup(func() { _ = srv.Stop() })
	return &testServer{t: t, Server: srv}, logs
}
