package archtest

import (
	"strings"
	"testing"
)

// TestEveryPackageHasADocComment: a reader who opens a folder learns from
// its package comment what it is for and what it must not do.
func TestEveryPackageHasADocComment(t *testing.T) {
	out := goList(t, "-f", `{{.ImportPath}} {{if .Doc}}documented{{end}}`, module+"cmd/...", module+"internal/...")
	n := 0
	for line := range strings.Lines(string(out)) {
		path, doc, _ := strings.Cut(strings.TrimSpace(line), " ")
		n++
		if doc != "documented" {
			t.Errorf("package %s has no doc comment", path)
		}
	}
	if n < 20 {
		t.Fatalf("go list listed %d packages; the listing is not the module's:\n%s", n, out)
	}
}
