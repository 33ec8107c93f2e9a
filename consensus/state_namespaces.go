package consensus

import (
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strconv"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/gossipod/gossipod/api"
)

// Namespace commands.
const (
	CmdCreateNamespace  CommandType = "CreateNamespace"
	CmdDeleteNamespace  CommandType = "DeleteNamespace"
	CmdEnsureNamespaces CommandType = "EnsureNamespaces"
	CmdUpdateNamespace  CommandType = "UpdateNamespace"
)

// CreateNamespace stores a new namespace. The proposer sets its uid; the
// FSM sets creation time, resourceVersion, the "kubernetes" finalizer and
// phase Active.
type CreateNamespace struct {
	Namespace api.Namespace `json:"namespace"`
}

// DeleteNamespace starts the deletion of a namespace, as Kubernetes'
// namespace controller carries it out: the namespace turns Terminating (no
// new content may be created in it), its deployments and replica sets are
// deleted, its pods deleted gracefully, its events dropped; it goes once
// its last pod is gone.
// UID, when set, is a precondition.
type DeleteNamespace struct {
	Name string    `json:"name"`
	UID  types.UID `json:"uid,omitempty"`
}

// EnsureNamespaces creates the namespaces that do not exist yet, with the
// uids the leader chose, and leaves existing ones alone. The leader commits
// it for the system namespaces and for namespaces that objects stored before
// namespaces were objects refer to.
type EnsureNamespaces struct {
	Namespaces []api.Namespace `json:"namespaces"`
}

// UpdateNamespace replaces a namespace's labels and annotations, what a PUT
// or PATCH of a Namespace may change (kubectl apply, label, annotate). Its
// resourceVersion and uid, when set, are preconditions; spec.finalizers,
// status and the other metadata stay the stored ones.
type UpdateNamespace struct {
	Namespace api.Namespace `json:"namespace"`
}

// Namespace returns a copy of the named namespace.
func (s *State) Namespace(name string) (*api.Namespace, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	ns, ok := s.namespaces[name]
	if !ok {
		return nil, false
	}
	return ns.DeepCopy(), true
}

// Namespaces returns copies of all namespaces sorted by name, and the index
// they reflect.
func (s *State) Namespaces() ([]api.Namespace, uint64) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := make([]api.Namespace, 0, len(s.namespaces))
	for _, name := range slices.Sorted(maps.Keys(s.namespaces)) {
		out = append(out, *s.namespaces[name].DeepCopy())
	}
	return out, s.index
}

// admitNamespaced is kube-apiserver's NamespaceLifecycle admission for a new
// object of resource named name in namespace: the namespace must exist (the
// system namespaces count as existing before the leader has stored them)
// and must not be terminating.
func (s *State) admitNamespaced(resource, name, namespace string) error {
	ns, ok := s.namespaces[namespace]
	switch {
	case !ok && api.IsSystemNamespace(namespace):
		return nil
	case !ok:
		return api.NewNamespaceNotFound(namespace)
	case ns.Status.Phase == api.NamespaceTerminating:
		return api.NewNamespaceTerminating(resource, name, namespace)
	}
	return nil
}

func (s *State) createNamespace(index uint64, cmd Command, c CreateNamespace) (*api.Namespace, error) {
	ns := c.Namespace.DeepCopy()
	if err := api.ValidateNamespace(ns); err != nil {
		return nil, err
	}
	if _, exists := s.namespaces[ns.Name]; exists {
		st := api.NewStatus(http.StatusConflict, api.StatusReasonAlreadyExists, fmt.Sprintf("namespaces %q already exists", ns.Name))
		st.Details = &api.StatusDetails{Name: ns.Name, Kind: "namespaces"}
		return nil, st
	}
	if ns.UID == "" {
		return nil, api.NewBadRequest("namespace uid is required")
	}
	ns.Kind, ns.APIVersion = "Namespace", "v1"
	ns.CreationTimestamp = api.NewTime(cmd.Time)
	ns.DeletionTimestamp, ns.DeletionGracePeriodSeconds = nil, nil
	ns.Generation = 0
	ns.Spec.Finalizers = []corev1.FinalizerName{api.NamespaceFinalizerKubernetes}
	ns.Status = api.NamespaceStatus{Phase: api.NamespaceActive}
	s.putNamespace(index, nil, ns)
	return ns, nil
}

func (s *State) updateNamespace(index uint64, u UpdateNamespace) (*api.Namespace, error) {
	in := &u.Namespace
	old, ok := s.namespaces[in.Name]
	if !ok {
		return nil, api.NewNotFound("namespaces", in.Name)
	}
	if in.ResourceVersion != "" && in.ResourceVersion != old.ResourceVersion || in.UID != "" && in.UID != old.UID {
		return nil, conflictOn("namespaces", in.Name)
	}
	// Checked against the committed namespace, whatever the proposer read.
	if err := api.ValidateNamespaceUpdate(old, in); err != nil {
		return nil, err
	}
	// An update that changes nothing it may change (a status it cannot
	// set, the same labels) writes nothing, as kube-apiserver skips a write
	// that leaves the stored object as it is: no new resourceVersion, no
	// watch event.
	if maps.Equal(in.Labels, old.Labels) && maps.Equal(in.Annotations, old.Annotations) {
		return old.DeepCopy(), nil
	}
	ns := old.DeepCopy()
	ns.Labels = maps.Clone(in.Labels)
	ns.Annotations = maps.Clone(in.Annotations)
	s.putNamespace(index, old, ns)
	return ns, nil
}

func (s *State) ensureNamespaces(index uint64, cmd Command, e EnsureNamespaces) int {
	created := 0
	for i := range e.Namespaces {
		if _, exists := s.namespaces[e.Namespaces[i].Name]; exists {
			continue
		}
		if _, err := s.createNamespace(index, cmd, CreateNamespace{Namespace: e.Namespaces[i]}); err == nil {
			created++
		}
	}
	return created
}

func (s *State) deleteNamespace(index uint64, cmd Command, d DeleteNamespace) (*api.Namespace, error) {
	old, ok := s.namespaces[d.Name]
	if !ok {
		return nil, api.NewNotFound("namespaces", d.Name)
	}
	if d.UID != "" && d.UID != old.UID {
		st := api.NewStatus(http.StatusConflict, api.StatusReasonConflict,
			fmt.Sprintf("Operation cannot be fulfilled on namespaces %q: the UID in the precondition (%s) does not match the UID in record (%s). The object might have been deleted and then recreated", d.Name, d.UID, old.UID))
		st.Details = &api.StatusDetails{Name: d.Name, Kind: "namespaces"}
		return nil, st
	}
	if api.IsImmortalNamespace(d.Name) {
		return nil, api.NewImmortalNamespace(d.Name)
	}
	if old.Status.Phase == api.NamespaceTerminating {
		return old.DeepCopy(), nil
	}
	ns := old.DeepCopy()
	ts := api.NewTime(cmd.Time)
	ns.DeletionTimestamp = &ts
	ns.Status.Phase = api.NamespaceTerminating
	s.putNamespace(index, old, ns)

	// The content, in a fixed order so every replica emits the same events.
	for _, key := range slices.Sorted(maps.Keys(s.deployments)) {
		if dep, ok := s.deployments[key]; ok && dep.Namespace == d.Name {
			_, _ = s.deleteDeployment(index, cmd, DeleteDeployment{Namespace: dep.Namespace, Name: dep.Name})
		}
	}
	for _, key := range slices.Sorted(maps.Keys(s.replicaSets)) {
		if rs, ok := s.replicaSets[key]; ok && rs.Namespace == d.Name {
			_, _ = s.deleteReplicaSet(index, cmd, DeleteReplicaSet{Namespace: rs.Namespace, Name: rs.Name})
		}
	}
	for _, key := range slices.Sorted(maps.Keys(s.pods)) {
		if p, ok := s.pods[key]; ok && p.Namespace == d.Name {
			_, _ = s.deletePod(index, cmd, DeletePod{Namespace: p.Namespace, Name: p.Name, UID: p.UID})
		}
	}
	for key, e := range s.events {
		if e.Namespace == d.Name {
			delete(s.events, key)
		}
	}
	s.removeServicesOf(index, d.Name)
	s.removeConfigMapsOf(index, d.Name)
	s.removeSecretsOf(index, d.Name)
	s.removeRoleBindingsOf(index, d.Name)
	s.finishNamespace(index, d.Name)
	return s.namespaceOrDeleted(ns).DeepCopy(), nil
}

// namespaceOrDeleted returns the stored namespace of ns's name, or ns itself
// once it has gone (a delete that finished at once answers with the last
// state, as Kubernetes answers a delete).
func (s *State) namespaceOrDeleted(ns *api.Namespace) *api.Namespace {
	if cur, ok := s.namespaces[ns.Name]; ok {
		return cur
	}
	return ns
}

// finishNamespace removes a terminating namespace once nothing is left in
// it; the pod removal path calls it after each pod of a terminating
// namespace goes.
func (s *State) finishNamespace(index uint64, name string) {
	ns, ok := s.namespaces[name]
	if !ok || ns.Status.Phase != api.NamespaceTerminating {
		return
	}
	for _, p := range s.pods {
		if p.Namespace == name {
			return
		}
	}
	for _, dep := range s.deployments {
		if dep.Namespace == name {
			return
		}
	}
	for _, rs := range s.replicaSets {
		if rs.Namespace == name {
			return
		}
	}
	s.removeServiceAccountsOf(index, name)
	delete(s.namespaces, name)
	emitDeleted(s, index, "Namespace", ns)
}

func (s *State) putNamespace(index uint64, old, ns *api.Namespace) {
	ns.ResourceVersion = strconv.FormatUint(index, 10)
	s.namespaces[ns.Name] = ns
	s.emit(index, "Namespace", added(old != nil), ns)
}
