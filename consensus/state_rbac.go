package consensus

import (
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strconv"

	"k8s.io/apimachinery/pkg/types"

	"github.com/gossipod/gossipod/api"
)

// RBAC binding commands.
const (
	CmdCreateRoleBinding        CommandType = "CreateRoleBinding"
	CmdUpdateRoleBinding        CommandType = "UpdateRoleBinding"
	CmdDeleteRoleBinding        CommandType = "DeleteRoleBinding"
	CmdCreateClusterRoleBinding CommandType = "CreateClusterRoleBinding"
	CmdUpdateClusterRoleBinding CommandType = "UpdateClusterRoleBinding"
	CmdDeleteClusterRoleBinding CommandType = "DeleteClusterRoleBinding"
)

// CreateRoleBinding stores a new RoleBinding; the proposer sets its uid,
// the FSM its creation time and resourceVersion.
type CreateRoleBinding struct {
	RoleBinding api.RoleBinding `json:"roleBinding"`
}

// UpdateRoleBinding replaces a RoleBinding's labels, annotations and
// subjects; roleRef cannot change. Its resourceVersion and uid, when set,
// are preconditions.
type UpdateRoleBinding struct {
	RoleBinding api.RoleBinding `json:"roleBinding"`
}

// DeleteRoleBinding removes a RoleBinding. UID, when set, is a
// precondition.
type DeleteRoleBinding struct {
	Namespace string    `json:"namespace"`
	Name      string    `json:"name"`
	UID       types.UID `json:"uid,omitempty"`
}

// CreateClusterRoleBinding stores a new ClusterRoleBinding.
type CreateClusterRoleBinding struct {
	ClusterRoleBinding api.ClusterRoleBinding `json:"clusterRoleBinding"`
}

// UpdateClusterRoleBinding replaces a ClusterRoleBinding's labels,
// annotations and subjects, as UpdateRoleBinding.
type UpdateClusterRoleBinding struct {
	ClusterRoleBinding api.ClusterRoleBinding `json:"clusterRoleBinding"`
}

// DeleteClusterRoleBinding removes a ClusterRoleBinding. UID, when set, is
// a precondition.
type DeleteClusterRoleBinding struct {
	Name string    `json:"name"`
	UID  types.UID `json:"uid,omitempty"`
}

// grantIndex is the bindings' grants by subject: what the authorizer reads
// on every request. It is immutable once published; a change of bindings
// builds a new one.
type grantIndex map[api.SubjectKey][]api.RoleGrant

// RoleGrants returns the grants of the bindings whose subjects name
// subject (a User, with ServiceAccounts as their users, or a Group). It
// reads an immutable index published atomically, so it neither locks nor
// allocates: the authorizer calls it for the user and each of its groups
// on every request. The slice is shared and must not be changed.
func (s *State) RoleGrants(subject api.SubjectKey) []api.RoleGrant {
	idx := s.grants.Load()
	if idx == nil {
		return nil
	}
	return (*idx)[subject]
}

// RoleBinding returns a RoleBinding; the State's objects are copy-on-write,
// so the caller must not change it.
func (s *State) RoleBinding(namespace, name string) (*api.RoleBinding, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	rb, ok := s.roleBindings[podKey(namespace, name)]
	return rb, ok
}

// RoleBindings returns the RoleBindings keep selects, sorted by namespace
// and name, and the index they reflect. The objects are shared: callers
// must not change them.
func (s *State) RoleBindings(keep func(*api.RoleBinding) bool) ([]*api.RoleBinding, uint64) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	var out []*api.RoleBinding
	for _, key := range slices.Sorted(maps.Keys(s.roleBindings)) {
		if rb := s.roleBindings[key]; keep == nil || keep(rb) {
			out = append(out, rb)
		}
	}
	return out, s.index
}

// ClusterRoleBinding returns a ClusterRoleBinding, shared: the caller must
// not change it.
func (s *State) ClusterRoleBinding(name string) (*api.ClusterRoleBinding, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	crb, ok := s.clusterRoleBindings[name]
	return crb, ok
}

// ClusterRoleBindings returns the ClusterRoleBindings keep selects, sorted
// by name, and the index they reflect; shared, as RoleBindings.
func (s *State) ClusterRoleBindings(keep func(*api.ClusterRoleBinding) bool) ([]*api.ClusterRoleBinding, uint64) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	var out []*api.ClusterRoleBinding
	for _, key := range slices.Sorted(maps.Keys(s.clusterRoleBindings)) {
		if crb := s.clusterRoleBindings[key]; keep == nil || keep(crb) {
			out = append(out, crb)
		}
	}
	return out, s.index
}

// dispatchRBAC applies the binding commands.
func (s *State) dispatchRBAC(index uint64, cmd Command) (any, error) {
	switch cmd.Type {
	case CmdCreateRoleBinding:
		p, err := decode[CreateRoleBinding](cmd)
		if err != nil {
			return nil, err
		}
		return s.createRoleBinding(index, cmd, p)
	case CmdUpdateRoleBinding:
		p, err := decode[UpdateRoleBinding](cmd)
		if err != nil {
			return nil, err
		}
		return s.updateRoleBinding(index, p)
	case CmdDeleteRoleBinding:
		p, err := decode[DeleteRoleBinding](cmd)
		if err != nil {
			return nil, err
		}
		return s.deleteRoleBinding(index, p, true)
	case CmdCreateClusterRoleBinding:
		p, err := decode[CreateClusterRoleBinding](cmd)
		if err != nil {
			return nil, err
		}
		return s.createClusterRoleBinding(index, cmd, p)
	case CmdUpdateClusterRoleBinding:
		p, err := decode[UpdateClusterRoleBinding](cmd)
		if err != nil {
			return nil, err
		}
		return s.updateClusterRoleBinding(index, p)
	case CmdDeleteClusterRoleBinding:
		p, err := decode[DeleteClusterRoleBinding](cmd)
		if err != nil {
			return nil, err
		}
		return s.deleteClusterRoleBinding(index, p)
	}
	return nil, fmt.Errorf("unknown command type %q", cmd.Type)
}

func (s *State) createRoleBinding(index uint64, cmd Command, c CreateRoleBinding) (*api.RoleBinding, error) {
	rb := c.RoleBinding.DeepCopy()
	api.SetRoleBindingDefaults(rb)
	if err := api.ValidateRoleBinding(rb); err != nil {
		return nil, err
	}
	if rb.UID == "" {
		return nil, api.NewBadRequest("rolebinding uid is required")
	}
	if err := s.admitNamespaced("rolebindings.rbac.authorization.k8s.io", rb.Name, rb.Namespace); err != nil {
		return nil, err
	}
	if _, exists := s.roleBindings[podKey(rb.Namespace, rb.Name)]; exists {
		return nil, alreadyExists("rolebindings.rbac.authorization.k8s.io", rb.Name)
	}
	rb.Kind, rb.APIVersion = "RoleBinding", api.RBACAPIVersion
	rb.CreationTimestamp = api.NewTime(cmd.Time)
	rb.DeletionTimestamp, rb.DeletionGracePeriodSeconds = nil, nil
	rb.Generation = 0
	s.putRoleBinding(index, nil, rb)
	return rb, nil
}

func (s *State) updateRoleBinding(index uint64, u UpdateRoleBinding) (*api.RoleBinding, error) {
	in := u.RoleBinding.DeepCopy()
	api.SetRoleBindingDefaults(in)
	old, ok := s.roleBindings[podKey(in.Namespace, in.Name)]
	if !ok {
		return nil, api.NewNotFound("rolebindings.rbac.authorization.k8s.io", in.Name)
	}
	if in.ResourceVersion != "" && in.ResourceVersion != old.ResourceVersion || in.UID != "" && in.UID != old.UID {
		return nil, conflictOn("rolebindings.rbac.authorization.k8s.io", in.Name)
	}
	if err := api.ValidateRoleBindingUpdate(old, in); err != nil {
		return nil, err
	}
	if reflect.DeepEqual(nilIfEmptySubjects(in.Subjects), nilIfEmptySubjects(old.Subjects)) &&
		maps.Equal(in.Labels, old.Labels) && maps.Equal(in.Annotations, old.Annotations) {
		return old, nil // nothing to write
	}
	rb := old.DeepCopy()
	rb.Labels, rb.Annotations, rb.Subjects = in.Labels, in.Annotations, in.Subjects
	s.putRoleBinding(index, old, rb)
	return rb, nil
}

// deleteRoleBinding removes a RoleBinding, and its grants when regrant
// (a namespace's many are removed at once, then the index rebuilt once).
func (s *State) deleteRoleBinding(index uint64, d DeleteRoleBinding, regrant bool) (*api.RoleBinding, error) {
	key := podKey(d.Namespace, d.Name)
	rb, ok := s.roleBindings[key]
	if !ok {
		return nil, api.NewNotFound("rolebindings.rbac.authorization.k8s.io", d.Name)
	}
	if d.UID != "" && d.UID != rb.UID {
		return nil, conflictOn("rolebindings.rbac.authorization.k8s.io", d.Name)
	}
	delete(s.roleBindings, key)
	if regrant {
		s.regrant(rb.Subjects, nil, rb.Namespace, rb.RoleRef.Name, key)
	}
	emitDeleted(s, index, "RoleBinding", rb)
	return rb, nil
}

// removeRoleBindingsOf deletes the RoleBindings of a namespace being
// deleted, in a fixed order so every replica emits the same events: a
// namespace made again later does not inherit its grants.
func (s *State) removeRoleBindingsOf(index uint64, namespace string) {
	removed := false
	for _, key := range slices.Sorted(maps.Keys(s.roleBindings)) {
		if rb := s.roleBindings[key]; rb.Namespace == namespace {
			_, _ = s.deleteRoleBinding(index, DeleteRoleBinding{Namespace: rb.Namespace, Name: rb.Name}, false)
			removed = true
		}
	}
	if removed {
		s.reindexGrants()
	}
}

func (s *State) putRoleBinding(index uint64, old, rb *api.RoleBinding) {
	rb.ResourceVersion = strconv.FormatUint(index, 10)
	key := podKey(rb.Namespace, rb.Name)
	s.roleBindings[key] = rb
	var was []api.Subject
	if old != nil {
		was = old.Subjects
	}
	s.regrant(was, rb.Subjects, rb.Namespace, rb.RoleRef.Name, key)
	s.emit(index, "RoleBinding", added(old != nil), rb)
}

func (s *State) createClusterRoleBinding(index uint64, cmd Command, c CreateClusterRoleBinding) (*api.ClusterRoleBinding, error) {
	crb := c.ClusterRoleBinding.DeepCopy()
	api.SetClusterRoleBindingDefaults(crb)
	if err := api.ValidateClusterRoleBinding(crb); err != nil {
		return nil, err
	}
	if crb.UID == "" {
		return nil, api.NewBadRequest("clusterrolebinding uid is required")
	}
	if _, exists := s.clusterRoleBindings[crb.Name]; exists {
		return nil, alreadyExists("clusterrolebindings.rbac.authorization.k8s.io", crb.Name)
	}
	crb.Kind, crb.APIVersion = "ClusterRoleBinding", api.RBACAPIVersion
	crb.CreationTimestamp = api.NewTime(cmd.Time)
	crb.DeletionTimestamp, crb.DeletionGracePeriodSeconds = nil, nil
	crb.Generation = 0
	s.putClusterRoleBinding(index, nil, crb)
	return crb, nil
}

func (s *State) updateClusterRoleBinding(index uint64, u UpdateClusterRoleBinding) (*api.ClusterRoleBinding, error) {
	in := u.ClusterRoleBinding.DeepCopy()
	old, ok := s.clusterRoleBindings[in.Name]
	if !ok {
		return nil, api.NewNotFound("clusterrolebindings.rbac.authorization.k8s.io", in.Name)
	}
	if in.ResourceVersion != "" && in.ResourceVersion != old.ResourceVersion || in.UID != "" && in.UID != old.UID {
		return nil, conflictOn("clusterrolebindings.rbac.authorization.k8s.io", in.Name)
	}
	api.SetClusterRoleBindingDefaults(in)
	if err := api.ValidateClusterRoleBindingUpdate(old, in); err != nil {
		return nil, err
	}
	if reflect.DeepEqual(nilIfEmptySubjects(in.Subjects), nilIfEmptySubjects(old.Subjects)) &&
		maps.Equal(in.Labels, old.Labels) && maps.Equal(in.Annotations, old.Annotations) {
		return old, nil // nothing to write
	}
	crb := old.DeepCopy()
	crb.Labels, crb.Annotations, crb.Subjects = in.Labels, in.Annotations, in.Subjects
	s.putClusterRoleBinding(index, old, crb)
	return crb, nil
}

func (s *State) deleteClusterRoleBinding(index uint64, d DeleteClusterRoleBinding) (*api.ClusterRoleBinding, error) {
	crb, ok := s.clusterRoleBindings[d.Name]
	if !ok {
		return nil, api.NewNotFound("clusterrolebindings.rbac.authorization.k8s.io", d.Name)
	}
	if d.UID != "" && d.UID != crb.UID {
		return nil, conflictOn("clusterrolebindings.rbac.authorization.k8s.io", d.Name)
	}
	delete(s.clusterRoleBindings, d.Name)
	s.regrant(crb.Subjects, nil, "", crb.RoleRef.Name, crb.Name)
	emitDeleted(s, index, "ClusterRoleBinding", crb)
	return crb, nil
}

func (s *State) putClusterRoleBinding(index uint64, old, crb *api.ClusterRoleBinding) {
	crb.ResourceVersion = strconv.FormatUint(index, 10)
	s.clusterRoleBindings[crb.Name] = crb
	var was []api.Subject
	if old != nil {
		was = old.Subjects
	}
	s.regrant(was, crb.Subjects, "", crb.RoleRef.Name, crb.Name)
	s.emit(index, "ClusterRoleBinding", added(old != nil), crb)
}

// regrant publishes the grant index after one binding's subjects changed
// from was to now (nil for a binding created or deleted); its role never
// changes. The index is copied, not changed, since readers hold it
// without a lock: a change costs a copy of the index's map (bindings
// change rarely), a request one lookup per subject. It runs under the
// State's write lock, so changes never race.
func (s *State) regrant(was, now []api.Subject, ns, role, binding string) {
	var idx grantIndex
	if cur := s.grants.Load(); cur != nil {
		idx = maps.Clone(*cur)
	}
	if idx == nil {
		idx = grantIndex{}
	}
	g := api.RoleGrant{Namespace: ns, Role: role, Binding: binding}
	for _, sub := range was {
		if key, ok := api.SubjectKeyOf(sub, ns); ok {
			if left := slices.DeleteFunc(slices.Clone(idx[key]), func(x api.RoleGrant) bool { return x == g }); len(left) > 0 {
				idx[key] = left
			} else {
				delete(idx, key)
			}
		}
	}
	for _, sub := range now {
		if key, ok := api.SubjectKeyOf(sub, ns); ok && !slices.Contains(idx[key], g) {
			idx[key] = append(slices.Clip(idx[key]), g)
		}
	}
	s.grants.Store(&idx)
}

// reindexGrants builds the grant index from all the bindings and
// publishes it: after a restore, and after a namespace's RoleBindings
// went at once.
func (s *State) reindexGrants() {
	idx := make(grantIndex, len(s.roleBindings)+len(s.clusterRoleBindings))
	add := func(subjects []api.Subject, ns, role, binding string) {
		for _, sub := range subjects {
			key, ok := api.SubjectKeyOf(sub, ns)
			if !ok {
				continue
			}
			g := api.RoleGrant{Namespace: ns, Role: role, Binding: binding}
			if !slices.Contains(idx[key], g) {
				idx[key] = append(idx[key], g)
			}
		}
	}
	// The order of a subject's grants does not matter (any one that
	// allows a request is enough), so the maps are walked unsorted.
	for _, crb := range s.clusterRoleBindings {
		add(crb.Subjects, "", crb.RoleRef.Name, crb.Name)
	}
	for key, rb := range s.roleBindings {
		add(rb.Subjects, rb.Namespace, rb.RoleRef.Name, key)
	}
	s.grants.Store(&idx)
}

// nilIfEmptySubjects makes an empty subject list nil, so an update that
// sends [] for none compares equal.
func nilIfEmptySubjects(s []api.Subject) []api.Subject {
	if len(s) == 0 {
		return nil
	}
	return s
}
