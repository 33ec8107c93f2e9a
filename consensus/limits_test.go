package consensus

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gossipod/gossipod/api"
)

// TestFSMReplicaBound: the FSM refuses, on create and on update (what a
// scale commits), a Deployment above api.MaxDeploymentReplicasCeiling,
// whichever path the command came by, with a 422 in Kubernetes' words.
func TestFSMReplicaBound(t *testing.T) {
	at := time.Unix(1700000000, 0)
	deployment := func(replicas int32) api.Deployment {
		d := gateDeployment("web", "d-1")
		d.Spec.Replicas = &replicas
		return d
	}
	tests := []struct {
		name  string
		steps func(t *testing.T) []step
	}{
		{"create at the ceiling", func(t *testing.T) []step {
			return []step{{cmd: command(t, CmdCreateDeployment, CreateDeployment{Deployment: deployment(api.MaxDeploymentReplicasCeiling)}, at)}}
		}},
		{"create of 2,000,000", func(t *testing.T) []step {
			return []step{{cmd: command(t, CmdCreateDeployment, CreateDeployment{Deployment: deployment(2000000)}, at), wantErr: true, wantCode: http.StatusUnprocessableEntity}}
		}},
		{"scale to 2,000,000", func(t *testing.T) []step {
			return []step{
				{cmd: command(t, CmdCreateDeployment, CreateDeployment{Deployment: deployment(3)}, at)},
				{cmd: command(t, CmdUpdateDeployment, UpdateDeployment{Deployment: deployment(2000000)}, at), wantErr: true, wantCode: http.StatusUnprocessableEntity},
			}
		}},
		{"scale to the ceiling", func(t *testing.T) []step {
			return []step{
				{cmd: command(t, CmdCreateDeployment, CreateDeployment{Deployment: deployment(3)}, at)},
				{cmd: command(t, CmdUpdateDeployment, UpdateDeployment{Deployment: deployment(api.MaxDeploymentReplicasCeiling)}, at)},
			}
		}},
		{"CreatePods at the entry bound", func(t *testing.T) []step {
			return []step{{cmd: command(t, CmdCreatePods, CreatePods{Pods: testPods(MaxPodsPerEntry)}, at)}}
		}},
		{"CreatePods over the entry bound", func(t *testing.T) []step {
			return []step{{cmd: command(t, CmdCreatePods, CreatePods{Pods: testPods(MaxPodsPerEntry + 1)}, at), wantErr: true, wantCode: http.StatusBadRequest}}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			applySteps(t, tt.steps(t))
		})
	}

	// The message names the bound as Kubernetes would.
	f := &fsm{state: NewState()}
	err := applyEntry(t, f, 1, command(t, CmdCreateDeployment, CreateDeployment{Deployment: deployment(2000000)}, at))
	want := fmt.Sprintf("spec.replicas: Invalid value: 2000000: must be less than or equal to %d", api.MaxDeploymentReplicasCeiling)
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("error %v does not say %q", err, want)
	}
	if _, ok := f.state.Deployment("default", "web"); ok {
		t.Error("the refused Deployment is in the state")
	}
}

func testPods(n int) []api.Pod {
	pods := make([]api.Pod, n)
	for i := range pods {
		pods[i] = testPod(fmt.Sprintf("p-%d", i), fmt.Sprintf("u-%d", i), 0, "1Mi")
	}
	return pods
}
