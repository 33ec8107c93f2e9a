package main

import (
	"bytes"
	"sort"
	"strings"
	"time"

	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/kubectl/pkg/util/rbac"

	"github.com/gossipod/gossipod/api"
)

// describeBinding renders a RoleBinding or ClusterRoleBinding as kubectl's
// RoleBindingDescriber and ClusterRoleBindingDescriber do: the role, then
// the subjects as a table. kubectl prints no events for them.
func describeBinding(m *api.ObjectMeta, ref api.RoleRef, subjects []api.Subject) string {
	var buf bytes.Buffer
	w := newPrefixWriter(&buf)
	w.write(0, "Name:\t%s\n", m.Name)
	writeLabels(w, "Labels", m.Labels)
	writeAnnotations(w, "Annotations", m.Annotations)
	w.write(0, "Role:\n")
	w.write(1, "Kind:\t%s\n", ref.Kind)
	w.write(1, "Name:\t%s\n", ref.Name)
	w.write(0, "Subjects:\n")
	w.write(1, "Kind\tName\tNamespace\n")
	w.write(1, "----\t----\t---------\n")
	for _, s := range subjects {
		w.write(1, "%s\t%s\t%s\n", s.Kind, s.Name, s.Namespace)
	}
	w.flush()
	return buf.String()
}

func describeRoleBinding(rb *api.RoleBinding, _ []api.Event, _ time.Time) string {
	return describeBinding(&rb.ObjectMeta, rb.RoleRef, rb.Subjects)
}

func describeClusterRoleBinding(crb *api.ClusterRoleBinding, _ []api.Event, _ time.Time) string {
	return describeBinding(&crb.ObjectMeta, crb.RoleRef, crb.Subjects)
}

// describeClusterRole renders a ClusterRole as kubectl's
// ClusterRoleDescriber does: its rules broken down and compacted by
// kubectl's own rbac helpers, one line per resource (resource.group) or
// path, with the verbs.
func describeClusterRole(cr *api.ClusterRole, _ []api.Event, _ time.Time) string {
	var broken []rbacv1.PolicyRule
	for _, r := range cr.Rules {
		broken = append(broken, rbac.BreakdownRule(r)...)
	}
	rules, err := rbac.CompactRules(broken)
	if err != nil {
		rules = broken // kubectl fails here; its error is never returned today, so show the rules as they are
	}
	sort.Stable(rbac.SortableRuleSlice(rules))
	var buf bytes.Buffer
	w := newPrefixWriter(&buf)
	w.write(0, "Name:\t%s\n", cr.Name)
	writeLabels(w, "Labels", cr.Labels)
	writeAnnotations(w, "Annotations", cr.Annotations)
	w.write(0, "PolicyRule:\n")
	w.write(1, "Resources\tNon-Resource URLs\tResource Names\tVerbs\n")
	w.write(1, "---------\t-----------------\t--------------\t-----\n")
	for _, r := range rules {
		w.write(1, "%s\t%v\t%v\t%v\n", combineResourceGroup(r.Resources, r.APIGroups), r.NonResourceURLs, r.ResourceNames, r.Verbs)
	}
	w.flush()
	return buf.String()
}

// combineResourceGroup is kubectl's CombineResourceGroup: "pods",
// "deployments.apps", "deployments.apps/scale".
func combineResourceGroup(resource, group []string) string {
	if len(resource) == 0 {
		return ""
	}
	parts := strings.SplitN(resource[0], "/", 2)
	combine := parts[0]
	if len(group) > 0 && group[0] != "" {
		combine = combine + "." + group[0]
	}
	if len(parts) == 2 {
		combine = combine + "/" + parts[1]
	}
	return combine
}
