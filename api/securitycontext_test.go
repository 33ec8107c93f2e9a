package api

import (
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
)

func TestValidateSecurityContext(t *testing.T) {
	caps := func(add, drop []corev1.Capability) *corev1.Capabilities {
		return &corev1.Capabilities{Add: add, Drop: drop}
	}
	tests := []struct {
		name   string
		modify func(*Pod)
		want   []string // each a substring of one cause "field: body"; none means valid
	}{
		{name: "everything gossipod implements", modify: func(p *Pod) {
			p.Spec.SecurityContext = &PodSecurityContext{RunAsUser: ptr(int64(1000)), RunAsGroup: ptr(int64(3000)),
				RunAsNonRoot: ptr(true), FSGroup: ptr(int64(2000)), SupplementalGroups: []int64{4000},
				FSGroupChangePolicy:      ptr(corev1.FSGroupChangeOnRootMismatch),
				SupplementalGroupsPolicy: ptr(corev1.SupplementalGroupsPolicyStrict),
				Sysctls: []corev1.Sysctl{{Name: "net.ipv4.ip_local_port_range", Value: "1024 65000"},
					{Name: "kernel/shm_rmid_forced", Value: "1"}},
				SeccompProfile:  &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault},
				AppArmorProfile: &corev1.AppArmorProfile{Type: corev1.AppArmorProfileTypeLocalhost, LocalhostProfile: ptr("k8s-nginx")}}
			p.Spec.Containers[0].SecurityContext = &SecurityContext{RunAsUser: ptr(int64(0)), ReadOnlyRootFilesystem: ptr(true),
				AllowPrivilegeEscalation: ptr(false), Capabilities: caps([]corev1.Capability{"NET_BIND_SERVICE", "CAP_SYS_TIME"}, []corev1.Capability{"ALL"}),
				ProcMount:      ptr(corev1.DefaultProcMount),
				SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeLocalhost, LocalhostProfile: ptr("profiles/audit.json")}}
			p.Spec.InitContainers[0].SecurityContext = &SecurityContext{Privileged: ptr(true), Capabilities: caps([]corev1.Capability{"all"}, nil)}
		}},
		{name: "ids out of range", modify: func(p *Pod) {
			p.Spec.SecurityContext = &PodSecurityContext{RunAsUser: ptr(int64(-1)), FSGroup: ptr(int64(1 << 32)), SupplementalGroups: []int64{1, -2}}
			p.Spec.Containers[0].SecurityContext = &SecurityContext{RunAsGroup: ptr(int64(-5))}
		}, want: []string{
			"spec.securityContext.runAsUser: Invalid value: -1: must be between 0 and 2147483647, inclusive",
			"spec.securityContext.fsGroup: Invalid value: 4294967296: must be between 0 and 2147483647, inclusive",
			"spec.securityContext.supplementalGroups[1]: Invalid value: -2",
			"spec.containers[0].securityContext.runAsGroup: Invalid value: -5",
		}},
		{name: "policies", modify: func(p *Pod) {
			p.Spec.SecurityContext = &PodSecurityContext{FSGroupChangePolicy: ptr(corev1.PodFSGroupChangePolicy("Sometimes")),
				SupplementalGroupsPolicy: ptr(corev1.SupplementalGroupsPolicy("Loose"))}
		}, want: []string{
			`spec.securityContext.fsGroupChangePolicy: Unsupported value: "Sometimes": supported values: "OnRootMismatch", "Always"`,
			`spec.securityContext.supplementalGroupsPolicy: Unsupported value: "Loose": supported values: "Merge", "Strict"`,
		}},
		{name: "unsafe and duplicate sysctls", modify: func(p *Pod) {
			p.Spec.SecurityContext = &PodSecurityContext{Sysctls: []corev1.Sysctl{{Name: "kernel.msgmax", Value: "1"},
				{Name: "net.ipv4.tcp_syncookies", Value: "1"}, {Name: "net/ipv4/tcp_syncookies", Value: "0"}, {Name: ""}}}
		}, want: []string{
			`spec.securityContext.sysctls[0].name: Forbidden: forbidden sysctl: "kernel.msgmax" not allowlisted`,
			`spec.securityContext.sysctls[2].name: Duplicate value: "net/ipv4/tcp_syncookies"`,
			`spec.securityContext.sysctls[3].name: Required value`,
		}},
		{name: "profiles", modify: func(p *Pod) {
			p.Spec.SecurityContext = &PodSecurityContext{SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeLocalhost},
				AppArmorProfile: &corev1.AppArmorProfile{Type: corev1.AppArmorProfileTypeRuntimeDefault, LocalhostProfile: ptr("x")}}
			p.Spec.Containers[0].SecurityContext = &SecurityContext{SeccompProfile: &corev1.SeccompProfile{Type: "Strict"},
				AppArmorProfile: &corev1.AppArmorProfile{Type: corev1.AppArmorProfileTypeLocalhost, LocalhostProfile: ptr(" p")}}
			p.Spec.Containers[1].SecurityContext = &SecurityContext{SeccompProfile: &corev1.SeccompProfile{
				Type: corev1.SeccompProfileTypeLocalhost, LocalhostProfile: ptr("../etc/x.json")}}
		}, want: []string{
			"spec.securityContext.seccompProfile.localhostProfile: Required value: must be set when seccomp type is Localhost",
			`spec.securityContext.appArmorProfile.localhostProfile: Invalid value: "x": can only be set when AppArmor type is Localhost`,
			`spec.containers[0].securityContext.seccompProfile.type: Unsupported value: "Strict"`,
			`spec.containers[0].securityContext.appArmorProfile.localhostProfile: Invalid value: " p": must not be padded with whitespace`,
			`spec.containers[1].securityContext.seccompProfile.localhostProfile: Invalid value: "../etc/x.json": must not contain '..'`,
		}},
		{name: "capabilities, procMount, privilege escalation", modify: func(p *Pod) {
			p.Spec.Containers[0].SecurityContext = &SecurityContext{Privileged: ptr(true), AllowPrivilegeEscalation: ptr(false),
				Capabilities: caps([]corev1.Capability{"SYS_ADMIN", "MAKE_COFFEE"}, []corev1.Capability{"CAP_NOPE"}),
				ProcMount:    ptr(corev1.UnmaskedProcMount)}
			p.Spec.Containers[1].SecurityContext = &SecurityContext{ProcMount: ptr(corev1.ProcMountType("Weird"))}
		}, want: []string{
			`spec.containers[0].securityContext.capabilities.add[1]: Invalid value: "MAKE_COFFEE": unknown capability`,
			`spec.containers[0].securityContext.capabilities.drop[0]: Invalid value: "CAP_NOPE": unknown capability`,
			"spec.containers[0].securityContext.procMount: Invalid value: \"Unmasked\": `hostUsers` must be false to use `Unmasked`",
			"spec.containers[0].securityContext: Invalid value: ",
			"cannot set `allowPrivilegeEscalation` to false and `privileged` to true",
			"cannot set `allowPrivilegeEscalation` to false and `capabilities.Add` CAP_SYS_ADMIN",
			`spec.containers[1].securityContext.procMount: Unsupported value: "Weird"`,
		}},
		{name: "host namespaces are accepted", modify: func(p *Pod) {
			p.Spec.HostNetwork, p.Spec.HostPID = true, true
			// An IPC sysctl is fine on the host's network.
			p.Spec.SecurityContext = &PodSecurityContext{Sysctls: []corev1.Sysctl{{Name: "kernel.shm_rmid_forced", Value: "1"}}}
			for i := range p.Spec.Containers {
				for j := range p.Spec.Containers[i].Ports {
					p.Spec.Containers[i].Ports[j].HostPort = 0
				}
			}
			SetPodDefaults(p) // hostPort = containerPort
		}},
		{name: "hostIPC", modify: func(p *Pod) { p.Spec.HostIPC = true }},
		{name: "hostPID with shareProcessNamespace", modify: func(p *Pod) {
			p.Spec.HostPID, p.Spec.ShareProcessNamespace = true, ptr(true)
		}, want: []string{"spec.shareProcessNamespace: Invalid value: true: ShareProcessNamespace and HostPID cannot both be enabled"}},
		{name: "hostPID with shareProcessNamespace false", modify: func(p *Pod) {
			p.Spec.HostPID, p.Spec.ShareProcessNamespace = true, ptr(false)
		}},
		{name: "user namespace", modify: func(p *Pod) {
			p.Spec.HostUsers = ptr(false)
			// emptyDirs only, no hostPath.
			p.Spec.Volumes = slices.DeleteFunc(p.Spec.Volumes, func(v Volume) bool { return v.HostPath != nil })
			p.Spec.Containers[0].VolumeMounts = p.Spec.Containers[0].VolumeMounts[:1]
			// Root in the pod is not root on the node: runAsUser 0 is fine.
			p.Spec.SecurityContext = &PodSecurityContext{RunAsUser: ptr(int64(0))}
		}},
		{name: "user namespace and host namespaces, hostPath, Unmasked", modify: func(p *Pod) {
			p.Spec.HostNetwork, p.Spec.HostPID, p.Spec.HostIPC = true, true, true
			p.Spec.HostUsers = ptr(false)
			p.Spec.Containers[1].SecurityContext = &SecurityContext{ProcMount: ptr(corev1.UnmaskedProcMount)}
		}, want: []string{
			"spec.hostNetwork: Forbidden: when `hostUsers` is false",
			"spec.hostPID: Forbidden: when `hostUsers` is false",
			"spec.hostIPC: Forbidden: when `hostUsers` is false",
			"spec.volumes[1].hostPath: Forbidden: when `hostUsers` is false",
			"spec.containers[1].securityContext.procMount: Forbidden: gossipod does not implement `Unmasked` yet",
		}},
		{name: "namespaced sysctls of a namespace shared with the host", modify: func(p *Pod) {
			p.Spec.HostNetwork, p.Spec.HostIPC = true, true
			p.Spec.SecurityContext = &PodSecurityContext{Sysctls: []corev1.Sysctl{
				{Name: "net.ipv4.tcp_syncookies", Value: "1"}, {Name: "kernel/shm_rmid_forced", Value: "1"}}}
		}, want: []string{
			`spec.securityContext.sysctls[0].name: Invalid value: "net.ipv4.tcp_syncookies": may not be specified when 'hostNetwork' is true`,
			`spec.securityContext.sysctls[1].name: Invalid value: "kernel/shm_rmid_forced": may not be specified when 'hostIPC' is true`,
		}},
		{name: "hostNetwork hostPort must be the containerPort", modify: func(p *Pod) {
			p.Spec.HostNetwork = true
			p.Spec.Containers[0].Ports = []ContainerPort{{ContainerPort: 80, HostPort: 8080, Protocol: ProtocolTCP}}
			p.Spec.Containers[1].Ports = []ContainerPort{{ContainerPort: 81, Protocol: ProtocolTCP}}
		}, want: []string{
			"spec.containers[0].ports[0].hostPort: Invalid value: 8080: must match `containerPort` when `hostNetwork` is true",
			"spec.containers[1].ports[0].hostPort: Invalid value: 0: must match `containerPort` when `hostNetwork` is true",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := validPod()
			tt.modify(p)
			err := ValidatePod(p)
			got := causeStrings(t, err)
			if len(tt.want) == 0 && err != nil {
				t.Fatalf("valid pod refused: %v", err)
			}
			all := strings.Join(got, "\n")
			for _, w := range tt.want {
				if !strings.Contains(all, w) {
					t.Errorf("no cause contains %q; causes:\n%s", w, all)
				}
			}
			// The state machine checks the same on the way in.
			p.UID = "8a4d0c4e-33a1-4c1c-9b54-2f5d7c1f0a11"
			if (ValidateNewPod(p) == nil) != (err == nil) {
				t.Errorf("ValidateNewPod disagrees with ValidatePod: %v", ValidateNewPod(p))
			}
		})
	}
}

// Strict decoding accepts the securityContext fields gossipod implements
// and calls the others unsupported.
func TestDecodeSecurityContext(t *testing.T) {
	ok := `apiVersion: v1
kind: Pod
metadata: {name: p}
spec:
  securityContext: {runAsUser: 1000, fsGroup: 2000, sysctls: [{name: net.ipv4.tcp_syncookies, value: "1"}], seccompProfile: {type: RuntimeDefault}}
  containers:
  - name: c
    image: busybox
    securityContext: {readOnlyRootFilesystem: true, capabilities: {drop: [ALL]}, allowPrivilegeEscalation: false}
`
	if _, err := DecodeManifests([]byte(ok)); err != nil {
		t.Fatalf("decode: %v", err)
	}
	if _, err := DecodeManifests([]byte(strings.Replace(ok, "spec:\n", "spec:\n  hostUsers: false\n", 1))); err != nil {
		t.Fatalf("decode hostUsers: false: %v", err)
	}
	for field, manifest := range map[string]string{
		"spec.securityContext.seLinuxOptions":               "spec: {securityContext: {seLinuxOptions: {level: s0}}, containers: [{name: c, image: b}]}",
		"spec.containers[0].securityContext.windowsOptions": "spec: {containers: [{name: c, image: b, securityContext: {windowsOptions: {runAsUserName: x}}}]}",
		"spec.setHostnameAsFQDN":                            "spec: {setHostnameAsFQDN: false, containers: [{name: c, image: b}]}",
	} {
		_, err := DecodeManifests([]byte("apiVersion: v1\nkind: Pod\nmetadata: {name: p}\n" + manifest))
		if err == nil || !strings.Contains(err.Error(), field) || !strings.Contains(err.Error(), "unsupported field") {
			t.Errorf("%s: %v", field, err)
		}
	}
}
