package consensus

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"

	"k8s.io/apimachinery/pkg/types"

	"github.com/gossipod/gossipod/api"
)

// State is the replicated state every agent holds: the objects of the cluster
// as of the last applied Raft index. It is changed only by the FSM applying
// committed commands; everything else reads it. Reads return deep copies, so
// callers may keep and modify what they get.
//
// Pods and events are stored copy-on-write: a change replaces the stored
// pointer with a new object and never modifies one in place, so the pod
// readers may share what they get, as long as they do not modify it.
type State struct {
	mu     sync.RWMutex
	index  uint64
	nodes  map[string]*api.Node
	pods   map[string]*api.Pod   // by namespace/name
	events map[string]*api.Event // by namespace/name
	// alloc is derived from pods: what the pods bound to each node hold.
	alloc   map[string]*nodeAlloc
	network *ClusterNetwork
	// podSecurity is the cluster's Pod Security admission configuration,
	// nil until a leader records it.
	podSecurity *PodSecurityDefaults
	// deployments by namespace/name, copy-on-write like pods.
	deployments map[string]*api.Deployment
	watch       *watchLog
	changed     chan struct{}
	// tokens are the API bearer tokens by id, copy-on-write.
	tokens map[string]*api.Token
	// namespaces by name, copy-on-write.
	namespaces map[string]*api.Namespace
	// serviceAccounts by namespace/name, copy-on-write.
	serviceAccounts map[string]*api.ServiceAccount
	// replicaSets by namespace/name, copy-on-write.
	replicaSets map[string]*api.ReplicaSet
	// services by namespace/name, copy-on-write.
	services map[string]*api.Service
	// configMaps by namespace/name, copy-on-write.
	configMaps map[string]*api.ConfigMap
	// secrets by namespace/name, their data in clear, copy-on-write.
	secrets map[string]*api.Secret
	// sealer seals Secrets' data for the log and snapshots.
	sealer *sealer
	// endpointSlices by namespace/name, copy-on-write.
	endpointSlices map[string]*api.EndpointSlice
	// endpoints (v1) by namespace/name, mirrored from endpointSlices,
	// copy-on-write.
	endpoints map[string]*api.Endpoints
	// roleBindings by namespace/name and clusterRoleBindings by name,
	// copy-on-write.
	roleBindings        map[string]*api.RoleBinding
	clusterRoleBindings map[string]*api.ClusterRoleBinding
	// grants is derived from the bindings: their grants by subject, the
	// authorizer's index, read without the lock (RoleGrants).
	grants atomic.Pointer[grantIndex]
	// dependents is derived from the owner references of pods,
	// ReplicaSets and Deployments: for each owner uid, the objects that
	// name it. The garbage collector walks it instead of every pod.
	dependents map[types.UID]map[objRef]struct{}
}

// NewState returns an empty State whose Secrets are sealed with a random
// key: for a state whose log and snapshots do not outlive the process.
func NewState() *State {
	return newState(randomSealer())
}

// newState returns an empty State sealing Secrets with sealer.
func newState(sealer *sealer) *State {
	return &State{
		sealer:              sealer,
		secrets:             map[string]*api.Secret{},
		nodes:               map[string]*api.Node{},
		pods:                map[string]*api.Pod{},
		events:              map[string]*api.Event{},
		alloc:               map[string]*nodeAlloc{},
		deployments:         map[string]*api.Deployment{},
		tokens:              map[string]*api.Token{},
		namespaces:          map[string]*api.Namespace{},
		serviceAccounts:     map[string]*api.ServiceAccount{},
		replicaSets:         map[string]*api.ReplicaSet{},
		services:            map[string]*api.Service{},
		configMaps:          map[string]*api.ConfigMap{},
		endpointSlices:      map[string]*api.EndpointSlice{},
		endpoints:           map[string]*api.Endpoints{},
		roleBindings:        map[string]*api.RoleBinding{},
		clusterRoleBindings: map[string]*api.ClusterRoleBinding{},
		dependents:          map[types.UID]map[objRef]struct{}{},
		watch:               newWatchLog(watchLogSize),
		changed:             make(chan struct{}),
	}
}

// Index is the Raft index of the last command applied to the State.
func (s *State) Index() uint64 {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.index
}

// Changed returns a channel that is closed at the next change of the State.
// Loops that react to state (placement, reconcile, watches) select on it
// instead of polling.
func (s *State) Changed() <-chan struct{} {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.changed
}

// Node returns a copy of the named node.
func (s *State) Node(name string) (*api.Node, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	n, ok := s.nodes[name]
	if !ok {
		return nil, false
	}
	return s.nodeWithAllocated(n), true
}

// Nodes returns copies of all nodes sorted by name, and the index they reflect.
func (s *State) Nodes() ([]api.Node, uint64) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := make([]api.Node, 0, len(s.nodes))
	for _, name := range slices.Sorted(maps.Keys(s.nodes)) {
		out = append(out, *s.nodeWithAllocated(s.nodes[name]))
	}
	return out, s.index
}

// nodeWithAllocated copies a node and fills in its api.AnnotationAllocated.
func (s *State) nodeWithAllocated(n *api.Node) *api.Node {
	c := n.DeepCopy()
	a := s.alloc[n.Name]
	var r api.Resources
	if a != nil {
		r = a.requested
	}
	api.SetNodeAllocated(c, resourceList(r))
	return c
}

// withoutDerivedAnnotations copies a node's annotations less those the
// cluster derives on every read (api.AnnotationAllocated), which are never
// stored: a node read and written back must not freeze them.
func withoutDerivedAnnotations(in map[string]string) map[string]string {
	out := maps.Clone(in)
	delete(out, api.AnnotationAllocated)
	return out
}

// apply changes the State by one committed command and returns the
// command's response. It must be deterministic: the same command on the
// same State gives the same result on every replica, so it reads no clock
// and no randomness, only the command.
func (s *State) apply(index uint64, cmd Command) (any, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	resp, err := s.dispatch(index, cmd)
	// The index advances even for a rejected command, so reads report the
	// log position they reflect.
	s.advance(index)
	return resp, err
}

// skip records that the entry at index reached the FSM but holds no
// command it can decode: the State is unchanged, but its index advances
// as for a refused command, or Store.WaitApplied, which waits for the
// State to reach the last command entry, would wait on that entry until
// its caller gives up.
func (s *State) skip(index uint64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.advance(index)
}

// advance moves the index to index and wakes Changed's waiters; the
// caller holds s.mu.
func (s *State) advance(index uint64) {
	s.index = index
	close(s.changed)
	s.changed = make(chan struct{})
}

// decode unmarshals a command's payload into a value of type T.
func decode[T any](cmd Command) (T, error) {
	var p T
	if err := json.Unmarshal(cmd.Payload, &p); err != nil {
		return p, fmt.Errorf("decode %s payload: %w", cmd.Type, err)
	}
	return p, nil
}

func (s *State) dispatch(index uint64, cmd Command) (any, error) {
	switch cmd.Type {
	case CmdRegisterNode:
		p, err := decode[RegisterNode](cmd)
		if err != nil {
			return nil, err
		}
		return nil, s.registerNode(index, cmd, p)
	case CmdSetNodeConditions:
		p, err := decode[SetNodeConditions](cmd)
		if err != nil {
			return nil, err
		}
		s.setNodeConditions(index, cmd, p)
		return nil, nil
	case CmdDeleteNode:
		p, err := decode[DeleteNode](cmd)
		if err != nil {
			return nil, err
		}
		return nil, s.deleteNode(index, p)
	case CmdSetClusterNetwork:
		p, err := decode[SetClusterNetwork](cmd)
		if err != nil {
			return nil, err
		}
		return nil, s.setClusterNetwork(p)
	case CmdSetPodSecurityDefaults:
		p, err := decode[SetPodSecurityDefaults](cmd)
		if err != nil {
			return nil, err
		}
		return nil, s.setPodSecurityDefaults(p)
	case CmdAssignPodCIDRs:
		p, err := decode[AssignPodCIDRs](cmd)
		if err != nil {
			return nil, err
		}
		s.assignPodCIDRs(index, p)
		return nil, nil
	case CmdCreateDeployment:
		p, err := decode[CreateDeployment](cmd)
		if err != nil {
			return nil, err
		}
		return s.createDeployment(index, cmd, p)
	case CmdUpdateDeployment:
		p, err := decode[UpdateDeployment](cmd)
		if err != nil {
			return nil, err
		}
		return s.updateDeployment(index, p)
	case CmdDeleteDeployment:
		p, err := decode[DeleteDeployment](cmd)
		if err != nil {
			return nil, err
		}
		return s.deleteDeployment(index, cmd, p)
	case CmdSetDeploymentStatus:
		p, err := decode[SetDeploymentStatus](cmd)
		if err != nil {
			return nil, err
		}
		s.setDeploymentStatus(index, p)
		return nil, nil
	case CmdCreateReplicaSet:
		p, err := decode[CreateReplicaSet](cmd)
		if err != nil {
			return nil, err
		}
		return s.createReplicaSet(index, cmd, p)
	case CmdUpdateReplicaSet:
		p, err := decode[UpdateReplicaSet](cmd)
		if err != nil {
			return nil, err
		}
		return s.updateReplicaSet(index, p)
	case CmdDeleteReplicaSet:
		p, err := decode[DeleteReplicaSet](cmd)
		if err != nil {
			return nil, err
		}
		return s.deleteReplicaSet(index, cmd, p)
	case CmdSetReplicaSetStatuses:
		p, err := decode[SetReplicaSetStatuses](cmd)
		if err != nil {
			return nil, err
		}
		s.setReplicaSetStatuses(index, p)
		return nil, nil
	case CmdAdoptLegacyPods:
		p, err := decode[AdoptLegacyPods](cmd)
		if err != nil {
			return nil, err
		}
		return s.adoptLegacyPods(index, cmd, p)
	case CmdClaimObjects:
		p, err := decode[ClaimObjects](cmd)
		if err != nil {
			return nil, err
		}
		return s.claimObjects(index, p)
	case CmdCreatePods:
		p, err := decode[CreatePods](cmd)
		if err != nil {
			return nil, err
		}
		return s.createPods(index, cmd, p)
	case CmdDeletePods:
		p, err := decode[DeletePods](cmd)
		if err != nil {
			return nil, err
		}
		return s.deletePods(index, cmd, p)
	case CmdSetPodsFailed:
		p, err := decode[SetPodsFailed](cmd)
		if err != nil {
			return nil, err
		}
		s.setPodsFailed(index, cmd, p)
		return nil, nil
	case CmdSetNodeUnschedulable:
		p, err := decode[SetNodeUnschedulable](cmd)
		if err != nil {
			return nil, err
		}
		return nil, s.setNodeUnschedulable(index, p)
	case CmdEvictPod:
		p, err := decode[EvictPod](cmd)
		if err != nil {
			return nil, err
		}
		return s.evictPod(index, cmd, p)
	case CmdCreateToken:
		p, err := decode[CreateToken](cmd)
		if err != nil {
			return nil, err
		}
		return s.createToken(index, cmd, p)
	case CmdDeleteToken:
		p, err := decode[DeleteToken](cmd)
		if err != nil {
			return nil, err
		}
		return s.deleteToken(p)
	case CmdCreateNamespace:
		p, err := decode[CreateNamespace](cmd)
		if err != nil {
			return nil, err
		}
		return s.createNamespace(index, cmd, p)
	case CmdDeleteNamespace:
		p, err := decode[DeleteNamespace](cmd)
		if err != nil {
			return nil, err
		}
		return s.deleteNamespace(index, cmd, p)
	case CmdEnsureNamespaces:
		p, err := decode[EnsureNamespaces](cmd)
		if err != nil {
			return nil, err
		}
		return s.ensureNamespaces(index, cmd, p), nil
	case CmdUpdateNamespace:
		p, err := decode[UpdateNamespace](cmd)
		if err != nil {
			return nil, err
		}
		return s.updateNamespace(index, p)
	case CmdCreateServiceAccount:
		p, err := decode[CreateServiceAccount](cmd)
		if err != nil {
			return nil, err
		}
		return s.createServiceAccount(index, cmd, p)
	case CmdDeleteServiceAccount:
		p, err := decode[DeleteServiceAccount](cmd)
		if err != nil {
			return nil, err
		}
		return s.deleteServiceAccount(index, p)
	case CmdUpdateServiceAccount:
		p, err := decode[UpdateServiceAccount](cmd)
		if err != nil {
			return nil, err
		}
		return s.updateServiceAccount(index, p)
	case CmdCreateConfigMap:
		p, err := decode[CreateConfigMap](cmd)
		if err != nil {
			return nil, err
		}
		return s.createConfigMap(index, cmd, p)
	case CmdUpdateConfigMap:
		p, err := decode[UpdateConfigMap](cmd)
		if err != nil {
			return nil, err
		}
		return s.updateConfigMap(index, p)
	case CmdDeleteConfigMap:
		p, err := decode[DeleteConfigMap](cmd)
		if err != nil {
			return nil, err
		}
		return s.deleteConfigMap(index, p)
	case CmdCreateSecret:
		p, err := decode[CreateSecret](cmd)
		if err != nil {
			return nil, err
		}
		return s.createSecret(index, cmd, p)
	case CmdUpdateSecret:
		p, err := decode[UpdateSecret](cmd)
		if err != nil {
			return nil, err
		}
		return s.updateSecret(index, p)
	case CmdDeleteSecret:
		p, err := decode[DeleteSecret](cmd)
		if err != nil {
			return nil, err
		}
		return s.deleteSecret(index, p)
	case CmdCreateService:
		p, err := decode[CreateService](cmd)
		if err != nil {
			return nil, err
		}
		return s.createService(index, cmd, p)
	case CmdUpdateService:
		p, err := decode[UpdateService](cmd)
		if err != nil {
			return nil, err
		}
		return s.updateService(index, p)
	case CmdDeleteService:
		p, err := decode[DeleteService](cmd)
		if err != nil {
			return nil, err
		}
		return s.deleteService(index, p)
	case CmdSetServiceEndpointSlices:
		p, err := decode[SetServiceEndpointSlices](cmd)
		if err != nil {
			return nil, err
		}
		return nil, s.setServiceEndpointSlices(index, cmd, p)
	case CmdSetAPIServerEndpoints:
		p, err := decode[SetAPIServerEndpoints](cmd)
		if err != nil {
			return nil, err
		}
		return nil, s.setAPIServerEndpoints(index, cmd, p)
	case CmdEnsureServiceAccounts:
		p, err := decode[EnsureServiceAccounts](cmd)
		if err != nil {
			return nil, err
		}
		return s.ensureServiceAccounts(index, cmd, p), nil
	case CmdCreatePod:
		p, err := decode[CreatePod](cmd)
		if err != nil {
			return nil, err
		}
		return s.createPod(index, cmd, p)
	case CmdUpdatePod:
		p, err := decode[UpdatePod](cmd)
		if err != nil {
			return nil, err
		}
		return s.updatePod(index, p)
	case CmdDeletePod:
		p, err := decode[DeletePod](cmd)
		if err != nil {
			return nil, err
		}
		return s.deletePod(index, cmd, p)
	case CmdBindPods:
		p, err := decode[BindPods](cmd)
		if err != nil {
			return nil, err
		}
		return s.bindPods(index, cmd, p), nil
	case CmdSetPodsUnschedulable:
		p, err := decode[SetPodsUnschedulable](cmd)
		if err != nil {
			return nil, err
		}
		s.setPodsUnschedulable(index, cmd, p)
		return nil, nil
	case CmdSetPodStatuses:
		p, err := decode[SetPodStatuses](cmd)
		if err != nil {
			return nil, err
		}
		s.setPodStatuses(index, cmd, p)
		return nil, nil
	case CmdRecordEvents:
		p, err := decode[RecordEvents](cmd)
		if err != nil {
			return nil, err
		}
		s.recordEvents(index, cmd, p.Events)
		return nil, nil
	case CmdCreateRoleBinding, CmdUpdateRoleBinding, CmdDeleteRoleBinding,
		CmdCreateClusterRoleBinding, CmdUpdateClusterRoleBinding, CmdDeleteClusterRoleBinding:
		return s.dispatchRBAC(index, cmd)
	default:
		return nil, fmt.Errorf("unknown command type %q", cmd.Type)
	}
}

func (s *State) registerNode(index uint64, cmd Command, p RegisterNode) error {
	in := p.Node
	if in.Name == "" {
		return api.NewBadRequest("node name is required")
	}
	_, exists := s.nodes[in.Name]
	if err := api.ValidateNode(&in, !exists); err != nil {
		return err
	}
	n, ok := s.mutableNode(in.Name)
	if !ok {
		n = &api.Node{
			TypeMeta: api.TypeMeta{Kind: "Node", APIVersion: "v1"},
			ObjectMeta: api.ObjectMeta{
				Name:              in.Name,
				UID:               in.UID,
				CreationTimestamp: api.NewTime(cmd.Time),
			},
		}
		s.nodes[in.Name] = n
	}
	n.Labels = maps.Clone(in.Labels)
	n.Annotations = withoutDerivedAnnotations(in.Annotations)
	n.Status.Capacity = maps.Clone(in.Status.Capacity)
	n.Status.Allocatable = maps.Clone(in.Status.Allocatable)
	n.Status.Addresses = slices.Clone(in.Status.Addresses)
	n.Status.NodeInfo = in.Status.NodeInfo
	n.ResourceVersion = strconv.FormatUint(index, 10)
	s.emit(index, "Node", added(ok), n)
	return nil
}

// added is the watch event type of an object that did or did not exist.
func added(existed bool) string {
	if existed {
		return WatchModified
	}
	return WatchAdded
}

// emit records a change for watches. Object must never be modified
// afterwards: every stored object is copy-on-write.
func (s *State) emit(index uint64, kind, typ string, obj any) {
	s.watch.add(WatchEvent{Type: typ, Kind: kind, Index: index, Object: obj})
}

// emitDeleted records the deletion of obj at index. The event carries the
// object as it was last stored but with the deletion's resourceVersion, as
// kube-apiserver sends it: a watcher (client-go's reflector) takes every
// event's version as its position in the stream, so the object's older
// version would move it back, and a watch resumed from there would deliver
// the changes in between a second time. obj itself is not modified (readers
// may still hold it); the event gets a shallow copy, which shares the maps
// and slices of a copy-on-write object safely.
func emitDeleted[T any, P interface {
	*T
	api.Object
}](s *State, index uint64, kind string, obj P) {
	c := P(new(T))
	*c = *obj
	c.SetResourceVersion(strconv.FormatUint(index, 10))
	s.emit(index, kind, WatchDeleted, c)
}

// mutableNode replaces the named node with a copy and returns the copy for
// the caller to change: stored nodes are copy-on-write like pods, so what
// readers and watches hold never changes under them.
func (s *State) mutableNode(name string) (*api.Node, bool) {
	n, ok := s.nodes[name]
	if !ok {
		return nil, false
	}
	c := n.DeepCopy()
	s.nodes[name] = c
	return c, true
}

// NodeObjects returns all nodes sorted by name, shared: do not modify them.
// Unlike Nodes, it does not copy them or fill in status.allocated, so the
// placement loop can read a thousand nodes per round cheaply.
func (s *State) NodeObjects() ([]*api.Node, uint64) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := make([]*api.Node, 0, len(s.nodes))
	for _, name := range slices.Sorted(maps.Keys(s.nodes)) {
		out = append(out, s.nodes[name])
	}
	return out, s.index
}

func (s *State) setNodeConditions(index uint64, cmd Command, p SetNodeConditions) {
	for _, u := range p.Updates {
		n, ok := s.mutableNode(u.Node)
		if !ok {
			continue
		}
		c := u.Condition
		c.LastHeartbeatTime = api.NewTime(cmd.Time)
		c.LastTransitionTime = api.NewTime(cmd.Time)
		if old := api.GetNodeCondition(n, c.Type); old != nil {
			if old.Status == c.Status {
				c.LastTransitionTime = old.LastTransitionTime
			}
			*old = c
		} else {
			n.Status.Conditions = append(n.Status.Conditions, c)
		}
		syncPressureTaints(n)
		n.ResourceVersion = strconv.FormatUint(index, 10)
		s.emit(index, "Node", WatchModified, n)
	}
}

func (s *State) deleteNode(index uint64, p DeleteNode) error {
	n, ok := s.nodes[p.Name]
	if !ok {
		return api.NewNotFound("nodes", p.Name)
	}
	delete(s.nodes, p.Name)
	emitDeleted(s, index, "Node", n)
	return nil
}

// snapshotData is the serialised form of the State in a Raft snapshot.
type snapshotData struct {
	Index           uint64               `json:"index"`
	Nodes           []api.Node           `json:"nodes"`
	Pods            []api.Pod            `json:"pods,omitempty"`
	Events          []api.Event          `json:"events,omitempty"`
	Network         *ClusterNetwork      `json:"network,omitempty"`
	PodSecurity     *PodSecurityDefaults `json:"podSecurity,omitempty"`
	Deployments     []api.Deployment     `json:"deployments,omitempty"`
	Tokens          []api.Token          `json:"tokens,omitempty"`
	Namespaces      []api.Namespace      `json:"namespaces,omitempty"`
	ServiceAccounts []api.ServiceAccount `json:"serviceAccounts,omitempty"`
	ReplicaSets     []api.ReplicaSet     `json:"replicaSets,omitempty"`
	Services        []api.Service        `json:"services,omitempty"`
	ConfigMaps      []api.ConfigMap      `json:"configMaps,omitempty"`
	// Secrets are sealed when the snapshot is persisted, opened when it
	// is read back: secrets holds them in clear in between.
	Secrets        []sealedSecret `json:"secrets,omitempty"`
	secrets        []*api.Secret
	EndpointSlices []api.EndpointSlice `json:"endpointSlices,omitempty"`
	Endpoints      []api.Endpoints     `json:"endpoints,omitempty"`
	// RoleBindings and ClusterRoleBindings: the grant index is derived.
	RoleBindings        []api.RoleBinding        `json:"roleBindings,omitempty"`
	ClusterRoleBindings []api.ClusterRoleBinding `json:"clusterRoleBindings,omitempty"`
}

// export copies the State for a snapshot. It runs under the FSM's
// serialisation guarantee, so only the copy is made here; encoding and I/O
// happen later in Persist, off the apply path.
func (s *State) export() snapshotData {
	s.mu.RLock()
	defer s.mu.RUnlock()
	d := snapshotData{Index: s.index, Network: s.network, PodSecurity: s.podSecurity}
	for _, name := range slices.Sorted(maps.Keys(s.nodes)) {
		d.Nodes = append(d.Nodes, *s.nodes[name].DeepCopy())
	}
	// Pods and events are copy-on-write, so sharing them is a copy.
	for _, key := range slices.Sorted(maps.Keys(s.pods)) {
		d.Pods = append(d.Pods, *s.pods[key])
	}
	for _, e := range s.sortedEvents() {
		d.Events = append(d.Events, *e)
	}
	for _, key := range slices.Sorted(maps.Keys(s.deployments)) {
		d.Deployments = append(d.Deployments, *s.deployments[key])
	}
	for _, id := range slices.Sorted(maps.Keys(s.tokens)) {
		d.Tokens = append(d.Tokens, *s.tokens[id])
	}
	for _, name := range slices.Sorted(maps.Keys(s.namespaces)) {
		d.Namespaces = append(d.Namespaces, *s.namespaces[name])
	}
	for _, key := range slices.Sorted(maps.Keys(s.serviceAccounts)) {
		d.ServiceAccounts = append(d.ServiceAccounts, *s.serviceAccounts[key])
	}
	for _, key := range slices.Sorted(maps.Keys(s.replicaSets)) {
		d.ReplicaSets = append(d.ReplicaSets, *s.replicaSets[key])
	}
	for _, key := range slices.Sorted(maps.Keys(s.services)) {
		d.Services = append(d.Services, *s.services[key])
	}
	for _, key := range slices.Sorted(maps.Keys(s.configMaps)) {
		d.ConfigMaps = append(d.ConfigMaps, *s.configMaps[key])
	}
	for _, key := range slices.Sorted(maps.Keys(s.secrets)) {
		d.secrets = append(d.secrets, s.secrets[key])
	}
	for _, key := range slices.Sorted(maps.Keys(s.endpointSlices)) {
		d.EndpointSlices = append(d.EndpointSlices, *s.endpointSlices[key])
	}
	for _, key := range slices.Sorted(maps.Keys(s.endpoints)) {
		d.Endpoints = append(d.Endpoints, *s.endpoints[key])
	}
	for _, key := range slices.Sorted(maps.Keys(s.roleBindings)) {
		d.RoleBindings = append(d.RoleBindings, *s.roleBindings[key])
	}
	for _, key := range slices.Sorted(maps.Keys(s.clusterRoleBindings)) {
		d.ClusterRoleBindings = append(d.ClusterRoleBindings, *s.clusterRoleBindings[key])
	}
	return d
}

// restore replaces the State with a snapshot's contents.
func (s *State) restore(d snapshotData) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.nodes = make(map[string]*api.Node, len(d.Nodes))
	for i := range d.Nodes {
		n := d.Nodes[i]
		n.Annotations = withoutDerivedAnnotations(n.Annotations) // derived, recomputed from pods
		s.nodes[n.Name] = &n
	}
	s.pods = make(map[string]*api.Pod, len(d.Pods))
	s.alloc = map[string]*nodeAlloc{}
	for i := range d.Pods {
		p := &d.Pods[i]
		s.pods[podKey(p.Namespace, p.Name)] = p
		s.account(p)
	}
	s.events = make(map[string]*api.Event, len(d.Events))
	for i := range d.Events {
		e := &d.Events[i]
		s.events[eventKey(e)] = e
	}
	s.network = d.Network
	s.podSecurity = d.PodSecurity
	s.deployments = make(map[string]*api.Deployment, len(d.Deployments))
	for i := range d.Deployments {
		dep := &d.Deployments[i]
		s.deployments[podKey(dep.Namespace, dep.Name)] = dep
	}
	s.tokens = make(map[string]*api.Token, len(d.Tokens))
	for i := range d.Tokens {
		t := &d.Tokens[i]
		s.tokens[t.Name] = t
	}
	s.namespaces = make(map[string]*api.Namespace, len(d.Namespaces))
	for i := range d.Namespaces {
		ns := &d.Namespaces[i]
		s.namespaces[ns.Name] = ns
	}
	s.serviceAccounts = make(map[string]*api.ServiceAccount, len(d.ServiceAccounts))
	for i := range d.ServiceAccounts {
		sa := &d.ServiceAccounts[i]
		s.serviceAccounts[podKey(sa.Namespace, sa.Name)] = sa
	}
	s.replicaSets = make(map[string]*api.ReplicaSet, len(d.ReplicaSets))
	for i := range d.ReplicaSets {
		rs := &d.ReplicaSets[i]
		s.replicaSets[podKey(rs.Namespace, rs.Name)] = rs
	}
	s.services = make(map[string]*api.Service, len(d.Services))
	for i := range d.Services {
		svc := &d.Services[i]
		s.services[podKey(svc.Namespace, svc.Name)] = svc
	}
	s.secrets = make(map[string]*api.Secret, len(d.secrets))
	for _, sec := range d.secrets {
		s.secrets[podKey(sec.Namespace, sec.Name)] = sec
	}
	s.configMaps = make(map[string]*api.ConfigMap, len(d.ConfigMaps))
	for i := range d.ConfigMaps {
		cm := &d.ConfigMaps[i]
		s.configMaps[podKey(cm.Namespace, cm.Name)] = cm
	}
	s.endpointSlices = make(map[string]*api.EndpointSlice, len(d.EndpointSlices))
	for i := range d.EndpointSlices {
		es := &d.EndpointSlices[i]
		s.endpointSlices[podKey(es.Namespace, es.Name)] = es
	}
	s.endpoints = make(map[string]*api.Endpoints, len(d.Endpoints))
	for i := range d.Endpoints {
		ep := &d.Endpoints[i]
		s.endpoints[podKey(ep.Namespace, ep.Name)] = ep
	}
	s.roleBindings = make(map[string]*api.RoleBinding, len(d.RoleBindings))
	for i := range d.RoleBindings {
		rb := &d.RoleBindings[i]
		s.roleBindings[podKey(rb.Namespace, rb.Name)] = rb
	}
	s.clusterRoleBindings = make(map[string]*api.ClusterRoleBinding, len(d.ClusterRoleBindings))
	for i := range d.ClusterRoleBindings {
		crb := &d.ClusterRoleBindings[i]
		s.clusterRoleBindings[crb.Name] = crb
	}
	s.reindexGrants()
	s.reindexOwners()
	s.index = d.Index
	s.watch.reset(d.Index)
	close(s.changed)
	s.changed = make(chan struct{})
}

// reindexOwners rebuilds the derived owner index from the objects.
func (s *State) reindexOwners() {
	s.dependents = map[types.UID]map[objRef]struct{}{}
	for key, p := range s.pods {
		s.indexOwners(objRef{kindPod, key}, nil, p.OwnerReferences)
	}
	for key, rs := range s.replicaSets {
		s.indexOwners(objRef{kindReplicaSet, key}, nil, rs.OwnerReferences)
	}
	for key, d := range s.deployments {
		s.indexOwners(objRef{kindDeployment, key}, nil, d.OwnerReferences)
	}
}
