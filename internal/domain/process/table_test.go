package process_test

import (
	"os"
	"strings"
	"testing"

	"github.com/childcase/childcase/internal/domain/access"
	"github.com/childcase/childcase/internal/domain/process"
)

// The README's process table is the code's: its "who" column comes from
// access's table, so a changed rule shows in the README or this test fails
// with the table to paste.
func TestREADMEProcessTable(t *testing.T) {
	readme, err := os.ReadFile("../../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	want, err := process.RenderProcessTable()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(readme), want) {
		t.Errorf("README.md's table under \"The case process\" differs from process's table; replace it with:\n\n%s", want)
	}
}

// Every method of access's table that takes a process step is in a row of
// the process table, so a new step cannot be left out of the README.
func TestProcessTableCoversEveryStep(t *testing.T) {
	shown := map[string]bool{}
	for _, row := range process.ProcessTable() {
		for _, m := range row.Methods {
			shown[m.Method] = true
		}
	}
	steps := 0
	for _, rule := range access.Rules() {
		if rule.Step == "" {
			continue
		}
		steps++
		if !shown[rule.Method] {
			t.Errorf("%s takes the step %s but is in no row of the process table", rule.Method, rule.Step)
		}
	}
	if steps == 0 {
		t.Fatal("access's table has no step methods")
	}
}
