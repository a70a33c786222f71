package cli

import (
	"bytes"
	"context"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/childcase/childcase/internal/app"
)

// TestPlainTextOnANetworkIsWarnedOf: the README's Configuration says to
// give the service a certificate before exposing it to a network, as
// bearer tokens must not cross one in clear text. A start in plain text
// on an address beyond the loopback warns of it, naming the flags; the
// defaults, localhost and TLS do not.
func TestPlainTextOnANetworkIsWarnedOf(t *testing.T) {
	for _, c := range []struct {
		grpc, http, cert string
		want             []string
	}{
		{"localhost:9111", "localhost:8111", "", nil},
		{"127.0.0.1:9111", "[::1]:8111", "", nil},
		{"[::ffff:127.0.0.1]:9111", "127.0.0.2:8111", "", nil},
		{":9111", "0.0.0.0:8111", "", []string{"grpc-addr", "http-addr"}},
		{"127.0.0.1:9111", "10.0.0.21:8111", "", []string{"http-addr"}},
		{"childcase.example.vn:9111", "localhost:8111", "", []string{"grpc-addr"}},
		{"0.0.0.0:9111", "0.0.0.0:8111", "fullchain.pem", nil},
	} {
		cfg := app.DefaultConfig()
		cfg.GRPCAddr, cfg.HTTPAddr, cfg.TLSCert = c.grpc, c.http, c.cert
		if got := plainOnANetwork(cfg); !slices.Equal(got, c.want) {
			t.Errorf("--grpc-addr %s --http-addr %s --tls-cert %q: warned of %v, want %v", c.grpc, c.http, c.cert, got, c.want)
		}
	}

	// The warning is logged at start, before anything listens (here the
	// start then stops at the missing policy file).
	opsClearEnv(t)
	dir := t.TempDir()
	var stderr bytes.Buffer
	args := []string{"serve", "--db", filepath.Join(dir, "cc.db"), "--key-file", filepath.Join(dir, "cc.key"),
		"--grpc-addr", "127.0.0.1:0", "--http-addr", "0.0.0.0:0", "--policy", filepath.Join(dir, "none.json")}
	if code := Main(context.Background(), args, &stderr, &stderr); code != 1 ||
		!strings.Contains(stderr.String(), `"level":"WARN","msg":"serving in plain text on a network address`) ||
		!strings.Contains(stderr.String(), `"flags":["http-addr"]`) {
		t.Errorf("serve --http-addr 0.0.0.0:0 without TLS: exit %d, want 1 and a warning naming http-addr:\n%s", code, stderr.String())
	}
}
