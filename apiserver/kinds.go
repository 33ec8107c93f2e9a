package apiserver

import (
	"context"
	"strconv"

	utilrand "k8s.io/apimachinery/pkg/util/rand"

	"github.com/gossipod/gossipod/api"
	"github.com/gossipod/gossipod/apiserver/discovery"
	"github.com/gossipod/gossipod/consensus"
)

// routeLister is a resource of any kind, as the server mounts it.
type routeLister interface {
	routes() []Route
}

// resources are the kinds the server serves, each with its strategy: the
// defaults, validation and command of a create, an update and a delete.
// The FSM checks every command again; what is checked here too is checked
// to answer before a round trip to the leader, and this agent's own rules
// (--allowed-host-paths, --max-deployment-replicas), which the FSM cannot
// know.
func (s *Server) resources() []routeLister {
	all := discovery.Resources()
	return []routeLister{
		s.pods(discoveryEntry(all, "pods")),
		s.nodes(discoveryEntry(all, "nodes")),
		s.namespaces(discoveryEntry(all, "namespaces")),
		s.serviceAccounts(discoveryEntry(all, "serviceaccounts")),
		s.services(discoveryEntry(all, "services")),
		s.configMaps(discoveryEntry(all, "configmaps")),
		s.secrets(discoveryEntry(all, "secrets")),
		s.endpointSlices(discoveryEntry(all, "endpointslices")),
		s.endpoints(discoveryEntry(all, "endpoints")),
		s.events(discoveryEntry(all, "events")),
		s.deployments(discoveryEntry(all, "deployments")),
		s.replicaSets(discoveryEntry(all, "replicasets")),
		s.clusterRoleBindings(discoveryEntry(all, "clusterrolebindings")),
		s.clusterRoles(discoveryEntry(all, "clusterroles")),
		s.roleBindings(discoveryEntry(all, "rolebindings")),
	}
}

// values returns pointers to the elements of all that keep selects: the
// State returns nodes, namespaces and service accounts as copies.
func values[T any](all []T, keep func(*T) bool) []*T {
	var out []*T
	for i := range all {
		if keep(&all[i]) {
			out = append(out, &all[i])
		}
	}
	return out
}

// listMeta fills in a List's kind and metadata.
func listMeta(kind, apiVersion string, meta api.ListMeta) (api.TypeMeta, api.ListMeta) {
	return api.TypeMeta{Kind: kind, APIVersion: apiVersion}, meta
}

// pods: the scheduler's unit. Create defaults and validates the pod and
// checks its hostPath volumes against this agent's list; update may change
// images and metadata only (ValidatePodUpdate); delete is graceful unless
// the options say otherwise. A propagation policy is accepted and changes
// nothing: nothing in gossipod is owned by a pod.
func (s *Server) pods(info discovery.Resource) *resource[api.Pod, *api.Pod] {
	return &resource[api.Pod, *api.Pod]{
		s: s, info: info,
		// kubelet and kubectl select pods by node and phase.
		fields: []fieldLabel[api.Pod]{
			{"spec.nodeName", func(p *api.Pod) string { return p.Spec.NodeName }},
			{"status.phase", func(p *api.Pod) string { return string(p.Status.Phase) }},
		},
		get: func(st *consensus.State, ns, name string) (*api.Pod, bool) { return st.Pod(ns, name) },
		list: func(st *consensus.State, _ string, keep func(*api.Pod) bool) ([]*api.Pod, uint64) {
			return st.Pods(keep)
		},
		newList: func(items []api.Pod, meta api.ListMeta) any {
			l := api.PodList{Items: items}
			l.TypeMeta, l.ListMeta = listMeta("PodList", "v1", meta)
			return l
		},
		create: func(ctx context.Context, p *api.Pod) (*api.Pod, error) {
			api.SetPodDefaults(p)
			admitServiceAccountToken(s.b.State(), p)
			if err := api.ValidatePod(p); err != nil {
				return nil, err
			}
			// This agent's own rule, which the FSM cannot check (agents'
			// lists differ); the node that runs the pod checks its own
			// list again.
			if err := api.ValidatePodHostPaths(p, s.cfg.AllowedHostPaths); err != nil {
				return nil, err
			}
			if err := s.admitPodSecurity(ctx, p); err != nil {
				return nil, err
			}
			p.Status = api.PodStatus{}
			return commitObject[api.Pod](ctx, s.b, consensus.CmdCreatePod, consensus.CreatePod{Pod: *p})
		},
		update: func(ctx context.Context, old, p *api.Pod) (*api.Pod, error) {
			api.SetPodDefaults(p)
			if p.Spec.NodeName == "" {
				p.Spec.NodeName = old.Spec.NodeName
			}
			if err := api.ValidatePod(p); err != nil {
				return nil, err
			}
			if err := api.ValidatePodUpdate(old, p); err != nil {
				return nil, err
			}
			if api.PodSecuritySignificantUpdate(old, p) {
				if err := s.admitPodSecurity(ctx, p); err != nil {
					return nil, err
				}
			}
			return commitObject[api.Pod](ctx, s.b, consensus.CmdUpdatePod, consensus.UpdatePod{Pod: *p})
		},
		remove: func(ctx context.Context, ns, name string, o *api.DeleteOptions) (*api.Pod, error) {
			return commitObject[api.Pod](ctx, s.b, consensus.CmdDeletePod, consensus.DeletePod{
				Namespace: ns, Name: name, UID: uidPrecondition(o), GracePeriodSeconds: o.GracePeriodSeconds})
		},
	}
}

// nodes: registered by their agents. A user may delete a node (its agent,
// if alive, registers it again with a new pod CIDR, as a kubelet does) and
// patch spec.unschedulable (cordon); see updateNode.
func (s *Server) nodes(info discovery.Resource) *resource[api.Node, *api.Node] {
	return &resource[api.Node, *api.Node]{
		s: s, info: info,
		fields: []fieldLabel[api.Node]{
			{"spec.unschedulable", func(n *api.Node) string { return strconv.FormatBool(n.Spec.Unschedulable) }},
		},
		get: func(st *consensus.State, _, name string) (*api.Node, bool) { return st.Node(name) },
		list: func(st *consensus.State, _ string, keep func(*api.Node) bool) ([]*api.Node, uint64) {
			all, index := st.Nodes()
			return values(all, keep), index
		},
		newList: func(items []api.Node, meta api.ListMeta) any {
			l := api.NodeList{Items: items}
			l.TypeMeta, l.ListMeta = listMeta("NodeList", "v1", meta)
			return l
		},
		update: s.updateNode,
		remove: func(ctx context.Context, _, name string, _ *api.DeleteOptions) (*api.Node, error) {
			node, ok := s.b.State().Node(name)
			if !ok {
				return nil, api.NewNotFound("nodes", name)
			}
			cmd, err := consensus.NewCommand(consensus.CmdDeleteNode, consensus.DeleteNode{Name: name})
			if err != nil {
				return nil, err
			}
			if _, err := s.b.Commit(ctx, cmd); err != nil {
				return nil, err
			}
			return node, nil
		},
		// A Node is not a kind manifests carry; decode the patched
		// object as a Node directly.
		decodePatched: func(b []byte) (*api.Node, error) {
			var n api.Node
			if err := api.DecodeInto(b, &n); err != nil {
				return nil, err
			}
			return &n, nil
		},
	}
}

// namespaces: create, update of labels and annotations (finalizers and
// status stay the cluster's, as kube-apiserver keeps them), and delete,
// which turns the namespace Terminating until its content is gone.
func (s *Server) namespaces(info discovery.Resource) *resource[api.Namespace, *api.Namespace] {
	return &resource[api.Namespace, *api.Namespace]{
		s: s, info: info,
		fields: []fieldLabel[api.Namespace]{
			{"status.phase", func(ns *api.Namespace) string { return string(ns.Status.Phase) }},
		},
		get: func(st *consensus.State, _, name string) (*api.Namespace, bool) { return st.Namespace(name) },
		list: func(st *consensus.State, _ string, keep func(*api.Namespace) bool) ([]*api.Namespace, uint64) {
			all, index := st.Namespaces()
			return values(all, keep), index
		},
		newList: func(items []api.Namespace, meta api.ListMeta) any {
			l := api.NamespaceList{Items: items}
			l.TypeMeta, l.ListMeta = listMeta("NamespaceList", "v1", meta)
			return l
		},
		create: func(ctx context.Context, ns *api.Namespace) (*api.Namespace, error) {
			api.SetNamespaceDefaults(ns)
			if err := api.ValidateNamespace(ns); err != nil {
				return nil, err
			}
			ns.Status = api.NamespaceStatus{}
			return commitObject[api.Namespace](ctx, s.b, consensus.CmdCreateNamespace, consensus.CreateNamespace{Namespace: *ns})
		},
		update: func(ctx context.Context, old, ns *api.Namespace) (*api.Namespace, error) {
			api.SetNamespaceDefaults(ns)
			if err := api.ValidateNamespaceUpdate(old, ns); err != nil {
				return nil, err
			}
			s.warnNamespacePodSecurity(ctx, old, ns)
			return commitObject[api.Namespace](ctx, s.b, consensus.CmdUpdateNamespace, consensus.UpdateNamespace{Namespace: *ns})
		},
		remove: func(ctx context.Context, _, name string, _ *api.DeleteOptions) (*api.Namespace, error) {
			return commitObject[api.Namespace](ctx, s.b, consensus.CmdDeleteNamespace, consensus.DeleteNamespace{Name: name})
		},
	}
}

// serviceAccounts: every namespace has "default", which the FSM makes;
// an update changes labels, annotations, automountServiceAccountToken and
// imagePullSecrets.
func (s *Server) serviceAccounts(info discovery.Resource) *resource[api.ServiceAccount, *api.ServiceAccount] {
	return &resource[api.ServiceAccount, *api.ServiceAccount]{
		s: s, info: info,
		get: func(st *consensus.State, ns, name string) (*api.ServiceAccount, bool) {
			return st.ServiceAccount(ns, name)
		},
		list: func(st *consensus.State, ns string, keep func(*api.ServiceAccount) bool) ([]*api.ServiceAccount, uint64) {
			all, index := st.ServiceAccounts(ns)
			return values(all, keep), index
		},
		newList: func(items []api.ServiceAccount, meta api.ListMeta) any {
			l := api.ServiceAccountList{Items: items}
			l.TypeMeta, l.ListMeta = listMeta("ServiceAccountList", "v1", meta)
			return l
		},
		create: func(ctx context.Context, sa *api.ServiceAccount) (*api.ServiceAccount, error) {
			if err := api.ValidateServiceAccount(sa); err != nil {
				return nil, err
			}
			return commitObject[api.ServiceAccount](ctx, s.b, consensus.CmdCreateServiceAccount, consensus.CreateServiceAccount{ServiceAccount: *sa})
		},
		update: func(ctx context.Context, old, sa *api.ServiceAccount) (*api.ServiceAccount, error) {
			if err := api.ValidateServiceAccountUpdate(old, sa); err != nil {
				return nil, err
			}
			return commitObject[api.ServiceAccount](ctx, s.b, consensus.CmdUpdateServiceAccount, consensus.UpdateServiceAccount{ServiceAccount: *sa})
		},
		remove: func(ctx context.Context, ns, name string, _ *api.DeleteOptions) (*api.ServiceAccount, error) {
			return commitObject[api.ServiceAccount](ctx, s.b, consensus.CmdDeleteServiceAccount, consensus.DeleteServiceAccount{Namespace: ns, Name: name})
		},
	}
}

// services: defaulted and validated here and again by the state machine,
// whose allocators give the cluster IP and node ports (or refuse requested
// ones that are taken or out of range). An update keeps what the cluster
// allocated and the update leaves unset, so a second `kubectl apply`
// changes nothing.
func (s *Server) services(info discovery.Resource) *resource[api.Service, *api.Service] {
	return &resource[api.Service, *api.Service]{
		s: s, info: info,
		fields: []fieldLabel[api.Service]{
			{"spec.clusterIP", func(svc *api.Service) string { return svc.Spec.ClusterIP }},
			{"spec.type", func(svc *api.Service) string { return string(svc.Spec.Type) }},
		},
		get: func(st *consensus.State, ns, name string) (*api.Service, bool) { return st.Service(ns, name) },
		list: func(st *consensus.State, _ string, keep func(*api.Service) bool) ([]*api.Service, uint64) {
			return st.Services(keep)
		},
		newList: func(items []api.Service, meta api.ListMeta) any {
			l := api.ServiceList{Items: items}
			l.TypeMeta, l.ListMeta = listMeta("ServiceList", "v1", meta)
			return l
		},
		create: func(ctx context.Context, svc *api.Service) (*api.Service, error) {
			api.SetServiceDefaults(svc)
			if err := api.ValidateService(svc); err != nil {
				return nil, err
			}
			svc.Status = api.Service{}.Status
			return commitObject[api.Service](ctx, s.b, consensus.CmdCreateService, consensus.CreateService{Service: *svc})
		},
		update: func(ctx context.Context, old, svc *api.Service) (*api.Service, error) {
			api.SetServiceDefaults(svc)
			api.KeepServiceAllocations(old, svc)
			if err := api.ValidateServiceUpdate(old, svc); err != nil {
				return nil, err
			}
			return commitObject[api.Service](ctx, s.b, consensus.CmdUpdateService, consensus.UpdateService{Service: *svc})
		},
		remove: func(ctx context.Context, ns, name string, o *api.DeleteOptions) (*api.Service, error) {
			return commitObject[api.Service](ctx, s.b, consensus.CmdDeleteService, consensus.DeleteService{
				Namespace: ns, Name: name, UID: uidPrecondition(o)})
		},
	}
}

// endpointSlices: written by the leader's EndpointSlice controller only;
// clients (kube-proxy's peers, DNS, `kubectl get endpointslices`) read
// them, and find a Service's by the kubernetes.io/service-name label.
func (s *Server) endpointSlices(info discovery.Resource) *resource[api.EndpointSlice, *api.EndpointSlice] {
	return &resource[api.EndpointSlice, *api.EndpointSlice]{
		s: s, info: info,
		get: func(st *consensus.State, ns, name string) (*api.EndpointSlice, bool) {
			return st.EndpointSlice(ns, name)
		},
		list: func(st *consensus.State, _ string, keep func(*api.EndpointSlice) bool) ([]*api.EndpointSlice, uint64) {
			return st.EndpointSlices(keep)
		},
		newList: func(items []api.EndpointSlice, meta api.ListMeta) any {
			l := api.EndpointSliceList{Items: items}
			l.TypeMeta, l.ListMeta = listMeta("EndpointSliceList", "discovery.k8s.io/v1", meta)
			return l
		},
	}
}

// endpoints: v1 Endpoints, which the state machine mirrors from each
// Service's EndpointSlices; read only, for clients older than
// EndpointSlices (`kubectl get endpoints`).
func (s *Server) endpoints(info discovery.Resource) *resource[api.Endpoints, *api.Endpoints] {
	return &resource[api.Endpoints, *api.Endpoints]{
		s: s, info: info,
		get: func(st *consensus.State, ns, name string) (*api.Endpoints, bool) {
			return st.EndpointsOf(ns, name)
		},
		list: func(st *consensus.State, _ string, keep func(*api.Endpoints) bool) ([]*api.Endpoints, uint64) {
			return st.Endpoints(keep)
		},
		newList: func(items []api.Endpoints, meta api.ListMeta) any {
			l := api.EndpointsList{Items: items}
			l.TypeMeta, l.ListMeta = listMeta("EndpointsList", "v1", meta)
			return l
		},
	}
}

// configMaps: defaulted and validated here and again by the state
// machine; an immutable ConfigMap keeps its data.
func (s *Server) configMaps(info discovery.Resource) *resource[api.ConfigMap, *api.ConfigMap] {
	return &resource[api.ConfigMap, *api.ConfigMap]{
		s: s, info: info,
		get: func(st *consensus.State, ns, name string) (*api.ConfigMap, bool) { return st.ConfigMap(ns, name) },
		list: func(st *consensus.State, _ string, keep func(*api.ConfigMap) bool) ([]*api.ConfigMap, uint64) {
			return st.ConfigMaps(keep)
		},
		newList: func(items []api.ConfigMap, meta api.ListMeta) any {
			l := api.ConfigMapList{Items: items}
			l.TypeMeta, l.ListMeta = listMeta("ConfigMapList", "v1", meta)
			return l
		},
		create: func(ctx context.Context, cm *api.ConfigMap) (*api.ConfigMap, error) {
			api.SetConfigMapDefaults(cm)
			if err := api.ValidateConfigMap(cm); err != nil {
				return nil, err
			}
			return commitObject[api.ConfigMap](ctx, s.b, consensus.CmdCreateConfigMap, consensus.CreateConfigMap{ConfigMap: *cm})
		},
		update: func(ctx context.Context, old, cm *api.ConfigMap) (*api.ConfigMap, error) {
			api.SetConfigMapDefaults(cm)
			if err := api.ValidateConfigMapUpdate(old, cm); err != nil {
				return nil, err
			}
			return commitObject[api.ConfigMap](ctx, s.b, consensus.CmdUpdateConfigMap, consensus.UpdateConfigMap{ConfigMap: *cm})
		},
		remove: func(ctx context.Context, ns, name string, o *api.DeleteOptions) (*api.ConfigMap, error) {
			return commitObject[api.ConfigMap](ctx, s.b, consensus.CmdDeleteConfigMap, consensus.DeleteConfigMap{
				Namespace: ns, Name: name, UID: uidPrecondition(o)})
		},
	}
}

// secrets: stringData merged into data, defaulted and validated here and
// again by the state machine; the Store seals the data before the command
// enters the log.
func (s *Server) secrets(info discovery.Resource) *resource[api.Secret, *api.Secret] {
	return &resource[api.Secret, *api.Secret]{
		s: s, info: info,
		fields: []fieldLabel[api.Secret]{
			{"type", func(sec *api.Secret) string { return string(sec.Type) }},
		},
		get: func(st *consensus.State, ns, name string) (*api.Secret, bool) { return st.Secret(ns, name) },
		list: func(st *consensus.State, _ string, keep func(*api.Secret) bool) ([]*api.Secret, uint64) {
			return st.Secrets(keep)
		},
		newList: func(items []api.Secret, meta api.ListMeta) any {
			l := api.SecretList{Items: items}
			l.TypeMeta, l.ListMeta = listMeta("SecretList", "v1", meta)
			return l
		},
		create: func(ctx context.Context, sec *api.Secret) (*api.Secret, error) {
			api.SetSecretDefaults(sec)
			if err := api.ValidateSecret(sec); err != nil {
				return nil, err
			}
			return commitObject[api.Secret](ctx, s.b, consensus.CmdCreateSecret, consensus.CreateSecret{Secret: *sec})
		},
		update: func(ctx context.Context, old, sec *api.Secret) (*api.Secret, error) {
			api.SetSecretDefaults(sec)
			if err := api.ValidateSecretUpdate(old, sec); err != nil {
				return nil, err
			}
			return commitObject[api.Secret](ctx, s.b, consensus.CmdUpdateSecret, consensus.UpdateSecret{Secret: *sec})
		},
		remove: func(ctx context.Context, ns, name string, o *api.DeleteOptions) (*api.Secret, error) {
			return commitObject[api.Secret](ctx, s.b, consensus.CmdDeleteSecret, consensus.DeleteSecret{
				Namespace: ns, Name: name, UID: uidPrecondition(o)})
		},
	}
}

// events: written by the agents only, and listed by what they are about
// (`gossipod describe` selects by involvedObject.uid, kubectl describe by
// involvedObject.name, .namespace and .kind).
func (s *Server) events(info discovery.Resource) *resource[api.Event, *api.Event] {
	return &resource[api.Event, *api.Event]{
		s: s, info: info,
		fields: []fieldLabel[api.Event]{
			{"involvedObject.uid", func(e *api.Event) string { return string(e.InvolvedObject.UID) }},
			{"involvedObject.name", func(e *api.Event) string { return e.InvolvedObject.Name }},
			{"involvedObject.namespace", func(e *api.Event) string { return e.InvolvedObject.Namespace }},
			{"involvedObject.kind", func(e *api.Event) string { return e.InvolvedObject.Kind }},
			{"reason", func(e *api.Event) string { return e.Reason }},
			{"type", func(e *api.Event) string { return e.Type }},
		},
		list: func(st *consensus.State, _ string, keep func(*api.Event) bool) ([]*api.Event, uint64) {
			var out []*api.Event
			for _, e := range st.Events() {
				if keep(e) {
					out = append(out, e)
				}
			}
			return out, st.Index()
		},
		newList: func(items []api.Event, meta api.ListMeta) any {
			l := api.EventList{Items: items}
			l.TypeMeta, l.ListMeta = listMeta("EventList", "v1", meta)
			return l
		},
	}
}

// deployments: defaulted, validated within --max-deployment-replicas and
// this agent's hostPath list; the selector is immutable. Delete removes
// the ReplicaSets and their pods by the propagation policy, Background
// unless the options say otherwise.
func (s *Server) deployments(info discovery.Resource) *resource[api.Deployment, *api.Deployment] {
	return &resource[api.Deployment, *api.Deployment]{
		s: s, info: info,
		get: func(st *consensus.State, ns, name string) (*api.Deployment, bool) { return st.Deployment(ns, name) },
		list: func(st *consensus.State, _ string, keep func(*api.Deployment) bool) ([]*api.Deployment, uint64) {
			return st.Deployments(keep)
		},
		newList: func(items []api.Deployment, meta api.ListMeta) any {
			l := api.DeploymentList{Items: items}
			l.TypeMeta, l.ListMeta = listMeta("DeploymentList", "apps/v1", meta)
			return l
		},
		create: func(ctx context.Context, d *api.Deployment) (*api.Deployment, error) {
			api.SetDeploymentDefaults(d)
			if err := api.ValidateDeploymentWithin(d, s.cfg.MaxDeploymentReplicas); err != nil {
				return nil, err
			}
			if err := api.ValidateDeploymentHostPaths(d, s.cfg.AllowedHostPaths); err != nil {
				return nil, err
			}
			d.Status = api.DeploymentStatus{}
			s.warnPodTemplateSecurity(ctx, d.Namespace, &d.Spec.Template)
			return commitObject[api.Deployment](ctx, s.b, consensus.CmdCreateDeployment, consensus.CreateDeployment{Deployment: *d})
		},
		update: func(ctx context.Context, old, d *api.Deployment) (*api.Deployment, error) {
			api.SetDeploymentDefaults(d)
			if err := api.ValidateDeploymentUpdateWithin(old, d, s.cfg.MaxDeploymentReplicas); err != nil {
				return nil, err
			}
			// A new template is a new set of pods: it passes this agent's
			// hostPath rule as a new Deployment does.
			if err := api.ValidateDeploymentHostPaths(d, s.cfg.AllowedHostPaths); err != nil {
				return nil, err
			}
			s.warnPodTemplateSecurity(ctx, d.Namespace, &d.Spec.Template)
			return commitObject[api.Deployment](ctx, s.b, consensus.CmdUpdateDeployment, consensus.UpdateDeployment{Deployment: *d})
		},
		remove: func(ctx context.Context, ns, name string, o *api.DeleteOptions) (*api.Deployment, error) {
			return commitObject[api.Deployment](ctx, s.b, consensus.CmdDeleteDeployment, consensus.DeleteDeployment{
				Namespace: ns, Name: name, UID: uidPrecondition(o),
				PropagationPolicy: o.Propagation(api.DeletePropagationBackground)})
		},
	}
}

// replicaSets: as Deployments, without a strategy. A ReplicaSet created by
// a user, without an owner, is run by the ReplicaSet controller as a
// Deployment's is.
func (s *Server) replicaSets(info discovery.Resource) *resource[api.ReplicaSet, *api.ReplicaSet] {
	return &resource[api.ReplicaSet, *api.ReplicaSet]{
		s: s, info: info,
		get: func(st *consensus.State, ns, name string) (*api.ReplicaSet, bool) { return st.ReplicaSet(ns, name) },
		list: func(st *consensus.State, _ string, keep func(*api.ReplicaSet) bool) ([]*api.ReplicaSet, uint64) {
			return st.ReplicaSets(keep)
		},
		newList: func(items []api.ReplicaSet, meta api.ListMeta) any {
			l := api.ReplicaSetList{Items: items}
			l.TypeMeta, l.ListMeta = listMeta("ReplicaSetList", "apps/v1", meta)
			return l
		},
		create: func(ctx context.Context, rs *api.ReplicaSet) (*api.ReplicaSet, error) {
			api.SetReplicaSetDefaults(rs)
			if err := api.ValidateReplicaSet(rs, s.cfg.MaxDeploymentReplicas); err != nil {
				return nil, err
			}
			if err := api.ValidateReplicaSetHostPaths(rs, s.cfg.AllowedHostPaths); err != nil {
				return nil, err
			}
			rs.Status = api.ReplicaSetStatus{}
			s.warnPodTemplateSecurity(ctx, rs.Namespace, &rs.Spec.Template)
			return commitObject[api.ReplicaSet](ctx, s.b, consensus.CmdCreateReplicaSet, consensus.CreateReplicaSet{ReplicaSet: *rs})
		},
		update: func(ctx context.Context, old, rs *api.ReplicaSet) (*api.ReplicaSet, error) {
			api.SetReplicaSetDefaults(rs)
			if err := api.ValidateReplicaSetUpdate(old, rs, s.cfg.MaxDeploymentReplicas); err != nil {
				return nil, err
			}
			if err := api.ValidateReplicaSetHostPaths(rs, s.cfg.AllowedHostPaths); err != nil {
				return nil, err
			}
			s.warnPodTemplateSecurity(ctx, rs.Namespace, &rs.Spec.Template)
			return commitObject[api.ReplicaSet](ctx, s.b, consensus.CmdUpdateReplicaSet, consensus.UpdateReplicaSet{ReplicaSet: *rs})
		},
		remove: func(ctx context.Context, ns, name string, o *api.DeleteOptions) (*api.ReplicaSet, error) {
			return commitObject[api.ReplicaSet](ctx, s.b, consensus.CmdDeleteReplicaSet, consensus.DeleteReplicaSet{
				Namespace: ns, Name: name, UID: uidPrecondition(o),
				PropagationPolicy: o.Propagation(api.DeletePropagationBackground)})
		},
	}
}

// admitPodSecurity checks a pod against Pod Security admission before the
// round trip to the leader, so that the 403 comes at once, and adds the
// namespace's warn-level warnings to the response. The state machine
// checks again, against the namespace as committed: this is the same
// check on this agent's view, which may be a little behind. Until a leader
// has recorded the cluster's default the state machine enforces nothing,
// and neither does this.
func (s *Server) admitPodSecurity(ctx context.Context, p *api.Pod) error {
	st := s.b.State()
	def, ok := st.PodSecurityDefaults()
	if !ok {
		return nil
	}
	var labels map[string]string
	if ns, ok := st.Namespace(p.Namespace); ok {
		labels = ns.Labels
	}
	warnings, err := api.AdmitPodSecurity(p, labels, def.Enforce, def.Latest)
	if err != nil {
		return err
	}
	for _, w := range warnings {
		AddWarning(ctx, w)
	}
	return nil
}

// warnPodTemplateSecurity is Pod Security admission for a Deployment or
// ReplicaSet: as in Kubernetes, the workload is admitted whatever its
// template, with a warning when the template violates the namespace's
// warn level; its pods are refused when they are created (FailedCreate).
func (s *Server) warnPodTemplateSecurity(ctx context.Context, namespace string, t *api.PodTemplateSpec) {
	st := s.b.State()
	def, ok := st.PodSecurityDefaults()
	if !ok {
		return
	}
	var labels map[string]string
	if ns, ok := st.Namespace(namespace); ok {
		labels = ns.Labels
	}
	for _, w := range api.PodTemplateSecurityWarnings(t, labels, def.Enforce, def.Latest) {
		AddWarning(ctx, w)
	}
}

// warnNamespacePodSecurity warns, as PodSecurity admission does, when a
// namespace update makes its enforce level stricter than some of the pods
// it holds: they keep running, and the warning says which would now be
// refused.
func (s *Server) warnNamespacePodSecurity(ctx context.Context, old, ns *api.Namespace) {
	st := s.b.State()
	def, ok := st.PodSecurityDefaults()
	if !ok {
		return
	}
	pods, _ := st.Pods(func(p *api.Pod) bool { return p.Namespace == ns.Name })
	for _, w := range api.NamespacePodSecurityWarnings(ns.Name, old.Labels, ns.Labels, def.Enforce, def.Latest, pods) {
		AddWarning(ctx, w)
	}
}

// admitServiceAccountToken is the token part of Kubernetes' ServiceAccount
// admission: unless the pod or its ServiceAccount opts out, every container
// mounts a kube-api-access-<random> volume with the pod's token, the cluster
// CA and its namespace. The ReplicaSet controller does the same for the pods
// it makes (controllers.newReplicaSetPod).
func admitServiceAccountToken(st *consensus.State, p *api.Pod) {
	sa, _ := st.ServiceAccount(p.Namespace, p.Spec.ServiceAccountName)
	if api.ShouldAutomountServiceAccountToken(&p.Spec, sa) {
		api.MountServiceAccountToken(&p.Spec, api.ServiceAccountTokenVolumePrefix+utilrand.String(5))
	}
}
