package agent

import (
	"context"
	"encoding/json"

	"github.com/gossipod/gossipod/apiserver"
	"github.com/gossipod/gossipod/consensus"
	"github.com/gossipod/gossipod/controllers"
)

// appsLoop runs the leader's Deployment and ReplicaSet controllers until
// ctx ends (leadership lost). They read this agent's replica of the state,
// which on the leader reflects every command they committed, and commit
// through the leader like any write.
func (a *Agent) appsLoop(ctx context.Context) {
	apps := &controllers.Apps{
		State:  a.store.State(),
		Commit: controllers.CommitFunc(a.commitForControllers),
		Log:    a.log.With("component", "apps-controllers"),
		NewUID: apiserver.NewUID,
	}
	apps.Run(ctx)
}

// commitForControllers commits a controller's command and returns the
// state machine's response.
func (a *Agent) commitForControllers(ctx context.Context, t consensus.CommandType, payload any) (json.RawMessage, error) {
	cmd, err := consensus.NewCommand(t, payload)
	if err != nil {
		return nil, err
	}
	res, err := a.Commit(ctx, cmd)
	return res.Response, err
}
