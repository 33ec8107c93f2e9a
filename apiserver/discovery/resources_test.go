package discovery

import (
	"path"
	"slices"
	"strings"
	"testing"
)

// knownVerbs are Kubernetes' resource verbs.
var knownVerbs = []string{"get", "list", "watch", "create", "update", "patch", "delete", "deletecollection"}

// TestResourcesTable checks the table's own consistency: every entry names
// the k8s.io/api type of its kind from its group's package, lists are
// Kind+"List", verbs are Kubernetes' verbs, and names and short names are
// unique, as kubectl's RESTMapper needs them to be.
func TestResourcesTable(t *testing.T) {
	table := Resources()
	if len(table) == 0 {
		t.Fatal("empty table")
	}
	seen := map[string]bool{}
	short := map[string]string{}
	for _, r := range table {
		id := r.GroupVersion().String() + "/" + r.Resource
		if seen[id] {
			t.Errorf("%s listed twice", id)
		}
		seen[id] = true
		if r.Version == "" || r.Resource == "" || r.Singular == "" || r.Kind == "" {
			t.Errorf("%s: incomplete entry %+v", id, r)
		}
		if r.Object == nil || r.Object.Name() != r.Kind || r.Object.PkgPath() != apiPackage(r.Group, r.Version) {
			t.Errorf("%s: object type %v, want %s.%s", id, r.Object, apiPackage(r.Group, r.Version), r.Kind)
		}
		if r.List == nil || r.List.Name() != r.Kind+"List" || r.List.PkgPath() != apiPackage(r.Group, r.Version) {
			t.Errorf("%s: list type %v, want %s.%sList", id, r.List, apiPackage(r.Group, r.Version), r.Kind)
		}
		checkVerbs(t, id, r.Verbs)
		for _, s := range r.ShortNames {
			if other, ok := short[s]; ok {
				t.Errorf("short name %q of %s and of %s", s, id, other)
			}
			short[s] = id
		}
		for _, s := range r.Subresources {
			sid := id + "/" + s.Name
			gvk := s.GroupVersionKind(r)
			if s.Object == nil || s.Object.Name() != s.Kind || s.Object.PkgPath() != apiPackage(gvk.Group, gvk.Version) {
				t.Errorf("%s: object type %v, want %s.%s", sid, s.Object, apiPackage(gvk.Group, gvk.Version), s.Kind)
			}
			if (s.Group == "") != (s.Version == "") {
				t.Errorf("%s: group %q and version %q must both be set or both be the parent's", sid, s.Group, s.Version)
			}
			checkVerbs(t, sid, s.Verbs)
			if s.Body == BodyText && !slices.Equal(s.Verbs, []string{"get"}) {
				t.Errorf("%s: a text stream is read with get only, not %v", sid, s.Verbs)
			}
		}
	}
}

func checkVerbs(t *testing.T, id string, verbs []string) {
	t.Helper()
	if len(verbs) == 0 {
		t.Errorf("%s: no verbs", id)
	}
	for i, v := range verbs {
		if !slices.Contains(knownVerbs, v) || slices.Contains(verbs[:i], v) {
			t.Errorf("%s: verb %q unknown or repeated", id, v)
		}
	}
	if slices.Contains(verbs, "watch") && !slices.Contains(verbs, "list") {
		t.Errorf("%s: watch without list (a watch is a list request with ?watch)", id)
	}
}

// apiPackage is where k8s.io/api keeps a group-version's types.
func apiPackage(group, version string) string {
	if group == "" {
		group = "core"
	}
	// k8s.io/api names a package by the group's first label
	// (discovery.k8s.io is k8s.io/api/discovery).
	group, _, _ = strings.Cut(group, ".")
	return path.Join("k8s.io/api", group, version)
}

// TestResourcesIsACopy: a caller changing its table changes no one else's.
func TestResourcesIsACopy(t *testing.T) {
	a := Resources()
	a[0].Verbs[0] = "changed"
	a[0].Subresources[0].Verbs[0] = "changed"
	b := Resources()
	if b[0].Verbs[0] == "changed" || b[0].Subresources[0].Verbs[0] == "changed" {
		t.Error("Resources shares its slices between calls")
	}
}
