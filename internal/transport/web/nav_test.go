package web

import (
	"os"
	"strings"
	"testing"

	"github.com/childcase/childcase/internal/domain/access"
)

// TestScreensNameRealMethods: a screen gated on a method the roles table
// has no row for would be shown to nobody, silently.
func TestScreensNameRealMethods(t *testing.T) {
	for _, s := range append(screens, pages...) {
		if _, ok := access.RuleFor(s.Method); !ok {
			t.Errorf("screen %s needs %q, which the roles table does not have", s.Path, s.Method)
		}
	}
}

// TestREADMEScreenTable: the README's table of screens is the one the
// navigation's rows and the roles table give.
func TestREADMEScreenTable(t *testing.T) {
	readme, err := os.ReadFile("../../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	want, err := ScreenTable()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(readme), want) {
		t.Errorf("README.md's table of the console's screens differs; replace it with:\n\n%s", want)
	}
}
