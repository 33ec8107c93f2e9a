package runtime

import (
	"github.com/gossipod/gossipod/api"
	"github.com/gossipod/gossipod/runtime/serviceenv"
)

// serviceEnv is kubelet's getServiceEnvVarMap for the worker's pod, read
// from the state when a container starts (so a container started after a
// Service sees it, as on Kubernetes, and one started before does not):
// the variables of the Services of the pod's namespace when
// enableServiceLinks is true or unset, and those of default/kubernetes
// always.
func (w *podWorker) serviceEnv() []api.EnvVar {
	list := w.r.cfg.Services
	if list == nil {
		return nil
	}
	pod := w.st.Pod
	links := pod.Spec.EnableServiceLinks == nil || *pod.Spec.EnableServiceLinks
	var services []*api.Service
	if links {
		services = list(pod.Namespace)
	}
	if !links || pod.Namespace != api.DefaultNamespace {
		for _, svc := range list(api.DefaultNamespace) {
			if svc.Name == api.KubernetesServiceName {
				services = append(services, svc)
			}
		}
	}
	return serviceenv.ForPod(pod, services)
}

// envSources is what the worker's containers' env reads besides their
// spec: the pod, its address, the node's, and the state's ConfigMaps and
// Secrets.
func (w *podWorker) envSources() envSources {
	return envSources{
		pod:         w.st.Pod,
		podIP:       w.st.PodIP,
		hostIP:      w.r.cfg.HostIP,
		allocatable: w.r.cfg.Allocatable,
		configMap:   w.r.cfg.ConfigMap,
		secret:      w.r.cfg.Secret,
	}
}
