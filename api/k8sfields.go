package api

import (
	"reflect"
	"strings"

	corev1 "k8s.io/api/core/v1"
)

// kubernetesOnlyFields lists, per type, the Kubernetes fields gossipod does
// not implement: for one of gossipod's own types, those the Kubernetes type
// of the same name has and gossipod's lacks; for a Kubernetes type used as
// is (metav1.ObjectMeta), those of its fields gossipod never sets nor acts
// on, although the Go type has them. Strict decoding calls them
// "unsupported field" rather than "unknown field": the manifest is a valid
// Kubernetes manifest, gossipod just does not implement the feature, and
// silently ignoring it (a probe, a securityContext) would run something else
// than what the user asked for.
//
// From the Kubernetes v1 API reference (core/v1 types as of 1.34) and, for
// the Kubernetes types, k8s.io/api and k8s.io/apimachinery as in go.mod.
var kubernetesOnlyFields = map[reflect.Type]map[string]bool{
	reflect.TypeFor[ObjectMeta](): set("generateName selfLink managedFields"),
	reflect.TypeFor[ListMeta]():   set("selfLink continue remainingItemCount"),
	reflect.TypeFor[PodSpec](): set("ephemeralContainers activeDeadlineSeconds " +
		"subdomain affinity schedulerName " +
		"hostAliases priorityClassName priority readinessGates runtimeClassName " +
		"preemptionPolicy overhead topologySpreadConstraints " +
		"setHostnameAsFQDN os schedulingGates resourceClaims resources hostnameOverride"),
	reflect.TypeFor[Container](): set("resizePolicy restartPolicyRules " +
		"volumeDevices " +
		"terminationMessagePath terminationMessagePolicy stdin stdinOnce tty"),
	// SELinux labels are not implemented, and gossipod runs Linux nodes
	// only.
	reflect.TypeFor[PodSecurityContext](): set("seLinuxOptions seLinuxChangePolicy windowsOptions"),
	reflect.TypeFor[SecurityContext]():    set("seLinuxOptions windowsOptions"),
	// A gRPC probe's TLS mode is behind an alpha feature gate
	// (GRPCContainerProbeTLS), off in kube-apiserver: gossipod probes
	// without TLS, as kubelet does.
	reflect.TypeFor[GRPCAction](): set("mode"),
	// A hook's tcpSocket is kept by Kubernetes for compatibility only:
	// kubelet fails every hook that uses it. The stop signal is not
	// implemented (containers get SIGTERM).
	reflect.TypeFor[LifecycleHandler](): set("tcpSocket"),
	reflect.TypeFor[Lifecycle]():        set("stopSignal"),
	// A file of an emptyDir volume as a variable (alpha, gated off upstream).
	reflect.TypeFor[corev1.EnvVarSource]():  set("fileKeyRef"),
	reflect.TypeFor[ContainerPort]():        set("hostIP"),
	reflect.TypeFor[ResourceRequirements](): set("claims"),
	reflect.TypeFor[VolumeMount]():          set("subPathExpr mountPropagation recursiveReadOnly"),
	// ServiceAccount tokens, trust bundles and pod certificates need a
	// signer gossipod does not have yet.
	reflect.TypeFor[corev1.VolumeProjection](): set("clusterTrustBundle podCertificate"),
	reflect.TypeFor[Volume](): set("gcePersistentDisk awsElasticBlockStore gitRepo nfs " +
		"iscsi glusterfs persistentVolumeClaim rbd flexVolume cinder cephfs flocker " +
		"fc azureFile vsphereVolume quobyte azureDisk photonPersistentDisk " +
		"portworxVolume scaleIO storageos csi ephemeral image"),
	reflect.TypeFor[PodStatus](): set("observedGeneration nominatedNodeName hostIPs qosClass " +
		"ephemeralContainerStatuses resize resourceClaimStatuses extendedResourceClaimStatus"),
	reflect.TypeFor[PodCondition](): set("observedGeneration"),
	reflect.TypeFor[ContainerStatus](): set("allocatedResources resources volumeMounts user " +
		"allocatedResourcesStatus stopSignal"),
	reflect.TypeFor[ContainerStateTerminated](): set("containerID"),
	reflect.TypeFor[NodeSpec]():                 set("providerID configSource externalID"),
	reflect.TypeFor[NodeStatus](): set("phase daemonEndpoints images volumesInUse volumesAttached " +
		"config runtimeHandlers features declaredFeatures"),
	reflect.TypeFor[NodeSystemInfo](): set("machineID systemUUID bootID containerRuntimeVersion " +
		"kubeProxyVersion swap"),
	reflect.TypeFor[DeploymentStatus](): set("collisionCount terminatingReplicas"),
	reflect.TypeFor[NamespaceStatus]():  set("conditions"),
	reflect.TypeFor[ReplicaSetStatus](): set("terminatingReplicas"),
	reflect.TypeFor[DeleteOptions]():    set("ignoreStoreReadErrorWithClusterBreakingPotential"),
	// A ServiceAccount's secrets list the legacy token Secrets, which
	// gossipod does not make.
	reflect.TypeFor[ServiceAccount](): set("secrets"),
	// Nothing in a gossipod cluster answers on a load balancer or an
	// external IP, and topology-aware routing is not implemented.
	reflect.TypeFor[ServiceSpec](): set("externalIPs loadBalancerIP loadBalancerSourceRanges " +
		"healthCheckNodePort allocateLoadBalancerNodePorts loadBalancerClass trafficDistribution"),
	reflect.TypeFor[corev1.ServiceStatus](): set("loadBalancer conditions"),
	// Topology hints and zones: gossipod's nodes have no zones.
	reflect.TypeFor[Endpoint](): set("hints deprecatedTopology zone"),
	reflect.TypeFor[Event](): set("eventTime series action related reportingComponent " +
		"reportingInstance"),
	reflect.TypeFor[ObjectReference](): set("apiVersion resourceVersion fieldPath"),
}

// set makes a set of the space-separated words of s.
func set(s string) map[string]bool {
	m := map[string]bool{}
	for _, w := range strings.Fields(s) {
		m[w] = true
	}
	return m
}
