package api

import "strings"

// Defaults that SetPodDefaults fills in, as the Kubernetes API server does.
const (
	// DefaultNamespace is the namespace of an object that names none.
	DefaultNamespace = "default"
	// DefaultTerminationGracePeriodSeconds is the time containers get
	// between SIGTERM and SIGKILL when the pod does not say.
	DefaultTerminationGracePeriodSeconds int64 = 30
)

// SetPodDefaults fills in what a manifest may leave out, exactly where the
// Kubernetes API server would, so that the stored pod says what will run and
// placement, the runtime and `get -o yaml` never guess:
//
//   - metadata.namespace: "default";
//   - spec.serviceAccountName (and its alias serviceAccount): "default";
//   - spec.restartPolicy: Always;
//   - spec.terminationGracePeriodSeconds: 30;
//   - each container's imagePullPolicy: Always for the :latest tag or no tag
//     (and no digest), IfNotPresent otherwise;
//   - each port's protocol: TCP;
//   - on a hostNetwork pod, each port's hostPort: its containerPort (see
//     SetPodHostNetworkPorts);
//   - each container's requests: a resource with a limit and no request
//     requests its limit (so a pod with limits only is placed by them);
//   - a projected serviceAccountToken's expirationSeconds: 3600;
//   - each probe's timeoutSeconds 1, periodSeconds 10, successThreshold 1,
//     failureThreshold 3, and an httpGet probe's path "/" and scheme HTTP.
//
// It only sets empty fields; it is idempotent. Call it before ValidatePod.
func SetPodDefaults(p *Pod) {
	if p.Namespace == "" {
		p.Namespace = DefaultNamespace
	}
	setPodSpecDefaults(&p.Spec)
	SetPodServiceAccount(&p.Spec)
	SetPodHostNetworkPorts(&p.Spec)
}

// SetPodHostNetworkPorts gives every port of a hostNetwork pod's
// containers and init containers that names no hostPort its
// containerPort, as kube-apiserver's SetDefaults_Pod does: such a port is
// the node's port, and placement must count it as taken on the node. Like
// Kubernetes it is a pod's default, not a template's (which keeps its
// hash); a controller calls it on the pods it makes.
func SetPodHostNetworkPorts(s *PodSpec) {
	if !s.HostNetwork {
		return
	}
	for _, cs := range [][]Container{s.InitContainers, s.Containers} {
		for i := range cs {
			for j := range cs[i].Ports {
				if p := &cs[i].Ports[j]; p.HostPort == 0 {
					p.HostPort = p.ContainerPort
				}
			}
		}
	}
}

// SetPodServiceAccount names the pod's service account as Kubernetes'
// ServiceAccount admission does: "default" unless the spec names one (or
// its old alias serviceAccount does), and the alias equal to it. It is set
// on pods, not on templates (the template hash, and so every Deployment's
// rollout state, stays as it was); a controller calls it on the pods it
// makes.
func SetPodServiceAccount(s *PodSpec) {
	switch {
	case s.ServiceAccountName == "" && s.DeprecatedServiceAccount != "":
		s.ServiceAccountName = s.DeprecatedServiceAccount
	case s.ServiceAccountName == "":
		s.ServiceAccountName = DefaultServiceAccountName
	}
	s.DeprecatedServiceAccount = s.ServiceAccountName
}

// setPodSpecDefaults fills in the spec part of SetPodDefaults, shared with
// the pod template of a Deployment (SetDeploymentDefaults), so that the pods
// a controller makes from a template are defaulted as a submitted pod is.
func setPodSpecDefaults(s *PodSpec) {
	if s.RestartPolicy == "" {
		s.RestartPolicy = RestartPolicyAlways
	}
	if s.TerminationGracePeriodSeconds == nil {
		v := DefaultTerminationGracePeriodSeconds
		s.TerminationGracePeriodSeconds = &v
	}
	for i := range s.InitContainers {
		setContainerDefaults(&s.InitContainers[i])
	}
	for i := range s.Containers {
		setContainerDefaults(&s.Containers[i])
	}
	// SetDefaults_ServiceAccountTokenProjection: an hour.
	for _, v := range s.Volumes {
		if v.Projected == nil {
			continue
		}
		for _, src := range v.Projected.Sources {
			if t := src.ServiceAccountToken; t != nil && t.ExpirationSeconds == nil {
				exp := DefaultProjectedTokenExpirationSeconds
				t.ExpirationSeconds = &exp
			}
		}
	}
}

func setContainerDefaults(c *Container) {
	setProbeDefaults(c.LivenessProbe)
	setProbeDefaults(c.ReadinessProbe)
	setProbeDefaults(c.StartupProbe)
	setLifecycleDefaults(c.Lifecycle)
	if c.ImagePullPolicy == "" {
		c.ImagePullPolicy = DefaultPullPolicy(c.Image)
	}
	// SetDefaults_ObjectFieldSelector: a fieldRef's apiVersion is v1.
	for i := range c.Env {
		if from := c.Env[i].ValueFrom; from != nil && from.FieldRef != nil && from.FieldRef.APIVersion == "" {
			from.FieldRef.APIVersion = "v1"
		}
	}
	for i := range c.Ports {
		if c.Ports[i].Protocol == "" {
			c.Ports[i].Protocol = ProtocolTCP
		}
	}
	if len(c.Resources.Limits) > 0 {
		if c.Resources.Requests == nil {
			c.Resources.Requests = ResourceList{}
		}
		for name, q := range c.Resources.Limits {
			if _, ok := c.Resources.Requests[name]; !ok {
				c.Resources.Requests[name] = q.DeepCopy()
			}
		}
	}
}

// DefaultPullPolicy is the pull policy Kubernetes gives an image reference
// whose container names none: Always when the tag is "latest" or missing
// (the image behind it may have moved), IfNotPresent for any other tag or
// for a digest (the image cannot have changed).
func DefaultPullPolicy(image string) PullPolicy {
	ref, _, hasDigest := strings.Cut(image, "@")
	tag := ""
	// The tag is after the last ':' of the last path component; a ':' before
	// the last '/' belongs to the registry's port (localhost:5000/busybox).
	last := ref[strings.LastIndexByte(ref, '/')+1:]
	if i := strings.LastIndexByte(last, ':'); i >= 0 {
		tag = last[i+1:]
	}
	if tag == "latest" || tag == "" && !hasDigest {
		return PullAlways
	}
	return PullIfNotPresent
}
