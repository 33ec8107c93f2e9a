package api

import (
	"encoding/json"
	"fmt"
	"strings"

	"k8s.io/apimachinery/pkg/util/validation/field"
)

// podUpdatableFields is what Kubernetes lets an update change in a pod's
// spec (of what gossipod implements), in its message's words.
const podUpdatableFields = "`spec.containers[*].image`,`spec.initContainers[*].image`"

// ValidatePodUpdate checks that newPod is a valid pod (see ValidatePod) and
// a change Kubernetes allows to oldPod: metadata.name, namespace and uid stay
// as they are, labels and annotations may change, and in the spec only the
// images of existing containers may. A pod's placement and sandbox were made
// for its spec; anything else needs a new pod (delete and create, or a
// Deployment), and `apply` gets this answer:
//
//	Pod "web" is invalid: spec: Forbidden: pod updates may not change fields other than `spec.containers[*].image`,`spec.initContainers[*].image`
//
// followed by the paths that changed. Both pods are compared as stored,
// defaulted; fields the cluster sets (spec.nodeName once bound) must be
// carried over from oldPod by the caller, as kubectl apply's merge does.
func ValidatePodUpdate(oldPod, newPod *Pod) error {
	meta := field.NewPath("metadata")
	var errs field.ErrorList
	errs = append(errs, immutable(newPod.Name, oldPod.Name, meta.Child("name"))...)
	errs = append(errs, immutable(newPod.Namespace, oldPod.Namespace, meta.Child("namespace"))...)
	if newPod.UID != "" {
		errs = append(errs, immutable(newPod.UID, oldPod.UID, meta.Child("uid"))...)
	}
	errs = append(errs, validatePod(newPod)...)

	// Put the old images into a copy of the new spec: if that equals the old
	// spec, only images changed.
	munged := newPod.Spec
	munged.Containers = withImagesOf(newPod.Spec.Containers, oldPod.Spec.Containers)
	munged.InitContainers = withImagesOf(newPod.Spec.InitContainers, oldPod.Spec.InitContainers)
	// A pod stored before pods named their service account runs as
	// "default": an update saying so changes nothing.
	oldSpec := oldPod.Spec
	if oldSpec.ServiceAccountName == "" {
		SetPodServiceAccount(&oldSpec)
	}
	if changed := specChanges(&oldSpec, &munged); len(changed) > 0 {
		errs = append(errs, field.Forbidden(field.NewPath("spec"), fmt.Sprintf(
			"pod updates may not change fields other than %s (changed: %s)", podUpdatableFields, strings.Join(changed, ", "))))
	}
	if len(errs) > 0 {
		return newInvalid("Pod", newPod.Name, errs)
	}
	return nil
}

// immutable is Kubernetes' ValidateImmutableField for strings.
func immutable[T ~string](newVal, oldVal T, fld *field.Path) field.ErrorList {
	if newVal != oldVal {
		return field.ErrorList{field.Invalid(fld, newVal, "field is immutable")}
	}
	return nil
}

// withImagesOf returns a copy of cs whose images are those of old, position
// by position, when both have the same containers; otherwise cs itself, and
// the comparison reports the change of containers.
func withImagesOf(cs, old []Container) []Container {
	if len(cs) != len(old) {
		return cs
	}
	out := make([]Container, len(cs))
	for i := range cs {
		out[i] = cs[i]
		out[i].Image = old[i].Image
	}
	return out
}

// maxReportedChanges caps the changed paths listed in the Forbidden message.
const maxReportedChanges = 10

// specChanges lists the paths at which two specs differ, comparing their
// JSON forms: quantities compare by value ("1024Mi" is "1Gi") and an empty
// list equals an absent one, as Kubernetes' semantic equality has it.
func specChanges(oldSpec, newSpec *PodSpec) []string {
	a, errA := specTree(oldSpec)
	b, errB := specTree(newSpec)
	if errA != nil || errB != nil {
		return []string{"spec"}
	}
	var out []string
	diffNodes("spec", a, b, &out)
	if len(out) > maxReportedChanges {
		out = append(out[:maxReportedChanges], fmt.Sprintf("and %d more", len(out)-maxReportedChanges))
	}
	return out
}

func specTree(s *PodSpec) (*node, error) {
	b, err := json.Marshal(s)
	if err != nil {
		return nil, err
	}
	roots, err := parseJSONStream(b)
	if err != nil || len(roots) != 1 {
		return nil, fmt.Errorf("re-reading a marshalled spec: %v", err)
	}
	return roots[0], nil
}

// diffNodes appends to out the paths under path where a and b differ; a nil
// node is an absent member.
func diffNodes(path string, a, b *node, out *[]string) {
	switch {
	case a == nil || b == nil || a.kind != b.kind:
		*out = append(*out, path)
	case a.kind == kindObject:
		seen := map[string]bool{}
		for i, k := range a.keys {
			seen[k] = true
			diffNodes(childPath(path, k), a.vals[i], b.get(k), out)
		}
		for i, k := range b.keys {
			if !seen[k] {
				diffNodes(childPath(path, k), nil, b.vals[i], out)
			}
		}
	case a.kind == kindArray:
		if len(a.vals) != len(b.vals) {
			*out = append(*out, path)
			return
		}
		for i := range a.vals {
			diffNodes(fmt.Sprintf("%s[%d]", path, i), a.vals[i], b.vals[i], out)
		}
	case a.text != b.text || a.boolean != b.boolean:
		*out = append(*out, path)
	}
}
