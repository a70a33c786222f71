package cli

import (
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// etcdServerModule is the module of etcd's server, whose root package is
// the etcd command; the tests embed a cluster from the same module.
const etcdServerModule = "go.etcd.io/etcd/server/v3"

// TestREADMEBuildsTheEtcdOfGoMod: "A three-member cluster" runs etcd's own
// binary on every member, which a newcomer does not have. The section
// says where it comes from: its go build line builds the command of the
// etcd server module, and every etcd version it names (the module's, the
// release archive's) is the one go.mod requires, the one the tests
// embed. So an upgrade of etcd in go.mod that leaves the README on the
// old release, or a module that no longer builds a command at its root,
// fails here.
func TestREADMEBuildsTheEtcdOfGoMod(t *testing.T) {
	md, err := os.ReadFile(readmePath)
	if err != nil {
		t.Fatal(err)
	}
	gomod, err := os.ReadFile("../../go.mod")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^\s*` + regexp.QuoteMeta(etcdServerModule) + `\s+(v\S+)`).FindSubmatch(gomod)
	if m == nil {
		t.Fatalf("go.mod requires no %s", etcdServerModule)
	}
	version := string(m[1])

	section := readmeSubsection(t, string(md), "A three-member cluster")
	var cmds []string
	for _, b := range readmeBlocks(t, section) {
		if b.lang == "console" {
			cmds = append(cmds, readmeCommands(b.text)...)
		}
	}
	build := projectToolchain + " go build -o etcd " + etcdServerModule
	if !slices.Contains(cmds, build) {
		t.Errorf("README.md, A three-member cluster: no %q among its commands %q", build, cmds)
	}
	for _, want := range []string{etcdServerModule + " " + version, "etcd-" + version + "-linux-amd64.tar.gz"} {
		if !strings.Contains(section, want) {
			t.Errorf("README.md, A three-member cluster: does not say %q (go.mod requires %s %s)", want, etcdServerModule, version)
		}
	}
	for _, named := range regexp.MustCompile(`\bv3\.\d+\.\d+\b`).FindAllString(section, -1) {
		if named != version {
			t.Errorf("README.md, A three-member cluster: names etcd %s, go.mod requires %s", named, version)
		}
	}

	// The package the line builds is a command, resolved from go.mod.
	list := exec.Command("go", "list", "-f", "{{.Name}}", etcdServerModule)
	list.Dir = "../.."
	out, err := list.CombinedOutput()
	if err != nil {
		t.Fatalf("go list %s: %v\n%s", etcdServerModule, err, out)
	}
	if name := strings.TrimSpace(string(out)); name != "main" {
		t.Errorf("%s is package %q, not a command: the README's go build line builds no etcd", etcdServerModule, name)
	}
}
