// Package serviceenv makes the environment variables kubelet gives every
// container for the Services it may talk to: {SVC}_SERVICE_HOST,
// {SVC}_SERVICE_PORT, {SVC}_SERVICE_PORT_{PORT} and the Docker-link
// {SVC}_PORT… variables. Programs written before cluster DNS (and many
// since) find their dependencies this way, so a pod must see them exactly
// as on Kubernetes.
//
// It is pure: the caller passes the Services of the state; nothing is read.
package serviceenv

import (
	"cmp"
	"fmt"
	"net"
	"slices"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// masterService is the API server's Service in the default namespace; its
// variables go to every pod, even with enableServiceLinks false, because
// in-cluster clients (client-go's InClusterConfig) find the API with them.
const masterService = "kubernetes"

// FromServices is kubelet's envvars.FromServices: for each service with a
// cluster IP, in the order given, HOST, PORT (the first port), PORT_<NAME>
// for each named port, then the Docker-link variables. Headless and
// ExternalName services (no cluster IP) have none.
func FromServices(services []*corev1.Service) []corev1.EnvVar {
	var result []corev1.EnvVar
	for _, svc := range services {
		if !hasClusterIP(svc) || len(svc.Spec.Ports) == 0 {
			continue
		}
		prefix := envName(svc.Name)
		result = append(result, corev1.EnvVar{Name: prefix + "_SERVICE_HOST", Value: svc.Spec.ClusterIP})
		name := prefix + "_SERVICE_PORT"
		result = append(result, corev1.EnvVar{Name: name, Value: strconv.Itoa(int(svc.Spec.Ports[0].Port))})
		// Only the first port may be unnamed (API validation).
		for _, sp := range svc.Spec.Ports {
			if sp.Name != "" {
				result = append(result, corev1.EnvVar{Name: name + "_" + envName(sp.Name), Value: strconv.Itoa(int(sp.Port))})
			}
		}
		result = append(result, linkVariables(svc, prefix)...)
	}
	return result
}

// linkVariables are the variables Docker's --link set, which kubelet keeps:
// <SVC>_PORT=tcp://ip:port for the first port, and per port
// <SVC>_PORT_<port>_<PROTO>{,_PROTO,_PORT,_ADDR}.
func linkVariables(svc *corev1.Service, prefix string) []corev1.EnvVar {
	var all []corev1.EnvVar
	for i, sp := range svc.Spec.Ports {
		protocol := string(corev1.ProtocolTCP)
		if sp.Protocol != "" {
			protocol = string(sp.Protocol)
		}
		lower := strings.ToLower(protocol)
		url := fmt.Sprintf("%s://%s", lower, net.JoinHostPort(svc.Spec.ClusterIP, strconv.Itoa(int(sp.Port))))
		if i == 0 {
			all = append(all, corev1.EnvVar{Name: prefix + "_PORT", Value: url})
		}
		pp := fmt.Sprintf("%s_PORT_%d_%s", prefix, sp.Port, strings.ToUpper(protocol))
		all = append(all,
			corev1.EnvVar{Name: pp, Value: url},
			corev1.EnvVar{Name: pp + "_PROTO", Value: lower},
			corev1.EnvVar{Name: pp + "_PORT", Value: strconv.Itoa(int(sp.Port))},
			corev1.EnvVar{Name: pp + "_ADDR", Value: svc.Spec.ClusterIP},
		)
	}
	return all
}

// envName is kubelet's makeEnvVariableName: upper case, '-' → '_'.
func envName(s string) string {
	return strings.ToUpper(strings.ReplaceAll(s, "-", "_"))
}

// hasClusterIP is v1helper.IsServiceIPSet: a cluster IP that is neither
// empty nor "None".
func hasClusterIP(svc *corev1.Service) bool {
	return svc != nil && svc.Spec.ClusterIP != "" && svc.Spec.ClusterIP != corev1.ClusterIPNone
}

// ForPod is kubelet's getServiceEnvVarMap: the variables of the services
// of the pod's namespace when spec.enableServiceLinks is true (nil counts
// as true, the API default), and always those of default/kubernetes. A
// service of the pod's own namespace named "kubernetes" takes the place
// of the API server's, as in kubelet.
//
// kubelet collects them in maps, so its order is random; here services
// are taken by name, each service's variables in FromServices' order.
// When two services would set the same variable the later name wins.
func ForPod(pod *corev1.Pod, services []*corev1.Service) []corev1.EnvVar {
	links := pod.Spec.EnableServiceLinks == nil || *pod.Spec.EnableServiceLinks
	chosen := map[string]*corev1.Service{}
	for _, svc := range services {
		if !hasClusterIP(svc) {
			continue
		}
		switch {
		case svc.Namespace == pod.Namespace && links:
			chosen[svc.Name] = svc
		case svc.Namespace == metav1.NamespaceDefault && svc.Name == masterService:
			if _, taken := chosen[svc.Name]; !taken {
				chosen[svc.Name] = svc
			}
		}
	}
	list := make([]*corev1.Service, 0, len(chosen))
	for _, svc := range chosen {
		list = append(list, svc)
	}
	slices.SortFunc(list, func(a, b *corev1.Service) int { return cmp.Compare(a.Name, b.Name) })
	vars := FromServices(list)
	// One value per name, the last one, where the name first appeared.
	pos := make(map[string]int, len(vars))
	out := vars[:0]
	for _, v := range vars {
		if i, ok := pos[v.Name]; ok {
			out[i].Value = v.Value
			continue
		}
		pos[v.Name] = len(out)
		out = append(out, v)
	}
	return out
}

// WithServiceEnv returns a container's env with the service variables put
// before it. Read in order, with a later entry overriding an earlier one
// of the same name and $(NAME) expanded against the entries before it —
// as gossipod's runtime reads a container's env — this is kubelet's
// precedence exactly: the container's own variables win, a $(NAME) in a
// container value sees the container's earlier variables first and the
// service variables otherwise, and command and args see the container's
// value over the service's.
func WithServiceEnv(containerEnv, serviceEnv []corev1.EnvVar) []corev1.EnvVar {
	if len(serviceEnv) == 0 {
		return containerEnv
	}
	out := make([]corev1.EnvVar, 0, len(serviceEnv)+len(containerEnv))
	out = append(out, serviceEnv...)
	return append(out, containerEnv...)
}
