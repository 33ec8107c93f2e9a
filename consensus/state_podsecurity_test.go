package consensus

import (
	"net/http"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/gossipod/gossipod/api"
)

// pssFSM is podFSM with namespaces "priv", "base" and "strict" labelled
// with the three levels and "plain" unlabelled, and the cluster default
// recorded as def ("" records nothing), at index 10.
func pssFSM(t *testing.T, def string) *fsm {
	t.Helper()
	f := podFSM(t)
	for i, ns := range []struct{ name, level string }{{"priv", "privileged"}, {"base", "baseline"}, {"strict", "restricted"}, {"plain", ""}} {
		n := api.Namespace{ObjectMeta: api.ObjectMeta{Name: ns.name, UID: types.UID("ns-" + ns.name)}}
		if ns.level != "" {
			n.Labels = map[string]string{api.PodSecurityEnforceLabel: ns.level}
		}
		mustApply(t, f, uint64(3+i), command(t, CmdCreateNamespace, CreateNamespace{Namespace: n}, t0))
	}
	if def != "" {
		mustApply(t, f, 10, command(t, CmdSetPodSecurityDefaults, SetPodSecurityDefaults{Defaults: PodSecurityDefaults{Enforce: def}}, t0))
	}
	return f
}

// pssTestPod is testPod x in namespace ns, changed by with. Its
// securityContext is set as a Go value: the FSM decodes commands with the
// api types without refusing fields, as it must to replay any entry.
func pssTestPod(ns string, with func(*api.Pod)) api.Pod {
	p := testPod("x", "u-x", 0, "1Mi")
	p.Namespace = ns
	p.Spec.Containers[0].Name = "x"
	if with != nil {
		with(&p)
	}
	return p
}

func pssPrivileged(p *api.Pod) {
	t := true
	p.Spec.Containers[0].SecurityContext = &corev1.SecurityContext{Privileged: &t}
}

func pssHostPath(p *api.Pod) {
	p.Spec.Volumes = []api.Volume{{Name: "data", VolumeSource: api.VolumeSource{HostPath: &api.HostPathVolumeSource{Path: "/srv"}}}}
}

func pssHostPort(p *api.Pod) {
	p.Spec.Containers[0].Ports = []api.ContainerPort{{ContainerPort: 80, HostPort: 80, Protocol: api.ProtocolTCP}}
}

// pssRootRestricted meets the restricted standard except that it runs as
// root (runAsUser 0, no runAsNonRoot): what a pod with hostUsers: false
// may do, since its root is not the node's.
func pssRootRestricted(p *api.Pod) {
	f, zero := false, int64(0)
	p.Spec.SecurityContext = &corev1.PodSecurityContext{RunAsUser: &zero,
		SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault}}
	p.Spec.Containers[0].SecurityContext = &corev1.SecurityContext{AllowPrivilegeEscalation: &f,
		Capabilities: &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}}}
}

func pssUserns(p *api.Pod) {
	pssRootRestricted(p)
	f := false
	p.Spec.HostUsers = &f
}

const pssForbidden = `pods "x" is forbidden: violates PodSecurity `

// TestPodSecurityAdmission: the FSM refuses, on every replica alike, the
// pods that violate their namespace's enforce level, or the cluster's
// recorded default in an unlabelled namespace, with kube-apiserver's 403.
func TestPodSecurityAdmission(t *testing.T) {
	const restrictedEmpty = `allowPrivilegeEscalation != false (container "x" must set securityContext.allowPrivilegeEscalation=false), ` +
		`unrestricted capabilities (container "x" must set securityContext.capabilities.drop=["ALL"]), ` +
		`runAsNonRoot != true (pod or container "x" must set securityContext.runAsNonRoot=true), ` +
		`seccompProfile (pod or container "x" must set securityContext.seccompProfile.type to "RuntimeDefault" or "Localhost")`
	for _, tc := range []struct {
		name string
		def  string // the recorded default; "" records none
		ns   string
		with func(*api.Pod)
		want string // "" when admitted
	}{
		{name: "privileged ns, privileged pod", def: "baseline", ns: "priv", with: pssPrivileged},
		{name: "privileged ns, hostPath", def: "restricted", ns: "priv", with: pssHostPath},
		{name: "baseline ns, plain pod", def: "baseline", ns: "base"},
		{name: "baseline ns, privileged pod", def: "privileged", ns: "base", with: pssPrivileged,
			want: pssForbidden + `"baseline:latest": privileged (container "x" must not set securityContext.privileged=true)`},
		{name: "baseline ns, hostPath", def: "baseline", ns: "base", with: pssHostPath,
			want: pssForbidden + `"baseline:latest": hostPath volumes (volume "data")`},
		{name: "baseline ns, hostPort", def: "baseline", ns: "base", with: pssHostPort,
			want: pssForbidden + `"baseline:latest": hostPort (container "x" uses hostPort 80)`},
		{name: "restricted ns, plain pod", def: "baseline", ns: "strict",
			want: pssForbidden + `"restricted:latest": ` + restrictedEmpty},
		{name: "unlabelled ns, default baseline, hostPort", def: "baseline", ns: "plain", with: pssHostPort,
			want: pssForbidden + `"baseline:latest": hostPort (container "x" uses hostPort 80)`},
		{name: "unlabelled ns, default baseline, plain pod", def: "baseline", ns: "plain"},
		{name: "unlabelled ns, default restricted", def: "restricted", ns: "plain",
			want: pssForbidden + `"restricted:latest": ` + restrictedEmpty},
		{name: "unlabelled ns, default privileged", def: "privileged", ns: "plain", with: pssPrivileged},
		{name: "a system namespace without an object gets the default", def: "baseline", ns: "kube-system", with: pssHostPath,
			want: pssForbidden + `"baseline:latest": hostPath volumes (volume "data")`},
		{name: "nothing recorded: a log from before Pod Security replays as applied", ns: "base", with: pssPrivileged},
		// With hostUsers: false the standards relax runAsNonRoot and
		// runAsUser (k8s.io/pod-security-admission): root in the pod is
		// not root on the node.
		{name: "restricted ns, root with hostUsers: false", def: "baseline", ns: "strict", with: pssUserns},
		{name: "baseline ns, hostUsers: false", def: "baseline", ns: "base", with: pssUserns},
		{name: "restricted ns, root with the host's users", def: "baseline", ns: "strict", with: pssRootRestricted,
			want: pssForbidden + `"restricted:latest": runAsNonRoot != true (pod or container "x" must set securityContext.runAsNonRoot=true), runAsUser=0 (pod must not set runAsUser=0)`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var errs []string
			for range 3 { // three replicas, one verdict
				f := pssFSM(t, tc.def)
				_, err := applyErr(t, f, 11, command(t, CmdCreatePod, CreatePod{Pod: pssTestPod(tc.ns, tc.with)}, t0))
				_, stored := f.state.Pod(tc.ns, "x")
				if tc.want == "" {
					if err != nil || !stored {
						t.Fatalf("refused: %v (stored %v)", err, stored)
					}
					continue
				}
				if statusCode(err) != http.StatusForbidden || err.Error() != tc.want {
					t.Fatalf("got %v\nwant 403 %s", err, tc.want)
				}
				if stored {
					t.Fatal("a refused pod was stored")
				}
				errs = append(errs, err.Error())
			}
			if len(errs) > 0 && (errs[0] != errs[1] || errs[1] != errs[2]) {
				t.Fatalf("replicas disagree: %q", errs)
			}
		})
	}
}

// TestUserNamespacePodValidated: the FSM refuses, as the API does, a pod
// with hostUsers: false and what Kubernetes forbids with it, with the
// same 422.
func TestUserNamespacePodValidated(t *testing.T) {
	for _, tc := range []struct {
		name string
		with func(*api.Pod)
		want string // "" when admitted
	}{
		{name: "hostUsers: false", with: pssUserns},
		{name: "hostUsers: false and a hostPath", with: func(p *api.Pod) { pssUserns(p); pssHostPath(p) },
			want: "Pod \"x\" is invalid: spec.volumes[0].hostPath: Forbidden: when `hostUsers` is false"},
		{name: "hostUsers: false and hostIPC", with: func(p *api.Pod) { pssUserns(p); p.Spec.HostIPC = true },
			want: "Pod \"x\" is invalid: spec.hostIPC: Forbidden: when `hostUsers` is false"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := pssFSM(t, "privileged")
			_, err := applyErr(t, f, 11, command(t, CmdCreatePod, CreatePod{Pod: pssTestPod("priv", tc.with)}, t0))
			_, stored := f.state.Pod("priv", "x")
			if tc.want == "" {
				if err != nil || !stored {
					t.Fatalf("refused: %v (stored %v)", err, stored)
				}
				return
			}
			if statusCode(err) != http.StatusUnprocessableEntity || err.Error() != tc.want || stored {
				t.Fatalf("got %v (stored %v)\nwant 422 %s", err, stored, tc.want)
			}
		})
	}
}

// TestPodSecurityRelabel: relabelling a namespace changes what new pods
// and image updates are held to; pods already admitted stay, and their
// metadata can still change, as in Kubernetes.
func TestPodSecurityRelabel(t *testing.T) {
	f := pssFSM(t, "baseline")
	mustApply(t, f, 11, command(t, CmdCreatePod, CreatePod{Pod: pssTestPod("priv", pssHostPath)}, t0))

	relabel := func(index uint64, level string) {
		t.Helper()
		ns, _ := f.state.Namespace("priv")
		ns.Labels[api.PodSecurityEnforceLabel] = level
		mustApply(t, f, index, command(t, CmdUpdateNamespace, UpdateNamespace{Namespace: *ns}, t0))
	}
	relabel(12, "baseline")
	if _, ok := f.state.Pod("priv", "x"); !ok {
		t.Fatal("relabelling the namespace removed an admitted pod")
	}
	second := pssTestPod("priv", pssHostPath)
	second.Name, second.UID = "y", "u-y"
	if _, err := applyErr(t, f, 13, command(t, CmdCreatePod, CreatePod{Pod: second}, t0)); statusCode(err) != http.StatusForbidden ||
		err.Error() != `pods "y" is forbidden: violates PodSecurity "baseline:latest": hostPath volumes (volume "data")` {
		t.Fatalf("new pod after relabel: %v", err)
	}

	p, _ := f.state.Pod("priv", "x")
	labelled := p.DeepCopy()
	labelled.Labels = map[string]string{"app": "web"}
	mustApply(t, f, 14, command(t, CmdUpdatePod, UpdatePod{Pod: *labelled}, t0))

	p, _ = f.state.Pod("priv", "x")
	reimaged := p.DeepCopy()
	reimaged.Spec.Containers[0].Image = "nginx"
	if _, err := applyErr(t, f, 15, command(t, CmdUpdatePod, UpdatePod{Pod: *reimaged}, t0)); statusCode(err) != http.StatusForbidden ||
		err.Error() != pssForbidden+`"baseline:latest": hostPath volumes (volume "data")` {
		t.Fatalf("image update after relabel: %v", err)
	}

	relabel(16, "privileged")
	mustApply(t, f, 17, command(t, CmdCreatePod, CreatePod{Pod: second}, t0))
}

// TestSetPodSecurityDefaults: the default is one of the three levels,
// may change (a leader with another flag), and survives a snapshot.
func TestSetPodSecurityDefaults(t *testing.T) {
	f := podFSM(t)
	if _, ok := f.state.PodSecurityDefaults(); ok {
		t.Fatal("defaults recorded before any leader recorded them")
	}
	set := func(level string) Command {
		return command(t, CmdSetPodSecurityDefaults, SetPodSecurityDefaults{Defaults: PodSecurityDefaults{Enforce: level}}, t0)
	}
	if _, err := applyErr(t, f, 3, set("strict")); statusCode(err) != http.StatusBadRequest ||
		err.Error() != `pod security level "strict": must be one of privileged, baseline, restricted` {
		t.Fatalf("bad level: %v", err)
	}
	if _, ok := f.state.PodSecurityDefaults(); ok {
		t.Fatal("a refused default was recorded")
	}
	mustApply(t, f, 4, set("baseline"))
	mustApply(t, f, 5, set("restricted"))
	if d, ok := f.state.PodSecurityDefaults(); !ok || d.Enforce != "restricted" {
		t.Fatalf("defaults %+v %v, want restricted", d, ok)
	}
	restored := NewState()
	restored.restore(f.state.export())
	if d, ok := restored.PodSecurityDefaults(); !ok || d.Enforce != "restricted" {
		t.Fatalf("after a snapshot: %+v %v, want restricted", d, ok)
	}
}

// TestPodSecurityLatestPinned: "latest" is the version recorded with the
// defaults, so a replica with newer checks, or a replay after an upgrade,
// refuses the same pods until a leader records a newer version in the
// log; a version that is not v1.N is refused.
func TestPodSecurityLatestPinned(t *testing.T) {
	f := pssFSM(t, "")
	set := func(index uint64, latest string) error {
		_, err := applyErr(t, f, index, command(t, CmdSetPodSecurityDefaults,
			SetPodSecurityDefaults{Defaults: PodSecurityDefaults{Enforce: "baseline", Latest: latest}}, t0))
		return err
	}
	if err := set(10, "latest"); statusCode(err) != http.StatusBadRequest || err.Error() != `pod security version "latest": must be "v1.x"` {
		t.Fatalf("latest as a version: %v", err)
	}
	if err := set(11, "v1.28"); err != nil {
		t.Fatal(err)
	}
	// net.ipv4.tcp_keepalive_time is a safe sysctl from v1.29 of the standards.
	sysctl := pssTestPod("base", func(p *api.Pod) {
		p.Spec.SecurityContext = &corev1.PodSecurityContext{Sysctls: []corev1.Sysctl{{Name: "net.ipv4.tcp_keepalive_time", Value: "60"}}}
	})
	if _, err := applyErr(t, f, 12, command(t, CmdCreatePod, CreatePod{Pod: sysctl}, t0)); statusCode(err) != http.StatusForbidden ||
		err.Error() != pssForbidden+`"baseline:latest": forbidden sysctls (net.ipv4.tcp_keepalive_time)` {
		t.Fatalf("sysctl pod with latest = v1.28: %v", err)
	}
	if err := set(13, api.PodSecurityLatestVersion()); err != nil {
		t.Fatal(err)
	}
	mustApply(t, f, 14, command(t, CmdCreatePod, CreatePod{Pod: sysctl}, t0))
}
