package api

import (
	"fmt"
	"strings"

	"k8s.io/apimachinery/pkg/api/validate/content"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// maxUIDLength bounds a uid. gossipod makes RFC 4122 UUIDs (36
// characters); the bound is the container runtime's for sandbox ids.
const maxUIDLength = 128

// IsValidUID returns why uid cannot be an object's uid, or nil, in the
// style of apimachinery's Is* checks. Kubernetes does not validate uids
// because only its API server makes them; gossipod's uids also arrive in
// Raft commands, and every node turns a pod's uid into a directory name,
// a cgroup name and a container id, so a uid must be one safe path
// component: 1 to 128 letters, digits or '-' (no '/', no '.', no "..").
func IsValidUID(uid string) []string {
	var msgs []string
	if uid == "" {
		return []string{"must not be empty"}
	}
	if len(uid) > maxUIDLength {
		msgs = append(msgs, fmt.Sprintf("must be no more than %d characters", maxUIDLength))
	}
	if strings.IndexFunc(uid, func(c rune) bool {
		return !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-')
	}) >= 0 {
		msgs = append(msgs, "must consist of letters, digits and '-' (an RFC 4122 UUID, as gossipod makes them)")
	}
	return msgs
}

// validateUID requires a valid uid at fld.
func validateUID(uid types.UID, fld *field.Path) field.ErrorList {
	if uid == "" {
		return field.ErrorList{field.Required(fld, "")}
	}
	return invalidEach(fld, string(uid), IsValidUID(string(uid)))
}

// ValidateNewPod checks a pod as it enters the cluster state: ValidatePod,
// plus the uid its proposer set. The API checks a pod before it proposes
// it; the FSM checks it again on every replica, so that no path (a
// forwarded write, an older agent, a raw command) stores a pod that
// ValidatePod would refuse. It is deterministic: it reads nothing but p.
func ValidateNewPod(p *Pod) error {
	errs := validateUID(p.UID, field.NewPath("metadata", "uid"))
	if errs = append(errs, validatePod(p)...); len(errs) > 0 {
		return newInvalid("Pod", p.Name, errs)
	}
	return nil
}

// ValidateNewDeployment is ValidateNewPod for a Deployment:
// ValidateDeployment plus the uid its proposer set, with spec.replicas held
// to MaxDeploymentReplicasCeiling, the bound every replica of the state
// machine applies whatever its agent's --max-deployment-replicas.
func ValidateNewDeployment(d *Deployment) error {
	errs := validateUID(d.UID, field.NewPath("metadata", "uid"))
	if errs = append(errs, validateDeployment(d, MaxDeploymentReplicasCeiling)...); len(errs) > 0 {
		return newInvalid("Deployment", d.Name, errs)
	}
	return nil
}

// ValidateNode checks what an agent registers about its node: the name a
// DNS-1123 subdomain (it is also a hostname label value and a Raft server
// id), the uid (required when isNew, since the node is created with it),
// labels and annotations as for any object. Placement reads labels through
// selectors, so an invalid one would match nothing and confuse everyone.
func ValidateNode(n *Node, isNew bool) error {
	meta := field.NewPath("metadata")
	var errs field.ErrorList
	if n.Name == "" {
		errs = append(errs, field.Required(meta.Child("name"), ""))
	} else {
		errs = append(errs, invalidEach(meta.Child("name"), n.Name, content.IsDNS1123Subdomain(n.Name))...)
	}
	if isNew || n.UID != "" {
		errs = append(errs, validateUID(n.UID, meta.Child("uid"))...)
	}
	errs = append(errs, validateLabels(n.Labels, meta.Child("labels"))...)
	errs = append(errs, validateAnnotations(n.Annotations, meta.Child("annotations"))...)
	errs = append(errs, validateTaints(n.Spec.Taints, field.NewPath("spec", "taints"))...)
	if len(errs) > 0 {
		return newInvalid("Node", n.Name, errs)
	}
	return nil
}

// ValidatePodPathNames checks the parts of a pod that a node turns into
// host paths, cgroup names and container ids: its uid, name and namespace,
// and the names of its volumes and containers. It is the subset of
// ValidateNewPod that the runtime re-checks before it builds any path, so
// that a pod that reached a node by any route cannot name a directory
// outside the node's data dir (a uid "../../etc" or a volume "..").
func ValidatePodPathNames(p *Pod) error {
	meta := field.NewPath("metadata")
	errs := validateUID(p.UID, meta.Child("uid"))
	if p.Name == "" {
		errs = append(errs, field.Required(meta.Child("name"), ""))
	} else {
		errs = append(errs, invalidEach(meta.Child("name"), p.Name, content.IsDNS1123Subdomain(p.Name))...)
	}
	if p.Namespace == "" {
		errs = append(errs, field.Required(meta.Child("namespace"), ""))
	} else {
		errs = append(errs, invalidEach(meta.Child("namespace"), p.Namespace, content.IsDNS1123Label(p.Namespace))...)
	}
	spec := field.NewPath("spec")
	for i, v := range p.Spec.Volumes {
		errs = append(errs, dnsLabelName(v.Name, spec.Child("volumes").Index(i).Child("name"))...)
	}
	for i, c := range p.Spec.InitContainers {
		errs = append(errs, dnsLabelName(c.Name, spec.Child("initContainers").Index(i).Child("name"))...)
	}
	for i, c := range p.Spec.Containers {
		errs = append(errs, dnsLabelName(c.Name, spec.Child("containers").Index(i).Child("name"))...)
	}
	if len(errs) > 0 {
		return newInvalid("Pod", p.Name, errs)
	}
	return nil
}

// dnsLabelName requires a DNS-1123 label at fld, as volume and container
// names are.
func dnsLabelName(name string, fld *field.Path) field.ErrorList {
	if name == "" {
		return field.ErrorList{field.Required(fld, "")}
	}
	return invalidEach(fld, name, content.IsDNS1123Label(name))
}
