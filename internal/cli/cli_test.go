package cli

import (
	"bytes"
	"context"
	"flag"
	"net"
	"net/http"
	"path/filepath"
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
		}, nil, app.Config{DBPath: "/data/cc.db", GRPCAddr: "0.0.0.0:1", HTTPAddr: "0.0.0.0:2", ShutdownTimeout: 3 * time.Second}},
		{"flag wins over environment", map[string]string{"CHILDCASE_DB": "/env.db"}, []string{"--db", "/flag.db"},
			func() app.Config { c := app.DefaultConfig(); c.DBPath = "/flag.db"; return c }()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, name := range []string{"CHILDCASE_DB", "CHILDCASE_GRPC_ADDR", "CHILDCASE_HTTP_ADDR", "CHILDCASE_SHUTDOWN_TIMEOUT"} {
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
	if code := Main(context.Background(), []string{"frobnicate"}, &stderr, &stderr); code != 2 {
		t.Errorf("unknown command: exit %d, want 2", code)
	}
	if _, err := serveConfig([]string{"-h"}, &bytes.Buffer{}); err != flag.ErrHelp {
		t.Errorf("-h: %v", err)
	}
}

// TestServeStopsOnSIGTERM runs serve in this process, sends the process a
// real SIGTERM once the service answers, and checks that serve returns 0 and
// released the database.
func TestServeStopsOnSIGTERM(t *testing.T) {
	db := filepath.Join(t.TempDir(), "cc.db")
	httpAddr := freeAddr(t)
	t.Setenv("CHILDCASE_SHUTDOWN_TIMEOUT", "")
	var stderr bytes.Buffer
	exit := make(chan int, 1)
	go func() {
		exit <- Main(context.Background(), []string{"serve", "--db", db, "--grpc-addr", freeAddr(t), "--http-addr", httpAddr}, &stderr, &stderr)
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
	if err := syscall.Kill(syscall.Getpid(), syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case code := <-exit:
		if code != 0 {
			t.Fatalf("exit %d\n%s", code, stderr.String())
		}
	case <-time.After(20 * time.Second):
		t.Fatal("serve did not stop on SIGTERM")
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
}

func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}
