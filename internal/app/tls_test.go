package app_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/peer"

	pb "github.com/childcase/childcase/api/childcase/v1"
	"github.com/childcase/childcase/internal/app"
	"github.com/childcase/childcase/internal/domain/clock"
	"github.com/childcase/childcase/internal/testpki"
	"github.com/childcase/childcase/internal/transport/httpapi"
)

// testPKI is a throwaway CA with a server certificate for 127.0.0.1 and
// localhost and a client certificate, plus a client certificate from another
// CA that the service must not trust.
type testPKI struct {
	caFile                 string // PEM of the CA, for --client-ca
	serverCert, serverKey  string // PEM files, for --tls-cert and --tls-key
	clientKey              string // PEM file of the client certificate's key
	roots                  *x509.CertPool
	client, strangerClient tls.Certificate
}

func newTestPKI(t *testing.T) *testPKI {
	t.Helper()
	dir := t.TempDir()
	ca := testpki.NewCA(t, dir, "ca")
	server := ca.Issue(t, dir, "server", x509.ExtKeyUsageServerAuth)
	client := ca.Issue(t, dir, "client", x509.ExtKeyUsageClientAuth)
	stranger := testpki.NewCA(t, dir, "other-ca").Issue(t, dir, "stranger", x509.ExtKeyUsageClientAuth)
	return &testPKI{caFile: ca.File, serverCert: server.CertFile, serverKey: server.KeyFile, clientKey: client.KeyFile,
		roots: ca.Pool(), client: client.TLS, strangerClient: stranger.TLS}
}

// startConfigured starts the real service on cfg and stops it at the end of
// the test. It returns the bootstrap admin's token when the database is new.
func startConfigured(t *testing.T, cfg app.Config) (srv *app.Server, adminToken string) {
	t.Helper()
	var console bytes.Buffer
	srv, err := app.Start(context.Background(), cfg, app.Options{
		Clock:   clock.NewFake(testNow),
		Logger:  slog.New(slog.NewTextHandler(io.Discard, nil)),
		Console: &console,
	})
	if err != nil {
		t.Fatalf("start: %v", err)
	}
	t.Cleanup(func() {
		if err := srv.Stop(); err != nil {
			t.Errorf("stop: %v", err)
		}
	})
	return srv, tokenPattern.FindString(console.String())
}

// newOperator creates a hotline operator through the AdminService over conn
// and returns their token.
func newOperator(t *testing.T, conn *grpc.ClientConn, adminToken string) string {
	t.Helper()
	resp, err := pb.NewAdminServiceClient(conn).CreateUser(withToken(context.Background(), adminToken), &pb.CreateUserRequest{
		UserId: operatorID,
		User:   &pb.User{DisplayName: "Test operator", Role: pb.Role_ROLE_HOTLINE_OPERATOR, Unit: "orgs/hotline-111", Phone: "024 3825 0008"},
	})
	if err != nil {
		t.Fatalf("create operator: %v", err)
	}
	return resp.GetToken().GetSecret()
}

func dialGRPC(t *testing.T, addr string, creds credentials.TransportCredentials) *grpc.ClientConn {
	t.Helper()
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(creds))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

// checkHealth runs a gRPC health check with a deadline, returning the peer
// it reached.
func checkHealth(conn *grpc.ClientConn) (*peer.Peer, healthpb.HealthCheckResponse_ServingStatus, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var p peer.Peer
	resp, err := healthpb.NewHealthClient(conn).Check(ctx, &healthpb.HealthCheckRequest{}, grpc.Peer(&p))
	return &p, resp.GetStatus(), err
}

func tlsVersion(p *peer.Peer) uint16 {
	info, ok := p.AuthInfo.(credentials.TLSInfo)
	if !ok {
		return 0
	}
	return info.State.Version
}

func httpClient(t *testing.T, tc *tls.Config) *http.Client {
	t.Helper()
	tr := &http.Transport{TLSClientConfig: tc, ForceAttemptHTTP2: true}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: 10 * time.Second}
}

// fetch sends a request, with a bearer token unless token is "", and
// returns the response with its body read.
func fetch(c *http.Client, method, url, token, body string) (*http.Response, string, error) {
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		return nil, "", err
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := c.Do(req)
	if err != nil {
		return nil, "", err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	return resp, string(raw), err
}

func tlsConfig(cfg app.Config, p *testPKI) app.Config {
	cfg.TLSCert, cfg.TLSKey = p.serverCert, p.serverKey
	return cfg
}

func TestGRPCOverTLS(t *testing.T) {
	p := newTestPKI(t)
	srv, admin := startConfigured(t, tlsConfig(testConfig(t, ""), p))
	if !srv.TLS() {
		t.Fatal("TLS() = false with a certificate configured")
	}

	conn := dialGRPC(t, srv.GRPCAddr(), credentials.NewTLS(&tls.Config{RootCAs: p.roots}))
	pr, st, err := checkHealth(conn)
	if err != nil || st != healthpb.HealthCheckResponse_SERVING {
		t.Fatalf("health over TLS: %v, %v", st, err)
	}
	if v := tlsVersion(pr); v != tls.VersionTLS13 {
		t.Errorf("negotiated %s, want TLS 1.3", tls.VersionName(v))
	}
	// The services answer over TLS, not only health.
	operator := newOperator(t, conn, admin)
	rep, err := pb.NewReportServiceClient(conn).CreateReport(withToken(context.Background(), operator), &pb.CreateReportRequest{Report: validReport()})
	if err != nil || rep.GetCase() != "cases/HN-2026-00001" {
		t.Fatalf("create report over TLS: %v, %v", rep.GetCase(), err)
	}

	// Plain text to the TLS port does not get through.
	_, _, err = checkHealth(dialGRPC(t, srv.GRPCAddr(), insecure.NewCredentials()))
	wantCode(t, err, codes.Unavailable)

	// Nor does a client that does not trust the server's CA.
	_, _, err = checkHealth(dialGRPC(t, srv.GRPCAddr(), credentials.NewTLS(&tls.Config{RootCAs: x509.NewCertPool()})))
	wantCode(t, err, codes.Unavailable)

	// TLS 1.2 is still accepted; older versions are not.
	pr, st, err = checkHealth(dialGRPC(t, srv.GRPCAddr(), credentials.NewTLS(&tls.Config{RootCAs: p.roots, MaxVersion: tls.VersionTLS12})))
	if err != nil || st != healthpb.HealthCheckResponse_SERVING || tlsVersion(pr) != tls.VersionTLS12 {
		t.Errorf("health over TLS 1.2: %v, %v, version %s", st, err, tls.VersionName(tlsVersion(pr)))
	}
	_, _, err = checkHealth(dialGRPC(t, srv.GRPCAddr(), credentials.NewTLS(&tls.Config{
		RootCAs: p.roots, MinVersion: tls.VersionTLS10, MaxVersion: tls.VersionTLS11,
	})))
	if st := wantCode(t, err, codes.Unavailable); !strings.Contains(st.Message(), "protocol version") {
		t.Errorf("TLS 1.1 refused for another reason: %v", err)
	}
}

func TestHTTPSHealthzHasHSTS(t *testing.T) {
	p := newTestPKI(t)
	srv, admin := startConfigured(t, tlsConfig(testConfig(t, ""), p))
	c := httpClient(t, &tls.Config{RootCAs: p.roots})
	operator := newOperator(t, dialGRPC(t, srv.GRPCAddr(), credentials.NewTLS(&tls.Config{RootCAs: p.roots})), admin)

	resp, body, err := fetch(c, "GET", "https://"+srv.HTTPAddr()+"/healthz", "", "")
	if err != nil || resp.StatusCode != http.StatusOK || body != "ok\n" {
		t.Fatalf("GET /healthz over HTTPS: %v, %q, %v", resp, body, err)
	}
	if got := resp.Header.Get("Strict-Transport-Security"); got != "max-age=63072000; includeSubDomains" {
		t.Errorf("Strict-Transport-Security = %q", got)
	}
	if got := resp.Header.Get("X-Content-Type-Options"); got != "nosniff" {
		t.Errorf("X-Content-Type-Options = %q, the other headers must stay", got)
	}
	if resp.TLS == nil || resp.TLS.Version != tls.VersionTLS13 {
		t.Errorf("TLS state %+v, want TLS 1.3", resp.TLS)
	}

	// REST through the gateway works over HTTPS too.
	resp, body, err = fetch(c, "GET", "https://"+srv.HTTPAddr()+"/v1/units/00004?as_of_date=2024-06-01", operator, "")
	if err != nil || resp.StatusCode != http.StatusOK || !strings.Contains(body, `"name"`) {
		t.Fatalf("GET unit over HTTPS: %v, %s, %v", resp, body, err)
	}
	if resp.Header.Get("Strict-Transport-Security") != httpapi.HSTS {
		t.Errorf("REST answer lacks HSTS: %v", resp.Header)
	}

	// TLS 1.2 is accepted, 1.1 is not.
	resp, _, err = fetch(httpClient(t, &tls.Config{RootCAs: p.roots, MaxVersion: tls.VersionTLS12}), "GET", "https://"+srv.HTTPAddr()+"/healthz", "", "")
	if err != nil || resp.StatusCode != http.StatusOK || resp.TLS.Version != tls.VersionTLS12 {
		t.Errorf("TLS 1.2: %v, %v", resp, err)
	}
	_, _, err = fetch(httpClient(t, &tls.Config{RootCAs: p.roots, MinVersion: tls.VersionTLS10, MaxVersion: tls.VersionTLS11}), "GET", "https://"+srv.HTTPAddr()+"/healthz", "", "")
	if err == nil || !strings.Contains(err.Error(), "protocol version") {
		t.Errorf("TLS 1.1: %v, want the server to refuse the version", err)
	}

	// Plain HTTP to the HTTPS port is answered 400 by the TLS server and
	// never reaches the handler.
	resp, body, err = fetch(httpClient(t, nil), "GET", "http://"+srv.HTTPAddr()+"/healthz", "", "")
	if err != nil || resp.StatusCode != http.StatusBadRequest || strings.Contains(body, "ok") {
		t.Errorf("plain HTTP to the HTTPS port: %v, %q, %v", resp, body, err)
	}
}

func TestPlainHTTPHasNoHSTS(t *testing.T) {
	ts := startServer(t, "")
	if ts.TLS() {
		t.Error("TLS() = true without a certificate")
	}
	resp, body, err := fetch(httpClient(t, nil), "GET", "http://"+ts.HTTPAddr()+"/healthz", "", "")
	if err != nil || resp.StatusCode != http.StatusOK || body != "ok\n" {
		t.Fatalf("GET /healthz: %v, %q, %v", resp, body, err)
	}
	if got, ok := resp.Header["Strict-Transport-Security"]; ok {
		t.Errorf("Strict-Transport-Security = %q over plain HTTP", got)
	}
	for h, want := range map[string]string{
		"X-Content-Type-Options":  "nosniff",
		"X-Frame-Options":         "DENY",
		"Content-Security-Policy": "default-src 'none'; frame-ancestors 'none'",
		"Referrer-Policy":         "no-referrer",
		"Cache-Control":           "no-store",
	} {
		if got := resp.Header.Get(h); got != want {
			t.Errorf("%s = %q, want %q", h, got, want)
		}
	}
}

func TestMutualTLS(t *testing.T) {
	p := newTestPKI(t)
	cfg := tlsConfig(testConfig(t, ""), p)
	cfg.ClientCA = p.caFile
	srv, admin := startConfigured(t, cfg)

	// A Go client only sends a certificate from a CA the server names, so
	// the stranger's is forced on the server to check it really verifies.
	offer := func(cert tls.Certificate) func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
		return func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return &cert, nil }
	}
	clients := []struct {
		name string
		cert func(*tls.CertificateRequestInfo) (*tls.Certificate, error)
		ok   bool
	}{
		{"no client certificate", nil, false},
		{"certificate from another CA", offer(p.strangerClient), false},
		{"certificate from the client CA", offer(p.client), true},
	}
	for _, c := range clients {
		clientTLS := func() *tls.Config { return &tls.Config{RootCAs: p.roots, GetClientCertificate: c.cert} }
		t.Run("grpc/"+c.name, func(t *testing.T) {
			conn := dialGRPC(t, srv.GRPCAddr(), credentials.NewTLS(clientTLS()))
			_, st, err := checkHealth(conn)
			if !c.ok {
				wantCode(t, err, codes.Unavailable)
				return
			}
			if err != nil || st != healthpb.HealthCheckResponse_SERVING {
				t.Fatalf("health: %v, %v", st, err)
			}
		})
		t.Run("https/"+c.name, func(t *testing.T) {
			hc := httpClient(t, clientTLS())
			resp, body, err := fetch(hc, "GET", "https://"+srv.HTTPAddr()+"/healthz", "", "")
			if !c.ok {
				if err == nil {
					t.Fatalf("refused client got %d %q", resp.StatusCode, body)
				}
				return
			}
			if err != nil || resp.StatusCode != http.StatusOK || body != "ok\n" {
				t.Fatalf("GET /healthz: %v, %q, %v", resp, body, err)
			}
		})
	}

	// With a certificate from the CA, a police system records a report over
	// gRPC, and REST (whose gateway has no client certificate: it uses the
	// in-memory link) sees it and records another.
	conn := dialGRPC(t, srv.GRPCAddr(), credentials.NewTLS(&tls.Config{RootCAs: p.roots, Certificates: []tls.Certificate{p.client}}))
	operator := newOperator(t, conn, admin)
	rep, err := pb.NewReportServiceClient(conn).CreateReport(withToken(context.Background(), operator), &pb.CreateReportRequest{Report: validReport()})
	if err != nil || rep.GetCase() != "cases/HN-2026-00001" {
		t.Fatalf("create report over mTLS gRPC: %q, %v", rep.GetCase(), err)
	}
	hc := httpClient(t, &tls.Config{RootCAs: p.roots, Certificates: []tls.Certificate{p.client}})
	base := "https://" + srv.HTTPAddr()
	resp, body, err := fetch(hc, "GET", base+"/v1/cases/HN-2026-00001", operator, "")
	if err != nil || resp.StatusCode != http.StatusOK || !strings.Contains(body, `"case_number":"HN-2026-00001"`) {
		t.Fatalf("GET case over mTLS REST: %v, %s, %v", resp, body, err)
	}
	resp, body, err = fetch(hc, "POST", base+"/v1/reports", operator, restReport)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("POST report over mTLS REST: %v, %s, %v", resp, body, err)
	}
	var created map[string]any
	if err := json.Unmarshal([]byte(body), &created); err != nil || created["case"] != "cases/HN-2026-00002" {
		t.Errorf("POST report over mTLS REST: %s, %v", body, err)
	}
}

func TestTLSConfigValidation(t *testing.T) {
	p := newTestPKI(t)
	dir := t.TempDir()
	missing := filepath.Join(dir, "missing.pem")
	notPEM := filepath.Join(dir, "not.pem")
	if err := os.WriteFile(notPEM, []byte("not a certificate\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name                string
		cert, key, clientCA string
		wantInErr           string
	}{
		{name: "cert without key", cert: p.serverCert, wantInErr: "tls-key"},
		{name: "key without cert", key: p.serverKey, wantInErr: "tls-cert"},
		{name: "client-ca without cert and key", clientCA: p.caFile, wantInErr: "client-ca"},
		{name: "client-ca and cert without key", cert: p.serverCert, clientCA: p.caFile, wantInErr: "tls-key"},
		{name: "missing cert file", cert: missing, key: p.serverKey, wantInErr: "tls-cert"},
		{name: "missing key file", cert: p.serverCert, key: missing, wantInErr: "tls-key"},
		{name: "cert file not PEM", cert: notPEM, key: p.serverKey, wantInErr: "tls-cert"},
		{name: "key of another certificate", cert: p.serverCert, key: p.clientKey, wantInErr: "tls-key"},
		{name: "missing client-ca file", cert: p.serverCert, key: p.serverKey, clientCA: missing, wantInErr: "client-ca"},
		{name: "client-ca not PEM", cert: p.serverCert, key: p.serverKey, clientCA: notPEM, wantInErr: "client-ca"},
		{name: "client-ca is a directory", cert: p.serverCert, key: p.serverKey, clientCA: dir, wantInErr: "client-ca"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := testConfig(t, "")
			cfg.TLSCert, cfg.TLSKey, cfg.ClientCA = tt.cert, tt.key, tt.clientCA
			err := cfg.Validate()
			if err == nil || !strings.HasPrefix(err.Error(), "config: ") || !strings.Contains(err.Error(), tt.wantInErr) {
				t.Fatalf("Validate() = %v, want a config error naming %s", err, tt.wantInErr)
			}
			// Start refuses before opening anything: no database or key file.
			srv, err := app.Start(context.Background(), cfg, app.Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
			if err == nil {
				srv.Stop()
				t.Fatal("Start succeeded")
			}
			if !strings.Contains(err.Error(), tt.wantInErr) {
				t.Errorf("Start: %v, want it to name %s", err, tt.wantInErr)
			}
			for _, file := range []string{cfg.DBPath, cfg.KeyFile} {
				if _, err := os.Stat(file); !errors.Is(err, fs.ErrNotExist) {
					t.Errorf("%s after refused start: %v", file, err)
				}
			}
		})
	}

	// The complete settings are valid.
	cfg := tlsConfig(testConfig(t, ""), p)
	if err := cfg.Validate(); err != nil {
		t.Errorf("cert and key: %v", err)
	}
	cfg.ClientCA = p.caFile
	if err := cfg.Validate(); err != nil {
		t.Errorf("cert, key and client CA: %v", err)
	}
}

// TestShutdownReportsNotServingFirst watches health over mutual TLS while
// the service stops: every service goes NOT_SERVING before the servers close,
// the stop completes once the watcher lets go, and the database is released.
func TestShutdownReportsNotServingFirst(t *testing.T) {
	p := newTestPKI(t)
	cfg := tlsConfig(testConfig(t, ""), p)
	cfg.ClientCA = p.caFile
	srv, _ := startConfigured(t, cfg)
	conn := dialGRPC(t, srv.GRPCAddr(), credentials.NewTLS(&tls.Config{RootCAs: p.roots, Certificates: []tls.Certificate{p.client}}))

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var watches []healthpb.Health_WatchClient
	for _, service := range []string{"", "childcase.v1.ReportService"} {
		w, err := healthpb.NewHealthClient(conn).Watch(ctx, &healthpb.HealthCheckRequest{Service: service})
		if err != nil {
			t.Fatal(err)
		}
		if resp, err := w.Recv(); err != nil || resp.GetStatus() != healthpb.HealthCheckResponse_SERVING {
			t.Fatalf("watch %q before stop: %v, %v", service, resp.GetStatus(), err)
		}
		watches = append(watches, w)
	}

	stopped := make(chan error, 1)
	go func() { stopped <- srv.Stop() }()
	for i, w := range watches {
		if resp, err := w.Recv(); err != nil || resp.GetStatus() != healthpb.HealthCheckResponse_NOT_SERVING {
			t.Fatalf("watch %d during stop: %v, %v", i, resp.GetStatus(), err)
		}
	}
	cancel() // the watches end; the graceful stop can finish
	select {
	case err := <-stopped:
		if err != nil {
			t.Fatalf("stop: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("stop did not finish")
	}
	// The database was released: the service starts again on it.
	startConfigured(t, cfg)
}

// TLS 1.2 offers only forward-secret AEAD suites (ECDHE with AES-GCM or
// ChaCha20-Poly1305), on both ports: a client that offers only a CBC
// suite, or only RSA key exchange, is refused at the handshake, and every
// AEAD suite the certificate's key can use is accepted.
func TestTLS12OffersOnlyAEADSuites(t *testing.T) {
	p := newTestPKI(t)
	srv, _ := startConfigured(t, tlsConfig(testConfig(t, ""), p))
	handshake := func(addr string, suite uint16) (tls.ConnectionState, error) {
		conn, err := tls.Dial("tcp", addr, &tls.Config{
			RootCAs: p.roots, ServerName: "localhost",
			MaxVersion: tls.VersionTLS12, CipherSuites: []uint16{suite},
			NextProtos: []string{"h2"},
		})
		if err != nil {
			return tls.ConnectionState{}, err
		}
		defer conn.Close()
		return conn.ConnectionState(), nil
	}
	// The server's key is ECDSA, so the ECDHE_ECDSA suites are the ones
	// it can negotiate; the RSA ones are offered too, for RSA keys.
	refused := append(tls.InsecureCipherSuites(), suitesByName(t,
		"TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA",
		"TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA",
	)...)
	accepted := suitesByName(t,
		"TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
		"TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384",
		"TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256",
	)
	for _, addr := range []string{srv.GRPCAddr(), srv.HTTPAddr()} {
		for _, s := range refused {
			if st, err := handshake(addr, s.ID); err == nil {
				t.Errorf("%s: TLS 1.2 handshake with %s succeeded (negotiated %s), want it refused",
					addr, s.Name, tls.CipherSuiteName(st.CipherSuite))
			}
		}
		for _, s := range accepted {
			if st, err := handshake(addr, s.ID); err != nil || st.CipherSuite != s.ID {
				t.Errorf("%s: TLS 1.2 handshake with %s: %v (negotiated %s)", addr, s.Name, err, tls.CipherSuiteName(st.CipherSuite))
			}
		}
	}
}

// suitesByName returns the cipher suites of the names, secure or not.
func suitesByName(t *testing.T, names ...string) []*tls.CipherSuite {
	t.Helper()
	all := append(tls.CipherSuites(), tls.InsecureCipherSuites()...)
	var out []*tls.CipherSuite
	for _, n := range names {
		i := slices.IndexFunc(all, func(s *tls.CipherSuite) bool { return s.Name == n })
		if i < 0 {
			t.Fatalf("unknown cipher suite %s", n)
		}
		out = append(out, all[i])
	}
	return out
}
