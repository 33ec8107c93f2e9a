package consensus

import (
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strconv"

	"github.com/gossipod/gossipod/api"
)

// ServiceAccount commands.
const (
	CmdCreateServiceAccount  CommandType = "CreateServiceAccount"
	CmdDeleteServiceAccount  CommandType = "DeleteServiceAccount"
	CmdEnsureServiceAccounts CommandType = "EnsureServiceAccounts"
	CmdUpdateServiceAccount  CommandType = "UpdateServiceAccount"
)

// CreateServiceAccount stores a new service account; the proposer sets its
// uid, the FSM its creation time and resourceVersion.
type CreateServiceAccount struct {
	ServiceAccount api.ServiceAccount `json:"serviceAccount"`
}

// DeleteServiceAccount removes a service account. Pods running as it keep
// running, as in Kubernetes; new pods naming it are refused.
type DeleteServiceAccount struct {
	Namespace string `json:"namespace"`
	Name      string `json:"name"`
}

// EnsureServiceAccounts creates the service accounts that do not exist yet
// and leaves existing ones alone: the leader's service account controller
// commits it for the "default" account of each namespace.
type EnsureServiceAccounts struct {
	ServiceAccounts []api.ServiceAccount `json:"serviceAccounts"`
}

// UpdateServiceAccount replaces a service account's labels, annotations,
// automountServiceAccountToken and imagePullSecrets, what a PUT or PATCH may change
// (kubectl apply, label, annotate). Its resourceVersion and uid, when set,
// are preconditions.
type UpdateServiceAccount struct {
	ServiceAccount api.ServiceAccount `json:"serviceAccount"`
}

// ServiceAccount returns a copy of a service account.
func (s *State) ServiceAccount(namespace, name string) (*api.ServiceAccount, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	sa, ok := s.serviceAccounts[podKey(namespace, name)]
	if !ok {
		return nil, false
	}
	return sa.DeepCopy(), true
}

// ServiceAccounts returns copies of the service accounts of namespace (all
// when it is ""), sorted by namespace and name, and the index they reflect.
func (s *State) ServiceAccounts(namespace string) ([]api.ServiceAccount, uint64) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	var out []api.ServiceAccount
	for _, key := range slices.Sorted(maps.Keys(s.serviceAccounts)) {
		if sa := s.serviceAccounts[key]; namespace == "" || sa.Namespace == namespace {
			out = append(out, *sa.DeepCopy())
		}
	}
	return out, s.index
}

// admitServiceAccount is kube-apiserver's ServiceAccount admission plugin
// for a new pod, and the one place it runs: every pod is created here,
// whether the API or the ReplicaSet controller proposed it, against the
// service accounts as committed (the API's view may be stale). The account
// the pod runs as must exist in its namespace; "default" is let through
// before the leader has made it, so that a pod in a namespace just created
// is not refused for a moment (Kubernetes' race, closed here). A pod that
// names no imagePullSecrets gets its account's, as the plugin gives them,
// so that the node pulls its images with them.
func (s *State) admitServiceAccount(p *api.Pod) error {
	name := p.Spec.ServiceAccountName
	if name == "" {
		return nil
	}
	sa, ok := s.serviceAccounts[podKey(p.Namespace, name)]
	if !ok {
		if name == api.DefaultServiceAccountName {
			return nil
		}
		return api.NewServiceAccountNotFound(p.Name, p.Namespace, name)
	}
	if len(p.Spec.ImagePullSecrets) == 0 && len(sa.ImagePullSecrets) > 0 {
		p.Spec.ImagePullSecrets = slices.Clone(sa.ImagePullSecrets)
	}
	return nil
}

func (s *State) createServiceAccount(index uint64, cmd Command, c CreateServiceAccount) (*api.ServiceAccount, error) {
	sa := c.ServiceAccount.DeepCopy()
	if err := api.ValidateServiceAccount(sa); err != nil {
		return nil, err
	}
	if sa.UID == "" {
		return nil, api.NewBadRequest("service account uid is required")
	}
	if err := s.admitNamespaced("serviceaccounts", sa.Name, sa.Namespace); err != nil {
		return nil, err
	}
	key := podKey(sa.Namespace, sa.Name)
	if _, exists := s.serviceAccounts[key]; exists {
		st := api.NewStatus(http.StatusConflict, api.StatusReasonAlreadyExists, fmt.Sprintf("serviceaccounts %q already exists", sa.Name))
		st.Details = &api.StatusDetails{Name: sa.Name, Kind: "serviceaccounts"}
		return nil, st
	}
	sa.Kind, sa.APIVersion = "ServiceAccount", "v1"
	sa.CreationTimestamp = api.NewTime(cmd.Time)
	sa.DeletionTimestamp, sa.DeletionGracePeriodSeconds = nil, nil
	sa.ResourceVersion = strconv.FormatUint(index, 10)
	s.serviceAccounts[key] = sa
	s.emit(index, "ServiceAccount", WatchAdded, sa)
	return sa, nil
}

func (s *State) updateServiceAccount(index uint64, u UpdateServiceAccount) (*api.ServiceAccount, error) {
	in := u.ServiceAccount.DeepCopy()
	old, ok := s.serviceAccounts[podKey(in.Namespace, in.Name)]
	if !ok {
		return nil, api.NewNotFound("serviceaccounts", in.Name)
	}
	if in.ResourceVersion != "" && in.ResourceVersion != old.ResourceVersion || in.UID != "" && in.UID != old.UID {
		return nil, conflictOn("serviceaccounts", in.Name)
	}
	if err := api.ValidateServiceAccountUpdate(old, in); err != nil {
		return nil, err
	}
	if maps.Equal(in.Labels, old.Labels) && maps.Equal(in.Annotations, old.Annotations) &&
		equalBoolPtr(in.AutomountServiceAccountToken, old.AutomountServiceAccountToken) &&
		slices.Equal(in.ImagePullSecrets, old.ImagePullSecrets) {
		return old.DeepCopy(), nil // nothing to write, as for a namespace
	}
	sa := old.DeepCopy()
	sa.Labels, sa.Annotations = in.Labels, in.Annotations
	sa.AutomountServiceAccountToken = in.AutomountServiceAccountToken
	sa.ImagePullSecrets = slices.Clone(in.ImagePullSecrets)
	sa.ResourceVersion = strconv.FormatUint(index, 10)
	s.serviceAccounts[podKey(sa.Namespace, sa.Name)] = sa
	s.emit(index, "ServiceAccount", WatchModified, sa)
	return sa, nil
}

func (s *State) ensureServiceAccounts(index uint64, cmd Command, e EnsureServiceAccounts) int {
	created := 0
	for i := range e.ServiceAccounts {
		sa := &e.ServiceAccounts[i]
		if _, exists := s.serviceAccounts[podKey(sa.Namespace, sa.Name)]; exists {
			continue
		}
		if _, err := s.createServiceAccount(index, cmd, CreateServiceAccount{ServiceAccount: *sa}); err == nil {
			created++
		}
	}
	return created
}

func (s *State) deleteServiceAccount(index uint64, d DeleteServiceAccount) (*api.ServiceAccount, error) {
	sa, ok := s.serviceAccounts[podKey(d.Namespace, d.Name)]
	if !ok {
		return nil, api.NewNotFound("serviceaccounts", d.Name)
	}
	s.removeServiceAccount(index, sa)
	return sa.DeepCopy(), nil
}

func (s *State) removeServiceAccount(index uint64, sa *api.ServiceAccount) {
	delete(s.serviceAccounts, podKey(sa.Namespace, sa.Name))
	emitDeleted(s, index, "ServiceAccount", sa)
}

// removeServiceAccountsOf deletes the service accounts of a namespace, in
// name order so every replica emits the same events.
func (s *State) removeServiceAccountsOf(index uint64, namespace string) {
	for _, key := range slices.Sorted(maps.Keys(s.serviceAccounts)) {
		if sa := s.serviceAccounts[key]; sa.Namespace == namespace {
			s.removeServiceAccount(index, sa)
		}
	}
}

func equalBoolPtr(a, b *bool) bool {
	return a == nil && b == nil || a != nil && b != nil && *a == *b
}
