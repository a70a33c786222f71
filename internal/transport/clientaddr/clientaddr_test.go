package clientaddr

import "testing"

func TestParseTrustedProxies(t *testing.T) {
	for _, bad := range []string{"proxy.local", "10.0.0.0/33", "10.0.0.0/8,,x"} {
		if _, err := ParseTrustedProxies(bad); err == nil {
			t.Errorf("ParseTrustedProxies(%q) took it", bad)
		}
	}
	p, err := ParseTrustedProxies(" 10.1.2.3/8 ,::1 ")
	if err != nil || len(p) != 2 || p[0].String() != "10.0.0.0/8" || p[1].String() != "::1/128" {
		t.Errorf("ParseTrustedProxies = %v, %v", p, err)
	}
}

func TestThrottleKey(t *testing.T) {
	for _, tc := range []struct{ client, want string }{
		{"203.0.113.7", "203.0.113.7"},
		{"2001:db8:1:2::1", "2001:db8:1:2::/64"},
		{"2001:db8:1:2:ffff:ffff:ffff:fffe", "2001:db8:1:2::/64"},
		{"2001:db8:1:3::1", "2001:db8:1:3::/64"},
		{"fe80::1%eth0", "fe80::/64"},
		{"::ffff:203.0.113.7", "203.0.113.7"},
		{"unknown", "unknown"},
		{"gateway", "gateway"},
	} {
		if got := ThrottleKey(tc.client); got != tc.want {
			t.Errorf("ThrottleKey(%q) = %q, want %q", tc.client, got, tc.want)
		}
	}
}
