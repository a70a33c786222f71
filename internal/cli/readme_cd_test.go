package cli

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestREADMEBlocksChangeIntoDirectoriesThatExist: a reader pastes a code
// block whole, in the checkout, and a cd stays in force for the lines
// after it. The quiet hour's block cd'ed into internal/app twice, the
// second time from internal/app itself, so its second benchmark never ran
// ("cd: internal/app: No such file or directory"). Each cd of a block to
// a directory of the checkout, taken from where the lines before it left
// the shell, reaches one that exists.
func TestREADMEBlocksChangeIntoDirectoriesThatExist(t *testing.T) {
	md, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	// A cd at the start of a line, as the blocks write it; one in a
	// subshell, "(cd dir && ...)", leaves the shell where it was.
	cd := regexp.MustCompile(`^\s*cd\s+(\S+)`)
	checked := 0
	for _, b := range readmeBlocks(t, string(md)) {
		if b.lang != "sh" && b.lang != "console" {
			continue
		}
		dir := root
		for _, line := range strings.Split(withoutComments(shellCommands(b.text)), "\n") {
			m := cd.FindStringSubmatch(line)
			if m == nil {
				continue
			}
			target := m[1]
			if strings.ContainsAny(target, "$~`\"'") || target == "-" || filepath.IsAbs(target) {
				break // where it leads is the reader's: not followed further
			}
			dir = filepath.Join(dir, target)
			checked++
			if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
				rel, _ := filepath.Rel(root, dir)
				t.Errorf("README.md:%d: a block's cd %s leads to %s, which the checkout does not have", b.line, target, rel)
				break
			}
		}
	}
	if checked == 0 {
		t.Error("found no cd in README.md's blocks: has their form changed?")
	}
}
