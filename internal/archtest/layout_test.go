package archtest

import (
	"os"
	"slices"
	"strings"
	"testing"
)

// TestLayoutNamesEveryPackage: the README's Layout lists every package of
// cmd/ and internal/, and only packages that exist, so that a reader who
// looks a folder up finds what it is for and what it may import.
func TestLayoutNamesEveryPackage(t *testing.T) {
	md, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, section, ok := strings.Cut(string(md), "\n## Layout\n")
	if !ok {
		t.Fatal("README.md has no Layout section")
	}
	_, block, ok := strings.Cut(section, "```\n")
	block, _, ok2 := strings.Cut(block, "```")
	if !ok || !ok2 {
		t.Fatal("the Layout section has no code block")
	}
	var listed []string
	for line := range strings.Lines(block) {
		if fields := strings.Fields(line); len(fields) > 0 {
			listed = append(listed, fields[0])
		}
	}

	out := goList(t, module+"cmd/...", module+"internal/...")
	var packages []string
	for line := range strings.Lines(string(out)) {
		packages = append(packages, strings.TrimPrefix(strings.TrimSpace(line), module))
	}
	if !slices.Contains(packages, "internal/storage/boltstore") {
		t.Fatalf("go list did not list internal/storage/boltstore; the listing is not the module's:\n%s", out)
	}
	for _, p := range packages {
		if !slices.Contains(listed, p) {
			t.Errorf("package %s is not in the README's Layout", p)
		}
	}
	for _, p := range listed {
		if !slices.Contains(packages, p) {
			t.Errorf("the README's Layout lists %s, which is no package", p)
		}
	}
}
