package api

import (
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// Lifecycle is a container's lifecycle hooks, Kubernetes' own type:
// postStart runs right after the container starts, and the container does
// not count as started (nor does the next one start) until it returns;
// preStop runs before the container is sent SIGTERM, within the pod's
// grace period. stopSignal is not implemented (refused at decoding).
type Lifecycle = corev1.Lifecycle

// LifecycleHandler is one hook: exactly one of exec, httpGet, sleep.
// tcpSocket is refused: kube-apiserver keeps it for compatibility only and
// kubelet fails every hook that uses it, so gossipod says so up front.
type LifecycleHandler = corev1.LifecycleHandler

// SleepAction makes a hook wait, on the node, for its seconds.
type SleepAction = corev1.SleepAction

// initContainerLifecycleForbidden is kube-apiserver's wording: only a
// sidecar (an init container with restartPolicy Always) may have hooks.
const initContainerLifecycleForbidden = "may not be set for init containers without restartPolicy=Always"

// setLifecycleDefaults fills in a hook's httpGet path and scheme, as
// kube-apiserver's SetDefaults_HTTPGetAction does for every httpGet.
func setLifecycleDefaults(l *Lifecycle) {
	if l == nil {
		return
	}
	for _, h := range []*LifecycleHandler{l.PostStart, l.PreStop} {
		if h == nil || h.HTTPGet == nil {
			continue
		}
		if h.HTTPGet.Path == "" {
			h.HTTPGet.Path = DefaultHTTPGetPath
		}
		if h.HTTPGet.Scheme == "" {
			h.HTTPGet.Scheme = DefaultHTTPGetScheme
		}
	}
}

// validateLifecycle is kube-apiserver's validateLifecycle: forbidden on an
// init container that is not a sidecar; each hook has exactly one handler,
// checked as a probe's would be. A sleep longer than the grace period is
// only a warning upstream (the hook is cut at the end of the grace
// period), so it is accepted here.
func validateLifecycle(c *Container, fld *field.Path, init bool) field.ErrorList {
	l := c.Lifecycle
	if l == nil {
		return nil
	}
	fld = fld.Child("lifecycle")
	if init {
		return field.ErrorList{field.Forbidden(fld, initContainerLifecycleForbidden)}
	}
	var errs field.ErrorList
	if l.PostStart != nil {
		errs = append(errs, validateLifecycleHandler(l.PostStart, fld.Child("postStart"))...)
	}
	if l.PreStop != nil {
		errs = append(errs, validateLifecycleHandler(l.PreStop, fld.Child("preStop"))...)
	}
	if l.StopSignal != nil {
		// Strict decoding refuses stopSignal first.
		errs = append(errs, field.Forbidden(fld.Child("stopSignal"), "not supported"))
	}
	return errs
}

// validateLifecycleHandler is kube-apiserver's validateHandler for a hook
// (handlers in its order: exec, httpGet, tcpSocket, sleep).
func validateLifecycleHandler(h *LifecycleHandler, fld *field.Path) field.ErrorList {
	return validateOneHandler(fld,
		handlerCheck{"exec", h.Exec != nil, func(f *field.Path) field.ErrorList { return validateExecAction(h.Exec, f) }},
		handlerCheck{"httpGet", h.HTTPGet != nil, func(f *field.Path) field.ErrorList { return validateHTTPGetAction(h.HTTPGet, f) }},
		handlerCheck{"tcpSocket", h.TCPSocket != nil, func(f *field.Path) field.ErrorList {
			return field.ErrorList{field.NotSupported(f, "tcpSocket", []string{"exec", "httpGet", "sleep"})}
		}},
		handlerCheck{"sleep", h.Sleep != nil, func(f *field.Path) field.ErrorList {
			if h.Sleep.Seconds < 0 {
				return field.ErrorList{field.Invalid(f, h.Sleep.Seconds, "must be non-negative")}
			}
			return nil
		}},
	)
}

// ContainerRestartPolicy is a container's own restart policy; only an
// init container may have one, Always.
type ContainerRestartPolicy = corev1.ContainerRestartPolicy

// ContainerRestartPolicyAlways is the one restartPolicy an init container
// may have: it makes the init container a sidecar.
const ContainerRestartPolicyAlways = corev1.ContainerRestartPolicyAlways

// IsSidecar reports whether c, an init container, is a native sidecar
// (restartPolicy Always, KEP-753): started in order with the other init
// containers, but the next one starts as soon as it has started; it keeps
// running beside the app containers, is restarted whenever it exits,
// whatever the pod's restart policy, does not hold the pod's completion
// back, and is stopped after the app containers, in reverse order.
func IsSidecar(c *Container) bool {
	return c.RestartPolicy != nil && *c.RestartPolicy == ContainerRestartPolicyAlways
}

// validateContainerRestartPolicy is kube-apiserver's: on an init
// container only Always; on an app container none.
func validateContainerRestartPolicy(c *Container, fld *field.Path, init bool) field.ErrorList {
	if c.RestartPolicy == nil {
		return nil
	}
	fld = fld.Child("restartPolicy")
	if !init {
		return field.ErrorList{field.Forbidden(fld, "may not be set for non-init containers")}
	}
	if *c.RestartPolicy != ContainerRestartPolicyAlways {
		return field.ErrorList{field.NotSupported(fld, *c.RestartPolicy, []corev1.ContainerRestartPolicy{ContainerRestartPolicyAlways})}
	}
	return nil
}
