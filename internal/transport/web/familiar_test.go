package web

import "testing"

// TestFamiliarSignInsAreBounded: the pairs remembered are bounded, the
// one signed in the longest ago forgotten first, so that sign-ins from
// ever new addresses cannot grow the table without end.
func TestFamiliarSignInsAreBounded(t *testing.T) {
	f := newFamiliarSignIns(2)
	f.add("10.0.0.1", "lan")
	f.add("10.0.0.2", "hoa")
	f.add("10.0.0.1", "lan") // signed in again: now the latest
	f.add("10.0.0.3", "minh")
	for _, tc := range []struct {
		client, user string
		want         bool
	}{
		{"10.0.0.1", "lan", true},
		{"10.0.0.2", "hoa", false},
		{"10.0.0.3", "minh", true},
		{"10.0.0.3", "lan", false},
	} {
		if got := f.has(tc.client, tc.user); got != tc.want {
			t.Errorf("has(%s, %s) = %v, want %v", tc.client, tc.user, got, tc.want)
		}
	}
	if len(f.seen) != 2 {
		t.Errorf("%d pairs remembered, want at most 2", len(f.seen))
	}
}
