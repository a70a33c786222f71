package web

import (
	"testing"

	"github.com/childcase/childcase/internal/domain/access"
)

// TestScreensNameRealMethods: a screen gated on a method the roles table
// has no row for would be shown to nobody, silently.
func TestScreensNameRealMethods(t *testing.T) {
	for _, s := range screens {
		if _, ok := access.RuleFor(s.Method); !ok {
			t.Errorf("screen %s needs %q, which the roles table does not have", s.Path, s.Method)
		}
	}
}
