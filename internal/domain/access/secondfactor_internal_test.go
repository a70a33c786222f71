package access

import "testing"

// TestSecondFactorMethodsAreInTheTable: NeedsSecondFactor skips a method
// the table does not know, so a method renamed in the API would quietly
// stop requiring the factor of the roles that call it.
func TestSecondFactorMethodsAreInTheTable(t *testing.T) {
	for _, m := range secondFactorMethods {
		if _, ok := RuleFor(m); !ok {
			t.Errorf("secondFactorMethods names %s, which the roles table has no rule for", m)
		}
	}
}
