package app

import (
	"net"
	"testing"
)

func TestConsoleURL(t *testing.T) {
	for _, c := range []struct {
		configured, listening string
		tls                   bool
		want                  string
	}{
		{"localhost:8111", "127.0.0.1:8111", false, "http://localhost:8111/"},
		{":8111", "[::]:8111", false, "http://localhost:8111/"},
		{"0.0.0.0:8111", "0.0.0.0:8111", true, "https://localhost:8111/"},
		{"127.0.0.1:0", "127.0.0.1:40123", false, "http://127.0.0.1:40123/"},
		{"childcase.example:443", "10.0.0.5:443", true, "https://childcase.example:443/"},
	} {
		addr, err := net.ResolveTCPAddr("tcp", c.listening)
		if err != nil {
			t.Fatal(err)
		}
		if got := consoleURL(c.configured, addr, c.tls); got != c.want {
			t.Errorf("consoleURL(%q, %s, %v) = %q, want %q", c.configured, c.listening, c.tls, got, c.want)
		}
	}
}
