package archtest

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

const module = "github.com/childcase/childcase/"

// rule says which packages may import the packages under a prefix.
type rule struct {
	imported string   // an import path; ending in "/", that path and those under it
	allowed  []string // the importers allowed, written as imported
	why      string
}

// rules are the layering README's Layout section promises. They apply to
// the packages as built, not to their tests, which may use a concrete
// store as a fixture.
var rules = []rule{
	{"go.etcd.io/bbolt/", []string{module + "internal/storage/"}, "only storage knows bbolt"},
	{"go.etcd.io/etcd/", []string{module + "internal/storage/"}, "only storage knows etcd"},
	{module + "internal/storage/", []string{module + "internal/storage/", module + "internal/app"},
		"only the wiring names a concrete store"},
	{module + "internal/domain/datastore", []string{module + "internal/domain/", module + "internal/storage/", module + "internal/app"},
		"transport and the CLI go through domain services, never the store contract"},
	{"github.com/prometheus/", []string{module + "internal/transport/", module + "internal/app"},
		"metrics are transport: the domain and storage expose counts through their own types"},
	{"github.com/grpc-ecosystem/go-grpc-middleware/providers/prometheus", []string{module + "internal/transport/"},
		"metrics are transport: the domain and storage expose counts through their own types"},
}

// matches reports whether path is pattern or, when pattern ends in "/",
// is pattern without it or lies under it.
func matches(path, pattern string) bool {
	if prefix, ok := strings.CutSuffix(pattern, "/"); ok {
		return path == prefix || strings.HasPrefix(path, pattern)
	}
	return path == pattern
}

// violations returns one line for every import in graph (importer ->
// imports) that rules forbid, in the order of graph.
func violations(graph [][]string) []string {
	var out []string
	for _, pkg := range graph {
		importer, imports := pkg[0], pkg[1:]
		for _, imp := range imports {
			for _, r := range rules {
				if !matches(imp, r.imported) {
					continue
				}
				ok := false
				for _, a := range r.allowed {
					ok = ok || matches(importer, a)
				}
				if !ok {
					out = append(out, fmt.Sprintf("%s imports %s: %s", importer, imp, r.why))
				}
			}
		}
	}
	return out
}

func TestRules(t *testing.T) {
	tests := []struct {
		name  string
		graph [][]string
		want  int
	}{
		{"storage uses bbolt", [][]string{{module + "internal/storage/boltstore", "go.etcd.io/bbolt", "go.etcd.io/bbolt/errors"}}, 0},
		{"the wiring opens boltstore", [][]string{{module + "internal/app", module + "internal/storage/boltstore", module + "internal/domain/datastore"}}, 0},
		{"the domain owns the contract", [][]string{{module + "internal/domain/intake", module + "internal/domain/datastore"}}, 0},
		{"transport on the contract", [][]string{{module + "internal/transport/grpcapi", module + "internal/domain/datastore"}}, 1},
		{"the CLI on boltstore", [][]string{{module + "internal/cli", module + "internal/storage/boltstore"}}, 1},
		{"the domain on bbolt and memstore", [][]string{{module + "internal/domain/vault", "go.etcd.io/bbolt", module + "internal/storage/memstore"}}, 2},
		{"storage uses etcd", [][]string{{module + "internal/storage/etcdstore", "go.etcd.io/etcd/client/v3", "go.etcd.io/etcd/api/v3/mvccpb"}}, 0},
		{"the wiring on the etcd client", [][]string{{module + "internal/app", "go.etcd.io/etcd/client/v3/concurrency"}}, 1},
		{"a bbolt subpackage in transport", [][]string{{module + "internal/transport/webhook", "go.etcd.io/bbolt/errors"}}, 1},
		{"transport on the old storage package", [][]string{{module + "internal/transport/webhook", module + "internal/storage"}}, 1},
		{"a name that only starts like storage", [][]string{{module + "internal/cli", module + "internal/storagex"}}, 0},
		{"metrics in transport", [][]string{{module + "internal/transport/metrics", "github.com/prometheus/client_golang/prometheus"}}, 0},
		{"prometheus in the domain", [][]string{{module + "internal/domain/process", "github.com/prometheus/client_golang/prometheus"}}, 1},
		{"the RPC metrics in storage", [][]string{{module + "internal/storage/boltstore", "github.com/grpc-ecosystem/go-grpc-middleware/providers/prometheus"}}, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := violations(tt.graph); len(got) != tt.want {
				t.Errorf("violations = %q, want %d", got, tt.want)
			}
		})
	}
}

// goTool is the go command of the toolchain running the test ($GOROOT/bin/go
// when go test set GOROOT), so that the graph is that of this build.
func goTool() string {
	if root := os.Getenv("GOROOT"); root != "" {
		if p := filepath.Join(root, "bin", "go"); fileExists(p) {
			return p
		}
	}
	return "go"
}

// goList runs go list with args and returns its output.
func goList(t *testing.T, args ...string) []byte {
	t.Helper()
	cmd := exec.Command(goTool(), append([]string{"list"}, args...)...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, stderr.Bytes())
	}
	return out
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// TestLayering reads the import graph of every package of the module, as
// built for this platform, and fails on every import the rules forbid.
func TestLayering(t *testing.T) {
	out := goList(t, "-f", `{{.ImportPath}}{{range .Imports}} {{.}}{{end}}`, module+"...")
	var graph [][]string
	seen := map[string]bool{}
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) == 0 {
			continue
		}
		graph = append(graph, fields)
		for _, imp := range fields[1:] {
			seen[fields[0]+" "+imp] = true
		}
	}
	// The graph must be the real one: the wiring opens boltstore and
	// boltstore uses bbolt. An empty or misread listing would pass
	// every rule.
	for _, edge := range []string{
		module + "internal/app " + module + "internal/storage/boltstore",
		module + "internal/storage/boltstore go.etcd.io/bbolt",
	} {
		if !seen[edge] {
			t.Fatalf("go list did not show the import %s; the listing is not the module's graph:\n%s", edge, out)
		}
	}
	for _, v := range violations(graph) {
		t.Error(v)
	}
}
