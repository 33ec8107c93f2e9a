package controllers

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/netip"
	"slices"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/gossipod/gossipod/api"
	"github.com/gossipod/gossipod/consensus"
)

// APIServerServiceState is what the kubernetes Service controller reads.
type APIServerServiceState interface {
	ClusterNetwork() (consensus.ClusterNetwork, bool)
	Service(namespace, name string) (*api.Service, bool)
	EndpointSlice(namespace, name string) (*api.EndpointSlice, bool)
	EndpointsOf(namespace, name string) (*api.Endpoints, bool)
}

// APIServers lists the addresses the API is served on: here the live
// agents', from gossip.
type APIServers interface {
	APIServerAddresses() []netip.AddrPort
}

// APIServerService is kube-apiserver's "kubernetes" service controller and
// endpoint reconciler, run by the leader: the Service default/kubernetes
// exists, of type ClusterIP on the first address of the service CIDR,
// without selector, with the one port 443 named "https" whose target is
// the agents' API port (reset when changed, as kube-apiserver resets its
// ports and type); and its EndpointSlice lists the live agents serving
// the API on that port. In-cluster clients (client-go's InClusterConfig,
// KUBERNETES_SERVICE_HOST) reach the API through it.
//
// Every agent is expected to serve the API on the same port, as every
// kube-apiserver of a cluster is: an agent on another port is left out of
// the endpoints.
//
// Fields are set before the first Reconcile and not changed afterwards.
type APIServerService struct {
	State   APIServerServiceState
	Servers APIServers
	// Port is the API port, this leader's: the Service's targetPort.
	Port   int32
	Commit Committer
	Log    *slog.Logger
	// NewUID makes the uids of the Service and its slice; random RFC 4122
	// UUIDs when nil.
	NewUID func() types.UID
}

// APIServerServicePort is the kubernetes Service's port: HTTPS's, as
// kube-apiserver's default (in-cluster clients dial
// https://$KUBERNETES_SERVICE_HOST:$KUBERNETES_SERVICE_PORT).
const APIServerServicePort = 443

// Reconcile creates or resets the Service, then sets its endpoints; it
// does nothing before the service CIDR is recorded.
func (c *APIServerService) Reconcile(ctx context.Context) {
	svc, err := c.ensureService(ctx)
	if err != nil {
		if ctx.Err() == nil {
			c.Log.Warn("keep the kubernetes service", "service", "default/kubernetes", "error", err)
		}
		return
	}
	if svc == nil {
		return
	}
	if err := c.ensureEndpoints(ctx, svc); err != nil && ctx.Err() == nil {
		c.Log.Warn("keep the kubernetes service's endpoints", "service", "default/kubernetes", "error", err)
	}
}

// servicePorts are the kubernetes Service's ports, as kube-apiserver
// makes them.
func (c *APIServerService) servicePorts() []api.ServicePort {
	return []api.ServicePort{{Name: consensus.APIServerPortName, Protocol: corev1.ProtocolTCP,
		Port: APIServerServicePort, TargetPort: intstr.FromInt32(c.Port)}}
}

// ensureService returns the Service, created or reset; nil and no error
// while the service CIDR is unknown.
func (c *APIServerService) ensureService(ctx context.Context) (*api.Service, error) {
	existing, ok := c.State.Service(api.DefaultNamespace, api.KubernetesServiceName)
	if ok {
		if equality.Semantic.DeepEqual(existing.Spec.Ports, c.servicePorts()) && existing.Spec.Type == api.ServiceTypeClusterIP {
			return existing, nil
		}
		// kube-apiserver's getMasterServiceUpdateIfNeeded: ports and type.
		svc := existing.DeepCopy()
		svc.Spec.Ports, svc.Spec.Type = c.servicePorts(), api.ServiceTypeClusterIP
		c.Log.Warn("resetting the kubernetes service", "service", "default/kubernetes", "port", c.Port)
		return c.commitService(ctx, consensus.CmdUpdateService, consensus.UpdateService{Service: *svc})
	}
	network, ok := c.State.ClusterNetwork()
	if !ok || network.ServiceCIDR == "" {
		return nil, nil
	}
	ip, err := api.KubernetesServiceIP(network.ServiceCIDR)
	if err != nil {
		return nil, err
	}
	svc := api.Service{
		ObjectMeta: api.ObjectMeta{
			Name: api.KubernetesServiceName, Namespace: api.DefaultNamespace, UID: c.newUID(),
			Labels: map[string]string{"provider": "kubernetes", "component": "apiserver"},
		},
		Spec: api.ServiceSpec{
			Type:            api.ServiceTypeClusterIP,
			ClusterIP:       ip.String(),
			Ports:           c.servicePorts(),
			SessionAffinity: corev1.ServiceAffinityNone,
		},
	}
	return c.commitService(ctx, consensus.CmdCreateService, consensus.CreateService{Service: svc})
}

func (c *APIServerService) commitService(ctx context.Context, t consensus.CommandType, payload any) (*api.Service, error) {
	resp, err := c.Commit.Commit(ctx, t, payload)
	if err != nil {
		return nil, err
	}
	var svc api.Service
	if err := json.Unmarshal(resp, &svc); err != nil {
		return nil, fmt.Errorf("decode the committed service: %w", err)
	}
	return &svc, nil
}

// ensureEndpoints commits the slice when the live agents differ from it.
func (c *APIServerService) ensureEndpoints(ctx context.Context, svc *api.Service) error {
	if len(svc.Spec.Selector) > 0 {
		return nil // the EndpointSlice controller's, as the state machine says
	}
	var addrs []string
	for _, ap := range c.Servers.APIServerAddresses() {
		if ap.Addr().Is4() && int32(ap.Port()) == c.Port {
			addrs = append(addrs, ap.Addr().String())
		}
	}
	want := consensus.APIServerEndpointSlice(addrs, c.Port)
	have, ok := c.State.EndpointSlice(api.DefaultNamespace, api.KubernetesServiceName)
	_, mirrored := c.State.EndpointsOf(api.DefaultNamespace, api.KubernetesServiceName)
	if ok && mirrored && equality.Semantic.DeepEqual(have.Endpoints, want.Endpoints) && equality.Semantic.DeepEqual(have.Ports, want.Ports) &&
		equality.Semantic.DeepEqual(have.Labels, want.Labels) {
		return nil
	}
	_, err := c.Commit.Commit(ctx, consensus.CmdSetAPIServerEndpoints, consensus.SetAPIServerEndpoints{
		ServiceUID: svc.UID, SliceUID: c.newUID(), Addresses: slices.Clip(addrs), Port: c.Port})
	return err
}

func (c *APIServerService) newUID() types.UID {
	if c.NewUID != nil {
		return c.NewUID()
	}
	return randomUID()
}
