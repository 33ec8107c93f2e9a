package network

import (
	"errors"
	"log/slog"
	"strings"
	"testing"
)

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }

// TestSyncRoutesOwnsOnlyItsRoutes checks that SyncRoutes adds, replaces and removes
// exactly its own routes, leaves every other route alone (even one for a pod CIDR it
// was asked to route) and is idempotent, rules included.
func TestSyncRoutesOwnsOnlyItsRoutes(t *testing.T) {
	nw := newTestNet(t, 3)
	a := nw.startNode(0, "10.88.1.0/24")
	b, c := nw.hosts[1].ip, nw.hosts[2].ip
	if _, err := a.run("ip", "route", "add", "10.99.0.0/24", "via", b, "proto", "static"); err != nil {
		t.Fatal(err)
	}
	if _, err := a.run("ip", "route", "add", "10.88.7.0/24", "via", c, "proto", "static"); err != nil {
		t.Fatal(err)
	}
	routes := func() string {
		out, err := a.run("ip", "-4", "route", "show")
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	has := func(out, route string) bool {
		for _, l := range strings.Split(out, "\n") {
			if strings.TrimSpace(l) == route {
				return true
			}
		}
		return false
	}
	foreign := []string{"10.99.0.0/24 via " + b + " dev eth0 proto static", "10.88.7.0/24 via " + c + " dev eth0 proto static"}

	err := a.syncRoutes(Route{"10.88.1.0/24", "192.0.2.99"}, Route{"10.88.9.0/24", a.host.ip},
		Route{"10.88.2.0/24", b}, Route{"10.88.7.0/24", b})
	if err == nil || !strings.Contains(err.Error(), "10.88.7.0/24") {
		t.Fatalf("SyncRoutes over a foreign route: %v, want an error naming 10.88.7.0/24", err)
	}
	out := routes()
	for _, want := range append(foreign,
		"10.88.2.0/24 via "+b+" dev eth0 proto 103",
		"unreachable 10.88.0.0/16 proto 103 metric 65520") {
		if !has(out, want) {
			t.Errorf("missing route %q in\n%s", want, out)
		}
	}
	if strings.Contains(out, "192.0.2.99") || strings.Contains(out, "10.88.9.0") {
		t.Errorf("a route for this node itself was installed:\n%s", out)
	}

	// Move 10.88.2.0/24 to c, drop the rest.
	if err := a.syncRoutes(Route{"10.88.2.0/24", c}); err != nil {
		t.Fatal(err)
	}
	out = routes()
	if !has(out, "10.88.2.0/24 via "+c+" dev eth0 proto 103") || strings.Contains(out, "10.88.2.0/24 via "+b) {
		t.Errorf("10.88.2.0/24 not moved to %s:\n%s", c, out)
	}
	for _, want := range foreign {
		if !has(out, want) {
			t.Errorf("foreign route %q was touched:\n%s", want, out)
		}
	}

	// A bad entry changes nothing.
	if err := a.syncRoutes(Route{"10.88.3.0/24", "nonsense"}); !errors.Is(err, ErrInvalidRoute) {
		t.Fatalf("bad route: %v, want ErrInvalidRoute", err)
	}
	if again := routes(); again != out {
		t.Errorf("a rejected SyncRoutes changed the routes:\n%s\nto\n%s", out, again)
	}
	// An unreachable node is reported, the others still installed.
	err = a.syncRoutes(Route{"10.88.2.0/24", c}, Route{"10.88.4.0/24", "192.0.2.1"})
	if err == nil || !strings.Contains(err.Error(), "10.88.4.0/24") {
		t.Fatalf("unreachable node: %v", err)
	}

	// Idempotent: routes and rules stay as they are.
	if err := a.syncRoutes(Route{"10.88.2.0/24", c}); err != nil {
		t.Fatal(err)
	}
	r1, c1 := routes(), a.counts()
	if err := a.syncRoutes(Route{"10.88.2.0/24", c}); err != nil {
		t.Fatal(err)
	}
	installs := 0
	a.m.log = slog.New(slog.NewTextHandler(writerFunc(func(p []byte) (int, error) {
		installs += strings.Count(string(p), "route installed")
		return len(p), nil
	}), nil))
	if err := a.syncRoutes(Route{"10.88.2.0/24", c}); err != nil {
		t.Fatal(err)
	}
	if installs != 0 {
		t.Errorf("an unchanged SyncRoutes re-installed %d route(s)", installs)
	}
	if r2, c2 := routes(), a.counts(); r2 != r1 || c2 != c1 {
		t.Errorf("a second SyncRoutes changed routes or rules: %+v → %+v\n%s\n%s", c1, c2, r1, r2)
	}
	if fwd, err := a.run("cat", "/proc/sys/net/ipv4/ip_forward"); err != nil || strings.TrimSpace(fwd) != "1" {
		t.Errorf("ip_forward in the host = %q, %v", fwd, err)
	}

	// With no routes at all, only the fence remains of gossipod's.
	if err := a.syncRoutes(); err != nil {
		t.Fatal(err)
	}
	own, err := a.run("ip", "-4", "route", "show", "proto", "103")
	if err != nil || strings.TrimSpace(own) != "unreachable 10.88.0.0/16 metric 65520" {
		t.Errorf("gossipod's routes after SyncRoutes(nil): %q, %v", own, err)
	}
}
