package process

import "testing"

// A warning names the policy's fraction as the file gives it, whatever
// the float product f × 100 comes to (TestWarningSaysThePolicysFraction
// drives it through the API).
func TestPercentSaysTheFractionAsGiven(t *testing.T) {
	for _, c := range []struct {
		f    float64
		want string
	}{
		{0.5, "50"}, {0.75, "75"}, {0.9, "90"},
		{0.29, "29"}, {0.57, "57"}, {0.58, "58"}, // f × 100 falls just short of these
		{0.125, "12.5"}, {0.333, "33.3"}, {0.001, "0.1"}, {0.99, "99"},
		// a fraction the policy accepts (above 0) so small that 'g' put
		// it in exponent form: "1e-05% of the time used"
		{0.0000001, "0.00001"}, {0.000000123, "0.0000123"},
	} {
		if got := percent(c.f); got != c.want {
			t.Errorf("percent(%v) = %q, want %q", c.f, got, c.want)
		}
	}
}
