package cli

import (
	"bytes"
	"context"
	"net/http"
	"os"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestFirstStartMakesTheFilesTheREADMENames: serve with no --db or
// --key-file, as "The two commands" runs it, makes its files in the
// working directory, and that section names every one of them, so that a
// newcomer who lists the directory after a first start finds nothing the
// README did not announce.
func TestFirstStartMakesTheFilesTheREADMENames(t *testing.T) {
	mvClearEnv(t)
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, section, _ := strings.Cut(string(readme), "\n## The two commands\n")
	section, _, _ = strings.Cut(section, "\n## ")

	dir := t.TempDir()
	t.Chdir(dir)
	httpAddr := mgAddr(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var stderr bytes.Buffer
	exit := make(chan int, 1)
	go func() {
		exit <- Main(ctx, []string{"serve", "--grpc-addr", mgAddr(t), "--http-addr", httpAddr}, &stderr, &stderr)
	}()
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		resp, err := http.Get("http://" + httpAddr + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				break
			}
		}
		select {
		case code := <-exit:
			t.Fatalf("serve exited %d before it answered:\n%s", code, stderr.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("serve did not come up: %v\n%s", err, stderr.String())
		}
	}
	cancel()
	if code := <-exit; code != 0 {
		t.Fatalf("serve exited %d:\n%s", code, stderr.String())
	}

	made := dirNames(t, dir)
	for _, want := range []string{"childcase.db", "childcase.key"} {
		if !slices.Contains(made, want) {
			t.Errorf("a first start made %v, without %s", made, want)
		}
	}
	for _, name := range made {
		if !strings.Contains(section, "`./"+name+"`") {
			t.Errorf("a first start made %s, which \"The two commands\" does not name (as `./%s`)", name, name)
		}
	}
}
