package api

import (
	"bytes"
	"encoding/json"
	"hash/fnv"
	"strconv"

	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/rand"
)

// TemplateHash is a short, stable name for a pod template: FNV-32a of its
// JSON form, as decimal digits mapped to the alphabet
// "bcdfghjklmnpqrstvwxz2456789" (Kubernetes' rand.SafeEncodeString, which
// keeps it free of vowels and of digits that look like letters), so it is
// at most 10 characters and is a valid name part and label value. The
// controller names the ReplicaSet <deployment>-<hash>, and its pods
// <deployment>-<hash>-<suffix>, labelled pod-template-hash=<hash>.
//
// Being computed from the template alone, it is the same on every agent
// and after any leader change, and does not change when only replicas (or
// anything else outside the template) do. The JSON form is what the Raft
// log stores: maps are sorted, quantities canonical ("1024Mi" is "1Gi"),
// unset optional fields omitted, so a template hashes the same before and
// after a trip through the log. Hash the defaulted template, as stored.
//
// The hash is part of the stored state (ReplicaSet and pod names, their
// pod-template-hash labels, the move of pre-ReplicaSet Deployments), so an
// upgrade must not change it for an existing template. The metadata is
// hashed in the shape gossipod's own ObjectMeta had before it became
// metav1.ObjectMeta (see hashedMeta), and the spec in the shape gossipod's
// own PodSpec had before it became corev1.PodSpec (see hashedPodSpec)
// whenever that shape holds all of it; a template using a field added
// since is hashed in corev1's shape, which no older template had.
func TemplateHash(t *PodTemplateSpec) string {
	var spec any = &t.Spec
	if old, ok := newHashedPodSpec(&t.Spec); ok {
		spec = old
	}
	b, err := json.Marshal(hashedTemplate{Metadata: newHashedMeta(&t.ObjectMeta), Spec: spec})
	if err != nil {
		// Only an IntOrString-like value with an impossible type fails to
		// marshal, and a template holds none; hash the error rather than
		// panic, which is stable too.
		b = []byte(err.Error())
	}
	h := fnv.New32a()
	h.Write(b)
	return rand.SafeEncodeString(strconv.FormatUint(uint64(h.Sum32()), 10))
}

// hashedTemplate is the JSON form TemplateHash hashes: a PodTemplateSpec
// whose metadata keeps its pre-metav1 shape.
type hashedTemplate struct {
	Metadata hashedMeta `json:"metadata"`
	Spec     any        `json:"spec"`
}

// hashedMeta is gossipod's ObjectMeta as it marshalled before the move to
// metav1.ObjectMeta, which TemplateHash's values depend on: the same fields
// in the same order, and creationTimestamp written as null when unset
// (metav1 omits it). The fields gossipod does not implement (generateName,
// selfLink, managedFields) are rejected by decoding and never set, so they
// are left out.
type hashedMeta struct {
	Name                       string            `json:"name,omitempty"`
	Namespace                  string            `json:"namespace,omitempty"`
	UID                        types.UID         `json:"uid,omitempty"`
	ResourceVersion            string            `json:"resourceVersion,omitempty"`
	Generation                 int64             `json:"generation,omitempty"`
	CreationTimestamp          Time              `json:"creationTimestamp"`
	DeletionTimestamp          *Time             `json:"deletionTimestamp,omitempty"`
	DeletionGracePeriodSeconds *int64            `json:"deletionGracePeriodSeconds,omitempty"`
	Labels                     map[string]string `json:"labels,omitempty"`
	Annotations                map[string]string `json:"annotations,omitempty"`
	OwnerReferences            []OwnerReference  `json:"ownerReferences,omitempty"`
	Finalizers                 []string          `json:"finalizers,omitempty"`
}

// newHashedMeta copies the fields of m that hashedMeta has.
func newHashedMeta(m *ObjectMeta) hashedMeta {
	return hashedMeta{
		Name: m.Name, Namespace: m.Namespace, UID: m.UID, ResourceVersion: m.ResourceVersion,
		Generation: m.Generation, CreationTimestamp: m.CreationTimestamp, DeletionTimestamp: m.DeletionTimestamp,
		DeletionGracePeriodSeconds: m.DeletionGracePeriodSeconds, Labels: m.Labels, Annotations: m.Annotations,
		OwnerReferences: m.OwnerReferences, Finalizers: m.Finalizers,
	}
}

// hashedPodSpec is gossipod's PodSpec as it marshalled before the move to
// corev1.PodSpec: the fields it had, in its order and with its omitempty.
// The types below it are its parts, likewise.
type hashedPodSpec struct {
	InitContainers                []hashedContainer `json:"initContainers,omitempty"`
	Containers                    []hashedContainer `json:"containers"`
	Volumes                       []hashedVolume    `json:"volumes,omitempty"`
	RestartPolicy                 string            `json:"restartPolicy,omitempty"`
	ShareProcessNamespace         *bool             `json:"shareProcessNamespace,omitempty"`
	Hostname                      string            `json:"hostname,omitempty"`
	NodeSelector                  map[string]string `json:"nodeSelector,omitempty"`
	NodeName                      string            `json:"nodeName,omitempty"`
	TerminationGracePeriodSeconds *int64            `json:"terminationGracePeriodSeconds,omitempty"`
	ServiceAccountName            string            `json:"serviceAccountName,omitempty"`
	DeprecatedServiceAccount      string            `json:"serviceAccount,omitempty"`
	AutomountServiceAccountToken  *bool             `json:"automountServiceAccountToken,omitempty"`
}

type hashedContainer struct {
	Name            string                `json:"name"`
	Image           string                `json:"image"`
	ImagePullPolicy string                `json:"imagePullPolicy,omitempty"`
	Command         []string              `json:"command,omitempty"`
	Args            []string              `json:"args,omitempty"`
	Env             []hashedEnvVar        `json:"env,omitempty"`
	WorkingDir      string                `json:"workingDir,omitempty"`
	Ports           []hashedContainerPort `json:"ports,omitempty"`
	Resources       hashedResources       `json:"resources,omitempty"`
	VolumeMounts    []hashedVolumeMount   `json:"volumeMounts,omitempty"`
}

type hashedEnvVar struct {
	Name  string `json:"name"`
	Value string `json:"value,omitempty"`
}

type hashedContainerPort struct {
	Name          string `json:"name,omitempty"`
	ContainerPort int32  `json:"containerPort"`
	HostPort      int32  `json:"hostPort,omitempty"`
	Protocol      string `json:"protocol,omitempty"`
}

type hashedResources struct {
	Requests map[string]resource.Quantity `json:"requests,omitempty"`
	Limits   map[string]resource.Quantity `json:"limits,omitempty"`
}

type hashedVolumeMount struct {
	Name      string `json:"name"`
	MountPath string `json:"mountPath"`
	ReadOnly  bool   `json:"readOnly,omitempty"`
}

type hashedVolume struct {
	Name     string `json:"name"`
	EmptyDir *struct {
		Medium    string             `json:"medium,omitempty"`
		SizeLimit *resource.Quantity `json:"sizeLimit,omitempty"`
	} `json:"emptyDir,omitempty"`
	HostPath *struct {
		Path string `json:"path"`
		Type string `json:"type,omitempty"`
	} `json:"hostPath,omitempty"`
}

// newHashedPodSpec converts s to the old shape, and reports whether that
// shape holds all of s: converted back, it marshals to the same JSON.
func newHashedPodSpec(s *PodSpec) (*hashedPodSpec, bool) {
	b, err := json.Marshal(s)
	if err != nil {
		return nil, false
	}
	var old hashedPodSpec
	if err := json.Unmarshal(b, &old); err != nil {
		return nil, false
	}
	ob, err := json.Marshal(&old)
	if err != nil {
		return nil, false
	}
	var back PodSpec
	if err := json.Unmarshal(ob, &back); err != nil {
		return nil, false
	}
	bb, err := json.Marshal(&back)
	if err != nil || !bytes.Equal(b, bb) {
		return nil, false
	}
	return &old, true
}
