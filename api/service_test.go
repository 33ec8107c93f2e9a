package api

import (
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

func TestSetServiceDefaults(t *testing.T) {
	svc := &Service{ObjectMeta: ObjectMeta{Name: "web"}, Spec: ServiceSpec{
		Type:            ServiceTypeNodePort,
		SessionAffinity: corev1.ServiceAffinityClientIP,
		Ports:           []ServicePort{{Port: 80}, {Port: 53, Protocol: ProtocolUDP, TargetPort: intstr.FromString("dns")}},
	}}
	SetServiceDefaults(svc)
	s := svc.Spec
	checks := []struct {
		name      string
		got, want any
	}{
		{"namespace", svc.Namespace, DefaultNamespace},
		{"protocol", s.Ports[0].Protocol, ProtocolTCP},
		{"targetPort from port", s.Ports[0].TargetPort, intstr.FromInt32(80)},
		{"named targetPort kept", s.Ports[1].TargetPort, intstr.FromString("dns")},
		{"externalTrafficPolicy", s.ExternalTrafficPolicy, corev1.ServiceExternalTrafficPolicyCluster},
		{"internalTrafficPolicy", *s.InternalTrafficPolicy, corev1.ServiceInternalTrafficPolicyCluster},
		{"affinity timeout", *s.SessionAffinityConfig.ClientIP.TimeoutSeconds, int32(10800)},
		{"ipFamilies", len(s.IPFamilies) == 1 && s.IPFamilies[0] == corev1.IPv4Protocol, true},
		{"ipFamilyPolicy", *s.IPFamilyPolicy, corev1.IPFamilyPolicySingleStack},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s = %v, want %v", c.name, c.got, c.want)
		}
	}
	ext := &Service{ObjectMeta: ObjectMeta{Name: "db"}, Spec: ServiceSpec{ExternalName: "db.example.com"}}
	SetServiceDefaults(ext)
	if ext.Spec.Type != ServiceTypeExternalName || ext.Spec.IPFamilies != nil {
		t.Errorf("externalName only: type %q families %v, want ExternalName and none", ext.Spec.Type, ext.Spec.IPFamilies)
	}
}

func TestValidateService(t *testing.T) {
	valid := func() *Service {
		return &Service{ObjectMeta: ObjectMeta{Name: "web", Namespace: "default"}, Spec: ServiceSpec{
			Selector: map[string]string{"app": "web"},
			Ports:    []ServicePort{{Name: "http", Port: 80}, {Name: "https", Port: 443}},
		}}
	}
	tests := []struct {
		name   string
		change func(*Service)
		want   []string // causes, in kube-apiserver's words; none for valid
	}{
		{"valid", func(*Service) {}, nil},
		{"headless without ports", func(s *Service) { s.Spec.ClusterIP = ClusterIPNone; s.Spec.Ports = nil }, nil},
		{"no ports", func(s *Service) { s.Spec.Ports = nil }, []string{"spec.ports: Required value"}},
		{"unnamed among several", func(s *Service) { s.Spec.Ports[1].Name = "" }, []string{"spec.ports[1].name: Required value"}},
		{"duplicate name", func(s *Service) { s.Spec.Ports[1].Name = "http" }, []string{`spec.ports[1].name: Duplicate value: "http"`}},
		{"duplicate port", func(s *Service) { s.Spec.Ports[1].Port = 80 }, []string{`spec.ports[1]: Duplicate value: "TCP/80"`}},
		{"port out of range", func(s *Service) { s.Spec.Ports[0].Port = 70000 }, []string{"spec.ports[0].port: Invalid value: 70000: must be between 1 and 65535, inclusive"}},
		{"bad named targetPort", func(s *Service) { s.Spec.Ports[0].TargetPort = intstr.FromString("HTTP_") }, []string{"spec.ports[0].targetPort: Invalid value"}},
		{"nodePort on ClusterIP", func(s *Service) { s.Spec.Ports[0].NodePort = 30080 }, []string{"spec.ports[0].nodePort: Forbidden: may not be used when `type` is 'ClusterIP'"}},
		{"nodePort out of range", func(s *Service) { s.Spec.Type = ServiceTypeNodePort; s.Spec.Ports[0].NodePort = 80 },
			[]string{"spec.ports[0].nodePort: Invalid value: 80: provided port is not in the valid range. The range of valid ports is 30000-32767"}},
		{"LoadBalancer", func(s *Service) { s.Spec.Type = corev1.ServiceTypeLoadBalancer }, []string{`spec.type: Unsupported value: "LoadBalancer"`}},
		{"headless NodePort", func(s *Service) { s.Spec.Type = ServiceTypeNodePort; s.Spec.ClusterIP = ClusterIPNone },
			[]string{"spec.clusterIPs[0]: Invalid value: \"None\": may not be set to 'None' for NodePort services"}},
		{"externalTrafficPolicy on ClusterIP", func(s *Service) { s.Spec.ExternalTrafficPolicy = corev1.ServiceExternalTrafficPolicyLocal },
			[]string{"spec.externalTrafficPolicy: Invalid value: \"Local\": may only be set when `type` is 'NodePort' or 'LoadBalancer'"}},
		{"IPv6", func(s *Service) { s.Spec.IPFamilies = []corev1.IPFamily{corev1.IPv6Protocol} }, []string{`spec.ipFamilies[0]: Unsupported value: "IPv6"`}},
		{"name not a DNS label", func(s *Service) { s.Name = "1web" }, []string{`metadata.name: Invalid value: "1web"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := valid()
			tt.change(s)
			SetServiceDefaults(s)
			err := ValidateService(s)
			if len(tt.want) == 0 {
				if err != nil {
					t.Fatalf("ValidateService: %v, want nil", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("ValidateService: nil, want %v", tt.want)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
		})
	}
}
