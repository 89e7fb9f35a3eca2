package web

import (
	"net/http/httptest"
	"net/netip"
	"testing"
)

func TestClientAddr(t *testing.T) {
	proxies := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}
	cases := []struct {
		remote, xff, want string
	}{
		{"203.0.113.9:5000", "", "203.0.113.9"},
		{"203.0.113.9:5000", "1.2.3.4", "203.0.113.9"},              // not from a proxy: the header is the client's claim
		{"10.0.0.2:5000", "198.51.100.7", "198.51.100.7"},           // from the proxy
		{"10.0.0.2:5000", "6.6.6.6, 198.51.100.7", "198.51.100.7"},  // the client prepended a lie
		{"10.0.0.2:5000", "198.51.100.7, 10.0.0.3", "198.51.100.7"}, // two proxies
		{"10.0.0.2:5000", "garbage, 10.0.0.3", "10.0.0.3"},          // unparsable: the last trusted hop
		{"[::ffff:203.0.113.9]:5000", "", "203.0.113.9"},            // v4-mapped
		{"10.0.0.2:5000", "", "10.0.0.2"},
	}
	for _, c := range cases {
		r := httptest.NewRequest("GET", "/", nil)
		r.RemoteAddr = c.remote
		if c.xff != "" {
			r.Header.Set("X-Forwarded-For", c.xff)
		}
		if got := ClientAddr(r, proxies); got != c.want {
			t.Errorf("%s %q: %s, want %s", c.remote, c.xff, got, c.want)
		}
	}
}

func TestCheckLoopback(t *testing.T) {
	for addr, ok := range map[string]bool{
		"127.0.0.1:9100": true, "[::1]:9100": true, "localhost:9100": true, "127.0.0.2:1": true,
		":9100": false, "0.0.0.0:9100": false, "[::]:9100": false, "192.168.1.5:9100": false, "example.com:80": false, "nonsense": false,
	} {
		if err := CheckLoopback(addr); (err == nil) != ok {
			t.Errorf("%s: %v", addr, err)
		}
	}
}
