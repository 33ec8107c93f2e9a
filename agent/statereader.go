package agent

import (
	"sync/atomic"

	"github.com/gossipod/gossipod/api"
	"github.com/gossipod/gossipod/consensus"
)

// StateReader lends the replicated state, read-only, to code that is built
// before the agent that holds it: the runtime, whose Config.Services (the
// service environment variables of each container it starts),
// Config.ConfigMap and Config.Secret (what a pod's env, volumes and
// imagePullSecrets refer to) are this reader's methods. New binds it to the agent's state; before
// that it reads nothing. It is safe for concurrent use and never blocks on
// Raft: it reads the local state, as the pod loop does.
type StateReader struct {
	state atomic.Pointer[consensus.State]
}

// bind makes the reader read state.
func (r *StateReader) bind(state *consensus.State) { r.state.Store(state) }

// Services returns the Services of the namespace, sorted by name; nil
// before the agent is built. The objects are the state's: the caller must
// not change them.
func (r *StateReader) Services(namespace string) []*api.Service {
	state := r.state.Load()
	if state == nil {
		return nil
	}
	services, _ := state.Services(func(svc *api.Service) bool { return svc.Namespace == namespace })
	return services
}

// ConfigMap returns one ConfigMap; false if there is none (or before the
// agent is built). The object is the state's: the caller must not change it.
func (r *StateReader) ConfigMap(namespace, name string) (*api.ConfigMap, bool) {
	state := r.state.Load()
	if state == nil {
		return nil, false
	}
	return state.ConfigMap(namespace, name)
}

// Secret returns one Secret with its data in clear, as a node needs it for
// a pod's env, volumes and image pulls; false if there is none (or before the agent is
// built). The object is the state's: the caller must not change it.
func (r *StateReader) Secret(namespace, name string) (*api.Secret, bool) {
	state := r.state.Load()
	if state == nil {
		return nil, false
	}
	return state.Secret(namespace, name)
}
