package cli

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"errors"
	"flag"
	"io/fs"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/childcase/childcase/internal/app"
	"github.com/childcase/childcase/internal/storage/boltstore"
)

func TestFlagsAndEnvironmentTwins(t *testing.T) {
	tests := []struct {
		name string
		env  map[string]string
		args []string
		want app.Config
	}{
		{"defaults", nil, nil, app.DefaultConfig()},
		{"environment", map[string]string{
			"CHILDCASE_DB": "/data/cc.db", "CHILDCASE_GRPC_ADDR": "0.0.0.0:1", "CHILDCASE_HTTP_ADDR": "0.0.0.0:2", "CHILDCASE_SHUTDOWN_TIMEOUT": "3s",
			"CHILDCASE_KEY_FILE": "/keys/cc.key", "CHILDCASE_DEMO": "true", "CHILDCASE_DEMO_TOKENS": "/tmp/demo-tokens.env",
		}, nil, app.Config{DBPath: "/data/cc.db", Store: app.StoreBolt, EtcdPrefix: app.DefaultEtcdPrefix, GRPCAddr: "0.0.0.0:1", HTTPAddr: "0.0.0.0:2", ShutdownTimeout: 3 * time.Second,
			KeyFile: "/keys/cc.key", Demo: true, DemoTokensFile: "/tmp/demo-tokens.env"}},
		{"flag wins over environment", map[string]string{"CHILDCASE_DB": "/env.db"}, []string{"--db", "/flag.db"},
			func() app.Config { c := app.DefaultConfig(); c.DBPath = "/flag.db"; return c }()},
		{"TLS from the environment", map[string]string{
			"CHILDCASE_TLS_CERT": "/etc/cc/cert.pem", "CHILDCASE_TLS_KEY": "/etc/cc/key.pem", "CHILDCASE_CLIENT_CA": "/etc/cc/police-ca.pem",
		}, nil, func() app.Config {
			c := app.DefaultConfig()
			c.TLSCert, c.TLSKey, c.ClientCA = "/etc/cc/cert.pem", "/etc/cc/key.pem", "/etc/cc/police-ca.pem"
			return c
		}()},
		{"TLS flags win over the environment", map[string]string{
			"CHILDCASE_TLS_CERT": "/env/cert.pem", "CHILDCASE_TLS_KEY": "/env/key.pem", "CHILDCASE_CLIENT_CA": "/env/ca.pem",
		}, []string{"--tls-cert", "/flag/cert.pem", "--tls-key", "/flag/key.pem", "--client-ca", "/flag/ca.pem"}, func() app.Config {
			c := app.DefaultConfig()
			c.TLSCert, c.TLSKey, c.ClientCA = "/flag/cert.pem", "/flag/key.pem", "/flag/ca.pem"
			return c
		}()},
		{"empty environment is unset", map[string]string{"CHILDCASE_TLS_CERT": "", "CHILDCASE_TLS_KEY": "", "CHILDCASE_CLIENT_CA": ""},
			nil, app.DefaultConfig()},
		{"metrics address: the flag wins over the environment", map[string]string{"CHILDCASE_METRICS_ADDR": "localhost:1"},
			[]string{"--metrics-addr", "127.0.0.1:9112"},
			func() app.Config { c := app.DefaultConfig(); c.MetricsAddr = "127.0.0.1:9112"; return c }()},
		{"metrics address from the environment", map[string]string{"CHILDCASE_METRICS_ADDR": "localhost:9112"}, nil,
			func() app.Config { c := app.DefaultConfig(); c.MetricsAddr = "localhost:9112"; return c }()},
		{"drain delay from the environment", map[string]string{"CHILDCASE_DRAIN_DELAY": "5s"}, nil,
			func() app.Config { c := app.DefaultConfig(); c.DrainDelay = 5 * time.Second; return c }()},
		{"drain delay: the flag wins over the environment", map[string]string{"CHILDCASE_DRAIN_DELAY": "5s"}, []string{"--drain-delay", "10s"},
			func() app.Config { c := app.DefaultConfig(); c.DrainDelay = 10 * time.Second; return c }()},
		{"etcd store from the environment, TLS files from flags", map[string]string{
			"CHILDCASE_STORE": "etcd://db1:2379,db2:2379", "CHILDCASE_ETCD_PREFIX": "/hn/", "CHILDCASE_ETCD_MAX_TXN_OPS": "20000",
		}, []string{"--etcd-ca", "/etc/cc/etcd-ca.pem", "--etcd-cert", "/etc/cc/etcd.pem", "--etcd-key", "/etc/cc/etcd-key.pem",
			"--etcd-max-request-bytes", "16MiB"}, func() app.Config {
			c := app.DefaultConfig()
			c.Store, c.EtcdPrefix, c.EtcdMaxTxnOps, c.EtcdMaxRequestBytes = "etcd://db1:2379,db2:2379", "/hn/", 20000, 16<<20
			c.EtcdCAFile, c.EtcdCertFile, c.EtcdKeyFile = "/etc/cc/etcd-ca.pem", "/etc/cc/etcd.pem", "/etc/cc/etcd-key.pem"
			return c
		}()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, name := range []string{"CHILDCASE_DB", "CHILDCASE_GRPC_ADDR", "CHILDCASE_HTTP_ADDR", "CHILDCASE_SHUTDOWN_TIMEOUT",
				"CHILDCASE_TLS_CERT", "CHILDCASE_TLS_KEY", "CHILDCASE_CLIENT_CA", "CHILDCASE_KEY_FILE", "CHILDCASE_DEMO", "CHILDCASE_DEMO_TOKENS", "CHILDCASE_METRICS_ADDR",
				"CHILDCASE_STORE", "CHILDCASE_ETCD_PREFIX", "CHILDCASE_ETCD_MAX_TXN_OPS", "CHILDCASE_DRAIN_DELAY"} {
				t.Setenv(name, "")
			}
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			cfg, err := serveConfig(tt.args, &bytes.Buffer{})
			if err != nil {
				t.Fatal(err)
			}
			if cfg != tt.want {
				t.Errorf("config = %+v, want %+v", cfg, tt.want)
			}
		})
	}
}

func TestBadSettingsAreNamed(t *testing.T) {
	t.Setenv("CHILDCASE_SHUTDOWN_TIMEOUT", "soon")
	_, err := serveConfig(nil, &bytes.Buffer{})
	if err == nil || !strings.Contains(err.Error(), "CHILDCASE_SHUTDOWN_TIMEOUT") {
		t.Errorf("err = %v, want it to name CHILDCASE_SHUTDOWN_TIMEOUT", err)
	}
	t.Setenv("CHILDCASE_SHUTDOWN_TIMEOUT", "")
	var stderr bytes.Buffer
	if code := Main(context.Background(), []string{"serve", "--no-such-flag"}, &stderr, &stderr); code != 2 {
		t.Errorf("unknown flag: exit %d, want 2", code)
	}
	if code := Main(context.Background(), []string{"serve", "--grpc-addr", "nonsense"}, &stderr, &stderr); code != 1 || !strings.Contains(stderr.String(), "grpc-addr") {
		t.Errorf("bad address: exit %d, stderr %q", code, stderr.String())
	}
	// A policy file that does not load is named once, as --policy.
	stderr.Reset()
	dir := t.TempDir()
	args := []string{"serve", "--db", filepath.Join(dir, "cc.db"), "--key-file", filepath.Join(dir, "cc.key"),
		"--grpc-addr", "127.0.0.1:0", "--http-addr", "127.0.0.1:0", "--policy", filepath.Join(dir, "none.json")}
	if code := Main(context.Background(), args, &stderr, &stderr); code != 1 ||
		!strings.Contains(stderr.String(), "config: policy: open ") || strings.Contains(stderr.String(), "policy: policy:") {
		t.Errorf("missing policy file: exit %d, stderr %q", code, stderr.String())
	}
	if code := Main(context.Background(), []string{"frobnicate"}, &stderr, &stderr); code != 2 {
		t.Errorf("unknown command: exit %d, want 2", code)
	}
	// A subcommand the command does not have is named, by every command
	// with subcommands, rather than answered with the usage alone.
	for _, cmd := range []string{"users", "keys", "audit", "stats"} {
		var stdout, stderr bytes.Buffer
		if code := Main(context.Background(), []string{cmd, "frob"}, &stdout, &stderr); code != 2 ||
			!strings.Contains(stderr.String(), "childcase "+cmd+": unknown subcommand \"frob\"") {
			t.Errorf("%s frob: exit %d, stderr %q; want 2 naming the subcommand", cmd, code, stderr.String())
		}
	}
	// A --db, --key-file or --demo-tokens in a folder that does not exist
	// is named as its flag, before anything is opened, and the folder is
	// not made.
	nowhere := filepath.Join(dir, "nowhere")
	for _, f := range []struct{ flag, name string }{{"--db", "db"}, {"--key-file", "key-file"}, {"--demo-tokens", "demo-tokens"}} {
		stderr.Reset()
		args := []string{"serve", "--db", filepath.Join(dir, "cc.db"), "--key-file", filepath.Join(dir, "cc.key"),
			"--grpc-addr", "127.0.0.1:0", "--http-addr", "127.0.0.1:0", f.flag, filepath.Join(nowhere, "x")}
		if f.name == "demo-tokens" {
			args = append(args, "--demo")
		}
		if code := Main(context.Background(), args, &stderr, &stderr); code != 1 ||
			!strings.Contains(stderr.String(), "config: "+f.name+": the folder "+nowhere+" does not exist") {
			t.Errorf("%s in a folder that does not exist: exit %d, stderr %q", f.flag, code, stderr.String())
		}
		if _, err := os.Stat(nowhere); err == nil {
			t.Errorf("serve made the folder of %s", f.flag)
		}
	}
	// A --max-db-size too small for any database to start in is named
	// before anything is made: a first start used to create the key file,
	// the database and its reserve, print "Created a new master key file",
	// and then fail on a full database, naming no flag.
	stderr.Reset()
	small := t.TempDir()
	args = []string{"serve", "--db", filepath.Join(small, "cc.db"), "--key-file", filepath.Join(small, "cc.key"),
		"--grpc-addr", "127.0.0.1:0", "--http-addr", "127.0.0.1:0", "--max-db-size", "64KiB"}
	if code := Main(context.Background(), args, &stderr, &stderr); code != 1 || !strings.Contains(stderr.String(), "config: max-db-size: 65536 is below") {
		t.Errorf("--max-db-size 64KiB: exit %d, stderr %q; want 1 naming max-db-size", code, stderr.String())
	}
	if names := dirNames(t, small); len(names) != 0 {
		t.Errorf("--max-db-size 64KiB: serve made %v", names)
	}
	if _, err := serveConfig([]string{"-h"}, &bytes.Buffer{}); err != flag.ErrHelp {
		t.Errorf("-h: %v", err)
	}
	// The commands with subcommands print their usage for -h, on stdout,
	// and exit 0, as the others do.
	for _, args := range [][]string{{"users", "-h"}, {"keys", "--help"}, {"audit", "-h"}, {"stats", "help"}} {
		var stdout, stderr bytes.Buffer
		if code := Main(context.Background(), args, &stdout, &stderr); code != 0 || !strings.Contains(stdout.String(), "childcase "+args[0]) || stderr.Len() != 0 {
			t.Errorf("%v: exit %d, stdout %q, stderr %q", args, code, stdout.String(), stderr.String())
		}
	}
}

// TestTLSSettingsAreChecked runs serve with incomplete or unreadable TLS
// settings: it exits 1 before opening the database, naming the setting.
func TestTLSSettingsAreChecked(t *testing.T) {
	for _, name := range []string{"CHILDCASE_TLS_CERT", "CHILDCASE_TLS_KEY", "CHILDCASE_CLIENT_CA"} {
		t.Setenv(name, "")
	}
	dir := t.TempDir()
	cert, key := writeSelfSigned(t, dir)
	missing := filepath.Join(dir, "missing.pem")
	tests := []struct {
		name string
		env  map[string]string
		args []string
		want string
	}{
		{"cert without key", nil, []string{"--tls-cert", cert}, "tls-key"},
		{"key without cert", nil, []string{"--tls-key", key}, "tls-cert"},
		{"client-ca without cert and key", nil, []string{"--client-ca", cert}, "client-ca"},
		{"client-ca from the environment without cert", map[string]string{"CHILDCASE_CLIENT_CA": cert}, nil, "client-ca"},
		{"unreadable cert", nil, []string{"--tls-cert", missing, "--tls-key", key}, "tls-cert"},
		{"unreadable key", nil, []string{"--tls-cert", cert, "--tls-key", missing}, "tls-key"},
		{"unreadable client-ca", nil, []string{"--tls-cert", cert, "--tls-key", key, "--client-ca", missing}, "client-ca"},
		{"client-ca not a certificate", nil, []string{"--tls-cert", cert, "--tls-key", key, "--client-ca", key}, "client-ca"},
		{"metrics address not host:port", nil, []string{"--metrics-addr", "9112"}, "metrics-addr"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			db := filepath.Join(t.TempDir(), "cc.db")
			args := append([]string{"serve", "--db", db, "--grpc-addr", "127.0.0.1:0", "--http-addr", "127.0.0.1:0"}, tt.args...)
			var stderr bytes.Buffer
			code := Main(context.Background(), args, &stderr, &stderr)
			if code != 1 || !strings.Contains(stderr.String(), "childcase: config: ") || !strings.Contains(stderr.String(), tt.want) {
				t.Errorf("exit %d, want 1 with an error naming %s:\n%s", code, tt.want, stderr.String())
			}
			if _, err := os.Stat(db); !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("database file after refused start: %v", err)
			}
		})
	}
}

// writeSelfSigned writes a self-signed certificate for 127.0.0.1 and for
// the README's childcase.example.vn, and its key
// into dir as PEM files.
func writeSelfSigned(t *testing.T, dir string) (certFile, keyFile string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "childcase"},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
		DNSNames:     []string{"childcase.example.vn"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	for file, block := range map[string]*pem.Block{
		certFile: {Type: "CERTIFICATE", Bytes: der},
		keyFile:  {Type: "PRIVATE KEY", Bytes: keyDER},
	} {
		if err := os.WriteFile(file, pem.EncodeToMemory(block), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return certFile, keyFile
}

// TestServeStopsOnSIGTERM runs serve in this process, sends the process a
// real SIGTERM (and, as the README's Configuration promises the same of it,
// SIGINT) once the service answers, and checks that serve logged its
// effective configuration at start, returns 0 and released the database.
func TestServeStopsOnSIGTERM(t *testing.T) {
	if !onUnix {
		t.Skip("a process cannot send itself SIGTERM on " + runtime.GOOS)
	}
	for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGINT} {
		t.Run(sig.String(), func(t *testing.T) { serveUntilSignal(t, sig) })
	}
}

func serveUntilSignal(t *testing.T, sig syscall.Signal) {
	dir := t.TempDir()
	db, keyFile := filepath.Join(dir, "cc.db"), filepath.Join(dir, "cc.key")
	httpAddr := mgAddr(t)
	for _, name := range []string{"CHILDCASE_SHUTDOWN_TIMEOUT", "CHILDCASE_TLS_CERT", "CHILDCASE_TLS_KEY", "CHILDCASE_CLIENT_CA"} {
		t.Setenv(name, "")
	}
	var stderr bytes.Buffer
	exit := make(chan int, 1)
	go func() {
		exit <- Main(context.Background(), []string{"serve", "--db", db, "--key-file", keyFile, "--grpc-addr", mgAddr(t), "--http-addr", httpAddr}, &stderr, &stderr)
	}()
	deadline := time.Now().Add(20 * time.Second)
	for {
		resp, err := http.Get("http://" + httpAddr + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("service did not come up: %v\n%s", err, stderr.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err := signalSelf(sig); err != nil {
		t.Fatal(err)
	}
	select {
	case code := <-exit:
		if code != 0 {
			t.Fatalf("exit %d\n%s", code, stderr.String())
		}
	case <-time.After(20 * time.Second):
		t.Fatalf("serve did not stop on %v", sig)
	}
	// The database was closed: another process-level open gets the lock at once.
	s, err := boltstore.Open(db, boltstore.Options{Timeout: 100 * time.Millisecond})
	if err != nil {
		t.Fatalf("database still locked after shutdown: %v", err)
	}
	s.Close()
	if !strings.Contains(stderr.String(), "childcase stopped") {
		t.Errorf("no shutdown log line in:\n%s", stderr.String())
	}
	// The effective configuration, as the flags and their defaults made it.
	var logged map[string]any
	for _, line := range strings.Split(stderr.String(), "\n") {
		if strings.Contains(line, `"msg":"effective configuration"`) {
			if err := json.Unmarshal([]byte(line), &logged); err != nil {
				t.Fatalf("effective configuration line %q: %v", line, err)
			}
		}
	}
	if logged["db"] != db || logged["http_addr"] != httpAddr || logged["shutdown_timeout"] != "15s" || logged["request_timeout"] != "30s" {
		t.Errorf("effective configuration logged as %v, want db %s, http_addr %s and the defaults", logged, db, httpAddr)
	}
	// Every setting of serve is in it, under its flag's name, so that the
	// operator reads there which key file and policy the service took.
	for name := range serveFlagHelp(t) {
		if _, ok := logged[strings.ReplaceAll(name, "-", "_")]; !ok {
			t.Errorf("the effective configuration does not name --%s: %v", name, logged)
		}
	}
	// A limit left at 0 is logged as what it is in effect, its default.
	for key, want := range map[string]float64{
		"etcd_max_txn_ops": app.DefaultEtcdMaxTxnOps, "etcd_max_request_bytes": app.DefaultEtcdMaxRequestBytes,
		"max_recv_msg_size": app.DefaultMaxRecvMsgSize, "db_reserve": app.DefaultDBReserve,
	} {
		if logged[key] != want {
			t.Errorf("the effective configuration logs %s as %v, want its default %v", key, logged[key], want)
		}
	}
}

// TestServeOnAnAddressInUseMakesNothing: a second serve on an address in
// use (a newcomer's second terminal, a unit restarted while the old
// process holds the port) fails naming the flag, before anything is
// opened: on a new database it made the database and printed its first
// admin's token, "shown only this once", before it failed to listen.
func TestServeOnAnAddressInUseMakesNothing(t *testing.T) {
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	for _, flag := range []string{"grpc-addr", "http-addr", "metrics-addr"} {
		dir := t.TempDir()
		addrs := map[string]string{"grpc-addr": "127.0.0.1:0", "http-addr": "127.0.0.1:0", "metrics-addr": "127.0.0.1:0"}
		addrs[flag] = taken.Addr().String()
		args := []string{"serve", "--db", filepath.Join(dir, "cc.db"), "--key-file", filepath.Join(dir, "cc.key")}
		for name, addr := range addrs {
			args = append(args, "--"+name, addr)
		}
		var stdout, stderr bytes.Buffer
		code := Main(context.Background(), args, &stdout, &stderr)
		out := stdout.String() + stderr.String()
		if code != 1 || !strings.Contains(out, "config: "+flag+": ") || !strings.Contains(out, "address already in use") {
			t.Errorf("--%s in use: exit %d, want 1 naming %s:\n%s", flag, code, flag, out)
		}
		if strings.Contains(out, "New database") || strings.Contains(out, "cc_") {
			t.Errorf("--%s in use: a token was printed:\n%s", flag, out)
		}
		entries, err := os.ReadDir(dir)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range entries {
			t.Errorf("--%s in use: the start left %s", flag, e.Name())
		}
	}
}

// TestFlagValuesRefusedInTheProductsWords: a number, duration or
// true/false flag, or its environment twin, given something else is
// refused naming the flag (or variable), the value and what it takes,
// not in the flag package's or strconv's words ("parse error", "value
// out of range").
func TestFlagValuesRefusedInTheProductsWords(t *testing.T) {
	mgClearEnv(t)
	goWords := regexp.MustCompile(`parse error|value out of range|strconv|invalid syntax`)
	db := filepath.Join(t.TempDir(), "none.db")
	for _, tt := range []struct {
		env  [2]string
		args []string
		want string
	}{
		{args: []string{"serve", "--db", db, "--shutdown-timeout", "5"}, want: `invalid value "5" for flag -shutdown-timeout: not a duration such as 30s, 15m or 2h`},
		{args: []string{"serve", "--db", db, "--max-streams-per-user", "four"}, want: `invalid value "four" for flag -max-streams-per-user: not a whole number`},
		{args: []string{"serve", "--db", db, "--max-streams-per-user", "99999999999999999999"}, want: `invalid value "99999999999999999999" for flag -max-streams-per-user: too large or too small a number`},
		{args: []string{"serve", "--db", db, "--keepalive-permit-without-stream=maybe"}, want: `invalid boolean value "maybe" for -keepalive-permit-without-stream: not true or false`},
		{args: []string{"users", "add", "--db", db, "--ttl", "90d"}, want: `invalid value "90d" for flag -ttl: not a duration such as 30s, 15m or 2h`},
		{args: []string{"load", "--db", db, "--seed", "-1"}, want: `invalid value "-1" for flag -seed: not a whole number of 0 or more`},
		{env: [2]string{"SHUTDOWN_TIMEOUT", "5"}, args: []string{"serve", "--db", db}, want: `CHILDCASE_SHUTDOWN_TIMEOUT: "5" is not a duration such as 30s, 15m or 2h`},
		{env: [2]string{"MAX_STREAMS_PER_USER", "99999999999999999999"}, args: []string{"serve", "--db", db}, want: `CHILDCASE_MAX_STREAMS_PER_USER: "99999999999999999999" is too large or too small a number`},
		{env: [2]string{"DEMO", "maybe"}, args: []string{"serve", "--db", db}, want: `CHILDCASE_DEMO: "maybe" is not true or false`},
	} {
		if tt.env[0] != "" {
			t.Setenv(EnvPrefix+tt.env[0], tt.env[1])
		}
		code, _, stderr := mgRun(t, tt.args...)
		if tt.env[0] != "" {
			t.Setenv(EnvPrefix+tt.env[0], "")
		}
		if code == 0 || !strings.Contains(stderr, tt.want) {
			t.Errorf("%v %v: exit %d, want non-zero saying %q:\n%s", tt.env, tt.args, code, tt.want, firstLines(stderr, 3))
		}
		if m := goWords.FindString(stderr); m != "" {
			t.Errorf("%v %v: says %q:\n%s", tt.env, tt.args, m, firstLines(stderr, 3))
		}
	}
	if _, err := os.Stat(db); err == nil {
		t.Error("a refused flag made the database")
	}
}

// firstLines is the first n lines of s.
func firstLines(s string, n int) string {
	lines := strings.SplitN(s, "\n", n+1)
	return strings.Join(lines[:min(n, len(lines))], "\n")
}

// TestARefusedFirstStartMakesNothing: a first start refused after it
// opened the new database (a key file others can read, or that is no key
// file; a reserve that cannot be made) leaves the folder as it found it.
// It left a new, empty childcase.db behind, which "users add" then took
// for an existing database and the next start for a new one, beside the
// mistake the operator was mending. A refused start on an existing
// database keeps it, every byte.
func TestARefusedFirstStartMakesNothing(t *testing.T) {
	mgClearEnv(t)
	for _, tc := range []struct {
		name  string
		setup func(t *testing.T, dir string) // what the operator left there
		want  string
	}{
		{"key file others can read", func(t *testing.T, dir string) {
			writeFileMode(t, filepath.Join(dir, "cc.key"), "x\n", 0o644)
		}, "lets group or others access it"},
		{"key file that is none", func(t *testing.T, dir string) {
			writeFileMode(t, filepath.Join(dir, "cc.key"), "short\n", 0o600)
		}, "malformed key file"},
		{"reserve that is a folder", func(t *testing.T, dir string) {
			if err := os.Mkdir(filepath.Join(dir, "cc.db.reserve"), 0o700); err != nil {
				t.Fatal(err)
			}
		}, "reserve"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			tc.setup(t, dir)
			before := dirNames(t, dir)
			code, _, stderr := mgRun(t, "serve", "--db", filepath.Join(dir, "cc.db"), "--key-file", filepath.Join(dir, "cc.key"),
				"--grpc-addr", "127.0.0.1:0", "--http-addr", "127.0.0.1:0")
			if code != 1 || !strings.Contains(stderr, tc.want) {
				t.Fatalf("exit %d, want 1 saying %q:\n%s", code, tc.want, stderr)
			}
			if after := dirNames(t, dir); !slices.Equal(after, before) {
				t.Errorf("the refused first start left %v in the folder, which held %v", after, before)
			}
		})
	}

	// On an existing database the same refusal keeps the file.
	dir := t.TempDir()
	db := filepath.Join(dir, "cc.db")
	mgMustRun(t, "users", "add", "--create", "--db", db, "--id", "lan.nguyen", "--name", "Lan", "--role", "ADMIN", "--unit", "orgs/system")
	writeFileMode(t, filepath.Join(dir, "cc.key"), "x\n", 0o644)
	if code, _, stderr := mgRun(t, "serve", "--db", db, "--key-file", filepath.Join(dir, "cc.key"),
		"--grpc-addr", "127.0.0.1:0", "--http-addr", "127.0.0.1:0"); code != 1 {
		t.Fatalf("a start with a key file others can read: exit %d, want 1:\n%s", code, stderr)
	}
	if out := mgMustRun(t, "users", "list", "--db", db); !strings.Contains(out, "lan.nguyen") {
		t.Errorf("after a refused start the existing database lists no lan.nguyen:\n%s", out)
	}
}

// writeFileMode writes a file with exactly mode perm, whatever the umask.
func writeFileMode(t *testing.T, path, content string, perm os.FileMode) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), perm); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, perm); err != nil {
		t.Fatal(err)
	}
}

// dirNames lists a folder's entries by name, sorted.
func dirNames(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}
