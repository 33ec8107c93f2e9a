package api

import (
	"errors"
	"fmt"
	"net/http"
	"slices"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
)

// pssPod is a pod named x with one container x, changed by with.
func pssPod(with func(*Pod)) *Pod {
	p := &Pod{ObjectMeta: ObjectMeta{Name: "x", Namespace: "ns"},
		Spec: PodSpec{Containers: []Container{{Name: "x", Image: "busybox"}}}}
	if with != nil {
		with(p)
	}
	return p
}

var (
	pssPlain      = pssPod(nil)
	pssPrivileged = pssPod(func(p *Pod) {
		p.Spec.Containers[0].SecurityContext = &corev1.SecurityContext{Privileged: ptr(true)}
	})
	pssHostPath = pssPod(func(p *Pod) {
		p.Spec.Volumes = []Volume{{Name: "data", VolumeSource: VolumeSource{HostPath: &HostPathVolumeSource{Path: "/srv"}}}}
	})
	pssHostPort = pssPod(func(p *Pod) {
		p.Spec.Containers[0].Ports = []ContainerPort{{ContainerPort: 80, HostPort: 80, Protocol: ProtocolTCP}}
	})
	pssHostNamespaces = pssPod(func(p *Pod) {
		p.Spec.HostNetwork, p.Spec.HostPID, p.Spec.HostIPC = true, true, true
	})
	// pssSysctl sets a sysctl baseline allows since v1.29.
	pssSysctl = pssPod(func(p *Pod) {
		p.Spec.SecurityContext = &corev1.PodSecurityContext{Sysctls: []corev1.Sysctl{{Name: "net.ipv4.tcp_keepalive_time", Value: "60"}}}
	})
	// pssRestricted is what the restricted level asks of a pod.
	pssRestricted = pssPod(func(p *Pod) {
		p.Spec.SecurityContext = &corev1.PodSecurityContext{RunAsNonRoot: ptr(true),
			SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault}}
		p.Spec.Containers[0].SecurityContext = &corev1.SecurityContext{AllowPrivilegeEscalation: ptr(false),
			Capabilities: &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}}}
	})
)

// Kubernetes' words for the restricted checks an empty securityContext
// fails.
const pssRestrictedEmpty = `allowPrivilegeEscalation != false (container "x" must set securityContext.allowPrivilegeEscalation=false), ` +
	`unrestricted capabilities (container "x" must set securityContext.capabilities.drop=["ALL"]), ` +
	`runAsNonRoot != true (pod or container "x" must set securityContext.runAsNonRoot=true), ` +
	`seccompProfile (pod or container "x" must set securityContext.seccompProfile.type to "RuntimeDefault" or "Localhost")`

// TestAdmitPodSecurity: each level against a few pods, the cluster default
// for a namespace without the label, versions, warn, and labels that do
// not parse, with kube-apiserver's exact messages.
func TestAdmitPodSecurity(t *testing.T) {
	enforce := func(level string) map[string]string { return map[string]string{PodSecurityEnforceLabel: level} }
	const forbidden = `pods "x" is forbidden: violates PodSecurity `
	for _, tc := range []struct {
		name     string
		pod      *Pod
		labels   map[string]string
		def      string
		latest   string // the version "latest" stands for; "" for the library's
		want     string // the error, "" if admitted
		warnings []string
	}{
		{name: "privileged admits a privileged pod", pod: pssPrivileged, labels: enforce("privileged")},
		{name: "privileged admits hostPath", pod: pssHostPath, labels: enforce("privileged"), def: "restricted"},
		{name: "baseline admits a plain pod", pod: pssPlain, labels: enforce("baseline")},
		{name: "baseline refuses privileged", pod: pssPrivileged, labels: enforce("baseline"),
			want: forbidden + `"baseline:latest": privileged (container "x" must not set securityContext.privileged=true)`},
		{name: "baseline refuses hostPath", pod: pssHostPath, labels: enforce("baseline"),
			want: forbidden + `"baseline:latest": hostPath volumes (volume "data")`},
		{name: "baseline refuses hostPort", pod: pssHostPort, labels: enforce("baseline"),
			want: forbidden + `"baseline:latest": hostPort (container "x" uses hostPort 80)`},
		{name: "baseline refuses host namespaces", pod: pssHostNamespaces, labels: enforce("baseline"),
			want: forbidden + `"baseline:latest": host namespaces (hostNetwork=true, hostPID=true, hostIPC=true)`},
		{name: "privileged admits host namespaces", pod: pssHostNamespaces, labels: enforce("privileged")},
		{name: "restricted refuses a plain pod", pod: pssPlain, labels: enforce("restricted"),
			want: forbidden + `"restricted:latest": ` + pssRestrictedEmpty},
		{name: "restricted refuses hostPath twice over", pod: pssHostPath, labels: enforce("restricted"),
			want: forbidden + `"restricted:latest": allowPrivilegeEscalation != false (container "x" must set securityContext.allowPrivilegeEscalation=false), ` +
				`unrestricted capabilities (container "x" must set securityContext.capabilities.drop=["ALL"]), ` +
				`restricted volume types (volume "data" uses restricted volume type "hostPath"), ` +
				`runAsNonRoot != true (pod or container "x" must set securityContext.runAsNonRoot=true), ` +
				`seccompProfile (pod or container "x" must set securityContext.seccompProfile.type to "RuntimeDefault" or "Localhost")`},
		{name: "restricted admits a restricted pod", pod: pssRestricted, labels: enforce("restricted")},
		{name: "unlabelled: gossipod's default is baseline", pod: pssHostPort,
			want: forbidden + `"baseline:latest": hostPort (container "x" uses hostPort 80)`},
		{name: "unlabelled: baseline admits a plain pod", pod: pssPlain},
		{name: "unlabelled: the cluster default restricted", pod: pssPlain, def: "restricted",
			want: forbidden + `"restricted:latest": ` + pssRestrictedEmpty},
		{name: "unlabelled: the cluster default privileged", pod: pssPrivileged, def: "privileged"},
		{name: "other labels only: the default applies", pod: pssHostPath, labels: map[string]string{"team": "a"}, def: "baseline",
			want: forbidden + `"baseline:latest": hostPath volumes (volume "data")`},
		{name: "enforce-version", pod: pssPrivileged,
			labels: map[string]string{PodSecurityEnforceLabel: "baseline", PodSecurityEnforceVersionLabel: "v1.30"},
			want:   forbidden + `"baseline:v1.30": privileged (container "x" must not set securityContext.privileged=true)`},
		{name: "warn a level above enforce", pod: pssPlain,
			labels:   map[string]string{PodSecurityEnforceLabel: "baseline", PodSecurityWarnLabel: "restricted"},
			warnings: []string{`would violate PodSecurity "restricted:latest": ` + pssRestrictedEmpty}},
		{name: "warn on its own, over the default", pod: pssHostPort, def: "privileged",
			labels:   map[string]string{PodSecurityWarnLabel: "baseline", PodSecurityWarnVersionLabel: "latest"},
			warnings: []string{`would violate PodSecurity "baseline:latest": hostPort (container "x" uses hostPort 80)`}},
		{name: "no warning when enforce refuses", pod: pssPrivileged,
			labels: map[string]string{PodSecurityEnforceLabel: "baseline", PodSecurityWarnLabel: "restricted"},
			want:   forbidden + `"baseline:latest": privileged (container "x" must not set securityContext.privileged=true)`},
		{name: "audit is accepted and changes nothing", pod: pssHostPort,
			labels: map[string]string{PodSecurityEnforceLabel: "privileged", PodSecurityAuditLabel: "restricted"}},
		{name: "latest pinned before a check changed: v1.28 refuses a sysctl v1.29 allows", pod: pssSysctl,
			labels: enforce("baseline"), latest: "v1.28",
			want: forbidden + `"baseline:latest": forbidden sysctls (net.ipv4.tcp_keepalive_time)`},
		{name: "a newer version than the pinned one is evaluated at the pinned one", pod: pssSysctl,
			labels: map[string]string{PodSecurityEnforceLabel: "baseline", PodSecurityEnforceVersionLabel: "v1.30"}, latest: "v1.28",
			want: forbidden + `"baseline:v1.30": forbidden sysctls (net.ipv4.tcp_keepalive_time)`},
		{name: "latest pinned to this binary's newest", pod: pssSysctl, labels: enforce("baseline"), latest: PodSecurityLatestVersion()},
		{name: "latest not pinned: the library's newest", pod: pssSysctl, labels: enforce("baseline")},
		{name: "an enforce label that does not parse fails closed (restricted)", pod: pssPlain,
			labels: enforce("strict"), want: forbidden + `"restricted:latest": ` + pssRestrictedEmpty},
	} {
		t.Run(tc.name, func(t *testing.T) {
			warnings, err := AdmitPodSecurity(tc.pod, tc.labels, tc.def, tc.latest)
			if tc.want == "" {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
			} else {
				var st *Status
				if !errors.As(err, &st) || st.Code != http.StatusForbidden || st.Reason != StatusReasonForbidden {
					t.Fatalf("got %v, want a 403 Forbidden", err)
				}
				if st.Message != tc.want {
					t.Fatalf("message:\n got %s\nwant %s", st.Message, tc.want)
				}
				if st.Details == nil || st.Details.Kind != "pods" || st.Details.Name != "x" {
					t.Fatalf("details %+v, want kind pods name x", st.Details)
				}
			}
			if !slices.Equal(warnings, tc.warnings) {
				t.Fatalf("warnings:\n got %q\nwant %q", warnings, tc.warnings)
			}
		})
	}
}

// TestPodTemplateSecurityWarnings: a workload is only warned about, at
// the namespace's warn level, which an explicit enforce label implies.
func TestPodTemplateSecurityWarnings(t *testing.T) {
	tmpl := &PodTemplateSpec{Spec: pssHostPath.Spec}
	for _, tc := range []struct {
		name   string
		labels map[string]string
		def    string
		want   []string
	}{
		{name: "enforce label implies warn", labels: map[string]string{PodSecurityEnforceLabel: "baseline"},
			want: []string{`would violate PodSecurity "baseline:latest": hostPath volumes (volume "data")`}},
		{name: "the cluster default does not warn, as kube-apiserver's defaults", def: "baseline"},
		{name: "privileged", labels: map[string]string{PodSecurityEnforceLabel: "privileged"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := PodTemplateSecurityWarnings(tmpl, tc.labels, tc.def, ""); !slices.Equal(got, tc.want) {
				t.Fatalf("got %q, want %q", got, tc.want)
			}
		})
	}
}

// TestNamespacePodSecurityLabels: a namespace is refused PodSecurity
// labels that name no level or version, on create and when an update
// changes them, in PodSecurity admission's words.
func TestNamespacePodSecurityLabels(t *testing.T) {
	ns := func(labels map[string]string) *Namespace {
		return &Namespace{ObjectMeta: ObjectMeta{Name: "shop", Labels: labels}}
	}
	good := map[string]string{PodSecurityEnforceLabel: "restricted", PodSecurityEnforceVersionLabel: "v1.30",
		PodSecurityWarnLabel: "baseline", PodSecurityAuditLabel: "privileged", PodSecurityAuditVersionLabel: "latest"}
	badLevel := map[string]string{PodSecurityEnforceLabel: "strict"}
	const badLevelMsg = `Namespace "shop" is invalid: metadata.labels[pod-security.kubernetes.io/enforce]: Invalid value: "strict": must be one of privileged, baseline, restricted`
	for _, tc := range []struct {
		name     string
		old, new map[string]string // old nil: a create
		want     string
	}{
		{name: "create with valid labels", new: good},
		{name: "create with a bad level", new: badLevel, want: badLevelMsg},
		{name: "create with a bad version", new: map[string]string{PodSecurityWarnVersionLabel: "1.30"},
			want: `Namespace "shop" is invalid: metadata.labels[pod-security.kubernetes.io/warn-version]: Invalid value: "1.30": must be "latest" or "v1.x"`},
		{name: "relabel to a bad level", old: good, new: badLevel, want: badLevelMsg},
		{name: "relabel otherwise, the bad label kept", old: badLevel,
			new: map[string]string{PodSecurityEnforceLabel: "strict", "team": "a"}},
		{name: "relabel valid", old: badLevel, new: good},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var err error
			if tc.old == nil {
				err = ValidateNamespace(ns(tc.new))
			} else {
				err = ValidateNamespaceUpdate(ns(tc.old), ns(tc.new))
			}
			got := ""
			if err != nil {
				got = err.Error()
			}
			if got != tc.want {
				t.Fatalf("got %q\nwant %q", got, tc.want)
			}
		})
	}
}

// TestPodSecuritySignificantUpdate: only a new image (or a different
// number of containers) has an update evaluated.
func TestPodSecuritySignificantUpdate(t *testing.T) {
	old := pssPlain
	for _, tc := range []struct {
		name string
		new  *Pod
		want bool
	}{
		{"labels only", pssPod(func(p *Pod) { p.Labels = map[string]string{"a": "b"} }), false},
		{"new image", pssPod(func(p *Pod) { p.Spec.Containers[0].Image = "nginx" }), true},
		{"new init image", pssPod(func(p *Pod) { p.Spec.InitContainers = []Container{{Name: "i", Image: "busybox"}} }), true},
	} {
		if got := PodSecuritySignificantUpdate(old, tc.new); got != tc.want {
			t.Errorf("%s: got %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestPodSecurityLatestVersion(t *testing.T) {
	if got := PodSecurityLatestVersion(); got != "v1.37" {
		t.Fatalf("latest %q, want v1.37, k8s.io/pod-security-admission v0.37's newest check version", got)
	}
	for v, ok := range map[string]bool{"v1.37": true, "v1.0": true, "latest": false, "1.37": false, "": false} {
		if err := ValidatePodSecurityVersion(v); (err == nil) != ok {
			t.Errorf("%q: %v", v, err)
		}
	}
}

func TestValidatePodSecurityLevel(t *testing.T) {
	for _, l := range []string{"privileged", "baseline", "restricted"} {
		if err := ValidatePodSecurityLevel(l); err != nil {
			t.Errorf("%s: %v", l, err)
		}
	}
	if err := ValidatePodSecurityLevel("strict"); err == nil || err.Error() != `pod security level "strict": must be one of privileged, baseline, restricted` {
		t.Errorf("strict: %v", err)
	}
}

// TestNamespacePodSecurityWarnings: a namespace made stricter warns about
// the pods it holds that the new level would refuse, grouped by reason
// with the first pod's name, as PodSecurity admission words it; a change
// that is not stricter says nothing.
func TestNamespacePodSecurityWarnings(t *testing.T) {
	named := func(name string, p *Pod, owner string) *Pod {
		p = p.DeepCopy()
		p.Name = name
		if owner != "" {
			p.OwnerReferences = []OwnerReference{NewControllerRef("apps/v1", "ReplicaSet", owner, types.UID(owner))}
		}
		return p
	}
	pods := []*Pod{named("c", pssHostPort, "rs"), named("a", pssHostPort, "rs"), named("b", pssHostPath, ""),
		named("d", pssPlain, ""), named("e", pssHostPort, "rs")}
	enforce := func(level string) map[string]string { return map[string]string{PodSecurityEnforceLabel: level} }
	for _, tc := range []struct {
		name     string
		old, new map[string]string
		def      string
		want     []string
	}{
		{name: "privileged to baseline", old: enforce("privileged"), new: enforce("baseline"), want: []string{
			`existing pods in namespace "shop" violate the new PodSecurity enforce level "baseline:latest"`,
			`a (and 2 other pods): hostPort`,
			`b: hostPath volumes`,
		}},
		{name: "unlabelled under a privileged default, to baseline", new: enforce("baseline"), def: "privileged", want: []string{
			`existing pods in namespace "shop" violate the new PodSecurity enforce level "baseline:latest"`,
			`a (and 2 other pods): hostPort`,
			`b: hostPath volumes`,
		}},
		{name: "relaxed", old: enforce("restricted"), new: enforce("baseline")},
		{name: "to privileged", old: enforce("baseline"), new: enforce("privileged")},
		{name: "unchanged enforce, other labels", old: enforce("privileged"),
			new: map[string]string{PodSecurityEnforceLabel: "privileged", "team": "a"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := NamespacePodSecurityWarnings("shop", tc.old, tc.new, tc.def, "", slices.Clone(pods))
			if !slices.Equal(got, tc.want) {
				t.Fatalf("got %q\nwant %q", got, tc.want)
			}
		})
	}

	many := make([]*Pod, maxPodsToCheckOnRelabel+2)
	for i := range many {
		many[i] = named(fmt.Sprintf("p%04d", i), pssPlain, "")
	}
	many[len(many)-1] = named("zz", pssHostPort, "") // beyond the bound: not checked
	got := NamespacePodSecurityWarnings("shop", nil, enforce("baseline"), "privileged", "", many)
	if want := []string{"new PodSecurity enforce level only checked against the first 3000 of 3002 existing pods"}; !slices.Equal(got, want) {
		t.Fatalf("many pods: %q, want %q", got, want)
	}
}
