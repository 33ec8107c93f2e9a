package eviction

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/gossipod/gossipod/api"
)

// Signal names a resource the eviction manager watches, in kubelet's words.
type Signal string

// The signals gossipod observes. memory.available is the node's available
// memory; nodefs is the file system of the agent's data dir (pods'
// writable layers, logs, emptyDirs, and the Raft log unless --raft-dir
// moves it); imagefs the file system of the image store.
const (
	SignalMemoryAvailable   Signal = "memory.available"
	SignalNodeFsAvailable   Signal = "nodefs.available"
	SignalNodeFsInodesFree  Signal = "nodefs.inodesFree"
	SignalImageFsAvailable  Signal = "imagefs.available"
	SignalImageFsInodesFree Signal = "imagefs.inodesFree"
	// SignalPIDAvailable is the node's pid capacity (the smaller of
	// kernel.pid_max and kernel.threads-max) less its tasks, observed by
	// the runtime (runtime.ReadPIDStats); a threshold for it raises
	// PIDPressure. kubelet's defaults have none, and neither do ours.
	SignalPIDAvailable Signal = "pid.available"
)

// signals lists the valid signals, sorted, for the error message.
var signals = []Signal{SignalImageFsAvailable, SignalImageFsInodesFree, SignalMemoryAvailable,
	SignalNodeFsAvailable, SignalNodeFsInodesFree, SignalPIDAvailable}

// DefaultEvictionHard is kubelet's default --eviction-hard on Linux.
const DefaultEvictionHard = "imagefs.available<15%,imagefs.inodesFree<5%,memory.available<100Mi,nodefs.available<10%,nodefs.inodesFree<5%"

// DefaultPressureTransitionPeriod is kubelet's
// --eviction-pressure-transition-period: how long a pressure condition
// stays True after its threshold was last met, so that a node at the edge
// does not flap between pressure and none (and pods between placed and
// refused).
const DefaultPressureTransitionPeriod = 5 * time.Minute

// Threshold is one hard eviction threshold: the signal is met when the
// available amount is below Quantity (bytes, or inodes), or below
// Percentage of the capacity when Percentage is set.
type Threshold struct {
	Signal     Signal
	Quantity   int64
	Percentage float64
	// Text is the threshold as written ("10%", "100Mi"), for messages.
	Text string
}

// String writes the threshold as kubelet's flag does.
func (t Threshold) String() string { return string(t.Signal) + "<" + t.Text }

// ParseEvictionHard parses --eviction-hard in kubelet's syntax: a
// comma-separated list of signal<value, the value a quantity or a
// percentage of the capacity. As in kubelet, a threshold of 0% or 100% is
// dropped (disabled), and the list replaces the defaults entirely: signals
// not named have no threshold. The errors are kubelet's.
func ParseEvictionHard(s string) ([]Threshold, error) {
	var out []Threshold
	seen := map[Signal]bool{}
	for stmt := range strings.SplitSeq(s, ",") {
		stmt = strings.TrimSpace(stmt)
		if stmt == "" {
			continue
		}
		name, val, ok := strings.Cut(stmt, "<")
		if !ok {
			return nil, fmt.Errorf("malformed pair, expect string<string: %q", stmt)
		}
		sig := Signal(strings.TrimSpace(name))
		if !slices.Contains(signals, sig) {
			return nil, fmt.Errorf("unsupported eviction signal %v (supported: %v)", sig, signals)
		}
		if seen[sig] {
			return nil, fmt.Errorf("found duplicate eviction threshold for signal %v", sig)
		}
		seen[sig] = true
		t, err := parseThresholdStatement(sig, strings.TrimSpace(val))
		if err != nil {
			return nil, err
		}
		if t != nil {
			out = append(out, *t)
		}
	}
	slices.SortFunc(out, func(a, b Threshold) int { return strings.Compare(string(a.Signal), string(b.Signal)) })
	return out, nil
}

// parseThresholdStatement is kubelet's: nil for a disabled threshold.
func parseThresholdStatement(sig Signal, val string) (*Threshold, error) {
	if strings.HasSuffix(val, "%") {
		if val == "0%" || val == "100%" {
			return nil, nil
		}
		pct, err := strconv.ParseFloat(strings.TrimSuffix(val, "%"), 32)
		if err != nil {
			return nil, fmt.Errorf("eviction threshold %v: %w", sig, err)
		}
		if pct < 0 {
			return nil, fmt.Errorf("eviction percentage threshold %v must be >= 0%%: %s", sig, val)
		}
		if pct > 100 {
			return nil, fmt.Errorf("eviction percentage threshold %v must be <= 100%%: %s", sig, val)
		}
		return &Threshold{Signal: sig, Percentage: pct / 100, Text: val}, nil
	}
	q, err := resource.ParseQuantity(val)
	if err != nil {
		return nil, fmt.Errorf("eviction threshold %v: %w", sig, err)
	}
	if q.Sign() <= 0 {
		return nil, fmt.Errorf("eviction threshold %v must be positive: %s", sig, &q)
	}
	return &Threshold{Signal: sig, Quantity: q.Value(), Text: val}, nil
}

// AllocatableEphemeralStorage is the ephemeral storage a node offers to
// pods: its capacity less the nodefs.available hard threshold, as kubelet
// subtracts hard eviction thresholds from allocatable (pods requesting all
// of it would put the node under disk pressure at once).
func AllocatableEphemeralStorage(capacity int64, thresholds []Threshold) int64 {
	for _, t := range thresholds {
		if t.Signal != SignalNodeFsAvailable {
			continue
		}
		reserve := t.Quantity
		if t.Percentage > 0 {
			reserve = int64(t.Percentage * float64(capacity))
		}
		return max(capacity-reserve, 0)
	}
	return capacity
}

// Observation is what was measured for one signal: the amount available
// and the capacity (bytes, or inodes for the inodesFree signals).
type Observation struct {
	Available int64
	Capacity  int64
}

// Observations maps signals to their latest measurement; a signal not
// observed (no such file system, an error) meets no threshold.
type Observations map[Signal]Observation

// ThresholdsMet returns the thresholds whose signal is below its value.
func ThresholdsMet(thresholds []Threshold, obs Observations) []Threshold {
	var met []Threshold
	for _, t := range thresholds {
		o, ok := obs[t.Signal]
		if !ok {
			continue
		}
		min := t.Quantity
		if t.Percentage > 0 {
			min = int64(t.Percentage * float64(o.Capacity))
		}
		if o.Available < min {
			met = append(met, t)
		}
	}
	return met
}

// conditionOf maps a signal to the node condition it raises, as kubelet's
// signalToNodeCondition.
func conditionOf(s Signal) api.NodeConditionType {
	switch s {
	case SignalMemoryAvailable:
		return api.NodeMemoryPressure
	case SignalPIDAvailable:
		return api.NodePIDPressure
	}
	return api.NodeDiskPressure
}

// resourceOf maps a signal to the resource it starves, for the eviction
// message "The node was low on resource: ephemeral-storage."
func resourceOf(s Signal) string {
	switch s {
	case SignalMemoryAvailable:
		return "memory"
	case SignalNodeFsInodesFree, SignalImageFsInodesFree:
		return "inodes"
	case SignalPIDAvailable:
		return "pids"
	}
	return string(api.ResourceEphemeralStorage)
}

// Pressure remembers when each pressure condition was last observed, and
// reports a condition until the transition period has passed since, as
// kubelet's nodeConditionsLastObservedAt. Not safe for concurrent use.
type Pressure struct {
	// TransitionPeriod is how long a condition outlives its last
	// observation.
	TransitionPeriod time.Duration
	lastObserved     map[api.NodeConditionType]time.Time
}

// Update records the thresholds met now and returns the conditions that
// hold: those met now or within the transition period, sorted.
func (p *Pressure) Update(met []Threshold, now time.Time) []api.NodeConditionType {
	if p.lastObserved == nil {
		p.lastObserved = map[api.NodeConditionType]time.Time{}
	}
	for _, t := range met {
		p.lastObserved[conditionOf(t.Signal)] = now
	}
	var out []api.NodeConditionType
	for c, at := range p.lastObserved {
		if now.Sub(at) < p.TransitionPeriod || at.Equal(now) {
			out = append(out, c)
		} else {
			delete(p.lastObserved, c)
		}
	}
	slices.Sort(out)
	return out
}
