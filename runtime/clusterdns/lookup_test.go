package clusterdns

import (
	"net/netip"
	"testing"
)

func TestDashed(t *testing.T) {
	for in, want := range map[string]string{
		"10.1.0.5":    "10-1-0-5",
		"fd00::1":     "fd00--1",
		"fd00::":      "fd00--0", // a label cannot end with '-'
		"2001:db8::2": "2001-db8--2",
	} {
		if got := dashed(netip.MustParseAddr(in)); got != want {
			t.Errorf("dashed(%s) = %s, want %s", in, got, want)
		}
	}
}

func TestReverseAddr(t *testing.T) {
	for _, tt := range []struct {
		name string
		want string // "" when not an address
	}{
		{"5.0.1.10.in-addr.arpa.", "10.1.0.5"},
		{"0.1.10.in-addr.arpa.", ""},
		{"05.0.1.10.in-addr.arpa.", ""},
		{"256.0.1.10.in-addr.arpa.", ""},
		{"1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.d.f.ip6.arpa.", "fd00::1"},
		{"1.0.0.0.ip6.arpa.", ""},
		{"example.com.", ""},
	} {
		a, ok := reverseAddr(tt.name)
		got := ""
		if ok {
			got = a.String()
		}
		if got != tt.want {
			t.Errorf("reverseAddr(%s) = %q, want %q", tt.name, got, tt.want)
		}
	}
}

func TestParse(t *testing.T) {
	for _, tt := range []struct {
		base string
		want request
		ok   bool
	}{
		{"", request{}, true},
		{"svc", request{}, true},
		{"ns.svc", request{namespace: "ns", podOrSvc: "svc"}, true},
		{"web.ns.svc", request{service: "web", namespace: "ns", podOrSvc: "svc"}, true},
		{"web-0.web.ns.svc", request{endpoint: "web-0", service: "web", namespace: "ns", podOrSvc: "svc"}, true},
		{"_http._tcp.web.ns.svc", request{port: "http", protocol: "tcp", service: "web", namespace: "ns", podOrSvc: "svc"}, true},
		{"a.b.web.ns.svc.x", request{}, false},
		{"a.b.c.web.ns.svc", request{}, false},
		{"web.ns.other", request{}, false},
	} {
		got, ok := parse(tt.base)
		if ok != tt.ok || (ok && got != tt.want) {
			t.Errorf("parse(%q) = %+v, %v; want %+v, %v", tt.base, got, ok, tt.want, tt.ok)
		}
	}
}
