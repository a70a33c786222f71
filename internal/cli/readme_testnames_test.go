package cli

import (
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// readmeTestName is a test the README cites by name, as `TestX`, or a
// family of them by prefix, as `TestX…` or -run 'TestX'.
var readmeTestName = regexp.MustCompile(`\bTest[A-Z][A-Za-z0-9_]*`)

// readmeGoFile is a Go file the README cites by its path in the module.
var readmeGoFile = regexp.MustCompile(`\b(?:internal|cmd)/[A-Za-z0-9_/.-]+\.go\b`)

// goTestFunc is a test function's declaration in a _test.go file.
var goTestFunc = regexp.MustCompile(`(?m)^func (Test[A-Za-z0-9_]*)\(`)

// TestREADMECitesTestsThatExist: the README holds each promise to a test
// it names, so that a reader can run it and see the promise kept. A test
// renamed or removed leaves the README pointing at nothing, and the
// promise unheld for all the reader can tell: every name the README
// cites must be a test function of the module (a name followed by … is a
// family: some test must start with it), and every Go file it cites must
// exist.
func TestREADMECitesTestsThatExist(t *testing.T) {
	md, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	defined := map[string]bool{}
	err = filepath.WalkDir("../..", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && path != "../.." && (strings.HasPrefix(d.Name(), ".") || d.Name() == "testdata") {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(path, "_test.go") {
			return nil
		}
		src, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		for _, m := range goTestFunc.FindAllSubmatch(src, -1) {
			defined[string(m[1])] = true
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(defined) < 100 {
		t.Fatalf("found only %d test functions in the module: is the walk looking in the right place?", len(defined))
	}
	text := string(md)
	cited := 0
	for _, loc := range readmeTestName.FindAllStringIndex(text, -1) {
		name := text[loc[0]:loc[1]]
		cited++
		if defined[name] {
			continue
		}
		if strings.HasPrefix(text[loc[1]:], "…") || strings.HasPrefix(text[loc[1]:], "'") {
			if hasPrefixed(defined, name) {
				continue
			}
		}
		t.Errorf("README.md:%d cites %s, which is no test of the module (renamed or removed?)",
			1+strings.Count(text[:loc[0]], "\n"), name)
	}
	if cited < 100 {
		t.Errorf("the README cites only %d test names: is the pattern still the README's way of citing them?", cited)
	}
	for _, loc := range readmeGoFile.FindAllStringIndex(text, -1) {
		path := text[loc[0]:loc[1]]
		if _, err := os.Stat(filepath.Join("../..", path)); err != nil {
			t.Errorf("README.md:%d cites %s, which is no file of the module: %v",
				1+strings.Count(text[:loc[0]], "\n"), path, err)
		}
	}
}

// hasPrefixed reports whether some name of set starts with prefix.
func hasPrefixed(set map[string]bool, prefix string) bool {
	for name := range set {
		if strings.HasPrefix(name, prefix) {
			return true
		}
	}
	return false
}
