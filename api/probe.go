package api

import (
	"fmt"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// Probe is a container probe, Kubernetes' own type: a check the node runs
// on a running container every periodSeconds. A livenessProbe that fails
// failureThreshold times in a row restarts the container, a readinessProbe
// decides whether the container (and so the pod) is Ready, and a
// startupProbe holds the other two back until it succeeds once. gossipod
// implements the four handlers (exec, httpGet, tcpSocket, grpc) and every
// timing field.
type Probe = corev1.Probe

// ProbeHandler is a probe's check: exactly one of exec, httpGet, tcpSocket,
// grpc.
type ProbeHandler = corev1.ProbeHandler

// GRPCAction calls grpc.health.v1.Health/Check on the pod's IP and port,
// without TLS, with the service name; SERVING is success.
type GRPCAction = corev1.GRPCAction

// ExecAction runs a command in the container; exit status 0 is success.
type ExecAction = corev1.ExecAction

// HTTPGetAction sends a GET; a status from 200 to 399 is success.
type HTTPGetAction = corev1.HTTPGetAction

// HTTPHeader is one header an httpGet probe sends.
type HTTPHeader = corev1.HTTPHeader

// TCPSocketAction opens a TCP connection; connecting is success.
type TCPSocketAction = corev1.TCPSocketAction

// URIScheme is an httpGet probe's scheme, HTTP or HTTPS.
type URIScheme = corev1.URIScheme

// The URI schemes of httpGet probes.
const (
	URISchemeHTTP  = corev1.URISchemeHTTP
	URISchemeHTTPS = corev1.URISchemeHTTPS
)

// Probe defaults, kube-apiserver's (SetDefaults_Probe, SetDefaults_HTTPGetAction).
const (
	DefaultProbeTimeoutSeconds    int32 = 1
	DefaultProbePeriodSeconds     int32 = 10
	DefaultProbeSuccessThreshold  int32 = 1
	DefaultProbeFailureThreshold  int32 = 3
	DefaultHTTPGetPath                  = "/"
	DefaultHTTPGetScheme                = URISchemeHTTP
	probeForbiddenOnInitContainer       = "may not be set for init containers without restartPolicy=Always"
	probeMoreThanOneHandler             = "may not specify more than 1 handler type"
)

// setProbeDefaults fills in a probe's zero fields as kube-apiserver does.
func setProbeDefaults(p *Probe) {
	if p == nil {
		return
	}
	if p.TimeoutSeconds == 0 {
		p.TimeoutSeconds = DefaultProbeTimeoutSeconds
	}
	if p.PeriodSeconds == 0 {
		p.PeriodSeconds = DefaultProbePeriodSeconds
	}
	if p.SuccessThreshold == 0 {
		p.SuccessThreshold = DefaultProbeSuccessThreshold
	}
	if p.FailureThreshold == 0 {
		p.FailureThreshold = DefaultProbeFailureThreshold
	}
	if h := p.HTTPGet; h != nil {
		if h.Path == "" {
			h.Path = DefaultHTTPGetPath
		}
		if h.Scheme == "" {
			h.Scheme = DefaultHTTPGetScheme
		}
	}
}

// validateProbes checks a container's probes as kube-apiserver does:
// forbidden on an init container that is not a sidecar (init is false for
// a sidecar);
// otherwise one handler each, non-negative timings, successThreshold 1
// for liveness and startup, terminationGracePeriodSeconds positive and
// only for liveness and startup.
func validateProbes(c *Container, fld *field.Path, init bool) field.ErrorList {
	var errs field.ErrorList
	if init {
		for _, p := range []struct {
			name  string
			probe *Probe
		}{{"livenessProbe", c.LivenessProbe}, {"readinessProbe", c.ReadinessProbe}, {"startupProbe", c.StartupProbe}} {
			if p.probe != nil {
				errs = append(errs, field.Forbidden(fld.Child(p.name), probeForbiddenOnInitContainer))
			}
		}
		return errs
	}
	if p := c.LivenessProbe; p != nil {
		f := fld.Child("livenessProbe")
		errs = append(errs, validateProbe(p, f)...)
		if p.SuccessThreshold != 1 {
			errs = append(errs, field.Invalid(f.Child("successThreshold"), p.SuccessThreshold, "must be 1"))
		}
	}
	if p := c.ReadinessProbe; p != nil {
		f := fld.Child("readinessProbe")
		errs = append(errs, validateProbe(p, f)...)
		if p.TerminationGracePeriodSeconds != nil {
			errs = append(errs, field.Invalid(f.Child("terminationGracePeriodSeconds"), *p.TerminationGracePeriodSeconds, "must not be set for readinessProbes"))
		}
	}
	if p := c.StartupProbe; p != nil {
		f := fld.Child("startupProbe")
		errs = append(errs, validateProbe(p, f)...)
		if p.SuccessThreshold != 1 {
			errs = append(errs, field.Invalid(f.Child("successThreshold"), p.SuccessThreshold, "must be 1"))
		}
	}
	return errs
}

// validateProbe is kube-apiserver's validateProbe: the handler, then the
// timings.
func validateProbe(p *Probe, fld *field.Path) field.ErrorList {
	errs := validateProbeHandler(&p.ProbeHandler, fld)
	for _, f := range []struct {
		name string
		v    int32
	}{
		{"initialDelaySeconds", p.InitialDelaySeconds},
		{"timeoutSeconds", p.TimeoutSeconds},
		{"periodSeconds", p.PeriodSeconds},
		{"successThreshold", p.SuccessThreshold},
		{"failureThreshold", p.FailureThreshold},
	} {
		if f.v < 0 {
			errs = append(errs, field.Invalid(fld.Child(f.name), f.v, isNegativeErrorMsg))
		}
	}
	if g := p.TerminationGracePeriodSeconds; g != nil && *g <= 0 {
		errs = append(errs, field.Invalid(fld.Child("terminationGracePeriodSeconds"), *g, "must be greater than 0"))
	}
	return errs
}

// validateProbeHandler is kube-apiserver's validateHandler for a probe.
func validateProbeHandler(h *ProbeHandler, fld *field.Path) field.ErrorList {
	return validateOneHandler(fld,
		handlerCheck{"exec", h.Exec != nil, func(f *field.Path) field.ErrorList { return validateExecAction(h.Exec, f) }},
		handlerCheck{"httpGet", h.HTTPGet != nil, func(f *field.Path) field.ErrorList { return validateHTTPGetAction(h.HTTPGet, f) }},
		handlerCheck{"tcpSocket", h.TCPSocket != nil, func(f *field.Path) field.ErrorList {
			return validatePortNumOrName(h.TCPSocket.Port, f.Child("port"))
		}},
		// kube-apiserver's validateGRPCAction: a port number (no name).
		handlerCheck{"grpc", h.GRPC != nil, func(f *field.Path) field.ErrorList {
			return validatePortNumOrName(intstr.FromInt32(h.GRPC.Port), f.Child("port"))
		}},
	)
}

// handlerCheck is one kind of handler a probe or hook may set, and how to
// validate it when set.
type handlerCheck struct {
	name  string
	set   bool
	check func(*field.Path) field.ErrorList
}

// validateOneHandler is what kube-apiserver's validateHandler does for
// probes and hooks alike: exactly one handler; the second one set, in the
// order given, is the one refused.
func validateOneHandler(fld *field.Path, handlers ...handlerCheck) field.ErrorList {
	var errs field.ErrorList
	n := 0
	for _, h := range handlers {
		if !h.set {
			continue
		}
		f := fld.Child(h.name)
		if n > 0 {
			errs = append(errs, field.Forbidden(f, probeMoreThanOneHandler))
			continue
		}
		n++
		errs = append(errs, h.check(f)...)
	}
	if n == 0 {
		errs = append(errs, field.Required(fld, "must specify a handler type"))
	}
	return errs
}

func validateExecAction(e *ExecAction, fld *field.Path) field.ErrorList {
	if len(e.Command) == 0 {
		return field.ErrorList{field.Required(fld.Child("command"), "")}
	}
	return nil
}

func validateHTTPGetAction(g *HTTPGetAction, fld *field.Path) field.ErrorList {
	var errs field.ErrorList
	if g.Path == "" {
		errs = append(errs, field.Required(fld.Child("path"), ""))
	}
	errs = append(errs, validatePortNumOrName(g.Port, fld.Child("port"))...)
	if g.Scheme != URISchemeHTTP && g.Scheme != URISchemeHTTPS {
		errs = append(errs, field.NotSupported(fld.Child("scheme"), g.Scheme, []URIScheme{URISchemeHTTP, URISchemeHTTPS}))
	}
	for _, h := range g.HTTPHeaders {
		for _, msg := range validation.IsHTTPHeaderName(h.Name) {
			errs = append(errs, field.Invalid(fld.Child("httpHeaders"), h.Name, msg))
		}
	}
	return errs
}

// validatePortNumOrName is kube-apiserver's ValidatePortNumOrName.
func validatePortNumOrName(port intstr.IntOrString, fld *field.Path) field.ErrorList {
	var errs field.ErrorList
	switch port.Type {
	case intstr.Int:
		for _, msg := range validation.IsValidPortNum(port.IntValue()) {
			errs = append(errs, field.Invalid(fld, port.IntValue(), msg))
		}
	case intstr.String:
		if port.StrVal == "" {
			return field.ErrorList{field.Required(fld, "")}
		}
		for _, msg := range validation.IsValidPortName(port.StrVal) {
			errs = append(errs, field.Invalid(fld, port.StrVal, msg))
		}
	default:
		errs = append(errs, field.InternalError(fld, fmt.Errorf("unknown type: %v", port.Type)))
	}
	return errs
}
