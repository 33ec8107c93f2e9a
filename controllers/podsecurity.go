package controllers

import (
	"context"
	"log/slog"

	"github.com/gossipod/gossipod/api"
	"github.com/gossipod/gossipod/consensus"
)

// PodSecurityState is what PodSecurityDefaults reads.
type PodSecurityState interface {
	PodSecurityDefaults() (consensus.PodSecurityDefaults, bool)
}

// PodSecurityDefaults records the cluster's Pod Security admission
// defaults from the leader's --pod-security-default: the level enforced in
// namespaces without a pod-security.kubernetes.io/enforce label, the
// defaults of kube-apiserver's PodSecurity AdmissionConfiguration. The
// value lives in the replicated state so that every replica of the state
// machine enforces the same one; a leader whose flag differs from the
// recorded value records its own (the way kube-apiserver's configuration
// changes, by restarting with a new one), and says so.
//
// Fields are set before the first Reconcile and not changed afterwards;
// Reconcile is called from one goroutine.
type PodSecurityDefaults struct {
	State  PodSecurityState
	Commit Committer
	Log    *slog.Logger
	// Enforce is this agent's --pod-security-default.
	Enforce string
}

// Reconcile records Enforce when the recorded defaults differ from it. It
// returns whether the recorded defaults are this agent's.
func (c *PodSecurityDefaults) Reconcile(ctx context.Context) bool {
	recorded, ok := c.State.PodSecurityDefaults()
	want := consensus.PodSecurityDefaults{Enforce: c.Enforce, Latest: api.PodSecurityLatestVersion()}
	if ok && recorded == want {
		return true
	}
	if _, err := c.Commit.Commit(ctx, consensus.CmdSetPodSecurityDefaults, consensus.SetPodSecurityDefaults{Defaults: want}); err != nil {
		c.Log.Warn("record the pod security default", "error", err)
		return false
	}
	if ok {
		if recorded.Enforce != want.Enforce {
			c.Log.Warn("changed the cluster's pod security default to this agent's --pod-security-default; give every agent the same value",
				"from", recorded.Enforce, "to", want.Enforce)
		} else {
			c.Log.Info("recorded the version of the pod security standards \"latest\" stands for", "from", recorded.Latest, "to", want.Latest)
		}
	} else {
		c.Log.Info("recorded the cluster's pod security default", "enforce", want.Enforce, "latest", want.Latest)
	}
	return true
}
