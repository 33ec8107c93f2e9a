package consensus

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/raft"
	"k8s.io/apimachinery/pkg/types"

	"github.com/gossipod/gossipod/api"
)

// fuzzMaxEntries bounds the entries of one fuzz input, so that one input
// stays fast; the fuzzer explores sequences by mutating their lines.
const fuzzMaxEntries = 32

// fuzzBase is the state every fuzz input starts from, as entries 1 to 7:
// two nodes, the cluster network, the default namespace, a pod bound to node-1 with a hostPort,
// an unbound pod and a Deployment.
func fuzzBase(tb testing.TB) []Command {
	d := gateDeployment("web", "ud")
	bound := testPod("bound", "ub", 8080, "1Gi")
	return []Command{
		registerCmd(tb, testNode("node-1", "uid-n1", "10.0.0.1", "4", "3Gi"), t0),
		registerCmd(tb, testNode("node-2", "uid-n2", "10.0.0.2", "4", "2560Mi"), t0),
		command(tb, CmdSetClusterNetwork, SetClusterNetwork{Network: ClusterNetwork{ClusterCIDR: "10.244.0.0/16", NodeCIDRMaskSize: 24, ServiceCIDR: "10.96.0.0/12"}}, t0),
		command(tb, CmdEnsureNamespaces, EnsureNamespaces{Namespaces: []api.Namespace{{ObjectMeta: api.ObjectMeta{Name: "default", UID: "uns"}}}}, t0),
		command(tb, CmdCreatePod, CreatePod{Pod: bound}, t0),
		command(tb, CmdBindPods, BindPods{Bindings: []PodBinding{{Namespace: "default", Name: "bound", UID: "ub", Node: "node-1"}}}, t0),
		command(tb, CmdCreateDeployment, CreateDeployment{Deployment: d}, t0),
	}
}

// fuzzSeeds are entry sequences as the leader writes them, one JSON entry
// a line, from the commands' own tests' scenarios.
func fuzzSeeds(tb testing.TB) [][]Command {
	at := func(s int) time.Time { return t0.Add(time.Duration(s) * time.Second) }
	zero := int64(0)
	free := testPod("free", "uf", 0, "2Gi")
	big := testPod("big", "ug", 0, "2Gi")
	clash := testPod("clash", "uc", 8080, "10Mi")
	pinned := testPod("pinned", "upin", 0, "100Mi")
	pinned.Spec.NodeName = "node-2"
	shrunk := testNode("node-1", "uid-n1", "10.0.0.1", "1", "1Gi")
	updated := testPod("bound", "ub", 8080, "1Gi")
	updated.Spec.Containers[0].Image = "busybox:2"
	updated.ResourceVersion = "5"
	return [][]Command{
		{
			command(tb, CmdCreatePod, CreatePod{Pod: free}, at(1)),
			command(tb, CmdCreatePod, CreatePod{Pod: big}, at(1)),
			// Both fit node-1 alone, not together: the second is rejected.
			command(tb, CmdBindPods, BindPods{Bindings: []PodBinding{
				{Namespace: "default", Name: "free", UID: "uf", Node: "node-1"},
				{Namespace: "default", Name: "big", UID: "ug", Node: "node-1"}}}, at(2)),
			// A second binding of a bound pod, elsewhere: never a move.
			command(tb, CmdBindPods, BindPods{Bindings: []PodBinding{{Namespace: "default", Name: "free", UID: "uf", Node: "node-2"}}}, at(3)),
			command(tb, CmdSetPodStatuses, SetPodStatuses{Node: "node-1", Updates: []PodStatusUpdate{{Namespace: "default", Name: "free", UID: "uf",
				Status: api.PodStatus{Phase: api.PodRunning}}}}, at(4)),
			command(tb, CmdDeletePod, DeletePod{Namespace: "default", Name: "free"}, at(5)),
			command(tb, CmdDeletePod, DeletePod{Namespace: "default", Name: "free", GracePeriodSeconds: &zero}, at(6)),
		},
		{
			command(tb, CmdCreatePod, CreatePod{Pod: clash}, at(1)),
			command(tb, CmdBindPods, BindPods{Bindings: []PodBinding{{Namespace: "default", Name: "clash", UID: "uc", Node: "node-1"}}}, at(2)),
			command(tb, CmdCreatePod, CreatePod{Pod: pinned}, at(3)),
			command(tb, CmdUpdatePod, UpdatePod{Pod: updated}, at(4)),
			command(tb, CmdSetPodsFailed, SetPodsFailed{Updates: []FailedPod{{Namespace: "default", Name: "bound", UID: "ub", Reason: "NodeLost"}}}, at(5)),
			command(tb, CmdEvictPod, EvictPod{Namespace: "default", Name: "pinned"}, at(6)),
		},
		{
			registerCmd(tb, shrunk, at(1)),
			command(tb, CmdSetNodeUnschedulable, SetNodeUnschedulable{Name: "node-2", Unschedulable: true}, at(2)),
			command(tb, CmdSetClusterNetwork, SetClusterNetwork{Network: ClusterNetwork{ClusterCIDR: "10.244.0.0/16", NodeCIDRMaskSize: 24}}, at(3)),
			command(tb, CmdAssignPodCIDRs, AssignPodCIDRs{Assignments: []PodCIDRAssignment{{Node: "node-1", CIDR: "10.244.1.0/24"}, {Node: "node-2", CIDR: "10.244.1.0/24"}}}, at(4)),
			command(tb, CmdDeleteDeployment, DeleteDeployment{Namespace: "default", Name: "web", PropagationPolicy: api.DeletePropagationForeground}, at(5)),
			command(tb, CmdDeleteNode, DeleteNode{Name: "node-1"}, at(6)),
		},
	}
}

// encodeEntries writes commands as the fuzz input's lines.
func encodeEntries(tb testing.TB, cmds []Command) []byte {
	var lines [][]byte
	for _, c := range cmds {
		lines = append(lines, mustJSON(tb, c))
	}
	return bytes.Join(lines, []byte("\n"))
}

// FuzzFSMApply applies arbitrary log entries (the input's lines, up to
// fuzzMaxEntries) to a State that holds nodes, a bound pod and a
// Deployment, as a corrupted log, a buggy or old leader, or a forwarded
// write crafted by a compromised agent could. The FSM must never panic,
// must answer every entry with an applyResult (a bad entry is refused
// with an error, identically on every replica), and after every entry the
// State must keep its invariants:
//   - every stored object passes the validation the FSM applies when it
//     stores one (ValidateNewPod, ValidateNode, ...): no entry leaves an
//     invalid object behind;
//   - a pod, once bound, stays bound to the same node (invariant 1);
//   - the derived allocation index equals what the pods hold, and no
//     node's bound pods exceed its allocatable or share a host port
//     (invariant 2; unless an entry re-registered a node with less,
//     which Kubernetes too lets stand);
//   - two replicas applying the same entries agree on every answer and
//     on the whole State, and a snapshot restores to the same State.
func FuzzFSMApply(f *testing.F) {
	for _, seq := range fuzzSeeds(f) {
		f.Add(encodeEntries(f, seq))
	}
	f.Add([]byte(`{"type":"BindPods","payload":{"bindings":[{"namespace":"default","name":"bound","uid":"ub","node":"node-2"}]}}`))
	f.Add([]byte(`{"type":"CreatePod","payload":{"pod":{"metadata":{"name":"x","namespace":"default","uid":"../.."}}}}` + "\n" +
		`{"type":"CreatePods","payload":{"pods":[{"metadata":{"name":"y","namespace":"default","uid":"u"},"spec":{"nodeName":"node-1","containers":[{"name":"c","image":"i","resources":{"requests":{"memory":"1e30"}}}]}}]}}`))
	f.Add([]byte(`{"type":"RegisterNode","payload":{"node":{"metadata":{"name":"node-1"},"status":{"allocatable":{"memory":"-1"}}}}}` + "\n" +
		`{"type":"Nope","payload":null}` + "\n" + `not json` + "\n" + `{"type":"UpdatePod","payload":[]}`))

	base := fuzzBase(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		entries := bytes.SplitN(data, []byte("\n"), fuzzMaxEntries+1)
		if len(entries) > fuzzMaxEntries {
			entries = entries[:fuzzMaxEntries]
		}
		applyFuzzEntries(t, base, entries)
	})
}

// fuzzCommandTypes are every command type the FSM applies.
var fuzzCommandTypes = []CommandType{
	CmdRegisterNode, CmdSetNodeConditions, CmdDeleteNode, CmdCreatePod, CmdUpdatePod, CmdDeletePod, CmdBindPods,
	CmdSetPodsUnschedulable, CmdSetPodStatuses, CmdRecordEvents, CmdSetClusterNetwork, CmdAssignPodCIDRs,
	CmdCreateDeployment, CmdUpdateDeployment, CmdDeleteDeployment, CmdSetDeploymentStatus, CmdCreatePods,
	CmdDeletePods, CmdSetPodsFailed, CmdSetNodeUnschedulable, CmdEvictPod, CmdCreateToken, CmdDeleteToken,
	CmdAdoptLegacyPods, CmdClaimObjects, CmdCreateConfigMap, CmdUpdateConfigMap, CmdDeleteConfigMap,
	CmdCreateNamespace, CmdDeleteNamespace, CmdEnsureNamespaces, CmdUpdateNamespace, CmdCreateRoleBinding,
	CmdUpdateRoleBinding, CmdDeleteRoleBinding, CmdCreateClusterRoleBinding, CmdUpdateClusterRoleBinding,
	CmdDeleteClusterRoleBinding, CmdCreateReplicaSet, CmdUpdateReplicaSet, CmdDeleteReplicaSet,
	CmdSetReplicaSetStatuses, CmdCreateSecret, CmdUpdateSecret, CmdDeleteSecret, CmdCreateServiceAccount,
	CmdDeleteServiceAccount, CmdEnsureServiceAccounts, CmdUpdateServiceAccount, CmdCreateService,
	CmdUpdateService, CmdDeleteService, CmdSetPodSecurityDefaults, CmdSetServiceEndpointSlices,
	CmdSetAPIServerEndpoints,
}

// FuzzFSMCommand is FuzzFSMApply with the envelope given: two commands of
// types the fuzzer picks among every command type, with arbitrary
// payloads, so that its mutations go into the payloads, where each
// command's checks are. The invariants are FuzzFSMApply's.
func FuzzFSMCommand(f *testing.F) {
	seeds := fuzzSeeds(f)
	for _, seq := range seeds {
		for i := 0; i+1 < len(seq); i += 2 {
			f.Add(byte(slices.Index(fuzzCommandTypes, seq[i].Type)), []byte(seq[i].Payload),
				byte(slices.Index(fuzzCommandTypes, seq[i+1].Type)), []byte(seq[i+1].Payload))
		}
	}
	// The other kinds' creates, each followed by a change of the same
	// object, as the API proposes them.
	idx := func(t CommandType) byte { return byte(slices.Index(fuzzCommandTypes, t)) }
	for _, s := range []struct {
		create   CommandType
		payload  string
		then     CommandType
		payload2 string
	}{
		{CmdCreateNamespace, `{"namespace":{"metadata":{"name":"team-a","uid":"u-ns","labels":{"pod-security.kubernetes.io/enforce":"privileged"}}}}`,
			CmdDeleteNamespace, `{"name":"team-a"}`},
		{CmdCreateService, `{"service":{"metadata":{"name":"web","namespace":"default","uid":"u-svc"},"spec":{"type":"ClusterIP","selector":{"app":"web"},` +
			`"ports":[{"name":"http","port":80,"targetPort":8080,"protocol":"TCP"}],"sessionAffinity":"None"}}}`,
			CmdSetServiceEndpointSlices, `{"namespace":"default","service":"web","slices":[]}`},
		{CmdCreateConfigMap, `{"configMap":{"metadata":{"name":"c","namespace":"default","uid":"u-cm"},"data":{"k":"v"}}}`,
			CmdUpdateConfigMap, `{"configMap":{"metadata":{"name":"c","namespace":"default","uid":"u-cm"},"data":{"k":"w"},"immutable":true}}`},
		{CmdCreateReplicaSet, `{"replicaSet":{"metadata":{"name":"rs","namespace":"default","uid":"u-rs","labels":{"app":"rs"}},"spec":{"replicas":2,` +
			`"selector":{"matchLabels":{"app":"rs"}},"template":{"metadata":{"labels":{"app":"rs"}},"spec":{"containers":[{"name":"c","image":"i","imagePullPolicy":"IfNotPresent"}],` +
			`"restartPolicy":"Always","dnsPolicy":"ClusterFirst","terminationGracePeriodSeconds":30}}}}}`,
			CmdDeleteReplicaSet, `{"namespace":"default","name":"rs","propagationPolicy":"Orphan"}`},
		{CmdCreateRoleBinding, `{"roleBinding":{"metadata":{"name":"rb","namespace":"default","uid":"u-rb"},` +
			`"roleRef":{"apiGroup":"rbac.authorization.k8s.io","kind":"ClusterRole","name":"view"},"subjects":[{"kind":"User","apiGroup":"rbac.authorization.k8s.io","name":"alice"}]}}`,
			CmdCreateClusterRoleBinding, `{"clusterRoleBinding":{"metadata":{"name":"crb","uid":"u-crb"},` +
				`"roleRef":{"apiGroup":"rbac.authorization.k8s.io","kind":"ClusterRole","name":"edit"},"subjects":[{"kind":"Group","apiGroup":"rbac.authorization.k8s.io","name":"ops"}]}}`},
		{CmdCreateServiceAccount, `{"serviceAccount":{"metadata":{"name":"sa","namespace":"default","uid":"u-sa"}}}`,
			CmdCreateToken, `{"id":"abcdef","role":"view","secretHash":"` + strings.Repeat("ab", 32) + `","ttlSeconds":60}`},
	} {
		f.Add(idx(s.create), []byte(s.payload), idx(s.then), []byte(s.payload2))
	}
	base := fuzzBase(f)
	f.Fuzz(func(t *testing.T, typ1 byte, payload1 []byte, typ2 byte, payload2 []byte) {
		var entries [][]byte
		for i, c := range []struct {
			typ     byte
			payload []byte
		}{{typ1, payload1}, {typ2, payload2}} {
			cmd := Command{Type: fuzzCommandTypes[int(c.typ)%len(fuzzCommandTypes)], Time: t0.Add(time.Duration(i+1) * time.Second)}
			if !json.Valid(c.payload) {
				return // the envelope could not carry it; FuzzFSMApply covers bad envelopes
			}
			cmd.Payload = c.payload
			entries = append(entries, mustJSON(t, cmd))
		}
		applyFuzzEntries(t, base, entries)
	})
}

// applyFuzzEntries applies base then entries to two replicas and checks
// FuzzFSMApply's invariants after each entry, and at the end that the
// replicas agree and a snapshot restores to the same State.
func applyFuzzEntries(t *testing.T, base []Command, entries [][]byte) {
	replicas := [2]*fsm{{state: NewState()}, {state: NewState()}}
	replicas[1].state.sealer = replicas[0].state.sealer // one cluster, one key
	for _, r := range replicas {
		for i, cmd := range base {
			if err := applyEntry(t, r, uint64(i+1), cmd); err != nil {
				t.Fatalf("base entry %d (%s): %v", i+1, cmd.Type, err)
			}
		}
	}
	bindings := boundNodes(replicas[0].state)
	overcommitAllowed := false
	for i, data := range entries {
		index := uint64(len(base) + i + 1)
		log := &raft.Log{Index: index, Term: 1, Type: raft.LogCommand, Data: data}
		var answers [2]string
		for j, r := range replicas {
			res, ok := r.Apply(log).(applyResult)
			if !ok {
				t.Fatalf("entry %d: Apply returned no applyResult", index)
			}
			resp, _ := json.Marshal(res.resp)
			answers[j] = fmt.Sprintf("%s / %v", resp, res.err)
			if j == 0 && res.err == nil {
				var cmd Command
				if json.Unmarshal(data, &cmd) == nil && cmd.Type == CmdRegisterNode {
					overcommitAllowed = true
				}
			}
		}
		if answers[0] != answers[1] {
			t.Fatalf("entry %d: replicas answered\n%s\n%s", index, answers[0], answers[1])
		}
		if got := replicas[0].state.Index(); got != index {
			t.Fatalf("entry %d: state at index %d", index, got)
		}
		checkStateInvariants(t, replicas[0].state, bindings, overcommitAllowed)
	}
	a, b := stateJSON(t, replicas[0].state), stateJSON(t, replicas[1].state)
	if !bytes.Equal(a, b) {
		t.Fatalf("replicas diverged:\n%s\n%s", a, b)
	}
	restored := &fsm{state: newState(replicas[0].state.sealer)}
	if err := restored.Restore(io.NopCloser(bytes.NewReader(snapshotOf(t, replicas[0])))); err != nil {
		t.Fatalf("restore the snapshot: %v", err)
	}
	if c := stateJSON(t, restored.state); !bytes.Equal(a, c) {
		t.Fatalf("snapshot restored to another state:\n%s\n%s", a, c)
	}
}

// stateJSON is the whole State as JSON, Secrets in clear.
func stateJSON(t *testing.T, s *State) []byte {
	d := s.export()
	return append(mustJSON(t, d), mustJSON(t, d.secrets)...)
}

// boundNodes maps the uid of every bound pod to its node.
func boundNodes(s *State) map[types.UID]string {
	out := map[types.UID]string{}
	for _, p := range s.export().Pods {
		if p.Spec.NodeName != "" {
			out[p.UID] = p.Spec.NodeName
		}
	}
	return out
}

// checkStateInvariants fails the test if s breaks an invariant
// FuzzFSMApply lists. bindings holds the node of every pod seen bound so
// far and is updated.
func checkStateInvariants(t *testing.T, s *State, bindings map[types.UID]string, overcommitAllowed bool) {
	t.Helper()
	d := s.export()
	var errs []error
	check := func(what string, err error) {
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", what, err))
		}
	}
	held := map[string]api.Resources{}
	ports := map[string]map[api.HostPort]int{}
	for i := range d.Pods {
		p := &d.Pods[i]
		check("pod "+p.Namespace+"/"+p.Name, api.ValidateNewPod(p))
		if p.Spec.NodeName != "" {
			if was, ok := bindings[p.UID]; ok && was != p.Spec.NodeName {
				errs = append(errs, fmt.Errorf("pod %s/%s (uid %s) moved from %s to %s", p.Namespace, p.Name, p.UID, was, p.Spec.NodeName))
			}
			bindings[p.UID] = p.Spec.NodeName
		}
		if holdsNode(p) {
			held[p.Spec.NodeName] = held[p.Spec.NodeName].Add(api.PodRequests(p))
			if ports[p.Spec.NodeName] == nil {
				ports[p.Spec.NodeName] = map[api.HostPort]int{}
			}
			for _, hp := range api.PodHostPorts(p) {
				ports[p.Spec.NodeName][hp]++
			}
		}
	}
	s.mu.RLock()
	for _, node := range slices.Sorted(maps.Keys(s.alloc)) {
		a := s.alloc[node]
		if a.requested != held[node] || !maps.Equal(a.hostPorts, ports[node]) {
			errs = append(errs, fmt.Errorf("node %s: allocation index %+v %v, its pods hold %+v %v", node, a.requested, a.hostPorts, held[node], ports[node]))
		}
	}
	for node, h := range held {
		if s.alloc[node] == nil && h != (api.Resources{}) {
			errs = append(errs, fmt.Errorf("node %s: no allocation index, its pods hold %+v", node, h))
		}
	}
	s.mu.RUnlock()
	for i := range d.Nodes {
		n := &d.Nodes[i]
		check("node "+n.Name, api.ValidateNode(n, true))
		alloc := api.ResourcesOf(n.Status.Allocatable)
		h := held[n.Name]
		if !overcommitAllowed && (h.Pods > alloc.Pods || h.MilliCPU > alloc.MilliCPU || h.Memory > alloc.Memory) {
			errs = append(errs, fmt.Errorf("node %s overcommitted: its pods hold %+v of %+v", n.Name, h, alloc))
		}
		for hp, c := range ports[n.Name] {
			if c > 1 {
				errs = append(errs, fmt.Errorf("node %s: host port %v held by %d pods", n.Name, hp, c))
			}
		}
	}
	for i := range d.Deployments {
		check("deployment "+d.Deployments[i].Name, api.ValidateNewDeployment(&d.Deployments[i]))
	}
	for i := range d.ReplicaSets {
		check("replicaset "+d.ReplicaSets[i].Name, api.ValidateNewReplicaSet(&d.ReplicaSets[i]))
	}
	for i := range d.Namespaces {
		check("namespace "+d.Namespaces[i].Name, api.ValidateNamespace(&d.Namespaces[i]))
	}
	for i := range d.ServiceAccounts {
		check("serviceaccount "+d.ServiceAccounts[i].Name, api.ValidateServiceAccount(&d.ServiceAccounts[i]))
	}
	for i := range d.Services {
		check("service "+d.Services[i].Name, api.ValidateService(&d.Services[i]))
	}
	for i := range d.ConfigMaps {
		check("configmap "+d.ConfigMaps[i].Name, api.ValidateConfigMap(&d.ConfigMaps[i]))
	}
	for _, sec := range d.secrets {
		check("secret "+sec.Name, api.ValidateSecret(sec))
	}
	for i := range d.RoleBindings {
		check("rolebinding "+d.RoleBindings[i].Name, api.ValidateRoleBinding(&d.RoleBindings[i]))
	}
	for i := range d.ClusterRoleBindings {
		check("clusterrolebinding "+d.ClusterRoleBindings[i].Name, api.ValidateClusterRoleBinding(&d.ClusterRoleBindings[i]))
	}
	if err := errors.Join(errs...); err != nil {
		t.Fatalf("state at index %d breaks an invariant:\n%v", d.Index, err)
	}
}
