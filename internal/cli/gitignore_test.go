package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestGitIgnoresWhatTheREADMECreates: "The two commands" and the
// walk-through run in the checkout, and leave there the database, its
// reserve, the master key (and, after a rotation, the retired one beside
// it) and the demo tokens. Each holds data or a secret: git must not offer
// any of them to a "git add .".
func TestGitIgnoresWhatTheREADMECreates(t *testing.T) {
	content, err := os.ReadFile("../../.gitignore")
	if err != nil {
		t.Fatal(err)
	}
	var patterns []string
	for _, line := range strings.Split(string(content), "\n") {
		if line = strings.TrimSpace(line); line != "" && !strings.HasPrefix(line, "#") {
			patterns = append(patterns, line)
		}
	}
	// The files of the checkout's root, as serve, serve --demo-tokens and
	// keys rotate name them.
	for _, name := range []string{
		"childcase.db",
		"childcase.db.reserve",
		"childcase.key",
		"childcase.key.retired-0123456789abcdef",
		"demo-tokens.env",
	} {
		ignored := false
		for _, p := range patterns {
			// A pattern without a slash but at its start matches the
			// name at any depth, one with a leading slash at the root
			// only: both match a file of the root.
			if ok, err := filepath.Match(strings.TrimPrefix(p, "/"), name); err != nil {
				t.Fatalf(".gitignore: %q: %v", p, err)
			} else if ok {
				ignored = true
			}
		}
		if !ignored {
			t.Errorf(".gitignore does not ignore %s, which the README's commands leave in the checkout", name)
		}
	}
}
