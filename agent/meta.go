package agent

import (
	"encoding/json"
	"fmt"

	"github.com/hashicorp/memberlist"
	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/gossipod/gossipod/api"
)

// nodeMeta is what every agent gossips about itself in its memberlist
// metadata. memberlist caps metadata at 512 bytes, so keys are short and
// resources are [allocatable, free] pairs of plain integers.
type nodeMeta struct {
	APIPort   int  `json:"a"`
	RaftPort  int  `json:"r"`
	InCluster bool `json:"c,omitempty"`
	// BootstrapExpect lets agents check they agree before bootstrapping.
	BootstrapExpect int `json:"be,omitempty"`
	// Leaving is set just before a clean shutdown, so that others can tell
	// "left" from "dead" (memberlist does not tell its delegates).
	Leaving bool `json:"lv,omitempty"`
	// CPU (millicores), Mem (bytes) and Pods are [allocatable, free].
	CPU  [2]int64 `json:"cpu"`
	Mem  [2]int64 `json:"mem"`
	Pods [2]int64 `json:"pods"`
	// Eph is local ephemeral storage (bytes), [allocatable, free]; zero
	// from an agent that does not report it.
	Eph [2]int64 `json:"eph,omitzero"`
	// CapCPU, CapMem and CapEph are the machine's capacity.
	CapCPU int64 `json:"ccpu"`
	CapMem int64 `json:"cmem"`
	CapEph int64 `json:"ceph,omitempty"`
	// Pressure is the node's pressure conditions (pressureMemory...) as
	// its eviction manager last found them.
	Pressure pressureBits      `json:"pr,omitempty"`
	OS       string            `json:"os"`
	Arch     string            `json:"arch"`
	Kernel   string            `json:"k,omitempty"`
	Image    string            `json:"img,omitempty"`
	Ver      string            `json:"v,omitempty"`
	Labels   map[string]string `json:"l,omitempty"`
}

// encode serialises the metadata and checks memberlist's size limit, so an
// agent with too many labels fails at start with a message that says so.
func (m nodeMeta) encode() ([]byte, error) {
	b, err := json.Marshal(m)
	if err != nil {
		return nil, fmt.Errorf("encode node metadata: %w", err)
	}
	if len(b) > memberlist.MetaMaxSize {
		return nil, fmt.Errorf("node metadata is %d bytes, more than gossip's limit of %d: use fewer or shorter --labels", len(b), memberlist.MetaMaxSize)
	}
	return b, nil
}

func decodeMeta(b []byte) (nodeMeta, error) {
	var m nodeMeta
	if len(b) == 0 {
		return m, fmt.Errorf("no node metadata (not a gossipod agent?)")
	}
	if err := json.Unmarshal(b, &m); err != nil {
		return m, fmt.Errorf("decode node metadata: %w", err)
	}
	return m, nil
}

func (m nodeMeta) allocatable() api.ResourceList {
	return resourceList(m.CPU[0], m.Mem[0], m.Pods[0], m.Eph[0])
}

func (m nodeMeta) free() api.ResourceList {
	return resourceList(m.CPU[1], m.Mem[1], m.Pods[1], m.Eph[1])
}

func (m nodeMeta) capacity() api.ResourceList {
	return resourceList(m.CapCPU, m.CapMem, m.Pods[0], m.CapEph)
}

// resourceList builds a ResourceList in the canonical forms kubectl prints:
// CPU as millicores ("1500m", or "2" when whole), memory and
// ephemeral-storage in binary units; ephemeral-storage only when the node
// reports it.
func resourceList(milliCPU, memory, pods, ephemeral int64) api.ResourceList {
	l := api.ResourceList{
		api.ResourceCPU:    *resource.NewMilliQuantity(milliCPU, resource.DecimalSI),
		api.ResourceMemory: *resource.NewQuantity(memory, resource.BinarySI),
		api.ResourcePods:   *resource.NewQuantity(pods, resource.DecimalSI),
	}
	if ephemeral > 0 {
		l[api.ResourceEphemeralStorage] = *resource.NewQuantity(ephemeral, resource.BinarySI)
	}
	return l
}
