package network

import (
	"os"
	"path/filepath"
	"testing"
)

// TestNoLeaks runs 50 pods through Setup and Teardown in the ways a node sees them go:
// a normal delete, a delete after the pause process (and so the namespace) is gone,
// and a Teardown by id alone after an agent restart. Leases, veths, iptables rules,
// CNI cache entries and sandbox records must end where they started.
func TestNoLeaks(t *testing.T) {
	nw := newTestNet(t, 2)
	a := nw.startNode(0, "10.88.1.0/24")
	if err := a.syncRoutes(Route{"10.88.2.0/24", nw.hosts[1].ip}); err != nil {
		t.Fatal(err)
	}
	// Warm up: the first pod creates the bridge and portmap's shared chains, which
	// stay (like any CNI runtime's) for the next pods.
	warm := nw.newPod(PortMapping{HostPort: 18080, ContainerPort: 80})
	a.mustSetup(warm)
	a.mustTeardown(warm)
	before := a.counts()
	t.Logf("baseline: %+v", before)

	const cycles = 50
	for i := range cycles {
		proto := []string{"tcp", "udp"}[i%2]
		pod := nw.newPod(PortMapping{HostPort: 18080, ContainerPort: 80, Protocol: proto},
			PortMapping{HostPort: 18443, ContainerPort: 443})
		a.mustSetup(pod)
		switch i % 5 {
		case 1, 3: // the namespace went first
			if err := deleteNetNS(pod.NetNSPath); err != nil {
				t.Fatal(err)
			}
			a.mustTeardown(pod)
		case 4: // agent restart; the runtime knows only the id from Sandboxes
			a.restart("10.88.1.0/24")
			ids, err := a.m.Sandboxes()
			if err != nil || len(ids) != 1 || ids[0] != pod.ID {
				t.Fatalf("cycle %d: Sandboxes = %v, %v", i, ids, err)
			}
			a.mustTeardown(PodNetwork{ID: pod.ID})
			if err := deleteNetNS(pod.NetNSPath); err != nil {
				t.Fatal(err)
			}
		default:
			a.mustTeardown(pod)
			if err := deleteNetNS(pod.NetNSPath); err != nil {
				t.Fatal(err)
			}
		}
		if i == cycles/2 {
			if mid := a.counts(); mid != before {
				t.Fatalf("after %d cycles: %+v, want %+v", i+1, mid, before)
			}
		}
	}
	if after := a.counts(); after != before {
		out, _ := a.run("iptables-save")
		t.Fatalf("after %d cycles: %+v, want %+v\n%s", cycles, after, before, out)
	}
	if ids, err := a.m.Sandboxes(); err != nil || len(ids) != 0 {
		t.Fatalf("Sandboxes = %v, %v; want none", ids, err)
	}
}

// TestTeardownWithLostState checks the last line of defence: with the sandbox record
// and the CNI cache gone, the address lease alone still lists the id in Sandboxes, and
// Teardown by id releases it.
func TestTeardownWithLostState(t *testing.T) {
	nw := newTestNet(t, 1)
	a := nw.startNode(0, "10.88.1.0/24")
	pod := nw.newPod()
	a.mustSetup(pod)
	for _, dir := range []string{"sandboxes", "cache"} {
		if err := os.RemoveAll(filepath.Join(a.cfg.Root, dir)); err != nil {
			t.Fatal(err)
		}
	}
	os.MkdirAll(filepath.Join(a.cfg.Root, "sandboxes"), 0o700)
	ids, err := a.m.Sandboxes()
	if err != nil || len(ids) != 1 || ids[0] != pod.ID {
		t.Fatalf("Sandboxes = %v, %v; want the leased %s", ids, err, pod.ID)
	}
	a.mustTeardown(PodNetwork{ID: pod.ID, NetNSPath: pod.NetNSPath})
	if c := a.counts(); c.Leases != 0 || c.Veths != 1 { // eth0 of the host only
		t.Fatalf("after Teardown: %+v", c)
	}
}
