package agent

import (
	"net"
	"net/netip"
	"slices"
	"testing"

	"github.com/hashicorp/memberlist"
)

// TestAPIServerAddresses: the kubernetes Service's endpoints are the API
// addresses of the live members with valid metadata, not of dead or left
// ones, nor of a member whose metadata cannot be read.
func TestAPIServerAddresses(t *testing.T) {
	table := newMemberTable(nil)
	join := func(name, ip string, apiPort int, leaving bool) *memberlist.Node {
		t.Helper()
		meta, err := nodeMeta{APIPort: apiPort, RaftPort: 7947, Leaving: leaving}.encode()
		if err != nil {
			t.Fatal(err)
		}
		n := &memberlist.Node{Name: name, Addr: net.ParseIP(ip), Port: 7946, Meta: meta}
		table.NotifyJoin(n)
		return n
	}
	join("a", "192.168.1.10", 7948, false)
	join("b", "192.168.1.11", 8443, false)
	table.NotifyLeave(join("c", "192.168.1.12", 7948, false)) // dead
	table.NotifyLeave(join("d", "192.168.1.13", 7948, true))  // left
	table.NotifyJoin(&memberlist.Node{Name: "e", Addr: net.ParseIP("192.168.1.14"), Meta: []byte("not json")})

	want := []netip.AddrPort{netip.MustParseAddrPort("192.168.1.10:7948"), netip.MustParseAddrPort("192.168.1.11:8443")}
	if got := table.APIServerAddresses(); !slices.Equal(got, want) {
		t.Errorf("APIServerAddresses = %v, want %v", got, want)
	}
}
