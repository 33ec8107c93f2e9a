package api

import (
	"maps"
	"slices"
	"strings"
	"testing"
)

// TestKubernetesOnlyFields checks every entry of kubernetesOnlyFields
// against its type: a Kubernetes type (metav1.ObjectMeta) must have the
// field it marks unsupported, or the entry is a typo and the field would
// be "unknown"; one of gossipod's own types must not have it, or the entry
// is dead and the field is silently accepted.
func TestKubernetesOnlyFields(t *testing.T) {
	for typ, names := range kubernetesOnlyFields {
		fields := structFields(typ)
		fromKubernetes := strings.HasPrefix(typ.PkgPath(), "k8s.io/")
		for _, name := range slices.Sorted(maps.Keys(names)) {
			_, has := fields.byName[name]
			switch {
			case fromKubernetes && !has:
				t.Errorf("%s: lists %q as unsupported, but the type has no such field", typ, name)
			case !fromKubernetes && has:
				t.Errorf("%s: lists %q as unsupported, but gossipod's type has the field", typ, name)
			}
		}
	}
}
