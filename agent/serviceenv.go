package agent

import (
	"sync/atomic"

	"github.com/gossipod/gossipod/api"
	"github.com/gossipod/gossipod/consensus"
)

// ServiceReader lends the replicated Services, read-only, to code that is
// built before the agent that holds them: the runtime, whose
// Config.Services (the service environment variables of each container it
// starts) is ServiceReader.Services. New binds it to the agent's state;
// before that it reads no Services. It is safe for concurrent use and never
// blocks on Raft: it reads the local state, as the pod loop does.
type ServiceReader struct {
	state atomic.Pointer[consensus.State]
}

// bind makes the reader read state.
func (r *ServiceReader) bind(state *consensus.State) { r.state.Store(state) }

// Services returns the Services of the namespace, sorted by name; nil
// before the agent is built. The objects are the state's: the caller must
// not change them.
func (r *ServiceReader) Services(namespace string) []*api.Service {
	state := r.state.Load()
	if state == nil {
		return nil
	}
	services, _ := state.Services(func(svc *api.Service) bool { return svc.Namespace == namespace })
	return services
}
