package cli

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/childcase/childcase/internal/app"
)

var limitEnv = []string{
	"CHILDCASE_MAX_RECV_MSG_SIZE", "CHILDCASE_MAX_SEND_MSG_SIZE", "CHILDCASE_MAX_CONCURRENT_STREAMS",
	"CHILDCASE_MAX_STREAMS_PER_USER", "CHILDCASE_REQUEST_TIMEOUT", "CHILDCASE_KEEPALIVE_MIN_TIME",
	"CHILDCASE_KEEPALIVE_PERMIT_WITHOUT_STREAM", "CHILDCASE_KEEPALIVE_MAX_CONNECTION_IDLE",
	"CHILDCASE_KEEPALIVE_TIME", "CHILDCASE_KEEPALIVE_TIMEOUT", "CHILDCASE_MAX_DB_SIZE",
	"CHILDCASE_DB_RESERVE",
}

func TestLimitFlagsAndEnvironmentTwins(t *testing.T) {
	for _, name := range limitEnv {
		t.Setenv(name, "")
	}
	// Unset, every limit is zero: the defaults, filled in by WithDefaults.
	cfg, err := serveConfig(nil, &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	eff := cfg.WithDefaults()
	if eff.MaxRecvMsgSize != 4<<20 || eff.MaxSendMsgSize != 16<<20 || eff.MaxConcurrentStreams != 100 ||
		eff.MaxStreamsPerUser != 4 || eff.RequestTimeout != 30*time.Second || eff.KeepaliveMinTime != 10*time.Second ||
		eff.KeepalivePermitWithoutStream || eff.KeepaliveMaxConnectionIdle != 15*time.Minute ||
		eff.KeepaliveTime != 2*time.Hour || eff.KeepaliveTimeout != 20*time.Second || eff.MaxDBSize != 0 ||
		eff.DBReserve != 16<<20 {
		t.Errorf("defaults: %+v", eff)
	}

	env := map[string]string{
		"CHILDCASE_MAX_RECV_MSG_SIZE": "1MiB", "CHILDCASE_MAX_SEND_MSG_SIZE": "8388608",
		"CHILDCASE_MAX_CONCURRENT_STREAMS": "50", "CHILDCASE_MAX_STREAMS_PER_USER": "2",
		"CHILDCASE_REQUEST_TIMEOUT": "5s", "CHILDCASE_KEEPALIVE_MIN_TIME": "1m",
		"CHILDCASE_KEEPALIVE_PERMIT_WITHOUT_STREAM": "true", "CHILDCASE_KEEPALIVE_MAX_CONNECTION_IDLE": "1h",
		"CHILDCASE_KEEPALIVE_TIME": "30m", "CHILDCASE_KEEPALIVE_TIMEOUT": "5s", "CHILDCASE_MAX_DB_SIZE": "2GiB",
		"CHILDCASE_DB_RESERVE": "64MiB",
	}
	for k, v := range env {
		t.Setenv(k, v)
	}
	cfg, err = serveConfig([]string{"--max-db-size", "512MiB", "--request-timeout", "10s"}, &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	want := app.DefaultConfig()
	want.MaxRecvMsgSize, want.MaxSendMsgSize = 1<<20, 8<<20
	want.MaxConcurrentStreams, want.MaxStreamsPerUser = 50, 2
	want.RequestTimeout = 10 * time.Second // the flag wins
	want.KeepaliveMinTime, want.KeepalivePermitWithoutStream = time.Minute, true
	want.KeepaliveMaxConnectionIdle, want.KeepaliveTime, want.KeepaliveTimeout = time.Hour, 30*time.Minute, 5*time.Second
	want.MaxDBSize = 512 << 20 // the flag wins
	want.DBReserve = 64 << 20
	if cfg != want {
		t.Errorf("config = %+v\nwant     %+v", cfg, want)
	}
}

func TestParseSize(t *testing.T) {
	for in, want := range map[string]int64{
		"0": 0, "4096": 4096, "4KiB": 4 << 10, "4 MiB": 4 << 20, "16mib": 16 << 20, "2GiB": 2 << 30,
		"3MB": 3 << 20, "1G": 1 << 30, "10B": 10,
	} {
		if got, err := parseSize(in); err != nil || got != want {
			t.Errorf("parseSize(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "lots", "-1", "1.5MiB", "MiB", "9999999999GiB"} {
		if got, err := parseSize(in); err == nil {
			t.Errorf("parseSize(%q) = %d, want an error", in, got)
		}
	}
	for n, want := range map[int64]string{0: "0", 4 << 20: "4MiB", 1536: "1536", 2 << 30: "2GiB", 3 << 10: "3KiB"} {
		if got := formatSize(n); got != want {
			t.Errorf("formatSize(%d) = %q, want %q", n, got, want)
		}
	}
}

// Bad limits are refused, naming the setting, before anything opens.
func TestBadLimitsAreNamed(t *testing.T) {
	for _, name := range limitEnv {
		t.Setenv(name, "")
	}
	t.Setenv("CHILDCASE_MAX_DB_SIZE", "huge")
	if _, err := serveConfig(nil, &bytes.Buffer{}); err == nil || !strings.Contains(err.Error(), "CHILDCASE_MAX_DB_SIZE") {
		t.Errorf("err = %v, want it to name CHILDCASE_MAX_DB_SIZE", err)
	}
	t.Setenv("CHILDCASE_MAX_DB_SIZE", "")
	for _, tt := range []struct{ args []string }{
		{[]string{"--request-timeout", "-1s"}},
		{[]string{"--max-streams-per-user", "-1"}},
		{[]string{"--max-recv-msg-size", "4GiB"}},
		{[]string{"--max-concurrent-streams", "-5"}},
		// Not a limit: 0 is no default here but a stop without grace.
		{[]string{"--shutdown-timeout", "0"}},
		{[]string{"--drain-delay", "-1s"}},
	} {
		db := filepath.Join(t.TempDir(), "cc.db")
		args := append([]string{"serve", "--db", db, "--grpc-addr", "127.0.0.1:0", "--http-addr", "127.0.0.1:0"}, tt.args...)
		var stderr bytes.Buffer
		code := Main(context.Background(), args, &stderr, &stderr)
		flagName := strings.TrimPrefix(tt.args[0], "--")
		// The flag is named alone: "config: NAME: ...", never beside a
		// flag that is right.
		if code != 1 || !strings.Contains(stderr.String(), "config: "+flagName+": ") {
			t.Errorf("%v: exit %d, want 1 naming %s alone:\n%s", tt.args, code, flagName, stderr.String())
		}
	}
}

// Every limit, the flags whose help says what 0 stands for, refuses a
// negative value at start, whatever the store: named alone, before the
// database is opened.
func TestEveryLimitRefusesANegative(t *testing.T) {
	limits := 0
	for name, h := range serveFlagHelp(t) {
		if h.def == "" || (h.typ != "int" && h.typ != "duration" && h.typ != "size") || name == "shutdown-timeout" {
			continue
		}
		if h.typ == "int" || h.typ == "duration" {
			limits++
		}
		t.Setenv(h.env, "")
		negative := "-1"
		if h.typ == "duration" {
			negative = "-1s"
		}
		db := filepath.Join(t.TempDir(), "cc.db")
		var stderr bytes.Buffer
		code := Main(context.Background(), []string{"serve", "--db", db, "--grpc-addr", "127.0.0.1:0", "--http-addr", "127.0.0.1:0",
			"--" + name, negative}, &stderr, &stderr)
		// A size is no size when negative: refused as it is read (exit 2,
		// the usage); the others once read (exit 1).
		named := "config: " + name + ": "
		switch {
		case h.typ == "size":
			named = "for flag -" + name + ": "
		case strings.HasPrefix(name, "etcd-"):
			// On the bbolt store an etcd limit is refused whatever its
			// value (TestAFlagOfTheOtherStoreIsRefused), still named.
			named = "--" + name + " applies to an etcd store only"
		}
		if code == 0 || !strings.Contains(stderr.String(), named) || strings.Count(stderr.String(), "config: ") > 1 {
			t.Errorf("--%s %s: exit %d, want a refusal naming it alone:\n%s", name, negative, code, stderr.String())
		}
		if _, err := os.Stat(db); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("--%s %s: the database was opened (%v)", name, negative, err)
		}
	}
	if limits < 8 {
		t.Fatalf("found only %d int and duration limits in serve -h", limits)
	}
}

// The reserve is at most a quarter of --max-db-size, as the help and the
// README say; the effective configuration (and so the start's log line)
// says what is in effect, not the size asked for.
func TestDBReserveIsAtMostAQuarterOfTheCap(t *testing.T) {
	for _, tt := range []struct{ maxSize, reserve, want int64 }{
		{4 << 20, 2 << 20, 1 << 20},
		{4 << 20, 0, 1 << 20}, // the 16 MiB default, cut
		{1 << 30, 2 << 20, 2 << 20},
		{0, 64 << 20, 64 << 20}, // no cap: as asked
	} {
		if got := (app.Config{MaxDBSize: tt.maxSize, DBReserve: tt.reserve}).WithDefaults().DBReserve; got != tt.want {
			t.Errorf("--max-db-size %d --db-reserve %d: the reserve in effect is %d, want %d", tt.maxSize, tt.reserve, got, tt.want)
		}
	}
}

// An environment twin that cannot be read is refused naming the variable,
// the value and what it takes, as the command line's refusal quotes the
// value: the flag package alone says only "parse error".
func TestEnvironmentValueRefusalSaysWhatItTakes(t *testing.T) {
	for _, tt := range []struct{ env, value, want string }{
		{"CHILDCASE_DEMO", "maybe", `CHILDCASE_DEMO: "maybe" is not true or false`},
		{"CHILDCASE_KEEPALIVE_PERMIT_WITHOUT_STREAM", "yes", `"yes" is not true or false`},
		{"CHILDCASE_MAX_CONCURRENT_STREAMS", "many", `CHILDCASE_MAX_CONCURRENT_STREAMS: "many" is not a whole number`},
		{"CHILDCASE_ETCD_MAX_TXN_OPS", "1e4", `"1e4" is not a whole number`},
		{"CHILDCASE_SHUTDOWN_TIMEOUT", "15", `CHILDCASE_SHUTDOWN_TIMEOUT: "15" is not a duration such as 30s`},
		{"CHILDCASE_REQUEST_TIMEOUT", "soon", `"soon" is not a duration`},
		{"CHILDCASE_MAX_DB_SIZE", "-1", `CHILDCASE_MAX_DB_SIZE: "-1" is not a size`},
	} {
		t.Run(tt.env, func(t *testing.T) {
			t.Setenv(tt.env, tt.value)
			_, err := serveConfig(nil, &bytes.Buffer{})
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("%s=%s: %v, want an error containing %q", tt.env, tt.value, err, tt.want)
			}
		})
	}
}
