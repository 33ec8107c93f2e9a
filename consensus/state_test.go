package consensus

import (
	"errors"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/hashicorp/raft"
	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/gossipod/gossipod/api"
)

// step is one command applied at the next log index, with the outcome the
// FSM must report for it.
type step struct {
	cmd      Command
	wantErr  bool
	wantCode int // the *api.Status code the error must carry; 0 = not a Status
}

// applySteps applies steps at indexes 1, 2, … through a fresh FSM and
// returns its State.
func applySteps(t *testing.T, steps []step) *State {
	t.Helper()
	f := &fsm{state: NewState()}
	for i, st := range steps {
		index := uint64(i + 1)
		err := applyEntry(t, f, index, st.cmd)
		if (err != nil) != st.wantErr {
			t.Fatalf("step %d (%s): err = %v, want error %v", index, st.cmd.Type, err, st.wantErr)
		}
		if st.wantCode != 0 {
			var status *api.Status
			if !errors.As(err, &status) {
				t.Fatalf("step %d (%s): err = %v (%T), want *api.Status", index, st.cmd.Type, err, err)
			}
			if status.Code != st.wantCode {
				t.Fatalf("step %d (%s): status code = %d, want %d", index, st.cmd.Type, status.Code, st.wantCode)
			}
		}
		if got := f.state.Index(); got != index {
			t.Fatalf("step %d: Index() = %d, want %d", index, got, index)
		}
	}
	return f.state
}

func mustNode(t *testing.T, s *State, name string) *api.Node {
	t.Helper()
	n, ok := s.Node(name)
	if !ok {
		t.Fatalf("node %q not in state", name)
	}
	return n
}

func quantity(t *testing.T, l api.ResourceList, r api.ResourceName) string {
	t.Helper()
	q, ok := l[r]
	if !ok {
		t.Fatalf("resource %s missing from %v", r, l)
	}
	return q.String()
}

func TestRegisterNode(t *testing.T) {
	n1 := testNode("node-1", "uid-1", "10.0.0.1", "4", "8Gi")

	// n1 as its agent reports it after a restart with more memory and a new
	// address: the uid it sends is a fresh one and must be ignored.
	n1Again := testNode("node-1", "uid-other", "10.0.0.11", "4", "16Gi")
	n1Again.Labels["disk"] = "ssd"
	delete(n1Again.Labels, api.LabelOS)

	// A request that tries to set what the cluster owns.
	sneaky := testNode("node-2", "uid-2", "10.0.0.2", "2", "4Gi")
	sneaky.ResourceVersion = "99"
	sneaky.CreationTimestamp = api.NewTime(t0.Add(-24 * time.Hour))
	sneaky.Spec = api.NodeSpec{PodCIDR: "10.244.9.0/24", Unschedulable: true}
	sneaky.Status.Conditions = []api.NodeCondition{{Type: api.NodeReady, Status: api.ConditionTrue}}
	sneaky.Annotations = map[string]string{api.AnnotationAllocated: `{"cpu":"64","pods":"100"}`, "team": "infra"}

	tests := []struct {
		name  string
		steps []step
		check func(t *testing.T, s *State)
	}{{
		name:  "new node takes uid and creation time from the command",
		steps: []step{{cmd: registerCmd(t, n1, t0.Add(1500*time.Millisecond))}},
		check: func(t *testing.T, s *State) {
			n := mustNode(t, s, "node-1")
			if n.Kind != "Node" || n.APIVersion != "v1" {
				t.Errorf("kind/apiVersion = %q/%q, want Node/v1", n.Kind, n.APIVersion)
			}
			if n.UID != "uid-1" {
				t.Errorf("uid = %q, want uid-1", n.UID)
			}
			if want := t0.Add(time.Second); !n.CreationTimestamp.Time.Equal(want) {
				t.Errorf("creationTimestamp = %v, want %v (command time, seconds)", n.CreationTimestamp, want)
			}
			if n.ResourceVersion != "1" {
				t.Errorf("resourceVersion = %q, want 1", n.ResourceVersion)
			}
			if got := quantity(t, n.Status.Capacity, api.ResourceMemory); got != "8Gi" {
				t.Errorf("capacity memory = %s, want 8Gi", got)
			}
			if got := api.NodeInternalIPOf(n); got != "10.0.0.1" {
				t.Errorf("InternalIP = %q, want 10.0.0.1", got)
			}
			if n.Labels[api.LabelOS] != "linux" {
				t.Errorf("labels = %v, want %s=linux", n.Labels, api.LabelOS)
			}
			if len(n.Status.Conditions) != 0 {
				t.Errorf("conditions = %v, want none before the leader sets them", n.Status.Conditions)
			}
		},
	}, {
		name: "re-register updates what the agent reports and keeps what the cluster owns",
		steps: []step{
			{cmd: registerCmd(t, n1, t0)},
			{cmd: readyCmd(t, t0.Add(time.Second), api.ConditionTrue, "node-1")},
			{cmd: registerCmd(t, n1Again, t0.Add(time.Minute))},
		},
		check: func(t *testing.T, s *State) {
			n := mustNode(t, s, "node-1")
			if n.UID != "uid-1" {
				t.Errorf("uid = %q, want the first registration's uid-1", n.UID)
			}
			if !n.CreationTimestamp.Time.Equal(t0) {
				t.Errorf("creationTimestamp = %v, want the first registration's %v", n.CreationTimestamp, t0)
			}
			if n.ResourceVersion != "3" {
				t.Errorf("resourceVersion = %q, want 3", n.ResourceVersion)
			}
			if got := quantity(t, n.Status.Capacity, api.ResourceMemory); got != "16Gi" {
				t.Errorf("capacity memory = %s, want 16Gi", got)
			}
			if got := quantity(t, n.Status.Allocatable, api.ResourceMemory); got != "16Gi" {
				t.Errorf("allocatable memory = %s, want 16Gi", got)
			}
			if got := api.NodeInternalIPOf(n); got != "10.0.0.11" {
				t.Errorf("InternalIP = %q, want 10.0.0.11", got)
			}
			if n.Labels["disk"] != "ssd" {
				t.Errorf("labels = %v, want disk=ssd", n.Labels)
			}
			if _, ok := n.Labels[api.LabelOS]; ok {
				t.Errorf("labels = %v: a label the agent dropped is still there", n.Labels)
			}
			c := api.GetNodeCondition(n, api.NodeReady)
			if c == nil || c.Status != api.ConditionTrue || !c.LastTransitionTime.Time.Equal(t0.Add(time.Second)) {
				t.Errorf("Ready = %+v, want the condition set before re-registering", c)
			}
		},
	}, {
		name:  "new node ignores fields only the cluster may set",
		steps: []step{{cmd: registerCmd(t, sneaky, t0)}},
		check: func(t *testing.T, s *State) {
			n := mustNode(t, s, "node-2")
			if n.ResourceVersion != "1" {
				t.Errorf("resourceVersion = %q, want the log index 1", n.ResourceVersion)
			}
			if !n.CreationTimestamp.Time.Equal(t0) {
				t.Errorf("creationTimestamp = %v, want the command time %v", n.CreationTimestamp, t0)
			}
			if n.Spec.PodCIDR != "" || len(n.Spec.PodCIDRs) != 0 || n.Spec.Unschedulable {
				t.Errorf("spec = %+v, want empty", n.Spec)
			}
			if len(n.Status.Conditions) != 0 {
				t.Errorf("conditions = %+v, want none", n.Status.Conditions)
			}
			// The allocated annotation is derived from the node's pods on
			// every read; the client's value is dropped, other annotations kept.
			if got := api.NodeAllocated(n); !got.Cpu().IsZero() || !got.Pods().IsZero() {
				t.Errorf("allocated = %v, want zero (no pods), not the value the client sent", got)
			}
			if n.Annotations["team"] != "infra" {
				t.Errorf("annotations = %v, want team=infra kept", n.Annotations)
			}
			for _, stored := range s.export().Nodes {
				if v, ok := stored.Annotations[api.AnnotationAllocated]; ok {
					t.Errorf("stored node %s holds %s=%s: derived annotations must not be stored", stored.Name, api.AnnotationAllocated, v)
				}
			}
		},
	}, {
		name: "node without a name is a bad request and changes nothing",
		steps: []step{
			{cmd: registerCmd(t, n1, t0)},
			{cmd: registerCmd(t, testNode("", "uid-x", "10.0.0.9", "1", "1Gi"), t0), wantErr: true, wantCode: http.StatusBadRequest},
		},
		check: func(t *testing.T, s *State) {
			nodes, index := s.Nodes()
			if len(nodes) != 1 || nodes[0].Name != "node-1" || nodes[0].ResourceVersion != "1" {
				t.Errorf("nodes = %+v, want only node-1 at version 1", nodes)
			}
			if index != 2 {
				t.Errorf("index = %d, want 2: a rejected entry still advances the index", index)
			}
		},
	}, {
		name: "nodes are listed sorted by name",
		steps: []step{
			{cmd: registerCmd(t, testNode("node-c", "c", "10.0.0.3", "1", "1Gi"), t0)},
			{cmd: registerCmd(t, testNode("node-a", "a", "10.0.0.1", "1", "1Gi"), t0)},
			{cmd: registerCmd(t, testNode("node-b", "b", "10.0.0.2", "1", "1Gi"), t0)},
		},
		check: func(t *testing.T, s *State) {
			nodes, index := s.Nodes()
			var names []string
			for _, n := range nodes {
				names = append(names, n.Name+"@"+n.ResourceVersion)
			}
			want := []string{"node-a@2", "node-b@3", "node-c@1"}
			if len(names) != len(want) {
				t.Fatalf("nodes = %v, want %v", names, want)
			}
			for i := range want {
				if names[i] != want[i] {
					t.Fatalf("nodes = %v, want %v", names, want)
				}
			}
			if index != 3 {
				t.Errorf("index = %d, want 3", index)
			}
		},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.check(t, applySteps(t, tt.steps))
		})
	}
}

func TestSetNodeConditions(t *testing.T) {
	reg := func(name string) step {
		return step{cmd: registerCmd(t, testNode(name, "uid-"+name, "10.0.0.1", "1", "1Gi"), t0)}
	}
	at := func(sec int) time.Time { return t0.Add(time.Duration(sec) * time.Second) }
	ready := func(sec int, st api.ConditionStatus, nodes ...string) step {
		return step{cmd: readyCmd(t, at(sec), st, nodes...)}
	}

	type wantCond struct {
		status     api.ConditionStatus
		transition int // seconds after t0
		heartbeat  int
		version    string
	}
	tests := []struct {
		name   string
		steps  []step
		want   map[string]wantCond // by node; absent = no Ready condition
		absent []string            // nodes that must not exist
	}{{
		name:  "first update sets Ready with both times from the command",
		steps: []step{reg("a"), ready(5, api.ConditionTrue, "a")},
		want:  map[string]wantCond{"a": {api.ConditionTrue, 5, 5, "2"}},
	}, {
		name:  "same status keeps lastTransitionTime and moves the heartbeat",
		steps: []step{reg("a"), ready(5, api.ConditionTrue, "a"), ready(9, api.ConditionTrue, "a")},
		want:  map[string]wantCond{"a": {api.ConditionTrue, 5, 9, "3"}},
	}, {
		name: "changed status moves lastTransitionTime",
		steps: []step{
			reg("a"), ready(5, api.ConditionTrue, "a"), ready(9, api.ConditionTrue, "a"),
			ready(12, api.ConditionFalse, "a"),
		},
		want: map[string]wantCond{"a": {api.ConditionFalse, 12, 12, "4"}},
	}, {
		name: "Unknown after False is a transition too",
		steps: []step{
			reg("a"), ready(5, api.ConditionFalse, "a"), ready(7, api.ConditionUnknown, "a"),
			ready(8, api.ConditionUnknown, "a"),
		},
		want: map[string]wantCond{"a": {api.ConditionUnknown, 7, 8, "4"}},
	}, {
		name:   "unknown nodes are skipped and the rest of the batch applies",
		steps:  []step{reg("a"), reg("b"), ready(5, api.ConditionTrue, "ghost", "b")},
		want:   map[string]wantCond{"b": {api.ConditionTrue, 5, 5, "3"}},
		absent: []string{"ghost"},
	}, {
		name: "a batch only touches the nodes it names",
		steps: []step{
			reg("a"), reg("b"), ready(5, api.ConditionTrue, "a", "b"),
			ready(6, api.ConditionFalse, "b"),
		},
		want: map[string]wantCond{
			"a": {api.ConditionTrue, 5, 5, "3"},
			"b": {api.ConditionFalse, 6, 6, "4"},
		},
	}, {
		name:   "a batch for a deleted node changes nothing",
		steps:  []step{reg("a"), {cmd: command(t, CmdDeleteNode, DeleteNode{Name: "a"}, t0)}, ready(5, api.ConditionTrue, "a")},
		absent: []string{"a"},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := applySteps(t, tt.steps)
			for name, w := range tt.want {
				n := mustNode(t, s, name)
				if got := len(n.Status.Conditions); got != 1 {
					t.Errorf("%s: %d conditions, want exactly one Ready", name, got)
				}
				c := api.GetNodeCondition(n, api.NodeReady)
				if c == nil {
					t.Fatalf("%s: no Ready condition", name)
				}
				if c.Status != w.status {
					t.Errorf("%s: Ready = %s, want %s", name, c.Status, w.status)
				}
				if !c.LastTransitionTime.Time.Equal(at(w.transition)) {
					t.Errorf("%s: lastTransitionTime = %v, want %v", name, c.LastTransitionTime, at(w.transition))
				}
				if !c.LastHeartbeatTime.Time.Equal(at(w.heartbeat)) {
					t.Errorf("%s: lastHeartbeatTime = %v, want %v", name, c.LastHeartbeatTime, at(w.heartbeat))
				}
				if c.Reason != "Test" {
					t.Errorf("%s: reason = %q, want Test", name, c.Reason)
				}
				if n.ResourceVersion != w.version {
					t.Errorf("%s: resourceVersion = %q, want %s", name, n.ResourceVersion, w.version)
				}
			}
			for _, name := range tt.absent {
				if n, ok := s.Node(name); ok {
					t.Errorf("node %q exists (%+v), want it absent", name, n)
				}
			}
		})
	}
}

func TestDeleteNode(t *testing.T) {
	reg := step{cmd: registerCmd(t, testNode("a", "uid-a", "10.0.0.1", "1", "1Gi"), t0)}
	del := func(name string, code int) step {
		return step{cmd: command(t, CmdDeleteNode, DeleteNode{Name: name}, t0), wantErr: code != 0, wantCode: code}
	}
	tests := []struct {
		name      string
		steps     []step
		wantNodes []string
	}{
		{"existing node is removed", []step{reg, del("a", 0)}, nil},
		{"missing node is a 404", []step{reg, del("b", http.StatusNotFound)}, []string{"a"}},
		{"deleting twice is a 404 the second time", []step{reg, del("a", 0), del("a", http.StatusNotFound)}, nil},
		{"a node can be registered again after deletion", []step{reg, del("a", 0), reg}, []string{"a"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := applySteps(t, tt.steps)
			nodes, _ := s.Nodes()
			var names []string
			for _, n := range nodes {
				names = append(names, n.Name)
			}
			if len(names) != len(tt.wantNodes) || (len(names) > 0 && names[0] != tt.wantNodes[0]) {
				t.Errorf("nodes = %v, want %v", names, tt.wantNodes)
			}
		})
	}

	// The 404 names what is missing, in Kubernetes' words.
	f := &fsm{state: NewState()}
	err := applyEntry(t, f, 1, command(t, CmdDeleteNode, DeleteNode{Name: "node-9"}, t0))
	var status *api.Status
	if !errors.As(err, &status) {
		t.Fatalf("err = %v, want *api.Status", err)
	}
	if status.Reason != api.StatusReasonNotFound || status.Details == nil || status.Details.Name != "node-9" {
		t.Errorf("status = %+v, want reason NotFound naming node-9", status)
	}
	if want := `nodes "node-9" not found`; status.Message != want {
		t.Errorf("message = %q, want %q", status.Message, want)
	}
}

func TestApplyRejectsBadEntries(t *testing.T) {
	good := registerCmd(t, testNode("a", "uid-a", "10.0.0.1", "1", "1Gi"), t0)
	tests := []struct {
		name string
		data func() []byte // the raw log entry
	}{
		{"unknown command type", func() []byte {
			return logEntry(t, 2, command(t, "PlaceMoon", map[string]string{"x": "y"}, t0)).Data
		}},
		{"empty command type", func() []byte {
			return logEntry(t, 2, Command{Payload: []byte(`{}`)}).Data
		}},
		{"RegisterNode payload of the wrong shape", func() []byte {
			return logEntry(t, 2, Command{Type: CmdRegisterNode, Payload: []byte(`["not", "a", "node"]`)}).Data
		}},
		{"SetNodeConditions payload of the wrong shape", func() []byte {
			return logEntry(t, 2, Command{Type: CmdSetNodeConditions, Payload: []byte(`{"updates": 7}`)}).Data
		}},
		{"DeleteNode payload of the wrong shape", func() []byte {
			return logEntry(t, 2, Command{Type: CmdDeleteNode, Payload: []byte(`"a"`)}).Data
		}},
		{"entry that is not JSON", func() []byte { return []byte("\x00\x01garbage") }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := &fsm{state: NewState()}
			if err := applyEntry(t, f, 1, good); err != nil {
				t.Fatalf("register: %v", err)
			}
			before, _ := f.state.Nodes()

			res, ok := f.Apply(&raft.Log{Index: 2, Term: 1, Type: raft.LogCommand, Data: tt.data()}).(applyResult)
			if !ok {
				t.Fatalf("Apply returned %T, want applyResult", res)
			}
			if res.err == nil {
				t.Fatal("Apply succeeded, want an error")
			}
			after, _ := f.state.Nodes()
			if !jsonEqual(t, before, after) {
				t.Errorf("a rejected entry changed the state:\nbefore %s\nafter  %s", mustJSON(t, before), mustJSON(t, after))
			}
		})
	}
}

func TestChangedIsClosedByEveryApply(t *testing.T) {
	cmds := []struct {
		name string
		cmd  Command
	}{
		{"RegisterNode", registerCmd(t, testNode("a", "uid-a", "10.0.0.1", "1", "1Gi"), t0)},
		{"SetNodeConditions", readyCmd(t, t0, api.ConditionTrue, "a")},
		{"SetNodeConditions for no known node", readyCmd(t, t0, api.ConditionTrue, "ghost")},
		{"DeleteNode", command(t, CmdDeleteNode, DeleteNode{Name: "a"}, t0)},
		{"rejected DeleteNode", command(t, CmdDeleteNode, DeleteNode{Name: "a"}, t0)},
		{"unknown type", command(t, "Bogus", struct{}{}, t0)},
	}
	f := &fsm{state: NewState()}
	for i, c := range cmds {
		ch := f.state.Changed()
		if isClosed(ch) {
			t.Fatalf("%s: Changed() is closed before the apply", c.name)
		}
		if again := f.state.Changed(); again != ch {
			t.Fatalf("%s: Changed() returned a different channel without a change", c.name)
		}
		_ = applyEntry(t, f, uint64(i+1), c.cmd)
		if !isClosed(ch) {
			t.Errorf("%s: Changed() channel not closed after apply", c.name)
		}
		if isClosed(f.state.Changed()) {
			t.Errorf("%s: the next Changed() channel is already closed", c.name)
		}
	}
}

func isClosed(ch <-chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

func TestReadsReturnDeepCopies(t *testing.T) {
	s := applySteps(t, []step{
		{cmd: registerCmd(t, testNode("a", "uid-a", "10.0.0.1", "4", "8Gi"), t0)},
		{cmd: readyCmd(t, t0, api.ConditionTrue, "a")},
	})
	want := mustJSON(t, mustNode(t, s, "a"))

	mutations := []struct {
		name   string
		mutate func(n *api.Node)
	}{
		{"name", func(n *api.Node) { n.Name = "b" }},
		{"resourceVersion", func(n *api.Node) { n.ResourceVersion = "42" }},
		{"labels", func(n *api.Node) { n.Labels["evil"] = "yes"; delete(n.Labels, api.LabelHostname) }},
		{"capacity", func(n *api.Node) { n.Status.Capacity[api.ResourceCPU] = resource.MustParse("64") }},
		{"allocatable", func(n *api.Node) { delete(n.Status.Allocatable, api.ResourceMemory) }},
		{"addresses", func(n *api.Node) { n.Status.Addresses[0].Address = "192.0.2.1" }},
		{"conditions", func(n *api.Node) { n.Status.Conditions[0].Status = api.ConditionFalse }},
		{"condition via Condition()", func(n *api.Node) { api.GetNodeCondition(n, api.NodeReady).Reason = "Hacked" }},
		{"spec", func(n *api.Node) { n.Spec.Unschedulable = true }},
	}
	reads := []struct {
		name string
		read func() *api.Node
	}{
		{"Node", func() *api.Node { return mustNode(t, s, "a") }},
		{"Nodes", func() *api.Node { nodes, _ := s.Nodes(); return &nodes[0] }},
	}
	for _, r := range reads {
		for _, m := range mutations {
			t.Run(r.name+"/"+m.name, func(t *testing.T) {
				m.mutate(r.read())
				if got := mustJSON(t, mustNode(t, s, "a")); string(got) != string(want) {
					t.Errorf("mutating a read changed the state:\nwant %s\ngot  %s", want, got)
				}
			})
		}
	}
	if got := strconv.FormatUint(s.Index(), 10); got != "2" {
		t.Errorf("index = %s after reads, want 2", got)
	}
}
