package agent

import (
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"

	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/gossipod/gossipod/api"
)

// SystemReservedFlag is the flag that sets Config.SystemReserved.
const SystemReservedFlag = "--system-reserved"

// Reserved is what a node keeps for itself and not for pods: kubelet's
// --system-reserved and --kube-reserved in one, since gossipod's agent is
// both the node's kubelet and a member of its control plane (a Raft voter
// whose log must keep being written). Allocatable is capacity minus it, so
// placement never fills the node to the brim.
type Reserved struct {
	// MilliCPU and Memory are taken from the node's capacity when its
	// allocatable is computed.
	MilliCPU int64
	Memory   int64
	// Pids is kept out of the pods' reach: all pods together may have at
	// most the node's pid capacity (kernel.pid_max) minus Pids processes,
	// the pids.max of the cgroup every pod lives under, as kubelet's
	// pid=... does for kubepods.
	Pids int64
}

// reservedKeys are the resources --system-reserved takes, kubelet's names.
// (kubelet also takes ephemeral-storage; gossipod does not account for it
// in allocatable yet, and refuses it rather than ignore it.)
var reservedKeys = []string{"cpu", "memory", "pid"}

// ParseReserved parses kubelet's form of --system-reserved,
// "cpu=500m,memory=1Gi,pid=1000": Kubernetes quantities, each resource at
// most once, none negative. The empty string reserves nothing.
func ParseReserved(s string) (Reserved, error) {
	var r Reserved
	seen := map[string]bool{}
	if strings.TrimSpace(s) == "" {
		return r, nil
	}
	for _, pair := range strings.Split(s, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(pair), "=")
		k, v = strings.TrimSpace(k), strings.TrimSpace(v)
		if !ok || k == "" || v == "" {
			return Reserved{}, fmt.Errorf("%s %q: want resource=quantity pairs separated by commas, e.g. cpu=500m,memory=1Gi,pid=1000", SystemReservedFlag, s)
		}
		if !slices.Contains(reservedKeys, k) {
			return Reserved{}, fmt.Errorf("%s %q: cannot reserve %q, only %s", SystemReservedFlag, s, k, strings.Join(reservedKeys, ", "))
		}
		if seen[k] {
			return Reserved{}, fmt.Errorf("%s %q: %s given twice", SystemReservedFlag, s, k)
		}
		seen[k] = true
		q, err := resource.ParseQuantity(v)
		if err != nil {
			return Reserved{}, fmt.Errorf("%s %s=%s: %w", SystemReservedFlag, k, v, err)
		}
		if q.Sign() < 0 {
			return Reserved{}, fmt.Errorf("%s %s=%s: must not be negative", SystemReservedFlag, k, v)
		}
		switch k {
		case "cpu":
			r.MilliCPU = q.MilliValue()
		case "memory":
			r.Memory = q.Value()
		case "pid":
			if q.MilliValue()%1000 != 0 {
				return Reserved{}, fmt.Errorf("%s pid=%s: must be a whole number of processes", SystemReservedFlag, v)
			}
			r.Pids = q.Value()
		}
	}
	return r, nil
}

// String prints r the way ParseReserved reads it, resources not reserved
// left out.
func (r Reserved) String() string {
	var parts []string
	if r.MilliCPU != 0 {
		parts = append(parts, "cpu="+resource.NewMilliQuantity(r.MilliCPU, resource.DecimalSI).String())
	}
	if r.Memory != 0 {
		parts = append(parts, "memory="+resource.NewQuantity(r.Memory, resource.BinarySI).String())
	}
	if r.Pids != 0 {
		parts = append(parts, fmt.Sprintf("pid=%d", r.Pids))
	}
	return strings.Join(parts, ",")
}

// AllocatableFrom is kubelet's node allocatable: capacity minus what is
// reserved, per resource (pod slots are not reserved). It fails, naming
// the flag, when a reservation takes the whole of a resource: a node
// offering no CPU or no memory would only ever report pods as
// Insufficient, which is a misconfiguration better refused at start.
// (A capacity of its own that is not positive is left to Validate, which
// names --cpu or --memory.)
func AllocatableFrom(capacity api.Resources, r Reserved) (api.Resources, error) {
	alloc := capacity
	alloc.MilliCPU -= r.MilliCPU
	alloc.Memory -= r.Memory
	var errs []error
	if r.MilliCPU > 0 && alloc.MilliCPU <= 0 {
		errs = append(errs, fmt.Errorf("%s cpu=%s: leaves no CPU for pods (capacity %s)", SystemReservedFlag,
			resource.NewMilliQuantity(r.MilliCPU, resource.DecimalSI), resource.NewMilliQuantity(capacity.MilliCPU, resource.DecimalSI)))
	}
	if r.Memory > 0 && alloc.Memory <= 0 {
		errs = append(errs, fmt.Errorf("%s memory=%s: leaves no memory for pods (capacity %s)", SystemReservedFlag,
			resource.NewQuantity(r.Memory, resource.BinarySI), resource.NewQuantity(capacity.Memory, resource.BinarySI)))
	}
	if err := errors.Join(errs...); err != nil {
		return api.Resources{}, err
	}
	return alloc, nil
}

// PodsPidsLimit is how many processes all pods of a node may have
// together: the node's pid capacity (kernel.pid_max) minus the reserved
// pids, or 0 (no limit beyond the kernel's) when none are reserved. It
// fails when the reservation leaves pods nothing.
func PodsPidsLimit(pidMax int64, r Reserved) (int64, error) {
	if r.Pids == 0 {
		return 0, nil
	}
	if r.Pids >= pidMax {
		return 0, fmt.Errorf("%s pid=%d: leaves no processes for pods (the node has %d, the smaller of kernel.pid_max and kernel.threads-max)", SystemReservedFlag, r.Pids, pidMax)
	}
	return pidMax - r.Pids, nil
}

// raftDir is where the Raft log and snapshots live: RaftDir, or
// <DataDir>/raft.
func (c *Config) raftDir() string {
	if c.RaftDir != "" {
		return c.RaftDir
	}
	return filepath.Join(c.DataDir, "raft")
}

// validateRaftDir checks --raft-dir: absolute and clean, so that the disk
// an operator names is the one written to whatever the agent's working
// directory.
func validateRaftDir(dir string) error {
	switch {
	case dir == "":
		return nil
	case !filepath.IsAbs(dir):
		return fmt.Errorf("--raft-dir %q: must be an absolute path", dir)
	case filepath.Clean(dir) != dir:
		return fmt.Errorf("--raft-dir %q: must be a clean path (%q)", dir, filepath.Clean(dir))
	}
	return nil
}
