package serviceproxy

import (
	"fmt"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// svc builds a ClusterIP Service; opts change it.
func svc(ns, name, clusterIP string, ports []corev1.ServicePort, opts ...func(*corev1.Service)) *corev1.Service {
	s := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: corev1.ServiceSpec{
			Type: corev1.ServiceTypeClusterIP, ClusterIP: clusterIP, ClusterIPs: []string{clusterIP},
			Ports: ports,
		},
	}
	for _, o := range opts {
		o(s)
	}
	return s
}

func port(name string, proto corev1.Protocol, p int32, target string) corev1.ServicePort {
	return corev1.ServicePort{Name: name, Protocol: proto, Port: p, TargetPort: intstr.Parse(target)}
}

func nodePort(n int32) func(*corev1.Service) {
	return func(s *corev1.Service) {
		s.Spec.Type = corev1.ServiceTypeNodePort
		for i := range s.Spec.Ports {
			s.Spec.Ports[i].NodePort = n + int32(i)
		}
	}
}

func externalLocal(s *corev1.Service) {
	s.Spec.ExternalTrafficPolicy = corev1.ServiceExternalTrafficPolicyLocal
}

func internalLocal(s *corev1.Service) {
	l := corev1.ServiceInternalTrafficPolicyLocal
	s.Spec.InternalTrafficPolicy = &l
}

func affinity(seconds int32) func(*corev1.Service) {
	return func(s *corev1.Service) {
		s.Spec.SessionAffinity = corev1.ServiceAffinityClientIP
		if seconds > 0 {
			s.Spec.SessionAffinityConfig = &corev1.SessionAffinityConfig{ClientIP: &corev1.ClientIPConfig{TimeoutSeconds: &seconds}}
		}
	}
}

// ep is one endpoint of a slice: address, node, and its conditions.
type ep struct {
	ip, node                    string
	notReady, serving, terminat bool
}

func ready(ip, node string) ep { return ep{ip: ip, node: node} }

// terminating is a not-ready endpoint that still serves while it ends.
func terminating(ip, node string, serving bool) ep {
	return ep{ip: ip, node: node, notReady: true, serving: serving, terminat: true}
}

type slicePort struct {
	name  string
	proto corev1.Protocol
	port  int32
}

// slice builds the EndpointSlice of service ns/name.
func slice(ns, name, suffix string, ports []slicePort, eps ...ep) *discoveryv1.EndpointSlice {
	s := &discoveryv1.EndpointSlice{
		ObjectMeta: metav1.ObjectMeta{
			Namespace: ns, Name: fmt.Sprintf("%s-%s", name, suffix),
			Labels: map[string]string{discoveryv1.LabelServiceName: name},
		},
		AddressType: discoveryv1.AddressTypeIPv4,
	}
	for _, p := range ports {
		s.Ports = append(s.Ports, discoveryv1.EndpointPort{Name: ptr(p.name), Protocol: ptr(p.proto), Port: ptr(p.port)})
	}
	for _, e := range eps {
		r := !e.notReady
		serving := r || e.serving
		s.Endpoints = append(s.Endpoints, discoveryv1.Endpoint{
			Addresses: []string{e.ip},
			NodeName:  ptr(e.node),
			Conditions: discoveryv1.EndpointConditions{
				Ready: &r, Serving: &serving, Terminating: ptr(e.terminat),
			},
		})
	}
	return s
}

func ptr[T any](v T) *T { return &v }
