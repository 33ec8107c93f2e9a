package network

import (
	"encoding/json"
	"errors"
	"net/netip"
	"testing"

	"github.com/containernetworking/cni/libcni"
)

// These tests need neither root nor the plugins.

func TestPodConfList(t *testing.T) {
	cfg := DefaultConfig()
	cfg.MTU = 1400
	b, err := podConfList(cfg, netip.MustParsePrefix("10.88.3.0/24"), "/state/ipam", true)
	if err != nil {
		t.Fatal(err)
	}
	list, err := libcni.ConfListFromBytes(b)
	if err != nil {
		t.Fatal(err)
	}
	if list.Name != NetworkName || len(list.Plugins) != 2 ||
		list.Plugins[0].Network.Type != "bridge" || list.Plugins[1].Network.Type != "portmap" {
		t.Fatalf("conflist %s", b)
	}
	var br struct {
		Bridge    string `json:"bridge"`
		IsGateway bool   `json:"isGateway"`
		IPMasq    bool   `json:"ipMasq"`
		MTU       int    `json:"mtu"`
		IPAM      struct {
			Type    string                `json:"type"`
			DataDir string                `json:"dataDir"`
			Ranges  [][]map[string]string `json:"ranges"`
		} `json:"ipam"`
	}
	if err := json.Unmarshal(list.Plugins[0].Bytes, &br); err != nil {
		t.Fatal(err)
	}
	r := br.IPAM.Ranges[0][0]
	if br.Bridge != "gossipod0" || !br.IsGateway || br.IPMasq || br.MTU != 1400 || br.IPAM.Type != "host-local" ||
		br.IPAM.DataDir != "/state/ipam" || r["subnet"] != "10.88.3.0/24" || r["gateway"] != "10.88.3.1" {
		t.Fatalf("bridge plugin config %s", list.Plugins[0].Bytes)
	}
	b, err = podConfList(cfg, netip.MustParsePrefix("10.88.3.0/24"), "/state/ipam", false)
	if err != nil {
		t.Fatal(err)
	}
	if list, err := libcni.ConfListFromBytes(b); err != nil || len(list.Plugins) != 1 {
		t.Fatalf("conflist without hostPorts: %v\n%s", err, b)
	}
}

func TestValidatePod(t *testing.T) {
	ports, err := validatePod(PodNetwork{ID: "0b7e-uid", HostPorts: []PortMapping{
		{HostPort: 80, ContainerPort: 8080}, {HostPort: 80, ContainerPort: 53, Protocol: "UDP"},
	}})
	if err != nil {
		t.Fatal(err)
	}
	if ports[0].Protocol != "tcp" || ports[1].Protocol != "udp" {
		t.Fatalf("protocols not normalized: %+v", ports)
	}
	for name, pod := range map[string]PodNetwork{
		"empty id":       {},
		"slash in id":    {ID: "a/b"},
		"dot id":         {ID: ".."},
		"bad protocol":   {ID: "a", HostPorts: []PortMapping{{HostPort: 1, ContainerPort: 1, Protocol: "sctp"}}},
		"host port 0":    {ID: "a", HostPorts: []PortMapping{{HostPort: 0, ContainerPort: 1}}},
		"port too large": {ID: "a", HostPorts: []PortMapping{{HostPort: 1, ContainerPort: 70000}}},
		"duplicate":      {ID: "a", HostPorts: []PortMapping{{HostPort: 5, ContainerPort: 1}, {HostPort: 5, ContainerPort: 2, Protocol: "tcp"}}},
	} {
		if _, err := validatePod(pod); !errors.Is(err, ErrInvalidPod) {
			t.Errorf("%s: %v, want ErrInvalidPod", name, err)
		}
	}
}

func TestDesiredRoutes(t *testing.T) {
	m := &Manager{cluster: netip.MustParsePrefix("10.88.0.0/16")}
	own := netip.MustParsePrefix("10.88.1.0/24")
	local := map[netip.Addr]bool{netip.MustParseAddr("192.168.1.1"): true}
	rs, err := m.desiredRoutes([]Route{
		{PodCIDR: "10.88.1.0/24", NodeIP: "192.168.1.9"}, // our own pod CIDR: skipped
		{PodCIDR: "10.88.5.0/24", NodeIP: "192.168.1.1"}, // our own address: skipped
		{PodCIDR: "10.88.2.0/24", NodeIP: "192.168.1.2"},
	}, own, local)
	if err != nil {
		t.Fatal(err)
	}
	if len(rs) != 2 || rs[0].Dst.String() != "10.88.2.0/24" || rs[0].Gw.String() != "192.168.1.2" ||
		rs[0].Protocol != RouteProtocol || rs[1].Dst.String() != "10.88.0.0/16" || rs[1].Priority != fenceMetric {
		t.Fatalf("routes %v", rs)
	}
	for name, r := range map[string]Route{
		"outside cluster": {PodCIDR: "10.99.0.0/24", NodeIP: "192.168.1.2"},
		"host bits":       {PodCIDR: "10.88.2.1/24", NodeIP: "192.168.1.2"},
		"bad node IP":     {PodCIDR: "10.88.2.0/24", NodeIP: "node-b"},
		"IPv6 node":       {PodCIDR: "10.88.2.0/24", NodeIP: "fd00::1"},
		"node in cluster": {PodCIDR: "10.88.2.0/24", NodeIP: "10.88.9.9"},
	} {
		if _, err := m.desiredRoutes([]Route{r}, own, local); !errors.Is(err, ErrInvalidRoute) {
			t.Errorf("%s: %v, want ErrInvalidRoute", name, err)
		}
	}
	dup := []Route{{PodCIDR: "10.88.2.0/24", NodeIP: "192.168.1.2"}, {PodCIDR: "10.88.2.0/24", NodeIP: "192.168.1.3"}}
	if _, err := m.desiredRoutes(dup, own, local); !errors.Is(err, ErrInvalidRoute) {
		t.Errorf("duplicate PodCIDR: %v, want ErrInvalidRoute", err)
	}
}
