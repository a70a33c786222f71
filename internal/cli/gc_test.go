package cli

import "testing"

func TestGCPercent(t *testing.T) {
	env := func(vars map[string]string) func(string) string {
		return func(k string) string { return vars[k] }
	}
	for _, tc := range []struct {
		args    []string
		vars    map[string]string
		percent int
		ok      bool
	}{
		{[]string{"check", "--db", "x.db"}, nil, checkGCPercent, true},
		{[]string{"check"}, map[string]string{"GOGC": "100"}, 0, false}, // the operator's choice stands
		{[]string{"check"}, map[string]string{"GOGC": "off"}, 0, false},
		{[]string{"serve"}, nil, 0, false}, // a server's heap grows with its clients: the runtime's default
		{nil, nil, 0, false},
	} {
		percent, ok := GCPercent(tc.args, env(tc.vars))
		if percent != tc.percent || ok != tc.ok {
			t.Errorf("GCPercent(%q, %v) = %d, %v; want %d, %v", tc.args, tc.vars, percent, ok, tc.percent, tc.ok)
		}
	}
}
