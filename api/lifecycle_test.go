package api

import (
	"reflect"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// hookedPod is a valid pod whose app container has both hooks.
func hookedPod() *Pod {
	p := validPod()
	p.Spec.Containers[0].Lifecycle = &Lifecycle{
		PostStart: &LifecycleHandler{Exec: &ExecAction{Command: []string{"sh", "-c", "echo hi > /tmp/started"}}},
		PreStop:   &LifecycleHandler{HTTPGet: &HTTPGetAction{Port: intstr.FromInt32(8080)}},
	}
	SetPodDefaults(p)
	return p
}

func TestDecodeLifecycle(t *testing.T) {
	in := podYAML("web") + `    lifecycle:
      postStart:
        exec: {command: [sh, -c, "echo started > /tmp/started"]}
      preStop:
        httpGet: {path: /drain, port: 8080}
  - name: sleeper
    image: busybox:1.36
    lifecycle:
      preStop: {sleep: {seconds: 5}}
`
	objs, err := DecodeManifests([]byte(in))
	if err != nil {
		t.Fatalf("DecodeManifests: %v", err)
	}
	p := objs[0].(*Pod)
	SetPodDefaults(p)
	if err := ValidatePod(p); err != nil {
		t.Fatalf("ValidatePod: %v", err)
	}
	l := p.Spec.Containers[0].Lifecycle
	if l.PostStart.Exec.Command[2] != "echo started > /tmp/started" || l.PreStop.HTTPGet.Path != "/drain" ||
		l.PreStop.HTTPGet.Scheme != URISchemeHTTP {
		t.Errorf("decoded hooks: %+v %+v", l.PostStart, l.PreStop.HTTPGet)
	}
	if s := p.Spec.Containers[1].Lifecycle.PreStop.Sleep; s == nil || s.Seconds != 5 {
		t.Errorf("sleep hook: %+v", s)
	}
}

func TestSetPodDefaultsLifecycle(t *testing.T) {
	g := hookedPod().Spec.Containers[0].Lifecycle.PreStop.HTTPGet
	if g.Path != "/" || g.Scheme != URISchemeHTTP {
		t.Errorf("httpGet hook defaults: path %q scheme %q", g.Path, g.Scheme)
	}
}

func TestValidatePodLifecycle(t *testing.T) {
	exec := &ExecAction{Command: []string{"true"}}
	tests := []struct {
		name   string
		mutate func(p *Pod)
		want   []string
	}{
		{"valid", func(*Pod) {}, nil},
		{"sleep of zero seconds", func(p *Pod) {
			p.Spec.Containers[0].Lifecycle.PreStop = &LifecycleHandler{Sleep: &SleepAction{Seconds: 0}}
		}, nil},
		{"sleep longer than the grace period (a warning upstream)", func(p *Pod) {
			p.Spec.TerminationGracePeriodSeconds = ptr(int64(5))
			p.Spec.Containers[0].Lifecycle.PreStop = &LifecycleHandler{Sleep: &SleepAction{Seconds: 60}}
		}, nil},
		{"no handler", func(p *Pod) { p.Spec.Containers[0].Lifecycle.PostStart = &LifecycleHandler{} }, []string{
			`spec.containers[0].lifecycle.postStart: Required value: must specify a handler type`}},
		{"two handlers: the second is refused", func(p *Pod) {
			p.Spec.Containers[0].Lifecycle.PreStop.Exec = exec
			p.Spec.Containers[0].Lifecycle.PostStart.Sleep = &SleepAction{Seconds: 1}
		}, []string{
			`spec.containers[0].lifecycle.postStart.sleep: Forbidden: may not specify more than 1 handler type`,
			`spec.containers[0].lifecycle.preStop.httpGet: Forbidden: may not specify more than 1 handler type`}},
		{"exec without a command", func(p *Pod) { p.Spec.Containers[0].Lifecycle.PostStart.Exec.Command = nil }, []string{
			`spec.containers[0].lifecycle.postStart.exec.command: Required value`}},
		{"httpGet port and scheme", func(p *Pod) {
			g := p.Spec.Containers[0].Lifecycle.PreStop.HTTPGet
			g.Port, g.Scheme = intstr.FromInt32(0), "ftp"
		}, []string{
			`spec.containers[0].lifecycle.preStop.httpGet.port: Invalid value: 0: must be between 1 and 65535, inclusive`,
			`spec.containers[0].lifecycle.preStop.httpGet.scheme: Unsupported value: "ftp": supported values: "HTTP", "HTTPS"`}},
		{"negative sleep", func(p *Pod) {
			p.Spec.Containers[0].Lifecycle.PreStop = &LifecycleHandler{Sleep: &SleepAction{Seconds: -1}}
		}, []string{
			`spec.containers[0].lifecycle.preStop.sleep: Invalid value: -1: must be non-negative`}},
		{"tcpSocket", func(p *Pod) {
			p.Spec.Containers[0].Lifecycle.PreStop = &LifecycleHandler{TCPSocket: &TCPSocketAction{Port: intstr.FromInt32(80)}}
		}, []string{
			`spec.containers[0].lifecycle.preStop.tcpSocket: Unsupported value: "tcpSocket": supported values: "exec", "httpGet", "sleep"`}},
		{"hooks on an init container", func(p *Pod) {
			p.Spec.InitContainers[0].Lifecycle = &Lifecycle{PreStop: &LifecycleHandler{Exec: exec}}
		}, []string{
			`spec.initContainers[0].lifecycle: Forbidden: may not be set for init containers without restartPolicy=Always`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := hookedPod()
			tt.mutate(p)
			got := causeStrings(t, ValidatePod(p))
			if strings.Join(got, "\n") != strings.Join(tt.want, "\n") {
				t.Errorf("got\n  %s\nwant\n  %s", strings.Join(got, "\n  "), strings.Join(tt.want, "\n  "))
			}
		})
	}
}

func TestDecodeNativeSidecar(t *testing.T) {
	in := `apiVersion: v1
kind: Pod
metadata:
  name: job
spec:
  restartPolicy: Never
  initContainers:
  - name: migrate
    image: busybox:1.36
  - name: proxy
    image: busybox:1.36
    restartPolicy: Always
    readinessProbe: {tcpSocket: {port: 15001}}
    startupProbe: {exec: {command: [cat, /tmp/up]}}
    lifecycle:
      postStart: {exec: {command: [touch, /tmp/up]}}
      preStop: {sleep: {seconds: 2}}
    resources: {requests: {cpu: 100m, memory: 64Mi}}
  containers:
  - name: app
    image: busybox:1.36
    resources: {requests: {cpu: 200m, memory: 128Mi}}
`
	objs, err := DecodeManifests([]byte(in))
	if err != nil {
		t.Fatalf("DecodeManifests: %v", err)
	}
	p := objs[0].(*Pod)
	SetPodDefaults(p)
	if err := ValidatePod(p); err != nil {
		t.Fatalf("ValidatePod: %v", err)
	}
	if IsSidecar(&p.Spec.InitContainers[0]) || !IsSidecar(&p.Spec.InitContainers[1]) {
		t.Errorf("IsSidecar: migrate %v, proxy %v", IsSidecar(&p.Spec.InitContainers[0]), IsSidecar(&p.Spec.InitContainers[1]))
	}
	// The sidecar runs beside the app: its requests add up (KEP-753).
	if r := PodRequests(p); r.MilliCPU != 300 || r.Memory != 192<<20 {
		t.Errorf("PodRequests = %+v, want 300m and 192Mi", r)
	}
}

func TestPodRequestsSidecars(t *testing.T) {
	req := func(cpu string) ResourceRequirements {
		return ResourceRequirements{Requests: ResourceList{ResourceCPU: resource.MustParse(cpu)}}
	}
	always := ContainerRestartPolicyAlways
	p := validPod()
	p.Spec.Containers[0].Resources = req("100m")
	p.Spec.InitContainers = []Container{
		{Name: "side", Image: "b", RestartPolicy: &always, Resources: req("300m")},
		// Runs beside "side": 500m + 300m.
		{Name: "big", Image: "b", Resources: req("500m")},
	}
	if got := PodRequests(p).MilliCPU; got != 800 {
		t.Errorf("PodRequests cpu = %dm, want 800m (the init container beside the sidecar started before it)", got)
	}
	p.Spec.InitContainers[1].Resources = req("50m")
	if got := PodRequests(p).MilliCPU; got != 400 {
		t.Errorf("PodRequests cpu = %dm, want 400m (app + sidecar)", got)
	}
}

func TestValidatePodSidecars(t *testing.T) {
	always, onFailure := ContainerRestartPolicyAlways, ContainerRestartPolicy("OnFailure")
	tests := []struct {
		name   string
		mutate func(p *Pod)
		want   []string
	}{
		{"sidecar with probes and hooks", func(p *Pod) {
			c := &p.Spec.InitContainers[0]
			c.RestartPolicy = &always
			c.ReadinessProbe = &Probe{ProbeHandler: ProbeHandler{Exec: &ExecAction{Command: []string{"true"}}}, PeriodSeconds: 1,
				TimeoutSeconds: 1, SuccessThreshold: 1, FailureThreshold: 1}
			c.Lifecycle = &Lifecycle{PreStop: &LifecycleHandler{Sleep: &SleepAction{Seconds: 1}}}
		}, nil},
		{"init container restartPolicy other than Always", func(p *Pod) { p.Spec.InitContainers[0].RestartPolicy = &onFailure }, []string{
			`spec.initContainers[0].restartPolicy: Unsupported value: "OnFailure": supported values: "Always"`}},
		{"restartPolicy on an app container", func(p *Pod) { p.Spec.Containers[0].RestartPolicy = &always }, []string{
			`spec.containers[0].restartPolicy: Forbidden: may not be set for non-init containers`}},
		{"a sidecar's hooks are checked", func(p *Pod) {
			p.Spec.InitContainers[0].RestartPolicy = &always
			p.Spec.InitContainers[0].Lifecycle = &Lifecycle{PostStart: &LifecycleHandler{}}
		}, []string{`spec.initContainers[0].lifecycle.postStart: Required value: must specify a handler type`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := hookedPod()
			tt.mutate(p)
			got := causeStrings(t, ValidatePod(p))
			if strings.Join(got, "\n") != strings.Join(tt.want, "\n") {
				t.Errorf("got\n  %s\nwant\n  %s", strings.Join(got, "\n  "), strings.Join(tt.want, "\n  "))
			}
		})
	}
}

func TestPodHostPortsSidecar(t *testing.T) {
	always := ContainerRestartPolicyAlways
	p := validPod()
	p.Spec.Containers = p.Spec.Containers[:1]
	p.Spec.Containers[0].Ports = []ContainerPort{{ContainerPort: 80, HostPort: 8080}}
	p.Spec.InitContainers = []Container{
		{Name: "plain", Image: "b", Ports: []ContainerPort{{ContainerPort: 1, HostPort: 9001}}},
		{Name: "side", Image: "b", RestartPolicy: &always, Ports: []ContainerPort{{ContainerPort: 53, HostPort: 5353, Protocol: ProtocolUDP}}},
	}
	got := PodHostPorts(p)
	want := []HostPort{{Protocol: ProtocolUDP, Port: 5353}, {Protocol: ProtocolTCP, Port: 8080}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("PodHostPorts = %v, want %v (a sidecar's ports count, a plain init container's do not)", got, want)
	}
}
