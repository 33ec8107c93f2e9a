package main

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"reflect"
	"strings"

	"github.com/urfave/cli/v2"
	rbacv1 "k8s.io/api/rbac/v1"

	"github.com/gossipod/gossipod/api"
	"github.com/gossipod/gossipod/api/client"
)

// bindingPath is the API path of a RoleBinding (namespace set) or a
// ClusterRoleBinding (namespace ""), or of their collection (name "").
func bindingPath(namespace, name string) string {
	r := apiResource{Group: rbacv1.GroupName, Version: "v1", Resource: "clusterrolebindings"}
	if namespace != "" {
		r.Resource, r.Namespaced = "rolebindings", true
	}
	return r.path(namespace, name)
}

// bindingPtr is *api.RoleBinding or *api.ClusterRoleBinding.
type bindingPtr[T any] interface {
	*T
	api.Object
}

// applyBinding creates the RoleBinding or ClusterRoleBinding desired, or
// updates its labels, annotations and subjects where they differ; a
// changed roleRef is sent as it is, for the server's "cannot change
// roleRef", which kubectl users know (delete and create it again).
func applyBinding[T any, P bindingPtr[T]](ctx context.Context, cl *client.Client, desired P, source string,
	parts func(P) (*api.RoleRef, *[]api.Subject)) (applyResult, P, error) {
	path := bindingPath(desired.GetNamespace(), desired.GetName())
	what := strings.ToLower(desired.GetObjectKind().GroupVersionKind().Kind)
	for attempt := 1; ; attempt++ {
		live := P(new(T))
		err := cl.Do(ctx, http.MethodGet, path, nil, live)
		if isNotFound(err) {
			create := P(cloneJSON((*T)(desired)))
			create.SetUID("")
			create.SetResourceVersion("")
			create.SetCreationTimestamp(api.Time{})
			created := P(new(T))
			err := cl.Do(ctx, http.MethodPost, bindingPath(desired.GetNamespace(), ""), create, created)
			if err == nil {
				return applyCreated, created, nil
			}
			if hasReason(err, api.StatusReasonAlreadyExists) && attempt < applyAttempts {
				continue
			}
			return "", nil, withContext(err, fmt.Sprintf("error when creating %q: ", source))
		}
		if err != nil {
			return "", nil, withContext(err, fmt.Sprintf("error when retrieving current configuration of %s %q from server for: %q: ", what, desired.GetName(), source))
		}
		update := P(cloneJSON((*T)(desired)))
		wantRef, wantSubjects := parts(update)
		liveRef, liveSubjects := parts(live)
		setBindingDefaults(wantRef, *wantSubjects)
		if *wantRef == *liveRef && reflect.DeepEqual(nilIfNoSubjects(*wantSubjects), nilIfNoSubjects(*liveSubjects)) &&
			maps.Equal(update.GetLabels(), live.GetLabels()) && maps.Equal(update.GetAnnotations(), live.GetAnnotations()) {
			return applyUnchanged, live, nil
		}
		update.SetUID(live.GetUID())
		update.SetResourceVersion(live.GetResourceVersion())
		updated := P(new(T))
		err = cl.Do(ctx, http.MethodPut, path, update, updated)
		if err == nil {
			return applyConfigured, updated, nil
		}
		if (hasReason(err, api.StatusReasonConflict) || isNotFound(err)) && attempt < applyAttempts {
			continue
		}
		return "", nil, withContext(err, fmt.Sprintf("error when updating %q: ", source))
	}
}

// setBindingDefaults fills in the apiGroups the server defaults, so that a
// manifest that leaves them out compares equal to what is stored.
func setBindingDefaults(ref *api.RoleRef, subjects []api.Subject) {
	if ref.APIGroup == "" {
		ref.APIGroup = rbacv1.GroupName
	}
	for i := range subjects {
		if s := &subjects[i]; s.APIGroup == "" && (s.Kind == rbacv1.UserKind || s.Kind == rbacv1.GroupKind) {
			s.APIGroup = rbacv1.GroupName
		}
	}
}

func nilIfNoSubjects(s []api.Subject) []api.Subject {
	if len(s) == 0 {
		return nil
	}
	return s
}

func roleBindingParts(rb *api.RoleBinding) (*api.RoleRef, *[]api.Subject) {
	return &rb.RoleRef, &rb.Subjects
}

func clusterRoleBindingParts(crb *api.ClusterRoleBinding) (*api.RoleRef, *[]api.Subject) {
	return &crb.RoleRef, &crb.Subjects
}

// bindingSubjectFlags are kubectl create rolebinding's and
// clusterrolebinding's --user, --group and --serviceaccount: repeatable,
// each value whole, as kubectl's string arrays.
func bindingSubjectFlags() []cli.Flag {
	return []cli.Flag{
		&cli.GenericFlag{Name: "user", Value: &stringArray{}, Usage: "Usernames to bind to the role. The flag can be repeated to add multiple users."},
		&cli.GenericFlag{Name: "group", Value: &stringArray{}, Usage: "Groups to bind to the role. The flag can be repeated to add multiple groups."},
		&cli.GenericFlag{Name: "serviceaccount", Value: &stringArray{},
			Usage: "Service accounts to bind to the role, in the format <namespace>:<name>. The flag can be repeated to add multiple service accounts."},
	}
}

// bindingCreateFlags are the flags of create rolebinding and
// clusterrolebinding: the role, the subjects and create's own (without
// --append-hash, which kubectl has only for ConfigMaps and Secrets).
func bindingCreateFlags(role ...cli.Flag) []cli.Flag {
	flags := append(role, bindingSubjectFlags()...)
	for _, f := range createFlags("binding") {
		if f.Names()[0] != "append-hash" {
			flags = append(flags, f)
		}
	}
	return flags
}

func createRoleBindingCommand() *cli.Command {
	return &cli.Command{
		Name:  "rolebinding",
		Usage: "create a RoleBinding granting a built-in ClusterRole (view, edit, admin, cluster-admin) in a namespace",
		Description: "As kubectl create rolebinding. gossipod has no Roles: --role is refused by the server.\n\n" +
			"gossipod create rolebinding ci-view --clusterrole=view --serviceaccount=team-a:ci -n team-a\n" +
			"gossipod create rolebinding devs --clusterrole=edit --group=devs --user=alice",
		ArgsUsage: "NAME --clusterrole=NAME|--role=NAME [--user=USER]... [--group=GROUP]... [--serviceaccount=NAMESPACE:NAME]... [--dry-run=none|client|server]",
		Flags: bindingCreateFlags(
			&cli.StringFlag{Name: "clusterrole", Usage: "ClusterRole this RoleBinding should reference"},
			&cli.StringFlag{Name: "role", Usage: "Role this RoleBinding should reference"}),
		Action: func(c *cli.Context) error { return runCreateBinding(c, true) },
	}
}

func createClusterRoleBindingCommand() *cli.Command {
	return &cli.Command{
		Name:  "clusterrolebinding",
		Usage: "create a ClusterRoleBinding granting a built-in ClusterRole (view, edit, admin, cluster-admin) everywhere",
		Description: "As kubectl create clusterrolebinding.\n\n" +
			"gossipod create clusterrolebinding ops --clusterrole=cluster-admin --group=ops\n" +
			"gossipod create clusterrolebinding ci-view --clusterrole=view --serviceaccount=ci:deployer",
		ArgsUsage: "NAME --clusterrole=NAME [--user=USER]... [--group=GROUP]... [--serviceaccount=NAMESPACE:NAME]... [--dry-run=none|client|server]",
		Flags: bindingCreateFlags(
			&cli.StringFlag{Name: "clusterrole", Usage: "ClusterRole this ClusterRoleBinding should reference (required)"}),
		Action: func(c *cli.Context) error { return runCreateBinding(c, false) },
	}
}

// runCreateBinding is kubectl create rolebinding (namespaced) or
// clusterrolebinding: the binding built from the flags as kubectl's
// create_rolebinding.go builds it, then created and printed as create
// prints every object.
func runCreateBinding(c *cli.Context, namespaced bool) error {
	name, o, err := createArgs(c)
	if err != nil {
		return err
	}
	ref := api.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: c.String("clusterrole")}
	switch role := c.String("role"); {
	case !namespaced && ref.Name == "":
		return usageError{errors.New(`required flag(s) "clusterrole" not set`)}
	case namespaced && (role == "") == (ref.Name == ""):
		return usageError{errors.New("exactly one of clusterrole or role must be specified")}
	case namespaced && role != "":
		ref.Kind, ref.Name = "Role", role
	}
	subjects, err := bindingSubjects(c)
	if err != nil {
		return err
	}
	if !namespaced {
		crb := &api.ClusterRoleBinding{
			TypeMeta:   api.TypeMeta{APIVersion: api.RBACAPIVersion, Kind: "ClusterRoleBinding"},
			ObjectMeta: api.ObjectMeta{Name: name},
			RoleRef:    ref, Subjects: subjects,
		}
		r := apiResource{Group: rbacv1.GroupName, Version: "v1", Resource: "clusterrolebindings"}
		return submitCreate(c, o, r, "clusterrolebinding.rbac.authorization.k8s.io", crb, "failed to create clusterrolebinding: ")
	}
	rb := &api.RoleBinding{
		TypeMeta:   api.TypeMeta{APIVersion: api.RBACAPIVersion, Kind: "RoleBinding"},
		ObjectMeta: api.ObjectMeta{Name: name, Namespace: o.objectNamespace},
		RoleRef:    ref, Subjects: subjects,
	}
	r := apiResource{Group: rbacv1.GroupName, Version: "v1", Resource: "rolebindings", Namespaced: true}
	return submitCreate(c, o, r, "rolebinding.rbac.authorization.k8s.io", rb, "failed to create rolebinding: ")
}

// bindingSubjects are the subjects of --user, --group and
// --serviceaccount, in that order, as kubectl lists them.
func bindingSubjects(c *cli.Context) ([]api.Subject, error) {
	values := func(flag string) []string {
		if a, ok := c.Generic(flag).(*stringArray); ok {
			return a.values
		}
		return nil
	}
	var out []api.Subject
	for _, u := range values("user") {
		out = append(out, api.Subject{Kind: rbacv1.UserKind, APIGroup: rbacv1.GroupName, Name: u})
	}
	for _, g := range values("group") {
		out = append(out, api.Subject{Kind: rbacv1.GroupKind, APIGroup: rbacv1.GroupName, Name: g})
	}
	for _, sa := range values("serviceaccount") {
		parts := strings.Split(sa, ":")
		if len(parts) != 2 || parts[0] == "" || parts[1] == "" {
			return nil, usageError{errors.New("serviceaccount must be <namespace>:<name>")}
		}
		out = append(out, api.Subject{Kind: rbacv1.ServiceAccountKind, Namespace: parts[0], Name: parts[1]})
	}
	return out, nil
}
