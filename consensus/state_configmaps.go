package consensus

import (
	"fmt"
	"maps"
	"net/http"
	"reflect"
	"slices"
	"strconv"

	"k8s.io/apimachinery/pkg/types"

	"github.com/gossipod/gossipod/api"
)

// ConfigMap commands.
const (
	CmdCreateConfigMap CommandType = "CreateConfigMap"
	CmdUpdateConfigMap CommandType = "UpdateConfigMap"
	CmdDeleteConfigMap CommandType = "DeleteConfigMap"
)

// CreateConfigMap stores a new ConfigMap; the proposer sets its uid, the
// FSM its creation time and resourceVersion.
type CreateConfigMap struct {
	ConfigMap api.ConfigMap `json:"configMap"`
}

// UpdateConfigMap replaces a ConfigMap's labels, annotations, data,
// binaryData and immutable. Its resourceVersion and uid, when set, are
// preconditions; an immutable ConfigMap's data stays as it is.
type UpdateConfigMap struct {
	ConfigMap api.ConfigMap `json:"configMap"`
}

// DeleteConfigMap removes a ConfigMap. UID, when set, is a precondition.
type DeleteConfigMap struct {
	Namespace string    `json:"namespace"`
	Name      string    `json:"name"`
	UID       types.UID `json:"uid,omitempty"`
}

// ConfigMap returns a ConfigMap; the State's objects are copy-on-write, so
// the caller must not change it.
func (s *State) ConfigMap(namespace, name string) (*api.ConfigMap, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	cm, ok := s.configMaps[podKey(namespace, name)]
	return cm, ok
}

// ConfigMaps returns the ConfigMaps keep selects, sorted by namespace and
// name, and the index they reflect. The objects are shared: callers must
// not change them.
func (s *State) ConfigMaps(keep func(*api.ConfigMap) bool) ([]*api.ConfigMap, uint64) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	var out []*api.ConfigMap
	for _, key := range slices.Sorted(maps.Keys(s.configMaps)) {
		if cm := s.configMaps[key]; keep == nil || keep(cm) {
			out = append(out, cm)
		}
	}
	return out, s.index
}

func (s *State) createConfigMap(index uint64, cmd Command, c CreateConfigMap) (*api.ConfigMap, error) {
	cm := c.ConfigMap.DeepCopy()
	api.SetConfigMapDefaults(cm)
	if err := api.ValidateConfigMap(cm); err != nil {
		return nil, err
	}
	if cm.UID == "" {
		return nil, api.NewBadRequest("configmap uid is required")
	}
	if err := s.admitNamespaced("configmaps", cm.Name, cm.Namespace); err != nil {
		return nil, err
	}
	if _, exists := s.configMaps[podKey(cm.Namespace, cm.Name)]; exists {
		return nil, alreadyExists("configmaps", cm.Name)
	}
	cm.Kind, cm.APIVersion = "ConfigMap", "v1"
	cm.CreationTimestamp = api.NewTime(cmd.Time)
	cm.DeletionTimestamp, cm.DeletionGracePeriodSeconds = nil, nil
	cm.Generation = 0
	s.putConfigMap(index, nil, cm)
	return cm, nil
}

func (s *State) updateConfigMap(index uint64, u UpdateConfigMap) (*api.ConfigMap, error) {
	in := u.ConfigMap.DeepCopy()
	old, ok := s.configMaps[podKey(in.Namespace, in.Name)]
	if !ok {
		return nil, api.NewNotFound("configmaps", in.Name)
	}
	if in.ResourceVersion != "" && in.ResourceVersion != old.ResourceVersion || in.UID != "" && in.UID != old.UID {
		return nil, conflictOn("configmaps", in.Name)
	}
	api.SetConfigMapDefaults(in)
	if err := api.ValidateConfigMapUpdate(old, in); err != nil {
		return nil, err
	}
	if maps.Equal(in.Data, old.Data) && reflect.DeepEqual(in.BinaryData, old.BinaryData) &&
		reflect.DeepEqual(in.Immutable, old.Immutable) && maps.Equal(in.Labels, old.Labels) && maps.Equal(in.Annotations, old.Annotations) {
		return old, nil // nothing to write
	}
	cm := old.DeepCopy()
	cm.Labels, cm.Annotations = in.Labels, in.Annotations
	cm.Data, cm.BinaryData, cm.Immutable = in.Data, in.BinaryData, in.Immutable
	s.putConfigMap(index, old, cm)
	return cm, nil
}

func (s *State) deleteConfigMap(index uint64, d DeleteConfigMap) (*api.ConfigMap, error) {
	key := podKey(d.Namespace, d.Name)
	cm, ok := s.configMaps[key]
	if !ok {
		return nil, api.NewNotFound("configmaps", d.Name)
	}
	if d.UID != "" && d.UID != cm.UID {
		return nil, conflictOn("configmaps", d.Name)
	}
	delete(s.configMaps, key)
	emitDeleted(s, index, "ConfigMap", cm)
	return cm, nil
}

// removeConfigMapsOf deletes the ConfigMaps of a namespace being deleted,
// in a fixed order so every replica emits the same events.
func (s *State) removeConfigMapsOf(index uint64, namespace string) {
	for _, key := range slices.Sorted(maps.Keys(s.configMaps)) {
		if cm := s.configMaps[key]; cm.Namespace == namespace {
			_, _ = s.deleteConfigMap(index, DeleteConfigMap{Namespace: cm.Namespace, Name: cm.Name})
		}
	}
}

func (s *State) putConfigMap(index uint64, old, cm *api.ConfigMap) {
	cm.ResourceVersion = strconv.FormatUint(index, 10)
	s.configMaps[podKey(cm.Namespace, cm.Name)] = cm
	s.emit(index, "ConfigMap", added(old != nil), cm)
}

// alreadyExists is the 409 of a create whose name is taken, in
// kube-apiserver's words.
func alreadyExists(resource, name string) *api.Status {
	st := api.NewStatus(http.StatusConflict, api.StatusReasonAlreadyExists, fmt.Sprintf("%s %q already exists", resource, name))
	st.Details = &api.StatusDetails{Name: name, Kind: resource}
	return st
}
