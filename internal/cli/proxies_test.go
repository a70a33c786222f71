package cli

import (
	"bytes"
	"context"
	"path/filepath"
	"strings"
	"testing"
)

// --trusted-proxies has its environment twin (the flag wins), and a value
// that is not a CIDR stops serve before it opens anything, naming the
// setting.
func TestTrustedProxiesFlag(t *testing.T) {
	t.Setenv("CHILDCASE_TRUSTED_PROXIES", "10.0.0.0/8")
	cfg, err := serveConfig(nil, &bytes.Buffer{})
	if err != nil || cfg.TrustedProxies != "10.0.0.0/8" {
		t.Errorf("from the environment: %q, %v", cfg.TrustedProxies, err)
	}
	cfg, err = serveConfig([]string{"--trusted-proxies", "192.0.2.0/24, 2001:db8::/32"}, &bytes.Buffer{})
	if err != nil || cfg.TrustedProxies != "192.0.2.0/24, 2001:db8::/32" {
		t.Errorf("flag over environment: %q, %v", cfg.TrustedProxies, err)
	}
	if err := cfg.Validate(); err != nil {
		t.Errorf("Validate(%q): %v", cfg.TrustedProxies, err)
	}

	t.Setenv("CHILDCASE_TRUSTED_PROXIES", "")
	var stderr bytes.Buffer
	db := filepath.Join(t.TempDir(), "childcase.db")
	code := Main(context.Background(), []string{"serve", "--db", db, "--trusted-proxies", "10.0.0.0/8,proxy.local"}, &stderr, &stderr)
	if code != 1 || !strings.Contains(stderr.String(), "trusted-proxies") || !strings.Contains(stderr.String(), "proxy.local") {
		t.Errorf("a bad CIDR: exit %d, stderr %q", code, stderr.String())
	}
}
