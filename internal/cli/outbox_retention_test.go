package cli

import (
	"bytes"
	"strings"
	"testing"
)

// TestOutboxRetentionHasAFloor: --outbox-retention 1s was taken, and the
// leader's hourly pruning then removed what a watch that lost its
// connection for a minute had not read, so it could not resume. Under a day
// (the README's Configuration table says so) serve refuses it naming the
// flag and its least; 0 is still the default, 90 days.
func TestOutboxRetentionHasAFloor(t *testing.T) {
	if !strings.Contains(readmeSection(t, "Configuration"), "at least `24h`") {
		t.Errorf("README.md's Configuration no longer says --outbox-retention is at least `24h`")
	}
	for _, tt := range []struct {
		value string
		ok    bool
	}{
		{"1s", false},
		{"23h59m59s", false},
		{"-24h", false},
		{"24h", true},
		{"0", true},
		{"2160h", true},
	} {
		t.Setenv(envName("outbox-retention"), "")
		cfg, err := serveConfig([]string{"--outbox-retention", tt.value}, &bytes.Buffer{})
		if err != nil {
			t.Fatal(err)
		}
		err = cfg.Validate()
		if tt.ok && err != nil {
			t.Errorf("--outbox-retention %s: %v, want it taken", tt.value, err)
		}
		if !tt.ok && (err == nil || !strings.Contains(err.Error(), "config: outbox-retention: ")) {
			t.Errorf("--outbox-retention %s: %v, want a refusal naming --outbox-retention", tt.value, err)
		}
	}
}
