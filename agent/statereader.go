package agent

import (
	"fmt"
	"sync/atomic"
	"time"

	"github.com/gossipod/gossipod/api"
	"github.com/gossipod/gossipod/apiserver/auth"
	"github.com/gossipod/gossipod/consensus"
)

// StateReader lends the replicated state, read-only, to code that is built
// before the agent that holds it: the runtime, whose Config.Services (the
// service environment variables of each container it starts),
// Config.ConfigMap and Config.Secret (what a pod's env, volumes and
// imagePullSecrets refer to) and Config.ServiceAccountToken (the token a
// pod's projected volume holds) are this reader's methods. New binds it to
// the agent's state; before that it reads nothing. It is safe for
// concurrent use and never blocks on
// Raft: it reads the local state, as the pod loop does.
type StateReader struct {
	state  atomic.Pointer[consensus.State]
	tokens atomic.Pointer[auth.ServiceAccountTokens]
}

// bind makes the reader read state and issue tokens with tokens.
func (r *StateReader) bind(state *consensus.State, tokens *auth.ServiceAccountTokens) {
	r.tokens.Store(tokens)
	r.state.Store(state)
}

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

// ServiceAccountToken issues the token of pod's ServiceAccount for a
// projected serviceAccountToken volume, bound to the pod, for audience (the
// API's when empty) and lasting expiration, as kubelet's token manager asks
// kube-apiserver's TokenRequest for it; the agent signs it itself, with the
// key every agent derives. The error names what is missing in Kubernetes'
// words (the pod waits with FailedMount until it exists).
func (r *StateReader) ServiceAccountToken(pod *api.Pod, audience string, expiration time.Duration) (string, time.Time, error) {
	state, tokens := r.state.Load(), r.tokens.Load()
	if state == nil || tokens == nil {
		return "", time.Time{}, fmt.Errorf("service account token of pod %s/%s: the agent is not started", pod.Namespace, pod.Name)
	}
	sa, ok := state.ServiceAccount(pod.Namespace, pod.Spec.ServiceAccountName)
	if !ok {
		return "", time.Time{}, fmt.Errorf("serviceaccounts %q not found", pod.Spec.ServiceAccountName)
	}
	var audiences []string
	if audience != "" {
		audiences = []string{audience}
	}
	return tokens.Issue(auth.TokenRequest{ServiceAccount: sa, Pod: pod, Audiences: audiences, Expiration: expiration})
}
