package api

import (
	"reflect"
	"testing"

	"k8s.io/apimachinery/pkg/api/resource"
)

func TestDefaultPullPolicy(t *testing.T) {
	tests := []struct {
		image string
		want  PullPolicy
	}{
		{"busybox", PullAlways},
		{"busybox:latest", PullAlways},
		{"localhost/busybox:latest", PullAlways},
		{"busybox:1.36", PullIfNotPresent},
		{"docker.io/library/busybox:1.36", PullIfNotPresent},
		{"localhost:5000/busybox", PullAlways},
		{"localhost:5000/busybox:1.36", PullIfNotPresent},
		{"busybox@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", PullIfNotPresent},
		{"busybox:latest@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", PullAlways},
		{"busybox:1.36@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", PullIfNotPresent},
	}
	for _, tt := range tests {
		if got := DefaultPullPolicy(tt.image); got != tt.want {
			t.Errorf("DefaultPullPolicy(%q) = %s, want %s", tt.image, got, tt.want)
		}
	}
}

func TestSetPodDefaults(t *testing.T) {
	grace := int64(5)
	tests := []struct {
		name string
		in   Pod
		want Pod
	}{
		{
			name: "empty fields are filled",
			in: Pod{Spec: PodSpec{
				InitContainers: []Container{{Name: "init", Image: "busybox:1.36"}},
				Containers: []Container{{
					Name: "app", Image: "busybox",
					Ports: []ContainerPort{{ContainerPort: 80}, {ContainerPort: 53, Protocol: ProtocolUDP}},
				}},
			}},
			want: Pod{ObjectMeta: ObjectMeta{Namespace: "default"}, Spec: PodSpec{
				InitContainers: []Container{{Name: "init", Image: "busybox:1.36", ImagePullPolicy: PullIfNotPresent}},
				Containers: []Container{{
					Name: "app", Image: "busybox", ImagePullPolicy: PullAlways,
					Ports: []ContainerPort{{ContainerPort: 80, Protocol: ProtocolTCP}, {ContainerPort: 53, Protocol: ProtocolUDP}},
				}},
				RestartPolicy:                 RestartPolicyAlways,
				TerminationGracePeriodSeconds: ptr(int64(30)),
			}},
		},
		{
			name: "set fields are kept",
			in: Pod{ObjectMeta: ObjectMeta{Namespace: "prod"}, Spec: PodSpec{
				Containers:                    []Container{{Name: "app", Image: "busybox", ImagePullPolicy: PullNever}},
				RestartPolicy:                 RestartPolicyNever,
				TerminationGracePeriodSeconds: &grace,
			}},
			want: Pod{ObjectMeta: ObjectMeta{Namespace: "prod"}, Spec: PodSpec{
				Containers:                    []Container{{Name: "app", Image: "busybox", ImagePullPolicy: PullNever}},
				RestartPolicy:                 RestartPolicyNever,
				TerminationGracePeriodSeconds: &grace,
			}},
		},
		{
			name: "a zero grace period is kept",
			in:   Pod{Spec: PodSpec{TerminationGracePeriodSeconds: ptr(int64(0))}},
			want: Pod{ObjectMeta: ObjectMeta{Namespace: "default"}, Spec: PodSpec{
				RestartPolicy: RestartPolicyAlways, TerminationGracePeriodSeconds: ptr(int64(0)),
			}},
		},
		{
			name: "requests default to limits, per resource, in app and init containers",
			in: Pod{Spec: PodSpec{
				InitContainers: []Container{{Name: "i", Image: "x:1", Resources: ResourceRequirements{
					Limits: ResourceList{ResourceMemory: resource.MustParse("1Gi")},
				}}},
				Containers: []Container{{Name: "a", Image: "x:1", Resources: ResourceRequirements{
					Requests: ResourceList{ResourceCPU: resource.MustParse("100m")},
					Limits:   ResourceList{ResourceCPU: resource.MustParse("1"), ResourceMemory: resource.MustParse("2Gi")},
				}}},
			}},
			want: Pod{ObjectMeta: ObjectMeta{Namespace: "default"}, Spec: PodSpec{
				InitContainers: []Container{{Name: "i", Image: "x:1", ImagePullPolicy: PullIfNotPresent, Resources: ResourceRequirements{
					Requests: ResourceList{ResourceMemory: resource.MustParse("1Gi")},
					Limits:   ResourceList{ResourceMemory: resource.MustParse("1Gi")},
				}}},
				Containers: []Container{{Name: "a", Image: "x:1", ImagePullPolicy: PullIfNotPresent, Resources: ResourceRequirements{
					Requests: ResourceList{ResourceCPU: resource.MustParse("100m"), ResourceMemory: resource.MustParse("2Gi")},
					Limits:   ResourceList{ResourceCPU: resource.MustParse("1"), ResourceMemory: resource.MustParse("2Gi")},
				}}},
				RestartPolicy:                 RestartPolicyAlways,
				TerminationGracePeriodSeconds: ptr(int64(30)),
			}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := tt.in
			SetPodDefaults(&got)
			if tt.want.Spec.ServiceAccountName == "" {
				// Every pod runs as a service account, "default" unless named.
				tt.want.Spec.ServiceAccountName, tt.want.Spec.DeprecatedServiceAccount = DefaultServiceAccountName, DefaultServiceAccountName
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("SetPodDefaults:\n got: %+v\nwant: %+v", got, tt.want)
			}
			again := got
			SetPodDefaults(&again)
			if !reflect.DeepEqual(again, tt.want) {
				t.Errorf("SetPodDefaults is not idempotent: %+v", again)
			}
		})
	}
}

// TestSetPodDefaultsCopiesLimits checks that a defaulted request is a copy:
// changing the limit afterwards must not change the request.
func TestSetPodDefaultsCopiesLimits(t *testing.T) {
	p := Pod{Spec: PodSpec{Containers: []Container{{Name: "a", Image: "x", Resources: ResourceRequirements{
		Limits: ResourceList{ResourceMemory: resource.MustParse("1Gi")},
	}}}}}
	SetPodDefaults(&p)
	res := &p.Spec.Containers[0].Resources
	q := res.Limits[ResourceMemory]
	q.Add(resource.MustParse("1Gi"))
	res.Limits[ResourceMemory] = q
	if got := res.Requests[ResourceMemory]; got.String() != "1Gi" {
		t.Errorf("request = %s after changing the limit, want 1Gi", got.String())
	}
	if r := PodRequests(&p); r.Memory != 1<<30 {
		t.Errorf("PodRequests memory = %d, want 1Gi", r.Memory)
	}
}

func ptr[T any](v T) *T { return &v }

// TestSetPodHostNetworkPorts: on the host's network every port without a
// hostPort gets its containerPort, init containers' too, as
// kube-apiserver's SetDefaults_Pod; off it nothing changes; a pod
// defaulted so passes validation, and the ports are the node's in
// PodHostPorts, which placement counts.
func TestSetPodHostNetworkPorts(t *testing.T) {
	ports := func(hp ...int32) []ContainerPort {
		var out []ContainerPort
		for i, h := range hp {
			out = append(out, ContainerPort{ContainerPort: int32(8080 + i), HostPort: h})
		}
		return out
	}
	tests := []struct {
		name         string
		hostNetwork  bool
		init, app    []ContainerPort
		wantInitHost []int32
		wantAppHost  []int32
	}{
		{name: "pod network keeps hostPort 0", app: ports(0, 9000), wantAppHost: []int32{0, 9000}},
		{name: "host network defaults each port", hostNetwork: true, init: ports(0), app: ports(0, 8081),
			wantInitHost: []int32{8080}, wantAppHost: []int32{8080, 8081}},
		{name: "a set hostPort is kept (and refused by validation if it differs)", hostNetwork: true, app: ports(9000),
			wantAppHost: []int32{9000}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := &Pod{Spec: PodSpec{HostNetwork: tt.hostNetwork,
				InitContainers: []Container{{Name: "i", Image: "busybox", Ports: tt.init}},
				Containers:     []Container{{Name: "a", Image: "busybox", Ports: tt.app}}}}
			p.Name = "p"
			SetPodDefaults(p)
			var gotInit, gotApp []int32
			for _, port := range p.Spec.InitContainers[0].Ports {
				gotInit = append(gotInit, port.HostPort)
			}
			for _, port := range p.Spec.Containers[0].Ports {
				gotApp = append(gotApp, port.HostPort)
			}
			if !reflect.DeepEqual(gotInit, tt.wantInitHost) || !reflect.DeepEqual(gotApp, tt.wantAppHost) {
				t.Fatalf("hostPorts: init %v app %v, want %v %v", gotInit, gotApp, tt.wantInitHost, tt.wantAppHost)
			}
			if tt.hostNetwork && tt.wantAppHost[0] == 8080 {
				if err := ValidatePod(p); err != nil {
					t.Fatalf("defaulted hostNetwork pod refused: %v", err)
				}
				if got := PodHostPorts(p); len(got) != len(tt.wantAppHost) || got[0] != (HostPort{Protocol: ProtocolTCP, Port: 8080}) {
					t.Fatalf("PodHostPorts = %v, want the defaulted ports", got)
				}
			}
		})
	}
}
