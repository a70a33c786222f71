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
