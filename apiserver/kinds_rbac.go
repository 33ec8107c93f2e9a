package apiserver

import (
	"context"

	"github.com/gossipod/gossipod/api"
	"github.com/gossipod/gossipod/apiserver/auth"
	"github.com/gossipod/gossipod/apiserver/discovery"
	"github.com/gossipod/gossipod/consensus"
)

// roleBindings: a built-in ClusterRole granted within a namespace;
// defaulted and validated here and again by the state machine (roleRef
// names a built-in ClusterRole and never changes).
func (s *Server) roleBindings(info discovery.Resource) *resource[api.RoleBinding, *api.RoleBinding] {
	return &resource[api.RoleBinding, *api.RoleBinding]{
		s: s, info: info,
		get: func(st *consensus.State, ns, name string) (*api.RoleBinding, bool) { return st.RoleBinding(ns, name) },
		list: func(st *consensus.State, _ string, keep func(*api.RoleBinding) bool) ([]*api.RoleBinding, uint64) {
			return st.RoleBindings(keep)
		},
		newList: func(items []api.RoleBinding, meta api.ListMeta) any {
			l := api.RoleBindingList{Items: items}
			l.TypeMeta, l.ListMeta = listMeta("RoleBindingList", api.RBACAPIVersion, meta)
			return l
		},
		create: func(ctx context.Context, rb *api.RoleBinding) (*api.RoleBinding, error) {
			api.SetRoleBindingDefaults(rb)
			if err := api.ValidateRoleBinding(rb); err != nil {
				return nil, err
			}
			return commitObject[api.RoleBinding](ctx, s.b, consensus.CmdCreateRoleBinding, consensus.CreateRoleBinding{RoleBinding: *rb})
		},
		update: func(ctx context.Context, old, rb *api.RoleBinding) (*api.RoleBinding, error) {
			api.SetRoleBindingDefaults(rb)
			if err := api.ValidateRoleBindingUpdate(old, rb); err != nil {
				return nil, err
			}
			return commitObject[api.RoleBinding](ctx, s.b, consensus.CmdUpdateRoleBinding, consensus.UpdateRoleBinding{RoleBinding: *rb})
		},
		remove: func(ctx context.Context, ns, name string, o *api.DeleteOptions) (*api.RoleBinding, error) {
			return commitObject[api.RoleBinding](ctx, s.b, consensus.CmdDeleteRoleBinding, consensus.DeleteRoleBinding{
				Namespace: ns, Name: name, UID: uidPrecondition(o)})
		},
	}
}

// clusterRoleBindings: a built-in ClusterRole granted everywhere, checked
// as roleBindings are.
func (s *Server) clusterRoleBindings(info discovery.Resource) *resource[api.ClusterRoleBinding, *api.ClusterRoleBinding] {
	return &resource[api.ClusterRoleBinding, *api.ClusterRoleBinding]{
		s: s, info: info,
		get: func(st *consensus.State, _, name string) (*api.ClusterRoleBinding, bool) {
			return st.ClusterRoleBinding(name)
		},
		list: func(st *consensus.State, _ string, keep func(*api.ClusterRoleBinding) bool) ([]*api.ClusterRoleBinding, uint64) {
			return st.ClusterRoleBindings(keep)
		},
		newList: func(items []api.ClusterRoleBinding, meta api.ListMeta) any {
			l := api.ClusterRoleBindingList{Items: items}
			l.TypeMeta, l.ListMeta = listMeta("ClusterRoleBindingList", api.RBACAPIVersion, meta)
			return l
		},
		create: func(ctx context.Context, crb *api.ClusterRoleBinding) (*api.ClusterRoleBinding, error) {
			api.SetClusterRoleBindingDefaults(crb)
			if err := api.ValidateClusterRoleBinding(crb); err != nil {
				return nil, err
			}
			return commitObject[api.ClusterRoleBinding](ctx, s.b, consensus.CmdCreateClusterRoleBinding,
				consensus.CreateClusterRoleBinding{ClusterRoleBinding: *crb})
		},
		update: func(ctx context.Context, old, crb *api.ClusterRoleBinding) (*api.ClusterRoleBinding, error) {
			api.SetClusterRoleBindingDefaults(crb)
			if err := api.ValidateClusterRoleBindingUpdate(old, crb); err != nil {
				return nil, err
			}
			return commitObject[api.ClusterRoleBinding](ctx, s.b, consensus.CmdUpdateClusterRoleBinding,
				consensus.UpdateClusterRoleBinding{ClusterRoleBinding: *crb})
		},
		remove: func(ctx context.Context, _, name string, o *api.DeleteOptions) (*api.ClusterRoleBinding, error) {
			return commitObject[api.ClusterRoleBinding](ctx, s.b, consensus.CmdDeleteClusterRoleBinding,
				consensus.DeleteClusterRoleBinding{Name: name, UID: uidPrecondition(o)})
		},
	}
}

// clusterRoles: gossipod's built-in roles (auth.ClusterRoles), read-only:
// there are no other ClusterRoles to make. They exist as long as the
// cluster, so they show the creation time of its default namespace.
func (s *Server) clusterRoles(info discovery.Resource) *resource[api.ClusterRole, *api.ClusterRole] {
	builtIn := func(st *consensus.State) []api.ClusterRole {
		roles := auth.ClusterRoles()
		if ns, ok := st.Namespace(api.DefaultNamespace); ok {
			for i := range roles {
				roles[i].CreationTimestamp = ns.CreationTimestamp
			}
		}
		return roles
	}
	return &resource[api.ClusterRole, *api.ClusterRole]{
		s: s, info: info,
		get: func(st *consensus.State, _, name string) (*api.ClusterRole, bool) {
			for _, cr := range builtIn(st) {
				if cr.Name == name {
					return &cr, true
				}
			}
			return nil, false
		},
		list: func(st *consensus.State, _ string, keep func(*api.ClusterRole) bool) ([]*api.ClusterRole, uint64) {
			return values(builtIn(st), keep), st.Index()
		},
		newList: func(items []api.ClusterRole, meta api.ListMeta) any {
			l := api.ClusterRoleList{Items: items}
			l.TypeMeta, l.ListMeta = listMeta("ClusterRoleList", api.RBACAPIVersion, meta)
			return l
		},
	}
}
