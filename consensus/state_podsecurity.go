package consensus

import (
	"github.com/gossipod/gossipod/api"
)

// CmdSetPodSecurityDefaults records the cluster's Pod Security admission
// configuration.
const CmdSetPodSecurityDefaults CommandType = "SetPodSecurityDefaults"

// PodSecurityDefaults is the cluster-wide part of Pod Security admission,
// what kube-apiserver's AdmissionConfiguration for PodSecurity calls
// defaults: the level enforced in a namespace that has no
// pod-security.kubernetes.io/enforce label. Warn and audit default to
// privileged, as there. It lives in the replicated state, not in each
// agent's flags, so that every replica of the state machine refuses the
// same pods.
type PodSecurityDefaults struct {
	// Enforce is privileged, baseline or restricted (at the latest
	// version of the standards).
	Enforce string `json:"enforce"`
	// Latest is the version of the standards "latest" stands for
	// ("v1.37"), the recording leader's (api.PodSecurityLatestVersion):
	// pinned in the log so that every replica, whatever its gossipod
	// version, and every replay of the log evaluate the same checks.
	// Empty in a record from before it existed: the binary's newest.
	Latest string `json:"latest,omitempty"`
}

// SetPodSecurityDefaults records the cluster's Pod Security defaults. The
// leader commits its --pod-security-default when the recorded one differs,
// so the value changes as kube-apiserver's configuration does: by
// restarting the agents with a new flag.
type SetPodSecurityDefaults struct {
	Defaults PodSecurityDefaults `json:"defaults"`
}

// PodSecurityDefaults returns the recorded Pod Security defaults, and
// false before a leader recorded them.
func (s *State) PodSecurityDefaults() (PodSecurityDefaults, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.podSecurity == nil {
		return PodSecurityDefaults{}, false
	}
	return *s.podSecurity, true
}

func (s *State) setPodSecurityDefaults(p SetPodSecurityDefaults) error {
	if err := api.ValidatePodSecurityLevel(p.Defaults.Enforce); err != nil {
		return api.NewBadRequest(err.Error())
	}
	if v := p.Defaults.Latest; v != "" {
		if err := api.ValidatePodSecurityVersion(v); err != nil {
			return api.NewBadRequest(err.Error())
		}
	}
	d := p.Defaults
	s.podSecurity = &d
	return nil
}

// admitPodSecurity is PodSecurity admission for a new pod, against the
// labels of its namespace as committed and the recorded defaults: the API
// checks the pod too, to answer before the round trip, but this is the
// check that holds, for every pod whoever creates it (the API or the
// ReplicaSet controller). Until a leader has recorded the defaults nothing
// is enforced, so that a log written before gossipod had Pod Security
// admission replays as it was applied.
func (s *State) admitPodSecurity(p *api.Pod) error {
	if s.podSecurity == nil {
		return nil
	}
	var labels map[string]string
	if ns, ok := s.namespaces[p.Namespace]; ok {
		labels = ns.Labels
	}
	_, err := api.AdmitPodSecurity(p, labels, s.podSecurity.Enforce, s.podSecurity.Latest)
	return err
}

// admitPodSecurityUpdate is PodSecurity admission for a pod update: as in
// Kubernetes, only an update that can change the verdict (a new image) is
// evaluated.
func (s *State) admitPodSecurityUpdate(old, p *api.Pod) error {
	if !api.PodSecuritySignificantUpdate(old, p) {
		return nil
	}
	return s.admitPodSecurity(p)
}
