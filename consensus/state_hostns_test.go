package consensus

import (
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"

	"github.com/gossipod/gossipod/api"
)

// TestFSMValidatesHostNamespaces: the FSM checks a pod on the host's
// namespaces as the API does, so a raw command cannot store one the API
// would refuse: a hostNetwork hostPort other than its containerPort,
// hostPID with shareProcessNamespace, a net sysctl on the host's network,
// an IPC sysctl on the host's IPC namespace. A valid one is stored.
func TestFSMValidatesHostNamespaces(t *testing.T) {
	tests := []struct {
		name   string
		modify func(p *api.Pod)
		field  string // "" = stored
		msg    string
	}{
		{name: "hostNetwork, hostPID, hostIPC", modify: func(p *api.Pod) {
			p.Spec.HostNetwork, p.Spec.HostPID, p.Spec.HostIPC = true, true, true
			p.Spec.Containers[0].Ports = []api.ContainerPort{{ContainerPort: 80, HostPort: 80, Protocol: api.ProtocolTCP}}
		}},
		{name: "hostPort differs from containerPort", modify: func(p *api.Pod) {
			p.Spec.HostNetwork = true
			p.Spec.Containers[0].Ports = []api.ContainerPort{{ContainerPort: 80, HostPort: 8080, Protocol: api.ProtocolTCP}}
		}, field: "spec.containers[0].ports[0].hostPort", msg: "must match `containerPort` when `hostNetwork` is true"},
		{name: "hostPort not defaulted", modify: func(p *api.Pod) {
			p.Spec.HostNetwork = true
			p.Spec.Containers[0].Ports = []api.ContainerPort{{ContainerPort: 80, Protocol: api.ProtocolTCP}}
		}, field: "spec.containers[0].ports[0].hostPort", msg: "must match `containerPort` when `hostNetwork` is true"},
		{name: "hostPID with shareProcessNamespace", modify: func(p *api.Pod) {
			share := true
			p.Spec.HostPID, p.Spec.ShareProcessNamespace = true, &share
		}, field: "spec.shareProcessNamespace", msg: "ShareProcessNamespace and HostPID cannot both be enabled"},
		{name: "net sysctl on the host's network", modify: func(p *api.Pod) {
			p.Spec.HostNetwork = true
			p.Spec.SecurityContext = &api.PodSecurityContext{Sysctls: []corev1.Sysctl{{Name: "net.ipv4.tcp_syncookies", Value: "1"}}}
		}, field: "spec.securityContext.sysctls[0].name", msg: "may not be specified when 'hostNetwork' is true"},
		{name: "IPC sysctl on the host's IPC namespace", modify: func(p *api.Pod) {
			p.Spec.HostIPC = true
			p.Spec.SecurityContext = &api.PodSecurityContext{Sysctls: []corev1.Sysctl{{Name: "kernel.shm_rmid_forced", Value: "1"}}}
		}, field: "spec.securityContext.sysctls[0].name", msg: "may not be specified when 'hostIPC' is true"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := podFSM(t)
			p := testPod("p", "u-p", 0, "1Mi")
			tt.modify(&p)
			_, err := applyErr(t, f, 3, command(t, CmdCreatePod, CreatePod{Pod: p}, t0))
			if tt.field == "" {
				if err != nil {
					t.Fatalf("valid pod refused: %v", err)
				}
				if _, ok := f.state.Pod("default", "p"); !ok {
					t.Fatal("valid pod not stored")
				}
				return
			}
			wantInvalid(t, err, tt.field)
			if !strings.Contains(err.Error(), tt.msg) {
				t.Errorf("error %q does not say %q", err, tt.msg)
			}
			if _, ok := f.state.Pod("default", "p"); ok {
				t.Error("the FSM stored a pod the API refuses")
			}
		})
	}
}
