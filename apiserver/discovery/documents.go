package discovery

import (
	"cmp"
	"slices"

	apidiscoveryv2 "k8s.io/api/apidiscovery/v2"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// The kinds and version of the documents, as kube-apiserver writes them.
const (
	aggregatedAPIVersion = "apidiscovery.k8s.io/v2"
	aggregatedKind       = "APIGroupDiscoveryList"
)

// apiVersions is GET /api: the versions of the core group. Clients read
// serverAddressByClientCIDRs to learn where the server is; it names
// serverAddress for every client when the agent knows its address.
func apiVersions(resources []Resource, serverAddress string) *metav1.APIVersions {
	doc := &metav1.APIVersions{
		TypeMeta:                   metav1.TypeMeta{Kind: "APIVersions"},
		Versions:                   []string{},
		ServerAddressByClientCIDRs: serverAddresses(serverAddress),
	}
	for _, gv := range GroupVersions(resources) {
		if gv.Group == "" {
			doc.Versions = append(doc.Versions, gv.Version)
		}
	}
	return doc
}

// serverAddresses is the serverAddressByClientCIDRs of /api and /apis:
// one entry for every client, as kube-apiserver writes it, or none when
// the address is not known.
func serverAddresses(addr string) []metav1.ServerAddressByClientCIDR {
	if addr == "" {
		return []metav1.ServerAddressByClientCIDR{}
	}
	return []metav1.ServerAddressByClientCIDR{{ClientCIDR: "0.0.0.0/0", ServerAddress: addr}}
}

// apiGroups returns the named groups (not the core group) of resources, in
// table order, each with its versions; the first version is the preferred
// one.
func apiGroups(resources []Resource) []metav1.APIGroup {
	var groups []metav1.APIGroup
	for _, gv := range GroupVersions(resources) {
		if gv.Group == "" {
			continue
		}
		v := metav1.GroupVersionForDiscovery{GroupVersion: gv.String(), Version: gv.Version}
		i := slices.IndexFunc(groups, func(g metav1.APIGroup) bool { return g.Name == gv.Group })
		if i < 0 {
			groups = append(groups, metav1.APIGroup{
				TypeMeta: metav1.TypeMeta{Kind: "APIGroup", APIVersion: "v1"},
				Name:     gv.Group, PreferredVersion: v,
			})
			i = len(groups) - 1
		}
		groups[i].Versions = append(groups[i].Versions, v)
	}
	return groups
}

// apiGroupList is GET /apis: every named group.
func apiGroupList(resources []Resource) *metav1.APIGroupList {
	groups := apiGroups(resources)
	for i := range groups {
		groups[i].TypeMeta = metav1.TypeMeta{} // items carry no kind in a list
	}
	if groups == nil {
		groups = []metav1.APIGroup{}
	}
	return &metav1.APIGroupList{TypeMeta: metav1.TypeMeta{Kind: "APIGroupList", APIVersion: "v1"}, Groups: groups}
}

// apiResourceList is GET /api/v1 or /apis/<group>/<version>: the
// resources of gv and their subresources, sorted by name as kube-apiserver
// sorts them. Subresources carry their own kind, and their group and
// version when those differ from gv (kubectl drain looks for
// pods/eviction with group policy, version v1); their singular name is the
// parent's, as client-go fills it in from aggregated discovery, so both
// paths give a client the same list.
func apiResourceList(resources []Resource, gv schema.GroupVersion) *metav1.APIResourceList {
	list := &metav1.APIResourceList{
		TypeMeta:     metav1.TypeMeta{Kind: "APIResourceList", APIVersion: "v1"},
		GroupVersion: gv.String(),
		APIResources: []metav1.APIResource{},
	}
	for _, r := range resources {
		if r.GroupVersion() != gv {
			continue
		}
		list.APIResources = append(list.APIResources, metav1.APIResource{
			Name:         r.Resource,
			SingularName: r.Singular,
			Namespaced:   r.Namespaced,
			Kind:         r.Kind,
			Verbs:        sortedVerbs(r.Verbs),
			ShortNames:   r.ShortNames,
			Categories:   r.Categories,
		})
		for _, s := range r.Subresources {
			list.APIResources = append(list.APIResources, metav1.APIResource{
				Name:         r.Resource + "/" + s.Name,
				SingularName: r.Singular,
				Namespaced:   r.Namespaced,
				Group:        s.Group,
				Version:      s.Version,
				Kind:         s.Kind,
				Verbs:        sortedVerbs(s.Verbs),
			})
		}
	}
	slices.SortFunc(list.APIResources, func(a, b metav1.APIResource) int { return cmp.Compare(a.Name, b.Name) })
	return list
}

// aggregated is the aggregated discovery document of either the core group
// (GET /api, core true) or the named groups (GET /apis): every group with
// its versions and their resources, in one response, so a client needs
// two requests instead of one per group-version.
func aggregated(resources []Resource, core bool) *apidiscoveryv2.APIGroupDiscoveryList {
	doc := &apidiscoveryv2.APIGroupDiscoveryList{
		TypeMeta: metav1.TypeMeta{Kind: aggregatedKind, APIVersion: aggregatedAPIVersion},
		Items:    []apidiscoveryv2.APIGroupDiscovery{},
	}
	for _, gv := range GroupVersions(resources) {
		if (gv.Group == "") != core {
			continue
		}
		i := slices.IndexFunc(doc.Items, func(g apidiscoveryv2.APIGroupDiscovery) bool { return g.Name == gv.Group })
		if i < 0 {
			doc.Items = append(doc.Items, apidiscoveryv2.APIGroupDiscovery{ObjectMeta: metav1.ObjectMeta{Name: gv.Group}})
			i = len(doc.Items) - 1
		}
		doc.Items[i].Versions = append(doc.Items[i].Versions, apidiscoveryv2.APIVersionDiscovery{
			Version:   gv.Version,
			Resources: aggregatedResources(resources, gv),
			Freshness: apidiscoveryv2.DiscoveryFreshnessCurrent,
		})
	}
	return doc
}

// aggregatedResources are the resources of gv in aggregated discovery's
// shape. Response kinds leave out group and version when they are gv's,
// as kube-apiserver writes them.
func aggregatedResources(resources []Resource, gv schema.GroupVersion) []apidiscoveryv2.APIResourceDiscovery {
	out := []apidiscoveryv2.APIResourceDiscovery{}
	for _, r := range resources {
		if r.GroupVersion() != gv {
			continue
		}
		scope := apidiscoveryv2.ScopeCluster
		if r.Namespaced {
			scope = apidiscoveryv2.ScopeNamespace
		}
		d := apidiscoveryv2.APIResourceDiscovery{
			Resource:         r.Resource,
			ResponseKind:     &metav1.GroupVersionKind{Kind: r.Kind},
			Scope:            scope,
			SingularResource: r.Singular,
			Verbs:            sortedVerbs(r.Verbs),
			ShortNames:       r.ShortNames,
			Categories:       r.Categories,
		}
		for _, s := range r.Subresources {
			d.Subresources = append(d.Subresources, apidiscoveryv2.APISubresourceDiscovery{
				Subresource:  s.Name,
				ResponseKind: &metav1.GroupVersionKind{Group: s.Group, Version: s.Version, Kind: s.Kind},
				Verbs:        sortedVerbs(s.Verbs),
			})
		}
		slices.SortFunc(d.Subresources, func(a, b apidiscoveryv2.APISubresourceDiscovery) int {
			return cmp.Compare(a.Subresource, b.Subresource)
		})
		out = append(out, d)
	}
	slices.SortFunc(out, func(a, b apidiscoveryv2.APIResourceDiscovery) int { return cmp.Compare(a.Resource, b.Resource) })
	return out
}

// sortedVerbs returns verbs sorted, as kube-apiserver lists them, without
// changing the table.
func sortedVerbs(verbs []string) metav1.Verbs {
	return slices.Sorted(slices.Values(verbs))
}
