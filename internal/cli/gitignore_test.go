package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// gitIgnored reports whether the repository's .gitignore ignores a file
// (or, with isDir, a folder) of the checkout's root by that name. It
// reads the patterns the file uses: globs, a leading / anchoring at the
// root (the root is all it is asked about) and a trailing / for folders.
func gitIgnored(t *testing.T, name string, isDir bool) bool {
	t.Helper()
	content, err := os.ReadFile("../../.gitignore")
	if err != nil {
		t.Fatal(err)
	}
	ignored := false
	for _, line := range strings.Split(string(content), "\n") {
		p := strings.TrimSpace(line)
		if p == "" || strings.HasPrefix(p, "#") {
			continue
		}
		negate := strings.HasPrefix(p, "!")
		p = strings.TrimPrefix(strings.TrimPrefix(p, "!"), "/")
		dirOnly := strings.HasSuffix(p, "/")
		p = strings.TrimSuffix(p, "/")
		if strings.Contains(p, "/") || (dirOnly && !isDir) {
			continue // a path below the root, or a folder's pattern
		}
		ok, err := filepath.Match(p, name)
		if err != nil {
			t.Fatalf(".gitignore: %q: %v", line, err)
		}
		if ok {
			ignored = !negate
		}
	}
	return ignored
}

// TestGitIgnoresWhatTheREADMECreates: "The two commands" run serve in the
// checkout, and leave there the database, its reserve, the master key
// (and, after a rotation, the retired one beside it) and the demo tokens.
// Each holds data or a secret: git must not offer any of them to a
// "git add .", nor count them as changes that make a build "+dirty".
// (TestREADME checks the same of every file its walk-through leaves.)
func TestGitIgnoresWhatTheREADMECreates(t *testing.T) {
	for _, name := range []string{
		"childcase.db",
		"childcase.db.reserve",
		"childcase.key",
		"childcase.key.retired-0123456789abcdef",
		"demo-tokens.env",
	} {
		if !gitIgnored(t, name, false) {
			t.Errorf(".gitignore does not ignore %s, which the README's commands leave in the checkout", name)
		}
	}
	for _, name := range []string{"README.md", "go.mod", "LICENSE"} {
		if gitIgnored(t, name, false) {
			t.Errorf(".gitignore ignores %s", name)
		}
	}
}
