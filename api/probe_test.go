package api

import (
	"reflect"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/util/intstr"
)

// probedPod is a valid pod whose app container has all three probes.
func probedPod() *Pod {
	p := validPod()
	c := &p.Spec.Containers[0]
	c.LivenessProbe = &Probe{ProbeHandler: ProbeHandler{HTTPGet: &HTTPGetAction{Port: intstr.FromString("http"),
		HTTPHeaders: []HTTPHeader{{Name: "X-Probe", Value: "1"}}}}, TerminationGracePeriodSeconds: ptr(int64(5))}
	c.ReadinessProbe = &Probe{ProbeHandler: ProbeHandler{TCPSocket: &TCPSocketAction{Port: intstr.FromInt32(8080)}},
		SuccessThreshold: 2, InitialDelaySeconds: 3}
	c.StartupProbe = &Probe{ProbeHandler: ProbeHandler{Exec: &ExecAction{Command: []string{"true"}}}, FailureThreshold: 30}
	SetPodDefaults(p)
	return p
}

func TestSetPodDefaultsProbes(t *testing.T) {
	p := probedPod()
	c := p.Spec.Containers[0]
	want := Probe{ProbeHandler: ProbeHandler{HTTPGet: &HTTPGetAction{Path: "/", Scheme: URISchemeHTTP, Port: intstr.FromString("http"),
		HTTPHeaders: []HTTPHeader{{Name: "X-Probe", Value: "1"}}}},
		TimeoutSeconds: 1, PeriodSeconds: 10, SuccessThreshold: 1, FailureThreshold: 3, TerminationGracePeriodSeconds: ptr(int64(5))}
	if !reflect.DeepEqual(*c.LivenessProbe, want) {
		t.Errorf("liveness = %+v, want %+v", *c.LivenessProbe, want)
	}
	if r := c.ReadinessProbe; r.SuccessThreshold != 2 || r.InitialDelaySeconds != 3 || r.FailureThreshold != 3 || r.PeriodSeconds != 10 {
		t.Errorf("readiness: set fields must stay, zero ones be defaulted: %+v", *r)
	}
	if s := c.StartupProbe; s.FailureThreshold != 30 || s.TimeoutSeconds != 1 {
		t.Errorf("startup = %+v", *s)
	}
	if err := ValidatePod(p); err != nil {
		t.Fatalf("ValidatePod: %v", err)
	}
}

func TestValidatePodProbes(t *testing.T) {
	exec := ProbeHandler{Exec: &ExecAction{Command: []string{"true"}}}
	tests := []struct {
		name   string
		mutate func(p *Pod)
		want   []string
	}{
		{"no handler", func(p *Pod) { p.Spec.Containers[0].LivenessProbe.ProbeHandler = ProbeHandler{} }, []string{
			`spec.containers[0].livenessProbe: Required value: must specify a handler type`}},
		{"two handlers: the second is refused", func(p *Pod) { p.Spec.Containers[0].LivenessProbe.Exec = exec.Exec }, []string{
			`spec.containers[0].livenessProbe.httpGet: Forbidden: may not specify more than 1 handler type`}},
		{"exec without a command", func(p *Pod) { p.Spec.Containers[0].StartupProbe.Exec.Command = nil }, []string{
			`spec.containers[0].startupProbe.exec.command: Required value`}},
		{"httpGet path, scheme, port name, header", func(p *Pod) {
			g := p.Spec.Containers[0].LivenessProbe.HTTPGet
			g.Path, g.Scheme, g.Port = "", "ftp", intstr.FromString("Not_A_Name")
			g.HTTPHeaders[0].Name = "bad header"
		}, []string{
			`spec.containers[0].livenessProbe.httpGet.path: Required value`,
			`spec.containers[0].livenessProbe.httpGet.port: Invalid value: "Not_A_Name": must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)`,
			`spec.containers[0].livenessProbe.httpGet.scheme: Unsupported value: "ftp": supported values: "HTTP", "HTTPS"`,
			`spec.containers[0].livenessProbe.httpGet.httpHeaders: Invalid value: "bad header": a valid HTTP header must consist of alphanumeric characters or '-' (e.g. 'X-Header-Name', regex used for validation is '[-A-Za-z0-9]+')`}},
		{"tcpSocket port out of range", func(p *Pod) { p.Spec.Containers[0].ReadinessProbe.TCPSocket.Port = intstr.FromInt32(70000) }, []string{
			`spec.containers[0].readinessProbe.tcpSocket.port: Invalid value: 70000: must be between 1 and 65535, inclusive`}},
		{"grpc port missing, and out of range", func(p *Pod) {
			p.Spec.Containers[0].ReadinessProbe.ProbeHandler = ProbeHandler{GRPC: &GRPCAction{}}
			p.Spec.Containers[0].StartupProbe.ProbeHandler = ProbeHandler{GRPC: &GRPCAction{Port: 65536}}
		}, []string{
			`spec.containers[0].readinessProbe.grpc.port: Invalid value: 0: must be between 1 and 65535, inclusive`,
			`spec.containers[0].startupProbe.grpc.port: Invalid value: 65536: must be between 1 and 65535, inclusive`}},
		{"grpc beside another handler is refused", func(p *Pod) {
			p.Spec.Containers[0].StartupProbe.GRPC = &GRPCAction{Port: 9000}
		}, []string{
			`spec.containers[0].startupProbe.grpc: Forbidden: may not specify more than 1 handler type`}},
		{"negative timings", func(p *Pod) {
			r := p.Spec.Containers[0].ReadinessProbe
			r.InitialDelaySeconds, r.TimeoutSeconds, r.PeriodSeconds, r.SuccessThreshold, r.FailureThreshold = -1, -1, -1, -1, -1
		}, []string{
			`spec.containers[0].readinessProbe.initialDelaySeconds: Invalid value: -1: must be greater than or equal to 0`,
			`spec.containers[0].readinessProbe.timeoutSeconds: Invalid value: -1: must be greater than or equal to 0`,
			`spec.containers[0].readinessProbe.periodSeconds: Invalid value: -1: must be greater than or equal to 0`,
			`spec.containers[0].readinessProbe.successThreshold: Invalid value: -1: must be greater than or equal to 0`,
			`spec.containers[0].readinessProbe.failureThreshold: Invalid value: -1: must be greater than or equal to 0`}},
		{"successThreshold must be 1 for liveness and startup", func(p *Pod) {
			p.Spec.Containers[0].LivenessProbe.SuccessThreshold = 2
			p.Spec.Containers[0].StartupProbe.SuccessThreshold = 3
		}, []string{
			`spec.containers[0].livenessProbe.successThreshold: Invalid value: 2: must be 1`,
			`spec.containers[0].startupProbe.successThreshold: Invalid value: 3: must be 1`}},
		{"terminationGracePeriodSeconds", func(p *Pod) {
			p.Spec.Containers[0].LivenessProbe.TerminationGracePeriodSeconds = ptr(int64(0))
			p.Spec.Containers[0].ReadinessProbe.TerminationGracePeriodSeconds = ptr(int64(5))
		}, []string{
			`spec.containers[0].livenessProbe.terminationGracePeriodSeconds: Invalid value: 0: must be greater than 0`,
			`spec.containers[0].readinessProbe.terminationGracePeriodSeconds: Invalid value: 5: must not be set for readinessProbes`}},
		{"probes on an init container", func(p *Pod) {
			p.Spec.InitContainers[0].LivenessProbe = &Probe{ProbeHandler: exec}
			p.Spec.InitContainers[0].StartupProbe = &Probe{ProbeHandler: exec}
		}, []string{
			`spec.initContainers[0].livenessProbe: Forbidden: may not be set for init containers without restartPolicy=Always`,
			`spec.initContainers[0].startupProbe: Forbidden: may not be set for init containers without restartPolicy=Always`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := probedPod()
			tt.mutate(p)
			got := causeStrings(t, ValidatePod(p))
			if strings.Join(got, "\n") != strings.Join(tt.want, "\n") {
				t.Errorf("got\n  %s\nwant\n  %s", strings.Join(got, "\n  "), strings.Join(tt.want, "\n  "))
			}
		})
	}
}

func TestDecodeProbes(t *testing.T) {
	in := podYAML("web") + `    ports: [{name: http, containerPort: 8080}]
    livenessProbe:
      httpGet: {port: http, httpHeaders: [{name: Host, value: example.test}]}
      terminationGracePeriodSeconds: 3
    readinessProbe:
      tcpSocket: {port: 8080}
      periodSeconds: 2
    startupProbe:
      exec: {command: [cat, /tmp/ready]}
      failureThreshold: 30
  - name: api
    image: busybox
    livenessProbe:
      grpc: {port: 9000, service: api.v1}
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
	c := p.Spec.Containers[0]
	if g := p.Spec.Containers[1].LivenessProbe.GRPC; g == nil || g.Port != 9000 || g.Service == nil || *g.Service != "api.v1" {
		t.Errorf("decoded grpc probe: %+v", p.Spec.Containers[1].LivenessProbe)
	}
	if c.LivenessProbe.HTTPGet.Port.StrVal != "http" || c.LivenessProbe.HTTPGet.Path != "/" ||
		c.ReadinessProbe.PeriodSeconds != 2 || c.StartupProbe.Exec.Command[1] != "/tmp/ready" {
		t.Errorf("decoded probes: %+v %+v %+v", c.LivenessProbe, c.ReadinessProbe, c.StartupProbe)
	}
}
