package tables

import (
	"reflect"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/gossipod/gossipod/api"
)

// The expectations in this file are Kubernetes' own: each case is a case of
// kubernetes/pkg/printers/internalversion/printers_test.go (the function
// and case are named), with the object rewritten in gossipod's types, and
// the row kube-apiserver returns for it, which is what kubectl prints.
// Kubernetes' tests print without -o wide unless they say so; gossipod's
// rows always carry the wide cells (kube-apiserver also always computes
// them, kubectl hides them), so a narrow expectation is compared with the
// first cells of the row.

// now is the clock of the tests; ago(d) is a time d before it.
var now = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func ago(d time.Duration) api.Time { return api.NewTime(now.Add(-d)) }

// printRow converts one object and returns its only row.
func printRow(t *testing.T, obj any) metav1.TableRow {
	t.Helper()
	table, err := convert(obj, Options{Version: "v1", IncludeObject: metav1.IncludeNone}, now)
	if err != nil {
		t.Fatal(err)
	}
	if len(table.Rows) != 1 {
		t.Fatalf("%d rows, want 1", len(table.Rows))
	}
	return table.Rows[0]
}

// checkRow compares a row's first len(want) cells and its conditions.
func checkRow(t *testing.T, name string, got metav1.TableRow, want []any, conditions []metav1.TableRowCondition) {
	t.Helper()
	if len(got.Cells) < len(want) || !reflect.DeepEqual(got.Cells[:len(want)], want) {
		t.Errorf("%s: cells\n got %#v\nwant %#v", name, got.Cells, want)
	}
	if !reflect.DeepEqual(got.Conditions, conditions) {
		t.Errorf("%s: conditions %#v, want %#v", name, got.Conditions, conditions)
	}
}

// containers makes n unnamed containers, as Kubernetes' tests do with
// make([]api.Container, n).
func containers(n int) []api.Container { return make([]api.Container, n) }

func running() api.ContainerState {
	return api.ContainerState{Running: &api.ContainerStateRunning{}}
}

func waiting(reason string) api.ContainerState {
	return api.ContainerState{Waiting: &api.ContainerStateWaiting{Reason: reason}}
}

func terminated(reason string, code int32) api.ContainerState {
	return api.ContainerState{Terminated: &api.ContainerStateTerminated{Reason: reason, ExitCode: code}}
}

func finishedAgo(d time.Duration) api.ContainerState {
	return api.ContainerState{Terminated: &api.ContainerStateTerminated{FinishedAt: ago(d)}}
}

func TestPrintPod(t *testing.T) {
	deleted := ago(10 * time.Second)
	tests := []struct {
		name       string // the case of TestPrintPod it is
		pod        api.Pod
		want       []any
		conditions []metav1.TableRowCondition
	}{
		{name: "test1: name, containers, restarts, readiness",
			pod: api.Pod{ObjectMeta: api.ObjectMeta{Name: "test1"}, Spec: api.PodSpec{Containers: containers(2)},
				Status: api.PodStatus{Phase: "podPhase", ContainerStatuses: []api.ContainerStatus{
					{Ready: true, RestartCount: 3, State: running()}, {RestartCount: 3}}}},
			want: []any{"test1", "1/2", "podPhase", "6", "<unknown>"}},
		{name: "test2: a container's waiting reason overrides the phase",
			pod: api.Pod{ObjectMeta: api.ObjectMeta{Name: "test2"}, Spec: api.PodSpec{Containers: containers(2)},
				Status: api.PodStatus{Phase: "podPhase", ContainerStatuses: []api.ContainerStatus{
					{Ready: true, RestartCount: 3, State: running()}, {State: waiting("ContainerWaitingReason"), RestartCount: 3}}}},
			want: []any{"test2", "1/2", "ContainerWaitingReason", "6", "<unknown>"}},
		{name: "test3: the first container's reason wins",
			pod: api.Pod{ObjectMeta: api.ObjectMeta{Name: "test3"}, Spec: api.PodSpec{Containers: containers(2)},
				Status: api.PodStatus{Phase: "podPhase", ContainerStatuses: []api.ContainerStatus{
					{State: waiting("ContainerWaitingReason"), RestartCount: 3}, {State: terminated("ContainerTerminatedReason", 0), RestartCount: 3}}}},
			want: []any{"test3", "0/2", "ContainerWaitingReason", "6", "<unknown>"}},
		{name: "test4: ready is not enough for running",
			pod: api.Pod{ObjectMeta: api.ObjectMeta{Name: "test4"}, Spec: api.PodSpec{Containers: containers(2)},
				Status: api.PodStatus{Phase: "podPhase", ContainerStatuses: []api.ContainerStatus{
					{Ready: true, RestartCount: 3, State: running()}, {Ready: true, RestartCount: 3}}}},
			want: []any{"test4", "1/2", "podPhase", "6", "<unknown>"}},
		{name: "test5: the pod's reason overrides the phase",
			pod: api.Pod{ObjectMeta: api.ObjectMeta{Name: "test5"}, Spec: api.PodSpec{Containers: containers(2)},
				Status: api.PodStatus{Reason: "podReason", Phase: "podPhase", ContainerStatuses: []api.ContainerStatus{
					{Ready: true, RestartCount: 3, State: running()}, {Ready: true, RestartCount: 3}}}},
			want: []any{"test5", "1/2", "podReason", "6", "<unknown>"}},
		{name: "test6: one container running, one Completed, no Ready condition",
			pod: api.Pod{ObjectMeta: api.ObjectMeta{Name: "test6"}, Spec: api.PodSpec{Containers: containers(2)},
				Status: api.PodStatus{Phase: "Running", ContainerStatuses: []api.ContainerStatus{
					{Ready: true, RestartCount: 3, State: terminated("Completed", 0)}, {Ready: true, RestartCount: 3, State: running()}}}},
			want: []any{"test6", "1/2", "NotReady", "6", "<unknown>"}},
		{name: "test6: one container running, one Completed, Ready condition",
			pod: api.Pod{ObjectMeta: api.ObjectMeta{Name: "test6"}, Spec: api.PodSpec{Containers: containers(2)},
				Status: api.PodStatus{Phase: "Running",
					Conditions: []api.PodCondition{{Type: api.PodReady, Status: api.ConditionTrue}},
					ContainerStatuses: []api.ContainerStatus{
						{Ready: true, RestartCount: 3, State: terminated("Completed", 0)}, {Ready: true, RestartCount: 3, State: running()}}}},
			want: []any{"test6", "1/2", "Running", "6", "<unknown>"}},
		{name: "a started sidecar counts in READY and its restarts count once initialized",
			pod: api.Pod{ObjectMeta: api.ObjectMeta{Name: "side"}, Spec: api.PodSpec{
				InitContainers: []api.Container{{Name: "init"}, {Name: "proxy", RestartPolicy: ptrTo(api.ContainerRestartPolicyAlways)}},
				Containers:     []api.Container{{Name: "app"}}},
				Status: api.PodStatus{Phase: "Running",
					Conditions: []api.PodCondition{{Type: api.PodInitialized, Status: api.ConditionTrue}},
					InitContainerStatuses: []api.ContainerStatus{
						{Name: "init", RestartCount: 1, State: terminated("Completed", 0)},
						{Name: "proxy", RestartCount: 2, Ready: true, Started: ptrTo(true), State: running(), LastTerminationState: finishedAgo(10 * time.Second)}},
					ContainerStatuses: []api.ContainerStatus{{Name: "app", Ready: true, State: running()}}}},
			want: []any{"side", "2/2", "Running", "2 (10s ago)", "<unknown>"}},
		{name: "a sidecar not started yet holds initialization",
			pod: api.Pod{ObjectMeta: api.ObjectMeta{Name: "side2"}, Spec: api.PodSpec{
				InitContainers: []api.Container{{Name: "proxy", RestartPolicy: ptrTo(api.ContainerRestartPolicyAlways)}},
				Containers:     []api.Container{{Name: "app"}}},
				Status: api.PodStatus{Phase: "Pending",
					InitContainerStatuses: []api.ContainerStatus{{Name: "proxy", Started: ptrTo(false), State: running()}},
					ContainerStatuses:     []api.ContainerStatus{{Name: "app", State: waiting("PodInitializing")}}}},
			want: []any{"side2", "0/2", "Init:0/1", "0", "<unknown>"}},
		{name: "test7: an init container restarting",
			pod: api.Pod{ObjectMeta: api.ObjectMeta{Name: "test7"}, Spec: api.PodSpec{InitContainers: containers(1), Containers: containers(1)},
				Status: api.PodStatus{Phase: "podPhase",
					InitContainerStatuses: []api.ContainerStatus{{RestartCount: 3, State: running(), LastTerminationState: finishedAgo(10 * time.Second)}},
					ContainerStatuses:     []api.ContainerStatus{{State: api.ContainerState{Waiting: &api.ContainerStateWaiting{}}}}}},
			want: []any{"test7", "0/1", "Init:0/1", "3 (10s ago)", "<unknown>"}},
		{name: "test8: two init containers, the first restarting",
			pod: api.Pod{ObjectMeta: api.ObjectMeta{Name: "test8"}, Spec: api.PodSpec{InitContainers: containers(2), Containers: containers(1)},
				Status: api.PodStatus{Phase: "podPhase",
					InitContainerStatuses: []api.ContainerStatus{
						{RestartCount: 3, State: running(), LastTerminationState: finishedAgo(10 * time.Second)},
						{State: api.ContainerState{Waiting: &api.ContainerStateWaiting{}}}},
					ContainerStatuses: []api.ContainerStatus{{State: api.ContainerState{Waiting: &api.ContainerStateWaiting{}}}}}},
			want: []any{"test8", "0/1", "Init:0/2", "3 (10s ago)", "<unknown>"}},
		{name: "test9: first init container done, second restarting",
			pod: api.Pod{ObjectMeta: api.ObjectMeta{Name: "test9"}, Spec: api.PodSpec{InitContainers: containers(2), Containers: containers(1)},
				Status: api.PodStatus{Phase: "podPhase",
					InitContainerStatuses: []api.ContainerStatus{
						{State: api.ContainerState{Terminated: &api.ContainerStateTerminated{}}},
						{RestartCount: 3, State: running(), LastTerminationState: finishedAgo(10 * time.Second)}},
					ContainerStatuses: []api.ContainerStatus{{State: api.ContainerState{Waiting: &api.ContainerStateWaiting{}}}}}},
			want: []any{"test9", "0/1", "Init:1/2", "3 (10s ago)", "<unknown>"}},
		{name: "test10: init restarts add up, the latest restart shows",
			pod: api.Pod{ObjectMeta: api.ObjectMeta{Name: "test10"}, Spec: api.PodSpec{InitContainers: containers(2), Containers: containers(1)},
				Status: api.PodStatus{Phase: "podPhase",
					InitContainerStatuses: []api.ContainerStatus{
						{RestartCount: 2, State: api.ContainerState{Terminated: &api.ContainerStateTerminated{}}, LastTerminationState: finishedAgo(2 * time.Minute)},
						{RestartCount: 3, State: running(), LastTerminationState: finishedAgo(10 * time.Second)}},
					ContainerStatuses: []api.ContainerStatus{{State: api.ContainerState{Waiting: &api.ContainerStateWaiting{}}}}}},
			want: []any{"test10", "0/1", "Init:1/2", "5 (10s ago)", "<unknown>"}},
		{name: "test11: init done; only the app container's restarts count",
			pod: api.Pod{ObjectMeta: api.ObjectMeta{Name: "test11"}, Spec: api.PodSpec{InitContainers: containers(1), Containers: containers(1)},
				Status: api.PodStatus{Phase: "Running",
					InitContainerStatuses: []api.ContainerStatus{
						{RestartCount: 2, State: api.ContainerState{Terminated: &api.ContainerStateTerminated{}}, LastTerminationState: finishedAgo(2 * time.Minute)}},
					ContainerStatuses: []api.ContainerStatus{{RestartCount: 4, State: running(), LastTerminationState: finishedAgo(20 * time.Second)}}}},
			want: []any{"test11", "0/1", "Running", "4 (20s ago)", "<unknown>"}},
		{name: "test12: restarted 5d ago",
			pod: api.Pod{ObjectMeta: api.ObjectMeta{Name: "test12"}, Spec: api.PodSpec{Containers: containers(1)},
				Status: api.PodStatus{Phase: "Running",
					ContainerStatuses: []api.ContainerStatus{{Ready: true, RestartCount: 3, State: running(), LastTerminationState: finishedAgo(5 * 24 * time.Hour)}}}},
			want: []any{"test12", "1/1", "Running", "3 (5d ago)", "<unknown>"}},
		{name: "test14: the most recent of several restarts",
			pod: api.Pod{ObjectMeta: api.ObjectMeta{Name: "test14"}, Spec: api.PodSpec{Containers: containers(2)},
				Status: api.PodStatus{Phase: "Running", ContainerStatuses: []api.ContainerStatus{
					{Ready: true, RestartCount: 6, State: running(), LastTerminationState: finishedAgo(5 * 24 * time.Hour)},
					{Ready: true, RestartCount: 3, State: running(), LastTerminationState: finishedAgo(20 * 24 * time.Hour)}}}},
			want: []any{"test14", "2/2", "Running", "9 (5d ago)", "<unknown>"}},
		{name: "test15: SchedulingGated",
			pod: api.Pod{ObjectMeta: api.ObjectMeta{Name: "test15"}, Spec: api.PodSpec{Containers: containers(2)},
				Status: api.PodStatus{Phase: "podPhase", Conditions: []api.PodCondition{
					{Type: api.PodScheduled, Status: api.ConditionFalse, Reason: "SchedulingGated"}}}},
			want: []any{"test15", "0/2", "SchedulingGated", "0", "<unknown>"}},
		{name: "test16: Succeeded",
			pod: api.Pod{ObjectMeta: api.ObjectMeta{Name: "test16"}, Spec: api.PodSpec{Containers: containers(1)},
				Status: api.PodStatus{Phase: api.PodSucceeded, ContainerStatuses: []api.ContainerStatus{{State: terminated("Completed", 0)}}}},
			want: []any{"test16", "0/1", "Completed", "0", "<unknown>"}, conditions: podSuccessConditions},
		{name: "test17: Failed",
			pod: api.Pod{ObjectMeta: api.ObjectMeta{Name: "test17"}, Spec: api.PodSpec{Containers: containers(1)},
				Status: api.PodStatus{Phase: api.PodFailed, ContainerStatuses: []api.ContainerStatus{{State: terminated("Error", 1)}}}},
			want: []any{"test17", "0/1", "Error", "0", "<unknown>"}, conditions: podFailedConditions},
		{name: "test18: Succeeded and deleted stays Completed",
			pod: api.Pod{ObjectMeta: api.ObjectMeta{Name: "test18", DeletionTimestamp: &deleted}, Spec: api.PodSpec{Containers: containers(1)},
				Status: api.PodStatus{Phase: api.PodSucceeded, ContainerStatuses: []api.ContainerStatus{{State: terminated("Completed", 0)}}}},
			want: []any{"test18", "0/1", "Completed", "0", "<unknown>"}, conditions: podSuccessConditions},
		{name: "test19: Running and deleted is Terminating",
			pod: api.Pod{ObjectMeta: api.ObjectMeta{Name: "test19", DeletionTimestamp: &deleted}, Spec: api.PodSpec{Containers: containers(1)},
				Status: api.PodStatus{Phase: "Running", ContainerStatuses: []api.ContainerStatus{{State: running()}}}},
			want: []any{"test19", "0/1", "Terminating", "0", "<unknown>"}},
		{name: "test20: Pending and deleted is Terminating",
			pod:  api.Pod{ObjectMeta: api.ObjectMeta{Name: "test20", DeletionTimestamp: &deleted}, Spec: api.PodSpec{Containers: containers(1)}, Status: api.PodStatus{Phase: "Pending"}},
			want: []any{"test20", "0/1", "Terminating", "0", "<unknown>"}},
		// Cases of printPod's code paths that TestPrintPod does not cover,
		// with the cells printPod computes for them.
		{name: "printPod: deleted pod of a lost node is Unknown",
			pod: api.Pod{ObjectMeta: api.ObjectMeta{Name: "lost", DeletionTimestamp: &deleted}, Spec: api.PodSpec{Containers: containers(1)},
				Status: api.PodStatus{Phase: api.PodFailed, Reason: api.PodReasonNodeLost}},
			want: []any{"lost", "0/1", "Unknown", "0", "<unknown>"}, conditions: podFailedConditions},
		{name: "printPod: failed init container with a reason",
			pod: api.Pod{ObjectMeta: api.ObjectMeta{Name: "init-err"}, Spec: api.PodSpec{InitContainers: containers(1), Containers: containers(1)},
				Status: api.PodStatus{Phase: "Pending", InitContainerStatuses: []api.ContainerStatus{{RestartCount: 1, State: terminated("Error", 2)}}}},
			want: []any{"init-err", "0/1", "Init:Error", "1", "<unknown>"}},
		{name: "printPod: failed init container without a reason",
			pod: api.Pod{ObjectMeta: api.ObjectMeta{Name: "init-code"}, Spec: api.PodSpec{InitContainers: containers(1), Containers: containers(1)},
				Status: api.PodStatus{Phase: "Pending", InitContainerStatuses: []api.ContainerStatus{{State: terminated("", 2)}}}},
			want: []any{"init-code", "0/1", "Init:ExitCode:2", "0", "<unknown>"}},
		{name: "printPod: init container in back-off",
			pod: api.Pod{ObjectMeta: api.ObjectMeta{Name: "init-backoff"}, Spec: api.PodSpec{InitContainers: containers(1), Containers: containers(1)},
				Status: api.PodStatus{Phase: "Pending", InitContainerStatuses: []api.ContainerStatus{{State: waiting("CrashLoopBackOff")}}}},
			want: []any{"init-backoff", "0/1", "Init:CrashLoopBackOff", "0", "<unknown>"}},
		{name: "printPod: app container in CrashLoopBackOff",
			pod: api.Pod{ObjectMeta: api.ObjectMeta{Name: "crash", CreationTimestamp: ago(90 * time.Minute)}, Spec: api.PodSpec{Containers: containers(1)},
				Status: api.PodStatus{Phase: "Running", ContainerStatuses: []api.ContainerStatus{
					{RestartCount: 5, State: waiting("CrashLoopBackOff"), LastTerminationState: finishedAgo(40 * time.Second)}}}},
			want: []any{"crash", "0/1", "CrashLoopBackOff", "5 (40s ago)", "90m"}},
		{name: "printPod: terminated by a signal without a reason",
			pod: api.Pod{ObjectMeta: api.ObjectMeta{Name: "signal"}, Spec: api.PodSpec{Containers: containers(1)},
				Status: api.PodStatus{Phase: "Running", ContainerStatuses: []api.ContainerStatus{
					{State: api.ContainerState{Terminated: &api.ContainerStateTerminated{Signal: 9, ExitCode: 137}}}}}},
			want: []any{"signal", "0/1", "Signal:9", "0", "<unknown>"}},
	}
	for _, tt := range tests {
		checkRow(t, tt.name, printRow(t, &tt.pod), tt.want, tt.conditions)
	}
}

// TestPrintPodWide: TestPrintPodwide's case "NodeName and PodIP are none",
// and its first case without the readiness gates and nominated node that
// gossipod does not have.
func TestPrintPodWide(t *testing.T) {
	withIP := api.Pod{ObjectMeta: api.ObjectMeta{Name: "test1"},
		Spec: api.PodSpec{Containers: containers(2), NodeName: "test1"},
		Status: api.PodStatus{Phase: "podPhase", PodIPs: []api.PodIP{{IP: "1.1.1.1"}, {IP: "2001:db8::"}},
			ContainerStatuses: []api.ContainerStatus{{Ready: true, RestartCount: 3, State: running()}, {RestartCount: 3}}}}
	checkRow(t, "test1", printRow(t, &withIP), []any{"test1", "1/2", "podPhase", "6", "<unknown>", "1.1.1.1", "test1", "<none>", "<none>"}, nil)

	none := api.Pod{ObjectMeta: api.ObjectMeta{Name: "test2"}, Spec: api.PodSpec{Containers: containers(2)},
		Status: api.PodStatus{Phase: "podPhase", ContainerStatuses: []api.ContainerStatus{
			{Ready: true, RestartCount: 3, State: running()}, {State: waiting("ContainerWaitingReason"), RestartCount: 3}}}}
	checkRow(t, "test2", printRow(t, &none), []any{"test2", "1/2", "ContainerWaitingReason", "6", "<unknown>", "<none>", "<none>", "<none>", "<none>"}, nil)
}

func TestPrintNode(t *testing.T) {
	ready := []api.NodeCondition{{Type: api.NodeReady, Status: api.ConditionTrue}}
	notReady := []api.NodeCondition{{Type: api.NodeReady, Status: api.ConditionFalse}}
	tests := []struct {
		name string
		node api.Node
		want []any
	}{
		// TestPrintNodeStatus
		{name: "foo1", node: api.Node{ObjectMeta: api.ObjectMeta{Name: "foo1"}, Status: api.NodeStatus{Conditions: ready}},
			want: []any{"foo1", "Ready", "<none>", "<unknown>", ""}},
		{name: "foo2 cordoned", node: api.Node{ObjectMeta: api.ObjectMeta{Name: "foo2"}, Spec: api.NodeSpec{Unschedulable: true}, Status: api.NodeStatus{Conditions: ready}},
			want: []any{"foo2", "Ready,SchedulingDisabled", "<none>", "<unknown>", ""}},
		{name: "foo4", node: api.Node{ObjectMeta: api.ObjectMeta{Name: "foo4"}, Status: api.NodeStatus{Conditions: notReady}},
			want: []any{"foo4", "NotReady", "<none>", "<unknown>", ""}},
		{name: "foo5", node: api.Node{ObjectMeta: api.ObjectMeta{Name: "foo5"}, Spec: api.NodeSpec{Unschedulable: true}, Status: api.NodeStatus{Conditions: notReady}},
			want: []any{"foo5", "NotReady,SchedulingDisabled", "<none>", "<unknown>", ""}},
		{name: "foo6", node: api.Node{ObjectMeta: api.ObjectMeta{Name: "foo6"}, Status: api.NodeStatus{Conditions: []api.NodeCondition{{Type: "InvalidValue", Status: api.ConditionTrue}}}},
			want: []any{"foo6", "Unknown", "<none>", "<unknown>", ""}},
		{name: "foo9", node: api.Node{ObjectMeta: api.ObjectMeta{Name: "foo9"}, Spec: api.NodeSpec{Unschedulable: true}, Status: api.NodeStatus{Conditions: []api.NodeCondition{{}}}},
			want: []any{"foo9", "Unknown,SchedulingDisabled", "<none>", "<unknown>", ""}},
		// TestPrintNodeRole
		{name: "foo10 roles", node: api.Node{ObjectMeta: api.ObjectMeta{Name: "foo10", Labels: map[string]string{
			"node-role.kubernetes.io/master": "", "node-role.kubernetes.io/control-plane": "", "node-role.kubernetes.io/proxy": "", "kubernetes.io/role": "node"}}},
			want: []any{"foo10", "Unknown", "control-plane,master,node,proxy", "<unknown>", ""}},
		{name: "foo11 role", node: api.Node{ObjectMeta: api.ObjectMeta{Name: "foo11", Labels: map[string]string{"kubernetes.io/role": "node"}}},
			want: []any{"foo11", "Unknown", "node", "<unknown>", ""}},
		// TestPrintNodeOSImage, TestPrintNodeKernelVersion,
		// TestPrintNodeContainerRuntimeVersion (wide)
		{name: "foo1 os image", node: api.Node{ObjectMeta: api.ObjectMeta{Name: "foo1"}, Status: api.NodeStatus{
			NodeInfo: api.NodeSystemInfo{OSImage: "fake-os-image"}, Addresses: []api.NodeAddress{{Type: "ExternalIP", Address: "1.1.1.1"}}}},
			want: []any{"foo1", "Unknown", "<none>", "<unknown>", "", "<none>", "1.1.1.1", "fake-os-image", "<unknown>", "<unknown>"}},
		{name: "foo2 kernel", node: api.Node{ObjectMeta: api.ObjectMeta{Name: "foo2"}, Status: api.NodeStatus{
			NodeInfo: api.NodeSystemInfo{KernelVersion: "fake-kernel-version"}, Addresses: []api.NodeAddress{{Type: "ExternalIP", Address: "1.1.1.1"}}}},
			want: []any{"foo2", "Unknown", "<none>", "<unknown>", "", "<none>", "1.1.1.1", "<unknown>", "fake-kernel-version", "<unknown>"}},
		// TestPrintNodeInternalIP, TestPrintNodeExternalIP: the first of each.
		{name: "foo3 addresses", node: api.Node{ObjectMeta: api.ObjectMeta{Name: "foo3"}, Status: api.NodeStatus{Addresses: []api.NodeAddress{
			{Type: api.NodeInternalIP, Address: "2.2.2.2"}, {Type: "ExternalIP", Address: "3.3.3.3"}, {Type: api.NodeInternalIP, Address: "4.4.4.4"}}}},
			want: []any{"foo3", "Unknown", "<none>", "<unknown>", "", "2.2.2.2", "3.3.3.3", "<unknown>", "<unknown>", "<unknown>"}},
	}
	for _, tt := range tests {
		checkRow(t, tt.name, printRow(t, &tt.node), tt.want, nil)
	}
}

// TestPrintDeployment is TestPrintDeployment's testDeployment, narrow and
// wide (its creation 1.9 s in the future prints as "0s").
func TestPrintDeployment(t *testing.T) {
	replicas := int32(5)
	d := api.Deployment{
		ObjectMeta: api.ObjectMeta{Name: "test1", CreationTimestamp: api.Time{Time: now.Add(1900 * time.Millisecond)}},
		Spec: api.DeploymentSpec{
			Replicas: &replicas,
			Template: api.PodTemplateSpec{Spec: api.PodSpec{Containers: []api.Container{
				{Name: "fake-container1", Image: "fake-image1"}, {Name: "fake-container2", Image: "fake-image2"}}}},
			Selector: &api.LabelSelector{MatchLabels: map[string]string{"foo": "bar"}},
		},
		Status: api.DeploymentStatus{Replicas: 10, UpdatedReplicas: 2, AvailableReplicas: 1, UnavailableReplicas: 4},
	}
	checkRow(t, "narrow", printRow(t, &d), []any{"test1", "0/5", int64(2), int64(1), "0s"}, nil)
	checkRow(t, "wide", printRow(t, &d), []any{"test1", "0/5", int64(2), int64(1), "0s",
		"fake-container1,fake-container2", "fake-image1,fake-image2", "foo=bar"}, nil)
}

// TestPrintReplicaSet: Kubernetes' TestPrintReplicaSet cases.
func TestPrintReplicaSet(t *testing.T) {
	replicas := int32(5)
	rs := api.ReplicaSet{
		ObjectMeta: api.ObjectMeta{Name: "test1", CreationTimestamp: api.Time{Time: now.Add(1900 * time.Millisecond)}},
		Spec: api.ReplicaSetSpec{
			Replicas: &replicas,
			Template: api.PodTemplateSpec{Spec: api.PodSpec{Containers: []api.Container{
				{Name: "test", Image: "test_image"}}}},
			Selector: &api.LabelSelector{MatchLabels: map[string]string{"a": "b"}},
		},
		Status: api.ReplicaSetStatus{Replicas: 5, ReadyReplicas: 2},
	}
	checkRow(t, "narrow", printRow(t, &rs), []any{"test1", int64(5), int64(5), int64(2), "0s"}, nil)
	checkRow(t, "wide", printRow(t, &rs), []any{"test1", int64(5), int64(5), int64(2), "0s",
		"test", "test_image", "a=b"}, nil)
}

func TestPrintEvent(t *testing.T) {
	day := 24 * time.Hour
	tests := []struct {
		name  string
		event api.Event
		want  []any
	}{
		{name: "basic event, narrow",
			event: api.Event{ObjectMeta: api.ObjectMeta{Name: "event1"}, Source: api.EventSource{Component: "kubelet"},
				InvolvedObject: api.ObjectReference{Kind: "Pod", Name: "Pod Name"}, Reason: "Event Reason", Message: "Message Data",
				FirstTimestamp: ago(3 * day), LastTimestamp: ago(2 * day), Count: 6, Type: api.EventTypeNormal},
			want: []any{"2d", "Normal", "Event Reason", "pod/Pod Name"}},
		// Kubernetes' case has involvedObject.fieldPath
		// "spec.containers{foo}"; gossipod's events have no field path,
		// so SUBOBJECT is empty.
		{name: "basic event, wide",
			event: api.Event{ObjectMeta: api.ObjectMeta{Name: "event2"}, Source: api.EventSource{Component: "kubelet", Host: "Node1"},
				InvolvedObject: api.ObjectReference{Kind: "Deployment", Name: "Deployment Name"}, Reason: "Event Reason", Message: "Message Data",
				FirstTimestamp: ago(3 * day), LastTimestamp: ago(2 * day), Count: 6, Type: api.EventTypeWarning},
			want: []any{"2d", "Warning", "Event Reason", "deployment/Deployment Name", "", "kubelet, Node1", "Message Data", "3d", int64(6), "event2"}},
		{name: "without lastTimestamp",
			event: api.Event{ObjectMeta: api.ObjectMeta{Name: "event4"}, Source: api.EventSource{Component: "kubelet", Host: "Node1"},
				InvolvedObject: api.ObjectReference{Kind: "Deployment", Name: "Deployment Name"}, Reason: "Event Reason", Message: "Message Data",
				FirstTimestamp: ago(3 * day), Count: 1, Type: api.EventTypeWarning},
			want: []any{"3d", "Warning", "Event Reason", "deployment/Deployment Name", "", "kubelet, Node1", "Message Data", "3d", int64(1), "event4"}},
		// printEvent: a count of 0 is a singleton, printed as 1.
		{name: "singleton",
			event: api.Event{ObjectMeta: api.ObjectMeta{Name: "event7"}, Source: api.EventSource{Component: "kubelet", Host: "Node1"},
				InvolvedObject: api.ObjectReference{Kind: "Deployment", Name: "Deployment Name"}, Reason: "Event Reason", Message: " Message Data\n",
				FirstTimestamp: ago(3 * day), LastTimestamp: ago(3 * day), Type: api.EventTypeWarning},
			want: []any{"3d", "Warning", "Event Reason", "deployment/Deployment Name", "", "kubelet, Node1", "Message Data", "3d", int64(1), "event7"}},
	}
	for _, tt := range tests {
		checkRow(t, tt.name, printRow(t, &tt.event), tt.want, nil)
	}
}

// TestPrintNamespaceAndServiceAccount: TestPrintNamespace and
// TestPrintServiceAccount's first cases.
func TestPrintNamespaceAndServiceAccount(t *testing.T) {
	future := api.Time{Time: now.Add(1900 * time.Millisecond)}
	ns := api.Namespace{ObjectMeta: api.ObjectMeta{Name: "namespace1", CreationTimestamp: future}, Status: api.NamespaceStatus{Phase: "FooStatus"}}
	checkRow(t, "namespace1", printRow(t, &ns), []any{"namespace1", "FooStatus", "0s"}, nil)
	bare := api.Namespace{ObjectMeta: api.ObjectMeta{Name: "namespace2"}}
	checkRow(t, "namespace2", printRow(t, &bare), []any{"namespace2", "", "<unknown>"}, nil)
	sa := api.ServiceAccount{ObjectMeta: api.ObjectMeta{Name: "sa1", CreationTimestamp: future}}
	checkRow(t, "sa1", printRow(t, &sa), []any{"sa1", int64(0), "0s"}, nil)
}

func ptrTo[T any](v T) *T { return &v }
