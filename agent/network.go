package agent

import (
	"fmt"
	"net/netip"
)

// validateClusterNetwork checks --cluster-cidr and --node-cidr-mask-size.
func validateClusterNetwork(cidr string, mask int, serviceCIDR string) error {
	prefix, err := netip.ParsePrefix(cidr)
	if err != nil || !prefix.Addr().Is4() || prefix.Masked() != prefix {
		return fmt.Errorf("--cluster-cidr %q: want an IPv4 network such as 10.88.0.0/16", cidr)
	}
	if mask <= prefix.Bits() || mask > 30 {
		return fmt.Errorf("--node-cidr-mask-size %d: must be longer than --cluster-cidr's /%d and at most 30", mask, prefix.Bits())
	}
	sp, err := netip.ParsePrefix(serviceCIDR)
	if err != nil || !sp.Addr().Is4() || sp.Masked() != sp || sp.Bits() < 12 || sp.Bits() > 28 {
		return fmt.Errorf("--service-cidr %q: want an IPv4 network from /12 to /28 such as 10.96.0.0/12", serviceCIDR)
	}
	if sp.Overlaps(prefix) {
		return fmt.Errorf("--service-cidr %s overlaps --cluster-cidr %s", serviceCIDR, cidr)
	}
	return nil
}
