package cli

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestProductionRestoreDrillRunsOnItsOwn: the restore drill of "Nightly
// backup and a restore drill" is run as an operator runs it, on a backup
// of a database the walk-through never touched (the demo's, made and
// stopped here) and its key file, each line in one bash session with set
// -euo pipefail. It read back cases/HN-2026-00005, a case only the
// walk-through opens, with $CITY, a token no drill has: a newcomer could
// not finish it. The serve line runs in the background (the operator
// runs it in a second terminal), on ports of the test's own.
func TestProductionRestoreDrillRunsOnItsOwn(t *testing.T) {
	readmeNeed(t, "bash", "curl", "jq")
	mgClearEnv(t)
	drill, backup := restoreDrill(t)

	// The production database: the demo's, served once and stopped; its
	// nightly backup and the key file fetched from their places.
	dir := t.TempDir()
	prod := filepath.Join(t.TempDir(), "childcase.db")
	prodKey := filepath.Join(filepath.Dir(prod), "childcase.key")
	mgServe(t, prod, prodKey, "--demo").stop()
	if err := os.Mkdir(filepath.Join(dir, "drill"), 0o700); err != nil {
		t.Fatal(err)
	}
	mgMustRun(t, "backup", "--db", prod, "--to", filepath.Join(dir, backup))
	key, err := os.ReadFile(prodKey)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "drill", "childcase.key"), key, 0o600); err != nil {
		t.Fatal(err)
	}
	runDrill(t, drill, dir)
}

// TestProductionRestoreDrillRunsOnAnOlderSchemaBackup: the same drill on
// a backup taken before an upgrade (the golden files of schemas 2, 9 and
// 10 and their key files), which restore puts in place and the first
// start migrates. Its first line, check, printed BROKEN with the older
// version as a problem (and, before version 10, the counters the
// migration recounts) and exited 1, which stopped the drill on a backup
// that was fine.
func TestProductionRestoreDrillRunsOnAnOlderSchemaBackup(t *testing.T) {
	readmeNeed(t, "bash", "curl", "jq")
	mgClearEnv(t)
	drill, backup := restoreDrill(t)
	for _, version := range []int{2, 9, 10} {
		t.Run(fmt.Sprintf("schema%d", version), func(t *testing.T) {
			dir := t.TempDir()
			if err := os.Mkdir(filepath.Join(dir, "drill"), 0o700); err != nil {
				t.Fatal(err)
			}
			for src, dst := range map[string]string{"bolt": backup, "masterkey": filepath.Join("drill", "childcase.key")} {
				raw, err := os.ReadFile(fmt.Sprintf("../storage/boltstore/testdata/schema%d.%s.golden", version, src))
				if err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(filepath.Join(dir, dst), raw, 0o600); err != nil {
					t.Fatal(err)
				}
			}
			runDrill(t, drill, dir)
		})
	}
}

// restoreDrill is the console block of the restore drill in "Running it
// in production", and the backup it names (drill/childcase-....db).
func restoreDrill(t *testing.T) (drill, backup string) {
	t.Helper()
	for _, b := range regexp.MustCompile("(?s)```console\n(.*?)```").FindAllStringSubmatch(productionSection(t), -1) {
		if strings.Contains(b[1], "childcase restore --from drill/") {
			drill = b[1]
		}
	}
	if drill == "" {
		t.Fatal("README.md: no restore drill (a console block with childcase restore --from drill/...) in Running it in production")
	}
	backup = regexp.MustCompile(`drill/childcase-[0-9TZ-]+\.db`).FindString(drill)
	if backup == "" {
		t.Fatalf("the drill names no backup drill/childcase-....db:\n%s", drill)
	}
	return drill, backup
}

// runDrill runs each line of drill in one bash session in dir, which
// holds the backup and drill/childcase.key, and fails unless it reads a
// case back.
func runDrill(t *testing.T, drill, dir string) {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	httpAddr, grpcAddr := mgAddr(t), mgAddr(t)
	var script strings.Builder
	fmt.Fprintf(&script, "set -euo pipefail\ncd %q\nchildcase() { %s=1 %q \"$@\"; }\n", dir, readmeMainEnv, exe)
	served := false
	for _, line := range strings.Split(drill, "\n") {
		line = strings.ReplaceAll(line, readmeHTTPAddr, httpAddr)
		if rest, ok := strings.CutPrefix(line, "childcase serve "); ok {
			rest, _, _ = strings.Cut(rest, "#")
			fmt.Fprintf(&script, "%s=1 %q serve %s --grpc-addr %s --http-addr %s & server=$!\n", readmeMainEnv, exe, rest, grpcAddr, httpAddr)
			fmt.Fprintf(&script, "trap 'kill $server; wait $server || true' EXIT\n")
			fmt.Fprintf(&script, "for i in $(seq 300); do curl -sf -o /dev/null http://%s/readyz && break; sleep 0.1; done\n", httpAddr)
			served = true
			continue
		}
		script.WriteString(line + "\n")
	}
	if !served {
		t.Fatalf("the drill starts no server (childcase serve ...):\n%s", drill)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, "bash", "-c", script.String()).CombinedOutput()
	if err != nil {
		t.Fatalf("the drill failed (%v) on a backup of a database the walk-through never touched:\n%s", err, out)
	}
	// The drill ends reading a case back.
	if !regexp.MustCompile(`"case_number":"HN-[0-9]{4}-[0-9]{5}"`).Match(out) {
		t.Errorf("the drill read no case back:\n%s", out)
	}
}
