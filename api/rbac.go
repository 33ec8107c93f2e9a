package api

import (
	"slices"

	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/api/validation/path"
	content "k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// RoleBinding is an rbac.authorization.k8s.io/v1 RoleBinding, Kubernetes'
// own type: it grants a ClusterRole's rules to its subjects within its own
// namespace, the way `kubectl create rolebinding --clusterrole=view
// --serviceaccount=ns:sa` lets a pod's ServiceAccount read its namespace.
type RoleBinding = rbacv1.RoleBinding

// RoleBindingList is the answer to a list of RoleBindings.
type RoleBindingList = rbacv1.RoleBindingList

// ClusterRoleBinding is an rbac.authorization.k8s.io/v1 ClusterRoleBinding,
// Kubernetes' own type: it grants a ClusterRole's rules to its subjects in
// every namespace and at the cluster scope.
type ClusterRoleBinding = rbacv1.ClusterRoleBinding

// ClusterRoleBindingList is the answer to a list of ClusterRoleBindings.
type ClusterRoleBindingList = rbacv1.ClusterRoleBindingList

// ClusterRole is an rbac.authorization.k8s.io/v1 ClusterRole: gossipod's
// built-in roles are served as such, read-only, so `kubectl describe
// clusterrole view` shows what a binding grants.
type ClusterRole = rbacv1.ClusterRole

// ClusterRoleList is the answer to a list of ClusterRoles.
type ClusterRoleList = rbacv1.ClusterRoleList

// Subject is who a binding grants its role to: a User, a Group or a
// ServiceAccount.
type Subject = rbacv1.Subject

// RoleRef names the role a binding grants.
type RoleRef = rbacv1.RoleRef

// RBACGroup is the API group of the bindings and of the roles they name.
const RBACGroup = rbacv1.GroupName

// RBACAPIVersion is the apiVersion of the RBAC kinds gossipod serves.
const RBACAPIVersion = RBACGroup + "/v1"

// The built-in ClusterRoles a binding may name. gossipod has no Role or
// ClusterRole objects of its own making: its roles are fixed rule sets
// (apiserver/auth). cluster-admin is Kubernetes' name for the role that
// may do everything, which gossipod's admin is, so that common manifests
// work unchanged.
const (
	ClusterRoleView         = "view"
	ClusterRoleEdit         = "edit"
	ClusterRoleAdmin        = "admin"
	ClusterRoleClusterAdmin = "cluster-admin"
)

// ClusterRoleNames are the ClusterRoles a binding may name, sorted.
var ClusterRoleNames = []string{ClusterRoleAdmin, ClusterRoleClusterAdmin, ClusterRoleEdit, ClusterRoleView}

// ServiceAccountUsernamePrefix + "<namespace>:<name>" is the user a
// ServiceAccount's token authenticates as, in Kubernetes
// (serviceaccount.MakeUsername); a binding's ServiceAccount subject grants
// its role to that user.
const ServiceAccountUsernamePrefix = "system:serviceaccount:"

// ServiceAccountUsername is the user name of a ServiceAccount.
func ServiceAccountUsername(namespace, name string) string {
	return ServiceAccountUsernamePrefix + namespace + ":" + name
}

// RoleGrant is what one binding grants one subject: the rules of the
// ClusterRole Role, in Namespace (a RoleBinding) or everywhere (a
// ClusterRoleBinding, Namespace ""). The state machine keeps an index of
// grants by subject so the authorizer finds a user's grants without
// reading every binding.
type RoleGrant struct {
	Namespace string
	Role      string
	// Binding names the binding ("ns/name" or "name"), for logs and
	// tests.
	Binding string
}

// SubjectKey is how a binding's subject is indexed: the User or the
// Group a request's identity must be, or be in. A ServiceAccount subject
// is the User its token authenticates as; one without a namespace is in
// the binding's namespace, as Kubernetes' RBAC authorizer reads it.
type SubjectKey struct {
	Kind string // rbacv1.UserKind or rbacv1.GroupKind
	Name string
}

// SubjectKeyOf returns s as the authorizer matches it, in a binding of
// namespace bindingNS ("" for a ClusterRoleBinding); false for a subject
// that can match nobody (an unknown kind, a ServiceAccount without a
// namespace in a ClusterRoleBinding: validation refuses both).
func SubjectKeyOf(s Subject, bindingNS string) (SubjectKey, bool) {
	switch s.Kind {
	case rbacv1.UserKind, rbacv1.GroupKind:
		return SubjectKey{Kind: s.Kind, Name: s.Name}, true
	case rbacv1.ServiceAccountKind:
		ns := s.Namespace
		if ns == "" {
			ns = bindingNS
		}
		if ns == "" {
			return SubjectKey{}, false
		}
		return SubjectKey{Kind: rbacv1.UserKind, Name: ServiceAccountUsername(ns, s.Name)}, true
	}
	return SubjectKey{}, false
}

// SetRoleBindingDefaults fills in what kube-apiserver defaults on a
// RoleBinding: its namespace, roleRef.apiGroup and the subjects' apiGroup
// (rbac.authorization.k8s.io for User and Group, "" for ServiceAccount).
func SetRoleBindingDefaults(rb *RoleBinding) {
	if rb.Namespace == "" {
		rb.Namespace = DefaultNamespace
	}
	setBindingDefaults(&rb.RoleRef, rb.Subjects)
}

// SetClusterRoleBindingDefaults fills in roleRef.apiGroup and the subjects'
// apiGroup, as kube-apiserver's v1 defaults do.
func SetClusterRoleBindingDefaults(crb *ClusterRoleBinding) {
	setBindingDefaults(&crb.RoleRef, crb.Subjects)
}

func setBindingDefaults(ref *RoleRef, subjects []Subject) {
	if ref.APIGroup == "" {
		ref.APIGroup = RBACGroup
	}
	for i := range subjects {
		s := &subjects[i]
		if s.APIGroup == "" && (s.Kind == rbacv1.UserKind || s.Kind == rbacv1.GroupKind) {
			s.APIGroup = RBACGroup
		}
	}
}

// ValidateRoleBinding checks a RoleBinding to create as kube-apiserver's
// ValidateRoleBinding does (names are path segments, roleRef in
// rbac.authorization.k8s.io, subjects User, Group or ServiceAccount with
// their apiGroup), and that its roleRef names one of gossipod's built-in
// ClusterRoles. It returns nil or a 422 Invalid Status.
func ValidateRoleBinding(rb *RoleBinding) error {
	if errs := validateRoleBinding(rb); len(errs) > 0 {
		return newInvalid("RoleBinding.rbac.authorization.k8s.io", rb.Name, errs)
	}
	return nil
}

func validateRoleBinding(rb *RoleBinding) field.ErrorList {
	errs := validateRBACMeta(&rb.ObjectMeta, true)
	errs = append(errs, validateRoleRef(rb.RoleRef, true)...)
	for i, s := range rb.Subjects {
		errs = append(errs, validateSubject(s, true, field.NewPath("subjects").Index(i))...)
	}
	return errs
}

// ValidateRoleBindingUpdate checks newRB, the RoleBinding an update
// proposes, against oldRB, the stored one: name, namespace and uid stay,
// roleRef cannot change (kube-apiserver's "cannot change roleRef": a
// binding to another role is another binding), and the result is valid.
func ValidateRoleBindingUpdate(oldRB, newRB *RoleBinding) error {
	errs := validateMetaUpdate(&oldRB.ObjectMeta, &newRB.ObjectMeta)
	if oldRB.RoleRef != newRB.RoleRef {
		errs = append(errs, field.Invalid(field.NewPath("roleRef"), newRB.RoleRef, "cannot change roleRef"))
	}
	errs = append(errs, validateRoleBinding(newRB)...)
	if len(errs) > 0 {
		return newInvalid("RoleBinding.rbac.authorization.k8s.io", newRB.Name, errs)
	}
	return nil
}

// ValidateClusterRoleBinding checks a ClusterRoleBinding to create as
// kube-apiserver's ValidateClusterRoleBinding does: as a RoleBinding, but
// cluster-scoped, its roleRef a ClusterRole, and a ServiceAccount subject
// must say its namespace. It returns nil or a 422 Invalid Status.
func ValidateClusterRoleBinding(crb *ClusterRoleBinding) error {
	if errs := validateClusterRoleBinding(crb); len(errs) > 0 {
		return newInvalid("ClusterRoleBinding.rbac.authorization.k8s.io", crb.Name, errs)
	}
	return nil
}

func validateClusterRoleBinding(crb *ClusterRoleBinding) field.ErrorList {
	errs := validateRBACMeta(&crb.ObjectMeta, false)
	errs = append(errs, validateRoleRef(crb.RoleRef, false)...)
	for i, s := range crb.Subjects {
		errs = append(errs, validateSubject(s, false, field.NewPath("subjects").Index(i))...)
	}
	return errs
}

// ValidateClusterRoleBindingUpdate is ValidateRoleBindingUpdate for a
// ClusterRoleBinding.
func ValidateClusterRoleBindingUpdate(oldCRB, newCRB *ClusterRoleBinding) error {
	errs := validateMetaUpdate(&oldCRB.ObjectMeta, &newCRB.ObjectMeta)
	if oldCRB.RoleRef != newCRB.RoleRef {
		errs = append(errs, field.Invalid(field.NewPath("roleRef"), newCRB.RoleRef, "cannot change roleRef"))
	}
	errs = append(errs, validateClusterRoleBinding(newCRB)...)
	if len(errs) > 0 {
		return newInvalid("ClusterRoleBinding.rbac.authorization.k8s.io", newCRB.Name, errs)
	}
	return nil
}

// validateRBACMeta is kube-apiserver's ValidateObjectMeta with
// ValidateRBACName: RBAC names are path segments (not "." or "..", no "/"
// or "%"), so "system:controller:x" is a valid binding name.
func validateRBACMeta(m *ObjectMeta, namespaced bool) field.ErrorList {
	fld := field.NewPath("metadata")
	var errs field.ErrorList
	if m.Name == "" {
		errs = append(errs, field.Required(fld.Child("name"), "name or generateName is required"))
	} else {
		errs = append(errs, invalidEach(fld.Child("name"), m.Name, path.IsValidPathSegmentName(m.Name))...)
	}
	switch {
	case namespaced && m.Namespace == "":
		errs = append(errs, field.Required(fld.Child("namespace"), ""))
	case namespaced:
		errs = append(errs, invalidEach(fld.Child("namespace"), m.Namespace, content.IsDNS1123Label(m.Namespace))...)
	case m.Namespace != "":
		errs = append(errs, field.Forbidden(fld.Child("namespace"), "not allowed on this type"))
	}
	errs = append(errs, validateLabels(m.Labels, fld.Child("labels"))...)
	errs = append(errs, validateAnnotations(m.Annotations, fld.Child("annotations"))...)
	errs = append(errs, validateOwnerReferences(m.OwnerReferences, fld.Child("ownerReferences"))...)
	errs = append(errs, validateFinalizers(m.Finalizers, fld.Child("finalizers"))...)
	return errs
}

// validateRoleRef checks a binding's roleRef: kube-apiserver's checks
// (apiGroup rbac.authorization.k8s.io; kind Role or ClusterRole in a
// RoleBinding, ClusterRole in a ClusterRoleBinding; a name), then
// gossipod's: no Roles exist, and the ClusterRole is a built-in one.
func validateRoleRef(ref RoleRef, namespaced bool) field.ErrorList {
	fld := field.NewPath("roleRef")
	var errs field.ErrorList
	if ref.APIGroup != RBACGroup {
		errs = append(errs, field.NotSupported(fld.Child("apiGroup"), ref.APIGroup, []string{RBACGroup}))
	}
	kinds := []string{"ClusterRole"}
	if namespaced {
		kinds = []string{"Role", "ClusterRole"}
	}
	switch {
	case !slices.Contains(kinds, ref.Kind):
		errs = append(errs, field.NotSupported(fld.Child("kind"), ref.Kind, kinds))
	case ref.Kind == "Role":
		errs = append(errs, field.Invalid(fld.Child("kind"), ref.Kind,
			"gossipod has no Roles: bind one of the built-in ClusterRoles (admin, cluster-admin, edit, view)"))
	}
	switch {
	case ref.Name == "":
		errs = append(errs, field.Required(fld.Child("name"), ""))
	case ref.Kind == "ClusterRole" && !slices.Contains(ClusterRoleNames, ref.Name):
		errs = append(errs, field.NotSupported(fld.Child("name"), ref.Name, ClusterRoleNames))
	default:
		errs = append(errs, invalidEach(fld.Child("name"), ref.Name, path.IsValidPathSegmentName(ref.Name))...)
	}
	return errs
}

// validateSubject is kube-apiserver's ValidateRoleBindingSubject: a name;
// a ServiceAccount's a DNS-1123 subdomain, with apiGroup "" and, in a
// ClusterRoleBinding, a namespace; a User's or Group's apiGroup
// rbac.authorization.k8s.io; no other kind.
func validateSubject(s Subject, namespaced bool, fld *field.Path) field.ErrorList {
	var errs field.ErrorList
	if s.Name == "" {
		errs = append(errs, field.Required(fld.Child("name"), ""))
	}
	switch s.Kind {
	case rbacv1.ServiceAccountKind:
		if s.Name != "" {
			errs = append(errs, invalidEach(fld.Child("name"), s.Name, content.IsDNS1123Subdomain(s.Name))...)
		}
		if s.APIGroup != "" {
			errs = append(errs, field.NotSupported(fld.Child("apiGroup"), s.APIGroup, []string{""}))
		}
		if !namespaced && s.Namespace == "" {
			errs = append(errs, field.Required(fld.Child("namespace"), ""))
		}
	case rbacv1.UserKind, rbacv1.GroupKind:
		if s.APIGroup != RBACGroup {
			errs = append(errs, field.NotSupported(fld.Child("apiGroup"), s.APIGroup, []string{RBACGroup}))
		}
	default:
		errs = append(errs, field.NotSupported(fld.Child("kind"), s.Kind,
			[]string{rbacv1.ServiceAccountKind, rbacv1.UserKind, rbacv1.GroupKind}))
	}
	return errs
}
