package runtime

import (
	"strings"

	"github.com/gossipod/gossipod/api"
	"github.com/gossipod/gossipod/runtime/image"
)

// pullSecrets is kubelet's getPullSecretsForPod: the Secrets the pod's
// spec.imagePullSecrets name (given by its ServiceAccount when it names
// none), read from the replicated state when a pull needs them, so a
// Secret created after the pod serves its next pull. An empty name, which
// the API lets through, is skipped; a missing Secret does not stop the
// pull, which may still work (a public image, the node's own login): it is
// reported as kubelet reports it, a warning event
// FailedToRetrieveImagePullSecret.
func (w *podWorker) pullSecrets() []*api.Secret {
	pod := w.st.Pod
	var found []*api.Secret
	var missing []string
	for _, ref := range pod.Spec.ImagePullSecrets {
		if ref.Name == "" {
			continue
		}
		var s *api.Secret
		ok := false
		if w.r.cfg.Secret != nil {
			s, ok = w.r.cfg.Secret(pod.Namespace, ref.Name)
		}
		if !ok {
			missing = append(missing, ref.Name)
			continue
		}
		found = append(found, s)
	}
	if len(missing) > 0 {
		w.log.Warn("Unable to retrieve pull secret, the image pull may not succeed", "secrets", missing)
		w.events.record(pod, api.EventTypeWarning, eventFailedPullSecret,
			"Unable to retrieve some image pull secrets (%s); attempting to pull the image may not succeed.", strings.Join(missing, ", "))
	}
	return found
}

// pullKeyring makes the keyring of the pod's pull Secrets (see
// image.PullSecretKeyring), logging those that hold no registry login and
// why; never their data. A Secret whose docker config does not parse fails
// the pull, as it fails kubelet's.
func (w *podWorker) pullKeyring(secrets []*api.Secret) (*image.Keyring, error) {
	k, skipped, err := image.PullSecretKeyring(secrets)
	for _, why := range skipped {
		w.log.Info("image pull secret ignored", "reason", why)
	}
	return k, err
}
