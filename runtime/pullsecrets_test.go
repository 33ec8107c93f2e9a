package runtime

import (
	"slices"
	"strings"
	"testing"

	"github.com/gossipod/gossipod/api"
)

// TestPullSecrets: the pull of a container's image gets the keyring of
// the pod's image pull Secrets, read from the state. A missing Secret is
// reported as kubelet reports it and the pull goes on; an empty name is
// skipped; a Secret of another type holds no login; a Secret whose docker
// config does not parse fails the pull with ErrImagePull, naming it.
func TestPullSecrets(t *testing.T) {
	state := newObjectState()
	state.secrets["default/regcred"] = &api.Secret{ObjectMeta: api.ObjectMeta{Namespace: "default", Name: "regcred"},
		Type: api.SecretTypeDockerConfigJSON, Data: map[string][]byte{api.DockerConfigJSONKey: []byte(
			`{"auths":{"registry.example:5000":{"username":"alice","password":"s3cret"}}}`)}}
	state.secrets["default/plain"] = &api.Secret{ObjectMeta: api.ObjectMeta{Namespace: "default", Name: "plain"},
		Type: api.SecretTypeOpaque, Data: map[string][]byte{api.DockerConfigJSONKey: []byte(
			`{"auths":{"registry.example:5000":{"username":"mallory","password":"x"}}}`)}}
	state.secrets["default/broken"] = &api.Secret{ObjectMeta: api.ObjectMeta{Namespace: "default", Name: "broken"},
		Type: api.SecretTypeDockercfg, Data: map[string][]byte{api.DockerConfigKey: []byte(`{"registry.example:5000":`)}}
	h := newHarnessWithObjects(t, state)
	const ref = "registry.example:5000/private/app:1"
	h.images.registry[ref] = busyboxImage(ref)

	pod := func(name string, secrets ...string) *api.Pod {
		p := testPod(name, "app")
		p.Spec.Containers[0].Image = ref
		for _, s := range secrets {
			p.Spec.ImagePullSecrets = append(p.Spec.ImagePullSecrets, api.LocalObjectReference{Name: s})
		}
		return p
	}
	ok := pod("ok", "", "gone", "plain", "regcred", "also-gone")
	h.r.SyncPods([]*api.Pod{ok})
	h.waitPhase(string(ok.UID), api.PodRunning)
	var logins []string
	for _, c := range h.images.lastKeyring(ref).Lookup("registry.example:5000/private/app") {
		logins = append(logins, c.Username+" of "+c.Source)
	}
	if want := []string{`alice of secret "regcred"`}; !slices.Equal(logins, want) {
		t.Errorf("the pull's logins %q, want %q", logins, want)
	}
	var warned []string
	for _, e := range h.eventsOf(string(ok.UID)) {
		if e.Reason == eventFailedPullSecret && e.Type == api.EventTypeWarning {
			warned = append(warned, e.Message)
		}
	}
	if want := "Unable to retrieve some image pull secrets (gone, also-gone); attempting to pull the image may not succeed."; len(warned) != 1 || warned[0] != want {
		t.Errorf("%s events %q, want [%q]", eventFailedPullSecret, warned, want)
	}

	bad := pod("bad", "regcred", "broken")
	bad.Spec.Containers[0].ImagePullPolicy = api.PullAlways
	pulls := h.images.pullCount(ref)
	h.r.SyncPods([]*api.Pod{ok, bad})
	u := h.waitSeen(string(bad.UID), "ErrImagePull", func(u PodUpdate) bool {
		w := u.Status.ContainerStatuses[0].State.Waiting
		return w != nil && w.Reason == "ErrImagePull"
	})
	msg := u.Status.ContainerStatuses[0].State.Waiting.Message
	if want := `failed to pull image "` + ref + `": image pull secret "broken": .dockercfg: `; !strings.HasPrefix(msg, want) {
		t.Errorf("message %q, want it to start with %q", msg, want)
	}
	if n := h.images.pullCount(ref); n != pulls {
		t.Errorf("%d pulls with a broken pull secret, want none", n-pulls)
	}
}
