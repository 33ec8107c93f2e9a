package agent

import (
	"context"
	"maps"
	"slices"

	"github.com/gossipod/gossipod/api"
	"github.com/gossipod/gossipod/apiserver"
	"github.com/gossipod/gossipod/consensus"
)

// reconcileNodes registers a Node object for every gossip member and keeps
// its registration (labels, addresses, resources, system info) and its
// conditions (Ready, and the MemoryPressure, DiskPressure and PIDPressure
// its eviction manager finds) in step with what the member gossips. The leader is the single
// writer of these fields, as Consul's leader is of its catalog; writes
// happen only on change, so a quiet cluster adds nothing to the log.
func (a *Agent) reconcileNodes(ctx context.Context) {
	var conditions []consensus.NodeConditionUpdate
	for _, m := range a.members.List() {
		if !m.MetaOK {
			continue
		}
		want := registrationFor(m, a.cfg.Version)
		have, exists := a.store.State().Node(m.Name)
		if !exists || !sameRegistration(have, &want) {
			if !exists {
				want.UID = apiserver.NewUID()
			}
			cmd, err := consensus.NewCommand(consensus.CmdRegisterNode, consensus.RegisterNode{Node: want})
			if err == nil {
				_, err = a.store.Apply(ctx, cmd)
			}
			if err != nil {
				a.log.Warn("register node", "node", m.Name, "error", err)
				return
			}
			a.log.Info("registered node", "node", m.Name, "new", !exists)
		}
		ready := readyCondition(m.Status)
		var current *api.NodeCondition
		if exists {
			current = api.GetNodeCondition(have, api.NodeReady)
		}
		if current == nil || current.Status != ready.Status || current.Reason != ready.Reason {
			conditions = append(conditions, consensus.NodeConditionUpdate{Node: m.Name, Condition: ready})
		}
		for _, c := range memberPressureConditions(m) {
			var current *api.NodeCondition
			if exists {
				current = api.GetNodeCondition(have, c.Type)
			}
			if current == nil || current.Status != c.Status || current.Reason != c.Reason {
				conditions = append(conditions, consensus.NodeConditionUpdate{Node: m.Name, Condition: c})
			}
		}
	}
	if len(conditions) == 0 {
		return
	}
	cmd, err := consensus.NewCommand(consensus.CmdSetNodeConditions, consensus.SetNodeConditions{Updates: conditions})
	if err == nil {
		_, err = a.store.Apply(ctx, cmd)
	}
	if err != nil {
		a.log.Warn("update node conditions", "error", err)
		return
	}
	for _, u := range conditions {
		a.log.Info("node condition changed", "node", u.Node, "type", u.Condition.Type, "status", u.Condition.Status, "reason", u.Condition.Reason)
	}
}

// registrationFor is the Node a member's gossip describes.
func registrationFor(m member, version string) api.Node {
	labels := maps.Clone(m.Meta.Labels)
	if labels == nil {
		labels = map[string]string{}
	}
	labels[api.LabelHostname] = m.Name
	labels[api.LabelOS] = m.Meta.OS
	labels[api.LabelArch] = m.Meta.Arch
	kubelet := m.Meta.Ver
	if kubelet == "" {
		kubelet = version
	}
	return api.Node{
		TypeMeta:   api.TypeMeta{Kind: "Node", APIVersion: "v1"},
		ObjectMeta: api.ObjectMeta{Name: m.Name, Labels: labels},
		Status: api.NodeStatus{
			Capacity:    m.Meta.capacity(),
			Allocatable: m.Meta.allocatable(),
			Addresses: []api.NodeAddress{
				{Type: api.NodeInternalIP, Address: m.Addr.String()},
				{Type: api.NodeHostName, Address: m.Name},
			},
			NodeInfo: api.NodeSystemInfo{
				OperatingSystem: m.Meta.OS,
				Architecture:    m.Meta.Arch,
				KernelVersion:   m.Meta.Kernel,
				OSImage:         m.Meta.Image,
				KubeletVersion:  kubelet,
			},
		},
	}
}

// sameRegistration compares the fields RegisterNode sets.
func sameRegistration(a, b *api.Node) bool {
	return maps.Equal(a.Labels, b.Labels) &&
		sameResources(a.Status.Capacity, b.Status.Capacity) &&
		sameResources(a.Status.Allocatable, b.Status.Allocatable) &&
		slices.Equal(a.Status.Addresses, b.Status.Addresses) &&
		a.Status.NodeInfo == b.Status.NodeInfo
}

func sameResources(a, b api.ResourceList) bool {
	if len(a) != len(b) {
		return false
	}
	for k, qa := range a {
		qb, ok := b[k]
		if !ok || qa.Cmp(qb) != 0 {
			return false
		}
	}
	return true
}

// readyCondition maps a gossip state to the node's Ready condition, in the
// words the Kubernetes node lifecycle controller uses where they apply.
func readyCondition(s api.MemberStatus) api.NodeCondition {
	switch s {
	case api.MemberAlive, api.MemberSuspect:
		return api.NodeCondition{Type: api.NodeReady, Status: api.ConditionTrue,
			Reason: "KubeletReady", Message: "gossipod agent is alive in gossip"}
	case api.MemberLeft:
		return api.NodeCondition{Type: api.NodeReady, Status: api.ConditionFalse,
			Reason: "AgentShutdown", Message: "gossipod agent left the cluster in a clean shutdown"}
	default:
		return api.NodeCondition{Type: api.NodeReady, Status: api.ConditionUnknown,
			Reason: "NodeStatusUnknown", Message: "Kubelet stopped posting node status: gossip declared the agent dead."}
	}
}
